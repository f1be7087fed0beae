/*
 * decode_ip.c - IPv4 (RFC 791), IPv6 and its extension headers (RFC 8200:
 * hop-by-hop, routing, destination options, fragment; AH per RFC 4302), UDP
 * (RFC 768), TCP (RFC 9293) and the L4 dispatch to tunnels and HEP.
 *
 * Lengths are checked in one order: minimum header, declared >= header,
 * captured >= declared; the payload is then cut to the declared length, which
 * drops Ethernet padding. Fragments stop here (DECODE_FRAGMENT) for ipfrag.
 * Checksums are not verified: offloading makes them wrong in most captures
 * taken on the sending host. SCTP and ICMP are skipped and counted: SIP quoted
 * inside an ICMP error is not a message that was delivered.
 */
#include "decode_int.h"

#include <string.h>

#include "hep.h"
#include "sipwatch/cursor.h"

enum decode_result decode_ip_any(struct decode_ctx *c, struct sw_bytes b, enum decode_layer layer)
{
    if (b.n == 0)
        return decode_fail(c, layer, DECODE_TRUNCATED);
    switch (b.p[0] >> 4) {
    case 4:
        return decode_ip_v4(c, b);
    case 6:
        return decode_ip_v6(c, b);
    default:
        return decode_fail(c, layer, DECODE_INVALID);
    }
}

static void set_addr(struct sw_addr *a, uint8_t family, const uint8_t *p)
{
    memset(a, 0, sizeof *a);
    a->family = family;
    memcpy(a->a, p, family == 4 ? 4 : 16);
}

static enum decode_result fragment(struct decode_ctx *c, const struct decode_ip *ip,
                                   struct sw_bytes data)
{
    c->pkt->frag = *ip;
    c->pkt->payload = data;
    c->d->st.fragments++;
    return DECODE_FRAGMENT;
}

enum decode_result decode_ip_v4(struct decode_ctx *c, struct sw_bytes b)
{
    struct cur k = cur_from(b);
    uint8_t vihl = cur_u8(&k);
    cur_skip(&k, 1); /* DSCP, ECN */
    size_t total = cur_be16(&k);
    uint16_t id = cur_be16(&k);
    uint16_t fo = cur_be16(&k);
    cur_skip(&k, 1); /* TTL */
    uint8_t proto = cur_u8(&k);
    cur_skip(&k, 2); /* checksum */
    const uint8_t *addrs = k.p;
    cur_skip(&k, 8);
    if (!cur_ok(&k))
        return decode_fail(c, DL_IPV4, DECODE_TRUNCATED);
    size_t ihl = (size_t)(vihl & 0x0f) * 4;
    if (total == 0 && c->depth == 0 && (vihl >> 4) == 4 && ihl >= 20 && ihl <= b.n) {
        /* Captured on the sending host with TCP segmentation offload: the
         * stack leaves the length for the NIC to fill in (Wireshark reads
         * the captured length then too). Only for the outermost header. */
        c->d->st.ipv4_len0++;
        total = b.n;
    }
    if ((vihl >> 4) != 4 || ihl < 20 || total < ihl)
        return decode_fail(c, DL_IPV4, DECODE_INVALID);
    if (total > b.n)
        return decode_fail(c, DL_IPV4, DECODE_TRUNCATED);
    c->d->st.ipv4++;

    struct decode_ip ip;
    memset(&ip, 0, sizeof ip);
    set_addr(&ip.src, 4, addrs);
    set_addr(&ip.dst, 4, addrs + 4);
    ip.proto = proto;
    ip.id = id;
    ip.offset = (uint32_t)(fo & 0x1fff) * 8;
    ip.more = (fo & 0x2000) != 0;
    ip.depth = c->depth;
    struct sw_bytes payload = sw_bytes_make(b.p + ihl, total - ihl); /* options skipped */
    if (ip.more || ip.offset != 0)
        return fragment(c, &ip, payload);
    return decode_ip_l4(c, &ip, payload);
}

