/*
 * tracker_notfound.c - pending requests and their 404 / 604 answers: one
 * `user_not_found` event per call attempt (Call-ID + CSeq number + method),
 * the not-found totals and top-10 tables of the stats summary, and the feed
 * of scan.c (docs/not-found.md).
 *
 * Owns: one small record per pending request (every method but ACK and
 * CANCEL: the fields a user_not_found event needs, as exact-length copies
 * in one allocation), in a FIFO that is both the eviction order and the
 * transaction-timeout order (the timeout is constant); settled not-found
 * keys kept for `linger`; the summary tables (bounded, ties by key).
 * Does not: match responses to requests by Via branch (the CSeq method +
 * number + Call-ID is what an operator counts as one attempt, whatever leg or
 * retransmission it was seen on), or judge any other status: 480, 486, 403
 * and 484 say "this user exists (or may)", only 404 and 604 say "nobody by
 * that name" (RFC 3261 §21.4.5, §21.6.4).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tracker_int.h"

struct nf_txn {
    UT_hash_handle hh;
    struct nf_txn *prev, *next; /* in the trying list, or the proceeding one */
    sw_time first_seen;
    sw_time last_provisional;   /* proceeding: the last 1xx, which restarts Timer C */
    bool proceeding;
    struct sw_tuple tuple;
    uint16_t klen;
    uint16_t o_method, o_ruri, o_from, o_to, o_ua; /* offsets of NUL-terminated strings */
    uint32_t cost; /* bytes charged to the budget */
    char buf[]; /* key (CSeq, method, NUL, Call-ID), NUL, strings */
};

struct nf_settled {
    UT_hash_handle hh;
    struct nf_settled *next;
    sw_time expires;
    uint16_t klen;
    uint8_t key[];
};

struct sum_key {
    UT_hash_handle hh;
    uint64_t count;
    char key[];
};

static void key_for(struct tracker_key *k, const struct sip_msg *m, const char *method,
                    size_t method_cap)
{
    tracker_key_make(k, m->cseq, method, method_cap, m->call_id, sizeof m->call_id,
                     m->call_id_hash);
}

/* An INVITE that got a provisional response waits for its final one up to
 * Timer C (RFC 3261 §16.6: more than 3 minutes, restarted by each 1xx), not
 * Timer B: a call that rings for a minute and is then answered 404 still
 * finds its request. */
#define NF_INVITE_PROCEEDING SW_SEC(180)

static void txn_list_unlink(struct tracker *t, struct nf_txn *p)
{
    struct nf_txn **first = p->proceeding ? &t->prc_first : &t->txn_first;
    struct nf_txn **last = p->proceeding ? &t->prc_last : &t->txn_last;
    if (p->prev != NULL)
        p->prev->next = p->next;
    else
        *first = p->next;
    if (p->next != NULL)
        p->next->prev = p->prev;
    else
        *last = p->prev;
    p->prev = p->next = NULL;
}

static void txn_list_append(struct tracker *t, struct nf_txn *p)
{
    struct nf_txn **first = p->proceeding ? &t->prc_first : &t->txn_first;
    struct nf_txn **last = p->proceeding ? &t->prc_last : &t->txn_last;
    p->prev = *last;
    p->next = NULL;
    if (*last != NULL)
        (*last)->next = p;
    else
        *first = p;
    *last = p;
}

static void txn_unlink_free(struct tracker *t, struct nf_txn *p)
{
    HASH_DELETE(hh, t->txns, p);
    txn_list_unlink(t, p);
    t->n_txns--;
    sw_budget_release(t->cfg.budget, p->cost);
    free(p);
}

/* The oldest still trying, else the longest proceeding. */
static void txn_evict_oldest(struct tracker *t)
{
    txn_unlink_free(t, t->txn_first != NULL ? t->txn_first : t->prc_first);
    t->st.transactions_evicted++;
}

