#!/usr/bin/env python3
"""Delivery of events (issue 9) and the write path under signals and full
disks (issue 10, items 1-3). TAP output. Each case fails on the old stdio
writer:
- a capture piped slowly into `-r -` gives each event before the input ends;
- a file-to-file replay writes whole lines: no write() ends inside a line
  (strace); the -o file is created 0640;
- 100 SIGHUPs 10 ms apart while stdout's reader is slow: every event, every
  line whole;
- SIGHUPs while `-r -` reads a pipe: the read goes on, every event arrives;
- /dev/full: exit 1 and one stderr line per episode; --write-timeout ends a
  run whose writes keep failing;
- a small tmpfs filling up and freeing again: no half line, writing resumes,
  the events lost are counted and said;
- a SIGHUP reopen that fails is counted, said, and retried.
"""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import flood  # noqa: E402

N_EVENTS = 10000
SCANS = 5


class T:
    def __init__(self):
        self.n, self.failed, self.lines = 0, 0, []

    def check(self, name, ok, detail=""):
        self.n += 1
        self.lines.append(("ok" if ok else "not ok") + f" {self.n} - {name}")
        if not ok:
            self.failed += 1
            self.lines.append("# " + str(detail).replace("\n", "\n# ")[:1500])

    def skip(self, name, why):
        self.n += 1
        self.lines.append(f"ok {self.n} - {name} # SKIP {why}")


def parse_lines(data):
    """(events, bad lines) of NDJSON bytes; a last line without newline is bad."""
    evs, bad = [], []
    text = data.decode("utf-8", errors="replace")
    parts = text.split("\n")
    if parts and parts[-1] == "":
        parts.pop()
    elif parts:
        bad.append("no newline at the end: " + parts[-1][:80])
        parts.pop()
    for l in parts:
        try:
            evs.append(json.loads(l))
        except ValueError:
            bad.append(l[:120])
    return evs, bad


def feed(proc, data, chunk, pause, stop=None):
    """Writes data to proc's stdin in chunks with pauses, then closes it."""
    try:
        for i in range(0, len(data), chunk):
            if stop is not None and stop.is_set():
                break
            proc.stdin.write(data[i:i + chunk])
            proc.stdin.flush()
            time.sleep(pause)
        proc.stdin.close()
    except (BrokenPipeError, ValueError, OSError):
        pass


def stats_of(evs):
    st = [e for e in evs if e.get("event_type") == "stats"]
    return st[-1]["stats"] if st else {}


