#!/usr/bin/env python3
"""Command-line behaviour of sipwatch: every unusable input gives one clear
stderr line, nothing on stdout and a non-zero exit; a cut capture is read as
far as it goes with a warning and exit 0; options are validated. TAP output.
"""
import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile

SIP = (b"OPTIONS sip:100@192.0.2.2 SIP/2.0\r\n"
       b"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-cli-1\r\n"
       b"From: <sip:cli@192.0.2.1>;tag=1\r\nTo: <sip:100@192.0.2.2>\r\n"
       b"Call-ID: cli-1@192.0.2.1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n")


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def udp_frame(payload):
    udp = struct.pack("!HHHH", 5060, 5060, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0,
                     bytes([192, 0, 2, 1]), bytes([192, 0, 2, 2]))
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return b"\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\x08\x00" + ip + udp


def pcap(frames, linktype=1):
    out = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, linktype)
    for i, fr in enumerate(frames):
        out += struct.pack("<IIII", 1700000000 + i, 0, len(fr), len(fr)) + fr
    return out


class T:
    def __init__(self, sipwatch):
        self.sw, self.n, self.failed, self.lines = sipwatch, 0, 0, []

    def run(self, args, stdin=None):
        return subprocess.run([self.sw] + args, input=stdin, capture_output=True, timeout=60)

    def check(self, name, ok, detail=""):
        self.n += 1
        self.lines.append(("ok" if ok else "not ok") + f" {self.n} - {name}")
        if not ok:
            self.failed += 1
            self.lines.append("# " + detail.replace("\n", "\n# "))

    def error_case(self, name, args, want_in_msg, stdin=None):
        p = self.run(args, stdin)
        err = p.stderr.decode(errors="replace")
        lines = [l for l in err.splitlines() if l.strip()]
        ok = (p.returncode != 0 and p.returncode < 128 and p.stdout == b""
              and len(lines) == 1 and lines[0].startswith("sipwatch: ")
              and want_in_msg.lower() in lines[0].lower())
        self.check(name, ok, f"exit {p.returncode}, stdout {p.stdout[:80]!r}, stderr {err!r}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sipwatch", required=True)
    ap.add_argument("--root", required=True)
    a = ap.parse_args()
    t = T(a.sipwatch)
    d = tempfile.mkdtemp(prefix="sipwatch-cli-")
    def w(name, data):
        p = os.path.join(d, name)
        with open(p, "wb") as f:
            f.write(data)
        return p
    empty = w("empty.pcap", b"")
    text = w("notes.txt", b"this is not a capture\n" * 10)
    usb = w("usb.pcap", pcap([b"\x00" * 40], linktype=189))
    good = w("good.pcap", pcap([udp_frame(SIP), udp_frame(SIP.replace(b"cli-1", b"cli-2"))]))
    data = open(good, "rb").read()
    cut = w("cut.pcap", data[: len(data) - 30])
    hdr_only = w("hdr.pcap", data[:24])

    t.error_case("missing file", ["-r", os.path.join(d, "nope.pcap")], "No such file")
    t.error_case("directory", ["-r", d], "directory")
    t.error_case("empty file", ["-r", empty], "empty")
    t.error_case("not a capture", ["-r", text], "not a pcap")
    t.error_case("unsupported link type", ["-r", usb], "unsupported link type")
    t.error_case("bad filter", ["-r", good, "-f", "port port"], "filter")
    t.error_case("unknown interface", ["-i", "nosuchif0"], "nosuchif0")
    t.error_case("no input", [], "no input")
    t.error_case("unknown option", ["--bogus", "-r", good], "unknown option")
    t.error_case("missing option value", ["-r"], "needs a value")
    t.error_case("bad --events", ["-r", good, "--events", "transfer,nope"], "--events")
    t.error_case("bad --notify-timeout", ["-r", good, "--notify-timeout", "abc"], "--notify-timeout")
    t.error_case("bad --scan-threshold", ["-r", good, "--scan-threshold", "0"], "--scan-threshold")
    t.error_case("stray argument", [good], "unexpected argument")
    t.error_case("second bad file after a good one", ["-r", good, "-r", text], "not a pcap")
    t.error_case("unwritable output", ["-r", good, "-o", os.path.join(d, "no/such/dir/out")], "out")
    t.error_case("stdin not a capture", ["-r", "-"], "stdin", stdin=b"garbage" * 10)

    # A capture cut mid-record: what was read is used, a warning, exit 0.
    p = t.run(["-r", cut])
    err = p.stderr.decode(errors="replace")
    evs = [json.loads(l) for l in p.stdout.decode().splitlines()]
    t.check("cut file: exit 0 with a warning",
            p.returncode == 0 and "warning" in err and "cut.pcap" in err,
            f"exit {p.returncode}, stderr {err!r}")
    t.check("cut file: final stats event",
            len(evs) >= 1 and evs[-1].get("event_type") == "stats", f"stdout {p.stdout[:300]!r}")
    p = t.run(["-r", hdr_only])
    t.check("header-only capture: exit 0, one stats event",
            p.returncode == 0 and [json.loads(l)["event_type"] for l in p.stdout.decode().splitlines()] == ["stats"],
            f"exit {p.returncode} {p.stdout[:200]!r} {p.stderr!r}")

    # stdin and -o
    p = t.run(["-r", "-"], stdin=data)
    t.check("reads a capture from stdin", p.returncode == 0 and b'"stats"' in p.stdout,
            f"exit {p.returncode} {p.stderr!r}")
    out = os.path.join(d, "events.ndjson")
    p = t.run(["-r", good, "-o", out])
    t.check("-o writes the events to a file, nothing on stdout",
            p.returncode == 0 and p.stdout == b"" and os.path.exists(out)
            and b'"stats"' in open(out, "rb").read(), f"exit {p.returncode} {p.stderr!r}")
    p = t.run(["-r", good, "--events", "transfer"])
    t.check("--events transfer hides the stats event", p.returncode == 0 and p.stdout == b"",
            f"{p.stdout[:200]!r}")
    p = t.run(["-h"])
    t.check("--help on stdout, exit 0", p.returncode == 0 and b"Usage: sipwatch" in p.stdout
            and b"--notify-timeout" in p.stdout, repr(p.stdout[:100]))
    p = t.run(["-V"])
    t.check("--version", p.returncode == 0 and p.stdout.startswith(b"sipwatch "), repr(p.stdout))
    p = t.run(["-r", good, "-r", good])
    t.check("two files read as one timeline", p.returncode == 0 and p.stdout.count(b"\n") == 1,
            repr(p.stdout[:200]))

    # privilege drop: inputs and output are opened first, then -Z drops root
    if os.geteuid() == 0:
        out2 = os.path.join(d, "dropped.ndjson")
        p = t.run(["-r", good, "-o", out2, "-Z", "nobody"])
        t.check("-Z nobody: runs after dropping root", p.returncode == 0
                and b'"stats"' in open(out2, "rb").read(), f"exit {p.returncode} {p.stderr!r}")
        t.error_case("-Z unknown user", ["-r", good, "-Z", "no-such-user-x"], "no such user")
    p = t.run(["-r", good, "--stats-interval", "0.5"])
    kinds = [json.loads(l)["stats"].get("final") for l in p.stdout.decode().splitlines()]
    t.check("--stats-interval: periodic stats on capture time, then the final one",
            p.returncode == 0 and kinds == [False, True], repr(kinds))

    # the reader goes away (a dead log shipper, `| head`): exit 1, one line
    sample = os.path.join(a.root, "pcaps", "sample.pcap")
    # the reader closes its end at once; sipwatch's input arrives only later, so its
    # first write always finds the pipe closed (no race with a fast writer)
    p = subprocess.run(["bash", "-c", f"{{ sleep 0.5; cat '{sample}'; }} | '{t.sw}' -r - | "
                        f"{{ exec 0<&-; sleep 2; }}; echo $?${{PIPESTATUS[1]}}"],
                       capture_output=True, timeout=60)
    errl = [l for l in p.stderr.decode(errors="replace").splitlines() if l.strip()]
    t.check("closed output pipe: exit 1, one 'Broken pipe' line",
            p.stdout.decode().strip().endswith("1") and len(errl) == 1 and "Broken pipe" in errl[0],
            f"{p.stdout!r} {p.stderr!r}")

    # evidence and ladders
    xfer = os.path.join(a.root, "pcaps", "transfer", "xfer-no-notify-udp.pcap")
    p = t.run(["-r", xfer, "--ladder"])
    txt = p.stdout.decode(errors="replace")
    t.check("--ladder: text, the REFER's arrow and the 202's, no JSON",
            p.returncode == 0 and "|------------------------>|" in txt and "<------" in txt
            and "REFER sip:" in txt and "202 Accepted" in txt and "{" not in txt, txt[:300])
    t.error_case("--evidence-events: unknown name", ["-r", good, "--evidence-events", "bogus"],
                 "--evidence-events")
    t.error_case("--evidence-buffer-mb 0", ["-r", good, "--evidence-buffer-mb", "0"],
                 "--evidence-buffer-mb")
    t.error_case("--evidence-max-mb over the range", ["-r", good, "--evidence-max-mb", "99999999"],
                 "--evidence-max-mb")
    t.error_case("--evidence DIR that is a file", ["-r", good, "--evidence", good], "--evidence")
    evd = os.path.join(d, "evidence")
    p = t.run(["-r", xfer, "--evidence", evd])
    ev = [json.loads(l) for l in p.stdout.decode().splitlines() if '"transfer"' in l]
    path = ev[0].get("evidence") if ev else None
    t.check("--evidence: the event names its file, in a dated directory, no temporary left",
            p.returncode == 0 and path is not None and path.startswith("2026-11-28/")
            and os.path.isfile(os.path.join(evd, path))
            and not [f for f in os.listdir(os.path.join(evd, "2026-11-28")) if f.startswith(".")],
            repr(ev)[:300])
    p = t.run(["-r", os.path.join(evd, path) if path else good, "--ladder"])
    t.check("--ladder reads an evidence file", p.returncode == 0
            and "transfer no_notify" in p.stdout.decode(errors="replace"), repr(p.stdout[:200]))

    # Read-ahead (files on a second thread) against --no-read-ahead (the
    # caller's thread): the same events, counters, frame numbers and warnings,
    # over several 1 MiB batches, a 200 KB frame across a batch boundary, a cut
    # file between two good ones, and a filter that drops records.
    def sip_msg(i):
        pad = b"X-Pad: " + b"p" * (i * 37 % 900) + b"\r\n"
        return SIP.replace(b"cli-1", b"ra-%d" % i).replace(b"Content-Length", pad + b"Content-Length")
    frames = [udp_frame(sip_msg(i)) for i in range(4000)]
    frames.insert(1500, b"\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\x88\xb5" + b"B" * 200000)
    big = w("ra-big.pcap", pcap(frames))
    base = [json.loads(l) for l in t.run(["-r", big, "--events", "stats"]).stdout.decode().splitlines()]

    def norm(p):
        lines = []
        for l in p.stdout.decode().splitlines():
            e = json.loads(l)
            if e.get("event_type") == "stats":
                e["stats"].pop("start_time", None)
                e["stats"].pop("uptime_s", None)
            lines.append(json.dumps(e, sort_keys=True))
        return p.returncode, lines, p.stderr
    for name, args in (("three files, the middle one cut", ["-r", big, "-r", cut, "-r", good]),
                       ("a filter dropping records, two files",
                        ["-r", big, "-r", good, "-f", "udp and ip[6:2] & 0x1fff = 0 and len > 600"]),
                       ("--stats-interval over several files",
                        ["-r", good, "-r", big, "--stats-interval", "1"])):
        ra, one = norm(t.run(args)), norm(t.run(args + ["--no-read-ahead"]))
        t.check(f"read-ahead = --no-read-ahead: {name}", ra == one and ra[0] == 0
                and len(ra[1]) >= 1, f"{ra[0]} {one[0]} {ra[2]!r} {one[2]!r} "
                f"{[x for x in zip(ra[1], one[1]) if x[0] != x[1]][:1]!r}"[:1500])
    # The reader thread also parses datagrams ahead (pipeline_ahead): on
    # every committed capture (transfers, not-found, wire: fragments, TCP,
    # tunnels, HEP, VLANs, IPv6, cut and hostile messages) the events and
    # every counter are those of the caller's thread alone.
    caps = sorted(os.path.relpath(os.path.join(dp, f), a.root)
                  for dp, _, fs in os.walk(os.path.join(a.root, "pcaps"))
                  for f in fs if f.endswith((".pcap", ".pcapng")))
    t.check("read-ahead: the committed captures are there", len(caps) >= 60, repr(len(caps)))
    for rel in caps:
        args = ["-r", os.path.join(a.root, rel), "--stats-interval", "1"]
        ra, one = norm(t.run(args)), norm(t.run(args + ["--no-read-ahead"]))
        t.check(f"read-ahead (parsing ahead) = --no-read-ahead: {rel}",
                ra == one and len(ra[1]) >= 1,
                f"{ra[0]} {one[0]} {ra[2]!r} "
                f"{[x for x in zip(ra[1], one[1]) if x[0] != x[1]][:1]!r}"[:1500])

    fr = base[-1]["stats"]["capture"] if base else {}
    t.check("read-ahead: every frame of a 4 MB capture handed out",
            fr.get("frames") == 4001 and fr.get("frame_bytes") == sum(len(x) for x in frames),
            repr(fr))

    print(f"1..{t.n}")
    print("\n".join(t.lines))
    return 1 if t.failed else 0


if __name__ == "__main__":
    sys.exit(main())
