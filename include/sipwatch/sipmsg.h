/*
 * sipmsg.h - one framed SIP message -> `struct sip_msg`, the fields the
 * tracker uses, as bounded NUL-terminated copies (header bytes may be any
 * non-NUL byte: not guaranteed UTF-8; the reporter repairs that).
 *
 * Two parsers, one result (the fast path):
 *  - a scanner of our own, bounds-checked, reads the start line and the
 *    headers the tracker needs (compact forms included) from every message;
 *  - libosip2's parser (osip_message_parse) runs only on the messages that
 *    feed an event: REFER requests, NOTIFY requests of the `refer` event
 *    package, responses to REFER, and 404 / 604 responses; it is the
 *    authority for those (Call-ID, From/To URIs and tags, multipart bodies).
 *    When it refuses a message the scanner accepted, the scanner's fields
 *    stand (osip_errors): an event is never lost to its strictness.
 *    SIPMSG_FULL forces it on every message (tests, --no-fast-path).
 * This is the only file that includes libosip2; nothing of it escapes.
 * RFCs: 3261 (§7, §20 compact forms), 3515 (Refer-To, sipfrag), 3892
 * (Referred-By), 4488 (Refer-Sub), 6665 (Event id, Subscription-State),
 * 3420 (message/sipfrag).
 */
#ifndef SIPWATCH_SIPMSG_H
#define SIPWATCH_SIPMSG_H

#include <string.h>

#include "sipwatch/types.h"

#define SIPMSG_MAX_TOKEN 64    /* methods, tags, branch, event package */
#define SIPMSG_MAX_CALLID 256
#define SIPMSG_MAX_FIELD 512   /* URIs and free-text header values */

enum sipmsg_refer_sub {
    SIPMSG_REFER_SUB_ABSENT = 0,
    SIPMSG_REFER_SUB_TRUE,
    SIPMSG_REFER_SUB_FALSE,
};

enum sipmsg_substate {
    SIPMSG_SUBSTATE_ABSENT = 0,
    SIPMSG_SUBSTATE_ACTIVE,
    SIPMSG_SUBSTATE_PENDING,
    SIPMSG_SUBSTATE_TERMINATED,
    SIPMSG_SUBSTATE_OTHER,
};

struct sip_msg {
    bool is_request;
    char method[SIPMSG_MAX_TOKEN];      /* request method, uppercase as sent */
    int status;                         /* response status code (100..699) */
    char reason[SIPMSG_MAX_FIELD];      /* response reason phrase */
    char request_uri[SIPMSG_MAX_FIELD]; /* as sent, parameters kept */

    char call_id[SIPMSG_MAX_CALLID];    /* whole value, '@' part included */
    uint32_t cseq;
    char cseq_method[SIPMSG_MAX_TOKEN];
    char branch[SIPMSG_MAX_TOKEN * 2];  /* top Via's branch parameter, or "" */

    char from[SIPMSG_MAX_FIELD];        /* header value as sent (trimmed) */
    char to[SIPMSG_MAX_FIELD];
    char from_uri[SIPMSG_MAX_FIELD];    /* the URI alone, without <> */
    char to_uri[SIPMSG_MAX_FIELD];
    char from_tag[SIPMSG_MAX_TOKEN * 2];
    char to_tag[SIPMSG_MAX_TOKEN * 2];

    char user_agent[SIPMSG_MAX_FIELD];
    char server[SIPMSG_MAX_FIELD];
    char warning[SIPMSG_MAX_FIELD];

    /* REFER (RFC 3515, 3892, 4488) */
    char refer_to[SIPMSG_MAX_FIELD];    /* the URI alone (inside <> if present),
                                         * with its ?headers kept */
    char referred_by[SIPMSG_MAX_FIELD]; /* header value as sent */
    bool refer_replaces;                /* Refer-To URI headers carry Replaces= */
    enum sipmsg_refer_sub refer_sub;

    /* NOTIFY / SUBSCRIBE (RFC 6665) */
    char event[SIPMSG_MAX_TOKEN];       /* event package, lowercased ("refer") */
    bool has_event_id;
    uint32_t event_id;                  /* ;id= when numeric */
    char subscription_state[SIPMSG_MAX_FIELD]; /* value as sent */
    enum sipmsg_substate substate;
    int64_t sub_expires;                /* ;expires= seconds, -1 if absent */

    /* message/sipfrag body (RFC 3420), also inside multipart bodies */
    int sipfrag_status;                 /* status of the sipfrag status line, 0 none */
    char sipfrag_reason[SIPMSG_MAX_FIELD];

    /* Keys are the whole value (issue 10): for a key field whose copy above
     * was cut, the 64-bit XXH3 (seed sw_hash_seed) of its whole trimmed
     * value (sipmsg_key_hash); 0 when the copy is whole (it is then its own
     * key). Compare the copy and the hash together. */
    uint64_t call_id_hash, branch_hash, from_tag_hash, to_tag_hash;

    unsigned header_lines;              /* lines of the header block (folds included) */
    bool full_parse;                    /* libosip2 parsed this message */
    unsigned truncated_fields;          /* fields cut to their buffer size */
};

/* Is the NUL-terminated field f (a struct sip_msg array, longer than the
 * literal) exactly the string literal `lit`? One fixed-size memcmp (its NUL
 * included), which the compiler inlines: methods and event packages are
 * compared per message. */
#define SIPMSG_IS(f, lit) (memcmp((f), (lit), sizeof(lit)) == 0)

