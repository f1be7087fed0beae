/* test_tcpstream.c - TCP reassembly: order, overlap, gaps, lifecycle, caps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sipwatch/decode.h"
#include "sipwatch/tcpstream.h"

#define CPORT 40000
#define SPORT 5060
#define SYN DECODE_TCP_SYN
#define FIN DECODE_TCP_FIN
#define RST DECODE_TCP_RST
#define ACK DECODE_TCP_ACK

struct call {
    int dir;
    unsigned flags;
    size_t off, len; /* where its bytes went in rec.data[dir] */
};

/* A recording sink: the bytes of each direction, every call, CLOSE counts. */
struct rec {
    uint8_t data[2][8192];
    size_t n[2];
    struct call calls[512];
    size_t ncalls;
    unsigned closes[2];
    unsigned calls_total, closes_total;
    int app_token;
};

static int dir_of(const struct sw_tuple *t)
{
    return t->sport == SPORT ? 1 : 0;
}

static void rec_sink(void *ctx, const struct sw_tuple *t, struct sw_bytes data, unsigned flags,
                     sw_time ts, void **app)
{
    (void)ts;
    struct rec *r = ctx;
    int d = dir_of(t);
    assert_int_equal(t->transport, SW_TRANSPORT_TCP);
    r->calls_total++;
    if (flags & TCPSTREAM_CLOSE) {
        assert_int_equal(data.n, 0);
        assert_ptr_equal(*app, &r->app_token);
        r->closes[d]++;
        r->closes_total++;
        *app = NULL;
        return;
    }
    assert_true(data.n > 0);
    *app = &r->app_token;
    if (r->ncalls < SW_ARRAY_LEN(r->calls)) {
        r->calls[r->ncalls] = (struct call){d, flags, r->n[d], data.n};
        r->ncalls++;
    }
    if (r->n[d] + data.n <= sizeof r->data[d]) {
        memcpy(r->data[d] + r->n[d], data.p, data.n);
        r->n[d] += data.n;
    }
}

static struct sw_tuple tup(int dir, uint16_t cport)
{
    struct sw_tuple t;
    memset(&t, 0, sizeof t);
    t.src.family = t.dst.family = 4;
    uint8_t c[4] = {10, 0, 0, 1}, s[4] = {10, 0, 0, 2};
    memcpy(dir == 0 ? t.src.a : t.dst.a, c, 4);
    memcpy(dir == 0 ? t.dst.a : t.src.a, s, 4);
    t.sport = dir == 0 ? cport : SPORT;
    t.dport = dir == 0 ? SPORT : cport;
    t.transport = SW_TRANSPORT_TCP;
    return t;
}

static struct tcpstream_config cfg_default(void)
{
    struct tcpstream_config c = {TCPSTREAM_DEFAULT_MAX_STREAMS, TCPSTREAM_DEFAULT_MAX_OOO_PER_DIR,
                                 TCPSTREAM_DEFAULT_MAX_OOO_TOTAL, TCPSTREAM_DEFAULT_IDLE_TIMEOUT, NULL};
    return c;
}

static uint64_t counter(const struct tcpstream *s, const char *name)
{
    struct sw_counters c;
    c.n = 0;
    c.group = NULL;
    tcpstream_counters(s, &c);
    for (size_t i = 0; i < c.n; i++)
        if (strcmp(c.v[i].name, name) == 0)
            return c.v[i].value;
    fail_msg("no counter %s", name);
    return 0;
}

static void seg(struct tcpstream *s, int dir, uint32_t seq, uint8_t flags, const void *p, size_t n,
                sw_time ts)
{
    struct sw_tuple t = tup(dir, CPORT);
    tcpstream_segment(s, &t, seq, flags, sw_bytes_make(p, n), ts);
}

static void seg_s(struct tcpstream *s, int dir, uint32_t seq, const char *str)
{
    seg(s, dir, seq, ACK, str, strlen(str), SW_SEC(1));
}

