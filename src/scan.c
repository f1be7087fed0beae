/*
 * scan.c - extension-enumeration detection: per source IP (the sender of
 * the requests answered 404 / 604), a sliding window of its not-found hits;
 * `scan_threshold` distinct users inside `scan_window` give one `scan`
 * event, then at most one per window while it goes on (docs/not-found.md).
 *
 * Owns: per-source state (hash on the address, LRU list capped at
 * max_scan_sources), each with a ring of its hits in the window (at most
 * max_scan_users; an older hit pushed out early is counted), the distinct
 * users those hits name (reference-counted), and up to SW_SCAN_MAX_LIST
 * methods and user agents (reference-counted slots). All of it is charged to
 * max_scan_bytes: over it, the least recently hit sources are evicted.
 * Does not: look at successful requests (a scanner's 200s or 401s are not
 * "nonexistent users"), or decide per user agent (scanners forge it).
 */
#include <stdlib.h>
#include <string.h>

#include "tracker_int.h"

#define SCAN_SLOT_NONE 0xff

struct scan_user {
    UT_hash_handle hh;
    uint32_t refs; /* hits in the ring naming it */
    uint64_t mark; /* epoch of the last sample walk */
    char key[];
};

struct scan_hit {
    sw_time ts;
    struct scan_user *user;
    uint8_t method, ua; /* slot index or SCAN_SLOT_NONE */
};

struct scan_src {
    UT_hash_handle hh;
    struct sw_addr addr;
    struct scan_src *prev, *next; /* LRU: least recently hit first */
    struct scan_hit *ring;
    size_t cap, head, n;
    struct scan_user *users;
    size_t n_users;
    char methods[SW_SCAN_MAX_LIST][SIPMSG_MAX_TOKEN];
    uint32_t method_refs[SW_SCAN_MAX_LIST];
    char *uas[SW_SCAN_MAX_LIST];
    uint32_t ua_refs[SW_SCAN_MAX_LIST];
    sw_time last_scan;
    size_t bytes; /* ring, user keys and user agents held (not the struct) */
};

static void hit_drop_oldest(struct scan_src *s)
{
    struct scan_hit *h = &s->ring[s->head];
    s->head = (s->head + 1) % s->cap;
    s->n--;
    if (h->method != SCAN_SLOT_NONE)
        s->method_refs[h->method]--;
    if (h->ua != SCAN_SLOT_NONE && --s->ua_refs[h->ua] == 0) {
        s->bytes -= strlen(s->uas[h->ua]) + 1;
        free(s->uas[h->ua]);
        s->uas[h->ua] = NULL;
    }
    if (--h->user->refs == 0) {
        s->bytes -= sizeof *h->user + strlen(h->user->key) + 1;
        HASH_DELETE(hh, s->users, h->user);
        free(h->user);
        s->n_users--;
    }
}

static void src_free(struct scan_src *s)
{
    while (s->n > 0)
        hit_drop_oldest(s);
    free(s->ring);
    free(s);
}

static void src_unlink(struct tracker *t, struct scan_src *s)
{
    if (s->prev != NULL)
        s->prev->next = s->next;
    else
        t->scan_first = s->next;
    if (s->next != NULL)
        s->next->prev = s->prev;
    else
        t->scan_last = s->prev;
    s->prev = s->next = NULL;
}

static void src_append(struct tracker *t, struct scan_src *s)
{
    s->prev = t->scan_last;
    if (t->scan_last != NULL)
        t->scan_last->next = s;
    else
        t->scan_first = s;
    t->scan_last = s;
}

static void src_evict(struct tracker *t, struct scan_src *old)
{
    src_unlink(t, old);
    HASH_DELETE(hh, t->scan_srcs, old);
    t->scan_bytes -= old->bytes;
    sw_budget_release(t->cfg.budget, old->bytes);
    src_free(old);
    t->n_scan_srcs--;
    t->st.scan_sources_evicted++;
}

