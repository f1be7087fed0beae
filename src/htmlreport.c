/*
 * htmlreport.c - events -> one self-contained HTML page (htmlreport.h).
 *
 * While events arrive, each section of the page (transfer rows, not-found
 * rows, scans, ladders) is written, already escaped, into its own memory
 * stream, up to its cap; tallies come from a summary (summary.h) fed the
 * same events; the event times are kept for the timeline. At the end the
 * page is written in one pass: head, totals, timeline, tables, ladders,
 * script. No wire module knows this file exists: it sees only sw_event.
 *
 * Safety of wire text: every value goes through htmlreport_escape (valid
 * UTF-8, no control characters, & < > " ' as references) whether it lands
 * in HTML text, a quoted attribute or SVG <text>; numbers and names of ours
 * are written as they are. The script is a constant: it sorts and filters
 * rows by reading textContent and data-v attributes and moving nodes, never
 * by writing markup. The Content-Security-Policy allows that script (its
 * SHA-256, HTMLREPORT_SCRIPT_SHA256, checked by the browser test) and
 * inline styles, and nothing else: no other script, no fetch, no image.
 */
#include "sipwatch/htmlreport.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "sipwatch/report.h"
#include "sipwatch/summary.h"

#define CELL_MAX 512  /* bytes of one wire value in a table cell */
#define LABEL_MAX 72  /* bytes of a ladder label */
#define LADDER_COLS 8 /* endpoints drawn; more share the last column */
#define TIMELINE_BINS 200
/* Bytes of one section (a table's rows, the ladders): escaping may make a
 * hostile value six times longer, so rows alone do not bound the page. */
#define SECTION_MAX_BYTES ((long)8 << 20)

struct section {
    FILE *f;
    char *buf;
    size_t len;
    uint64_t rows, dropped;
};

struct htmlreport {
    struct htmlreport_config cfg;
    FILE *out;
    bool own;
    struct summary *sum;
    struct section xfer, nf, scan, ladder;
    uint64_t flagged, ladders;
    sw_time *times[SW_EVENT__COUNT];
    size_t n_times[SW_EVENT__COUNT], cap_times[SW_EVENT__COUNT], total_times;
    uint64_t times_dropped;
    bool oom;
};

static bool section_open(struct section *s)
{
    s->f = open_memstream(&s->buf, &s->len);
    return s->f != NULL;
}

static void section_close(struct section *s)
{
    if (s->f != NULL)
        fclose(s->f);
    free(s->buf);
    s->f = NULL;
    s->buf = NULL;
}

static struct htmlreport *create(const struct htmlreport_config *cfg)
{
    struct htmlreport *h = calloc(1, sizeof *h);
    if (h == NULL)
        return NULL;
    h->cfg = *cfg;
    h->cfg.path = NULL;
    if (h->cfg.max_rows == 0)
        h->cfg.max_rows = HTMLREPORT_DEFAULT_ROWS;
    if (h->cfg.max_ladders == 0)
        h->cfg.max_ladders = HTMLREPORT_DEFAULT_LADDERS;
    h->sum = summary_new(0);
    if (h->sum == NULL || !section_open(&h->xfer) || !section_open(&h->nf) ||
        !section_open(&h->scan) || !section_open(&h->ladder)) {
        htmlreport_free(h);
        return NULL;
    }
    return h;
}

struct htmlreport *htmlreport_new(const struct htmlreport_config *cfg, char errbuf[SW_ERRBUF_SIZE])
{
    FILE *f = fopen(cfg->path, "w");
    if (f == NULL) {
        snprintf(errbuf, SW_ERRBUF_SIZE, "cannot open report %s: %s", cfg->path, strerror(errno));
        return NULL;
    }
    struct htmlreport *h = create(cfg);
    if (h == NULL) {
        fclose(f);
        snprintf(errbuf, SW_ERRBUF_SIZE, "out of memory opening the report");
        return NULL;
    }
    h->out = f;
    h->own = true;
    return h;
}

struct htmlreport *htmlreport_new_stream(FILE *f, const struct htmlreport_config *cfg)
{
    struct htmlreport *h = create(cfg);
    if (h != NULL)
        h->out = f;
    return h;
}

