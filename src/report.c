/*
 * report.c - events -> NDJSON, the only file that includes jansson.
 *
 * Owns: the output (an output.c line sink: stdout or a file opened for
 * append, reopened on SIGHUP), one jansson object per
 * event type (built once with all its keys, its values updated in place for
 * each event) and the line buffer. Does not: decide anything about events
 * (the tracker does), rotate files (logrotate moves them; we reopen).
 *
 * Schema (README documents it from this code): one JSON object per line,
 * keys in insertion order: timestamp, event_type, call_id, src_ip, src_port,
 * dest_ip, dest_port, proto, then one object named after the event type.
 * Unknown values are JSON null. Each line is built in memory and handed to
 * output.c whole, which writes it in one write(), so a reader never sees
 * half an event from us.
 *
 * Header bytes are not guaranteed UTF-8 and JSON strings must be: every
 * string from an event is repaired first (RFC 3629 strictly: overlongs,
 * surrogates, code points above U+10FFFF and cut sequences become U+FFFD,
 * one per maximal ill-formed subpart, as Unicode §3.9 recommends). Control
 * characters are escaped by jansson. RFC 8259 (JSON), RFC 3339 (times).
 */
#include "sipwatch/report.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <xxhash.h>

#include "sipwatch/communityid.h"

#define REPORT_DUMP_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15))
#define REPORT_TIME_CACHE 4
/* Fitting a line into REPORT_MAX_LINE: level 0 writes everything; each
 * further level cuts wire strings and lists harder (see fit_*). */
#define REPORT_FIT_LEVELS 7

/* The text of the address last written in one place of the envelope. */
struct report_addr_cache {
    struct sw_addr addr; /* family 0: none yet */
    char text[SW_ADDRSTRLEN];
    size_t len;
};

#define REPORT_EP_CACHE 8
#define REPORT_CID_CACHE 256
struct report_cid {
    struct sw_tuple tuple;
    bool valid;
    char text[COMMUNITYID_LEN];
};

/* The date and time of day of one second, as report_format_time writes
 * them before the ".uuuuuuZ"; len 0 = empty. */
struct report_time_cache {
    int64_t sec;
    size_t len;
    char prefix[32];
};

struct report {
    struct report_config cfg;
    struct output *out;
    char *line;  /* the line being written */
    size_t line_cap;
    char *fix; /* UTF-8 repair scratch */
    size_t fix_cap;
    uint64_t suppressed, utf8_repaired, json_errors;
    uint64_t written[SW_EVENT__COUNT]; /* lines accepted by the output, per type */
    struct report_time_cache tcache[REPORT_TIME_CACHE];
    json_t *jreal; /* the reused real that jansson encodes (put_dur's rare cases) */
    struct report_addr_cache addr_cache[3]; /* src_ip, dest_ip, hep_agent */
    struct report_addr_cache ep_cache[REPORT_EP_CACHE]; /* ladder endpoints */
    struct report_cid cid[REPORT_CID_CACHE];
    struct communityid *cidctx; /* NULL: community_id is null (counted in json_errors) */
    char *host;       /* owned copy of cfg.host */
    unsigned fit;     /* the fitting level of the event being filled */
    bool cut;         /* something was cut at this level (string or list) */
    uint64_t shortened; /* events cut to fit REPORT_MAX_LINE */
    char cutbuf[(512 >> 1) + 4]; /* fit_cut's output: at most fit_str_cap(1) bytes */
};

static void output_config_of(const struct report_config *cfg, struct output_config *oc)
{
    memset(oc, 0, sizeof *oc);
    oc->path = cfg->path;
    oc->immediate = cfg->line_buffered;
    oc->give_up = cfg->give_up;
    oc->notice = cfg->notice;
    oc->notice_ctx = cfg->notice_ctx;
}

/* The reused real jansson encodes for us (line writer, below). */
static bool scratch_init(struct report *r)
{
    r->jreal = json_real(0.0);
    r->cidctx = communityid_new();
    return r->jreal != NULL && r->cidctx != NULL;
}

static void scratch_free(struct report *r)
{
    json_decref(r->jreal);
    communityid_free(r->cidctx);
}

struct report *report_new(const struct report_config *cfg, char errbuf[SW_ERRBUF_SIZE])
{
    struct report *r = calloc(1, sizeof *r);
    if (r == NULL) {
        snprintf(errbuf, SW_ERRBUF_SIZE, "out of memory opening the output");
        return NULL;
    }
    r->cfg = *cfg;
    r->cfg.path = NULL;
    r->cfg.host = NULL;
    if ((cfg->host != NULL && (r->host = strdup(cfg->host)) == NULL) || !scratch_init(r)) {
        snprintf(errbuf, SW_ERRBUF_SIZE, "out of memory opening the output");
        scratch_free(r);
        free(r->host);
        free(r);
        return NULL;
    }
    struct output_config oc;
    output_config_of(cfg, &oc);
    r->out = output_open(&oc, errbuf);
    if (r->out == NULL) {
        scratch_free(r);
        free(r->host);
        free(r);
        return NULL;
    }
    return r;
}

struct report *report_new_stream(FILE *f, const struct report_config *cfg)
{
    struct report *r = calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    r->cfg = *cfg;
    r->cfg.path = NULL;
    r->cfg.host = NULL;
    if ((cfg->host != NULL && (r->host = strdup(cfg->host)) == NULL) || !scratch_init(r)) {
        scratch_free(r);
        free(r->host);
        free(r);
        return NULL;
    }
    struct output_config oc;
    output_config_of(cfg, &oc);
    r->out = output_new_stream(f, &oc);
    if (r->out == NULL) {
        scratch_free(r);
        free(r->host);
        free(r);
        return NULL;
    }
    return r;
}

