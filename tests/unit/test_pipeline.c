/*
 * test_pipeline.c - the stages wired together on hand-built frames: the same
 * transfer delivered over UDP, over TCP cut and packed differently, and in IP
 * fragments gives the same event; timers fire on capture time; the clock
 * never moves backwards; the stats event carries every stage's counters.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sipwatch/pipeline.h"
#include "sipwatch/sipmsg.h"

/* ---- recorded events ---- */
struct rec {
    enum sw_event_type type;
    sw_time ts;
    char call_id[128];
    int outcome;
    int status;
    unsigned notify_count;
    bool truncated;
    char user[64];
    uint16_t sport, dport;
    uint64_t sip_messages;
    uint64_t clock_backwards, jumps_forward, rebased;
    uint64_t stream_held, stream_dropped;
    struct sw_event_origin origin; /* as the pipeline stamped it */
};
static struct rec recs[64];
static size_t n_recs;

static uint64_t counter(const struct sw_counters *c, const char *name)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->v[i].name, name) == 0)
            return c->v[i].value;
    return UINT64_MAX;
}

static void record(void *ctx, const struct sw_event *ev)
{
    (void)ctx;
    if (n_recs == 64)
        return;
    struct rec *r = &recs[n_recs++];
    memset(r, 0, sizeof *r);
    r->type = ev->type;
    r->ts = ev->ts;
    if (ev->call_id != NULL)
        snprintf(r->call_id, sizeof r->call_id, "%s", ev->call_id);
    r->sport = ev->tuple.sport;
    r->dport = ev->tuple.dport;
    r->origin = ev->origin;
    if (ev->type == SW_EVENT_TRANSFER) {
        r->outcome = (int)ev->u.transfer.outcome;
        r->status = ev->u.transfer.final_status;
        r->notify_count = ev->u.transfer.notify_count;
        r->truncated = ev->u.transfer.truncated;
    } else if (ev->type == SW_EVENT_USER_NOT_FOUND) {
        r->status = ev->u.not_found.status;
        snprintf(r->user, sizeof r->user, "%s", ev->u.not_found.user ? ev->u.not_found.user : "");
    } else if (ev->type == SW_EVENT_STATS) {
        r->sip_messages = counter(ev->u.stats.counters, "sip_messages");
        r->clock_backwards = counter(ev->u.stats.counters, "clock_backwards");
        r->jumps_forward = counter(ev->u.stats.counters, "clock_jumps_forward");
        r->rebased = counter(ev->u.stats.counters, "clock_rebased");
        r->stream_held = counter(ev->u.stats.counters, "sip_stream_bytes_held");
        r->stream_dropped = counter(ev->u.stats.counters, "sip_stream_bytes_dropped");
    }
}

/* ---- frame builders (Ethernet / IPv4 / UDP or TCP) ---- */
static uint8_t frame[70000];

static size_t put_eth_ip(uint8_t *f, uint8_t proto, size_t l4len, uint16_t id, uint16_t fragword,
                         int dir)
{
    static const uint8_t eth[] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0x00 };
    memcpy(f, eth, sizeof eth);
    uint8_t *ip = f + 14;
    size_t tot = 20 + l4len;
    uint8_t a = dir == 0 ? 1 : 2, b = dir == 0 ? 2 : 1;
    uint8_t h[20] = { 0x45, 0, (uint8_t)(tot >> 8), (uint8_t)tot, (uint8_t)(id >> 8), (uint8_t)id,
                      (uint8_t)(fragword >> 8), (uint8_t)fragword, 64, proto, 0, 0,
                      192, 0, 2, a, 192, 0, 2, b };
    memcpy(ip, h, 20);
    return 34;
}

static size_t udp_frame(const char *sip, int dir)
{
    size_t n = strlen(sip);
    size_t off = put_eth_ip(frame, 17, 8 + n, 1, 0, dir);
    uint8_t u[8] = { 0x13, 0xc4, 0x13, 0xc4, (uint8_t)((8 + n) >> 8), (uint8_t)(8 + n), 0, 0 };
    memcpy(frame + off, u, 8);
    memcpy(frame + off + 8, sip, n);
    return off + 8 + n;
}

