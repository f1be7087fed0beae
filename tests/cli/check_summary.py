#!/usr/bin/env python3
"""The terminal summary (--summary) against the NDJSON events of the same run:
packets, transfers by outcome, the flagged transfers listed, not-found answers
by status, user and source, scans, and the problems named with their counter's
value. Also where it goes: stderr when events go to stdout, stdout with -o,
nowhere on a pipe without --summary, and on stderr by default when stdout is a
terminal; progress never on a pipe. TAP output.
"""
import argparse
import collections
import glob
import json
import os
import pty
import re
import subprocess
import sys
import tempfile


class T:
    def __init__(self):
        self.n = self.failed = 0

    def ok(self, cond, name, detail=""):
        self.n += 1
        print(f"{'ok' if cond else 'not ok'} {self.n} - {name}")
        if not cond:
            self.failed += 1
            for line in str(detail).splitlines()[:30]:
                print(f"#   {line}")
        return cond


def flat(stats):
    """Counters by name, whether the stats object is flat or nested by stage."""
    out = {}
    for k, v in stats.items():
        if k in ("transfers", "not_found"):
            continue
        if isinstance(v, dict):
            out.update(flat(v))
        elif isinstance(v, int) and not isinstance(v, bool):
            out[k] = v
    return out


PROBLEMS = {  # counter -> words the summary uses (src/summary.c)
    "tcp_gaps": "gaps in TCP streams",
    "sip_parse_errors": "SIP messages could not be parsed",
    "truncated_files": "capture files were cut mid-record",
    "transfers_evicted": "transfers were evicted",
}


def check(t, sw, name, files, extra=()):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "events.ndjson")
        args = [sw, "--summary", "-o", out] + list(extra)
        for f in files:
            args += ["-r", f]
        p = subprocess.run(args, capture_output=True, timeout=120)
        events = [json.loads(x) for x in open(out) if x.strip()]
    text = p.stdout.decode()
    if not t.ok(p.returncode == 0 and text.startswith("sipwatch summary\n"),
                f"{name}: with -o, the summary is on stdout", p.stderr.decode()[-400:]):
        return
    stats = flat([e for e in events if e["event_type"] == "stats"][-1]["stats"])
    by_type = collections.Counter(e["event_type"] for e in events)
    bad = []

    m = re.search(r"^  input +(\d+) files?, (\d+) packets", text, re.M)
    if not m or int(m.group(1)) != len(files) or int(m.group(2)) != stats.get("packets"):
        bad.append(f"input line: {m and m.groups()} vs {len(files)} files, "
                   f"{stats.get('packets')} packets")

    xfers = [e for e in events if e["event_type"] == "transfer"]
    outcomes = collections.Counter(e["transfer"]["outcome"] for e in xfers)
    m = re.search(r"^  transfers +(\d+)(?:: (.*))?$", text, re.M)
    shown = {}
    if m and m.group(2):
        for part in m.group(2).split(", "):
            n, o = part.split(" ")
            shown[o] = int(n)
    if not m or int(m.group(1)) != len(xfers) or shown != dict(outcomes):
        bad.append(f"transfers line: {m and m.groups()} vs {dict(outcomes)}")

    flagged = [e for e in xfers if e["transfer"]["outcome"] not in
               ("completed", "notify_not_requested") or e["transfer"].get("transferor_uninformed")]
    m = re.search(r"^    flagged \((\d+)\):\n((?:      .*\n)*)", text, re.M)
    if flagged:
        rows = m.group(2).splitlines() if m else []
        rows = [r for r in rows if "Refer-To:" in r]
        if not m or int(m.group(1)) != len(flagged) or len(rows) != min(len(flagged), 20):
            bad.append(f"flagged: {m and m.group(1)} listed {len(rows)} vs {len(flagged)}")
        for e, r in zip(flagged, rows):
            x = e["transfer"]
            want = (e["timestamp"][:10] + " " + e["timestamp"][11:23],
                    f"{e['src_ip']}:{e['src_port']} -> {e['dest_ip']}:{e['dest_port']}",
                    x["outcome"], "Refer-To: " + (x["refer_to"] or "-"))
            if not all(w in r for w in want):
                bad.append(f"row {r!r} lacks {want}")
    elif m:
        bad.append("flagged transfers listed, none in the events")

    nfs = [e["user_not_found"] | {"src": e["src_ip"]} for e in events
           if e["event_type"] == "user_not_found"]
    m = re.search(r"^  not found +(\d+)(?: \(404: (\d+), 604: (\d+)\))?$", text, re.M)
    st = collections.Counter(x["status"] for x in nfs)
    if not m or int(m.group(1)) != len(nfs) or \
            (nfs and (int(m.group(2)), int(m.group(3))) != (st[404], st[604])):
        bad.append(f"not found line: {m and m.groups()} vs {len(nfs)} {dict(st)}")
    for label, key in (("by user", "user"), ("by source", "src")):
        want = collections.Counter(x[key] for x in nfs)
        m = re.search(rf"^    {label} +(\d+) distinct: (.*)$", text, re.M)
        if not nfs:
            continue
        got, others = {}, 0
        for part in (m.group(2).split(", ") if m else []):
            k, n = part.rsplit(" ", 1)
            if k == "others":
                others = int(n)
            else:
                got[k] = int(n)
        if any(want[k] != n for k, n in got.items()) or \
                sum(got.values()) + others != len(nfs) or len(got) != min(10, len(want)) or \
                int(m.group(1)) != len(want):
            bad.append(f"{label}: {got} others {others} vs {dict(want)}")

    scans = [e["scan"] for e in events if e["event_type"] == "scan"]
    m = re.search(r"^  scans +(\d+)$", text, re.M)
    if not m or int(m.group(1)) != len(scans):
        bad.append(f"scans line: {m and m.group(1)} vs {len(scans)}")
    for s in scans:
        if f"from {s['src_ip']}: {s['count']} not-found answers, {s['distinct_users']} " \
                f"distinct users" not in text:
            bad.append(f"scan from {s['src_ip']} not listed")

    for counter, words in PROBLEMS.items():
        v = stats.get(counter, 0)
        line = re.search(rf"^    (\d+) {re.escape(words)}", text, re.M)
        if (v == 0) != (line is None) or (line and int(line.group(1)) != v):
            bad.append(f"problem {counter}={v}: {line and line.group(0)}")
    if not any(stats.get(c, 0) for c in PROBLEMS) and "problems" in text and \
            re.search(r"^  problems +none$", text, re.M) is None and \
            re.search(r"^    \d+ ", text, re.M) is None:
        bad.append("no problems line")
    t.ok(not bad, f"{name}: summary numbers equal the events' ({sum(by_type.values())} events)",
         "\n".join(bad) + "\n" + text)


