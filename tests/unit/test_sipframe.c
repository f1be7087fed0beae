/* test_sipframe.c - SIP framing: start lines, Content-Length, streams,
 * datagrams, keep-alives, resync, WebSocket. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sipwatch/sipframe.h"
#include "sipwatch/sipmsg.h"

static struct sw_bytes S(const char *s) {
    return sw_bytes_make(s, strlen(s));
}

#define MAXM 1024

/* A recording sink: copies of every message and its transport. */
struct rec {
    char msg[16][2048];
    size_t len[16];
    enum sw_transport tr[16];
    size_t n;
};

static void rec_sink(void *ctx, struct sw_bytes m, enum sw_transport t)
{
    struct rec *r = ctx;
    assert_true(m.n > 0);
    assert_true(r->n < 16);
    assert_true(m.n <= sizeof r->msg[0]);
    memcpy(r->msg[r->n], m.p, m.n);
    r->len[r->n] = m.n;
    r->tr[r->n] = t;
    r->n++;
}

static void assert_msg(const struct rec *r, size_t i, const char *want)
{
    assert_true(i < r->n);
    assert_int_equal(r->len[i], strlen(want));
    assert_memory_equal(r->msg[i], want, strlen(want));
}

static enum sipframe_result next(const char *s, bool stream, size_t *len)
{
    return sipframe_next(S(s), MAXM, stream, len);
}

static void test_start_lines(void **state)
{
    (void)state;
    assert_true(sipframe_is_start_line(S("INVITE sip:bob@example.com SIP/2.0")));
    assert_true(sipframe_is_start_line(S("FROBNICATE sip:x SIP/2.0"))); /* any token method */
    assert_true(sipframe_is_start_line(S("A b SIP/2.0")));              /* shortest request */
    assert_true(sipframe_is_start_line(S("SIP/2.0 200 OK")));
    assert_true(sipframe_is_start_line(S("SIP/2.0 480 "))); /* empty reason */
    assert_true(sipframe_is_start_line(S("SIP/2.0 480")));
    assert_true(sipframe_is_start_line(S("SIP/2.0 180 Ringing\r")));
    assert_false(sipframe_is_start_line(S("A  SIP/2.0")));           /* empty URI */
    assert_false(sipframe_is_start_line(S("invite sip:x SIP/2.0"))); /* lowercase start */
    assert_false(sipframe_is_start_line(S("INVITE sip:x SIP/2.1")));
    assert_false(sipframe_is_start_line(S("INVITE sip:x sip:y SIP/2.0")));
    assert_false(sipframe_is_start_line(S("IN(VITE sip:x SIP/2.0"))); /* not a token */
    assert_false(sipframe_is_start_line(S("SIP/2.0 20 OK")));
    assert_false(sipframe_is_start_line(S("SIP/2.0 2000 OK")));
    /* a control byte in the reason is repaired by the scanner, not a reason
     * to drop the response (issue 10); a NUL still is */
    assert_true(sipframe_is_start_line(S("SIP/2.0 200 O\x01K")));
    assert_true(sipframe_is_start_line(S("SIP/2.0 404 \x1b[31mNot Found")));
    assert_false(sipframe_is_start_line(sw_bytes_make("SIP/2.0 200 O\0K", 14)));
    assert_false(sipframe_is_start_line(S("HTTP/1.1 200 OK")));
    assert_false(sipframe_is_start_line(S("GET / HTTP/1.1")));
    assert_false(sipframe_is_start_line(S("")));
    const uint8_t rtp[] = {0x80, 0x00, 0x12, 0x34, 'S', 'I', 'P', '/', '2', '.', '0', ' ', '2'};
    assert_false(sipframe_is_start_line(sw_bytes_make(rtp, sizeof rtp)));
    /* the Request-URI is checked eight bytes a step: one SP, control byte or
     * DEL anywhere in it refuses the line; bytes from 0x80 up and the other
     * printable ones do not */
    static const uint8_t bad[] = {' ', '\t', 0x00, 0x01, 0x1f, 0x7f};
    static const uint8_t fine[] = {0x21, 0x7e, 0x80, 0xa0, 0xff, '@'};
    for (size_t len = 1; len <= 20; len++) {
        for (size_t at = 0; at < len; at++) {
            uint8_t l[64];
            memcpy(l, "INVITE ", 7);
            memset(l + 7, 'u', len);
            memcpy(l + 7 + len, " SIP/2.0", 8);
            struct sw_bytes line = sw_bytes_make(l, 7 + len + 8);
            assert_true(sipframe_is_start_line(line));
            for (size_t k = 0; k < sizeof bad; k++) {
                l[7 + at] = bad[k];
                assert_false(sipframe_is_start_line(line));
            }
            for (size_t k = 0; k < sizeof fine; k++) {
                l[7 + at] = fine[k];
                assert_true(sipframe_is_start_line(line));
            }
        }
    }
}

static void test_next_without_content_length(void **state)
{
    (void)state;
    size_t len = 0;
    const char *m = "OPTIONS sip:a SIP/2.0\r\nVia: x\r\n\r\nbody";
    assert_int_equal(next(m, true, &len), SIPFRAME_MESSAGE);
    assert_int_equal(len, strlen(m) - 4); /* stream: no body */
    assert_int_equal(next(m, false, &len), SIPFRAME_MESSAGE);
    assert_int_equal(len, strlen(m)); /* datagram: the rest */
    /* LFLF ends the header block too */
    assert_int_equal(next("SIP/2.0 200 OK\nVia: x\n\nzz", true, &len), SIPFRAME_MESSAGE);
    assert_int_equal(len, 23);
}

static void test_next_content_length_forms(void **state)
{
    (void)state;
    size_t len = 0;
    const char *compact = "MESSAGE sip:a SIP/2.0\r\nl: 5\r\n\r\nhelloEXTRA";
    assert_int_equal(next(compact, true, &len), SIPFRAME_MESSAGE);
    assert_int_equal(len, strlen(compact) - 5);
    const char *spaced = "MESSAGE sip:a SIP/2.0\r\nContent-Length : 5\r\n\r\nhelloX";
    assert_int_equal(next(spaced, true, &len), SIPFRAME_MESSAGE);
    assert_int_equal(len, strlen(spaced) - 1);
    const char *lower = "MESSAGE sip:a SIP/2.0\r\ncontent-LENGTH:\t5 \r\n\r\nhelloX";
    assert_int_equal(next(lower, true, &len), SIPFRAME_MESSAGE);
    assert_int_equal(len, strlen(lower) - 1);
    /* the same value twice is fine */
    const char *twice = "MESSAGE sip:a SIP/2.0\r\nl: 5\r\nContent-Length: 005\r\n\r\nhello";
    assert_int_equal(next(twice, true, &len), SIPFRAME_MESSAGE);
    assert_int_equal(len, strlen(twice));
    /* "Content-Lengthy" and "lx" are other headers */
    const char *other = "MESSAGE sip:a SIP/2.0\r\nContent-Lengthy: 5\r\nlx: 3\r\n\r\nhello";
    assert_int_equal(next(other, true, &len), SIPFRAME_MESSAGE);
    assert_int_equal(len, strlen(other) - 5);
}

