#!/usr/bin/env python3
"""flood.py - a capture that makes N user_not_found events (one INVITE, its
404 and the ACK each, from N different sources so that they make no scan event), for the
delivery tests, plus optional scanner bursts whose scan events come near the
8000-byte line cap.

Usage as a program: tests/cli/flood.py N OUT.pcap [SCANS]
"""
import struct
import sys

T0 = 1795889801


def _udp(src, dst, sport, dport, payload):
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, src, dst)
    return b"\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\x08\x00" + ip + udp


def messages(i, long_ua=0, scanner=False):
    src = bytes([10, (i >> 16) & 255, (i >> 8) & 255, i & 255])
    if scanner:  # one source, users of 1000 bytes: a scan event near the 8000-byte cap
        src = bytes([198, 51, 100, 7])
    dst = bytes([192, 0, 2, 1])
    s_ip = ".".join(str(b) for b in src)
    ua = ("flood-ua " + "u" * long_ua) if long_ua else "flood-ua/1.0"
    user = f"user{i}" + ("x" * 1000 if scanner else "")
    head = (f"Via: SIP/2.0/UDP {s_ip}:5060;branch=z9hG4bK-fl{i}\r\n"
            f"From: <sip:caller{i}@{s_ip}>;tag=f{i}\r\n"
            f"To: <sip:{user}@192.0.2.1>\r\n"
            f"Call-ID: flood-{i}@{s_ip}\r\nCSeq: 1 INVITE\r\n")
    inv = (f"INVITE sip:{user}@192.0.2.1 SIP/2.0\r\n" + head +
           f"User-Agent: {ua}\r\nContent-Length: 0\r\n\r\n").encode()
    nf = ("SIP/2.0 404 Not Found\r\n" + head.replace("\r\nCall-ID", ";tag=t\r\nCall-ID", 1) +
          "Server: flood-pbx\r\nContent-Length: 0\r\n\r\n").encode()
    ack = (f"ACK sip:{user}@192.0.2.1 SIP/2.0\r\n" +
           head.replace("\r\nCall-ID", ";tag=t\r\nCall-ID", 1).replace("1 INVITE", "1 ACK") +
           "Content-Length: 0\r\n\r\n").encode()
    # the ACK lets the event out 0.5 s of capture time later (without, 4 s)
    return (_udp(src, dst, 5060, 5060, inv), _udp(dst, src, 5060, 5060, nf),
            _udp(src, dst, 5060, 5060, ack))


def pcap_bytes(n, long_every=0, long_ua=0, scans=0):
    """The whole capture: a pcap header and 3*n records, 0.5 ms apart (so that
    about 333 events wait for their ACK at any time); with
    scans > 0, every n // scans events a burst of 25 INVITEs to 1000-byte
    user names from one scanner (a scan event of about 8000 bytes)."""
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1)]
    k = 0
    for i in range(n):
        ua = long_ua if long_every and i % long_every == long_every - 1 else 0
        frames = list(messages(i, ua))
        if scans and i % max(1, n // scans) == 0:
            for j in range(25):
                frames += messages(1000000 + i * 100 + j, 0, True)
        for fr in frames:
            us = k * 500
            out.append(struct.pack("<IIII", T0 + us // 1000000, us % 1000000, len(fr), len(fr)) + fr)
            k += 1
    return b"".join(out)


def record_ends(data):
    """The offsets in a pcap (as pcap_bytes makes) where a record ends."""
    ends, pos = [], 24
    while pos + 16 <= len(data):
        caplen = struct.unpack_from("<I", data, pos + 8)[0]
        pos += 16 + caplen
        ends.append(pos)
    return ends


def main():
    n, path = int(sys.argv[1]), sys.argv[2]
    scans = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    with open(path, "wb") as f:
        f.write(pcap_bytes(n, scans=scans))


if __name__ == "__main__":
    main()
