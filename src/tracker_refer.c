/*
 * tracker_refer.c - follows each REFER transaction (RFC 3515) to its outcome
 * and writes one `transfer` event per transaction (docs/transfers.md).
 *
 * Owns: unsettled transfers (hash on REFER CSeq number + Call-ID, a list in
 * creation order, a per-Call-ID list for NOTIFYs without an id), an indexed
 * min-heap of their single next deadline, and "settled" keys kept for
 * `linger` so that late copies count instead of making a second transfer.
 * Does not: follow INVITE dialogs, check that a NOTIFY's subscription
 * matches a dialog state machine, or read bodies (sipmsg.c extracts the
 * message/sipfrag status line).
 * RFCs: 3515 §2.4.4-2.4.7 (implicit subscription, sipfrag NOTIFYs, Event
 * id = REFER CSeq, first NOTIFY may omit id), 4488 (Refer-Sub: false, no
 * subscription), 6665 §4.1.3 / §8.2.1 (Subscription-State, expires,
 * terminated), 3261 §17.1.2 (Timer F = 64*T1 for non-INVITE transactions).
 */
#include <stdlib.h>
#include <string.h>

#include "tracker_int.h"

/* NOTIFYs remembered per Call-ID for de-duplication: a subscription sends
 * a handful (100 Trying, 180, 200); 32 covers several transfers. */
#define XFER_NOTIFY_SEEN 32
#define XFER_NO_HEAP SIZE_MAX
/* 10 years: any larger `expires` is "never" for a capture and would only
 * risk overflowing sw_time arithmetic. */
#define XFER_MAX_EXPIRES INT64_C(315360000)

enum xfer_timer {
    XT_NONE = 0,
    XT_NO_RESPONSE,    /* REFER sent, no final response, not accepted */
    XT_AWAIT_RESPONSE, /* outcome known from a NOTIFY; waiting for the REFER's response */
    XT_NO_NOTIFY,      /* accepted, no NOTIFY yet */
    XT_FINAL,          /* NOTIFYs seen, no final sipfrag yet */
    XT_CHALLENGED,     /* REFER answered 401/407: waiting for the retry with credentials */
};

struct notify_seen {
    uint64_t tag_hash; /* notifier's From tag: forks may reuse CSeq numbers */
    uint64_t xfer_id;  /* the transfer it was counted for */
    uint32_t cseq;
    bool answered;     /* its final response was seen (counted once) */
};

struct xfer {
    UT_hash_handle hh;
    struct xfer *prev, *next;   /* creation order (eviction, finish) */
    struct xfer *cprev, *cnext; /* in its Call-ID */
    struct xcall *call;
    uint64_t id;
    size_t heap_idx;
    sw_time due;
    enum xfer_timer timer;

    struct sw_tuple tuple;
    uint64_t refer_copy; /* hash of branch + sender: retransmission or proxy leg */
    sw_time refer_time, accepted_time, sub_end;
    uint32_t cseq;
    int refer_status;
    bool refer_final;
    bool refer_sub_false; /* the REFER asked for no subscription */
    bool replaces;
    bool outcome_known; /* from the NOTIFYs: `pending`, maybe waiting for refer_status */
    bool final_seen;
    enum sw_transfer_outcome pending;
    int final_status;
    unsigned notify_count;
    /* How the transferor answered the NOTIFYs (RFC 6665 §4.1.3): a NOTIFY
     * answered >= 300 told it nothing. */
    unsigned answered_ok, refused, auth_challenges;
    int refusal_status;
    sw_time last_notify;       /* when the last counted NOTIFY came */
    sw_time challenge_time;    /* 401/407 to the REFER; NONE unless challenged */
    char *from, *to, *transferor_ua, *transferee_ua, *refusal_reason;
    char from_tag[SIPMSG_MAX_TOKEN * 2]; /* REFER's From tag */
    /* REFER's To tag, else its 2xx's, else the first NOTIFY's From tag */
    char to_tag[SIPMSG_MAX_TOKEN * 2];
    uint64_t from_tag_hash, to_tag_hash; /* whole tags (sip_msg *_tag_hash) */
    char *refer_to, *referred_by, *refer_reason, *final_reason, *substate;
    size_t klen;
    uint8_t key[]; /* CSeq (4 bytes) + Call-ID + NUL + its hash (tracker_key_make) */
};

struct xcall {
    UT_hash_handle hh;
    struct xfer *first, *last;
    size_t n_settled;
    /* NOTIFYs already counted in this Call-ID, per notifier and CSeq: a
     * NOTIFY's CSeq is unique in its dialog, so a repeat is a retransmission
     * or the other leg's copy, even after its transfer settled. */
    struct notify_seen seen[XFER_NOTIFY_SEEN];
    unsigned n_seen;
    size_t klen;
    char call_id[]; /* NUL, then the whole Call-ID's hash: the key */
};

struct xsettled {
    UT_hash_handle hh;
    struct xsettled *next;
    struct xcall *call;
    sw_time expires;
    size_t klen;
    uint8_t key[];
};

static const char *xfer_call_id(const struct xfer *x)
{
    return (const char *)x->key + 4;
}