static void test_next_body_edges(void **state)
{
    (void)state;
    size_t len = 0;
    const char *whole = "INFO sip:a SIP/2.0\r\nContent-Length: 4\r\n\r\nabcd";
    assert_int_equal(next(whole, true, &len), SIPFRAME_MESSAGE); /* last byte present */
    assert_int_equal(len, strlen(whole));
    const char *short1 = "INFO sip:a SIP/2.0\r\nContent-Length: 4\r\n\r\nabc";
    assert_int_equal(next(short1, true, &len), SIPFRAME_NEED_MORE); /* one missing */
    assert_int_equal(next(short1, false, &len), SIPFRAME_MESSAGE);  /* datagram: cut */
    assert_int_equal(len, strlen(short1));
    /* no end of headers yet */
    assert_int_equal(next("INFO sip:a SIP/2.0\r\nVia: x\r\n", true, &len), SIPFRAME_NEED_MORE);
    assert_int_equal(next("INFO sip:a SIP/2.0\r\nVia: x\r", true, &len), SIPFRAME_NEED_MORE);
    assert_int_equal(next("", true, &len), SIPFRAME_NEED_MORE);
}

static void test_next_too_big(void **state)
{
    (void)state;
    size_t len = 0;
    /* header block of 34 bytes: the largest body is MAXM - 34 */
    char m[2 * MAXM];
#define HEAD "INFO sip:a SIP/2.0\r\nl: %u\r\n\r\n"
    unsigned body = MAXM - 30; /* "l: 994" makes the head 30 bytes */
    int h = snprintf(m, sizeof m, HEAD, body);
    assert_int_equal(h, 30);
    memset(m + h, 'b', body);
    assert_int_equal(sipframe_next(sw_bytes_make(m, (size_t)h + body), MAXM, true, &len),
                     SIPFRAME_MESSAGE);
    assert_int_equal(len, MAXM);
    h = snprintf(m, sizeof m, HEAD, body + 1);
    memset(m + h, 'b', body + 1);
    assert_int_equal(sipframe_next(sw_bytes_make(m, (size_t)h + body + 1), MAXM, true, &len),
                     SIPFRAME_TOO_BIG);
    assert_int_equal(len, 30); /* the header block is dropped */
    assert_int_equal(next("INFO sip:a SIP/2.0\r\nl: 99999999999999999999999\r\n\r\n", true, &len),
                     SIPFRAME_TOO_BIG);
    /* a header block that never ends within max_msg */
    memset(m, 'x', sizeof m);
    memcpy(m, "INFO sip:a SIP/2.0\r\nX: ", 23);
    assert_int_equal(sipframe_next(sw_bytes_make(m, MAXM), MAXM, true, &len), SIPFRAME_NEED_MORE);
    assert_int_equal(sipframe_next(sw_bytes_make(m, MAXM + 1), MAXM, true, &len), SIPFRAME_TOO_BIG);
    assert_int_equal(len, 20);
}

static void test_next_bad_length(void **state)
{
    (void)state;
    size_t len = 0;
    const char *bad[] = {
        "INFO sip:a SIP/2.0\r\nContent-Length: abc\r\n\r\nxy",
        "INFO sip:a SIP/2.0\r\nContent-Length: -1\r\n\r\nxy",
        "INFO sip:a SIP/2.0\r\nContent-Length: 1\r\nl: 2\r\n\r\nxy",
        "INFO sip:a SIP/2.0\r\nContent-Length:\r\n\r\nxy",
    };
    for (size_t i = 0; i < SW_ARRAY_LEN(bad); i++) {
        assert_int_equal(next(bad[i], true, &len), SIPFRAME_TOO_BIG);
        assert_int_equal(len, strlen(bad[i]) - 2);
        /* a datagram takes the rest as the body and counts it */
        struct rec r = {.n = 0};
        struct sipframe_stats st;
        memset(&st, 0, sizeof st);
        sipframe_datagram(S(bad[i]), MAXM, SW_TRANSPORT_UDP, rec_sink, &r, &st);
        assert_int_equal(r.n, 1);
        assert_msg(&r, 0, bad[i]);
        assert_int_equal(st.bad_length, 1);
    }
}

static void test_next_skip(void **state)
{
    (void)state;
    size_t len = 0;
    assert_int_equal(next("\r\n\r\nINVITE", true, &len), SIPFRAME_SKIP);
    assert_int_equal(len, 4);
    assert_int_equal(next("garbage\r\nINVITE sip:a SIP/2.0\r\n", true, &len), SIPFRAME_SKIP);
    assert_int_equal(len, 9);
    assert_int_equal(next("garbage without end", true, &len), SIPFRAME_NEED_MORE);
}

static struct sipframe_stream *stream_new(bool midstream)
{
    struct sipframe_stream *fs = sipframe_stream_new(MAXM, midstream);
    assert_non_null(fs);
    return fs;
}

#define M1 "INVITE sip:bob@b SIP/2.0\r\nCall-ID: 1\r\nContent-Length: 3\r\n\r\nv=0"
#define M2 "SIP/2.0 100 Trying\r\nCall-ID: 1\r\n\r\n"
#define M3 "BYE sip:bob@b SIP/2.0\r\nl:0\r\n\r\n"