static size_t tcp_frame(const uint8_t *data, size_t n, uint32_t seq, uint8_t flags, int dir)
{
    size_t off = put_eth_ip(frame, 6, 20 + n, 1, 0, dir);
    uint16_t sp = dir == 0 ? 40000 : 5060, dp = dir == 0 ? 5060 : 40000;
    uint8_t t[20] = { (uint8_t)(sp >> 8), (uint8_t)sp, (uint8_t)(dp >> 8), (uint8_t)dp,
                      (uint8_t)(seq >> 24), (uint8_t)(seq >> 16), (uint8_t)(seq >> 8), (uint8_t)seq,
                      0, 0, 0, 0, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0 };
    memcpy(frame + off, t, 20);
    if (n > 0)
        memcpy(frame + off + 20, data, n);
    return off + 20 + n;
}

#define CALLID "xfer-1@192.0.2.1"
static const char *REFER =
    "REFER sip:bob@192.0.2.2 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-r1\r\n"
    "From: <sip:alice@192.0.2.1>;tag=a1\r\nTo: <sip:bob@192.0.2.2>;tag=b1\r\n"
    "Call-ID: " CALLID "\r\nCSeq: 2 REFER\r\n"
    "Refer-To: <sip:carol@192.0.2.3>\r\nReferred-By: <sip:alice@192.0.2.1>\r\n"
    "Content-Length: 0\r\n\r\n";
static const char *ACCEPTED =
    "SIP/2.0 202 Accepted\r\n"
    "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-r1\r\n"
    "From: <sip:alice@192.0.2.1>;tag=a1\r\nTo: <sip:bob@192.0.2.2>;tag=b1\r\n"
    "Call-ID: " CALLID "\r\nCSeq: 2 REFER\r\nContent-Length: 0\r\n\r\n";
static const char *NOTIFY =
    "NOTIFY sip:alice@192.0.2.1 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 192.0.2.2:5060;branch=z9hG4bK-n1\r\n"
    "From: <sip:bob@192.0.2.2>;tag=b1\r\nTo: <sip:alice@192.0.2.1>;tag=a1\r\n"
    "Call-ID: " CALLID "\r\nCSeq: 10 NOTIFY\r\nEvent: refer;id=2\r\n"
    "Subscription-State: terminated;reason=noresource\r\n"
    "Content-Type: message/sipfrag;version=2.0\r\nContent-Length: 16\r\n\r\n"
    "SIP/2.0 200 OK\r\n";

static struct pipeline *mk(sw_time notify_timeout)
{
    struct pipeline_config cfg;
    pipeline_config_default(&cfg);
    if (notify_timeout > 0)
        cfg.tracker.notify_timeout = notify_timeout;
    char err[SW_ERRBUF_SIZE];
    n_recs = 0;
    struct pipeline *p = pipeline_new(&cfg, record, NULL, err);
    assert_non_null(p);
    return p;
}

static const sw_time T0 = INT64_C(1700000000000000);

static void finish(struct pipeline *p)
{
    pipeline_finish(p);
    pipeline_emit_stats(p, true);
    pipeline_free(p);
}

static const struct rec *find(enum sw_event_type t)
{
    for (size_t i = 0; i < n_recs; i++)
        if (recs[i].type == t)
            return &recs[i];
    return NULL;
}

static void assert_completed_transfer(uint16_t sport)
{
    const struct rec *r = find(SW_EVENT_TRANSFER);
    assert_non_null(r);
    assert_string_equal(r->call_id, CALLID);
    assert_int_equal(r->outcome, SW_OUTCOME_COMPLETED);
    assert_int_equal(r->status, 200);
    assert_int_equal(r->notify_count, 1);
    assert_false(r->truncated);
    assert_int_equal(r->sport, sport);
    assert_true(r->ts == T0 + 20000); /* the NOTIFY's time */
    const struct rec *s = &recs[n_recs - 1];
    assert_int_equal(s->type, SW_EVENT_STATS);
    assert_int_equal(s->sip_messages, 3);
}

