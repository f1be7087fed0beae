/*
 * decode_tunnel.c - tunnels carrying the SIP we look for: GRE (RFC 2784,
 * RFC 2890 key and sequence), PPTP enhanced GRE (RFC 2637 §4.1), transparent
 * Ethernet bridging (0x6558), ERSPAN type I/II/III (draft-foschiano-erspan),
 * VXLAN (RFC 7348) and GTP-U v1 (3GPP TS 29.281). IP-in-IP is in decode_ip.c.
 *
 * Each tunnel costs one level of cfg.max_depth; deeper nesting is skipped and
 * counted (tunnel_too_deep), so a frame of nested headers cannot recurse far.
 * Does not handle GRE source routing (RFC 1701 R bit), VXLAN-GPE, or GTP-U
 * signalling messages (echo, error indication, end marker): counted as
 * tunnel_other_skipped.
 */
#include "decode_int.h"

#include "sipwatch/cursor.h"

static enum decode_result tunnel_other(struct decode_ctx *c)
{
    c->d->st.tunnel_other++;
    return DECODE_SKIP;
}

/* ERSPAN type II: ver(4)=1 vlan(12) cos(3) en(2) t(1) session(10) reserved(12) index(20). */
static enum decode_result decode_erspan2(struct decode_ctx *c, struct sw_bytes b)
{
    struct cur k = cur_from(b);
    uint8_t ver = cur_u8(&k) >> 4;
    cur_skip(&k, 7);
    if (!cur_ok(&k))
        return decode_fail(c, DL_TUNNEL, DECODE_TRUNCATED);
    if (ver != 1)
        return decode_fail(c, DL_TUNNEL, DECODE_INVALID);
    return decode_link_ether(c, cur_rest(&k));
}

/* ERSPAN type III: ver(4)=2 vlan(12) cos(3) bso(2) t(1) session(10),
 * timestamp(32), sgt(16) p(1) ft(5) hw(6) d(1) gra(2) o(1), then with O set an
 * 8-byte platform-specific subheader. ft 0 is Ethernet, 2 is IP. */
static enum decode_result decode_erspan3(struct decode_ctx *c, struct sw_bytes b)
{
    struct cur k = cur_from(b);
    uint8_t ver = cur_u8(&k) >> 4;
    cur_skip(&k, 9);
    uint8_t b10 = cur_u8(&k);
    uint8_t b11 = cur_u8(&k);
    if (!cur_ok(&k))
        return decode_fail(c, DL_TUNNEL, DECODE_TRUNCATED);
    if (ver != 2)
        return decode_fail(c, DL_TUNNEL, DECODE_INVALID);
    if (b11 & 0x01) {
        cur_skip(&k, 8);
        if (!cur_ok(&k))
            return decode_fail(c, DL_TUNNEL, DECODE_TRUNCATED);
    }
    unsigned ft = (b10 >> 2) & 0x1f;
    if (ft == 0)
        return decode_link_ether(c, cur_rest(&k));
    if (ft == 2)
        return decode_ip_any(c, cur_rest(&k), DL_TUNNEL);
    return tunnel_other(c);
}

/* PPTP's enhanced GRE: key (payload length, call id) always, sequence and
 * acknowledgement optional, payload PPP. */
static enum decode_result decode_gre_v1(struct decode_ctx *c, uint16_t fv, uint16_t proto,
                                        struct cur k)
{
    if (proto != 0x880b || (fv & 0x2000) == 0 || (fv & 0xc000) != 0)
        return decode_fail(c, DL_TUNNEL, DECODE_INVALID);
    size_t plen = cur_be16(&k);
    cur_skip(&k, 2); /* call id */
    if (fv & 0x1000)
        cur_skip(&k, 4); /* sequence */
    if (fv & 0x0080)
        cur_skip(&k, 4); /* acknowledgement */
    if (!cur_ok(&k))
        return decode_fail(c, DL_TUNNEL, DECODE_TRUNCATED);
    if (plen > cur_left(&k))
        return decode_fail(c, DL_TUNNEL, DECODE_TRUNCATED);
    if (plen == 0) /* an acknowledgement alone */
        return tunnel_other(c);
    return decode_link_ppp(c, sw_bytes_make(k.p, plen));
}

