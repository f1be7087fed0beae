/*
 * tracker_ladder.c - the message ladders behind events: compact records of
 * the SIP messages of each Call-ID, in capture order, from which an event's
 * `messages` are picked when it is emitted (transfer: the REFER and its
 * responses, every NOTIFY and its response; user_not_found: the request, its
 * provisional responses, the 404/604 and, for an INVITE, its ACK (the event
 * waits for it, tracker_notfound.c; ACKs are recorded only for such a held
 * event); scan: the transactions of the first hits of its
 * window, up to LADDER_SCAN_HITS, whose Call-IDs the keep hook is given with
 * TRACKER_KEEP_EVENT so that the evidence file holds them too). It also tells the keep hook (the evidence store)
 * which Call-IDs may still be flagged.
 *
 * Memory: one slot per message record (tuple, times, CSeq and the start
 * line cut to LADDER_MAX_URI / LADDER_MAX_REASON bytes), at most
 * LADDER_MAX_PER_CALL per Call-ID, and one per Call-ID (slots: see
 * slot_get); every byte is charged to
 * cfg.max_ladder_bytes, over which the least recently active Call-IDs are
 * dropped (counted). A Call-ID's records go when it can no longer be flagged:
 * a BYE or an out-of-dialog request answered with a final that makes no
 * event, or when it stayed quiet longer than any timer that could still fire
 * for it.
 *
 * Copies are not merged: a message equal to an earlier record of the same
 * Call-ID (request/response, method or status, CSeq) is marked a
 * retransmission when it travelled the same way, or a copy on another leg
 * (a proxy's other side) when it did not.
 */
#include <stdlib.h>
#include <string.h>

#include "tracker_int.h"

/* Ladder bytes count towards the ladders' own cap and the shared memory
 * budget (--max-memory-mb, budget.h). */
static void lad_add(struct tracker *t, size_t n)
{
    t->lad_bytes += n;
    sw_budget_charge(t->cfg.budget, n);
}

static void lcall_free_fwd(struct tracker *t, struct lcall *c);

/* Before charging n bytes: the least recently active Call-IDs (not `keep`)
 * lose their ladders while the budget could not take them, so that the
 * budget's peak stays within its cap. */
static inline void lad_make_room(struct tracker *t, size_t n, const struct lcall *keep)
{
    while (sw_budget_full(t->cfg.budget, n) && t->lad_first != NULL && t->lad_first != keep) {
        t->lad_evicted++;
        sw_budget_evicted(t->cfg.budget);
        lcall_free_fwd(t, t->lad_first);
    }
}

static void lad_sub(struct tracker *t, size_t n)
{
    t->lad_bytes -= n;
    sw_budget_release(t->cfg.budget, n);
}

#define LADDER_MAX_PER_CALL 64
#define LADDER_SCAN_HITS 4
#define LADDER_MAX_URI 160
#define LADDER_MAX_REASON 64
/* What one Call-ID entry and one record cost beyond their text (allocator included). */
#define LCALL_COST(idlen) (sizeof(struct lcall) + (idlen) + 1 + 16)
#define LREC_COST(textlen) (sizeof(struct lrec) + (textlen) + 16)

struct lrec {
    sw_time ts;
    struct sw_tuple tuple;
    uint32_t cseq;
    uint16_t status;
    uint8_t is_request, copy;
    uint16_t o_line;  /* method (requests) or reason (responses) */
    uint16_t o_uri;   /* requests: Request-URI */
    uint16_t n_text;
    char text[];      /* cseq_method \0 method \0 uri \0 | cseq_method \0 reason \0 */
};

/* What every message reads and writes comes first (the hash handle, the
 * LRU links, the counts), in the first two cache lines, before the record
 * pointers: `n` after recs[] cost a third line a message. */
