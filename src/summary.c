/*
 * summary.c - the end-of-run summary: tallies of the events a run emitted,
 * printed as a few lines of plain text for a person (summary.h).
 *
 * Everything is counted from the events themselves, so the numbers printed
 * are those a reader of the NDJSON would count; the input and "what went
 * wrong" lines come from the final stats event's counters, looked up by name
 * (a counter that is missing, renamed or moved to another group is skipped,
 * not an error). Memory is bounded: a fixed number of listed rows and of
 * distinct keys per tally, the rest counted.
 */
#include "sipwatch/summary.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <uthash.h>

#include "sipwatch/report.h"

#define ROW_TEXT 160

struct tally {
    char *key;
    uint64_t n;
    UT_hash_handle hh;
};

struct xfer_row {
    sw_time ts;
    enum sw_transfer_outcome outcome;
    bool uninformed;
    char src[64], dst[64];
    char refer_to[ROW_TEXT];
};

struct scan_row {
    sw_time first, last;
    uint64_t count, distinct;
    char src[64];
    char methods[ROW_TEXT];
};

struct summary {
    size_t max_rows;
    uint64_t by_type[SW_EVENT__COUNT];
    uint64_t outcome[SW_OUTCOME__COUNT];
    uint64_t flagged;
    struct xfer_row *xrows;
    size_t n_xrows;
    struct scan_row *srows;
    size_t n_srows;
    uint64_t nf_404, nf_604, nf_other_status;
    struct tally *users, *sources;
    size_t n_users, n_sources;
    uint64_t users_other, sources_other; /* hits of keys past SUMMARY_MAX_KEYS */
    struct sw_counters final;
    bool have_final;
    size_t n_files;
    char iface[64];
    sw_time first, last;
};

struct summary *summary_new(size_t max_rows)
{
    struct summary *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    s->max_rows = max_rows != 0 ? max_rows : SUMMARY_DEFAULT_ROWS;
    s->xrows = calloc(s->max_rows, sizeof *s->xrows);
    s->srows = calloc(s->max_rows, sizeof *s->srows);
    if (s->xrows == NULL || s->srows == NULL) {
        summary_free(s);
        return NULL;
    }
    s->first = s->last = SW_TIME_NONE;
    return s;
}

static void tally_free(struct tally **head)
{
    struct tally *t, *tmp;
    HASH_ITER(hh, *head, t, tmp)
    {
        HASH_DEL(*head, t);
        free(t->key);
        free(t);
    }
}

void summary_free(struct summary *s)
{
    if (s == NULL)
        return;
    tally_free(&s->users);
    tally_free(&s->sources);
    free(s->xrows);
    free(s->srows);
    free(s);
}

void summary_input(struct summary *s, size_t n_files, const char *iface, sw_time first,
                   sw_time last)
{
    s->n_files = n_files;
    summary_safe_text(iface, s->iface, sizeof s->iface);
    if (iface == NULL)
        s->iface[0] = '\0';
    s->first = first;
    s->last = last;
}

bool summary_transfer_flagged(const struct sw_event_transfer *x)
{
    if (x->transferor_uninformed)
        return true;
    return x->outcome != SW_OUTCOME_COMPLETED && x->outcome != SW_OUTCOME_NOTIFY_NOT_REQUESTED;
}

/* Length of the valid UTF-8 sequence at s (n > 0 bytes left), 0 if invalid. */
static size_t utf8_len(const uint8_t *s, size_t n)
{
    char tmp[8];
    unsigned bad = 0;
    size_t want = s[0] < 0x80 ? 1 : s[0] >= 0xF0 ? 4 : s[0] >= 0xE0 ? 3 : 2;
    if (want > n)
        return 0;
    size_t k = report_utf8_repair((const char *)s, want, tmp, sizeof tmp, &bad);
    return bad == 0 && k == want ? want : 0;
}