static void test_udp_transfer(void **state)
{
    (void)state;
    struct pipeline *p = mk(0);
    pipeline_frame(p, 1, sw_bytes_make(frame, udp_frame(REFER, 0)), T0);
    pipeline_frame(p, 1, sw_bytes_make(frame, udp_frame(ACCEPTED, 1)), T0 + 10000);
    pipeline_frame(p, 1, sw_bytes_make(frame, udp_frame(NOTIFY, 1)), T0 + 20000);
    finish(p);
    assert_int_equal(n_recs, 2);
    assert_completed_transfer(5060);
}

/* The read-ahead thread's parse (pipeline_ahead) of each frame, handed to
 * the pipeline with it: the same events and counters, every parse taken
 * from the packing; a packing of another frame is not taken (the pipeline
 * parses), nor is one for a TCP segment made. */
static void test_udp_transfer_parsed_ahead(void **state)
{
    (void)state;
    struct pipeline_config cfg;
    pipeline_config_default(&cfg);
    struct pipeline_ahead *a = pipeline_ahead_new(&cfg);
    assert_non_null(a);
    static uint8_t blob[16384], other[2048];
    assert_true(pipeline_ahead_max() <= sizeof blob);
    struct pipeline *p = mk(0);
    const char *msgs[] = { REFER, ACCEPTED, NOTIFY };
    for (int i = 0; i < 3; i++) {
        size_t n = udp_frame(msgs[i], i == 0 ? 0 : 1);
        struct sw_bytes f = sw_bytes_make(frame, n);
        size_t k = pipeline_ahead(a, 1, f, T0 + 10000 * i, blob, sizeof blob);
        assert_true(k > 0 && k <= pipeline_ahead_max());
        pipeline_set_ahead(p, sw_bytes_make(blob, k));
        pipeline_frame(p, 1, f, T0 + 10000 * i);
    }
    assert_int_equal(pipeline_ahead_used(p), 3);
    finish(p);
    assert_int_equal(n_recs, 2);
    assert_completed_transfer(5060);

    p = mk(0);
    /* the same bytes at another address: its own parse, not the packing */
    size_t n = udp_frame(REFER, 0);
    memcpy(other, frame, n);
    size_t k = pipeline_ahead(a, 1, sw_bytes_make(other, n), T0, blob, sizeof blob);
    assert_true(k > 0);
    pipeline_set_ahead(p, sw_bytes_make(blob, k));
    pipeline_frame(p, 1, sw_bytes_make(frame, n), T0);
    assert_int_equal(pipeline_ahead_used(p), 0);
    /* a packing is for one frame only */
    pipeline_frame(p, 1, sw_bytes_make(other, n), T0 + 1);
    assert_int_equal(pipeline_ahead_used(p), 0);
    /* TCP, and what does not decode, are not parsed ahead */
    size_t t = tcp_frame((const uint8_t *)REFER, strlen(REFER), 1, 0x18, 0);
    assert_int_equal(pipeline_ahead(a, 1, sw_bytes_make(frame, t), T0, blob, sizeof blob), 0);
    assert_int_equal(pipeline_ahead(a, 1, sw_bytes_make(frame, 20), T0, blob, sizeof blob), 0);
    /* nor with too little room */
    n = udp_frame(REFER, 0);
    assert_int_equal(pipeline_ahead(a, 1, sw_bytes_make(frame, n), T0, blob, 100), 0);
    pipeline_ahead_free(a);
    finish(p);
}

/* The three messages as one TCP byte stream per direction, cut into 40-byte
 * segments, the second and third segment swapped, one duplicated. */
