#!/usr/bin/env python3
"""The README's example events must be real: every JSON event line in
README.md must appear, byte for byte, in a golden expected file (which the
golden tests compare with sipwatch's output), and every option README's table
names must be in `sipwatch --help`. TAP output."""
import argparse
import glob
import os
import re
import subprocess
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sipwatch", required=True)
    ap.add_argument("--root", required=True)
    a = ap.parse_args()
    readme = open(os.path.join(a.root, "README.md")).read()
    gold = set()
    for f in glob.glob(os.path.join(a.root, "tests", "golden", "*.ndjson")):
        gold.update(l.rstrip("\n") for l in open(f))
    cases = []
    for m in re.finditer(r'^\{"timestamp".*$', readme, re.M):
        ev = re.search(r'"event_type":"(\w+)"', m.group(0))
        cases.append((f"README example {ev.group(1) if ev else '?'} event is real output",
                      m.group(0) in gold))
    types = {re.search(r'"event_type":"(\w+)"', m.group(0)).group(1)
             for m in re.finditer(r'^\{"timestamp".*$', readme, re.M)}
    cases.append(("README shows every event type", types >= {"transfer", "user_not_found", "scan", "stats"}))
    helptext = subprocess.run([a.sipwatch, "--help"], capture_output=True, text=True).stdout
    for opt in sorted(set(re.findall(r"^\| `(--[a-z-]+)", readme, re.M))):
        cases.append((f"README option {opt} is in --help", opt in helptext))
    print(f"1..{len(cases)}")
    for i, (name, ok) in enumerate(cases, 1):
        print(("ok" if ok else "not ok") + f" {i} - {name}")
    return 0 if all(ok for _, ok in cases) else 1


if __name__ == "__main__":
    sys.exit(main())
