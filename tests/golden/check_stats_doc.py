#!/usr/bin/env python3
"""docs/stats.md must document exactly the stats event sipwatch writes: every
counter of the stats object has a row (`| `name` | ...`) in its Counters
section, in the order sipwatch writes them; every row names a counter that
is written (live-only ones, marked so, must be written by src/capture.c);
every sw_counters_add("...") literal in src/ is documented; the summary
members (transfers.*, not_found.*, final) match their rows; and the
consistency rules the page states hold on the bundled captures. TAP output."""
import argparse
import glob
import json
import os
import re
import subprocess
import shutil
import sys
import tempfile

CAPTURES = ["pcaps/sample.pcap", "pcaps/wire/tcp-lost-segment.pcap"]
ROW = re.compile(r"^\| `([a-z0-9_]+(?:\.[a-z0-9_]+)?)` \|(.*)$")


def section(text, title):
    """The lines of the '## title' section (up to the next '## ')."""
    m = re.search(r"^## " + re.escape(title) + r"\s*$", text, re.M)
    if m is None:
        return []
    rest = text[m.end():]
    end = re.search(r"^## ", rest, re.M)
    return (rest[:end.start()] if end else rest).splitlines()


def rows(lines):
    """[(name, rest of the row)] of the table rows whose first cell is a name."""
    out = []
    for line in lines:
        m = ROW.match(line)
        if m:
            out.append((m.group(1), m.group(2)))
    return out


def stats_events(sipwatch, root, pcap, extra):
    p = subprocess.run([sipwatch, "-r", os.path.join(root, pcap), "--events", "stats"] + extra,
                       capture_output=True, text=True)
    evs = []
    for line in p.stdout.splitlines():
        e = json.loads(line)
        if e.get("event_type") == "stats":
            evs.append(e["stats"])
    return p.returncode, evs


SUMMARIES = ("transfers", "not_found")


def groups_of(stats):
    """[(stage, {counter: value})] of one stats object, in order."""
    return [(k, v) for k, v in stats.items() if isinstance(v, dict) and k not in SUMMARIES]


def counters_of(stats):
    """The counter names of one stats object, in order (every stage's integers)."""
    return [n for _, g in groups_of(stats) for n, v in g.items()
            if isinstance(v, int) and not isinstance(v, bool)]


def flat(stats):
    """Counters of every stage and the other members, as one flat dict."""
    out = {}
    for k, v in stats.items():
        if isinstance(v, dict) and k not in SUMMARIES:
            out.update(v)
        else:
            out[k] = v
    return out


def member_paths(stats):
    """The members that are neither stages nor counters, and the summaries' keys."""
    paths = []
    for k, v in stats.items():
        if isinstance(v, dict) and k not in SUMMARIES:
            continue
        paths.append(k)
        if isinstance(v, dict):
            paths.extend(f"{k}.{sub}" for sub in v)
    return paths


def stage_sections(lines):
    """{counter: stage} from the '### stage' sub-sections of the Counters section."""
    out, stage = {}, None
    for line in lines:
        m = re.match(r"^### ([a-z0-9_]+)\s*$", line)
        if m:
            stage = m.group(1)
            continue
        r = ROW.match(line)
        if r and stage:
            out[r.group(1)] = stage
    return out


