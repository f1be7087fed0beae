/*
 * test_tracker.c - unit tests of the tracker: hand-built `struct sip_msg`
 * values (no parsing) driven through tracker_on_msg / advance / finish; the
 * events are recorded (strings copied) and checked field by field, with
 * exact timestamps.
 *
 * sipmsg_uri_user_host() is supplied here (a link seam: this object comes
 * before libsipwatch.a, so the archive's sipmsg.o is not pulled in) so that
 * these tests depend on the tracker alone; it follows the contract in
 * sipmsg.h for the plain URIs used below.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "sipwatch/tracker.h"

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

/* ---- link seam: URI user/host split (sipmsg.h contract) ---- */

void sipmsg_uri_user_host(const char *uri, char *user, size_t user_cap, char *host, size_t host_cap)
{
    user[0] = '\0';
    host[0] = '\0';
    const char *p = uri;
    if (strncmp(p, "sips:", 5) == 0)
        p += 5;
    else if (strncmp(p, "sip:", 4) == 0)
        p += 4;
    else if (strncmp(p, "tel:", 4) == 0)
        p += 4;
    else
        return;
    const char *at = strchr(p, '@');
    const char *h = p;
    if (at != NULL) {
        size_t n = strcspn(p, ";@");
        snprintf(user, user_cap, "%.*s", (int)n, p);
        h = at + 1;
    }
    snprintf(host, host_cap, "%.*s", (int)strcspn(h, ":;>?"), h);
}

/* ---- recording ---- */

#define MAX_RECS 1024
#define MAX_STRS 64

struct rec {
    struct sw_event ev;
    char *strs[MAX_STRS];
    size_t n_strs;
};

static struct rec recs[MAX_RECS];
static size_t n_recs;
static size_t n_total;
static struct tracker *T;

static const char *keep(struct rec *r, const char *s)
{
    if (s == NULL)
        return NULL;
    assert_true(r->n_strs < MAX_STRS);
    char *d = strdup(s);
    assert_non_null(d);
    r->strs[r->n_strs++] = d;
    return d;
}

static void on_event(void *ctx, const struct sw_event *ev)
{
    (void)ctx;
    n_total++;
    if (n_recs == MAX_RECS)
        return;
    struct rec *r = &recs[n_recs++];
    r->ev = *ev;
    r->ev.call_id = keep(r, ev->call_id);
    switch (ev->type) {
    case SW_EVENT_TRANSFER: {
        struct sw_event_transfer *x = &r->ev.u.transfer;
        x->refer_to = keep(r, x->refer_to);
        x->referred_by = keep(r, x->referred_by);
        x->refer_reason = keep(r, x->refer_reason);
        x->final_reason = keep(r, x->final_reason);
        x->subscription_state = keep(r, x->subscription_state);
        x->parties.from = keep(r, x->parties.from);
        x->parties.to = keep(r, x->parties.to);
        x->parties.transferor_ua = keep(r, x->parties.transferor_ua);
        x->parties.transferee_ua = keep(r, x->parties.transferee_ua);
        x->notify.last_refusal_reason = keep(r, x->notify.last_refusal_reason);
        break;
    }
    case SW_EVENT_USER_NOT_FOUND: {
        struct sw_event_not_found *x = &r->ev.u.not_found;
        x->method = keep(r, x->method);
        x->request_uri = keep(r, x->request_uri);
        x->user = keep(r, x->user);
        x->domain = keep(r, x->domain);
        x->from = keep(r, x->from);
        x->to = keep(r, x->to);
        x->user_agent = keep(r, x->user_agent);
        x->server = keep(r, x->server);
        x->reason = keep(r, x->reason);
        x->warning = keep(r, x->warning);
        break;
    }
    case SW_EVENT_SCAN: {
        struct sw_event_scan *x = &r->ev.u.scan;
        x->src_ip = keep(r, x->src_ip);
        for (size_t i = 0; i < x->n_users; i++)
            x->users[i] = keep(r, x->users[i]);
        for (size_t i = 0; i < x->n_methods; i++)
            x->methods[i] = keep(r, x->methods[i]);
        for (size_t i = 0; i < x->n_user_agents; i++)
            x->user_agents[i] = keep(r, x->user_agents[i]);
        break;
    }
    default:
        fail_msg("unexpected event type %d", (int)ev->type);
    }
}

static void recs_clear(void)
{
    for (size_t i = 0; i < n_recs; i++) {
        for (size_t j = 0; j < recs[i].n_strs; j++)
            free(recs[i].strs[j]);
        recs[i].n_strs = 0;
    }
    n_recs = 0;
    n_total = 0;
}

static int teardown(void **state)
{
    (void)state;
    tracker_free(T);
    T = NULL;
    recs_clear();
    return 0;
}

/* send_notify answers each NOTIFY 200 OK at once, as a transferor that
 * heard it does; tests of the answers turn this off. */
static bool auto_answer = true;

static void mk_cfg(const struct tracker_config *cfg)
{
    recs_clear();
    auto_answer = true;
    T = tracker_new(cfg, on_event, NULL);
    assert_non_null(T);
}

static void mk(void)
{
    struct tracker_config cfg;
    tracker_config_default(&cfg);
    mk_cfg(&cfg);
}

static uint64_t ctr(const char *name)
{
    struct sw_counters c;
    c.n = 0;
    c.group = NULL;
    tracker_counters(T, &c);
    for (size_t i = 0; i < c.n; i++)
        if (strcmp(c.v[i].name, name) == 0)
            return c.v[i].value;
    fail_msg("no counter %s", name);
    return 0;
}

static const struct sw_event_transfer *xf(size_t i)
{
    assert_true(i < n_recs);
    assert_int_equal(recs[i].ev.type, SW_EVENT_TRANSFER);
    return &recs[i].ev.u.transfer;
}

static const struct sw_event_not_found *nfe(size_t i)
{
    assert_true(i < n_recs);
    assert_int_equal(recs[i].ev.type, SW_EVENT_USER_NOT_FOUND);
    return &recs[i].ev.u.not_found;
}

static const struct sw_event_scan *sce(size_t i)
{
    assert_true(i < n_recs);
    assert_int_equal(recs[i].ev.type, SW_EVENT_SCAN);
    return &recs[i].ev.u.scan;
}

/* ---- time, addresses, messages ---- */

#define T0 SW_SEC(1700000000)
#define MS(x) (T0 + (sw_time)(x)*1000) /* milliseconds after T0 */
#define SEC(x) MS((x)*1000)
#define DUR_MS(x) ((sw_time)(x)*1000) /* a duration */

/* Hosts: 1 = transferor / UAC, 2 = transferee / UAS, 3 = proxy. */
static struct sw_tuple tup(int a, int b)
{
    struct sw_tuple t;
    memset(&t, 0, sizeof t);
    t.src.family = 4;
    t.src.a[0] = 10;
    t.src.a[3] = (uint8_t)a;
    t.dst.family = 4;
    t.dst.a[0] = 10;
    t.dst.a[3] = (uint8_t)b;
    t.sport = 5060;
    t.dport = 5060;
    t.transport = SW_TRANSPORT_UDP;
    return t;
}

static void assert_tuple(const struct sw_event *ev, int a, int b)
{
    struct sw_tuple want = tup(a, b);
    assert_true(ev->has_tuple);
    assert_memory_equal(&ev->tuple, &want, sizeof want);
}

static struct sip_msg M;

#define SET(field, value) snprintf(M.field, sizeof M.field, "%s", (value))

static struct sip_msg *req(const char *method, const char *cid, uint32_t cseq)
{
    memset(&M, 0, sizeof M);
    M.is_request = true;
    SET(method, method);
    SET(cseq_method, method);
    SET(call_id, cid);
    M.cseq = cseq;
    snprintf(M.branch, sizeof M.branch, "z9hG4bK-%s-%u", method, cseq);
    SET(request_uri, "sip:bob@example.com");
    SET(from, "<sip:alice@example.com>;tag=ta");
    SET(from_uri, "sip:alice@example.com");
    SET(from_tag, "ta");
    SET(to, "<sip:bob@example.com>;tag=tb");
    SET(to_uri, "sip:bob@example.com");
    SET(to_tag, "tb");
    M.sub_expires = -1;
    return &M;
}

static struct sip_msg *resp(int status, const char *reason, const char *cid, uint32_t cseq,
                            const char *method)
{
    memset(&M, 0, sizeof M);
    M.status = status;
    SET(reason, reason);
    SET(cseq_method, method);
    SET(call_id, cid);
    M.cseq = cseq;
    snprintf(M.branch, sizeof M.branch, "z9hG4bK-%s-%u", method, cseq);
    SET(from, "<sip:alice@example.com>;tag=ta");
    SET(from_uri, "sip:alice@example.com");
    SET(from_tag, "ta");
    SET(to, "<sip:bob@example.com>;tag=tb");
    SET(to_uri, "sip:bob@example.com");
    SET(to_tag, "tb");
    M.sub_expires = -1;
    return &M;
}

static void feed(const struct sip_msg *m, struct sw_tuple tu, sw_time ts)
{
    static struct sip_msg h;
    h = *m;
    key_hashes(&h);
    tracker_advance(T, ts);
    tracker_on_msg(T, &h, &tu, ts);
}

/* REFER 1 -> 2 (in dialog: From tag ta, To tag tb). */
static struct sip_msg *refer(const char *cid, uint32_t cseq)
{
    req("REFER", cid, cseq);
    SET(refer_to, "sip:carol@example.com");
    SET(referred_by, "<sip:alice@example.com>");
    return &M;
}

static void send_refer(const char *cid, uint32_t cseq, sw_time ts)
{
    feed(refer(cid, cseq), tup(1, 2), ts);
}

static void send_resp(int status, const char *reason, const char *cid, uint32_t cseq, sw_time ts)
{
    feed(resp(status, reason, cid, cseq, "REFER"), tup(2, 1), ts);
}

/* NOTIFY 2 -> 1 (From tag tb, To tag ta); id < 0: no ;id. */
static struct sip_msg *notify(const char *cid, uint32_t cseq, long id, int frag,
                              const char *frag_reason, const char *substate)
{
    req("NOTIFY", cid, cseq);
    SET(from_tag, "tb");
    SET(to_tag, "ta");
    SET(event, "refer");
    if (id >= 0) {
        M.has_event_id = true;
        M.event_id = (uint32_t)id;
    }
    M.sipfrag_status = frag;
    if (frag_reason != NULL)
        SET(sipfrag_reason, frag_reason);
    if (substate != NULL) {
        SET(subscription_state, substate);
        if (strncmp(substate, "active", 6) == 0)
            M.substate = SIPMSG_SUBSTATE_ACTIVE;
        else if (strncmp(substate, "pending", 7) == 0)
            M.substate = SIPMSG_SUBSTATE_PENDING;
        else if (strncmp(substate, "terminated", 10) == 0)
            M.substate = SIPMSG_SUBSTATE_TERMINATED;
        else
            M.substate = SIPMSG_SUBSTATE_OTHER;
        const char *e = strstr(substate, "expires=");
        if (e != NULL)
            M.sub_expires = strtol(e + 8, NULL, 10);
    }
    return &M;
}