static unsigned nfs_slot(unsigned hashv)
{
    return (hashv >> (32 - NF_FILTER_BITS)) & (NF_FILTER_SLOTS - 1); /* uthash uses the low bits */
}

static struct nf_settled *nfs_find(struct tracker *t, const struct tracker_key *k)
{
    if (t->nfs_filter[nfs_slot(k->hashv)] == 0)
        return NULL;
    struct nf_settled *s = NULL;
    HASH_FIND_BYHASHVALUE(hh, t->nfs_hash, k->b, k->n, k->hashv, s);
    return s;
}

static void nfs_pop(struct tracker *t)
{
    struct nf_settled *s = t->nfs_head;
    t->nfs_head = s->next;
    if (t->nfs_head == NULL)
        t->nfs_tail = NULL;
    uint16_t *f = &t->nfs_filter[nfs_slot(s->hh.hashv)];
    if (*f != UINT16_MAX)
        (*f)--;
    HASH_DELETE(hh, t->nfs_hash, s);
    t->n_nfs--;
    sw_budget_release(t->cfg.budget, sizeof *s + s->klen + SW_BUDGET_ENTRY_OVERHEAD);
    free(s);
}

static void nfs_add(struct tracker *t, const struct tracker_key *k, sw_time ts)
{
    if (t->n_nfs >= t->cfg.max_transactions) {
        nfs_pop(t);
        t->st.not_found_settled_evicted++;
    }
    size_t cost = sizeof(struct nf_settled) + k->n + SW_BUDGET_ENTRY_OVERHEAD;
    while (sw_budget_full(t->cfg.budget, cost) && t->nfs_head != NULL) {
        nfs_pop(t);
        t->st.not_found_settled_evicted++;
        sw_budget_evicted(t->cfg.budget);
    }
    struct nf_settled *s = malloc(sizeof *s + k->n);
    if (s == NULL) {
        t->st.oom++;
        return;
    }
    sw_budget_charge(t->cfg.budget, cost);
    memset(s, 0, sizeof *s);
    memcpy(s->key, k->b, k->n);
    s->klen = (uint16_t)k->n;
    s->expires = ts + t->cfg.linger;
    HASH_ADD_KEYPTR_BYHASHVALUE(hh, t->nfs_hash, s->key, s->klen, k->hashv, s);
    if (s->hh.tbl == NULL) {
        t->st.oom++;
        sw_budget_release(t->cfg.budget, cost);
        free(s);
        return;
    }
    if (t->nfs_tail != NULL)
        t->nfs_tail->next = s;
    else
        t->nfs_head = s;
    t->nfs_tail = s;
    t->n_nfs++;
    uint16_t *f = &t->nfs_filter[nfs_slot(k->hashv)];
    if (*f != UINT16_MAX)
        (*f)++;
}

static size_t put_str(char *buf, size_t off, const char *s, size_t cap)
{
    size_t n = tracker_len(s, cap);
    memcpy(buf + off, s, n);
    buf[off + n] = '\0';
    return off + n + 1;
}

