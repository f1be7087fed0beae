/*
 * hep.c - HEP v2 and v3 records (sipcapture's Homer Encapsulation Protocol,
 * HEP3 rev 12): the copy of a SIP message that capture agents (heplify,
 * captagent, Kamailio/OpenSIPS siptrace) send with the original tuple and
 * capture time.
 *
 * v3: "HEP3", total length (16 bits, whole record), then chunks of
 * vendor(16) type(16) length(16, including these 6 bytes). Only vendor 0
 * (generic) chunks are read; unknown ones are skipped. Compressed payloads
 * (0x0010) are inflated (zlib or gzip) into the decoder's 64 KiB buffer.
 * v2 (and v1, the same without a time block): version(8) header length(8)
 * family(8) protocol(8) sport(16) dport(16), the addresses (2 x 4 or 2 x 16),
 * then for v2 a 12-byte time block: tv_sec(32) tv_usec(32) capture id(16) and
 * 2 bytes of struct padding. Agents copy the time fields in host order
 * without htonl, and every known agent ran on little-endian hosts, so they
 * are read little-endian; the rest of the payload is the SIP message.
 *
 * Keeps the capture id (v3 chunk 0x000c, v2's 16-bit id) and, for a
 * UDP-carried record, the outer source as the agent's address, so events can
 * say which agent saw them. Does not check HEP auth keys (0x000e), nor keep
 * correlation ids.
 */
#include "hep.h"

#include <string.h>

#include "sipwatch/cursor.h"

static enum decode_result hep_fail(struct decode_ctx *c, enum decode_result r)
{
    return decode_fail(c, DL_HEP, r);
}

static enum sw_transport hep_transport(uint8_t proto)
{
    switch (proto) {
    case 17:
        return SW_TRANSPORT_UDP;
    case 6:
        return SW_TRANSPORT_TCP;
    case 132:
        return SW_TRANSPORT_SCTP;
    default:
        return SW_TRANSPORT_UNKNOWN;
    }
}

static bool is_af_inet6(uint8_t af)
{
    return af == 10 || af == 24 || af == 28 || af == 30; /* Linux, BSDs, macOS */
}

/* Inflates a zlib or gzip payload into d->hep_buf; false if it is corrupt,
 * cut short or over DECODE_HEP_INFLATE_MAX. */
static bool hep_inflate(struct decode *d, struct sw_bytes in, struct sw_bytes *out)
{
    z_stream *zs = &d->zs;
    if (inflateReset(zs) != Z_OK)
        return false;
    zs->next_in = in.p;
    zs->avail_in = (uInt)in.n;
    zs->next_out = d->hep_buf;
    zs->avail_out = (uInt)sizeof d->hep_buf;
    if (inflate(zs, Z_FINISH) != Z_STREAM_END)
        return false;
    *out = sw_bytes_make(d->hep_buf, sizeof d->hep_buf - zs->avail_out);
    return true;
}

struct hep_fields {
    uint8_t family, proto, ptype;
    bool have_ptype, have_sec, have_v4src, have_v4dst, have_v6src, have_v6dst;
    uint8_t v4src[4], v4dst[4], v6src[16], v6dst[16];
    uint16_t sport, dport;
    uint32_t sec, usec, capture_id;
    struct sw_bytes payload, zpayload;
    bool have_payload, have_zpayload;
};

/* Fixed-size generic chunks: the exact body size each must have (0 = any). */
static size_t chunk_size(uint16_t type)
{
    switch (type) {
    case 0x0001:
    case 0x0002:
    case 0x000b:
        return 1;
    case 0x0003:
    case 0x0004:
    case 0x0009:
    case 0x000a:
    case 0x000c:
        return 4;
    case 0x0005:
    case 0x0006:
        return 16;
    case 0x0007:
    case 0x0008:
        return 2;
    default:
        return 0;
    }
}