static void send_notify_answer(int status, const char *reason, const char *cid, uint32_t cseq,
                               sw_time ts)
{
    feed(resp(status, reason, cid, cseq, "NOTIFY"), tup(1, 2), ts);
}

static void send_notify(const char *cid, uint32_t cseq, long id, int frag, const char *reason,
                        const char *substate, sw_time ts)
{
    feed(notify(cid, cseq, id, frag, reason, substate), tup(2, 1), ts);
    if (auto_answer)
        send_notify_answer(200, "OK", cid, cseq, ts);
}

/* ================= transfers ================= */

static void test_completed(void **state)
{
    (void)state;
    mk();
    send_refer("c1", 101, MS(0));
    send_resp(202, "Accepted", "c1", 101, MS(50));
    send_notify("c1", 10, 101, 100, "Trying", "active;expires=60", MS(100));
    assert_int_equal(n_recs, 0);
    send_notify("c1", 11, 101, 200, "OK", "terminated;reason=noresource", MS(2000));
    assert_int_equal(n_recs, 1);
    const struct sw_event *ev = &recs[0].ev;
    assert_int_equal(ev->ts, MS(2000));
    assert_string_equal(ev->call_id, "c1");
    assert_tuple(ev, 1, 2);
    const struct sw_event_transfer *x = xf(0);
    assert_int_equal(x->outcome, SW_OUTCOME_COMPLETED);
    assert_string_equal(x->refer_to, "sip:carol@example.com");
    assert_string_equal(x->referred_by, "<sip:alice@example.com>");
    assert_false(x->replaces);
    assert_int_equal(x->refer_cseq, 101);
    assert_int_equal(x->refer_status, 202);
    assert_string_equal(x->refer_reason, "Accepted");
    assert_int_equal(x->notify_count, 2);
    assert_int_equal(x->final_status, 200);
    assert_string_equal(x->final_reason, "OK");
    assert_int_equal(x->refer_time, MS(0));
    assert_int_equal(x->accepted_time, MS(50));
    assert_int_equal(x->wait, DUR_MS(1950));
    assert_string_equal(x->subscription_state, "terminated;reason=noresource");
    assert_false(x->truncated);
    assert_int_equal(ctr("transfers_seen"), 1);
    assert_int_equal(ctr("transfers_active"), 0);
    /* nothing more, ever */
    tracker_advance(T, SEC(1000));
    tracker_finish(T, SEC(1000));
    assert_int_equal(n_recs, 1);
}

static void test_failed_and_replaces(void **state)
{
    (void)state;
    mk();
    refer("c2", 7);
    SET(refer_to, "sip:carol@example.com?Replaces=abc%3Bto-tag%3Dx%3Bfrom-tag%3Dy");
    M.refer_replaces = true;
    M.referred_by[0] = '\0';
    feed(&M, tup(1, 2), MS(0));
    send_resp(202, "Accepted", "c2", 7, MS(10));
    send_notify("c2", 1, 7, 486, "Busy Here", "terminated;reason=noresource", MS(3000));
    assert_int_equal(n_recs, 1);
    const struct sw_event_transfer *x = xf(0);
    assert_int_equal(x->outcome, SW_OUTCOME_FAILED);
    assert_true(x->replaces);
    assert_null(x->referred_by);
    assert_int_equal(x->final_status, 486);
    assert_string_equal(x->final_reason, "Busy Here");
    assert_int_equal(recs[0].ev.ts, MS(3000));
    assert_int_equal(x->wait, DUR_MS(2990));
}

static void test_no_notify_at_deadline(void **state)
{
    (void)state;
    mk();
    send_refer("c3", 1, MS(0));
    send_resp(202, "Accepted", "c3", 1, MS(1000));
    tracker_advance(T, MS(32999));
    assert_int_equal(n_recs, 0);
    tracker_advance(T, SEC(40)); /* the clock jumps past the deadline */
    assert_int_equal(n_recs, 1);
    const struct sw_event_transfer *x = xf(0);
    assert_int_equal(x->outcome, SW_OUTCOME_NO_NOTIFY);
    assert_int_equal(recs[0].ev.ts, SEC(33)); /* the deadline, not SEC(40) */
    assert_int_equal(x->wait, SW_SEC(32));
    assert_int_equal(x->notify_count, 0);
    assert_int_equal(x->final_status, 0);
    assert_null(x->final_reason);
    assert_null(x->subscription_state);
    assert_false(x->truncated);
    /* a NOTIFY after the verdict is counted as late, not re-reported */
    send_notify("c3", 5, 1, 200, "OK", "terminated", SEC(41));
    assert_int_equal(n_recs, 1);
    assert_int_equal(ctr("notify_late"), 1);
    assert_int_equal(ctr("notify_orphans"), 0);
    /* ... and a late 202 too */
    send_resp(202, "Accepted", "c3", 1, SEC(42));
    assert_int_equal(ctr("refer_late_responses"), 1);
    assert_int_equal(ctr("transfers_seen"), 1);
    /* after linger (33 s + 32 s) the key is forgotten: an orphan */
    send_notify("c3", 6, 1, 200, "OK", "terminated", MS(65000));
    assert_int_equal(ctr("notify_orphans"), 1);
    assert_int_equal(n_recs, 1);
}

static void test_notify_incomplete_final_timeout(void **state)
{
    (void)state;
    mk();
    send_refer("c4", 1, MS(0));
    send_resp(202, "Accepted", "c4", 1, MS(1000));
    send_notify("c4", 1, 1, 100, "Trying", "active", MS(2000));
    tracker_advance(T, MS(180999));
    assert_int_equal(n_recs, 0);
    tracker_advance(T, SEC(500));
    assert_int_equal(n_recs, 1);
    const struct sw_event_transfer *x = xf(0);
    assert_int_equal(x->outcome, SW_OUTCOME_NOTIFY_INCOMPLETE);
    assert_int_equal(recs[0].ev.ts, SEC(181)); /* accepted + final_timeout */
    assert_int_equal(x->wait, SW_SEC(180));
    assert_int_equal(x->final_status, 100);
    assert_string_equal(x->final_reason, "Trying");
    assert_int_equal(x->notify_count, 1);
    assert_string_equal(x->subscription_state, "active");
}

static void test_terminated_without_final(void **state)
{
    (void)state;
    mk();
    send_refer("c5", 1, MS(0));
    send_resp(202, "Accepted", "c5", 1, MS(100));
    send_notify("c5", 1, 1, 100, "Trying", "active;expires=60", MS(200));
    send_notify("c5", 2, 1, 0, NULL, "terminated;reason=timeout", MS(5000));
    assert_int_equal(n_recs, 1);
    const struct sw_event_transfer *x = xf(0);
    assert_int_equal(x->outcome, SW_OUTCOME_NOTIFY_INCOMPLETE);
    assert_int_equal(recs[0].ev.ts, MS(5000));
    assert_int_equal(x->notify_count, 2);
    assert_int_equal(x->final_status, 100);
    assert_string_equal(x->subscription_state, "terminated;reason=timeout");
}

static void test_expires(void **state)
{
    (void)state;
    mk();
    /* active;expires=10 with only 100 Trying: the subscription ends at +10 s */
    send_refer("e1", 1, MS(0));
    send_resp(202, "Accepted", "e1", 1, MS(100));
    send_notify("e1", 1, 1, 100, "Trying", "active;expires=10", SEC(2));
    /* pending;expires=5 refreshed by active;expires=30 at 8 s: ends at 38 s */
    send_refer("e2", 1, SEC(3));
    send_resp(202, "Accepted", "e2", 1, SEC(3));
    send_notify("e2", 1, 1, 100, "Trying", "pending;expires=5", SEC(4));
    send_notify("e2", 2, 1, 180, "Ringing", "active;expires=30", SEC(8));
    tracker_advance(T, MS(11999));
    assert_int_equal(n_recs, 0);
    tracker_advance(T, SEC(300));
    assert_int_equal(n_recs, 2);
    assert_int_equal(recs[0].ev.ts, SEC(12));
    assert_string_equal(recs[0].ev.call_id, "e1");
    assert_int_equal(xf(0)->outcome, SW_OUTCOME_NOTIFY_INCOMPLETE);
    assert_int_equal(recs[1].ev.ts, SEC(38));
    assert_string_equal(recs[1].ev.call_id, "e2");
    assert_int_equal(xf(1)->outcome, SW_OUTCOME_NOTIFY_INCOMPLETE);
    assert_int_equal(xf(1)->final_status, 180);
    assert_string_equal(xf(1)->subscription_state, "active;expires=30");
    /* expires=0: the subscription ends at that NOTIFY */
    send_refer("e3", 1, SEC(400));
    send_resp(202, "Accepted", "e3", 1, SEC(400));
    send_notify("e3", 1, 1, 100, "Trying", "active;expires=0", SEC(401));
    assert_int_equal(n_recs, 3);
    assert_int_equal(recs[2].ev.ts, SEC(401));
    assert_int_equal(xf(2)->outcome, SW_OUTCOME_NOTIFY_INCOMPLETE);
}

static void test_rejected_challenge_then_resent(void **state)
{
    (void)state;
    mk();
    send_refer("c6", 1, MS(0));
    send_resp(407, "Proxy Authentication Required", "c6", 1, MS(20));
    assert_int_equal(n_recs, 0); /* a challenge: the retry with credentials may follow */
    send_refer("c6", 2, MS(100));
    send_resp(202, "Accepted", "c6", 2, MS(150));
    send_notify("c6", 1, 2, 200, "OK", "terminated", MS(1000));
    assert_int_equal(n_recs, 1); /* one transfer, not a rejected one and then the real one */
    const struct sw_event_transfer *x = xf(0);
    assert_int_equal(x->outcome, SW_OUTCOME_COMPLETED);
    assert_int_equal(x->refer_cseq, 2);
    assert_int_equal(x->auth_challenges, 1);
    assert_int_equal(ctr("transfers_seen"), 1);
    assert_int_equal(ctr("refer_auth_retries"), 1);
    assert_int_equal(ctr("transfers_active"), 0);
    /* a late copy of the challenge counts as a copy, not a new transfer */
    send_resp(407, "Proxy Authentication Required", "c6", 1, MS(1100));
    tracker_finish(T, SEC(100));
    assert_int_equal(n_recs, 1);
}

