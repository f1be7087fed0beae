/*
 * report.c - events -> NDJSON, the only file that includes jansson.
 *
 * Owns: the output stream (stdout through a dup of fd 1, or a file opened
 * for append, reopened on SIGHUP), its stdio buffer, one jansson object per
 * event type (built once with all its keys, its values updated in place for
 * each event) and the line buffer. Does not: decide anything about events
 * (the tracker does), rotate files (logrotate moves them; we reopen).
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

#include "sipwatch/communityid.h"

#define REPORT_IOBUF ((size_t)256 * 1024)
#define REPORT_DUMP_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15))
#define REPORT_TIME_CACHE 4
/* Fitting a line into REPORT_MAX_LINE: level 0 writes everything; each
 * further level cuts wire strings and lists harder (see fit_*). */
#define REPORT_FIT_LEVELS 7

struct report_tmpl;

/* The date and time of day of one second, as report_format_time writes
 * them before the ".uuuuuuZ"; len 0 = empty. */
struct report_time_cache {
    int64_t sec;
    size_t len;
    char prefix[32];
};

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
    int last_errno;                            /* of the last failed write, 0 if none */
    struct report_tmpl *tmpl[SW_EVENT__COUNT]; /* the object of each event type */
    struct report_time_cache tcache[REPORT_TIME_CACHE];
    char *host;       /* owned copy of cfg.host */
    unsigned fit;     /* the fitting level of the event being filled */
    bool cut;         /* something was cut at this level (string or list) */
    uint64_t shortened; /* events cut to fit REPORT_MAX_LINE */
    char cutbuf[(512 >> 1) + 4]; /* fit_cut's output: at most fit_str_cap(1) bytes */
    struct sw_tuple cid_tuple; /* tuple of cid_text; transport 0 = none */
    char cid_text[COMMUNITYID_LEN];
};

