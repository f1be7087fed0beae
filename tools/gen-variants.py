#!/usr/bin/python3
"""gen-variants.py - write one real SIP conversation in many wire shapes under pcaps/wire/.

Input (recorded by tools/gen-captures.sh with SIPp on loopback):
  UDP base   pcaps/transfer/xfer-completed-udp.pcap followed by pcaps/notfound/invite-404-udp.pcap
             (shifted to start 1 s after the transfer ends): a completed transfer + an INVITE 404
  IPv6 base  the same two conversations recorded over ::1 (xfer-completed-ipv6-udp.pcap,
             invite-404-ipv6-udp.pcap), for IPv6 fragments
  TCP base   pcaps/transfer/xfer-completed-tcp.pcap: the completed transfer over one TCP connection
Every variant keeps the original timestamps and the SIP bytes of every message: only what
carries them changes (fragments, segments, tunnels, link types, file format). What each file is
and the events it must give are in pcaps/MANIFEST.md.

Addresses: the inner packets keep their loopback addresses; tunnel and HEP outer headers use
127.0.15.100 -> 127.0.15.101 (loopback too); MAC addresses stay 00:00:00:00:00:00 as on lo.
Deterministic: the same input gives byte-identical output (fixed IP ids, masks, ports).

Usage: tools/gen-variants.py [NAME ...]   (NAME = a file stem below; none = all)
Needs: python3-scapy (Debian's, hence /usr/bin/python3), editcap.
"""
import os
import subprocess
import sys
from decimal import Decimal

from scapy.all import (IP, TCP, UDP, Dot1AD, Dot1Q, Ether, GRE, IPv6, IPv6ExtHdrFragment, Raw,
                       CookedLinux, CookedLinuxV2, PcapWriter, fragment, fragment6, rdpcap)
from scapy.contrib.erspan import ERSPAN_II
from scapy.contrib.mpls import MPLS
from scapy.layers.vxlan import VXLAN

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PCAPS = os.path.join(TOP, "pcaps")
OUT = os.path.join(PCAPS, "wire")
OUTER_SRC, OUTER_DST = "127.0.15.100", "127.0.15.101"
ZERO_MAC = "00:00:00:00:00:00"

DLT_EN10MB, DLT_LINUX_SLL, DLT_LINUX_SLL2 = 1, 113, 276


def read(rel):
    return list(rdpcap(os.path.join(PCAPS, rel)))


def shifted_concat(a, b, gap=Decimal(1)):
    """b's packets moved in time to start `gap` seconds after a's last packet."""
    delta = Decimal(a[-1].time) + gap - Decimal(b[0].time)
    out = list(a)
    for p in b:
        q = p.copy()
        q.time = Decimal(p.time) + delta
        out.append(q)
    return out


def write(name, pkts, linktype=DLT_EN10MB):
    """pkts: list of (time, packet)."""
    path = os.path.join(OUT, name)
    w = PcapWriter(path, linktype=linktype, sync=True)
    for t, p in pkts:
        p.time = t
        w.write(p)
    w.close()
    print("wire/%-44s %4d packets" % (name, len(pkts)), file=sys.stderr)


def eth(payload, etype=None):
    e = Ether(src=ZERO_MAC, dst=ZERO_MAC)
    if etype is not None:
        e.type = etype
    return e / payload


def raw_ip(p):
    """The captured IP packet, byte for byte (a fresh object: no field is recomputed)."""
    layer = p[IP] if IP in p else p[IPv6]
    return layer.__class__(bytes(layer))


def outer_ip(i, proto):
    return IP(src=OUTER_SRC, dst=OUTER_DST, id=0x7000 + i, ttl=64, proto=proto)


# ---- UDP base: encapsulations and link types ---------------------------------------------
def v_plain(base):
    return [(p.time, eth(raw_ip(p))) for p in base]


def v_vlan(base):
    return [(p.time, eth(Dot1Q(vlan=15) / raw_ip(p))) for p in base]


def v_qinq(base):
    return [(p.time, eth(Dot1AD(vlan=100) / Dot1Q(vlan=15) / raw_ip(p))) for p in base]


def v_mpls(base):
    # two labels: transport label 16, service label 1015 (bottom of stack)
    return [(p.time, eth(MPLS(label=16, s=0, ttl=64) / MPLS(label=1015, s=1, ttl=64) / raw_ip(p),
                         0x8847)) for p in base]