/* A challenge nobody answers: rejected, one transaction timeout later. */
static void test_challenge_never_retried(void **state)
{
    (void)state;
    mk();
    send_refer("c7", 1, MS(0));
    send_resp(401, "Unauthorized", "c7", 1, MS(20));
    tracker_advance(T, MS(32020) - 1);
    assert_int_equal(n_recs, 0);
    tracker_advance(T, MS(32020));
    assert_int_equal(n_recs, 1);
    const struct sw_event_transfer *x = xf(0);
    assert_int_equal(x->outcome, SW_OUTCOME_REJECTED);
    assert_int_equal(recs[0].ev.ts, MS(32020));
    assert_int_equal(x->refer_status, 401);
    assert_string_equal(x->refer_reason, "Unauthorized");
    assert_int_equal(x->auth_challenges, 0);
    assert_false(x->truncated);
    /* a 403 is a refusal at once, as before */
    send_refer("c8", 1, SEC(40));
    send_resp(403, "Forbidden", "c8", 1, SEC(41));
    assert_int_equal(n_recs, 2);
    assert_int_equal(xf(1)->outcome, SW_OUTCOME_REJECTED);
}

/* Twinkle answers linphone's Contact-less NOTIFYs "400 Contact header
 * missing": the transfer completes, the transferor never hears it. */
static void test_notify_refused(void **state)
{
    (void)state;
    mk();
    auto_answer = false;
    send_refer("r1", 5, MS(0));
    send_resp(202, "Accepted", "r1", 5, MS(10));
    send_notify("r1", 1, 5, 100, "Trying", "active;expires=60", MS(20));
    send_notify_answer(400, "Contact header missing", "r1", 1, MS(21));
    send_notify("r1", 2, 5, 200, "OK", "terminated;reason=noresource", MS(900));
    assert_int_equal(n_recs, 0); /* waits for the answer to the final NOTIFY */
    send_notify_answer(400, "Contact header missing", "r1", 2, MS(901));
    send_notify_answer(400, "Contact header missing", "r1", 2, MS(902)); /* retransmitted */
    assert_int_equal(n_recs, 1);
    const struct sw_event_transfer *x = xf(0);
    assert_int_equal(recs[0].ev.ts, MS(901));
    assert_int_equal(x->outcome, SW_OUTCOME_COMPLETED);
    assert_int_equal(x->notify.refused, 2);
    assert_int_equal(x->notify.answered_ok, 0);
    assert_int_equal(x->notify.unanswered, 0);
    assert_int_equal(x->notify.last_refusal_status, 400);
    assert_string_equal(x->notify.last_refusal_reason, "Contact header missing");
    assert_true(x->transferor_uninformed);
    /* the REFER's parties */
    assert_string_equal(x->parties.from, "<sip:alice@example.com>;tag=ta");
    assert_string_equal(x->parties.to, "<sip:bob@example.com>;tag=tb");

    /* one NOTIFY accepted: the transferor heard */
    send_refer("r2", 5, SEC(10));
    send_resp(202, "Accepted", "r2", 5, MS(10010));
    send_notify("r2", 1, 5, 100, "Trying", "active;expires=60", MS(10020));
    send_notify_answer(200, "OK", "r2", 1, MS(10021));
    send_notify("r2", 2, 5, 503, "Service Unavailable", "terminated", MS(10900));
    send_notify_answer(481, "Call/Transaction Does Not Exist", "r2", 2, MS(10901));
    assert_int_equal(n_recs, 2);
    x = xf(1);
    assert_int_equal(x->outcome, SW_OUTCOME_FAILED);
    assert_int_equal(x->notify.refused, 1);
    assert_int_equal(x->notify.answered_ok, 1);
    assert_false(x->transferor_uninformed);

    /* no answer captured: written a transaction timeout after the NOTIFY */
    send_refer("r3", 5, SEC(20));
    send_resp(202, "Accepted", "r3", 5, MS(20010));
    send_notify("r3", 1, 5, 200, "OK", "terminated", SEC(21));
    tracker_advance(T, MS(53000) - 1);
    assert_int_equal(n_recs, 2);
    tracker_advance(T, MS(53000));
    assert_int_equal(n_recs, 3);
    x = xf(2);
    assert_int_equal(x->outcome, SW_OUTCOME_COMPLETED);
    assert_int_equal(x->notify.unanswered, 1);
    assert_false(x->transferor_uninformed);
    assert_false(x->truncated);
}

static void test_no_response(void **state)
{
    (void)state;
    mk();
    send_refer("n1", 1, MS(0));
    send_refer("n2", 1, SEC(1));
    send_resp(100, "Trying", "n2", 1, MS(1010));
    tracker_advance(T, SEC(100));
    assert_int_equal(n_recs, 2);
    assert_int_equal(xf(0)->outcome, SW_OUTCOME_NO_RESPONSE);
    assert_int_equal(recs[0].ev.ts, SEC(32));
    assert_int_equal(xf(0)->refer_status, 0);
    assert_null(xf(0)->refer_reason);
    assert_int_equal(xf(0)->wait, SW_TIME_NONE);
    assert_int_equal(xf(1)->outcome, SW_OUTCOME_NO_RESPONSE);
    assert_int_equal(recs[1].ev.ts, SEC(33));
    assert_int_equal(xf(1)->refer_status, 100); /* the last response seen */
    assert_string_equal(xf(1)->refer_reason, "Trying");
}

static void test_refer_sub_false_on_2xx(void **state)
{
    (void)state;
    mk();
    refer("s1", 1);
    M.refer_sub = SIPMSG_REFER_SUB_FALSE;
    feed(&M, tup(1, 2), MS(0));
    resp(200, "OK", "s1", 1, "REFER");
    M.refer_sub = SIPMSG_REFER_SUB_FALSE;
    feed(&M, tup(2, 1), MS(50));
    assert_int_equal(n_recs, 1);
    assert_int_equal(xf(0)->outcome, SW_OUTCOME_NOTIFY_NOT_REQUESTED);
    assert_int_equal(recs[0].ev.ts, MS(50));
    assert_int_equal(xf(0)->refer_status, 200);
    assert_int_equal(xf(0)->wait, 0);
    tracker_advance(T, SEC(100));
    tracker_finish(T, SEC(100));
    assert_int_equal(n_recs, 1); /* never no_notify */
}

static void test_refer_sub_false_on_refer_only(void **state)
{
    (void)state;
    mk();
    /* no NOTIFY: notify_not_requested at accepted + notify_timeout */
    refer("s2", 1);
    M.refer_sub = SIPMSG_REFER_SUB_FALSE;
    feed(&M, tup(1, 2), MS(0));
    send_resp(202, "Accepted", "s2", 1, MS(50));
    /* a NOTIFY does come: followed normally */
    refer("s3", 1);
    M.refer_sub = SIPMSG_REFER_SUB_FALSE;
    feed(&M, tup(1, 2), MS(100));
    send_resp(202, "Accepted", "s3", 1, MS(150));
    send_notify("s3", 1, 1, 200, "OK", "terminated", SEC(1));
    assert_int_equal(n_recs, 1);
    assert_string_equal(recs[0].ev.call_id, "s3");
    assert_int_equal(xf(0)->outcome, SW_OUTCOME_COMPLETED);
    /* the recipient subscribes anyway (2xx says Refer-Sub: true): a NOTIFY is owed */
    refer("s4", 1);
    M.refer_sub = SIPMSG_REFER_SUB_FALSE;
    feed(&M, tup(1, 2), SEC(2));
    resp(202, "Accepted", "s4", 1, "REFER");
    M.refer_sub = SIPMSG_REFER_SUB_TRUE;
    feed(&M, tup(2, 1), SEC(2));
    tracker_advance(T, SEC(100));
    assert_int_equal(n_recs, 3);
    assert_string_equal(recs[1].ev.call_id, "s2");
    assert_int_equal(xf(1)->outcome, SW_OUTCOME_NOTIFY_NOT_REQUESTED);
    assert_int_equal(recs[1].ev.ts, MS(32050));
    assert_int_equal(xf(1)->wait, SW_SEC(32));
    assert_string_equal(recs[2].ev.call_id, "s4");
    assert_int_equal(xf(2)->outcome, SW_OUTCOME_NO_NOTIFY);
    assert_int_equal(recs[2].ev.ts, SEC(34));
}

static void test_evicted_at_cap(void **state)
{
    (void)state;
    struct tracker_config cfg;
    tracker_config_default(&cfg);
    cfg.max_transfers = 2;
    mk_cfg(&cfg);
    send_refer("v1", 1, SEC(0));
    send_resp(202, "Accepted", "v1", 1, MS(100));
    send_refer("v2", 1, SEC(1));
    send_refer("v3", 1, SEC(2));
    assert_int_equal(n_recs, 1);
    assert_string_equal(recs[0].ev.call_id, "v1");
    assert_int_equal(xf(0)->outcome, SW_OUTCOME_EVICTED);
    assert_int_equal(recs[0].ev.ts, SEC(2));
    assert_int_equal(xf(0)->refer_status, 202);
    assert_int_equal(xf(0)->wait, MS(1900) - T0);
    assert_int_equal(ctr("transfers_evicted"), 1);
    assert_int_equal(ctr("transfers_active"), 2);
    tracker_finish(T, SEC(3));
    assert_int_equal(n_recs, 3);
    assert_string_equal(recs[1].ev.call_id, "v2");
    assert_string_equal(recs[2].ev.call_id, "v3");
    assert_int_equal(xf(1)->outcome, SW_OUTCOME_NO_RESPONSE);
    assert_true(xf(1)->truncated);
    assert_int_equal(ctr("transfers_active"), 0);
    struct sw_not_found_summary nf;
    struct sw_transfer_summary xs;
    tracker_summary(T, &nf, &xs);
    assert_int_equal(xs.by_outcome[SW_OUTCOME_EVICTED], 1);
    assert_int_equal(xs.by_outcome[SW_OUTCOME_NO_RESPONSE], 2);
}

