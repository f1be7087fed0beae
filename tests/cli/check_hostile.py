#!/usr/bin/env python3
"""Hostile captures (issue 10 items 4-8), generated here and run through
sipwatch. Sizes, counts and offsets are drawn at random within the ranges
the rules cover (the seed is printed; SW_HOSTILE_SEED=N repeats a run), so a
pass means the rule holds, not that one file came out right. TAP output.

  flood     404s and a refer NOTIFY with thousands of header lines: the events
            come out, sip_header_flood counts them, the run stays fast
  longkey   scanned extensions whose Call-IDs share a prefix longer
            than the stored copy: one user_not_found each and a scan
  clock     one frame stamped far ahead between a 202 and its NOTIFY; a
            capture whose later part is stamped far earlier
  hostile   control bytes in reason phrases and header values: events kept,
            reasons repaired
  memory    a flood of INVITEs with every copied field at its size limit stays
            under --max-memory-mb (memory_bytes_peak and the process's RSS)
"""
import argparse
import json
import os
import random
import struct
import subprocess
import sys
import tempfile
import time

T0 = 1700000000.0


def udp_frame(payload, src=1, dst=2, sport=5060, dport=5060):
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0,
                     bytes([192, 0, 2, src]), bytes([192, 0, 2, dst]))
    return b"\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\x08\x00" + ip + udp


def tcp_frame(payload, seq, src, dst, sport, dport, flags=0x18):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, 0, 0x50, flags, 65535, 0, 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0, 64, 6, 0,
                     bytes([192, 0, 2, src]), bytes([192, 0, 2, dst]))
    return b"\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\x08\x00" + ip + tcp


