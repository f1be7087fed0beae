/*
 * fuzz_sipframe.c - libFuzzer target for sipframe. Byte 0 picks max_msg
 * (small, so the caps are hit) and whether the stream starts mid-way; the
 * rest is chunks, each a length byte then that many bytes (0xff instead of
 * a length marks a gap). Every chunk goes into its own exact-size malloc so
 * ASan sees its real end (Suricata's approach). The chunks are fed to one
 * stream framer and their concatenation, in one call, to another: unless the
 * input switched to WebSocket or had a gap, both must frame the same
 * messages and count the same junk, resyncs, false starts and drops. The
 * whole input is also framed as a datagram and with
 * sipframe_next, checking the lengths they return. Every datagram is framed
 * a second time with sipframe_datagram_whole, the scanner of
 * sipmsg_parse_datagram cutting the first message: the messages and every
 * count must be the same.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sipwatch/sipframe.h"
#include "sipwatch/sipmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct msgs {
    uint8_t *buf;
    size_t n, cap;
    size_t count;
    size_t max_msg;
};

/* Appends [transport][len 4 bytes][bytes] for each message. */
static void rec(void *ctx, struct sw_bytes m, enum sw_transport t)
{
    struct msgs *r = ctx;
    if (m.n == 0 || m.n > r->max_msg)
        abort();
    size_t need = r->n + 5 + m.n;
    if (need > r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 4096;
        while (cap < need)
            cap *= 2;
        uint8_t *p = realloc(r->buf, cap);
        if (p == NULL)
            abort();
        r->buf = p;
        r->cap = cap;
    }
    r->buf[r->n] = (uint8_t)t;
    memcpy(r->buf + r->n + 1, &m.n, 4);
    memcpy(r->buf + r->n + 5, m.p, m.n);
    r->n = need;
    r->count++;
}

struct whole_ctx {
    struct msgs *r;
    size_t max_msg;
    struct sip_msg msg;
    struct sipmsg_stats st;
};

static void rec_w(void *ctx, struct sw_bytes m, enum sw_transport t)
{
    struct whole_ctx *w = ctx;
    rec(w->r, m, t);
}

static void whole_sink(void *ctx, struct sw_bytes d, enum sw_transport t, size_t *len,
                       unsigned *notes)
{
    struct whole_ctx *w = ctx;
    (void)sipmsg_parse_datagram(d, w->max_msg, SIPMSG_LAZY, &w->msg, &w->st, len, notes);
    if (*len == 0 || *len > d.n)
        abort();
    rec(w->r, sw_bytes_make(d.p, *len), t);
}

/* sipframe_datagram and sipframe_datagram_whole must agree on everything. */
static void check_whole(const uint8_t *p, size_t n, size_t max_msg)
{
    static bool inited;
    static struct whole_ctx w;
    if (!inited) {
        if (sipmsg_global_init() != 0)
            abort();
        inited = true;
    }
    struct msgs x = {NULL, 0, 0, 0, max_msg}, y = {NULL, 0, 0, 0, max_msg};
    struct sipframe_stats sx, sy;
    memset(&sx, 0, sizeof sx);
    memset(&sy, 0, sizeof sy);
    w.r = &y;
    w.max_msg = max_msg;
    sipframe_datagram(sw_bytes_make(p, n), max_msg, SW_TRANSPORT_UDP, rec, &x, &sx);
    sipframe_datagram_whole(sw_bytes_make(p, n), max_msg, SW_TRANSPORT_UDP, rec_w, whole_sink, &w,
                            &sy);
    if (x.count != y.count || x.n != y.n || (x.n > 0 && memcmp(x.buf, y.buf, x.n) != 0) ||
        memcmp(&sx, &sy, sizeof sx) != 0)
        abort();
    free(x.buf);
    free(y.buf);
}