void htmlreport_free(struct htmlreport *h)
{
    if (h == NULL)
        return;
    if (h->own && h->out != NULL)
        fclose(h->out);
    summary_free(h->sum);
    section_close(&h->xfer);
    section_close(&h->nf);
    section_close(&h->scan);
    section_close(&h->ladder);
    for (size_t i = 0; i < SW_EVENT__COUNT; i++)
        free(h->times[i]);
    free(h);
}

void htmlreport_input(struct htmlreport *h, size_t n_files, const char *iface, sw_time first,
                      sw_time last)
{
    summary_input(h->sum, n_files, iface, first, last);
}

void htmlreport_escape(FILE *f, const char *s, size_t max_bytes)
{
    char tmp[CELL_MAX * 2];
    if (s == NULL)
        return;
    if (max_bytes + 1 > sizeof tmp)
        max_bytes = sizeof tmp - 1;
    summary_safe_text(s, tmp, max_bytes + 1);
    const char *p = tmp, *run = tmp;
    for (; *p != '\0'; p++) {
        const char *ref;
        switch (*p) {
        case '&':
            ref = "&amp;";
            break;
        case '<':
            ref = "&lt;";
            break;
        case '>':
            ref = "&gt;";
            break;
        case '"':
            ref = "&quot;";
            break;
        case '\'':
            ref = "&#39;";
            break;
        default:
            continue;
        }
        fwrite(run, 1, (size_t)(p - run), f);
        fputs(ref, f);
        run = p + 1;
    }
    fwrite(run, 1, (size_t)(p - run), f);
}

static void esc(FILE *f, const char *s)
{
    htmlreport_escape(f, s, CELL_MAX);
}

/* "2026-11-28 18:16:41.123" (UTC) */
static const char *when(sw_time t, char buf[32])
{
    if (t == SW_TIME_NONE)
        return "";
    report_format_time(t, buf);
    char *dot = strchr(buf, '.');
    if (dot != NULL && strlen(dot) >= 4)
        dot[4] = '\0';
    char *tee = strchr(buf, 'T');
    if (tee != NULL)
        *tee = ' ';
    return buf;
}

static const char *endpoint(const struct sw_addr *a, uint16_t port, char out[64])
{
    char ip[SW_ADDRSTRLEN];
    sw_addr_str(a, ip);
    snprintf(out, 64, a->family == 6 ? "[%s]:%u" : "%s:%u", ip, port);
    return out;
}

static void keep_time(struct htmlreport *h, enum sw_event_type t, sw_time ts)
{
    if (ts == SW_TIME_NONE)
        return;
    if (h->total_times >= HTMLREPORT_MAX_TIMES) {
        h->times_dropped++;
        return;
    }
    if (h->n_times[t] == h->cap_times[t]) {
        size_t cap = h->cap_times[t] ? h->cap_times[t] * 2 : 256;
        sw_time *v = realloc(h->times[t], cap * sizeof *v);
        if (v == NULL) {
            h->times_dropped++;
            h->oom = true;
            return;
        }
        h->times[t] = v;
        h->cap_times[t] = cap;
    }
    h->times[t][h->n_times[t]++] = ts;
    h->total_times++;
}

/* A time cell: shown as text, sorted by data-v (microseconds). */
static void td_time(FILE *f, sw_time t)
{
    char b[32];
    if (t == SW_TIME_NONE)
        fputs("<td data-v=\"-1\"></td>", f);
    else
        fprintf(f, "<td data-v=\"%" PRId64 "\">%s</td>", t, when(t, b));
}

static void td_text(FILE *f, const char *s)
{
    fputs("<td>", f);
    esc(f, s);
    fputs("</td>", f);
}

static void td_num(FILE *f, uint64_t v)
{
    fprintf(f, "<td data-v=\"%" PRIu64 "\">%" PRIu64 "</td>", v, v);
}

/* Draws ev->ladder as an SVG sequence diagram into the ladder section:
 * endpoints as columns in order of appearance, one <g class="msg"> arrow per
 * message, labelled with its start line and its time from the first. */