struct lcall {
    UT_hash_handle hh;
    struct lcall *prev, *next; /* LRU: least recently active first */
    sw_time last;
    uint8_t n;
    bool dropped;              /* records not kept (per-call cap, memory) */
    bool pinned;               /* a REFER awaits its transfer event */
    uint8_t held;              /* not-found events held for their ACK */
    size_t bytes;
    struct lrec *recs[LADDER_MAX_PER_CALL];
    char call_id[];
};

/* The first not-found hits of a source's current scan window. */
struct lhit {
    sw_time ts;
    uint32_t cseq;
    char cseq_method[SIPMSG_MAX_TOKEN];
    char *call_id;
};
struct lsrc {
    UT_hash_handle hh;
    struct sw_addr addr;
    struct lsrc *prev, *next; /* LRU: least recently hit first */
    unsigned n;
    struct lhit hit[LADDER_SCAN_HITS];
};
#define LSRC_COST (sizeof(struct lsrc) + 16)

/*
 * Slots: a record is made for every message and freed with its Call-ID a few
 * seconds later, an entry for every Call-ID; malloc and free cost more than
 * the rest of the recording. A freed slot goes to the spare list of its size
 * class (16 bytes each), from which the next slot of that class is taken.
 * Slots are allocated at their class's size, so that a spare fits any
 * request of its class (malloc rounds to 16 bytes anyway: the charges above
 * stay the real sizes). Spares are bounded (LADDER_SPARE_MAX bytes, past
 * which a slot is freed) and not charged: what malloc's own free lists would
 * keep.
 */
#define LADDER_SPARE_MAX ((size_t)256 << 10)
#define SLOT_CLASS(size) (((size) + 15) / 16)

struct spare {
    struct spare *next;
};

static void *slot_get(struct tracker *t, size_t size)
{
    size_t c = SLOT_CLASS(size);
    if (c < TRACKER_LAD_CLASSES && t->lad_spare[c] != NULL) {
        struct spare *s = t->lad_spare[c];
        t->lad_spare[c] = s->next;
        t->lad_spare_bytes -= c * 16;
        return s;
    }
    return malloc(c * 16);
}

/* p: a slot_get(size) */
static void slot_put(struct tracker *t, void *p, size_t size)
{
    size_t c = SLOT_CLASS(size);
    if (c >= TRACKER_LAD_CLASSES || t->lad_spare_bytes + c * 16 > LADDER_SPARE_MAX) {
        free(p);
        return;
    }
    struct spare *s = p;
    s->next = t->lad_spare[c];
    t->lad_spare[c] = s;
    t->lad_spare_bytes += c * 16;
}

static void slots_free(struct tracker *t)
{
    for (size_t c = 0; c < TRACKER_LAD_CLASSES; c++) {
        while (t->lad_spare[c] != NULL) {
            struct spare *s = t->lad_spare[c];
            t->lad_spare[c] = s->next;
            free(s);
        }
    }
    t->lad_spare_bytes = 0;
}

static void lru_unlink(struct tracker *t, struct lcall *c)
{
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        t->lad_first = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    else
        t->lad_last = c->prev;
    c->prev = c->next = NULL;
}

static void lru_append(struct tracker *t, struct lcall *c)
{
    c->prev = t->lad_last;
    c->next = NULL;
    if (t->lad_last != NULL)
        t->lad_last->next = c;
    else
        t->lad_first = c;
    t->lad_last = c;
}

static void keep(struct tracker *t, const char *call_id, enum tracker_keep level)
{
    if (t->keep_fn != NULL)
        t->keep_fn(t->keep_ctx, call_id, level);
}

/* Drops a Call-ID's records; `release`: tell the keep hook it is done with. */
static void lcall_free(struct tracker *t, struct lcall *c, bool release)
{
    size_t size = sizeof *c + c->hh.keylen + 1; /* keylen: the Call-ID's length */
    if (release)
        keep(t, c->call_id, TRACKER_KEEP_RELEASE);
    HASH_DEL(t->ladders, c);
    lru_unlink(t, c);
    for (unsigned i = 0; i < c->n; i++)
        slot_put(t, c->recs[i], sizeof *c->recs[i] + c->recs[i]->n_text);
    lad_sub(t, c->bytes);
    t->n_ladders--;
    slot_put(t, c, size);
}

