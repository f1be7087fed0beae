#!/usr/bin/env bash
# bootstrap.sh - install what sipwatch needs to build (Debian 12+, as root),
# then configure and build it in ./build. Safe to run again.
# --test: also install what the test suite needs (tools/test.sh passes it).
set -euo pipefail
cd "$(dirname "$0")/.."
pkgs=(build-essential meson ninja-build pkg-config python3
      libpcap-dev libosip2-dev libjansson-dev uthash-dev libxxhash-dev zlib1g-dev
      libcmocka-dev libssl-dev)
# Test-only tools, one line per need (tools/test.sh runs bootstrap.sh --test).
test_pkgs=()
test_pkgs+=(strace)  # tests/cli/check_output.py: no write() of a replay ends inside a line
test_pkgs+=(rsyslog logrotate)  # tests/cli/check_rsyslog.py: docs/deploy.md's rsyslog recipe, run
test_pkgs+=(clang libclang-rt-14-dev)  # libFuzzer smoke of every fuzz target (tools/fuzz-long.sh)
test_pkgs+=(prometheus)  # promtool check metrics (tests/cli/check_hep.py)
test_pkgs+=(debhelper lintian fakeroot logrotate systemd)  # package test: dpkg-buildpackage, lintian, logrotate -d, systemd-analyze
test_pkgs+=(kamailio sip-tester)  # HEP agent test: Kamailio siptrace -> --hep-listen, SIPp calls through it
test_pkgs+=(tshark)  # evidence pcaps read back and compared (tests/evidence/check_evidence.py)
test_pkgs+=(chromium chromium-driver python3-selenium)  # tests/cli/check_html.py: the HTML report in a browser
if [ "${1:-}" = "--test" ]; then
  pkgs+=("${test_pkgs[@]}")
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "bootstrap: missing packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
[ -f build/build.ninja ] || meson setup build >/dev/null
ninja -C build >/dev/null
echo "bootstrap: built $(pwd)/build/sipwatch" >&2