static void test_stream_two_messages_and_byte_by_byte(void **state)
{
    (void)state;
    struct rec r = {.n = 0}, r2 = {.n = 0};
    struct sipframe_stats st, st2;
    memset(&st, 0, sizeof st);
    memset(&st2, 0, sizeof st2);
    struct sipframe_stream *fs = stream_new(false);
    sipframe_stream_feed(fs, S(M1 M2 M3 "INFO sip"), 0, rec_sink, &r, &st);
    assert_int_equal(r.n, 3);
    assert_msg(&r, 0, M1);
    assert_msg(&r, 1, M2);
    assert_msg(&r, 2, M3);
    assert_int_equal(r.tr[0], SW_TRANSPORT_TCP);
    assert_int_equal(sipframe_stream_buffered(fs), 8); /* only the partial tail is copied */
    assert_int_equal(st.messages, 3);
    sipframe_stream_free(fs);

    fs = stream_new(false);
    const char *all = M1 M2 M3;
    for (size_t i = 0; i < strlen(all); i++)
        sipframe_stream_feed(fs, sw_bytes_make(all + i, 1), 0, rec_sink, &r2, &st2);
    assert_int_equal(r2.n, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(r2.len[i], r.len[i]);
        assert_memory_equal(r2.msg[i], r.msg[i], r.len[i]);
    }
    assert_int_equal(sipframe_stream_buffered(fs), 0);
    assert_true(st2.buffered_peak < strlen(M1) + 1);
    sipframe_stream_free(fs);
}

static void test_stream_keepalives(void **state)
{
    (void)state;
    struct rec r = {.n = 0};
    struct sipframe_stats st;
    memset(&st, 0, sizeof st);
    struct sipframe_stream *fs = stream_new(false);
    sipframe_stream_feed(fs, S("\r\n\r\n"), 0, rec_sink, &r, &st); /* ping */
    sipframe_stream_feed(fs, S(M2 "\r\n"), 0, rec_sink, &r, &st);  /* message + pong */
    sipframe_stream_feed(fs, S("\r"), 0, rec_sink, &r, &st);       /* half a pong */
    assert_int_equal(sipframe_stream_buffered(fs), 1);
    sipframe_stream_feed(fs, S("\n" M3), 0, rec_sink, &r, &st);
    assert_int_equal(r.n, 2);
    assert_msg(&r, 0, M2);
    assert_msg(&r, 1, M3);
    assert_int_equal(st.keepalives, 3);
    assert_int_equal(st.junk_bytes, 0);
    assert_int_equal(st.resyncs, 0);
    sipframe_stream_free(fs);
}

static void test_stream_junk_then_message(void **state)
{
    (void)state;
    struct rec r = {.n = 0};
    struct sipframe_stats st;
    memset(&st, 0, sizeof st);
    struct sipframe_stream *fs = stream_new(false);
    sipframe_stream_feed(fs, S("hello there\r\nmore junk\r\n" M2), 0, rec_sink, &r, &st);
    assert_int_equal(r.n, 1);
    assert_msg(&r, 0, M2);
    assert_int_equal(st.junk_bytes, 24);
    assert_int_equal(st.resyncs, 1);
    sipframe_stream_free(fs);
}

static void test_stream_midstream_inside_body(void **state)
{
    (void)state;
    struct rec r = {.n = 0};
    struct sipframe_stats st;
    memset(&st, 0, sizeof st);
    struct sipframe_stream *fs = stream_new(true);
    /* picked up inside an SDP body: its lines are skipped up to the next start line */
    sipframe_stream_feed(fs, S("0 0 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\n"), 0, rec_sink,
                         &r, &st);
    sipframe_stream_feed(fs, S("t=0 0\r\n" M3), 0, rec_sink, &r, &st);
    assert_int_equal(r.n, 1);
    assert_msg(&r, 0, M3);
    assert_int_equal(st.resyncs, 1);
    assert_int_equal(st.junk_bytes, 45 + 7);
    sipframe_stream_free(fs);

    /* a mid-stream pickup that happens to begin at a message is not junk */
    memset(&r, 0, sizeof r);
    fs = stream_new(true);
    sipframe_stream_feed(fs, S(M2), 0, rec_sink, &r, &st);
    assert_int_equal(r.n, 1);
    sipframe_stream_free(fs);
}

static void test_stream_gap_drops_partial(void **state)
{
    (void)state;
    struct rec r = {.n = 0};
    struct sipframe_stats st;
    memset(&st, 0, sizeof st);
    struct sipframe_stream *fs = stream_new(false);
    sipframe_stream_feed(fs, S("INVITE sip:bob@b SIP/2.0\r\nContent-Length: 40\r\n\r\nv=0\r\n"), 0,
                         rec_sink, &r, &st);
    assert_true(sipframe_stream_buffered(fs) > 0);
    /* the rest of that body was lost; what follows after the gap: */
    sipframe_stream_feed(fs, S("a=sendrecv\r\n" M2), SIPFRAME_GAP, rec_sink, &r, &st);
    assert_int_equal(r.n, 1);
    assert_msg(&r, 0, M2);
    assert_int_equal(st.resyncs, 1);
    assert_int_equal(st.junk_bytes, 12);
    assert_int_equal(sipframe_stream_buffered(fs), 0);
    sipframe_stream_free(fs);
}

/* A gap inside a NOTIFY's headers: what follows is its sipfrag body, whose
 * "SIP/2.0 100 Trying" looks like a status line. It must not be taken for a
 * message (that would swallow the next NOTIFY as its headers). */
static void test_stream_gap_before_sipfrag_body(void **state)
{
    (void)state;
    struct rec r = {.n = 0};
    struct sipframe_stats st;
    memset(&st, 0, sizeof st);
    struct sipframe_stream *fs = stream_new(false);
    sipframe_stream_feed(fs, S("NOTIFY sip:a@a SIP/2.0\r\nCall-ID: x\r\n"), 0, rec_sink, &r, &st);
    const char *next = "NOTIFY sip:a@a SIP/2.0\r\nCall-ID: x\r\nCSeq: 102 NOTIFY\r\n"
                       "Content-Type: message/sipfrag\r\nContent-Length: 16\r\n\r\n"
                       "SIP/2.0 200 OK\r\n";
    char after[512];
    snprintf(after, sizeof after, "SIP/2.0 100 Trying\r\n%s", next);
    sipframe_stream_feed(fs, S(after), SIPFRAME_GAP, rec_sink, &r, &st);
    assert_int_equal(r.n, 1);
    assert_msg(&r, 0, next);
    assert_int_equal(st.resync_false_starts, 1);
    /* whereas a real message after a gap is taken at once */
    sipframe_stream_feed(fs, S(next), SIPFRAME_GAP, rec_sink, &r, &st);
    assert_int_equal(r.n, 2);
    assert_int_equal(st.resync_false_starts, 1);
    sipframe_stream_free(fs);
}