def routing(t, sw, root):
    sample = os.path.join(root, "pcaps/sample.pcap")
    p = subprocess.run([sw, "-r", sample, "--summary"], capture_output=True, timeout=60)
    t.ok(p.stdout.decode().count("\n") == 4 and "\"event_type\"" in p.stdout.decode()
         and p.stderr.decode().startswith("sipwatch summary\n"),
         "--summary with events on stdout: the summary goes to stderr", p.stderr.decode())
    p = subprocess.run([sw, "-r", sample], capture_output=True, timeout=60)
    t.ok(p.stderr == b"" and b"sipwatch summary" not in p.stdout,
         "stdout and stderr on pipes, no --summary: no summary, no progress", p.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "e.ndjson")
        p = subprocess.run([sw, "-r", sample, "-o", out], capture_output=True, timeout=60)
        t.ok(p.stdout == b"" and p.stderr == b"", "-o FILE without --summary: nothing printed")
    # stdout a terminal, no -o: the summary on stderr by default (events still on stdout)
    master, slave = pty.openpty()
    p = subprocess.run([sw, "-r", sample], stdout=slave, stderr=subprocess.PIPE, timeout=60)
    os.close(slave)
    got = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        got += chunk
    os.close(master)
    t.ok(p.stderr.decode().startswith("sipwatch summary\n") and b"event_type" in got,
         "stdout a terminal, no -o: events on it, the summary on stderr", p.stderr.decode())
    # stderr a terminal, a file read: progress (shown every 1024 frames at most 4
    # times a second: 40 x 26 frames give one line), erased at the end, not on stdout
    master, slave = pty.openpty()
    args = [sw, "-o", os.devnull]
    for _ in range(40):
        args += ["-r", sample]
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=slave, timeout=60)
    os.close(slave)
    got = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        got += chunk
    os.close(master)
    t.ok(re.search(rb"\r\x1b\[Ksipwatch: +\d+%  1024 packets  \d+ events", got) is not None
         and got.endswith(b"\r\x1b[K") and p.stdout == b"",
         "stderr a terminal: progress while the files are read, erased at the end", got)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sipwatch", required=True)
    ap.add_argument("--root", required=True)
    a = ap.parse_args()
    t = T()
    r = a.root
    check(t, a.sipwatch, "sample", [os.path.join(r, "pcaps/sample.pcap")])
    check(t, a.sipwatch, "scan", [os.path.join(r, "pcaps/notfound/scan-invite-fast-udp.pcap")])
    check(t, a.sipwatch, "transfers", sorted(glob.glob(os.path.join(r, "pcaps/transfer/*.pcap"))))
    check(t, a.sipwatch, "transfers evicted",
          [os.path.join(r, "pcaps/transfer/xfer-two-refers-udp.pcap")], ["--max-transfers", "1"])
    check(t, a.sipwatch, "notfound", sorted(glob.glob(os.path.join(r, "pcaps/notfound/*.pcap"))))
    check(t, a.sipwatch, "tcp gap", [os.path.join(r, "pcaps/wire/tcp-lost-segment.pcap")])
    routing(t, a.sipwatch, r)
    print(f"1..{t.n}")
    return 1 if t.failed else 0


if __name__ == "__main__":
    sys.exit(main())
