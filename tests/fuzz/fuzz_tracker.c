/*
 * fuzz_tracker.c - libFuzzer target for the tracker. The input is a script:
 * a config byte, then 8-byte operations, each building one `struct sip_msg`
 * from small vocabularies (a few Call-IDs, CSeqs, tags, statuses, sipfrags,
 * subscription states, hosts) so that messages collide and correlate, or
 * moving the clock. Tiny caps make every eviction path run.
 *
 * Checked on every event and at the end: event times never go backwards;
 * each outcome agrees with its fields (completed => 2xx sipfrag, rejected =>
 * refer_status >= 300, no_notify => no NOTIFY, wait set iff accepted); scans
 * respect their threshold and sample sizes; after tracker_finish nothing is
 * pending and every transfer was reported exactly once.
 *
 * sipmsg_uri_user_host() is supplied here (a link seam, as in
 * test_tracker.c) so that distinct users, and hence the scan code, are
 * exercised whatever sipmsg.c provides; it handles the "sip:U@H" URIs built
 * below.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "sipwatch/tracker.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

void sipmsg_uri_user_host(const char *uri, char *user, size_t user_cap, char *host, size_t host_cap)
{
    const char *p = strncmp(uri, "sip:", 4) == 0 ? uri + 4 : uri;
    const char *at = strchr(p, '@');
    snprintf(user, user_cap, "%.*s", at != NULL ? (int)(at - p) : 0, p);
    snprintf(host, host_cap, "%s", at != NULL ? at + 1 : p);
}

struct fz {
    sw_time last_ts;
    uint64_t transfers;
    unsigned threshold;
};

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x)) {                                                                                \
            fprintf(stderr, "fuzz_tracker: check failed: %s (line %d)\n", #x, __LINE__);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* The key hashes sipmsg.c gives a parsed message (any function of the whole
 * value does for these hand-built messages). */
static uint64_t key_hash1(const char *s)
{
    return s[0] != '\0' ? XXH3_64bits(s, strlen(s)) : 0;
}

static void key_hashes(struct sip_msg *m)
{
    m->call_id_hash = key_hash1(m->call_id);
    m->branch_hash = key_hash1(m->branch);
    m->from_tag_hash = key_hash1(m->from_tag);
    m->to_tag_hash = key_hash1(m->to_tag);
}

static void on_event(void *ctx, const struct sw_event *ev)
{
    struct fz *f = ctx;
    /* in time order, but for a not-found held for its ACK (and the scan it
     * completes), at most 4.5 s late (tracker_notfound.c) */
    if (ev->type == SW_EVENT_USER_NOT_FOUND || ev->type == SW_EVENT_SCAN)
        CHECK(ev->ts + SW_SEC(5) >= f->last_ts);
    else
        CHECK(ev->ts >= f->last_ts);
    if (ev->ts > f->last_ts)
        f->last_ts = ev->ts;
    CHECK(ev->call_id != NULL && ev->has_tuple);
    if (ev->type == SW_EVENT_TRANSFER) {
        const struct sw_event_transfer *x = &ev->u.transfer;
        f->transfers++;
        CHECK((unsigned)x->outcome < SW_OUTCOME__COUNT);
        CHECK((x->wait == SW_TIME_NONE) == (x->accepted_time == SW_TIME_NONE));
        CHECK(x->wait == SW_TIME_NONE || x->wait >= 0);
        CHECK(x->refer_time == SW_TIME_NONE || x->refer_time <= ev->ts);
        switch (x->outcome) {
        case SW_OUTCOME_COMPLETED:
            CHECK(x->final_status >= 200 && x->final_status < 300 && x->notify_count > 0);
            break;
        case SW_OUTCOME_FAILED:
            CHECK(x->final_status >= 300 && x->notify_count > 0);
            break;
        case SW_OUTCOME_REJECTED:
            CHECK(x->refer_status >= 300 && x->accepted_time == SW_TIME_NONE);
            break;
        case SW_OUTCOME_NO_NOTIFY:
            CHECK(x->notify_count == 0 && x->accepted_time != SW_TIME_NONE);
            break;
        case SW_OUTCOME_NOTIFY_INCOMPLETE:
            CHECK(x->notify_count > 0 && x->final_status < 200);
            break;
        case SW_OUTCOME_NO_RESPONSE:
            CHECK(x->accepted_time == SW_TIME_NONE && x->refer_time != SW_TIME_NONE);
            break;
        default:
            break;
        }
    } else if (ev->type == SW_EVENT_USER_NOT_FOUND) {
        CHECK(ev->u.not_found.status == 404 || ev->u.not_found.status == 604);
        CHECK(ev->u.not_found.method != NULL);
    } else if (ev->type == SW_EVENT_SCAN) {
        const struct sw_event_scan *s = &ev->u.scan;
        CHECK(s->distinct_users >= f->threshold && s->count >= s->distinct_users);
        CHECK(s->n_users <= SW_SCAN_MAX_SAMPLE && s->n_users <= s->distinct_users);
        CHECK(s->n_methods <= SW_SCAN_MAX_LIST && s->n_user_agents <= SW_SCAN_MAX_LIST);
        CHECK(s->first_time <= s->last_time && s->last_time == ev->ts);
    } else {
        CHECK(0);
    }
}