static void test_stream_too_big_and_bad_length_resync(void **state)
{
    (void)state;
    struct rec r = {.n = 0};
    struct sipframe_stats st;
    memset(&st, 0, sizeof st);
    struct sipframe_stream *fs = stream_new(false);
    sipframe_stream_feed(fs, S("MESSAGE sip:a SIP/2.0\r\nl: 5000\r\n\r\nxxxx\r\n" M2), 0, rec_sink,
                         &r, &st);
    sipframe_stream_feed(fs, S("MESSAGE sip:a SIP/2.0\r\nl: 1\r\nl: 2\r\n\r\nxx\r\n" M3), 0,
                         rec_sink, &r, &st);
    assert_int_equal(r.n, 2);
    assert_msg(&r, 0, M2);
    assert_msg(&r, 1, M3);
    assert_int_equal(st.too_big, 1);
    assert_int_equal(st.bad_length, 1);
    assert_int_equal(st.resyncs, 2);
    sipframe_stream_free(fs);
}

static void test_stream_buffer_stays_bounded(void **state)
{
    (void)state;
    struct rec r = {.n = 0};
    struct sipframe_stats st;
    memset(&st, 0, sizeof st);
    struct sipframe_stream *fs = stream_new(false);
    char chunk[300];
    memset(chunk, 'j', sizeof chunk);
    /* a junk line of 3000 bytes, then a header block that never ends */
    for (int i = 0; i < 10; i++)
        sipframe_stream_feed(fs, sw_bytes_make(chunk, sizeof chunk), 0, rec_sink, &r, &st);
    sipframe_stream_feed(fs, S("\r\n" M2 "INFO sip:a SIP/2.0\r\n"), 0, rec_sink, &r, &st);
    for (int i = 0; i < 10; i++)
        sipframe_stream_feed(fs, sw_bytes_make(chunk, sizeof chunk), 0, rec_sink, &r, &st);
    sipframe_stream_feed(fs, S("\r\n\r\n" M3), 0, rec_sink, &r, &st);
    assert_int_equal(r.n, 2);
    assert_msg(&r, 0, M2);
    assert_msg(&r, 1, M3);
    assert_int_equal(st.too_big, 1);
    assert_true(st.buffered_peak <= MAXM + 1);
    /* both 3000-byte lines and their CRLF; the unfinished header block (20
     * bytes) went as too big, not as junk */
    assert_int_equal(st.junk_bytes, 3002 + 3002);
    sipframe_stream_free(fs);
}

static void test_stream_binary_junk_is_not_held(void **state)
{
    (void)state;
    struct rec r = {.n = 0};
    struct sipframe_stats st;
    memset(&st, 0, sizeof st);
    struct sipframe_stream *fs = stream_new(false);
    uint8_t bin[200];
    for (size_t i = 0; i < sizeof bin; i++)
        bin[i] = (uint8_t)(i % 40 == 7 ? 0x01 : 0xa0 + i % 50); /* a control byte every 40 */
    bin[120] = '\n'; /* lines stay under max_msg (a longer one is junk as a whole) */
    for (int i = 0; i < 20; i++) {
        sipframe_stream_feed(fs, sw_bytes_make(bin, sizeof bin), 0, rec_sink, &r, &st);
        /* a start line never holds a control byte: what precedes one is dropped */
        assert_true(sipframe_stream_buffered(fs) < 40);
    }
    /* the junk line ends in "INVITE ... SIP/2.0": still found */
    sipframe_stream_feed(fs, S("INVITE sip:x SIP/2.0\r"), 0, rec_sink, &r, &st);
    sipframe_stream_feed(fs, S("\nl: 0\r\n\r\n"), 0, rec_sink, &r, &st);
    assert_int_equal(r.n, 1);
    assert_msg(&r, 0, "INVITE sip:x SIP/2.0\r\nl: 0\r\n\r\n");
    assert_int_equal(st.junk_bytes, 20 * sizeof bin);
    assert_true(st.buffered_peak < 40 + sizeof bin); /* one feed on top of the held tail */
    sipframe_stream_free(fs);
}

/* Feeds `parts` one by one to a fresh stream and their concatenation to another. */
static void feed_both(size_t max_msg, const char *const *parts, size_t np, struct rec *r1,
                      struct sipframe_stats *s1, struct rec *r2, struct sipframe_stats *s2)
{
    char all[512];
    size_t n = 0;
    struct sipframe_stream *a = sipframe_stream_new(max_msg, false);
    assert_non_null(a);
    for (size_t i = 0; i < np; i++) {
        size_t k = strlen(parts[i]);
        assert_true(n + k <= sizeof all);
        memcpy(all + n, parts[i], k);
        n += k;
        sipframe_stream_feed(a, S(parts[i]), 0, rec_sink, r1, s1);
    }
    sipframe_stream_free(a);
    struct sipframe_stream *b = sipframe_stream_new(max_msg, false);
    assert_non_null(b);
    sipframe_stream_feed(b, sw_bytes_make(all, n), 0, rec_sink, r2, s2);
    sipframe_stream_free(b);
}

/* A junk line is dropped up to its last control byte before its LF comes;
 * the CRs that follow are still inside that line: not keep-alives, and they
 * count towards its length limit (fuzz: sipframe-crs-inside-junk-line). */