/* A 3-way handshake: client ISN ci, server ISN si. */
static void handshake(struct tcpstream *s, uint32_t ci, uint32_t si)
{
    seg(s, 0, ci, SYN, NULL, 0, SW_SEC(1));
    seg(s, 1, si, SYN | ACK, NULL, 0, SW_SEC(1));
    seg(s, 0, ci + 1, ACK, NULL, 0, SW_SEC(1));
}

static struct rec *rec_new(void)
{
    struct rec *r = calloc(1, sizeof *r);
    assert_non_null(r);
    return r;
}

static void test_in_order(void **state)
{
    (void)state;
    struct rec *r = rec_new();
    struct tcpstream_config cfg = cfg_default();
    struct tcpstream *s = tcpstream_new(&cfg, rec_sink, r);
    handshake(s, 1000, 5000);
    seg_s(s, 0, 1001, "INVITE ");
    seg_s(s, 0, 1008, "sip:a");
    seg_s(s, 1, 5001, "SIP/2.0 100");
    assert_int_equal(r->n[0], 12);
    assert_memory_equal(r->data[0], "INVITE sip:a", 12);
    assert_int_equal(r->n[1], 11);
    assert_int_equal(r->ncalls, 3);
    for (size_t i = 0; i < r->ncalls; i++)
        assert_int_equal(r->calls[i].flags, 0); /* SYN seen: no MIDSTREAM */
    assert_int_equal(counter(s, "tcp_streams"), 1);
    assert_int_equal(counter(s, "tcp_streams_active"), 1);
    assert_int_equal(counter(s, "tcp_midstream"), 0);
    assert_int_equal(counter(s, "tcp_segments"), 6);
    tcpstream_free(s);
    assert_int_equal(r->closes[0], 1);
    assert_int_equal(r->closes[1], 1);
    free(r);
}

static void fill_pattern(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)('a' + (i * 7 + i / 26) % 26);
}

static void test_reordered_and_duplicated(void **state)
{
    (void)state;
    struct rec *r = rec_new();
    struct tcpstream_config cfg = cfg_default();
    struct tcpstream *s = tcpstream_new(&cfg, rec_sink, r);
    uint8_t pat[2000];
    fill_pattern(pat, sizeof pat);
    handshake(s, 7, 9);
    /* 50 segments of 40 bytes: swap pairs (3,4), move 10 after 14, repeat 20 */
    int order[] = {0,  1,  2,  4,  3,  5,  6,  7,  8,  9,  11, 12, 13, 14, 10, 15, 16,
                   17, 18, 19, 20, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32,
                   33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49};
    for (size_t i = 0; i < SW_ARRAY_LEN(order); i++)
        seg(s, 0, 8 + (uint32_t)order[i] * 40, ACK, pat + order[i] * 40, 40, SW_SEC(1));
    assert_int_equal(r->n[0], sizeof pat);
    assert_memory_equal(r->data[0], pat, sizeof pat);
    assert_int_equal(counter(s, "tcp_out_of_order"), 5); /* 4, 11, 12, 13, 14 held */
    assert_int_equal(counter(s, "tcp_retransmitted"), 1);
    assert_int_equal(counter(s, "tcp_gaps"), 0);
    assert_int_equal(counter(s, "tcp_ooo_bytes_held"), 0);
    assert_true(counter(s, "tcp_ooo_bytes_peak") >= 4 * 40);
    for (size_t i = 0; i < r->ncalls; i++)
        assert_int_equal(r->calls[i].flags, 0);
    tcpstream_free(s);
    free(r);
}

