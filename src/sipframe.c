/* sipframe.c - STUB, replaced by the sipframe work. */
#include "sipwatch/sipframe.h"

#include <stdlib.h>

enum sipframe_result sipframe_next(struct sw_bytes in, size_t max_msg, bool stream, size_t *len)
{
    *len = in.n;
    return in.n ? SIPFRAME_MESSAGE : SIPFRAME_NEED_MORE;
}

bool sipframe_is_start_line(struct sw_bytes line)
{
    return false;
}

void sipframe_datagram(struct sw_bytes dgram, size_t max_msg, enum sw_transport transport,
                       sipframe_sink *sink, void *ctx, struct sipframe_stats *st)
{
    if (dgram.n > 0)
        sink(ctx, dgram, transport);
}

struct sipframe_stream {
    size_t max_msg;
};

struct sipframe_stream *sipframe_stream_new(size_t max_msg, bool midstream)
{
    struct sipframe_stream *fs = calloc(1, sizeof *fs);
    if (fs != NULL)
        fs->max_msg = max_msg;
    return fs;
}

void sipframe_stream_free(struct sipframe_stream *fs)
{
    free(fs);
}

void sipframe_stream_feed(struct sipframe_stream *fs, struct sw_bytes data, unsigned flags,
                          sipframe_sink *sink, void *ctx, struct sipframe_stats *st)
{
}

size_t sipframe_stream_buffered(const struct sipframe_stream *fs)
{
    return 0;
}

void sipframe_counters(const struct sipframe_stats *st, struct sw_counters *out)
{
}
