/*
 * tcpstream.h - TCP stream reassembly, per direction, by sequence number.
 *
 * Owns: one entry per connection (both directions), out-of-order segments
 * (copied, capped per direction and in total), and one opaque `app` slot per
 * direction that the consumer (the pipeline's SIP framing) uses for its own
 * state. Delivers in-order byte runs; retransmitted and overlapping bytes are
 * delivered once (first copy wins). A stream picked up without its SYN starts
 * at the first segment seen and is flagged MIDSTREAM so the framer resyncs on
 * the next SIP start line. Lost bytes (a hole that is never filled before the
 * out-of-order cap, FIN/RST, idle timeout or end of input forces progress)
 * are skipped and flagged GAP_BEFORE on the next run. SYN/FIN/RST lifecycle
 * and an idle timeout (capture time) free connections.
 * Does not: parse any payload, verify checksums, or track windows/ACKs.
 */
#ifndef SIPWATCH_TCPSTREAM_H
#define SIPWATCH_TCPSTREAM_H

#include "sipwatch/budget.h"
#include "sipwatch/types.h"

#define TCPSTREAM_MIDSTREAM 0x01  /* first run of a stream whose SYN was not seen */
#define TCPSTREAM_GAP_BEFORE 0x02 /* bytes were lost just before this run */
#define TCPSTREAM_CLOSE 0x04      /* last call for this direction: data is empty;
                                   * the consumer frees *app and sets it NULL */
#define TCPSTREAM_DUPLICATE 0x08  /* data is empty: the segment being added (tag:
                                   * tcpstream_run_tag) brought no new byte; only
                                   * made while tags are set (tcpstream_set_tag),
                                   * for a direction whose *app is set */

/* Called for each in-order run of one direction. `t` is that direction's
 * tuple (src = sender of these bytes); `data` is borrowed for the call only.
 * `app` points at the direction's slot, NULL at first; the consumer may store
 * its own state there. Every direction that ever had a non-NULL *app gets
 * exactly one TCPSTREAM_CLOSE call (on FIN/RST, timeout, eviction, finish or
 * tcpstream_free), after which the slot is forgotten. */
typedef void tcpstream_sink(void *ctx, const struct sw_tuple *t, struct sw_bytes data,
                            unsigned flags, sw_time ts, void **app);

struct tcpstream_config {
    size_t max_streams;        /* connections tracked; default 65536 (LRU evicted) */
    size_t max_ooo_per_dir;    /* out-of-order bytes held per direction (payload plus a
                                * per-segment overhead of 32 bytes); default 256 KiB */
    size_t max_ooo_total;      /* in total; default 64 MiB */
    sw_time idle_timeout;      /* default 600 s without a segment */
    struct sw_budget *budget;  /* shared memory ceiling (budget.h), or NULL; borrowed;
                                * over it a direction gives up its holes, as over
                                * max_ooo_total */
};
#define TCPSTREAM_DEFAULT_MAX_STREAMS 65536
#define TCPSTREAM_DEFAULT_MAX_OOO_PER_DIR ((size_t)256 << 10)
#define TCPSTREAM_DEFAULT_MAX_OOO_TOTAL ((size_t)64 << 20)
#define TCPSTREAM_DEFAULT_IDLE_TIMEOUT SW_SEC(600)

struct tcpstream;

struct tcpstream *tcpstream_new(const struct tcpstream_config *cfg, tcpstream_sink *sink,
                                void *ctx);
/* Closes every stream (CLOSE calls are made) and frees. NULL is fine. */
void tcpstream_free(struct tcpstream *s);

/* One TCP segment: `t` is the segment's tuple (transport TCP), seq and flags
 * (DECODE_TCP_*) as on the wire, payload borrowed. Calls the sink 0..N times. */
void tcpstream_segment(struct tcpstream *s, const struct sw_tuple *t, uint32_t seq,
                       uint8_t flags, struct sw_bytes payload, sw_time ts);

/* Tags: the pipeline names each segment's frame (a run-wide id) before
 * tcpstream_segment; a held out-of-order segment keeps its tag. During a
 * sink call, tcpstream_run_tag gives the tag of the segment whose bytes the
 * run is (every run comes from one segment). */
void tcpstream_set_tag(struct tcpstream *s, uint64_t tag);
uint64_t tcpstream_run_tag(const struct tcpstream *s);

/* Closes streams idle since before now - idle_timeout. */
void tcpstream_advance(struct tcpstream *s, sw_time now);
/* End of input: delivers what is held (past holes, flagged), closes all. */
void tcpstream_finish(struct tcpstream *s, sw_time now);

/* tcp_segments, tcp_streams (created), tcp_streams_active, tcp_midstream
 * (directions picked up without SYN), tcp_out_of_order (segments held),
 * tcp_retransmitted (segments with old bytes), tcp_gaps, tcp_gap_bytes,
 * tcp_ooo_bytes_held, tcp_ooo_bytes_peak, tcp_ooo_dropped (could not be
 * copied: out of memory), tcp_evicted, tcp_timeouts, tcp_rst. */
void tcpstream_counters(const struct tcpstream *s, struct sw_counters *out);

#endif
