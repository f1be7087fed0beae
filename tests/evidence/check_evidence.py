#!/usr/bin/env python3
"""Evidence files and ladders against tshark's view of the original capture.

For every bundled golden capture (tests/golden/CASES), every capture in
pcaps/wire/, and every ../shared/pcaps/public capture with a transfer or a
404 (skipped when ../shared is absent), runs
  sipwatch -r PCAP --evidence TMP --evidence-events all
and checks, for every event:
  - its evidence file holds exactly the frames that
    `tshark -Y 'sip.Call-ID == "..."'` finds in the original, plus the IP
    fragments and TCP segments tshark reassembled into them
    (ip.reassembled_in, ipv6.reassembled.in, tcp.reassembled_in), in capture order, with identical bytes,
    original lengths and times (microseconds);
  - evidence_complete is true;
  - `messages` lists the messages tshark finds for the event (transfer: the
    REFER of refer_cseq and its responses, the NOTIFYs from the REFER on;
    REFER of refer_cseq and its responses, the NOTIFYs from the REFER on, up
    to the event; user_not_found: every message of the 404's transaction,
    its CSeq, with the ACK of an INVITE, which the event waits for); a scan's
    file holds its Call-ID's frames and its first hits' (the Call-IDs tshark
    finds in the file), and each of its messages is one tshark finds.
One TAP line per capture. tshark is required (tools/bootstrap.sh --test).
"""
import argparse
import glob
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile


# Captures where tshark sees less than sipwatch (as in tests/golden/check_tshark.py):
# there the evidence and the messages must hold at least what tshark finds.
SUPERSET = {
    "tcp-lost-segment.pcap": "tshark stops dissecting the direction after the lost segment; "
                             "sipwatch resyncs on the next start line",
}


def read_capture(path):
    """[(ts_usec, orig_len, bytes)] from a pcap or pcapng file."""
    data = open(path, "rb").read()
    out = []
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d"):
        le = magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1")
        nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
        e = "<" if le else ">"
        off = 24
        while off + 16 <= len(data):
            sec, frac, incl, orig = struct.unpack(e + "IIII", data[off:off + 16])
            off += 16
            usec = frac // 1000 if nano else frac
            out.append((sec * 1000000 + usec, orig, data[off:off + incl]))
            off += incl
        return out
    if magic == b"\x0a\x0d\x0d\x0a":
        off, e, resol = 0, "<", {}
        n_if = 0
        while off + 12 <= len(data):
            btype = struct.unpack(e + "I", data[off:off + 4])[0]
            if btype == 0x0A0D0D0A:
                bom = data[off + 8:off + 12]
                e = "<" if bom == b"\x4d\x3c\x2b\x1a" else ">"
                n_if = 0
            blen = struct.unpack(e + "I", data[off + 4:off + 8])[0]
            body = data[off + 8:off + blen - 4]
            if btype == 1:  # IDB: find if_tsresol
                r = 6
                o = 8
                while o + 4 <= len(body):
                    code, ln = struct.unpack(e + "HH", body[o:o + 4])
                    if code == 0:
                        break
                    if code == 9:
                        r = body[o + 4]
                    o += 4 + ((ln + 3) & ~3)
                resol[n_if] = r
                n_if += 1
            elif btype == 6:  # EPB
                ifid, hi, lo, cap, orig = struct.unpack(e + "IIIII", body[:20])
                t = (hi << 32) | lo
                r = resol.get(ifid, 6)
                if r & 0x80:
                    usec = t * 1000000 // (1 << (r & 0x7f))
                else:
                    usec = t * 1000000 // (10 ** r) if r >= 6 else t * (10 ** (6 - r))
                out.append((usec, orig, body[20:20 + cap]))
            off += blen
        return out
    raise ValueError(f"{path}: not a pcap/pcapng file")


FIELDS = ["frame.number", "frame.time_epoch", "sip.Call-ID", "tcp.reassembled_in",
          "ip.reassembled_in", "ipv6.reassembled.in", "sip.CSeq.seq", "sip.CSeq.method",
          "sip.Method", "sip.Status-Code"]


def tshark_table(pcap, extra):
    # -2: two passes, so that fragments and segments name the frame they
    # were reassembled in. Port 15060 (the bundled captures' SIP port) is
    # SIP on TCP too; WebSocket's HTTP upgrade is on 15080.
    cmd = ["tshark", "-2", "-n", "-r", pcap, "-o", "ip.defragment:TRUE", "-o",
           "tcp.desegment_tcp_streams:TRUE", "-o", "tcp.reassemble_out_of_order:TRUE",
           "-d", "tcp.port==15060,sip", "-d", "tcp.port==15080,http", "-T", "fields", "-E", "occurrence=a",
           "-E", "aggregator=\x1f", "-E", "separator=\x1e"]
    cmd += extra
    for f in FIELDS:
        cmd += ["-e", f]
    p = subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=300)
    rows = []
    for line in p.stdout.split("\n"):  # not splitlines(): it splits at \x1e too
        if not line:
            continue
        cols = line.split("\x1e")
        cols += [""] * (len(FIELDS) - len(cols))
        rows.append({f: (cols[i].split("\x1f") if cols[i] else []) for i, f in enumerate(FIELDS)})
    return rows


