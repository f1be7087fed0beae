/*
 * tracker.c - the tracker's front door: configuration, the capture clock,
 * dispatch of each parsed message to the transfer follower
 * (tracker_refer.c) and the not-found follower (tracker_notfound.c, which
 * feeds scan.c), end of input, counters and the stats summary.
 *
 * Owns the `struct tracker` (tracker_int.h) and nothing of the wire: it
 * reads `struct sip_msg` values (bounded NUL-terminated copies made by
 * sipmsg.c) and writes `struct sw_event` values. Timers run on capture time
 * only (RFC 3261 §17 timer values are configuration, not wall time).
 */
#include "sipwatch/tracker.h"

#include <stdlib.h>
#include <string.h>

#include "tracker_int.h"

void tracker_config_default(struct tracker_config *cfg)
{
    cfg->notify_timeout = TRACKER_DEFAULT_NOTIFY_TIMEOUT;
    cfg->final_timeout = TRACKER_DEFAULT_FINAL_TIMEOUT;
    cfg->transaction_timeout = TRACKER_DEFAULT_TRANSACTION_TIMEOUT;
    cfg->linger = TRACKER_DEFAULT_LINGER;
    cfg->max_transfers = TRACKER_DEFAULT_MAX_TRANSFERS;
    cfg->max_transactions = TRACKER_DEFAULT_MAX_TRANSACTIONS;
    cfg->scan_threshold = TRACKER_DEFAULT_SCAN_THRESHOLD;
    cfg->scan_window = TRACKER_DEFAULT_SCAN_WINDOW;
    cfg->max_scan_sources = TRACKER_DEFAULT_MAX_SCAN_SOURCES;
    cfg->max_scan_users = TRACKER_DEFAULT_MAX_SCAN_USERS;
    cfg->max_scan_bytes = TRACKER_DEFAULT_MAX_SCAN_BYTES;
    cfg->max_summary_keys = TRACKER_DEFAULT_MAX_SUMMARY_KEYS;
    cfg->budget = NULL;
    cfg->max_ladder_bytes = TRACKER_DEFAULT_MAX_LADDER_BYTES;
}