static struct lcall *lcall_find(struct tracker *t, const char *call_id)
{
    struct lcall *c = NULL;
    size_t n = tracker_len(call_id, SIPMSG_MAX_CALLID);
    HASH_FIND(hh, t->ladders, call_id, n, c);
    return c;
}

/* hashv: HASH_VALUE of call_id[0..n) */
static struct lcall *lcall_new(struct tracker *t, const char *call_id, size_t n, unsigned hashv)
{
    struct lcall *c = slot_get(t, sizeof *c + n + 1);
    if (c == NULL) {
        t->st.oom++;
        return NULL;
    }
    memset(c, 0, sizeof *c);
    memcpy(c->call_id, call_id, n);
    c->call_id[n] = '\0';
    HASH_ADD_KEYPTR_BYHASHVALUE(hh, t->ladders, c->call_id, n, hashv, c);
    if (c->hh.tbl == NULL) {
        t->st.oom++;
        slot_put(t, c, sizeof *c + n + 1);
        return NULL;
    }
    c->bytes = LCALL_COST(n);
    lad_make_room(t, c->bytes, NULL);
    lad_add(t, c->bytes);
    t->n_ladders++;
    lru_append(t, c);
    return c;
}

static bool same_way(const struct sw_tuple *a, const struct sw_tuple *b)
{
    return memcmp(&a->src, &b->src, sizeof a->src) == 0 &&
           memcmp(&a->dst, &b->dst, sizeof a->dst) == 0 && a->sport == b->sport &&
           a->dport == b->dport;
}

static bool same_msg(const struct lrec *r, const struct lrec *q)
{
    if (r->is_request != q->is_request || r->cseq != q->cseq || r->status != q->status)
        return false;
    /* the texts by their lengths (NULs included): the CSeq method, then a
     * request's method */
    if (r->o_line != q->o_line || memcmp(r->text, q->text, r->o_line) != 0)
        return false;
    return !r->is_request || (r->o_uri - r->o_line == q->o_uri - q->o_line &&
                              memcmp(r->text + r->o_line, q->text + q->o_line,
                                     (size_t)(r->o_uri - r->o_line)) == 0);
}

static struct lrec *rec_make(struct tracker *t, const struct sip_msg *m,
                             const struct sw_tuple *tuple, sw_time ts)
{
    /* the lengths first, then the text straight into the record */
    size_t l_cm = tracker_len(m->cseq_method, sizeof m->cseq_method), l_a, l_b = 0;
    l_cm = SW_MIN(l_cm, (size_t)SIPMSG_MAX_TOKEN - 1);
    if (m->is_request) {
        l_a = tracker_len(m->method, sizeof m->method);
        l_a = SW_MIN(l_a, (size_t)SIPMSG_MAX_TOKEN - 1);
        l_b = tracker_len(m->request_uri, sizeof m->request_uri);
        l_b = SW_MIN(l_b, (size_t)LADDER_MAX_URI);
    } else {
        l_a = tracker_len(m->reason, sizeof m->reason);
        l_a = SW_MIN(l_a, (size_t)LADDER_MAX_REASON);
    }
    size_t o_line = l_cm + 1, o_uri = m->is_request ? o_line + l_a + 1 : 0;
    size_t n = o_line + l_a + 1 + (m->is_request ? l_b + 1 : 0);
    struct lrec *r = slot_get(t, sizeof *r + n);
    if (r == NULL)
        return NULL;
    char *text = r->text;
    memcpy(text, m->cseq_method, l_cm);
    text[l_cm] = '\0';
    memcpy(text + o_line, m->is_request ? m->method : m->reason, l_a);
    text[o_line + l_a] = '\0';
    if (m->is_request) {
        memcpy(text + o_uri, m->request_uri, l_b);
        text[o_uri + l_b] = '\0';
    }
    r->ts = ts;
    r->tuple = *tuple;
    r->cseq = m->cseq;
    r->status = (uint16_t)(m->is_request ? 0 : m->status);
    r->is_request = m->is_request;
    r->copy = SW_MSG_ORIGINAL;
    r->o_line = (uint16_t)o_line;
    r->o_uri = (uint16_t)o_uri;
    r->n_text = (uint16_t)n;
    return r;
}

