/*
 * sipmsg_int.h - shared between sipscan.c (our own scanner, every message)
 * and sipmsg.c (dispatch, libosip2 on the messages that feed events). Not
 * part of the public interface.
 */
#ifndef SIPWATCH_SIPMSG_INT_H
#define SIPWATCH_SIPMSG_INT_H

#include "sipwatch/sipmsg.h"

enum sipscan_result {
    SIPSCAN_OK = 0,
    SIPSCAN_INVALID, /* start line, Call-ID or CSeq unusable */
    SIPSCAN_NUL,     /* NUL byte in the start line or header block */
};

/* What the scanner found beyond struct sip_msg: views into the raw message,
 * valid as long as it is. */
struct sipscan_info {
    /* in: 0, or max_msg when raw is a whole datagram that starts with its
     * start line: the scanner then also frames it (sipframe_cut) and parses
     * only the message at its head */
    size_t frame_max;
    size_t msg_len;        /* out with frame_max: the message's length */
    unsigned cut_notes;    /* out with frame_max: SIPFRAME_CUT_* */
    size_t head_len;       /* start line + headers + blank line (or all of raw) */
    struct sw_bytes body;  /* cut to Content-Length when that is shorter */
    struct sw_bytes ctype; /* Content-Type value, {NULL,0} if absent */
    unsigned n_ctype;      /* Content-Type headers seen */
    bool feeds_event;      /* sipscan_feeds_event() of the result (valid on SIPSCAN_OK) */
};

/* Fills every field of *m (see sipmsg.c for what holds after a parse) from
 * `raw`; with `lazy`, only those SIPMSG_LAZY promises (sipmsg.h) unless the
 * message feeds an event. Returns SIPSCAN_OK when the start line, Call-ID
 * and CSeq are usable. */
/* Fills the scanner's tables (sipmsg_global_init calls it; sipscan_parse
 * also does on first use, single-threaded callers may rely on that). */
void sipscan_global_init(void);

enum sipscan_result sipscan_parse(struct sw_bytes raw, bool lazy, struct sip_msg *m,
                                  struct sipscan_info *info);

/* true if the message can feed an event: REFER and refer-NOTIFY requests,
 * responses to REFER, 404 and 604 (libosip2 parses those). Reads method,
 * event, status and cseq_method. */
bool sipscan_feeds_event(const struct sip_msg *m);

/* Bounded copy of a header value into dst (cap bytes, NUL-terminated); folding
 * CR/LF become SP, as libosip2 does. Counts a truncation in m. */
void sipscan_put(struct sip_msg *m, char *dst, size_t cap, struct sw_bytes v);

/* Sets refer_to and refer_replaces from a Refer-To header value. */
void sipscan_refer_to(struct sip_msg *m, struct sw_bytes v);

/* Sets sipfrag_status/sipfrag_reason from a message/sipfrag body; returns
 * true if its first line is a status line. */
bool sipscan_sipfrag(struct sip_msg *m, struct sw_bytes body);

/* true if libosip2 5.3 must not parse raw (it would leak; see sipscan.c). */
bool sipscan_osip_hazard(struct sw_bytes raw, const struct sipscan_info *info);

/* true if a Content-Type value (parameters allowed) is message/sipfrag. */
bool sipscan_is_sipfrag_type(struct sw_bytes ctype);

#endif
