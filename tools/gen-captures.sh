#!/usr/bin/env bash
# gen-captures.sh - record the small test captures under pcaps/ with real user agents.
#
# Every capture is one behaviour: SIPp user agents (scenarios in tools/sipp/) talk on loopback
# while tcpdump -i lo -s 0 records the wire; Kamailio (a real proxy) sits in the middle where a
# capture needs two proxy legs. What each capture shows and the sipwatch events it must give are
# in pcaps/MANIFEST.md; tools/verify-pcaps.sh lists the SIP messages tshark sees in each.
#
# Addresses and ports (loopback only; ports 15060-15099):
#   127.0.15.1:15060   "PBX" / transferee / registrar side (SIPp UAS)
#   127.0.15.2:15060   phone / transferor side (SIPp UAC)
#   127.0.15.10:15060  Kamailio proxy (two-leg captures)
#   127.0.15.66:15066  the scanner (enumeration captures)
#   [::1]:15070 (UAS) and [::1]:15072 (UAC) for the IPv6 captures
#   SIPp media sockets (no RTP is sent): UAS 15090-15093, UAC 15096-15099.
# Call-IDs are fixed (-cid_str, one per capture, "<capture-name>@sipwatch.test"), as are tags,
# branches and CSeqs (literal in the scenarios); only times and ephemeral TCP ports change
# between runs.
#
# Usage: tools/gen-captures.sh [NAME ...]   (no NAME: every capture; NAME = a case below)
# Needs: root (capture on lo), sipp 3.6, tcpdump, reordercap, editcap, mergecap, kamailio;
#        xfer_linphone_twinkle (run only when named) also linphone-cli, twinkle-console, iproute2.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
sc=$top/tools/sipp
out=$top/pcaps
work=$(mktemp -d /tmp/gen-captures.XXXXXX)
FILTER='(net 127.0.15.0/24 or ip6 host ::1) and portrange 15060-15099'

UAS4=127.0.15.1 UAC4=127.0.15.2 PROXY4=127.0.15.10 SCAN4=127.0.15.66
PORT=15060 UAS6_PORT=15070 UAC6_PORT=15072

pids=()              # every process this script started; ended by PID only
cap_ns=               # the network namespace case_xfer_linphone_twinkle made, while it exists
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  if [ -n "$cap_ns" ]; then ip netns del "$cap_ns" 2>/dev/null || true; fi
  if [ -z "${KEEP_WORK:-}" ]; then rm -rf "$work"; else echo "work dir kept: $work" >&2; fi
}
trap cleanup EXIT

die() { echo "gen-captures: $*" >&2; exit 1; }

# ---- capture ---------------------------------------------------------------------------
# cap_start NAME: start tcpdump for capture NAME; returns once tcpdump listens.
cap_start() {
  cur=$1
  rm -f "$work/$cur.pcap"
  tcpdump -i lo -n -s 0 -U --immediate-mode -w "$work/$cur.pcap" "$FILTER" 2> "$work/$cur.tcpdump" &
  tdpid=$!; pids+=("$tdpid")
  for _ in $(seq 1 50); do
    grep -q 'listening on' "$work/$cur.tcpdump" 2>/dev/null && break
    sleep 0.1
  done
  sleep 0.3
}

# cap_stop AREA [NAME]: stop tcpdump, sort by time, copy to pcaps/AREA/NAME.pcap.
cap_stop() {
  local area=$1 name=${2:-$cur}
  sleep 0.3
  kill -INT "$tdpid"; wait "$tdpid" || true
  reordercap "$work/$cur.pcap" "$work/$cur.sorted.pcap" > /dev/null
  mkdir -p "$out/$area"
  cp "$work/$cur.sorted.pcap" "$out/$area/$name.pcap"
  printf '%-40s %3s packets\n' "$area/$name.pcap" \
    "$(capinfos -c -M "$out/$area/$name.pcap" | awk '/Number of packets/ {print $NF}')" >&2
}

# ---- SIPp ------------------------------------------------------------------------------
# Common SIPp options: one call, no default behaviours (no BYE/CANCEL of its own on a
# timeout, no automatic answers), a global safety timeout.
SIPP_COMMON=(-m 1 -nd -nostdin -timeout 40s -timeout_error -trace_err -trace_msg)