/* Is a final response the end of everything this Call-ID could be flagged for? */
static bool ends_call(const struct sip_msg *m)
{
    if (m->is_request || m->status < 200 || m->status == 404 || m->status == 604)
        return false;
    const char *cm = m->cseq_method; /* a sip_msg field: SIPMSG_IS applies */
    if (SIPMSG_IS(cm, "BYE"))
        return true;
    if (SIPMSG_IS(cm, "INVITE"))
        return m->status >= 300; /* a failed call; 2xx: the dialog goes on */
    /* requests that are sent out of dialog (the transfer follower watches
     * REFER, NOTIFY and SUBSCRIBE dialogs) */
    return SIPMSG_IS(cm, "OPTIONS") || SIPMSG_IS(cm, "REGISTER") || SIPMSG_IS(cm, "MESSAGE") ||
           SIPMSG_IS(cm, "PUBLISH");
}

void tracker_ladder_msg(struct tracker *t, const struct sip_msg *m, const struct sw_tuple *tuple,
                        sw_time ts)
{
    t->lad_cur = m;
    t->lad_cur_call = NULL;
    bool ack = m->is_request && SIPMSG_IS(m->method, "ACK");
    if (ack && t->n_held == 0)
        return; /* an ACK follows its final response: only a held event wants it */
    size_t idlen = tracker_len(m->call_id, SIPMSG_MAX_CALLID);
    unsigned hashv;
    HASH_VALUE(m->call_id, idlen, hashv); /* once: the find, then the add */
    struct lcall *c = NULL;
    HASH_FIND_BYHASHVALUE(hh, t->ladders, m->call_id, idlen, hashv, c);
    if (ack && (c == NULL || c->held == 0))
        return;
    if (c == NULL) {
        c = lcall_new(t, m->call_id, idlen, hashv);
        if (c == NULL)
            return;
        keep(t, c->call_id, TRACKER_KEEP_NORMAL);
    }
    t->lad_cur_call = c; /* not freed before tracker_ladder_msg_done */
    c->last = ts;
    if (c != t->lad_last) {
        lru_unlink(t, c);
        lru_append(t, c);
    }
    if (!c->pinned && m->is_request && SIPMSG_IS(m->method, "REFER")) {
        c->pinned = true;
        keep(t, c->call_id, TRACKER_KEEP_PIN);
    }
    if (c->n == LADDER_MAX_PER_CALL) {
        c->dropped = true;
        t->lad_msgs_dropped++;
    } else {
        struct lrec *r = rec_make(t, m, tuple, ts);
        if (r == NULL) {
            t->st.oom++;
            c->dropped = true;
        } else {
            for (unsigned i = 0; i < c->n; i++) {
                if (same_msg(c->recs[i], r)) {
                    r->copy = same_way(&c->recs[i]->tuple, &r->tuple) ? SW_MSG_RETRANSMISSION
                                                                      : SW_MSG_OTHER_LEG;
                    break;
                }
            }
            lad_make_room(t, LREC_COST(r->n_text), c);
            c->recs[c->n++] = r;
            c->bytes += LREC_COST(r->n_text);
            lad_add(t, LREC_COST(r->n_text));
        }
    }
    if (t->lad_bytes > t->lad_bytes_peak)
        t->lad_bytes_peak = t->lad_bytes;
    while ((t->lad_bytes > t->cfg.max_ladder_bytes || sw_budget_over(t->cfg.budget)) &&
           t->lad_first != NULL && t->lad_first != c) {
        t->lad_evicted++;
        if (t->lad_bytes <= t->cfg.max_ladder_bytes)
            sw_budget_evicted(t->cfg.budget);
        lcall_free(t, t->lad_first, false); /* the evidence store keeps its own LRU */
    }
}

