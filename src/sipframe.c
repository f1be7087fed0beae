/*
 * sipframe.c - SIP message boundaries in datagrams and byte streams
 * (RFC 3261 §7.5 start lines, §18.3 framing; RFC 5626 §3.5.1 CRLF
 * keep-alives; RFC 7118 / RFC 6455 SIP over WebSocket, see ws.c).
 *
 * Owns: per stream direction, the partial message (only the tail that is not
 * yet whole is copied; messages whole in the input are delivered from the
 * caller's view) in a buffer that never holds more than max_msg + 1 bytes,
 * and the WebSocket state of directions that upgraded.
 *
 * The framer examines complete lines only, and remembers how far it got
 * (struct fstate), so a message fed byte by byte costs the same as one fed
 * whole and frames into exactly the same messages:
 *  - a message starts at a start line; bytes before one are junk, skipped a
 *    line at a time (the line may also end in a start line after a junk
 *    prefix: "\0\0\0\0REGISTER ...", or "DBREGISTER ..." where a known method
 *    ends an unknown token);
 *  - its header block ends at an empty line (CRLFCRLF, or LFLF from sloppy
 *    senders); Content-Length or compact `l` gives the body length;
 *  - on a stream, no Content-Length means no body; a header block or message
 *    over max_msg, or an unusable Content-Length, drops the header block and
 *    resyncs on the next start line (as after a gap or a mid-stream start);
 *  - in a datagram, no (or an unusable) Content-Length means the rest of the
 *    datagram, and a body cut short is delivered as it is (counted).
 * Does not: parse headers other than Content-Length, or unfold folded lines.
 */
#include "sipwatch/sipframe.h"

#include <stdlib.h>
#include <string.h>

#include "sipwatch/ascii.h"
#include "ws.h"

enum fr {
    FR_MESSAGE,
    FR_NEED_MORE,
    FR_KEEPALIVE,
    FR_JUNK,
    FR_TOO_BIG,
    FR_BAD_LENGTH,
};

#define NOTE_TRUNCATED 0x1  /* datagram: body shorter than Content-Length */
#define NOTE_BAD_LENGTH 0x2 /* datagram: unusable Content-Length, rest taken as body */
#define NOTE_LONG_LINE 0x4  /* stream: a junk line over max_msg; drop through its LF */
#define NOTE_PARTIAL 0x8    /* stream: junk from an unfinished line; the line goes on */

/* How far the framer got into the message at the head of its input; offsets
 * are relative to that head. All zero = nothing examined yet. */
struct fstate {
    size_t line;  /* start of the next header line to examine */
    size_t scan;  /* no LF in [line, scan) */
    size_t hend;  /* end of the header block (after its empty line), 0 = not found */
    bool in_head; /* the start line was accepted */
    bool status_cand; /* "SIP/2.0 " is in the kept part of the pending line */
    size_t cand_checked; /* [0, cand_checked) searched for it */
    struct sipframe_cl cl;
};

/* Methods whose name may end a longer token glued to junk ("DBREGISTER"). */
static const char *const known_methods[] = {
    "INVITE", "ACK",       "BYE",    "CANCEL",  "REGISTER", "OPTIONS", "PRACK",
    "UPDATE", "SUBSCRIBE", "NOTIFY", "PUBLISH", "INFO",     "REFER",   "MESSAGE",
};

/* ascii_is_token as a table (RFC 3261 token characters) */
static const bool tok_table[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 1, 0, 0, 0, 1, 0, 1, 0, 0, 1, 1, 0, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0,
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

static bool is_ctl(uint8_t c)
{
    return (c < 0x20 && c != '\t') || c == 0x7f;
}

static bool is_upper(uint8_t c)
{
    return c >= 'A' && c <= 'Z';
}

/* "SIP/2.0 SP 3DIGIT [SP reason]"; p starts with "SIP/2.0 ". A control byte
 * in the reason phrase (an ESC sequence, say) does not unmake the status
 * line: the scanner repairs the reason, the message still counts (issue 10);
 * only a NUL does, as everywhere in the header block. */
static bool status_line_ok(const uint8_t *p, size_t n)
{
    if (n < 11 || !ascii_is_digit(p[8]) || !ascii_is_digit(p[9]) || !ascii_is_digit(p[10]))
        return false;
    if (n > 11 && p[11] != ' ')
        return false;
    return n <= 12 || memchr(p + 12, '\0', n - 12) == NULL;
}

/* status_line_ok() without its NUL scan (the caller knows where NULs are). */
static bool status_prefix_ok(const uint8_t *p, size_t n)
{
    return n >= 11 && ascii_is_digit(p[8]) && ascii_is_digit(p[9]) && ascii_is_digit(p[10]) &&
           (n == 11 || p[11] == ' ');
}

/* Is any byte of p[0..n) a control character, SP or DEL (<= 0x20, 0x7f)?
 * Eight bytes a step: in each, a byte below 0x21 or equal to 0x7f (a zero
 * after XOR 0x7f) sets its top bit in these exact "has less than" tests;
 * bytes from 0x80 up set none. */
static bool has_ctl_or_sp(const uint8_t *p, size_t n)
{
    const uint64_t ones = 0x0101010101010101u, high = 0x8080808080808080u;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t x, y;
        memcpy(&x, p + i, 8);
        y = x ^ (0x7f * ones);
        if ((((x - 0x21 * ones) & ~x) | ((y - ones) & ~y)) & high)
            return true;
    }
    for (; i < n; i++)
        if (p[i] <= ' ' || p[i] == 0x7f)
            return true;
    return false;
}