void report_free(struct report *r)
{
    if (r == NULL)
        return;
    output_free(r->out);
    free(r->line);
    free(r->fix);
    free(r->host);
    scratch_free(r);
    free(r);
}

int report_flush(struct report *r)
{
    return output_flush(r->out);
}

int report_reopen(struct report *r, char errbuf[SW_ERRBUF_SIZE])
{
    return output_reopen(r->out, errbuf);
}

void report_poll(struct report *r)
{
    output_poll(r->out);
}

bool report_failed(const struct report *r)
{
    return output_failed(r->out);
}

char *report_format_time(sw_time t, char buf[32])
{
    struct tm tm;
    long us;
    if (!sw_time_split(t, &tm, &us)) {
        snprintf(buf, 32, "invalid");
        return buf;
    }
    /* int64 microseconds reach years +-292277: 28 characters at most */
    char tmp[96];
    int n = snprintf(tmp, sizeof tmp, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)us);
    size_t k = n < 0 ? 0 : SW_MIN((size_t)n, (size_t)31);
    memcpy(buf, tmp, k);
    buf[k] = '\0';
    return buf;
}

/* Length of the valid UTF-8 sequence at s[0..n), or 0 with *bad set to the
 * length of its maximal ill-formed subpart (at least 1). */
static size_t utf8_seq(const uint8_t *s, size_t n, size_t *bad)
{
    uint8_t c = s[0], lo = 0x80, hi = 0xBF;
    size_t need;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 1;
    } else if (c == 0xE0) {
        need = 2, lo = 0xA0; /* no overlongs */
    } else if (c == 0xED) {
        need = 2, hi = 0x9F; /* no surrogates */
    } else if (c >= 0xE1 && c <= 0xEF) {
        need = 2;
    } else if (c == 0xF0) {
        need = 3, lo = 0x90; /* no overlongs */
    } else if (c >= 0xF1 && c <= 0xF3) {
        need = 3;
    } else if (c == 0xF4) {
        need = 3, hi = 0x8F; /* nothing above U+10FFFF */
    } else {
        *bad = 1; /* 80..C1 (continuation, overlong lead), F5..FF */
        return 0;
    }
    size_t k = 1;
    for (; k <= need && k < n; k++) {
        uint8_t lim_lo = k == 1 ? lo : 0x80, lim_hi = k == 1 ? hi : 0xBF;
        if (s[k] < lim_lo || s[k] > lim_hi)
            break;
    }
    if (k == need + 1)
        return k;
    *bad = k;
    return 0;
}

size_t report_utf8_repair(const char *in, size_t n, char *out, size_t cap, unsigned *repaired)
{
    const uint8_t *s = (const uint8_t *)in;
    size_t i = 0, o = 0;
    unsigned nbad = 0;
    if (cap == 0) {
        if (repaired != NULL)
            *repaired = 0;
        return 0;
    }
    while (i < n) {
        size_t bad = 0, len = utf8_seq(s + i, n - i, &bad);
        if (len > 0) {
            if (o + len > cap - 1)
                break;
            memcpy(out + o, s + i, len);
            o += len;
            i += len;
        } else {
            if (o + 3 > cap - 1)
                break;
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i += bad;
            nbad++;
        }
    }
    out[o] = '\0';
    if (repaired != NULL)
        *repaired = nbad;
    return o;
}

/* True when s[0..n) is all ASCII, which is valid UTF-8 as it stands. */
static bool is_ascii(const char *s, size_t n)
{
    uint64_t acc = 0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, sizeof w);
        acc |= w;
    }
    for (; i < n; i++)
        acc |= (uint8_t)s[i];
    return (acc & UINT64_C(0x8080808080808080)) == 0;
}

/* The longest wire string and list written at fitting level `fit`:
 * everything at 0, then 256 bytes and 16 entries, halving per level. */
static size_t fit_str_cap(unsigned fit)
{
    return fit == 0 ? SIZE_MAX : (size_t)512 >> fit;
}

static size_t fit_list_cap(unsigned fit)
{
    return fit == 0 ? SIZE_MAX : (size_t)32 >> fit;
}

/* v[0..n), valid UTF-8, cut to the current level's cap: the longest whole
 * sequence prefix that leaves room for "...", then "..." (in r->cutbuf). */
static const char *fit_cut(struct report *r, const char *v, size_t *len)
{
    size_t cap = fit_str_cap(r->fit);
    if (*len <= cap)
        return v;
    size_t k = cap - 3;
    while (k > 0 && ((uint8_t)v[k] & 0xC0) == 0x80)
        k--; /* not inside a sequence */
    memcpy(r->cutbuf, v, k);
    memcpy(r->cutbuf + k, "...", 3);
    *len = k + 3;
    r->cut = true;
    return r->cutbuf;
}

/* An event string as valid UTF-8: s itself when it is ASCII (most header
 * bytes), else its repair in r->fix (counted); cut to the fitting level.
 * NULL, counted in json_errors, when the repair buffer cannot grow. */
static const char *utf8_viewn(struct report *r, const char *s, size_t n, size_t *len)
{
    if (is_ascii(s, n)) {
        *len = n;
        return r->fit ? fit_cut(r, s, len) : s;
    }
    if (n > (SIZE_MAX - 1) / 3) {
        r->json_errors++;
        return NULL;
    }
    size_t need = 3 * n + 1; /* each bad byte may become 3 */
    if (need > r->fix_cap) {
        char *nf = realloc(r->fix, need);
        if (nf == NULL) {
            r->json_errors++;
            return NULL;
        }
        r->fix = nf;
        r->fix_cap = need;
    }
    unsigned bad = 0;
    *len = report_utf8_repair(s, n, r->fix, r->fix_cap, &bad);
    if (r->fit == 0)
        r->utf8_repaired += bad; /* once per event, not per fitting attempt */
    return r->fit ? fit_cut(r, r->fix, len) : r->fix;
}

