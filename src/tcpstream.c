/*
 * tcpstream.c - TCP reassembly: one entry per connection (both directions),
 * keyed by the normalised 4-tuple (uthash), delivering in-order byte runs per
 * direction to the sink.
 *
 * Owns: the connection table, an LRU list ordered by last activity (idle
 * timeout and eviction pop its head, so tcpstream_advance() is O(1) when
 * nothing is due), and copies of out-of-order segments, held sorted and
 * non-overlapping per direction and charged to per-direction and total byte
 * budgets (payload plus per-segment overhead, so a flood of 1-byte segments
 * cannot hold more memory than the caps say).
 *
 * Rules (RFC 9293 sequence space, wrap-safe comparisons throughout):
 *  - SYN gives the ISN; the first data byte is ISN+1. A direction first seen
 *    with data starts at that segment and its first run is flagged MIDSTREAM.
 *  - In-order data is delivered straight from the caller's view. Bytes before
 *    the next expected sequence are retransmissions and are trimmed; where
 *    out-of-order copies overlap, the first copy wins.
 *  - A hole is skipped (GAP_BEFORE on the next run, counted) when the held
 *    bytes would pass a cap, and on FIN, RST, idle timeout, eviction and end
 *    of input: lost data is never waited for forever.
 *  - FIN: once everything up to it is delivered, the direction is done. Both
 *    done, or a RST, closes the connection: each direction that ever had app
 *    state gets one CLOSE call and the entry is freed, so a later SYN on the
 *    same tuple starts a new connection.
 * Does not: parse payloads, verify checksums, or follow windows and ACKs.
 */
#include "sipwatch/tcpstream.h"

#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "sipwatch/decode.h"

#undef HASH_FUNCTION
#define HASH_FUNCTION(keyptr, keylen, hashv)                                                       \
    (hashv) = (unsigned)XXH3_64bits_withSeed(keyptr, keylen, sw_hash_seed)
#include <uthash.h>

/* Payload sizes above this are not TCP segments (IPv4/IPv6 without jumbograms
 * carry at most 64 KiB); refusing them keeps all offset arithmetic in 32 bits. */
#define SEG_MAX_PAYLOAD ((size_t)1 << 20)

struct seg {
    struct seg *next;
    uint32_t seq;
    uint32_t len;
    uint64_t tag; /* the frame it came from (tcpstream_set_tag) */
    uint8_t data[];
};

/* What a held segment costs against the out-of-order budgets: its bytes plus
 * 32 (tcpstream.h): the 24-byte header and a typical allocator overhead. */
#define SEG_COST(len) ((size_t)(len) + 32)

struct half {
    uint32_t next_seq; /* valid once `started` */
    uint32_t isn;      /* valid if `syn` */
    uint32_t fin_seq;  /* sequence number of the FIN, valid if `fin` */
    bool started, syn, fin, done;
    bool had_app;     /* the sink stored state: owes one CLOSE call */
    unsigned pending; /* MIDSTREAM / GAP_BEFORE for the next run */
    struct seg *ooo;  /* sorted by sequence, non-overlapping, all after next_seq */
    size_t held;      /* SEG_COST of everything in ooo */
    void *app;
};

struct conn {
    struct sw_tuple key; /* normalised; half 0 sends from key.src */
    struct half h[2];
    sw_time last;
    struct conn *lru_prev, *lru_next; /* head: least recently active */
    UT_hash_handle hh;
};

enum close_reason { CLOSE_NORMAL, CLOSE_TIMEOUT, CLOSE_EVICT, CLOSE_FINISH };

struct tcpstream {
    struct tcpstream_config cfg;
    tcpstream_sink *sink;
    void *ctx;
    struct conn *table;
    struct conn *lru_head, *lru_tail;
    size_t n_conns;
    size_t held_total;
    sw_time clock; /* latest activity time: keeps the LRU list sorted */
    uint64_t seg_tag, run_tag; /* tag of the segment being added / the run delivered */
    struct {
        uint64_t segments, streams, midstream, out_of_order, retransmitted, gaps, gap_bytes,
            ooo_peak, ooo_dropped, evicted, timeouts, rst;
    } st;
};

/* Wrap-safe: is a before b in sequence space? */
static bool seq_lt(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) < 0;
}

