/*
 * report.c - events -> NDJSON. The JSON is written here directly, in the
 * exact bytes jansson's dump gave (it used to build each line as a jansson
 * tree, ~90 000 instructions an event; tests/fuzz/report_ref.h keeps that as
 * the reference the tests compare with).
 *
 * Owns: the output stream (stdout through a dup of fd 1, or a file opened
 * for append, reopened on SIGHUP), its stdio buffer, and the line buffer of
 * the event being written. Does not: decide anything about
 * events (the tracker does), rotate files (logrotate moves them; we reopen).
 *
 * Schema (README documents it from this code): one JSON object per line,
 * keys in insertion order: timestamp, event_type, call_id, src_ip, src_port,
 * dest_ip, dest_port, proto, then one object named after the event type.
 * Unknown values are JSON null. Each line is built in memory and handed to
 * stdio in one fwrite, so a reader never sees half an event from us.
 *
 * Header bytes are not guaranteed UTF-8 and JSON strings must be: every
 * string from an event is repaired first (RFC 3629 strictly: overlongs,
 * surrogates, code points above U+10FFFF and cut sequences become U+FFFD,
 * one per maximal ill-formed subpart, as Unicode §3.9 recommends); pure
 * ASCII strings skip that copy. Control characters are escaped as jansson
 * escapes them. RFC 8259 (JSON), RFC 3339 (times).
 */
#include "sipwatch/report.h"

#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define REPORT_IOBUF ((size_t)256 * 1024)

struct report {
    struct report_config cfg;
    char *path; /* owned copy; NULL for stdout and caller streams */
    FILE *out;
    bool own;    /* fclose at free (files, our dup of stdout) */
    char *iobuf; /* stdio buffer of `out` when we own it */
    char *line;  /* the line being written */
    size_t line_cap;
    char *fix; /* UTF-8 repair scratch */
    size_t fix_cap;
    bool tcache_ok; /* tcache: the formatted time of second tcache_sec, up to ".us" */
    int64_t tcache_sec;
    char tcache[32];
    size_t tcache_len;
    uint64_t written, suppressed, write_errors, utf8_repaired, json_errors;
    int last_errno; /* of the last failed write, 0 if none */
};

/* Opens path for append (or a dup of stdout) with a big buffer. */
static FILE *open_out(const char *path, char **iobuf, char errbuf[SW_ERRBUF_SIZE])
{
    FILE *f;
    const char *shown = path == NULL ? "-" : path;
    if (path == NULL) {
        /* Our own FILE on fd 1: its buffer is ours to size and free, and
         * whatever else uses stdio's stdout is left alone. */
        int fd = dup(STDOUT_FILENO);
        f = fd >= 0 ? fdopen(fd, "w") : NULL;
        if (f == NULL && fd >= 0) {
            int e = errno;
            close(fd);
            errno = e;
        }
    } else {
        f = fopen(path, "a"); /* append: never truncate an existing log */
    }
    if (f == NULL) {
        snprintf(errbuf, SW_ERRBUF_SIZE, "cannot open output %s: %s", shown, strerror(errno));
        return NULL;
    }
    *iobuf = malloc(REPORT_IOBUF);
    if (*iobuf != NULL)
        setvbuf(f, *iobuf, _IOFBF, REPORT_IOBUF);
    return f;
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
    if (cfg->path != NULL && strcmp(cfg->path, "-") != 0) {
        r->path = strdup(cfg->path);
        if (r->path == NULL) {
            snprintf(errbuf, SW_ERRBUF_SIZE, "out of memory opening the output");
            free(r);
            return NULL;
        }
    }
    r->out = open_out(r->path, &r->iobuf, errbuf);
    if (r->out == NULL) {
        free(r->path);
        free(r);
        return NULL;
    }
    r->own = true;
    return r;
}

struct report *report_new_stream(FILE *f, const struct report_config *cfg)
{
    struct report *r = calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    r->cfg = *cfg;
    r->cfg.path = NULL;
    r->out = f;
    return r;
}

static int flush_out(struct report *r)
{
    if (fflush(r->out) != 0) {
        int e = errno;
        r->write_errors++;
        r->last_errno = e;
        clearerr(r->out);
        errno = e;
        return -1;
    }
    return 0;
}

void report_free(struct report *r)
{
    if (r == NULL)
        return;
    (void)flush_out(r);
    if (r->own)
        fclose(r->out);
    free(r->iobuf);
    free(r->line);
    free(r->fix);
    free(r->path);
    free(r);
}