static void check_next(const uint8_t *p, size_t n, size_t max_msg, bool stream)
{
    size_t len = 0;
    enum sipframe_result r = sipframe_next(sw_bytes_make(p, n), max_msg, stream, &len);
    if (r == SIPFRAME_NEED_MORE)
        return;
    if (len == 0 || len > n || (r == SIPFRAME_MESSAGE && len > max_msg))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t max_msg = 16 + (size_t)(data[0] & 0x3f) * 64;
    bool midstream = (data[0] & 0x40) != 0;
    struct msgs a = {NULL, 0, 0, 0, max_msg}, b = {NULL, 0, 0, 0, max_msg};
    struct sipframe_stats sa, sb, sd;
    memset(&sa, 0, sizeof sa);
    memset(&sb, 0, sizeof sb);
    memset(&sd, 0, sizeof sd);

    uint8_t *whole = malloc(size);
    if (whole == NULL)
        return 0;
    size_t wn = 0;
    bool gap = false;
    struct sipframe_stream *fa = sipframe_stream_new(max_msg, midstream);
    size_t i = 1;
    while (fa != NULL && i < size) {
        unsigned flags = 0;
        size_t len = data[i++];
        if (len == 0xff) {
            gap = true;
            flags = SIPFRAME_GAP;
            len = 0;
        }
        if (len > size - i)
            len = size - i;
        uint8_t *chunk = malloc(len ? len : 1);
        if (chunk == NULL)
            break;
        memcpy(chunk, data + i, len);
        memcpy(whole + wn, chunk, len);
        wn += len;
        i += len;
        sipframe_stream_feed(fa, sw_bytes_make(chunk, len), flags, rec, &a, &sa);
        free(chunk);
        if (sipframe_stream_buffered(fa) > max_msg + 15)
            abort();
        if (flags == 0 && len > 0) {
            sipframe_datagram(sw_bytes_make(data + i - len, len), max_msg, SW_TRANSPORT_UDP, rec,
                              &b, &sd);
            check_whole(data + i - len, len, max_msg);
        }
    }
    sipframe_stream_free(fa);

    /* the exact-size concatenation, in one feed */
    uint8_t *cat = malloc(wn ? wn : 1);
    if (cat != NULL) {
        memcpy(cat, whole, wn);
        b.n = b.count = 0;
        /* only if `fa` was fed at all: a mid-stream start is counted at the
         * first feed, even an empty one */
        struct sipframe_stream *fb = size > 1 ? sipframe_stream_new(max_msg, midstream) : NULL;
        if (fb != NULL) {
            sipframe_stream_feed(fb, sw_bytes_make(cat, wn), 0, rec, &b, &sb);
            sipframe_stream_free(fb);
        }
        if (fa != NULL && fb != NULL && !gap && sa.ws_streams == 0 && sb.ws_streams == 0) {
            if (a.count != b.count || a.n != b.n || (a.n > 0 && memcmp(a.buf, b.buf, a.n) != 0))
                abort(); /* chunking changed the framing */
            /* The framer's state must not depend on chunking either, even
             * where the messages happen to agree (a false start skipped in
             * one and not in the other can hide behind headers_plausible).
             * Keep-alives are not compared: a CR run split across feeds is
             * counted once per feed. */
            if (sa.junk_bytes != sb.junk_bytes || sa.resyncs != sb.resyncs ||
                sa.resync_false_starts != sb.resync_false_starts || sa.too_big != sb.too_big ||
                sa.bad_length != sb.bad_length)
                abort();
        }
        struct msgs d = {NULL, 0, 0, 0, max_msg};
        sipframe_datagram(sw_bytes_make(cat, wn), max_msg, SW_TRANSPORT_UDP, rec, &d, &sd);
        free(d.buf);
        check_whole(cat, wn, max_msg);
        check_next(cat, wn, max_msg, true);
        check_next(cat, wn, max_msg, false);
        free(cat);
    }
    free(whole);
    free(a.buf);
    free(b.buf);
    return 0;
}