char *tracker_strdup(struct tracker *t, const char *s, size_t cap)
{
    if (s == NULL)
        return NULL;
    size_t n = tracker_len(s, cap);
    if (n == 0)
        return NULL;
    char *d = malloc(n + 1);
    if (d == NULL) {
        t->st.oom++;
        return NULL;
    }
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

/* Zero or nonsensical limits would make a table unable to hold even the
 * entry being added; one entry is the smallest cap that still works. */
static void config_sanitize(struct tracker_config *c)
{
    if (c->max_transfers == 0)
        c->max_transfers = 1;
    if (c->max_transactions == 0)
        c->max_transactions = 1;
    if (c->scan_threshold == 0)
        c->scan_threshold = 1;
    if (c->max_scan_sources == 0)
        c->max_scan_sources = 1;
    if (c->max_scan_users == 0)
        c->max_scan_users = 1;
    if (c->max_scan_users > UINT32_MAX)
        c->max_scan_users = UINT32_MAX;
    if (c->max_summary_keys == 0)
        c->max_summary_keys = 1;
    if (c->notify_timeout < 0)
        c->notify_timeout = 0;
    if (c->final_timeout < 0)
        c->final_timeout = 0;
    if (c->transaction_timeout < 0)
        c->transaction_timeout = 0;
    if (c->linger < 0)
        c->linger = 0;
    if (c->scan_window <= 0)
        c->scan_window = 1;
}

struct tracker *tracker_new(const struct tracker_config *cfg, sw_emit_fn *emit, void *ctx)
{
    struct tracker *t = calloc(1, sizeof *t);
    if (t == NULL)
        return NULL;
    t->cfg = *cfg;
    config_sanitize(&t->cfg);
    t->out_emit = emit;
    t->out_ctx = ctx;
    t->emit = tracker_ladder_emit; /* adds each event's ladder */
    t->ctx = t;
    t->now = SW_TIME_NONE;
    return t;
}

void tracker_set_keep_hook(struct tracker *t, tracker_keep_fn *fn, void *ctx)
{
    t->keep_fn = fn;
    t->keep_ctx = ctx;
}

void tracker_set_origin_hook(struct tracker *t, tracker_origin_fn *fn, void *ctx)
{
    t->origin_fn = fn;
    t->origin_ctx = ctx;
}

void tracker_free(struct tracker *t)
{
    if (t == NULL)
        return;
    tracker_refer_free(t);
    tracker_nf_free(t);
    tracker_scan_free(t);
    tracker_ladder_free(t);
    free(t);
}

/* RFC 3261 §7.1: methods are case-sensitive. m is a sip_msg field. */
#define is_method(m, name) SIPMSG_IS((m), name)

static void tracker_dispatch(struct tracker *t, const struct sip_msg *m,
                             const struct sw_tuple *tuple, sw_time ts);

void tracker_on_msg(struct tracker *t, const struct sip_msg *m, const struct sw_tuple *tuple,
                    sw_time ts)
{
    /* The pipeline already advanced the clock; doing it again is O(1) and
     * keeps the invariant (no timer due before ts is left unfired) even
     * for a caller that forgot. */
    tracker_advance(t, ts);
    if (t->now != SW_TIME_NONE && ts < t->now)
        ts = t->now;
    if (m->call_id[0] == '\0') {
        t->st.messages_ignored++; /* no Call-ID: nothing to correlate on */
        return;
    }
    tracker_ladder_msg(t, m, tuple, ts);
    tracker_dispatch(t, m, tuple, ts);
    tracker_ladder_msg_done(t, m);
}

static void tracker_dispatch(struct tracker *t, const struct sip_msg *m,
                             const struct sw_tuple *tuple, sw_time ts)
{
    if (m->is_request) {
        if (is_method(m->method, "ACK"))
            tracker_nf_ack(t, m, ts);
        else if (!is_method(m->method, "CANCEL"))
            tracker_nf_request(t, m, tuple, ts);
        if (is_method(m->method, "REFER"))
            tracker_refer_request(t, m, tuple, ts);
        else if (is_method(m->method, "NOTIFY"))
            tracker_refer_notify(t, m, ts);
        return;
    }
    if (m->status >= 200)
        tracker_nf_response(t, m, tuple, ts);
    else
        tracker_nf_provisional(t, m, ts);
    if (is_method(m->cseq_method, "REFER"))
        tracker_refer_response(t, m, tuple, ts);
    else if (is_method(m->cseq_method, "NOTIFY"))
        tracker_refer_notify_response(t, m, ts);
}

void tracker_advance(struct tracker *t, sw_time now)
{
    if (t->now != SW_TIME_NONE && now <= t->now)
        return;
    t->now = now;
    /* Deadlines in order across both: a not-found held for its ACK goes out
     * after the transfers due before it, before those due after. */
    sw_time due;
    while (t->n_held > 0 && (due = tracker_nf_next_due(t)) != SW_TIME_NONE && due <= now) {
        tracker_refer_advance(t, due);
        tracker_nf_advance(t, due);
    }
    tracker_refer_advance(t, now);
    tracker_nf_advance(t, now);
    tracker_ladder_advance(t, now);
}

void tracker_finish(struct tracker *t, sw_time now)
{
    tracker_advance(t, now);
    if (t->now != SW_TIME_NONE && now < t->now)
        now = t->now;
    tracker_refer_finish(t, now);
    tracker_nf_finish(t);
    tracker_scan_free(t); /* scan windows mean nothing past the end of input */
    tracker_ladder_free(t); /* nor ladders: nothing more can be flagged */
}

void tracker_summary(const struct tracker *t, struct sw_not_found_summary *nf,
                     struct sw_transfer_summary *xfer)
{
    memset(nf, 0, sizeof *nf);
    memset(xfer, 0, sizeof *xfer);
    tracker_nf_summary(t, nf);
    memcpy(xfer->by_outcome, t->by_outcome, sizeof xfer->by_outcome);
}

void tracker_counters(const struct tracker *t, struct sw_counters *out)
{
    const struct tracker_stats *s = &t->st;
    sw_counters_add(out, "transfers_seen", s->transfers);
    sw_counters_add(out, "transfers_active", t->n_xfers);
    sw_counters_add(out, "transfers_evicted", s->transfers_evicted);
    sw_counters_add(out, "refer_retransmissions", s->refer_retransmissions);
    sw_counters_add(out, "notify_orphans", s->notify_orphans);
    sw_counters_add(out, "notify_late", s->notify_late);
    sw_counters_add(out, "transactions_active", t->n_txns);
    sw_counters_add(out, "transactions_evicted", s->transactions_evicted);
    sw_counters_add(out, "transactions_expired", s->transactions_expired);
    sw_counters_add(out, "not_found_events", s->not_found_events);
    sw_counters_add(out, "not_found_duplicates", s->not_found_duplicates);
    sw_counters_add(out, "not_found_held", t->n_held);
    sw_counters_add(out, "not_found_held_peak", t->n_held_peak);
    sw_counters_add(out, "scan_events", s->scan_events);
    sw_counters_add(out, "scan_sources_evicted", s->scan_sources_evicted);
    sw_counters_add(out, "scan_bytes_held", t->scan_bytes);
    sw_counters_add(out, "scan_bytes_peak", t->scan_bytes_peak);
    sw_counters_add(out, "summary_keys_dropped", s->summary_keys_dropped);
    sw_counters_add(out, "refer_leg_copies", s->refer_leg_copies);
    sw_counters_add(out, "refer_response_copies", s->refer_response_copies);
    sw_counters_add(out, "refer_responses_unmatched", s->refer_responses_unmatched);
    sw_counters_add(out, "refer_late_responses", s->refer_late_responses);
    sw_counters_add(out, "notify_retransmissions", s->notify_retransmissions);
    sw_counters_add(out, "transfers_settled_evicted", s->transfers_settled_evicted);
    sw_counters_add(out, "not_found_settled_evicted", s->not_found_settled_evicted);
    sw_counters_add(out, "scan_hits_dropped", s->scan_hits_dropped);
    sw_counters_add(out, "tracker_messages_ignored", s->messages_ignored);
    sw_counters_add(out, "tracker_oom", s->oom);
    sw_counters_add(out, "refer_auth_retries", s->refer_auth_retries);
    tracker_ladder_counters(t, out);
}
