/*
 * ws.h - WebSocket framing (RFC 6455 §5) for SIP over WebSocket (RFC 7118),
 * internal to sipframe: one parser per stream direction turns the raw bytes
 * after the HTTP upgrade into whole data messages.
 */
#ifndef SIPWATCH_WS_H
#define SIPWATCH_WS_H

#include "sipwatch/types.h"

struct ws_stats {
    uint64_t frames;  /* data frames (text, binary, continuation) */
    uint64_t control; /* control frames (close, ping, pong) skipped */
    uint64_t errors;  /* malformed frames, unexpected continuations, compressed frames */
    uint64_t too_big; /* messages over max_msg, dropped */
};

struct ws {
    size_t max_msg;
    uint8_t hdr[14]; /* a frame header split across feeds */
    uint8_t hn;
    bool in_payload; /* between a header and the end of its payload */
    bool keep;       /* this frame's payload belongs to the current message */
    bool masked, fin, control;
    bool in_msg;    /* a fragmented message is open */
    bool msg_drop;  /* the open message went over max_msg */
    bool dead;      /* lost framing: everything else is ignored */
    bool after_gap; /* the next header is a guess: anything odd kills the stream */
    uint8_t key[4];
    uint64_t left; /* payload bytes still to come */
    uint64_t moff; /* payload offset, for the mask */
    uint8_t *msg;  /* the message being assembled (owned, grown up to max_msg) */
    size_t msg_n, msg_cap;
};

/* Called once per complete data message; `msg` is borrowed for the call. */
typedef void ws_msg_fn(void *ctx, struct sw_bytes msg);

void ws_init(struct ws *w, size_t max_msg);
void ws_fini(struct ws *w);

/* Feeds raw bytes (borrowed); calls fn for each whole data message. */
void ws_feed(struct ws *w, struct sw_bytes data, ws_msg_fn *fn, void *ctx, struct ws_stats *st);

/* Bytes were lost: drop the open message; the next bytes are taken to start
 * a frame header, and the stream is given up at the first sign they do not. */
void ws_gap(struct ws *w, struct ws_stats *st);

/* Bytes held (partial header and open message). */
size_t ws_buffered(const struct ws *w);

/* True if `head` (an HTTP request or response head, through its blank line)
 * opens a WebSocket: a request with "Upgrade: websocket" or a
 * "HTTP/1.x 101" response. */
bool ws_is_upgrade(struct sw_bytes head);

#endif