enum sipmsg_result {
    SIPMSG_OK = 0,
    SIPMSG_INVALID,     /* not a usable SIP message (counted): no request or
                         * status line, no Call-ID, no CSeq below 2^31 with a
                         * method, or a NUL in the start line or headers */
};

#define SIPMSG_FULL 0x01  /* run libosip2 on every message */
/* Lazy fields (the pipeline's choice; ignored with SIPMSG_FULL): a message
 * that feeds no event (not one of those libosip2 parses, see above) gets only
 * the fields the tracker reads from such messages: is_request, method,
 * request_uri, status, reason, call_id, cseq, cseq_method, event (and its id),
 * and for requests from, to and user_agent. Every other string is "" and
 * every other scalar "absent", except that a header long enough for one of
 * its copies to be cut is parsed whole, so truncated_fields counts exactly
 * what a full parse counts. Messages that feed events are parsed whole. */
#define SIPMSG_LAZY 0x02

struct sipmsg_stats {
    uint64_t messages;       /* messages given to sipmsg_parse */
    uint64_t requests, responses;
    uint64_t fast_path;      /* scanned only */
    uint64_t full_parse;     /* libosip2 ran */
    uint64_t invalid;        /* rejected by the scanner */
    uint64_t osip_errors;    /* rejected by libosip2 */
    uint64_t nul_bytes;      /* NUL in the header block */
    uint64_t truncated_fields;
    uint64_t header_floods;  /* more than SIPMSG_MAX_HEADER_LINES: kept from libosip2 */
};

/* A message with more header lines than this is never handed to libosip2
 * (its list walks are quadratic in the header count: 12 000 one-byte headers
 * cost 0.5 s); its fields come from the scanner, which is linear, and it is
 * counted (sip_header_flood). Real SIP carries a few dozen headers. */
#define SIPMSG_MAX_HEADER_LINES 256

/* The key hash of a value copied into a `cap`-byte field: 0 if the trimmed
 * value fits, else its XXH3 (when it holds an LF, each CR and LF taken as SP,
 * as the copies are): what call_id_hash etc. hold. */
uint64_t sipmsg_key_hash(struct sw_bytes v, size_t cap);


/* Once, before any parse (sets libosip2's trace hook first, so that it
 * never writes to stdout, then parser_init, then libosip2's allocators: a
 * reused arena, see sipmsg.c). Returns 0 or -1. */
int sipmsg_global_init(void);
/* Gives libosip2 malloc back (unless a piece of the arena is still out). */
void sipmsg_global_free(void);

/* Parses `raw` (one framed message, borrowed) into *out (fully overwritten:
 * every string is NUL-terminated, "" when absent; bytes after the NUL are
 * unspecified, so compare fields, not structs). Counts into *st. */
enum sipmsg_result sipmsg_parse(struct sw_bytes raw, unsigned flags, struct sip_msg *out,
                                struct sipmsg_stats *st);

/* sipmsg_parse() of the message at the head of `dgram`, a whole datagram of
 * at most max_msg bytes that starts with its start line, which the scanner
 * frames as it walks the header lines (see sipframe_whole_sink): sets *len
 * (the message's length) and *notes (SIPFRAME_CUT_*) as sipframe_datagram()
 * would cut it, whatever the result. */
enum sipmsg_result sipmsg_parse_datagram(struct sw_bytes dgram, size_t max_msg, unsigned flags,
                                         struct sip_msg *out, struct sipmsg_stats *st,
                                         size_t *len, unsigned *notes);

/*
 * Parsing ahead (the read-ahead thread, pipeline_ahead): the parse of a
 * whole datagram is a function of its bytes, max_msg and flags only, so it
 * can run on another thread and its outcome travel as bytes.
 *
 * sipmsg_pack_datagram() runs sipmsg_parse_datagram(dgram, max_msg, flags)
 * into the scratch *m and packs the outcome into out (cap bytes, at least
 * SIPMSG_PACK_MAX): the result, every field of *m, *len, *notes and the
 * counts the parse made. Returns the bytes written (0 if cap is too small).
 *
 * sipmsg_unpack_datagram() is then, for the caller, that very parse: when
 * `blob` packs a parse of the same dgram (same address and length: the
 * caller guarantees the bytes did not change), max_msg and flags, it fills
 * *out, *len, *notes and *r as sipmsg_parse_datagram would have, adds the
 * counts to *st and returns true; otherwise it touches nothing and returns
 * false (the caller parses).
 */
#define SIPMSG_PACK_MAX (sizeof(struct sip_msg) + 512)
size_t sipmsg_pack_datagram(struct sw_bytes dgram, size_t max_msg, unsigned flags,
                            struct sip_msg *m, uint8_t *out, size_t cap);
bool sipmsg_unpack_datagram(struct sw_bytes blob, struct sw_bytes dgram, size_t max_msg,
                            unsigned flags, struct sip_msg *out, struct sipmsg_stats *st,
                            size_t *len, unsigned *notes, enum sipmsg_result *r);

/* Splits a SIP/SIPS/TEL URI (NUL-terminated, e.g. from request_uri or
 * to_uri) into user (URI parameters such as ";user=phone" stripped; '+' and
 * digits kept as sent; percent-escapes kept) and host (no port). Either may
 * come back "". */
void sipmsg_uri_user_host(const char *uri, char *user, size_t user_cap, char *host,
                          size_t host_cap);

/* sip_messages, sip_requests, sip_responses, sip_fast_path, sip_full_parse,
 * sip_parse_errors, ... */
void sipmsg_counters(const struct sipmsg_stats *st, struct sw_counters *out);

#endif
