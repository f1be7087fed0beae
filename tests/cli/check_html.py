#!/usr/bin/env python3
"""The HTML report (--report FILE.html) in a real browser: Debian's chromium,
driven headless by chromedriver through python3-selenium, started here.

For several bundled captures, one run writes both the NDJSON events and the
page; then:
  - the page is self-contained (no src/href/url to anything outside it) and its
    Content-Security-Policy names the SHA-256 of its one inline script;
  - it loads with no console error;
  - the totals it shows equal the counts of the NDJSON events of the same run,
    and every table has one row per event;
  - every flagged event has a ladder with one arrow per message (the messages
    of its NDJSON event when events carry them, else the ladder's own count);
  - sorting (click a column head, twice) and filtering (type in a box) work;
  - a capture whose User-Agent, Server and reason phrases hold <script> and
    "><img onerror=...> runs none of it and shows the text as text.
Missing chromium/chromedriver/selenium is a failure, not a skip
(tools/bootstrap.sh --test installs them). TAP output.
"""
import argparse
import base64
import collections
import glob
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile

HOSTILE_UA = ("<script>document.title='pwned'</script>\"><img src=x "
              "onerror=\"document.title='pwned'\">'><svg onload=alert(1)>")


class T:
    def __init__(self):
        self.n = self.failed = 0

    def ok(self, cond, name, detail=""):
        self.n += 1
        if cond:
            print(f"ok {self.n} - {name}")
        else:
            self.failed += 1
            print(f"not ok {self.n} - {name}")
            for line in str(detail).splitlines()[:20]:
                print(f"#   {line}")
        return cond


def run(sw, files, page):
    args = [sw, "--report", page]
    for f in files:
        args += ["-r", f]
    p = subprocess.run(args, capture_output=True, timeout=120)
    events = [json.loads(x) for x in p.stdout.decode().splitlines() if x.strip()]
    return p, events


def static_checks(t, name, html):
    outside = re.findall(r'(?:src|href|action)\s*=\s*"(?!#)[^"]*"', html)
    outside += re.findall(r'url\((?!#)[^)]*\)', html)
    outside += [u for u in re.findall(r'https?://[^"\s<>]+', html)
                if u != "http://www.w3.org/2000/svg"]
    t.ok(not outside, f"{name}: page refers to nothing outside itself", outside[:5])
    scripts = re.findall(r"<script>(.*?)</script>", html, re.S)
    csp = re.search(r"script-src 'sha256-([^']+)'", html)
    digest = base64.b64encode(hashlib.sha256(scripts[0].encode()).digest()).decode() \
        if scripts else None
    t.ok(len(scripts) == 1 and csp is not None and csp.group(1) == digest,
         f"{name}: one inline script, allowed by its hash in the CSP",
         f"scripts={len(scripts)} csp={csp and csp.group(1)} sha256={digest}")
    t.ok("innerHTML" not in scripts[0] if scripts else False,
         f"{name}: the script never uses innerHTML")


def severe_logs(drv):
    return [e for e in drv.get_log("browser") if e.get("level") == "SEVERE"]


def counts_checks(t, name, drv, events):
    by_type = collections.Counter(e["event_type"] for e in events)
    outcomes = collections.Counter(e["transfer"]["outcome"] for e in events
                                   if e["event_type"] == "transfer")
    stats = [e for e in events if e["event_type"] == "stats"][-1]["stats"]

    def shown(id_):
        els = drv.find_elements("id", id_)
        return int(els[0].text) if els else None

    bad = []
    for ty in ("transfer", "user_not_found", "scan"):
        if shown("n-" + ty) != by_type.get(ty, 0):
            bad.append(f"{ty}: page {shown('n-' + ty)} events {by_type.get(ty, 0)}")
    for o in ("completed", "failed", "no_notify", "notify_incomplete", "rejected",
              "no_response", "notify_not_requested", "evicted"):
        if shown("n-outcome-" + o) != outcomes.get(o, 0):
            bad.append(f"{o}: page {shown('n-outcome-' + o)} events {outcomes.get(o, 0)}")
    packets = stats.get("packets", stats.get("capture", {}).get("packets")
                        if isinstance(stats.get("capture"), dict) else None)
    if packets is not None and shown("n-packets") != packets:
        bad.append(f"packets: page {shown('n-packets')} stats {packets}")
    for table, ty in (("transfers", "transfer"), ("not-found", "user_not_found"),
                      ("scans", "scan")):
        rows = drv.execute_script(
            "return document.getElementById(arguments[0]).tBodies[0].rows.length", table)
        if rows != by_type.get(ty, 0):
            bad.append(f"table {table}: {rows} rows, {by_type.get(ty, 0)} events")
    lanes = drv.execute_script(
        "var o={};document.querySelectorAll('#timeline g.tl').forEach(function(g){"
        "o[g.getAttribute('data-type')]=+g.getAttribute('data-count')});return o")
    for ty in ("transfer", "user_not_found", "scan"):
        if by_type.get(ty, 0) and lanes.get(ty) != by_type[ty]:
            bad.append(f"timeline lane {ty}: {lanes.get(ty)} vs {by_type[ty]}")
    t.ok(not bad, f"{name}: totals, table rows and timeline lanes equal the NDJSON counts", "\n".join(bad))