char *summary_safe_text(const char *in, char *out, size_t cap)
{
    if (cap == 0)
        return out;
    if (in == NULL) {
        snprintf(out, cap, "-");
        return out;
    }
    const uint8_t *s = (const uint8_t *)in;
    size_t n = strlen(in), i = 0, o = 0;
    while (i < n) {
        size_t len = utf8_len(s + i, n - i);
        const char *put = (const char *)s + i;
        size_t plen = len;
        if (len == 0) {
            put = "\xEF\xBF\xBD";
            plen = 3;
            len = 1;
        } else if (len == 1 && (s[i] < 0x20 || s[i] == 0x7F)) {
            put = "?";
        } else if (len == 2 && s[i] == 0xC2 && s[i + 1] < 0xA0) {
            put = "?"; /* C1 controls: U+0080..U+009F (CSI is one of them) */
            plen = 1;
        }
        if (o + plen + 1 > cap) {
            /* cut: end with "..." where it fits */
            size_t keep = cap > 4 ? SW_MIN(o, cap - 4) : 0;
            while (keep > 0 && ((uint8_t)out[keep] & 0xC0) == 0x80)
                keep--;
            o = keep;
            if (cap > 4) {
                memcpy(out + o, "...", 3);
                o += 3;
            }
            break;
        }
        memcpy(out + o, put, plen);
        o += plen;
        i += len;
    }
    out[o] = '\0';
    return out;
}

static void tally_add(struct tally **head, size_t *n, uint64_t *other, const char *key)
{
    char buf[ROW_TEXT];
    summary_safe_text(key, buf, sizeof buf);
    struct tally *t;
    HASH_FIND_STR(*head, buf, t);
    if (t == NULL) {
        if (*n >= SUMMARY_MAX_KEYS || (t = calloc(1, sizeof *t)) == NULL) {
            (*other)++;
            return;
        }
        if ((t->key = strdup(buf)) == NULL) {
            free(t);
            (*other)++;
            return;
        }
        HASH_ADD_KEYPTR(hh, *head, t->key, strlen(t->key), t);
        (*n)++;
    }
    t->n++;
}

static void endpoint(const struct sw_addr *a, uint16_t port, char out[64])
{
    char ip[SW_ADDRSTRLEN];
    sw_addr_str(a, ip);
    if (a->family == 6)
        snprintf(out, 64, "[%s]:%u", ip, port);
    else
        snprintf(out, 64, "%s:%u", ip, port);
}

static void add_transfer(struct summary *s, const struct sw_event *ev)
{
    const struct sw_event_transfer *x = &ev->u.transfer;
    if ((unsigned)x->outcome < SW_OUTCOME__COUNT)
        s->outcome[x->outcome]++;
    if (!summary_transfer_flagged(x))
        return;
    s->flagged++;
    if (s->n_xrows >= s->max_rows)
        return;
    struct xfer_row *r = &s->xrows[s->n_xrows++];
    r->ts = ev->ts;
    r->outcome = x->outcome;
    r->uninformed = x->transferor_uninformed;
    if (ev->has_tuple) {
        endpoint(&ev->tuple.src, ev->tuple.sport, r->src);
        endpoint(&ev->tuple.dst, ev->tuple.dport, r->dst);
    } else {
        snprintf(r->src, sizeof r->src, "?");
        snprintf(r->dst, sizeof r->dst, "?");
    }
    summary_safe_text(x->refer_to, r->refer_to, sizeof r->refer_to);
}

static void add_not_found(struct summary *s, const struct sw_event *ev)
{
    const struct sw_event_not_found *x = &ev->u.not_found;
    if (x->status == 404)
        s->nf_404++;
    else if (x->status == 604)
        s->nf_604++;
    else
        s->nf_other_status++;
    tally_add(&s->users, &s->n_users, &s->users_other, x->user);
    char src[SW_ADDRSTRLEN];
    tally_add(&s->sources, &s->n_sources, &s->sources_other,
              ev->has_tuple ? sw_addr_str(&ev->tuple.src, src) : NULL);
}

static void add_scan(struct summary *s, const struct sw_event *ev)
{
    const struct sw_event_scan *x = &ev->u.scan;
    if (s->n_srows >= s->max_rows)
        return;
    struct scan_row *r = &s->srows[s->n_srows++];
    summary_safe_text(x->src_ip, r->src, sizeof r->src);
    r->count = x->count;
    r->distinct = x->distinct_users;
    r->first = x->first_time;
    r->last = x->last_time;
    size_t o = 0;
    r->methods[0] = '\0';
    for (size_t i = 0; i < SW_MIN(x->n_methods, (size_t)SW_SCAN_MAX_LIST); i++) {
        char m[32];
        summary_safe_text(x->methods[i], m, sizeof m);
        int k = snprintf(r->methods + o, sizeof r->methods - o, "%s%s", i ? "," : "", m);
        if (k < 0 || (size_t)k >= sizeof r->methods - o)
            break;
        o += (size_t)k;
    }
}