static void test_notify_before_202(void **state)
{
    (void)state;
    mk();
    send_refer("r1", 1, MS(0));
    send_notify("r1", 1, 1, 200, "OK", "terminated", MS(100));
    assert_int_equal(n_recs, 0); /* waiting for the REFER's response */
    send_resp(202, "Accepted", "r1", 1, MS(200));
    assert_int_equal(n_recs, 1);
    const struct sw_event_transfer *x = xf(0);
    assert_int_equal(x->outcome, SW_OUTCOME_COMPLETED);
    assert_int_equal(recs[0].ev.ts, MS(200));
    assert_int_equal(x->refer_status, 202);
    assert_int_equal(x->accepted_time, MS(100)); /* implied by the NOTIFY */
    assert_int_equal(x->wait, MS(100) - T0);
    assert_int_equal(x->notify_count, 1);
    /* the 202 never comes: the outcome is written at REFER + 32 s */
    send_refer("r2", 1, SEC(10));
    send_notify("r2", 1, 1, 603, "Decline", "terminated", MS(10100));
    tracker_advance(T, SEC(200));
    assert_int_equal(n_recs, 2);
    assert_int_equal(xf(1)->outcome, SW_OUTCOME_FAILED);
    assert_int_equal(recs[1].ev.ts, SEC(42));
    assert_int_equal(xf(1)->refer_status, 0);
    assert_null(xf(1)->refer_reason);
    assert_int_equal(xf(1)->final_status, 603);
    /* "terminated" without a final, then the final, all before the 202:
     * the final sipfrag decides */
    send_refer("r3", 1, SEC(300));
    send_notify("r3", 1, 1, 100, "Trying", "terminated", MS(300100));
    send_notify("r3", 2, 1, 200, "OK", "terminated", MS(300200));
    assert_int_equal(n_recs, 2);
    send_resp(202, "Accepted", "r3", 1, MS(300300));
    assert_int_equal(n_recs, 3);
    assert_int_equal(xf(2)->outcome, SW_OUTCOME_COMPLETED);
    assert_int_equal(xf(2)->final_status, 200);
    assert_int_equal(recs[2].ev.ts, MS(300300));
    tracker_finish(T, SEC(400));
    assert_int_equal(n_recs, 3);
}

static void test_retransmitted_refer_and_notify(void **state)
{
    (void)state;
    mk();
    send_refer("t1", 1, MS(0));
    send_resp(202, "Accepted", "t1", 1, MS(50));
    send_refer("t1", 1, MS(500)); /* the 202 was lost on the way back */
    send_resp(202, "Accepted", "t1", 1, MS(550));
    send_notify("t1", 20, 1, 100, "Trying", "active;expires=60", MS(600));
    send_notify("t1", 20, 1, 100, "Trying", "active;expires=60", MS(1100));
    send_notify("t1", 21, 1, 200, "OK", "terminated", MS(2000));
    assert_int_equal(n_recs, 1);
    assert_int_equal(xf(0)->notify_count, 2);
    assert_int_equal(xf(0)->refer_time, MS(0));
    assert_int_equal(xf(0)->accepted_time, MS(50));
    send_notify("t1", 21, 1, 200, "OK", "terminated", MS(2500));
    assert_int_equal(n_recs, 1);
    assert_int_equal(ctr("transfers_seen"), 1);
    assert_int_equal(ctr("refer_retransmissions"), 1);
    assert_int_equal(ctr("refer_leg_copies"), 0);
    assert_int_equal(ctr("refer_response_copies"), 1);
    assert_int_equal(ctr("notify_retransmissions"), 1);
    assert_int_equal(ctr("notify_late"), 1);
    /* the REFER retransmitted after the verdict: counted, not a new transfer */
    send_refer("t1", 1, MS(3000));
    assert_int_equal(ctr("transfers_seen"), 1);
    assert_int_equal(ctr("refer_retransmissions"), 2);
}

static void test_two_refers_with_id(void **state)
{
    (void)state;
    mk();
    send_refer("d2", 5, MS(0));
    send_resp(202, "Accepted", "d2", 5, MS(50));
    refer("d2", 6);
    SET(refer_to, "sip:dave@example.com");
    feed(&M, tup(1, 2), MS(100));
    send_resp(202, "Accepted", "d2", 6, MS(150));
    send_notify("d2", 30, 6, 200, "OK", "terminated", SEC(1));
    assert_int_equal(n_recs, 1);
    assert_int_equal(xf(0)->refer_cseq, 6);
    assert_string_equal(xf(0)->refer_to, "sip:dave@example.com");
    assert_int_equal(xf(0)->outcome, SW_OUTCOME_COMPLETED);
    send_notify("d2", 31, 5, 503, "Service Unavailable", "terminated", SEC(2));
    assert_int_equal(n_recs, 2);
    assert_int_equal(xf(1)->refer_cseq, 5);
    assert_string_equal(xf(1)->refer_to, "sip:carol@example.com");
    assert_int_equal(xf(1)->outcome, SW_OUTCOME_FAILED);
    /* an id matching no REFER of the dialog is an orphan */
    send_notify("d2", 32, 9, 200, "OK", "terminated", SEC(3));
    assert_int_equal(ctr("notify_orphans"), 1);
    assert_int_equal(n_recs, 2);
}

static void test_notify_without_id(void **state)
{
    (void)state;
    mk();
    send_refer("w1", 5, MS(0));
    send_resp(202, "Accepted", "w1", 5, MS(50));
    send_refer("w1", 6, MS(100));
    send_resp(202, "Accepted", "w1", 6, MS(150));
    send_notify("w1", 40, -1, 200, "OK", "terminated", SEC(1));
    assert_int_equal(n_recs, 1);
    assert_int_equal(xf(0)->refer_cseq, 5); /* the oldest unsettled */
    send_notify("w1", 41, -1, 486, "Busy Here", "terminated", SEC(2));
    assert_int_equal(n_recs, 2);
    assert_int_equal(xf(1)->refer_cseq, 6);
    assert_int_equal(xf(1)->outcome, SW_OUTCOME_FAILED);
    /* now only settled ones: a new NOTIFY is late, not an orphan */
    send_notify("w1", 42, -1, 200, "OK", "terminated", SEC(3));
    assert_int_equal(ctr("notify_late"), 1);
    assert_int_equal(ctr("notify_orphans"), 0);
}

static void test_out_of_dialog_tags(void **state)
{
    (void)state;
    mk();
    /* two out-of-dialog REFERs in one Call-ID: no To tag; the 2xx brings it */
    refer("ood", 1);
    SET(from_tag, "f1");
    M.to_tag[0] = '\0';
    feed(&M, tup(1, 2), MS(0));
    resp(202, "Accepted", "ood", 1, "REFER");
    SET(from_tag, "f1");
    SET(to_tag, "t1");
    feed(&M, tup(2, 1), MS(50));
    refer("ood", 2);
    SET(from_tag, "f2");
    M.to_tag[0] = '\0';
    feed(&M, tup(1, 2), MS(100));
    resp(202, "Accepted", "ood", 2, "REFER");
    SET(from_tag, "f2");
    SET(to_tag, "t2");
    feed(&M, tup(2, 1), MS(150));
    /* NOTIFY without id whose tags name the second one */
    notify("ood", 1, -1, 200, "OK", "terminated");
    SET(from_tag, "t2");
    SET(to_tag, "f2");
    feed(&M, tup(2, 1), SEC(1));
    feed(resp(200, "OK", "ood", 1, "NOTIFY"), tup(1, 2), SEC(1));
    assert_int_equal(n_recs, 1);
    assert_int_equal(xf(0)->refer_cseq, 2);
    assert_int_equal(xf(0)->outcome, SW_OUTCOME_COMPLETED);
    /* same CSeq number from the other notifier: not a retransmission */
    notify("ood", 1, -1, 603, "Decline", "terminated");
    SET(from_tag, "t1");
    SET(to_tag, "f1");
    feed(&M, tup(2, 1), SEC(2));
    feed(resp(200, "OK", "ood", 1, "NOTIFY"), tup(1, 2), SEC(2));
    assert_int_equal(n_recs, 2);
    assert_int_equal(xf(1)->refer_cseq, 1);
    assert_int_equal(xf(1)->outcome, SW_OUTCOME_FAILED);
    assert_int_equal(ctr("notify_retransmissions"), 0);
}

static void test_tags_not_required(void **state)
{
    (void)state;
    mk();
    /* REFER seen, 2xx missed, NOTIFY with foreign tags and no id: still ours */
    refer("nt", 3);
    M.to_tag[0] = '\0';
    feed(&M, tup(1, 2), MS(0));
    notify("nt", 1, -1, 200, "OK", "terminated");
    SET(from_tag, "zz");
    SET(to_tag, "yy");
    feed(&M, tup(2, 1), MS(500));
    feed(resp(200, "OK", "nt", 1, "NOTIFY"), tup(1, 2), MS(500));
    send_resp(202, "Accepted", "nt", 3, MS(600));
    assert_int_equal(n_recs, 1);
    assert_int_equal(xf(0)->outcome, SW_OUTCOME_COMPLETED);
    assert_int_equal(recs[0].ev.ts, MS(600));
}

static void test_proxy_two_legs(void **state)
{
    (void)state;
    mk();
    /* A(1) -> P(3) -> B(2): every message is seen twice */
    feed(refer("leg", 9), tup(1, 3), MS(0));
    refer("leg", 9);
    SET(branch, "z9hG4bK-proxy-leg");
    feed(&M, tup(3, 2), MS(10));
    feed(resp(202, "Accepted", "leg", 9, "REFER"), tup(2, 3), MS(50));
    feed(resp(202, "Accepted", "leg", 9, "REFER"), tup(3, 1), MS(60));
    feed(notify("leg", 40, 9, 100, "Trying", "active"), tup(2, 3), MS(500));
    feed(notify("leg", 40, 9, 100, "Trying", "active"), tup(3, 1), MS(510));
    feed(resp(200, "OK", "leg", 40, "NOTIFY"), tup(1, 3), MS(511));
    feed(resp(200, "OK", "leg", 40, "NOTIFY"), tup(3, 2), MS(512));
    feed(notify("leg", 41, 9, 200, "OK", "terminated"), tup(2, 3), MS(1000));
    feed(resp(200, "OK", "leg", 41, "NOTIFY"), tup(3, 2), MS(1000)); /* the answer's copy first */
    feed(notify("leg", 41, 9, 200, "OK", "terminated"), tup(3, 1), MS(1010));
    feed(resp(200, "OK", "leg", 41, "NOTIFY"), tup(1, 3), MS(1011));
    assert_int_equal(n_recs, 1);
    assert_tuple(&recs[0].ev, 1, 3);
    assert_int_equal(recs[0].ev.ts, MS(1000));
    assert_int_equal(xf(0)->notify_count, 2);
    assert_int_equal(xf(0)->refer_time, MS(0));
    assert_int_equal(xf(0)->accepted_time, MS(50));
    assert_int_equal(ctr("transfers_seen"), 1);
    assert_int_equal(ctr("refer_leg_copies"), 1);
    assert_int_equal(ctr("refer_retransmissions"), 0);
    assert_int_equal(ctr("refer_response_copies"), 1);
    assert_int_equal(ctr("notify_retransmissions"), 1);
    assert_int_equal(ctr("notify_late"), 1);
}

