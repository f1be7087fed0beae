/*
 * report.c - events -> NDJSON, the only file that includes jansson.
 *
 * Owns: the output stream (stdout through a dup of fd 1, or a file opened
 * for append, reopened on SIGHUP), its stdio buffer, and the jansson objects
 * and line buffer of the event being written. Does not: decide anything about
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

#define REPORT_IOBUF ((size_t)256 * 1024)
#define REPORT_DUMP_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15))

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

static void put(struct report *r, json_t *obj, const char *key, json_t *v)
{
    if (v == NULL) {
        r->json_errors++;
        v = json_null();
    }
    if (json_object_set_new(obj, key, v) != 0)
        r->json_errors++;
}

/* An event string: repaired to UTF-8; NULL (unknown) and anything jansson
 * still refuses become null, so the key is never dropped. */
static json_t *jstr(struct report *r, const char *s)
{
    if (s == NULL)
        return json_null();
    size_t n = strlen(s);
    if (n > (SIZE_MAX - 1) / 3) {
        r->json_errors++;
        return json_null();
    }
    size_t need = 3 * n + 1; /* each bad byte may become 3 */
    if (need > r->fix_cap) {
        char *nf = realloc(r->fix, need);
        if (nf == NULL) {
            r->json_errors++;
            return json_null();
        }
        r->fix = nf;
        r->fix_cap = need;
    }
    unsigned bad = 0;
    size_t k = report_utf8_repair(s, n, r->fix, r->fix_cap, &bad);
    r->utf8_repaired += bad;
    json_t *j = json_stringn(r->fix, k);
    if (j == NULL) {
        r->json_errors++;
        return json_null();
    }
    return j;
}

static json_t *jtime(sw_time t)
{
    char buf[32];
    if (t == SW_TIME_NONE)
        return json_null();
    return json_string(report_format_time(t, buf));
}

/* Seconds (or milliseconds, with div 1000) as a number, microsecond
 * resolution: 2.5, 32.000104. */
static json_t *jdur(sw_time t, double div)
{
    if (t == SW_TIME_NONE)
        return json_null();
    return json_real((double)t / div);
}

static json_t *jstatus(int s)
{
    return s == 0 ? json_null() : json_integer(s);
}

static json_t *jcount(uint64_t v)
{
    return json_integer(v > (uint64_t)INT64_MAX ? INT64_MAX : (json_int_t)v);
}

static json_t *jarray(struct report *r, const char *const *v, size_t n, size_t max)
{
    json_t *a = json_array();
    if (a == NULL)
        return NULL;
    n = SW_MIN(n, max);
    for (size_t i = 0; i < n; i++) {
        json_t *s = jstr(r, v[i]);
        if (s == NULL || json_array_append_new(a, s) != 0)
            r->json_errors++;
    }
    return a;
}

static json_t *body_transfer(struct report *r, const struct sw_event_transfer *x)
{
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    put(r, o, "outcome", json_string(sw_outcome_name(x->outcome)));
    put(r, o, "refer_to", jstr(r, x->refer_to));
    put(r, o, "referred_by", jstr(r, x->referred_by));
    put(r, o, "replaces", json_boolean(x->replaces));
    put(r, o, "refer_cseq", json_integer(x->refer_cseq));
    put(r, o, "refer_status", jstatus(x->refer_status));
    put(r, o, "refer_reason", jstr(r, x->refer_reason));
    put(r, o, "notify_count", json_integer(x->notify_count));
    put(r, o, "final_status", jstatus(x->final_status));
    put(r, o, "final_reason", jstr(r, x->final_reason));
    put(r, o, "refer_time", jtime(x->refer_time));
    put(r, o, "accepted_time", jtime(x->accepted_time));
    put(r, o, "wait_s", jdur(x->wait, 1e6));
    put(r, o, "subscription_state", jstr(r, x->subscription_state));
    if (x->truncated)
        put(r, o, "truncated", json_true());
    return o;
}

static json_t *body_not_found(struct report *r, const struct sw_event_not_found *x)
{
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    put(r, o, "method", jstr(r, x->method));
    put(r, o, "request_uri", jstr(r, x->request_uri));
    put(r, o, "user", jstr(r, x->user));
    put(r, o, "domain", jstr(r, x->domain));
    put(r, o, "from", jstr(r, x->from));
    put(r, o, "to", jstr(r, x->to));
    put(r, o, "user_agent", jstr(r, x->user_agent));
    put(r, o, "server", jstr(r, x->server));
    put(r, o, "status", jstatus(x->status));
    put(r, o, "reason", jstr(r, x->reason));
    put(r, o, "warning", jstr(r, x->warning));
    put(r, o, "rtt_ms", jdur(x->rtt, 1e3));
    return o;
}