void summary_emit(void *summary, const struct sw_event *ev)
{
    struct summary *s = summary;
    if ((unsigned)ev->type >= SW_EVENT__COUNT)
        return;
    s->by_type[ev->type]++;
    switch (ev->type) {
    case SW_EVENT_TRANSFER:
        add_transfer(s, ev);
        break;
    case SW_EVENT_USER_NOT_FOUND:
        add_not_found(s, ev);
        break;
    case SW_EVENT_SCAN:
        add_scan(s, ev);
        break;
    case SW_EVENT_STATS:
        if (ev->u.stats.final && ev->u.stats.counters != NULL) {
            s->final = *ev->u.stats.counters; /* names and groups are static strings */
            s->final.n = SW_MIN(s->final.n, (size_t)SW_COUNTERS_MAX);
            s->have_final = true;
        }
        break;
    case SW_EVENT__COUNT:
        break;
    }
}

static bool counter(const struct summary *s, const char *name, uint64_t *v);

uint64_t summary_count(const struct summary *s, enum sw_event_type t)
{
    return (unsigned)t < SW_EVENT__COUNT ? s->by_type[t] : 0;
}

uint64_t summary_outcome(const struct summary *s, enum sw_transfer_outcome o)
{
    return (unsigned)o < SW_OUTCOME__COUNT ? s->outcome[o] : 0;
}

uint64_t summary_not_found_status(const struct summary *s, int status)
{
    return status == 404 ? s->nf_404 : status == 604 ? s->nf_604 : s->nf_other_status;
}

bool summary_counter(const struct summary *s, const char *name, uint64_t *v)
{
    return counter(s, name, v);
}

/* A counter of the final stats event by name; false when absent. */
static bool counter(const struct summary *s, const char *name, uint64_t *v)
{
    if (!s->have_final)
        return false;
    for (size_t i = 0; i < s->final.n; i++) {
        if (s->final.v[i].name != NULL && strcmp(s->final.v[i].name, name) == 0) {
            *v = s->final.v[i].value;
            return true;
        }
    }
    return false;
}

static uint64_t counter_or0(const struct summary *s, const char *name)
{
    uint64_t v = 0;
    (void)counter(s, name, &v);
    return v;
}

/* "2026-11-28 18:16:41.123" */
static char *when(sw_time t, char buf[32])
{
    if (t == SW_TIME_NONE) {
        snprintf(buf, 32, "-");
        return buf;
    }
    report_format_time(t, buf);
    char *dot = strchr(buf, '.');
    if (dot != NULL && strlen(dot) >= 4)
        dot[4] = '\0';
    char *tee = strchr(buf, 'T');
    if (tee != NULL)
        *tee = ' ';
    return buf;
}

static char *duration(sw_time d, char buf[32])
{
    if (d < 0)
        d = 0;
    int64_t sec = d / SW_USEC_PER_SEC;
    if (sec < 60)
        snprintf(buf, 32, "%.3gs", (double)d / 1e6);
    else if (sec < 3600)
        snprintf(buf, 32, "%dm%02ds", (int)(sec / 60), (int)(sec % 60));
    else
        snprintf(buf, 32, "%" PRId64 "h%02dm%02ds", sec / 3600, (int)(sec / 60 % 60),
                 (int)(sec % 60));
    return buf;
}

static int cmp_tally(const void *a, const void *b)
{
    const struct tally *x = *(const struct tally *const *)a, *y = *(const struct tally *const *)b;
    if (x->n != y->n)
        return x->n > y->n ? -1 : 1;
    return strcmp(x->key, y->key);
}

size_t summary_top(const struct summary *s, bool sources, struct sw_top_entry *out, size_t max,
                   uint64_t *others)
{
    struct tally *head = sources ? s->sources : s->users;
    size_t n = sources ? s->n_sources : s->n_users;
    uint64_t rest = sources ? s->sources_other : s->users_other;
    struct tally **v = n > 0 ? malloc(n * sizeof *v) : NULL;
    size_t k = 0, got = 0;
    struct tally *t, *tmp;
    if (v != NULL) {
        HASH_ITER(hh, head, t, tmp)
        {
            v[k++] = t;
        }
        qsort(v, k, sizeof *v, cmp_tally);
    } else {
        HASH_ITER(hh, head, t, tmp)
        {
            rest += t->n; /* OOM: everything counts as others */
        }
    }
    for (size_t i = 0; i < k; i++) {
        if (got < max) {
            out[got].key = v[i]->key;
            out[got++].count = v[i]->n;
        } else {
            rest += v[i]->n;
        }
    }
    free(v);
    if (others != NULL)
        *others = rest;
    return got;
}