static void test_tcp_transfer_segmented(void **state)
{
    (void)state;
    struct pipeline *p = mk(0);
    uint8_t syn = 0x02, ack = 0x10;
    pipeline_frame(p, 1, sw_bytes_make(frame, tcp_frame(NULL, 0, 999, syn, 0)), T0 - 2);
    pipeline_frame(p, 1, sw_bytes_make(frame, tcp_frame(NULL, 0, 4999, syn | ack, 1)), T0 - 1);
    const char *msgs[3] = { REFER, ACCEPTED, NOTIFY };
    int dirs[3] = { 0, 1, 1 };
    uint32_t seq[2] = { 1000, 5000 };
    sw_time ts[3] = { T0, T0 + 10000, T0 + 20000 };
    for (int m = 0; m < 3; m++) {
        size_t n = strlen(msgs[m]);
        const uint8_t *b = (const uint8_t *)msgs[m];
        size_t cuts = (n + 39) / 40;
        for (size_t k = 0; k < cuts; k++) {
            size_t i = k;
            if (k == 1 && cuts > 2)
                i = 2;
            else if (k == 2)
                i = 1;
            size_t off = i * 40, len = SW_MIN((size_t)40, n - off);
            size_t fl = tcp_frame(b + off, len, seq[dirs[m]] + (uint32_t)off, ack, dirs[m]);
            pipeline_frame(p, 1, sw_bytes_make(frame, fl), ts[m]);
            if (k == 0)
                pipeline_frame(p, 1, sw_bytes_make(frame, fl), ts[m]); /* duplicate */
        }
        seq[dirs[m]] += (uint32_t)n;
    }
    finish(p);
    assert_completed_transfer(40000);
}

/* The REFER in three IPv4 fragments, delivered last-first. */
static void test_fragmented_refer(void **state)
{
    (void)state;
    struct pipeline *p = mk(0);
    size_t n = strlen(REFER);
    static uint8_t dgram[2048];
    uint8_t u[8] = { 0x13, 0xc4, 0x13, 0xc4, (uint8_t)((8 + n) >> 8), (uint8_t)(8 + n), 0, 0 };
    memcpy(dgram, u, 8);
    memcpy(dgram + 8, REFER, n);
    size_t total = 8 + n, chunk = 104; /* multiple of 8 */
    size_t nfrag = (total + chunk - 1) / chunk;
    for (size_t k = nfrag; k-- > 0;) {
        size_t off = k * chunk, len = SW_MIN(chunk, total - off);
        uint16_t fw = (uint16_t)((off / 8) | (k + 1 < nfrag ? 0x2000 : 0));
        size_t h = put_eth_ip(frame, 17, len, 77, fw, 0);
        memcpy(frame + h, dgram + off, len);
        pipeline_frame(p, 1, sw_bytes_make(frame, h + len), T0 - (sw_time)(nfrag - k));
    }
    pipeline_frame(p, 1, sw_bytes_make(frame, udp_frame(ACCEPTED, 1)), T0 + 10000);
    pipeline_frame(p, 1, sw_bytes_make(frame, udp_frame(NOTIFY, 1)), T0 + 20000);
    finish(p);
    assert_int_equal(n_recs, 2);
    assert_completed_transfer(5060);
}

/* no NOTIFY: the timer fires at its deadline, on capture time, when a later
 * packet moves the clock past it. */
static void test_no_notify_timer_on_capture_time(void **state)
{
    (void)state;
    struct pipeline *p = mk(SW_SEC(2));
    pipeline_frame(p, 1, sw_bytes_make(frame, udp_frame(REFER, 0)), T0);
    pipeline_frame(p, 1, sw_bytes_make(frame, udp_frame(ACCEPTED, 1)), T0 + 10000);
    assert_int_equal(n_recs, 0);
    pipeline_advance(p, T0 + SW_SEC(60));
    assert_int_equal(n_recs, 1);
    assert_int_equal(recs[0].outcome, SW_OUTCOME_NO_NOTIFY);
    assert_true(recs[0].ts == T0 + 10000 + SW_SEC(2));
    assert_false(recs[0].truncated);
    finish(p);
}