/* ---- heap on (due, id): deterministic order, ties by creation ---- */

static bool heap_less(const struct xfer *a, const struct xfer *b)
{
    return a->due < b->due || (a->due == b->due && a->id < b->id);
}

static void heap_set(struct tracker *t, size_t i, struct xfer *x)
{
    t->heap[i] = x;
    x->heap_idx = i;
}

static void heap_up(struct tracker *t, size_t i)
{
    struct xfer *x = t->heap[i];
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!heap_less(x, t->heap[p]))
            break;
        heap_set(t, i, t->heap[p]);
        i = p;
    }
    heap_set(t, i, x);
}

static void heap_down(struct tracker *t, size_t i)
{
    struct xfer *x = t->heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= t->heap_n)
            break;
        if (c + 1 < t->heap_n && heap_less(t->heap[c + 1], t->heap[c]))
            c++;
        if (!heap_less(t->heap[c], x))
            break;
        heap_set(t, i, t->heap[c]);
        i = c;
    }
    heap_set(t, i, x);
}

static void heap_remove(struct tracker *t, struct xfer *x)
{
    size_t i = x->heap_idx;
    if (i == XFER_NO_HEAP)
        return;
    x->heap_idx = XFER_NO_HEAP;
    x->timer = XT_NONE;
    t->heap_n--;
    if (i == t->heap_n)
        return;
    struct xfer *moved = t->heap[t->heap_n];
    heap_set(t, i, moved);
    heap_up(t, i);
    heap_down(t, moved->heap_idx);
}

static bool heap_put(struct tracker *t, struct xfer *x, sw_time due, enum xfer_timer kind)
{
    if (x->heap_idx != XFER_NO_HEAP) {
        x->due = due;
        x->timer = kind;
        heap_up(t, x->heap_idx);
        heap_down(t, x->heap_idx);
        return true;
    }
    if (t->heap_n == t->heap_cap) {
        size_t cap = t->heap_cap ? t->heap_cap * 2 : 64;
        struct xfer **h = realloc(t->heap, cap * sizeof *h);
        if (h == NULL) {
            t->st.oom++;
            return false;
        }
        t->heap = h;
        t->heap_cap = cap;
    }
    x->due = due;
    x->timer = kind;
    heap_set(t, t->heap_n++, x);
    heap_up(t, x->heap_idx);
    return true;
}

/* ---- settled keys ---- */

static struct xsettled *settled_find(struct tracker *t, const struct tracker_key *k)
{
    struct xsettled *s = NULL;
    HASH_FIND_BYHASHVALUE(hh, t->xs_hash, k->b, k->n, k->hashv, s);
    return s;
}

/* Bytes charged to the memory budget (budget.h) per entry: a transfer is
 * charged its ten strings at their size limit when it is created. */
#define XFER_STRINGS 10
#define XFER_COST(klen)                                                                            \
    (sizeof(struct xfer) + (klen) + 1 + XFER_STRINGS * SIPMSG_MAX_FIELD + SW_BUDGET_ENTRY_OVERHEAD)
#define XCALL_COST(klen) (sizeof(struct xcall) + (klen) + SW_BUDGET_ENTRY_OVERHEAD)
#define XSETTLED_COST(klen) (sizeof(struct xsettled) + (klen) + SW_BUDGET_ENTRY_OVERHEAD)

static void call_release(struct tracker *t, struct xcall *c)
{
    if (c->first == NULL && c->n_settled == 0) {
        HASH_DELETE(hh, t->calls, c);
        sw_budget_release(t->cfg.budget, XCALL_COST(c->klen));
        free(c);
    }
}

static void settled_pop(struct tracker *t)
{
    struct xsettled *s = t->xs_head;
    t->xs_head = s->next;
    if (t->xs_head == NULL)
        t->xs_tail = NULL;
    HASH_DELETE(hh, t->xs_hash, s);
    t->n_xsettled--;
    if (s->call != NULL) {
        s->call->n_settled--;
        call_release(t, s->call);
    }
    sw_budget_release(t->cfg.budget, XSETTLED_COST(s->klen));
    free(s);
}

static void settled_add(struct tracker *t, const struct xfer *x, sw_time ts)
{
    if (t->n_xsettled >= t->cfg.max_transfers) {
        settled_pop(t); /* a late copy of that one may now look new */
        t->st.transfers_settled_evicted++;
    }
    while (sw_budget_full(t->cfg.budget, XSETTLED_COST(x->klen)) && t->xs_head != NULL) {
        settled_pop(t);
        t->st.transfers_settled_evicted++;
        sw_budget_evicted(t->cfg.budget);
    }
    struct xsettled *s = malloc(sizeof *s + x->klen);
    if (s == NULL) {
        t->st.oom++;
        return;
    }
    sw_budget_charge(t->cfg.budget, XSETTLED_COST(x->klen));
    memset(s, 0, sizeof *s);
    memcpy(s->key, x->key, x->klen);
    s->klen = x->klen;
    /* FIFO order needs non-decreasing expiries; settle times already are
     * (timers fire in deadline order, messages come after them). */
    s->expires = ts + t->cfg.linger;
    if (t->xs_tail != NULL && s->expires < t->xs_tail->expires)
        s->expires = t->xs_tail->expires;
    HASH_ADD_KEYPTR_BYHASHVALUE(hh, t->xs_hash, s->key, s->klen, x->hh.hashv, s); /* x's key */
    if (s->hh.tbl == NULL) {
        t->st.oom++;
        sw_budget_release(t->cfg.budget, XSETTLED_COST(s->klen));
        free(s);
        return;
    }
    s->call = x->call;
    if (s->call != NULL)
        s->call->n_settled++;
    if (t->xs_tail != NULL)
        t->xs_tail->next = s;
    else
        t->xs_head = s;
    t->xs_tail = s;
    t->n_xsettled++;
}