int report_flush(struct report *r)
{
    return flush_out(r);
}

int report_reopen(struct report *r, char errbuf[SW_ERRBUF_SIZE])
{
    if (r->path == NULL)
        return 0;
    char *iobuf = NULL;
    FILE *f = open_out(r->path, &iobuf, errbuf);
    if (f == NULL)
        return -1;
    (void)flush_out(r);
    fclose(r->out);
    free(r->iobuf);
    r->out = f;
    r->iobuf = iobuf;
    return 0;
}

char *report_format_time(sw_time t, char buf[32])
{
    int64_t sec = t / SW_USEC_PER_SEC, us = t % SW_USEC_PER_SEC;
    if (us < 0) { /* floor, so that times before 1970 read forwards */
        us += SW_USEC_PER_SEC;
        sec -= 1;
    }
    time_t tt = (time_t)sec;
    struct tm tm;
    if (gmtime_r(&tt, &tm) == NULL) {
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

/*
 * The line is written straight into r->line, byte for byte what jansson 2.14
 * gave when it built it (json_dumpb with JSON_COMPACT | JSON_PRESERVE_ORDER |
 * JSON_REAL_PRECISION(15)), without a tree of allocated values: strings
 * escape '"', '\\' and bytes below 0x20 (\b \f \n \r \t, else \u00XX), nothing
 * else; reals are "%.15g" with ".0" added to integral values and the exponent
 * without '+' or leading zeros; a key set twice keeps its first place and its
 * last value. tests/unit/test_report.c checks this against jansson itself.
 */
#define W_DEPTH 8

struct w {
    struct report *r;
    size_t n;
    bool oom;
    unsigned depth;
    bool first[W_DEPTH]; /* nothing written yet in this object / array */
};

static bool w_reserve(struct w *w, size_t k)
{
    struct report *r = w->r;
    if (w->oom)
        return false;
    if (k <= r->line_cap - w->n)
        return true;
    if (k > SIZE_MAX / 2 - w->n) {
        w->oom = true;
        return false;
    }
    size_t cap = r->line_cap ? r->line_cap : 1024;
    while (cap - w->n < k)
        cap *= 2;
    char *nl = realloc(r->line, cap);
    if (nl == NULL) {
        w->oom = true;
        return false;
    }
    r->line = nl;
    r->line_cap = cap;
    return true;
}

static void w_put(struct w *w, const char *s, size_t k)
{
    if (!w_reserve(w, k))
        return;
    memcpy(w->r->line + w->n, s, k);
    w->n += k;
}

#define W_LIT(w, lit) w_put((w), (lit), sizeof(lit) - 1)

/* 0: copied as is; else the byte needs an escape */
static const uint8_t w_esc[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    ['"'] = 1, ['\\'] = 1,
};

/* A JSON string of valid UTF-8 s[0..n). */
static void w_escaped(struct w *w, const char *s, size_t n)
{
    if (n > (SIZE_MAX - 2) / 6 || !w_reserve(w, 6 * n + 2))
        return;
    char *o = w->r->line + w->n;
    *o++ = '"';
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = (uint8_t)s[i];
        if (!w_esc[c])
            continue;
        memcpy(o, s + run, i - run);
        o += i - run;
        run = i + 1;
        *o++ = '\\';
        switch (c) {
        case '"':
        case '\\':
            *o++ = (char)c;
            break;
        case '\b':
            *o++ = 'b';
            break;
        case '\f':
            *o++ = 'f';
            break;
        case '\n':
            *o++ = 'n';
            break;
        case '\r':
            *o++ = 'r';
            break;
        case '\t':
            *o++ = 't';
            break;
        default:
            *o++ = 'u';
            *o++ = '0';
            *o++ = '0';
            *o++ = "0123456789ABCDEF"[c >> 4];
            *o++ = "0123456789ABCDEF"[c & 15];
            break;
        }
    }
    memcpy(o, s + run, n - run);
    o += n - run;
    *o++ = '"';
    w->n = (size_t)(o - w->r->line);
}

static bool utf8_valid(const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        size_t bad = 0, len = utf8_seq((const uint8_t *)s + i, n - i, &bad);
        if (len == 0)
            return false;
        i += len;
    }
    return true;
}

/* The separator before a member; false (and counted) for a key jansson
 * would refuse (NULL or invalid UTF-8): the member is then left out. */
