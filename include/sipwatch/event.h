/*
 * event.h - the plain-data events the tracker (and the pipeline, for stats)
 * produces and the reporter turns into NDJSON. This is the contract behind
 * the JSON schema in README.md: change both together.
 *
 * Every pointer in an event is borrowed for the duration of the emit call.
 * Optional strings are NULL when unknown (written as JSON null or omitted, as
 * README.md documents); optional times are SW_TIME_NONE; optional status
 * codes are 0.
 */
#ifndef SIPWATCH_EVENT_H
#define SIPWATCH_EVENT_H

#include "sipwatch/types.h"

enum sw_event_type {
    SW_EVENT_TRANSFER = 0,
    SW_EVENT_USER_NOT_FOUND,
    SW_EVENT_SCAN,
    SW_EVENT_STATS,
    SW_EVENT__COUNT
};

/* "transfer", "user_not_found", "scan", "stats". */
const char *sw_event_type_name(enum sw_event_type t);
/* Parses a comma-separated list of type names into a bit mask
 * (1u << type); returns false on an unknown name. */
bool sw_event_mask_parse(const char *list, unsigned *mask);

enum sw_transfer_outcome {
    SW_OUTCOME_COMPLETED = 0,      /* a NOTIFY's sipfrag carried 2xx */
    SW_OUTCOME_FAILED,             /* a NOTIFY's sipfrag carried a final >= 300 */
    SW_OUTCOME_NO_NOTIFY,          /* accepted (2xx), no NOTIFY in time or before end */
    SW_OUTCOME_NOTIFY_INCOMPLETE,  /* only provisional sipfrags, then timeout/terminated */
    SW_OUTCOME_REJECTED,           /* final >= 300 to the REFER */
    SW_OUTCOME_NO_RESPONSE,        /* no final response to the REFER in time */
    SW_OUTCOME_NOTIFY_NOT_REQUESTED, /* Refer-Sub: false: no NOTIFY owed */
    SW_OUTCOME_EVICTED,            /* dropped by --max-transfers before an outcome */
    SW_OUTCOME__COUNT
};

/* "completed", "failed", "no_notify", "notify_incomplete", "rejected",
 * "no_response", "notify_not_requested", "evicted". */
const char *sw_outcome_name(enum sw_transfer_outcome o);

/* The endpoints and agents of a transfer's dialog (RFC 3515 roles): the
 * transferor sends the REFER, the transferee receives it and places the
 * referred call. */
struct sw_transfer_parties {
    const char *from, *to;              /* the REFER's From and To values as sent */
    const char *transferor_ua;          /* the REFER's User-Agent */
    const char *transferee_ua;          /* Server (else User-Agent) of the REFER's
                                         * response, else of a NOTIFY (User-Agent) */
};

/* How the transferor answered the NOTIFYs (RFC 6665 §4.1.3: a NOTIFY answered
 * >= 300 is not accepted, so the transferor learned nothing from it). */
struct sw_notify_answers {
    unsigned answered_ok;               /* NOTIFYs answered 2xx (once each) */
    unsigned refused;                   /* NOTIFYs answered >= 300 (once each) */
    int last_refusal_status;            /* 0 none */
    const char *last_refusal_reason;
    unsigned unanswered;                /* NOTIFYs with no final response seen */
};

struct sw_event_transfer {
    enum sw_transfer_outcome outcome;
    const char *refer_to;        /* Refer-To URI, NULL if the REFER was not seen */
    const char *referred_by;     /* Referred-By value, NULL if absent */
    bool replaces;               /* Refer-To carries Replaces (attended transfer) */
    uint32_t refer_cseq;
    int refer_status;            /* final (else last) response to the REFER; 0 none */
    const char *refer_reason;    /* its reason phrase */
    unsigned notify_count;       /* distinct NOTIFYs (retransmissions count once) */
    int final_status;            /* last sipfrag status (final if any); 0 none */
    const char *final_reason;
    sw_time refer_time;          /* first REFER copy seen; NONE if not seen */
    sw_time accepted_time;       /* 2xx to the REFER (or implied by a NOTIFY); NONE */
    sw_time wait;                /* accepted_time -> event time; SW_TIME_NONE if n/a */
    const char *subscription_state; /* last Subscription-State value as sent, or NULL */
    bool truncated;              /* settled by end of input, not by the wire/timer */
    struct sw_transfer_parties parties;
    struct sw_notify_answers notify;
    /* A completed/failed outcome that the transferor never accepted a NOTIFY
     * of: every NOTIFY it answered was refused (>= 300). */
    bool transferor_uninformed;
    unsigned auth_challenges;    /* 401/407 to the REFER followed by a retry */
};

struct sw_event_not_found {
    const char *method;          /* request method (CSeq method if request unseen) */
    uint32_t cseq;               /* CSeq number of the transaction (its ladder); not written */
    const char *request_uri;     /* NULL if the request was not captured */
    const char *user;            /* user part, URI parameters stripped */
    const char *domain;          /* host part */
    const char *from, *to;       /* header values as sent */
    const char *user_agent;      /* of the request; NULL if unseen/absent */
    const char *server;          /* Server, else User-Agent, of the response */
    int status;                  /* 404 or 604 */
    const char *reason;
    const char *warning;         /* Warning header of the response, or NULL */
    sw_time rtt;                 /* request -> final response; SW_TIME_NONE if unknown */
};

