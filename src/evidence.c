/*
 * evidence.c - the evidence stage (see evidence.h and docs/evidence.md).
 *
 * Frames: one copy per frame (struct ev_frame, reference counted), shared by
 * every Call-ID whose messages it carried and by the reassembly pool. A
 * frame is copied only when a message claims it (a whole datagram: during
 * its own pipeline_frame call) or when its bytes go into a reassembly buffer
 * (evidence_frame_hold: fragments, TCP segments), which the pool keeps in
 * FIFO order within pool_bytes.
 *
 * Budget: every byte held (frame copies, Call-ID entries, the pool) counts
 * against buffer_bytes. Over it, whole Call-IDs are evicted, least recently
 * active first, in three classes: those the tracker released (they can no
 * longer be flagged) go first, then ordinary ones, then those with a REFER
 * awaiting its outcome (pinned). A Call-ID evicted and seen again is marked
 * incomplete (a two-generation Bloom filter of evicted Call-IDs remembers
 * them, bounded; a false positive marks a file incomplete that is not), as
 * is one whose message needed a frame the pool had already let go.
 *
 * Files: DIR/YYYY-MM-DD/HHMMSS.uuuuuu-<event>-<outcome>-<hash>.pcap (UTC,
 * capture time of the event), written under a temporary name (a leading
 * dot, .tmp suffix) and renamed into place, so a reader never sees half a
 * file. Frames in capture order (frame id). DIR is bounded: the files found
 * at start and those written are kept in name order (which is time order),
 * and the oldest are removed while the total is over max_dir_bytes.
 */
#include "sipwatch/evidence.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <xxhash.h>
#define HASH_FUNCTION(keyptr, keylen, hashv)                                                       \
    (hashv) = (unsigned)XXH3_64bits_withSeed(keyptr, keylen, sw_hash_seed)
#define HASH_NONFATAL_OOM 1
#include <uthash.h>

#include "sipwatch/capture_dump.h"

#define EV_MAX_PATHS 4
#define EV_PATH_MAX 128
#define EV_CALLID_MAX 256
#define EV_MAX_EXTRA 8
/* allocator overhead charged with every allocation */
#define FRAME_COST(n) (sizeof(struct ev_frame) + (n) + 16)
#define CALL_COST(idlen, cap) (sizeof(struct ev_call) + (idlen) + 1 + (cap) * sizeof(void *) + 32)
/* 2 x 512 KiB: with 32768 Call-IDs per generation and 4 probes, a Call-ID
 * never evicted is taken for an evicted one about once in 500 000 (checked
 * in both generations; 2^20 bits and 3 probes made it once in 700, a few
 * false "incomplete" files per load-mix replay). */
#define BLOOM_BITS (1u << 22)
#define BLOOM_PROBES 4u
#define BLOOM_GENERATION 32768u /* insertions before the older filter is cleared */

struct ev_frame {
    uint64_t id;
    sw_time ts;
    uint32_t refs, caplen, origlen;
    int linktype;
    uint8_t data[];
};

enum { CLS_RELEASED = 0, CLS_NORMAL, CLS_PINNED, CLS__COUNT };

struct ev_call {
    UT_hash_handle hh;
    struct ev_call *prev, *next;   /* LRU within its class */
    struct ev_call *dprev, *dnext; /* files to rewrite */
    uint8_t cls;
    bool incomplete, dirty;
    uint8_t n_paths;
    sw_time last;
    struct ev_frame **f;
    uint32_t n, cap;
    char *paths[EV_MAX_PATHS];
    char call_id[];
};

struct ev_file {
    char *rel;
    uint64_t size;
};

struct evidence {
    struct evidence_config cfg;
    struct ev_call *calls;
    struct ev_call *lru_first[CLS__COUNT], *lru_last[CLS__COUNT];
    struct ev_call *dirty;
    size_t n_calls;
    size_t bytes, bytes_peak, frames_held;

    /* the frame being handled */
    uint64_t cur_id;
    int cur_linktype;
    sw_time cur_ts;
    struct sw_bytes cur_bytes;
    uint32_t cur_orig;
    struct ev_frame *cur_copy;
    bool have_cur;

    /* reassembly pool: FIFO ring, ids increasing */
    struct ev_frame **pool;
    size_t pool_cap, pool_head, pool_n, pool_bytes;

