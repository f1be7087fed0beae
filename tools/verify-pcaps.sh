#!/usr/bin/env bash
# verify-pcaps.sh - print, for each test capture, the SIP messages tshark sees in it.
#
# The listing is the wire truth behind pcaps/MANIFEST.md: frame, time from the first frame,
# sender, method or status, CSeq, Call-ID, Event, Subscription-State, the sipfrag status line
# of a NOTIFY, and whether tshark calls the frame a retransmission ("resend").
#
# Usage: tools/verify-pcaps.sh [FILE ...]     (no FILE: every capture under pcaps/ except
#                                              pcaps/public/)
# Notes: tshark 4.0 has no HEP dissector; for HEP captures the SIP start line inside each
# HEP packet is printed by a few lines of Python instead (chunk 0x000f, the payload).
# SIP over WebSocket is decoded by tshark when the capture holds the HTTP upgrade.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
if [ $# -eq 0 ]; then
  mapfile -t files < <(find "$top/pcaps" -path "$top/pcaps/public" -prune -o \
                        \( -name '*.pcap' -o -name '*.pcapng' \) -print | sort)
else
  files=("$@")
fi

hep_list() { # FILE: first line of the SIP payload in each HEP packet (v2 or v3)
  /usr/bin/python3 - "$1" <<'PY'
import sys
from scapy.all import rdpcap, UDP, TCP
for i, p in enumerate(rdpcap(sys.argv[1]), 1):
    l4 = p.getlayer(UDP) or p.getlayer(TCP)
    if l4 is None:
        continue
    b = bytes(l4.payload)
    if b[:4] == b"HEP3":
        off, pl, ver = 6, b"", "HEPv3"
        while off + 6 <= len(b):
            vid, tid, ln = int.from_bytes(b[off:off+2], "big"), int.from_bytes(b[off+2:off+4], "big"), int.from_bytes(b[off+4:off+6], "big")
            if ln < 6:
                break
            if vid == 0 and tid == 0x0f:
                pl = b[off+6:off+ln]
            off += ln
    elif b[:1] == b"\x02":
        ver, pl = "HEPv2", b[b[1] + 12:]
    else:
        continue
    print("  %3d  %s  %s" % (i, ver, pl.split(b"\r\n", 1)[0].decode("ascii", "replace")))
PY
}

LIST_PY='
import json, sys

def find(o, key):
    """every value of `key` anywhere under o, in document order"""
    out = []
    if isinstance(o, dict):
        for k, v in o.items():
            if k == key and not isinstance(v, (dict, list)):
                out.append(v)
            elif isinstance(v, (dict, list)):
                out += find(v, key)
    elif isinstance(o, list):
        for x in o:
            out += find(x, key)
    return out

def one(o, key):
    v = find(o, key)
    return v[-1] if v else ""

frames = json.load(sys.stdin)
unframed = []
for fr in frames:
    L = fr["_source"]["layers"]
    num = one(L.get("frame", {}), "frame.number")
    t = float(one(L.get("frame", {}), "frame.time_relative") or 0)
    src = one(L.get("ip", {}), "ip.src") or "[%s]" % one(L.get("ipv6", {}), "ipv6.src")
    port = one(L.get("udp", {}), "udp.srcport") or one(L.get("tcp", {}), "tcp.srcport")
    msgs = L.get("sip", [])
    if isinstance(msgs, dict):
        msgs = [msgs]
    for i, m in enumerate(msgs):
        what = one(m, "sip.Method") or one(m, "sip.Status-Code")
        if not what:
            unframed.append(num)      # SIP-port data that is not the start of a message
            continue
        extra = ""
        for k, label in (("sip.Event", "Event"), ("sip.Subscription-State", "Sub-State"),
                         ("sipfrag.line", "frag"), ("sip.Refer-Sub", "Refer-Sub")):
            v = one(m, k)
            if v:
                extra += " %s=%s" % (label, json.dumps(v) if label == "frag" else v)
        if one(m, "sip.resend") == "1":
            extra += " (resend)"
        print("  %3s %9.3f  %-22s %-8s %-12s %s%s" % (num if i == 0 else "+", t, "%s:%s" % (src, port),
              what, one(m, "sip.CSeq"), one(m, "sip.Call-ID"), extra))
if unframed:
    print("  (%d frame(s) of data tshark could not frame as SIP: %s)" % (len(unframed), " ".join(unframed)))
'

for f in "${files[@]}"; do
  n=$(capinfos -c -M "$f" 2>/dev/null | awk '/Number of packets/ {print $NF}')
  lt=$(capinfos -E "$f" 2>/dev/null | awk -F': *' '/encapsulation/ {print $2}')
  echo "== ${f#$top/} ($n packets, $lt)"
  case $f in
    *hep*)
      echo "  (tshark 4.0 has no HEP dissector: HEP payload start lines, by python/scapy)"
      hep_list "$f"
      continue ;;
  esac
  # SIP on TCP port 15060 is found by tshark's heuristic only when a segment holds a whole
  # start line: say what the port carries. WebSocket: the HTTP upgrade on port 15080.
  opts=(-d tcp.port==15060,sip -o tcp.reassemble_out_of_order:TRUE)
  case $f in
    *websocket*) opts+=(-d tcp.port==15080,http) ;;
  esac
  # JSON with --no-duplicate-keys: a frame holding several SIP messages gives a list of them
  # (shown one a line, the second and later marked "+"); addresses and ports are the innermost
  # ones (after a tunnel).
  tshark -r "$f" "${opts[@]}" -Y sip -T json --no-duplicate-keys \
    -J "frame ip ipv6 udp tcp sip" 2>/dev/null | /usr/bin/python3 -c "$LIST_PY"
done