def v_gre(base):
    return [(p.time, eth(outer_ip(i, 47) / GRE(proto=0x0800) / raw_ip(p)))
            for i, p in enumerate(base)]


def v_erspan2(base):
    # GRE with the sequence bit, protocol 0x88be, ERSPAN type II header (ver 1), then the
    # mirrored Ethernet frame as the switch saw it.
    out = []
    for i, p in enumerate(base):
        mirrored = eth(raw_ip(p))
        pkt = eth(outer_ip(i, 47) / GRE(seqnum_present=1, seqence_number=i + 1, proto=0x88be)
                  / ERSPAN_II(ver=1, vlan=0, session_id=15, index=1) / mirrored)
        out.append((p.time, pkt))
    return out


def v_vxlan(base):
    return [(p.time, eth(outer_ip(i, 17) / UDP(sport=49152 + (i % 64), dport=4789)
                         / VXLAN(vni=1015, flags=0x08) / eth(raw_ip(p))))
            for i, p in enumerate(base)]


def v_ipip(base):
    return [(p.time, eth(outer_ip(i, 4) / raw_ip(p))) for i, p in enumerate(base)]


def sip_tuple(p):
    ip = p[IP]
    return ip.src, ip.dst, p[UDP].sport, p[UDP].dport, bytes(p[UDP].payload)


def inet4(a):
    return bytes(int(x) for x in a.split("."))


def chunk(vendor, ctype, data):
    return vendor.to_bytes(2, "big") + ctype.to_bytes(2, "big") + (6 + len(data)).to_bytes(2, "big") + data


def hep3(p):
    src, dst, sport, dport, payload = sip_tuple(p)
    t = Decimal(p.time)
    sec, usec = int(t), int((t - int(t)) * 1000000)
    body = b"".join([
        chunk(0, 0x0001, b"\x02"),                      # IP family: AF_INET
        chunk(0, 0x0002, b"\x11"),                      # IP protocol: UDP
        chunk(0, 0x0003, inet4(src)),
        chunk(0, 0x0004, inet4(dst)),
        chunk(0, 0x0007, sport.to_bytes(2, "big")),
        chunk(0, 0x0008, dport.to_bytes(2, "big")),
        chunk(0, 0x0009, sec.to_bytes(4, "big")),
        chunk(0, 0x000a, usec.to_bytes(4, "big")),
        chunk(0, 0x000b, b"\x01"),                      # protocol type: SIP
        chunk(0, 0x000c, (2001).to_bytes(4, "big")),    # capture agent id
        chunk(0, 0x000f, payload),
    ])
    return b"HEP3" + (6 + len(body)).to_bytes(2, "big") + body


def hep2(p):
    # HEPv2 as Kamailio siptrace / captagent pack it: hep_hdr (8), hep_iphdr (8), then
    # hep_timehdr {u32 sec, u32 usec, u16 captid} which the C struct pads to 12 bytes.
    src, dst, sport, dport, payload = sip_tuple(p)
    t = Decimal(p.time)
    sec, usec = int(t), int((t - int(t)) * 1000000)
    hdr = bytes([2, 16, 2, 17]) + sport.to_bytes(2, "big") + dport.to_bytes(2, "big")
    timehdr = sec.to_bytes(4, "little") + usec.to_bytes(4, "little") + (2001).to_bytes(2, "little") + b"\0\0"
    return hdr + inet4(src) + inet4(dst) + timehdr + payload


def v_hep(base, enc):
    # The capture agent sends each message to the collector at 127.0.15.101:9060 right
    # when it sees it, so the outer frame keeps the message's timestamp.
    return [(p.time, eth(outer_ip(i, 17) / UDP(sport=15099, dport=9060) / Raw(enc(p))))
            for i, p in enumerate(base)]


def v_sll(base):
    return [(p.time, CookedLinux(pkttype=0, lladdrtype=772, lladdrlen=6, src=b"\0" * 8, proto=0x0800)
             / raw_ip(p)) for p in base]


def v_sll2(base):
    return [(p.time, CookedLinuxV2(proto=0x0800, ifindex=1, lladdrtype=772, pkttype=0, lladdrlen=6,
                                   src=b"\0" * 8) / raw_ip(p)) for p in base]


