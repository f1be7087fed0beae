/*
 * pipeline.h - wires the stages together: decode -> ipfrag -> tcpstream ->
 * sipframe -> sipmsg -> tracker, and builds the `stats` event from every
 * stage's counters. The only file that includes every stage's header.
 *
 * Owns: one instance of each stateful stage, the per-direction stream state
 * it hangs in tcpstream's app slots, the capture clock (never moves
 * backwards), and the periodic stats timer.
 */
#ifndef SIPWATCH_PIPELINE_H
#define SIPWATCH_PIPELINE_H

#include "sipwatch/decode.h"
#include "sipwatch/event.h"
#include "sipwatch/evidence.h"
#include "sipwatch/ipfrag.h"
#include "sipwatch/tcpstream.h"
#include "sipwatch/tracker.h"
#include "sipwatch/types.h"

struct pipeline_config {
    struct decode_config decode;
    struct ipfrag_config ipfrag;
    struct tcpstream_config tcp;
    struct tracker_config tracker;
    size_t max_msg;           /* SIP message size cap; default SIPFRAME_DEFAULT_MAX_MSG */
    size_t max_stream_bytes;  /* partial messages held by all TCP streams together;
                               * default 64 MiB (over it, the stream that crossed
                               * it drops its partial message and resyncs) */
    unsigned sipmsg_flags;    /* SIPMSG_FULL to disable the fast path */
    sw_time stats_interval;   /* periodic stats events on capture time; 0 = only final */
    /* Counters of stages the pipeline does not own (capture, report), put
     * first in every stats event; may be NULL. */
    void (*extra_counters)(void *ctx, struct sw_counters *out);
    void *extra_ctx;
    /* The run behind stats events (version, start, uptime, inputs); may be
     * NULL. Called with extra_ctx. */
    void (*run_info)(void *ctx, struct sw_run_info *out);
    const char *in_iface;     /* live interface named in every event; NULL for files */
    /* The evidence stage (--evidence DIR): frames of each Call-ID's
     * messages kept and written per event; off when evidence.dir is NULL. */
    struct evidence_config evidence;
};

#define PIPELINE_DEFAULT_MAX_STREAM_BYTES ((size_t)64 << 20)

/* Fills *cfg with every stage's defaults. */
void pipeline_config_default(struct pipeline_config *cfg);

struct pipeline;

struct pipeline *pipeline_new(const struct pipeline_config *cfg, sw_emit_fn *emit, void *ctx,
                              char errbuf[SW_ERRBUF_SIZE]);
void pipeline_free(struct pipeline *p);

/* The input of the frames that follow: the file (borrowed; it must live as
 * long as the pipeline) and the 1-based number of the next frame in it, which
 * every event that frame makes known carries (pcap_filename, pcap_cnt).
 * NULL/0: none (live, a quiet link, end of input). */
void pipeline_set_origin(struct pipeline *p, const char *file, uint64_t number);

/* The original (wire) length of the next frame, when larger than what was
 * captured; evidence files keep it. Reset by pipeline_frame. */
void pipeline_set_wire_len(struct pipeline *p, uint32_t wire_len);

/* One captured frame (borrowed) of DLT `linktype` at capture time ts. */
void pipeline_frame(struct pipeline *p, int linktype, struct sw_bytes frame, sw_time ts);

/* Moves the capture clock to `now` (if later) and fires due timers; live
 * capture calls this while the link is quiet. */
void pipeline_advance(struct pipeline *p, sw_time now);
sw_time pipeline_now(const struct pipeline *p);

/* Emits a stats event now: the extra counters first, then every stage's. */
void pipeline_emit_stats(struct pipeline *p, bool final);

/* End of input: flushes every stage in order (streams, then the tracker),
 * settling what is pending. Call pipeline_emit_stats(p, true) after. */
void pipeline_finish(struct pipeline *p);

#endif
