/*
 * decode.c - the decode API: decoder lifetime, the entry points and the
 * counters. The layers themselves live in decode_link.c, decode_ip.c,
 * decode_tunnel.c and hep.c (see decode_int.h).
 *
 * Owns: counters and the HEP inflate buffer/zlib stream (allocated once in
 * decode_new, so the packet path never allocates). Does not reassemble IP
 * fragments (ipfrag does) or TCP streams (tcpstream does), and never looks at
 * the SIP text beyond handing it on.
 */
#include "sipwatch/decode.h"

#include <stdlib.h>
#include <string.h>

#include "decode_int.h"
#include "hep.h"

struct decode *decode_new(const struct decode_config *cfg)
{
    struct decode *d = calloc(1, sizeof *d);
    if (d == NULL)
        return NULL;
    d->cfg = *cfg;
    /* 15 + 32: zlib or gzip header, detected per stream. */
    if (inflateInit2(&d->zs, 15 + 32) != Z_OK) {
        free(d);
        return NULL;
    }
    return d;
}

void decode_free(struct decode *d)
{
    if (d == NULL)
        return;
    inflateEnd(&d->zs);
    free(d);
}

bool decode_linktype_supported(int linktype)
{
    switch (linktype) {
    case 0:   /* DLT_NULL */
    case 1:   /* DLT_EN10MB */
    case 9:   /* DLT_PPP */
    case 12:  /* DLT_RAW */
    case 14:  /* DLT_RAW (OpenBSD) */
    case 101: /* LINKTYPE_RAW */
    case 108: /* DLT_LOOP */
    case 113: /* DLT_LINUX_SLL */
    case 228: /* DLT_IPV4 */
    case 229: /* DLT_IPV6 */
    case 276: /* DLT_LINUX_SLL2 */
        return true;
    default:
        return false;
    }
}

enum decode_result decode_fail(struct decode_ctx *c, enum decode_layer layer, enum decode_result r)
{
    struct decode_stats *st = &c->d->st;
    if (r == DECODE_TRUNCATED) {
        st->truncated++;
        st->truncated_by[layer]++;
    } else {
        st->invalid++;
        st->invalid_by[layer]++;
    }
    return r;
}

bool decode_tunnel_enter(struct decode_ctx *c)
{
    if (c->depth >= c->d->cfg.max_depth) {
        c->d->st.too_deep++;
        return false;
    }
    c->depth++;
    return true;
}

static void pkt_reset(struct decode_packet *pkt, sw_time ts)
{
    memset(pkt, 0, sizeof *pkt);
    pkt->ts = ts;
}

enum decode_result decode_frame(struct decode *d, int linktype, struct sw_bytes frame, sw_time ts,
                                struct decode_packet *pkt)
{
    pkt_reset(pkt, ts);
    d->st.frames++;
    if (!decode_linktype_supported(linktype)) {
        d->st.linktype_unsupported++;
        return DECODE_SKIP;
    }
    struct decode_ctx c = {d, pkt, 0};
    return decode_link(&c, linktype, frame);
}

enum decode_result decode_ip_payload(struct decode *d, const struct decode_ip *ip,
                                     struct sw_bytes payload, sw_time ts, struct decode_packet *pkt)
{
    pkt_reset(pkt, ts);
    struct decode_ctx c = {d, pkt, ip->depth};
    struct decode_ip inner = *ip;
    inner.offset = 0;
    inner.more = false;
    /* The fragmentable part of an IPv6 datagram may start with more
     * extension headers (destination options, routing). */
    if (inner.src.family == 6)
        return decode_ip_v6_chain(&c, &inner, payload);
    return decode_ip_l4(&c, &inner, payload);
}

int decode_hep_frame(struct sw_bytes head, size_t *len)
{
    return hep_frame(head, len);
}

enum decode_result decode_hep(struct decode *d, struct sw_bytes rec, sw_time ts,
                              struct decode_packet *pkt)
{
    pkt_reset(pkt, ts);
    struct decode_ctx c = {d, pkt, 0};
    return hep_decode(&c, rec);
}

void decode_counters(const struct decode *d, struct sw_counters *out)
{
    static const char *const trunc_names[DL_COUNT] = {
        "link_truncated",
        "ipv4_truncated",
        "ipv6_truncated",
        "udp_truncated",
        "tcp_truncated",
        "tunnel_truncated",
        NULL,
    };
    static const char *const inval_names[DL_COUNT] = {
        "link_invalid", "ipv4_invalid",   "ipv6_invalid", "udp_invalid",
        "tcp_invalid",  "tunnel_invalid", NULL,
    };
    const struct decode_stats *st = &d->st;
    sw_counters_add(out, "decode_frames", st->frames);
    sw_counters_add(out, "decode_truncated", st->truncated);
    sw_counters_add(out, "decode_invalid", st->invalid);
    for (size_t i = 0; i < DL_COUNT; i++) {
        if (trunc_names[i] != NULL)
            sw_counters_add(out, trunc_names[i], st->truncated_by[i]);
        if (inval_names[i] != NULL)
            sw_counters_add(out, inval_names[i], st->invalid_by[i]);
    }
    sw_counters_add(out, "linktype_unsupported", st->linktype_unsupported);
    sw_counters_add(out, "decode_not_ip", st->not_ip);
    sw_counters_add(out, "sctp_skipped", st->sctp);
    sw_counters_add(out, "icmp_skipped", st->icmp);
    sw_counters_add(out, "l4_other_skipped", st->l4_other);
    sw_counters_add(out, "tunnel_other_skipped", st->tunnel_other);
    sw_counters_add(out, "tunnel_too_deep", st->too_deep);
    sw_counters_add(out, "ipv4_len0_tso", st->ipv4_len0);
    sw_counters_add(out, "vlan", st->vlan);
    sw_counters_add(out, "mpls", st->mpls);
    sw_counters_add(out, "pppoe", st->pppoe);
    sw_counters_add(out, "tunnel_gre", st->gre);
    sw_counters_add(out, "tunnel_erspan", st->erspan);
    sw_counters_add(out, "tunnel_vxlan", st->vxlan);
    sw_counters_add(out, "tunnel_ipip", st->ipip);
    sw_counters_add(out, "tunnel_gtpu", st->gtpu);
    sw_counters_add(out, "hep_packets", st->hep_packets);
    sw_counters_add(out, "hep_errors", st->truncated_by[DL_HEP] + st->invalid_by[DL_HEP]);
    sw_counters_add(out, "hep_compressed", st->hep_compressed);
    sw_counters_add(out, "hep_not_sip", st->hep_not_sip);
    sw_counters_add(out, "ipv4_packets", st->ipv4);
    sw_counters_add(out, "ipv6_packets", st->ipv6);
    sw_counters_add(out, "udp_packets", st->udp);
    sw_counters_add(out, "tcp_packets", st->tcp);
    sw_counters_add(out, "ip_fragments_passed", st->fragments);
}
