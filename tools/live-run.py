#!/usr/bin/env python3
"""Live soak: sipwatch -i on a loopback interface while tcpreplay replays the
load mix at its own rate, for N minutes; samples sipwatch's RSS.

    sudo python3 tools/live-run.py --sipwatch build/sipwatch [--minutes 10]
        [--pcap ~/.cache/sipwatch-bench/sip-long.pcap] [--iface lo]
        [--copies N] [-- extra sipwatch options]

The capture is replayed once, as long as it lasts or for --minutes; make it
long enough with --copies N (tools/loop-pcap.py: N copies back to back, each
with Call-IDs of its own, so no dialog comes back as it would in a loop).

Evidence is on (default budget) unless `--no-evidence`. Prints RSS at each
minute, the peak, the memory the stats say is held (tables + evidence buffer)
and the fixed overhead (peak RSS minus both peaks); also kernel drops and the
event counts, so a run that lost packets says so. Needs root (live capture,
packet injection) and tcpreplay (Debian: tcpreplay). Not part of CI: it takes
the minutes it is asked for.
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

DEFAULT_PCAP = os.path.expanduser("~/.cache/sipwatch-bench/sip-long.pcap")


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sipwatch", default="build/sipwatch")
    ap.add_argument("--pcap", default=DEFAULT_PCAP)
    ap.add_argument("--iface", default="lo")
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--no-evidence", action="store_true")
    ap.add_argument("--copies", type=int, default=1,
                    help="replay N copies of the capture with distinct Call-IDs (loop-pcap.py)")
    ap.add_argument("--keep", help="keep the events and evidence in this directory")
    ap.add_argument("extra", nargs="*", help="more sipwatch options (after --)")
    a = ap.parse_args()
    if shutil.which("tcpreplay") is None:
        sys.exit("live-run: tcpreplay not found (apt-get install tcpreplay)")
    if not os.path.exists(a.pcap):
        sys.exit(f"live-run: {a.pcap} missing (make it: gen-load-pcap.sh long)")
    work = a.keep or tempfile.mkdtemp(prefix="sipwatch-live-")
    os.makedirs(work, exist_ok=True)
    if a.copies > 1:
        looped = os.path.join(work, "replay.pcap")
        subprocess.run([sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                     "loop-pcap.py"), a.pcap, looped,
                        str(a.copies)], check=True)
        a.pcap = looped
    out = os.path.join(work, "events.ndjson")
    seconds = int(a.minutes * 60)
    cmd = [a.sipwatch, "-i", a.iface, "-o", out, "--stats-interval", "60"]
    if not a.no_evidence:
        cmd += ["--evidence", os.path.join(work, "evidence")]
    cmd += a.extra
    sw = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)
    if sw.poll() is not None:
        sys.exit("live-run: sipwatch exited: " + sw.stderr.read())
    base = rss_kib(sw.pid)
    rp = subprocess.Popen(["tcpreplay", "-i", a.iface, f"--duration={seconds}",
                           "--no-flow-stats", a.pcap],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    t0 = time.time()
    samples = []  # (seconds, rss KiB)
    while rp.poll() is None and time.time() - t0 < seconds + 30:
        time.sleep(5)
        r = rss_kib(sw.pid)
        if r is not None:
            samples.append((time.time() - t0, r))
    if rp.poll() is None:
        rp.kill()
    replay_out = rp.stdout.read()
    time.sleep(2)
    sw.send_signal(signal.SIGTERM)
    try:
        sw.wait(timeout=60)
    except subprocess.TimeoutExpired:
        sw.kill()
    err = sw.stderr.read()

    stats, counts = None, {}
    with open(out, "rb") as f:
        for line in f:
            ev = json.loads(line)
            t = ev["event_type"]
            counts[t] = counts.get(t, 0) + 1
            if t == "stats":
                stats = ev["stats"]
    peak = max((r for _, r in samples), default=0)
    print(f"live-run: {a.minutes:g} min on {a.iface}, {a.pcap}")
    print(f"  sipwatch: {' '.join(cmd)}")
    print("  tcpreplay: " + " ".join(l.strip() for l in replay_out.splitlines()
                                      if "Actual" in l or "Rated" in l))
    print(f"  RSS at start {base} KiB; per minute (KiB):",
          " ".join(str(r) for s, r in samples if int(s) % 60 < 5))
    print(f"  RSS peak {peak} KiB ({peak / 1024:.1f} MiB)")
    if stats:
        mem = stats.get("memory", {})
        evi = stats.get("evidence", {})
        cap = stats.get("capture", {})
        tb = mem.get("memory_bytes_peak", 0)
        eb = evi.get("evidence_bytes_peak", 0)
        print(f"  tables peak {tb / 2**20:.1f} MiB (budget --max-memory-mb), "
              f"evidence buffer peak {eb / 2**20:.1f} MiB (budget --evidence-buffer-mb)")
        print(f"  fixed overhead = RSS peak - both peaks = {(peak * 1024 - tb - eb) / 2**20:.1f} MiB")
        print(f"  capture: {json.dumps(cap)}")
        print(f"  evidence: files {evi.get('evidence_files_written')} rewritten "
              f"{evi.get('evidence_files_rewritten')} incomplete {evi.get('evidence_incomplete')} "
              f"evicted calls {evi.get('evidence_calls_evicted')}")
    print(f"  events: {json.dumps(counts, sort_keys=True)}")
    if err.strip():
        print("  sipwatch stderr: " + err.strip()[:500])
    print(f"  kept in {work}" if a.keep else "")
    if not a.keep:
        shutil.rmtree(work, ignore_errors=True)
    elif a.copies > 1:
        os.unlink(a.pcap)
    return 0


if __name__ == "__main__":
    sys.exit(main())