/* "METHOD SP Request-URI SP SIP/2.0": returns the method length, 0 if not. */
static size_t request_line_method(const uint8_t *p, size_t n)
{
    if (n < 11 || memcmp(p + n - 8, " SIP/2.0", 8) != 0)
        return 0;
    size_t m = 0;
    while (m < n && tok_table[p[m]])
        m++;
    if (m == 0 || m + 1 >= n - 8 || p[m] != ' ')
        return 0;
    if (has_ctl_or_sp(p + m + 1, n - 8 - (m + 1)))
        return 0;
    return m;
}

bool sipframe_is_start_line(struct sw_bytes line)
{
    if (line.n > 0 && line.p[line.n - 1] == '\r')
        line.n--;
    /* runs on every UDP payload: RTP (0x80...), DNS, STUN fail on the first byte */
    if (line.n < 11 || !is_upper(line.p[0]))
        return false;
    if (line.p[0] == 'S' && memcmp(line.p, "SIP/2.0 ", 8) == 0)
        return status_line_ok(line.p, line.n);
    return request_line_method(line.p, line.n) > 0;
}

/* If an unknown method ends with a known one, the bytes before are junk. */
static size_t known_suffix(const uint8_t *m, size_t n)
{
    for (size_t i = 0; i < SW_ARRAY_LEN(known_methods); i++) {
        size_t k = strlen(known_methods[i]);
        if (n == k && memcmp(m, known_methods[i], k) == 0)
            return 0;
    }
    for (size_t i = 0; i < SW_ARRAY_LEN(known_methods); i++) {
        size_t k = strlen(known_methods[i]);
        if (n > k && memcmp(m + n - k, known_methods[i], k) == 0)
            return n - k;
    }
    return 0;
}

/* Exactly one of the known methods (then known_suffix() is 0). */
static bool known_method(const uint8_t *m, size_t n)
{
    switch (n) {
    case 3:
        return memcmp(m, "ACK", 3) == 0 || memcmp(m, "BYE", 3) == 0;
    case 4:
        return memcmp(m, "INFO", 4) == 0;
    case 5:
        return memcmp(m, "PRACK", 5) == 0 || memcmp(m, "REFER", 5) == 0;
    case 6:
        return memcmp(m, "INVITE", 6) == 0 || memcmp(m, "CANCEL", 6) == 0 ||
               memcmp(m, "UPDATE", 6) == 0 || memcmp(m, "NOTIFY", 6) == 0;
    case 7:
        return memcmp(m, "OPTIONS", 7) == 0 || memcmp(m, "PUBLISH", 7) == 0 ||
               memcmp(m, "MESSAGE", 7) == 0;
    case 8:
        return memcmp(m, "REGISTER", 8) == 0;
    case 9:
        return memcmp(m, "SUBSCRIBE", 9) == 0;
    default:
        return false;
    }
}

/*
 * The common case, decided without find_start()'s scans: the whole line
 * (without CR/LF) is a start line that find_start() would take at offset 0.
 * It then holds no control character (so find_start looks at all of it); a
 * request line's method is then the token before its only SP pair and must
 * not end in a known method after junk; a status line must not also end in
 * " SIP/2.0" (find_start would try it as a request line first). When this
 * says false, find_start() decides.
 */
static bool plain_start_line(const uint8_t *p, size_t n)
{
    if (n < 11 || !is_upper(p[0]))
        return false;
    if (p[0] == 'S' && memcmp(p, "SIP/2.0 ", 8) == 0)
        return status_line_ok(p, n) && memcmp(p + n - 8, " SIP/2.0", 8) != 0;
    size_t m = request_line_method(p, n);
    return m > 0 && (known_method(p, m) || known_suffix(p, m) == 0);
}

/* Where in this line (without CR/LF) a start line begins, if anywhere.
 * Linear: a request line holds no control character, so it begins after the
 * last one, its method the token before its last two SPs; a status line
 * (whose reason may hold control bytes, not NUL) is the first "SIP/2.0 NNN". */
