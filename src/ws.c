/*
 * ws.c - WebSocket frame parsing (RFC 6455 §5.2) for SIP over WebSocket
 * (RFC 7118), used by sipframe on a stream direction after its HTTP upgrade.
 *
 * Owns: the partial frame header (at most 14 bytes) and the message being
 * assembled from text/binary + continuation frames, capped at max_msg.
 * Payload bytes are streamed: a frame is never buffered whole, a frame over
 * the cap is skipped without holding it, and an unmasked unfragmented frame
 * that is whole in the input is handed on without a copy.
 * Does not: decompress (permessage-deflate frames, RSV1, are counted and
 * skipped), validate UTF-8, or answer anything (passive).
 */
#include "ws.h"

#include <stdlib.h>
#include <string.h>

#include "sipwatch/ascii.h"

#define WS_OP_CONT 0x0
#define WS_OP_TEXT 0x1
#define WS_OP_BINARY 0x2
#define WS_OP_CLOSE 0x8

void ws_init(struct ws *w, size_t max_msg)
{
    memset(w, 0, sizeof *w);
    w->max_msg = max_msg;
}

void ws_fini(struct ws *w)
{
    free(w->msg);
    w->msg = NULL;
    w->msg_n = w->msg_cap = 0;
}

size_t ws_buffered(const struct ws *w)
{
    return w->hn + w->msg_n;
}

static size_t header_len(uint8_t b1)
{
    size_t n = 2;
    if ((b1 & 0x7f) == 126)
        n += 2;
    else if ((b1 & 0x7f) == 127)
        n += 8;
    if (b1 & 0x80)
        n += 4;
    return n;
}

static void msg_reset(struct ws *w)
{
    w->in_msg = false;
    w->msg_drop = false;
    w->msg_n = 0;
}

/* Parses the complete header in w->hdr and decides what its payload is for. */
static void start_frame(struct ws *w, struct ws_stats *st)
{
    uint8_t b0 = w->hdr[0], b1 = w->hdr[1];
    size_t i = 2;
    uint64_t len = b1 & 0x7f;
    if (len == 126) {
        len = ((uint64_t)w->hdr[2] << 8) | w->hdr[3];
        i = 4;
    } else if (len == 127) {
        len = 0;
        for (i = 2; i < 10; i++)
            len = (len << 8) | w->hdr[i];
    }
    w->masked = (b1 & 0x80) != 0;
    if (w->masked)
        memcpy(w->key, w->hdr + i, 4);
    w->hn = 0;
    w->fin = (b0 & 0x80) != 0;
    unsigned op = b0 & 0x0f;
    w->control = op >= 8;
    w->keep = false;
    w->in_payload = true;
    w->left = len;
    w->moff = 0;

    bool after_gap = w->after_gap;
    w->after_gap = false;
    bool bad = (b0 & 0x70) != 0 || (op > WS_OP_BINARY && op < WS_OP_CLOSE) || op > 0xa ||
               (w->control && (!w->fin || len > 125));
    /* RFC 6455 §5.2: the most significant bit of a 64-bit length MUST be 0 */
    if ((len >> 63) != 0 || (after_gap && (bad || len > w->max_msg || op == WS_OP_CONT))) {
        st->errors++;
        w->dead = true;
        msg_reset(w);
        return;
    }
    if (bad) {
        st->errors++;
        if (!w->control)
            msg_reset(w);  /* a compressed or unknown data frame: its message is lost */
        w->control = true; /* skip the payload and never end a message with it */
        return;
    }
    if (w->control) {
        st->control++;
        return;
    }
    st->frames++;
    if (op == WS_OP_CONT) {
        if (!w->in_msg) {
            st->errors++; /* a continuation with nothing to continue */
            w->control = true;
            return;
        }
    } else {
        if (w->in_msg)
            st->errors++; /* the previous message never got its FIN */
        msg_reset(w);
        w->in_msg = true;
    }
    if (w->msg_drop)
        return;
    if (len > w->max_msg - w->msg_n) {
        st->too_big++;
        w->msg_drop = true;
        w->msg_n = 0;
        return;
    }
    w->keep = true;
}

