/* report.c - STUB, replaced by the report work. */
#include "sipwatch/report.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

struct report {
    struct report_config cfg;
    FILE *out;
};

struct report *report_new(const struct report_config *cfg, char errbuf[SW_ERRBUF_SIZE])
{
    struct report *r = calloc(1, sizeof *r);
    if (r != NULL) {
        r->cfg = *cfg;
        r->out = stdout;
    }
    return r;
}

void report_free(struct report *r)
{
    if (r != NULL)
        fflush(r->out);
    free(r);
}

int report_event(struct report *r, const struct sw_event *ev)
{
    fprintf(r->out, "{\"event_type\":\"%s\"}\n", sw_event_type_name(ev->type));
    return 0;
}

void report_emit(void *report, const struct sw_event *ev)
{
    report_event(report, ev);
}

int report_reopen(struct report *r, char errbuf[SW_ERRBUF_SIZE])
{
    return 0;
}

int report_flush(struct report *r)
{
    return fflush(r->out);
}

char *report_format_time(sw_time t, char buf[32])
{
    buf[0] = '\0';
    return buf;
}

size_t report_utf8_repair(const char *in, size_t n, char *out, size_t cap, unsigned *repaired)
{
    size_t k = n < cap - 1 ? n : cap - 1;
    memcpy(out, in, k);
    out[k] = '\0';
    return k;
}

void report_counters(const struct report *r, struct sw_counters *out)
{
}
