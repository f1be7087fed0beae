/*
 * ipfrag.h - IPv4 and IPv6 fragment reassembly (RFC 791, RFC 8200 §4.5).
 *
 * Owns: the fragments of datagrams in flight, keyed by (family, src, dst,
 * proto, id), each copied into memory accounted against max_bytes. Overlap
 * policy: first-come wins (bytes already held are kept, like Linux "first");
 * a fragment that contradicts the datagram's known end is dropped and
 * counted. A datagram not complete within `timeout` of its first fragment
 * (capture time) is dropped and counted (ip_frag_timeouts).
 */
#ifndef SIPWATCH_IPFRAG_H
#define SIPWATCH_IPFRAG_H

#include "sipwatch/decode.h"
#include "sipwatch/budget.h"
#include "sipwatch/types.h"

struct ipfrag_config {
    size_t max_datagrams;  /* datagrams in flight; default 4096 */
    size_t max_bytes;      /* fragment bytes held in total; default 32 MiB */
    sw_time timeout;       /* per datagram; default 30 s */
    struct sw_budget *budget; /* shared memory ceiling (budget.h), or NULL; borrowed */
};
#define IPFRAG_DEFAULT_MAX_DATAGRAMS 4096
#define IPFRAG_DEFAULT_MAX_BYTES ((size_t)32 << 20)
#define IPFRAG_DEFAULT_TIMEOUT SW_SEC(30)

enum ipfrag_result {
    IPFRAG_HELD = 0,   /* kept; the datagram is not complete yet */
    IPFRAG_COMPLETE,   /* *out is the whole datagram's payload (after the IP header) */
    IPFRAG_DROPPED,    /* refused (cap, overlap, bad length, duplicate): counted */
};

struct ipfrag;

struct ipfrag *ipfrag_new(const struct ipfrag_config *cfg);
void ipfrag_free(struct ipfrag *f);

/* Adds one fragment (`ip` and `data` borrowed) seen at `now`. On COMPLETE,
 * *out points into memory owned by `f`, valid until the next ipfrag call. */
enum ipfrag_result ipfrag_add(struct ipfrag *f, const struct decode_ip *ip, struct sw_bytes data,
                              sw_time now, struct sw_bytes *out);

/* Tags: the pipeline names each fragment's frame (a run-wide id) before
 * ipfrag_add; after IPFRAG_COMPLETE, ipfrag_tags gives the distinct tags of
 * the fragments whose bytes made the datagram (in offset order; at most
 * IPFRAG_MAX_TAGS, *complete false if there were more), valid until the
 * next ipfrag call. */
#define IPFRAG_MAX_TAGS 128
void ipfrag_set_tag(struct ipfrag *f, uint64_t tag);
const uint64_t *ipfrag_tags(const struct ipfrag *f, size_t *n, bool *complete);

/* Drops datagrams whose timeout passed at `now` (counted). */
void ipfrag_advance(struct ipfrag *f, sw_time now);
/* End of input: drops every incomplete datagram (counted as ip_frag_incomplete). */
void ipfrag_finish(struct ipfrag *f);

/* ip_fragments, ip_reassembled, ip_frag_timeouts, ip_frag_dropped_*,
 * ip_frag_bytes_peak, ... */
void ipfrag_counters(const struct ipfrag *f, struct sw_counters *out);

#endif