static bool w_key(struct w *w, const char *key)
{
    if (key == NULL || !utf8_valid(key, strlen(key))) {
        w->r->json_errors++;
        return false;
    }
    if (!w->first[w->depth])
        W_LIT(w, ",");
    w->first[w->depth] = false;
    w_escaped(w, key, strlen(key));
    W_LIT(w, ":");
    return true;
}

/* A key of our own (a literal: ASCII, nothing to escape), given as
 * "\"key\":". Always true. */
static bool w_lkey(struct w *w, const char *quoted, size_t n)
{
    if (!w->first[w->depth])
        W_LIT(w, ",");
    w->first[w->depth] = false;
    w_put(w, quoted, n);
    return true;
}

#define W_KEY(w, lit) w_lkey((w), "\"" lit "\":", sizeof("\"" lit "\":") - 1)

/* The separator before an array element. */
static void w_elem(struct w *w)
{
    if (!w->first[w->depth])
        W_LIT(w, ",");
    w->first[w->depth] = false;
}

static void w_open(struct w *w, const char *brace)
{
    w_put(w, brace, 1);
    if (SW_FAILS(w->depth + 1 < W_DEPTH)) {
        w->oom = true;
        return;
    }
    w->first[++w->depth] = true;
}

static void w_close(struct w *w, const char *brace)
{
    w_put(w, brace, 1);
    if (w->depth > 0)
        w->depth--;
}

static void w_null(struct w *w)
{
    W_LIT(w, "null");
}

static void w_bool(struct w *w, bool v)
{
    if (v)
        W_LIT(w, "true");
    else
        W_LIT(w, "false");
}

static void w_int(struct w *w, int64_t v)
{
    char buf[24], *e = buf + sizeof buf, *p = e;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (v < 0)
        *--p = '-';
    w_put(w, p, (size_t)(e - p));
}

static void w_count(struct w *w, uint64_t v)
{
    w_int(w, v > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)v);
}

/* jansson's jsonp_dtostr at precision 15; a value jansson refuses (NaN,
 * infinities) is null, counted. */
static void w_real(struct w *w, double v)
{
    char buf[64];
    if (v != v || v > DBL_MAX || v < -DBL_MAX) {
        w->r->json_errors++;
        w_null(w);
        return;
    }
    int k = snprintf(buf, sizeof buf, "%.15g", v);
    if (k < 0 || (size_t)k >= sizeof buf - 3) {
        w->r->json_errors++;
        w_null(w);
        return;
    }
    size_t len = (size_t)k;
    if (memchr(buf, '.', len) == NULL && memchr(buf, 'e', len) == NULL) {
        memcpy(buf + len, ".0", 3);
        len += 2;
    }
    char *e = memchr(buf, 'e', len);
    if (e != NULL) {
        char *start = e + 1, *end = start + 1;
        if (*start == '-')
            start++;
        while (end < buf + len && *end == '0')
            end++;
        if (end != start) {
            memmove(start, end, (size_t)(buf + len - end));
            len -= (size_t)(end - start);
        }
    }
    w_put(w, buf, len);
}

/* An event string: repaired to UTF-8 when it is not ASCII; NULL (unknown)
 * is null. */
static void w_str(struct w *w, const char *s)
{
    if (s == NULL) {
        w_null(w);
        return;
    }
    size_t n = strlen(s);
    bool ascii = true;
    for (size_t i = 0; i < n && ascii; i++)
        ascii = (uint8_t)s[i] < 0x80;
    if (ascii) {
        w_escaped(w, s, n);
        return;
    }
    struct report *r = w->r;
    if (n > (SIZE_MAX - 1) / 3) {
        r->json_errors++;
        w_null(w);
        return;
    }
    size_t need = 3 * n + 1; /* each bad byte may become 3 */
    if (need > r->fix_cap) {
        char *nf = realloc(r->fix, need);
        if (nf == NULL) {
            r->json_errors++;
            w_null(w);
            return;
        }
        r->fix = nf;
        r->fix_cap = need;
    }
    unsigned bad = 0;
    size_t k = report_utf8_repair(s, n, r->fix, r->fix_cap, &bad);
    r->utf8_repaired += bad;
    w_escaped(w, r->fix, k);
}

/* One of our own names (ASCII); NULL is null, counted (jansson refused it). */
static void w_name(struct w *w, const char *s)
{
    if (s == NULL) {
        w->r->json_errors++;
        w_null(w);
        return;
    }
    w_escaped(w, s, strlen(s));
}