static const char *utf8_view(struct report *r, const char *s, size_t *len)
{
    return utf8_viewn(r, s, strlen(s), len);
}

/* report_format_time with the date and time of day kept per second (in a
 * small cache, as one event carries up to three times): most events only
 * need their microseconds written. Returns the length. */
static size_t format_time(struct report *r, sw_time t, char buf[32])
{
    int64_t sec = t / SW_USEC_PER_SEC, us = t % SW_USEC_PER_SEC;
    if (us < 0) {
        us += SW_USEC_PER_SEC;
        sec -= 1;
    }
    struct report_time_cache *c = &r->tcache[(uint64_t)sec % REPORT_TIME_CACHE];
    if (c->len == 0 || c->sec != sec) {
        size_t k = strlen(report_format_time(t, buf));
        /* only the "<date>T<time>.uuuuuuZ" form is kept, not "invalid" */
        if (k >= 8 && buf[k - 8] == '.' && buf[k - 1] == 'Z') {
            memcpy(c->prefix, buf, k - 8);
            c->len = k - 8;
            c->sec = sec;
        }
        return k;
    }
    memcpy(buf, c->prefix, c->len);
    char *p = buf + c->len;
    p[0] = '.';
    for (int i = 6; i >= 1; i--) {
        p[i] = (char)('0' + us % 10);
        us /= 10;
    }
    p[7] = 'Z';
    p[8] = '\0';
    return c->len + 8;
}

/*
 * The line writer. Events are written key by key into r->line in the order
 * the schema gives. jansson encodes the stats event's object (built as a
 * jansson tree: it is rare) and the real numbers outside the range put_dur
 * writes itself. The writer copies what needs no encoding: keys (constants
 * of ours), plain printable-ASCII strings (most header values), integers,
 * true/false/null; it escapes the other strings (valid UTF-8 after our
 * repair) the way jansson's dump does (put_escaped). The bytes are those
 * jansson's json_dumpb gives for the same event built as a tree with
 * JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15):
 * tests/fuzz/report_ref.h builds it that way and test_report / fuzz_report
 * compare every line. (json_dumpb of whole events cost about 85
 * instructions a byte, most of an event's cost; docs/design.md.)
 */
struct lbuf {
    char *p;
    size_t n, cap;
    bool oom;
};

static bool lb_grow(struct lbuf *b, size_t more);

/* Inline: most calls have room, and LB_LIT's constant length then makes
 * lb_put's memcpy a few moves. */
static inline bool lb_room(struct lbuf *b, size_t more)
{
    if (b->n + more <= b->cap && !b->oom)
        return true;
    return lb_grow(b, more);
}

static bool lb_grow(struct lbuf *b, size_t more)
{
    if (b->oom)
        return false;
    if (b->n + more <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->n + more)
        cap *= 2;
    char *np = realloc(b->p, cap);
    if (np == NULL) {
        b->oom = true;
        return false;
    }
    b->p = np;
    b->cap = cap;
    return true;
}

static inline void lb_put(struct lbuf *b, const char *s, size_t n)
{
    if (lb_room(b, n)) {
        memcpy(b->p + b->n, s, n);
        b->n += n;
    }
}

#define LB_LIT(b, lit) lb_put((b), (lit), sizeof(lit) - 1)
/* A key: `,"name":` (the comma unless it opens its object). */
#define KEY(b, name) LB_LIT((b), ",\"" name "\":")
#define KEY1(b, name) LB_LIT((b), "\"" name "\":")

/* True when every byte is printable ASCII other than '"' and '\\' (0x7F
 * included: JSON does not escape it): such a string is its own encoding. */
static bool is_plain(const char *s, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, sizeof w);
        /* any byte >= 0x80, < 0x20, == '"' (0x22) or == '\\' (0x5C) */
        uint64_t hi = w & UINT64_C(0x8080808080808080);
        uint64_t lo = (w - UINT64_C(0x2020202020202020)) & ~w & UINT64_C(0x8080808080808080);
        uint64_t q = w ^ UINT64_C(0x2222222222222222);
        uint64_t bs = w ^ UINT64_C(0x5C5C5C5C5C5C5C5C);
        uint64_t zq = (q - UINT64_C(0x0101010101010101)) & ~q & UINT64_C(0x8080808080808080);
        uint64_t zb = (bs - UINT64_C(0x0101010101010101)) & ~bs & UINT64_C(0x8080808080808080);
        if (hi | lo | zq | zb)
            return false;
    }
    for (; i < n; i++) {
        uint8_t c = (uint8_t)s[i];
        if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\')
            return false;
    }
    return true;
}

/* Appends jansson's encoding of `v` (a scalar or a tree). */
static void lb_json(struct report *r, struct lbuf *b, const json_t *v)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        size_t room = b->cap - b->n;
        size_t k = json_dumpb(v, b->p != NULL ? b->p + b->n : NULL, b->p != NULL ? room : 0,
                              REPORT_DUMP_FLAGS | JSON_ENCODE_ANY);
        if (k == 0) {
            r->json_errors++;
            LB_LIT(b, "null");
            return;
        }
        if (b->p != NULL && k <= room) {
            b->n += k;
            return;
        }
        if (!lb_room(b, k))
            return;
    }
}

/* v[0..n), valid UTF-8 holding bytes to escape, as jansson's dump encodes
 * a string without JSON_ENSURE_ASCII or JSON_ESCAPE_SLASH: '"' and '\\'
 * and the control characters below 0x20 escaped (\b \f \n \r \t, the
 * others \u00XX in upper-case hex), every other byte (0x7F, UTF-8
 * sequences) as it is. */