static void lru_unlink(struct tcpstream *s, struct conn *c)
{
    if (c->lru_prev != NULL)
        c->lru_prev->lru_next = c->lru_next;
    else
        s->lru_head = c->lru_next;
    if (c->lru_next != NULL)
        c->lru_next->lru_prev = c->lru_prev;
    else
        s->lru_tail = c->lru_prev;
    c->lru_prev = c->lru_next = NULL;
}

static void lru_append(struct tcpstream *s, struct conn *c)
{
    c->lru_prev = s->lru_tail;
    c->lru_next = NULL;
    if (s->lru_tail != NULL)
        s->lru_tail->lru_next = c;
    else
        s->lru_head = c;
    s->lru_tail = c;
}

static struct sw_tuple half_tuple(const struct conn *c, int dir)
{
    return dir == 0 ? c->key : sw_tuple_reverse(&c->key);
}

/* A connection's charge to the memory budget: its record; and, once the
 * consumer keeps state for a direction (h->had_app), that state (framer
 * state and its smallest buffer: about 512 bytes a direction, measured on a
 * flood of 100 000 streams). */
#define CONN_COST (sizeof(struct conn) + SW_BUDGET_ENTRY_OVERHEAD)
#define HALF_APP_COST 512

static void deliver(struct tcpstream *s, struct conn *c, int dir, const uint8_t *p, size_t n,
                    sw_time ts)
{
    struct half *h = &c->h[dir];
    if (n == 0)
        return;
    unsigned flags = h->pending;
    h->pending = 0;
    struct sw_tuple t = half_tuple(c, dir);
    s->sink(s->ctx, &t, sw_bytes_make(p, n), flags, ts, &h->app);
    if (h->app != NULL && !h->had_app) {
        h->had_app = true;
        sw_budget_charge(s->cfg.budget, HALF_APP_COST); /* released in conn_close */
    }
}

/* With tags in use: a segment none of whose bytes were new (a retransmission,
 * or a copy of held bytes) still carried them; the consumer is told with an
 * empty TCPSTREAM_DUPLICATE run so it can name that frame too. */
static void dup_notice(struct tcpstream *s, struct conn *c, int dir, sw_time ts)
{
    struct half *h = &c->h[dir];
    if (s->seg_tag == 0 || h->app == NULL)
        return;
    struct sw_tuple t = half_tuple(c, dir);
    s->run_tag = s->seg_tag;
    s->sink(s->ctx, &t, sw_bytes_make(NULL, 0), TCPSTREAM_DUPLICATE, ts, &h->app);
}

static void seg_release(struct tcpstream *s, struct half *h, struct seg *g)
{
    size_t cost = SEG_COST(g->len);
    h->held -= cost;
    s->held_total -= cost;
    sw_budget_release(s->cfg.budget, cost);
    free(g);
}

/* Delivers held segments that now touch next_seq. */
static void drain(struct tcpstream *s, struct conn *c, int dir, sw_time ts)
{
    struct half *h = &c->h[dir];
    while (h->ooo != NULL && !seq_lt(h->next_seq, h->ooo->seq)) {
        struct seg *g = h->ooo;
        h->ooo = g->next;
        uint32_t off = h->next_seq - g->seq;
        if (off < g->len) {
            h->next_seq = g->seq + g->len;
            s->run_tag = g->tag;
            deliver(s, c, dir, g->data + off, g->len - off, ts);
        }
        seg_release(s, h, g);
    }
}

/* Gives up on the bytes between next_seq and `to`. */
static void gap_to(struct tcpstream *s, struct half *h, uint32_t to)
{
    s->st.gaps++;
    s->st.gap_bytes += (uint32_t)(to - h->next_seq);
    h->pending |= TCPSTREAM_GAP_BEFORE;
    h->next_seq = to;
}

/* Skips every hole of a direction: all held data is delivered, in order. */
static void skip_holes(struct tcpstream *s, struct conn *c, int dir, sw_time ts)
{
    struct half *h = &c->h[dir];
    while (h->ooo != NULL) {
        if (seq_lt(h->next_seq, h->ooo->seq))
            gap_to(s, h, h->ooo->seq);
        drain(s, c, dir, ts);
    }
}

/* Relative position of x after next_seq (held data lies within 2^31 of it). */
static uint64_t rel(const struct half *h, uint32_t x)
{
    return (uint32_t)(x - h->next_seq);
}