/* An address as sw_addr_str writes it; IPv4 without inet_ntop. */
static void w_addr(struct w *w, const struct sw_addr *a)
{
    char buf[SW_ADDRSTRLEN];
    if (a->family != 4) {
        w_name(w, sw_addr_str(a, buf));
        return;
    }
    char *p = buf;
    *p++ = '"';
    for (int i = 0; i < 4; i++) {
        unsigned v = a->a[i];
        if (v >= 100)
            *p++ = (char)('0' + v / 100);
        if (v >= 10)
            *p++ = (char)('0' + v / 10 % 10);
        *p++ = (char)('0' + v % 10);
        *p++ = i < 3 ? '.' : '"';
    }
    w_put(w, buf, (size_t)(p - buf));
}

/* Capture times repeat their second from one event to the next: the part
 * up to the seconds is formatted once per second. */
static void w_time(struct w *w, sw_time t)
{
    struct report *r = w->r;
    if (t == SW_TIME_NONE) {
        w_null(w);
        return;
    }
    char buf[32];
    int64_t sec = t / SW_USEC_PER_SEC, us = t % SW_USEC_PER_SEC;
    if (us < 0) {
        us += SW_USEC_PER_SEC;
        sec -= 1;
    }
    if (t < INT64_MIN + 2 * SW_USEC_PER_SEC) {
        report_format_time(t, buf);
        w_escaped(w, buf, strlen(buf));
        return;
    }
    if (!r->tcache_ok || r->tcache_sec != sec) {
        /* "...:SS.000000Z": keep what precedes the microseconds */
        size_t n = strlen(report_format_time(t - us, buf));
        r->tcache_ok = n > 8 && buf[n - 8] == '.' && buf[n - 1] == 'Z';
        if (!r->tcache_ok) {
            report_format_time(t, buf);
            w_escaped(w, buf, strlen(buf));
            return;
        }
        r->tcache_sec = sec;
        r->tcache_len = n - 8;
        memcpy(r->tcache, buf, r->tcache_len);
    }
    memcpy(buf, r->tcache, r->tcache_len);
    char *p = buf + r->tcache_len;
    *p++ = '.';
    for (int i = 5; i >= 0; i--) {
        p[i] = (char)('0' + us % 10);
        us /= 10;
    }
    p[6] = 'Z';
    w_escaped(w, buf, r->tcache_len + 8);
}

/* Seconds (or milliseconds, with div 1000) as a number, microsecond
 * resolution: 2.5, 32.000104. */
static void w_dur(struct w *w, sw_time t, double div)
{
    if (t == SW_TIME_NONE)
        w_null(w);
    else
        w_real(w, (double)t / div);
}

static void w_status(struct w *w, int s)
{
    if (s == 0)
        w_null(w);
    else
        w_int(w, s);
}

static void w_strs(struct w *w, const char *const *v, size_t n, size_t max)
{
    w_open(w, "[");
    n = SW_MIN(n, max);
    for (size_t i = 0; i < n; i++) {
        w_elem(w);
        w_str(w, v[i]);
    }
    w_close(w, "]");
}

static void body_transfer(struct w *w, const struct sw_event_transfer *x)
{
    w_open(w, "{");
    if (W_KEY(w, "outcome"))
        w_name(w, sw_outcome_name(x->outcome));
    if (W_KEY(w, "refer_to"))
        w_str(w, x->refer_to);
    if (W_KEY(w, "referred_by"))
        w_str(w, x->referred_by);
    if (W_KEY(w, "replaces"))
        w_bool(w, x->replaces);
    if (W_KEY(w, "refer_cseq"))
        w_int(w, x->refer_cseq);
    if (W_KEY(w, "refer_status"))
        w_status(w, x->refer_status);
    if (W_KEY(w, "refer_reason"))
        w_str(w, x->refer_reason);
    if (W_KEY(w, "notify_count"))
        w_int(w, x->notify_count);
    if (W_KEY(w, "final_status"))
        w_status(w, x->final_status);
    if (W_KEY(w, "final_reason"))
        w_str(w, x->final_reason);
    if (W_KEY(w, "refer_time"))
        w_time(w, x->refer_time);
    if (W_KEY(w, "accepted_time"))
        w_time(w, x->accepted_time);
    if (W_KEY(w, "wait_s"))
        w_dur(w, x->wait, 1e6);
    if (W_KEY(w, "subscription_state"))
        w_str(w, x->subscription_state);
    if (x->truncated && W_KEY(w, "truncated"))
        w_bool(w, true);
    w_close(w, "}");
}