void tracker_ladder_msg_done(struct tracker *t, const struct sip_msg *m)
{
    struct lcall *c = t->lad_cur_call;
    t->lad_cur = NULL;
    t->lad_cur_call = NULL;
    if (c != NULL && !c->pinned && c->held == 0 && ends_call(m))
        lcall_free(t, c, true);
}

void tracker_ladder_hold(struct tracker *t, const char *call_id, bool on)
{
    struct lcall *c = lcall_find(t, call_id);
    if (c == NULL)
        return;
    if (on) {
        if (c->held < UINT8_MAX)
            c->held++;
        return;
    }
    /* kept as any not-found's records: a scan may list them later */
    if (c->held > 0)
        c->held--;
}

void tracker_ladder_advance(struct tracker *t, sw_time now)
{
    /* Quiet longer than any timer that could still flag it: a transfer's
     * notify and final timeouts plus the linger that absorbs late copies. */
    sw_time ttl = t->cfg.notify_timeout + t->cfg.final_timeout + t->cfg.linger;
    sw_time ttl2 = t->cfg.transaction_timeout + SW_SEC(180) + t->cfg.linger; /* Timer C */
    if (ttl2 > ttl)
        ttl = ttl2;
    while (t->lad_first != NULL && now - t->lad_first->last > ttl) {
        t->lad_expired++;
        lcall_free(t, t->lad_first, true);
    }
}

static void hit_free(struct tracker *t, struct lhit *h)
{
    if (h->call_id != NULL)
        lad_sub(t, strlen(h->call_id) + 1 + 16);
    free(h->call_id);
    h->call_id = NULL;
}

static void src_unlink(struct tracker *t, struct lsrc *s)
{
    if (s->prev != NULL)
        s->prev->next = s->next;
    else
        t->lsrc_first = s->next;
    if (s->next != NULL)
        s->next->prev = s->prev;
    else
        t->lsrc_last = s->prev;
    s->prev = s->next = NULL;
}

static void src_free(struct tracker *t, struct lsrc *s)
{
    for (unsigned i = 0; i < s->n; i++)
        hit_free(t, &s->hit[i]);
    HASH_DEL(t->lsrcs, s);
    src_unlink(t, s);
    lad_sub(t, LSRC_COST);
    t->n_lsrcs--;
    free(s);
}

/* A not-found hit (a user_not_found event) from ev->tuple.src: kept while it
 * is one of the first LADDER_SCAN_HITS of the source's scan window. */
