#!/usr/bin/env python3
"""gen-flood.py - hostile load captures for memory-cap measurements (not
committed: they are large). Each writes N packets to a pcap:

  frags   N first fragments of UDP datagrams that never complete (1480 bytes each)
  syns    N SYNs of TCP connections that never go further (distinct ports)
  ooo     N TCP connections, each with one out-of-order segment held forever
  partial N TCP connections, each with 60 KB of SIP headers that never end
  invites N INVITEs never answered, every field sipwatch copies at its size limit
          (Request-URI, From, To, User-Agent 511 bytes, Call-ID 300: cut to 255)

Usage: tools/gen-flood.py KIND N OUT.pcap
Then: /usr/bin/time -v build/sipwatch -r OUT.pcap --events stats  (max RSS, caps in stats)
"""
import struct
import sys


def csum(b):
    return 0  # not verified by sipwatch


def eth_ip(proto, src, dst, payload, ident=0, frag=0):
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident & 0xFFFF, frag, 64, proto, 0,
                     src, dst)
    return b"\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\x08\x00" + ip + payload


def tcp(sport, dport, seq, flags, data=b""):
    return struct.pack("!HHIIBBHHH", sport, dport, seq, 0, 0x50, flags, 65535, 0, 0) + data


def main():
    kind, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    f = open(out, "wb")
    f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
    t0 = 1700000000

    def put(frame, i):
        f.write(struct.pack("<IIII", t0 + i // 100000, i % 100000 * 10, len(frame), len(frame)) + frame)

    for i in range(n):
        src = bytes([10, (i >> 16) & 255, (i >> 8) & 255, i & 255])
        dst = bytes([192, 0, 2, 1])
        if kind == "frags":
            udp = struct.pack("!HHHH", 5060, 5060, 3000, 0) + b"INVITE sip:x SIP/2.0\r\n" + b"X" * 1450
            put(eth_ip(17, src, dst, udp[:1480], ident=i, frag=0x2000), i)
        elif kind == "syns":
            put(eth_ip(6, src, dst, tcp(1024 + i % 60000, 5060, 1000, 0x02)), i)
        elif kind == "ooo":
            put(eth_ip(6, src, dst, tcp(1024 + i % 60000, 5060, 5000, 0x10, b"A" * 500)), 2 * i)
            put(eth_ip(6, src, dst, tcp(1024 + i % 60000, 5060, 9000, 0x10, b"B" * 500)), 2 * i + 1)
        elif kind == "partial":
            hdr = b"INVITE sip:x@y SIP/2.0\r\n" + b"X-Pad: " + b"p" * 1400 + b"\r\n"
            for k in range(40):
                put(eth_ip(6, src, dst, tcp(2000 + i % 60000, 5060, 1000 + k * len(hdr), 0x10, hdr)), i * 40 + k)
        elif kind == "invites":
            pad = lambda c, k: (c * k).encode()
            sip = (b"INVITE sip:%d" % i + pad("u", 490) + b"@example.com SIP/2.0\r\n"
                   b"Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-%d\r\n" % i +
                   b"From: <sip:" + pad("f", 480) + b"@example.com>;tag=%d\r\n" % i +
                   b"To: <sip:" + pad("t", 490) + b"@example.com>\r\n"
                   b"Call-ID: %d-" % i + pad("c", 300) + b"\r\nCSeq: 1 INVITE\r\n"
                   b"User-Agent: " + pad("a", 520) + b"\r\nContent-Length: 0\r\n\r\n")
            udp = struct.pack("!HHHH", 1024 + i % 60000, 5060, 8 + len(sip), 0) + sip
            put(eth_ip(17, src, dst, udp), i)
        else:
            sys.exit("unknown kind " + kind)
    f.close()


if __name__ == "__main__":
    main()
