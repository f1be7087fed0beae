/*
 * metrics.c - Prometheus text exposition of the stats event (see metrics.h).
 *
 * Follows the text format 0.0.4: one HELP and one TYPE line per metric
 * family, names [a-zA-Z_:][a-zA-Z0-9_:]*, label values with \\, \" and \n
 * escaped. Builds the file in memory, writes it to PATH.tmp (not *.prom, so
 * the textfile collector never reads it) and renames it over PATH.
 * Does not serve HTTP: node_exporter does.
 */
#include "sipwatch/metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NAME_MAX_LEN 128

struct buf {
    char *p;
    size_t n, cap;
    bool oom;
};

struct metrics {
    char *path, *tmp, *host_label;
    struct buf b;
    uint64_t writes, write_errors;
    char err[SW_ERRBUF_SIZE];
    char seen[SW_COUNTERS_MAX][NAME_MAX_LEN]; /* names written in this file */
};

static void put(struct buf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 16384;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *np = realloc(b->p, cap);
        if (np == NULL) {
            b->oom = true;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void putf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct buf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0)
        put(b, tmp, SW_MIN((size_t)n, sizeof tmp - 1));
}

/* `host="..."` with the value escaped as the format requires. */
static char *label_of(const char *host)
{
    size_t n = strlen(host);
    char *s = malloc(2 * n + 8);
    if (s == NULL)
        return NULL;
    char *w = s;
    memcpy(w, "host=\"", 6);
    w += 6;
    for (size_t i = 0; i < n; i++) {
        if (host[i] == '\\' || host[i] == '"') {
            *w++ = '\\';
            *w++ = host[i];
        } else if (host[i] == '\n') {
            *w++ = '\\';
            *w++ = 'n';
        } else {
            *w++ = host[i];
        }
    }
    *w++ = '"';
    *w = '\0';
    return s;
}

struct metrics *metrics_new(const char *path, const char *host, char errbuf[SW_ERRBUF_SIZE])
{
    struct metrics *m = calloc(1, sizeof *m);
    if (m == NULL)
        goto oom;
    size_t n = strlen(path);
    if (n == 0 || n > 4000) {
        snprintf(errbuf, SW_ERRBUF_SIZE, "--metrics-file: the path must be 1 to 4000 bytes");
        metrics_free(m);
        return NULL;
    }
    m->path = strdup(path);
    m->tmp = malloc(n + 5);
    m->host_label = label_of(host);
    if (m->path == NULL || m->tmp == NULL || m->host_label == NULL)
        goto oom;
    memcpy(m->tmp, path, n);
    memcpy(m->tmp + n, ".tmp", 5);
    return m;
oom:
    snprintf(errbuf, SW_ERRBUF_SIZE, "out of memory setting up --metrics-file");
    metrics_free(m);
    return NULL;
}

void metrics_free(struct metrics *m)
{
    if (m == NULL)
        return;
    free(m->path);
    free(m->tmp);
    free(m->host_label);
    free(m->b.p);
    free(m);
}

static bool has_suffix(const char *s, const char *suf)
{
    size_t n = strlen(s), k = strlen(suf);
    return n >= k && memcmp(s + n - k, suf, k) == 0;
}

/* promtool's lint refuses a name holding a type word as a whole token
 * ("_summary_" in summary_keys_dropped): such a token becomes its plural. */
static void untype(char name[NAME_MAX_LEN])
{
    static const char *const words[][2] = {
        {"counter", "counters"}, {"gauge", "gauges"}, {"summary", "summaries"},
        {"histogram", "histograms"}};
    char out[NAME_MAX_LEN];
    size_t o = 0;
    const char *p = name;
    while (*p != '\0') {
        size_t k = strcspn(p, "_");
        const char *tok = p;
        size_t tlen = k;
        for (size_t w = 0; w < SW_ARRAY_LEN(words); w++) {
            if (strlen(words[w][0]) == k && memcmp(p, words[w][0], k) == 0) {
                tok = words[w][1];
                tlen = strlen(tok);
            }
        }
        if (o + tlen + 2 > NAME_MAX_LEN)
            return; /* leave it as it was */
        memcpy(out + o, tok, tlen);
        o += tlen;
        p += k;
        if (*p == '_')
            out[o++] = *p++;
    }
    out[o] = '\0';
    memcpy(name, out, o + 1);
}

/* sipwatch_<group>_<name>[_total], with anything outside [a-zA-Z0-9_] as '_'. */
static void metric_name(char out[NAME_MAX_LEN], const char *group, const char *name, bool counter)
{
    snprintf(out, NAME_MAX_LEN, "sipwatch_%s%s%s%s", group ? group : "", group ? "_" : "", name,
             counter ? "_total" : "");
    for (char *p = out; *p; p++) {
        char ch = *p;
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '_';
        if (!ok)
            *p = '_';
    }
    untype(out);
}