static void draw_ladder(struct htmlreport *h, const struct sw_event *ev, uint64_t id,
                        const char *title)
{
    FILE *f = h->ladder.f;
    const struct sw_ladder *l = &ev->ladder;
    struct {
        struct sw_addr a;
        uint16_t port;
    } col[LADDER_COLS];
    size_t ncol = 0, n = l->msgs != NULL ? l->n : 0;
    char b[64];
    /* columns */
    size_t *srcc = NULL, *dstc = NULL;
    if (n > 0) {
        srcc = calloc(n, sizeof *srcc);
        dstc = calloc(n, sizeof *dstc);
        if (srcc == NULL || dstc == NULL) {
            free(srcc);
            free(dstc);
            h->oom = true;
            n = 0;
        }
    }
    for (size_t i = 0; i < n; i++) {
        const struct sw_tuple *t = &l->msgs[i].tuple;
        for (int side = 0; side < 2; side++) {
            const struct sw_addr *a = side ? &t->dst : &t->src;
            uint16_t port = side ? t->dport : t->sport;
            size_t c = 0;
            while (c < ncol && !(col[c].port == port && memcmp(&col[c].a, a, sizeof *a) == 0))
                c++;
            if (c == ncol) {
                if (ncol < LADDER_COLS) {
                    col[ncol].a = *a;
                    col[ncol].port = port;
                    ncol++;
                } else {
                    c = LADDER_COLS - 1;
                }
            }
            if (side)
                dstc[i] = c;
            else
                srcc[i] = c;
        }
    }
    const int colw = 230, left = 90, top = 50, rowh = 34;
    int width = left + (int)(ncol > 0 ? ncol : 1) * colw;
    int height = top + (int)n * rowh + 20;
    fprintf(f, "<section class=\"ladder\" id=\"ladder-%" PRIu64 "\" data-messages=\"%zu\">\n", id,
            n);
    fprintf(f, "<h3>%s ", title);
    esc(f, ev->call_id);
    fprintf(f, " <small>%s UTC</small></h3>\n", when(ev->ts, b));
    if (n == 0) {
        fputs("<p class=\"note\">No messages were kept for this event.</p></section>\n", f);
        free(srcc);
        free(dstc);
        return;
    }
    if (l->truncated)
        fputs("<p class=\"note\">More messages than were kept: the first ones are drawn.</p>\n", f);
    fprintf(f,
            "<svg class=\"seq\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "viewBox=\"0 0 %d %d\" role=\"img\">\n",
            width, height, width, height);
    for (size_t c = 0; c < ncol; c++) {
        int x = left + (int)c * colw + colw / 2;
        fprintf(f, "<text class=\"ep\" x=\"%d\" y=\"20\" text-anchor=\"middle\">%s%s</text>", x,
                endpoint(&col[c].a, col[c].port, b),
                c == LADDER_COLS - 1 && ncol == LADDER_COLS ? " +" : "");
        fprintf(f, "<line class=\"life\" x1=\"%d\" y1=\"28\" x2=\"%d\" y2=\"%d\"/>\n", x, x,
                height - 5);
    }
    sw_time t0 = l->msgs[0].ts;
    for (size_t i = 0; i < n; i++) {
        const struct sw_ladder_msg *m = &l->msgs[i];
        int y = top + (int)i * rowh + 14;
        int x1 = left + (int)srcc[i] * colw + colw / 2, x2 = left + (int)dstc[i] * colw + colw / 2;
        const char *cls = m->copy == SW_MSG_RETRANSMISSION ? "msg rtx"
                          : m->copy == SW_MSG_OTHER_LEG    ? "msg leg"
                                                           : "msg";
        fprintf(f, "<g class=\"%s\">", cls);
        double rel = m->ts != SW_TIME_NONE && t0 != SW_TIME_NONE ? (double)(m->ts - t0) / 1e6 : 0;
        if (rel < 0.001)
            fprintf(f, "<text class=\"t\" x=\"4\" y=\"%d\">+%.0f us</text>", y, rel * 1e6);
        else if (rel < 1.0)
            fprintf(f, "<text class=\"t\" x=\"4\" y=\"%d\">+%.1f ms</text>", y, rel * 1e3);
        else
            fprintf(f, "<text class=\"t\" x=\"4\" y=\"%d\">+%.3f s</text>", y, rel);
        if (x1 == x2)
            fprintf(f, "<path d=\"M%d %d h40 v10 h-40\" marker-end=\"url(#arrow)\"/>", x1, y - 4);
        else
            fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" marker-end=\"url(#arrow)\"/>",
                    x1, y, x2, y);
        fprintf(f, "<text class=\"lbl\" x=\"%d\" y=\"%d\" text-anchor=\"middle\">",
                (x1 + x2) / 2 + (x1 == x2 ? 60 : 0), y - 5);
        if (m->is_request) {
            htmlreport_escape(f, m->method, 24);
            fputc(' ', f);
            htmlreport_escape(f, m->request_uri, LABEL_MAX);
        } else {
            fprintf(f, "%d ", m->status);
            htmlreport_escape(f, m->reason, LABEL_MAX);
        }
        if (m->copy == SW_MSG_RETRANSMISSION)
            fputs(" (again)", f);
        fputs("</text><title>", f);
        fprintf(f, "%s ", when(m->ts, b));
        fprintf(f, "CSeq %" PRIu32 " ", m->cseq);
        htmlreport_escape(f, m->cseq_method, 24);
        fprintf(f, " %s", sw_transport_name((enum sw_transport)m->tuple.transport));
        fputs("</title></g>\n", f);
    }
    fputs("</svg></section>\n", f);
    free(srcc);
    free(dstc);
}