static void test_retransmission_overlaps_old_and_new(void **state)
{
    (void)state;
    struct rec *r = rec_new();
    struct tcpstream_config cfg = cfg_default();
    struct tcpstream *s = tcpstream_new(&cfg, rec_sink, r);
    handshake(s, 100, 200);
    seg_s(s, 0, 101, "0123456789");
    seg_s(s, 0, 106, "56789abcde"); /* 5 old bytes, 5 new */
    seg_s(s, 0, 101, "0123");       /* wholly old */
    assert_int_equal(r->n[0], 15);
    assert_memory_equal(r->data[0], "0123456789abcde", 15);
    assert_int_equal(r->ncalls, 2);
    assert_int_equal(r->calls[1].len, 5);
    assert_int_equal(counter(s, "tcp_retransmitted"), 2);
    tcpstream_free(s);
    free(r);
}

static void test_overlapping_ooo_first_copy_wins(void **state)
{
    (void)state;
    struct rec *r = rec_new();
    struct tcpstream_config cfg = cfg_default();
    struct tcpstream *s = tcpstream_new(&cfg, rec_sink, r);
    handshake(s, 0, 0);
    seg_s(s, 0, 11, "AAAAAAAAAA");     /* [10,20) held */
    seg_s(s, 0, 16, "BBBBBBBBBB");     /* [15,25): only [20,25) is new */
    seg_s(s, 0, 9, "cccC");            /* [8,12) overlaps the held copy */
    seg_s(s, 0, 1, "xxxxxxxxxxxxxxx"); /* [0,15): fills the hole, rest already held */
    assert_int_equal(r->n[0], 25);
    assert_memory_equal(r->data[0], "xxxxxxxxccAAAAAAAAAABBBBB", 25);
    assert_int_equal(counter(s, "tcp_gaps"), 0);
    assert_int_equal(counter(s, "tcp_ooo_bytes_held"), 0);
    tcpstream_free(s);
    free(r);
}

static void test_midstream_pickup(void **state)
{
    (void)state;
    struct rec *r = rec_new();
    struct tcpstream_config cfg = cfg_default();
    struct tcpstream *s = tcpstream_new(&cfg, rec_sink, r);
    seg(s, 0, 0, ACK, NULL, 0, SW_SEC(1)); /* a pure ACK creates nothing */
    assert_int_equal(counter(s, "tcp_streams"), 0);
    seg_s(s, 0, 777777, "tail of something");
    seg_s(s, 0, 777777 + 17, "INVITE");
    seg_s(s, 1, 42, "SIP/2.0");
    assert_int_equal(r->ncalls, 3);
    assert_int_equal(r->calls[0].flags, TCPSTREAM_MIDSTREAM);
    assert_int_equal(r->calls[1].flags, 0);
    assert_int_equal(r->calls[2].flags, TCPSTREAM_MIDSTREAM);
    assert_int_equal(counter(s, "tcp_midstream"), 2);
    assert_int_equal(counter(s, "tcp_streams"), 1);
    tcpstream_free(s);
    free(r);
}

static void test_lost_segment_gap(void **state)
{
    (void)state;
    struct rec *r = rec_new();
    struct tcpstream_config cfg = cfg_default();
    struct tcpstream *s = tcpstream_new(&cfg, rec_sink, r);
    handshake(s, 0, 0);
    seg_s(s, 0, 1, "aaaa");
    seg_s(s, 0, 9, "cccc"); /* "bbbb" at 5 is lost */
    seg_s(s, 0, 13, "dd");
    assert_int_equal(r->n[0], 4);
    assert_int_equal(counter(s, "tcp_ooo_bytes_held") > 0, 1);
    seg(s, 0, 15, FIN | ACK, NULL, 0, SW_SEC(2)); /* the FIN forces the hole to be skipped */
    assert_int_equal(r->n[0], 10);
    assert_memory_equal(r->data[0], "aaaaccccdd", 10);
    assert_int_equal(r->ncalls, 3);
    assert_int_equal(r->calls[1].flags, TCPSTREAM_GAP_BEFORE);
    assert_int_equal(r->calls[1].len, 4);
    assert_int_equal(r->calls[2].flags, 0);
    assert_int_equal(counter(s, "tcp_gaps"), 1);
    assert_int_equal(counter(s, "tcp_gap_bytes"), 4);
    assert_int_equal(counter(s, "tcp_ooo_bytes_held"), 0);
    assert_int_equal(r->closes_total, 0); /* the server half is still open */
    tcpstream_free(s);
    free(r);
}