static void test_mid_dialog_202_only(void **state)
{
    (void)state;
    mk();
    send_resp(202, "Accepted", "mid", 7, MS(0));
    assert_int_equal(ctr("transfers_seen"), 1);
    send_notify("mid", 1, 7, 200, "OK", "terminated", SEC(1));
    assert_int_equal(n_recs, 1);
    const struct sw_event_transfer *x = xf(0);
    assert_tuple(&recs[0].ev, 1, 2); /* src = the REFER's sender */
    assert_int_equal(x->outcome, SW_OUTCOME_COMPLETED);
    assert_int_equal(x->refer_time, SW_TIME_NONE);
    assert_null(x->refer_to);
    assert_null(x->referred_by);
    assert_int_equal(x->refer_cseq, 7);
    assert_int_equal(x->refer_status, 202);
    assert_int_equal(x->accepted_time, MS(0));
    /* a lone NOTIFY or a lone rejection creates nothing */
    send_notify("lone", 1, 3, 200, "OK", "terminated", SEC(2));
    send_resp(486, "Busy Here", "lone2", 3, SEC(2));
    tracker_finish(T, SEC(3));
    assert_int_equal(n_recs, 1);
    assert_int_equal(ctr("notify_orphans"), 1);
    assert_int_equal(ctr("refer_responses_unmatched"), 1);
    assert_int_equal(ctr("transfers_seen"), 1);
}

static void test_other_event_packages_ignored(void **state)
{
    (void)state;
    mk();
    send_refer("ev", 1, MS(0));
    send_resp(202, "Accepted", "ev", 1, MS(10));
    notify("ev", 1, 1, 200, "OK", "terminated");
    SET(event, "presence");
    feed(&M, tup(2, 1), MS(100));
    notify("other", 1, -1, 0, NULL, "active");
    SET(event, "message-summary");
    feed(&M, tup(2, 1), MS(100));
    assert_int_equal(n_recs, 0);
    assert_int_equal(ctr("notify_orphans"), 0);
    tracker_advance(T, SEC(60));
    assert_int_equal(n_recs, 1);
    assert_int_equal(xf(0)->outcome, SW_OUTCOME_NO_NOTIFY);
    assert_int_equal(xf(0)->notify_count, 0);
}

static void test_finish_truncated(void **state)
{
    (void)state;
    mk();
    send_refer("f1", 1, SEC(0));
    send_resp(202, "Accepted", "f1", 1, MS(100));
    send_refer("f2", 1, SEC(1));
    send_resp(202, "Accepted", "f2", 1, MS(1100));
    send_notify("f2", 1, 1, 100, "Trying", "active", MS(1200));
    send_refer("f3", 1, SEC(2));
    send_refer("f4", 1, SEC(3));
    send_notify("f4", 1, 1, 200, "OK", "terminated", MS(3100));
    refer("f5", 1);
    M.refer_sub = SIPMSG_REFER_SUB_FALSE;
    feed(&M, tup(1, 2), SEC(4));
    send_resp(202, "Accepted", "f5", 1, MS(4100));
    assert_int_equal(n_recs, 0);
    tracker_finish(T, SEC(10));
    assert_int_equal(n_recs, 5);
    static const enum sw_transfer_outcome want[5] = {
        SW_OUTCOME_NO_NOTIFY, SW_OUTCOME_NOTIFY_INCOMPLETE,    SW_OUTCOME_NO_RESPONSE,
        SW_OUTCOME_COMPLETED, SW_OUTCOME_NOTIFY_NOT_REQUESTED,
    };
    for (size_t i = 0; i < 5; i++) {
        char cid[8];
        snprintf(cid, sizeof cid, "f%zu", i + 1);
        assert_string_equal(recs[i].ev.call_id, cid);
        assert_int_equal(xf(i)->outcome, want[i]);
        /* f4's outcome came from its NOTIFY: only the REFER's response is
         * missing, which the end of input does not make a guess */
        assert_true(xf(i)->truncated == (i != 3));
        assert_int_equal(recs[i].ev.ts, SEC(10));
    }
    assert_int_equal(xf(0)->wait, MS(9900) - T0);
    assert_int_equal(xf(2)->wait, SW_TIME_NONE);
    assert_int_equal(xf(3)->refer_status, 0);
    assert_int_equal(ctr("transfers_active"), 0);
    assert_int_equal(ctr("transactions_active"), 0);
}

static void test_timer_order_and_stamps(void **state)
{
    (void)state;
    mk();
    send_refer("x", 1, SEC(0));  /* no_response at 32 */
    send_refer("z", 1, SEC(0));  /* no_response at 32, created after x */
    send_refer("w", 1, MS(500)); /* no_response at 32.5 */
    send_refer("y", 1, SEC(1));
    send_resp(202, "Accepted", "y", 1, SEC(1)); /* no_notify at 33 */
    send_refer("v", 1, SEC(1));                 /* no_response at 33, after y */
    tracker_advance(T, MS(31999));
    assert_int_equal(n_recs, 0);
    tracker_advance(T, SEC(1000)); /* one jump fires them all */
    assert_int_equal(n_recs, 5);
    static const char *const order[5] = {"x", "z", "w", "y", "v"};
    static const sw_time at[5] = {32000, 32000, 32500, 33000, 33000};
    for (size_t i = 0; i < 5; i++) {
        assert_string_equal(recs[i].ev.call_id, order[i]);
        assert_int_equal(recs[i].ev.ts, MS(at[i]));
    }
    assert_int_equal(xf(3)->outcome, SW_OUTCOME_NO_NOTIFY);
    assert_int_equal(xf(4)->outcome, SW_OUTCOME_NO_RESPONSE);
}

static void test_heap_many_transfers(void **state)
{
    (void)state;
    mk();
    /* deadlines arrive out of creation order; they must come out sorted */
    for (unsigned i = 0; i < 300; i++) {
        char cid[16];
        snprintf(cid, sizeof cid, "h%u", i);
        send_refer(cid, 1, MS(i));
        if (i % 3 == 0)
            send_resp(202, "Accepted", cid, 1, MS(i)); /* +32 s from i */
        else if (i % 3 == 1)
            send_resp(403, "Forbidden", cid, 1, MS(i + 1));
    }
    size_t rejected = n_recs;
    assert_int_equal(rejected, 100);
    tracker_advance(T, SEC(1000));
    assert_int_equal(n_recs, 300);
    for (size_t i = rejected + 1; i < n_recs; i++) {
        assert_true(recs[i - 1].ev.ts <= recs[i].ev.ts);
        if (recs[i - 1].ev.ts == recs[i].ev.ts)
            assert_true(strcmp(recs[i - 1].ev.call_id, recs[i].ev.call_id) != 0);
    }
    assert_int_equal(ctr("transfers_active"), 0);
}

/* ================= not found ================= */

static struct sip_msg *invite(const char *cid, uint32_t cseq, const char *ruri)
{
    req("INVITE", cid, cseq);
    SET(request_uri, ruri);
    SET(from, "\"Alice\" <sip:alice@example.com>;tag=a");
    SET(to, "<sip:1001@example.com>");
    M.to_tag[0] = '\0';
    SET(user_agent, "UA/1");
    return &M;
}

/* An INVITE's not-found waits for its ACK (tracker_notfound.c): without
 * one, 4 s after the 404; advancing the clock to `ts` lets it out. */
static void flush_to(sw_time ts)
{
    tracker_advance(T, ts);
}

static struct sip_msg *ack(const char *cid, uint32_t cseq)
{
    req("ACK", cid, cseq);
    SET(request_uri, "sip:1001@example.com");
    M.to_tag[0] = '\0';
    return &M;
}

/* The event waits for the ACK, then 0.5 s of quiet; its time stays the
 * 404's. Without an ACK it goes out 4 s after the 404. */
static void test_404_waits_for_ack(void **state)
{
    (void)state;
    mk();
    feed(invite("wa", 1, "sip:1001@example.com"), tup(1, 2), MS(0));
    feed(resp(404, "Not Found", "wa", 1, "INVITE"), tup(2, 1), MS(100));
    assert_int_equal(n_recs, 0);
    assert_int_equal(ctr("not_found_held"), 1);
    feed(ack("wa", 1), tup(1, 2), MS(101));
    flush_to(MS(600));
    assert_int_equal(n_recs, 0);
    flush_to(MS(601));
    assert_int_equal(n_recs, 1);
    assert_int_equal(recs[0].ev.ts, MS(100));
    assert_int_equal(nfe(0)->cseq, 1);
    assert_int_equal(ctr("not_found_held"), 0);
    assert_int_equal(ctr("not_found_held_peak"), 1);
    assert_int_equal(ctr("not_found_events"), 1);
    /* a 404 copy after the ACK (the other leg) waits on: quiet restarts */
    feed(invite("wb", 1, "sip:1002@example.com"), tup(1, 2), SEC(10));
    feed(resp(404, "Not Found", "wb", 1, "INVITE"), tup(2, 1), MS(10100));
    feed(ack("wb", 1), tup(1, 2), MS(10101));
    feed(resp(404, "Not Found", "wb", 1, "INVITE"), tup(3, 1), MS(10400));
    flush_to(MS(10899));
    assert_int_equal(n_recs, 1);
    flush_to(MS(10900));
    assert_int_equal(n_recs, 2);
    /* no ACK at all: 4 s */
    feed(invite("wc", 1, "sip:1003@example.com"), tup(1, 2), SEC(20));
    feed(resp(404, "Not Found", "wc", 1, "INVITE"), tup(2, 1), MS(20100));
    flush_to(MS(24099));
    assert_int_equal(n_recs, 2);
    flush_to(MS(24100));
    assert_int_equal(n_recs, 3);
    /* a non-INVITE has no ACK: at once */
    req("OPTIONS", "wd", 1);
    feed(&M, tup(1, 2), SEC(30));
    feed(resp(404, "Not Found", "wd", 1, "OPTIONS"), tup(2, 1), MS(30001));
    assert_int_equal(n_recs, 4);
    /* the end of input lets a held one out */
    feed(invite("we", 1, "sip:1004@example.com"), tup(1, 2), SEC(40));
    feed(resp(404, "Not Found", "we", 1, "INVITE"), tup(2, 1), MS(40100));
    assert_int_equal(n_recs, 4);
    tracker_finish(T, MS(40200));
    assert_int_equal(n_recs, 5);
    assert_int_equal(recs[4].ev.ts, MS(40100));
}

/* Held events are bounded by max_transactions: over it, the one due first
 * goes out early, none is lost. Events stay in time order but for held
 * ones, written before transfers due after them. */