#define SW_SCAN_MAX_SAMPLE 20
#define SW_SCAN_MAX_LIST 8
struct sw_event_scan {
    const char *src_ip;
    uint64_t count;              /* not-found answers to this source in the window */
    uint64_t distinct_users;
    const char *users[SW_SCAN_MAX_SAMPLE];
    size_t n_users;
    const char *methods[SW_SCAN_MAX_LIST];
    size_t n_methods;
    const char *user_agents[SW_SCAN_MAX_LIST];
    size_t n_user_agents;
    sw_time first_time, last_time;
    sw_time window;
};

#define SW_SUMMARY_TOP 10
struct sw_top_entry {
    const char *key;
    uint64_t count;
};
/* The not-found summary carried by the stats event. */
struct sw_not_found_summary {
    uint64_t status_404, status_604;
    struct sw_top_entry top_users[SW_SUMMARY_TOP];
    size_t n_top_users;
    struct sw_top_entry top_sources[SW_SUMMARY_TOP];
    size_t n_top_sources;
};

/* Transfer outcome totals carried by the stats event. */
struct sw_transfer_summary {
    uint64_t by_outcome[SW_OUTCOME__COUNT];
};

/* The run behind a stats event (main fills it: only it reads the wall clock). */
struct sw_run_info {
    const char *version;
    sw_time start_time;                  /* wall clock at start; SW_TIME_NONE unknown */
    sw_time uptime;                      /* wall time since start; SW_TIME_NONE unknown */
    const char *const *inputs;           /* files read ("-" stdin) or interfaces */
    size_t n_inputs;
};

struct sw_event_stats {
    const struct sw_counters *counters;  /* in module order, each with its stage */
    const struct sw_run_info *run;       /* may be NULL */
    const struct sw_not_found_summary *not_found;  /* may be NULL */
    const struct sw_transfer_summary *transfers;   /* may be NULL */
    bool final;                          /* the last stats event of the run */
};

/* One SIP message behind an event (its ladder, in capture order). */
#define SW_MAX_LADDER 32
enum sw_msg_copy {
    SW_MSG_ORIGINAL = 0,         /* first sight of this message */
    SW_MSG_RETRANSMISSION,       /* same message again on the same leg */
    SW_MSG_OTHER_LEG,            /* same message seen on another hop (proxy leg) */
};
struct sw_ladder_msg {
    sw_time ts;
    struct sw_tuple tuple;       /* src -> dst, transport set */
    bool is_request;
    const char *method;          /* requests: method; responses: NULL */
    const char *request_uri;     /* requests */
    int status;                  /* responses */
    const char *reason;          /* responses */
    uint32_t cseq;
    const char *cseq_method;
    enum sw_msg_copy copy;
};
struct sw_ladder {
    const struct sw_ladder_msg *msgs;   /* n entries, borrowed */
    size_t n;
    bool truncated;              /* more messages than kept */
};

/* Where the event came from: the input and frame that made it known (for a
 * timer, the packet whose time passed its deadline; none at end of input or
 * on a quiet live link), and for HEP-carried messages the capture agent. The
 * pipeline and main fill it; producers leave it zero, except for an event
 * they held back (an INVITE's 404 waiting for its ACK): they take the origin
 * of the frame that made it known (tracker_set_origin_hook) and set `fixed`. */
struct sw_event_origin {
    const char *pcap_filename;   /* input file, NULL live ("-" for stdin) */
    uint64_t pcap_cnt;           /* 1-based frame number in that file; 0 unknown */
    const char *in_iface;        /* live interface, NULL for files */
    bool hep;                    /* triggering message came in a HEP record */
    uint32_t hep_capture_id;
    struct sw_addr hep_agent;    /* address the HEP record came from */
    uint16_t hep_agent_port;
    bool fixed;                  /* pcap_filename, pcap_cnt, in_iface already set */
};

/* The evidence file written for the event (evidence stage), or none. */
struct sw_event_evidence {
    const char *path;            /* relative to --evidence DIR; NULL none */
    bool complete;               /* every frame of the dialog was still held */
};

struct sw_event {
    enum sw_event_type type;
    sw_time ts;                  /* capture time the outcome became known */
    const char *call_id;         /* NULL for stats */
    bool has_tuple;              /* false for stats */
    struct sw_tuple tuple;       /* src = REFER sender / request sender */
    union {
        struct sw_event_transfer transfer;
        struct sw_event_not_found not_found;
        struct sw_event_scan scan;
        struct sw_event_stats stats;
    } u;
    struct sw_ladder ladder;     /* transfer, user_not_found, scan; n = 0 none */
    struct sw_event_origin origin;
    struct sw_event_evidence evidence;
};

/* The IP protocol number a SIP transport travels on (UDP 17; TCP, TLS, WS,
 * WSS 6; SCTP 132; 0 unknown): the envelope's `proto` and Community ID. */
static inline uint8_t sw_transport_ip_proto(enum sw_transport t)
{
    switch (t) {
    case SW_TRANSPORT_UDP:
        return 17;
    case SW_TRANSPORT_TCP:
    case SW_TRANSPORT_TLS:
    case SW_TRANSPORT_WS:
    case SW_TRANSPORT_WSS:
        return 6;
    case SW_TRANSPORT_SCTP:
        return 132;
    case SW_TRANSPORT_UNKNOWN:
        break;
    }
    return 0;
}

/* Where a producer delivers events; `ev` is borrowed for the call. */
typedef void sw_emit_fn(void *ctx, const struct sw_event *ev);

#endif