static void put_escaped(struct lbuf *b, const char *v, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    if (n > (SIZE_MAX - 2) / 6 || !lb_room(b, 6 * n + 2))
        return;
    char *o = b->p + b->n;
    *o++ = '"';
    for (size_t i = 0; i < n; i++) {
        uint8_t c = (uint8_t)v[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            *o++ = (char)c;
            continue;
        }
        *o++ = '\\';
        switch (c) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '\b': *o++ = 'b'; break;
        case '\f': *o++ = 'f'; break;
        case '\n': *o++ = 'n'; break;
        case '\r': *o++ = 'r'; break;
        case '\t': *o++ = 't'; break;
        default:
            memcpy(o, "u00", 3);
            o[3] = hex[c >> 4];
            o[4] = hex[c & 15];
            o += 5;
            break;
        }
    }
    *o++ = '"';
    b->n = (size_t)(o - b->p);
}

/* A valid UTF-8 string value v[0..n). */
static void put_bytes(struct report *r, struct lbuf *b, const char *v, size_t n)
{
    if (is_plain(v, n)) {
        if (lb_room(b, n + 2)) {
            b->p[b->n++] = '"';
            memcpy(b->p + b->n, v, n);
            b->n += n;
            b->p[b->n++] = '"';
        }
        return;
    }
    put_escaped(b, v, n);
}

/* put_str of s[0..n) (no NUL inside), its length known. */
static void put_strn(struct report *r, struct lbuf *b, const char *s, size_t n)
{
    if (r->fit == 0 && is_plain(s, n)) {
        /* plain printable ASCII, nothing cut: its own encoding (what
         * utf8_viewn and put_bytes would conclude, in one pass) */
        if (lb_room(b, n + 2)) {
            b->p[b->n++] = '"';
            memcpy(b->p + b->n, s, n);
            b->n += n;
            b->p[b->n++] = '"';
        }
        return;
    }
    size_t k;
    const char *v = utf8_viewn(r, s, n, &k);
    if (v == NULL)
        LB_LIT(b, "null");
    else
        put_bytes(r, b, v, k);
}

/* A string from an event: NULL is null; repaired and cut (utf8_view). */
static void put_str(struct report *r, struct lbuf *b, const char *s)
{
    if (s == NULL)
        LB_LIT(b, "null");
    else
        put_strn(r, b, s, strlen(s));
}

/* v as decimal into the end of tmp[0..24); returns where it starts. */
static char *fmt_u64(char tmp[24], uint64_t u)
{
    char *p = tmp + 24;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    return p;
}

static void put_int(struct lbuf *b, int64_t v)
{
    char tmp[24];
    char *p = fmt_u64(tmp, v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v);
    if (v < 0)
        *--p = '-';
    lb_put(b, p, (size_t)(tmp + sizeof tmp - p));
}

static void put_count(struct lbuf *b, uint64_t v)
{
    put_int(b, v > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)v);
}

static void put_status(struct lbuf *b, int v)
{
    if (v == 0)
        LB_LIT(b, "null");
    else
        put_int(b, v);
}

static void put_bool(struct lbuf *b, bool v)
{
    if (v)
        LB_LIT(b, "true");
    else
        LB_LIT(b, "false");
}

static void put_time(struct report *r, struct lbuf *b, sw_time t)
{
    char buf[32];
    if (t == SW_TIME_NONE) {
        LB_LIT(b, "null");
        return;
    }
    size_t n = format_time(r, t, buf);
    put_bytes(r, b, buf, n);
}

/* Seconds with microsecond resolution (2.5, 32.000104): jansson's real. */
static void put_dur(struct report *r, struct lbuf *b, sw_time t)
{
    if (t == SW_TIME_NONE) {
        LB_LIT(b, "null");
        return;
    }
    if (t >= 100 && t < INT64_C(1000000000000000)) {
        /* What jansson writes for (double)t / 1e6 with precision 15 ("%.15g",
         * then ".0" when there is no '.'): t has at most 15 digits, so the
         * double prints back as the exact decimal, trailing zeros dropped,
         * and from 0.0001 up it is not in exponent form. */
        char tmp[24];
        char *p = fmt_u64(tmp, (uint64_t)t / 1000000);
        size_t k = (size_t)(tmp + sizeof tmp - p);
        char out[32];
        memcpy(out, p, k);
        out[k++] = '.';
        unsigned frac = (unsigned)((uint64_t)t % 1000000);
        if (frac == 0) {
            out[k++] = '0';
        } else {
            char d[6];
            for (int i = 5; i >= 0; i--) {
                d[i] = (char)('0' + frac % 10);
                frac /= 10;
            }
            size_t nd = 6;
            while (d[nd - 1] == '0')
                nd--;
            memcpy(out + k, d, nd);
            k += nd;
        }
        lb_put(b, out, k);
        return;
    }
    json_real_set(r->jreal, (double)t / 1e6);
    lb_json(r, b, r->jreal);
}

/* An address as text; inet_ntop's result is cached per slot (`last`). */
static void put_addr(struct report *r, struct lbuf *b, const struct sw_addr *a,
                     struct report_addr_cache *c)
{
    if (c->addr.family == 0 || memcmp(&c->addr, a, sizeof *a) != 0) {
        sw_addr_str(a, c->text);
        c->len = strlen(c->text);
        c->addr = *a;
    }
    put_bytes(r, b, c->text, c->len);
}

/* "192.0.2.1:5060", "[2001:db8::1]:5060" (plain ASCII: written as it is).
 * The address text comes from a small cache: a ladder has few endpoints. */