void tracker_nf_request(struct tracker *t, const struct sip_msg *m, const struct sw_tuple *tuple,
                        sw_time ts)
{
    struct tracker_key k;
    key_for(&k, m, m->method, sizeof m->method);
    struct nf_txn *p = NULL;
    HASH_FIND_BYHASHVALUE(hh, t->txns, k.b, k.n, k.hashv, p);
    if (p != NULL)
        return; /* retransmission or a proxy's other leg: the first copy wins */
    if (nfs_find(t, &k) != NULL)
        return; /* a retransmission after its 404 was reported */
    if (t->n_txns >= t->cfg.max_transactions)
        txn_evict_oldest(t);
    size_t n_ruri = tracker_len(m->request_uri, sizeof m->request_uri);
    size_t n_from = tracker_len(m->from, sizeof m->from);
    size_t n_to = tracker_len(m->to, sizeof m->to);
    size_t n_ua = tracker_len(m->user_agent, sizeof m->user_agent);
    size_t size = k.n + 1 + n_ruri + 1 + n_from + 1 + n_to + 1 + n_ua + 1;
    size_t cost = sizeof *p + size + SW_BUDGET_ENTRY_OVERHEAD;
    while (sw_budget_full(t->cfg.budget, cost) && t->n_txns > 0) {
        txn_evict_oldest(t);
        sw_budget_evicted(t->cfg.budget);
    }
    p = malloc(sizeof *p + size);
    if (p == NULL) {
        t->st.oom++;
        return;
    }
    memset(p, 0, sizeof *p);
    p->cost = (uint32_t)cost;
    sw_budget_charge(t->cfg.budget, cost);
    memcpy(p->buf, k.b, k.n);
    p->buf[k.n] = '\0'; /* terminates the Call-ID at the end of the key */
    p->klen = (uint16_t)k.n;
    p->o_method = 4;
    size_t off = k.n + 1;
    p->o_ruri = (uint16_t)off;
    off = put_str(p->buf, off, m->request_uri, sizeof m->request_uri);
    p->o_from = (uint16_t)off;
    off = put_str(p->buf, off, m->from, sizeof m->from);
    p->o_to = (uint16_t)off;
    off = put_str(p->buf, off, m->to, sizeof m->to);
    p->o_ua = (uint16_t)off;
    put_str(p->buf, off, m->user_agent, sizeof m->user_agent);
    p->first_seen = ts;
    p->tuple = *tuple;
    HASH_ADD_KEYPTR_BYHASHVALUE(hh, t->txns, p->buf, p->klen, k.hashv, p);
    if (p->hh.tbl == NULL) {
        t->st.oom++;
        sw_budget_release(t->cfg.budget, p->cost);
        free(p);
        return;
    }
    txn_list_append(t, p);
    t->n_txns++;
}

void tracker_nf_provisional(struct tracker *t, const struct sip_msg *m, sw_time ts)
{
    if (!SIPMSG_IS(m->cseq_method, "INVITE"))
        return; /* non-INVITE transactions keep Timer F whatever 1xx they get */
    struct tracker_key k;
    key_for(&k, m, m->cseq_method, sizeof m->cseq_method);
    struct nf_txn *p = NULL;
    HASH_FIND_BYHASHVALUE(hh, t->txns, k.b, k.n, k.hashv, p);
    if (p == NULL)
        return;
    /* to the tail of the proceeding list: its deadlines stay in order since
     * they are all "last 1xx + the same constant" and time never goes back */
    txn_list_unlink(t, p);
    p->proceeding = true;
    p->last_provisional = ts;
    txn_list_append(t, p);
}

static void sum_count(struct tracker *t, struct sum_key **table, size_t *n, const char *key)
{
    size_t len = strlen(key);
    struct sum_key *s = NULL;
    HASH_FIND(hh, *table, key, len, s);
    if (s != NULL) {
        s->count++;
        return;
    }
    size_t cost = sizeof *s + len + 1 + SW_BUDGET_ENTRY_OVERHEAD;
    if (*n >= t->cfg.max_summary_keys) {
        t->st.summary_keys_dropped++;
        return;
    }
    if (sw_budget_full(t->cfg.budget, cost)) {
        /* counts are not evicted (the top-10 would lie): new keys are refused */
        t->st.summary_keys_dropped++;
        t->cfg.budget->refused++;
        return;
    }
    s = malloc(sizeof *s + len + 1);
    if (s == NULL) {
        t->st.oom++;
        return;
    }
    sw_budget_charge(t->cfg.budget, cost);
    memset(s, 0, sizeof *s);
    memcpy(s->key, key, len + 1);
    s->count = 1;
    HASH_ADD_KEYPTR(hh, *table, s->key, len, s);
    if (s->hh.tbl == NULL) {
        t->st.oom++;
        sw_budget_release(t->cfg.budget, cost);
        free(s);
        return;
    }
    (*n)++;
}