static void test_clock_never_backwards(void **state)
{
    (void)state;
    struct pipeline *p = mk(0);
    pipeline_frame(p, 1, sw_bytes_make(frame, udp_frame(REFER, 0)), T0 + SW_SEC(5));
    pipeline_frame(p, 1, sw_bytes_make(frame, udp_frame(ACCEPTED, 1)), T0); /* older */
    assert_true(pipeline_now(p) == T0 + SW_SEC(5));
    finish(p);
    const struct rec *s = &recs[n_recs - 1];
    assert_int_equal(s->type, SW_EVENT_STATS);
    assert_int_equal(s->clock_backwards, 1);
    const struct rec *r = find(SW_EVENT_TRANSFER);
    assert_non_null(r);
    assert_int_equal(r->outcome, SW_OUTCOME_NO_NOTIFY);
    assert_true(r->truncated);
}

/* Live idle ticks behind the clock are not frames: clock_backwards stays 0. */
static void test_idle_ticks_not_counted(void **state)
{
    (void)state;
    struct pipeline *p = mk(0);
    pipeline_frame(p, 1, sw_bytes_make(frame, udp_frame(REFER, 0)), T0 + SW_SEC(5));
    for (int i = 0; i < 3; i++)
        pipeline_advance(p, T0 + SW_SEC(i));
    finish(p);
    assert_int_equal(recs[n_recs - 1].clock_backwards, 0);
}

static const char *OPTIONS_PING =
    "OPTIONS sip:bob@192.0.2.2 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-o1\r\n"
    "From: <sip:alice@192.0.2.1>;tag=o1\r\nTo: <sip:bob@192.0.2.2>\r\n"
    "Call-ID: ping@192.0.2.1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";

/* One frame stamped a year ahead between the 202 and the NOTIFY: the clock
 * does not follow it, the transfer completes at the NOTIFY's time. */
static void test_clock_jump_forward(void **state)
{
    (void)state;
    struct pipeline *p = mk(0);
    pipeline_frame(p, 1, sw_bytes_make(frame, udp_frame(REFER, 0)), T0);
    pipeline_frame(p, 1, sw_bytes_make(frame, udp_frame(ACCEPTED, 1)), T0 + 10000);
    pipeline_frame(p, 1, sw_bytes_make(frame, udp_frame(OPTIONS_PING, 0)),
                   T0 + SW_SEC(365 * 86400));
    pipeline_frame(p, 1, sw_bytes_make(frame, udp_frame(NOTIFY, 1)), T0 + 20000);
    finish(p);
    const struct rec *r = find(SW_EVENT_TRANSFER);
    assert_non_null(r);
    assert_int_equal(r->outcome, SW_OUTCOME_COMPLETED);
    assert_true(r->ts == T0 + 20000);
    const struct rec *s = &recs[n_recs - 1];
    assert_int_equal(s->jumps_forward, 1);
    assert_int_equal(s->clock_backwards, 0);
    assert_int_equal(s->rebased, 0);
}

/* The second half of the capture is an hour earlier: after
 * PIPELINE_CLOCK_AGREE frames the clock re-bases and timers fire again. */
static void test_clock_rebase_backward(void **state)
{
    (void)state;
    struct pipeline *p = mk(SW_SEC(2));
    pipeline_frame(p, 1, sw_bytes_make(frame, udp_frame(OPTIONS_PING, 0)), T0);
    sw_time t1 = T0 - SW_SEC(3600);
    pipeline_frame(p, 1, sw_bytes_make(frame, udp_frame(REFER, 0)), t1);
    pipeline_frame(p, 1, sw_bytes_make(frame, udp_frame(ACCEPTED, 1)), t1 + 10000);
    for (int i = 1; i <= 30; i++)
        pipeline_frame(p, 1, sw_bytes_make(frame, udp_frame(OPTIONS_PING, 0)), t1 + SW_SEC(i));
    assert_int_equal(n_recs, 1); /* fired by the timer, before the end of input */
    assert_int_equal(recs[0].outcome, SW_OUTCOME_NO_NOTIFY);
    finish(p);
    assert_int_equal(recs[n_recs - 1].rebased, 1);
}

