/*
 * decode.h - stateless decoding of one captured frame down to the transport
 * payload: link layers, VLAN/QinQ, MPLS, PPPoE, IPv4/IPv6 (extension headers
 * skipped), tunnels (GRE incl. ERSPAN II/III and TEB, VXLAN, IP-in-IP,
 * IPv6-in-IP, GTP-U), UDP, TCP, and HEP v2/v3 capture-agent packets.
 *
 * decode owns nothing and keeps no state: the result points into the frame
 * (or into the datagram given to decode_ip_payload), so it is valid only as
 * long as those bytes are. IP fragments are not reassembled here: decode
 * stops at them (DECODE_FRAGMENT) and the pipeline hands the whole datagram,
 * once ipfrag has rebuilt it, back to decode_ip_payload() to continue.
 * HEP packets whose payload is zlib-compressed (chunk 0x0010) are inflated
 * into a buffer owned by the `struct decode`, valid until the next call.
 */
#ifndef SIPWATCH_DECODE_H
#define SIPWATCH_DECODE_H

#include "sipwatch/types.h"

enum decode_result {
    DECODE_OK = 0,    /* pkt->payload is a UDP or TCP payload (maybe empty) */
    DECODE_FRAGMENT,  /* pkt->frag describes an IP fragment for ipfrag */
    DECODE_SKIP,      /* not for us (ARP, ICMP, SCTP, other L4, ...): counted */
    DECODE_TRUNCATED, /* cut short by snaplen or a lying length: counted */
    DECODE_INVALID,   /* a header contradicts itself: counted */
};

/* The IP layer a fragment (or a reassembled datagram) belongs to. */
struct decode_ip {
    struct sw_addr src, dst;
    uint8_t proto;       /* next protocol after the IP header(s): 17, 6, 47, 4, 41... */
    uint32_t id;         /* IPv4 id (16 bits) or IPv6 fragment id */
    uint32_t offset;     /* fragment offset in bytes */
    bool more;           /* more fragments follow */
    unsigned depth;      /* tunnel depth where this IP header was found */
};

struct decode_packet {
    struct sw_tuple tuple;    /* innermost addresses and ports; transport UDP or TCP
                               * (or what HEP says it carried) */
    sw_time ts;               /* the frame's time, or HEP's own timestamp */
    bool from_hep;            /* the payload came out of a HEP envelope: it is one
                               * whole SIP message even when transport is TCP */
    /* from_hep only: the agent's capture id (v3 chunk 0x000c, v2 capture id;
     * 0 when absent) and the address the record came from (the outer IP
     * source and port of a UDP-carried record; unset for decode_hep, whose
     * caller knows where the stream or socket came from). */
    uint32_t hep_capture_id;
    struct sw_addr hep_agent;
    uint16_t hep_agent_port;
    /* TCP only (transport == SW_TRANSPORT_TCP and !from_hep) */
    uint32_t tcp_seq;
    uint8_t tcp_flags;        /* DECODE_TCP_FIN ... as on the wire */
    struct sw_bytes payload;  /* transport payload, link padding trimmed */
    struct decode_ip frag;    /* DECODE_FRAGMENT: the fragment's IP layer;
                               * payload is then the fragment's data */
};

#define DECODE_TCP_FIN 0x01
#define DECODE_TCP_SYN 0x02
#define DECODE_TCP_RST 0x04
#define DECODE_TCP_PSH 0x08
#define DECODE_TCP_ACK 0x10

struct decode_config {
    uint16_t hep_port;        /* UDP/TCP port carrying HEP v2 (and v3); 0 = off. Default
                               * 9060. HEP3 (magic "HEP3") is recognised on any port */
    uint16_t vxlan_port;      /* default 4789 */
    uint16_t gtpu_port;       /* default 2152 */
    unsigned max_depth;       /* tunnel nesting limit, default 8 */
};
#define DECODE_DEFAULT_HEP_PORT 9060
#define DECODE_DEFAULT_VXLAN_PORT 4789
#define DECODE_DEFAULT_GTPU_PORT 2152

struct decode;

/* Returns a decoder (owned; free with decode_free) or NULL on OOM. */
struct decode *decode_new(const struct decode_config *cfg);
void decode_free(struct decode *d);

/* True if libpcap's DLT `linktype` is one decode_frame understands. */
bool decode_linktype_supported(int linktype);

/* Decodes one frame of DLT `linktype`, captured at `ts`. `frame` is borrowed;
 * pkt points into it (or into d's HEP buffer). *pkt is cleared first: every
 * field is defined whatever the result. */
enum decode_result decode_frame(struct decode *d, int linktype, struct sw_bytes frame,
                                sw_time ts, struct decode_packet *pkt);

/* Continues decoding a reassembled IP datagram's payload (`ip->proto` says
 * what it is; offset/more are ignored). `payload` is borrowed. */
enum decode_result decode_ip_payload(struct decode *d, const struct decode_ip *ip,
                                     struct sw_bytes payload, sw_time ts,
                                     struct decode_packet *pkt);

/* HEP over TCP: the pipeline reassembles the stream and cuts it into HEP
 * records. decode_hep_frame() looks at the stream's head: returns 1 and sets
 * *len when a whole record is there, 0 when more bytes are needed, -1 when
 * the head is not HEP (the caller drops the stream's buffer and counts it). */
int decode_hep_frame(struct sw_bytes head, size_t *len);
/* Decodes one whole HEP v2/v3 record (borrowed) as decode_frame would a
 * UDP-carried one: pkt->from_hep is set, tuple and ts are HEP's. */
enum decode_result decode_hep(struct decode *d, struct sw_bytes rec, sw_time ts,
                              struct decode_packet *pkt);

/* Appends decode's counters (frames, per-layer truncated/invalid/skip,
 * tunnels seen, hep, sctp_skipped, ...). */
void decode_counters(const struct decode *d, struct sw_counters *out);

#endif
