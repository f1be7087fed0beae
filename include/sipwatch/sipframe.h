/*
 * sipframe.h - finding SIP message boundaries (RFC 3261 §18.3, §7.5).
 *
 * Datagrams (UDP, HEP, reassembled fragments): a datagram holds one message
 * (rarely several); junk before the start line is skipped and counted.
 * Streams (TCP, WebSocket): a per-direction buffer accumulates bytes until a
 * whole message is there: header block ended by CRLFCRLF, body length from
 * Content-Length or compact `l:`. CRLF keep-alives (RFC 5626) are skipped.
 * A stream picked up mid-way, or after a gap, resyncs on the next line that
 * is a SIP start line. A missing Content-Length on a stream means an empty
 * body; an absurd one (over max_msg) is counted and the buffer resyncs.
 * SIP over WebSocket (RFC 7118, RFC 6455): a stream whose first bytes are an
 * HTTP Upgrade request or a "101 Switching Protocols" answer is switched to
 * WebSocket: the HTTP head is skipped and each text/binary message (frames
 * unmasked, reassembled across continuation frames, control frames skipped)
 * is framed with the datagram rules, normally as one SIP message.
 *
 * Owns: the partial-message buffer of each stream direction (capped at
 * max_msg bytes). Does not parse headers beyond the length.
 */
#ifndef SIPWATCH_SIPFRAME_H
#define SIPWATCH_SIPFRAME_H

#include "sipwatch/types.h"

#define SIPFRAME_DEFAULT_MAX_MSG ((size_t)256 << 10)

enum sipframe_result {
    SIPFRAME_MESSAGE,    /* the first *len bytes of `in` are one message */
    SIPFRAME_NEED_MORE,  /* keep the bytes; call again when more arrive */
    SIPFRAME_SKIP,       /* drop the first *len bytes: keep-alive CRLFs or junk */
    SIPFRAME_TOO_BIG,    /* header block or declared body over max_msg, or (stream rules)
                          * an unusable Content-Length: drop the first *len bytes and
                          * resync on the next start line */
};

/* Looks at the head of `in`. Stream rules when `stream` is true (body length
 * from Content-Length, default 0); datagram rules otherwise (a missing
 * Content-Length means the rest of the datagram; a Content-Length larger than
 * what is left is cut to what is left and counted by the caller as
 * truncated). Never reads past in.n. */
enum sipframe_result sipframe_next(struct sw_bytes in, size_t max_msg, bool stream, size_t *len);

/* True if `line` (up to, not including, its CRLF) is a SIP request line
 * ("METHOD SP Request-URI SP SIP/2.0") or status line ("SIP/2.0 SP 3DIGIT ..."). */
bool sipframe_is_start_line(struct sw_bytes line);

/* Delivers one framed message (borrowed for the call). `transport` is the
 * transport the message travelled on (TCP, or WS when it came out of a
 * WebSocket frame). */
typedef void sipframe_sink(void *ctx, struct sw_bytes msg, enum sw_transport transport);

struct sipframe_stats {
    uint64_t messages;       /* framed and delivered */
    uint64_t keepalives;     /* CRLF keep-alives skipped */
    uint64_t junk_bytes;     /* bytes skipped while resyncing */
    uint64_t resyncs;        /* times a stream had to look for a start line */
    uint64_t resync_false_starts; /* start lines skipped while resyncing: not
                                   * followed by headers (a lost message's
                                   * sipfrag body) */
    uint64_t too_big;        /* messages over max_msg */
    uint64_t bad_length;     /* unusable Content-Length */
    uint64_t truncated;      /* datagram bodies shorter than Content-Length */
    uint64_t not_sip;        /* datagrams holding no SIP message (RTP, DNS...) */
    uint64_t ws_streams;     /* streams switched to WebSocket */
    uint64_t ws_frames;      /* WebSocket data frames */
    uint64_t ws_control;     /* WebSocket control frames (close, ping, pong) skipped */
    uint64_t ws_errors;      /* malformed or undecodable frames, non-SIP messages */
    uint64_t buffered_peak;  /* largest stream buffer seen */
};

