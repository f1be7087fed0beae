/*
 * decode_link.c - link layers: BSD/Linux loopback (DLT_NULL, DLT_LOOP), raw
 * IP, Ethernet II (802.1Q / 802.1ad / 0x9100 tags, QinQ), MPLS label stacks
 * (RFC 3032), PPPoE sessions (RFC 2516), PPP (RFC 1661, RFC 1662 address and
 * control bytes, protocol field compression), Linux cooked v1 and v2.
 *
 * Does not handle 802.3/LLC/SNAP frames, PPPoE discovery, MPLS pseudowires
 * (RFC 4385 control word): those are counted as not IP.
 */
#include "decode_int.h"

#include "sipwatch/cursor.h"

enum decode_result decode_link_ether(struct decode_ctx *c, struct sw_bytes b)
{
    struct cur k = cur_from(b);
    cur_skip(&k, 12); /* destination and source MAC */
    uint16_t type = cur_be16(&k);
    if (!cur_ok(&k))
        return decode_fail(c, DL_LINK, DECODE_TRUNCATED);
    if (type < 0x0600) { /* 802.3 length: LLC follows */
        c->d->st.not_ip++;
        return DECODE_SKIP;
    }
    return decode_link_ethertype(c, type, cur_rest(&k));
}

static enum decode_result decode_mpls(struct decode_ctx *c, struct sw_bytes b)
{
    struct cur k = cur_from(b);
    c->d->st.mpls++;
    for (unsigned i = 0;; i++) {
        if (i == DECODE_MAX_MPLS)
            return decode_fail(c, DL_LINK, DECODE_INVALID);
        uint32_t lse = cur_be32(&k);
        if (!cur_ok(&k))
            return decode_fail(c, DL_LINK, DECODE_TRUNCATED);
        if (lse & 0x100) /* bottom of stack */
            break;
    }
    struct sw_bytes rest = cur_rest(&k);
    if (rest.n == 0)
        return decode_fail(c, DL_LINK, DECODE_TRUNCATED);
    unsigned v = rest.p[0] >> 4;
    if (v != 4 && v != 6) { /* pseudowire, control word or unknown payload */
        c->d->st.not_ip++;
        return DECODE_SKIP;
    }
    return decode_ip_any(c, rest, DL_LINK);
}

static enum decode_result decode_pppoe(struct decode_ctx *c, struct sw_bytes b)
{
    struct cur k = cur_from(b);
    uint8_t vt = cur_u8(&k);
    uint8_t code = cur_u8(&k);
    cur_skip(&k, 2); /* session id */
    uint16_t len = cur_be16(&k);
    if (!cur_ok(&k))
        return decode_fail(c, DL_LINK, DECODE_TRUNCATED);
    if (vt != 0x11 || code != 0)
        return decode_fail(c, DL_LINK, DECODE_INVALID);
    if (len > cur_left(&k))
        return decode_fail(c, DL_LINK, DECODE_TRUNCATED);
    c->d->st.pppoe++;
    /* `len` covers the PPP protocol field and payload: drops Ethernet padding. */
    return decode_link_ppp(c, sw_bytes_make(k.p, len));
}

enum decode_result decode_link_ppp(struct decode_ctx *c, struct sw_bytes b)
{
    struct cur k = cur_from(b);
    if (b.n >= 1 && b.p[0] == 0xff) { /* RFC 1662 address and control */
        cur_skip(&k, 1);
        if (cur_u8(&k) != 0x03 && cur_ok(&k))
            return decode_fail(c, DL_LINK, DECODE_INVALID);
    }
    uint16_t proto = cur_u8(&k);
    if (cur_ok(&k) && (proto & 1) == 0) /* not compressed: a second byte follows */
        proto = (uint16_t)((proto << 8) | cur_u8(&k));
    if (!cur_ok(&k))
        return decode_fail(c, DL_LINK, DECODE_TRUNCATED);
    switch (proto) {
    case 0x0021:
        return decode_ip_v4(c, cur_rest(&k));
    case 0x0057:
        return decode_ip_v6(c, cur_rest(&k));
    case 0x0281: /* MPLS unicast */
        return decode_mpls(c, cur_rest(&k));
    default: /* LCP, IPCP, CCP, ... */
        c->d->st.not_ip++;
        return DECODE_SKIP;
    }
}

