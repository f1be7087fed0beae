/*
 * tracker_int.h - state shared by the files of the tracker module:
 * tracker.c (dispatch, clock, counters, summary), tracker_refer.c
 * (transfers), tracker_notfound.c (pending requests, 404/604, summary
 * tables), scan.c (per-source enumeration windows). Not an interface: only
 * these files include it.
 */
#ifndef SIPWATCH_TRACKER_INT_H
#define SIPWATCH_TRACKER_INT_H

#include <xxhash.h>

#define HASH_FUNCTION(keyptr, keylen, hashv)                                                       \
    (hashv) = (unsigned)XXH3_64bits_withSeed(keyptr, keylen, sw_hash_seed)
/* A failed table allocation must be a counted drop, never exit(): with this
 * uthash leaves the item out and sets item->hh.tbl to NULL. */
#define HASH_NONFATAL_OOM 1
#include <uthash.h>

#include "sipwatch/tracker.h"

/* Hash keys: a 32-bit number (big-endian), then text, then the 64-bit hash
 * of the whole Call-ID (sip_msg call_id_hash): the stored copy is a prefix,
 * two Call-IDs that share it are still two keys. */
#define TRACKER_KEY_MAX (4 + SIPMSG_MAX_TOKEN + SIPMSG_MAX_CALLID + 1 + 8)
struct tracker_key {
    uint8_t b[TRACKER_KEY_MAX];
    size_t n;
    unsigned hashv; /* HASH_VALUE of b[0..n): each table finds and adds by it
                     * (HASH_*_BYHASHVALUE), a key is hashed once */
};

struct tracker_stats {
    uint64_t transfers, transfers_evicted, refer_retransmissions, refer_leg_copies;
    uint64_t refer_responses_unmatched, refer_late_responses, refer_response_copies;
    uint64_t notify_orphans, notify_late, notify_retransmissions, transfers_settled_evicted;
    uint64_t transactions_evicted, transactions_expired;
    uint64_t not_found_events, not_found_duplicates, not_found_settled_evicted;
    uint64_t scan_events, scan_sources_evicted, scan_hits_dropped, summary_keys_dropped;
    uint64_t messages_ignored, oom;
    uint64_t refer_auth_retries;
};

struct xfer;
struct xcall;
struct xsettled;
struct nf_txn;
struct nf_settled;
struct sum_key;
struct scan_src;
struct lcall;
struct lsrc;
struct nf_held;

/* Size classes (16 bytes each) of the ladder's spare slots (tracker_ladder.c). */
#define TRACKER_LAD_CLASSES 64

#define NF_FILTER_BITS 12
#define NF_FILTER_SLOTS (1u << NF_FILTER_BITS)

struct tracker {
    struct tracker_config cfg;
    sw_emit_fn *emit;
    void *ctx;
    sw_time now;
    struct tracker_stats st;

    /* transfers (tracker_refer.c) */
    struct xfer *xfers;            /* hash: REFER CSeq + Call-ID */
    struct xfer *x_first, *x_last; /* unsettled, in creation order */
    size_t n_xfers;
    struct xfer **heap; /* indexed min-heap on (due, id) */
    size_t heap_n, heap_cap;
    struct xcall *calls;                          /* hash: Call-ID -> its transfers */
    struct xsettled *xs_hash, *xs_head, *xs_tail; /* settled keys, FIFO on expiry */
    size_t n_xsettled;
    uint64_t next_xfer_id;
    uint64_t by_outcome[SW_OUTCOME__COUNT];

    /* pending requests and not-found hits (tracker_notfound.c) */
    struct nf_txn *txns, *txn_first, *txn_last; /* trying: by first-seen time */
    struct nf_txn *prc_first, *prc_last;        /* INVITEs with a 1xx: by last 1xx time */
    size_t n_txns;
    struct nf_settled *nfs_hash, *nfs_head, *nfs_tail;
    size_t n_nfs;
    /* Settled keys per slot of their hash's top bits (a counting filter):
     * a slot at 0 answers "not settled" without touching the table, which
     * every new request asks. Saturated counts stay (a "maybe" for good). */
    uint16_t nfs_filter[NF_FILTER_SLOTS];
    struct sum_key *sum_users, *sum_sources;
    size_t n_sum_users, n_sum_sources;
    uint64_t status_404, status_604;
    struct nf_held *held;                  /* INVITE not-founds held for their ACK: hash, */
    struct nf_held *held_first, *held_last; /* those waiting for it (by first 404), */
    struct nf_held *hack_first, *hack_last; /* those acked (by last message) */
    size_t n_held, n_held_peak;
    tracker_origin_fn *origin_fn;
    void *origin_ctx;

    /* scan windows (scan.c) */
    struct scan_src *scan_srcs, *scan_first, *scan_last; /* hash + LRU list */
    size_t n_scan_srcs;
    size_t scan_bytes, scan_bytes_peak; /* all sources' s->bytes */
    uint64_t scan_epoch;

    /* message ladders (tracker_ladder.c); events pass through
     * tracker_ladder_emit, which adds the ladder and calls out_emit */
    sw_emit_fn *out_emit;
    void *out_ctx;
    tracker_keep_fn *keep_fn;
    void *keep_ctx;
    struct lcall *ladders, *lad_first, *lad_last; /* hash + LRU list */
    size_t n_ladders, lad_bytes, lad_bytes_peak;
    uint64_t lad_evicted, lad_expired, lad_msgs_dropped;
    const struct sip_msg *lad_cur; /* the message being handled, or NULL */
    struct lcall *lad_cur_call;    /* its Call-ID's records, or NULL */
    struct lsrc *lsrcs, *lsrc_first, *lsrc_last; /* first not-found hits per source */
    size_t n_lsrcs;
    void *lad_spare[TRACKER_LAD_CLASSES]; /* freed records and Call-ID entries, by size class */
    size_t lad_spare_bytes;
    struct sw_ladder_msg lad_out[SW_MAX_LADDER];
};