/* Frames one datagram, delivering 0..N messages. */
void sipframe_datagram(struct sw_bytes dgram, size_t max_msg, enum sw_transport transport,
                       sipframe_sink *sink, void *ctx, struct sipframe_stats *st);

/*
 * Framing by the consumer (datagrams only, an additive fast path): a
 * datagram that starts with a plain start line is handed whole to a consumer
 * that walks its header lines anyway (sipmsg's scanner); the consumer calls
 * sipframe_cl_line() (or sipframe_cl_value(), see there) on every header
 * line the framer would read (each line ended by LF after the start line, up
 * to the empty line, CR stripped) and sipframe_cut() at the end, so the
 * message is cut exactly where sipframe_datagram() cuts it, and reports that
 * cut back.
 */
struct sipframe_cl {
    bool have, bad, big; /* a Content-Length / `l` was seen; unusable; over max_msg */
    uint64_t value;
};

/* Content-Length state after one header line (without CR/LF; not the empty one). */
void sipframe_cl_line(struct sipframe_cl *cl, struct sw_bytes line, size_t max_msg);
/* The same for a line the consumer knows is a Content-Length / `l` header
 * (sipframe_cl_line's name test, which it then need not repeat): v is what
 * follows its ':'. True when v is a decimal number up to max_msg between
 * optional SP/HTAB (then *value, as ascii_parse_uint reads it). */
bool sipframe_cl_value(struct sipframe_cl *cl, struct sw_bytes v, size_t max_msg,
                       uint64_t *value);

#define SIPFRAME_CUT_TRUNCATED 0x1  /* body shorter than Content-Length */
#define SIPFRAME_CUT_BAD_LENGTH 0x2 /* unusable Content-Length: the rest is the body */

/* Length of the message at the head of an n-byte datagram (n <= max_msg)
 * whose header block ends at hend (after its empty line; 0 = no empty line:
 * the whole datagram); sets SIPFRAME_CUT_* in *notes. */
size_t sipframe_cut(const struct sipframe_cl *cl, size_t hend, size_t n, unsigned *notes);

/* Delivers a whole datagram (borrowed) starting with its start line; the
 * consumer sets *len (1..dgram.n) and *notes from sipframe_cut(). */
typedef void sipframe_whole_sink(void *ctx, struct sw_bytes dgram, enum sw_transport transport,
                                 size_t *len, unsigned *notes);

/* As sipframe_datagram(), with the same messages, counts and results, but a
 * datagram no longer than max_msg that starts with a plain start line goes
 * to `whole` (its first message), the rest of it, if any, and every other
 * datagram to `sink`. */
void sipframe_datagram_whole(struct sw_bytes dgram, size_t max_msg, enum sw_transport transport,
                             sipframe_sink *sink, sipframe_whole_sink *whole, void *ctx,
                             struct sipframe_stats *st);

/* True if sipframe_datagram_whole(dgram, max_msg, ...) hands dgram itself to
 * `whole` (it starts with a plain start line and is at most max_msg bytes). */
bool sipframe_datagram_is_whole(struct sw_bytes dgram, size_t max_msg);

struct sipframe_stream;

/* A per-direction stream framer (owned; NULL on OOM). `midstream` says the
 * stream's start was not seen, so framing starts by resyncing. */
struct sipframe_stream *sipframe_stream_new(size_t max_msg, bool midstream);
void sipframe_stream_free(struct sipframe_stream *fs);

#define SIPFRAME_GAP 0x01 /* bytes were lost before `data`: drop the partial message */

/* Feeds in-order bytes (borrowed); delivers each whole message to sink. */
void sipframe_stream_feed(struct sipframe_stream *fs, struct sw_bytes data, unsigned flags,
                          sipframe_sink *sink, void *ctx, struct sipframe_stats *st);

/* Bytes currently held by this stream framer (for accounting). */
size_t sipframe_stream_buffered(const struct sipframe_stream *fs);

/* sip_framed, sip_keepalives, sip_junk_bytes, ... from a stats struct. */
void sipframe_counters(const struct sipframe_stats *st, struct sw_counters *out);

#endif