/* True when the section has room for one more row (counted when not). */
static bool room(struct section *s, size_t max)
{
    if (s->rows >= max || ftell(s->f) > SECTION_MAX_BYTES) {
        s->dropped++;
        return false;
    }
    s->rows++;
    return true;
}

/* The next flagged event: its ladder if there is room, else only counted. */
static uint64_t flag(struct htmlreport *h, const struct sw_event *ev, const char *title)
{
    h->flagged++;
    if (h->ladders >= h->cfg.max_ladders || ftell(h->ladder.f) > SECTION_MAX_BYTES) {
        h->ladder.dropped++;
        return 0;
    }
    uint64_t id = ++h->ladders;
    draw_ladder(h, ev, id, title);
    return id;
}

static void add_transfer(struct htmlreport *h, const struct sw_event *ev)
{
    const struct sw_event_transfer *x = &ev->u.transfer;
    char a[64], b[64];
    uint64_t id = 0;
    bool flagged = summary_transfer_flagged(x);
    if (flagged) {
        char title[96];
        snprintf(title, sizeof title, "transfer %s", sw_outcome_name(x->outcome));
        id = flag(h, ev, title);
    }
    if (!room(&h->xfer, h->cfg.max_rows))
        return;
    FILE *f = h->xfer.f;
    fprintf(f, "<tr class=\"%s\">", flagged ? "flag" : "ok");
    td_time(f, ev->ts);
    fprintf(f, "<td>%s</td>", sw_outcome_name(x->outcome));
    td_text(f, ev->has_tuple ? endpoint(&ev->tuple.src, ev->tuple.sport, a) : NULL);
    td_text(f, ev->has_tuple ? endpoint(&ev->tuple.dst, ev->tuple.dport, b) : NULL);
    td_text(f, x->refer_to);
    td_text(f, x->parties.transferor_ua);
    td_text(f, x->parties.transferee_ua);
    if (x->wait == SW_TIME_NONE)
        fputs("<td data-v=\"-1\"></td>", f);
    else
        fprintf(f, "<td data-v=\"%.6f\">%.3f</td>", (double)x->wait / 1e6, (double)x->wait / 1e6);
    td_num(f, x->notify_count);
    if (id > 0) {
        fprintf(f, "<td><a href=\"#ladder-%" PRIu64 "\">", id);
        esc(f, ev->call_id);
        fputs("</a></td>", f);
    } else {
        td_text(f, ev->call_id);
    }
    fputs("</tr>\n", f);
}

static void add_not_found(struct htmlreport *h, const struct sw_event *ev)
{
    const struct sw_event_not_found *x = &ev->u.not_found;
    char a[64];
    if (!room(&h->nf, h->cfg.max_rows))
        return;
    FILE *f = h->nf.f;
    fputs("<tr>", f);
    td_time(f, ev->ts);
    td_text(f, x->method);
    td_text(f, x->user);
    td_text(f, x->domain);
    td_text(f, ev->has_tuple ? endpoint(&ev->tuple.src, ev->tuple.sport, a) : NULL);
    td_text(f, x->user_agent);
    td_text(f, x->server);
    fprintf(f, "<td data-v=\"%d\">%d</td>", x->status, x->status);
    td_text(f, x->reason);
    fputs("</tr>\n", f);
}

static void list(FILE *f, const char *const *v, size_t n, size_t max)
{
    n = SW_MIN(n, max);
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            fputs(", ", f);
        esc(f, v[i]);
    }
}