static void test_fin_closes_once_per_direction(void **state)
{
    (void)state;
    struct rec *r = rec_new();
    struct tcpstream_config cfg = cfg_default();
    struct tcpstream *s = tcpstream_new(&cfg, rec_sink, r);
    handshake(s, 10, 20);
    seg_s(s, 0, 11, "REGISTER");
    seg(s, 0, 19, FIN | ACK, NULL, 0, SW_SEC(2));
    assert_int_equal(r->closes_total, 0);
    /* a retransmitted FIN changes nothing */
    seg(s, 0, 19, FIN | ACK, NULL, 0, SW_SEC(2));
    seg(s, 1, 21, FIN | ACK, NULL, 0, SW_SEC(2)); /* the server never sent data */
    assert_int_equal(r->closes[0], 1);
    assert_int_equal(r->closes[1], 0); /* never had app state: no CLOSE */
    assert_int_equal(counter(s, "tcp_streams_active"), 0);
    seg(s, 0, 20, ACK, NULL, 0, SW_SEC(2)); /* the last ACK creates nothing */
    assert_int_equal(counter(s, "tcp_streams_active"), 0);
    tcpstream_free(s);
    assert_int_equal(r->closes_total, 1); /* free() has nothing left to close */
    free(r);
}

static void test_fin_with_data_and_both_directions(void **state)
{
    (void)state;
    struct rec *r = rec_new();
    struct tcpstream_config cfg = cfg_default();
    struct tcpstream *s = tcpstream_new(&cfg, rec_sink, r);
    handshake(s, 10, 20);
    seg_s(s, 1, 21, "SIP/2.0 200 OK");
    seg(s, 0, 11, FIN | ACK, "BYE", 3, SW_SEC(2));
    seg(s, 1, 35, FIN | ACK, NULL, 0, SW_SEC(2));
    assert_int_equal(r->n[0], 3);
    assert_int_equal(r->closes[0], 1);
    assert_int_equal(r->closes[1], 1);
    assert_int_equal(counter(s, "tcp_streams_active"), 0);
    tcpstream_free(s);
    assert_int_equal(r->closes_total, 2);
    free(r);
}

static void test_rst_delivers_held_and_closes(void **state)
{
    (void)state;
    struct rec *r = rec_new();
    struct tcpstream_config cfg = cfg_default();
    struct tcpstream *s = tcpstream_new(&cfg, rec_sink, r);
    handshake(s, 0, 0);
    seg_s(s, 0, 1, "ab");
    seg_s(s, 0, 5, "ef"); /* held behind a hole */
    seg_s(s, 1, 1, "xy");
    seg(s, 1, 3, RST, NULL, 0, SW_SEC(2));
    assert_int_equal(r->n[0], 4);
    assert_memory_equal(r->data[0], "abef", 4);
    assert_int_equal(r->calls[2].dir, 0);
    assert_int_equal(r->calls[2].flags, TCPSTREAM_GAP_BEFORE);
    assert_int_equal(r->closes[0], 1);
    assert_int_equal(r->closes[1], 1);
    assert_int_equal(counter(s, "tcp_rst"), 1);
    assert_int_equal(counter(s, "tcp_streams_active"), 0);
    assert_int_equal(counter(s, "tcp_ooo_bytes_held"), 0);
    seg(s, 1, 3, RST, NULL, 0, SW_SEC(2)); /* a RST for nothing */
    assert_int_equal(counter(s, "tcp_rst"), 1);
    tcpstream_free(s);
    assert_int_equal(r->closes_total, 2);
    free(r);
}

