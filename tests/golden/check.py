#!/usr/bin/env python3
"""Golden tests: capture in, expected NDJSON out.

CASES holds one case a line:  NAME  PCAP[,PCAP...]  EXPECTED  [sipwatch args...]
PCAP and EXPECTED are relative to the source root; '#' starts a comment. A PCAP
under ../shared/ that is absent (a clone without the shared folder) makes the
case a TAP skip. Each case runs sipwatch twice: both runs must give the same
bytes (determinism), every line must be a JSON object, and the output must equal
EXPECTED byte for byte. On a mismatch the first differing event is shown as
JSON. --update rewrites the expected files (review them like code).
"""
import argparse
import json
import os
import re
import shlex
import subprocess
import sys


def flatten(v, prefix=""):
    if isinstance(v, dict):
        out = {}
        for k, x in v.items():
            out.update(flatten(x, f"{prefix}{k}."))
        return out
    return {prefix.rstrip("."): v}


def json_diff(got, want):
    """The fields that differ between two event lines, or both lines whole."""
    try:
        g, w = flatten(json.loads(got)), flatten(json.loads(want))
    except ValueError:
        return f"\n#   got:  {got.decode(errors='replace')}\n#   want: {want.decode(errors='replace')}"
    keys = [k for k in list(w) + [k for k in g if k not in w] if g.get(k, "<absent>") != w.get(k, "<absent>")]
    if not keys:
        return "same fields, different order or formatting"
    return "; ".join(f"{k}: got {g.get(k, '<absent>')!r}, want {w.get(k, '<absent>')!r}" for k in keys[:12])


# The stats event's wall-clock members differ from run to run: they are
# replaced before comparing (the rest of the line, byte for byte).
WALL = re.compile(rb'"start_time":"[^"]*","uptime_s":[-0-9.eE+]+')
WALL_FIXED = b'"start_time":"(wall clock)","uptime_s":0.0'


def normalise(out):
    return WALL.sub(WALL_FIXED, out)


# Cases that share an EXPECTED file (one conversation on many wire shapes)
# must give the same events; where each frame sits in its file, and the HEP
# agent that carried it, belong to the shape: those members are compared only
# by the case that owns the file (the first one listing it).
ORIGIN = re.compile(rb'"pcap_filename":(null|"(?:[^"\\]|\\.)*"),"pcap_cnt":(null|[0-9]+)')
HEP = re.compile(rb'"hep_capture_id":(null|[0-9]+),"hep_agent":(null|"[^"]*")')


def mask_origin(out):
    out = ORIGIN.sub(b'"pcap_filename":"(shape)","pcap_cnt":0', out)
    return HEP.sub(b'"hep_capture_id":null,"hep_agent":null', out)


def run(sipwatch, pcaps, args, root):
    """Every case runs with a fixed --sensor (the host name would vary), and
    input paths as given in CASES (relative to the root), so that the events'
    pcap_filename is the same wherever the checkout is."""
    cmd = [sipwatch]
    for p in pcaps:
        cmd += ["-r", p]
    if "--sensor" not in args:
        cmd += ["--sensor", "sensor1"]
    cmd += args
    p = subprocess.run(cmd, capture_output=True, timeout=120, cwd=root)
    return p.returncode, normalise(p.stdout), p.stderr.decode(errors="replace")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sipwatch", required=True)
    ap.add_argument("--cases", required=True)
    ap.add_argument("--root", required=True)
    ap.add_argument("--update", action="store_true")
    ap.add_argument("only", nargs="*")
    a = ap.parse_args()
    a.sipwatch = os.path.abspath(a.sipwatch)
    cases = []
    with open(a.cases) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            parts = shlex.split(line)
            if len(parts) < 3:
                continue
            if a.only and parts[0] not in a.only:
                continue
            cases.append(parts)
    print(f"1..{len(cases)}")
    failed = 0
    owner = {}
    for name, _, expected, *_ in cases:
        owner.setdefault(expected, name)
    for i, (name, pcaps, expected, *args) in enumerate(cases, 1):
        pcaps = pcaps.split(",")
        missing = [p for p in pcaps if not os.path.exists(os.path.join(a.root, p))]
        if missing:
            if any(p.startswith("../shared/") for p in missing):
                print(f"ok {i} - {name} # SKIP {missing[0]} absent")
                continue
            print(f"not ok {i} - {name}: missing {missing[0]}")
            failed += 1
            continue
        rc, out, err = run(a.sipwatch, pcaps, args, a.root)
        problems = []
        if rc != 0:
            problems.append(f"exit {rc}: {err.strip()[:200]}")
        rc2, out2, _ = run(a.sipwatch, pcaps, args, a.root)
        if out2 != out:
            problems.append("two runs gave different output")
        for n, line in enumerate(out.decode("utf-8", "replace").splitlines(), 1):
            try:
                if not isinstance(json.loads(line), dict):
                    raise ValueError
            except ValueError:
                problems.append(f"line {n} is not a JSON object")
                break
        exp_path = os.path.join(a.root, expected)
        shared = owner[expected] != name
        if a.update and not problems and not shared:
            with open(exp_path, "wb") as f:
                f.write(out)
        try:
            with open(exp_path, "rb") as f:
                want = f.read()
        except OSError:
            want = None
            problems.append(f"no expected file {expected} (run with --update)")
        if want is not None and shared:
            want, out = mask_origin(want), mask_origin(out)
        if want is not None and want != out:
            got_l, want_l = out.splitlines(), want.splitlines()
            for k in range(max(len(got_l), len(want_l))):
                g = got_l[k] if k < len(got_l) else b"<none>"
                w = want_l[k] if k < len(want_l) else b"<none>"
                if g != w:
                    problems.append(f"line {k + 1} differs: " + json_diff(g, w))
                    break
        if problems:
            failed += 1
            print(f"not ok {i} - {name}")
            for p in problems:
                print("# " + p)
        else:
            print(f"ok {i} - {name}")
        sys.stdout.flush()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