static void put_endpoint(struct report *r, struct lbuf *b, const struct sw_addr *a, uint16_t port)
{
    struct report_addr_cache *c =
        &r->ep_cache[(a->a[3] ^ a->a[15] ^ a->family) % REPORT_EP_CACHE];
    if (c->addr.family == 0 || memcmp(&c->addr, a, sizeof *a) != 0) {
        sw_addr_str(a, c->text);
        c->len = strlen(c->text);
        c->addr = *a;
    }
    char tmp[24];
    char *p = fmt_u64(tmp, port);
    size_t k = (size_t)(tmp + sizeof tmp - p);
    bool v6 = a->family == 6;
    if (!lb_room(b, c->len + k + 5))
        return;
    char *o = b->p + b->n;
    *o++ = '"';
    if (v6)
        *o++ = '[';
    memcpy(o, c->text, c->len);
    o += c->len;
    if (v6)
        *o++ = ']';
    *o++ = ':';
    memcpy(o, p, k);
    o += k;
    *o++ = '"';
    b->n = (size_t)(o - b->p);
}

/* A list of strings, cut at the fitting level's cap (*cut set when it is). */
static void put_list(struct report *r, struct lbuf *b, const char *const *v, size_t n, size_t max,
                     bool *cut)
{
    n = SW_MIN(n, max);
    if (n > fit_list_cap(r->fit)) {
        n = fit_list_cap(r->fit);
        r->cut = true;
        if (cut != NULL)
            *cut = true;
    }
    LB_LIT(b, "[");
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            LB_LIT(b, ",");
        put_str(r, b, v[i]);
    }
    LB_LIT(b, "]");
}

static void put_transfer(struct report *r, struct lbuf *b, const struct sw_event_transfer *x)
{
    KEY1(b, "outcome");
    put_str(r, b, sw_outcome_name(x->outcome));
    KEY(b, "refer_to");
    put_str(r, b, x->refer_to);
    KEY(b, "referred_by");
    put_str(r, b, x->referred_by);
    KEY(b, "replaces");
    put_bool(b, x->replaces);
    KEY(b, "refer_cseq");
    put_int(b, x->refer_cseq);
    KEY(b, "refer_status");
    put_status(b, x->refer_status);
    KEY(b, "refer_reason");
    put_str(r, b, x->refer_reason);
    KEY(b, "auth_challenges");
    put_int(b, x->auth_challenges);
    KEY(b, "notify_count");
    put_int(b, x->notify_count);
    KEY(b, "final_status");
    put_status(b, x->final_status);
    KEY(b, "final_reason");
    put_str(r, b, x->final_reason);
    KEY(b, "refer_time");
    put_time(r, b, x->refer_time);
    KEY(b, "accepted_time");
    put_time(r, b, x->accepted_time);
    KEY(b, "wait_s");
    put_dur(r, b, x->wait);
    KEY(b, "subscription_state");
    put_str(r, b, x->subscription_state);
    KEY(b, "from");
    put_str(r, b, x->parties.from);
    KEY(b, "to");
    put_str(r, b, x->parties.to);
    KEY(b, "transferor_ua");
    put_str(r, b, x->parties.transferor_ua);
    KEY(b, "transferee_ua");
    put_str(r, b, x->parties.transferee_ua);
    KEY(b, "notify_answered");
    put_int(b, x->notify.answered_ok);
    KEY(b, "notify_refused");
    put_int(b, x->notify.refused);
    KEY(b, "notify_refused_status");
    put_status(b, x->notify.last_refusal_status);
    KEY(b, "notify_refused_reason");
    put_str(r, b, x->notify.last_refusal_reason);
    KEY(b, "notify_unanswered");
    put_int(b, x->notify.unanswered);
    KEY(b, "transferor_uninformed");
    put_bool(b, x->transferor_uninformed);
    KEY(b, "truncated");
    put_bool(b, x->truncated);
}

static void put_not_found(struct report *r, struct lbuf *b, const struct sw_event_not_found *x)
{
    KEY1(b, "method");
    put_str(r, b, x->method);
    KEY(b, "request_uri");
    put_str(r, b, x->request_uri);
    KEY(b, "user");
    put_str(r, b, x->user);
    KEY(b, "domain");
    put_str(r, b, x->domain);
    KEY(b, "from");
    put_str(r, b, x->from);
    KEY(b, "to");
    put_str(r, b, x->to);
    KEY(b, "user_agent");
    put_str(r, b, x->user_agent);
    KEY(b, "server");
    put_str(r, b, x->server);
    KEY(b, "status");
    put_status(b, x->status);
    KEY(b, "reason");
    put_str(r, b, x->reason);
    KEY(b, "warning");
    put_str(r, b, x->warning);
    KEY(b, "rtt_s");
    put_dur(r, b, x->rtt);
}

static void put_scan(struct report *r, struct lbuf *b, const struct sw_event_scan *x)
{
    bool users_cut = x->n_users > SW_SCAN_MAX_SAMPLE;
    KEY1(b, "src_ip");
    put_str(r, b, x->src_ip);
    KEY(b, "count");
    put_count(b, x->count);
    KEY(b, "distinct_users");
    put_count(b, x->distinct_users);
    KEY(b, "users");
    put_list(r, b, x->users, x->n_users, SW_SCAN_MAX_SAMPLE, &users_cut);
    KEY(b, "users_truncated");
    put_bool(b, users_cut);
    KEY(b, "methods");
    put_list(r, b, x->methods, x->n_methods, SW_SCAN_MAX_LIST, NULL);
    KEY(b, "user_agents");
    put_list(r, b, x->user_agents, x->n_user_agents, SW_SCAN_MAX_LIST, NULL);
    KEY(b, "first_time");
    put_time(r, b, x->first_time);
    KEY(b, "last_time");
    put_time(r, b, x->last_time);
    KEY(b, "window_s");
    put_dur(r, b, x->window);
}

static const char *const copy_names[] = {"original", "retransmission", "other_leg"};

static size_t strlen_or0(const char *s)
{
    return s != NULL ? strlen(s) : 0;
}

