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
    size_t max_memory;        /* one ceiling for every table's bytes (budget.h);
                               * 0: SW_BUDGET_DEFAULT_CAP (256 MiB) */
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
/* Clock discontinuities (see pipeline.c clock_frame): a frame stamped more
 * than PIPELINE_CLOCK_JUMP away from the clock does not move it (it is
 * processed at the clock's time and counted) until PIPELINE_CLOCK_AGREE such
 * frames in a row agree, which re-bases the clock. 10 minutes: longer than
 * every default timer (Timer C 180 s, TCP idle 600 s), far shorter than the
 * jumps seen in the wild (a year, an hour); real captures have no such gap
 * between consecutive packets except a quiet link, which costs only the
 * first PIPELINE_CLOCK_AGREE - 1 frames after it their own stamp. */
#define PIPELINE_CLOCK_JUMP SW_SEC(600)
#define PIPELINE_CLOCK_AGREE 8

/* The original (wire) length of the next frame, when larger than what was
 * captured; evidence files keep it. Reset by pipeline_frame. */
void pipeline_set_wire_len(struct pipeline *p, uint32_t wire_len);

/*
 * Parsing ahead (with the capture's read-ahead thread, capture_set_ahead):
 * pipeline_ahead() runs there on every frame. A frame that decodes (on the
 * ahead's own decoder) to a datagram the pipeline will hand whole to the SIP
 * parser (UDP or HEP, within the frame's bytes, see
 * sipframe_datagram_is_whole) gets that parse done and packed
 * (sipmsg_pack_datagram). pipeline_set_ahead() gives the next frame's packed
 * parse to the pipeline, which uses it in place of parsing when it is the
 * parse of the very datagram and settings it reaches (sipmsg_unpack_datagram),
 * and parses as before otherwise: events and counters are the same either
 * way. The ahead's decoder, scratch message and counters are its own.
 */
struct pipeline_ahead;
/* Settings from cfg as pipeline_new takes them; NULL when out of memory. */
struct pipeline_ahead *pipeline_ahead_new(const struct pipeline_config *cfg);
void pipeline_ahead_free(struct pipeline_ahead *a);
/* A capture_ahead_fn (capture.h); ctx: a pipeline_ahead. */
size_t pipeline_ahead(void *ctx, int linktype, struct sw_bytes frame, sw_time ts, uint8_t *out,
                      size_t cap);
/* The `cap` pipeline_ahead needs (capture_set_ahead). */
size_t pipeline_ahead_max(void);
/* For the next pipeline_frame only. */
void pipeline_set_ahead(struct pipeline *p, struct sw_bytes packed);
/* Datagrams whose parse came from pipeline_set_ahead (tests, benchmarks). */
uint64_t pipeline_ahead_used(const struct pipeline *p);

/* One captured frame (borrowed) of DLT `linktype` at capture time ts. */
void pipeline_frame(struct pipeline *p, int linktype, struct sw_bytes frame, sw_time ts);

/* One HEP v2/v3 record (borrowed) received from a capture agent at
 * agent:agent_port (borrowed) over a socket (heplisten), at wall time `now`.
 * The record's own timestamp becomes capture time unless it is more than
 * PIPELINE_HEP_MAX_SKEW away from `now`: then `now` is used and the
 * call returns true (the caller counts it). Events carry the agent and capture id (pipeline_hep_origin). */
#define PIPELINE_HEP_MAX_SKEW SW_SEC(300)
bool pipeline_hep_record(struct pipeline *p, struct sw_bytes rec, const struct sw_addr *agent,
                         uint16_t agent_port, sw_time now);

/* Fills the HEP part of an event's origin (hep, hep_capture_id, hep_agent,
 * hep_agent_port) from the message the pipeline is handling now: the one
 * that made the event known. Called while an event is being emitted. */
void pipeline_hep_origin(const struct pipeline *p, struct sw_event_origin *o);

/* A live idle tick: moves the capture clock to `now` (if later, and not
 * more than PIPELINE_CLOCK_JUMP ahead) and fires due timers; live capture
 * calls this while the link is quiet. Counts nothing (clock_backwards counts
 * frames only). */
void pipeline_advance(struct pipeline *p, sw_time now);
sw_time pipeline_now(const struct pipeline *p);

/* Emits a stats event now: the extra counters first, then every stage's. */
void pipeline_emit_stats(struct pipeline *p, bool final);

/* End of input: flushes every stage in order (streams, then the tracker),
 * settling what is pending. Call pipeline_emit_stats(p, true) after. */
void pipeline_finish(struct pipeline *p);

#endif