    /* Call-IDs evicted lately (two generations) */
    uint64_t bloom[2][BLOOM_BITS / 64];
    unsigned bloom_cur, bloom_n;

    /* files under DIR, oldest first */
    struct ev_file *files;
    size_t n_files, files_cap;
    uint64_t dir_bytes;

    sw_time now, last_tick;
    char path_out[EV_PATH_MAX];

    /* Call-IDs the tracker named as part of the next event (a scan's hits) */
    char extra[EV_MAX_EXTRA][EV_CALLID_MAX + 1];
    unsigned n_extra;

    struct {
        uint64_t calls_evicted, pool_evicted, frames_missing, files_written, files_rewritten,
            files_removed, write_errors, incomplete, no_frames, oom, other_linktype,
            events_selected;
    } st;
};

void evidence_config_default(struct evidence_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->buffer_bytes = EVIDENCE_DEFAULT_BUFFER_BYTES;
    cfg->pool_bytes = 0; /* 1/8 of buffer_bytes */
    cfg->max_dir_bytes = EVIDENCE_DEFAULT_MAX_DIR_BYTES;
    cfg->select = (1u << SW_EVENT_USER_NOT_FOUND) | (1u << SW_EVENT_SCAN);
    for (unsigned o = 0; o < SW_OUTCOME__COUNT; o++) {
        if (o != SW_OUTCOME_COMPLETED)
            cfg->select |= 1u << (SW_EVENT__COUNT + o);
    }
}

bool evidence_select_parse(const char *list, uint32_t *select)
{
    uint32_t m = 0;
    const char *p = list;
    while (*p != '\0') {
        const char *comma = strchr(p, ',');
        size_t n = comma != NULL ? (size_t)(comma - p) : strlen(p);
        bool found = false;
        if (n == 3 && strncmp(p, "all", 3) == 0) {
            m = UINT32_MAX;
            found = true;
        }
        for (unsigned i = 0; i < SW_EVENT_STATS && !found; i++) {
            const char *name = sw_event_type_name((enum sw_event_type)i);
            if (strlen(name) == n && strncmp(name, p, n) == 0) {
                if (i == SW_EVENT_TRANSFER)
                    m |= ((1u << SW_OUTCOME__COUNT) - 1) << SW_EVENT__COUNT;
                else
                    m |= 1u << i;
                found = true;
            }
        }
        for (unsigned o = 0; o < SW_OUTCOME__COUNT && !found; o++) {
            const char *name = sw_outcome_name((enum sw_transfer_outcome)o);
            if (strlen(name) == n && strncmp(name, p, n) == 0) {
                m |= 1u << (SW_EVENT__COUNT + o);
                found = true;
            }
        }
        if (!found)
            return false;
        p += n;
        if (*p == ',')
            p++;
    }
    if (m == 0)
        return false;
    *select = m;
    return true;
}

/* ---- frames ---- */

static void frame_unref(struct evidence *e, struct ev_frame *f)
{
    if (--f->refs == 0) {
        e->bytes -= FRAME_COST(f->caplen);
        e->frames_held--;
        free(f);
    }
}

static void charge(struct evidence *e, size_t n)
{
    e->bytes += n;
    if (e->bytes > e->bytes_peak)
        e->bytes_peak = e->bytes;
}

static struct ev_frame *cur_frame(struct evidence *e)
{
    if (e->cur_copy != NULL)
        return e->cur_copy;
    struct ev_frame *f = malloc(sizeof *f + e->cur_bytes.n);
    if (f == NULL) {
        e->st.oom++;
        return NULL;
    }
    f->id = e->cur_id;
    f->ts = e->cur_ts;
    f->refs = 1; /* e->cur_copy's own reference, dropped at the next frame */
    f->caplen = (uint32_t)e->cur_bytes.n;
    f->origlen = e->cur_orig;
    f->linktype = e->cur_linktype;
    if (e->cur_bytes.n > 0)
        memcpy(f->data, e->cur_bytes.p, e->cur_bytes.n);
    charge(e, FRAME_COST(f->caplen));
    e->frames_held++;
    e->cur_copy = f;
    return f;
}

static void pool_pop(struct evidence *e)
{
    struct ev_frame *f = e->pool[e->pool_head];
    e->pool_head = (e->pool_head + 1) % e->pool_cap;
    e->pool_n--;
    e->pool_bytes -= FRAME_COST(f->caplen);
    if (f->refs == 1)
        e->st.pool_evicted++; /* never claimed by a message (or not yet) */
    frame_unref(e, f);
}

