#!/usr/bin/env python3
"""The Debian package, as an operator meets it (issue 13). TAP output.

Copies the source tree (the files git knows) to a temporary directory, builds it with
`dpkg-buildpackage -us -uc -b` (nocheck: the test suites run on their own), runs lintian
(no errors), installs the .deb with `dpkg -i`, and checks: `sipwatch -V` from PATH, the
installed units pass `systemd-analyze verify` and score well in `systemd-analyze security`,
`logrotate -d` accepts the installed file, the user and /var/log/sipwatch exist, the
service is not started (nothing configured). Then purges the package and removes the user,
so the system is as before.

Needs root (dpkg -i). Skips when not root, and when sipwatch is already installed or the
user sipwatch already exists: the test must not touch an operator's installation.
"""
import argparse
import glob
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile

NEED = ["dpkg-buildpackage", "dh", "lintian", "logrotate", "systemd-analyze"]
# Exposure score (0 best .. 10) the units must not exceed; the units score 1.8.
MAX_EXPOSURE = 2.5


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

    def done(self):
        print(f"1..{self.n}")
        print("\n".join(self.lines))
        return 1 if self.failed else 0


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, errors="replace", **kw)


def copy_tree(root, dest):
    """The files git tracks (a fresh clone's content), else the tree without build dirs."""
    if os.path.isdir(os.path.join(root, ".git")) or os.path.isfile(os.path.join(root, ".git")):
        ls = subprocess.run(["git", "-C", root, "ls-files", "-z"], capture_output=True, check=True)
        tar = subprocess.run(["tar", "--null", "-T", "-", "-cf", "-"], input=ls.stdout,
                             capture_output=True, cwd=root, check=True)
        subprocess.run(["tar", "-xf", "-", "-C", dest], input=tar.stdout, check=True)
    else:
        shutil.copytree(root, dest, symlinks=True, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("build*", "obj-*", ".git"))