static void test_404_held_bounded(void **state)
{
    (void)state;
    struct tracker_config cfg;
    tracker_config_default(&cfg);
    cfg.max_transactions = 3;
    mk_cfg(&cfg);
    for (int i = 0; i < 5; i++) {
        char cid[16];
        snprintf(cid, sizeof cid, "hb%d", i);
        feed(invite(cid, 1, "sip:1001@example.com"), tup(1, 2), MS(i * 10));
        feed(resp(404, "Not Found", cid, 1, "INVITE"), tup(2, 1), MS(i * 10 + 5));
    }
    assert_int_equal(ctr("not_found_held"), 3);
    assert_int_equal(n_recs, 2);
    assert_string_equal(recs[0].ev.call_id, "hb0");
    assert_string_equal(recs[1].ev.call_id, "hb1");
    tracker_finish(T, MS(100));
    assert_int_equal(n_recs, 5);
    assert_int_equal(ctr("not_found_events"), 5);
}

static void test_404_after_100(void **state)
{
    (void)state;
    mk();
    feed(invite("nf1", 1, "sip:1001@example.com;user=phone"), tup(1, 3), MS(0));
    feed(resp(100, "Trying", "nf1", 1, "INVITE"), tup(3, 1), MS(10));
    assert_int_equal(ctr("transactions_active"), 1);
    resp(404, "Not Found", "nf1", 1, "INVITE");
    SET(server, "Srv/2");
    SET(user_agent, "ignored/1");
    SET(warning, "399 srv \"no such user\"");
    feed(&M, tup(3, 1), MS(200));
    flush_to(SEC(5));
    assert_int_equal(n_recs, 1);
    const struct sw_event *ev = &recs[0].ev;
    assert_int_equal(ev->ts, MS(200));
    assert_string_equal(ev->call_id, "nf1");
    assert_tuple(ev, 1, 3);
    const struct sw_event_not_found *e = nfe(0);
    assert_string_equal(e->method, "INVITE");
    assert_string_equal(e->request_uri, "sip:1001@example.com;user=phone");
    assert_string_equal(e->user, "1001");
    assert_string_equal(e->domain, "example.com");
    assert_string_equal(e->from, "\"Alice\" <sip:alice@example.com>;tag=a");
    assert_string_equal(e->to, "<sip:1001@example.com>");
    assert_string_equal(e->user_agent, "UA/1");
    assert_string_equal(e->server, "Srv/2");
    assert_int_equal(e->status, 404);
    assert_string_equal(e->reason, "Not Found");
    assert_string_equal(e->warning, "399 srv \"no such user\"");
    assert_int_equal(e->rtt, 200000);
    assert_int_equal(ctr("not_found_events"), 1);
    assert_int_equal(ctr("transactions_active"), 0);
}

static void test_604(void **state)
{
    (void)state;
    mk();
    feed(invite("nf2", 1, "sip:ghost@example.net"), tup(1, 2), MS(0));
    resp(604, "Does Not Exist Anywhere", "nf2", 1, "INVITE");
    SET(user_agent, "UAS/3"); /* no Server: the response's User-Agent */
    feed(&M, tup(2, 1), MS(30));
    flush_to(SEC(5));
    assert_int_equal(n_recs, 1);
    assert_int_equal(nfe(0)->status, 604);
    assert_string_equal(nfe(0)->user, "ghost");
    assert_string_equal(nfe(0)->domain, "example.net");
    assert_string_equal(nfe(0)->server, "UAS/3");
    assert_null(nfe(0)->warning);
    struct sw_not_found_summary nf;
    struct sw_transfer_summary xs;
    tracker_summary(T, &nf, &xs);
    assert_int_equal(nf.status_604, 1);
    assert_int_equal(nf.status_404, 0);
}

static void test_other_statuses_ignored(void **state)
{
    (void)state;
    mk();
    static const int codes[] = {480, 486, 403, 484, 410, 603, 405, 200, 302};
    for (size_t i = 0; i < SW_ARRAY_LEN(codes); i++) {
        char cid[16];
        snprintf(cid, sizeof cid, "o%zu", i);
        feed(invite(cid, 1, "sip:1001@example.com"), tup(1, 2), MS(i * 10));
        feed(resp(codes[i], "Whatever", cid, 1, "INVITE"), tup(2, 1), MS(i * 10 + 5));
    }
    assert_int_equal(n_recs, 0);
    assert_int_equal(ctr("not_found_events"), 0);
    assert_int_equal(ctr("transactions_active"), 0);
    /* a 404 to ACK or CANCEL is no call attempt */
    feed(resp(404, "Not Found", "o0", 1, "CANCEL"), tup(2, 1), MS(500));
    assert_int_equal(n_recs, 0);
}

static void test_404_retransmitted_once(void **state)
{
    (void)state;
    mk();
    feed(invite("rt", 1, "sip:1001@example.com"), tup(1, 2), MS(0));
    feed(invite("rt", 1, "sip:1001@example.com"), tup(1, 2), MS(500));
    feed(resp(404, "Not Found", "rt", 1, "INVITE"), tup(2, 1), MS(1000));
    feed(invite("rt", 1, "sip:1001@example.com"), tup(1, 2), MS(1400));
    feed(resp(404, "Not Found", "rt", 1, "INVITE"), tup(2, 1), MS(1500));
    feed(resp(404, "Not Found", "rt", 1, "INVITE"), tup(2, 1), MS(2500));
    flush_to(MS(5000)); /* no ACK: 4 s after the first 404 */
    assert_int_equal(n_recs, 1);
    assert_int_equal(nfe(0)->rtt, 1000000); /* from the first copy */
    assert_int_equal(ctr("not_found_duplicates"), 2);
    assert_int_equal(ctr("transactions_active"), 0);
    /* a new CSeq is a new attempt */
    feed(invite("rt", 2, "sip:1001@example.com"), tup(1, 2), MS(6000));
    feed(resp(404, "Not Found", "rt", 2, "INVITE"), tup(2, 1), MS(6100));
    flush_to(SEC(11));
    assert_int_equal(n_recs, 2);
}

static void test_404_two_legs_once(void **state)
{
    (void)state;
    mk();
    feed(invite("lg", 1, "sip:1001@example.com"), tup(1, 3), MS(0));
    invite("lg", 1, "sip:1001@example.com");
    SET(branch, "z9hG4bK-proxy");
    feed(&M, tup(3, 2), MS(10));
    feed(resp(404, "Not Found", "lg", 1, "INVITE"), tup(2, 3), MS(100));
    feed(resp(404, "Not Found", "lg", 1, "INVITE"), tup(3, 1), MS(110));
    flush_to(SEC(5));
    assert_int_equal(n_recs, 1);
    assert_tuple(&recs[0].ev, 1, 3);
    assert_int_equal(nfe(0)->rtt, 100000);
    assert_int_equal(recs[0].ev.ts, MS(100));
    assert_int_equal(ctr("not_found_duplicates"), 1);
}

static void test_404_other_methods(void **state)
{
    (void)state;
    mk();
    static const char *const methods[] = {"OPTIONS", "REGISTER", "SUBSCRIBE"};
    for (size_t i = 0; i < 3; i++) {
        char cid[16];
        snprintf(cid, sizeof cid, "m%zu", i);
        req(methods[i], cid, 20);
        SET(request_uri, "sip:2000@example.com");
        feed(&M, tup(1, 2), MS(i * 100));
        feed(resp(404, "Not Found", cid, 20, methods[i]), tup(2, 1), MS(i * 100 + 7));
    }
    assert_int_equal(n_recs, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_string_equal(nfe(i)->method, methods[i]);
        assert_string_equal(nfe(i)->user, "2000");
        assert_int_equal(nfe(i)->rtt, 7000);
    }
}

/* A REGISTER's Request-URI names the registrar only: the missing user is the
 * To header's address of record. */
static void test_register_404_user_from_to(void **state)
{
    (void)state;
    mk();
    req("REGISTER", "reg", 1);
    SET(request_uri, "sip:example.com");
    SET(to, "<sip:7001@example.com>");
    SET(to_uri, "sip:7001@example.com");
    feed(&M, tup(1, 2), MS(0));
    resp(404, "Not Found", "reg", 1, "REGISTER");
    SET(to_uri, "sip:7001@example.com");
    feed(&M, tup(2, 1), MS(3));
    assert_int_equal(n_recs, 1);
    assert_string_equal(nfe(0)->user, "7001");
    assert_string_equal(nfe(0)->domain, "example.com");
    assert_string_equal(nfe(0)->request_uri, "sip:example.com");
}

static void test_only_404_captured(void **state)
{
    (void)state;
    mk();
    resp(404, "Not Found", "only", 3, "INVITE");
    SET(to, "<sip:2002@example.org>;tag=x");
    SET(to_uri, "sip:2002@example.org");
    feed(&M, tup(2, 1), SEC(5));
    flush_to(SEC(10));
    assert_int_equal(n_recs, 1);
    const struct sw_event_not_found *e = nfe(0);
    assert_tuple(&recs[0].ev, 1, 2); /* the reverse of the 404's */
    assert_string_equal(e->method, "INVITE");
    assert_null(e->request_uri);
    assert_string_equal(e->user, "2002");
    assert_string_equal(e->domain, "example.org");
    assert_string_equal(e->to, "<sip:2002@example.org>;tag=x");
    assert_null(e->user_agent);
    assert_null(e->server);
    assert_int_equal(e->rtt, SW_TIME_NONE);
}

static void test_transaction_expiry(void **state)
{
    (void)state;
    mk();
    feed(invite("exp", 1, "sip:1001@example.com"), tup(1, 2), SEC(0));
    tracker_advance(T, MS(31999));
    assert_int_equal(ctr("transactions_active"), 1);
    tracker_advance(T, SEC(32));
    assert_int_equal(ctr("transactions_active"), 0);
    assert_int_equal(ctr("transactions_expired"), 1);
    /* the answer after the timeout: reported from the response alone */
    feed(resp(404, "Not Found", "exp", 1, "INVITE"), tup(2, 1), SEC(40));
    flush_to(SEC(45));
    assert_int_equal(n_recs, 1);
    assert_null(nfe(0)->request_uri);
    assert_int_equal(nfe(0)->rtt, SW_TIME_NONE);
}

/* A ringing INVITE waits for its final response up to Timer C (180 s after
 * the last 1xx), not Timer B: a 404 after a minute of ringing still finds
 * its request. Non-INVITE requests keep Timer F whatever 1xx they get. */