/* ---- transfers ---- */

static struct xfer *xfer_find(struct tracker *t, const struct tracker_key *k)
{
    struct xfer *x = NULL;
    HASH_FIND_BYHASHVALUE(hh, t->xfers, k->b, k->n, k->hashv, x);
    return x;
}

static void xfer_unlink_free(struct tracker *t, struct xfer *x)
{
    heap_remove(t, x);
    HASH_DELETE(hh, t->xfers, x);
    if (x->prev != NULL)
        x->prev->next = x->next;
    else
        t->x_first = x->next;
    if (x->next != NULL)
        x->next->prev = x->prev;
    else
        t->x_last = x->prev;
    if (x->call != NULL) {
        struct xcall *c = x->call;
        if (x->cprev != NULL)
            x->cprev->cnext = x->cnext;
        else
            c->first = x->cnext;
        if (x->cnext != NULL)
            x->cnext->cprev = x->cprev;
        else
            c->last = x->cprev;
    }
    t->n_xfers--;
    free(x->refer_to);
    free(x->referred_by);
    free(x->refer_reason);
    free(x->final_reason);
    free(x->substate);
    free(x->from);
    free(x->to);
    free(x->transferor_ua);
    free(x->transferee_ua);
    free(x->refusal_reason);
    sw_budget_release(t->cfg.budget, XFER_COST(x->klen));
    free(x);
}

static void xfer_settle(struct tracker *t, struct xfer *x, enum sw_transfer_outcome o, sw_time ts,
                        bool truncated)
{
    struct sw_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = SW_EVENT_TRANSFER;
    ev.ts = ts;
    ev.call_id = xfer_call_id(x);
    ev.has_tuple = true;
    ev.tuple = x->tuple;
    struct sw_event_transfer *e = &ev.u.transfer;
    e->outcome = o;
    e->refer_to = x->refer_to;
    e->referred_by = x->referred_by;
    e->replaces = x->replaces;
    e->refer_cseq = x->cseq;
    e->refer_status = x->refer_status;
    e->refer_reason = x->refer_reason;
    e->notify_count = x->notify_count;
    e->final_status = x->final_status;
    e->final_reason = x->final_reason;
    e->refer_time = x->refer_time;
    e->accepted_time = x->accepted_time;
    e->wait = x->accepted_time != SW_TIME_NONE ? ts - x->accepted_time : SW_TIME_NONE;
    e->subscription_state = x->substate;
    e->truncated = truncated;
    e->parties.from = x->from;
    e->parties.to = x->to;
    e->parties.transferor_ua = x->transferor_ua;
    e->parties.transferee_ua = x->transferee_ua;
    e->notify.answered_ok = x->answered_ok;
    e->notify.refused = x->refused;
    e->notify.last_refusal_status = x->refusal_status;
    e->notify.last_refusal_reason = x->refusal_reason;
    e->notify.unanswered = x->notify_count > x->answered_ok + x->refused
                               ? x->notify_count - x->answered_ok - x->refused
                               : 0;
    /* The referred call's outcome reached the transferor only through a
     * NOTIFY it accepted: when it refused every one it answered, it never
     * learned it (a phone that shows the transfer as still pending). */
    e->transferor_uninformed = (o == SW_OUTCOME_COMPLETED || o == SW_OUTCOME_FAILED) &&
                               x->answered_ok == 0 && x->refused > 0;
    e->auth_challenges = x->auth_challenges;
    t->by_outcome[o]++;
    t->emit(t->ctx, &ev);

    struct xcall *c = x->call;
    heap_remove(t, x);
    settled_add(t, x, ts);
    xfer_unlink_free(t, x);
    if (c != NULL)
        call_release(t, c);
}

/* The outcome a transfer has "as of now" if nothing more arrives. */
static enum sw_transfer_outcome xfer_outcome_now(const struct xfer *x)
{
    if (x->outcome_known)
        return x->pending;
    if (x->accepted_time == SW_TIME_NONE)
        /* a 401/407 is a final response: waiting for a retry that did not
         * come, the REFER stands rejected */
        return x->challenge_time != SW_TIME_NONE ? SW_OUTCOME_REJECTED : SW_OUTCOME_NO_RESPONSE;
    if (x->notify_count == 0)
        return x->refer_sub_false ? SW_OUTCOME_NOTIFY_NOT_REQUESTED : SW_OUTCOME_NO_NOTIFY;
    return SW_OUTCOME_NOTIFY_INCOMPLETE;
}