static void body_not_found(struct w *w, const struct sw_event_not_found *x)
{
    w_open(w, "{");
    if (W_KEY(w, "method"))
        w_str(w, x->method);
    if (W_KEY(w, "request_uri"))
        w_str(w, x->request_uri);
    if (W_KEY(w, "user"))
        w_str(w, x->user);
    if (W_KEY(w, "domain"))
        w_str(w, x->domain);
    if (W_KEY(w, "from"))
        w_str(w, x->from);
    if (W_KEY(w, "to"))
        w_str(w, x->to);
    if (W_KEY(w, "user_agent"))
        w_str(w, x->user_agent);
    if (W_KEY(w, "server"))
        w_str(w, x->server);
    if (W_KEY(w, "status"))
        w_status(w, x->status);
    if (W_KEY(w, "reason"))
        w_str(w, x->reason);
    if (W_KEY(w, "warning"))
        w_str(w, x->warning);
    if (W_KEY(w, "rtt_ms"))
        w_dur(w, x->rtt, 1e3);
    w_close(w, "}");
}

static void body_scan(struct w *w, const struct sw_event_scan *x)
{
    w_open(w, "{");
    if (W_KEY(w, "src_ip"))
        w_str(w, x->src_ip);
    if (W_KEY(w, "count"))
        w_count(w, x->count);
    if (W_KEY(w, "distinct_users"))
        w_count(w, x->distinct_users);
    if (W_KEY(w, "users"))
        w_strs(w, x->users, x->n_users, SW_SCAN_MAX_SAMPLE);
    if (W_KEY(w, "methods"))
        w_strs(w, x->methods, x->n_methods, SW_SCAN_MAX_LIST);
    if (W_KEY(w, "user_agents"))
        w_strs(w, x->user_agents, x->n_user_agents, SW_SCAN_MAX_LIST);
    if (W_KEY(w, "first_time"))
        w_time(w, x->first_time);
    if (W_KEY(w, "last_time"))
        w_time(w, x->last_time);
    if (W_KEY(w, "window_s"))
        w_dur(w, x->window, 1e6);
    w_close(w, "}");
}

static void top_list(struct w *w, const struct sw_top_entry *v, size_t n, const char *key)
{
    w_open(w, "[");
    n = SW_MIN(n, (size_t)SW_SUMMARY_TOP);
    for (size_t i = 0; i < n; i++) {
        w_elem(w);
        w_open(w, "{");
        if (w_key(w, key))
            w_str(w, v[i].key);
        if (W_KEY(w, "count"))
            w_count(w, v[i].count);
        w_close(w, "}");
    }
    w_close(w, "]");
}

/* The members of the stats object, in jansson's order: a name set again
 * (a counter named like a later one) keeps its first place, last value. */
enum stat_kind { SK_COUNT, SK_TRANSFERS, SK_NOT_FOUND, SK_FINAL };
struct stat_member {
    const char *key;
    enum stat_kind kind;
    uint64_t value;
};

static size_t stat_set(struct stat_member *m, size_t n, const char *key, enum stat_kind kind,
                       uint64_t value)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(m[i].key, key) == 0) {
            m[i].kind = kind;
            m[i].value = value;
            return n;
        }
    }
    m[n].key = key;
    m[n].kind = kind;
    m[n].value = value;
    return n + 1;
}

static void body_stats(struct w *w, const struct sw_event_stats *x)
{
    struct stat_member m[SW_COUNTERS_MAX + 3];
    size_t n = 0;
    if (x->counters != NULL) {
        size_t k = SW_MIN(x->counters->n, (size_t)SW_COUNTERS_MAX);
        for (size_t i = 0; i < k; i++) {
            const char *name = x->counters->v[i].name;
            if (name == NULL)
                continue;
            if (!utf8_valid(name, strlen(name))) {
                w->r->json_errors++;
                continue;
            }
            n = stat_set(m, n, name, SK_COUNT, x->counters->v[i].value);
        }
    }
    n = stat_set(m, n, "transfers", SK_TRANSFERS, 0);
    n = stat_set(m, n, "not_found", SK_NOT_FOUND, 0);
    n = stat_set(m, n, "final", SK_FINAL, x->final);

    w_open(w, "{");
    for (size_t i = 0; i < n; i++) {
        if (!w_key(w, m[i].key))
            continue;
        switch (m[i].kind) {
        case SK_COUNT:
            w_count(w, m[i].value);
            break;
        case SK_TRANSFERS:
            if (x->transfers == NULL) {
                w_null(w);
                break;
            }
            w_open(w, "{");
            for (unsigned o = 0; o < SW_OUTCOME__COUNT; o++) {
                const char *name = sw_outcome_name((enum sw_transfer_outcome)o);
                if (w_key(w, name))
                    w_count(w, x->transfers->by_outcome[o]);
            }
            w_close(w, "}");
            break;
        case SK_NOT_FOUND:
            if (x->not_found == NULL) {
                w_null(w);
                break;
            }
            w_open(w, "{");
            if (W_KEY(w, "404"))
                w_count(w, x->not_found->status_404);
            if (W_KEY(w, "604"))
                w_count(w, x->not_found->status_604);
            if (W_KEY(w, "top_users"))
                top_list(w, x->not_found->top_users, x->not_found->n_top_users, "user");
            if (W_KEY(w, "top_sources"))
                top_list(w, x->not_found->top_sources, x->not_found->n_top_sources, "src_ip");
            w_close(w, "}");
            break;
        case SK_FINAL:
            w_bool(w, m[i].value != 0);
            break;
        }
    }
    w_close(w, "}");
}