static void test_ringing_invite_keeps_its_request(void **state)
{
    (void)state;
    mk();
    feed(invite("ring", 1, "sip:1002@example.com"), tup(1, 2), SEC(0));
    feed(resp(180, "Ringing", "ring", 1, "INVITE"), tup(2, 1), SEC(1));
    tracker_advance(T, SEC(60));
    assert_int_equal(ctr("transactions_active"), 1);
    feed(resp(404, "Not Found", "ring", 1, "INVITE"), tup(2, 1), SEC(60));
    flush_to(SEC(65));
    assert_int_equal(n_recs, 1);
    assert_string_equal(nfe(0)->request_uri, "sip:1002@example.com");
    assert_int_equal(nfe(0)->rtt, SW_SEC(60));
    /* each 1xx restarts it; silence after the last one ends it */
    feed(invite("ring2", 1, "sip:1003@example.com"), tup(1, 2), SEC(100));
    feed(resp(183, "Session Progress", "ring2", 1, "INVITE"), tup(2, 1), SEC(101));
    feed(resp(180, "Ringing", "ring2", 1, "INVITE"), tup(2, 1), SEC(200));
    tracker_advance(T, SEC(379));
    assert_int_equal(ctr("transactions_active"), 1);
    tracker_advance(T, SEC(380));
    assert_int_equal(ctr("transactions_active"), 0);
    /* OPTIONS with a 1xx: still Timer F (32 s) */
    req("OPTIONS", "opt", 1);
    feed(&M, tup(1, 2), SEC(400));
    feed(resp(100, "Trying", "opt", 1, "OPTIONS"), tup(2, 1), SEC(400));
    tracker_advance(T, SEC(432));
    assert_int_equal(ctr("transactions_active"), 0);
}

/* Spoofed 404s naming long users from many sources cannot grow scan state
 * past max_scan_bytes: the least recently hit sources are evicted. */
static void test_scan_bytes_capped(void **state)
{
    (void)state;
    struct tracker_config cfg;
    tracker_config_default(&cfg);
    cfg.max_scan_bytes = 64 * 1024;
    mk_cfg(&cfg);
    char user[400];
    memset(user, 'u', sizeof user - 1);
    user[sizeof user - 1] = '\0';
    for (int src = 1; src <= 200; src++) {
        for (int i = 0; i < 5; i++) {
            char cid[32], uri[512];
            snprintf(cid, sizeof cid, "sb-%d-%d", src, i);
            snprintf(uri, sizeof uri, "sip:%s%d@example.com", user, i);
            req("INVITE", cid, 1);
            SET(request_uri, uri);
            sw_time ts = SEC(src);
            feed(&M, tup(src % 250 + 1, 2), ts);
            feed(resp(404, "Not Found", cid, 1, "INVITE"), tup(2, src % 250 + 1), ts + 1000);
        }
        assert_true(ctr("scan_bytes_held") <= 64 * 1024 + 4096);
    }
    assert_true(ctr("scan_sources_evicted") > 100);
    assert_true(ctr("scan_bytes_peak") >= ctr("scan_bytes_held"));
}

/* `n` INVITEs from 10.0.0.<src> to distinct users base+i, each answered 404. */
static void enumerate(int src, unsigned base, unsigned n, sw_time start, sw_time step,
                      const char *ua)
{
    for (unsigned i = 0; i < n; i++) {
        char cid[32], uri[64];
        snprintf(cid, sizeof cid, "scan-%d-%u", src, base + i);
        snprintf(uri, sizeof uri, "sip:%u@example.com", base + i);
        const char *method = i % 3 == 2 ? "OPTIONS" : "INVITE";
        req(method, cid, 1);
        SET(request_uri, uri);
        SET(user_agent, ua);
        sw_time ts = start + (sw_time)i * step;
        feed(&M, tup(src, 2), ts);
        feed(resp(404, "Not Found", cid, 1, method), tup(2, src), ts + 10000);
        if (i % 3 != 2)
            feed(ack(cid, 1), tup(src, 2), ts + 10001); /* out 0.5 s later */
    }
}

static void test_enumeration_30_users(void **state)
{
    (void)state;
    mk();
    enumerate(9, 100, 30, SEC(0), DUR_MS(500), "friendly-scanner");
    flush_to(SEC(20));
    assert_int_equal(n_recs, 31);
    /* the scan goes out at the 10th user's 404 (an INVITE), before that
     * user's own event, which waits for its ACK */
    size_t k = 0;
    while (k < n_recs && recs[k].ev.type != SW_EVENT_SCAN)
        k++;
    assert_int_equal(k, 9);
    for (size_t i = 0; i < n_recs; i++)
        assert_int_equal(recs[i].ev.type, i == k ? SW_EVENT_SCAN : SW_EVENT_USER_NOT_FOUND);
    const struct sw_event_scan *s = sce(k);
    assert_int_equal(recs[k].ev.ts, MS(4510));
    assert_string_equal(recs[k].ev.call_id, "scan-9-109");
    assert_tuple(&recs[k].ev, 9, 2);
    assert_string_equal(s->src_ip, "10.0.0.9");
    assert_int_equal(s->count, 10);
    assert_int_equal(s->distinct_users, 10);
    assert_int_equal(s->n_users, 10);
    for (size_t i = 0; i < 10; i++) {
        char want[32];
        snprintf(want, sizeof want, "%zu@example.com", 100 + i);
        assert_string_equal(s->users[i], want);
    }
    assert_int_equal(s->n_methods, 2);
    assert_string_equal(s->methods[0], "INVITE");
    assert_string_equal(s->methods[1], "OPTIONS");
    assert_int_equal(s->n_user_agents, 1);
    assert_string_equal(s->user_agents[0], "friendly-scanner");
    assert_int_equal(s->first_time, MS(10));
    assert_int_equal(s->last_time, MS(4510));
    assert_int_equal(s->window, SW_SEC(60));
    assert_int_equal(ctr("scan_events"), 1);
    assert_int_equal(ctr("not_found_events"), 30);
}

static void test_slow_enumeration_no_scan(void **state)
{
    (void)state;
    mk();
    enumerate(9, 100, 12, SEC(0), SW_SEC(7), "slow");
    flush_to(SEC(100));
    assert_int_equal(n_recs, 12);
    assert_int_equal(ctr("scan_events"), 0);
    /* one user asked for 15 times: many hits, one distinct user: no scan */
    for (unsigned i = 0; i < 15; i++) {
        char cid[16];
        snprintf(cid, sizeof cid, "same-%u", i);
        feed(invite(cid, 1, "sip:4242@example.com"), tup(8, 2), SEC(200) + i);
        feed(resp(404, "Not Found", cid, 1, "INVITE"), tup(2, 8), SEC(200) + i + 1);
    }
    flush_to(SEC(300));
    assert_int_equal(ctr("scan_events"), 0);
    /* 6 s apart: the 10th lands inside the window of the 1st */
    enumerate(7, 500, 10, SEC(1000), SW_SEC(6), "edge");
    flush_to(SEC(1100));
    assert_int_equal(ctr("scan_events"), 1);
}

static void test_scan_two_sources_and_rescan(void **state)
{
    (void)state;
    mk();
    /* 10.0.0.9 one user a second from 0 s to 69 s; 10.0.0.8 from 0.5 s, ten users */
    for (unsigned i = 0; i < 70; i++) {
        enumerate(9, 1000 + i, 1, SEC(i), 0, "s9");
        if (i < 10)
            enumerate(8, 2000 + i, 1, MS(i * 1000 + 500), 0, "s8");
    }
    flush_to(SEC(100));
    size_t scans = 0;
    size_t idx[4] = {0};
    for (size_t i = 0; i < n_recs; i++)
        if (recs[i].ev.type == SW_EVENT_SCAN && scans < 4)
            idx[scans++] = i;
    assert_int_equal(scans, 3);
    assert_string_equal(sce(idx[0])->src_ip, "10.0.0.9");
    assert_int_equal(recs[idx[0]].ev.ts, MS(9010));
    assert_int_equal(sce(idx[0])->count, 10);
    assert_string_equal(sce(idx[1])->src_ip, "10.0.0.8");
    assert_int_equal(recs[idx[1]].ev.ts, MS(9510));
    assert_int_equal(sce(idx[1])->count, 10);
    assert_string_equal(sce(idx[1])->users[0], "2000@example.com");
    /* the second scan of 10.0.0.9: one window after the first */
    assert_string_equal(sce(idx[2])->src_ip, "10.0.0.9");
    assert_int_equal(recs[idx[2]].ev.ts, MS(69010));
    assert_int_equal(sce(idx[2])->count, 60); /* hits in (9.01 s, 69.01 s] */
    assert_int_equal(sce(idx[2])->distinct_users, 60);
    assert_int_equal(sce(idx[2])->n_users, SW_SCAN_MAX_SAMPLE);
    assert_string_equal(sce(idx[2])->users[0], "1010@example.com");
    assert_int_equal(sce(idx[2])->first_time, MS(10010));
    assert_int_equal(ctr("scan_events"), 3);
}

static void test_scan_caps(void **state)
{
    (void)state;
    struct tracker_config cfg;
    tracker_config_default(&cfg);
    cfg.max_scan_sources = 2;
    cfg.max_scan_users = 12;
    mk_cfg(&cfg);
    enumerate(9, 100, 20, SEC(0), DUR_MS(100), "capped");
    flush_to(SEC(5));
    assert_int_equal(ctr("scan_events"), 1);
    assert_int_equal(ctr("scan_hits_dropped"), 8);
    enumerate(8, 100, 1, SEC(10), 0, "b");
    enumerate(7, 100, 1, SEC(11), 0, "c"); /* evicts 10.0.0.9, the least recent */
    flush_to(MS(11600));
    assert_int_equal(ctr("scan_sources_evicted"), 1);
    /* 10.0.0.9 comes back with a fresh window: no memory of its last scan */
    enumerate(9, 300, 10, SEC(12), DUR_MS(100), "capped");
    flush_to(SEC(20));
    assert_int_equal(ctr("scan_events"), 2);
    assert_int_equal(ctr("scan_sources_evicted"), 2);
}