def write_pcap(path, frames):
    """frames: (seconds since the epoch, frame bytes)"""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        for ts, fr in frames:
            us = int(round(ts * 1e6))
            f.write(struct.pack("<IIII", us // 1000000, us % 1000000, len(fr), len(fr)) + fr)
    return path


def msg(start, headers, body=b""):
    h = b"".join((k + b": " + v if v is not None else k) + b"\r\n" for k, v in headers)
    return start + b"\r\n" + h + b"Content-Length: %d\r\n\r\n" % len(body) + body


def dialog(call_id, cseq, method, from_tag=b"a1", to_tag=None, branch=b"z9hG4bK-1"):
    to = b"<sip:bob@192.0.2.2>" + (b";tag=" + to_tag if to_tag else b"")
    return [(b"Via", b"SIP/2.0/UDP 192.0.2.1:5060;branch=" + branch),
            (b"From", b"<sip:alice@192.0.2.1>;tag=" + from_tag), (b"To", to),
            (b"Call-ID", call_id), (b"CSeq", b"%d %s" % (cseq, method))]


def transfer_frames(call_id, t, notify_extra=(), accepted_reason=b"Accepted", gap=9.0,
                    between=()):
    """REFER, 202, [between frames], NOTIFY with a 200 sipfrag `gap` s later."""
    refer = msg(b"REFER sip:bob@192.0.2.2 SIP/2.0",
                dialog(call_id, 2, b"REFER", to_tag=b"b1") +
                [(b"Refer-To", b"<sip:carol@192.0.2.3>"),
                 (b"Referred-By", b"<sip:alice@192.0.2.1>")])
    acc = msg(b"SIP/2.0 202 " + accepted_reason, dialog(call_id, 2, b"REFER", to_tag=b"b1"))
    frag = b"SIP/2.0 200 OK\r\n"
    notify = msg(b"NOTIFY sip:alice@192.0.2.1 SIP/2.0",
                 [(b"Via", b"SIP/2.0/UDP 192.0.2.2:5060;branch=z9hG4bK-n1"),
                  (b"From", b"<sip:bob@192.0.2.2>;tag=b1"),
                  (b"To", b"<sip:alice@192.0.2.1>;tag=a1"), (b"Call-ID", call_id),
                  (b"CSeq", b"10 NOTIFY"), (b"Event", b"refer;id=2"),
                  (b"Subscription-State", b"terminated;reason=noresource"),
                  (b"Content-Type", b"message/sipfrag;version=2.0")] + list(notify_extra), frag)
    out = [(t, udp_frame(refer, 1, 2)), (t + 0.05, udp_frame(acc, 2, 1))]
    out += list(between)
    out.append((t + gap, udp_frame(notify, 2, 1)))
    return out


def invite_404(user, call_id, t, src=1, reason=b"Not Found", extra404=(), from_tag=b"a1"):
    inv = msg(b"INVITE sip:%s@192.0.2.2 SIP/2.0" % user,
              dialog(call_id, 1, b"INVITE", from_tag=from_tag))
    nf = msg(b"SIP/2.0 404 " + reason,
             dialog(call_id, 1, b"INVITE", from_tag=from_tag, to_tag=b"nf") + list(extra404))
    return [(t, udp_frame(inv, src, 2)), (t + 0.01, udp_frame(nf, 2, src))]


def flat(stats):
    """The stats object's counters, whatever stage group nests them."""
    out = {}
    for k, v in stats.items():
        if isinstance(v, dict) and k not in ("transfers", "not_found", "run"):
            out.update(flat(v))
        else:
            out[k] = v
    return out


class T:
    def __init__(self, sipwatch):
        self.sw, self.n, self.failed = sipwatch, 0, 0

    def check(self, name, ok, detail=""):
        self.n += 1
        print(("ok" if ok else "not ok") + f" {self.n} - {name}")
        if not ok:
            self.failed += 1
            print("# " + str(detail).replace("\n", "\n# "))
        sys.stdout.flush()

    def run(self, pcap, *args, timeout=120):
        """-> (events list, final stats counters flattened, seconds, max RSS KiB of the run)"""
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            t = time.monotonic()
            p = subprocess.Popen([self.sw, "-r", pcap] + list(args), stdout=out, stderr=err)
            deadline = t + timeout
            while True:  # wait4: this child's own rusage
                pid, status, ru = os.wait4(p.pid, os.WNOHANG)
                if pid == p.pid:
                    break
                if time.monotonic() > deadline:
                    p.kill()
                    pid, status, ru = os.wait4(p.pid, 0)
                    break
                time.sleep(0.01)
            p.returncode = os.waitstatus_to_exitcode(status)
            dt = time.monotonic() - t
            out.seek(0)
            err.seek(0)
            stdout, stderr = out.read(), err.read()
        evs = [json.loads(l) for l in stdout.decode(errors="replace").splitlines() if l]
        stats = [flat(e["stats"]) for e in evs if e["event_type"] == "stats"]
        if p.returncode != 0:
            print("# sipwatch exit %d: %s" % (p.returncode, stderr.decode(errors="replace")))
        return evs, (stats[-1] if stats else {}), dt, ru.ru_maxrss


def of(evs, kind):
    return [e for e in evs if e["event_type"] == kind]


def check_flood(t, d, rnd):
    n_msgs = rnd.randint(12, 20)
    frames = []
    for i in range(n_msgs):
        n_hdr = rnd.randint(6000, 12000)
        flood = [(b"a:1", None)] * n_hdr  # 5 bytes a line: 12 000 fit a datagram
        frames += invite_404(b"%d" % (100 + i), b"flood-%d-%d@x" % (i, n_hdr), T0 + i,
                             extra404=flood)
    n_hdr = rnd.randint(6000, 10000)
    frames += transfer_frames(b"flood-xfer@x", T0 + 30, notify_extra=[(b"X:1", None)] * n_hdr)
    path = write_pcap(os.path.join(d, "flood.pcap"), frames)
    evs, st, dt, _ = t.run(path)
    t.check("header flood: every 404 gives its event", len(of(evs, "user_not_found")) == n_msgs,
            f"{len(of(evs, 'user_not_found'))} of {n_msgs}")
    xf = of(evs, "transfer")
    t.check("header flood: the flooded NOTIFY completes its transfer",
            len(xf) == 1 and xf[0]["transfer"]["outcome"] == "completed",
            json.dumps(xf)[:300])
    t.check("header flood: counted in sip_header_flood",
            st.get("sip_header_flood") == n_msgs + 1, f"stats: {st.get('sip_header_flood')}")
    # linear: the floods cost about as much as their bytes; libosip2 took ~0.5 s each
    t.check(f"header flood: {n_msgs + 1} flooded messages in under 3 s", dt < 3.0,
            f"{dt:.2f} s")


def check_longkey(t, d, rnd):
    n = 100
    prefix = bytes(rnd.choice(b"abcdefghijklmnopqrstuvwxyz0123456789")
                   for _ in range(rnd.randint(256, 900)))
    frames = []
    for i in range(n):
        frames += invite_404(b"%d" % (2000 + i), prefix + b"-%d@x" % i, T0 + i * 0.2, src=9)
    path = write_pcap(os.path.join(d, "longkey.pcap"), frames)
    evs, st, _, _ = t.run(path)
    t.check(f"long Call-IDs ({len(prefix)}-byte shared prefix): one user_not_found each",
            len(of(evs, "user_not_found")) == n and st.get("not_found_duplicates") == 0,
            f"{len(of(evs, 'user_not_found'))} events, duplicates {st.get('not_found_duplicates')}")
    t.check("long Call-IDs: the enumeration is a scan", len(of(evs, "scan")) >= 1,
            f"{len(of(evs, 'scan'))} scan events")


def check_clock(t, d, rnd):
    ahead = rnd.choice([3 * 3600, 86400, 365 * 86400, 10 * 365 * 86400])  # pcap: before 2038
    gap = rnd.uniform(3.0, 20.0)
    ping = msg(b"OPTIONS sip:bob@192.0.2.2 SIP/2.0", dialog(b"ping@x", 1, b"OPTIONS"))
    jump_at = T0 + rnd.uniform(0.1, gap - 0.1)
    frames = transfer_frames(b"clock-1@x", T0, gap=gap,
                             between=[(jump_at + ahead, udp_frame(ping, 3, 2))])
    path = write_pcap(os.path.join(d, "ahead.pcap"), frames)
    evs, st, _, _ = t.run(path)
    xf = of(evs, "transfer")
    t.check(f"one frame {ahead} s ahead: the transfer whose NOTIFY came {gap:.1f} s later "
            "is completed", len(xf) == 1 and xf[0]["transfer"]["outcome"] == "completed",
            json.dumps(xf)[:300])
    t.check("one frame ahead: counted in clock_jumps_forward, not clock_backwards",
            st.get("clock_jumps_forward") == 1 and st.get("clock_backwards") == 0,
            f"forward {st.get('clock_jumps_forward')}, backwards {st.get('clock_backwards')}")
    late = [e for e in evs if e["timestamp"] > "2023-11-16"]
    t.check("one frame ahead: no event stamped in the future", not late, json.dumps(late)[:300])

    # the later part stamped far earlier: timers still fire on it
    back = rnd.choice([1800, 3600, 5 * 3600, 86400 * 30])
    first = [(T0 + i, udp_frame(ping, 3, 2)) for i in range(rnd.randint(3, 20))]
    t1 = T0 - back
    second = transfer_frames(b"clock-2@x", t1, gap=0.1)[:2]  # REFER, 202, never a NOTIFY
    pings = [(t1 + 1 + i, udp_frame(ping, 3, 2)) for i in range(120)]
    tail = invite_404(b"777", b"clock-tail@x", t1 + 121)
    path = write_pcap(os.path.join(d, "back.pcap"), first + second + pings + tail)
    evs, st, _, _ = t.run(path, "--notify-timeout", "32")
    kinds = [e["event_type"] for e in evs]
    xf_i = kinds.index("transfer") if "transfer" in kinds else -1
    nf_i = kinds.index("user_not_found") if "user_not_found" in kinds else -1
    t.check(f"later part {back} s earlier: the no-NOTIFY timer fires during the capture",
            0 <= xf_i < nf_i and evs[xf_i]["transfer"]["outcome"] == "no_notify",
            f"events: {kinds}")
    t.check("later part earlier: counted in clock_rebased", st.get("clock_rebased", 0) >= 1,
            f"clock_rebased {st.get('clock_rebased')}")


def check_hostile_values(t, d, rnd):
    ctl = [b"\x1b[31m", b"\x07", b"\x1b]0;pwned\x07", b"\x7f", b"\x01\x02\x03", b"\x0b"]
    frames, n = [], 0
    for i, c in enumerate(ctl):
        reason = b"Not" + c + b" Found"
        frames += invite_404(b"%d" % (300 + i), b"ctl-%d@x" % i, T0 + i, reason=reason,
                             extra404=[(b"Server", b"srv" + rnd.choice(ctl)),
                                       (b"Warning", b"399 x \"" + rnd.choice(ctl) + b"\"")])
        n += 1
    frames += invite_404(b"399", b"ctl-from@x", T0 + 20,
                         extra404=[(b"User-Agent", b"ua" + rnd.choice(ctl) + b"x")])
    n += 1
    frames += transfer_frames(b"ctl-xfer@x", T0 + 30, accepted_reason=b"Acc" + rnd.choice(ctl) +
                              b"epted", gap=2.0)
    # over TCP, the 404 cut into segments anywhere (inside its status line too)
    c = rnd.choice(ctl)
    inv = msg(b"INVITE sip:350@192.0.2.2 SIP/2.0", dialog(b"ctl-tcp@x", 1, b"INVITE"))
    nf = msg(b"SIP/2.0 404 Not" + c + b" Found", dialog(b"ctl-tcp@x", 1, b"INVITE", to_tag=b"nf"))
    cuts = sorted(rnd.sample(range(1, len(nf)), rnd.randint(1, 4)))
    t1 = T0 + 40
    frames += [(t1, tcp_frame(b"", 999, 1, 2, 40000, 5060, 0x02)),
               (t1 + 0.001, tcp_frame(b"", 4999, 2, 1, 5060, 40000, 0x12)),
               (t1 + 0.01, tcp_frame(inv, 1000, 1, 2, 40000, 5060))]
    for k, (a, b) in enumerate(zip([0] + cuts, cuts + [len(nf)])):
        frames.append((t1 + 0.02 + k * 0.001, tcp_frame(nf[a:b], 5000 + a, 2, 1, 5060, 40000)))
    n += 1
    path = write_pcap(os.path.join(d, "ctl.pcap"), frames)
    evs, st, _, _ = t.run(path)
    nf = of(evs, "user_not_found")
    t.check("control bytes in reason phrases and headers (UDP, TCP in segments): every 404 "
            "gives its event",
            len(nf) == n, f"{len(nf)} of {n}")
    bad = [e["user_not_found"]["reason"] for e in nf
           if any(ord(ch) < 0x20 or ord(ch) == 0x7f for ch in e["user_not_found"]["reason"] or "")]
    t.check("control bytes in reason phrases: repaired in the event", not bad, repr(bad))
    xf = of(evs, "transfer")
    t.check("control byte in a 202's reason: the transfer completes",
            len(xf) == 1 and xf[0]["transfer"]["outcome"] == "completed"
            and xf[0]["transfer"]["refer_status"] == 202, json.dumps(xf)[:300])


def check_memory(t, d, rnd, n):
    cap_mb = rnd.choice([16, 24, 32])
    long = lambda k: bytes(rnd.choice(b"abcdefghij") for _ in range(k))
    ua = long(600)

    def invites():  # streamed to the file: this process stays small (its RSS
        for i in range(n):  # would show in the child's ru_maxrss through fork)
            cid = b"%d-" % i + long(300)
            inv = msg(b"INVITE sip:%s@192.0.2.2 SIP/2.0" % (b"%d" % i + long(600)),
                      [(b"Via", b"SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-%d" % i),
                       (b"From", b"<sip:" + long(600) + b"@192.0.2.1>;tag=%d" % i),
                       (b"To", b"<sip:" + long(600) + b"@192.0.2.2>"), (b"Call-ID", cid),
                       (b"CSeq", b"1 INVITE"), (b"User-Agent", ua)])
            yield (T0 + i * 1e-4, udp_frame(inv, 1 + i % 200, 2, sport=1024 + i % 60000))

    path = write_pcap(os.path.join(d, "mem.pcap"), invites())
    evs, st, _, rss = t.run(path, "--max-memory-mb", str(cap_mb), "--events", "stats")
    peak = st.get("memory_bytes_peak")
    t.check(f"{n} INVITEs at their field limits: memory_bytes_peak within --max-memory-mb "
            f"{cap_mb}", peak is not None and 0 < peak <= cap_mb << 20,
            f"peak {peak}, held {st.get('memory_bytes_held')}")
    t.check("INVITE flood: the budget evicted (memory_evictions)",
            st.get("memory_evictions", 0) > 0, f"memory_evictions {st.get('memory_evictions')}")
    # the process: the budget plus a fixed base (program, libraries, buffers);
    # not under AddressSanitizer (its shadow memory and quarantine)
    if b"__asan_init" in open(t.sw, "rb").read():
        t.n += 1
        print(f"ok {t.n} - INVITE flood: max RSS # SKIP AddressSanitizer build")
    else:
        t.check("INVITE flood: the process's max RSS stays near the budget",
                peak is not None and rss is not None and rss <= (cap_mb + 40) * 1024,
                f"max RSS {rss} KiB")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sipwatch", required=True)
    ap.add_argument("--memory-invites", type=int, default=60000)
    a = ap.parse_args()
    seed = int(os.environ.get("SW_HOSTILE_SEED", str(int(time.time()))))
    print(f"# seed {seed} (SW_HOSTILE_SEED={seed} repeats this run)")
    rnd = random.Random(seed)
    t = T(a.sipwatch)
    with tempfile.TemporaryDirectory(prefix="sipwatch-hostile-") as d:
        check_flood(t, d, rnd)
        check_longkey(t, d, rnd)
        check_clock(t, d, rnd)
        check_hostile_values(t, d, rnd)
        check_memory(t, d, rnd, a.memory_invites)
    print(f"1..{t.n}")
    return 1 if t.failed else 0


if __name__ == "__main__":
    sys.exit(main())