/* snprintf(dst, cap, "%s %s", a, c) with a's length known and NULL as "":
 * the length written (cut at cap - 1). */
static size_t join(char *dst, size_t cap, const char *a, size_t an, const char *c)
{
    size_t n = SW_MIN(an, cap - 1);
    if (n > 0)
        memcpy(dst, a, n);
    if (n < cap - 1)
        dst[n++] = ' ';
    size_t cn = strlen_or0(c);
    cn = SW_MIN(cn, cap - 1 - n);
    if (cn > 0)
        memcpy(dst + n, c, cn);
    n += cn;
    dst[n] = '\0';
    return n;
}

static void put_ladder(struct report *r, struct lbuf *b, const struct sw_ladder *l, bool *cut)
{
    size_t n = SW_MIN(l->n, (size_t)SW_MAX_LADDER);
    if (n > fit_list_cap(r->fit)) {
        n = fit_list_cap(r->fit);
        r->cut = true;
        *cut = true;
    }
    LB_LIT(b, "[");
    for (size_t i = 0; i < n; i++) {
        const struct sw_ladder_msg *m = &l->msgs[i];
        char line[2 * 512 + 16], cseq[16 + 64];
        size_t line_n, cseq_n;
        char tmp[24];
        if (m->is_request) {
            line_n = join(line, sizeof line, m->method, strlen_or0(m->method), m->request_uri);
        } else {
            char *p = fmt_u64(tmp, m->status < 0 ? (uint64_t)0 - (uint64_t)(int64_t)m->status
                                                 : (uint64_t)m->status);
            if (m->status < 0)
                *--p = '-';
            line_n = join(line, sizeof line, p, (size_t)(tmp + sizeof tmp - p), m->reason);
        }
        char *p = fmt_u64(tmp, (unsigned)m->cseq);
        cseq_n = join(cseq, sizeof cseq, p, (size_t)(tmp + sizeof tmp - p), m->cseq_method);
        if (i > 0)
            LB_LIT(b, ",");
        LB_LIT(b, "{\"ts\":");
        put_time(r, b, m->ts);
        KEY(b, "src");
        put_endpoint(r, b, &m->tuple.src, m->tuple.sport);
        KEY(b, "dst");
        put_endpoint(r, b, &m->tuple.dst, m->tuple.dport);
        KEY(b, "transport");
        put_str(r, b, sw_transport_name((enum sw_transport)m->tuple.transport));
        KEY(b, "line");
        put_strn(r, b, line, line_n);
        KEY(b, "cseq");
        put_strn(r, b, cseq, cseq_n);
        KEY(b, "copy");
        put_str(r, b, copy_names[(unsigned)m->copy < 3 ? (unsigned)m->copy : 0]);
        LB_LIT(b, "}");
    }
    LB_LIT(b, "]");
}

static json_t *jcount(uint64_t v)
{
    return json_integer(v > (uint64_t)INT64_MAX ? INT64_MAX : (json_int_t)v);
}

static void put(struct report *r, json_t *obj, const char *key, json_t *v)
{
    if (v == NULL) {
        r->json_errors++;
        v = json_null();
    }
    if (json_object_set_new(obj, key, v) != 0)
        r->json_errors++;
}

/* A new string value for the stats tree; NULL (unknown) and anything
 * jansson still refuses become null, so the key is never dropped. */
static json_t *jstr(struct report *r, const char *s)
{
    if (s == NULL)
        return json_null();
    size_t n;
    const char *v = utf8_view(r, s, &n);
    if (v == NULL)
        return json_null();
    json_t *j = json_stringn_nocheck(v, n); /* valid UTF-8 by now */
    if (j == NULL) {
        r->json_errors++;
        return json_null();
    }
    return j;
}

static json_t *top_list(struct report *r, const struct sw_top_entry *v, size_t n, const char *key,
                        bool *cut)
{
    json_t *a = json_array();
    if (a == NULL)
        return NULL;
    n = SW_MIN(n, (size_t)SW_SUMMARY_TOP);
    if (n > fit_list_cap(r->fit)) {
        n = fit_list_cap(r->fit);
        r->cut = true;
        *cut = true;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_object();
        if (e == NULL) {
            r->json_errors++;
            continue;
        }
        put(r, e, key, jstr(r, v[i].key));
        put(r, e, "count", jcount(v[i].count));
        if (json_array_append_new(a, e) != 0)
            r->json_errors++;
    }
    return a;
}

static uint64_t counter_value(const struct sw_counters *c, const char *name, bool *found)
{
    for (size_t i = 0; i < c->n && i < SW_COUNTERS_MAX; i++) {
        if (c->v[i].name != NULL && strcmp(c->v[i].name, name) == 0) {
            *found = true;
            return c->v[i].value;
        }
    }
    return 0;
}

/* The run: version, start time, uptime, inputs, capture loss. */
static void stats_run(struct report *r, json_t *o, const struct sw_event_stats *x)
{
    const struct sw_run_info *ri = x->run;
    char ts[32];
    put(r, o, "version", ri != NULL ? jstr(r, ri->version) : json_null());
    put(r, o, "start_time", ri != NULL && ri->start_time != SW_TIME_NONE
                                ? json_stringn_nocheck(ts, format_time(r, ri->start_time, ts))
                                : json_null());
    put(r, o, "uptime_s", ri != NULL && ri->uptime != SW_TIME_NONE
                              ? json_real((double)ri->uptime / 1e6)
                              : json_null());
    json_t *in = json_array();
    for (size_t i = 0; ri != NULL && in != NULL && i < ri->n_inputs; i++) {
        if (i >= fit_list_cap(r->fit)) {
            r->cut = true;
            break;
        }
        if (json_array_append_new(in, jstr(r, ri->inputs[i])) != 0)
            r->json_errors++;
    }
    put(r, o, "inputs", in);
    /* Live only: what the kernel dropped of what reached the filter. */
    bool has_recv = false, has_drop = false;
    uint64_t recv = 0, drop = 0;
    if (x->counters != NULL) {
        recv = counter_value(x->counters, "pcap_received", &has_recv);
        drop = counter_value(x->counters, "pcap_dropped", &has_drop);
    }
    if (has_recv && has_drop) {
        double pct = recv == 0 ? (drop > 0 ? 100.0 : 0.0) : 100.0 * (double)drop / (double)recv;
        put(r, o, "capture_loss_pct", json_real(pct > 100.0 ? 100.0 : pct));
    } else {
        put(r, o, "capture_loss_pct", json_null());
    }
}

