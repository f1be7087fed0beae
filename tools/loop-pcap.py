#!/usr/bin/env python3
"""loop-pcap.py - a longer capture from a short one, for soak runs: N copies
of a classic pcap one after the other (each shifted by the capture's duration
plus a second), where copy k > 0 has the first byte of every Call-ID header
value replaced by a letter of its own, so that no dialog repeats (replaying
one file in a loop would bring every Call-ID back, which the evidence store
rightly takes for a Call-ID it evicted earlier).

    tools/loop-pcap.py IN.pcap OUT.pcap N

Lengths do not change (checksums are left stale: sipwatch does not check
them, nor does tcpreplay). A Call-ID header split across TCP segments keeps
its value in that copy. Used by tools/live-run.py --copies.
"""
import re
import struct
import sys

CALL_ID = re.compile(rb"(?:\r\n|\n)(?:Call-ID|i)[ \t]*:[ \t]*", re.IGNORECASE)
LETTERS = b"QRSTUVWXYZ"


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__.split("\n\n")[1])
    src, dst, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if not 1 <= n <= len(LETTERS) + 1:
        sys.exit(f"loop-pcap: N must be 1..{len(LETTERS) + 1}")
    data = open(src, "rb").read()
    magic = struct.unpack_from("<I", data, 0)[0]
    if magic not in (0xA1B2C3D4, 0xA1B23C4D):
        sys.exit("loop-pcap: a little-endian classic pcap is needed (editcap -F pcap converts)")
    nano = magic == 0xA1B23C4D
    scale = 1_000_000_000 if nano else 1_000_000
    recs, pos = [], 24
    while pos + 16 <= len(data):
        sec, frac, caplen, origlen = struct.unpack_from("<IIII", data, pos)
        recs.append((sec * scale + frac, data[pos + 16:pos + 16 + caplen], origlen))
        pos += 16 + caplen
    if not recs:
        sys.exit("loop-pcap: no records")
    span = recs[-1][0] - recs[0][0] + scale
    with open(dst, "wb") as out:
        out.write(data[:24])
        for k in range(n):
            shift = k * span
            for t, frame, origlen in recs:
                if k > 0:
                    b = bytearray(frame)
                    for m in CALL_ID.finditer(frame):
                        if m.end() < len(b):
                            b[m.end()] = LETTERS[k - 1]
                    frame = bytes(b)
                t += shift
                out.write(struct.pack("<IIII", t // scale, t % scale, len(frame), origlen))
                out.write(frame)
    print(f"loop-pcap: {len(recs) * n} records, {n} copies of {span / scale:.1f} s")


if __name__ == "__main__":
    main()