static void add_scan(struct htmlreport *h, const struct sw_event *ev)
{
    const struct sw_event_scan *x = &ev->u.scan;
    uint64_t id = flag(h, ev, "scan from");
    if (!room(&h->scan, h->cfg.max_rows))
        return;
    FILE *f = h->scan.f;
    fputs("<tr>", f);
    td_time(f, x->first_time);
    td_time(f, x->last_time);
    if (id > 0) {
        fprintf(f, "<td><a href=\"#ladder-%" PRIu64 "\">", id);
        esc(f, x->src_ip);
        fputs("</a></td>", f);
    } else {
        td_text(f, x->src_ip);
    }
    td_num(f, x->count);
    td_num(f, x->distinct_users);
    fputs("<td>", f);
    list(f, x->users, x->n_users, SW_SCAN_MAX_SAMPLE);
    fputs("</td><td>", f);
    list(f, x->methods, x->n_methods, SW_SCAN_MAX_LIST);
    fputs("</td><td>", f);
    list(f, x->user_agents, x->n_user_agents, SW_SCAN_MAX_LIST);
    fputs("</td></tr>\n", f);
}

void htmlreport_emit(void *htmlreport, const struct sw_event *ev)
{
    struct htmlreport *h = htmlreport;
    if ((unsigned)ev->type >= SW_EVENT__COUNT)
        return;
    summary_emit(h->sum, ev);
    if (ev->type != SW_EVENT_STATS)
        keep_time(h, ev->type, ev->ts);
    switch (ev->type) {
    case SW_EVENT_TRANSFER:
        add_transfer(h, ev);
        break;
    case SW_EVENT_USER_NOT_FOUND:
        add_not_found(h, ev);
        break;
    case SW_EVENT_SCAN:
        add_scan(h, ev);
        break;
    case SW_EVENT_STATS:
    case SW_EVENT__COUNT:
        break;
    }
}

/*
 * The page.
 */

/* The page's only script: sortable and filterable tables. It reads text
 * (textContent, data-v) and moves or hides rows; it never writes markup.
 * Its SHA-256 is in the CSP below: after editing it, run tools/csp-hash.py
 * --update (the browser test fails on a mismatch: the script is refused and
 * a console error shows). */
static const char script[] =
    "'use strict';\n"
    "document.querySelectorAll('table.sortable').forEach(function (t) {\n"
    "  var body = t.tBodies[0], head = t.tHead.rows[0].cells, dir = [];\n"
    "  var shown = document.getElementById(t.id + '-shown');\n"
    "  function key(td) {\n"
    "    var v = td.getAttribute('data-v');\n"
    "    return v === null ? td.textContent.toLowerCase() : parseFloat(v);\n"
    "  }\n"
    "  Array.prototype.forEach.call(head, function (th, i) {\n"
    "    th.addEventListener('click', function () {\n"
    "      var d = dir[i] = dir[i] === 1 ? -1 : 1;\n"
    "      var rows = Array.prototype.slice.call(body.rows);\n"
    "      rows.sort(function (a, b) {\n"
    "        var x = key(a.cells[i]), y = key(b.cells[i]);\n"
    "        return x < y ? -d : x > y ? d : 0;\n"
    "      });\n"
    "      rows.forEach(function (r) { body.appendChild(r); });\n"
    "      Array.prototype.forEach.call(head, function (h) { h.removeAttribute('aria-sort'); });\n"
    "      th.setAttribute('aria-sort', d === 1 ? 'ascending' : 'descending');\n"
    "    });\n"
    "  });\n"
    "  var inputs = t.tHead.querySelectorAll('input');\n"
    "  function filter() {\n"
    "    var want = Array.prototype.map.call(inputs, function (x) {\n"
    "      return x.value.toLowerCase();\n"
    "    });\n"
    "    var n = 0;\n"
    "    Array.prototype.forEach.call(body.rows, function (r) {\n"
    "      var ok = want.every(function (w, i) {\n"
    "        return w === '' || r.cells[i].textContent.toLowerCase().indexOf(w) >= 0;\n"
    "      });\n"
    "      r.hidden = !ok;\n"
    "      if (ok) n++;\n"
    "    });\n"
    "    if (shown) shown.textContent = String(n);\n"
    "  }\n"
    "  Array.prototype.forEach.call(inputs, function (x) { x.addEventListener('input', filter); "
    "});\n"
    "  filter();\n"
    "});\n";