static void test_not_found(void **state)
{
    (void)state;
    struct pipeline *p = mk(0);
    const char *inv = "INVITE sip:4711@192.0.2.2 SIP/2.0\r\n"
                      "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-i1\r\n"
                      "From: <sip:alice@192.0.2.1>;tag=a9\r\nTo: <sip:4711@192.0.2.2>\r\n"
                      "Call-ID: nf-1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
    const char *nf = "SIP/2.0 404 Not Found\r\n"
                     "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-i1\r\n"
                     "From: <sip:alice@192.0.2.1>;tag=a9\r\nTo: <sip:4711@192.0.2.2>;tag=x\r\n"
                     "Call-ID: nf-1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
    pipeline_frame(p, 1, sw_bytes_make(frame, udp_frame(inv, 0)), T0);
    pipeline_frame(p, 1, sw_bytes_make(frame, udp_frame(nf, 1)), T0 + 1000);
    pipeline_frame(p, 1, sw_bytes_make(frame, udp_frame(nf, 1)), T0 + 501000); /* retransmission */
    finish(p);
    assert_int_equal(n_recs, 2);
    assert_int_equal(recs[0].type, SW_EVENT_USER_NOT_FOUND);
    assert_int_equal(recs[0].status, 404);
    assert_string_equal(recs[0].user, "4711");
    assert_string_equal(recs[0].call_id, "nf-1");
}

/* HEP v3 over TCP (port 9060): records cut across segments and packed two
 * in one; the SIP inside gives the same transfer, with HEP's addresses. */
static size_t hep3_record(uint8_t *out, const char *sip, sw_time ts)
{
    size_t n = 6;
    memcpy(out, "HEP3", 4);
#define CHUNK(type, len)                                                                           \
    do {                                                                                           \
        out[n] = 0;                                                                                \
        out[n + 1] = 0;                                                                            \
        out[n + 2] = 0;                                                                            \
        out[n + 3] = (type);                                                                       \
        out[n + 4] = (uint8_t)((6 + (len)) >> 8);                                                  \
        out[n + 5] = (uint8_t)(6 + (len));                                                         \
        n += 6;                                                                                    \
    } while (0)
    CHUNK(1, 1);
    out[n++] = 2; /* IPv4 */
    CHUNK(2, 1);
    out[n++] = 17; /* UDP */
    CHUNK(3, 4);
    memcpy(out + n, (const uint8_t[]){ 198, 51, 100, 1 }, 4);
    n += 4;
    CHUNK(4, 4);
    memcpy(out + n, (const uint8_t[]){ 198, 51, 100, 2 }, 4);
    n += 4;
    CHUNK(7, 2);
    out[n++] = 0x13;
    out[n++] = 0xc4;
    CHUNK(8, 2);
    out[n++] = 0x13;
    out[n++] = 0xc4;
    uint32_t sec = (uint32_t)(ts / SW_USEC_PER_SEC), usec = (uint32_t)(ts % SW_USEC_PER_SEC);
    CHUNK(9, 4);
    for (int i = 3; i >= 0; i--)
        out[n++] = (uint8_t)(sec >> (8 * i));
    CHUNK(10, 4);
    for (int i = 3; i >= 0; i--)
        out[n++] = (uint8_t)(usec >> (8 * i));
    CHUNK(11, 1);
    out[n++] = 1; /* SIP */
    CHUNK(12, 4);
    memcpy(out + n, (const uint8_t[]){ 0, 0, 0x10, 0x92 }, 4); /* capture id 4242 */
    n += 4;
    size_t len = strlen(sip);
    CHUNK(15, len);
    memcpy(out + n, sip, len);
    n += len;
#undef CHUNK
    out[4] = (uint8_t)(n >> 8);
    out[5] = (uint8_t)n;
    return n;
}