static bool find_start(const uint8_t *p, size_t n, size_t *off)
{
    size_t from = 0;
    for (size_t i = n; i > 0; i--) {
        if (is_ctl(p[i - 1])) {
            from = i;
            break;
        }
    }
    if (n - from >= 11 && memcmp(p + n - 8, " SIP/2.0", 8) == 0) {
        size_t u_end = n - 8, s1 = u_end;
        bool sp = false;
        while (s1 > from) {
            s1--;
            if (p[s1] == ' ') {
                sp = true;
                break;
            }
        }
        if (sp && s1 + 1 < u_end) {
            size_t m0 = s1;
            while (m0 > from && ascii_is_token(p[m0 - 1]))
                m0--;
            while (m0 < s1 && !is_upper(p[m0]))
                m0++;
            if (m0 < s1) {
                size_t at = m0 + known_suffix(p + m0, s1 - m0);
                if (sipframe_is_start_line(sw_bytes_make(p + at, n - at))) {
                    *off = at;
                    return true;
                }
            }
        }
    }
    /* a status line's reason may hold control bytes (status_line_ok): it
     * may begin before the last one */
    const uint8_t *nul = memrchr(p, '\0', n);
    size_t after_nul = nul != NULL ? (size_t)(nul - p) + 1 : 0; /* one scan, not one per try */
    size_t i = 0;
    while (i + 11 <= n) {
        const uint8_t *q = memmem(p + i, n - i, "SIP/2.0 ", 8);
        if (q == NULL)
            break;
        size_t at = (size_t)(q - p);
        if (status_prefix_ok(q, n - at) && (after_nul <= at + 12)) {
            *off = at;
            return true;
        }
        i = at + 1;
    }
    return false;
}

/* Does the line start with "content-length", in any case? Two overlapping
 * 8-byte words (n >= 14); OR 0x20 folds the letters only. */
static bool is_content_length(const uint8_t *p, size_t n)
{
    static const uint8_t lit[14] = {'c', 'o', 'n', 't', 'e', 'n', 't',
                                    '-', 'l', 'e', 'n', 'g', 't', 'h'};
    static const uint8_t fold[14] = {0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20,
                                     0,    0x20, 0x20, 0x20, 0x20, 0x20, 0x20};
    if (n < 14)
        return false;
    uint64_t x0, x1, l0, l1, f0, f1;
    memcpy(&x0, p, 8);
    memcpy(&x1, p + 6, 8);
    memcpy(&l0, lit, 8);
    memcpy(&l1, lit + 6, 8);
    memcpy(&f0, fold, 8);
    memcpy(&f1, fold + 6, 8);
    return (x0 | f0) == l0 && (x1 | f1) == l1;
}

/* A header line: records Content-Length / `l` values. */
static void header_line(struct sipframe_cl *s, const uint8_t *p, size_t n, size_t max)
{
    size_t i;
    uint8_t c0 = p[0] | 0x20; /* a letter only if p[0] is one */
    if (c0 == 'l' && (n == 1 || !tok_table[p[1]]))
        i = 1;
    else if (c0 == 'c' && is_content_length(p, n))
        i = 14;
    else
        return;
    while (i < n && ascii_is_ws(p[i]))
        i++;
    if (i >= n || p[i] != ':')
        return;
    uint64_t cl;
    (void)sipframe_cl_value(s, sw_bytes_make(p + i + 1, n - i - 1), max, &cl);
}

bool sipframe_cl_value(struct sipframe_cl *s, struct sw_bytes v, size_t max, uint64_t *value)
{
    uint64_t cl = 0;
    bool big = false;
    if (!ascii_parse_uint(v, max, &cl)) {
        struct sw_bytes t = ascii_trim(v);
        bool digits = t.n > 0;
        for (size_t k = 0; k < t.n; k++)
            digits = digits && ascii_is_digit(t.p[k]);
        if (!digits) {
            s->bad = true; /* "abc", "-1", "5 5", "" */
            return false;
        }
        big = true;
    }
    if (s->have && (s->big != big || s->value != cl))
        s->bad = true; /* conflicting values: which one would the receiver use? */
    s->have = true;
    s->big = big;
    s->value = cl;
    *value = cl;
    return !big;
}

void sipframe_cl_line(struct sipframe_cl *cl, struct sw_bytes line, size_t max_msg)
{
    if (line.n > 0)
        header_line(cl, line.p, line.n, max_msg);
}

/* Frames the head of p[0..n). See the file comment; *len is what to consume
 * for every result but FR_NEED_MORE. `junk_line` (streams) is how much of the
 * line at p was already dropped as NOTE_PARTIAL junk (p is then mid-line):
 * line length limits count it, and CR/LF at p are not keep-alives, so
 * decisions do not depend on how the bytes were chunked. */