static void test_idle_timeout(void **state)
{
    (void)state;
    struct rec *r = rec_new();
    struct tcpstream_config cfg = cfg_default();
    cfg.idle_timeout = SW_SEC(10);
    struct tcpstream *s = tcpstream_new(&cfg, rec_sink, r);
    seg(s, 0, 1, ACK, "old", 3, SW_SEC(100));
    seg(s, 0, 50, ACK, "held", 4, SW_SEC(100)); /* out of order, behind a hole */
    struct sw_tuple t2 = tup(0, CPORT + 1);
    tcpstream_segment(s, &t2, 1, ACK, sw_bytes_make("new", 3), SW_SEC(105));
    tcpstream_advance(s, SW_SEC(110)); /* exactly 10 s idle: not yet */
    assert_int_equal(r->closes_total, 0);
    tcpstream_advance(s, SW_SEC(110) + 1);
    assert_int_equal(r->closes_total, 1);
    assert_int_equal(r->n[0], 3 + 3 + 4); /* "old", "new", then the held data */
    assert_int_equal(r->calls[r->ncalls - 1].flags, TCPSTREAM_GAP_BEFORE);
    assert_int_equal(counter(s, "tcp_timeouts"), 1);
    assert_int_equal(counter(s, "tcp_streams_active"), 1);
    tcpstream_advance(s, SW_SEC(116));
    assert_int_equal(counter(s, "tcp_timeouts"), 2);
    assert_int_equal(counter(s, "tcp_streams_active"), 0);
    tcpstream_free(s);
    assert_int_equal(r->closes_total, 2);
    free(r);
}

static void test_max_streams_eviction(void **state)
{
    (void)state;
    struct rec *r = rec_new();
    struct tcpstream_config cfg = cfg_default();
    cfg.max_streams = 2;
    struct tcpstream *s = tcpstream_new(&cfg, rec_sink, r);
    for (uint16_t i = 0; i < 3; i++) {
        struct sw_tuple t = tup(0, (uint16_t)(CPORT + i));
        tcpstream_segment(s, &t, 1, ACK, sw_bytes_make("x", 1), SW_SEC(1 + i));
        if (i == 1) {
            /* activity on the first makes the second the least recent */
            struct sw_tuple t0 = tup(0, CPORT);
            tcpstream_segment(s, &t0, 2, ACK, sw_bytes_make("y", 1), SW_SEC(3));
        }
    }
    assert_int_equal(counter(s, "tcp_evicted"), 1);
    assert_int_equal(counter(s, "tcp_streams_active"), 2);
    assert_int_equal(r->closes_total, 1);
    /* the one evicted was CPORT + 1: its data was "x" only */
    struct sw_tuple t1 = tup(0, CPORT + 1);
    tcpstream_segment(s, &t1, 2, ACK, sw_bytes_make("z", 1), SW_SEC(5));
    assert_int_equal(r->calls[r->ncalls - 1].flags, TCPSTREAM_MIDSTREAM); /* a new entry */
    assert_int_equal(counter(s, "tcp_evicted"), 2);
    tcpstream_free(s);
    assert_int_equal(r->closes_total, 4);
    free(r);
}

static void test_ooo_cap_forces_gap(void **state)
{
    (void)state;
    struct rec *r = rec_new();
    struct tcpstream_config cfg = cfg_default();
    cfg.max_ooo_per_dir = 300; /* two 100-byte segments fit (with overhead), three do not */
    struct tcpstream *s = tcpstream_new(&cfg, rec_sink, r);
    uint8_t pat[1000];
    fill_pattern(pat, sizeof pat);
    handshake(s, 0, 0);
    seg(s, 0, 1, ACK, pat, 100, SW_SEC(1));
    /* [100,200) lost; 200.. arrives */
    seg(s, 0, 201, ACK, pat + 200, 100, SW_SEC(1));
    seg(s, 0, 301, ACK, pat + 300, 100, SW_SEC(1));
    assert_int_equal(r->n[0], 100);
    assert_true(counter(s, "tcp_ooo_bytes_held") <= 300);
    seg(s, 0, 401, ACK, pat + 400, 100, SW_SEC(1)); /* would pass the cap */
    assert_int_equal(counter(s, "tcp_gaps"), 1);
    assert_int_equal(counter(s, "tcp_gap_bytes"), 100);
    assert_int_equal(r->n[0], 400);
    assert_memory_equal(r->data[0] + 100, pat + 200, 300);
    assert_int_equal(r->calls[1].flags, TCPSTREAM_GAP_BEFORE);
    assert_true(counter(s, "tcp_ooo_bytes_peak") <= 300);
    /* a segment bigger than the whole budget is never held */
    seg(s, 0, 1001, ACK, pat, 500, SW_SEC(1));
    assert_int_equal(counter(s, "tcp_gaps"), 2);
    assert_int_equal(r->n[0], 900);
    assert_true(counter(s, "tcp_ooo_bytes_peak") <= 300);
    tcpstream_free(s);
    free(r);
}