static size_t hep_tcp_frame(const uint8_t *data, size_t n, uint32_t seq)
{
    size_t off = put_eth_ip(frame, 6, 20 + n, 1, 0, 0);
    uint8_t t[20] = { 0xc3, 0x50, 0x23, 0x64, (uint8_t)(seq >> 24), (uint8_t)(seq >> 16),
                      (uint8_t)(seq >> 8), (uint8_t)seq, 0, 0, 0, 0, 0x50, 0x18, 0xff, 0xff,
                      0, 0, 0, 0 }; /* 50000 -> 9060 */
    memcpy(frame + off, t, 20);
    memcpy(frame + off + 20, data, n);
    return off + 20 + n;
}

static void test_hep3_over_tcp(void **state)
{
    (void)state;
    struct pipeline *p = mk(0);
    static uint8_t stream[8192];
    size_t n = hep3_record(stream, REFER, T0);
    n += hep3_record(stream + n, ACCEPTED, T0 + 10000);
    n += hep3_record(stream + n, NOTIFY, T0 + 20000);
    /* segment 1: the first record and half of the second; 2: the rest */
    size_t cut = 400;
    pipeline_frame(p, 1, sw_bytes_make(frame, hep_tcp_frame(stream, cut, 1)), T0 + 30000);
    pipeline_frame(p, 1, sw_bytes_make(frame, hep_tcp_frame(stream + cut, n - cut, 1 + (uint32_t)cut)),
                   T0 + 40000);
    finish(p);
    const struct rec *r = find(SW_EVENT_TRANSFER);
    assert_non_null(r);
    assert_int_equal(r->outcome, SW_OUTCOME_COMPLETED);
    assert_int_equal(r->notify_count, 1);
    assert_int_equal(r->sport, 5060); /* HEP's inner ports, not the TCP carrier's */
}

static const char HEP_OPTIONS_PING[] =
    "OPTIONS sip:ping@192.0.2.2 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-ping\r\n"
    "From: <sip:mon@192.0.2.1>;tag=p1\r\nTo: <sip:ping@192.0.2.2>\r\n"
    "Call-ID: ping-1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";

/* Records from a collector socket (pipeline_hep_record): the events carry
 * the agent's address and capture id in their origin; capture time is the
 * records' own; a record whose clock is far off takes the arrival time. */
static void test_hep_record_origin(void **state)
{
    (void)state;
    struct pipeline *p = mk(0);
    static uint8_t rec[4096];
    struct sw_addr agent = { 4, { 203, 0, 113, 9 } };
    const char *msgs[] = { REFER, ACCEPTED, NOTIFY };
    for (int i = 0; i < 3; i++) {
        size_t n = hep3_record(rec, msgs[i], T0 + i * 10000);
        /* arrival 50 ms after capture: the record's own time is used */
        assert_false(pipeline_hep_record(p, sw_bytes_make(rec, n), &agent, 7000,
                                         T0 + i * 10000 + 50000));
    }
    assert_int_equal(pipeline_now(p), T0 + 20000);
    /* an agent clock 1000 s behind: the arrival time is capture time */
    size_t n = hep3_record(rec, HEP_OPTIONS_PING, T0 - SW_SEC(1000));
    assert_true(pipeline_hep_record(p, sw_bytes_make(rec, n), &agent, 7000, T0 + SW_SEC(1)));
    assert_int_equal(pipeline_now(p), T0 + SW_SEC(1));
    /* settled at the end of input, with no record being handled: the
     * transfer still names the agent that sent its dialog */
    finish(p);
    const struct rec *r = find(SW_EVENT_TRANSFER);
    assert_non_null(r);
    assert_int_equal(r->outcome, SW_OUTCOME_COMPLETED);
    assert_int_equal(r->sport, 5060);
    assert_true(r->origin.hep);
    assert_int_equal(r->origin.hep_capture_id, 4242);
    assert_memory_equal(&r->origin.hep_agent, &agent, sizeof agent);
    assert_int_equal(r->origin.hep_agent_port, 7000);
    r = find(SW_EVENT_STATS);
    assert_non_null(r);
    assert_false(r->origin.hep);
}

