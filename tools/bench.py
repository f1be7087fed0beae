#!/usr/bin/env python3
"""bench.py - how fast sipwatch reads a capture, as ratios to a baseline
measured in the same run, on the same file.

Rows (each run --runs times, default 9, interleaved round by round so that a
slow spell of the machine hits every row alike):

  read loop        build/bench_readloop: a bare pcap_next_ex loop (the baseline)
  sipwatch         default options (fast path: libosip2 only on messages that
                   feed events)
  --no-fast-path   libosip2 on every message
  +NAME            sipwatch with extra arguments, one row per --variant
  tshark stat      tshark -n -q -z sip,stat (the statistics pass an operator
                   would run for the same question)
  tshark -Y sip    tshark -n -Y sip (dissect and print every SIP packet)

For each row: the median, best and worst wall time, the spread
((worst - best) / median), the median of its per-round ratio to the read loop,
the median CPU time (user + system, all threads: what it costs the machine,
as opposed to how long it takes) and its peak RSS (GNU time's %M, largest of
all runs). Then a check:
the events (all but the stats event) of sipwatch with and without
--no-fast-path must be byte-identical; the exit status is 1 when they are not.

The capture: by default the long SIPp load mix, sip-long.pcap (about 600k
packets, 370 MB), looked up in $XDG_CACHE_HOME/sipwatch-bench/ (default
~/.cache/sipwatch-bench/), where the team's gen-load-pcap.sh writes it
(`gen-load-pcap.sh long`, root, about 5 minutes, loopback only). Or give a
path. Needs GNU time (/usr/bin/time, for peak RSS) and tshark for its rows
(Debian: apt-get install time tshark; the bench is not a test, so
bootstrap.sh does not install them; --no-tshark skips the tshark rows).

Variants: --variant NAME=ARGS adds a row `sipwatch ARGS` (split like a shell
would). In ARGS, {tmp} is a fresh empty directory for each run, removed after
it, so a feature that writes files is measured with its writes:
  tools/bench.py --variant evidence='--evidence {tmp}/ev' \\
                 --variant report='--report {tmp}/r.html'
--sipwatch-args ARGS is added to every sipwatch row (the check as well).

Usage: tools/bench.py [FILE] [--runs N] [--tshark-runs N] [--no-tshark]
                      [--variant NAME=ARGS ...] [--sipwatch-args ARGS]
                      [--no-check] [--check-only] [--json OUT] [--build DIR]
"""
import argparse
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TIME = "/usr/bin/time"  # GNU time (Debian package `time`): each child's peak RSS


def default_capture():
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(cache, "sipwatch-bench", "sip-long.pcap")


