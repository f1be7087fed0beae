#!/usr/bin/env python3
"""A real HEP agent into `sipwatch --hep-listen` (issue 13, Done when). TAP output.

Debian's Kamailio (a config of the test's own: loopback only, unprivileged ports) forwards
SIP statelessly between two SIPp endpoints and mirrors every message it receives and sends
as HEPv3 (siptrace, trace_mode 1, capture id 2042) to `sipwatch --hep-listen
127.0.0.1:PORT`, which runs as the unprivileged user `nobody` (setpriv). Through that
Kamailio SIPp runs
  - a transfer whose REFER is accepted (202) and never followed by a NOTIFY
    (tools/sipp/xfer_uas_nonotify.xml, xfer_uac_nonotify.xml), and
  - a call to a user the PBX does not have (nf_uas_invite_404.xml, nf_uac_invite.xml).
Both events must arrive, with the SIP endpoints' addresses (the phone 127.0.16.2 as the
sender, never the agent's 127.0.0.1), and, once the reporter writes the event origin,
the agent's capture id 2042.

Needs root (setpriv to nobody), kamailio, sipp (Debian: kamailio, sip-tester); fails when
they are missing, since tools/bootstrap.sh --test installs them.
"""
import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

PHONE, PROXY, PBX = "127.0.16.2", "127.0.16.10", "127.0.16.1"
CAPTURE_ID = 2042
KAMAILIO_CFG = """#!KAMAILIO
debug=1
log_stderror=yes
children=1
disable_tcp=yes
auto_aliases=no
dns=no
rev_dns=no
listen=udp:{proxy}:{port}
mpath="{mpath}"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "maxfwd.so"
loadmodule "siptrace.so"
modparam("siptrace", "trace_on", 1)
modparam("siptrace", "trace_mode", 1)
modparam("siptrace", "trace_to_database", 0)
modparam("siptrace", "hep_mode_on", 1)
modparam("siptrace", "hep_version", 3)
modparam("siptrace", "hep_capture_id", {capture_id})
modparam("siptrace", "duplicate_uri", "sip:127.0.0.1:{hep_port}")

request_route {{
  if (!mf_process_maxfwd_header("10")) {{
    sl_send_reply("483", "Too Many Hops");
    exit;
  }}
  forward();
  exit;
}}
"""


class T:
    def __init__(self):
        self.n, self.failed, self.lines = 0, 0, []

    def check(self, name, ok, detail=""):
        self.n += 1
        self.lines.append(("ok" if ok else "not ok") + f" {self.n} - {name}")
        if not ok:
            self.failed += 1
            if detail:
                self.lines.append("# " + str(detail).strip()[-3000:].replace("\n", "\n# "))
        return ok

    def skip(self, name, why):
        self.n += 1
        self.lines.append(f"ok {self.n} - {name} # SKIP {why}")

    def done(self):
        print(f"1..{self.n}")
        print("\n".join(self.lines))
        return 1 if self.failed else 0


def free_port(ip, kind=socket.SOCK_DGRAM):
    s = socket.socket(socket.AF_INET, kind)
    s.bind((ip, 0))
    p = s.getsockname()[1]
    s.close()
    return p


def kamailio_mpath():
    for d in ("/usr/lib/x86_64-linux-gnu/kamailio/modules", "/usr/lib/aarch64-linux-gnu/kamailio/modules",
              "/usr/lib/kamailio/modules"):
        if os.path.exists(os.path.join(d, "siptrace.so")):
            return d + "/"
    return None