def is_flagged(e):
    if e["event_type"] == "scan":
        return True
    if e["event_type"] != "transfer":
        return False
    x = e["transfer"]
    return x.get("transferor_uninformed") is True or \
        x["outcome"] not in ("completed", "notify_not_requested")


def ladder_checks(t, name, drv, events):
    flagged = [e for e in events if is_flagged(e)]
    ladders = drv.execute_script(
        "return Array.prototype.map.call(document.querySelectorAll('section.ladder'),"
        "function(s){return [+s.getAttribute('data-messages'),"
        "s.querySelectorAll('g.msg').length]})")
    t.ok(int(drv.find_element("id", "n-flagged").text) == len(flagged) and
         len(ladders) == len(flagged),
         f"{name}: one ladder per flagged event ({len(flagged)})",
         f"ladders {len(ladders)} flagged {len(flagged)}")
    bad = []
    for i, (e, (n_attr, n_arrows)) in enumerate(zip(flagged, ladders)):
        msgs = e.get("messages") or (e.get(e["event_type"]) or {}).get("messages")
        want = len(msgs) if isinstance(msgs, list) else n_attr
        if n_arrows != want:
            bad.append(f"ladder {i + 1}: {n_arrows} arrows, {want} messages")
    t.ok(not bad, f"{name}: each ladder has one arrow per message", "\n".join(bad))


def sort_filter_checks(t, name, drv, events):
    transfers = [e for e in events if e["event_type"] == "transfer"]
    col = {"time": 0, "outcome": 1, "wait (s)": 7}
    heads = drv.find_elements("css selector", "#transfers thead tr:first-child th")
    ok = True
    detail = []
    for label, i in col.items():
        for direction in (1, -1):
            heads[i].click()
            vals = drv.execute_script(
                "return Array.prototype.map.call(document.getElementById('transfers')"
                ".tBodies[0].rows,function(r){var c=r.cells[arguments[0]];"
                "var v=c.getAttribute('data-v');return v===null?c.textContent.toLowerCase()"
                ":parseFloat(v)})".replace("arguments[0]", str(i)))
            want = sorted(vals, reverse=direction < 0)
            if vals != want:
                ok = False
                detail.append(f"{label} {direction}: {vals}")
    t.ok(ok, f"{name}: transfers sort by time, outcome and wait, both ways", "\n".join(detail))
    outcomes = collections.Counter(e["transfer"]["outcome"] for e in transfers)
    box = drv.find_elements("css selector", "#transfers thead input")[1]
    bad = []
    for o, n in outcomes.items():
        box.clear()
        box.send_keys(o)
        visible = drv.execute_script(
            "return Array.prototype.filter.call(document.getElementById('transfers')"
            ".tBodies[0].rows,function(r){return !r.hidden}).length")
        shown = int(drv.find_element("id", "transfers-shown").text)
        # 'completed' is not a substring of another outcome; no_notify is not either
        if visible != n or shown != n:
            bad.append(f"{o}: {visible} rows visible, {shown} said, {n} events")
    box.clear()
    box.send_keys("x")
    box.send_keys("\b")
    visible = drv.execute_script(
        "return Array.prototype.filter.call(document.getElementById('transfers')"
        ".tBodies[0].rows,function(r){return !r.hidden}).length")
    if visible != len(transfers):
        bad.append(f"cleared filter: {visible} rows visible of {len(transfers)}")
    t.ok(not bad and len(outcomes) >= 2,
         f"{name}: filtering the outcome column shows exactly that outcome's transfers",
         "\n".join(bad) or f"outcomes: {dict(outcomes)}")