/* Cost of holding [a, b) (relative) given what is already held: the parts
 * not yet covered, each as its own segment (first copy wins). */
static size_t hold_cost(const struct half *h, uint64_t a, uint64_t b)
{
    size_t cost = 0;
    for (const struct seg *g = h->ooo; g != NULL && a < b; g = g->next) {
        uint64_t ga = rel(h, g->seq), gb = ga + g->len;
        if (gb <= a)
            continue;
        if (ga >= b)
            break;
        if (ga > a)
            cost += SEG_COST(ga - a);
        a = gb;
    }
    if (a < b)
        cost += SEG_COST(b - a);
    return cost;
}

static void hold(struct tcpstream *s, struct half *h, uint32_t seq, const uint8_t *p, size_t n)
{
    uint64_t a = rel(h, seq), b = a + n;
    struct seg **pp = &h->ooo;
    s->st.out_of_order++;
    while (a < b) {
        while (*pp != NULL && rel(h, (*pp)->seq) + (*pp)->len <= a)
            pp = &(*pp)->next;
        struct seg *g = *pp;
        uint64_t ga = g != NULL ? rel(h, g->seq) : b;
        uint64_t end = ga < b ? ga : b;
        if (end > a) {
            size_t len = (size_t)(end - a);
            struct seg *ng = malloc(sizeof *ng + len);
            if (ng == NULL) {
                /* the bytes become part of a hole, skipped and counted later */
                s->st.ooo_dropped++;
            } else {
                ng->seq = h->next_seq + (uint32_t)a;
                ng->len = (uint32_t)len;
                ng->tag = s->seg_tag;
                memcpy(ng->data, p + (a - rel(h, seq)), len);
                ng->next = g;
                *pp = ng;
                pp = &ng->next;
                h->held += SEG_COST(len);
                s->held_total += SEG_COST(len);
                sw_budget_charge(s->cfg.budget, SEG_COST(len));
            }
        }
        if (g == NULL || ga >= b)
            break;
        a = ga + g->len; /* already covered by the earlier copy */
    }
    if (s->held_total > s->st.ooo_peak)
        s->st.ooo_peak = s->held_total;
}

/* In-order data at next_seq: delivered from the caller's view, except where
 * an earlier out-of-order copy already covers it. */
static void deliver_in_order(struct tcpstream *s, struct conn *c, int dir, const uint8_t *p,
                             size_t n, sw_time ts)
{
    struct half *h = &c->h[dir];
    while (n > 0) {
        struct seg *g = h->ooo;
        uint32_t k = g != NULL ? g->seq - h->next_seq : 0;
        if (g == NULL || k >= n) {
            h->next_seq += (uint32_t)n;
            s->run_tag = s->seg_tag;
            deliver(s, c, dir, p, n, ts);
            break;
        }
        uint32_t at = h->next_seq;
        h->next_seq += k;
        s->run_tag = s->seg_tag;
        deliver(s, c, dir, p, k, ts);
        drain(s, c, dir, ts);
        size_t adv = (uint32_t)(h->next_seq - at);
        if (adv >= n)
            break;
        p += adv;
        n -= adv;
    }
    drain(s, c, dir, ts);
}

static void data_in(struct tcpstream *s, struct conn *c, int dir, uint32_t seq, const uint8_t *p,
                    size_t n, sw_time ts)
{
    struct half *h = &c->h[dir];
    while (n > 0) {
        int32_t d = (int32_t)(seq - h->next_seq);
        if (d < 0) {
            s->st.retransmitted++;
            size_t old = (size_t)(-(int64_t)d);
            if (old >= n) {
                dup_notice(s, c, dir, ts);
                return;
            }
            p += old;
            n -= old;
            seq = h->next_seq;
            continue;
        }
        if (d == 0) {
            deliver_in_order(s, c, dir, p, n, ts);
            return;
        }
        uint64_t a = rel(h, seq);
        size_t cost = hold_cost(h, a, a + n);
        if (h->held + cost <= s->cfg.max_ooo_per_dir &&
            s->held_total + cost <= s->cfg.max_ooo_total) {
            if (!sw_budget_full(s->cfg.budget, cost)) {
                size_t before = h->held;
                hold(s, h, seq, p, n);
                if (h->held == before)
                    dup_notice(s, c, dir, ts); /* every byte was held already */
                return;
            }
            sw_budget_evicted(s->cfg.budget); /* this direction's holes, below */
        }
        /* over a cap: give up on the hole(s) and retry at the new next_seq */
        if (h->ooo != NULL)
            skip_holes(s, c, dir, ts);
        else
            gap_to(s, h, seq);
    }
}

