"""hepwire.py - pcap helpers for the HEP tests, in plain Python (no scapy): read the
records of a HEP capture, write them back on other UDP ports or as a TCP stream, and send
them to a collector. Ethernet + IPv4 only (what pcaps/wire/udp-hep*.pcap are)."""
import socket
import struct


def read_pcap(path):
    """[(ts_sec, ts_usec, frame bytes)] and the link type of a classic little-endian pcap."""
    b = open(path, "rb").read()
    magic, = struct.unpack("<I", b[:4])
    assert magic == 0xa1b2c3d4, "little-endian microsecond pcap expected"
    linktype, = struct.unpack("<I", b[20:24])
    out, off = [], 24
    while off + 16 <= len(b):
        sec, usec, incl, _ = struct.unpack("<IIII", b[off:off + 16])
        out.append((sec, usec, b[off + 16:off + 16 + incl]))
        off += 16 + incl
    return out, linktype


def write_pcap(path, frames, linktype=1):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 262144, linktype))
        for sec, usec, data in frames:
            f.write(struct.pack("<IIII", sec, usec, len(data), len(data)))
            f.write(data)


def udp_payloads(frames):
    """[(sec, usec, src ip bytes, dst ip bytes, sport, dport, payload)] of Ethernet/IPv4/UDP frames."""
    out = []
    for sec, usec, d in frames:
        if d[12:14] != b"\x08\x00":
            continue
        ip = d[14:]
        ihl = (ip[0] & 15) * 4
        if ip[9] != 17:
            continue
        total, = struct.unpack(">H", ip[2:4])
        udp = ip[ihl:total]
        sport, dport, ulen = struct.unpack(">HHH", udp[:6])
        out.append((sec, usec, ip[12:16], ip[16:20], sport, dport, udp[8:ulen]))
    return out


def _csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(">%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff


def _ipv4(src, dst, proto, payload, ident):
    h = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, 0x4000, 64, proto, 0,
                    src, dst)
    h = h[:10] + struct.pack(">H", _csum(h)) + h[12:]
    return b"\0" * 12 + b"\x08\x00" + h + payload


def udp_frame(src, dst, sport, dport, payload, ident=1):
    udp = struct.pack(">HHHH", sport, dport, 8 + len(payload), 0) + payload
    return _ipv4(src, dst, 17, udp, ident)


def tcp_frame(src, dst, sport, dport, seq, payload, flags=0x18, ident=1):
    tcp = struct.pack(">HHIIBBHHH", sport, dport, seq, 1, 5 << 4, flags, 65535, 0, 0) + payload
    return _ipv4(src, dst, 6, tcp, ident)


def rewrite_udp_ports(frames, port):
    """The frames with the HEP side's port (9060) replaced by `port` (checksum zeroed)."""
    out = []
    for i, (sec, usec, src, dst, sport, dport, payload) in enumerate(udp_payloads(frames)):
        sp = port if sport == 9060 else sport
        dp = port if dport == 9060 else dport
        out.append((sec, usec, udp_frame(src, dst, sp, dp, payload, i + 1)))
    return out


def tcp_stream(frames, dport, split=7):
    """All HEP records of `frames` as one TCP connection to dport (SYN first), cut into
    segments at `split`-byte-odd boundaries so records straddle segments."""
    pl = udp_payloads(frames)
    src, dst = pl[0][2], pl[0][3]
    data = b"".join(p[6] for p in pl)
    out = []
    seq = 1000
    sec, usec = pl[0][0], pl[0][1]
    out.append((sec, usec, tcp_frame(src, dst, 40001, dport, seq, b"", flags=0x02)))
    seq += 1
    off, i = 0, 0
    sizes = [split, 1400, 3, 900, 2, 1460]
    while off < len(data):
        n = sizes[i % len(sizes)]
        # keep each record's time: the segment takes the time of the record it ends in
        k = min(len(data), off + n)
        idx = 0
        acc = 0
        for j, p in enumerate(pl):
            acc += len(p[6])
            if acc >= k:
                idx = j
                break
        out.append((pl[idx][0], pl[idx][1], tcp_frame(src, dst, 40001, dport, seq,
                                                       data[off:k], ident=i + 2)))
        seq += k - off
        off = k
        i += 1
    return out


def send_udp(records, host, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for r in records:
        s.sendto(r, (host, port))
    s.close()


def send_tcp(records, host, port, chunk=5):
    """One connection; the stream cut into odd chunks so records straddle reads."""
    s = socket.create_connection((host, port))
    data = b"".join(records)
    sizes = [chunk, 1000, 1, 3000, 17]
    off, i = 0, 0
    while off < len(data):
        n = sizes[i % len(sizes)]
        s.sendall(data[off:off + n])
        off += n
        i += 1
    return s