static enum fr frame(const uint8_t *p, size_t n, size_t max, bool stream, size_t junk_line,
                     struct fstate *s, size_t *len, unsigned *notes)
{
    *notes = 0;
    if (!s->in_head) {
        if (n == 0)
            return FR_NEED_MORE;
        /* CR/LF between messages are keep-alives, but only at a line start:
         * after a NOTE_PARTIAL drop (junk_line > 0) p is inside a junk line,
         * whose CRs (and LF) belong to that line and to its length limit,
         * as they would if the line had come in one piece. */
        if (junk_line == 0 && (p[0] == '\r' || p[0] == '\n')) {
            size_t k = 0;
            while (k < n && (p[k] == '\r' || p[k] == '\n'))
                k++;
            if (stream && k == n && p[k - 1] == '\r') {
                if (k == 1)
                    return FR_NEED_MORE; /* the CR of a CRLF pong */
                k--;
            }
            *len = k;
            return FR_KEEPALIVE;
        }
        const uint8_t *lf = memchr(p + s->scan, '\n', n - s->scan);
        size_t e = lf != NULL ? (size_t)(lf - p) : n;
        if (lf == NULL && stream) {
            if (junk_line + n <= max) {
                /* Judge the line once it is whole. A start line holds no
                 * control character (but the CR before its LF), so what is
                 * before the last one can go now: binary streams (TLS...)
                 * then hold next to nothing. */
                size_t end = p[n - 1] == '\r' ? n - 1 : n, c = end;
                while (c > s->scan && !is_ctl(p[c - 1]))
                    c--;
                /* ... except a status line, whose reason may hold control
                 * bytes: from the first "SIP/2.0 " on, the line is kept
                 * (only what is before the last control byte before it
                 * goes, as find_start() would judge the whole line). Each
                 * byte is searched once; the line stays within max. Until
                 * then, [0, scan) holds no control byte. */
                if (c > s->scan && !s->status_cand) {
                    size_t from = s->cand_checked > 7 ? s->cand_checked - 7 : 0;
                    const uint8_t *q = memmem(p + from, c - from, "SIP/2.0 ", 8);
                    s->cand_checked = c;
                    if (q != NULL) {
                        c = (size_t)(q - p);
                        while (c > s->scan && !is_ctl(p[c - 1]))
                            c--;
                        s->status_cand = c <= s->scan;
                    }
                }
                if (c > s->scan && !s->status_cand) {
                    *len = c;
                    *notes |= NOTE_PARTIAL;
                    return FR_JUNK;
                }
                s->scan = end;
                return FR_NEED_MORE;
            }
            *len = n;
            *notes |= NOTE_LONG_LINE;
            return FR_JUNK;
        }
        if (stream && junk_line + e >= max) {
            *len = e + 1;
            return FR_JUNK;
        }
        size_t ll = (e > 0 && p[e - 1] == '\r') ? e - 1 : e;
        size_t off = 0;
        if (!plain_start_line(p, ll) && !find_start(p, ll, &off)) {
            *len = e < n ? e + 1 : n;
            return FR_JUNK;
        }
        if (off > 0) {
            *len = off;
            return FR_JUNK;
        }
        s->in_head = true;
        s->line = s->scan = e < n ? e + 1 : n;
    }
    while (s->hend == 0) {
        const uint8_t *lf = memchr(p + s->scan, '\n', n - s->scan);
        if (lf == NULL) {
            if (stream && n <= max) {
                s->scan = n;
                return FR_NEED_MORE;
            }
            if (stream) {
                *len = s->line;
                return FR_TOO_BIG;
            }
            /* a datagram whose headers never end: all of it is the message */
            if (n > max) {
                *len = n;
                return FR_TOO_BIG;
            }
            *len = n;
            return FR_MESSAGE;
        }
        size_t e = (size_t)(lf - p);
        if (e >= max) {
            *len = stream ? s->line : n;
            return FR_TOO_BIG;
        }
        size_t ls = s->line, ll = (e > ls && p[e - 1] == '\r') ? e - 1 - ls : e - ls;
        s->line = s->scan = e + 1;
        if (ll == 0)
            s->hend = e + 1;
        else
            header_line(&s->cl, p + ls, ll, max);
    }
    size_t hend = s->hend;
    if (stream) {
        if (s->cl.bad) {
            *len = hend;
            return FR_BAD_LENGTH;
        }
        uint64_t body = s->cl.have ? s->cl.value : 0;
        if (s->cl.big || body > max - hend) {
            *len = hend;
            return FR_TOO_BIG;
        }
        if (n - hend < body)
            return FR_NEED_MORE;
        *len = hend + (size_t)body;
        return FR_MESSAGE;
    }
    size_t body = n - hend;
    if (s->cl.bad) {
        *notes |= NOTE_BAD_LENGTH;
    } else if (s->cl.have) {
        if (s->cl.big || s->cl.value > body)
            *notes |= NOTE_TRUNCATED;
        else
            body = (size_t)s->cl.value;
    }
    if (hend + body > max) {
        *len = n;
        return FR_TOO_BIG;
    }
    *len = hend + body;
    return FR_MESSAGE;
}

enum sipframe_result sipframe_next(struct sw_bytes in, size_t max_msg, bool stream, size_t *len)
{
    struct fstate s;
    memset(&s, 0, sizeof s);
    unsigned notes;
    *len = 0;
    switch (frame(in.p, in.n, max_msg, stream, 0, &s, len, &notes)) {
    case FR_MESSAGE:
        return SIPFRAME_MESSAGE;
    case FR_NEED_MORE:
        *len = 0;
        return SIPFRAME_NEED_MORE;
    case FR_KEEPALIVE:
    case FR_JUNK:
        return SIPFRAME_SKIP;
    case FR_TOO_BIG:
    case FR_BAD_LENGTH:
        break;
    }
    return SIPFRAME_TOO_BIG;
}