static const char *nonempty(const char *s)
{
    return s != NULL && s[0] != '\0' ? s : NULL;
}

/* A user_not_found goes out here: at once for a non-INVITE request, after
 * its ACK wait for an INVITE (nf_held below). */
static void nf_emit(struct tracker *t, const struct sw_event *ev)
{
    t->emit(t->ctx, ev);
    t->st.not_found_events++;
    if (ev->u.not_found.status == 404)
        t->status_404++;
    else
        t->status_604++;
}

/* A hit, when its 404 is seen (whether its event waits or not): the summary
 * tables, the scan ladder's first hits and the scan window, which may emit a
 * scan event now, before the held event of the hit that completed it. */
static void nf_hit(struct tracker *t, const struct sw_event *ev)
{
    const struct sw_event_not_found *e = &ev->u.not_found;
    const char *user = e->user != NULL ? e->user : "";
    char user_key[2 * SIPMSG_MAX_FIELD + 2];
    if (e->domain != NULL)
        snprintf(user_key, sizeof user_key, "%s@%s", user, e->domain);
    else
        snprintf(user_key, sizeof user_key, "%s", user);
    char ip[SW_ADDRSTRLEN];
    sw_addr_str(&ev->tuple.src, ip);
    sum_count(t, &t->sum_users, &t->n_sum_users, user_key);
    sum_count(t, &t->sum_sources, &t->n_sum_sources, ip);
    tracker_ladder_scan_hit(t, ev);
    tracker_scan_hit(t, ev, user_key);
}

/*
 * An INVITE's 404/604 is answered by an ACK (RFC 3261 17.1.1.3), which the
 * event's ladder and evidence file should hold. The event waits, as a held
 * copy: once the ACK is seen, until the transaction has been quiet (no 404
 * copy, no ACK) for NF_ACK_QUIET, so that a proxy's other leg, which follows
 * within milliseconds, joins it; without an ACK, NF_ACK_WAIT after the first
 * 404 (the server retransmits it at 0.5, 1.5 and 3.5 s while no ACK comes,
 * Timer G); never more than NF_HOLD_MAX in all. Its time and origin stay
 * those of the first 404, so it is written up to NF_HOLD_MAX after events
 * with later times (docs/not-found.md). Held events are
 * bounded (max_transactions, the memory budget): over either, the one due
 * first goes out early; none is lost.
 */
#define NF_ACK_QUIET (SW_USEC_PER_SEC / 2)
#define NF_ACK_WAIT SW_SEC(4)
#define NF_HOLD_MAX (NF_ACK_WAIT + NF_ACK_QUIET)

struct nf_held {
    UT_hash_handle hh;
    struct nf_held *prev, *next; /* in the waiting list (by first 404) or the acked one (by last) */
    sw_time last;
    bool acked;
    struct sw_event ev;          /* strings point into buf */
    uint32_t cost;
    uint16_t klen;
    char buf[];                  /* key, then the event's strings */
};

static sw_time held_due(const struct nf_held *h)
{
    return h->acked ? h->last + NF_ACK_QUIET : h->ev.ts + NF_ACK_WAIT;
}

/* The held event due first (the heads of both lists are each list's first). */
static struct nf_held *held_next(const struct tracker *t)
{
    struct nf_held *a = t->held_first, *b = t->hack_first;
    if (a == NULL || (b != NULL && held_due(b) < held_due(a)))
        return b;
    return a;
}

static void held_unlink(struct tracker *t, struct nf_held *h)
{
    struct nf_held **first = h->acked ? &t->hack_first : &t->held_first;
    struct nf_held **last = h->acked ? &t->hack_last : &t->held_last;
    if (h->prev != NULL)
        h->prev->next = h->next;
    else
        *first = h->next;
    if (h->next != NULL)
        h->next->prev = h->prev;
    else
        *last = h->prev;
    h->prev = h->next = NULL;
}