static struct scan_src *src_get(struct tracker *t, const struct sw_addr *a)
{
    struct sw_addr key;
    memset(&key, 0, sizeof key); /* padding-free key: family + 16 bytes */
    key.family = a->family;
    memcpy(key.a, a->a, sizeof key.a);
    struct scan_src *s = NULL;
    HASH_FIND(hh, t->scan_srcs, &key, sizeof key, s);
    if (s != NULL) {
        src_unlink(t, s);
        src_append(t, s);
        return s;
    }
    if (t->n_scan_srcs >= t->cfg.max_scan_sources)
        src_evict(t, t->scan_first);
    s = calloc(1, sizeof *s);
    if (s == NULL) {
        t->st.oom++;
        return NULL;
    }
    s->addr = key;
    s->last_scan = SW_TIME_NONE;
    HASH_ADD(hh, t->scan_srcs, addr, sizeof s->addr, s);
    if (s->hh.tbl == NULL) {
        t->st.oom++;
        free(s);
        return NULL;
    }
    src_append(t, s);
    t->n_scan_srcs++;
    return s;
}

/* Makes room for one more hit: grow the ring up to the cap, else forget
 * the oldest hit early (counted). */
static bool ring_room(struct tracker *t, struct scan_src *s)
{
    if (s->n < s->cap)
        return true;
    if (s->cap < t->cfg.max_scan_users) {
        size_t cap = s->cap ? SW_MIN(s->cap * 2, t->cfg.max_scan_users) : 16;
        cap = SW_MIN(cap, t->cfg.max_scan_users);
        struct scan_hit *r = malloc(cap * sizeof *r);
        if (r != NULL) {
            for (size_t i = 0; i < s->n; i++)
                r[i] = s->ring[(s->head + i) % s->cap];
            s->bytes += (cap - s->cap) * sizeof *r;
            free(s->ring);
            s->ring = r;
            s->cap = cap;
            s->head = 0;
            return true;
        }
        t->st.oom++;
        if (s->cap == 0)
            return false;
    }
    hit_drop_oldest(s);
    t->st.scan_hits_dropped++;
    return true;
}

static uint8_t method_slot(struct scan_src *s, const char *method)
{
    if (method == NULL)
        return SCAN_SLOT_NONE;
    size_t n = tracker_len(method, SIPMSG_MAX_TOKEN);
    uint8_t free_slot = SCAN_SLOT_NONE;
    for (uint8_t i = 0; i < SW_SCAN_MAX_LIST; i++) {
        if (s->method_refs[i] > 0) {
            if (tracker_len(s->methods[i], SIPMSG_MAX_TOKEN) == n &&
                memcmp(s->methods[i], method, n) == 0) {
                s->method_refs[i]++;
                return i;
            }
        } else if (free_slot == SCAN_SLOT_NONE) {
            free_slot = i;
        }
    }
    if (free_slot != SCAN_SLOT_NONE) {
        size_t c = SW_MIN(n, (size_t)SIPMSG_MAX_TOKEN - 1);
        memcpy(s->methods[free_slot], method, c);
        s->methods[free_slot][c] = '\0';
        s->method_refs[free_slot] = 1;
    }
    return free_slot;
}

static uint8_t ua_slot(struct tracker *t, struct scan_src *s, const char *ua)
{
    if (ua == NULL || ua[0] == '\0')
        return SCAN_SLOT_NONE;
    uint8_t free_slot = SCAN_SLOT_NONE;
    for (uint8_t i = 0; i < SW_SCAN_MAX_LIST; i++) {
        if (s->ua_refs[i] > 0) {
            if (strcmp(s->uas[i], ua) == 0) {
                s->ua_refs[i]++;
                return i;
            }
        } else if (free_slot == SCAN_SLOT_NONE) {
            free_slot = i;
        }
    }
    if (free_slot != SCAN_SLOT_NONE) {
        s->uas[free_slot] = tracker_strdup(t, ua, SIPMSG_MAX_FIELD);
        if (s->uas[free_slot] == NULL)
            return SCAN_SLOT_NONE;
        s->ua_refs[free_slot] = 1;
        s->bytes += strlen(s->uas[free_slot]) + 1;
    }
    return free_slot;
}

