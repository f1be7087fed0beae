#!/usr/bin/env python3
"""gen-hostile-pcap.py - write pcaps/html/hostile-ua-udp.pcap: SIP whose header
values carry markup, for the HTML report's escaping test (tests/cli/check_html.py).

Messages (UDP, loopback 127.0.15.2:15060 phone -> 127.0.15.1:15060 PBX, one
second apart), every wire value a person would see in the report is hostile:
  1. INVITE sip:9001@127.0.15.1, User-Agent: <script>...</script>"><img src=x onerror=...>
  2. 404 whose reason phrase holds <script> and whose Server holds "><img onerror=...>
  3. ACK
  4. REFER (out of dialog), User-Agent as in 1, Refer-To with markup in a URI parameter
  5. 202 whose reason phrase holds markup; then no NOTIFY: no_notify at end of input
Expected events: one user_not_found, one transfer (no_notify, truncated). A page that
runs any of it sets document.title to 'pwned' (the test looks).

Plain Python (struct), no scapy: byte-for-byte deterministic.
Usage: tools/gen-hostile-pcap.py [OUT]
"""
import os
import struct
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(TOP, "pcaps", "html", "hostile-ua-udp.pcap")
PHONE, PBX = ("127.0.15.2", 15060), ("127.0.15.1", 15060)
T0 = 1795891000  # 2026-11-28T18:36:40Z

UA = ("<script>document.title='pwned'</script>\"><img src=x "
      "onerror=\"document.title='pwned'\">'><svg onload=alert(1)>")
SERVER = "\"><img src=x onerror=\"document.title='pwned'\"> & <b>bold</b>"


def ip4(a):
    return bytes(int(x) for x in a.split("."))


def frame(src, dst, payload, ip_id):
    udp = struct.pack("!HHHH", src[1], dst[1], 8 + len(payload), 0) + payload
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), ip_id, 0x4000, 64, 17, 0,
                      ip4(src[0]), ip4(dst[0]))
    s = sum(struct.unpack("!10H", hdr))
    s = (s & 0xFFFF) + (s >> 16)
    s = (s & 0xFFFF) + (s >> 16)
    hdr = hdr[:10] + struct.pack("!H", ~s & 0xFFFF) + hdr[12:]
    return b"\0" * 12 + b"\x08\x00" + hdr + udp


def msg(start, headers):
    lines = [start] + headers + ["Content-Length: 0", "", ""]
    return "\r\n".join(lines).encode()


def main():
    via = "Via: SIP/2.0/UDP 127.0.15.2:15060;branch=z9hG4bK-hostile-%d"
    inv_cid = "hostile-404@sipwatch.test"
    ref_cid = "hostile-refer@sipwatch.test"
    frm = "From: \"<i>Ext</i> 1001\" <sip:1001@127.0.15.2:15060>;tag=h1"
    msgs = [
        (PHONE, PBX, msg("INVITE sip:9001@127.0.15.1:15060 SIP/2.0", [
            via % 1, frm, "To: <sip:9001@127.0.15.1:15060>", "Call-ID: " + inv_cid,
            "CSeq: 1 INVITE", "Contact: <sip:1001@127.0.15.2:15060>", "Max-Forwards: 70",
            "User-Agent: " + UA])),
        (PBX, PHONE, msg("SIP/2.0 404 Not Found <script>document.title='pwned'</script>", [
            via % 1, frm, "To: <sip:9001@127.0.15.1:15060>;tag=h2", "Call-ID: " + inv_cid,
            "CSeq: 1 INVITE", "Server: " + SERVER])),
        (PHONE, PBX, msg("ACK sip:9001@127.0.15.1:15060 SIP/2.0", [
            via % 1, frm, "To: <sip:9001@127.0.15.1:15060>;tag=h2", "Call-ID: " + inv_cid,
            "CSeq: 1 ACK", "Max-Forwards: 70"])),
        (PHONE, PBX, msg("REFER sip:2001@127.0.15.1:15060 SIP/2.0", [
            via % 2, frm, "To: <sip:2001@127.0.15.1:15060>", "Call-ID: " + ref_cid,
            "CSeq: 1 REFER", "Contact: <sip:1001@127.0.15.2:15060>", "Max-Forwards: 70",
            "Refer-To: <sip:3001@127.0.15.1:15060;x=%22%3E%3Cscript%3Ealert(1)%3C/script%3E>",
            "Referred-By: <sip:1001@127.0.15.2:15060>", "User-Agent: " + UA])),
        (PBX, PHONE, msg("SIP/2.0 202 Accepted <img src=x onerror=\"document.title='pwned'\">", [
            via % 2, frm, "To: <sip:2001@127.0.15.1:15060>;tag=h3", "Call-ID: " + ref_cid,
            "CSeq: 1 REFER", "Server: " + SERVER])),
    ]
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        for i, (src, dst, payload) in enumerate(msgs):
            data = frame(src, dst, payload, 0x1000 + i)
            f.write(struct.pack("<IIII", T0 + i, 0, len(data), len(data)))
            f.write(data)
    print(OUT)


if __name__ == "__main__":
    main()