/* Deadlines in each list are "a time that never goes back + a constant". */
static void held_append(struct tracker *t, struct nf_held *h)
{
    struct nf_held **first = h->acked ? &t->hack_first : &t->held_first;
    struct nf_held **last = h->acked ? &t->hack_last : &t->held_last;
    h->prev = *last;
    h->next = NULL;
    if (*last != NULL)
        (*last)->next = h;
    else
        *first = h;
    *last = h;
}

/* Emits (when `emit`) and frees; the Call-ID's ladder is let go after. */
static void held_release(struct tracker *t, struct nf_held *h, bool emit)
{
    HASH_DELETE(hh, t->held, h);
    held_unlink(t, h);
    t->n_held--;
    if (emit)
        nf_emit(t, &h->ev);
    tracker_ladder_hold(t, h->ev.call_id, false);
    sw_budget_release(t->cfg.budget, h->cost);
    free(h);
}

static size_t str_size(const char *s)
{
    return s != NULL ? strlen(s) + 1 : 0; /* our own NUL-terminated copies */
}

static const char *held_str(char *buf, size_t *off, const char *s)
{
    if (s == NULL)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = buf + *off;
    memcpy(d, s, n);
    *off += n;
    return d;
}

/* Holds a copy of ev (an INVITE's not-found) until its ACK wait ends; false
 * when it cannot be held (then the caller emits it at once). */
static bool held_add(struct tracker *t, const struct tracker_key *k, const struct sw_event *ev)
{
    const struct sw_event_not_found *e = &ev->u.not_found;
    const char *strs[] = {ev->call_id, e->method, e->request_uri, e->user, e->domain, e->from,
                          e->to, e->user_agent, e->server, e->reason, e->warning};
    size_t size = k->n;
    for (size_t i = 0; i < SW_ARRAY_LEN(strs); i++)
        size += str_size(strs[i]);
    size_t cost = sizeof(struct nf_held) + size + SW_BUDGET_ENTRY_OVERHEAD;
    while (t->n_held > 0 &&
           (t->n_held >= t->cfg.max_transactions || sw_budget_full(t->cfg.budget, cost)))
        held_release(t, held_next(t), true); /* early, never lost */
    struct nf_held *h = malloc(sizeof *h + size);
    if (h == NULL) {
        t->st.oom++;
        return false;
    }
    memset(h, 0, sizeof *h);
    memcpy(h->buf, k->b, k->n);
    h->klen = (uint16_t)k->n;
    h->ev = *ev;
    size_t off = k->n;
    struct sw_event_not_found *he = &h->ev.u.not_found;
    h->ev.call_id = held_str(h->buf, &off, ev->call_id);
    he->method = held_str(h->buf, &off, e->method);
    he->request_uri = held_str(h->buf, &off, e->request_uri);
    he->user = held_str(h->buf, &off, e->user);
    he->domain = held_str(h->buf, &off, e->domain);
    he->from = held_str(h->buf, &off, e->from);
    he->to = held_str(h->buf, &off, e->to);
    he->user_agent = held_str(h->buf, &off, e->user_agent);
    he->server = held_str(h->buf, &off, e->server);
    he->reason = held_str(h->buf, &off, e->reason);
    he->warning = held_str(h->buf, &off, e->warning);
    if (t->origin_fn != NULL)
        t->origin_fn(t->origin_ctx, &h->ev.origin); /* the 404's frame, not the ACK's */
    HASH_ADD_KEYPTR_BYHASHVALUE(hh, t->held, h->buf, h->klen, k->hashv, h);
    if (h->hh.tbl == NULL) {
        t->st.oom++;
        free(h);
        return false;
    }
    h->cost = (uint32_t)cost;
    sw_budget_charge(t->cfg.budget, cost);
    h->last = ev->ts;
    held_append(t, h);
    t->n_held++;
    if (t->n_held > t->n_held_peak)
        t->n_held_peak = t->n_held;
    tracker_ladder_hold(t, h->ev.call_id, true);
    return true;
}

