#!/usr/bin/env python3
"""gen-transfers-completed.py - a pcap of N completed call transfers on stdout, for
checking that sipwatch's memory and time per transfer stay flat as N grows
(too large to keep: 1M transfers are about 2 GB, so stream it).

Each transfer (UDP, its own Call-ID and tags, 1000 transfers a second of
capture time, spread over 8 phone/PBX address pairs):
  REFER -> 202 Accepted -> NOTIFY (sipfrag 100 Trying) -> 200
        -> NOTIFY (sipfrag 200 OK, terminated) -> 200
sipwatch writes one transfer event (outcome completed) for each.

Usage: tools/gen-transfers-completed.py N | /usr/bin/time -f '%U %S %M' build/sipwatch -r - --events stats
(user, system CPU seconds and max RSS of sipwatch alone; README, Performance).
"""
import struct
import sys

T0 = 1700000000


def frame(src, dst, payload):
    udp = struct.pack("!HHHH", 5060, 5060, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, src, dst)
    return b"\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\x08\x00" + ip + udp


def msgs(i):
    cid = f"xfer-{i}@pbx.example.com"
    a, b = f"a{i}", f"b{i}"
    common = (f"Call-ID: {cid}\r\nFrom: <sip:100@pbx.example.com>;tag={a}\r\n"
              f"To: <sip:200@pbx.example.com>;tag={b}\r\n")
    via = f"Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK{i}r\r\n"
    nvia = f"Via: SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bK{i}n"
    refer = (f"REFER sip:200@10.0.0.2 SIP/2.0\r\n{via}{common}CSeq: 1 REFER\r\n"
             f"Refer-To: <sip:300-{i}@pbx.example.com>\r\n"
             f"Referred-By: <sip:100@pbx.example.com>\r\nContact: <sip:100@10.0.0.1>\r\n"
             f"Content-Length: 0\r\n\r\n")
    acc = f"SIP/2.0 202 Accepted\r\n{via}{common}CSeq: 1 REFER\r\nContent-Length: 0\r\n\r\n"
    # the NOTIFYs go the other way: From/To swapped
    rcommon = (f"Call-ID: {cid}\r\nFrom: <sip:200@pbx.example.com>;tag={b}\r\n"
               f"To: <sip:100@pbx.example.com>;tag={a}\r\n")

    def notify(n, state, frag):
        body = f"SIP/2.0 {frag}\r\n"
        return (f"NOTIFY sip:100@10.0.0.1 SIP/2.0\r\n{nvia}{n}\r\n{rcommon}CSeq: {n} NOTIFY\r\n"
                f"Event: refer\r\nSubscription-State: {state}\r\n"
                f"Content-Type: message/sipfrag\r\nContent-Length: {len(body)}\r\n\r\n{body}")

    def ok(n):
        return (f"SIP/2.0 200 OK\r\n{nvia}{n}\r\n{rcommon}CSeq: {n} NOTIFY\r\n"
                f"Content-Length: 0\r\n\r\n")
    return [(0, True, refer), (1, False, acc), (2, False, notify(2, "active;expires=60", "100 Trying")),
            (3, True, ok(2)), (10, False, notify(3, "terminated;reason=noresource", "200 OK")),
            (11, True, ok(3))]


def main():
    n = int(sys.argv[1])
    out = sys.stdout.buffer
    out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
    buf = []
    for i in range(n):
        k = i % 8
        phone, pbx = bytes([10, 1, 0, 10 + k]), bytes([10, 2, 0, 1 + k])
        base = T0 * 1000000 + i * 1000  # 1000 transfers a second
        for ms, from_phone, text in msgs(i):
            f = frame(phone, pbx, text.encode()) if from_phone else frame(pbx, phone, text.encode())
            t = base + ms * 1000
            buf.append(struct.pack("<IIII", t // 1000000, t % 1000000, len(f), len(f)) + f)
        if len(buf) >= 6000:
            out.write(b"".join(buf))
            buf.clear()
    out.write(b"".join(buf))


if __name__ == "__main__":
    main()