static void tmpl_free(struct report_tmpl *t);

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
    r->cfg.host = NULL;
    if (cfg->host != NULL && (r->host = strdup(cfg->host)) == NULL) {
        snprintf(errbuf, SW_ERRBUF_SIZE, "out of memory opening the output");
        free(r);
        return NULL;
    }
    if (cfg->path != NULL && strcmp(cfg->path, "-") != 0) {
        r->path = strdup(cfg->path);
        if (r->path == NULL) {
            snprintf(errbuf, SW_ERRBUF_SIZE, "out of memory opening the output");
            free(r->host);
            free(r);
            return NULL;
        }
    }
    r->out = open_out(r->path, &r->iobuf, errbuf);
    if (r->out == NULL) {
        free(r->path);
        free(r->host);
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
    r->cfg.host = NULL;
    if (cfg->host != NULL && (r->host = strdup(cfg->host)) == NULL) {
        free(r);
        return NULL;
    }
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
    free(r->host);
    for (size_t i = 0; i < SW_EVENT__COUNT; i++)
        tmpl_free(r->tmpl[i]);
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
static const char *utf8_view(struct report *r, const char *s, size_t *len)
{
    size_t n = strlen(s);
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

/* A new string value (arrays of scan events, the stats event); NULL
 * (unknown) and anything jansson still refuses become null, so the key is
 * never dropped. */
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
 * Slots: one key of an event object that is built once per event type with
 * all its keys in order and then updated in place for every event. A slot
 * owns one value of its kind (a string, integer or real it changes with
 * json_*_set) and puts it, or null, or a constant, under its key; a key set
 * again keeps its place, so the order and the bytes of each line are those
 * of an object built afresh.
 */
enum slot_kind { SK_STR, SK_INT, SK_REAL, SK_OTHER };

struct slot {
    json_t *obj;     /* the object holding the key (borrowed) */
    const char *key; /* a literal */
    json_t *own;     /* our value (SK_OTHER: none) */
    json_t *cur;     /* what obj holds under key now (borrowed) */
};

static void slot_set(struct report *r, struct slot *s, json_t *v)
{
    if (s->cur == v)
        return;
    if (json_object_set_nocheck(s->obj, s->key, v) != 0) {
        r->json_errors++;
        return;
    }
    s->cur = v;
}

static void slot_null(struct report *r, struct slot *s)
{
    slot_set(r, s, json_null());
}

/* v[0..n) is valid UTF-8. */
static void slot_bytes(struct report *r, struct slot *s, const char *v, size_t n)
{
    json_t *o = s->own;
    if (json_string_length(o) != n || memcmp(json_string_value(o), v, n) != 0) {
        if (json_string_setn_nocheck(o, v, n) != 0) {
            r->json_errors++;
            slot_null(r, s);
            return;
        }
    }
    slot_set(r, s, o);
}

static void slot_str(struct report *r, struct slot *s, const char *str)
{
    size_t n;
    const char *v = str != NULL ? utf8_view(r, str, &n) : NULL;
    if (v == NULL)
        slot_null(r, s);
    else
        slot_bytes(r, s, v, n);
}

/* A name of ours (ASCII). */
static void slot_name(struct report *r, struct slot *s, const char *name)
{
    slot_bytes(r, s, name, strlen(name));
}

static void slot_int(struct report *r, struct slot *s, json_int_t v)
{
    json_integer_set(s->own, v);
    slot_set(r, s, s->own);
}

static void slot_count(struct report *r, struct slot *s, uint64_t v)
{
    slot_int(r, s, v > (uint64_t)INT64_MAX ? INT64_MAX : (json_int_t)v);
}

static void slot_status(struct report *r, struct slot *s, int v)
{
    if (v == 0)
        slot_null(r, s);
    else
        slot_int(r, s, v);
}

static void slot_bool(struct report *r, struct slot *s, bool v)
{
    slot_set(r, s, v ? json_true() : json_false());
}

static void slot_time(struct report *r, struct slot *s, sw_time t)
{
    char buf[32];
    if (t == SW_TIME_NONE) {
        slot_null(r, s);
        return;
    }
    size_t n = format_time(r, t, buf);
    slot_bytes(r, s, buf, n);
}

/* Seconds (or milliseconds, with div 1000) as a number, microsecond
 * resolution: 2.5, 32.000104. */
static void slot_dur(struct report *r, struct slot *s, sw_time t, double div)
{
    if (t == SW_TIME_NONE) {
        slot_null(r, s);
        return;
    }
    json_real_set(s->own, (double)t / div);
    slot_set(r, s, s->own);
}

/* inet_ntop costs more than the rest of the slot: the text of the address
 * last written is kept, *last (NULL-family when none). */
static void slot_addr(struct report *r, struct slot *s, const struct sw_addr *a,
                      struct sw_addr *last)
{
    char ip[SW_ADDRSTRLEN];
    if (last->family != 0 && memcmp(last, a, sizeof *a) == 0) {
        slot_set(r, s, s->own);
        return;
    }
    slot_name(r, s, sw_addr_str(a, ip));
    if (s->cur == s->own && a->family != 0)
        *last = *a;
    else
        last->family = 0;
}

/* The common keys (EVE names where EVE has one), then the event type's
 * object, then (events with a ladder) the messages and the evidence. */
enum {
    H_TIMESTAMP,
    H_HOST,
    H_IN_IFACE,
    H_PCAP_FILENAME,
    H_PCAP_CNT,
    H_CALL_ID,
    H_SRC_IP,
    H_SRC_PORT,
    H_DEST_IP,
    H_DEST_PORT,
    H_PROTO,
    H_SIP_TRANSPORT,
    H_APP_PROTO,
    H_COMMUNITY_ID,
    H_HEP_CAPTURE_ID,
    H_HEP_AGENT,
    H__COUNT
};

struct key_spec {
    const char *key;
    enum slot_kind kind;
};

/* event_type is a constant put after timestamp when the template is built. */
static const struct key_spec head_keys[H__COUNT] = {
    {"timestamp", SK_STR},     {"host", SK_STR},           {"in_iface", SK_STR},
    {"pcap_filename", SK_STR}, {"pcap_cnt", SK_INT},       {"call_id", SK_STR},
    {"src_ip", SK_STR},        {"src_port", SK_INT},       {"dest_ip", SK_STR},
    {"dest_port", SK_INT},     {"proto", SK_STR},          {"sip_transport", SK_STR},
    {"app_proto", SK_STR},     {"community_id", SK_STR},   {"hep_capture_id", SK_INT},
    {"hep_agent", SK_STR},
};

enum {
    TR_OUTCOME,
    TR_REFER_TO,
    TR_REFERRED_BY,
    TR_REPLACES,
    TR_REFER_CSEQ,
    TR_REFER_STATUS,
    TR_REFER_REASON,
    TR_AUTH_CHALLENGES,
    TR_NOTIFY_COUNT,
    TR_FINAL_STATUS,
    TR_FINAL_REASON,
    TR_REFER_TIME,
    TR_ACCEPTED_TIME,
    TR_WAIT,
    TR_SUBSCRIPTION_STATE,
    TR_FROM,
    TR_TO,
    TR_TRANSFEROR_UA,
    TR_TRANSFEREE_UA,
    TR_NOTIFY_ANSWERED,
    TR_NOTIFY_REFUSED,
    TR_NOTIFY_REFUSED_STATUS,
    TR_NOTIFY_REFUSED_REASON,
    TR_NOTIFY_UNANSWERED,
    TR_TRANSFEROR_UNINFORMED,
    TR_TRUNCATED,
    TR__COUNT
};

static const struct key_spec transfer_keys[] = {
    {"outcome", SK_STR},
    {"refer_to", SK_STR},
    {"referred_by", SK_STR},
    {"replaces", SK_OTHER},
    {"refer_cseq", SK_INT},
    {"refer_status", SK_INT},
    {"refer_reason", SK_STR},
    {"auth_challenges", SK_INT},
    {"notify_count", SK_INT},
    {"final_status", SK_INT},
    {"final_reason", SK_STR},
    {"refer_time", SK_STR},
    {"accepted_time", SK_STR},
    {"wait_s", SK_REAL},
    {"subscription_state", SK_STR},
    {"from", SK_STR},
    {"to", SK_STR},
    {"transferor_ua", SK_STR},
    {"transferee_ua", SK_STR},
    {"notify_answered", SK_INT},
    {"notify_refused", SK_INT},
    {"notify_refused_status", SK_INT},
    {"notify_refused_reason", SK_STR},
    {"notify_unanswered", SK_INT},
    {"transferor_uninformed", SK_OTHER},
    {"truncated", SK_OTHER},
};

enum {
    NF_METHOD,
    NF_REQUEST_URI,
    NF_USER,
    NF_DOMAIN,
    NF_FROM,
    NF_TO,
    NF_USER_AGENT,
    NF_SERVER,
    NF_STATUS,
    NF_REASON,
    NF_WARNING,
    NF_RTT,
    NF__COUNT
};

static const struct key_spec not_found_keys[] = {
    {"method", SK_STR}, {"request_uri", SK_STR}, {"user", SK_STR},       {"domain", SK_STR},
    {"from", SK_STR},   {"to", SK_STR},          {"user_agent", SK_STR}, {"server", SK_STR},
    {"status", SK_INT}, {"reason", SK_STR},      {"warning", SK_STR},    {"rtt_s", SK_REAL},
};

enum {
    SC_SRC_IP,
    SC_COUNT,
    SC_DISTINCT_USERS,
    SC_USERS,
    SC_USERS_TRUNCATED,
    SC_METHODS,
    SC_USER_AGENTS,
    SC_FIRST_TIME,
    SC_LAST_TIME,
    SC_WINDOW,
    SC__COUNT
};

static const struct key_spec scan_keys[] = {
    {"src_ip", SK_STR},     {"count", SK_INT},     {"distinct_users", SK_INT},
    {"users", SK_OTHER},    {"users_truncated", SK_OTHER},
    {"methods", SK_OTHER},  {"user_agents", SK_OTHER},
    {"first_time", SK_STR}, {"last_time", SK_STR}, {"window_s", SK_REAL},
};

/* After the body, in events that have a ladder (all but stats). */
enum { T_MESSAGES, T_MESSAGES_TRUNCATED, T_EVIDENCE, T_EVIDENCE_COMPLETE, T__COUNT };

static const struct key_spec tail_keys[T__COUNT] = {
    {"messages", SK_OTHER},
    {"messages_truncated", SK_OTHER},
    {"evidence", SK_STR},
    {"evidence_complete", SK_OTHER},
};

_Static_assert(sizeof transfer_keys / sizeof transfer_keys[0] == TR__COUNT, "transfer keys");
_Static_assert(sizeof not_found_keys / sizeof not_found_keys[0] == NF__COUNT, "not_found keys");
_Static_assert(sizeof scan_keys / sizeof scan_keys[0] == SC__COUNT, "scan keys");

#define BODY_MAX TR__COUNT

/* The object of one event type, reused for every event of that type. */
struct report_tmpl {
    json_t *top;  /* owned */
    json_t *body; /* in top; NULL for stats (built per event) */
    struct slot h[H__COUNT];
    struct slot b[BODY_MAX];
    size_t nb;
    struct slot t[T__COUNT]; /* all but stats */
    size_t nt;
    struct sw_addr src, dst, agent; /* last written in src_ip, dest_ip, hep_agent */
};

static bool slot_init(struct slot *s, json_t *obj, const struct key_spec *k)
{
    s->obj = obj;
    s->key = k->key;
    s->cur = json_null();
    switch (k->kind) {
    case SK_STR:
        s->own = json_string_nocheck("");
        break;
    case SK_INT:
        s->own = json_integer(0);
        break;
    case SK_REAL:
        s->own = json_real(0.0);
        break;
    case SK_OTHER:
        s->own = NULL;
        return json_object_set_nocheck(obj, s->key, s->cur) == 0;
    }
    return s->own != NULL && json_object_set_nocheck(obj, s->key, s->cur) == 0;
}

static void tmpl_free(struct report_tmpl *t)
{
    if (t == NULL)
        return;
    json_decref(t->top);
    for (size_t i = 0; i < H__COUNT; i++)
        json_decref(t->h[i].own);
    for (size_t i = 0; i < t->nb; i++)
        json_decref(t->b[i].own);
    for (size_t i = 0; i < t->nt; i++)
        json_decref(t->t[i].own);
    free(t);
}

static struct report_tmpl *tmpl_new(enum sw_event_type type)
{
    static const char *const body_key[SW_EVENT__COUNT] = {
        [SW_EVENT_TRANSFER] = "transfer",
        [SW_EVENT_USER_NOT_FOUND] = "user_not_found",
        [SW_EVENT_SCAN] = "scan",
        [SW_EVENT_STATS] = "stats",
    };
    const struct key_spec *keys = NULL;
    size_t nkeys = 0;
    switch (type) {
    case SW_EVENT_TRANSFER:
        keys = transfer_keys, nkeys = TR__COUNT;
        break;
    case SW_EVENT_USER_NOT_FOUND:
        keys = not_found_keys, nkeys = NF__COUNT;
        break;
    case SW_EVENT_SCAN:
        keys = scan_keys, nkeys = SC__COUNT;
        break;
    case SW_EVENT_STATS:
    case SW_EVENT__COUNT:
        break;
    }
    struct report_tmpl *t = calloc(1, sizeof *t);
    if (t == NULL)
        return NULL;
    bool ok = (t->top = json_object()) != NULL;
    ok = ok && slot_init(&t->h[H_TIMESTAMP], t->top, &head_keys[H_TIMESTAMP]);
    ok = ok && json_object_set_new_nocheck(t->top, "event_type",
                                           json_string_nocheck(sw_event_type_name(type))) == 0;
    for (size_t i = H_TIMESTAMP + 1; ok && i < H__COUNT; i++)
        ok = slot_init(&t->h[i], t->top, &head_keys[i]);
    if (ok && type == SW_EVENT_STATS) {
        ok = json_object_set_nocheck(t->top, body_key[type], json_null()) == 0;
    } else if (ok) {
        ok = (t->body = json_object()) != NULL &&
             json_object_set_new_nocheck(t->top, body_key[type], t->body) == 0;
        for (size_t i = 0; ok && i < nkeys; i++) {
            ok = slot_init(&t->b[i], t->body, &keys[i]);
            t->nb = i + 1; /* its value, if any, is freed with the template */
        }
        for (size_t i = 0; ok && i < T__COUNT; i++) {
            ok = slot_init(&t->t[i], t->top, &tail_keys[i]);
            t->nt = i + 1;
        }
    }
    if (!ok) {
        tmpl_free(t);
        return NULL;
    }
    return t;
}

static json_t *jcount(uint64_t v)
{
    return json_integer(v > (uint64_t)INT64_MAX ? INT64_MAX : (json_int_t)v);
}

/* Lists are cut at the fitting level's cap (*cut set when they were). */
static json_t *jarray(struct report *r, const char *const *v, size_t n, size_t max, bool *cut)
{
    json_t *a = json_array();
    if (a == NULL)
        return NULL;
    n = SW_MIN(n, max);
    if (n > fit_list_cap(r->fit)) {
        n = fit_list_cap(r->fit);
        r->cut = true;
        if (cut != NULL)
            *cut = true;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *s = jstr(r, v[i]);
        if (s == NULL || json_array_append_new(a, s) != 0)
            r->json_errors++;
    }
    return a;
}

static void fill_transfer(struct report *r, struct report_tmpl *t,
                          const struct sw_event_transfer *x)
{
    struct slot *b = t->b;
    slot_name(r, &b[TR_OUTCOME], sw_outcome_name(x->outcome));
    slot_str(r, &b[TR_REFER_TO], x->refer_to);
    slot_str(r, &b[TR_REFERRED_BY], x->referred_by);
    slot_bool(r, &b[TR_REPLACES], x->replaces);
    slot_int(r, &b[TR_REFER_CSEQ], x->refer_cseq);
    slot_status(r, &b[TR_REFER_STATUS], x->refer_status);
    slot_str(r, &b[TR_REFER_REASON], x->refer_reason);
    slot_int(r, &b[TR_AUTH_CHALLENGES], x->auth_challenges);
    slot_int(r, &b[TR_NOTIFY_COUNT], x->notify_count);
    slot_status(r, &b[TR_FINAL_STATUS], x->final_status);
    slot_str(r, &b[TR_FINAL_REASON], x->final_reason);
    slot_time(r, &b[TR_REFER_TIME], x->refer_time);
    slot_time(r, &b[TR_ACCEPTED_TIME], x->accepted_time);
    slot_dur(r, &b[TR_WAIT], x->wait, 1e6);
    slot_str(r, &b[TR_SUBSCRIPTION_STATE], x->subscription_state);
    slot_str(r, &b[TR_FROM], x->parties.from);
    slot_str(r, &b[TR_TO], x->parties.to);
    slot_str(r, &b[TR_TRANSFEROR_UA], x->parties.transferor_ua);
    slot_str(r, &b[TR_TRANSFEREE_UA], x->parties.transferee_ua);
    slot_int(r, &b[TR_NOTIFY_ANSWERED], x->notify.answered_ok);
    slot_int(r, &b[TR_NOTIFY_REFUSED], x->notify.refused);
    slot_status(r, &b[TR_NOTIFY_REFUSED_STATUS], x->notify.last_refusal_status);
    slot_str(r, &b[TR_NOTIFY_REFUSED_REASON], x->notify.last_refusal_reason);
    slot_int(r, &b[TR_NOTIFY_UNANSWERED], x->notify.unanswered);
    slot_bool(r, &b[TR_TRANSFEROR_UNINFORMED], x->transferor_uninformed);
    slot_bool(r, &b[TR_TRUNCATED], x->truncated);
}

static void fill_not_found(struct report *r, struct report_tmpl *t,
                           const struct sw_event_not_found *x)
{
    struct slot *b = t->b;
    slot_str(r, &b[NF_METHOD], x->method);
    slot_str(r, &b[NF_REQUEST_URI], x->request_uri);
    slot_str(r, &b[NF_USER], x->user);
    slot_str(r, &b[NF_DOMAIN], x->domain);
    slot_str(r, &b[NF_FROM], x->from);
    slot_str(r, &b[NF_TO], x->to);
    slot_str(r, &b[NF_USER_AGENT], x->user_agent);
    slot_str(r, &b[NF_SERVER], x->server);
    slot_status(r, &b[NF_STATUS], x->status);
    slot_str(r, &b[NF_REASON], x->reason);
    slot_str(r, &b[NF_WARNING], x->warning);
    slot_dur(r, &b[NF_RTT], x->rtt, 1e6);
}

/* Scan events are rare: their lists are built afresh each time. */
static void fill_scan(struct report *r, struct report_tmpl *t, const struct sw_event_scan *x)
{
    struct slot *b = t->b;
    bool users_cut = x->n_users > SW_SCAN_MAX_SAMPLE;
    slot_str(r, &b[SC_SRC_IP], x->src_ip);
    slot_count(r, &b[SC_COUNT], x->count);
    slot_count(r, &b[SC_DISTINCT_USERS], x->distinct_users);
    put(r, t->body, "users", jarray(r, x->users, x->n_users, SW_SCAN_MAX_SAMPLE, &users_cut));
    slot_bool(r, &b[SC_USERS_TRUNCATED], users_cut);
    put(r, t->body, "methods", jarray(r, x->methods, x->n_methods, SW_SCAN_MAX_LIST, NULL));
    put(r, t->body, "user_agents",
        jarray(r, x->user_agents, x->n_user_agents, SW_SCAN_MAX_LIST, NULL));
    slot_time(r, &b[SC_FIRST_TIME], x->first_time);
    slot_time(r, &b[SC_LAST_TIME], x->last_time);
    slot_dur(r, &b[SC_WINDOW], x->window, 1e6);
}

/* "192.0.2.1:5060", "[2001:db8::1]:5060". */
static json_t *jendpoint(const struct sw_addr *a, uint16_t port)
{
    char ip[SW_ADDRSTRLEN], buf[SW_ADDRSTRLEN + 10];
    sw_addr_str(a, ip);
    int n = snprintf(buf, sizeof buf, a->family == 6 ? "[%s]:%u" : "%s:%u", ip, (unsigned)port);
    return json_stringn_nocheck(buf, n < 0 ? 0 : SW_MIN((size_t)n, sizeof buf - 1));
}

static const char *const copy_names[] = {"original", "retransmission", "other_leg"};

/* The start line as one string: "INVITE sip:..." or "404 Not Found". */
static json_t *jstart_line(struct report *r, const struct sw_ladder_msg *m)
{
    char buf[2 * 512 + 16];
    int n;
    if (m->is_request)
        n = snprintf(buf, sizeof buf, "%s %s", m->method != NULL ? m->method : "",
                     m->request_uri != NULL ? m->request_uri : "");
    else
        n = snprintf(buf, sizeof buf, "%d %s", m->status, m->reason != NULL ? m->reason : "");
    (void)n;
    return jstr(r, buf);
}

static json_t *jladder(struct report *r, const struct sw_ladder *l, bool *cut)
{
    json_t *a = json_array();
    if (a == NULL)
        return NULL;
    size_t n = SW_MIN(l->n, (size_t)SW_MAX_LADDER);
    if (n > fit_list_cap(r->fit)) {
        n = fit_list_cap(r->fit);
        r->cut = true;
        *cut = true;
    }
    for (size_t i = 0; i < n; i++) {
        const struct sw_ladder_msg *m = &l->msgs[i];
        json_t *e = json_object();
        char ts[32], cseq[16 + 64];
        if (e == NULL) {
            r->json_errors++;
            continue;
        }
        put(r, e, "ts", m->ts == SW_TIME_NONE ? json_null()
                                               : json_stringn_nocheck(ts, format_time(r, m->ts, ts)));
        put(r, e, "src", jendpoint(&m->tuple.src, m->tuple.sport));
        put(r, e, "dst", jendpoint(&m->tuple.dst, m->tuple.dport));
        put(r, e, "transport", json_string_nocheck(
                                   sw_transport_name((enum sw_transport)m->tuple.transport)));
        put(r, e, "line", jstart_line(r, m));
        snprintf(cseq, sizeof cseq, "%u %s", (unsigned)m->cseq,
                 m->cseq_method != NULL ? m->cseq_method : "");
        put(r, e, "cseq", jstr(r, cseq));
        put(r, e, "copy", json_string_nocheck(
                              copy_names[(unsigned)m->copy < 3 ? (unsigned)m->copy : 0]));
        if (json_array_append_new(a, e) != 0)
            r->json_errors++;
    }
    return a;
}

static void fill_tail(struct report *r, struct report_tmpl *t, const struct sw_event *ev)
{
    bool cut = ev->ladder.truncated;
    put(r, t->top, "messages", jladder(r, &ev->ladder, &cut));
    slot_bool(r, &t->t[T_MESSAGES_TRUNCATED], cut);
    slot_str(r, &t->t[T_EVIDENCE], ev->evidence.path);
    if (ev->evidence.path == NULL)
        slot_null(r, &t->t[T_EVIDENCE_COMPLETE]);
    else
        slot_bool(r, &t->t[T_EVIDENCE_COMPLETE], ev->evidence.complete);
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
        double pct = recv + drop > 0 ? 100.0 * (double)drop / (double)(recv) : 0.0;
        if (recv == 0)
            pct = drop > 0 ? 100.0 : 0.0;
        put(r, o, "capture_loss_pct", json_real(pct > 100.0 ? 100.0 : pct));
    } else {
        put(r, o, "capture_loss_pct", json_null());
    }
}

/* The stats object is built afresh: the run, then one object per stage
 * holding its counters (in the order given), then the summaries. */
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

/* The community ID of the event's flow, cached for the last tuple. */
static const char *community_id(struct report *r, const struct sw_tuple *tp)
{
    if (r->cid_tuple.transport != 0 && memcmp(&r->cid_tuple, tp, sizeof *tp) == 0)
        return r->cid_text[0] != '\0' ? r->cid_text : NULL;
    uint8_t proto = sw_transport_ip_proto((enum sw_transport)tp->transport);
    if (proto == 0 || !communityid_v1(&tp->src, &tp->dst, tp->sport, tp->dport, proto, true,
                                      r->cfg.community_id_seed, r->cid_text))
        r->cid_text[0] = '\0';
    r->cid_tuple = *tp;
    if (r->cid_tuple.transport == 0)
        r->cid_tuple.transport = 0xff; /* an unknown transport is cached too */
    return r->cid_text[0] != '\0' ? r->cid_text : NULL;
}

/* The event's template filled in at fitting level r->fit; NULL if it cannot
 * be built (OOM). */
static struct report_tmpl *fill(struct report *r, const struct sw_event *ev)
{
    struct report_tmpl *t = r->tmpl[ev->type];
    if (t == NULL && (t = r->tmpl[ev->type] = tmpl_new(ev->type)) == NULL)
        return NULL;
    struct slot *h = t->h;
    bool tuple = ev->has_tuple && ev->type != SW_EVENT_STATS;
    const struct sw_tuple *tp = &ev->tuple;
    const struct sw_event_origin *o = &ev->origin;
    slot_time(r, &h[H_TIMESTAMP], ev->ts);
    slot_str(r, &h[H_HOST], r->host);
    slot_str(r, &h[H_IN_IFACE], o->in_iface);
    slot_str(r, &h[H_PCAP_FILENAME], o->pcap_filename);
    if (o->pcap_cnt > 0)
        slot_count(r, &h[H_PCAP_CNT], o->pcap_cnt);
    else
        slot_null(r, &h[H_PCAP_CNT]);
    if (ev->type == SW_EVENT_STATS)
        slot_null(r, &h[H_CALL_ID]);
    else
        slot_str(r, &h[H_CALL_ID], ev->call_id);
    if (tuple) {
        enum sw_transport tr = (enum sw_transport)tp->transport;
        uint8_t ipp = sw_transport_ip_proto(tr);
        slot_addr(r, &h[H_SRC_IP], &tp->src, &t->src);
        slot_int(r, &h[H_SRC_PORT], tp->sport);
        slot_addr(r, &h[H_DEST_IP], &tp->dst, &t->dst);
        slot_int(r, &h[H_DEST_PORT], tp->dport);
        if (ipp == 0)
            slot_null(r, &h[H_PROTO]);
        else
            slot_name(r, &h[H_PROTO], ipp == 17 ? "UDP" : ipp == 6 ? "TCP" : "SCTP");
        slot_name(r, &h[H_SIP_TRANSPORT], sw_transport_name(tr));
        slot_name(r, &h[H_APP_PROTO], "sip");
        const char *cid = community_id(r, tp);
        if (cid == NULL)
            slot_null(r, &h[H_COMMUNITY_ID]);
        else
            slot_name(r, &h[H_COMMUNITY_ID], cid);
    } else {
        for (size_t i = H_SRC_IP; i <= H_COMMUNITY_ID; i++)
            slot_null(r, &h[i]);
        if (ev->type != SW_EVENT_STATS)
            slot_name(r, &h[H_APP_PROTO], "sip");
    }
    if (o->hep) {
        slot_count(r, &h[H_HEP_CAPTURE_ID], o->hep_capture_id);
        slot_addr(r, &h[H_HEP_AGENT], &o->hep_agent, &t->agent);
    } else {
        slot_null(r, &h[H_HEP_CAPTURE_ID]);
        slot_null(r, &h[H_HEP_AGENT]);
    }
    switch (ev->type) {
    case SW_EVENT_TRANSFER:
        fill_transfer(r, t, &ev->u.transfer);
        break;
    case SW_EVENT_USER_NOT_FOUND:
        fill_not_found(r, t, &ev->u.not_found);
        break;
    case SW_EVENT_SCAN:
        fill_scan(r, t, &ev->u.scan);
        break;
    case SW_EVENT_STATS:
        put(r, t->top, "stats", body_stats(r, &ev->u.stats));
        break;
    case SW_EVENT__COUNT:
        break;
    }
    if (ev->type != SW_EVENT_STATS)
        fill_tail(r, t, ev);
    return t;
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
    /* Fill and dump; when the line is too long, again at the next fitting
     * level, which cuts wire strings and lists harder. The last level (8-byte
     * strings, empty lists) always fits: what is left is our own keys. */
    struct report_tmpl *t = NULL;
    size_t n = 0;
    for (r->fit = 0; r->fit < REPORT_FIT_LEVELS; r->fit++) {
        r->cut = false;
        t = fill(r, ev);
        n = t != NULL ? dump_line(r, t->top) : 0;
        if (n <= REPORT_MAX_LINE || (r->fit > 0 && !r->cut))
            break; /* fits, or nothing more to cut */
    }
    if (r->fit > 0 && n > 0)
        r->shortened++;
    r->fit = 0;
    if (t != NULL && ev->type == SW_EVENT_STATS) /* not kept until the next one */
        (void)json_object_set_nocheck(t->top, "stats", json_null());
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
    sw_counters_add(out, "events_shortened", r->shortened);
}
