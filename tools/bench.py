#!/usr/bin/env python3
"""bench.py - how fast sipwatch reads a capture, as ratios to a baseline
measured in the same run, on the same file:

  baseline   build/bench_readloop: a bare pcap_next_ex loop
  sipwatch   the default (fast path: libosip2 only on messages that feed events)
  full       sipwatch --no-fast-path (libosip2 on every message)
  tshark     tshark -n -r FILE -Y sip (when installed)

Each runs --runs times (default 3) and the best wall time counts (the rest is
noise from the machine). Without FILE, ../shared/bench/gen-load-pcap.sh makes
its medium load capture (~200k packets, about 100 s) in ./sip-bench-out/.

Usage: tools/bench.py [--runs N] [--no-tshark] [FILE]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def best(cmd, runs):
    t = None
    for _ in range(runs):
        s = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        e = time.perf_counter() - s
        t = e if t is None or e < t else t
    return t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("file", nargs="?")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--no-tshark", action="store_true")
    a = ap.parse_args()
    os.chdir(ROOT)
    f = a.file
    if not f:
        f = "sip-bench-out/sip-medium.pcap"
        if not os.path.exists(f):
            subprocess.run(["bash", "../shared/bench/gen-load-pcap.sh", "medium",
                            os.path.join(ROOT, "sip-bench-out")], check=True)
    if not os.path.exists("build/build.ninja"):
        subprocess.run(["meson", "setup", "build"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["ninja", "-C", "build", "sipwatch", "bench_readloop"], check=True,
                   stdout=subprocess.DEVNULL)
    pkts = int(subprocess.run(["build/bench_readloop", f], capture_output=True,
                              text=True).stdout.split()[0])
    rows = [("pcap_next_ex loop (baseline)", ["build/bench_readloop", f]),
            ("sipwatch (fast path)", ["build/sipwatch", "-r", f]),
            ("sipwatch --no-fast-path", ["build/sipwatch", "--no-fast-path", "-r", f])]
    if not a.no_tshark and shutil.which("tshark"):
        rows.append(("tshark -Y sip", ["tshark", "-n", "-r", f, "-Y", "sip"]))
    res = [(name, best(cmd, a.runs)) for name, cmd in rows]
    base = res[0][1]
    print(f"file {f}: {pkts} packets, best of {a.runs} runs")
    print(f"{'what':32} {'seconds':>9} {'x base':>8} {'packets/s':>12}")
    for name, t in res:
        print(f"{name:32} {t:9.3f} {t / base:8.2f} {pkts / t:12.0f}")
    d = dict(res)
    if "tshark -Y sip" in d:
        print(f"sipwatch is {d['tshark -Y sip'] / d['sipwatch (fast path)']:.1f}x faster than tshark")
    out = subprocess.run(["build/sipwatch", "-r", f, "--events", "stats"], capture_output=True,
                         text=True).stdout.strip().splitlines()
    if out:
        s = json.loads(out[-1])["stats"]
        print(f"sipwatch: {s.get('sip_messages', 0)} SIP messages, {s.get('sip_full_parse', 0)} "
              f"through libosip2, {s.get('sip_fast_path', 0)} scanner only")
    return 0


if __name__ == "__main__":
    sys.exit(main())