static void chunk_read(struct hep_fields *f, uint16_t type, struct sw_bytes v)
{
    struct cur k = cur_from(v);
    switch (type) {
    case 0x0001:
        f->family = v.p[0];
        break;
    case 0x0002:
        f->proto = v.p[0];
        break;
    case 0x0003:
        memcpy(f->v4src, v.p, 4);
        f->have_v4src = true;
        break;
    case 0x0004:
        memcpy(f->v4dst, v.p, 4);
        f->have_v4dst = true;
        break;
    case 0x0005:
        memcpy(f->v6src, v.p, 16);
        f->have_v6src = true;
        break;
    case 0x0006:
        memcpy(f->v6dst, v.p, 16);
        f->have_v6dst = true;
        break;
    case 0x0007:
        f->sport = cur_be16(&k);
        break;
    case 0x0008:
        f->dport = cur_be16(&k);
        break;
    case 0x0009:
        f->sec = cur_be32(&k);
        f->have_sec = true;
        break;
    case 0x000a:
        f->usec = cur_be32(&k);
        break;
    case 0x000c:
        f->capture_id = cur_be32(&k);
        break;
    case 0x000b:
        f->ptype = v.p[0];
        f->have_ptype = true;
        break;
    case 0x000f:
        f->payload = v;
        f->have_payload = true;
        break;
    case 0x0010:
        f->zpayload = v;
        f->have_zpayload = true;
        break;
    default: /* auth key, correlation id, vlan, node name, ... */
        break;
    }
}

static void set_addr(struct sw_addr *a, uint8_t family, const uint8_t *p)
{
    memset(a, 0, sizeof *a);
    a->family = family;
    memcpy(a->a, p, family == 4 ? 4 : 16);
}

/* The record's own fields replace the outer tuple: keep that tuple's source
 * (set by decode_udp for a UDP-carried record, zero otherwise) as the agent. */
static void hep_stamp(struct decode_packet *pkt, uint32_t capture_id)
{
    pkt->hep_agent = pkt->tuple.src;
    pkt->hep_agent_port = pkt->tuple.sport;
    pkt->hep_capture_id = capture_id;
    pkt->from_hep = true;
}

static enum decode_result hep_v3(struct decode_ctx *c, struct sw_bytes rec)
{
    struct cur k = cur_from(rec);
    cur_skip(&k, 4); /* "HEP3" */
    size_t total = cur_be16(&k);
    if (!cur_ok(&k))
        return hep_fail(c, DECODE_TRUNCATED);
    if (total < 6)
        return hep_fail(c, DECODE_INVALID);
    if (total > rec.n)
        return hep_fail(c, DECODE_TRUNCATED);
    k.n = total - 6; /* bytes after the record (UDP padding, junk) are not chunks */

    struct hep_fields f;
    memset(&f, 0, sizeof f);
    while (cur_left(&k) > 0) {
        uint16_t vendor = cur_be16(&k);
        uint16_t type = cur_be16(&k);
        size_t len = cur_be16(&k);
        if (!cur_ok(&k) || len < 6 || len - 6 > cur_left(&k))
            return hep_fail(c, DECODE_INVALID); /* the chunk runs past the record */
        struct sw_bytes body = cur_bytes(&k, len - 6);
        if (vendor != 0)
            continue;
        size_t want = chunk_size(type);
        if (want != 0 && body.n != want)
            return hep_fail(c, DECODE_INVALID);
        chunk_read(&f, type, body);
    }
    /* Without a protocol type chunk, assume SIP: older agents omit it. */
    if (f.have_ptype && f.ptype != 1) {
        c->d->st.hep_not_sip++;
        return DECODE_SKIP;
    }
    struct sw_bytes payload = f.payload;
    if (!f.have_payload && f.have_zpayload) {
        c->d->st.hep_compressed++;
        if (!hep_inflate(c->d, f.zpayload, &payload))
            return hep_fail(c, DECODE_INVALID);
    } else if (!f.have_payload) {
        return hep_fail(c, DECODE_INVALID);
    }

