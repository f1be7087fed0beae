/*
 * ladder.c - the text ladder of an event (see ladder.h): a header line
 * (event type, outcome, Call-ID, evidence file), the endpoints as columns,
 * then per message a line with its time and label (start line, CSeq, copy
 * mark) and a line with the arrow between the sender's and the receiver's
 * columns. Columns beyond LADDER_MAX_COLS share the last one. Labels are
 * header bytes: anything outside printable ASCII is shown as '?', so a
 * hostile Request-URI cannot move the terminal's cursor.
 */
#include "sipwatch/ladder.h"

#include <string.h>
#include <time.h>

#define LADDER_MAX_COLS 6
#define COL_W 26
#define TIME_W 17

struct endpoint {
    struct sw_addr a;
    uint16_t port;
};

static int col_of(struct endpoint *eps, size_t *n, const struct sw_addr *a, uint16_t port)
{
    for (size_t i = 0; i < *n; i++) {
        if (eps[i].port == port && memcmp(&eps[i].a, a, sizeof *a) == 0)
            return (int)i;
    }
    if (*n == LADDER_MAX_COLS)
        return LADDER_MAX_COLS - 1;
    eps[*n].a = *a;
    eps[*n].port = port;
    return (int)(*n)++;
}

static void clean(char *s)
{
    for (; *s != '\0'; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch < 0x20 || ch >= 0x7f)
            *s = '?';
    }
}

static void put_time(char *buf, size_t cap, sw_time ts, bool date)
{
    if (ts == SW_TIME_NONE) {
        snprintf(buf, cap, "-");
        return;
    }
    struct tm tm;
    long usec;
    (void)sw_time_split(ts, &tm, &usec);
    if (date)
        snprintf(buf, cap, "%04d-%02d-%02d %02d:%02d:%02d.%06ldZ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, usec);
    else
        snprintf(buf, cap, "%02d:%02d:%02d.%06ld", tm.tm_hour, tm.tm_min, tm.tm_sec, usec);
}

/* Writes the first `width` bytes of line without trailing blanks. */
static void put_line(FILE *out, char *line, int width)
{
    while (width > 0 && line[width - 1] == ' ')
        width--;
    line[width] = '\0';
    fprintf(out, "%s\n", line);
}

int ladder_print(FILE *out, const struct sw_event *ev)
{
    if (ev->type == SW_EVENT_STATS || ev->type >= SW_EVENT__COUNT)
        return 0;
    char head[512], when[64];
    const char *outcome = "";
    char status[16];
    if (ev->type == SW_EVENT_TRANSFER) {
        outcome = sw_outcome_name(ev->u.transfer.outcome);
    } else if (ev->type == SW_EVENT_USER_NOT_FOUND) {
        snprintf(status, sizeof status, "%d", ev->u.not_found.status);
        outcome = status;
    }
    put_time(when, sizeof when, ev->ts, true);
    snprintf(head, sizeof head, "%s %s %s  Call-ID: %.256s", when, sw_event_type_name(ev->type),
             outcome, ev->call_id != NULL ? ev->call_id : "-");
    clean(head);
    fprintf(out, "%s\n", head);
    if (ev->evidence.path != NULL)
        fprintf(out, "evidence: %s%s\n", ev->evidence.path,
                ev->evidence.complete ? "" : " (incomplete)");

    struct endpoint eps[LADDER_MAX_COLS];
    size_t n_eps = 0;
    int from[SW_MAX_LADDER], to[SW_MAX_LADDER];
    size_t n = SW_MIN(ev->ladder.n, (size_t)SW_MAX_LADDER);
    for (size_t i = 0; i < n; i++) {
        const struct sw_ladder_msg *m = &ev->ladder.msgs[i];
        from[i] = col_of(eps, &n_eps, &m->tuple.src, m->tuple.sport);
        to[i] = col_of(eps, &n_eps, &m->tuple.dst, m->tuple.dport);
    }
    if (n == 0) {
        fprintf(out, "  (no messages)\n\n");
        return ferror(out) ? -1 : 0;
    }
    char line[TIME_W + LADDER_MAX_COLS * COL_W + 256];
    /* endpoint names, centred on their columns */
    memset(line, ' ', sizeof line);
    for (size_t c = 0; c < n_eps; c++) {
        char ip[SW_ADDRSTRLEN], name[SW_ADDRSTRLEN + 10];
        sw_addr_str(&eps[c].a, ip);
        int k = snprintf(name, sizeof name, eps[c].a.family == 6 ? "[%s]:%u" : "%s:%u", ip,
                         (unsigned)eps[c].port);
        k = SW_MIN(k, COL_W - 1);
        int at = TIME_W + (int)c * COL_W + COL_W / 2 - k / 2;
        if (at < TIME_W + (int)c * COL_W)
            at = TIME_W + (int)c * COL_W;
        memcpy(line + at, name, (size_t)k);
    }
    int width = TIME_W + (int)n_eps * COL_W;
    put_line(out, line, width);
    for (size_t i = 0; i < n; i++) {
        const struct sw_ladder_msg *m = &ev->ladder.msgs[i];
        char label[256];
        if (m->is_request)
            snprintf(label, sizeof label, "%s %s", m->method ? m->method : "",
                     m->request_uri ? m->request_uri : "");
        else
            snprintf(label, sizeof label, "%d %s", m->status, m->reason ? m->reason : "");
        if (m->copy == SW_MSG_RETRANSMISSION)
            strncat(label, " (retransmission)", sizeof label - strlen(label) - 1);
        else if (m->copy == SW_MSG_OTHER_LEG)
            strncat(label, " (other leg)", sizeof label - strlen(label) - 1);
        clean(label);
        int a = TIME_W + from[i] * COL_W + COL_W / 2;
        int b = TIME_W + to[i] * COL_W + COL_W / 2;
        int lo = SW_MIN(a, b), hi = SW_MAX(a, b);
        /* label line: time, then the label starting over the arrow */
        memset(line, ' ', sizeof line);
        for (size_t c = 0; c < n_eps; c++)
            line[TIME_W + c * COL_W + COL_W / 2] = '|';
        char t[40];
        put_time(t, sizeof t, m->ts, false);
        memcpy(line, t, strlen(t));
        /* the label runs from the arrow's left end, past the columns if long */
        int k = SW_MIN((int)strlen(label), (int)sizeof line - 1 - (lo + 2));
        memcpy(line + lo + 2, label, (size_t)k);
        put_line(out, line, SW_MAX(width, lo + 2 + k));
        /* arrow line */
        memset(line, ' ', sizeof line);
        for (size_t c = 0; c < n_eps; c++)
            line[TIME_W + c * COL_W + COL_W / 2] = '|';
        if (lo == hi) {
            line[lo] = '@'; /* to itself (both ends in the last shared column) */
        } else {
            for (int x = lo + 1; x < hi; x++)
                line[x] = '-';
            if (a < b)
                line[hi - 1] = '>';
            else
                line[lo + 1] = '<';
        }
        snprintf(t, sizeof t, "%u %.8s", (unsigned)m->cseq, m->cseq_method ? m->cseq_method : "");
        clean(t);
        memcpy(line, "  ", 2);
        memcpy(line + 2, t, SW_MIN(strlen(t), (size_t)TIME_W - 3));
        put_line(out, line, width);
    }
    if (ev->ladder.truncated)
        fprintf(out, "  (more messages not shown)\n");
    fprintf(out, "\n");
    return ferror(out) ? -1 : 0;
}