/* After every state change: settle now if the outcome is complete, else
 * (re)arm the one deadline that would settle it. */
static void xfer_update(struct tracker *t, struct xfer *x, sw_time now)
{
    sw_time due;
    enum xfer_timer kind;
    if (x->outcome_known) {
        /* Known from the NOTIFYs; written once the REFER's final response
         * and the transferor's answers to the NOTIFYs are in (each within a
         * transaction timeout), so the event says whether it heard. */
        bool answers_in = x->answered_ok + x->refused >= x->notify_count;
        bool refer_in = x->refer_final || x->refer_time == SW_TIME_NONE;
        if (refer_in && answers_in) {
            xfer_settle(t, x, x->pending, now, false);
            return;
        }
        due = SW_TIME_NONE;
        if (!refer_in)
            due = x->refer_time + t->cfg.transaction_timeout;
        if (!answers_in && x->last_notify != SW_TIME_NONE &&
            (due == SW_TIME_NONE || x->last_notify + t->cfg.transaction_timeout > due))
            due = x->last_notify + t->cfg.transaction_timeout;
        if (due == SW_TIME_NONE)
            due = now;
        kind = XT_AWAIT_RESPONSE;
    } else if (x->challenge_time != SW_TIME_NONE && x->accepted_time == SW_TIME_NONE) {
        /* RFC 3261 §22: a 401/407 is normally followed by the same request
         * with credentials (same Call-ID and From tag, next CSeq). Only a
         * challenge nobody answers within a transaction timeout rejects. */
        due = x->challenge_time + t->cfg.transaction_timeout;
        kind = XT_CHALLENGED;
    } else if (x->accepted_time == SW_TIME_NONE) {
        if (x->refer_time == SW_TIME_NONE) {
            SW_ASSERT(x->refer_time != SW_TIME_NONE); /* created by a REFER or a 2xx */
            xfer_settle(t, x, SW_OUTCOME_NO_RESPONSE, now, false);
            return;
        }
        due = x->refer_time + t->cfg.transaction_timeout;
        kind = XT_NO_RESPONSE;
    } else if (x->notify_count == 0) {
        due = x->accepted_time + t->cfg.notify_timeout;
        kind = XT_NO_NOTIFY;
    } else {
        due = x->accepted_time + t->cfg.final_timeout;
        if (x->sub_end != SW_TIME_NONE && x->sub_end < due)
            due = x->sub_end;
        kind = XT_FINAL;
    }
    if (due <= now) {
        /* The deadline passed while this message was on its way (say an
         * expires=0): the outcome is known at this message. */
        xfer_settle(t, x, xfer_outcome_now(x), now, false);
        return;
    }
    if (x->heap_idx != XFER_NO_HEAP && x->due == due && x->timer == kind)
        return;
    if (!heap_put(t, x, due, kind)) {
        /* No room for the timer: settle now rather than lose the transfer. */
        xfer_settle(t, x, xfer_outcome_now(x), now, true);
    }
}

/* The xcall key: the Call-ID's stored prefix, NUL, the whole value's hash. */
static size_t call_key(uint8_t *b, const char *call_id, uint64_t hash)
{
    size_t n = tracker_len(call_id, SIPMSG_MAX_CALLID);
    memcpy(b, call_id, n);
    b[n] = '\0';
    memcpy(b + n + 1, &hash, sizeof hash);
    return n + 1 + sizeof hash;
}

static struct xcall *call_find(struct tracker *t, const char *call_id, uint64_t hash)
{
    uint8_t b[SIPMSG_MAX_CALLID + 1 + 8];
    size_t n = call_key(b, call_id, hash);
    struct xcall *c = NULL;
    HASH_FIND(hh, t->calls, b, n, c);
    return c;
}

static struct xcall *call_get(struct tracker *t, const char *call_id, uint64_t hash)
{
    struct xcall *c = call_find(t, call_id, hash);
    if (c != NULL)
        return c;
    size_t n = tracker_len(call_id, SIPMSG_MAX_CALLID) + 1 + sizeof hash;
    c = calloc(1, sizeof *c + n);
    if (c == NULL) {
        t->st.oom++;
        return NULL;
    }
    c->klen = call_key((uint8_t *)c->call_id, call_id, hash);
    sw_budget_charge(t->cfg.budget, XCALL_COST(c->klen));
    HASH_ADD_KEYPTR(hh, t->calls, c->call_id, c->klen, c);
    if (c->hh.tbl == NULL) {
        t->st.oom++;
        sw_budget_release(t->cfg.budget, XCALL_COST(c->klen));
        free(c);
        return NULL;
    }
    return c;
}

static bool tag_eq_str(const char *a, size_t acap, const char *b, size_t bcap)
{
    size_t an = tracker_len(a, acap), bn = tracker_len(b, bcap);
    return an == bn && memcmp(a, b, an) == 0;
}