def out_counter(stats, name):
    return stats.get("output", {}).get(name, stats.get(name))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sipwatch", required=True)
    ap.add_argument("--root", required=True)
    a = ap.parse_args()
    sw = a.sipwatch
    t = T()
    d = tempfile.mkdtemp(prefix="sipwatch-output-")
    sample = os.path.join(a.root, "pcaps", "sample.pcap")
    fl_path = os.path.join(d, "flood.pcap")
    fl_data = flood.pcap_bytes(N_EVENTS, scans=SCANS)
    with open(fl_path, "wb") as f:
        f.write(fl_data)
    ref = subprocess.run([sw, "-r", fl_path, "--events", "user_not_found,scan"],
                         capture_output=True, timeout=60)
    ref_evs, _ = parse_lines(ref.stdout)
    total = len(ref_evs)
    t.check("flood capture: its events", total == N_EVENTS + 125 + 1 and ref.returncode == 0,
            f"{total} events, exit {ref.returncode}")
    longest = max(len(l) for l in ref.stdout.split(b"\n"))

    # 1. a slow pipe into -r -: events before the input ends
    p = subprocess.Popen([sw, "-r", "-"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    with open(sample, "rb") as f:
        p.stdin.write(f.read())
    p.stdin.flush()
    got, t0 = [], time.time()

    def reader():
        for line in p.stdout:
            got.append((time.time() - t0, line))
    th = threading.Thread(target=reader, daemon=True)
    th.start()
    time.sleep(3)
    early = len(got)
    p.stdin.close()
    p.wait(20)
    th.join(5)
    # (the completed transfer; the 404 waits for its ACK and the quiet after
    # it, which only the end of input or later packets close)
    t.check("(cat sample.pcap; sleep 3) | sipwatch -r -: the event known at t+0 arrives before "
            "the input ends", early >= 1 and got and got[0][0] < 1.5,
            f"{early} lines before the end; times {[round(x[0], 2) for x in got]}")

    # 2. file to file: batched, every write ends at a line end; mode 0640
    if shutil.which("strace") is None:
        t.check("strace is installed (tools/bootstrap.sh --test)", False, "strace not found")
    else:
        out = os.path.join(d, "replay.ndjson")
        log = os.path.join(d, "strace.log")
        old = os.umask(0o022)
        r = subprocess.run(["strace", "-f", "-qq", "-e", "trace=openat,write", "-e", "signal=none",
                            "-o", log, sw, "-r", fl_path, "-o", out],
                           capture_output=True, timeout=120,
                           env=dict(os.environ, ASAN_OPTIONS="detect_leaks=0"))  # LSan cannot run under ptrace
        os.umask(old)
        data = open(out, "rb").read()
        ends = {i + 1 for i, c in enumerate(data) if c == 0x0A}
        fd, sizes = None, []
        for l in open(log, errors="replace"):
            m = re.search(r'openat\(.*"' + re.escape(out) + r'".*\) = (\d+)', l)
            if m:
                fd = m.group(1)
            m = re.search(r"write\((\d+), .*\) = (-?\d+)", l)
            if m and m.group(1) == fd:
                sizes.append(int(m.group(2)))
        pos, inside = 0, []
        for s in sizes:
            pos += s
            if pos not in ends:
                inside.append(pos)
        t.check("file-to-file replay: several write()s, none ends inside a line (strace)",
                r.returncode == 0 and len(sizes) > 10 and not inside and pos == len(data),
                f"exit {r.returncode}, {len(sizes)} writes, ending inside a line at {inside[:5]}, "
                f"{pos} of {len(data)} bytes")
        t.check("file-to-file replay: writes are batched (at most 64 KiB of whole lines)",
                sizes and max(sizes) <= 65536 and len(sizes) < len(ends) / 10,
                f"max {max(sizes) if sizes else None}, {len(sizes)} writes for {len(ends)} lines")
        mode = os.stat(out).st_mode & 0o777
        t.check("the -o file is created with mode 0640", mode == 0o640, oct(mode))

    # 3. SIGHUP storm while stdout's reader is slow
    p = subprocess.Popen([sw, "-r", fl_path, "--events", "user_not_found,scan,stats"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    chunks = []
    first = p.stdout.read1(4096)
    chunks.append(first)

    def hups():
        for _ in range(100):
            try:
                p.send_signal(signal.SIGHUP)
            except ProcessLookupError:
                return
            time.sleep(0.01)
    th = threading.Thread(target=hups)
    th.start()
    time.sleep(0.3)  # the reader stalls: sipwatch is blocked in write() when the signals come
    while True:
        b = p.stdout.read1(16384)
        if not b:
            break
        chunks.append(b)
        time.sleep(0.002)
    th.join()
    rc = p.wait(30)
    err = p.stderr.read().decode(errors="replace")
    evs, bad = parse_lines(b"".join(chunks))
    nonstats = [e for e in evs if e.get("event_type") != "stats"]
    st = stats_of(evs)
    t.check("100 SIGHUPs with a slow reader: every event, every line whole, exit 0",
            rc == 0 and not bad and len(nonstats) == total
            and out_counter(st, "events_written") == total and err == "",
            f"exit {rc}, {len(nonstats)} of {total} events, bad {bad[:2]}, "
            f"events_written {out_counter(st, 'events_written')}, stderr {err[:300]!r}")

    # 4. SIGHUPs while -r - reads a pipe
    out = os.path.join(d, "stdin.ndjson")
    p = subprocess.Popen([sw, "-r", "-", "-o", out], stdin=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    th = threading.Thread(target=feed, args=(p, fl_data, 65536, 0.01))
    th.start()
    time.sleep(0.3)
    while th.is_alive():
        p.send_signal(signal.SIGHUP)
        time.sleep(0.005)
    th.join()
    rc = p.wait(30)
    err = p.stderr.read().decode(errors="replace")
    evs, bad = parse_lines(open(out, "rb").read())
    nonstats = [e for e in evs if e.get("event_type") != "stats"]
    t.check("SIGHUPs during -r - (a pipe): the read goes on, every event, exit 0",
            rc == 0 and not bad and len(nonstats) == total and err == "",
            f"exit {rc}, {len(nonstats)} of {total}, stderr {err[:300]!r}")

    # 5. /dev/full
    r = subprocess.run([sw, "-r", sample, "-o", "/dev/full"], capture_output=True, timeout=30)
    err = r.stderr.decode(errors="replace").splitlines()
    t.check("-o /dev/full (replay): exit 1, one line for the failure, one for the loss",
            r.returncode == 1 and len(err) == 2 and "No space left on device" in err[0]
            and "lost" in err[1], f"exit {r.returncode}, stderr {err!r}")
    p = subprocess.Popen([sw, "-r", "-", "-o", "/dev/full", "--write-timeout", "1"],
                         stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    stop = threading.Event()
    th = threading.Thread(target=feed, args=(p, fl_data, 2048, 0.01, stop))
    t0 = time.time()
    th.start()
    try:
        rc = p.wait(20)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = p.wait()
    took = time.time() - t0
    stop.set()
    th.join()
    err = p.stderr.read().decode(errors="replace").splitlines()
    t.check("-r - -o /dev/full --write-timeout 1: exit 1 after about 1 s, one line per episode",
            rc == 1 and 0.9 <= took < 6 and len(err) >= 2
            and sum("cannot write events to /dev/full" in l for l in err) == 1
            and any("stopping" in l for l in err),
            f"exit {rc} after {took:.1f} s, stderr {err!r}")

    # 6. a small tmpfs: fills, frees
    mnt = os.path.join(d, "mnt")
    os.mkdir(mnt)
    # 512 KiB: room, once freed, for the events still waiting for their
    # ACK (about 333 of the flood's, 0.5 s of capture time) and 13 more
    m = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", mnt],
                       capture_output=True)
    if m.returncode != 0:
        t.skip("small tmpfs fills up", "mount not permitted: " + m.stderr.decode()[:80])
        t.skip("small tmpfs frees again", "mount not permitted")
    else:
        try:
            out = os.path.join(mnt, "ev.ndjson")
            r = subprocess.run([sw, "-r", fl_path, "-o", out], capture_output=True, timeout=60)
            err = r.stderr.decode(errors="replace").splitlines()
            evs, bad = parse_lines(open(out, "rb").read())
            t.check("tmpfs of 512 KiB fills (replay): exit 1, no half line, stderr says it",
                    r.returncode == 1 and not bad and len(evs) > 10 and len(err) == 2
                    and "No space left on device" in err[0] and "lost" in err[1],
                    f"exit {r.returncode}, {len(evs)} lines, bad {bad[:2]}, stderr {err!r}")
            os.unlink(out)
            # live-like: a slow pipe in; the disk is full for a while, then frees
            filler = os.path.join(mnt, "filler")
            with open(filler, "wb") as f:
                try:
                    f.write(b"x" * (512 * 1024 - 6000))
                except OSError:
                    pass
            p = subprocess.Popen([sw, "-r", "-", "-o", out], stdin=subprocess.PIPE,
                                 stderr=subprocess.PIPE)
            ends = flood.record_ends(fl_data)
            half = ends[len(ends) // 2]
            rest = ends[len(ends) // 2 + 40]  # 20 more events: room for them once freed
            feed_th = threading.Thread(target=lambda: (p.stdin.write(fl_data[:half]), p.stdin.flush()))
            feed_th.start()
            feed_th.join()
            time.sleep(0.5)
            os.unlink(filler)
            # what was written so far goes too: room for the rest
            with open(out, "r+b") as f:
                f.truncate(0)
            p.stdin.write(fl_data[half:rest])
            p.stdin.close()
            rc = p.wait(30)
            err = p.stderr.read().decode(errors="replace").splitlines()
            data = open(out, "rb").read()
            evs, bad = parse_lines(data)
            st = stats_of(evs)
            t.check("tmpfs full then freed: no half or glued line, writing resumes, loss counted "
                    "and said once per episode",
                    not bad and st and out_counter(st, "events_lost") > 0
                    and out_counter(st, "output_errors") > 0
                    and sum("cannot write events to" in l for l in err) == 1
                    and sum("again after" in l for l in err) == 1 and rc == 1,
                    f"exit {rc}, {len(evs)} lines, bad {bad[:2]}, "
                    f"lost {out_counter(st, 'events_lost')}, stderr {err!r}")
        finally:
            subprocess.run(["umount", mnt], capture_output=True)

    # 7. a reopen that fails is counted, said, and retried at the next SIGHUP
    sub = os.path.join(d, "logs")
    os.mkdir(sub)
    out = os.path.join(sub, "ev.ndjson")
    p = subprocess.Popen([sw, "-r", "-", "-o", out], stdin=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    third = len(fl_data) // 3

    def put(b):
        try:
            p.stdin.write(b)
            p.stdin.flush()
        except (BrokenPipeError, OSError):
            pass
    put(fl_data[:third])
    time.sleep(0.5)
    os.rename(sub, sub + ".gone")  # the reopen cannot create logs/ev.ndjson
    p.send_signal(signal.SIGHUP)
    put(fl_data[third:2 * third])
    time.sleep(0.5)
    os.mkdir(sub)
    if p.poll() is None:
        p.send_signal(signal.SIGHUP)
    time.sleep(0.1)
    put(fl_data[2 * third:])
    try:
        p.stdin.close()
    except OSError:
        pass
    rc = p.wait(30)
    err = p.stderr.read().decode(errors="replace").splitlines()
    evs_new, bad1 = parse_lines(open(out, "rb").read()) if os.path.exists(out) else ([], ["none"])
    evs_old, bad2 = parse_lines(open(os.path.join(sub + ".gone", "ev.ndjson"), "rb").read())
    st = stats_of(evs_new)
    n_all = sum(1 for e in evs_new + evs_old if e.get("event_type") != "stats")
    t.check("a failed reopen: said, counted (output_reopen_failures), retried at the next SIGHUP, "
            "no event lost",
            rc == 0 and not bad1 and not bad2 and out_counter(st, "output_reopen_failures") == 1
            and any("cannot open output" in l for l in err) and any("reopened" in l for l in err)
            and n_all == total,
            f"exit {rc}, reopen_failures {out_counter(st, 'output_reopen_failures')}, "
            f"{n_all} of {total}, stderr {err!r}")

    print(f"# longest line {longest} bytes")
    shutil.rmtree(d, ignore_errors=True)
    print(f"1..{t.n}")
    print("\n".join(t.lines))
    return 1 if t.failed else 0


if __name__ == "__main__":
    sys.exit(main())