def consistency(s):
    """The rules of docs/stats.md, 'Consistency checks': [(rule, holds)]."""
    layers = ["link", "ipv4", "ipv6", "udp", "tcp", "tunnel"]
    per_layer = sum(s[f"{l}_truncated"] + s[f"{l}_invalid"] for l in layers)
    accepted = s["sip_requests"] + s["sip_responses"]
    rules = [
        ("sip_framed = sip_messages = requests + responses + parse errors",
         s["sip_framed"] == s["sip_messages"] == accepted + s["sip_parse_errors"]),
        ("requests + responses = fast path + full parse",
         accepted == s["sip_fast_path"] + s["sip_full_parse"]),
        ("tcp_segments = tcp_packets", s["tcp_segments"] == s["tcp_packets"]),
        ("packets = decode_frames", s["packets"] == s["decode_frames"]),
        ("decode_truncated + decode_invalid = per-layer sum + hep_errors",
         s["decode_truncated"] + s["decode_invalid"] == per_layer + s["hep_errors"]),
        ("transfers_seen = sum(transfers) + transfers_active",
         s["transfers_seen"] == sum(s["transfers"].values()) + s["transfers_active"]),
        ("not_found_events = not_found.404 + not_found.604",
         s["not_found_events"] == s["not_found"]["404"] + s["not_found"]["604"]),
    ]
    if s["final"]:
        rules.append(("final: frames = packets", s["frames"] == s["packets"]))
        # memory_bytes_held is the budget's total: at the end it still holds
        # the summary tables (this very event reports them) and settled keys
        gauges = [k for k in s if (k.endswith("_held") or k.endswith("_active"))
                  and k != "memory_bytes_held"]
        rules.append(("final: memory_bytes_held <= memory_bytes_peak",
                      s.get("memory_bytes_held", 0) <= s.get("memory_bytes_peak", 0)))
        rules.append(("final: every gauge (*_held, *_active) is 0",
                      all(s[k] == 0 for k in gauges)))
    return rules


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sipwatch", required=True)
    ap.add_argument("--root", required=True)
    a = ap.parse_args()
    doc = open(os.path.join(a.root, "docs", "stats.md")).read()
    counter_rows = rows(section(doc, "Counters"))
    member_rows = rows(section(doc, "Summary members"))
    documented = [n for n, _ in counter_rows]
    live_only = {n for n, rest in counter_rows if "**Live only.**" in rest}
    # Counters written only with an option (--hep-listen, --metrics-file): "**With `--x` only.**"
    option_only = {n for n, rest in counter_rows if re.search(r"\*\*With `--[a-z-]+` only\.\*\*", rest)}
    src = ""
    for f in sorted(glob.glob(os.path.join(a.root, "src", "*.c"))):
        src += open(f).read()
    capture_src = open(os.path.join(a.root, "src", "capture.c")).read()

    cases = []
    runs = []
    evdir = tempfile.mkdtemp(prefix="sw-stats-doc-")  # --evidence: its counters too
    for pcap in CAPTURES:
        for extra in ([], ["--stats-interval", "2"], ["--evidence", evdir]):
            rc, evs = stats_events(a.sipwatch, a.root, pcap, extra)
            label = pcap + (" " + " ".join(extra) if extra else "")
            cases.append((f"{label}: exit 0 and a final stats event last",
                          rc == 0 and bool(evs) and evs[-1].get("final") is True))
            runs.extend((label, s) for s in evs)
    shutil.rmtree(evdir, ignore_errors=True)
    stage_of = stage_sections(section(doc, "Counters"))

    emitted = []
    for _, s in runs:
        for k in counters_of(s):
            if k not in emitted:
                emitted.append(k)
    members = []
    for _, s in runs:
        for k in member_paths(s):
            if k not in members:
                members.append(k)

    def check(name, failures):
        """One case per rule; the failing names are listed under it."""
        cases.append((name + (": " + ", ".join(failures[:12]) if failures else ""), not failures))

    cases.append(("docs/stats.md has Counters and Summary members tables",
                  bool(counter_rows) and bool(member_rows)))
    check("no counter is documented twice",
          sorted({n for n in documented if documented.count(n) > 1}))
    check("every emitted counter is documented", [k for k in emitted if k not in documented])
    check("every documented counter is emitted (or is marked live-only and written by capture.c, "
          "or marked as written with an option)",
          [n for n in documented if n not in emitted
           and not (n in live_only and f'"{n}"' in capture_src)
           and not (n in option_only and f'"{n}"' in src)])
    check("live-only counters are absent from file runs", [n for n in sorted(live_only) if n in emitted])
    check("every sw_counters_add name in src/ is documented",
          [n for n in sorted(set(re.findall(r'sw_counters_add\([^,]+,\s*"([a-z0-9_]+)"', src)))
           if n not in documented])
    seen_orders = set()
    for label, s in runs:
        order = counters_of(s)
        if tuple(order) in seen_orders:
            continue
        seen_orders.add(tuple(order))
        doc_order = [n for n in documented if n in order]
        cases.append((f"{label}: counters documented in the order written", doc_order == order))
    check("every counter is documented under its stage's sub-section (### stage)",
          sorted({f"{n} ({g})" for _, s in runs for g, c in groups_of(s) for n in c
                   if stage_of.get(n) != g}))
    member_names = [n for n, _ in member_rows]
    check("every summary member is documented", [k for k in members if k not in member_names])
    check("every documented summary member is emitted", [n for n in member_names if n not in members])
    for label, s in runs:
        tag = "final" if s.get("final") else "periodic"
        check(f"{label} ({tag}): consistency rules hold",
              [rule for rule, ok in consistency(flat(s)) if not ok])

    print(f"1..{len(cases)}")
    for i, (name, ok) in enumerate(cases, 1):
        print(("ok" if ok else "not ok") + f" {i} - {name}")
    return 0 if all(ok for _, ok in cases) else 1


if __name__ == "__main__":
    sys.exit(main())