static void test_summary_top_ties(void **state)
{
    (void)state;
    mk();
    /* users u00..u11 once each, u05 and u02 twice more; sources .1 .. .3 */
    unsigned k = 0;
    for (unsigned i = 0; i < 12; i++) {
        unsigned times = (i == 5 || i == 2) ? 3 : 1;
        for (unsigned j = 0; j < times; j++, k++) {
            char cid[16], uri[64];
            snprintf(cid, sizeof cid, "sum%u", k);
            snprintf(uri, sizeof uri, "sip:u%02u@example.com", i);
            int src = 1 + (int)(k % 3);
            feed(invite(cid, 1, uri), tup(src, 5), MS(k * 1000));
            feed(resp(k == 0 ? 604 : 404, "Not Found", cid, 1, "INVITE"), tup(5, src),
                 MS(k * 1000 + 5));
        }
    }
    assert_int_equal(k, 16);
    flush_to(SEC(30));
    struct sw_not_found_summary nf;
    struct sw_transfer_summary xs;
    tracker_summary(T, &nf, &xs);
    assert_int_equal(nf.status_404, 15);
    assert_int_equal(nf.status_604, 1);
    assert_int_equal(nf.n_top_users, 10);
    static const char *const want[10] = {
        "u02@example.com", "u05@example.com", "u00@example.com", "u01@example.com",
        "u03@example.com", "u04@example.com", "u06@example.com", "u07@example.com",
        "u08@example.com", "u09@example.com",
    };
    for (size_t i = 0; i < 10; i++) {
        assert_string_equal(nf.top_users[i].key, want[i]);
        assert_int_equal(nf.top_users[i].count, i < 2 ? 3 : 1);
    }
    /* 16 hits over 3 sources: 6, 5, 5 -> .1 first, then .2 before .3 */
    assert_int_equal(nf.n_top_sources, 3);
    assert_string_equal(nf.top_sources[0].key, "10.0.0.1");
    assert_int_equal(nf.top_sources[0].count, 6);
    assert_string_equal(nf.top_sources[1].key, "10.0.0.2");
    assert_int_equal(nf.top_sources[1].count, 5);
    assert_string_equal(nf.top_sources[2].key, "10.0.0.3");
    assert_int_equal(nf.top_sources[2].count, 5);
    assert_int_equal(ctr("summary_keys_dropped"), 0);
}

static void test_summary_keys_bounded(void **state)
{
    (void)state;
    struct tracker_config cfg;
    tracker_config_default(&cfg);
    cfg.max_summary_keys = 2;
    mk_cfg(&cfg);
    enumerate(9, 100, 5, SEC(0), SW_SEC(1), "x");
    enumerate(8, 100, 1, SEC(10), 0, "x"); /* user 100 again: already counted */
    flush_to(SEC(11));
    struct sw_not_found_summary nf;
    struct sw_transfer_summary xs;
    tracker_summary(T, &nf, &xs);
    assert_int_equal(nf.n_top_users, 2);
    assert_string_equal(nf.top_users[0].key, "100@example.com");
    assert_int_equal(nf.top_users[0].count, 2);
    assert_string_equal(nf.top_users[1].key, "101@example.com");
    assert_int_equal(ctr("summary_keys_dropped"), 3); /* users 102..104 */
    assert_int_equal(nf.n_top_sources, 2);
    assert_string_equal(nf.top_sources[0].key, "10.0.0.9");
    assert_int_equal(nf.top_sources[0].count, 5);
    /* a third source finds the table full */
    enumerate(7, 900, 1, SEC(11), 0, "x");
    flush_to(SEC(12));
    assert_int_equal(ctr("summary_keys_dropped"), 5); /* user 900 and 10.0.0.7 */
}

static void test_pending_bounded(void **state)
{
    (void)state;
    struct tracker_config cfg;
    tracker_config_default(&cfg);
    cfg.max_transactions = 1000;
    mk_cfg(&cfg);
    for (unsigned i = 0; i < 100000; i++) {
        char cid[24];
        snprintf(cid, sizeof cid, "p%u", i);
        feed(req("OPTIONS", cid, 1), tup(1, 2), T0 + i);
    }
    assert_int_equal(ctr("transactions_active"), 1000);
    assert_int_equal(ctr("transactions_evicted"), 99000);
    /* the oldest survivor is p99000: its 404 still finds its request */
    feed(resp(404, "Not Found", "p99000", 1, "OPTIONS"), tup(2, 1), T0 + 100000);
    assert_int_equal(n_recs, 1);
    assert_non_null(nfe(0)->request_uri);
    /* an evicted one: reported from the response alone */
    feed(resp(404, "Not Found", "p5", 1, "OPTIONS"), tup(2, 1), T0 + 100001);
    assert_int_equal(n_recs, 2);
    assert_null(nfe(1)->request_uri);
    tracker_advance(T, SEC(40));
    assert_int_equal(ctr("transactions_active"), 0);
    assert_int_equal(ctr("transactions_expired"), 999);
}

/* ================= determinism ================= */

static void ev_text(const struct sw_event *ev, char *buf, size_t cap)
{
    char src[SW_ADDRSTRLEN], dst[SW_ADDRSTRLEN];
    int n =
        snprintf(buf, cap, "%d %lld %s %s:%u>%s:%u/%u ", (int)ev->type, (long long)ev->ts,
                 ev->call_id ? ev->call_id : "-", sw_addr_str(&ev->tuple.src, src), ev->tuple.sport,
                 sw_addr_str(&ev->tuple.dst, dst), ev->tuple.dport, ev->tuple.transport);
    size_t o = (size_t)n;
#define S(x) ((x) ? (x) : "-")
    if (ev->type == SW_EVENT_TRANSFER) {
        const struct sw_event_transfer *x = &ev->u.transfer;
        snprintf(buf + o, cap - o, "%d %s %s %d %u %d %s %u %d %s %lld %lld %lld %s %d",
                 (int)x->outcome, S(x->refer_to), S(x->referred_by), x->replaces, x->refer_cseq,
                 x->refer_status, S(x->refer_reason), x->notify_count, x->final_status,
                 S(x->final_reason), (long long)x->refer_time, (long long)x->accepted_time,
                 (long long)x->wait, S(x->subscription_state), x->truncated);
    } else if (ev->type == SW_EVENT_USER_NOT_FOUND) {
        const struct sw_event_not_found *x = &ev->u.not_found;
        snprintf(buf + o, cap - o, "%s %s %s %s %s %s %s %s %d %s %s %lld", S(x->method),
                 S(x->request_uri), S(x->user), S(x->domain), S(x->from), S(x->to),
                 S(x->user_agent), S(x->server), x->status, S(x->reason), S(x->warning),
                 (long long)x->rtt);
    } else {
        const struct sw_event_scan *x = &ev->u.scan;
        n = snprintf(buf + o, cap - o, "%s %llu %llu %lld %lld %lld", x->src_ip,
                     (unsigned long long)x->count, (unsigned long long)x->distinct_users,
                     (long long)x->first_time, (long long)x->last_time, (long long)x->window);
        o += (size_t)n;
        for (size_t i = 0; i < x->n_users && o < cap; i++)
            o += (size_t)snprintf(buf + o, cap - o, " u=%s", x->users[i]);
        for (size_t i = 0; i < x->n_methods && o < cap; i++)
            o += (size_t)snprintf(buf + o, cap - o, " m=%s", x->methods[i]);
        for (size_t i = 0; i < x->n_user_agents && o < cap; i++)
            o += (size_t)snprintf(buf + o, cap - o, " a=%s", x->user_agents[i]);
    }
#undef S
}

static void mixed_run(char **out, size_t *n_out)
{
    mk();
    send_refer("dm1", 1, SEC(0));
    send_notify("dm1", 1, 1, 200, "OK", "terminated", MS(100));
    send_resp(202, "Accepted", "dm1", 1, MS(200));
    send_refer("dm2", 1, SEC(1));
    send_resp(202, "Accepted", "dm2", 1, SEC(1));
    send_refer("dm3", 1, SEC(1));
    send_resp(603, "Decline", "dm3", 1, SEC(2));
    send_resp(202, "Accepted", "dm4", 4, SEC(2));
    send_notify("dm4", 3, -1, 180, "Ringing", "active;expires=20", SEC(3));
    enumerate(9, 100, 25, SEC(3), DUR_MS(200), "friendly-scanner");
    enumerate(8, 700, 11, SEC(4), DUR_MS(300), "sipvicious");
    send_refer("dm5", 1, SEC(9));
    tracker_advance(T, SEC(30));
    tracker_finish(T, SEC(35));
    *n_out = n_recs;
    for (size_t i = 0; i < n_recs; i++) {
        out[i] = malloc(4096);
        assert_non_null(out[i]);
        ev_text(&recs[i].ev, out[i], 4096);
    }
    tracker_free(T);
    T = NULL;
}

static void test_determinism(void **state)
{
    (void)state;
    static char *a[MAX_RECS], *b[MAX_RECS];
    size_t na = 0, nb = 0;
    mixed_run(a, &na);
    mixed_run(b, &nb);
    assert_int_equal(na, 25 + 11 + 2 + 5);
    assert_int_equal(na, nb);
    for (size_t i = 0; i < na; i++) {
        assert_string_equal(a[i], b[i]);
        free(a[i]);
        free(b[i]);
    }
}

int main(void)
{
#define TC(f) cmocka_unit_test_teardown(f, teardown)
    const struct CMUnitTest tests[] = {
        TC(test_completed),
        TC(test_failed_and_replaces),
        TC(test_no_notify_at_deadline),
        TC(test_notify_incomplete_final_timeout),
        TC(test_terminated_without_final),
        TC(test_expires),
        TC(test_rejected_challenge_then_resent),
        TC(test_challenge_never_retried),
        TC(test_notify_refused),
        TC(test_no_response),
        TC(test_refer_sub_false_on_2xx),
        TC(test_refer_sub_false_on_refer_only),
        TC(test_evicted_at_cap),
        TC(test_notify_before_202),
        TC(test_retransmitted_refer_and_notify),
        TC(test_two_refers_with_id),
        TC(test_notify_without_id),
        TC(test_out_of_dialog_tags),
        TC(test_tags_not_required),
        TC(test_proxy_two_legs),
        TC(test_mid_dialog_202_only),
        TC(test_other_event_packages_ignored),
        TC(test_finish_truncated),
        TC(test_timer_order_and_stamps),
        TC(test_heap_many_transfers),
        TC(test_404_waits_for_ack),
        TC(test_404_held_bounded),
        TC(test_404_after_100),
        TC(test_604),
        TC(test_other_statuses_ignored),
        TC(test_404_retransmitted_once),
        TC(test_404_two_legs_once),
        TC(test_404_other_methods),
        TC(test_only_404_captured),
        TC(test_register_404_user_from_to),
        TC(test_ringing_invite_keeps_its_request),
        TC(test_scan_bytes_capped),
        TC(test_transaction_expiry),
        TC(test_enumeration_30_users),
        TC(test_slow_enumeration_no_scan),
        TC(test_scan_two_sources_and_rescan),
        TC(test_scan_caps),
        TC(test_summary_top_ties),
        TC(test_summary_keys_bounded),
        TC(test_pending_bounded),
        TC(test_determinism),
    };
    return cmocka_run_group_tests_name("tracker", tests, NULL, NULL);
}