static void free_segs(struct tcpstream *s, struct half *h)
{
    while (h->ooo != NULL) {
        struct seg *g = h->ooo;
        h->ooo = g->next;
        seg_release(s, h, g);
    }
}

/* Delivers what is held (past holes), makes the CLOSE calls, frees. */

static void conn_close(struct tcpstream *s, struct conn *c, sw_time ts)
{
    for (int dir = 0; dir < 2; dir++)
        skip_holes(s, c, dir, ts);
    for (int dir = 0; dir < 2; dir++) {
        struct half *h = &c->h[dir];
        if (h->had_app || h->app != NULL) {
            struct sw_tuple t = half_tuple(c, dir);
            s->sink(s->ctx, &t, sw_bytes_make(NULL, 0), TCPSTREAM_CLOSE, ts, &h->app);
            h->app = NULL;
        }
        free_segs(s, h);
    }
    HASH_DEL(s->table, c);
    lru_unlink(s, c);
    s->n_conns--;
    sw_budget_release(s->cfg.budget, CONN_COST + (c->h[0].had_app ? HALF_APP_COST : 0) +
                                         (c->h[1].had_app ? HALF_APP_COST : 0));
    free(c);
}

static void make_key(const struct sw_tuple *t, struct sw_tuple *key, int *dir)
{
    memset(key, 0, sizeof *key);
    int cmp = memcmp(&t->src, &t->dst, sizeof t->src);
    if (cmp == 0)
        cmp = (t->sport > t->dport) - (t->sport < t->dport);
    const struct sw_addr *a = &t->src, *b = &t->dst;
    uint16_t pa = t->sport, pb = t->dport;
    *dir = 0;
    if (cmp > 0) {
        a = &t->dst;
        b = &t->src;
        pa = t->dport;
        pb = t->sport;
        *dir = 1;
    }
    key->src = *a;
    key->dst = *b;
    key->sport = pa;
    key->dport = pb;
    key->transport = SW_TRANSPORT_TCP;
}

static struct conn *conn_new(struct tcpstream *s, const struct sw_tuple *key, sw_time ts)
{
    if (s->cfg.max_streams == 0)
        return NULL;
    if (s->n_conns >= s->cfg.max_streams && s->lru_head != NULL) {
        s->st.evicted++;
        conn_close(s, s->lru_head, ts);
    }
    while (sw_budget_full(s->cfg.budget, CONN_COST) && s->lru_head != NULL) {
        s->st.evicted++;
        sw_budget_evicted(s->cfg.budget);
        conn_close(s, s->lru_head, ts);
    }
    struct conn *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    sw_budget_charge(s->cfg.budget, CONN_COST);
    c->key = *key;
    c->last = ts;
    HASH_ADD(hh, s->table, key, sizeof c->key, c);
    lru_append(s, c);
    s->n_conns++;
    s->st.streams++;
    return c;
}

void tcpstream_set_tag(struct tcpstream *s, uint64_t tag)
{
    s->seg_tag = tag;
}

uint64_t tcpstream_run_tag(const struct tcpstream *s)
{
    return s->run_tag;
}

struct tcpstream *tcpstream_new(const struct tcpstream_config *cfg, tcpstream_sink *sink, void *ctx)
{
    struct tcpstream *s = calloc(1, sizeof *s);
    if (s != NULL) {
        s->cfg = *cfg;
        s->sink = sink;
        s->ctx = ctx;
        s->clock = SW_TIME_NONE;
    }
    return s;
}

void tcpstream_free(struct tcpstream *s)
{
    if (s == NULL)
        return;
    tcpstream_finish(s, s->clock == SW_TIME_NONE ? 0 : s->clock);
    free(s);
}