static void scan_emit(struct tracker *t, struct scan_src *s, const struct sw_event *hit)
{
    struct sw_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = SW_EVENT_SCAN;
    ev.ts = hit->ts;
    ev.call_id = hit->call_id;
    ev.has_tuple = true;
    ev.tuple = hit->tuple;
    struct sw_event_scan *e = &ev.u.scan;
    char ip[SW_ADDRSTRLEN];
    e->src_ip = sw_addr_str(&s->addr, ip);
    e->count = s->n;
    e->distinct_users = s->n_users;
    e->window = t->cfg.scan_window;
    e->first_time = s->ring[s->head].ts;
    e->last_time = s->ring[(s->head + s->n - 1) % s->cap].ts;
    /* Samples in order of first appearance in the window. */
    uint64_t epoch = ++t->scan_epoch;
    bool m_seen[SW_SCAN_MAX_LIST] = {false}, u_seen[SW_SCAN_MAX_LIST] = {false};
    for (size_t i = 0; i < s->n; i++) {
        const struct scan_hit *h = &s->ring[(s->head + i) % s->cap];
        if (h->user->mark != epoch && e->n_users < SW_SCAN_MAX_SAMPLE) {
            h->user->mark = epoch;
            e->users[e->n_users++] = h->user->key;
        }
        if (h->method != SCAN_SLOT_NONE && !m_seen[h->method]) {
            m_seen[h->method] = true;
            e->methods[e->n_methods++] = s->methods[h->method];
        }
        if (h->ua != SCAN_SLOT_NONE && !u_seen[h->ua]) {
            u_seen[h->ua] = true;
            e->user_agents[e->n_user_agents++] = s->uas[h->ua];
        }
    }
    t->st.scan_events++;
    t->emit(t->ctx, &ev);
}

static void scan_hit_in(struct tracker *t, struct scan_src *s, const struct sw_event *ev,
                        const char *user_key);

void tracker_scan_hit(struct tracker *t, const struct sw_event *ev, const char *user_key)
{
    struct scan_src *s = src_get(t, &ev->tuple.src);
    if (s == NULL)
        return;
    t->scan_bytes -= s->bytes; /* re-added below, whatever scan_hit_in() did */
    sw_budget_release(t->cfg.budget, s->bytes);
    scan_hit_in(t, s, ev, user_key);
    t->scan_bytes += s->bytes;
    sw_budget_charge(t->cfg.budget, s->bytes);
    if (t->scan_bytes > t->scan_bytes_peak)
        t->scan_bytes_peak = t->scan_bytes;
    /* The byte budget: the least recently hit sources go first (never this one). */
    while (t->scan_bytes > t->cfg.max_scan_bytes && t->scan_first != NULL && t->scan_first != s)
        src_evict(t, t->scan_first);
    /* and the shared memory budget (budget.h) the same way */
    while (sw_budget_over(t->cfg.budget) && t->scan_first != NULL && t->scan_first != s) {
        src_evict(t, t->scan_first);
        sw_budget_evicted(t->cfg.budget);
    }
}

static void scan_hit_in(struct tracker *t, struct scan_src *s, const struct sw_event *ev,
                        const char *user_key)
{
    const struct sw_event_not_found *nf = &ev->u.not_found;
    sw_time ts = ev->ts;
    /* The window is (ts - scan_window, ts]. */
    while (s->n > 0 && s->ring[s->head].ts <= ts - t->cfg.scan_window)
        hit_drop_oldest(s);
    if (!ring_room(t, s))
        return;
    size_t klen = strlen(user_key);
    struct scan_user *u = NULL;
    HASH_FIND(hh, s->users, user_key, klen, u);
    if (u == NULL) {
        u = calloc(1, sizeof *u + klen + 1);
        if (u == NULL) {
            t->st.oom++;
            return;
        }
        memcpy(u->key, user_key, klen + 1);
        HASH_ADD_KEYPTR(hh, s->users, u->key, klen, u);
        if (u->hh.tbl == NULL) {
            t->st.oom++;
            free(u);
            return;
        }
        s->n_users++;
        s->bytes += sizeof *u + klen + 1;
    }
    u->refs++;
    struct scan_hit *h = &s->ring[(s->head + s->n) % s->cap];
    h->ts = ts;
    h->user = u;
    h->method = method_slot(s, nf->method);
    h->ua = ua_slot(t, s, nf->user_agent);
    s->n++;
    if (s->n_users >= t->cfg.scan_threshold &&
        (s->last_scan == SW_TIME_NONE || ts - s->last_scan >= t->cfg.scan_window)) {
        s->last_scan = ts;
        scan_emit(t, s, ev);
    }
}

void tracker_scan_free(struct tracker *t)
{
    while (t->scan_first != NULL) {
        struct scan_src *s = t->scan_first;
        src_unlink(t, s);
        HASH_DELETE(hh, t->scan_srcs, s);
        sw_budget_release(t->cfg.budget, s->bytes);
        src_free(s);
    }
    t->n_scan_srcs = 0;
    t->scan_bytes = 0;
}