def hostile_checks(t, name, drv, events):
    t.ok(drv.title == "sipwatch report", f"{name}: no script from the wire ran (title kept)",
         drv.title)
    alerts = drv.execute_script("return document.querySelectorAll('img,iframe,object,embed,"
                                "svg[onload],script:not(:last-of-type)').length")
    t.ok(alerts == 0, f"{name}: no element from the wire was created", alerts)
    text = drv.execute_script("return document.getElementById('not-found').tBodies[0]"
                              ".textContent")
    nf = [e for e in events if e["event_type"] == "user_not_found"][0]["user_not_found"]
    t.ok(HOSTILE_UA in text and nf["server"] in text and nf["reason"] in text,
         f"{name}: the hostile User-Agent, Server and reason show as text", text[:400])
    x = [e for e in events if e["event_type"] == "transfer"][0]["transfer"]
    text = drv.execute_script("return document.getElementById('transfers').tBodies[0]"
                              ".textContent")
    want = [v for v in (x.get("transferor_ua"), x.get("transferee_ua")) if v]
    t.ok(all(v in text for v in want) and (x.get("transferor_ua") is None or HOSTILE_UA in text),
         f"{name}: the transfer's hostile agents show as text in the table", text[:400])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sipwatch", required=True)
    ap.add_argument("--root", required=True)
    a = ap.parse_args()
    t = T()
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError as e:
        # Debian's python3-selenium is in /usr/bin/python3's path, which may
        # not be the python3 first on PATH (pyenv, venv): run again with it.
        if sys.executable != "/usr/bin/python3" and os.path.exists("/usr/bin/python3"):
            os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
        t.ok(False, "python3-selenium is installed (tools/bootstrap.sh --test)", e)
        print(f"1..{t.n}")
        return 1
    driver_path = "/usr/bin/chromedriver"
    if not os.path.exists(driver_path) or not os.path.exists("/usr/bin/chromium"):
        t.ok(False, "chromium and chromium-driver are installed (tools/bootstrap.sh --test)")
        print(f"1..{t.n}")
        return 1
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1300,1000"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    drv = webdriver.Chrome(service=Service(driver_path), options=opts)
    root = a.root
    cases = [
        ("sample", [os.path.join(root, "pcaps/sample.pcap")], ()),
        ("scan", [os.path.join(root, "pcaps/notfound/scan-invite-fast-udp.pcap")], ()),
        ("transfers", sorted(glob.glob(os.path.join(root, "pcaps/transfer/*.pcap"))),
         ("sort",)),
        ("notfound", sorted(glob.glob(os.path.join(root, "pcaps/notfound/invite-*.pcap"))), ()),
        ("hostile", [os.path.join(root, "pcaps/html/hostile-ua-udp.pcap")], ("hostile",)),
    ]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for name, files, extra in cases:
                page = os.path.join(tmp, name + ".html")
                p, events = run(a.sipwatch, files, page)
                if not t.ok(p.returncode == 0 and os.path.exists(page),
                            f"{name}: sipwatch --report ran", p.stderr.decode()[-500:]):
                    continue
                html = open(page, encoding="utf-8").read()
                static_checks(t, name, html)
                drv.get_log("browser")
                drv.get("file://" + page)
                logs = severe_logs(drv)
                t.ok(not logs, f"{name}: page loads with no console error", logs)
                counts_checks(t, name, drv, events)
                ladder_checks(t, name, drv, events)
                if "sort" in extra:
                    sort_filter_checks(t, name, drv, events)
                if "hostile" in extra:
                    hostile_checks(t, name, drv, events)
                logs = severe_logs(drv)
                t.ok(not logs, f"{name}: no console error while used", logs)
    finally:
        drv.quit()
    print(f"1..{t.n}")
    return 1 if t.failed else 0


if __name__ == "__main__":
    sys.exit(main())
