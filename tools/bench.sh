#!/usr/bin/env bash
# bench.sh - how fast sipwatch reads a capture, as ratios to a baseline
# measured in the same run on the same file:
#   baseline   build/bench_readloop: a bare pcap_next_ex loop
#   sipwatch   the default (fast path: libosip2 only on messages that feed events)
#   full       sipwatch --no-fast-path (libosip2 on every message)
#   tshark     tshark -r FILE -Y sip (when installed)
# Each is run RUNS times (default 3); the best wall time counts (the others are
# noise from the machine). Usage: tools/bench.sh [FILE]
# Without FILE it makes ../shared/bench's medium load capture (about 100 s)
# in ./sip-bench-out/ first.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-3}
file=${1:-}
if [ -z "$file" ]; then
  file=sip-bench-out/sip-medium.pcap
  [ -f "$file" ] || bash ../shared/bench/gen-load-pcap.sh medium "$PWD/sip-bench-out" >&2
fi
[ -f build/build.ninja ] || meson setup build >/dev/null
ninja -C build sipwatch bench_readloop >/dev/null

best() { # best wall seconds of $runs runs of "$@", output discarded
  local b="" t
  for _ in $(seq "$runs"); do
    local s e
    s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N)
    t=$(echo "$e - $s" | bc -l)
    if [ -z "$b" ] || (( $(echo "$t < $b" | bc -l) )); then b=$t; fi
  done
  echo "$b"
}

pkts=$(build/bench_readloop "$file" | awk '{print $1}')
base=$(best build/bench_readloop "$file")
fast=$(best build/sipwatch -r "$file")
full=$(best build/sipwatch --no-fast-path -r "$file")
if command -v tshark >/dev/null; then tsh=$(best tshark -n -r "$file" -Y sip); else tsh=""; fi

printf 'file %s: %s packets, best of %s runs\n' "$file" "$pkts" "$runs"
printf '%-30s %9s %9s %12s\n' "what" "seconds" "x base" "packets/s"
row() { printf '%-30s %9.3f %9.2f %12.0f\n' "$1" "$2" "$(echo "$2 / $base" | bc -l)" "$(echo "$pkts / $2" | bc -l)"; }
row "pcap_next_ex loop (baseline)" "$base"
row "sipwatch (fast path)" "$fast"
row "sipwatch --no-fast-path" "$full"
[ -n "$tsh" ] && row "tshark -Y sip" "$tsh"
[ -n "$tsh" ] && printf 'sipwatch is %.1fx faster than tshark\n' "$(echo "$tsh / $fast" | bc -l)"
build/sipwatch -r "$file" --events stats | tail -1 | python3 -c '
import json, sys
s = json.loads(sys.stdin.read())["stats"]
print("sipwatch: %d SIP messages, %d via libosip2, %d scanner only" % (s.get("sip_messages", 0), s.get("sip_full_parse", 0), s.get("sip_fast_path", 0)))'
