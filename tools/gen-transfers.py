#!/usr/bin/env python3
"""gen-transfers.py - a pcap (to stdout or a file) of N call transfers that stay pending:
each one a REFER (UDP, its own Call-ID, dialog tags and phone address) answered 202 Accepted
and never followed by a NOTIFY, all within SPAN seconds, so that sipwatch holds N transfers
at once until --notify-timeout. For memory sizing (docs/deploy.md, "Capacity"):

  tools/gen-transfers.py 100000 | /usr/bin/time -v build/sipwatch -r - --events stats \
      --max-transfers 100000 --notify-timeout 3600

Usage: tools/gen-transfers.py N [OUT.pcap] [--span SEC]   (default span 20 s)
"""
import struct
import sys

REFER = ("REFER sip:2001@192.0.2.1:5060 SIP/2.0\r\n"
         "Via: SIP/2.0/UDP {ip}:5060;branch=z9hG4bK-{i}-ref;rport\r\n"
         "Max-Forwards: 70\r\n"
         "From: \"Ext {i}\" <sip:{i}@{ip}>;tag=uac{i}a7c\r\n"
         "To: <sip:2001@192.0.2.1>;tag=uas{i}b3f\r\n"
         "Call-ID: xfer-{i}@gen-transfers.test\r\n"
         "CSeq: 2 REFER\r\n"
         "Contact: <sip:{i}@{ip}:5060>\r\n"
         "Refer-To: <sip:3{i:06d}@192.0.2.1:5060>\r\n"
         "Referred-By: <sip:{i}@{ip}>\r\n"
         "User-Agent: Yealink SIP-T46S 66.86.0.15\r\n"
         "Content-Length: 0\r\n\r\n")
ACCEPTED = ("SIP/2.0 202 Accepted\r\n"
            "Via: SIP/2.0/UDP {ip}:5060;branch=z9hG4bK-{i}-ref;rport=5060\r\n"
            "From: \"Ext {i}\" <sip:{i}@{ip}>;tag=uac{i}a7c\r\n"
            "To: <sip:2001@192.0.2.1>;tag=uas{i}b3f\r\n"
            "Call-ID: xfer-{i}@gen-transfers.test\r\n"
            "CSeq: 2 REFER\r\n"
            "Server: Asterisk PBX 18.20.0\r\n"
            "Content-Length: 0\r\n\r\n")


def frame(src, dst, payload):
    udp = struct.pack("!HHHH", 5060, 5060, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0x4000, 64, 17, 0, src, dst)
    return b"\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\x08\x00" + ip + udp


def main():
    args = [a for a in sys.argv[1:]]
    span = 20.0
    if "--span" in args:
        k = args.index("--span")
        span = float(args[k + 1])
        del args[k:k + 2]
    n = int(args[0])
    out = open(args[1], "wb") if len(args) > 1 else sys.stdout.buffer
    out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
    pbx = bytes([192, 0, 2, 1])
    t0 = 1700000000 * 1000000
    step = int(span * 1000000 / max(n, 1))
    buf = []
    for i in range(n):
        phone = bytes([10, (i >> 16) & 255, (i >> 8) & 255, i & 255])
        ip = "10.%d.%d.%d" % ((i >> 16) & 255, (i >> 8) & 255, i & 255)
        t = t0 + i * step
        for k, (src, dst, text) in enumerate(((phone, pbx, REFER), (pbx, phone, ACCEPTED))):
            fr = frame(src, dst, text.format(i=i, ip=ip).encode())
            ts = t + k * max(step // 2, 1)
            buf.append(struct.pack("<IIII", ts // 1000000, ts % 1000000, len(fr), len(fr)) + fr)
        if len(buf) >= 2048:
            out.write(b"".join(buf))
            buf = []
    out.write(b"".join(buf))
    out.flush()


if __name__ == "__main__":
    main()