static bool only_crlf(struct sw_bytes b)
{
    for (size_t i = 0; i < b.n; i++)
        if (b.p[i] != '\r' && b.p[i] != '\n')
            return false;
    return true;
}

size_t sipframe_cut(const struct sipframe_cl *cl, size_t hend, size_t n, unsigned *notes)
{
    *notes = 0;
    if (hend == 0 || hend > n)
        return n; /* headers that never end: all of it is the message */
    size_t body = n - hend;
    if (cl->bad) {
        *notes |= SIPFRAME_CUT_BAD_LENGTH;
    } else if (cl->have) {
        if (cl->big || cl->value > body)
            *notes |= SIPFRAME_CUT_TRUNCATED;
        else
            body = (size_t)cl->value;
    }
    return hend + body;
}

/* Datagram rules; a datagram without any SIP in it adds one to *not_sip.
 * With `whole`, a datagram (up to max_msg) starting with a plain start line
 * is framed by that consumer (see sipframe_whole_sink). */
/* d (not empty) starts with a plain start line, which ends at *e (its LF,
 * or d.n). */
static bool starts_plain(struct sw_bytes d, size_t *e)
{
    if (!is_upper(d.p[0]))
        return false;
    const uint8_t *lf = memchr(d.p, '\n', d.n);
    *e = lf != NULL ? (size_t)(lf - d.p) : d.n;
    size_t ll = (*e > 0 && d.p[*e - 1] == '\r') ? *e - 1 : *e;
    return plain_start_line(d.p, ll);
}

bool sipframe_datagram_is_whole(struct sw_bytes d, size_t max_msg)
{
    size_t e;
    return d.n > 0 && d.n <= max_msg && starts_plain(d, &e);
}

static void frame_datagram(struct sw_bytes d, size_t max_msg, enum sw_transport transport,
                           sipframe_sink *sink, sipframe_whole_sink *whole, void *ctx,
                           struct sipframe_stats *st, uint64_t *not_sip)
{
    if (d.n == 0)
        return;
    /* Most datagrams start with their start line: then it is examined once
     * here, and frame() resumes after it, as find_start() would have taken
     * it at offset 0 (a plain start line holds "SIP/2.0" too). */
    struct fstate first;
    memset(&first, 0, sizeof first);
    size_t e;
    if (starts_plain(d, &e)) {
        first.in_head = true;
        first.line = first.scan = e < d.n ? e + 1 : d.n;
    }
    /* the cheap reject for RTP, DNS, STUN...: no start line without "SIP/2.0" */
    if (!first.in_head && memmem(d.p, d.n, "SIP/2.0", 7) == NULL) {
        if (only_crlf(d))
            st->keepalives++;
        else
            (*not_sip)++;
        return;
    }
    size_t off = 0, junk = 0;
    bool sip = false;
    if (first.in_head && whole != NULL && d.n <= max_msg) {
        /* What frame() would find (a datagram within max_msg is never too
         * big): the consumer walks the header lines once for both. */
        size_t len = 0;
        unsigned notes = 0;
        whole(ctx, d, transport, &len, &notes);
        if (SW_FAILS(len > 0 && len <= d.n))
            len = d.n;
        sip = true;
        st->messages++;
        if (notes & SIPFRAME_CUT_TRUNCATED)
            st->truncated++;
        if (notes & SIPFRAME_CUT_BAD_LENGTH)
            st->bad_length++;
        off = len;
        memset(&first, 0, sizeof first);
    }
    while (off < d.n) {
        struct fstate s = first;
        memset(&first, 0, sizeof first);
        size_t len = 0;
        unsigned notes = 0;
        enum fr r = frame(d.p + off, d.n - off, max_msg, false, 0, &s, &len, &notes);
        if (r == FR_NEED_MORE || len == 0)
            break;
        switch (r) {
        case FR_MESSAGE:
            sip = true;
            st->messages++;
            if (notes & NOTE_TRUNCATED)
                st->truncated++;
            if (notes & NOTE_BAD_LENGTH)
                st->bad_length++;
            sink(ctx, sw_bytes_make(d.p + off, len), transport);
            break;
        case FR_JUNK:
            junk += len;
            break;
        case FR_TOO_BIG:
            sip = true;
            st->too_big++;
            break;
        default:
            break; /* CR/LF around messages */
        }
        off += len;
    }
    if (sip)
        st->junk_bytes += junk;
    else
        (*not_sip)++;
}

void sipframe_datagram(struct sw_bytes dgram, size_t max_msg, enum sw_transport transport,
                       sipframe_sink *sink, void *ctx, struct sipframe_stats *st)
{
    frame_datagram(dgram, max_msg, transport, sink, NULL, ctx, st, &st->not_sip);
}