static void test_total_cap(void **state)
{
    (void)state;
    struct rec *r = rec_new();
    struct tcpstream_config cfg = cfg_default();
    cfg.max_ooo_total = 300;
    struct tcpstream *s = tcpstream_new(&cfg, rec_sink, r);
    uint8_t pat[100];
    fill_pattern(pat, sizeof pat);
    for (uint16_t i = 0; i < 4; i++) {
        struct sw_tuple t = tup(0, (uint16_t)(CPORT + i));
        tcpstream_segment(s, &t, 1, ACK, sw_bytes_make(pat, 10), SW_SEC(1));
        tcpstream_segment(s, &t, 21, ACK, sw_bytes_make(pat, 80), SW_SEC(1)); /* hole [10,20) */
    }
    assert_true(counter(s, "tcp_ooo_bytes_peak") <= 300);
    assert_true(counter(s, "tcp_gaps") >= 2);
    tcpstream_finish(s, SW_SEC(2));
    assert_int_equal(counter(s, "tcp_gaps"), 4);
    assert_int_equal(counter(s, "tcp_gap_bytes"), 40);
    assert_int_equal(counter(s, "tcp_ooo_bytes_held"), 0);
    tcpstream_free(s);
    free(r);
}

static void test_sequence_wraparound(void **state)
{
    (void)state;
    struct rec *r = rec_new();
    struct tcpstream_config cfg = cfg_default();
    struct tcpstream *s = tcpstream_new(&cfg, rec_sink, r);
    uint8_t pat[64];
    fill_pattern(pat, sizeof pat);
    uint32_t isn = 0xFFFFFFF0u; /* the first data byte is 0xFFFFFFF1 */
    seg(s, 0, isn, SYN, NULL, 0, SW_SEC(1));
    /* segments of 16: [0,16) crosses 2^32 at byte 15; send 2nd and 3rd first */
    seg(s, 0, isn + 1 + 16, ACK, pat + 16, 16, SW_SEC(1));
    seg(s, 0, isn + 1 + 32, ACK, pat + 32, 16, SW_SEC(1));
    assert_int_equal(r->n[0], 0);
    seg(s, 0, isn + 1, ACK, pat, 16, SW_SEC(1));
    seg(s, 0, isn + 1 + 8, ACK, pat + 8, 16, SW_SEC(1)); /* old, across the wrap */
    seg(s, 0, isn + 1 + 48, ACK, pat + 48, 16, SW_SEC(1));
    assert_int_equal(r->n[0], 64);
    assert_memory_equal(r->data[0], pat, 64);
    assert_int_equal(counter(s, "tcp_gaps"), 0);
    assert_int_equal(counter(s, "tcp_retransmitted"), 1);
    /* a FIN right after the wrap closes cleanly */
    seg(s, 0, isn + 1 + 64, FIN, NULL, 0, SW_SEC(1));
    assert_int_equal(counter(s, "tcp_gaps"), 0);
    tcpstream_free(s);
    free(r);
}

