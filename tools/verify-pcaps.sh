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
  tshark -r "$f" -Y sip -T fields -E separator='|' -E occurrence=f \
    -e frame.number -e frame.time_relative -e ip.src -e ipv6.src -e udp.srcport -e tcp.srcport \
    -e sip.Method -e sip.Status-Code -e sip.CSeq -e sip.Call-ID -e sip.Event \
-e sip.Subscription-State -e sipfrag.line -e sip.resend -e sip.Refer-Sub 2>/dev/null |
  awk -F'|' '{
    src = ($3 != "" ? $3 : "[" $4 "]") ":" ($5 != "" ? $5 : $6)
    what = ($7 != "" ? $7 : $8)
    extra = ""
    if ($11 != "") extra = extra " Event=" $11
    if ($12 != "") extra = extra " Sub-State=" $12
    if ($13 != "") extra = extra " frag=\"" $13 "\""
    if ($15 != "") extra = extra " Refer-Sub=" $15
    if ($14 == "1") extra = extra " (resend)"
    printf "  %3s %9.3f  %-22s %-8s %-12s %s%s\n", $1, $2, src, what, $9, $10, extra
  }'
done