void sipframe_datagram_whole(struct sw_bytes dgram, size_t max_msg, enum sw_transport transport,
                             sipframe_sink *sink, sipframe_whole_sink *whole, void *ctx,
                             struct sipframe_stats *st)
{
    frame_datagram(dgram, max_msg, transport, sink, whole, ctx, st, &st->not_sip);
}

enum mode {
    MODE_DETECT, /* first bytes: SIP, or an HTTP head that may upgrade to WebSocket */
    MODE_SIP,
    MODE_WS,
};

struct sipframe_stream {
    size_t max_msg;
    enum mode mode;
    uint8_t *buf; /* partial message (SIP) or HTTP head (DETECT); n <= max_msg + 1 */
    size_t n, cap;
    struct fstate fst;
    bool resyncing;    /* looking for a start line (counted once per episode) */
    bool count_resync; /* a mid-stream start, counted at the first feed */
    bool skip_line;    /* drop bytes through the next LF (rest of a too-long line) */
    size_t junk_line;  /* bytes of the current junk line already dropped */
    struct ws ws;
};

struct sipframe_stream *sipframe_stream_new(size_t max_msg, bool midstream)
{
    struct sipframe_stream *fs = calloc(1, sizeof *fs);
    if (fs == NULL)
        return NULL;
    fs->max_msg = max_msg;
    /* a stream picked up mid-way cannot start with an HTTP upgrade */
    fs->mode = midstream ? MODE_SIP : MODE_DETECT;
    fs->resyncing = midstream;
    fs->count_resync = midstream;
    ws_init(&fs->ws, max_msg);
    return fs;
}

void sipframe_stream_free(struct sipframe_stream *fs)
{
    if (fs == NULL)
        return;
    ws_fini(&fs->ws);
    free(fs->buf);
    free(fs);
}

size_t sipframe_stream_buffered(const struct sipframe_stream *fs)
{
    return fs->n + ws_buffered(&fs->ws);
}

/* True if every line after the start line, up to the blank line, is a header
 * line ("token *WS :") or a folded continuation. Used only while resyncing. */
static bool headers_plausible(struct sw_bytes m)
{
    const uint8_t *lf = memchr(m.p, '\n', m.n);
    size_t i = lf != NULL ? (size_t)(lf - m.p) + 1 : m.n;
    while (i < m.n) {
        if (m.p[i] == '\r' || m.p[i] == '\n')
            return true; /* the blank line: the header block ended well */
        if (!ascii_is_ws(m.p[i])) {
            size_t k = i;
            while (k < m.n && ascii_is_token(m.p[k]))
                k++;
            if (k == i)
                return false;
            while (k < m.n && ascii_is_ws(m.p[k]))
                k++;
            if (k >= m.n || m.p[k] != ':')
                return false;
        }
        lf = memchr(m.p + i, '\n', m.n - i);
        if (lf == NULL)
            return true;
        i = (size_t)(lf - m.p) + 1;
    }
    return true;
}

static void resync(struct sipframe_stream *fs, struct sipframe_stats *st)
{
    if (!fs->resyncing)
        st->resyncs++;
    fs->resyncing = true;
}

/* Appends up to the buffer cap (max_msg + 1); returns the bytes taken. */
static size_t buf_append(struct sipframe_stream *fs, struct sw_bytes d, struct sipframe_stats *st)
{
    size_t limit = fs->max_msg + 1;
    size_t take = SW_MIN(d.n, limit - fs->n);
    if (fs->n + take > fs->cap) {
        size_t cap = fs->cap ? fs->cap : 1024;
        while (cap < fs->n + take)
            cap *= 2;
        cap = SW_MIN(cap, limit);
        uint8_t *p = realloc(fs->buf, cap);
        if (p == NULL)
            return 0;
        fs->buf = p;
        fs->cap = cap;
    }
    if (take > 0)
        memcpy(fs->buf + fs->n, d.p, take);
    fs->n += take;
    if (fs->n > st->buffered_peak)
        st->buffered_peak = fs->n;
    return take;
}

static void buf_consume(struct sipframe_stream *fs, size_t k)
{
    memmove(fs->buf, fs->buf + k, fs->n - k);
    fs->n -= k;
    if (fs->n == 0 && fs->cap > 4096) {
        /* a big message went through: do not keep its buffer per idle stream */
        free(fs->buf);
        fs->buf = NULL;
        fs->cap = 0;
    }
}