/* The payload of the current frame is complete. */
static void end_frame(struct ws *w, ws_msg_fn *fn, void *ctx)
{
    w->in_payload = false;
    if (w->control || !w->fin)
        return;
    if (!w->msg_drop && w->msg_n > 0)
        fn(ctx, sw_bytes_make(w->msg, w->msg_n));
    msg_reset(w);
}

static bool msg_reserve(struct ws *w, size_t need)
{
    if (need <= w->msg_cap)
        return true;
    size_t cap = w->msg_cap ? w->msg_cap : 512;
    while (cap < need)
        cap *= 2;
    if (cap > w->max_msg)
        cap = w->max_msg;
    uint8_t *p = realloc(w->msg, cap);
    if (p == NULL)
        return false;
    w->msg = p;
    w->msg_cap = cap;
    return true;
}

void ws_feed(struct ws *w, struct sw_bytes data, ws_msg_fn *fn, void *ctx, struct ws_stats *st)
{
    while (data.n > 0 && !w->dead) {
        if (!w->in_payload) {
            size_t need = w->hn >= 2 ? header_len(w->hdr[1]) : 2;
            while (w->hn < need && data.n > 0) {
                w->hdr[w->hn++] = data.p[0];
                data.p++;
                data.n--;
                if (w->hn == 2)
                    need = header_len(w->hdr[1]);
            }
            if (w->hn < need)
                return;
            start_frame(w, st);
            if (!w->dead && w->left == 0)
                end_frame(w, fn, ctx);
            continue;
        }
        size_t take = w->left < data.n ? (size_t)w->left : data.n;
        if (w->keep) {
            if (!w->masked && w->fin && w->msg_n == 0 && w->moff == 0 && take == w->left) {
                /* a whole unfragmented server frame in the input: no copy */
                w->left = 0;
                w->in_payload = false;
                fn(ctx, sw_bytes_make(data.p, take));
                msg_reset(w);
                data.p += take;
                data.n -= take;
                continue;
            }
            if (!msg_reserve(w, w->msg_n + take)) {
                st->errors++; /* out of memory: the message is lost */
                w->msg_drop = true;
                w->keep = false;
                w->msg_n = 0;
            } else {
                uint8_t *dst = w->msg + w->msg_n;
                for (size_t i = 0; i < take; i++)
                    dst[i] =
                        w->masked ? (uint8_t)(data.p[i] ^ w->key[(w->moff + i) & 3]) : data.p[i];
                w->msg_n += take;
            }
        }
        w->left -= take;
        w->moff += take;
        data.p += take;
        data.n -= take;
        if (w->left == 0)
            end_frame(w, fn, ctx);
    }
}

void ws_gap(struct ws *w, struct ws_stats *st)
{
    st->errors++;
    msg_reset(w);
    w->hn = 0;
    w->in_payload = false;
    w->dead = false;
    w->after_gap = true;
}

bool ws_is_upgrade(struct sw_bytes head)
{
    if (ascii_starts(head, "HTTP/1.") && head.n >= 12 && head.p[8] == ' ' &&
        memcmp(head.p + 9, "101", 3) == 0)
        return true;
    size_t i = 0;
    while (i < head.n) {
        const uint8_t *lf = memchr(head.p + i, '\n', head.n - i);
        size_t e = lf != NULL ? (size_t)(lf - head.p) : head.n;
        struct sw_bytes line = sw_bytes_make(head.p + i, e - i);
        if (ascii_istarts(line, "upgrade")) {
            size_t k = 7;
            while (k < line.n && ascii_is_ws(line.p[k]))
                k++;
            if (k < line.n && line.p[k] == ':') {
                struct sw_bytes v = sw_bytes_make(line.p + k + 1, line.n - k - 1);
                if (ascii_ifind(v, "websocket") < v.n)
                    return true;
            }
        }
        i = e + 1;
    }
    return false;
}