enum decode_result decode_tunnel_gre(struct decode_ctx *c, struct sw_bytes b)
{
    struct cur k = cur_from(b);
    uint16_t fv = cur_be16(&k);
    uint16_t proto = cur_be16(&k);
    if (!cur_ok(&k))
        return decode_fail(c, DL_TUNNEL, DECODE_TRUNCATED);
    if (!decode_tunnel_enter(c))
        return DECODE_SKIP;
    c->d->st.gre++;
    unsigned ver = fv & 7;
    if (ver == 1)
        return decode_gre_v1(c, fv, proto, k);
    if (ver != 0 || (fv & 0x4000) != 0) /* unknown version, or RFC 1701 routing */
        return tunnel_other(c);
    if (fv & 0x8000)
        cur_skip(&k, 4); /* checksum, reserved1 */
    if (fv & 0x2000)
        cur_skip(&k, 4); /* key */
    bool seq = (fv & 0x1000) != 0;
    if (seq)
        cur_skip(&k, 4);
    if (!cur_ok(&k))
        return decode_fail(c, DL_TUNNEL, DECODE_TRUNCATED);
    struct sw_bytes rest = cur_rest(&k);
    switch (proto) {
    case 0x6558: /* transparent Ethernet bridging */
        return decode_link_ether(c, rest);
    case 0x88be:
        c->d->st.erspan++;
        /* Type I has no sequence number and no ERSPAN header (Wireshark
         * tells the two apart the same way). */
        return seq ? decode_erspan2(c, rest) : decode_link_ether(c, rest);
    case 0x22eb:
        c->d->st.erspan++;
        return decode_erspan3(c, rest);
    case 0x880b:
        return decode_link_ppp(c, rest);
    default: /* IPv4, IPv6, MPLS, or not IP */
        return decode_link_ethertype(c, proto, rest);
    }
}

enum decode_result decode_tunnel_vxlan(struct decode_ctx *c, struct sw_bytes b)
{
    struct cur k = cur_from(b);
    uint8_t flags = cur_u8(&k);
    cur_skip(&k, 7); /* reserved, VNI, reserved */
    if (!cur_ok(&k))
        return decode_fail(c, DL_TUNNEL, DECODE_TRUNCATED);
    if ((flags & 0x08) == 0) /* the I flag: a valid VNI */
        return decode_fail(c, DL_TUNNEL, DECODE_INVALID);
    if (!decode_tunnel_enter(c))
        return DECODE_SKIP;
    c->d->st.vxlan++;
    return decode_link_ether(c, cur_rest(&k));
}

enum decode_result decode_tunnel_gtpu(struct decode_ctx *c, struct sw_bytes b)
{
    struct cur k = cur_from(b);
    uint8_t flags = cur_u8(&k);
    uint8_t type = cur_u8(&k);
    size_t len = cur_be16(&k);
    cur_skip(&k, 4); /* TEID */
    if (!cur_ok(&k))
        return decode_fail(c, DL_TUNNEL, DECODE_TRUNCATED);
    if ((flags >> 5) != 1 || (flags & 0x10) == 0) /* version 1, GTP (not GTP') */
        return decode_fail(c, DL_TUNNEL, DECODE_INVALID);
    if (len > cur_left(&k))
        return decode_fail(c, DL_TUNNEL, DECODE_TRUNCATED);
    k.n = len; /* the length counts the optional fields too: drops padding */
    if (flags & 0x07) {
        cur_skip(&k, 3); /* sequence number, N-PDU number */
        uint8_t next = cur_u8(&k);
        if (!cur_ok(&k))
            return decode_fail(c, DL_TUNNEL, DECODE_TRUNCATED);
        /* The next-extension type only means something with the E flag. */
        for (unsigned i = 0; (flags & 0x04) && next != 0; i++) {
            if (i == DECODE_MAX_GTP_EXT)
                return decode_fail(c, DL_TUNNEL, DECODE_INVALID);
            size_t units = cur_u8(&k);
            if (cur_ok(&k) && units == 0)
                return decode_fail(c, DL_TUNNEL, DECODE_INVALID);
            cur_skip(&k, units * 4 - 2);
            next = cur_u8(&k);
            if (!cur_ok(&k))
                return decode_fail(c, DL_TUNNEL, DECODE_TRUNCATED);
        }
    }
    if (type != 255) /* not a G-PDU: signalling */
        return tunnel_other(c);
    if (!decode_tunnel_enter(c))
        return DECODE_SKIP;
    c->d->st.gtpu++;
    return decode_ip_any(c, cur_rest(&k), DL_TUNNEL);
}