/* A message of a held event's transaction (a 404 copy, an ACK): once its
 * ACK was seen, the quiet wait starts again. */
static void held_touch(struct tracker *t, const struct tracker_key *k, sw_time ts, bool ack)
{
    struct nf_held *h = NULL;
    HASH_FIND_BYHASHVALUE(hh, t->held, k->b, k->n, k->hashv, h);
    if (h == NULL || (!ack && !h->acked))
        return;
    if (h->acked && ts + NF_ACK_QUIET > h->ev.ts + NF_HOLD_MAX)
        return; /* waited long enough: due as it is (an ACK comes before NF_ACK_WAIT) */
    held_unlink(t, h);
    h->acked = true;
    h->last = ts;
    held_append(t, h);
}

void tracker_nf_ack(struct tracker *t, const struct sip_msg *m, sw_time ts)
{
    if (t->held == NULL)
        return;
    struct tracker_key k;
    tracker_key_make(&k, m->cseq, "INVITE", sizeof "INVITE", m->call_id, sizeof m->call_id,
                     m->call_id_hash);
    held_touch(t, &k, ts, true);
}

void tracker_nf_response(struct tracker *t, const struct sip_msg *m, const struct sw_tuple *tuple,
                         sw_time ts)
{
    struct tracker_key k;
    key_for(&k, m, m->cseq_method, sizeof m->cseq_method);
    struct nf_txn *p = NULL;
    HASH_FIND_BYHASHVALUE(hh, t->txns, k.b, k.n, k.hashv, p);
    bool not_found = m->status == 404 || m->status == 604;
    if (not_found && !SIPMSG_IS(m->cseq_method, "ACK") && !SIPMSG_IS(m->cseq_method, "CANCEL")) {
        if (nfs_find(t, &k) != NULL) {
            t->st.not_found_duplicates++; /* retransmitted, or the other leg's copy */
            if (t->held != NULL)
                held_touch(t, &k, ts, false);
        } else {
            /* "sip:" URIs of SIPMSG_MAX_FIELD bytes: user and host fit. */
            char user[SIPMSG_MAX_FIELD], host[SIPMSG_MAX_FIELD];
            const char *uri = p != NULL ? p->buf + p->o_ruri : m->to_uri;
            sipmsg_uri_user_host(uri, user, sizeof user, host, sizeof host);
            if (user[0] == '\0' && p != NULL) {
                /* A REGISTER's Request-URI names only the registrar's domain:
                 * the user that does not exist is the To (address of record). */
                char to_host[SIPMSG_MAX_FIELD];
                sipmsg_uri_user_host(m->to_uri, user, sizeof user, to_host, sizeof to_host);
                if (host[0] == '\0')
                    memcpy(host, to_host, sizeof host);
            }

            struct sw_event ev;
            memset(&ev, 0, sizeof ev);
            ev.type = SW_EVENT_USER_NOT_FOUND;
            ev.ts = ts;
            ev.call_id = m->call_id;
            ev.has_tuple = true;
            ev.tuple = p != NULL ? p->tuple : sw_tuple_reverse(tuple);
            struct sw_event_not_found *e = &ev.u.not_found;
            e->method = p != NULL ? p->buf + p->o_method : nonempty(m->cseq_method);
            e->cseq = m->cseq;
            e->request_uri = p != NULL ? nonempty(p->buf + p->o_ruri) : NULL;
            e->user = nonempty(user);
            e->domain = nonempty(host);
            e->from = nonempty(p != NULL ? p->buf + p->o_from : m->from);
            e->to = nonempty(p != NULL ? p->buf + p->o_to : m->to);
            e->user_agent = p != NULL ? nonempty(p->buf + p->o_ua) : NULL;
            e->server = m->server[0] != '\0' ? m->server : nonempty(m->user_agent);
            e->status = m->status;
            e->reason = nonempty(m->reason);
            e->warning = nonempty(m->warning);
            e->rtt = p != NULL ? ts - p->first_seen : SW_TIME_NONE;
            nf_hit(t, &ev);
            bool invite = SIPMSG_IS(m->cseq_method, "INVITE");
            if (!invite || !held_add(t, &k, &ev))
                nf_emit(t, &ev);
            nfs_add(t, &k, ts);
        }
    }
    if (p != NULL)
        txn_unlink_free(t, p);
}