def usec(s):
    whole, _, frac = s.partition(".")
    frac = (frac + "000000000")[:9]
    return int(whole) * 1000000 + int(frac) // 1000


def expected_frames(rows, cid):
    hit = set()
    for r in rows:
        if cid in r["sip.Call-ID"]:
            hit.add(int(r["frame.number"][0]))
    carried = set(hit)
    for r in rows:
        for f in ("tcp.reassembled_in", "ip.reassembled_in", "ipv6.reassembled.in"):
            for v in r[f]:
                if v.isdigit() and int(v) in hit:
                    carried.add(int(r["frame.number"][0]))
    return sorted(carried)


def tshark_messages(rows, cid):
    """[(usec, cseq, cseq_method, label)] of messages with this Call-ID."""
    out = []
    for r in rows:
        ids = r["sip.Call-ID"]
        if cid not in ids:
            continue
        t = usec(r["frame.time_epoch"][0])
        # one frame may carry several messages: fields are in message order
        meth = r["sip.Method"]
        for i, c in enumerate(ids):
            if c != cid:
                continue
            seq = r["sip.CSeq.seq"][i] if i < len(r["sip.CSeq.seq"]) else ""
            cm = r["sip.CSeq.method"][i] if i < len(r["sip.CSeq.method"]) else ""
            out.append((t, seq, cm))
    return out


def wanted(ev, msg):
    t, seq, cm = msg
    if ev["event_type"] == "transfer":
        x = ev["transfer"]
        if cm == "REFER":
            return seq == str(x["refer_cseq"])
        if cm != "NOTIFY":
            return False
        return x["refer_time"] is None or t >= iso_usec(x["refer_time"])
    return True


def iso_usec(s):
    import datetime
    d = datetime.datetime.strptime(s[:26], "%Y-%m-%dT%H:%M:%S.%f")
    return int(d.replace(tzinfo=datetime.timezone.utc).timestamp()) * 1000000 + d.microsecond


def check_capture(sw, pcap, args, tmp):
    """Returns a list of problems (empty: ok) and the number of events checked."""
    problems = []
    evdir = os.path.join(tmp, "ev")
    shutil.rmtree(evdir, ignore_errors=True)
    cmd = [sw, "-r", pcap, "--evidence", evdir, "--evidence-events", "all",
           "--events", "transfer,user_not_found,scan"] + args
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        return [f"sipwatch exit {p.returncode}: {p.stderr.strip()}"], 0
    events = [json.loads(l) for l in p.stdout.splitlines() if l.strip()]
    if not events:
        return [], 0
    no_dissector = "hep" in os.path.basename(pcap)
    rows = tshark_table(pcap, [])
    orig = read_capture(pcap)
    n = 0
    for ev in events:
        cid = ev["call_id"]
        path = ev.get("evidence")
        if path is None:
            problems.append(f"{ev['event_type']} {cid}: no evidence file")
            continue
        n += 1
        if ev.get("evidence_complete") is not True:
            problems.append(f"{cid}: evidence_complete is {ev.get('evidence_complete')}")
        got = read_capture(os.path.join(evdir, path))
        cids = [cid]
        if ev["event_type"] == "scan" and not no_dissector:
            # a scan's file holds its own Call-ID and its first hits': the
            # Call-IDs tshark finds in the file, which must include the event's
            in_file = set()
            for r in tshark_table(os.path.join(evdir, path), []):
                in_file.update(r["sip.Call-ID"])
            if cid not in in_file:
                problems.append(f"{cid}: scan file lacks the event's Call-ID")
            cids = sorted(in_file)
        if no_dissector:
            # tshark 4.0 has no HEP dissector: the frames whose bytes hold
            # the Call-ID (uncompressed HEP carries the SIP message as is)
            want_nums = [k + 1 for k, f in enumerate(orig) if cid.encode() in f[2]]
        else:
            want_nums = sorted({k for c in cids for k in expected_frames(rows, c)})
        want = [orig[k - 1] for k in want_nums if 0 < k <= len(orig)]
        if ev["event_type"] == "scan":
            # a scan's merged file is written once, at the event
            want = [w for w in want if w[0] <= iso_usec(ev["timestamp"])]
        superset = os.path.basename(pcap) in SUPERSET
        if superset:
            missing = [w for w in want if w not in got]
            if missing or sorted(got, key=lambda g: g[0]) != got:
                problems.append(f"{cid}: {len(missing)} of tshark's frames missing")
        elif got != want:
            gs = [g[0] for g in got]
            ws = [w[0] for w in want]
            problems.append(f"{cid}: evidence frames differ: file has {len(got)} (times {gs[:6]}),"
                            f" tshark frames {want_nums[:12]} (times {ws[:6]})")
        # the ladder
        ts = iso_usec(ev["timestamp"])
        tmsgs = [m for m in tshark_messages(rows, cid)
                 if (m[0] <= ts or ev["event_type"] == "user_not_found") and wanted(ev, m)]
        emsgs = [(iso_usec(m["ts"]), m["cseq"].split(" ")[0], m["cseq"].split(" ", 1)[1])
                 for m in ev["messages"]]
        if ev["event_type"] == "user_not_found":
            # the transaction of the 404, whole: tshark's messages with its
            # CSeq, the ACK of an INVITE included (the event waits for it)
            x = ev["user_not_found"]
            cm = x["method"]
            seq = next((m[1] for m in emsgs if m[2] == cm), None)
            tmsgs = [m for m in tmsgs if m[1] == seq and (m[2] == cm or
                                                          (cm == "INVITE" and m[2] == "ACK"))]
            if cm == "INVITE" and emsgs and not any(m[2] == "ACK" for m in emsgs) and \
                    any(m[2] == "ACK" for m in tmsgs):
                problems.append(f"{cid}: the INVITE's ACK is missing from messages")
        elif ev["event_type"] == "scan" and emsgs:
            seq, cm = emsgs[-1][1], emsgs[-1][2]
            tmsgs = [m for m in tmsgs if m[1] == seq and (m[2] == cm or
                                                          (cm == "INVITE" and m[2] == "ACK"))]
        if len(tmsgs) > 32:
            tmsgs = tmsgs[:32]
        if ev["event_type"] == "scan":
            # the first hits' transactions: each listed message is one of
            # tshark's messages of the file's Call-IDs
            allm = [m for c in cids for m in tshark_messages(rows, c)]
            if no_dissector or not emsgs:
                pass
            elif any(m not in allm for m in emsgs):
                problems.append(f"{cid}: scan messages {emsgs[:4]} not all found by tshark")
        elif superset:
            if any(m not in emsgs for m in tmsgs):
                problems.append(f"{cid}: messages {emsgs[:6]} lack some of tshark's {tmsgs[:6]}")
        elif not no_dissector and sorted(tmsgs) != sorted(emsgs):
            problems.append(f"{cid}: messages {emsgs[:6]} != tshark {tmsgs[:6]}")
    return problems, n