/* Frames and delivers what it can from p[0..n); returns the bytes consumed. */
static size_t frame_loop(struct sipframe_stream *fs, const uint8_t *p, size_t n,
                         sipframe_sink *sink, void *ctx, struct sipframe_stats *st)
{
    size_t off = 0;
    while (!fs->skip_line) {
        size_t len = 0;
        unsigned notes = 0;
        enum fr r =
            frame(p + off, n - off, fs->max_msg, true, fs->junk_line, &fs->fst, &len, &notes);
        if (r == FR_NEED_MORE)
            break;
        memset(&fs->fst, 0, sizeof fs->fst);
        switch (r) {
        case FR_MESSAGE:
            if (fs->resyncing && !headers_plausible(sw_bytes_make(p + off, len))) {
                /* A start line found while resyncing but not followed by
                 * header lines: typically the sipfrag body ("SIP/2.0 100
                 * Trying") of a NOTIFY whose head was lost. Taking it would
                 * swallow the next real message as its headers: skip just that
                 * line and look again. */
                const uint8_t *lf = memchr(p + off, '\n', len);
                len = lf != NULL ? (size_t)(lf - (p + off)) + 1 : len;
                st->junk_bytes += len;
                st->resync_false_starts++;
                break;
            }
            st->messages++;
            fs->resyncing = false;
            sink(ctx, sw_bytes_make(p + off, len), SW_TRANSPORT_TCP);
            break;
        case FR_KEEPALIVE:
            st->keepalives++;
            break;
        case FR_JUNK:
            st->junk_bytes += len;
            resync(fs, st);
            if (notes & NOTE_LONG_LINE)
                fs->skip_line = true;
            fs->junk_line = (notes & NOTE_PARTIAL) ? fs->junk_line + len : 0;
            break;
        case FR_TOO_BIG:
            st->too_big++;
            resync(fs, st);
            break;
        case FR_BAD_LENGTH:
            st->bad_length++;
            resync(fs, st);
            break;
        case FR_NEED_MORE:
            break;
        }
        if (r != FR_JUNK)
            fs->junk_line = 0;
        if (SW_FAILS(len > 0 && len <= n - off))
            return n; /* no progress would loop forever: drop what is left */
        off += len;
    }
    return off;
}

static void sip_feed(struct sipframe_stream *fs, struct sw_bytes d, sipframe_sink *sink, void *ctx,
                     struct sipframe_stats *st)
{
    while (d.n > 0) {
        if (fs->skip_line) {
            const uint8_t *lf = memchr(d.p, '\n', d.n);
            size_t k = lf != NULL ? (size_t)(lf - d.p) + 1 : d.n;
            st->junk_bytes += k;
            d.p += k;
            d.n -= k;
            fs->skip_line = lf == NULL;
            fs->junk_line = 0;
            continue;
        }
        if (fs->n == 0) {
            /* straight from the caller's view; copy only the partial tail */
            size_t used = frame_loop(fs, d.p, d.n, sink, ctx, st);
            d.p += used;
            d.n -= used;
            if (fs->skip_line || d.n == 0)
                continue;
            SW_ASSERT(d.n <= fs->max_msg);
            if (buf_append(fs, d, st) != d.n) {
                /* out of memory: the partial message is lost */
                fs->n = 0;
                memset(&fs->fst, 0, sizeof fs->fst);
                resync(fs, st);
            }
            return;
        }
        size_t take = buf_append(fs, d, st);
        if (take == 0 && fs->n <= fs->max_msg) {
            fs->n = 0; /* out of memory */
            memset(&fs->fst, 0, sizeof fs->fst);
            resync(fs, st);
            continue;
        }
        d.p += take;
        d.n -= take;
        size_t used = frame_loop(fs, fs->buf, fs->n, sink, ctx, st);
        if (SW_FAILS(used > 0 || fs->n <= fs->max_msg)) {
            fs->n = 0; /* a full buffer must always frame into something */
            memset(&fs->fst, 0, sizeof fs->fst);
            continue;
        }
        buf_consume(fs, used);
    }
}

static void ws_run(struct sipframe_stream *fs, struct sw_bytes d, sipframe_sink *sink, void *ctx,
                   struct sipframe_stats *st);

/* Collects the first bytes of a direction until it is clear whether they are
 * an HTTP head (WebSocket upgrade) or SIP; returns the bytes not consumed. */
