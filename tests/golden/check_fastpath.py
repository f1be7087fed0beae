#!/usr/bin/env python3
"""The fast path (libosip2 only on messages that feed events) must never change
an event: for every bundled capture, the events with and without
--no-fast-path are byte-identical. TAP output, one case per capture."""
import argparse
import glob
import os
import subprocess
import sys


def events(sw, cap, extra):
    return subprocess.run([sw, "-r", cap, "--events", "transfer,user_not_found,scan",
                           "--notify-timeout", "2"] + extra, capture_output=True, timeout=60).stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sipwatch", required=True)
    ap.add_argument("--root", required=True)
    a = ap.parse_args()
    caps = sorted(glob.glob(os.path.join(a.root, "pcaps", "**", "*.pcap*"), recursive=True))
    print(f"1..{len(caps)}")
    bad = 0
    for i, c in enumerate(caps, 1):
        fast, full = events(a.sipwatch, c, []), events(a.sipwatch, c, ["--no-fast-path"])
        ok = fast == full
        bad += not ok
        print(("ok" if ok else "not ok") + f" {i} - fast path = libosip2 everywhere: "
              f"{os.path.relpath(c, a.root)}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
