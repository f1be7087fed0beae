/* tcpstream.c - STUB, replaced by the tcpstream work. */
#include "sipwatch/tcpstream.h"

#include <stdlib.h>

struct tcpstream {
    struct tcpstream_config cfg;
    tcpstream_sink *sink;
    void *ctx;
};

struct tcpstream *tcpstream_new(const struct tcpstream_config *cfg, tcpstream_sink *sink,
                                void *ctx)
{
    struct tcpstream *s = calloc(1, sizeof *s);
    if (s != NULL) {
        s->cfg = *cfg;
        s->sink = sink;
        s->ctx = ctx;
    }
    return s;
}

void tcpstream_free(struct tcpstream *s)
{
    free(s);
}

void tcpstream_segment(struct tcpstream *s, const struct sw_tuple *t, uint32_t seq, uint8_t flags,
                       struct sw_bytes payload, sw_time ts)
{
}

void tcpstream_advance(struct tcpstream *s, sw_time now)
{
}

void tcpstream_finish(struct tcpstream *s, sw_time now)
{
}

void tcpstream_counters(const struct tcpstream *s, struct sw_counters *out)
{
}