enum decode_result decode_ip_v6(struct decode_ctx *c, struct sw_bytes b)
{
    struct cur k = cur_from(b);
    uint32_t vtf = cur_be32(&k);
    size_t plen = cur_be16(&k);
    uint8_t nh = cur_u8(&k);
    cur_skip(&k, 1); /* hop limit */
    const uint8_t *addrs = k.p;
    cur_skip(&k, 32);
    if (!cur_ok(&k))
        return decode_fail(c, DL_IPV6, DECODE_TRUNCATED);
    if ((vtf >> 28) != 6)
        return decode_fail(c, DL_IPV6, DECODE_INVALID);
    /* A zero payload length means a jumbogram (RFC 2675), which needs a
     * hop-by-hop option we do not parse: it goes on with an empty payload,
     * which UDP/TCP count as truncated and other next headers as skipped. */
    if (plen > cur_left(&k))
        return decode_fail(c, DL_IPV6, DECODE_TRUNCATED);
    c->d->st.ipv6++;

    struct decode_ip ip;
    memset(&ip, 0, sizeof ip);
    set_addr(&ip.src, 6, addrs);
    set_addr(&ip.dst, 6, addrs + 16);
    ip.proto = nh;
    ip.depth = c->depth;
    return decode_ip_v6_chain(c, &ip, sw_bytes_make(k.p, plen));
}

enum decode_result decode_ip_v6_chain(struct decode_ctx *c, struct decode_ip *ip, struct sw_bytes b)
{
    struct cur k = cur_from(b);
    for (unsigned i = 0;; i++) {
        uint8_t nh = ip->proto;
        if (nh != 0 && nh != 43 && nh != 60 && nh != 44 && nh != 51) {
            if (nh == 59) { /* no next header: nothing to decode */
                c->d->st.l4_other++;
                return DECODE_SKIP;
            }
            return decode_ip_l4(c, ip, cur_rest(&k));
        }
        if (i == DECODE_MAX_IPV6_EXT)
            return decode_fail(c, DL_IPV6, DECODE_INVALID);
        if (nh == 44) {
            uint8_t next = cur_u8(&k);
            cur_skip(&k, 1);
            uint16_t of = cur_be16(&k);
            uint32_t id = cur_be32(&k);
            if (!cur_ok(&k))
                return decode_fail(c, DL_IPV6, DECODE_TRUNCATED);
            ip->proto = next;
            if ((of & 0xfff8) == 0 && (of & 1) == 0)
                continue; /* atomic fragment: processed alone (RFC 6946) */
            ip->id = id;
            ip->offset = of & 0xfff8u; /* 13 bits of 8-byte units, already << 3 */
            ip->more = (of & 1) != 0;
            return fragment(c, ip, cur_rest(&k));
        }
        uint8_t next = cur_u8(&k);
        uint8_t hlen = cur_u8(&k);
        if (!cur_ok(&k))
            return decode_fail(c, DL_IPV6, DECODE_TRUNCATED);
        /* AH counts 4-byte units minus 2; the others 8-byte units minus 1. */
        size_t len = nh == 51 ? ((size_t)hlen + 2) * 4 : ((size_t)hlen + 1) * 8;
        cur_skip(&k, len - 2);
        if (!cur_ok(&k))
            return decode_fail(c, DL_IPV6, DECODE_TRUNCATED);
        ip->proto = next;
    }
}

static void set_tuple(struct decode_ctx *c, const struct decode_ip *ip, uint16_t sport,
                      uint16_t dport, enum sw_transport t)
{
    struct sw_tuple *tu = &c->pkt->tuple;
    memset(tu, 0, sizeof *tu);
    tu->src = ip->src;
    tu->dst = ip->dst;
    tu->sport = sport;
    tu->dport = dport;
    tu->transport = (uint8_t)t;
}