static void test_finish_delivers_held(void **state)
{
    (void)state;
    struct rec *r = rec_new();
    struct tcpstream_config cfg = cfg_default();
    struct tcpstream *s = tcpstream_new(&cfg, rec_sink, r);
    handshake(s, 0, 0);
    seg_s(s, 0, 11, "later");
    seg_s(s, 0, 21, "last");
    assert_int_equal(r->n[0], 0);
    tcpstream_finish(s, SW_SEC(9));
    assert_int_equal(r->n[0], 9);
    assert_memory_equal(r->data[0], "laterlast", 9);
    assert_int_equal(r->calls[0].flags, TCPSTREAM_GAP_BEFORE);
    assert_int_equal(r->calls[1].flags, TCPSTREAM_GAP_BEFORE);
    assert_int_equal(counter(s, "tcp_gaps"), 2);
    assert_int_equal(counter(s, "tcp_gap_bytes"), 15);
    assert_int_equal(r->closes[0], 1);
    assert_int_equal(counter(s, "tcp_streams_active"), 0);
    tcpstream_free(s);
    assert_int_equal(r->closes_total, 1);
    free(r);
}

static void test_port_reuse(void **state)
{
    (void)state;
    struct rec *r = rec_new();
    struct tcpstream_config cfg = cfg_default();
    struct tcpstream *s = tcpstream_new(&cfg, rec_sink, r);
    handshake(s, 100, 200);
    seg_s(s, 0, 101, "one");
    seg(s, 0, 100, SYN, NULL, 0, SW_SEC(1)); /* a retransmitted SYN: same connection */
    assert_int_equal(counter(s, "tcp_streams"), 1);
    seg(s, 0, 9000, SYN, NULL, 0, SW_SEC(1)); /* another ISN: a new connection */
    assert_int_equal(counter(s, "tcp_streams"), 2);
    assert_int_equal(r->closes[0], 1);
    seg_s(s, 0, 9001, "two");
    assert_int_equal(r->n[0], 6);
    assert_int_equal(r->calls[1].flags, 0);
    /* after a clean close, a SYN starts over */
    seg(s, 0, 9004, FIN, NULL, 0, SW_SEC(1));
    seg(s, 1, 1, FIN, NULL, 0, SW_SEC(1));
    assert_int_equal(counter(s, "tcp_streams_active"), 0);
    handshake(s, 5, 6);
    seg_s(s, 0, 6, "three");
    assert_int_equal(counter(s, "tcp_streams"), 3);
    assert_int_equal(r->calls[2].flags, 0);
    tcpstream_free(s);
    assert_int_equal(r->closes[0], 3);
    free(r);
}

struct count_sink {
    uint64_t runs, closes, bytes;
};

static void count_sink_fn(void *ctx, const struct sw_tuple *t, struct sw_bytes data, unsigned flags,
                          sw_time ts, void **app)
{
    (void)t;
    (void)ts;
    struct count_sink *c = ctx;
    if (flags & TCPSTREAM_CLOSE) {
        c->closes++;
        *app = NULL;
        return;
    }
    c->runs++;
    c->bytes += data.n;
    *app = c;
}

static struct sw_tuple tup_n(uint32_t i)
{
    struct sw_tuple t = tup(0, (uint16_t)(1024 + i % 60000));
    t.src.a[2] = (uint8_t)(i / 60000); /* distinct tuples beyond 60000 ports */
    return t;
}

