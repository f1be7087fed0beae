/*
 * ipfrag.c - IPv4 and IPv6 fragment reassembly (RFC 791 §3.2, RFC 8200
 * §4.5), for a passive observer.
 *
 * Owns: the datagrams in flight, keyed by (family, src, dst, proto, id), each
 * a list of non-overlapping byte runs sorted by offset, copied out of the
 * fragments (so the caller's bytes, which may be this module's own previous
 * output, are never kept); one 64 KiB output buffer for completed datagrams.
 *
 * Overlap policy: first come wins. Bytes already held are kept and only the
 * parts of a new fragment that fill holes are copied (Linux's "first" and
 * Windows' behaviour for IPv4). RFC 5722 tells an IPv6 *receiver* to drop a
 * datagram with overlapping fragments; we are not the receiver, and keeping
 * the first copy is what a receiver that did accept it would have used. Every
 * overlapping fragment is counted (ip_frag_overlaps); one that repeats a run
 * byte for byte is a duplicate (ip_frag_duplicates) and is dropped.
 *
 * Refused and counted as ip_frag_dropped_invalid: a fragment ending past
 * 65535 bytes, a non-last fragment whose length is not a multiple of 8 (RFC
 * 8200 §4.5, RFC 791), a fragment past the end a last fragment fixed, a
 * second last fragment with another end, a last fragment ending before bytes
 * already held.
 *
 * Caps: max_datagrams (the oldest datagram is evicted to make room,
 * ip_frag_evicted); max_bytes over all held bytes, runs and bookkeeping
 * (oldest datagrams are evicted to make room; a fragment that cannot fit even
 * then is ip_frag_dropped_cap); IPFRAG_MAX_RUNS runs per datagram, so a
 * hostile storm of tiny fragments cannot make insertion quadratic in
 * thousands. Timeouts run from a datagram's first fragment, on capture time:
 * datagrams sit in a FIFO by creation, which is also their expiry order since
 * capture time never goes backwards, so ipfrag_advance is O(1) when nothing
 * is due.
 *
 * Does not: look at IP options, send ICMP, or keep the IP header (decode
 * continues from ip->proto with decode_ip_payload). The key includes the
 * protocol for IPv6 too (the fragment header's Next Header): RFC 8200 lets
 * fragments of one datagram disagree there, which no stack we know does; such
 * a datagram would not reassemble.
 */
#include "sipwatch/ipfrag.h"

#include <stdlib.h>
#include <string.h>

#include <xxhash.h>
#define HASH_FUNCTION(keyptr, keylen, hashv)                                                       \
    (hashv) = (unsigned)XXH3_64bits_withSeed(keyptr, keylen, sw_hash_seed)
#include <uthash.h>

#define IPFRAG_MAX_DATAGRAM 65535u
/* Runs per datagram: a 64 KiB datagram over a 576-byte MTU is ~120
 * fragments; even 8-byte fragments in the worst order stay cheap. */
#define IPFRAG_MAX_RUNS 1024u

struct frag_run {
    struct frag_run *next;
    uint32_t off, len;
    uint64_t tag; /* the frame it came from (ipfrag_set_tag) */
    uint8_t data[];
};

struct frag_key {
    uint8_t family, proto, pad[2];
    uint32_t id;
    uint8_t src[16], dst[16];
};

struct frag_dgram {
    struct frag_key key;
    UT_hash_handle hh;
    struct frag_dgram *older, *newer; /* FIFO by first fragment */
    struct frag_run *head, *tail;     /* sorted by offset, disjoint */
    sw_time first;
    uint32_t have;    /* bytes held */
    uint32_t max_end; /* largest offset + length held */
    uint32_t end;     /* the datagram's length, once the last fragment came */
    bool have_end;
    unsigned runs;
    size_t cost; /* accounted bytes */
};

struct ipfrag_stats {
    uint64_t fragments, reassembled, timeouts, incomplete, duplicates, overlaps;
    uint64_t dropped_cap, dropped_invalid, evicted;
    size_t bytes_held, bytes_peak, datagrams_held;
};

