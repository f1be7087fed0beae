#!/usr/bin/env bash
# fuzz-long.sh - run every libFuzzer target (tests/fuzz/fuzz_*.c) for a long
# time, one after the other, under ASan+UBSan, with a per-input timeout: an
# input slower than that is a bug (issue 10: CPU per message is bounded and
# linear), as is a crash, a leak or a sanitizer report.
#
# Usage: tools/fuzz-long.sh [SECONDS_PER_TARGET [TIMEOUT_S [TARGET...]]]
#   defaults: 600 s per target, 2 s per input, every target.
# New inputs go to build-fuzz/corpus-new/<target> (the committed corpus in
# tests/fuzz/corpus/<target> is read, never written); crashes, timeouts and
# slow units to build-fuzz/artifacts/<target>/. Minimize an interesting new
# input and commit it to the corpus by hand. Exit 1 if any target failed;
# the last line is 'N passed, N failed' (tools/test.sh runs the smoke:
# 15 s per target).
# Needs clang (libFuzzer): CC=clang meson setup build-fuzz -Dfuzz=true ...
set -uo pipefail
cd "$(dirname "$0")/.."
secs=${1:-600}
timeout_s=${2:-2}
shift 2 2>/dev/null || shift $#
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(decode ipfrag tcpstream sipframe sipmsg report tracker pipeline)
fi
command -v clang >/dev/null || { echo "fuzz-long: clang is needed (apt-get install clang)" >&2; exit 1; }
if [ ! -f build-fuzz/build.ninja ]; then
  CC=clang meson setup build-fuzz -Dfuzz=true -Db_sanitize=address,undefined \
    -Db_lundef=false >/dev/null || exit 1
fi
ninja -C build-fuzz >/dev/null || exit 1
failed=()
for t in "${targets[@]}"; do
  new=build-fuzz/corpus-new/$t
  art=build-fuzz/artifacts/$t
  mkdir -p "$new" "$art"
  echo "== fuzz_$t: ${secs} s, -timeout=${timeout_s}"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    build-fuzz/tests/fuzz_"$t" -max_total_time="$secs" -timeout="$timeout_s" \
      -report_slow_units="$timeout_s" -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$art/" "$new" tests/fuzz/corpus/"$t" 2>&1 |
    grep -E "^(#[0-9]+ +DONE|INFO: a corpus|==[0-9]+==|SUMMARY|Slowest unit|ERROR|stat::)" | tail -n 20
  rc=${PIPESTATUS[0]}
  slow=$(ls "$art" 2>/dev/null | grep -c '^slow-unit-' || true)
  if [ "$rc" -ne 0 ] || [ "$slow" -gt 0 ]; then
    echo "FAIL fuzz_$t (exit $rc, $slow slow units in $art)"
    failed+=("$t")
  else
    echo "ok fuzz_$t"
  fi
done
n=${#targets[@]}
nf=${#failed[@]}
[ "$nf" -gt 0 ] && echo "fuzz-long: failed: ${failed[*]}"
echo "$((n - nf)) passed, $nf failed"
[ "$nf" -eq 0 ]