static void print_top(FILE *f, const char *label, const struct summary *s, bool sources)
{
    struct sw_top_entry top[SUMMARY_TOP];
    uint64_t rest = 0;
    size_t k = summary_top(s, sources, top, SUMMARY_TOP, &rest);
    size_t distinct = sources ? s->n_sources : s->n_users;
    bool more = (sources ? s->sources_other : s->users_other) > 0;
    fprintf(f, "    %-10s %s%zu distinct:", label, more ? "over " : "", distinct);
    for (size_t i = 0; i < k; i++)
        fprintf(f, "%s %s %" PRIu64, i ? "," : "", top[i].key, top[i].count);
    if (rest > 0)
        fprintf(f, "%s others %" PRIu64, k ? "," : "", rest);
    fprintf(f, "\n");
}

/* Counters worth a sentence when not zero, in pipeline order. */
static const struct {
    const char *name;
    const char *text;
} problems[] = {
    {"truncated_files", "capture files were cut mid-record (the rest of each was skipped)"},
    {"bad_timestamps", "packets had impossible timestamps (clamped)"},
    {"pcap_dropped", "packets were dropped by the kernel (capture buffer full)"},
    {"pcap_if_dropped", "packets were dropped by the interface"},
    {"linktype_unsupported", "frames had an unsupported link type"},
    {"decode_truncated", "packets were cut short (snapshot length or damaged headers)"},
    {"decode_invalid", "packets had invalid headers"},
    {"hep_errors", "HEP records could not be decoded"},
    {"ip_frag_incomplete", "IP datagrams never got all their fragments"},
    {"ip_frag_dropped_cap", "IP fragments were dropped: reassembly memory full"},
    {"ip_frag_evicted", "IP datagrams being reassembled were evicted"},
    {"tcp_gaps", "gaps in TCP streams (bytes never captured)"},
    {"tcp_ooo_dropped", "out-of-order TCP segments were dropped (buffer full)"},
    {"tcp_evicted", "TCP streams were evicted (too many at once)"},
    {"sip_resyncs", "times a TCP SIP stream lost its framing and searched for the next message"},
    {"sip_too_big", "SIP messages were larger than --max-msg-size and skipped"},
    {"sip_bad_length", "SIP messages had a bad Content-Length"},
    {"sip_parse_errors", "SIP messages could not be parsed"},
    {"sip_truncated_fields", "SIP header values were cut to fit"},
    {"sip_stream_bytes_dropped", "bytes of partial TCP messages were dropped (memory cap)"},
    {"notify_orphans", "NOTIFYs matched no transfer seen"},
    {"transfers_evicted", "transfers were evicted before an outcome (--max-transfers)"},
    {"transactions_evicted", "pending transactions were evicted (table full)"},
    {"scan_sources_evicted", "scan sources were evicted (memory cap)"},
    {"summary_keys_dropped", "not-found users/sources were left out of the stats summary"},
    {"tracker_oom", "messages were dropped by the tracker: out of memory"},
    {"stream_state_oom", "streams were dropped: out of memory"},
    {"clock_backwards", "packets went back in time (kept at the latest time)"},
    {"utf8_repaired", "invalid UTF-8 sequences were replaced in the output"},
    {"write_errors", "event writes failed"},
    {"json_errors", "events could not be formatted"},
    {"internal_assert", "internal checks failed (please report)"},
};