static void src_hit(struct tracker *t, const struct sw_event *ev, uint32_t cseq, const char *cm)
{
    struct lsrc *s = NULL;
    HASH_FIND(hh, t->lsrcs, &ev->tuple.src, sizeof ev->tuple.src, s);
    if (s == NULL) {
        while (t->n_lsrcs >= t->cfg.max_scan_sources && t->lsrc_first != NULL)
            src_free(t, t->lsrc_first);
        s = calloc(1, sizeof *s);
        if (s == NULL) {
            t->st.oom++;
            return;
        }
        s->addr = ev->tuple.src;
        HASH_ADD(hh, t->lsrcs, addr, sizeof s->addr, s);
        if (s->hh.tbl == NULL) {
            t->st.oom++;
            free(s);
            return;
        }
        lad_add(t, LSRC_COST);
        t->n_lsrcs++;
    } else {
        src_unlink(t, s);
    }
    s->prev = t->lsrc_last;
    s->next = NULL;
    if (t->lsrc_last != NULL)
        t->lsrc_last->next = s;
    else
        t->lsrc_first = s;
    t->lsrc_last = s;
    /* hits that left the window (ts - scan_window, ts] make room */
    unsigned keep_from = 0;
    while (keep_from < s->n && s->hit[keep_from].ts <= ev->ts - t->cfg.scan_window)
        hit_free(t, &s->hit[keep_from++]);
    if (keep_from > 0) {
        memmove(s->hit, s->hit + keep_from, (s->n - keep_from) * sizeof *s->hit);
        s->n -= keep_from;
        memset(s->hit + s->n, 0, keep_from * sizeof *s->hit);
    }
    if (s->n == LADDER_SCAN_HITS)
        return;
    struct lhit *h = &s->hit[s->n];
    size_t n = tracker_len(ev->call_id, SIPMSG_MAX_CALLID);
    h->call_id = malloc(n + 1);
    if (h->call_id == NULL) {
        t->st.oom++;
        return;
    }
    memcpy(h->call_id, ev->call_id, n);
    h->call_id[n] = '\0';
    lad_add(t, n + 1 + 16);
    h->ts = ev->ts;
    h->cseq = cseq;
    size_t m = SW_MIN(tracker_len(cm, SIPMSG_MAX_TOKEN), sizeof h->cseq_method - 1);
    memcpy(h->cseq_method, cm, m);
    h->cseq_method[m] = '\0';
    s->n++;
}

void tracker_ladder_scan_hit(struct tracker *t, const struct sw_event *ev)
{
    src_hit(t, ev, ev->u.not_found.cseq,
            ev->u.not_found.method != NULL ? ev->u.not_found.method : "");
}

void tracker_ladder_free(struct tracker *t)
{
    while (t->lad_first != NULL)
        lcall_free(t, t->lad_first, false);
    while (t->lsrc_first != NULL)
        src_free(t, t->lsrc_first);
    slots_free(t);
}

static void to_msg(const struct lrec *r, struct sw_ladder_msg *o)
{
    memset(o, 0, sizeof *o);
    o->ts = r->ts;
    o->tuple = r->tuple;
    o->is_request = r->is_request;
    o->cseq = r->cseq;
    o->cseq_method = r->text;
    o->copy = (enum sw_msg_copy)r->copy;
    if (r->is_request) {
        o->method = r->text + r->o_line;
        o->request_uri = r->text + r->o_uri;
    } else {
        o->status = r->status;
        o->reason = r->text + r->o_line;
    }
}

/* Which records an event shows. */
static bool wanted(const struct sw_event *ev, const struct lrec *r, uint32_t cseq,
                   const char *cseq_method, sw_time since)
{
    const char *cm = r->text;
    if (ev->type == SW_EVENT_TRANSFER) {
        if (strcmp(cm, "REFER") == 0)
            return r->cseq == ev->u.transfer.refer_cseq;
        return strcmp(cm, "NOTIFY") == 0 && r->ts >= since;
    }
    if (r->cseq != cseq)
        return false;
    if (strcmp(cm, cseq_method) == 0)
        return true;
    return strcmp(cseq_method, "INVITE") == 0 && strcmp(cm, "ACK") == 0;
}

/* A scan's ladder: the transactions of the first hits of the source's window
 * (the hit that crossed the threshold is the last stored one at the latest);
 * each hit's Call-ID goes to the keep hook as part of this event. False when
 * the source has no stored hit (then the event's own transaction is used). */