/* The stats object, a jansson tree (stats events are rare): the run, then
 * one object per stage holding its counters (in the order given), then the
 * summaries. */
static json_t *body_stats(struct report *r, const struct sw_event_stats *x)
{
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    stats_run(r, o, x);
    if (x->counters != NULL) {
        size_t n = SW_MIN(x->counters->n, (size_t)SW_COUNTERS_MAX);
        const char *gname = NULL;
        json_t *g = o;
        for (size_t i = 0; i < n; i++) {
            const struct sw_counter *c = &x->counters->v[i];
            if (c->name == NULL)
                continue;
            if (c->group == NULL) {
                g = o;
                gname = NULL;
            } else if (gname == NULL || strcmp(gname, c->group) != 0) {
                gname = c->group;
                g = json_object_get(o, gname);
                if (g == NULL || !json_is_object(g)) {
                    g = json_object();
                    if (g == NULL || json_object_set_new(o, gname, g) != 0) {
                        r->json_errors++;
                        g = o;
                    }
                }
            }
            put(r, g, c->name, jcount(c->value));
        }
    }
    json_t *t = json_null();
    if (x->transfers != NULL && (t = json_object()) != NULL) {
        for (unsigned i = 0; i < SW_OUTCOME__COUNT; i++)
            put(r, t, sw_outcome_name((enum sw_transfer_outcome)i),
                jcount(x->transfers->by_outcome[i]));
    }
    put(r, o, "transfers", t);
    json_t *nf = json_null();
    if (x->not_found != NULL && (nf = json_object()) != NULL) {
        const struct sw_not_found_summary *s = x->not_found;
        bool cut = false;
        put(r, nf, "404", jcount(s->status_404));
        put(r, nf, "604", jcount(s->status_604));
        put(r, nf, "top_users", top_list(r, s->top_users, s->n_top_users, "user", &cut));
        put(r, nf, "top_sources", top_list(r, s->top_sources, s->n_top_sources, "src_ip", &cut));
        put(r, nf, "top_truncated", json_boolean(cut));
    }
    put(r, o, "not_found", nf);
    put(r, o, "final", json_boolean(x->final));
    return o;
}

/* The community ID of a flow, from a small direct-mapped cache: an SBC's
 * events come from few flows, and a digest costs more than the rest of the
 * envelope. NULL when there is none (unknown transport, mixed families). */
static const char *community_id(struct report *r, const struct sw_tuple *tp)
{
    uint64_t h = XXH3_64bits_withSeed(tp, sizeof *tp, 0);
    struct report_cid *c = &r->cid[h % REPORT_CID_CACHE];
    if (c->valid && memcmp(&c->tuple, tp, sizeof *tp) == 0)
        return c->text[0] != '\0' ? c->text : NULL;
    uint8_t proto = sw_transport_ip_proto((enum sw_transport)tp->transport);
    if (proto == 0 || r->cidctx == NULL || !communityid_v1(r->cidctx, &tp->src, &tp->dst, tp->sport, tp->dport, proto, true,
                                      r->cfg.community_id_seed, c->text))
        c->text[0] = '\0';
    c->tuple = *tp;
    c->valid = true;
    return c->text[0] != '\0' ? c->text : NULL;
}

static const char *const body_key[SW_EVENT__COUNT] = {
    [SW_EVENT_TRANSFER] = ",\"transfer\":{",
    [SW_EVENT_USER_NOT_FOUND] = ",\"user_not_found\":{",
    [SW_EVENT_SCAN] = ",\"scan\":{",
    [SW_EVENT_STATS] = ",\"stats\":",
};