/* HEP3 over TCP on a port that is not --hep-port: known by its magic; the
 * agent is the stream's source. */
static void test_hep3_tcp_any_port_origin(void **state)
{
    (void)state;
    struct pipeline *p = mk(0);
    static uint8_t stream[8192];
    size_t n = hep3_record(stream, REFER, T0);
    n += hep3_record(stream + n, ACCEPTED, T0 + 10000);
    n += hep3_record(stream + n, NOTIFY, T0 + 20000);
    size_t len = hep_tcp_frame(stream, n, 1);
    size_t l4 = 14 + 20;
    frame[l4 + 2] = 0x13; /* destination port 5070 instead of 9060 */
    frame[l4 + 3] = 0xce;
    pipeline_frame(p, 1, sw_bytes_make(frame, len), T0 + 30000);
    finish(p);
    const struct rec *r = find(SW_EVENT_TRANSFER);
    assert_non_null(r);
    assert_int_equal(r->outcome, SW_OUTCOME_COMPLETED);
    assert_int_equal(r->sport, 5060);
    assert_true(r->origin.hep);
    assert_int_equal(r->origin.hep_capture_id, 4242);
    assert_int_equal(r->origin.hep_agent_port, 50000);
}

/* Partial HEP3 records held by TCP streams on the HEP port count against
 * max_stream_bytes, as partial SIP messages do: 8 streams each holding 3000
 * bytes of a record that declares 60000 cannot hold more than the cap. */
static void test_hep_stream_bytes_capped(void **state)
{
    (void)state;
    struct pipeline_config cfg;
    pipeline_config_default(&cfg);
    cfg.max_stream_bytes = 10000;
    char err[SW_ERRBUF_SIZE];
    n_recs = 0;
    struct pipeline *p = pipeline_new(&cfg, record, NULL, err);
    assert_non_null(p);
    static uint8_t rec[3000];
    memset(rec, 'x', sizeof rec);
    memcpy(rec, "HEP3", 4);
    rec[4] = (uint8_t)(60000 >> 8);
    rec[5] = (uint8_t)(60000 & 0xff);
    for (uint16_t i = 0; i < 8; i++) {
        size_t n = hep_tcp_frame(rec, sizeof rec, 1);
        uint16_t sport = (uint16_t)(50000 + i);
        frame[34] = (uint8_t)(sport >> 8);
        frame[35] = (uint8_t)sport;
        pipeline_frame(p, 1, sw_bytes_make(frame, n), T0 + i);
    }
    pipeline_emit_stats(p, false);
    const struct rec *r = find(SW_EVENT_STATS);
    assert_non_null(r);
    assert_true(r->stream_held <= 10000);
    assert_true(r->stream_held >= 9000); /* three streams still hold theirs */
    assert_int_equal(r->stream_dropped, 5 * 3000);
    finish(p);
}

static int setup(void **state)
{
    (void)state;
    return sipmsg_global_init();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_udp_transfer),
        cmocka_unit_test(test_udp_transfer_parsed_ahead),
        cmocka_unit_test(test_tcp_transfer_segmented),
        cmocka_unit_test(test_fragmented_refer),
        cmocka_unit_test(test_no_notify_timer_on_capture_time),
        cmocka_unit_test(test_clock_never_backwards),
        cmocka_unit_test(test_idle_ticks_not_counted),
        cmocka_unit_test(test_clock_jump_forward),
        cmocka_unit_test(test_clock_rebase_backward),
        cmocka_unit_test(test_not_found),
        cmocka_unit_test(test_hep3_over_tcp),
        cmocka_unit_test(test_hep_record_origin),
        cmocka_unit_test(test_hep3_tcp_any_port_origin),
        cmocka_unit_test(test_hep_stream_bytes_capped),
    };
    return cmocka_run_group_tests_name("pipeline", tests, setup, NULL);
}