def user_exists(name):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    a = ap.parse_args()
    t = T()
    if os.geteuid() != 0:
        print("1..0 # SKIP needs root (dpkg -i)")
        return 0
    installed = run(["dpkg-query", "-W", "-f=${Status}", "sipwatch"]).stdout
    if "installed" in installed or user_exists("sipwatch") or os.path.exists("/var/log/sipwatch"):
        print("1..0 # SKIP sipwatch is installed here (package, user or /var/log/sipwatch):"
              " not touching it")
        return 0
    missing = [c for c in NEED if shutil.which(c) is None]
    if not t.check("packaging tools installed (tools/bootstrap.sh --test)", not missing,
                   f"missing: {missing}"):
        return t.done()

    tmp = tempfile.mkdtemp(prefix="sipwatch-pkg-")
    src = os.path.join(tmp, "sipwatch")
    os.makedirs(src)
    purge_needed = False
    try:
        copy_tree(a.root, src)
        env = dict(os.environ, DEB_BUILD_OPTIONS="nocheck")
        b = run(["dpkg-buildpackage", "-us", "-uc", "-b", "-Pnocheck"], cwd=src, env=env,
                timeout=900)
        debs = glob.glob(os.path.join(tmp, "sipwatch_*.deb"))
        if not t.check("dpkg-buildpackage -us -uc -b builds sipwatch_*.deb",
                       b.returncode == 0 and len(debs) == 1, b.stdout[-2000:] + b.stderr[-2000:]):
            return t.done()
        deb = debs[0]
        changes = glob.glob(os.path.join(tmp, "sipwatch_*.changes"))
        li = run(["lintian", "--no-tag-display-limit"] + changes, timeout=300)
        errors = [l for l in li.stdout.splitlines() if l.startswith("E:")]
        t.check("lintian: no errors", not errors and li.returncode in (0, 1) and
                "E:" not in li.stderr, li.stdout + li.stderr)

        purge_needed = True
        inst = run(["dpkg", "-i", deb], timeout=300)
        t.check("dpkg -i installs it", inst.returncode == 0, inst.stdout + inst.stderr)
        path = shutil.which("sipwatch", path="/usr/sbin:/usr/bin:/sbin:/bin")
        v = run(["sipwatch", "-V"], env=dict(os.environ, PATH="/usr/sbin:/usr/bin:/sbin:/bin"))
        t.check("sipwatch -V runs from PATH (/usr/bin/sipwatch)",
                path == "/usr/bin/sipwatch" and v.returncode == 0
                and v.stdout.startswith("sipwatch "), f"{path} {v.stdout} {v.stderr}")
        man = [] if shutil.which("man") else ["--man=no"]
        for unit in ("sipwatch.service", "sipwatch@eth0.service"):
            unit_path = "/lib/systemd/system/" + unit.replace("eth0", "")
            arg = unit_path if "@" not in unit else unit_path.replace("@.service", "@eth0.service")
            if "@" in unit:
                # verify an instance: a copy named for it (systemd-analyze loads by file name)
                inst_dir = os.path.join(tmp, "units")
                os.makedirs(inst_dir, exist_ok=True)
                arg = os.path.join(inst_dir, unit)
                shutil.copy(unit_path, arg)
            ver = run(["systemd-analyze", "verify"] + man + [arg], timeout=60)
            t.check(f"systemd-analyze verify {unit}", ver.returncode == 0 and ver.stderr.strip() == "",
                    ver.stdout + ver.stderr)
            sec = run(["systemd-analyze", "security", "--offline=true", arg], timeout=60)
            m = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", sec.stdout + sec.stderr)
            score = float(m.group(1)) if m else 99.0
            t.check(f"systemd-analyze security {unit}: exposure {score} <= {MAX_EXPOSURE}",
                    score <= MAX_EXPOSURE, sec.stdout[-1500:] + sec.stderr)
        unit_text = open("/lib/systemd/system/sipwatch.service").read()
        t.check("the unit: capabilities CAP_NET_RAW CAP_NET_ADMIN only, User=sipwatch, RestartSec",
                "CapabilityBoundingSet=CAP_NET_RAW CAP_NET_ADMIN\n" in unit_text
                and "AmbientCapabilities=CAP_NET_RAW CAP_NET_ADMIN\n" in unit_text
                and "User=sipwatch\n" in unit_text and "RestartSec=" in unit_text)
        lr = run(["logrotate", "-d", "/etc/logrotate.d/sipwatch"], timeout=60)
        t.check("logrotate -d /etc/logrotate.d/sipwatch", lr.returncode == 0
                and "error" not in lr.stderr.lower(), lr.stdout + lr.stderr)
        ok_user = user_exists("sipwatch")
        pw = pwd.getpwnam("sipwatch") if ok_user else None
        t.check("user sipwatch exists, no login shell", ok_user and pw.pw_shell.endswith("nologin")
                and pw.pw_uid < 1000)
        st = os.stat("/var/log/sipwatch") if os.path.isdir("/var/log/sipwatch") else None
        t.check("/var/log/sipwatch exists, owned by sipwatch, mode 0750",
                st is not None and pw is not None and st.st_uid == pw.pw_uid
                and (st.st_mode & 0o777) == 0o750, str(st))
        default = open("/etc/default/sipwatch").read() if os.path.exists("/etc/default/sipwatch") else ""
        t.check("/etc/default/sipwatch: no input configured (SIPWATCH_INPUT=\"\")",
                re.search(r'^SIPWATCH_INPUT=""$', default, re.M) is not None)
        t.check("the service does not start until configured (ExecCondition on SIPWATCH_INPUT)",
                "ExecCondition=" in unit_text and "$$SIPWATCH_INPUT" in unit_text)
        running = []
        for d in glob.glob("/proc/[0-9]*"):
            try:
                if os.readlink(d + "/exe") == "/usr/bin/sipwatch":
                    running.append(d)
            except OSError:
                pass
        t.check("no /usr/bin/sipwatch process after install", not running, str(running))
    finally:
        if purge_needed:
            pu = run(["dpkg", "--purge", "sipwatch"], timeout=300)
            t.check("dpkg --purge sipwatch", pu.returncode == 0, pu.stdout + pu.stderr)
            if user_exists("sipwatch"):
                run(["userdel", "sipwatch"])   # the package leaves system users, as Debian does
            run(["groupdel", "sipwatch"])
            t.check("after purge: no package, user, log directory or config left",
                    "installed" not in run(["dpkg-query", "-W", "-f=${Status}", "sipwatch"]).stdout
                    and not user_exists("sipwatch") and not os.path.exists("/var/log/sipwatch")
                    and not os.path.exists("/etc/default/sipwatch")
                    and not os.path.exists("/lib/systemd/system/sipwatch.service")
                    and not os.path.exists("/etc/systemd/system/multi-user.target.wants/sipwatch.service"))
        shutil.rmtree(tmp, ignore_errors=True)
    return t.done()


if __name__ == "__main__":
    sys.exit(main())