/* The event's line (no newline) in b at fitting level r->fit. */
static void write_event(struct report *r, struct lbuf *b, const struct sw_event *ev)
{
    bool tuple = ev->has_tuple && ev->type != SW_EVENT_STATS;
    const struct sw_tuple *tp = &ev->tuple;
    const struct sw_event_origin *o = &ev->origin;
    b->n = 0;
    b->oom = false;
    LB_LIT(b, "{\"timestamp\":");
    put_time(r, b, ev->ts);
    KEY(b, "event_type");
    put_str(r, b, sw_event_type_name(ev->type));
    KEY(b, "host");
    put_str(r, b, r->host);
    KEY(b, "in_iface");
    put_str(r, b, o->in_iface);
    KEY(b, "pcap_filename");
    put_str(r, b, o->pcap_filename);
    KEY(b, "pcap_cnt");
    if (o->pcap_cnt > 0)
        put_count(b, o->pcap_cnt);
    else
        LB_LIT(b, "null");
    KEY(b, "call_id");
    put_str(r, b, ev->type == SW_EVENT_STATS ? NULL : ev->call_id);
    if (tuple) {
        enum sw_transport tr = (enum sw_transport)tp->transport;
        uint8_t ipp = sw_transport_ip_proto(tr);
        const char *cid = community_id(r, tp);
        KEY(b, "src_ip");
        put_addr(r, b, &tp->src, &r->addr_cache[0]);
        KEY(b, "src_port");
        put_int(b, tp->sport);
        KEY(b, "dest_ip");
        put_addr(r, b, &tp->dst, &r->addr_cache[1]);
        KEY(b, "dest_port");
        put_int(b, tp->dport);
        KEY(b, "proto");
        put_str(r, b, ipp == 0 ? NULL : ipp == 17 ? "UDP" : ipp == 6 ? "TCP" : "SCTP");
        KEY(b, "sip_transport");
        put_str(r, b, sw_transport_name(tr));
        KEY(b, "app_proto");
        LB_LIT(b, "\"sip\"");
        KEY(b, "community_id");
        put_str(r, b, cid);
    } else {
        LB_LIT(b, ",\"src_ip\":null,\"src_port\":null,\"dest_ip\":null,\"dest_port\":null,"
                  "\"proto\":null,\"sip_transport\":null");
        KEY(b, "app_proto");
        put_str(r, b, ev->type != SW_EVENT_STATS ? "sip" : NULL);
        KEY(b, "community_id");
        LB_LIT(b, "null");
    }
    KEY(b, "hep_capture_id");
    if (o->hep)
        put_count(b, o->hep_capture_id);
    else
        LB_LIT(b, "null");
    KEY(b, "hep_agent");
    if (o->hep)
        put_addr(r, b, &o->hep_agent, &r->addr_cache[2]);
    else
        LB_LIT(b, "null");
    lb_put(b, body_key[ev->type], strlen(body_key[ev->type]));
    switch (ev->type) {
    case SW_EVENT_TRANSFER:
        put_transfer(r, b, &ev->u.transfer);
        break;
    case SW_EVENT_USER_NOT_FOUND:
        put_not_found(r, b, &ev->u.not_found);
        break;
    case SW_EVENT_SCAN:
        put_scan(r, b, &ev->u.scan);
        break;
    case SW_EVENT_STATS: {
        json_t *st = body_stats(r, &ev->u.stats);
        if (st == NULL) {
            r->json_errors++;
            LB_LIT(b, "null");
        } else {
            lb_json(r, b, st);
            json_decref(st);
        }
        LB_LIT(b, "}");
        return;
    }
    case SW_EVENT__COUNT:
        break;
    }
    LB_LIT(b, "}");
    bool cut = ev->ladder.truncated;
    KEY(b, "messages");
    put_ladder(r, b, &ev->ladder, &cut);
    KEY(b, "messages_truncated");
    put_bool(b, cut);
    KEY(b, "evidence");
    put_str(r, b, ev->evidence.path);
    KEY(b, "evidence_complete");
    if (ev->evidence.path == NULL)
        LB_LIT(b, "null");
    else
        put_bool(b, ev->evidence.complete);
    LB_LIT(b, "}");
}

/* The line in r->line, newline included; returns its length or 0. */
static size_t dump_line(struct report *r, const struct sw_event *ev)
{
    struct lbuf b = {r->line, 0, r->line_cap, false};
    write_event(r, &b, ev);
    LB_LIT(&b, "\n");
    r->line = b.p;
    r->line_cap = b.cap;
    return b.oom ? 0 : b.n;
}

int report_event(struct report *r, const struct sw_event *ev)
{
    if ((unsigned)ev->type >= SW_EVENT__COUNT) {
        r->json_errors++;
        return 0;
    }
    if (r->cfg.event_mask != 0 && !(r->cfg.event_mask & (1u << ev->type))) {
        r->suppressed++;
        return 0;
    }
    /* Write; when the line is too long, again at the next fitting level,
     * which cuts wire strings and lists harder. The last level (8-byte
     * strings, empty lists) always fits: what is left is our own keys. */
    size_t n = 0;
    for (r->fit = 0; r->fit < REPORT_FIT_LEVELS; r->fit++) {
        r->cut = false;
        n = dump_line(r, ev);
        if (n <= REPORT_MAX_LINE)
            break;
    }
    if (r->fit > 0 && n > 0)
        r->shortened++;
    r->fit = 0;
    if (n == 0) {
        r->json_errors++;
        return 0;
    }
    int rc = output_line(r->out, r->line, n);
    if (rc >= 0)
        r->written[ev->type]++; /* accepted whole: written, or queued to be */
    return rc == 0 ? 0 : -1;
}

int report_last_errno(const struct report *r)
{
    return output_last_errno(r->out);
}

void report_emit(void *report, const struct sw_event *ev)
{
    (void)report_event(report, ev);
}

void report_counters(const struct report *r, struct sw_counters *out)
{
    static const char *const per_type[SW_EVENT__COUNT] = {
        [SW_EVENT_TRANSFER] = "events_written_transfer",
        [SW_EVENT_USER_NOT_FOUND] = "events_written_user_not_found",
        [SW_EVENT_SCAN] = "events_written_scan",
        [SW_EVENT_STATS] = "events_written_stats",
    };
    struct output_stats os;
    output_stats(r->out, &os);
    uint64_t total = 0;
    for (size_t i = 0; i < SW_EVENT__COUNT; i++)
        total += r->written[i];
    sw_counters_add(out, "events_written", total);
    for (size_t i = 0; i < SW_EVENT__COUNT; i++)
        if (per_type[i] != NULL)
            sw_counters_add(out, per_type[i], r->written[i]);
    sw_counters_add(out, "events_suppressed", r->suppressed);
    sw_counters_add(out, "output_errors", os.errors);
    sw_counters_add(out, "events_lost", os.lost);
    sw_counters_add(out, "output_reopen_failures", os.reopen_failures);
    sw_counters_add(out, "utf8_repaired", r->utf8_repaired);
    sw_counters_add(out, "json_errors", r->json_errors);
    sw_counters_add(out, "events_shortened", r->shortened);
}