static struct ev_frame *pool_find(struct evidence *e, uint64_t id)
{
    size_t lo = 0, hi = e->pool_n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        struct ev_frame *f = e->pool[(e->pool_head + mid) % e->pool_cap];
        if (f->id == id)
            return f;
        if (f->id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static struct ev_frame *frame_get(struct evidence *e, uint64_t id)
{
    if (e->have_cur && id == e->cur_id)
        return cur_frame(e);
    return pool_find(e, id);
}

/* ---- Call-IDs ---- */

static void lru_unlink(struct evidence *e, struct ev_call *c)
{
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        e->lru_first[c->cls] = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    else
        e->lru_last[c->cls] = c->prev;
    c->prev = c->next = NULL;
}

static void lru_append(struct evidence *e, struct ev_call *c)
{
    c->prev = e->lru_last[c->cls];
    c->next = NULL;
    if (c->prev != NULL)
        c->prev->next = c;
    else
        e->lru_first[c->cls] = c;
    e->lru_last[c->cls] = c;
}

static void dirty_unlink(struct evidence *e, struct ev_call *c)
{
    if (!c->dirty)
        return;
    if (c->dprev != NULL)
        c->dprev->dnext = c->dnext;
    else
        e->dirty = c->dnext;
    if (c->dnext != NULL)
        c->dnext->dprev = c->dprev;
    c->dprev = c->dnext = NULL;
    c->dirty = false;
}

static uint64_t callid_hash(const char *id, size_t n)
{
    return XXH3_64bits(id, n);
}

/* Probe i of a hash (double hashing). */
static unsigned bloom_bit(uint64_t h, unsigned i)
{
    return (unsigned)(((h & 0xffffffffu) + i * (h >> 32 | 1)) % BLOOM_BITS);
}

static bool bloom_has(const struct evidence *e, uint64_t h)
{
    for (int g = 0; g < 2; g++) {
        const uint64_t *bits = e->bloom[g];
        unsigned i = 0;
        for (; i < BLOOM_PROBES; i++) {
            unsigned b = bloom_bit(h, i);
            if (!(bits[b / 64] >> (b % 64) & 1))
                break;
        }
        if (i == BLOOM_PROBES)
            return true;
    }
    return false;
}

static void bloom_add(struct evidence *e, uint64_t h)
{
    if (e->bloom_n++ == BLOOM_GENERATION) {
        e->bloom_cur ^= 1;
        memset(e->bloom[e->bloom_cur], 0, sizeof e->bloom[0]);
        e->bloom_n = 1;
    }
    uint64_t *bits = e->bloom[e->bloom_cur];
    for (unsigned i = 0; i < BLOOM_PROBES; i++) {
        unsigned b = bloom_bit(h, i);
        bits[b / 64] |= UINT64_C(1) << (b % 64);
    }
}

static void rewrite_call(struct evidence *e, struct ev_call *c);

static void call_free(struct evidence *e, struct ev_call *c, bool evicted)
{
    if (c->dirty)
        rewrite_call(e, c); /* its files get what arrived since, before it goes */
    dirty_unlink(e, c);
    size_t idlen = strlen(c->call_id);
    if (evicted) {
        e->st.calls_evicted++;
        bloom_add(e, callid_hash(c->call_id, idlen));
    }
    HASH_DEL(e->calls, c);
    lru_unlink(e, c);
    for (uint32_t i = 0; i < c->n; i++)
        frame_unref(e, c->f[i]);
    for (unsigned i = 0; i < c->n_paths; i++)
        free(c->paths[i]);
    e->bytes -= CALL_COST(idlen, c->cap);
    free(c->f);
    free(c);
    e->n_calls--;
}

static void enforce_budget(struct evidence *e, const struct ev_call *keep_c)
{
    while (e->bytes > e->cfg.buffer_bytes) {
        struct ev_call *victim = NULL;
        for (int k = 0; k < CLS__COUNT && victim == NULL; k++) {
            victim = e->lru_first[k];
            if (victim != NULL && victim == keep_c)
                victim = victim->next;
        }
        if (victim == NULL)
            break;
        call_free(e, victim, true);
    }
}

static struct ev_call *call_find(struct evidence *e, const char *call_id, size_t n)
{
    struct ev_call *c = NULL;
    HASH_FIND(hh, e->calls, call_id, n, c);
    return c;
}

static struct ev_call *call_get(struct evidence *e, const char *call_id, uint8_t cls)
{
    size_t n = strnlen(call_id, EV_CALLID_MAX);
    struct ev_call *c = call_find(e, call_id, n);
    if (c != NULL)
        return c;
    c = calloc(1, sizeof *c + n + 1);
    if (c == NULL) {
        e->st.oom++;
        return NULL;
    }
    memcpy(c->call_id, call_id, n);
    HASH_ADD_KEYPTR(hh, e->calls, c->call_id, n, c);
    if (c->hh.tbl == NULL) {
        e->st.oom++;
        free(c);
        return NULL;
    }
    c->cls = cls;
    c->last = e->now;
    c->incomplete = bloom_has(e, callid_hash(c->call_id, n));
    lru_append(e, c);
    charge(e, CALL_COST(n, 0));
    e->n_calls++;
    return c;
}

static void call_touch(struct evidence *e, struct ev_call *c)
{
    c->last = e->now;
    lru_unlink(e, c);
    lru_append(e, c);
}

static bool call_add_frame(struct evidence *e, struct ev_call *c, struct ev_frame *f)
{
    /* already there? (a segment carrying two messages of one call) */
    for (uint32_t i = c->n; i > 0 && c->n - i < 64; i--) {
        if (c->f[i - 1]->id == f->id)
            return true;
    }
    if (c->n == c->cap) {
        uint32_t cap = c->cap ? c->cap * 2 : 8;
        struct ev_frame **nf = realloc(c->f, cap * sizeof *nf);
        if (nf == NULL) {
            e->st.oom++;
            return false;
        }
        charge(e, (cap - c->cap) * sizeof *nf);
        c->f = nf;
        c->cap = cap;
    }
    /* capture order: a reordered segment's frame may come in late */
    uint32_t i = c->n;
    while (i > 0 && c->f[i - 1]->id > f->id)
        i--;
    if (i < c->n && c->f[i]->id == f->id)
        return true;
    memmove(c->f + i + 1, c->f + i, (c->n - i) * sizeof *c->f);
    c->f[i] = f;
    c->n++;
    f->refs++;
    return true;
}

/* ---- the public face ---- */

static int dir_scan(struct evidence *e, char errbuf[SW_ERRBUF_SIZE]);

struct evidence *evidence_new(const struct evidence_config *cfg, char errbuf[SW_ERRBUF_SIZE])
{
    struct evidence *e = calloc(1, sizeof *e);
    if (e == NULL) {
        snprintf(errbuf, SW_ERRBUF_SIZE, "out of memory");
        return NULL;
    }
    e->cfg = *cfg;
    if (e->cfg.buffer_bytes < ((size_t)64 << 10))
        e->cfg.buffer_bytes = (size_t)64 << 10;
    if (e->cfg.pool_bytes == 0 || e->cfg.pool_bytes > e->cfg.buffer_bytes)
        e->cfg.pool_bytes = e->cfg.buffer_bytes / 8;
    e->now = SW_TIME_NONE;
    e->last_tick = SW_TIME_NONE;
    if (e->cfg.dir != NULL && dir_scan(e, errbuf) != 0) {
        evidence_free(e);
        return NULL;
    }
    return e;
}

static void drop_all(struct evidence *e)
{
    for (int k = 0; k < CLS__COUNT; k++) {
        while (e->lru_first[k] != NULL)
            call_free(e, e->lru_first[k], false);
    }
    while (e->pool_n > 0)
        pool_pop(e);
    if (e->cur_copy != NULL) {
        frame_unref(e, e->cur_copy);
        e->cur_copy = NULL;
    }
    e->have_cur = false;
}

void evidence_free(struct evidence *e)
{
    if (e == NULL)
        return;
    while (e->dirty != NULL)
        dirty_unlink(e, e->dirty); /* nothing is written on the way out */
    drop_all(e);
    free(e->pool);
    for (size_t i = 0; i < e->n_files; i++)
        free(e->files[i].rel);
    free(e->files);
    free(e);
}

void evidence_frame(struct evidence *e, uint64_t id, int linktype, sw_time ts,
                    struct sw_bytes bytes, uint32_t orig_len)
{
    if (e->cur_copy != NULL) {
        frame_unref(e, e->cur_copy);
        e->cur_copy = NULL;
    }
    e->have_cur = true;
    e->cur_id = id;
    e->cur_linktype = linktype;
    e->cur_ts = ts;
    e->cur_bytes = bytes;
    e->cur_orig = orig_len;
    if (e->now == SW_TIME_NONE || ts > e->now)
        e->now = ts;
}

void evidence_frame_hold(struct evidence *e)
{
    if (!e->have_cur)
        return;
    if (e->pool_n > 0 && e->pool[(e->pool_head + e->pool_n - 1) % e->pool_cap]->id == e->cur_id)
        return;
    struct ev_frame *f = cur_frame(e);
    if (f == NULL)
        return;
    if (e->pool_n == e->pool_cap) {
        size_t cap = e->pool_cap ? e->pool_cap * 2 : 256;
        struct ev_frame **np = malloc(cap * sizeof *np);
        if (np == NULL) {
            e->st.oom++;
            return;
        }
        for (size_t i = 0; i < e->pool_n; i++)
            np[i] = e->pool[(e->pool_head + i) % e->pool_cap];
        free(e->pool); /* the ring itself is not charged: pointers only */
        e->pool = np;
        e->pool_cap = cap;
        e->pool_head = 0;
    }
    e->pool[(e->pool_head + e->pool_n) % e->pool_cap] = f;
    e->pool_n++;
    f->refs++;
    e->pool_bytes += FRAME_COST(f->caplen);
    while (e->pool_bytes > e->cfg.pool_bytes && e->pool_n > 1)
        pool_pop(e);
    enforce_budget(e, NULL);
}

void evidence_message(struct evidence *e, const char *call_id, const uint64_t *ids, size_t n,
                      bool ids_complete)
{
    if (call_id == NULL || call_id[0] == '\0')
        return;
    struct ev_call *c = call_get(e, call_id, CLS_RELEASED);
    if (c == NULL)
        return;
    call_touch(e, c);
    bool added = false;
    if (!ids_complete)
        c->incomplete = true;
    for (size_t i = 0; i < n; i++) {
        struct ev_frame *f = frame_get(e, ids[i]);
        if (f == NULL) {
            e->st.frames_missing++;
            c->incomplete = true;
            continue;
        }
        uint32_t before = c->n;
        if (!call_add_frame(e, c, f))
            c->incomplete = true;
        added |= c->n != before;
    }
    if (added && c->n_paths > 0 && !c->dirty) {
        c->dirty = true;
        c->dprev = NULL;
        c->dnext = e->dirty;
        if (e->dirty != NULL)
            e->dirty->dprev = c;
        e->dirty = c;
    }
    enforce_budget(e, c);
}

void evidence_keep(struct evidence *e, const char *call_id, int level)
{
    if (level == 3) { /* TRACKER_KEEP_EVENT: part of the next event */
        if (e->n_extra < EV_MAX_EXTRA) {
            size_t n = strnlen(call_id, EV_CALLID_MAX);
            memcpy(e->extra[e->n_extra], call_id, n);
            e->extra[e->n_extra][n] = '\0';
            e->n_extra++;
        }
        return;
    }
    uint8_t cls = level <= 0 ? CLS_RELEASED : level == 1 ? CLS_NORMAL : CLS_PINNED;
    struct ev_call *c;
    if (cls == CLS_RELEASED) {
        c = call_find(e, call_id, strnlen(call_id, EV_CALLID_MAX));
        if (c == NULL)
            return;
    } else {
        c = call_get(e, call_id, cls);
        if (c == NULL)
            return;
    }
    if (c->cls == cls)
        return;
    lru_unlink(e, c);
    c->cls = cls;
    lru_append(e, c);
}

/* ---- files ---- */

static int mkdir_p(const char *path)
{
    if (mkdir(path, 0755) == 0 || errno == EEXIST)
        return 0;
    return -1;
}

static bool files_add(struct evidence *e, const char *rel, uint64_t size)
{
    if (e->n_files == e->files_cap) {
        size_t cap = e->files_cap ? e->files_cap * 2 : 64;
        struct ev_file *nf = realloc(e->files, cap * sizeof *nf);
        if (nf == NULL)
            return false;
        e->files = nf;
        e->files_cap = cap;
    }
    char *r = strdup(rel);
    if (r == NULL)
        return false;
    /* names sort by time; a file named before the newest goes in its place */
    size_t i = e->n_files;
    while (i > 0 && strcmp(e->files[i - 1].rel, rel) > 0)
        i--;
    memmove(e->files + i + 1, e->files + i, (e->n_files - i) * sizeof *e->files);
    e->files[i].rel = r;
    e->files[i].size = size;
    e->n_files++;
    e->dir_bytes += size;
    return true;
}

static struct ev_file *files_find(struct evidence *e, const char *rel)
{
    for (size_t i = e->n_files; i > 0; i--) {
        if (strcmp(e->files[i - 1].rel, rel) == 0)
            return &e->files[i - 1];
    }
    return NULL;
}

static void files_bound(struct evidence *e)
{
    if (e->cfg.max_dir_bytes == 0)
        return;
    size_t drop = 0;
    while (e->dir_bytes > e->cfg.max_dir_bytes && e->n_files - drop > 1) {
        struct ev_file *f = &e->files[drop++];
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", e->cfg.dir, f->rel);
        if (unlink(path) == 0 || errno == ENOENT)
            e->st.files_removed++;
        char *slash = strrchr(path, '/');
        if (slash != NULL) {
            *slash = '\0';
            (void)rmdir(path); /* the day's directory, once empty */
        }
        e->dir_bytes -= f->size;
        free(f->rel);
    }
    if (drop == 0)
        return;
    memmove(e->files, e->files + drop, (e->n_files - drop) * sizeof *e->files);
    e->n_files -= drop;
}

static bool is_day_dir(const char *s)
{
    /* YYYY-MM-DD */
    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return false;
    for (int i = 0; i < 10; i++) {
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return false;
    }
    return true;
}

static int dir_scan(struct evidence *e, char errbuf[SW_ERRBUF_SIZE])
{
    if (mkdir_p(e->cfg.dir) != 0) {
        snprintf(errbuf, SW_ERRBUF_SIZE, "--evidence %s: %s", e->cfg.dir, strerror(errno));
        return -1;
    }
    DIR *d = opendir(e->cfg.dir);
    if (d == NULL) {
        snprintf(errbuf, SW_ERRBUF_SIZE, "--evidence %s: %s", e->cfg.dir, strerror(errno));
        return -1;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (!is_day_dir(de->d_name))
            continue;
        char sub[4096];
        snprintf(sub, sizeof sub, "%s/%s", e->cfg.dir, de->d_name);
        DIR *d2 = opendir(sub);
        if (d2 == NULL)
            continue;
        struct dirent *f;
        while ((f = readdir(d2)) != NULL) {
            size_t n = strlen(f->d_name);
            char path[4096 + 264], rel[EV_PATH_MAX];
            snprintf(path, sizeof path, "%s/%s", sub, f->d_name);
            if (f->d_name[0] == '.' && n > 4 && strcmp(f->d_name + n - 4, ".tmp") == 0) {
                (void)unlink(path); /* a write cut short by a crash */
                continue;
            }
            if (f->d_name[0] == '.' || n < 5 || strcmp(f->d_name + n - 5, ".pcap") != 0)
                continue;
            struct stat st;
            if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
                continue;
            if (snprintf(rel, sizeof rel, "%s/%s", de->d_name, f->d_name) >= (int)sizeof rel)
                continue;
            if (!files_add(e, rel, (uint64_t)st.st_size)) {
                closedir(d2);
                closedir(d);
                snprintf(errbuf, SW_ERRBUF_SIZE, "out of memory");
                return -1;
            }
        }
        closedir(d2);
    }
    closedir(d);
    files_bound(e);
    return 0;
}

/* Writes the call's frames to DIR/rel; false on failure (counted). */
static bool write_file(struct evidence *e, struct ev_frame *const *frames, uint32_t n_frames,
                       const char *rel, bool rewrite, bool *all_frames)
{
    char path[4096], tmp[4096];
    snprintf(path, sizeof path, "%s/%s", e->cfg.dir, rel);
    const char *slash = strrchr(rel, '/');
    snprintf(tmp, sizeof tmp, "%s/%.*s/.%s.tmp", e->cfg.dir, (int)(slash - rel), rel, slash + 1);
    char day[4096];
    snprintf(day, sizeof day, "%s/%.*s", e->cfg.dir, (int)(slash - rel), rel);
    char errbuf[SW_ERRBUF_SIZE];
    int linktype = n_frames > 0 ? frames[0]->linktype : 1;
    struct capture_dump *d = NULL;
    if (mkdir_p(day) == 0)
        d = capture_dump_open(tmp, linktype, errbuf);
    if (d == NULL) {
        e->st.write_errors++;
        return false;
    }
    *all_frames = true;
    for (uint32_t i = 0; i < n_frames; i++) {
        const struct ev_frame *f = frames[i];
        if (f->linktype != linktype) {
            /* one link type per pcap file: inputs of several are rare */
            e->st.other_linktype++;
            *all_frames = false;
            continue;
        }
        capture_dump_write(d, f->ts, sw_bytes_make(f->data, f->caplen), f->origlen);
    }
    struct stat st;
    if (capture_dump_close(d) != 0 || stat(tmp, &st) != 0 || rename(tmp, path) != 0) {
        (void)unlink(tmp);
        e->st.write_errors++;
        return false;
    }
    struct ev_file *old = rewrite ? files_find(e, rel) : NULL;
    if (old != NULL) {
        e->dir_bytes = e->dir_bytes - old->size + (uint64_t)st.st_size;
        old->size = (uint64_t)st.st_size;
    } else if (!files_add(e, rel, (uint64_t)st.st_size)) {
        e->st.oom++;
    }
    return true;
}

static void rewrite_call(struct evidence *e, struct ev_call *c)
{
    for (unsigned i = 0; i < c->n_paths; i++) {
        if (files_find(e, c->paths[i]) == NULL)
            continue; /* removed to bound DIR: not brought back */
        bool all;
        if (write_file(e, c->f, c->n, c->paths[i], true, &all))
            e->st.files_rewritten++;
    }
    files_bound(e);
    dirty_unlink(e, c);
}

static bool selected(const struct evidence *e, const struct sw_event *ev)
{
    if (ev->type == SW_EVENT_TRANSFER) {
        unsigned o = (unsigned)ev->u.transfer.outcome;
        return o < SW_OUTCOME__COUNT && (e->cfg.select >> (SW_EVENT__COUNT + o) & 1);
    }
    return ev->type < SW_EVENT_STATS && (e->cfg.select >> ev->type & 1);
}

static int frame_id_cmp(const void *a, const void *b)
{
    uint64_t x = (*(struct ev_frame *const *)a)->id, y = (*(struct ev_frame *const *)b)->id;
    return x < y ? -1 : x > y;
}

/* The frames of the extra Call-IDs (a scan's hits) merged with c's, in
 * capture order without repeats, in a malloc'd array; NULL on OOM. */
static struct ev_frame **merge_extra(struct evidence *e, const struct ev_call *c, uint32_t *n,
                                     bool *incomplete)
{
    const struct ev_call *calls[EV_MAX_EXTRA + 1];
    unsigned k = 0;
    size_t total = 0;
    if (c != NULL)
        calls[k++] = c;
    for (unsigned i = 0; i < e->n_extra; i++) {
        const struct ev_call *x = call_find(e, e->extra[i], strlen(e->extra[i]));
        if (x == NULL) {
            *incomplete = true;
            continue;
        }
        if (x == c)
            continue;
        *incomplete |= x->incomplete;
        calls[k++] = x;
    }
    for (unsigned i = 0; i < k; i++)
        total += calls[i]->n;
    struct ev_frame **v = malloc((total ? total : 1) * sizeof *v);
    if (v == NULL)
        return NULL;
    size_t m = 0;
    for (unsigned i = 0; i < k; i++)
        for (uint32_t j = 0; j < calls[i]->n; j++)
            v[m++] = calls[i]->f[j];
    qsort(v, m, sizeof *v, frame_id_cmp);
    size_t w = 0;
    for (size_t i = 0; i < m; i++)
        if (w == 0 || v[w - 1]->id != v[i]->id)
            v[w++] = v[i];
    *n = (uint32_t)w;
    return v;
}

void evidence_event(struct evidence *e, struct sw_event *ev)
{
    unsigned n_extra = e->n_extra;
    e->n_extra = 0; /* they belong to this event, written or not */
    if (ev->call_id == NULL || e->cfg.dir == NULL || !selected(e, ev))
        return;
    e->st.events_selected++;
    struct ev_call *c = call_find(e, ev->call_id, strnlen(ev->call_id, EV_CALLID_MAX));
    struct ev_frame **frames = c != NULL ? c->f : NULL;
    uint32_t n_frames = c != NULL ? c->n : 0;
    bool extra_incomplete = false;
    struct ev_frame **merged = NULL;
    if (n_extra > 0) {
        e->n_extra = n_extra;
        merged = merge_extra(e, c, &n_frames, &extra_incomplete);
        e->n_extra = 0;
        if (merged == NULL) {
            e->st.oom++;
            extra_incomplete = true;
        } else {
            frames = merged;
        }
    }
    if (n_frames == 0) {
        e->st.no_frames++;
        free(merged);
        return;
    }
    const char *outcome = "";
    char status[16];
    if (ev->type == SW_EVENT_TRANSFER) {
        outcome = sw_outcome_name(ev->u.transfer.outcome);
    } else if (ev->type == SW_EVENT_USER_NOT_FOUND) {
        snprintf(status, sizeof status, "%d", ev->u.not_found.status);
        outcome = status;
    }
    sw_time ts = ev->ts;
    struct tm tm;
    long usec;
    (void)sw_time_split(ts, &tm, &usec);
    /* names are reproducible: the hash is not seeded per run */
    XXH64_hash_t h = XXH3_64bits_withSeed(ev->call_id, strlen(ev->call_id),
                                          (uint64_t)ts ^ ((uint64_t)ev->type << 56) ^
                                              (ev->type == SW_EVENT_TRANSFER
                                                   ? ev->u.transfer.refer_cseq
                                                   : 0));
    char rel[EV_PATH_MAX];
    snprintf(rel, sizeof rel, "%04d-%02d-%02d/%02d%02d%02d.%06ld-%s%s%s-%08x.pcap",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, usec,
             sw_event_type_name(ev->type), outcome[0] ? "-" : "", outcome, (unsigned)(h >> 32));
    bool all = true;
    bool ok = write_file(e, frames, n_frames, rel, false, &all);
    free(merged);
    if (!ok)
        return;
    e->st.files_written++;
    if (c != NULL && n_extra == 0 && c->n_paths < EV_MAX_PATHS) {
        /* kept up to date as the Call-ID goes on (not a scan's merged file) */
        char *p = strdup(rel);
        if (p != NULL)
            c->paths[c->n_paths++] = p;
    }
    files_bound(e);
    memcpy(e->path_out, rel, sizeof rel);
    ev->evidence.path = e->path_out;
    ev->evidence.complete = all && !extra_incomplete && (c == NULL || !c->incomplete);
    if (!ev->evidence.complete)
        e->st.incomplete++;
}

void evidence_advance(struct evidence *e, sw_time now)
{
    if (e->now == SW_TIME_NONE || now > e->now)
        e->now = now;
    if (e->last_tick != SW_TIME_NONE && now - e->last_tick < SW_USEC_PER_SEC)
        return;
    e->last_tick = now;
    struct ev_call *c = e->dirty;
    while (c != NULL) {
        struct ev_call *next = c->dnext;
        if (now - c->last >= SW_USEC_PER_SEC)
            rewrite_call(e, c);
        c = next;
    }
}

void evidence_finish(struct evidence *e)
{
    while (e->dirty != NULL)
        rewrite_call(e, e->dirty);
    drop_all(e);
}

void evidence_counters(const struct evidence *e, struct sw_counters *out)
{
    sw_counters_add(out, "evidence_calls_active", e->n_calls);
    sw_counters_add(out, "evidence_frames_held", e->frames_held);
    sw_counters_add(out, "evidence_bytes_held", e->bytes);
    sw_counters_add(out, "evidence_bytes_peak", e->bytes_peak);
    sw_counters_add(out, "evidence_calls_evicted", e->st.calls_evicted);
    sw_counters_add(out, "evidence_pool_evicted", e->st.pool_evicted);
    sw_counters_add(out, "evidence_frames_missing", e->st.frames_missing);
    sw_counters_add(out, "evidence_files_written", e->st.files_written);
    sw_counters_add(out, "evidence_files_rewritten", e->st.files_rewritten);
    sw_counters_add(out, "evidence_files_removed", e->st.files_removed);
    sw_counters_add(out, "evidence_write_errors", e->st.write_errors);
    sw_counters_add(out, "evidence_incomplete", e->st.incomplete);
    sw_counters_add(out, "evidence_no_frames", e->st.no_frames);
    sw_counters_add(out, "evidence_other_linktype", e->st.other_linktype);
    sw_counters_add(out, "evidence_oom", e->st.oom);
}
