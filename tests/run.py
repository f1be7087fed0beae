#!/usr/bin/env python3
"""Runs every test meson knows (unit, golden, cli, fuzz replay) and counts test
cases, not executables: each TAP 'ok' / 'not ok' line is one case; a program
that crashes or exits non-zero without a failing case counts one failure.
Last line: 'N passed, N failed[, N skipped]'.

Usage: tests/run.py BUILD_DIR [--suite NAME ...] [-v]
"""
import json
import os
import re
import subprocess
import sys

TAP = re.compile(r"^(not ok|ok)\b(.*)$")


def main():
    args = sys.argv[1:]
    verbose = "-v" in args
    args = [x for x in args if x != "-v"]
    suites = []
    while "--suite" in args:
        i = args.index("--suite")
        suites.append(args[i + 1])
        del args[i:i + 2]
    build = args[0] if args else "build"
    tests = json.loads(subprocess.run(["meson", "introspect", build, "--tests"],
                                      check=True, capture_output=True, text=True).stdout)
    passed = failed = skipped = 0
    for t in tests:
        if suites and not any(s == t["name"] or any(s in x for x in t["suite"]) for s in suites):
            continue
        env = dict(os.environ)
        env.update(t.get("env") or {})
        try:
            p = subprocess.run(t["cmd"], cwd=t.get("workdir") or build, env=env,
                               capture_output=True, text=True, errors="replace",
                               timeout=t.get("timeout") or 300)
            out, rc = p.stdout, p.returncode
            err = p.stderr
        except subprocess.TimeoutExpired as e:
            out, rc, err = (e.stdout or b"").decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or ""), -9, "timed out"
        t_pass = t_fail = t_skip = 0
        for line in out.splitlines():
            m = TAP.match(line.strip())
            if not m:
                continue
            if m.group(1) == "ok":
                if "# SKIP" in line.upper():
                    t_skip += 1
                else:
                    t_pass += 1
                if verbose:
                    print(f"  {t['name']}: {line.strip()}")
            else:
                t_fail += 1
                print(f"FAIL {t['name']}: {line.strip()}")
        if rc != 0 and t_fail == 0:
            t_fail = 1
            print(f"FAIL {t['name']}: exit {rc} after {t_pass} passing cases")
        if t_fail:
            tail = [l for l in (out.splitlines() + err.splitlines()) if l.startswith("#") or "ERROR" in l or "Sanitizer" in l]
            for l in tail[:40]:
                print("    " + l)
        print(f"{t['name']:>16}: {t_pass} passed, {t_fail} failed" + (f", {t_skip} skipped" if t_skip else ""))
        passed += t_pass
        failed += t_fail
        skipped += t_skip
    print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