struct ipfrag {
    struct ipfrag_config cfg;
    struct frag_dgram *table;
    struct frag_dgram *oldest, *newest;
    struct ipfrag_stats st;
    uint64_t tag;                         /* of the fragment being added */
    uint64_t out_tags[IPFRAG_MAX_TAGS];   /* of the datagram just completed */
    size_t n_out_tags;
    bool out_tags_complete;
    uint8_t out[IPFRAG_MAX_DATAGRAM];
};

struct ipfrag *ipfrag_new(const struct ipfrag_config *cfg)
{
    struct ipfrag *f = calloc(1, sizeof *f);
    if (f != NULL)
        f->cfg = *cfg;
    return f;
}

static void dgram_remove(struct ipfrag *f, struct frag_dgram *dg)
{
    HASH_DEL(f->table, dg);
    if (dg->older != NULL)
        dg->older->newer = dg->newer;
    else
        f->oldest = dg->newer;
    if (dg->newer != NULL)
        dg->newer->older = dg->older;
    else
        f->newest = dg->older;
    struct frag_run *r = dg->head;
    while (r != NULL) {
        struct frag_run *next = r->next;
        free(r);
        r = next;
    }
    SW_ASSERT(f->st.bytes_held >= dg->cost && f->st.datagrams_held > 0);
    f->st.bytes_held -= dg->cost;
    sw_budget_release(f->cfg.budget, dg->cost);
    f->st.datagrams_held--;
    free(dg);
}

void ipfrag_free(struct ipfrag *f)
{
    if (f == NULL)
        return;
    while (f->oldest != NULL)
        dgram_remove(f, f->oldest);
    free(f);
}

void ipfrag_set_tag(struct ipfrag *f, uint64_t tag)
{
    f->tag = tag;
}

const uint64_t *ipfrag_tags(const struct ipfrag *f, size_t *n, bool *complete)
{
    *n = f->n_out_tags;
    *complete = f->out_tags_complete;
    return f->out_tags;
}

static void account(struct ipfrag *f, struct frag_dgram *dg, size_t bytes)
{
    dg->cost += bytes;
    f->st.bytes_held += bytes;
    sw_budget_charge(f->cfg.budget, bytes);
    if (f->st.bytes_held > f->st.bytes_peak)
        f->st.bytes_peak = f->st.bytes_held;
}

/* Evicts the oldest datagrams other than `keep` until `need` more bytes fit. */
static bool make_room(struct ipfrag *f, const struct frag_dgram *keep, size_t need)
{
    while (f->st.bytes_held + need > f->cfg.max_bytes || sw_budget_full(f->cfg.budget, need)) {
        struct frag_dgram *victim = f->oldest;
        if (victim != NULL && victim == keep)
            victim = victim->newer;
        if (victim == NULL)
            return false;
        if (f->st.bytes_held + need <= f->cfg.max_bytes)
            sw_budget_evicted(f->cfg.budget); /* for the shared budget */
        dgram_remove(f, victim);
        f->st.evicted++;
    }
    return true;
}

static struct frag_dgram *dgram_new(struct ipfrag *f, const struct frag_key *key, sw_time now)
{
    if (f->cfg.max_datagrams == 0)
        return NULL;
    if (f->st.datagrams_held >= f->cfg.max_datagrams) {
        dgram_remove(f, f->oldest);
        f->st.evicted++;
    }
    if (!make_room(f, NULL, sizeof(struct frag_dgram)))
        return NULL;
    struct frag_dgram *dg = calloc(1, sizeof *dg);
    if (dg == NULL)
        return NULL;
    dg->key = *key;
    dg->first = now;
    HASH_ADD(hh, f->table, key, sizeof dg->key, dg);
    dg->older = f->newest;
    if (f->newest != NULL)
        f->newest->newer = dg;
    else
        f->oldest = dg;
    f->newest = dg;
    f->st.datagrams_held++;
    account(f, dg, sizeof *dg);
    return dg;
}