def cases(root):
    out = []
    seen = set()
    for line in open(os.path.join(root, "tests/golden/CASES")):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if "," in parts[1] or not os.path.exists(os.path.join(root, parts[1])):
            continue  # several files (frame numbers are per file), or ../shared (below)
        args = parts[3:]
        keep = []
        i = 0
        while i < len(args):
            if args[i] == "--events":
                i += 2
                continue
            keep.append(args[i])
            i += 1
        key = (parts[1], tuple(keep))
        if key in seen:
            continue
        seen.add(key)
        out.append((parts[0], os.path.join(root, parts[1]), keep))
    for p in sorted(glob.glob(os.path.join(root, "pcaps/wire/*.pcap*"))):
        rel = os.path.relpath(p, root)
        if (rel, ()) in seen:
            continue
        args = []
        if "hep" in os.path.basename(p):
            args = ["--hep-port", "9060"]
        out.append(("wire/" + os.path.basename(p), p, args))
    return out


def public_cases(root, base=None):
    base = base or os.path.normpath(os.path.join(root, "..", "shared", "pcaps", "public"))
    if not os.path.isdir(base):
        return None
    out = []
    for p in sorted(glob.glob(os.path.join(base, "**", "*"), recursive=True)):
        if not os.path.isfile(p) or not p.endswith((".pcap", ".pcapng", ".cap")):
            continue
        out.append(("public/" + os.path.relpath(p, base), p, []))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sipwatch", required=True)
    ap.add_argument("--root", required=True)
    ap.add_argument("--no-public", action="store_true")
    ap.add_argument("--public", help="the public captures' folder (default ROOT/../shared/pcaps/public)")
    a = ap.parse_args()
    if shutil.which("tshark") is None:
        print("1..1\nnot ok 1 - tshark not installed (tools/bootstrap.sh --test installs it)")
        return 1
    todo = cases(a.root)
    pub = None if a.no_public else public_cases(a.root, a.public)
    if pub:
        todo += pub
    total = len(todo) + (1 if pub is None else 0)
    print(f"1..{total}")
    failed = 0
    i = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name, pcap, args in todo:
            i += 1
            try:
                problems, n = check_capture(os.path.abspath(a.sipwatch), pcap, args, tmp)
            except Exception as e:  # a reader error is a failure, not a crash
                problems, n = [f"{type(e).__name__}: {e}"], 0
            if problems:
                failed += 1
                print(f"not ok {i} - {name} ({n} events)")
                for pr in problems[:5]:
                    print("# " + pr)
            else:
                print(f"ok {i} - {name} ({n} events)")
    if pub is None:
        i += 1
        print(f"ok {i} - public captures # SKIP ../shared/pcaps/public absent")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