/* 100 000 SYN-only (half-open) streams: the table stays at max_streams. */
static void test_100k_half_open(void **state)
{
    (void)state;
    struct count_sink c = {0, 0, 0};
    struct tcpstream_config cfg = cfg_default();
    struct tcpstream *s = tcpstream_new(&cfg, count_sink_fn, &c);
    for (uint32_t i = 0; i < 100000; i++) {
        struct sw_tuple t = tup_n(i);
        tcpstream_segment(s, &t, i * 7919u, SYN, sw_bytes_make(NULL, 0), SW_SEC(1) + i);
    }
    assert_int_equal(counter(s, "tcp_streams"), 100000);
    assert_int_equal(counter(s, "tcp_streams_active"), TCPSTREAM_DEFAULT_MAX_STREAMS);
    assert_int_equal(counter(s, "tcp_evicted"), 100000 - TCPSTREAM_DEFAULT_MAX_STREAMS);
    assert_int_equal(counter(s, "tcp_ooo_bytes_peak"), 0);
    assert_int_equal(c.closes, 0); /* no state, no CLOSE */
    tcpstream_advance(s, SW_SEC(1) + 100000 + TCPSTREAM_DEFAULT_IDLE_TIMEOUT);
    assert_int_equal(counter(s, "tcp_timeouts"), TCPSTREAM_DEFAULT_MAX_STREAMS);
    assert_int_equal(counter(s, "tcp_streams_active"), 0);
    tcpstream_free(s);
}

/* 100 000 streams, each holding a segment behind a hole: held bytes never
 * pass the total cap; the streams over it skip their hole at once. */
static void test_100k_streams_holding_ooo(void **state)
{
    (void)state;
    struct count_sink c = {0, 0, 0};
    struct tcpstream_config cfg = cfg_default();
    cfg.max_streams = 200000;
    cfg.max_ooo_total = (size_t)4 << 20;
    struct tcpstream *s = tcpstream_new(&cfg, count_sink_fn, &c);
    uint8_t payload[100];
    memset(payload, 'x', sizeof payload);
    for (uint32_t i = 0; i < 100000; i++) {
        struct sw_tuple t = tup_n(i);
        tcpstream_segment(s, &t, 1000, SYN, sw_bytes_make(NULL, 0), SW_SEC(1));
        tcpstream_segment(s, &t, 1101, ACK, sw_bytes_make(payload, 100), SW_SEC(1));
    }
    uint64_t peak = counter(s, "tcp_ooo_bytes_peak");
    uint64_t held = counter(s, "tcp_ooo_bytes_held");
    assert_true(peak <= cfg.max_ooo_total);
    assert_true(peak > cfg.max_ooo_total - 200); /* the cap, not something else, bounded it */
    assert_int_equal(held, peak);
    assert_int_equal(counter(s, "tcp_streams_active"), 100000);
    assert_int_equal(counter(s, "tcp_out_of_order"), held / (100 + 32));
    /* those that found no room skipped their hole immediately */
    assert_int_equal(counter(s, "tcp_gaps"), 100000 - held / (100 + 32));
    tcpstream_finish(s, SW_SEC(2));
    assert_int_equal(counter(s, "tcp_gaps"), 100000);
    assert_int_equal(counter(s, "tcp_gap_bytes"), 100000 * 100);
    assert_int_equal(c.bytes, 100000 * 100);
    assert_int_equal(c.closes, 100000);
    assert_int_equal(counter(s, "tcp_ooo_bytes_held"), 0);
    tcpstream_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_in_order),
        cmocka_unit_test(test_reordered_and_duplicated),
        cmocka_unit_test(test_retransmission_overlaps_old_and_new),
        cmocka_unit_test(test_overlapping_ooo_first_copy_wins),
        cmocka_unit_test(test_midstream_pickup),
        cmocka_unit_test(test_lost_segment_gap),
        cmocka_unit_test(test_fin_closes_once_per_direction),
        cmocka_unit_test(test_fin_with_data_and_both_directions),
        cmocka_unit_test(test_rst_delivers_held_and_closes),
        cmocka_unit_test(test_idle_timeout),
        cmocka_unit_test(test_max_streams_eviction),
        cmocka_unit_test(test_ooo_cap_forces_gap),
        cmocka_unit_test(test_total_cap),
        cmocka_unit_test(test_sequence_wraparound),
        cmocka_unit_test(test_finish_delivers_held),
        cmocka_unit_test(test_port_reuse),
        cmocka_unit_test(test_100k_half_open),
        cmocka_unit_test(test_100k_streams_holding_ooo),
    };
    return cmocka_run_group_tests_name("tcpstream", tests, NULL, NULL);
}