#define HTMLREPORT_SCRIPT_SHA256 "Ir+RhH9bOOIEZYb0esC0dKvQCr7hehvABHfkriCzepM="

static const char style[] =
    "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;background:#fff}"
    "h1{font-size:1.4em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ccc}"
    "h3{font-size:1em}small,.note{color:#666}"
    "table{border-collapse:collapse;margin:.5em 0}"
    "td,th{border:1px solid #ddd;padding:2px 6px;text-align:left;vertical-align:top;"
    "max-width:28em;overflow-wrap:break-word}"
    "th{background:#f3f3f3;cursor:pointer;user-select:none}"
    "th[aria-sort=ascending]::after{content:' \\25B2'}"
    "th[aria-sort=descending]::after{content:' \\25BC'}"
    "thead input{width:100%;box-sizing:border-box;font:inherit}"
    "tr.flag td:nth-child(2){color:#b00;font-weight:bold}"
    ".totals td:nth-child(2){text-align:right}"
    "pre{background:#f7f7f7;padding:.7em;overflow:auto}"
    "svg{font:12px system-ui,sans-serif}"
    ".lane{fill:#f5f5f5}.bar{fill:#3a6ea5}.lanelbl{fill:#333}"
    ".seq .life{stroke:#bbb;stroke-dasharray:4 3}.seq .ep{font-weight:bold}"
    ".seq .msg line,.seq .msg path{stroke:#234;stroke-width:1.3;fill:none}"
    ".seq .rtx line{stroke-dasharray:5 3;stroke:#a60}.seq .leg line{stroke:#888}"
    ".seq .t{fill:#666}.seq .lbl{fill:#111}";

static void totals(struct htmlreport *h, FILE *f)
{
    const struct summary *s = h->sum;
    uint64_t v;
    fputs("<h2>Totals</h2>\n<table class=\"totals\" id=\"totals\">\n", f);
    static const char *const input_counters[] = {"packets", "frame_bytes", "sip_messages",
                                                 "sip_requests", "sip_responses"};
    for (size_t i = 0; i < SW_ARRAY_LEN(input_counters); i++)
        if (summary_counter(s, input_counters[i], &v))
            fprintf(f, "<tr><th>%s</th><td id=\"n-%s\">%" PRIu64 "</td></tr>\n", input_counters[i],
                    input_counters[i], v);
    for (unsigned t = 0; t < SW_EVENT__COUNT; t++) {
        if (t == SW_EVENT_STATS)
            continue;
        const char *name = sw_event_type_name((enum sw_event_type)t);
        fprintf(f, "<tr><th>%s events</th><td id=\"n-%s\">%" PRIu64 "</td></tr>\n", name, name,
                summary_count(s, (enum sw_event_type)t));
    }
    for (unsigned o = 0; o < SW_OUTCOME__COUNT; o++) {
        const char *name = sw_outcome_name((enum sw_transfer_outcome)o);
        fprintf(f, "<tr><th>transfers %s</th><td id=\"n-outcome-%s\">%" PRIu64 "</td></tr>\n", name,
                name, summary_outcome(s, (enum sw_transfer_outcome)o));
    }
    fprintf(f, "<tr><th>flagged events</th><td id=\"n-flagged\">%" PRIu64 "</td></tr>\n",
            h->flagged);
    fputs("</table>\n", f);
}