/* The line in r->line, newline included; returns its length or 0. */
static size_t build_line(struct report *r, const struct sw_event *ev)
{
    struct w w;
    memset(&w, 0, sizeof w);
    w.r = r;
    bool tuple = ev->has_tuple && ev->type != SW_EVENT_STATS;
    const struct sw_tuple *t = &ev->tuple;
    w_open(&w, "{");
    if (W_KEY(&w, "timestamp"))
        w_time(&w, ev->ts);
    if (W_KEY(&w, "event_type"))
        w_name(&w, sw_event_type_name(ev->type));
    if (W_KEY(&w, "call_id")) {
        if (ev->type == SW_EVENT_STATS)
            w_null(&w);
        else
            w_str(&w, ev->call_id);
    }
    if (W_KEY(&w, "src_ip")) {
        if (tuple)
            w_addr(&w, &t->src);
        else
            w_null(&w);
    }
    if (W_KEY(&w, "src_port")) {
        if (tuple)
            w_int(&w, t->sport);
        else
            w_null(&w);
    }
    if (W_KEY(&w, "dest_ip")) {
        if (tuple)
            w_addr(&w, &t->dst);
        else
            w_null(&w);
    }
    if (W_KEY(&w, "dest_port")) {
        if (tuple)
            w_int(&w, t->dport);
        else
            w_null(&w);
    }
    if (W_KEY(&w, "proto")) {
        if (tuple)
            w_name(&w, sw_transport_name((enum sw_transport)t->transport));
        else
            w_null(&w);
    }
    switch (ev->type) {
    case SW_EVENT_TRANSFER:
        if (W_KEY(&w, "transfer"))
            body_transfer(&w, &ev->u.transfer);
        break;
    case SW_EVENT_USER_NOT_FOUND:
        if (W_KEY(&w, "user_not_found"))
            body_not_found(&w, &ev->u.not_found);
        break;
    case SW_EVENT_SCAN:
        if (W_KEY(&w, "scan"))
            body_scan(&w, &ev->u.scan);
        break;
    case SW_EVENT_STATS:
        if (W_KEY(&w, "stats"))
            body_stats(&w, &ev->u.stats);
        break;
    case SW_EVENT__COUNT:
        break;
    }
    w_close(&w, "}");
    W_LIT(&w, "\n");
    return w.oom ? 0 : w.n;
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
    size_t n = build_line(r, ev);
    if (n == 0) {
        r->json_errors++;
        return 0;
    }
    if (fwrite(r->line, 1, n, r->out) != n) {
        int e = errno;
        r->write_errors++;
        r->last_errno = e;
        clearerr(r->out);
        errno = e;
        return -1;
    }
    if (r->cfg.line_buffered && flush_out(r) != 0)
        return -1;
    r->written++;
    return 0;
}

int report_last_errno(const struct report *r)
{
    return r->last_errno;
}

void report_emit(void *report, const struct sw_event *ev)
{
    (void)report_event(report, ev);
}

void report_counters(const struct report *r, struct sw_counters *out)
{
    sw_counters_add(out, "events_written", r->written);
    sw_counters_add(out, "events_suppressed", r->suppressed);
    sw_counters_add(out, "write_errors", r->write_errors);
    sw_counters_add(out, "utf8_repaired", r->utf8_repaired);
    sw_counters_add(out, "json_errors", r->json_errors);
}