# ---- IP fragments ------------------------------------------------------------------------
FRAG4 = 256   # bytes of IP payload per fragment (a multiple of 8): every SIP message > 256 B


def frags4(base, reverse):
    out = []
    for i, p in enumerate(base):
        ip = raw_ip(p)
        ip.flags = 0              # clear DF: these datagrams are fragmented on the way
        ip.id = 0x1500 + i
        ip.chksum = None
        pieces = fragment(ip, fragsize=FRAG4) if len(ip.payload) > FRAG4 else [ip]
        if reverse:
            pieces = list(reversed(pieces))
        out += [(p.time, eth(IP(bytes(f)))) for f in pieces]
    return out


def v_ipv4_frag_in_order(base):
    return frags4(base, False)


def v_ipv4_frag_reversed(base):
    return frags4(base, True)


def v_ipv6_frag(base6):
    out = []
    for i, p in enumerate(base6):
        ip6 = p[IPv6]
        pkt = IPv6(src=ip6.src, dst=ip6.dst, hlim=ip6.hlim) / IPv6ExtHdrFragment(id=0x1500 + i) / ip6.payload
        # fragSize counts the whole fragment packet: 40 (IPv6) + 8 (fragment header) + 256
        pieces = fragment6(pkt, 304) if len(ip6.payload) > 256 else [IPv6(bytes(IPv6(src=ip6.src, dst=ip6.dst, hlim=ip6.hlim) / ip6.payload))]
        out += [(p.time, eth(IPv6(bytes(f)))) for f in pieces]
    return out


# ---- TCP base ----------------------------------------------------------------------------
SEG = 40


def tcp_pkt(p, seq, payload):
    """A copy of TCP packet p carrying `payload` at `seq` (lengths and checksums recomputed)."""
    ip = IP(bytes(p[IP]))
    tcp = ip[TCP]
    tcp.remove_payload()
    tcp.seq = seq
    tcp.chksum = None
    ip.len = None
    ip.chksum = None
    q = ip / Raw(payload) if payload else ip
    return eth(IP(bytes(q)))


def tcp_messages(tcp_base):
    """Per packet: (index, packet, payload)."""
    return [(i, p, bytes(p[TCP].payload)) for i, p in enumerate(tcp_base)]