static void timeline(struct htmlreport *h, FILE *f)
{
    sw_time lo = INT64_MAX, hi = INT64_MIN;
    for (unsigned t = 0; t < SW_EVENT__COUNT; t++)
        for (size_t i = 0; i < h->n_times[t]; i++) {
            lo = SW_MIN(lo, h->times[t][i]);
            hi = SW_MAX(hi, h->times[t][i]);
        }
    fputs("<h2>Timeline</h2>\n", f);
    if (lo > hi) {
        fputs("<p class=\"note\">No events.</p>\n", f);
        return;
    }
    const int left = 175, width = 1000, laneh = 36, nl = SW_EVENT__COUNT - 1;
    double span = (double)(hi - lo);
    char b1[32], b2[32];
    fprintf(f,
            "<svg id=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
            "height=\"%d\" viewBox=\"0 0 %d %d\">\n",
            left + width + 10, nl * laneh + 30, left + width + 10, nl * laneh + 30);
    int lane = 0;
    for (unsigned t = 0; t < SW_EVENT__COUNT; t++) {
        if (t == SW_EVENT_STATS)
            continue;
        uint64_t bins[TIMELINE_BINS] = {0}, max = 0;
        for (size_t i = 0; i < h->n_times[t]; i++) {
            size_t k =
                span > 0 ? (size_t)((double)(h->times[t][i] - lo) / span * (TIMELINE_BINS - 1)) : 0;
            k = SW_MIN(k, (size_t)TIMELINE_BINS - 1);
            if (++bins[k] > max)
                max = bins[k];
        }
        int y = lane * laneh;
        const char *name = sw_event_type_name((enum sw_event_type)t);
        fprintf(f,
                "<g class=\"tl\" data-type=\"%s\" data-count=\"%zu\"><rect class=\"lane\" x=\"%d\" "
                "y=\"%d\" width=\"%d\" height=\"%d\"/>"
                "<text class=\"lanelbl\" x=\"4\" y=\"%d\">%s (%zu)</text>\n",
                name, h->n_times[t], left, y + 2, width, laneh - 4, y + laneh / 2 + 4, name,
                h->n_times[t]);
        double bw = (double)width / TIMELINE_BINS;
        for (size_t k = 0; k < TIMELINE_BINS; k++) {
            if (bins[k] == 0)
                continue;
            double bh = 3 + (double)(laneh - 9) * (double)bins[k] / (double)max;
            sw_time bt = lo + (sw_time)(span * (double)k / (TIMELINE_BINS - 1));
            fprintf(f,
                    "<rect class=\"bar\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\">"
                    "<title>%" PRIu64 " %s from %s</title></rect>",
                    left + bw * (double)k, y + laneh - 2 - bh, bw > 2 ? bw - 1 : bw, bh, bins[k],
                    name, when(bt, b1));
        }
        fputs("</g>\n", f);
        lane++;
    }
    fprintf(f,
            "<text x=\"%d\" y=\"%d\">%s</text><text x=\"%d\" y=\"%d\" "
            "text-anchor=\"end\">%s UTC</text>\n</svg>\n",
            left, nl * laneh + 20, when(lo, b1), left + width, nl * laneh + 20, when(hi, b2));
    if (h->times_dropped > 0)
        fprintf(f, "<p class=\"note\">%" PRIu64 " events are not drawn (over %d).</p>\n",
                h->times_dropped, HTMLREPORT_MAX_TIMES);
}

static void dropped_note(FILE *f, const struct section *s, const char *what)
{
    if (s->dropped > 0)
        fprintf(f,
                "<p class=\"note\" id=\"%s-more\">%" PRIu64 " more %s are counted above but "
                "not listed (the report keeps %" PRIu64 ").</p>\n",
                what, s->dropped, what, s->rows);
}

/* A table with a sort/filter head; the rows come from a section. */
static void table(FILE *f, const char *id, const char *const *cols, size_t ncol,
                  const struct section *s)
{
    fprintf(f,
            "<p>Showing <span id=\"%s-shown\">%" PRIu64 "</span> of %" PRIu64
            " rows. Click a column to sort; type in a box to filter.</p>\n",
            id, s->rows, s->rows);
    fprintf(f, "<table class=\"sortable\" id=\"%s\"><thead><tr>", id);
    for (size_t i = 0; i < ncol; i++)
        fprintf(f, "<th>%s</th>", cols[i]);
    fputs("</tr><tr class=\"filters\">", f);
    for (size_t i = 0; i < ncol; i++)
        fprintf(f, "<td><input type=\"search\" aria-label=\"filter %s\" data-col=\"%zu\"></td>",
                cols[i], i);
    fputs("</tr></thead><tbody>\n", f);
    fflush(s->f);
    if (s->len > 0)
        fwrite(s->buf, 1, s->len, f);
    fputs("</tbody></table>\n", f);
}

static void top_table(struct htmlreport *h, FILE *f, bool sources)
{
    struct sw_top_entry top[50];
    uint64_t others = 0;
    size_t n = summary_top(h->sum, sources, top, SW_ARRAY_LEN(top), &others);
    fprintf(f, "<table id=\"top-%s\"><thead><tr><th>%s</th><th>hits</th></tr></thead><tbody>\n",
            sources ? "sources" : "users", sources ? "source" : "user");
    for (size_t i = 0; i < n; i++) {
        fputs("<tr><td>", f);
        esc(f, top[i].key);
        fprintf(f, "</td><td>%" PRIu64 "</td></tr>\n", top[i].count);
    }
    if (others > 0)
        fprintf(f, "<tr><td><i>others</i></td><td>%" PRIu64 "</td></tr>\n", others);
    fputs("</tbody></table>\n", f);
}

