/*
 * decode_int.h - internal to decode: the decoder's state (counters, the HEP
 * inflate buffer) and the per-call context the layer decoders pass along.
 *
 * Files: decode.c (API, counters), decode_link.c (link layers, VLAN, MPLS,
 * PPPoE, PPP), decode_ip.c (IPv4, IPv6 extension headers, UDP, TCP, L4
 * dispatch), decode_tunnel.c (GRE, ERSPAN, VXLAN, GTP-U), hep.c (HEP v2/v3).
 * Each layer decoder takes the bytes of its own header onwards and returns
 * the final result; failures are counted through decode_fail().
 */
#ifndef SIPWATCH_DECODE_INT_H
#define SIPWATCH_DECODE_INT_H

#define ZLIB_CONST
#include <zlib.h>

#include "sipwatch/decode.h"

/* Caps on header chains a hostile frame could make long. */
#define DECODE_MAX_VLAN 8     /* 802.1Q/ad tags in a row */
#define DECODE_MAX_MPLS 16    /* labels in a stack */
#define DECODE_MAX_IPV6_EXT 8 /* IPv6 extension headers in a chain */
#define DECODE_MAX_GTP_EXT 16 /* GTP-U extension headers */
#define DECODE_HEP_INFLATE_MAX ((size_t)64 << 10)

/* Layers whose truncated / invalid counts are reported separately. */
enum decode_layer {
    DL_LINK = 0, /* NULL/LOOP/SLL/Ethernet/VLAN/MPLS/PPPoE/PPP */
    DL_IPV4,
    DL_IPV6,
    DL_UDP,
    DL_TCP,
    DL_TUNNEL, /* GRE, ERSPAN, VXLAN, GTP-U */
    DL_HEP,
    DL_COUNT
};

struct decode_stats {
    uint64_t frames;
    uint64_t truncated, invalid;
    uint64_t truncated_by[DL_COUNT], invalid_by[DL_COUNT];
    uint64_t linktype_unsupported, not_ip, sctp, icmp, l4_other, tunnel_other, too_deep;
    uint64_t ipv4_len0;
    uint64_t vlan, mpls, pppoe;
    uint64_t gre, erspan, vxlan, ipip, gtpu;
    uint64_t hep_packets, hep_compressed, hep_not_sip;
    uint64_t ipv4, ipv6, udp, tcp, fragments;
};

struct decode {
    struct decode_config cfg;
    struct decode_stats st;
    z_stream zs; /* initialised once in decode_new, reset per HEP record */
    uint8_t hep_buf[DECODE_HEP_INFLATE_MAX];
};

/* One decode call's context. */
struct decode_ctx {
    struct decode *d;
    struct decode_packet *pkt;
    unsigned depth; /* tunnels entered so far */
};

/* Counts a failure at `layer` and returns `r` (TRUNCATED or INVALID). */
enum decode_result decode_fail(struct decode_ctx *c, enum decode_layer layer, enum decode_result r);
/* Enters one more tunnel level; false (counted as too_deep) past max_depth. */
bool decode_tunnel_enter(struct decode_ctx *c);

/* decode_link.c */
enum decode_result decode_link(struct decode_ctx *c, int linktype, struct sw_bytes b);
enum decode_result decode_link_ether(struct decode_ctx *c, struct sw_bytes b);
enum decode_result decode_link_ethertype(struct decode_ctx *c, uint16_t type, struct sw_bytes b);
/* PPP payload: `b` starts at the (optional 0xff03 and) protocol field. */
enum decode_result decode_link_ppp(struct decode_ctx *c, struct sw_bytes b);

/* decode_ip.c */
/* An IP packet whose version is read from its first nibble. */
enum decode_result decode_ip_any(struct decode_ctx *c, struct sw_bytes b, enum decode_layer layer);
enum decode_result decode_ip_v4(struct decode_ctx *c, struct sw_bytes b);
enum decode_result decode_ip_v6(struct decode_ctx *c, struct sw_bytes b);
/* IPv6 extension header chain starting with next header ip->proto. */
enum decode_result decode_ip_v6_chain(struct decode_ctx *c, struct decode_ip *ip,
                                      struct sw_bytes b);
/* The payload of IP protocol ip->proto. */
enum decode_result decode_ip_l4(struct decode_ctx *c, const struct decode_ip *ip,
                                struct sw_bytes b);

/* decode_tunnel.c */
enum decode_result decode_tunnel_gre(struct decode_ctx *c, struct sw_bytes b);
enum decode_result decode_tunnel_vxlan(struct decode_ctx *c, struct sw_bytes b);
enum decode_result decode_tunnel_gtpu(struct decode_ctx *c, struct sw_bytes b);

#endif