enum decode_result decode_link_ethertype(struct decode_ctx *c, uint16_t type, struct sw_bytes b)
{
    struct cur k = cur_from(b);
    for (unsigned tags = 0; type == 0x8100 || type == 0x88a8 || type == 0x9100; tags++) {
        if (tags == DECODE_MAX_VLAN)
            return decode_fail(c, DL_LINK, DECODE_INVALID);
        cur_skip(&k, 2); /* PCP, DEI, VLAN id */
        type = cur_be16(&k);
        if (!cur_ok(&k))
            return decode_fail(c, DL_LINK, DECODE_TRUNCATED);
        c->d->st.vlan++;
    }
    struct sw_bytes rest = cur_rest(&k);
    switch (type) {
    case 0x0800:
        return decode_ip_v4(c, rest);
    case 0x86dd:
        return decode_ip_v6(c, rest);
    case 0x8847:
    case 0x8848:
        return decode_mpls(c, rest);
    case 0x8864:
        return decode_pppoe(c, rest);
    default: /* ARP, LLDP, PPPoE discovery, ... */
        c->d->st.not_ip++;
        return DECODE_SKIP;
    }
}

/* DLT_NULL's family is in the capturing host's byte order; the value is
 * small, so a non-zero upper half means the other order (as libpcap does). */
static enum decode_result decode_null(struct decode_ctx *c, struct sw_bytes b, bool network_order)
{
    struct cur k = cur_from(b);
    uint32_t fam = network_order ? cur_be32(&k) : cur_le32(&k);
    if (!cur_ok(&k))
        return decode_fail(c, DL_LINK, DECODE_TRUNCATED);
    if (!network_order && (fam & 0xffff0000u) != 0)
        fam = ((fam & 0xff) << 24) | ((fam & 0xff00) << 8) | ((fam >> 8) & 0xff00) | (fam >> 24);
    switch (fam) {
    case 2:
        return decode_ip_v4(c, cur_rest(&k));
    case 10: /* Linux */
    case 24: /* NetBSD, OpenBSD, BSD/OS */
    case 28: /* FreeBSD, DragonFly */
    case 30: /* macOS */
        return decode_ip_v6(c, cur_rest(&k));
    default:
        c->d->st.not_ip++;
        return DECODE_SKIP;
    }
}

static enum decode_result decode_sll(struct decode_ctx *c, struct sw_bytes b)
{
    struct cur k = cur_from(b);
    cur_skip(&k, 14); /* packet type, ARPHRD, address length, address */
    uint16_t proto = cur_be16(&k);
    if (!cur_ok(&k))
        return decode_fail(c, DL_LINK, DECODE_TRUNCATED);
    return decode_link_ethertype(c, proto, cur_rest(&k));
}

static enum decode_result decode_sll2(struct decode_ctx *c, struct sw_bytes b)
{
    struct cur k = cur_from(b);
    uint16_t proto = cur_be16(&k);
    cur_skip(&k, 18); /* reserved, ifindex, ARPHRD, type, address length, address */
    if (!cur_ok(&k))
        return decode_fail(c, DL_LINK, DECODE_TRUNCATED);
    return decode_link_ethertype(c, proto, cur_rest(&k));
}

static enum decode_result decode_ip_only(struct decode_ctx *c, struct sw_bytes b, unsigned v)
{
    if (b.n == 0)
        return decode_fail(c, DL_LINK, DECODE_TRUNCATED);
    if ((unsigned)(b.p[0] >> 4) != v)
        return decode_fail(c, DL_LINK, DECODE_INVALID);
    return v == 4 ? decode_ip_v4(c, b) : decode_ip_v6(c, b);
}

enum decode_result decode_link(struct decode_ctx *c, int linktype, struct sw_bytes b)
{
    switch (linktype) {
    case 0:
        return decode_null(c, b, false);
    case 108:
        return decode_null(c, b, true);
    case 1:
        return decode_link_ether(c, b);
    case 9:
        return decode_link_ppp(c, b);
    case 12:
    case 14:
    case 101:
        return decode_ip_any(c, b, DL_LINK);
    case 113:
        return decode_sll(c, b);
    case 276:
        return decode_sll2(c, b);
    case 228:
        return decode_ip_only(c, b, 4);
    case 229:
        return decode_ip_only(c, b, 6);
    default:
        /* decode_frame checked decode_linktype_supported(): keep both lists equal */
        SW_ASSERT(false);
        c->d->st.linktype_unsupported++;
        return DECODE_SKIP;
    }
}