    hep_stamp(c->pkt, f.capture_id);
    struct sw_tuple *tu = &c->pkt->tuple;
    memset(tu, 0, sizeof *tu);
    bool v6 = is_af_inet6(f.family) || (f.family != 2 && !f.have_v4src && f.have_v6src);
    if (v6) {
        if (f.have_v6src)
            set_addr(&tu->src, 6, f.v6src);
        if (f.have_v6dst)
            set_addr(&tu->dst, 6, f.v6dst);
    } else {
        if (f.have_v4src)
            set_addr(&tu->src, 4, f.v4src);
        if (f.have_v4dst)
            set_addr(&tu->dst, 4, f.v4dst);
    }
    tu->sport = f.sport;
    tu->dport = f.dport;
    tu->transport = (uint8_t)hep_transport(f.proto);
    if (f.have_sec)
        c->pkt->ts = (sw_time)f.sec * SW_USEC_PER_SEC + (sw_time)f.usec;
    c->pkt->payload = payload;
    c->pkt->from_hep = true;
    c->pkt->tcp_seq = 0;
    c->pkt->tcp_flags = 0;
    return DECODE_OK;
}

static enum decode_result hep_v2(struct decode_ctx *c, struct sw_bytes rec)
{
    struct cur k = cur_from(rec);
    uint8_t version = cur_u8(&k);
    cur_skip(&k, 1); /* header length: agents disagree on what it counts */
    uint8_t family = cur_u8(&k);
    uint8_t proto = cur_u8(&k);
    uint16_t sport = cur_be16(&k);
    uint16_t dport = cur_be16(&k);
    if (!cur_ok(&k))
        return hep_fail(c, DECODE_TRUNCATED);
    uint8_t fam;
    if (family == 2)
        fam = 4;
    else if (is_af_inet6(family))
        fam = 6;
    else
        return hep_fail(c, DECODE_INVALID);
    size_t alen = fam == 4 ? 4 : 16;
    const uint8_t *addrs = k.p;
    cur_skip(&k, 2 * alen);
    uint32_t sec = 0, usec = 0, capture_id = 0;
    if (version == 2) {
        sec = cur_le32(&k);
        usec = cur_le32(&k);
        capture_id = cur_le16(&k); /* host order too, like the time */
        cur_skip(&k, 2);           /* padding */
    }
    if (!cur_ok(&k))
        return hep_fail(c, DECODE_TRUNCATED);

    hep_stamp(c->pkt, capture_id);
    struct sw_tuple *tu = &c->pkt->tuple;
    memset(tu, 0, sizeof *tu);
    set_addr(&tu->src, fam, addrs);
    set_addr(&tu->dst, fam, addrs + alen);
    tu->sport = sport;
    tu->dport = dport;
    tu->transport = (uint8_t)hep_transport(proto);
    if (version == 2)
        c->pkt->ts = (sw_time)sec * SW_USEC_PER_SEC + (sw_time)usec;
    c->pkt->payload = cur_rest(&k);
    c->pkt->from_hep = true;
    c->pkt->tcp_seq = 0;
    c->pkt->tcp_flags = 0;
    return DECODE_OK;
}

enum decode_result hep_decode(struct decode_ctx *c, struct sw_bytes rec)
{
    c->d->st.hep_packets++;
    if (rec.n >= 4 && memcmp(rec.p, "HEP3", 4) == 0)
        return hep_v3(c, rec);
    if (rec.n >= 1 && (rec.p[0] == 1 || rec.p[0] == 2))
        return hep_v2(c, rec);
    if (rec.n == 0)
        return hep_fail(c, DECODE_TRUNCATED);
    return hep_fail(c, DECODE_INVALID);
}

int hep_frame(struct sw_bytes head, size_t *len)
{
    /* Only v3 carries a record length; v1/v2 cannot be cut from a stream. */
    size_t n = SW_MIN(head.n, (size_t)4);
    if (n == 0)
        return 0;
    if (memcmp(head.p, "HEP3", n) != 0)
        return -1;
    if (head.n < 6)
        return 0;
    size_t total = ((size_t)head.p[4] << 8) | head.p[5];
    if (total < 6)
        return -1;
    if (head.n < total)
        return 0;
    *len = total;
    return 1;
}