static json_t *body_scan(struct report *r, const struct sw_event_scan *x)
{
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    put(r, o, "src_ip", jstr(r, x->src_ip));
    put(r, o, "count", jcount(x->count));
    put(r, o, "distinct_users", jcount(x->distinct_users));
    put(r, o, "users", jarray(r, x->users, x->n_users, SW_SCAN_MAX_SAMPLE));
    put(r, o, "methods", jarray(r, x->methods, x->n_methods, SW_SCAN_MAX_LIST));
    put(r, o, "user_agents", jarray(r, x->user_agents, x->n_user_agents, SW_SCAN_MAX_LIST));
    put(r, o, "first_time", jtime(x->first_time));
    put(r, o, "last_time", jtime(x->last_time));
    put(r, o, "window_s", jdur(x->window, 1e6));
    return o;
}

static json_t *top_list(struct report *r, const struct sw_top_entry *v, size_t n, const char *key)
{
    json_t *a = json_array();
    if (a == NULL)
        return NULL;
    n = SW_MIN(n, (size_t)SW_SUMMARY_TOP);
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

static json_t *body_stats(struct report *r, const struct sw_event_stats *x)
{
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    if (x->counters != NULL) {
        size_t n = SW_MIN(x->counters->n, (size_t)SW_COUNTERS_MAX);
        for (size_t i = 0; i < n; i++) {
            const char *name = x->counters->v[i].name;
            if (name != NULL)
                put(r, o, name, jcount(x->counters->v[i].value));
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
        put(r, nf, "404", jcount(s->status_404));
        put(r, nf, "604", jcount(s->status_604));
        put(r, nf, "top_users", top_list(r, s->top_users, s->n_top_users, "user"));
        put(r, nf, "top_sources", top_list(r, s->top_sources, s->n_top_sources, "src_ip"));
    }
    put(r, o, "not_found", nf);
    put(r, o, "final", json_boolean(x->final));
    return o;
}

static json_t *build(struct report *r, const struct sw_event *ev)
{
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    char ip[SW_ADDRSTRLEN];
    bool tuple = ev->has_tuple && ev->type != SW_EVENT_STATS;
    const struct sw_tuple *t = &ev->tuple;
    put(r, o, "timestamp", jtime(ev->ts));
    put(r, o, "event_type", json_string(sw_event_type_name(ev->type)));
    put(r, o, "call_id", ev->type == SW_EVENT_STATS ? json_null() : jstr(r, ev->call_id));
    put(r, o, "src_ip", tuple ? json_string(sw_addr_str(&t->src, ip)) : json_null());
    put(r, o, "src_port", tuple ? json_integer(t->sport) : json_null());
    put(r, o, "dest_ip", tuple ? json_string(sw_addr_str(&t->dst, ip)) : json_null());
    put(r, o, "dest_port", tuple ? json_integer(t->dport) : json_null());
    put(r, o, "proto",
        tuple ? json_string(sw_transport_name((enum sw_transport)t->transport)) : json_null());
    switch (ev->type) {
    case SW_EVENT_TRANSFER:
        put(r, o, "transfer", body_transfer(r, &ev->u.transfer));
        break;
    case SW_EVENT_USER_NOT_FOUND:
        put(r, o, "user_not_found", body_not_found(r, &ev->u.not_found));
        break;
    case SW_EVENT_SCAN:
        put(r, o, "scan", body_scan(r, &ev->u.scan));
        break;
    case SW_EVENT_STATS:
        put(r, o, "stats", body_stats(r, &ev->u.stats));
        break;
    case SW_EVENT__COUNT:
        break;
    }
    return o;
}

/* The line in r->line, newline included; returns its length or 0. */
static size_t dump_line(struct report *r, const json_t *o)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        size_t n = json_dumpb(o, r->line, r->line_cap, REPORT_DUMP_FLAGS);
        if (n == 0)
            return 0;
        if (n < r->line_cap) {
            r->line[n] = '\n';
            return n + 1;
        }
        size_t cap = n + 1 + 1024;
        char *nl = realloc(r->line, cap);
        if (nl == NULL)
            return 0;
        r->line = nl;
        r->line_cap = cap;
    }
    return 0;
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
    json_t *o = build(r, ev);
    size_t n = o != NULL ? dump_line(r, o) : 0;
    json_decref(o);
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