/* Counts the bytes of [s, e) that no run holds yet and the holes they fill. */
static void measure_holes(const struct frag_dgram *dg, uint32_t s, uint32_t e, uint32_t *bytes,
                          unsigned *holes, const struct frag_run **same)
{
    uint32_t pos = s;
    *bytes = 0;
    *holes = 0;
    *same = NULL;
    for (const struct frag_run *r = dg->head; r != NULL && pos < e; r = r->next) {
        uint32_t rend = r->off + r->len;
        if (rend <= pos)
            continue;
        if (r->off >= e)
            break;
        if (r->off == s && rend == e)
            *same = r;
        if (r->off > pos) {
            *bytes += r->off - pos;
            (*holes)++;
        }
        pos = rend;
    }
    if (pos < e) {
        *bytes += e - pos;
        (*holes)++;
    }
}

static struct frag_run *run_new(uint32_t off, const uint8_t *p, uint32_t len, uint64_t tag)
{
    struct frag_run *r = malloc(sizeof *r + len);
    if (r != NULL) {
        r->next = NULL;
        r->tag = tag;
        r->off = off;
        r->len = len;
        memcpy(r->data, p, len);
    }
    return r;
}

/* Copies the holes of [s, e) out of `p` (which starts at offset s) into new
 * runs; false if an allocation failed (the runs added so far stay valid). */
static bool fill_holes(struct ipfrag *f, struct frag_dgram *dg, uint32_t s, uint32_t e,
                       const uint8_t *p)
{
    struct frag_run **link = &dg->head;
    uint32_t pos = s;
    if (dg->tail != NULL && dg->tail->off + dg->tail->len <= s) /* in order: append */
        link = &dg->tail->next;
    while (pos < e) {
        struct frag_run *r = *link;
        uint32_t stop = e;
        if (r != NULL) {
            uint32_t rend = r->off + r->len;
            if (rend <= pos) {
                link = &r->next;
                continue;
            }
            if (r->off <= pos) { /* held already: first come wins */
                pos = rend;
                link = &r->next;
                continue;
            }
            stop = SW_MIN(e, r->off);
        }
        struct frag_run *n = run_new(pos, p + (pos - s), stop - pos, f->tag);
        if (n == NULL)
            return false;
        n->next = r;
        *link = n;
        if (r == NULL)
            dg->tail = n;
        account(f, dg, sizeof *n + n->len);
        dg->have += n->len;
        dg->runs++;
        link = &n->next;
        pos = stop;
    }
    return true;
}

