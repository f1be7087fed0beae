/*
 * tracker.h - follows SIP transactions and dialogs to produce `transfer`,
 * `user_not_found` and `scan` events (see docs/transfers.md, docs/not-found.md).
 *
 * Owns: pending requests (by Call-ID + CSeq number + method) until their
 * final response or the transaction timeout; transfers (REFER -> 2xx ->
 * NOTIFY, RFC 3515 / 4488 / 6665) until their outcome; recently settled keys
 * (so retransmissions and the copy of a message on a proxy's other leg count
 * once); per-source scan windows; the not-found summary. Every table has a
 * cap; what a cap costs is counted (and an evicted transfer is still reported,
 * outcome "evicted"). Timers run on capture time only: tracker_advance(now)
 * fires every deadline <= now, in deadline order, so a replay gives the same
 * events every time.
 * Does not: parse bytes (it reads `struct sip_msg`), or write JSON.
 */
#ifndef SIPWATCH_TRACKER_H
#define SIPWATCH_TRACKER_H

#include "sipwatch/event.h"
#include "sipwatch/budget.h"
#include "sipwatch/sipmsg.h"
#include "sipwatch/types.h"

struct tracker_config {
    sw_time notify_timeout;       /* accepted REFER -> first NOTIFY; default 32 s (64*T1) */
    sw_time final_timeout;        /* accepted REFER -> final sipfrag; default 180 s */
    sw_time transaction_timeout;  /* request -> final response; default 32 s (Timer B/F) */
    sw_time linger;               /* settled keys kept to absorb copies; default 32 s */
    size_t max_transfers;         /* default 10000 */
    size_t max_transactions;      /* pending requests; default 200000 */
    unsigned scan_threshold;      /* distinct not-found users per source; default 10 */
    sw_time scan_window;          /* default 60 s */
    size_t max_scan_sources;      /* default 10000 */
    size_t max_scan_users;        /* per source, kept for distinct counting; default 1024 */
    size_t max_scan_bytes;        /* all scan state together (hits, user keys, user
                                   * agents); over it the least recently hit sources
                                   * are evicted; default 32 MiB */
    size_t max_summary_keys;      /* users / sources counted for the top-10; default 50000 */
    struct sw_budget *budget;     /* shared memory ceiling (budget.h), or NULL; borrowed */
    size_t max_ladder_bytes;      /* message ladders of all Call-IDs together (records of
                                   * the messages events list); over it the least
                                   * recently active Call-IDs lose theirs; default 64 MiB */
};
#define TRACKER_DEFAULT_NOTIFY_TIMEOUT SW_SEC(32)
#define TRACKER_DEFAULT_FINAL_TIMEOUT SW_SEC(180)
#define TRACKER_DEFAULT_TRANSACTION_TIMEOUT SW_SEC(32)
#define TRACKER_DEFAULT_LINGER SW_SEC(32)
#define TRACKER_DEFAULT_MAX_TRANSFERS 10000
#define TRACKER_DEFAULT_MAX_TRANSACTIONS 200000
#define TRACKER_DEFAULT_SCAN_THRESHOLD 10
#define TRACKER_DEFAULT_SCAN_WINDOW SW_SEC(60)
#define TRACKER_DEFAULT_MAX_SCAN_SOURCES 10000
#define TRACKER_DEFAULT_MAX_SCAN_USERS 1024
#define TRACKER_DEFAULT_MAX_SCAN_BYTES ((size_t)32 << 20)
#define TRACKER_DEFAULT_MAX_SUMMARY_KEYS 50000
#define TRACKER_DEFAULT_MAX_LADDER_BYTES ((size_t)64 << 20)

/* Fills *cfg with the defaults above. */
void tracker_config_default(struct tracker_config *cfg);

struct tracker;

/* Returns a tracker (owned) delivering events to emit(ctx, ev), or NULL on OOM. */
struct tracker *tracker_new(const struct tracker_config *cfg, sw_emit_fn *emit, void *ctx);
void tracker_free(struct tracker *t);

/* One parsed message (borrowed), travelling along `tuple` (src = sender;
 * tuple->transport set), seen at `ts`. The pipeline never moves ts backwards
 * and calls tracker_advance(ts) first. From a message that feeds no event
 * (sipmsg.h) it reads only the fields SIPMSG_LAZY fills: the pipeline parses
 * those lazily, so reading another one here needs that list extended. */
void tracker_on_msg(struct tracker *t, const struct sip_msg *m, const struct sw_tuple *tuple,
                    sw_time ts);

/* What the tracker tells a keeper of per-Call-ID data (the evidence store)
 * about a Call-ID: NORMAL when it first shows up, PIN while a REFER on it
 * awaits its outcome (keep it longest), NORMAL again after, RELEASE when it
 * can no longer be flagged (a BYE or an out-of-dialog request answered
 * without an event, or quiet past every timer); EVENT just before an event
 * whose dialogs span several Call-IDs (a scan), once per Call-ID (no level
 * change). `call_id` is borrowed. */
enum tracker_keep {
    TRACKER_KEEP_RELEASE = 0,
    TRACKER_KEEP_NORMAL,
    TRACKER_KEEP_PIN,
    TRACKER_KEEP_EVENT, /* part of the event emitted next (a scan's sampled hits) */
};
typedef void tracker_keep_fn(void *ctx, const char *call_id, enum tracker_keep level);
void tracker_set_keep_hook(struct tracker *t, tracker_keep_fn *fn, void *ctx);

/* Where a held event's origin comes from (event.h, sw_event_origin): the
 * hook fills the origin of the frame being handled and sets `fixed`. */
typedef void tracker_origin_fn(void *ctx, struct sw_event_origin *o);
void tracker_set_origin_hook(struct tracker *t, tracker_origin_fn *fn, void *ctx);

/* Fires every timer due at or before `now`. */
void tracker_advance(struct tracker *t, sw_time now);

/* End of input at capture time `now`: settles every pending transfer (its
 * outcome as of now, "truncated": true) and drops pending requests. */
void tracker_finish(struct tracker *t, sw_time now);

/* Summaries for the stats event; the strings stay valid until the next
 * tracker call. */
void tracker_summary(const struct tracker *t, struct sw_not_found_summary *nf,
                     struct sw_transfer_summary *xfer);

/* transfers_active, transfers_evicted, transactions_active,
 * transactions_evicted, notify_orphans, scan_sources_evicted, ... */
void tracker_counters(const struct tracker *t, struct sw_counters *out);

#endif