static void copy_tag(char *dst, size_t cap, const char *src, size_t src_cap, uint64_t *dst_hash,
                     uint64_t src_hash)
{
    size_t n = tracker_len(src, src_cap);
    n = SW_MIN(n, cap - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
    *dst_hash = src_hash;
}

static uint64_t copy_hash(const struct sip_msg *m, const struct sw_tuple *tu)
{
    uint8_t buf[sizeof m->branch + sizeof m->branch_hash + sizeof tu->src + sizeof tu->sport];
    size_t n = tracker_len(m->branch, sizeof m->branch);
    memcpy(buf, m->branch, n);
    memcpy(buf + n, &m->branch_hash, sizeof m->branch_hash); /* the whole branch */
    n += sizeof m->branch_hash;
    memcpy(buf + n, &tu->src, sizeof tu->src);
    memcpy(buf + n + sizeof tu->src, &tu->sport, sizeof tu->sport);
    return XXH3_64bits_withSeed(buf, n + sizeof tu->src + sizeof tu->sport, sw_hash_seed);
}

static struct xfer *xfer_create(struct tracker *t, const struct tracker_key *k, uint32_t cseq,
                                const char *call_id, uint64_t call_id_hash, sw_time ts)
{
    if (t->n_xfers >= t->cfg.max_transfers && t->x_first != NULL) {
        t->st.transfers_evicted++;
        xfer_settle(t, t->x_first, SW_OUTCOME_EVICTED, ts, false);
    }
    while (sw_budget_full(t->cfg.budget, XFER_COST(k->n)) && t->x_first != NULL) {
        t->st.transfers_evicted++;
        sw_budget_evicted(t->cfg.budget);
        xfer_settle(t, t->x_first, SW_OUTCOME_EVICTED, ts, false);
    }
    struct xcall *c = call_get(t, call_id, call_id_hash);
    if (c == NULL)
        return NULL;
    struct xfer *x = calloc(1, sizeof *x + k->n + 1);
    if (x == NULL) {
        t->st.oom++;
        call_release(t, c);
        return NULL;
    }
    x->klen = k->n;
    sw_budget_charge(t->cfg.budget, XFER_COST(k->n));
    memcpy(x->key, k->b, k->n);
    x->klen = k->n;
    HASH_ADD_KEYPTR_BYHASHVALUE(hh, t->xfers, x->key, x->klen, k->hashv, x);
    if (x->hh.tbl == NULL) {
        t->st.oom++;
        sw_budget_release(t->cfg.budget, XFER_COST(x->klen));
        free(x);
        call_release(t, c);
        return NULL;
    }
    x->id = t->next_xfer_id++;
    x->heap_idx = XFER_NO_HEAP;
    x->cseq = cseq;
    x->refer_time = SW_TIME_NONE;
    x->accepted_time = SW_TIME_NONE;
    x->sub_end = SW_TIME_NONE;
    x->last_notify = SW_TIME_NONE;
    x->challenge_time = SW_TIME_NONE;
    x->prev = t->x_last;
    if (t->x_last != NULL)
        t->x_last->next = x;
    else
        t->x_first = x;
    t->x_last = x;
    x->call = c;
    x->cprev = c->last;
    if (c->last != NULL)
        c->last->cnext = x;
    else
        c->first = x;
    c->last = x;
    t->n_xfers++;
    t->st.transfers++;
    return x;
}

static void set_str(struct tracker *t, char **dst, const char *s, size_t cap);

static void xfer_take_refer(struct tracker *t, struct xfer *x, const struct sip_msg *m,
                            const struct sw_tuple *tuple, sw_time ts)
{
    x->refer_time = ts;
    x->tuple = *tuple;
    x->refer_copy = copy_hash(m, tuple);
    x->refer_to = tracker_strdup(t, m->refer_to, sizeof m->refer_to);
    x->referred_by = tracker_strdup(t, m->referred_by, sizeof m->referred_by);
    x->replaces = m->refer_replaces;
    x->refer_sub_false = m->refer_sub == SIPMSG_REFER_SUB_FALSE;
    set_str(t, &x->from, m->from, sizeof m->from);
    set_str(t, &x->to, m->to, sizeof m->to);
    set_str(t, &x->transferor_ua, m->user_agent, sizeof m->user_agent);
    if (x->from_tag[0] == '\0')
        copy_tag(x->from_tag, sizeof x->from_tag, m->from_tag, sizeof m->from_tag,
                 &x->from_tag_hash, m->from_tag_hash);
    if (x->to_tag[0] == '\0')
        copy_tag(x->to_tag, sizeof x->to_tag, m->to_tag, sizeof m->to_tag, &x->to_tag_hash,
                 m->to_tag_hash);
}

/* A REFER of this Call-ID and From tag that was challenged (401/407) and is
 * waiting for its retry; NULL if none. */
static struct xfer *challenged_in_call(struct tracker *t, const struct sip_msg *m)
{
    struct xcall *c = call_find(t, m->call_id, m->call_id_hash);
    if (c == NULL)
        return NULL;
    for (struct xfer *y = c->first; y != NULL; y = y->cnext) {
        if (y->challenge_time != SW_TIME_NONE && y->accepted_time == SW_TIME_NONE &&
            y->cseq != m->cseq &&
            tag_eq_str(y->from_tag, sizeof y->from_tag, m->from_tag, sizeof m->from_tag) &&
            y->from_tag_hash == m->from_tag_hash)
            return y;
    }
    return NULL;
}

/* Drops a challenged transfer that its retry carries on: no event, and it
 * does not count as a transfer of its own (transfers_seen). Its key is kept
 * as settled, so late copies of the challenge count as copies. */
static void xfer_merge_drop(struct tracker *t, struct xfer *x, sw_time ts)
{
    struct xcall *c = x->call;
    heap_remove(t, x);
    settled_add(t, x, ts);
    xfer_unlink_free(t, x);
    t->st.transfers--;
    if (c != NULL)
        call_release(t, c);
}

void tracker_refer_request(struct tracker *t, const struct sip_msg *m, const struct sw_tuple *tuple,
                           sw_time ts)
{
    struct tracker_key k;
    tracker_key_make(&k, m->cseq, NULL, 0, m->call_id, sizeof m->call_id, m->call_id_hash);
    struct xfer *x = xfer_find(t, &k);
    if (x != NULL) {
        if (x->refer_time == SW_TIME_NONE) {
            /* Its 2xx overtook it (two legs, UDP reordering): the REFER
             * still supplies the tuple and the Refer-To. */
            xfer_take_refer(t, x, m, tuple, ts);
        } else if (copy_hash(m, tuple) == x->refer_copy) {
            t->st.refer_retransmissions++;
        } else {
            t->st.refer_leg_copies++;
        }
        return;
    }
    if (settled_find(t, &k) != NULL) {
        t->st.refer_retransmissions++; /* a late copy of a transfer already reported */
        return;
    }
    x = xfer_create(t, &k, m->cseq, m->call_id, m->call_id_hash, ts);
    if (x == NULL)
        return;
    /* after xfer_create: making room may have evicted the challenged one */
    struct xfer *challenged = challenged_in_call(t, m);
    xfer_take_refer(t, x, m, tuple, ts);
    if (challenged != NULL && challenged != x) {
        /* The retry with credentials: one transfer, not a rejected one and
         * then the real one. */
        x->auth_challenges = challenged->auth_challenges + 1;
        t->st.refer_auth_retries++;
        xfer_merge_drop(t, challenged, ts);
    }
    xfer_update(t, x, ts);
}

static void set_str(struct tracker *t, char **dst, const char *s, size_t cap)
{
    if (tracker_len(s, cap) == 0)
        return;
    char *d = tracker_strdup(t, s, cap);
    if (d == NULL)
        return;
    free(*dst);
    *dst = d;
}

void tracker_refer_response(struct tracker *t, const struct sip_msg *m,
                            const struct sw_tuple *tuple, sw_time ts)
{
    struct tracker_key k;
    tracker_key_make(&k, m->cseq, NULL, 0, m->call_id, sizeof m->call_id, m->call_id_hash);
    struct xfer *x = xfer_find(t, &k);
    bool ok = m->status >= 200 && m->status < 300;
    if (x == NULL) {
        if (settled_find(t, &k) != NULL) {
            t->st.refer_late_responses++;
            return;
        }
        if (!ok) {
            t->st.refer_responses_unmatched++;
            return;
        }
        /* Capture started after the REFER: the 2xx proves there was one,
         * sent the other way (RFC 3261 §18.2.2: responses go back to the
         * request's source). */
        x = xfer_create(t, &k, m->cseq, m->call_id, m->call_id_hash, ts);
        if (x == NULL)
            return;
        x->tuple = sw_tuple_reverse(tuple);
        copy_tag(x->from_tag, sizeof x->from_tag, m->from_tag, sizeof m->from_tag,
                 &x->from_tag_hash, m->from_tag_hash);
    }
    if (x->transferee_ua == NULL)
        set_str(t, &x->transferee_ua, m->server[0] != '\0' ? m->server : m->user_agent,
                sizeof m->server);
    if (m->status < 200) {
        if (!x->refer_final) {
            x->refer_status = m->status;
            set_str(t, &x->refer_reason, m->reason, sizeof m->reason);
        }
        return;
    }
    if (x->refer_final) {
        t->st.refer_response_copies++; /* retransmitted, or the other leg's copy */
        return;
    }
    x->refer_final = true;
    x->refer_status = m->status;
    free(x->refer_reason);
    x->refer_reason = tracker_strdup(t, m->reason, sizeof m->reason);
    if (ok) {
        if (x->to_tag[0] == '\0') /* out-of-dialog REFER: its dialog's tag comes here */
            copy_tag(x->to_tag, sizeof x->to_tag, m->to_tag, sizeof m->to_tag, &x->to_tag_hash,
                     m->to_tag_hash);
        if (x->accepted_time == SW_TIME_NONE)
            x->accepted_time = ts;
        /* RFC 4488 §4: a recipient that creates the subscription anyway says
         * "Refer-Sub: true" in its 2xx, and then a NOTIFY is owed. */
        if (m->refer_sub == SIPMSG_REFER_SUB_TRUE)
            x->refer_sub_false = false;
        if (!x->outcome_known && m->refer_sub == SIPMSG_REFER_SUB_FALSE) {
            /* RFC 4488 §4: the recipient agreed not to create a subscription. */
            xfer_settle(t, x, SW_OUTCOME_NOTIFY_NOT_REQUESTED, ts, false);
            return;
        }
        xfer_update(t, x, ts);
        return;
    }
    if (x->accepted_time != SW_TIME_NONE) {
        /* A NOTIFY already proved acceptance (a fork that also refused?):
         * the NOTIFYs decide the outcome, the status is kept as seen. */
        xfer_update(t, x, ts);
        return;
    }
    if (m->status == 401 || m->status == 407) {
        x->challenge_time = ts;
        xfer_update(t, x, ts);
        return;
    }
    xfer_settle(t, x, SW_OUTCOME_REJECTED, ts, false);
}

/* A final response to a NOTIFY: how the transferor took it. The NOTIFY's
 * CSeq (and Call-ID) names it; each is counted once, for the transfer it was
 * counted for, while that transfer waits (or still runs). */
void tracker_refer_notify_response(struct tracker *t, const struct sip_msg *m, sw_time ts)
{
    if (m->status < 200)
        return;
    struct xcall *c = call_find(t, m->call_id, m->call_id_hash);
    if (c == NULL)
        return;
    unsigned k = SW_MIN(c->n_seen, (unsigned)XFER_NOTIFY_SEEN);
    struct notify_seen *seen = NULL;
    for (unsigned i = 0; i < k && seen == NULL; i++)
        if (c->seen[i].cseq == m->cseq && !c->seen[i].answered)
            seen = &c->seen[i];
    if (seen == NULL)
        return; /* not a refer NOTIFY, or a retransmitted answer */
    seen->answered = true;
    struct xfer *x = c->first;
    while (x != NULL && x->id != seen->xfer_id)
        x = x->cnext;
    if (x == NULL)
        return; /* its transfer was already written */
    if (m->status < 300) {
        x->answered_ok++;
    } else {
        x->refused++;
        x->refusal_status = m->status;
        set_str(t, &x->refusal_reason, m->reason, sizeof m->reason);
        if (x->refusal_reason != NULL && m->reason[0] == '\0') {
            free(x->refusal_reason);
            x->refusal_reason = NULL;
        }
    }
    xfer_update(t, x, ts);
}

/* Tags compare in full: the stored prefix and the whole tag's hash. */
static bool tag_eq(const char *a, size_t acap, uint64_t ah, const char *b, size_t bcap,
                   uint64_t bh)
{
    size_t an = tracker_len(a, acap), bn = tracker_len(b, bcap);
    return an == bn && ah == bh && memcmp(a, b, an) == 0;
}

/* The notifier is the REFER's recipient: NOTIFY From tag = REFER To tag,
 * NOTIFY To tag = REFER From tag (RFC 3515 §2.4.4, RFC 6665 §4.1.3). */
static bool tags_match(const struct xfer *x, const struct sip_msg *m)
{
    if (x->from_tag[0] == '\0' ||
        !tag_eq(m->to_tag, sizeof m->to_tag, m->to_tag_hash, x->from_tag, sizeof x->from_tag,
                x->from_tag_hash))
        return false;
    return x->to_tag[0] == '\0' || tag_eq(m->from_tag, sizeof m->from_tag, m->from_tag_hash,
                                          x->to_tag, sizeof x->to_tag, x->to_tag_hash);
}

static struct xfer *notify_target(struct tracker *t, struct xcall *c, const struct sip_msg *m,
                                  bool *late)
{
    struct tracker_key k;
    *late = false;
    if (m->has_event_id) {
        tracker_key_make(&k, m->event_id, NULL, 0, m->call_id, sizeof m->call_id, m->call_id_hash);
        struct xfer *x = xfer_find(t, &k);
        if (x == NULL)
            *late = settled_find(t, &k) != NULL;
        return x;
    }
    /* RFC 3515 §2.4.6: the first REFER of a dialog may be answered without
     * an id. Take the oldest unsettled transfer of the Call-ID; the tags pick
     * among several (forked or parallel REFERs). */
    if (c == NULL)
        return NULL;
    for (struct xfer *y = c->first; y != NULL; y = y->cnext)
        if (tags_match(y, m))
            return y;
    if (c->first == NULL)
        *late = c->n_settled > 0;
    return c->first;
}

static uint64_t notifier_hash(const struct sip_msg *m)
{
    return XXH3_64bits_withSeed(m->from_tag, tracker_len(m->from_tag, sizeof m->from_tag),
                                sw_hash_seed ^ m->from_tag_hash); /* the whole tag */
}

/* The entry for this (notifier, CSeq) if it was already counted. */
static const struct notify_seen *notify_seen_find(const struct xcall *c, const struct sip_msg *m)
{
    uint64_t h = notifier_hash(m);
    unsigned n = SW_MIN(c->n_seen, (unsigned)XFER_NOTIFY_SEEN);
    for (unsigned i = 0; i < n; i++)
        if (c->seen[i].cseq == m->cseq && c->seen[i].tag_hash == h)
            return &c->seen[i];
    return NULL;
}

static void notify_seen_add(struct xcall *c, const struct sip_msg *m, uint64_t xfer_id)
{
    c->seen[c->n_seen % XFER_NOTIFY_SEEN] =
        (struct notify_seen){notifier_hash(m), xfer_id, m->cseq, false};
    c->n_seen++;
}

void tracker_refer_notify(struct tracker *t, const struct sip_msg *m, sw_time ts)
{
    if (!SIPMSG_IS(m->event, "refer"))
        return; /* presence, dialog, message-summary, ...: not ours */
    struct xcall *c = call_find(t, m->call_id, m->call_id_hash);
    const struct notify_seen *seen = c != NULL ? notify_seen_find(c, m) : NULL;
    if (seen != NULL) {
        bool active = false;
        for (struct xfer *y = c->first; y != NULL && !active; y = y->cnext)
            active = y->id == seen->xfer_id;
        if (active)
            t->st.notify_retransmissions++;
        else
            t->st.notify_late++;
        return;
    }
    bool late;
    struct xfer *x = notify_target(t, c, m, &late);
    if (x == NULL) {
        if (late)
            t->st.notify_late++;
        else
            t->st.notify_orphans++;
        return;
    }
    notify_seen_add(x->call, m, x->id);
    x->notify_count++;
    x->last_notify = ts;
    if (x->transferee_ua == NULL)
        set_str(t, &x->transferee_ua, m->user_agent, sizeof m->user_agent);
    if (x->to_tag[0] == '\0')
        copy_tag(x->to_tag, sizeof x->to_tag, m->from_tag, sizeof m->from_tag, &x->to_tag_hash,
                 m->from_tag_hash);
    if (x->accepted_time == SW_TIME_NONE)
        x->accepted_time = ts; /* RFC 3515 §2.4.4: only an accepted REFER is notified */
    set_str(t, &x->substate, m->subscription_state, sizeof m->subscription_state);
    if (m->sipfrag_status > 0 && !x->final_seen) {
        x->final_status = m->sipfrag_status;
        free(x->final_reason);
        x->final_reason = tracker_strdup(t, m->sipfrag_reason, sizeof m->sipfrag_reason);
        x->final_seen = m->sipfrag_status >= 200;
    }
    if (m->substate == SIPMSG_SUBSTATE_TERMINATED) {
        x->sub_end = ts;
    } else if ((m->substate == SIPMSG_SUBSTATE_ACTIVE || m->substate == SIPMSG_SUBSTATE_PENDING) &&
               m->sub_expires >= 0) {
        x->sub_end = ts + SW_SEC(SW_MIN(m->sub_expires, XFER_MAX_EXPIRES));
    }
    if (x->final_seen) {
        /* Also after a "terminated" without a final, while the event waits
         * for the REFER's response: the final sipfrag is the better answer. */
        x->outcome_known = true;
        x->pending = x->final_status < 300 ? SW_OUTCOME_COMPLETED : SW_OUTCOME_FAILED;
    } else if (!x->outcome_known && m->substate == SIPMSG_SUBSTATE_TERMINATED) {
        x->outcome_known = true;
        x->pending = SW_OUTCOME_NOTIFY_INCOMPLETE;
    }
    xfer_update(t, x, ts);
}

void tracker_refer_advance(struct tracker *t, sw_time now)
{
    while (t->heap_n > 0 && t->heap[0]->due <= now) {
        struct xfer *x = t->heap[0];
        sw_time due = x->due;
        enum sw_transfer_outcome o;
        switch (x->timer) {
        case XT_NO_RESPONSE:
            o = SW_OUTCOME_NO_RESPONSE;
            break;
        case XT_NO_NOTIFY:
            o = x->refer_sub_false ? SW_OUTCOME_NOTIFY_NOT_REQUESTED : SW_OUTCOME_NO_NOTIFY;
            break;
        case XT_FINAL:
            o = SW_OUTCOME_NOTIFY_INCOMPLETE;
            break;
        case XT_CHALLENGED:
            o = SW_OUTCOME_REJECTED; /* the challenge was never answered */
            break;
        case XT_AWAIT_RESPONSE:
        case XT_NONE:
        default:
            o = xfer_outcome_now(x);
            break;
        }
        xfer_settle(t, x, o, due, false);
    }
    while (t->xs_head != NULL && t->xs_head->expires <= now)
        settled_pop(t);
}

void tracker_refer_finish(struct tracker *t, sw_time now)
{
    /* An outcome the NOTIFYs already gave is not cut by the end of input;
     * only the answers to them may be missing (notify_unanswered). */
    while (t->x_first != NULL)
        xfer_settle(t, t->x_first, xfer_outcome_now(t->x_first), now,
                    !t->x_first->outcome_known);
}

void tracker_refer_free(struct tracker *t)
{
    while (t->x_first != NULL)
        xfer_unlink_free(t, t->x_first);
    while (t->xs_head != NULL)
        settled_pop(t);
    struct xcall *c, *tmp;
    HASH_ITER(hh, t->calls, c, tmp)
    {
        HASH_DELETE(hh, t->calls, c);
        sw_budget_release(t->cfg.budget, XCALL_COST(c->klen));
        free(c);
    }
    free(t->heap);
    t->heap = NULL;
    t->heap_n = t->heap_cap = 0;
}
