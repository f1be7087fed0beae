#!/usr/bin/env python3
"""HEP from anywhere, and the metrics file. TAP output.

- HEP3 is recognised by its magic on any UDP port and on a TCP stream that starts with it:
  pcaps/wire/udp-hep3.pcap rewritten from port 9060 to 5060 and 40000, and as one TCP
  connection to port 5070 (records cut across segments), give the events of the plain
  capture (tests/golden/wire-udp.ndjson): the SIP endpoints, not the agent's addresses.
  HEPv2 is only decoded on --hep-port: moved to 40000 it gives no event.
- --hep-listen: records sent over UDP and over TCP (cut into odd chunks) to a collector
  give the same events; a connection that sends something else is closed and counted;
  the periodic metrics file shows what was received.
- --metrics-file: `promtool check metrics` accepts the file, and a counter in it equals
  the same counter in the final stats event of the same run.
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hepwire  # noqa: E402


class T:
    def __init__(self):
        self.n, self.failed, self.lines = 0, 0, []

    def check(self, name, ok, detail=""):
        self.n += 1
        self.lines.append(("ok" if ok else "not ok") + f" {self.n} - {name}")
        if not ok:
            self.failed += 1
            if detail:
                self.lines.append("# " + str(detail).replace("\n", "\n# "))

    def skip(self, name, why):
        self.n += 1
        self.lines.append(f"ok {self.n} - {name} # SKIP {why}")


def events(text):
    return [json.loads(l) for l in text.splitlines() if l.strip()]


def shape(evs):
    """What must not change with the wire shape: type, dialog, endpoints, outcome."""
    out = []
    for e in evs:
        if e.get("event_type") == "stats":
            continue
        body = e.get(e["event_type"], {})
        out.append((e["event_type"], e.get("call_id"), e.get("src_ip"), e.get("src_port"),
                    e.get("dest_ip"), e.get("dest_port"),
                    body.get("outcome") or body.get("status")))
    return out


def origin_case(t, name, evs, agent):
    """The events' HEP origin, once the reporter writes it (hep_capture_id, hep_agent)."""
    evs = [e for e in evs if e.get("event_type") != "stats"]
    if not any("hep_capture_id" in json.dumps(e) for e in evs):
        t.skip(name, "the reporter does not write the origin fields yet")
        return
    flat = [json.dumps(e) for e in evs]
    ok = all('"hep_capture_id": 2001' in f.replace('":', '": ').replace('":  ', '": ')
             and agent in f for f in flat)
    t.check(name, ok, "\n".join(flat))


def find_counter(stats, name):
    """A counter's value in a stats object, flat or nested by group."""
    if name in stats and isinstance(stats[name], int):
        return stats[name]
    for v in stats.values():
        if isinstance(v, dict) and name in v and isinstance(v[name], int):
            return v[name]
    return None