/* tracker.c */
/* Bounded length of one of our own NUL-terminated sip_msg fields (inline:
 * a few per message and per table lookup). */
static inline size_t tracker_len(const char *s, size_t cap)
{
    const char *e = memchr(s, '\0', cap);
    return e != NULL ? (size_t)(e - s) : cap;
}
/* A key: num, text1 (unless NULL), text2, hash2 (see struct tracker_key).
 * Inline: one or two per message, from the not-found and transfer files. */
static inline void tracker_key_make(struct tracker_key *k, uint32_t num, const char *text1,
                                    size_t cap1, const char *text2, size_t cap2, uint64_t hash2)
{
    k->b[0] = (uint8_t)(num >> 24);
    k->b[1] = (uint8_t)(num >> 16);
    k->b[2] = (uint8_t)(num >> 8);
    k->b[3] = (uint8_t)num;
    k->n = 4;
    /* (SW_MIN evaluates its arguments twice: the lengths are taken first) */
    if (text1 != NULL) {
        size_t n = tracker_len(text1, cap1);
        n = SW_MIN(n, (size_t)SIPMSG_MAX_TOKEN - 1);
        memcpy(k->b + k->n, text1, n);
        k->n += n;
        k->b[k->n++] = '\0'; /* separator: "AB"+"C" must differ from "A"+"BC" */
    }
    size_t n = tracker_len(text2, cap2);
    n = SW_MIN(n, (size_t)SIPMSG_MAX_CALLID - 1);
    memcpy(k->b + k->n, text2, n);
    k->n += n;
    k->b[k->n++] = '\0'; /* text2 reads as a C string from the key */
    memcpy(k->b + k->n, &hash2, sizeof hash2); /* the whole value, whatever its length */
    k->n += sizeof hash2;
    HASH_VALUE(k->b, k->n, k->hashv);
}
/* malloc'd copy, NULL for "" (or on OOM, counted). */
char *tracker_strdup(struct tracker *t, const char *s, size_t cap);

/* tracker_refer.c */
void tracker_refer_request(struct tracker *t, const struct sip_msg *m, const struct sw_tuple *tuple,
                           sw_time ts);
void tracker_refer_notify(struct tracker *t, const struct sip_msg *m, sw_time ts);
void tracker_refer_notify_response(struct tracker *t, const struct sip_msg *m, sw_time ts);
void tracker_refer_response(struct tracker *t, const struct sip_msg *m,
                            const struct sw_tuple *tuple, sw_time ts);
void tracker_refer_advance(struct tracker *t, sw_time now);
void tracker_refer_finish(struct tracker *t, sw_time now);
void tracker_refer_free(struct tracker *t);

/* tracker_notfound.c */
void tracker_nf_request(struct tracker *t, const struct sip_msg *m, const struct sw_tuple *tuple,
                        sw_time ts);
void tracker_nf_response(struct tracker *t, const struct sip_msg *m, const struct sw_tuple *tuple,
                         sw_time ts);
/* A 1xx: an INVITE moves from Timer B to Timer C (see tracker_notfound.c). */
void tracker_nf_provisional(struct tracker *t, const struct sip_msg *m, sw_time ts);
/* An ACK: a held INVITE not-found of its transaction waits on. */
void tracker_nf_ack(struct tracker *t, const struct sip_msg *m, sw_time ts);
void tracker_nf_advance(struct tracker *t, sw_time now);
/* When the first held not-found is due, or SW_TIME_NONE. */
sw_time tracker_nf_next_due(const struct tracker *t);
void tracker_nf_finish(struct tracker *t);
void tracker_nf_free(struct tracker *t);
void tracker_nf_summary(const struct tracker *t, struct sw_not_found_summary *nf);

/* scan.c: one not-found hit (the user_not_found event just emitted, and its
 * "user@domain" key) from ev->tuple.src. */
void tracker_scan_hit(struct tracker *t, const struct sw_event *ev, const char *user_key);
void tracker_scan_free(struct tracker *t);

/* tracker_ladder.c: record a message (before it is dispatched) and settle
 * its Call-ID's keep level (after); the emit wrapper fills ev->ladder. */
void tracker_ladder_msg(struct tracker *t, const struct sip_msg *m, const struct sw_tuple *tuple,
                        sw_time ts);
void tracker_ladder_msg_done(struct tracker *t, const struct sip_msg *m);
void tracker_ladder_emit(void *ctx, const struct sw_event *ev);
/* A held event on call_id (on) or not any more (off): while held, its
 * Call-ID records ACKs. */
void tracker_ladder_hold(struct tracker *t, const char *call_id, bool on);
/* A not-found hit (its event, emitted or held): a scan's ladder may list it. */
void tracker_ladder_scan_hit(struct tracker *t, const struct sw_event *ev);
void tracker_ladder_advance(struct tracker *t, sw_time now);
void tracker_ladder_free(struct tracker *t);
void tracker_ladder_counters(const struct tracker *t, struct sw_counters *out);

#endif