int summary_print(const struct summary *s, FILE *f)
{
    char b1[32], b2[32], b3[32];
    fprintf(f, "sipwatch summary\n");

    /* input */
    uint64_t v;
    fprintf(f, "  input       ");
    if (s->n_files > 0)
        fprintf(f, "%zu file%s", s->n_files, s->n_files == 1 ? "" : "s");
    else if (s->iface[0] != '\0')
        fprintf(f, "interface %s", s->iface);
    else
        fprintf(f, "-");
    if (counter(s, "packets", &v) || counter(s, "frames", &v))
        fprintf(f, ", %" PRIu64 " packets", v);
    if (counter(s, "frame_bytes", &v))
        fprintf(f, " (%" PRIu64 " bytes)", v);
    if (counter(s, "sip_messages", &v))
        fprintf(f, ", %" PRIu64 " SIP messages", v);
    fprintf(f, "\n");
    if (s->first != SW_TIME_NONE)
        fprintf(f, "  time span   %s .. %s UTC (%s)\n", when(s->first, b1), when(s->last, b2),
                duration(s->last - s->first, b3));
    uint64_t drops = counter_or0(s, "pcap_dropped") + counter_or0(s, "pcap_if_dropped");
    fprintf(f, "  drops       %s", drops ? "" : "none");
    if (drops)
        fprintf(f, "%" PRIu64 " packets dropped before sipwatch saw them", drops);
    fprintf(f, "\n");

    /* transfers */
    uint64_t nx = s->by_type[SW_EVENT_TRANSFER];
    fprintf(f, "  transfers   %" PRIu64, nx);
    bool first = true;
    for (unsigned i = 0; i < SW_OUTCOME__COUNT; i++) {
        if (s->outcome[i] == 0)
            continue;
        fprintf(f, "%s %" PRIu64 " %s", first ? ":" : ",", s->outcome[i],
                sw_outcome_name((enum sw_transfer_outcome)i));
        first = false;
    }
    fprintf(f, "\n");
    if (s->flagged > 0) {
        fprintf(f, "    flagged (%" PRIu64 "):\n", s->flagged);
        for (size_t i = 0; i < s->n_xrows; i++) {
            const struct xfer_row *r = &s->xrows[i];
            fprintf(f, "      %s  %s -> %s  %s%s  Refer-To: %s\n", when(r->ts, b1), r->src, r->dst,
                    sw_outcome_name(r->outcome), r->uninformed ? " (transferor never told)" : "",
                    r->refer_to);
        }
        if (s->flagged > s->n_xrows)
            fprintf(f, "      ... and %" PRIu64 " more (see the events)\n",
                    s->flagged - s->n_xrows);
    }

    /* not found */
    uint64_t nn = s->by_type[SW_EVENT_USER_NOT_FOUND];
    fprintf(f, "  not found   %" PRIu64, nn);
    if (nn > 0) {
        fprintf(f, " (404: %" PRIu64 ", 604: %" PRIu64, s->nf_404, s->nf_604);
        if (s->nf_other_status)
            fprintf(f, ", other: %" PRIu64, s->nf_other_status);
        fprintf(f, ")\n");
        print_top(f, "by user", s, false);
        print_top(f, "by source", s, true);
    } else {
        fprintf(f, "\n");
    }

    /* scans */
    uint64_t ns = s->by_type[SW_EVENT_SCAN];
    fprintf(f, "  scans       %" PRIu64 "\n", ns);
    for (size_t i = 0; i < s->n_srows; i++) {
        const struct scan_row *r = &s->srows[i];
        fprintf(f,
                "      %s  from %s: %" PRIu64 " not-found answers, %" PRIu64
                " distinct users (%s) over %s\n",
                when(r->first, b1), r->src, r->count, r->distinct, r->methods[0] ? r->methods : "-",
                r->first != SW_TIME_NONE && r->last != SW_TIME_NONE
                    ? duration(r->last - r->first, b2)
                    : "-");
    }
    if (ns > s->n_srows)
        fprintf(f, "      ... and %" PRIu64 " more (see the events)\n", ns - s->n_srows);

    /* what went wrong */
    bool any = false;
    for (size_t i = 0; i < SW_ARRAY_LEN(problems); i++) {
        if (!counter(s, problems[i].name, &v) || v == 0)
            continue;
        if (!any)
            fprintf(f, "  problems\n");
        any = true;
        fprintf(f, "    %" PRIu64 " %s", v, problems[i].text);
        if (strcmp(problems[i].name, "tcp_gaps") == 0 && counter(s, "tcp_gap_bytes", &v))
            fprintf(f, ": %" PRIu64 " bytes", v);
        fprintf(f, "\n");
    }
    if (!any)
        fprintf(f, "  problems    %s\n", s->have_final ? "none" : "unknown (no final stats)");
    fflush(f);
    return ferror(f) ? -1 : 0;
}