def prom_value(text, name):
    m = re.search(r"^sipwatch_(?:[a-z]+_)?" + re.escape(name) + r'(?:_total)?\{host="[^"]*"\} (\d+)$',
                  text, re.M)
    return int(m.group(1)) if m else None


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sipwatch", required=True)
    ap.add_argument("--root", required=True)
    a = ap.parse_args()
    sw, root = a.sipwatch, a.root
    t = T()
    tmp = tempfile.mkdtemp(prefix="sipwatch-hep-")
    want = shape(events(open(os.path.join(root, "tests/golden/wire-udp.ndjson")).read()))
    frames, _ = hepwire.read_pcap(os.path.join(root, "pcaps/wire/udp-hep3.pcap"))
    records = [p[6] for p in hepwire.udp_payloads(frames)]

    def run_pcap(name, fr, extra=()):
        path = os.path.join(tmp, name)
        hepwire.write_pcap(path, fr)
        p = subprocess.run([sw, "-r", path, "--events", "transfer,user_not_found,scan"] + list(extra),
                           capture_output=True, text=True, timeout=60)
        return p, events(p.stdout)

    # --- HEP3 on any port, in captures ---
    for port in (5060, 40000):
        p, evs = run_pcap(f"hep3-{port}.pcap", hepwire.rewrite_udp_ports(frames, port))
        t.check(f"HEP3 over UDP port {port}: the SIP endpoints' events", shape(evs) == want,
                f"got {shape(evs)}\nwant {want}\n{p.stderr}")
        origin_case(t, f"HEP3 over UDP port {port}: capture id 2001, agent 127.0.15.100", evs,
                    "127.0.15.100")
    p, evs = run_pcap("hep3-tcp-5070.pcap", hepwire.tcp_stream(frames, 5070))
    t.check("HEP3 over TCP port 5070 (records across segments): the same events",
            shape(evs) == want, f"got {shape(evs)}\nwant {want}\n{p.stderr}")
    p, evs = run_pcap("hep3-40000-hep-port-off.pcap", hepwire.rewrite_udp_ports(frames, 40000),
                      ["--hep-port", "0"])
    t.check("HEP3 on another port with --hep-port 0: still HEP", shape(evs) == want,
            f"got {shape(evs)}")
    frames2, _ = hepwire.read_pcap(os.path.join(root, "pcaps/wire/udp-hep2.pcap"))
    p, evs = run_pcap("hep2-9060.pcap", frames2)
    t.check("HEPv2 on --hep-port: the events", shape(evs) == want, f"got {shape(evs)}")
    p, evs = run_pcap("hep2-40000.pcap", hepwire.rewrite_udp_ports(frames2, 40000))
    # HEPv2 has no magic: elsewhere than --hep-port it is a plain datagram, and the SIP
    # scanner's junk skipping finds the message after the binary header (the agent's
    # addresses): what --hep-port is for.
    t.check("HEPv2 on another port: not HEP (no magic): the outer addresses",
            [e[2:6] for e in shape(evs)] == [("127.0.15.100", 15099, "127.0.15.101", 40000)] * 2,
            f"got {shape(evs)}")
    p, evs = run_pcap("hep2-40000-hep-port.pcap", hepwire.rewrite_udp_ports(frames2, 40000),
                      ["--hep-port", "40000"])
    t.check("HEPv2 on another port given as --hep-port: the events", shape(evs) == want,
            f"got {shape(evs)}")

    # --- the collector ---
    port = free_port()
    met = os.path.join(tmp, "sipwatch.prom")
    out = os.path.join(tmp, "listen.ndjson")
    proc = subprocess.Popen([sw, "--hep-listen", f"127.0.0.1:{port}", "-o", out,
                             "--stats-interval", "1", "--metrics-file", met],
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 10
        conn = None
        while time.time() < deadline:
            try:
                conn = socket.create_connection(("127.0.0.1", port), timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        t.check("--hep-listen: accepts TCP connections", conn is not None)
        if conn:
            conn.close()
        # UDP: the transfer's records; TCP: the 404 call's, cut into odd chunks
        n_xfer = len(records) - 3  # the INVITE 404 call is the last three messages
        hepwire.send_udp(records[:n_xfer], "127.0.0.1", port)
        time.sleep(0.3)
        s = hepwire.send_tcp(records[n_xfer:], "127.0.0.1", port)
        junk = socket.create_connection(("127.0.0.1", port))
        junk.sendall(b"GET / HTTP/1.0\r\n\r\n")
        # the metrics file, rewritten every second, shows every record received
        got = None
        while time.time() < deadline + 5:
            if os.path.exists(met):
                txt = open(met).read()
                got = prom_value(txt, "listen_records")
                if got == len(records) and prom_value(txt, "listen_tcp_not_hep") == 1:
                    break
            time.sleep(0.2)
        t.check(f"--metrics-file written every --stats-interval: listen_records = {len(records)}",
                got == len(records), f"got {got}")
        s.close()
        junk.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            err = proc.communicate(timeout=10)[1]
        except subprocess.TimeoutExpired:
            proc.kill()
            err = proc.communicate()[1]
    t.check("--hep-listen: exits 0 on SIGTERM", proc.returncode == 0, err)
    evs = events(open(out).read()) if os.path.exists(out) else []
    t.check("--hep-listen, UDP and TCP: the SIP endpoints' events", shape(evs) == want,
            f"got {shape(evs)}\nwant {want}\n{err}")
    stats = [e["stats"] for e in evs if e.get("event_type") == "stats"]
    final = stats[-1] if stats else {}
    t.check("--hep-listen: stats count the records and the refused connection",
            find_counter(final, "listen_records") == len(records)
            and find_counter(final, "listen_tcp_not_hep") == 1
            and find_counter(final, "listen_tcp_accepted") == 3,
            json.dumps(final)[:2000])
    origin_case(t, "--hep-listen: capture id 2001, agent 127.0.0.1", evs, "127.0.0.1")

    # --- bad --hep-listen values ---
    for bad in ("nope", "127.0.0.1:99999", "::1:5060", "[::1]", "1.2.3.4.5:9060"):
        p = subprocess.run([sw, "--hep-listen", bad], capture_output=True, text=True, timeout=10)
        t.check(f"--hep-listen {bad!r}: refused with a message", p.returncode == 2
                and "--hep-listen" in p.stderr and p.stdout == "", p.stderr)
    p = subprocess.run([sw, "--hep-listen", f"127.0.0.1:{port}", "-r",
                        os.path.join(root, "pcaps/sample.pcap")], capture_output=True, text=True)
    t.check("--hep-listen with -r: refused", p.returncode == 2 and "-r" in p.stderr, p.stderr)

    # --- the metrics file of a replay ---
    met2 = os.path.join(tmp, "replay.prom")
    p = subprocess.run([sw, "-r", os.path.join(root, "pcaps/sample.pcap"), "--events", "stats",
                        "--metrics-file", met2], capture_output=True, text=True, timeout=60)
    txt = open(met2).read() if os.path.exists(met2) else ""
    promtool = shutil.which("promtool")
    if promtool is None:
        t.check("promtool is installed (Debian package prometheus; tools/bootstrap.sh --test)", False)
    else:
        pc = subprocess.run([promtool, "check", "metrics"], input=txt, capture_output=True,
                            text=True)
        t.check("promtool check metrics accepts the file", pc.returncode == 0 and txt != "",
                pc.stdout + pc.stderr)
    st = events(p.stdout)[-1]["stats"] if p.stdout else {}
    t.check("metrics: no name carries a type word (promtool lint)",
            re.search(r"^sipwatch_\w*_(summary|counter|gauge|histogram)(_|\{)", txt, re.M) is None)
    for name in ("sip_messages", "decode_frames", "transfers_seen"):
        t.check(f"metrics {name} = the final stats event's",
                prom_value(txt, name) is not None and prom_value(txt, name) == find_counter(st, name),
                f"metrics {prom_value(txt, name)}, stats {find_counter(st, name)}")
    t.check("metrics: gauges have no _total, counters do",
            re.search(r"^# TYPE sipwatch_\w*sip_stream_bytes_held gauge$", txt, re.M) is not None
            and re.search(r"^# TYPE sipwatch_\w*packets_total counter$", txt, re.M) is not None)
    t.check("metrics: no temporary file left", not os.path.exists(met2 + ".tmp"))
    p = subprocess.run([sw, "-r", os.path.join(root, "pcaps/sample.pcap"), "--metrics-file",
                        os.path.join(tmp, "no-such-dir", "x.prom")], capture_output=True, text=True)
    t.check("metrics: an unwritable path warns on stderr and counts, events still written",
            p.returncode == 0 and "metrics-file" in p.stderr and '"event_type":"stats"' in p.stdout,
            p.stderr)

    # --- -Z (issue 13): to the current user a no-op; without CAP_SETUID/CAP_SETGID it says so ---
    sample = os.path.join(root, "pcaps/sample.pcap")
    if os.geteuid() == 0 and shutil.which("setpriv"):
        p = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", sw,
                            "-r", sample, "--events", "stats", "-Z", "nobody"],
                           capture_output=True, text=True, timeout=60)
        t.check("-Z to the current user (nobody, unprivileged): a no-op, exit 0",
                p.returncode == 0 and '"event_type":"stats"' in p.stdout, p.stderr)
        p = subprocess.run(["setpriv", "--bounding-set=-setuid,-setgid", sw, "-r", sample,
                            "-Z", "nobody"], capture_output=True, text=True, timeout=60)
        t.check("-Z without CAP_SETUID/CAP_SETGID: exit 2, names the capabilities",
                p.returncode == 2 and "CAP_SETUID" in p.stderr and "CAP_SETGID" in p.stderr
                and p.stdout == "", p.stderr)
    else:
        t.skip("-Z to the current user", "needs root and setpriv")
        t.skip("-Z without CAP_SETUID/CAP_SETGID", "needs root and setpriv")

    shutil.rmtree(tmp, ignore_errors=True)
    print(f"1..{t.n}")
    print("\n".join(t.lines))
    return 1 if t.failed else 0


if __name__ == "__main__":
    sys.exit(main())
