#!/usr/bin/env python3
"""Runs ../shared/tools/check-public.py (tshark's ground truth for the public
captures in ../shared/pcaps/public) and turns its per-file PASS/FAIL lines into
TAP test cases. Skips when the shared folder is absent (a plain clone)."""
import argparse
import os
import subprocess
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sipwatch", required=True)
    ap.add_argument("--root", required=True)
    a = ap.parse_args()
    tool = os.path.normpath(os.path.join(a.root, "..", "shared", "tools", "check-public.py"))
    if not os.path.exists(tool):
        print("1..1\nok 1 - public captures # SKIP ../shared/tools/check-public.py absent")
        return 0
    p = subprocess.run([sys.executable, tool, os.path.abspath(a.sipwatch)],
                       capture_output=True, text=True, timeout=600)
    lines = [l for l in p.stdout.splitlines() if l.startswith(("PASS ", "FAIL "))]
    print(f"1..{len(lines)}")
    for i, l in enumerate(lines, 1):
        verdict, rest = l.split(" ", 1)
        name, _, why = rest.partition(": ")
        print(("ok" if verdict == "PASS" else "not ok") + f" {i} - public {name}")
        if why:
            print("# " + why)
    return 0 if lines and all(l.startswith("PASS") for l in lines) else 1


if __name__ == "__main__":
    sys.exit(main())