def split40(tcp_base):
    """Every data segment cut into 40-byte segments; pure ACKs and handshake kept.
    Returns a list of (time, pkt, tag) where tag = (message index, segment index)."""
    out = []
    for i, p, data in tcp_messages(tcp_base):
        if not data:
            out.append((p.time, eth(IP(bytes(p[IP]))), (i, None)))
            continue
        for k in range(0, len(data), SEG):
            out.append((p.time, tcp_pkt(p, p[TCP].seq + k, data[k:k + SEG]), (i, k // SEG)))
    return out


def first_line(data):
    return data.split(b"\r\n", 1)[0]


def find_msg(tcp_base, prefix, nth=0):
    hits = [i for i, p, d in tcp_messages(tcp_base) if first_line(d).startswith(prefix)]
    return hits[nth]


def v_tcp_segments40_reordered_dup(tcp_base):
    segs = split40(tcp_base)
    swaps = [(find_msg(tcp_base, b"INVITE "), 2), (find_msg(tcp_base, b"REFER "), 1),
             (find_msg(tcp_base, b"NOTIFY ", 1), 3)]
    for mi, k in swaps:
        a = next(j for j, s in enumerate(segs) if s[2] == (mi, k))
        segs[a], segs[a + 1] = segs[a + 1], segs[a]          # segment k+1 arrives before k
    # one segment of the first NOTIFY arrives twice (a retransmission after the next one)
    mi = find_msg(tcp_base, b"NOTIFY ", 0)
    a = next(j for j, s in enumerate(segs) if s[2] == (mi, 4))
    segs.insert(a + 2, segs[a])
    return [(t, p) for t, p, _ in segs]


def v_tcp_two_messages_one_segment(tcp_base):
    """100 Trying + 180 Ringing, and 202 + the first NOTIFY, each pair in one segment."""
    msgs = tcp_messages(tcp_base)
    pairs = [(find_msg(tcp_base, b"SIP/2.0 100 "), find_msg(tcp_base, b"SIP/2.0 180 ")),
             (find_msg(tcp_base, b"SIP/2.0 202 "), find_msg(tcp_base, b"NOTIFY ", 0))]
    drop, merged = set(), {}
    for a, b in pairs:
        pa, pb = msgs[a][1], msgs[b][1]
        # the pure ACKs the other side sent between the two acknowledge bytes that are now
        # sent later: drop them (the next segment of that side acknowledges everything)
        for j in range(a + 1, b):
            if not msgs[j][2]:
                drop.add(j)
        merged[b] = tcp_pkt(pb, pa[TCP].seq, msgs[a][2] + msgs[b][2])
        drop.add(a)
    out = []
    for i, p, d in msgs:
        if i in drop:
            continue
        out.append((p.time, merged.get(i) or eth(IP(bytes(p[IP])))))
    return out


def v_tcp_midstream(tcp_base):
    """Capture starts inside the INVITE: the handshake and its first two 40-byte segments are
    gone, so the phone->PBX stream starts mid-message."""
    segs = split40(tcp_base)
    mi = find_msg(tcp_base, b"INVITE ")
    a = next(j for j, s in enumerate(segs) if s[2] == (mi, 2))
    return [(t, p) for t, p, _ in segs[a:]]


def v_tcp_lost_segment(tcp_base):
    """The third 40-byte segment of the first NOTIFY (CSeq 101, sipfrag 100 Trying) is lost:
    that NOTIFY cannot be framed; the next message on that stream (NOTIFY 102) is found."""
    segs = split40(tcp_base)
    mi = find_msg(tcp_base, b"NOTIFY ", 0)
    return [(t, p) for t, p, tag in segs if tag != (mi, 2)]


# ---- SIP over WebSocket (RFC 7118, RFC 6455) ---------------------------------------------
WS_CLIENT_PORT, WS_SERVER_PORT = 15097, 15080


def ws_frame(payload, mask_key=None):
    n = len(payload)
    hdr = bytes([0x81])                                      # FIN + text frame
    mbit = 0x80 if mask_key else 0
    if n < 126:
        hdr += bytes([mbit | n])
    elif n < 65536:
        hdr += bytes([mbit | 126]) + n.to_bytes(2, "big")
    else:
        hdr += bytes([mbit | 127]) + n.to_bytes(8, "big")
    if mask_key:
        payload = bytes(b ^ mask_key[i % 4] for i, b in enumerate(payload))
        hdr += mask_key
    return hdr + payload


def v_websocket(base):
    """The UDP base conversation carried over one WebSocket connection the phone (127.0.15.2)
    opened to the PBX (127.0.15.1:15080): HTTP upgrade with Sec-WebSocket-Protocol: sip,
    then one text frame per SIP message, masked from the client (RFC 6455 5.3)."""
    client, server = base[0][IP].src, base[0][IP].dst
    t0 = Decimal(base[0].time)
    seq = {client: 1000, server: 5000}
    out = []

    def seg(t, src, flags, data=b""):
        dst = server if src == client else client
        sport = WS_CLIENT_PORT if src == client else WS_SERVER_PORT
        dport = WS_SERVER_PORT if src == client else WS_CLIENT_PORT
        ack = seq[dst] if "A" in flags else 0
        pkt = IP(src=src, dst=dst, ttl=64, flags="DF", id=0) / TCP(
            sport=sport, dport=dport, seq=seq[src], ack=ack, flags=flags, window=65483)
        if data:
            pkt = pkt / Raw(data)
        out.append((t, eth(IP(bytes(pkt)))))
        seq[src] += len(data) + (1 if ("S" in flags or "F" in flags) else 0)

    def us(n):
        return Decimal(n) / Decimal(1000000)

    seg(t0 - us(50000), client, "S")
    seg(t0 - us(49980), server, "SA")
    seg(t0 - us(49960), client, "A")
    upgrade = (b"GET / HTTP/1.1\r\nHost: 127.0.15.1:15080\r\nUpgrade: websocket\r\n"
               b"Connection: Upgrade\r\nSec-WebSocket-Key: c2lwd2F0Y2gtd3MtdGVzdA==\r\n"
               b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: sip\r\n"
               b"Origin: http://127.0.15.1\r\n\r\n")
    seg(t0 - us(40000), client, "PA", upgrade)
    # accept = base64(sha1(key + 258EAFA5-E914-47DA-95CA-C5AB0DC85B11))
    import base64
    import hashlib
    accept = base64.b64encode(hashlib.sha1(b"c2lwd2F0Y2gtd3MtdGVzdA==258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
    switching = (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 b"Sec-WebSocket-Accept: " + accept + b"\r\nSec-WebSocket-Protocol: sip\r\n\r\n")
    seg(t0 - us(39000), server, "PA", switching)
    for i, p in enumerate(base):
        src = p[IP].src
        data = bytes(p[UDP].payload)
        mask = None
        if src == client:
            mask = bytes([0x5a, 0x17, (i * 37) & 0xff, 0xc3])   # fixed, differs per frame
        seg(Decimal(p.time), src, "PA", ws_frame(data, mask))
    tl = Decimal(base[-1].time)
    seg(tl + us(100000), client, "FA")
    seg(tl + us(100050), server, "FA")
    seg(tl + us(100100), client, "A")
    return out


# ---- main --------------------------------------------------------------------------------
def main():
    os.makedirs(OUT, exist_ok=True)
    base = shifted_concat(read("transfer/xfer-completed-udp.pcap"), read("notfound/invite-404-udp.pcap"))
    base6 = shifted_concat(read("transfer/xfer-completed-ipv6-udp.pcap"),
                           read("notfound/invite-404-ipv6-udp.pcap"))
    tcp_base = read("transfer/xfer-completed-tcp.pcap")
    jobs = [
        ("udp-plain.pcap", v_plain, base, DLT_EN10MB),
        ("udp-ipv4-frag-in-order.pcap", v_ipv4_frag_in_order, base, DLT_EN10MB),
        ("udp-ipv4-frag-reversed.pcap", v_ipv4_frag_reversed, base, DLT_EN10MB),
        ("udp-ipv6-frag.pcap", v_ipv6_frag, base6, DLT_EN10MB),
        ("udp-vlan.pcap", v_vlan, base, DLT_EN10MB),
        ("udp-qinq.pcap", v_qinq, base, DLT_EN10MB),
        ("udp-mpls.pcap", v_mpls, base, DLT_EN10MB),
        ("udp-gre.pcap", v_gre, base, DLT_EN10MB),
        ("udp-erspan2.pcap", v_erspan2, base, DLT_EN10MB),
        ("udp-vxlan.pcap", v_vxlan, base, DLT_EN10MB),
        ("udp-ipip.pcap", v_ipip, base, DLT_EN10MB),
        ("udp-hep3.pcap", lambda b: v_hep(b, hep3), base, DLT_EN10MB),
        ("udp-hep2.pcap", lambda b: v_hep(b, hep2), base, DLT_EN10MB),
        ("udp-linux-sll.pcap", v_sll, base, DLT_LINUX_SLL),
        ("udp-linux-sll2.pcap", v_sll2, base, DLT_LINUX_SLL2),
        ("websocket-sip.pcap", v_websocket, base, DLT_EN10MB),
        ("tcp-segments40-reordered-dup.pcap", v_tcp_segments40_reordered_dup, tcp_base, DLT_EN10MB),
        ("tcp-two-messages-one-segment.pcap", v_tcp_two_messages_one_segment, tcp_base, DLT_EN10MB),
        ("tcp-midstream.pcap", v_tcp_midstream, tcp_base, DLT_EN10MB),
        ("tcp-lost-segment.pcap", v_tcp_lost_segment, tcp_base, DLT_EN10MB),
    ]
    only = set(a.replace(".pcap", "") for a in sys.argv[1:])
    for name, fn, src, lt in jobs:
        if only and name.replace(".pcap", "") not in only:
            continue
        write(name, fn(src), lt)
    if not only or "udp-pcapng" in only:
        # the plain UDP conversation as pcapng (editcap writes SHB, IDB and EPBs)
        subprocess.run(["editcap", "-F", "pcapng", os.path.join(OUT, "udp-plain.pcap"),
                        os.path.join(OUT, "udp-pcapng.pcapng")], check=True)
        print("wire/udp-pcapng.pcapng (pcapng copy of udp-plain.pcap)", file=sys.stderr)


if __name__ == "__main__":
    main()