static void test_stream_crs_inside_junk_line(void **state)
{
    (void)state;
    char crs[62];
    memset(crs, '\r', sizeof crs - 1);
    crs[sizeof crs - 1] = '\0';
    /* "junk\1" + 62 CRs + the 20-byte request line: 88 bytes > max_msg 64 */
    const char *const longer[] = {"junk\x01\r", crs, "INVITE sip:a SIP/2.0\r\nl: 0\r\n\r\n"};
    struct rec r1 = {.n = 0}, r2 = {.n = 0};
    struct sipframe_stats s1, s2;
    memset(&s1, 0, sizeof s1);
    memset(&s2, 0, sizeof s2);
    feed_both(64, longer, 3, &r1, &s1, &r2, &s2);
    assert_int_equal(r2.n, 0); /* whole: one junk line over max_msg */
    assert_int_equal(r1.n, 0); /* chunked: the same line */
    assert_int_equal(s1.junk_bytes, s2.junk_bytes);
    assert_int_equal(s1.junk_bytes, 5 + 61 + 1 + 22 + 6);
    assert_int_equal(s1.keepalives, 1); /* the final CRLF only */
    assert_int_equal(s2.keepalives, 1);

    /* the line is within the limit: its tail after the last CR is a start line */
    const char *const shorter[] = {"x\x01\r", "\r\r", "INVITE sip:a SIP/2.0\r\nl: 0\r\n\r\n"};
    memset(&r1, 0, sizeof r1);
    memset(&r2, 0, sizeof r2);
    memset(&s1, 0, sizeof s1);
    memset(&s2, 0, sizeof s2);
    feed_both(64, shorter, 3, &r1, &s1, &r2, &s2);
    assert_int_equal(r1.n, 1);
    assert_int_equal(r2.n, 1);
    assert_msg(&r1, 0, "INVITE sip:a SIP/2.0\r\nl: 0\r\n\r\n");
    assert_msg(&r2, 0, "INVITE sip:a SIP/2.0\r\nl: 0\r\n\r\n");
    assert_int_equal(s1.junk_bytes, 5);
    assert_int_equal(s2.junk_bytes, 5);
    assert_int_equal(s1.keepalives, 0);
    assert_int_equal(s2.keepalives, 0);

    /* an LF right after a partial drop ends the junk line: not a keep-alive */
    const char *const lf[] = {"ab\x01", "\nINVITE sip:a SIP/2.0\r\nl: 0\r\n\r\n"};
    memset(&r1, 0, sizeof r1);
    memset(&s1, 0, sizeof s1);
    memset(&r2, 0, sizeof r2);
    memset(&s2, 0, sizeof s2);
    feed_both(64, lf, 2, &r1, &s1, &r2, &s2);
    assert_int_equal(r1.n, 1);
    assert_int_equal(s1.junk_bytes, 4);
    assert_int_equal(s1.keepalives, 0);
    assert_int_equal(s2.junk_bytes, 4);
}

static void test_datagram_junk_prefix(void **state)
{
    (void)state;
    struct rec r = {.n = 0};
    struct sipframe_stats st;
    memset(&st, 0, sizeof st);
    const char reg[] = "REGISTER sip:1.1.1.1:5060 SIP/2.0\r\nExpires: 3600\r\n\r\n";
    char d[128];
    memcpy(d, "\0\0\0\0", 4);
    memcpy(d + 4, reg, sizeof reg - 1);
    sipframe_datagram(sw_bytes_make(d, 4 + sizeof reg - 1), MAXM, SW_TRANSPORT_UDP, rec_sink, &r,
                      &st);
    memcpy(d, "DB", 2);
    memcpy(d + 2, reg, sizeof reg - 1);
    sipframe_datagram(sw_bytes_make(d, 2 + sizeof reg - 1), MAXM, SW_TRANSPORT_UDP, rec_sink, &r,
                      &st);
    /* junk on lines of its own */
    sipframe_datagram(S("junk\r\nmore\r\n" M2), MAXM, SW_TRANSPORT_UDP, rec_sink, &r, &st);
    assert_int_equal(r.n, 3);
    assert_msg(&r, 0, reg);
    assert_msg(&r, 1, reg);
    assert_msg(&r, 2, M2);
    assert_int_equal(r.tr[0], SW_TRANSPORT_UDP);
    assert_int_equal(st.junk_bytes, 4 + 2 + 12);
    /* a datagram of 4 NULs is not SIP */
    sipframe_datagram(sw_bytes_make("\0\0\0\0", 4), MAXM, SW_TRANSPORT_UDP, rec_sink, &r, &st);
    assert_int_equal(st.not_sip, 1);
    assert_int_equal(st.junk_bytes, 18);
}

static void test_datagram_several_and_truncated(void **state)
{
    (void)state;
    struct rec r = {.n = 0};
    struct sipframe_stats st;
    memset(&st, 0, sizeof st);
    sipframe_datagram(S(M1 M3 M1), MAXM, SW_TRANSPORT_UDP, rec_sink, &r, &st);
    assert_int_equal(r.n, 3);
    assert_msg(&r, 0, M1);
    assert_msg(&r, 1, M3);
    assert_msg(&r, 2, M1);
    /* without Content-Length the rest of the datagram is the body */
    sipframe_datagram(S(M2 M3), MAXM, SW_TRANSPORT_UDP, rec_sink, &r, &st);
    assert_int_equal(r.n, 4);
    assert_msg(&r, 3, M2 M3);
    r.n = 3;
    /* a body shorter than Content-Length: delivered as is, counted */
    sipframe_datagram(S("MESSAGE sip:a SIP/2.0\r\nl: 10\r\n\r\nhello"), MAXM, SW_TRANSPORT_UDP,
                      rec_sink, &r, &st);
    assert_int_equal(r.n, 4);
    assert_msg(&r, 3, "MESSAGE sip:a SIP/2.0\r\nl: 10\r\n\r\nhello");
    assert_int_equal(st.truncated, 1);
    /* bytes past Content-Length that are no message are ignored (RFC 3261 §18.3) */
    sipframe_datagram(S("MESSAGE sip:a SIP/2.0\r\nl: 2\r\n\r\nhello"), MAXM, SW_TRANSPORT_UDP,
                      rec_sink, &r, &st);
    assert_msg(&r, 4, "MESSAGE sip:a SIP/2.0\r\nl: 2\r\n\r\nhe");
    assert_int_equal(st.junk_bytes, 3);
    assert_int_equal(st.messages, 6);
}

static void test_datagram_not_sip(void **state)
{
    (void)state;
    struct rec r = {.n = 0};
    struct sipframe_stats st;
    memset(&st, 0, sizeof st);
    uint8_t rtp[172];
    memset(rtp, 0xd5, sizeof rtp);
    rtp[0] = 0x80;
    rtp[1] = 0x08;
    sipframe_datagram(sw_bytes_make(rtp, sizeof rtp), MAXM, SW_TRANSPORT_UDP, rec_sink, &r, &st);
    /* RTP that happens to carry "SIP/2.0" but no start line */
    memcpy(rtp + 40, "SIP/2.0 xyz\n", 12);
    sipframe_datagram(sw_bytes_make(rtp, sizeof rtp), MAXM, SW_TRANSPORT_UDP, rec_sink, &r, &st);
    sipframe_datagram(S("\r\n\r\n"), MAXM, SW_TRANSPORT_UDP, rec_sink, &r, &st);
    assert_int_equal(r.n, 0);
    assert_int_equal(st.not_sip, 2);
    assert_int_equal(st.keepalives, 1);
    assert_int_equal(st.junk_bytes, 0);
}

