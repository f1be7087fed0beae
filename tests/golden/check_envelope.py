#!/usr/bin/env python3
"""The envelope every pipeline joins on, checked independently of sipwatch's
code on real output: every event of the golden expected files and of the
public captures (../shared, skipped when absent).

- community_id is recomputed here from src/dest ip and port and proto with
  Python's hashlib, as the Community ID v1 spec lays the bytes out (Zeek's and
  Suricata's algorithm), and must be equal;
- proto is the IP transport (UDP, TCP, SCTP) and sip_transport the SIP one;
- every line is at most 8000 bytes;
- host, pcap_filename and pcap_cnt are present, and pcap_cnt names a frame of
  that file (1 <= pcap_cnt <= its record count).
TAP output."""
import argparse
import base64
import glob
import hashlib
import ipaddress
import json
import os
import struct
import subprocess
import sys

PROTO = {"UDP": 17, "TCP": 6, "SCTP": 132}


def community_id(sip, dip, sp, dp, proto, seed=0):
    a, b = ipaddress.ip_address(sip).packed, ipaddress.ip_address(dip).packed
    if (a, sp) > (b, dp):
        a, b, sp, dp = b, a, dp, sp
    data = struct.pack("!H", seed) + a + b + struct.pack("!BB", proto, 0) + struct.pack("!HH", sp, dp)
    return "1:" + base64.b64encode(hashlib.sha1(data).digest()).decode()


def record_count(path, cache={}):
    """Packet records in a pcap or pcapng file (what tshark numbers as frames)."""
    if path in cache:
        return cache[path]
    data = open(path, "rb").read()
    n = 0
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        end = "<" if magic[0] in (0xd4, 0x4d) else ">"
        off = 24
        while off + 16 <= len(data):
            incl = struct.unpack(end + "I", data[off + 8:off + 12])[0]
            off += 16 + incl
            if off <= len(data):
                n += 1
    elif magic == b"\x0a\x0d\x0d\x0a":
        off, end = 0, "<"
        while off + 12 <= len(data):
            btype = data[off:off + 4]
            if btype == b"\x0a\x0d\x0d\x0a":
                end = "<" if data[off + 8:off + 12] == b"\x4d\x3c\x2b\x1a" else ">"
            blen = struct.unpack(end + "I", data[off + 4:off + 8])[0]
            t = struct.unpack(end + "I", btype)[0]
            if t in (2, 3, 6) and off + blen <= len(data):
                n += 1
            if blen < 12:
                break
            off += blen
    cache[path] = n
    return n


def check_event(e, root):
    """Problems with one event's envelope (a list of strings)."""
    errs = []
    for k in ("host", "pcap_filename", "pcap_cnt", "community_id", "app_proto", "sip_transport"):
        if k not in e:
            errs.append(f"no {k}")
    if e.get("event_type") == "stats":
        return errs
    if e.get("proto") not in PROTO:
        errs.append(f"proto {e.get('proto')!r} is not an IP transport")
    if e.get("sip_transport") not in ("UDP", "TCP", "TLS", "WS", "WSS", "SCTP"):
        errs.append(f"sip_transport {e.get('sip_transport')!r}")
    if e.get("app_proto") != "sip":
        errs.append("app_proto is not sip")
    if e.get("src_ip") and e.get("proto") in PROTO:
        want = community_id(e["src_ip"], e["dest_ip"], e["src_port"], e["dest_port"],
                            PROTO[e["proto"]])
        if e.get("community_id") != want:
            errs.append(f"community_id {e.get('community_id')} != {want}")
    f, n = e.get("pcap_filename"), e.get("pcap_cnt")
    if (f is None) != (n is None):
        errs.append("pcap_filename and pcap_cnt not both set")
    if f is not None:
        path = f if os.path.isabs(f) else os.path.join(root, f)
        if not os.path.exists(path):
            return errs  # a ../shared capture in a clone without it: nothing to count
        total = record_count(path)
        if total is not None and not (1 <= n <= total):
            errs.append(f"pcap_cnt {n} outside 1..{total} of {f}")
    return errs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sipwatch", required=True)
    ap.add_argument("--root", required=True)
    a = ap.parse_args()
    cases = []
    for f in sorted(glob.glob(os.path.join(a.root, "tests", "golden", "*.ndjson"))):
        errs, n = [], 0
        for line in open(f, "rb"):
            if len(line) > 8000:
                errs.append(f"a line of {len(line)} bytes")
            e = json.loads(line)
            n += 1
            errs += check_event(e, a.root)
        cases.append((f"{os.path.basename(f)}: {n} events' envelope", errs))
    pub = os.path.normpath(os.path.join(a.root, "..", "shared", "pcaps", "public"))
    if os.path.isdir(pub):
        for cap in sorted(glob.glob(os.path.join(pub, "**", "*.pcap*"), recursive=True)):
            p = subprocess.run([os.path.abspath(a.sipwatch), "-r", cap], capture_output=True,
                               timeout=60)
            errs, n = [], 0
            for line in p.stdout.splitlines():
                if len(line) + 1 > 8000:
                    errs.append(f"a line of {len(line) + 1} bytes")
                e = json.loads(line)
                n += 1
                errs += check_event(e, a.root)
            cases.append((f"public {os.path.relpath(cap, pub)}: {n} events' envelope", errs))
    else:
        cases.append(("public captures # SKIP ../shared absent", []))
    print(f"1..{len(cases)}")
    bad = 0
    for i, (name, errs) in enumerate(cases, 1):
        ok = not errs
        bad += not ok
        print(("ok" if ok else "not ok") + f" {i} - {name}")
        for x in sorted(set(errs))[:5]:
            print("# " + x)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