static enum decode_result decode_udp(struct decode_ctx *c, const struct decode_ip *ip,
                                     struct sw_bytes b)
{
    struct cur k = cur_from(b);
    uint16_t sport = cur_be16(&k);
    uint16_t dport = cur_be16(&k);
    size_t ulen = cur_be16(&k);
    cur_skip(&k, 2); /* checksum */
    if (!cur_ok(&k))
        return decode_fail(c, DL_UDP, DECODE_TRUNCATED);
    if (ulen < 8)
        return decode_fail(c, DL_UDP, DECODE_INVALID);
    if (ulen > b.n)
        return decode_fail(c, DL_UDP, DECODE_TRUNCATED);
    c->d->st.udp++;
    struct sw_bytes payload = sw_bytes_make(b.p + 8, ulen - 8);
    set_tuple(c, ip, sport, dport, SW_TRANSPORT_UDP);
    c->pkt->payload = payload;

    const struct decode_config *cfg = &c->d->cfg;
    if (cfg->hep_port != 0 && (sport == cfg->hep_port || dport == cfg->hep_port))
        return hep_decode(c, payload);
    /* HEP3 names itself ("HEP3", then its length), and agents send it to
     * whatever port the collector listens on: recognised on any port. No SIP
     * message starts with it. HEP v1/v2 has no magic: only on hep_port. */
    if (payload.n >= 6 && memcmp(payload.p, "HEP3", 4) == 0)
        return hep_decode(c, payload);
    /* The VXLAN source port is a flow hash (RFC 7348 §5): only the
     * destination says VXLAN. GTP-U uses 2152 on both sides. */
    if (cfg->vxlan_port != 0 && dport == cfg->vxlan_port)
        return decode_tunnel_vxlan(c, payload);
    if (cfg->gtpu_port != 0 && (sport == cfg->gtpu_port || dport == cfg->gtpu_port))
        return decode_tunnel_gtpu(c, payload);
    return DECODE_OK;
}

static enum decode_result decode_tcp(struct decode_ctx *c, const struct decode_ip *ip,
                                     struct sw_bytes b)
{
    struct cur k = cur_from(b);
    uint16_t sport = cur_be16(&k);
    uint16_t dport = cur_be16(&k);
    uint32_t seq = cur_be32(&k);
    cur_skip(&k, 4); /* ack */
    uint8_t off = cur_u8(&k);
    uint8_t flags = cur_u8(&k);
    cur_skip(&k, 6); /* window, checksum, urgent pointer */
    if (!cur_ok(&k))
        return decode_fail(c, DL_TCP, DECODE_TRUNCATED);
    size_t doff = (size_t)(off >> 4) * 4;
    if (doff < 20)
        return decode_fail(c, DL_TCP, DECODE_INVALID);
    if (doff > b.n)
        return decode_fail(c, DL_TCP, DECODE_TRUNCATED);
    c->d->st.tcp++;
    set_tuple(c, ip, sport, dport, SW_TRANSPORT_TCP);
    c->pkt->tcp_seq = seq;
    c->pkt->tcp_flags = flags;
    c->pkt->payload = sw_bytes_make(b.p + doff, b.n - doff);
    return DECODE_OK;
}

enum decode_result decode_ip_l4(struct decode_ctx *c, const struct decode_ip *ip, struct sw_bytes b)
{
    switch (ip->proto) {
    case 17:
        return decode_udp(c, ip, b);
    case 6:
        return decode_tcp(c, ip, b);
    case 132:
        c->d->st.sctp++;
        return DECODE_SKIP;
    case 1:
    case 58:
        c->d->st.icmp++;
        return DECODE_SKIP;
    case 4:
    case 41:
        if (!decode_tunnel_enter(c))
            return DECODE_SKIP;
        c->d->st.ipip++;
        if (ip->proto == 4)
            return decode_ip_v4(c, b);
        return decode_ip_v6(c, b);
    case 47:
        return decode_tunnel_gre(c, b);
    default:
        c->d->st.l4_other++;
        return DECODE_SKIP;
    }
}