/* Builds one WebSocket frame; mask NULL = unmasked. Returns its size. */
static size_t ws_frame(uint8_t *out, bool fin, unsigned op, const uint8_t *mask, const void *data,
                       size_t n, bool long16)
{
    size_t i = 0;
    out[i++] = (uint8_t)((fin ? 0x80 : 0) | op);
    uint8_t mb = mask ? 0x80 : 0;
    if (n < 126 && !long16) {
        out[i++] = (uint8_t)(mb | n);
    } else {
        out[i++] = (uint8_t)(mb | 126);
        out[i++] = (uint8_t)(n >> 8);
        out[i++] = (uint8_t)n;
    }
    if (mask) {
        memcpy(out + i, mask, 4);
        i += 4;
    }
    for (size_t k = 0; k < n; k++)
        out[i + k] = (uint8_t)(((const uint8_t *)data)[k] ^ (mask ? mask[k & 3] : 0));
    return i + n;
}

static void test_websocket(void **state)
{
    (void)state;
    struct rec r = {.n = 0};
    struct sipframe_stats st;
    memset(&st, 0, sizeof st);
    static const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};
    uint8_t buf[2048];
    size_t n = 0;
    const char *upgrade = "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: WebSocket\r\n"
                          "Connection: Upgrade\r\nSec-WebSocket-Protocol: sip\r\n\r\n";
    memcpy(buf, upgrade, strlen(upgrade));
    n = strlen(upgrade);
    /* client -> server: a masked frame (16-bit length), then a message in
     * two fragments with a ping between them */
    n += ws_frame(buf + n, true, 1, key, M1, strlen(M1), true);
    const char *m2 = M2;
    n += ws_frame(buf + n, false, 1, key, m2, 10, false);
    n += ws_frame(buf + n, true, 9, key, "hi", 2, false);
    n += ws_frame(buf + n, true, 0, key, m2 + 10, strlen(m2) - 10, false);
    struct sipframe_stream *fs = stream_new(false);
    /* fed in pieces of 7 bytes: heads and frames split across feeds */
    for (size_t i = 0; i < n; i += 7)
        sipframe_stream_feed(fs, sw_bytes_make(buf + i, SW_MIN((size_t)7, n - i)), 0, rec_sink, &r,
                             &st);
    assert_int_equal(r.n, 2);
    assert_msg(&r, 0, M1);
    assert_msg(&r, 1, M2);
    assert_int_equal(r.tr[0], SW_TRANSPORT_WS);
    assert_int_equal(r.tr[1], SW_TRANSPORT_WS);
    assert_int_equal(st.ws_streams, 1);
    assert_int_equal(st.ws_frames, 3);
    assert_int_equal(st.ws_control, 1);
    assert_int_equal(st.ws_errors, 0);
    assert_int_equal(st.junk_bytes, 0);
    sipframe_stream_free(fs);

    /* server -> client: 101, then unmasked frames in one feed */
    memset(&r, 0, sizeof r);
    const char *ok = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n";
    memcpy(buf, ok, strlen(ok));
    n = strlen(ok);
    n += ws_frame(buf + n, true, 1, NULL, M3, strlen(M3), false);
    n += ws_frame(buf + n, true, 10, NULL, "", 0, false); /* pong */
    n += ws_frame(buf + n, true, 2, NULL, M2, strlen(M2), false);
    fs = stream_new(false);
    sipframe_stream_feed(fs, sw_bytes_make(buf, n), 0, rec_sink, &r, &st);
    assert_int_equal(r.n, 2);
    assert_msg(&r, 0, M3);
    assert_msg(&r, 1, M2);
    assert_int_equal(st.ws_streams, 2);
    assert_int_equal(st.ws_control, 2);
    sipframe_stream_free(fs);
}

static void test_websocket_hostile_frames(void **state)
{
    (void)state;
    struct rec r = {.n = 0};
    struct sipframe_stats st;
    memset(&st, 0, sizeof st);
    const char *ok = "HTTP/1.1 101 Switching Protocols\r\n\r\n";
    uint8_t buf[4096];
    size_t n = strlen(ok);
    memcpy(buf, ok, n);
    /* a frame over max_msg (1500 > 1024) is skipped, the next one is fine */
    uint8_t big[1500];
    memset(big, 'x', sizeof big);
    n += ws_frame(buf + n, true, 1, NULL, big, sizeof big, true);
    n += ws_frame(buf + n, true, 0, NULL, "zz", 2, false); /* continuation of nothing */
    n += ws_frame(buf + n, true, 1, NULL, M3, strlen(M3), false);
    n += ws_frame(buf + n, true, 1, NULL, "not sip", 7, false);
    struct sipframe_stream *fs = stream_new(false);
    sipframe_stream_feed(fs, sw_bytes_make(buf, n), 0, rec_sink, &r, &st);
    assert_int_equal(r.n, 1);
    assert_msg(&r, 0, M3);
    assert_int_equal(st.too_big, 1);
    assert_int_equal(st.ws_errors, 2); /* the stray continuation, the non-SIP message */
    /* a 64-bit length with its top bit set: framing is lost for good */
    const uint8_t evil[] = {0x81, 127, 0x80, 0, 0, 0, 0, 0, 0, 5, 'a'};
    sipframe_stream_feed(fs, sw_bytes_make(evil, sizeof evil), 0, rec_sink, &r, &st);
    assert_int_equal(st.ws_errors, 3);
    n = ws_frame(buf, true, 1, NULL, M3, strlen(M3), false);
    sipframe_stream_feed(fs, sw_bytes_make(buf, n), 0, rec_sink, &r, &st);
    assert_int_equal(r.n, 1);
    assert_true(sipframe_stream_buffered(fs) <= MAXM);
    sipframe_stream_free(fs);
}

static void test_http_without_upgrade_is_junk(void **state)
{
    (void)state;
    struct rec r = {.n = 0};
    struct sipframe_stats st;
    memset(&st, 0, sizeof st);
    struct sipframe_stream *fs = stream_new(false);
    sipframe_stream_feed(fs, S("GE"), 0, rec_sink, &r, &st);
    sipframe_stream_feed(fs, S("T / HTTP/1.1\r\nHost: x\r\n\r\n" M2), 0, rec_sink, &r, &st);
    assert_int_equal(r.n, 1);
    assert_msg(&r, 0, M2);
    assert_int_equal(r.tr[0], SW_TRANSPORT_TCP);
    assert_int_equal(st.ws_streams, 0);
    assert_int_equal(st.junk_bytes, 27);
    sipframe_stream_free(fs);
}