static struct sw_bytes detect_feed(struct sipframe_stream *fs, struct sw_bytes d,
                                   sipframe_sink *sink, void *ctx, struct sipframe_stats *st)
{
    if (fs->n == 0 && d.p[0] != 'G' && d.p[0] != 'H') {
        fs->mode = MODE_SIP; /* no SIP method starts with G or H */
        return d;
    }
    size_t take = buf_append(fs, d, st);
    if (take == 0 && fs->n == 0) {
        fs->mode = MODE_SIP; /* out of memory: no upgrade detection for this one */
        return d;
    }
    /* Bytes the buffer could not take (out of memory, or the head is over
     * max_msg) end the detection: waiting for more would never progress. */
    bool stuck = take < d.n;
    d.p += take;
    d.n -= take;
    struct sw_bytes b = sw_bytes_make(fs->buf, fs->n);
    size_t k = SW_MIN(b.n, (size_t)5);
    bool get = memcmp(b.p, "GET ", SW_MIN(k, (size_t)4)) == 0;
    bool http = memcmp(b.p, "HTTP/", k) == 0;
    if (!get && !http) {
        fs->mode = MODE_SIP;
    } else if (b.n < (get ? 4u : 5u)) {
        if (!stuck)
            return d; /* not decided yet */
        fs->mode = MODE_SIP;
    } else {
        size_t hend = 0;
        for (size_t i = fs->fst.scan; i < b.n; i++) {
            if (b.p[i] != '\n')
                continue;
            if (i + 1 < b.n && b.p[i + 1] == '\n') {
                hend = i + 2;
                break;
            }
            if (i + 2 < b.n && b.p[i + 1] == '\r' && b.p[i + 2] == '\n') {
                hend = i + 3;
                break;
            }
        }
        if (hend == 0 && b.n <= fs->max_msg && !stuck) {
            fs->fst.scan = b.n > 2 ? b.n - 2 : 0; /* resume there: an end may straddle */
            return d;                             /* the head is not complete yet */
        }
        if (hend != 0 && ws_is_upgrade(sw_bytes_make(b.p, hend))) {
            st->ws_streams++;
            fs->mode = MODE_WS;
            size_t n = fs->n;
            fs->n = 0;
            /* frames that came with the head: ws.c copies into its own buffer */
            ws_run(fs, sw_bytes_make(fs->buf + hend, n - hend), sink, ctx, st);
            free(fs->buf);
            fs->buf = NULL;
            fs->cap = 0;
            return d;
        }
        fs->mode = MODE_SIP;
        if (hend != 0) {
            /* plain HTTP: its head is junk as a whole */
            st->junk_bytes += hend;
            resync(fs, st);
            buf_consume(fs, hend);
        }
    }
    memset(&fs->fst, 0, sizeof fs->fst);
    size_t used = frame_loop(fs, fs->buf, fs->n, sink, ctx, st);
    buf_consume(fs, used);
    return d;
}

struct ws_ctx {
    sipframe_sink *sink;
    void *ctx;
    struct sipframe_stats *st;
    size_t max_msg;
};

/* One whole WebSocket data message: SIP framed with the datagram rules. */
static void ws_message(void *arg, struct sw_bytes msg)
{
    struct ws_ctx *w = arg;
    frame_datagram(msg, w->max_msg, SW_TRANSPORT_WS, w->sink, NULL, w->ctx, w->st,
                   &w->st->ws_errors);
}

static void ws_run(struct sipframe_stream *fs, struct sw_bytes d, sipframe_sink *sink, void *ctx,
                   struct sipframe_stats *st)
{
    struct ws_ctx wc = {sink, ctx, st, fs->max_msg};
    struct ws_stats ws;
    memset(&ws, 0, sizeof ws);
    ws_feed(&fs->ws, d, ws_message, &wc, &ws);
    st->ws_frames += ws.frames;
    st->ws_control += ws.control;
    st->ws_errors += ws.errors;
    st->too_big += ws.too_big;
    size_t b = sipframe_stream_buffered(fs);
    if (b > st->buffered_peak)
        st->buffered_peak = b;
}

void sipframe_stream_feed(struct sipframe_stream *fs, struct sw_bytes data, unsigned flags,
                          sipframe_sink *sink, void *ctx, struct sipframe_stats *st)
{
    if (fs->count_resync) {
        fs->count_resync = false;
        st->resyncs++;
    }
    if (flags & SIPFRAME_GAP) {
        if (fs->mode == MODE_WS) {
            struct ws_stats ws;
            memset(&ws, 0, sizeof ws);
            ws_gap(&fs->ws, &ws);
            st->ws_errors += ws.errors;
        } else {
            /* the partial message is incomplete for good */
            fs->mode = MODE_SIP;
            fs->n = 0;
            fs->skip_line = false;
            fs->junk_line = 0;
            memset(&fs->fst, 0, sizeof fs->fst);
            resync(fs, st);
        }
    }
    while (data.n > 0) {
        switch (fs->mode) {
        case MODE_DETECT:
            data = detect_feed(fs, data, sink, ctx, st);
            break;
        case MODE_SIP:
            sip_feed(fs, data, sink, ctx, st);
            data.n = 0;
            break;
        case MODE_WS:
            ws_run(fs, data, sink, ctx, st);
            data.n = 0;
            break;
        }
    }
}

void sipframe_counters(const struct sipframe_stats *st, struct sw_counters *out)
{
    sw_counters_add(out, "sip_framed", st->messages);
    sw_counters_add(out, "sip_keepalives", st->keepalives);
    sw_counters_add(out, "sip_junk_bytes", st->junk_bytes);
    sw_counters_add(out, "sip_resyncs", st->resyncs);
    sw_counters_add(out, "sip_resync_false_starts", st->resync_false_starts);
    sw_counters_add(out, "sip_too_big", st->too_big);
    sw_counters_add(out, "sip_bad_length", st->bad_length);
    sw_counters_add(out, "sip_truncated", st->truncated);
    sw_counters_add(out, "udp_not_sip", st->not_sip);
    sw_counters_add(out, "ws_streams", st->ws_streams);
    sw_counters_add(out, "ws_frames", st->ws_frames);
    sw_counters_add(out, "ws_control_frames", st->ws_control);
    sw_counters_add(out, "ws_errors", st->ws_errors);
    sw_counters_add(out, "sip_buffered_peak", st->buffered_peak);
}
