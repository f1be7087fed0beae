#!/usr/bin/env bash
# test.sh - build sipwatch and run every test twice: in the normal build and
# in an ASan+UBSan build. Counts test cases; the last line is
# 'N passed, N failed'.  Usage: tools/test.sh [--no-sanitize]
set -uo pipefail
cd "$(dirname "$0")/.."
tools/bootstrap.sh --test || { echo "0 passed, 1 failed"; exit 1; }
log=$(mktemp)
python3 tests/run.py build | tee "$log"
normal=$(tail -n 1 "$log")
if [ "${1:-}" != "--no-sanitize" ]; then
  [ -f build-asan/build.ninja ] || meson setup build-asan -Db_sanitize=address,undefined \
      -Db_lundef=false -Dbuildtype=debug >/dev/null
  if ninja -C build-asan >/dev/null; then
    echo "== sanitizer build (ASan+UBSan)"
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
      python3 tests/run.py build-asan | tee -a "$log"
  else
    echo "FAIL sanitizer build did not compile"; echo "0 passed, 1 failed" >> "$log"
  fi
fi
if [ "${1:-}" != "--no-sanitize" ]; then
  # Fuzz smoke: every libFuzzer target ~15 s on its committed corpus; a crash,
  # a sanitizer report or an input slower than 2 s fails (issue 10).
  echo "== fuzz smoke (libFuzzer, 15 s per target)"
  if command -v clang >/dev/null; then
    tools/fuzz-long.sh 15 2 | tee -a "$log"
  else
    echo "FAIL fuzz smoke: clang is missing (bootstrap.sh --test installs it)"
    echo "0 passed, 1 failed" >> "$log"
  fi
fi
rm -f "$log.sum"
p=0; f=0; s=0
while read -r line; do
  if [[ $line =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed(,\ ([0-9]+)\ skipped)?$ ]]; then
    p=$((p + BASH_REMATCH[1])); f=$((f + BASH_REMATCH[2])); s=$((s + ${BASH_REMATCH[4]:-0}))
  fi
done < "$log"
rm -f "$log"
if [ "$s" -gt 0 ]; then echo "$p passed, $f failed, $s skipped"; else echo "$p passed, $f failed"; fi
[ "$f" -eq 0 ]