static const char *const call_ids[] = {"a", "b", "c", "d", "e@host", "f", "g", "h"};
static const char *const tags[] = {"", "ta", "tb", "tc"};
static const int statuses[] = {100, 180, 200, 202, 401, 404, 407, 486,
                               603, 604, 480, 500, 183, 202, 404, 200};
static const char *const methods[] = {"INVITE", "OPTIONS",   "REGISTER", "ACK",
                                      "CANCEL", "SUBSCRIBE", "REFER",    "NOTIFY"};
static const char *const substates[] = {"", "active", "pending", "terminated"};

static void put(char *dst, size_t cap, const char *s)
{
    snprintf(dst, cap, "%s", s);
}

static uint64_t counter(struct tracker *t, const char *name)
{
    struct sw_counters c;
    c.n = 0;
    c.group = NULL;
    tracker_counters(t, &c);
    for (size_t i = 0; i < c.n; i++)
        if (strcmp(c.v[i].name, name) == 0)
            return c.v[i].value;
    CHECK(0);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct tracker_config cfg;
    tracker_config_default(&cfg);
    uint8_t c0 = data[0];
    cfg.max_transfers = 1 + (c0 & 3);
    cfg.max_transactions = 1 + ((c0 >> 2) & 7);
    cfg.max_scan_sources = 1 + ((c0 >> 5) & 1);
    cfg.max_scan_users = 2 + ((c0 >> 6) & 3);
    cfg.max_summary_keys = 3;
    cfg.scan_threshold = 2 + ((c0 >> 6) & 1);
    cfg.scan_window = SW_SEC(5);
    cfg.notify_timeout = SW_SEC(4);
    cfg.final_timeout = SW_SEC(9);
    cfg.transaction_timeout = SW_SEC(4);
    cfg.linger = SW_SEC(3);
    struct fz f = {SW_TIME_NONE + 1, 0, cfg.scan_threshold};
    f.last_ts = INT64_MIN;
    struct tracker *t = tracker_new(&cfg, on_event, &f);
    if (t == NULL)
        return 0;
    static struct sip_msg m;
    sw_time now = SW_SEC(1000);
    for (size_t i = 1; i + 8 <= size; i += 8) {
        const uint8_t *b = data + i;
        now += (sw_time)b[5] * 50000; /* 0 .. 12.75 s */
        tracker_advance(t, now);
        unsigned op = b[0] & 7;
        if (op == 5)
            continue; /* a clock move only */
        memset(&m, 0, sizeof m);
        put(m.call_id, sizeof m.call_id, call_ids[b[1] & 7]);
        m.cseq = (b[1] >> 3) & 7;
        put(m.from_tag, sizeof m.from_tag, tags[b[3] & 3]);
        put(m.to_tag, sizeof m.to_tag, tags[(b[3] >> 2) & 3]);
        put(m.branch, sizeof m.branch, (b[0] & 8) ? "z9hG4bK-1" : "z9hG4bK-2");
        snprintf(m.request_uri, sizeof m.request_uri, "sip:%u@example.com", b[7] & 15);
        put(m.to_uri, sizeof m.to_uri, m.request_uri);
        put(m.from, sizeof m.from, "<sip:a@example.com>");
        put(m.to, sizeof m.to, "<sip:b@example.com>");
        if (b[7] & 16)
            put(m.user_agent, sizeof m.user_agent, (b[7] & 32) ? "scanner" : "phone");
        m.sub_expires = -1;
        struct sw_tuple tu;
        memset(&tu, 0, sizeof tu);
        tu.src.family = 4;
        tu.src.a[3] = (uint8_t)(1 + (b[6] & 3));
        tu.dst.family = 4;
        tu.dst.a[3] = (uint8_t)(1 + ((b[6] >> 2) & 3));
        tu.sport = tu.dport = 5060;
        tu.transport = SW_TRANSPORT_UDP;
        m.refer_sub = (enum sipmsg_refer_sub)((b[6] >> 4) % 3);
        switch (op) {
        case 0: /* REFER */
            m.is_request = true;
            put(m.method, sizeof m.method, "REFER");
            put(m.refer_to, sizeof m.refer_to, "sip:c@example.com");
            m.refer_replaces = (b[2] & 1) != 0;
            break;
        case 1: /* NOTIFY */
        case 6:
            m.is_request = true;
            put(m.method, sizeof m.method, "NOTIFY");
            put(m.event, sizeof m.event, op == 1 ? "refer" : "presence");
            m.has_event_id = (b[3] & 16) != 0;
            m.event_id = (b[3] >> 5) & 7;
            m.sipfrag_status = (b[2] & 0x80) ? 0 : statuses[b[2] & 15];
            put(m.sipfrag_reason, sizeof m.sipfrag_reason, "frag");
            m.substate = (enum sipmsg_substate)(b[4] & 3);
            put(m.subscription_state, sizeof m.subscription_state, substates[b[4] & 3]);
            m.sub_expires = (b[4] & 4) ? (int64_t)(b[4] >> 3) : -1;
            if (b[4] == 0xff)
                m.sub_expires = INT64_MAX; /* hostile expires */
            break;
        case 2: /* response to REFER */
        case 4: /* response to something else */
            m.status = statuses[b[2] & 15];
            put(m.reason, sizeof m.reason, "r");
            put(m.cseq_method, sizeof m.cseq_method, op == 2 ? "REFER" : methods[b[4] & 7]);
            if (b[4] & 8)
                put(m.server, sizeof m.server, "srv");
            break;
        default: /* 3, 7: other requests */
            m.is_request = true;
            put(m.method, sizeof m.method, methods[b[4] & 7]);
            break;
        }
        if (m.is_request)
            put(m.cseq_method, sizeof m.cseq_method, m.method);
        key_hashes(&m);
        tracker_on_msg(t, &m, &tu, now);
    }
    tracker_finish(t, now + 1);
    CHECK(counter(t, "transfers_active") == 0);
    CHECK(counter(t, "transactions_active") == 0);
    if (counter(t, "tracker_oom") == 0)
        CHECK(counter(t, "transfers_seen") == f.transfers);
    struct sw_not_found_summary nf;
    struct sw_transfer_summary xs;
    tracker_summary(t, &nf, &xs);
    uint64_t total = 0;
    for (unsigned o = 0; o < SW_OUTCOME__COUNT; o++)
        total += xs.by_outcome[o];
    CHECK(total == f.transfers);
    CHECK(nf.n_top_users <= cfg.max_summary_keys && nf.n_top_sources <= cfg.max_summary_keys);
    for (size_t i = 1; i < nf.n_top_users; i++)
        CHECK(nf.top_users[i - 1].count > nf.top_users[i].count ||
              (nf.top_users[i - 1].count == nf.top_users[i].count &&
               strcmp(nf.top_users[i - 1].key, nf.top_users[i].key) < 0));
    tracker_free(t);
    return 0;
}