# uas SCENARIO TRANSPORT IP PORT [sipp args...]: start the UAS in the background.
uas() {
  local scen=$1 tr=$2 ip=$3 port=$4; shift 4
  ( cd "$work" && exec sipp -sf "$sc/$scen" -t "$tr" -i "$ip" -p "$port" -mp 15090 \
      "${SIPP_COMMON[@]}" "$@" > "$work/$cur.uas.log" 2>&1 ) &
  uaspid=$!; pids+=("$uaspid")
  sleep 0.5
}

# uac SCENARIO TRANSPORT IP PORT DEST [sipp args...]: run the UAC to its end.
# Call-ID: "$cur@sipwatch.test" unless CID is set.
uac() {
  local scen=$1 tr=$2 ip=$3 port=$4 dest=$5; shift 5
  local rc=0
  local pbx=${PBX:-$UAS4:$PORT} pbxhost=${PBXHOST:-$UAS4}
  if [ "$ip" = ::1 ]; then pbx="[::1]:$UAS6_PORT" pbxhost="[::1]"; fi
  ( cd "$work" && exec sipp "$dest" -sf "$sc/$scen" -t "$tr" -i "$ip" -p "$port" -mp 15096 \
      -key pbx "$pbx" -key pbxhost "$pbxhost" \
      -cid_str "${CID:-$cur@sipwatch.test}" "${SIPP_COMMON[@]}" "$@" \
      > "$work/$cur.uac.log" 2>&1 ) || rc=$?
  if [ "$rc" -ne 0 ] && [ -z "${UAC_MAY_FAIL:-}" ]; then
    tail -30 "$work/$cur.uac.log" >&2; cat "$work"/*errors.log >&2 2>/dev/null || true
    die "$cur: UAC exited $rc"
  fi
}

# uas_wait: wait for the UAS to finish (it has -m 1); end it if it has not within 15 s.
uas_wait() {
  local i rc=0
  for i in $(seq 1 150); do
    kill -0 "$uaspid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$uaspid" 2>/dev/null; then
    kill "$uaspid" 2>/dev/null || true
  fi
  wait "$uaspid" || rc=$?
  if [ "$rc" -ne 0 ] && [ -z "${UAS_MAY_FAIL:-}" ]; then
    tail -30 "$work/$cur.uas.log" >&2; die "$cur: UAS exited $rc"
  fi
}

# pair NAME AREA UAS_SCEN UAC_SCEN TRANSPORT [uas args] [-- uac args]
# One UAS/UAC pair, recorded as pcaps/AREA/NAME.pcap. IPv4 unless V6=1.
pair() {
  local name=$1 area=$2 us=$3 ac=$4 tr=$5; shift 5
  local uas_args=() uac_args=() side=uas
  for a in "$@"; do
    if [ "$a" = "--" ]; then side=uac; continue; fi
    if [ $side = uas ]; then uas_args+=("$a"); else uac_args+=("$a"); fi
  done
  cap_start "$name"
  if [ -n "${V6:-}" ]; then
    uas "$us" "$tr" ::1 $UAS6_PORT "${uas_args[@]}"
    uac "$ac" "$tr" ::1 $UAC6_PORT "[::1]:$UAS6_PORT" "${uac_args[@]}"
  else
    uas "$us" "$tr" $UAS4 $PORT "${uas_args[@]}"
    uac "$ac" "$tr" $UAC4 $PORT "${DEST:-$UAS4:$PORT}" "${uac_args[@]}"
  fi
  # over TCP the UAS counts its call failed when the UAC closes the connection during its
  # closing timewait: the wire is complete all the same.
  if [ "$tr" = t1 ]; then UAS_MAY_FAIL=1 uas_wait; else uas_wait; fi
  cap_stop "$area"
}

# ---- Kamailio ---------------------------------------------------------------------------
# A real SIP proxy for the two-leg captures: stateless forward() of every request to its
# Request-URI (the phone sends to the proxy, the PBX answers and sends its NOTIFYs to the
# proxy, from which the requests came), replies routed back by their Via; and a registrar
# for pbx.sipwatch.test that knows users 1001-1009 only and answers 404 to every other one.
kam_start() {
  cat > "$work/kamailio.cfg" <<KAM
#!KAMAILIO
debug=1
log_stderror=yes
children=1
disable_tcp=yes
auto_aliases=no
dns=no
rev_dns=no
listen=udp:$PROXY4:$PORT
alias="pbx.sipwatch.test"
mpath="/usr/lib/x86_64-linux-gnu/kamailio/modules/"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "maxfwd.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "pv.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
modparam("usrloc", "db_mode", 0)

request_route {
  if (!mf_process_maxfwd_header("10")) {
    sl_send_reply("483", "Too Many Hops");
    exit;
  }
  if (is_method("REGISTER")) {
    if (\$tU =~ "^100[1-9]\$") {
      save("location");
      exit;
    }
    sl_send_reply("404", "Not Found");
    exit;
  }
  forward();
  exit;
}
KAM
  kamailio -c -f "$work/kamailio.cfg" > "$work/kamailio.check" 2>&1 || {
    cat "$work/kamailio.check" >&2; die "kamailio.cfg does not parse"; }
  kamailio -f "$work/kamailio.cfg" -DD -E -n 1 -w "$work" -Y "$work" -P "$work/kamailio.pid" \
    > "$work/kamailio.log" 2>&1 &
  kampid=$!; pids+=("$kampid")
  sleep 1
  kill -0 "$kampid" 2>/dev/null || { cat "$work/kamailio.log" >&2; die "kamailio did not start"; }
}
kam_stop() {
  kill "$kampid" 2>/dev/null || true
  wait "$kampid" 2>/dev/null || true
}

# ---- the captures ----------------------------------------------------------------------
# Each case_X writes one capture (or a few of one kind); gen-captures.sh X runs one.

# transfer/: the issue "every REFER gets exactly one outcome".
x() { pair "$1" transfer "$2" "$3" "${4:-u1}" "${@:5}"; }
case_xfer_completed_udp()  { x xfer-completed-udp xfer_uas.xml xfer_uac.xml u1 -key final_frag "200 OK"; }
case_xfer_completed_tcp()  { x xfer-completed-tcp xfer_uas.xml xfer_uac.xml t1 -key final_frag "200 OK"; }
case_xfer_completed_ipv6() { V6=1 x xfer-completed-ipv6-udp xfer_uas.xml xfer_uac.xml u1 -key final_frag "200 OK"; }
case_xfer_completed_compact() {
  x xfer-completed-compact-udp xfer_uas_compact.xml xfer_uac_compact.xml u1 -key final_frag "200 OK"
}
case_xfer_failed() {
  x xfer-failed-486-udp xfer_uas.xml xfer_uac.xml u1 -key final_frag "486 Busy Here"
  x xfer-failed-603-udp xfer_uas.xml xfer_uac.xml u1 -key final_frag "603 Declined"
}
case_xfer_no_notify() { x xfer-no-notify-udp xfer_uas_nonotify.xml xfer_uac_nonotify.xml; }
case_xfer_notify_incomplete() {
  x xfer-notify-incomplete-terminated-udp xfer_uas_provisional.xml xfer_uac_3notify.xml
  x xfer-notify-incomplete-stalled-udp xfer_uas_stalled.xml xfer_uac_stalled.xml
}
case_xfer_rejected() {
  x xfer-rejected-403-udp xfer_uas_reject_403.xml xfer_uac_rejected.xml
  x xfer-rejected-603-udp xfer_uas_reject_603.xml xfer_uac_rejected.xml
  x xfer-rejected-407-then-completed-udp xfer_uas_auth.xml xfer_uac_auth.xml
}
# Did the transferor hear it? (issue 9): NOTIFYs refused by the transferor; challenged REFERs.
case_xfer_notify_refused() {
  # linphone's NOTIFYs carry no Contact; Twinkle answers each "400 Contact header missing".
  x xfer-notify-refused-udp xfer_uas_nocontact.xml xfer_uac_notify_refused.xml u1 -key final_frag "200 OK"
  x xfer-notify-refused-failed-udp xfer_uas_nocontact.xml xfer_uac_notify_refused.xml u1 \
    -key final_frag "486 Busy Here"
  x xfer-notify-ok-then-481-udp xfer_uas_ok_then_481.xml xfer_uac_notify_ok_then_481.xml u1 \
    -key final_frag "200 OK"
}
case_xfer_auth() {
  x xfer-auth-401-then-completed-udp xfer_uas_auth401.xml xfer_uac_auth401.xml
  x xfer-auth-401-no-retry-udp xfer_uas_auth401_giveup.xml xfer_uac_auth401_giveup.xml
}
# Real user agents (run only when named: needs linphone-cli, twinkle-console and netns):
# Twinkle 1.10 (twinkle-console) calls linphonec (liblinphone 5.1), which auto-answers; Twinkle blind-transfers it to a SIPp UAS (the target). linphone's
# NOTIFYs carry no Contact and Twinkle answers each "400 Contact header missing", so Twinkle never
# learns the transfer worked and keeps its held call until its user hangs up (BYE 4 s later).
# Both agents bind 0.0.0.0 and pick their source address by route: they run in a network
# namespace of this script's own whose loopback routes give 127.0.15.2 (Twinkle) and
# 127.0.15.1 (linphone), as in the SIPp captures. Call-ID, tags and branches are the agents'
# own (random): a re-run changes them.
case_xfer_linphone_twinkle() {
  local ns=sipwatch-cap$$ name=xfer-linphone-twinkle-udp d
  cap_ns=$ns
  for d in linphonec twinkle-console ip; do command -v $d > /dev/null || die "$name needs $d"; done
  ip netns add $ns
  ip -n $ns link set lo up
  # source address by destination: to linphone from Twinkle's, to Twinkle and the target from linphone's
  ip -n $ns route add local $UAS4/32 dev lo table local src $UAC4
  ip -n $ns route add local $UAC4/32 dev lo table local src $UAS4
  ip -n $ns route add local 127.0.15.3/32 dev lo table local src $UAS4
  mkdir -p "$work/lp/.local/share/linphone" "$work/tw/.twinkle"
  cat > "$work/lp/linphonerc" <<EOF2
[sip]
contact="Linphone 2001" <sip:2001@$UAS4>
sip_tcp_port=-1
sip_tls_port=-1
use_ipv6=0
[rtp]
audio_rtp_port=15090
[video]
enabled=0
capture=0
display=0
EOF2
  cat > "$work/tw/.twinkle/twinkle.sys" <<EOF2
dev_ringtone=alsa:null
dev_speaker=alsa:null
dev_mic=alsa:null
sip_port=15062
rtp_port=15084
start_user_profile=tw
EOF2
  cat > "$work/tw/.twinkle/tw.cfg" <<EOF2
user_name=1001
user_domain=$UAC4
user_display=Twinkle 1001
register_at_startup=no
pres_publish_startup=no
allow_refer=yes
ask_user_to_refer=no
referrer_hold=yes
EOF2
  cur=$name
  # started directly (ip netns exec execs tcpdump), so that $! is tcpdump itself
  ip netns exec $ns tcpdump -i lo -n -s 0 -U --immediate-mode -w "$work/$cur.pcap" \
    'udp and (port 15060 or port 15062 or port 15064)' 2> "$work/$cur.tcpdump" &
  tdpid=$!; pids+=("$tdpid")
  sleep 1
  ( cd "$work" && exec ip netns exec $ns sipp -sn uas -i 127.0.15.3 -p 15064 -mp 15096 -m 1 -nd \
      -nostdin -timeout 30s > "$work/$cur.target.log" 2>&1 ) &
  pids+=($!)
  # linphonec takes its SIP port from the "ports" command (liblinphone 5.1 ignores sip_port here)
  { sleep 2; echo 'soundcard use files'; echo 'ports sip 15060'; sleep 18; echo quit; sleep 2; } |
    HOME=$work/lp ip netns exec $ns linphonec -c "$work/lp/linphonerc" -a -d 6 -l "$work/$cur.linphone.log" \
      > "$work/$cur.linphonec.out" 2>&1 &
  pids+=($!)
  { sleep 4; echo 'call sip:2001@127.0.15.1:15060'; sleep 3; echo 'transfer sip:3001@127.0.15.3:15064'
    sleep 4; echo bye; sleep 2; echo quit; sleep 2; } |
    HOME=$work/tw ip netns exec $ns twinkle-console tw.cfg > "$work/$cur.twinkle.out" 2>&1 &
  pids+=($!)
  sleep 18
  kill -INT "$tdpid"; wait "$tdpid" || true
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 1
  ip netns del $ns; cap_ns=
  reordercap "$work/$cur.pcap" "$work/$cur.sorted.pcap" > /dev/null
  cp "$work/$cur.sorted.pcap" "$out/transfer/$name.pcap"
  printf '%-40s %3s packets\n' "transfer/$name.pcap" \
    "$(capinfos -c -M "$out/transfer/$name.pcap" | awk '/Number of packets/ {print $NF}')" >&2
}
case_xfer_no_response() {
  # The UAC gives the call up after 3 retransmissions of the REFER (0, 0.5, 1.5, 3.5 s).
  UAC_MAY_FAIL=1 x xfer-no-response-udp xfer_uas_ignore.xml xfer_uac_noresponse.xml u1 \
    -- -max_non_invite_retrans 3
}
case_xfer_refer_sub_false() { x xfer-refer-sub-false-udp xfer_uas_norefersub.xml xfer_uac_norefersub.xml; }
case_xfer_notify_before_202() { x xfer-notify-before-202-udp xfer_uas_notify_first.xml xfer_uac_notify_first.xml; }
case_xfer_retransmissions() { x xfer-retransmissions-udp xfer_uas_slow_202.xml xfer_uac_slow_notify_ok.xml; }
case_xfer_two_refers() { x xfer-two-refers-udp xfer_uas_two_refers.xml xfer_uac_two_refers.xml; }
case_xfer_two_legs() {
  kam_start
  DEST=$PROXY4:$PORT x xfer-completed-two-legs-udp xfer_uas.xml xfer_uac.xml u1 -key final_frag "200 OK"
  kam_stop
}
case_xfer_midstream() {
  # xfer-completed-udp cut just before the REFER: the 202, both NOTIFYs and the BYE remain.
  local src=$out/transfer/xfer-completed-udp.pcap
  [ -f "$src" ] || case_xfer_completed_udp
  local refer
  refer=$(tshark -r "$src" -Y 'sip.Method == "REFER"' -T fields -e frame.number 2>/dev/null | head -1)
  editcap -r "$src" "$out/transfer/xfer-completed-midstream-no-refer-udp.pcap" "$((refer + 1))-1000"
  echo "transfer/xfer-completed-midstream-no-refer-udp.pcap: frames $((refer + 1))- of xfer-completed-udp" >&2
}
case_xfer_out_of_dialog() { x xfer-out-of-dialog-udp xfer_uas_ood.xml xfer_uac_ood.xml; }

# notfound/: the issue "user_not_found events and enumeration-scan detection".
nf() { pair "$1" notfound "$2" "$3" "${4:-u1}" "${@:5}"; }
case_invite_404()  { nf invite-404-udp nf_uas_invite_404.xml nf_uac_invite.xml u1 -- -s 9001; }
case_invite_604()  { nf invite-604-udp nf_uas_invite_604.xml nf_uac_invite.xml u1 -- -s 9002; }
case_invite_480()  { nf invite-480-udp nf_uas_invite_480.xml nf_uac_invite.xml u1 -- -s 2002; }
case_invite_486()  { nf invite-486-udp nf_uas_invite_486.xml nf_uac_invite.xml u1 -- -s 2003; }
case_invite_404_tcp()  { nf invite-404-tcp nf_uas_invite_404.xml nf_uac_invite.xml t1 -- -s 9001; }
case_invite_404_ipv6() { V6=1 nf invite-404-ipv6-udp nf_uas_invite_404.xml nf_uac_invite.xml u1 -- -s 9001; }
case_invite_404_compact() {
  nf invite-404-compact-udp nf_uas_invite_404_compact.xml nf_uac_invite_compact.xml u1 -- -s 9001
}
case_invite_404_retransmitted() {
  # The phone ACKs 1.7 s late: SIPp's UAS retransmits its 404 (retrans="500": 0.5 s, 1.5 s)
  # until the ACK arrives, byte-identical, as RFC 3261 17.2.1 asks.
  nf invite-404-retransmitted-udp nf_uas_invite_404.xml nf_uac_invite_slowack.xml u1 -- -s 9001
}
case_invite_404_two_legs() {
  kam_start
  DEST=$PROXY4:$PORT nf invite-404-two-legs-udp nf_uas_invite_404.xml nf_uac_invite.xml u1 -- -s 9001
  kam_stop
}
case_options_404() { nf options-404-udp nf_uas_options.xml nf_uac_options.xml u1 -- -s 9003; }
case_register_404() {
  # Kamailio as the registrar: user 1099 does not exist, so REGISTER -> 404 (Server: kamailio).
  cap_start register-404-udp
  kam_start
  PBX=$PROXY4:$PORT PBXHOST=pbx.sipwatch.test uac nf_uac_register.xml u1 $UAC4 $PORT "$PROXY4:$PORT" -s 1099
  kam_stop
  cap_stop notfound
}
case_invite_404_only_response() {
  # invite-404-udp with only the 404 kept: the request was not captured.
  local src=$out/notfound/invite-404-udp.pcap
  [ -f "$src" ] || case_invite_404
  local f
  f=$(tshark -r "$src" -Y 'sip.Status-Code == 404' -T fields -e frame.number 2>/dev/null | head -1)
  editcap -r "$src" "$out/notfound/invite-404-only-response-udp.pcap" "$f"
  echo "notfound/invite-404-only-response-udp.pcap: frame $f of invite-404-udp" >&2
}

# scan_run NAME SCENARIO FIRST COUNT SIPP-RATE-ARGS...: the scanner at $SCAN4 walks
# extensions FIRST..FIRST+COUNT-1 (one call each, Call-ID NAME-<n>@sipwatch.test) against a
# PBX that answers every one 404.
scan_run() {
  local name=$1 scen=$2 first=$3 count=$4; shift 4
  { echo SEQUENTIAL
    for i in $(seq "$first" $((first + count - 1))); do printf '%d;sv%04x;\n' "$i" $((i * 2654435761 % 65536)); done
  } > "$work/$name.csv"
  local uscen=nf_uas_invite_404.xml
  case $scen in *options*) uscen=nf_uas_options.xml ;; esac
  cap_start "$name"
  uas "$uscen" u1 $UAS4 $PORT -m "$count" -timeout 120s
  CID="$name-%u@sipwatch.test" uac "$scen" u1 $SCAN4 15066 $UAS4:$PORT \
    -inf "$work/$name.csv" -m "$count" -timeout 120s "$@"
  uas_wait
  cap_stop notfound
}
case_scan_fast() {
  scan_run scan-invite-fast-udp scan_uac_invite.xml 100 30 -r 10
  scan_run scan-options-fast-udp scan_uac_options.xml 100 30 -r 10
}
case_scan_slow() {
  # one extension every 7 s: no 60 s window ever holds 10 of them
  scan_run scan-invite-slow-udp scan_uac_invite.xml 200 12 -r 1 -rp 7000
}

# pcaps/sample.pcap: one completed transfer, one transfer that never gets a NOTIFY (3.5 s of
# silence, then BYE), one INVITE answered 404, one after another (each shifted in time to
# start 1 s after the previous one ends) and merged.
case_sample() {
  local parts=(transfer/xfer-completed-udp transfer/xfer-no-notify-udp notfound/invite-404-udp)
  local p t0="" next="" start end i=0 files=()
  for p in "${parts[@]}"; do
    [ -f "$out/$p.pcap" ] || die "sample needs $p.pcap: run its case first"
    start=$(capinfos -a -S -T -r "$out/$p.pcap" | awk '{print $NF}')
    end=$(capinfos -e -S -T -r "$out/$p.pcap" | awk '{print $NF}')
    if [ -z "$t0" ]; then t0=$start; next=$start; fi
    editcap -t "$(echo "$next - $start" | bc)" "$out/$p.pcap" "$work/sample.$i.pcap"
    files+=("$work/sample.$i.pcap")
    next=$(echo "$next + ($end - $start) + 1" | bc)
    i=$((i + 1))
  done
  mergecap -F pcap -w "$out/sample.pcap" "${files[@]}"
  printf '%-40s %3s packets\n' sample.pcap "$(capinfos -c -M "$out/sample.pcap" | awk '/Number of packets/ {print $NF}')" >&2
}

all_cases=$(declare -F | awk '$3 ~ /^case_/ {sub(/^case_/, "", $3); print $3}' |
  grep -vx -e xfer_midstream -e invite_404_only_response -e sample -e xfer_linphone_twinkle)
all_cases="$all_cases xfer_midstream invite_404_only_response sample"
if [ $# -eq 0 ]; then set -- $all_cases; fi
for c in "$@"; do
  c=${c//-/_}
  declare -F "case_$c" > /dev/null || die "no case $c (have: $(echo $all_cases))"
  "case_$c"
done