static void family(struct metrics *m, const char *name, const char *type, const char *help)
{
    putf(&m->b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void format_stats(struct metrics *m, const struct sw_event *ev)
{
    const struct sw_event_stats *st = &ev->u.stats;
    struct buf *b = &m->b;
    b->n = 0;
    b->oom = false;
    put(b, "", 0);
    /* Names already written: two counters that map to one name (a group
     * and name pair repeated) would make the file invalid; the first wins. */
    char(*seen)[NAME_MAX_LEN] = m->seen;
    size_t n_seen = 0;
    for (size_t i = 0; st->counters != NULL && i < st->counters->n; i++) {
        const struct sw_counter *c = &st->counters->v[i];
        bool gauge = has_suffix(c->name, "_held") || has_suffix(c->name, "_active") ||
                     has_suffix(c->name, "_peak");
        char name[NAME_MAX_LEN];
        metric_name(name, c->group, c->name, !gauge);
        bool dup = false;
        for (size_t k = 0; k < n_seen && !dup; k++)
            dup = strcmp(seen[k], name) == 0;
        if (dup)
            continue;
        memcpy(seen[n_seen++], name, NAME_MAX_LEN);
        char help[NAME_MAX_LEN + 64];
        snprintf(help, sizeof help, "stats counter %s%s%s (see docs/stats.md)",
                 c->group ? c->group : "", c->group ? "." : "", c->name);
        family(m, name, gauge ? "gauge" : "counter", help);
        putf(b, "%s{%s} %llu\n", name, m->host_label, (unsigned long long)c->value);
    }
    if (st->transfers != NULL) {
        family(m, "sipwatch_transfers_total", "counter", "transfer events by outcome");
        for (int o = 0; o < SW_OUTCOME__COUNT; o++)
            putf(b, "sipwatch_transfers_total{%s,outcome=\"%s\"} %llu\n", m->host_label,
                 sw_outcome_name((enum sw_transfer_outcome)o),
                 (unsigned long long)st->transfers->by_outcome[o]);
    }
    if (st->not_found != NULL) {
        family(m, "sipwatch_not_found_total", "counter", "404/604 answers by status");
        putf(b, "sipwatch_not_found_total{%s,status=\"404\"} %llu\n", m->host_label,
             (unsigned long long)st->not_found->status_404);
        putf(b, "sipwatch_not_found_total{%s,status=\"604\"} %llu\n", m->host_label,
             (unsigned long long)st->not_found->status_604);
    }
    family(m, "sipwatch_stats_time_seconds", "gauge",
           "capture time of the stats event these values come from");
    putf(b, "sipwatch_stats_time_seconds{%s} %lld.%06lld\n", m->host_label,
         (long long)(ev->ts / SW_USEC_PER_SEC), (long long)(ev->ts % SW_USEC_PER_SEC));
}

static bool write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return false;
        }
        p += w;
        n -= (size_t)w;
    }
    return true;
}

void metrics_emit(void *ctx, const struct sw_event *ev)
{
    struct metrics *m = ctx;
    if (ev->type != SW_EVENT_STATS)
        return;
    format_stats(m, ev);
    if (m->b.oom) {
        m->write_errors++;
        snprintf(m->err, sizeof m->err, "--metrics-file: out of memory");
        return;
    }
    /* 0644: node_exporter runs as its own user and must read it. */
    int fd = open(m->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    bool ok = fd >= 0 && write_all(fd, m->b.p, m->b.n);
    int e = errno;
    if (fd >= 0 && close(fd) != 0 && ok) {
        ok = false;
        e = errno;
    }
    if (ok && rename(m->tmp, m->path) != 0) {
        ok = false;
        e = errno;
    }
    if (!ok) {
        if (fd >= 0)
            unlink(m->tmp);
        m->write_errors++;
        snprintf(m->err, sizeof m->err, "--metrics-file %s: %s", m->path, strerror(e));
        return;
    }
    m->writes++;
}

const char *metrics_take_error(struct metrics *m)
{
    static char last[SW_ERRBUF_SIZE];
    memcpy(last, m->err, sizeof last);
    m->err[0] = '\0';
    return last;
}

void metrics_counters(const struct metrics *m, struct sw_counters *out)
{
    sw_counters_add(out, "metrics_writes", m->writes);
    sw_counters_add(out, "metrics_write_errors", m->write_errors);
}