def sipp(work, scen, ip, port, mport, dest=None, extra=(), background=False):
    cmd = ["sipp"] + ([dest] if dest else []) + ["-sf", scen, "-t", "u1", "-i", ip, "-p", str(port),
                                                 "-mp", str(mport), "-m", "1", "-nd", "-nostdin",
                                                 "-timeout", "30s", "-timeout_error"] + list(extra)
    log = open(os.path.join(work, os.path.basename(scen) + ".log"), "w")
    p = subprocess.Popen(cmd, cwd=work, stdout=log, stderr=subprocess.STDOUT)
    if background:
        time.sleep(0.5)
        return p
    try:
        p.wait(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    return p


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sipwatch", required=True)
    ap.add_argument("--root", required=True)
    a = ap.parse_args()
    t = T()
    if os.geteuid() != 0:
        print("1..0 # SKIP needs root (runs sipwatch as nobody with setpriv)")
        return 0
    missing = [c for c in ("kamailio", "sipp", "setpriv") if shutil.which(c) is None]
    mpath = kamailio_mpath()
    if not t.check("kamailio (with siptrace), sipp and setpriv are installed",
                   not missing and mpath is not None, f"missing: {missing} siptrace: {mpath}"):
        return t.done()
    sc = os.path.join(os.path.abspath(a.root), "tools", "sipp")
    work = tempfile.mkdtemp(prefix="sipwatch-kam-")
    os.chmod(work, 0o755)
    sw = os.path.abspath(a.sipwatch)
    hep_port = free_port("127.0.0.1")
    kport = free_port(PROXY)
    pbx_port = free_port(PBX)
    phone_port = free_port(PHONE)
    procs = []
    out_path = os.path.join(work, "events.ndjson")
    try:
        # sipwatch as nobody: its output is a file the test opened for it
        out = open(out_path, "w")
        swp = subprocess.Popen(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                                "--inh-caps=-all", sw, "--hep-listen", f"127.0.0.1:{hep_port}",
                                "--stats-interval", "1"],
                               stdout=out, stderr=subprocess.PIPE, text=True)
        procs.append(swp)
        cfg = os.path.join(work, "kamailio.cfg")
        with open(cfg, "w") as f:
            f.write(KAMAILIO_CFG.format(proxy=PROXY, port=kport, mpath=mpath, capture_id=CAPTURE_ID,
                                        hep_port=hep_port))
        chk = subprocess.run(["kamailio", "-c", "-f", cfg], capture_output=True, text=True)
        if not t.check("kamailio accepts the config", chk.returncode == 0, chk.stdout + chk.stderr):
            return t.done()
        klog = open(os.path.join(work, "kamailio.log"), "w")
        kam = subprocess.Popen(["kamailio", "-f", cfg, "-DD", "-E", "-n", "1", "-w", work, "-Y", work,
                                "-P", os.path.join(work, "kamailio.pid")],
                               stdout=klog, stderr=subprocess.STDOUT)
        procs.append(kam)
        time.sleep(1)
        t.check("kamailio and sipwatch --hep-listen (as nobody) are running",
                kam.poll() is None and swp.poll() is None,
                open(os.path.join(work, "kamailio.log")).read())
        pbx = f"{PBX}:{pbx_port}"
        via_proxy = f"{PROXY}:{kport}"
        common_uac = ["-key", "pbx", pbx, "-key", "pbxhost", PBX]
        # 1. a transfer that never gets a NOTIFY
        uas = sipp(work, os.path.join(sc, "xfer_uas_nonotify.xml"), PBX, pbx_port, 16090,
                   background=True)
        uac = sipp(work, os.path.join(sc, "xfer_uac_nonotify.xml"), PHONE, phone_port, 16096,
                   dest=via_proxy, extra=common_uac + ["-cid_str", "kam-xfer-nonotify@sipwatch.test"])
        try:
            uas.wait(timeout=20)
        except subprocess.TimeoutExpired:
            uas.kill()
            uas.wait()
        t.check("SIPp transfer without NOTIFY through Kamailio ran", uac.returncode == 0,
                open(os.path.join(work, "xfer_uac_nonotify.xml.log")).read()[-1500:])
        # 2. a call to a user the PBX does not have
        uas = sipp(work, os.path.join(sc, "nf_uas_invite_404.xml"), PBX, pbx_port, 16090,
                   background=True)
        uac = sipp(work, os.path.join(sc, "nf_uac_invite.xml"), PHONE, phone_port, 16096,
                   dest=via_proxy, extra=common_uac + ["-s", "9001",
                                                       "-cid_str", "kam-invite-404@sipwatch.test"])
        try:
            uas.wait(timeout=20)
        except subprocess.TimeoutExpired:
            uas.kill()
            uas.wait()
        t.check("SIPp call to a nonexistent user through Kamailio ran", uac.returncode == 0,
                open(os.path.join(work, "nf_uac_invite.xml.log")).read()[-1500:])
        # wait for both events (the transfer's is settled by the BYE)
        deadline = time.time() + 20
        evs = []
        while time.time() < deadline:
            out.flush()
            evs = [json.loads(l) for l in open(out_path).read().splitlines() if l.strip()]
            types = {e.get("event_type") for e in evs}
            if {"transfer", "user_not_found"} <= types:
                break
            time.sleep(0.3)
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        err = ""
        for p in procs:
            try:
                o = p.communicate(timeout=10)
                if p is procs[0] and o[1]:
                    err = o[1]
            except subprocess.TimeoutExpired:
                p.kill()
                p.communicate()
    evs = [json.loads(l) for l in open(out_path).read().splitlines() if l.strip()]
    xfer = [e for e in evs if e.get("event_type") == "transfer"]
    nf = [e for e in evs if e.get("event_type") == "user_not_found"]
    stats = [e for e in evs if e.get("event_type") == "stats"]
    t.check("sipwatch (as nobody) exited 0 on SIGTERM", procs[0].returncode == 0, err)
    t.check("transfer event: no_notify, Call-ID kam-xfer-nonotify@sipwatch.test",
            len(xfer) == 1 and xfer[0]["transfer"]["outcome"] == "no_notify"
            and xfer[0]["call_id"] == "kam-xfer-nonotify@sipwatch.test", json.dumps(xfer))
    t.check("user_not_found event: 404 for user 9001",
            len(nf) == 1 and nf[0]["user_not_found"]["status"] == 404
            and nf[0]["user_not_found"]["user"] == "9001", json.dumps(nf))
    for name, e in (("transfer", xfer), ("user_not_found", nf)):
        ok = len(e) == 1 and e[0]["src_ip"] == PHONE and e[0]["dest_ip"] in (PROXY, PBX) \
            and e[0]["src_port"] == phone_port
        t.check(f"{name}: the SIP endpoints' addresses ({PHONE}:{phone_port} -> proxy/PBX), "
                "not the agent's", ok, json.dumps(e))
        if e and "hep_capture_id" in json.dumps(e[0]):
            flat = json.dumps(e[0])
            t.check(f"{name}: the agent's capture id {CAPTURE_ID}",
                    f'"hep_capture_id": {CAPTURE_ID}' in flat, flat)
        else:
            t.skip(f"{name}: the agent's capture id {CAPTURE_ID}",
                   "the reporter does not write the event origin yet")
    final = stats[-1]["stats"] if stats else {}

    def counter(name):
        if name in final:
            return final[name]
        for v in final.values():
            if isinstance(v, dict) and name in v:
                return v[name]
        return None
    recs = counter("listen_records")
    t.check("stats: HEP records received, none refused", (recs or 0) >= 10
            and counter("hep_errors") == 0, f"listen_records {recs} hep_errors {counter('hep_errors')}")
    shutil.rmtree(work, ignore_errors=True)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