int htmlreport_write(struct htmlreport *h)
{
    FILE *f = h->out;
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n", f);
    fprintf(f,
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
            "style-src 'unsafe-inline'; script-src 'sha256-%s'\">\n",
            HTMLREPORT_SCRIPT_SHA256);
    fputs("<meta name=\"viewport\" content=\"width=device-width\">\n"
          "<title>sipwatch report</title>\n<style>",
          f);
    fputs(style, f);
    fputs("</style></head><body>\n<h1>sipwatch report</h1>\n", f);

    /* the terminal summary, as text */
    char *sumtext = NULL;
    size_t sumlen = 0;
    FILE *m = open_memstream(&sumtext, &sumlen);
    if (m != NULL) {
        summary_print(h->sum, m);
        fclose(m);
        fputs("<pre id=\"summary\">", f);
        /* escape line by line: htmlreport_escape turns newlines into '?' */
        char *line = sumtext;
        while (line != NULL && *line != '\0') {
            char *nl = strchr(line, '\n');
            if (nl != NULL)
                *nl = '\0';
            htmlreport_escape(f, line, 4 * CELL_MAX);
            fputc('\n', f);
            line = nl != NULL ? nl + 1 : NULL;
        }
        fputs("</pre>\n", f);
    }
    free(sumtext);

    totals(h, f);
    timeline(h, f);

    static const char *const xcols[] = {
        "time",     "outcome",          "from (transferor)", "to",
        "Refer-To", "transferor agent", "transferee agent",  "wait (s)",
        "NOTIFYs",  "Call-ID"};
    fputs("<h2>Transfers</h2>\n", f);
    table(f, "transfers", xcols, SW_ARRAY_LEN(xcols), &h->xfer);
    dropped_note(f, &h->xfer, "transfers");

    fputs("<h2>Not-found answers</h2>\n<div style=\"display:flex;gap:2em\">"
          "<div><h3>By user</h3>\n",
          f);
    top_table(h, f, false);
    fputs("</div><div><h3>By source</h3>\n", f);
    top_table(h, f, true);
    fputs("</div></div>\n", f);
    static const char *const ncols[] = {"time",       "method", "user",   "domain", "source",
                                        "user agent", "server", "status", "reason"};
    table(f, "not-found", ncols, SW_ARRAY_LEN(ncols), &h->nf);
    dropped_note(f, &h->nf, "not-found answers");

    static const char *const scols[] = {"first",          "last",  "source",  "answers",
                                        "distinct users", "users", "methods", "user agents"};
    fputs("<h2>Scans</h2>\n", f);
    table(f, "scans", scols, SW_ARRAY_LEN(scols), &h->scan);
    dropped_note(f, &h->scan, "scans");

    fputs("<h2>Ladders of flagged events</h2>\n", f);
    fputs("<svg width=\"0\" height=\"0\" style=\"position:absolute\"><defs><marker id=\"arrow\" "
          "viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" "
          "orient=\"auto-start-reverse\"><path d=\"M0 0L10 5L0 10z\" fill=\"#234\"/></marker>"
          "</defs></svg>\n",
          f);
    fflush(h->ladder.f);
    if (h->ladders == 0)
        fputs("<p class=\"note\">No flagged events.</p>\n", f);
    else if (h->ladder.len > 0)
        fwrite(h->ladder.buf, 1, h->ladder.len, f);
    if (h->ladder.dropped > 0)
        fprintf(f,
                "<p class=\"note\" id=\"ladders-more\">%" PRIu64 " more flagged events are not "
                "drawn (the report draws %" PRIu64 ").</p>\n",
                h->ladder.dropped, h->ladders);
    if (h->oom)
        fputs("<p class=\"note\">Memory ran short while building this report: some parts are "
              "missing.</p>\n",
              f);
    fputs("<script>", f);
    fputs(script, f);
    fputs("</script>\n</body></html>\n", f);
    if (fflush(f) != 0 || ferror(f)) {
        if (errno == 0)
            errno = EIO;
        return -1;
    }
    return 0;
}