enum ipfrag_result ipfrag_add(struct ipfrag *f, const struct decode_ip *ip, struct sw_bytes data,
                              sw_time now, struct sw_bytes *out)
{
    f->st.fragments++;
    uint64_t end64 = (uint64_t)ip->offset + data.n;
    if ((ip->src.family != 4 && ip->src.family != 6) || end64 > IPFRAG_MAX_DATAGRAM ||
        (ip->more && (data.n == 0 || data.n % 8 != 0))) {
        f->st.dropped_invalid++;
        return IPFRAG_DROPPED;
    }
    uint32_t s = ip->offset, e = (uint32_t)end64;

    struct frag_key key;
    memset(&key, 0, sizeof key);
    key.family = ip->src.family;
    key.proto = ip->proto;
    key.id = ip->id;
    memcpy(key.src, ip->src.a, sizeof key.src);
    memcpy(key.dst, ip->dst.a, sizeof key.dst);

    struct frag_dgram *dg = NULL;
    HASH_FIND(hh, f->table, &key, sizeof key, dg);
    if (dg != NULL && now - dg->first >= f->cfg.timeout) {
        /* ipfrag_advance runs coarsely: expire it here, not extend it */
        dgram_remove(f, dg);
        f->st.timeouts++;
        dg = NULL;
    }
    if (dg != NULL) {
        if ((dg->have_end && e > dg->end) || (!ip->more && dg->have_end && e != dg->end) ||
            (!ip->more && !dg->have_end && dg->max_end > e)) {
            f->st.dropped_invalid++;
            return IPFRAG_DROPPED;
        }
    }

    uint32_t new_bytes = (uint32_t)data.n;
    unsigned holes = 1;
    if (dg != NULL) {
        const struct frag_run *same;
        measure_holes(dg, s, e, &new_bytes, &holes, &same);
        if (new_bytes < data.n) {
            if (new_bytes == 0 && same != NULL && memcmp(same->data, data.p, data.n) == 0) {
                f->st.duplicates++;
                return IPFRAG_DROPPED;
            }
            f->st.overlaps++;
        }
        if (new_bytes == 0 && data.n > 0)
            return IPFRAG_DROPPED;
        if (dg->runs + holes > IPFRAG_MAX_RUNS) {
            f->st.dropped_cap++;
            return IPFRAG_DROPPED;
        }
    } else {
        dg = dgram_new(f, &key, now);
        if (dg == NULL) {
            f->st.dropped_cap++;
            return IPFRAG_DROPPED;
        }
        holes = data.n > 0 ? 1 : 0;
    }

    size_t need = (size_t)holes * sizeof(struct frag_run) + new_bytes;
    if (!make_room(f, dg, need) || !fill_holes(f, dg, s, e, data.p)) {
        f->st.dropped_cap++;
        if (dg->head == NULL)
            dgram_remove(f, dg);
        return IPFRAG_DROPPED;
    }
    if (e > dg->max_end)
        dg->max_end = e;
    if (!ip->more) {
        dg->have_end = true;
        dg->end = e;
    }
    if (!dg->have_end || dg->have != dg->end)
        return IPFRAG_HELD;

    /* Complete: the runs are disjoint and cover [0, end) exactly. */
    f->n_out_tags = 0;
    f->out_tags_complete = true;
    for (const struct frag_run *r = dg->head; r != NULL; r = r->next) {
        memcpy(f->out + r->off, r->data, r->len);
        bool seen = false;
        for (size_t i = 0; i < f->n_out_tags && !seen; i++)
            seen = f->out_tags[i] == r->tag;
        if (seen)
            continue;
        if (f->n_out_tags == IPFRAG_MAX_TAGS)
            f->out_tags_complete = false;
        else
            f->out_tags[f->n_out_tags++] = r->tag;
    }
    *out = sw_bytes_make(f->out, dg->end);
    dgram_remove(f, dg);
    f->st.reassembled++;
    return IPFRAG_COMPLETE;
}

void ipfrag_advance(struct ipfrag *f, sw_time now)
{
    while (f->oldest != NULL && now - f->oldest->first >= f->cfg.timeout) {
        dgram_remove(f, f->oldest);
        f->st.timeouts++;
    }
}

void ipfrag_finish(struct ipfrag *f)
{
    while (f->oldest != NULL) {
        dgram_remove(f, f->oldest);
        f->st.incomplete++;
    }
}

void ipfrag_counters(const struct ipfrag *f, struct sw_counters *out)
{
    const struct ipfrag_stats *st = &f->st;
    sw_counters_add(out, "ip_fragments", st->fragments);
    sw_counters_add(out, "ip_reassembled", st->reassembled);
    sw_counters_add(out, "ip_frag_timeouts", st->timeouts);
    sw_counters_add(out, "ip_frag_incomplete", st->incomplete);
    sw_counters_add(out, "ip_frag_duplicates", st->duplicates);
    sw_counters_add(out, "ip_frag_overlaps", st->overlaps);
    sw_counters_add(out, "ip_frag_dropped_cap", st->dropped_cap);
    sw_counters_add(out, "ip_frag_dropped_invalid", st->dropped_invalid);
    sw_counters_add(out, "ip_frag_evicted", st->evicted);
    sw_counters_add(out, "ip_frag_bytes_held", st->bytes_held);
    sw_counters_add(out, "ip_frag_bytes_peak", st->bytes_peak);
    sw_counters_add(out, "ip_frag_datagrams_held", st->datagrams_held);
}