static void test_counters(void **state)
{
    (void)state;
    struct sipframe_stats st;
    memset(&st, 0, sizeof st);
    st.messages = 7;
    st.buffered_peak = 9;
    struct sw_counters c;
    c.n = 0;
    c.group = NULL;
    sipframe_counters(&st, &c);
    assert_string_equal(c.v[0].name, "sip_framed");
    assert_int_equal(c.v[0].value, 7);
    assert_string_equal(c.v[c.n - 1].name, "sip_buffered_peak");
    assert_int_equal(c.v[c.n - 1].value, 9);
}

/* sipframe_datagram_whole with sipmsg's scanner framing the first message. */
struct whole {
    struct rec r;
    size_t max;
    size_t calls;
    unsigned notes;
    struct sip_msg msg;
    struct sipmsg_stats st;
};

static void whole_rec(void *ctx, struct sw_bytes m, enum sw_transport t)
{
    rec_sink(&((struct whole *)ctx)->r, m, t);
}

static void whole_sink(void *ctx, struct sw_bytes d, enum sw_transport t, size_t *len,
                       unsigned *notes)
{
    struct whole *w = ctx;
    w->calls++;
    (void)sipmsg_parse_datagram(d, w->max, SIPMSG_LAZY, &w->msg, &w->st, len, notes);
    w->notes = *notes;
    rec_sink(&w->r, sw_bytes_make(d.p, *len), t);
}

/* Frames d both ways; they must agree on messages and every count. Returns
 * how often the whole sink ran. */
static size_t both_ways(struct sw_bytes d, size_t max, struct whole *w, struct sipframe_stats *sx)
{
    static struct rec x;
    struct sipframe_stats sy;
    memset(&x, 0, sizeof x);
    memset(sx, 0, sizeof *sx);
    memset(&sy, 0, sizeof sy);
    memset(&w->r, 0, sizeof w->r);
    w->max = max;
    w->calls = 0;
    w->notes = 0;
    sipframe_datagram(d, max, SW_TRANSPORT_UDP, rec_sink, &x, sx);
    sipframe_datagram_whole(d, max, SW_TRANSPORT_UDP, whole_rec, whole_sink, w, &sy);
    assert_int_equal(x.n, w->r.n);
    for (size_t i = 0; i < x.n; i++) {
        assert_int_equal(x.len[i], w->r.len[i]);
        assert_memory_equal(x.msg[i], w->r.msg[i], x.len[i]);
    }
    assert_memory_equal(sx, &sy, sizeof sy);
    return w->calls;
}

#define HDRS "INVITE sip:b@h SIP/2.0\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\n"

static void test_whole_cuts_like_datagram(void **state)
{
    (void)state;
    static struct whole w;
    struct sipframe_stats st;
    assert_int_equal(sipmsg_global_init(), 0);

    /* Content-Length shorter than the rest: the rest is a second datagram part */
    assert_int_equal(both_ways(S(HDRS "Content-Length: 3\r\n\r\nabcjunk"), MAXM, &w, &st), 1);
    assert_int_equal(w.r.n, 1);
    assert_msg(&w.r, 0, HDRS "Content-Length: 3\r\n\r\nabc");
    assert_int_equal(st.junk_bytes, 4);
    /* exactly the body */
    both_ways(S(HDRS "Content-Length: 3\r\n\r\nabc"), MAXM, &w, &st);
    assert_int_equal(w.r.n, 1);
    assert_int_equal(w.notes, 0);
    /* one byte missing: truncated, all of it taken */
    both_ways(S(HDRS "Content-Length: 4\r\n\r\nabc"), MAXM, &w, &st);
    assert_int_equal(w.notes, SIPFRAME_CUT_TRUNCATED);
    assert_int_equal(st.truncated, 1);
    assert_msg(&w.r, 0, HDRS "Content-Length: 4\r\n\r\nabc");
    /* compact form, LF-only lines */
    both_ways(S("SIP/2.0 200 OK\nCall-ID: c\nCSeq: 1 BYE\nl: 1\n\nxy"), MAXM, &w, &st);
    assert_msg(&w.r, 0, "SIP/2.0 200 OK\nCall-ID: c\nCSeq: 1 BYE\nl: 1\n\nx");
    /* conflicting values: unusable, the rest is the body */
    both_ways(S(HDRS "Content-Length: 1\r\nl: 2\r\n\r\nabc"), MAXM, &w, &st);
    assert_int_equal(w.notes, SIPFRAME_CUT_BAD_LENGTH);
    assert_int_equal(st.bad_length, 1);
    assert_int_equal(w.r.len[0], strlen(HDRS "Content-Length: 1\r\nl: 2\r\n\r\nabc"));
    /* the same value twice is fine; the second instance is read too */
    both_ways(S(HDRS "Content-Length: 1\r\ncontent-length :1\r\n\r\nabc"), MAXM, &w, &st);
    assert_int_equal(w.notes, 0);
    assert_int_equal(w.r.n, 1);
    assert_int_equal(st.junk_bytes, 2); /* "bc" after the message: not SIP */
    /* not a number; a folded value (the framer reads the first line only) */
    both_ways(S(HDRS "Content-Length: abc\r\n\r\nxyz"), MAXM, &w, &st);
    assert_int_equal(w.notes, SIPFRAME_CUT_BAD_LENGTH);
    both_ways(S(HDRS "Content-Length:\r\n 1\r\n\r\nxyz"), MAXM, &w, &st);
    assert_int_equal(w.notes, SIPFRAME_CUT_BAD_LENGTH);
    /* the largest value allowed, and the first refused (over max_msg) */
    both_ways(S(HDRS "Content-Length: 1024\r\n\r\nxyz"), MAXM, &w, &st);
    assert_int_equal(w.notes, SIPFRAME_CUT_TRUNCATED);
    both_ways(S(HDRS "Content-Length: 1025\r\n\r\nxyz"), MAXM, &w, &st);
    assert_int_equal(w.notes, SIPFRAME_CUT_TRUNCATED);
    both_ways(S(HDRS "Content-Length: 99999999999999999999999\r\n\r\nxyz"), MAXM, &w, &st);
    assert_int_equal(w.notes, SIPFRAME_CUT_TRUNCATED);
    /* headers that never end: the whole datagram, Content-Length or not; a
     * last line without LF is not read as a header */
    both_ways(S(HDRS "Content-Length: 1\r\nX: y"), MAXM, &w, &st);
    assert_int_equal(w.notes, 0);
    assert_int_equal(w.r.len[0], strlen(HDRS "Content-Length: 1\r\nX: y"));
    both_ways(S(HDRS "Content-Length: 0"), MAXM, &w, &st);
    assert_int_equal(w.notes, 0);
    /* a lone CR at the very end does not end the header block (fuzzer) */
    both_ways(S(HDRS "l: x\r\n\r"), MAXM, &w, &st);
    assert_int_equal(w.notes, 0);
    assert_int_equal(st.bad_length, 0);
    both_ways(S(HDRS "l: x\r\n\r\n"), MAXM, &w, &st);
    assert_int_equal(w.notes, SIPFRAME_CUT_BAD_LENGTH);
    both_ways(S("OPTIONS sip:h SIP/2.0"), MAXM, &w, &st);
    assert_int_equal(w.r.n, 1);
    /* a name that only starts like Content-Length */
    both_ways(S(HDRS "Content-Lengthy: 1\r\nlx: 1\r\n\r\nabc"), MAXM, &w, &st);
    assert_int_equal(w.notes, 0);
    assert_int_equal(w.r.n, 1);
    /* two messages: the second is framed by sipframe_datagram's rules */
    assert_int_equal(both_ways(S(HDRS "l: 0\r\n\r\n" HDRS "l: 2\r\n\r\nab\r\n"), MAXM, &w, &st), 1);
    assert_int_equal(w.r.n, 2);
    assert_int_equal(st.messages, 2);
}