static bool scan_ladder(struct tracker *t, const struct sw_event *ev, size_t *n, bool *truncated)
{
    struct lsrc *s = NULL;
    HASH_FIND(hh, t->lsrcs, &ev->tuple.src, sizeof ev->tuple.src, s);
    if (s == NULL || s->n == 0)
        return false;
    for (unsigned i = 0; i < s->n; i++) {
        const struct lhit *h = &s->hit[i];
        keep(t, h->call_id, TRACKER_KEEP_EVENT);
        struct lcall *c = lcall_find(t, h->call_id);
        if (c == NULL) {
            *truncated = true;
            continue;
        }
        for (unsigned k = 0; k < c->n; k++) {
            const struct lrec *r = c->recs[k];
            bool ack = strcmp(h->cseq_method, "INVITE") == 0 && strcmp(r->text, "ACK") == 0;
            if (r->cseq != h->cseq || (strcmp(r->text, h->cseq_method) != 0 && !ack) ||
                r->ts > ev->ts)
                continue;
            if (*n == SW_MAX_LADDER) {
                *truncated = true;
                return true;
            }
            to_msg(r, &t->lad_out[(*n)++]);
        }
    }
    /* the window had more hits than were kept */
    if (ev->u.scan.count > s->n)
        *truncated = true;
    return true;
}

void tracker_ladder_emit(void *ctx, const struct sw_event *ev)
{
    struct tracker *t = ctx;
    if (ev->type == SW_EVENT_STATS || ev->call_id == NULL) {
        t->out_emit(t->out_ctx, ev);
        return;
    }
    struct sw_event e = *ev;
    struct lcall *c = t->lad_cur != NULL && ev->call_id == t->lad_cur->call_id
                          ? t->lad_cur_call
                          : lcall_find(t, ev->call_id);
    size_t n = 0;
    bool truncated = false;
    if (ev->type == SW_EVENT_SCAN && scan_ladder(t, ev, &n, &truncated)) {
        c = NULL; /* done: the first hits' transactions */
    } else if (c != NULL) {
        uint32_t cseq = 0;
        const char *cm = "";
        if (ev->type == SW_EVENT_USER_NOT_FOUND) {
            cseq = ev->u.not_found.cseq;
            cm = ev->u.not_found.method != NULL ? ev->u.not_found.method : "";
        }
        sw_time since = SW_TIME_NONE;
        if (ev->type == SW_EVENT_TRANSFER && ev->u.transfer.refer_time != SW_TIME_NONE)
            since = ev->u.transfer.refer_time;
        truncated = c->dropped;
        for (unsigned i = 0; i < c->n; i++) {
            if (!wanted(ev, c->recs[i], cseq, cm, since))
                continue;
            if (n == SW_MAX_LADDER) {
                truncated = true;
                break;
            }
            to_msg(c->recs[i], &t->lad_out[n++]);
        }
        /* Retransmitted, other-leg and re-authenticated REFERs all end in
         * one event; two transfers pending at once in one dialog are rare,
         * and the second then keeps its frames as an ordinary call. */
        if (ev->type == SW_EVENT_TRANSFER && c->pinned) {
            c->pinned = false;
            keep(t, c->call_id, TRACKER_KEEP_NORMAL);
        }
    }
    e.ladder.msgs = n > 0 ? t->lad_out : NULL;
    e.ladder.n = n;
    e.ladder.truncated = truncated;
    t->out_emit(t->out_ctx, &e);
}

void tracker_ladder_counters(const struct tracker *t, struct sw_counters *out)
{
    sw_counters_add(out, "ladder_calls_active", t->n_ladders);
    sw_counters_add(out, "ladder_bytes_held", t->lad_bytes);
    sw_counters_add(out, "ladder_bytes_peak", t->lad_bytes_peak);
    sw_counters_add(out, "ladder_calls_evicted", t->lad_evicted);
    sw_counters_add(out, "ladder_calls_expired", t->lad_expired);
    sw_counters_add(out, "ladder_messages_dropped", t->lad_msgs_dropped);
}

static void lcall_free_fwd(struct tracker *t, struct lcall *c)
{
    lcall_free(t, c, false); /* the evidence store keeps its own LRU */
}