def run_once(cmd, tmpdir_needed):
    """Wall seconds, CPU seconds (user + system) and peak RSS (KiB) of one
    run; output discarded."""
    tmp = tempfile.mkdtemp(prefix="sipwatch-bench.") if tmpdir_needed else None
    argv = [a.replace("{tmp}", tmp) for a in cmd] if tmp else cmd
    # Peak RSS through /usr/bin/time: Linux carries a process's high-water
    # mark across execve, so a child forked from this Python would report
    # Python's RSS when its own is smaller.
    with tempfile.NamedTemporaryFile("r") as rf:
        try:
            s = time.perf_counter()
            p = subprocess.run([TIME, "-q", "-f", "%U %S %M", "-o", rf.name] + argv,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            e = time.perf_counter() - s
        finally:
            if tmp:
                shutil.rmtree(tmp, ignore_errors=True)
        if p.returncode != 0:
            sys.exit(f"bench: {' '.join(argv)} exited {p.returncode}")
        u, sy, rss = rf.read().split()[-3:]
        return e, float(u) + float(sy), int(rss)


class Row:
    def __init__(self, name, cmd, runs):
        self.name, self.cmd, self.runs = name, cmd, runs
        self.tmp = any("{tmp}" in a for a in cmd)
        self.times, self.cpu, self.rss, self.ratios = [], [], 0, []


def stats_line(r, base):
    t = sorted(r.times)
    med = statistics.median(t)
    spread = (t[-1] - t[0]) / med * 100 if med > 0 else 0.0
    ratio = statistics.median(r.ratios) if r.ratios else med / statistics.median(base.times)
    return med, t[0], t[-1], spread, ratio


def compare_events(sw, f, extra):
    """Events of the fast path vs --no-fast-path, stats events left out."""
    def events(args):
        with tempfile.TemporaryFile() as out:
            subprocess.run([sw, "-r", f] + extra + args, stdout=out, check=True)
            out.seek(0)
            return [ln for ln in out if b'"event_type":"stats"' not in ln]
    fast, full = events([]), events(["--no-fast-path"])
    kinds = {}
    for ln in fast:
        k = json.loads(ln).get("event_type", "?")
        kinds[k] = kinds.get(k, 0) + 1
    return fast == full, len(fast), len(full), kinds


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("file", nargs="?", help="capture (default: the long load mix in the cache)")
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--tshark-runs", type=int, help="runs of the tshark rows (default --runs)")
    ap.add_argument("--no-tshark", action="store_true")
    ap.add_argument("--no-full", action="store_true", help="skip the --no-fast-path row")
    ap.add_argument("--variant", action="append", default=[], metavar="NAME=ARGS")
    ap.add_argument("--sipwatch-args", default="", metavar="ARGS")
    ap.add_argument("--no-check", action="store_true", help="skip the fast = full event check")
    ap.add_argument("--check-only", action="store_true", help="only the event check")
    ap.add_argument("--json", metavar="OUT", help="also write the results as JSON")
    ap.add_argument("--build", default="build", help="meson build directory (default build)")
    a = ap.parse_args()
    f = os.path.abspath(a.file) if a.file else default_capture()
    if not os.path.exists(f):
        sys.exit(f"bench: no capture at {f}: make it with gen-load-pcap.sh long (the team's "
                 "bench scripts, run as root) or give a path")
    if not os.access(TIME, os.X_OK):
        sys.exit(f"bench: {TIME} not found (apt-get install time)")
    os.chdir(ROOT)
    b = a.build
    if not os.path.exists(os.path.join(b, "build.ninja")):
        subprocess.run(["meson", "setup", b], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["ninja", "-C", b, "sipwatch", "bench_readloop"], check=True,
                   stdout=subprocess.DEVNULL)
    sw, loop = os.path.join(b, "sipwatch"), os.path.join(b, "bench_readloop")
    extra = shlex.split(a.sipwatch_args)
    out = subprocess.run([loop, f], capture_output=True, text=True, check=True).stdout.split()
    pkts, nbytes = int(out[0]), int(out[2])

    check = None
    if not a.no_check:
        same, nfast, nfull, kinds = compare_events(sw, f, extra)
        check = {"identical": same, "events": nfast, "events_full": nfull, "by_type": kinds}
        print(f"check: events of the fast path and --no-fast-path "
              f"{'are byte-identical' if same else 'DIFFER'} ({nfast} vs {nfull} events: "
              + ", ".join(f"{v} {k}" for k, v in sorted(kinds.items())) + ")")
        if a.check_only:
            return 0 if same else 1

    rows = [Row("read loop (pcap_next_ex)", [loop, f], a.runs),
            Row("sipwatch", [sw, "-r", f] + extra, a.runs)]
    if not a.no_full:
        rows.append(Row("sipwatch --no-fast-path", [sw, "--no-fast-path", "-r", f] + extra, a.runs))
    for v in a.variant:
        name, _, args = v.partition("=")
        if not name:
            sys.exit(f"bench: --variant wants NAME=ARGS, got {v!r}")
        rows.append(Row(f"sipwatch +{name}", [sw, "-r", f] + extra + shlex.split(args), a.runs))
    if not a.no_tshark:
        ts = shutil.which("tshark")
        if ts is None:
            sys.exit("bench: tshark not found (apt-get install tshark, or --no-tshark)")
        tr = a.tshark_runs if a.tshark_runs is not None else a.runs
        rows.append(Row("tshark -q -z sip,stat", [ts, "-n", "-q", "-r", f, "-z", "sip,stat"], tr))
        rows.append(Row("tshark -Y sip", [ts, "-n", "-r", f, "-Y", "sip"], tr))

    for r in rows:  # warm the page cache and the binaries once, untimed
        if r.runs > 0:
            run_once(r.cmd, r.tmp)
            break
    base = rows[0]
    for i in range(max(r.runs for r in rows)):
        bt = None
        for r in rows:
            if i >= r.runs:
                continue
            t, cpu, rss = run_once(r.cmd, r.tmp)
            r.times.append(t)
            r.cpu.append(cpu)
            r.rss = max(r.rss, rss)
            if r is base:
                bt = t
            elif bt:
                r.ratios.append(t / bt)
        print(f"round {i + 1}: " + " ".join(f"{r.times[-1]:.3f}" for r in rows if len(r.times) > i),
              file=sys.stderr, flush=True)

    print(f"file {f}: {pkts} packets, {nbytes / 1e6:.0f} MB; {a.runs} runs, wall seconds; "
          "x loop = median of the per-round ratios to the read loop")
    print(f"{'what':28} {'median':>8} {'best':>8} {'worst':>8} {'spread':>7} {'x loop':>7} "
          f"{'Mpkt/s':>7} {'CPU s':>7} {'RSS MiB':>8}")
    res = {}
    for r in rows:
        med, lo, hi, spread, ratio = stats_line(r, base)
        if r is base:
            ratio = 1.0
        cpu = statistics.median(r.cpu)
        print(f"{r.name:28} {med:8.3f} {lo:8.3f} {hi:8.3f} {spread:6.0f}% {ratio:7.2f} "
              f"{pkts / med / 1e6:7.2f} {cpu:7.2f} {r.rss / 1024:8.1f}")
        res[r.name] = {"cmd": r.cmd, "times": r.times, "median": med, "best": lo, "worst": hi,
                       "cpu": r.cpu, "cpu_median": cpu,
                       "spread_pct": spread, "ratio_to_loop": ratio, "ratios": r.ratios,
                       "peak_rss_kib": r.rss}
    sw_med = res["sipwatch"]["median"]
    for name in ("tshark -q -z sip,stat", "tshark -Y sip"):
        if name in res:
            print(f"sipwatch is {res[name]['median'] / sw_med:.1f}x faster than {name} (medians)")
    base_med = res["sipwatch"]["median"]
    for r in rows:
        if r.name.startswith("sipwatch +"):
            d = res[r.name]["median"] - base_med
            print(f"{r.name}: {d * 1000:+.0f} ms ({d / base_med * 100:+.1f} %) over sipwatch, "
                  f"RSS {r.rss / 1024:.1f} MiB")
    st = subprocess.run([sw, "-r", f, "--events", "stats"] + extra, capture_output=True,
                        text=True).stdout.strip().splitlines()
    if st:
        s = {}

        def flat(d):  # the stats event nests its counters by stage
            for k, v in d.items():
                if isinstance(v, dict):
                    flat(v)
                else:
                    s.setdefault(k, v)
        flat(json.loads(st[-1])["stats"])
        print(f"sipwatch: {s.get('sip_messages', 0)} SIP messages, {s.get('sip_full_parse', 0)} "
              f"through libosip2, {s.get('sip_fast_path', 0)} scanner only")
    if a.json:
        with open(a.json, "w") as o:
            json.dump({"file": f, "packets": pkts, "bytes": nbytes, "runs": a.runs,
                       "check": check, "rows": res}, o, indent=1)
    return 0 if check is None or check["identical"] else 1


if __name__ == "__main__":
    sys.exit(main())