sw_time tracker_nf_next_due(const struct tracker *t)
{
    const struct nf_held *h = held_next(t);
    return h != NULL ? held_due(h) : SW_TIME_NONE;
}

void tracker_nf_advance(struct tracker *t, sw_time now)
{
    struct nf_held *h;
    while ((h = held_next(t)) != NULL && held_due(h) <= now)
        held_release(t, h, true);
    while (t->txn_first != NULL && t->txn_first->first_seen + t->cfg.transaction_timeout <= now) {
        txn_unlink_free(t, t->txn_first);
        t->st.transactions_expired++;
    }
    sw_time proceeding = SW_MAX(t->cfg.transaction_timeout, NF_INVITE_PROCEEDING);
    while (t->prc_first != NULL && t->prc_first->last_provisional + proceeding <= now) {
        txn_unlink_free(t, t->prc_first);
        t->st.transactions_expired++;
    }
    while (t->nfs_head != NULL && t->nfs_head->expires <= now)
        nfs_pop(t);
}

void tracker_nf_finish(struct tracker *t)
{
    struct nf_held *h;
    while ((h = held_next(t)) != NULL)
        held_release(t, h, true); /* end of input: their wait is over */
    while (t->txn_first != NULL)
        txn_unlink_free(t, t->txn_first);
    while (t->prc_first != NULL)
        txn_unlink_free(t, t->prc_first);
}

static void sum_free(struct tracker *t, struct sum_key **table)
{
    struct sum_key *s, *tmp;
    HASH_ITER(hh, *table, s, tmp)
    {
        HASH_DELETE(hh, *table, s);
        sw_budget_release(t->cfg.budget, sizeof *s + strlen(s->key) + 1 + SW_BUDGET_ENTRY_OVERHEAD);
        free(s);
    }
}

void tracker_nf_free(struct tracker *t)
{
    struct nf_held *h;
    while ((h = held_next(t)) != NULL)
        held_release(t, h, false); /* freed without a finish: not emitted */
    tracker_nf_finish(t);
    while (t->nfs_head != NULL)
        nfs_pop(t);
    sum_free(t, &t->sum_users);
    sum_free(t, &t->sum_sources);
    t->n_sum_users = t->n_sum_sources = 0;
}

/* count desc, then key asc: the same table gives the same list whatever
 * the hash order. */
static bool top_before(const struct sum_key *a, const struct sw_top_entry *b)
{
    return a->count > b->count || (a->count == b->count && strcmp(a->key, b->key) < 0);
}

static size_t top10(const struct sum_key *table, struct sw_top_entry *out)
{
    size_t n = 0;
    for (const struct sum_key *s = table; s != NULL; s = s->hh.next) {
        if (n == SW_SUMMARY_TOP && !top_before(s, &out[n - 1]))
            continue;
        size_t i = n < SW_SUMMARY_TOP ? n++ : n - 1;
        while (i > 0 && top_before(s, &out[i - 1])) {
            out[i] = out[i - 1];
            i--;
        }
        out[i].key = s->key;
        out[i].count = s->count;
    }
    return n;
}

void tracker_nf_summary(const struct tracker *t, struct sw_not_found_summary *nf)
{
    nf->status_404 = t->status_404;
    nf->status_604 = t->status_604;
    nf->n_top_users = top10(t->sum_users, nf->top_users);
    nf->n_top_sources = top10(t->sum_sources, nf->top_sources);
}