static void test_whole_falls_back(void **state)
{
    (void)state;
    static struct whole w;
    struct sipframe_stats st;
    assert_int_equal(sipmsg_global_init(), 0);
    /* not starting with a plain start line: the whole sink is not used */
    assert_int_equal(both_ways(S("\r\n" HDRS "\r\n"), MAXM, &w, &st), 0);
    assert_int_equal(both_ways(S("xx" HDRS "\r\n"), MAXM, &w, &st), 0);
    assert_int_equal(both_ways(S("DBREGISTER sip:h SIP/2.0\r\n\r\n"), MAXM, &w, &st), 0);
    assert_int_equal(both_ways(S("RTP!"), MAXM, &w, &st), 0);
    /* a datagram of max_msg bytes goes through it, one byte more does not */
    char big[80];
    memset(big, 'a', sizeof big);
    memcpy(big, HDRS "\r\n", strlen(HDRS "\r\n"));
    size_t n = strlen(HDRS "\r\n") + 4;
    assert_int_equal(both_ways(sw_bytes_make(big, n), n, &w, &st), 1);
    assert_int_equal(both_ways(sw_bytes_make(big, n), n - 1, &w, &st), 0);
    assert_int_equal(st.too_big, 1);
    /* sipframe_cut on its own */
    struct sipframe_cl cl = {false, false, false, 0};
    unsigned notes = 7;
    assert_int_equal(sipframe_cut(&cl, 0, 10, &notes), 10);
    assert_int_equal(notes, 0);
    assert_int_equal(sipframe_cut(&cl, 11, 10, &notes), 10);
    assert_int_equal(sipframe_cut(&cl, 4, 10, &notes), 10);
    sipframe_cl_line(&cl, S("Content-Length: 6"), 100);
    assert_int_equal(sipframe_cut(&cl, 4, 10, &notes), 10);
    assert_int_equal(notes, 0);
    sipframe_cl_line(&cl, S("L: 6"), 100);
    assert_int_equal(sipframe_cut(&cl, 4, 9, &notes), 9);
    assert_int_equal(notes, SIPFRAME_CUT_TRUNCATED);
    sipframe_cl_line(&cl, S(""), 100); /* ignored */
    sipframe_cl_line(&cl, S("l: 5"), 100);
    assert_int_equal(sipframe_cut(&cl, 4, 10, &notes), 10);
    assert_int_equal(notes, SIPFRAME_CUT_BAD_LENGTH);
    /* sipframe_cl_value: the value alone, with what it read */
    struct sipframe_cl cv = {false, false, false, 0};
    uint64_t v = 0;
    assert_true(sipframe_cl_value(&cv, S(" 6 "), 100, &v));
    assert_int_equal(v, 6);
    assert_true(cv.have && !cv.big && !cv.bad && cv.value == 6);
    assert_false(sipframe_cl_value(&cv, S(" 600"), 100, &v)); /* over max: big */
    assert_true(cv.big && cv.bad);                            /* and conflicting */
    struct sipframe_cl cb = {false, false, false, 0};
    assert_false(sipframe_cl_value(&cb, S(" 6\r"), 100, &v)); /* digits, but not between SP/HTAB */
    assert_true(cb.have && cb.big && !cb.bad);
    assert_false(sipframe_cl_value(&cb, S(" x"), 100, &v));
    assert_true(cb.bad);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_start_lines),
        cmocka_unit_test(test_next_without_content_length),
        cmocka_unit_test(test_next_content_length_forms),
        cmocka_unit_test(test_next_body_edges),
        cmocka_unit_test(test_next_too_big),
        cmocka_unit_test(test_next_bad_length),
        cmocka_unit_test(test_next_skip),
        cmocka_unit_test(test_stream_two_messages_and_byte_by_byte),
        cmocka_unit_test(test_stream_keepalives),
        cmocka_unit_test(test_stream_junk_then_message),
        cmocka_unit_test(test_stream_midstream_inside_body),
        cmocka_unit_test(test_stream_gap_drops_partial),
        cmocka_unit_test(test_stream_gap_before_sipfrag_body),
        cmocka_unit_test(test_stream_too_big_and_bad_length_resync),
        cmocka_unit_test(test_stream_buffer_stays_bounded),
        cmocka_unit_test(test_stream_binary_junk_is_not_held),
        cmocka_unit_test(test_stream_crs_inside_junk_line),
        cmocka_unit_test(test_datagram_junk_prefix),
        cmocka_unit_test(test_datagram_several_and_truncated),
        cmocka_unit_test(test_datagram_not_sip),
        cmocka_unit_test(test_websocket),
        cmocka_unit_test(test_websocket_hostile_frames),
        cmocka_unit_test(test_http_without_upgrade_is_junk),
        cmocka_unit_test(test_counters),
        cmocka_unit_test(test_whole_cuts_like_datagram),
        cmocka_unit_test(test_whole_falls_back),
    };
    return cmocka_run_group_tests_name("sipframe", tests, NULL, NULL);
}