void tcpstream_segment(struct tcpstream *s, const struct sw_tuple *t, uint32_t seq, uint8_t flags,
                       struct sw_bytes payload, sw_time ts)
{
    s->st.segments++;
    if (payload.n > SEG_MAX_PAYLOAD)
        return;
    if (s->clock == SW_TIME_NONE || ts > s->clock)
        s->clock = ts;

    struct sw_tuple key;
    int dir;
    make_key(t, &key, &dir);
    struct conn *c = NULL;
    HASH_FIND(hh, s->table, &key, sizeof key, c);

    bool syn = (flags & DECODE_TCP_SYN) != 0;
    if (c != NULL && syn) {
        struct half *h = &c->h[dir];
        if ((h->syn && seq != h->isn) || (!h->syn && h->started)) {
            /* a new connection on a reused tuple: settle the old one first */
            conn_close(s, c, ts);
            c = NULL;
        }
    }
    if (c == NULL) {
        if (flags & DECODE_TCP_RST)
            return;
        /* pure ACKs and FINs of unknown connections create no state */
        if (!syn && payload.n == 0)
            return;
        c = conn_new(s, &key, s->clock);
        if (c == NULL)
            return;
    } else {
        c->last = s->clock;
        lru_unlink(s, c);
        lru_append(s, c);
    }

    if (flags & DECODE_TCP_RST) {
        s->st.rst++;
        conn_close(s, c, ts);
        return;
    }

    struct half *h = &c->h[dir];
    uint32_t data_seq = seq;
    if (syn) {
        if (!h->syn) {
            h->syn = true;
            h->isn = seq;
            h->started = true;
            h->next_seq = seq + 1;
        }
        data_seq = seq + 1;
    }
    if (!h->started && payload.n > 0) {
        h->started = true;
        h->next_seq = data_seq;
        h->pending |= TCPSTREAM_MIDSTREAM;
        s->st.midstream++;
    }
    if (!h->done && payload.n > 0)
        data_in(s, c, dir, data_seq, payload.p, payload.n, ts);

    if ((flags & DECODE_TCP_FIN) && !h->done) {
        uint32_t fin_seq = data_seq + (uint32_t)payload.n;
        if (!h->started) {
            h->started = true;
            h->next_seq = fin_seq;
        }
        if (!h->fin) {
            h->fin = true;
            h->fin_seq = fin_seq;
        }
        /* the FIN forces progress: whatever is still missing is lost */
        skip_holes(s, c, dir, ts);
        if (seq_lt(h->next_seq, h->fin_seq))
            gap_to(s, h, h->fin_seq);
        h->done = true;
    }
    if (c->h[0].done && c->h[1].done)
        conn_close(s, c, ts);
}

void tcpstream_advance(struct tcpstream *s, sw_time now)
{
    if (s->clock == SW_TIME_NONE || now > s->clock)
        s->clock = now;
    while (s->lru_head != NULL && s->lru_head->last < now - s->cfg.idle_timeout) {
        s->st.timeouts++;
        conn_close(s, s->lru_head, now);
    }
}

void tcpstream_finish(struct tcpstream *s, sw_time now)
{
    while (s->lru_head != NULL)
        conn_close(s, s->lru_head, now);
}

void tcpstream_counters(const struct tcpstream *s, struct sw_counters *out)
{
    sw_counters_add(out, "tcp_segments", s->st.segments);
    sw_counters_add(out, "tcp_streams", s->st.streams);
    sw_counters_add(out, "tcp_streams_active", s->n_conns);
    sw_counters_add(out, "tcp_midstream", s->st.midstream);
    sw_counters_add(out, "tcp_out_of_order", s->st.out_of_order);
    sw_counters_add(out, "tcp_retransmitted", s->st.retransmitted);
    sw_counters_add(out, "tcp_gaps", s->st.gaps);
    sw_counters_add(out, "tcp_gap_bytes", s->st.gap_bytes);
    sw_counters_add(out, "tcp_ooo_bytes_held", s->held_total);
    sw_counters_add(out, "tcp_ooo_bytes_peak", s->st.ooo_peak);
    sw_counters_add(out, "tcp_ooo_dropped", s->st.ooo_dropped);
    sw_counters_add(out, "tcp_evicted", s->st.evicted);
    sw_counters_add(out, "tcp_timeouts", s->st.timeouts);
    sw_counters_add(out, "tcp_rst", s->st.rst);
}
