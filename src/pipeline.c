/*
 * pipeline.c - connects the stages (see pipeline.h) and owns the capture
 * clock. Each stage yields 0..N outputs per input through a callback; this
 * file is the only one that knows which stage follows which:
 *
 *   frame -> decode -> (fragment? ipfrag -> decode_ip_payload) ->
 *     UDP / HEP payload -> sipframe_datagram_whole ---------\
 *     TCP segment -> tcpstream -> per-direction app state:   -> sipmsg -> tracker -> emit
 *         HEP port: HEP record framing -> decode_hep --------/
 *         else: sipframe_stream (SIP, SIP over WebSocket) --/
 * A datagram that starts with its start line is framed by sipmsg's scanner
 * as it parses (sipframe_datagram_whole -> sipmsg_parse_datagram): its header
 * lines are walked once.
 */
#include "sipwatch/pipeline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sipwatch/heporigin.h"
#include "sipwatch/sipframe.h"
#include "sipwatch/sipmsg.h"

/* HEP over TCP: records are at most 64 KiB (16-bit length). */
#define HEP_STREAM_MAX ((size_t)65536)

/* Evidence: the segments whose bytes the direction's framer may still hold,
 * oldest first (only with --evidence). */
struct ev_pend {
    uint64_t id;
    size_t len;
};

struct stream_app {
    struct sipframe_stream *fs; /* SIP / WebSocket framing, or NULL in HEP mode */
    bool is_hep;
    uint8_t *hep; /* HEP mode: partial record, grown up to HEP_STREAM_MAX, NULL when empty */
    size_t hep_n, hep_cap;
    struct ev_pend *pend; /* EVIDENCE_MAX_IDS entries, allocated with --evidence */
    size_t n_pend;
    bool pend_lost;       /* a held segment was forgotten (more than the list holds) */
};

struct pipeline {
    struct pipeline_config cfg;
    sw_emit_fn *emit;
    void *emit_ctx;

    struct decode *decode;
    struct ipfrag *ipfrag;
    struct tcpstream *tcp;
    struct tracker *tracker;
    struct evidence *evid;       /* NULL unless --evidence */

    /* the frames the message being framed came from (evidence) */
    uint64_t msg_ids[EVIDENCE_MAX_IDS];
    size_t n_msg_ids;
    bool msg_ids_complete;
    struct stream_app *feed_app; /* the stream being fed, NULL for datagrams */
    unsigned feed_msgs;          /* messages framed from it in this feed */
    uint32_t wire_len;

    struct sipframe_stats frame_stats;
    struct sipmsg_stats msg_stats;
    struct sip_msg msg;          /* scratch: one message at a time */
    struct sw_bytes ahead;       /* the frame's parse done ahead (pipeline_set_ahead) */
    uint64_t ahead_used;

    sw_time now;
    sw_time next_stats;
    sw_time last_coarse;         /* ipfrag/tcpstream timers run once per second */
    struct sw_tuple cur_tuple;   /* tuple of the bytes being framed */
    size_t stream_bytes;         /* partial messages held by all stream framers */
    size_t stream_bytes_peak;
    uint64_t packets, hep_stream_errors, stream_app_oom, clock_backwards, stream_bytes_dropped;
    uint64_t frag_too_deep;
    /* clock discontinuities (clock_frame) */
    sw_time clock_offset;        /* added to frame stamps after a backward re-base */
    sw_time jump_last;           /* last stamp of the current run of far-off frames */
    unsigned jump_run;           /* frames in that run */
    uint64_t clock_jumps_forward, clock_jumps_backward, clock_rebased;
    struct sw_budget budget;     /* one memory ceiling for every table (budget.h) */
    size_t stream_charged;       /* stream_bytes as charged to it */
    unsigned depth;              /* reassembled-datagram recursion guard */
    const char *cur_file;        /* origin of the frame being handled (events' envelope) */
    uint64_t cur_number;
    /* The HEP envelope of the message being handled (set for every decoded
     * packet, cleared for plain ones), for the event's origin: whoever stamps
     * sw_event_origin on an emitted event copies these (pipeline_hep_origin)
     * -- cur_hep, cur_hep_capture_id, cur_hep_agent, cur_hep_agent_port. A
     * timer-fired event gets the HEP info of the packet whose time fired it. */
    bool cur_hep;
    struct heporigin *hep_dialogs; /* Call-ID -> agent, for events a timer fires */
    uint32_t cur_hep_capture_id;
    struct sw_addr cur_hep_agent;
    uint16_t cur_hep_agent_port;
};

/* Every event passes here on its way out: the envelope's origin is the frame
 * being handled (for a timer, the frame whose time passed the deadline), or
 * none at end of input and on a quiet live link. */
static void stamp_emit(void *ctx, const struct sw_event *ev)
{
    struct pipeline *p = ctx;
    struct sw_event e = *ev;
    if (!e.origin.fixed) {
        e.origin.pcap_filename = p->cur_file;
        e.origin.pcap_cnt = p->cur_number;
        e.origin.in_iface = p->cfg.in_iface;
    }
    /* A dialog's events name the agent that sent its messages, also when a
     * timer fires them; an event without a dialog (scan), the agent of the
     * message being handled. */
    if (ev->call_id != NULL)
        heporigin_find(p->hep_dialogs, ev->call_id, &e.origin);
    else if (ev->type != SW_EVENT_STATS)
        pipeline_hep_origin(p, &e.origin);
    if (p->evid != NULL && e.type != SW_EVENT_STATS)
        evidence_event(p->evid, &e); /* emit -> evidence -> reporters */
    p->emit(p->emit_ctx, &e);
}

/* A held event's origin: the frame being handled now (see stamp_emit). */
static void origin_hook(void *ctx, struct sw_event_origin *o)
{
    const struct pipeline *p = ctx;
    o->pcap_filename = p->cur_file;
    o->pcap_cnt = p->cur_number;
    o->in_iface = p->cfg.in_iface;
    o->fixed = true;
}

static void keep_hook(void *ctx, const char *call_id, enum tracker_keep level)
{
    struct pipeline *p = ctx;
    evidence_keep(p->evid, call_id, (int)level);
}

/* Hands the message just parsed to the evidence stage with its frames. */
static void evidence_msg(struct pipeline *p)
{
    struct stream_app *app = p->feed_app;
    if (app == NULL) {
        evidence_message(p->evid, p->msg.call_id, p->msg_ids, p->n_msg_ids, p->msg_ids_complete);
        return;
    }
    /* A stream: the first message of this feed may have begun in segments
     * held from earlier feeds; the ones after it began in this segment. */
    uint64_t ids[EVIDENCE_MAX_IDS];
    size_t n = 0;
    size_t from = p->feed_msgs++ == 0 || app->is_hep ? 0 : app->n_pend - 1;
    for (size_t i = from; i < app->n_pend; i++)
        ids[n++] = app->pend[i].id;
    evidence_message(p->evid, p->msg.call_id, ids, n, !app->pend_lost);
}

/* Before a stream feed: this run's segment joins the pending list. */
static void pend_push(struct pipeline *p, struct stream_app *app, size_t len)
{
    if (app->pend == NULL) {
        app->pend = calloc(EVIDENCE_MAX_IDS, sizeof *app->pend);
        if (app->pend == NULL) {
            p->stream_app_oom++;
            return;
        }
    }
    uint64_t id = tcpstream_run_tag(p->tcp);
    if (app->n_pend > 0 && app->pend[app->n_pend - 1].id == id) {
        app->pend[app->n_pend - 1].len += len;
    } else {
        if (app->n_pend == EVIDENCE_MAX_IDS) {
            memmove(app->pend, app->pend + 1, (EVIDENCE_MAX_IDS - 1) * sizeof *app->pend);
            app->n_pend--;
            app->pend_lost = true;
        }
        app->pend[app->n_pend].id = id;
        app->pend[app->n_pend].len = len;
        app->n_pend++;
    }
    p->feed_app = app;
    p->feed_msgs = 0;
}

/* After a stream feed: forget the segments none of whose bytes are still
 * buffered (the buffered bytes are the newest ones). */
static void pend_trim(struct pipeline *p, struct stream_app *app, size_t buffered)
{
    p->feed_app = NULL;
    if (app->pend == NULL)
        return;
    size_t total = 0, drop = 0;
    for (size_t i = 0; i < app->n_pend; i++)
        total += app->pend[i].len;
    while (drop < app->n_pend && total - app->pend[drop].len >= buffered) {
        total -= app->pend[drop].len;
        drop++;
        if (buffered == 0 && total == 0)
            break;
    }
    if (buffered == 0)
        drop = app->n_pend;
    memmove(app->pend, app->pend + drop, (app->n_pend - drop) * sizeof *app->pend);
    app->n_pend -= drop;
    if (app->n_pend == 0)
        app->pend_lost = false;
}

void pipeline_set_origin(struct pipeline *p, const char *file, uint64_t number)
{
    p->cur_file = file;
    p->cur_number = number;
    p->cur_hep = false; /* set again when this frame turns out to carry HEP */
}

void pipeline_config_default(struct pipeline_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->decode.hep_port = DECODE_DEFAULT_HEP_PORT;
    cfg->decode.vxlan_port = DECODE_DEFAULT_VXLAN_PORT;
    cfg->decode.gtpu_port = DECODE_DEFAULT_GTPU_PORT;
    cfg->decode.max_depth = 8;
    cfg->ipfrag.max_datagrams = IPFRAG_DEFAULT_MAX_DATAGRAMS;
    cfg->ipfrag.max_bytes = IPFRAG_DEFAULT_MAX_BYTES;
    cfg->ipfrag.timeout = IPFRAG_DEFAULT_TIMEOUT;
    cfg->tcp.max_streams = TCPSTREAM_DEFAULT_MAX_STREAMS;
    cfg->tcp.max_ooo_per_dir = TCPSTREAM_DEFAULT_MAX_OOO_PER_DIR;
    cfg->tcp.max_ooo_total = TCPSTREAM_DEFAULT_MAX_OOO_TOTAL;
    cfg->tcp.idle_timeout = TCPSTREAM_DEFAULT_IDLE_TIMEOUT;
    tracker_config_default(&cfg->tracker);
    evidence_config_default(&cfg->evidence);
    cfg->max_msg = SIPFRAME_DEFAULT_MAX_MSG;
    cfg->max_stream_bytes = PIPELINE_DEFAULT_MAX_STREAM_BYTES;
}

/* One framed SIP message travelling along p->cur_tuple. */
static void on_message(void *ctx, struct sw_bytes msg, enum sw_transport transport)
{
    struct pipeline *p = ctx;
    /* SIPMSG_LAZY: the tracker reads only the fields it promises (tracker.h) */
    if (sipmsg_parse(msg, p->cfg.sipmsg_flags | SIPMSG_LAZY, &p->msg, &p->msg_stats) != SIPMSG_OK)
        return;
    struct sw_tuple t = p->cur_tuple;
    t.transport = (uint8_t)transport;
    if (p->cur_hep)
        heporigin_note(p->hep_dialogs, p->msg.call_id, p->cur_hep_capture_id, &p->cur_hep_agent,
                       p->cur_hep_agent_port);
    if (p->evid != NULL)
        evidence_msg(p); /* first: an event this message makes has its frame */
    tracker_on_msg(p->tracker, &p->msg, &t, p->now);
}

/* A whole datagram from its start line: the scanner frames it as it parses. */
static void on_datagram(void *ctx, struct sw_bytes dgram, enum sw_transport transport, size_t *len,
                        unsigned *notes)
{
    struct pipeline *p = ctx;
    unsigned flags = p->cfg.sipmsg_flags | SIPMSG_LAZY;
    enum sipmsg_result r;
    if (p->ahead.n > 0 && sipmsg_unpack_datagram(p->ahead, dgram, p->cfg.max_msg, flags, &p->msg,
                                                 &p->msg_stats, len, notes, &r))
        p->ahead_used++;
    else
        r = sipmsg_parse_datagram(dgram, p->cfg.max_msg, flags, &p->msg, &p->msg_stats, len,
                                  notes);
    p->ahead.n = 0; /* one datagram per frame */
    if (r != SIPMSG_OK)
        return;
    struct sw_tuple t = p->cur_tuple;
    t.transport = (uint8_t)transport;
    if (p->cur_hep)
        heporigin_note(p->hep_dialogs, p->msg.call_id, p->cur_hep_capture_id, &p->cur_hep_agent,
                       p->cur_hep_agent_port);
    if (p->evid != NULL)
        evidence_msg(p); /* first: an event this message makes has its frame */
    tracker_on_msg(p->tracker, &p->msg, &t, p->now);
}

static void handle_decoded(struct pipeline *p, enum decode_result r, struct decode_packet *pkt);

/* Room for `need` held bytes; the buffer grows with the record, so that
 * the bytes charged to max_stream_bytes (hep_n) are what the stream costs. */
static bool hep_reserve(struct stream_app *app, size_t need)
{
    if (need <= app->hep_cap)
        return true;
    size_t cap = app->hep_cap ? app->hep_cap : 4096;
    while (cap < need)
        cap *= 2;
    cap = SW_MIN(cap, HEP_STREAM_MAX);
    uint8_t *b = realloc(app->hep, cap);
    if (b == NULL)
        return false;
    app->hep = b;
    app->hep_cap = cap;
    return true;
}

static void hep_release(struct stream_app *app)
{
    app->hep_n = 0;
    free(app->hep);
    app->hep = NULL;
    app->hep_cap = 0;
}

/* `t` is the stream's direction: its source is the agent sending the records. */
static void handle_hep_stream(struct pipeline *p, struct stream_app *app, const struct sw_tuple *t,
                              struct sw_bytes data)
{
    while (data.n > 0) {
        size_t room = HEP_STREAM_MAX - app->hep_n;
        size_t take = SW_MIN(room, data.n);
        if (!hep_reserve(app, app->hep_n + take)) {
            p->stream_app_oom++; /* the partial record is lost; resync on what follows */
            hep_release(app);
            return;
        }
        memcpy(app->hep + app->hep_n, data.p, take);
        app->hep_n += take;
        data.p += take;
        data.n -= take;
        for (;;) {
            size_t len = 0;
            int fr = decode_hep_frame(sw_bytes_make(app->hep, app->hep_n), &len);
            if (fr < 0 || (fr == 0 && app->hep_n == HEP_STREAM_MAX)) {
                p->hep_stream_errors++;
                app->hep_n = 0; /* not HEP, or a record over the cap: drop what is held */
                break;
            }
            if (fr == 0)
                break;
            struct decode_packet pkt;
            memset(&pkt, 0, sizeof pkt);
            enum decode_result r = decode_hep(p->decode, sw_bytes_make(app->hep, len), p->now, &pkt);
            pkt.hep_agent = t->src;
            pkt.hep_agent_port = t->sport;
            handle_decoded(p, r, &pkt);
            memmove(app->hep, app->hep + len, app->hep_n - len);
            app->hep_n -= len;
        }
    }
    if (app->hep_n == 0)
        hep_release(app); /* most records come whole: idle streams hold nothing */
}

/* The partial messages' bytes, as charged to the memory budget. */
static void stream_sync(struct pipeline *p)
{
    if (p->stream_bytes > p->stream_charged)
        sw_budget_charge(&p->budget, p->stream_bytes - p->stream_charged);
    else
        sw_budget_release(&p->budget, p->stream_charged - p->stream_bytes);
    p->stream_charged = p->stream_bytes;
}

/* Over max_stream_bytes, or over the memory budget: this stream's partial
 * message goes (counted in memory_evictions when the budget is the cause). */
static bool stream_over(struct pipeline *p)
{
    stream_sync(p);
    if (p->stream_bytes > p->cfg.max_stream_bytes)
        return true;
    if (!sw_budget_over(&p->budget))
        return false;
    sw_budget_evicted(&p->budget);
    return true;
}

static void on_stream(void *ctx, const struct sw_tuple *t, struct sw_bytes data, unsigned flags,
                      sw_time ts, void **slot)
{
    struct pipeline *p = ctx;
    struct stream_app *app = *slot;
    if (flags & TCPSTREAM_CLOSE) {
        if (app != NULL) {
            if (app->fs != NULL)
                p->stream_bytes -= sipframe_stream_buffered(app->fs);
            p->stream_bytes -= app->hep_n;
            stream_sync(p);
            sipframe_stream_free(app->fs);
            free(app->hep);
            free(app->pend);
            free(app);
        }
        *slot = NULL;
        return;
    }
    if (flags & TCPSTREAM_DUPLICATE) {
        /* a copy of bytes already seen: it carried the message being
         * assembled too (tshark lists it among the segments) */
        if (app != NULL && p->evid != NULL && app->n_pend > 0 && app->pend != NULL &&
            app->n_pend < EVIDENCE_MAX_IDS) {
            app->pend[app->n_pend].id = tcpstream_run_tag(p->tcp);
            app->pend[app->n_pend].len = 0;
            app->n_pend++;
        }
        return;
    }
    if (app == NULL) {
        app = calloc(1, sizeof *app);
        if (app == NULL) {
            p->stream_app_oom++;
            return;
        }
        uint16_t hp = p->cfg.decode.hep_port;
        /* HEP3 on any port: a stream whose first bytes are the magic (an
         * agent's connection starts with a record). */
        bool hep3 = data.n >= 4 && memcmp(data.p, "HEP3", 4) == 0;
        if (hep3 || (hp != 0 && (t->sport == hp || t->dport == hp)))
            app->is_hep = true; /* its buffer is allocated as records arrive */
        else
            app->fs = sipframe_stream_new(p->cfg.max_msg, (flags & TCPSTREAM_MIDSTREAM) != 0);
        if (!app->is_hep && app->fs == NULL) {
            free(app);
            p->stream_app_oom++;
            return;
        }
        *slot = app;
    }
    if (app->is_hep) {
        /* HEP's partial records count against max_stream_bytes like SIP's
         * partial messages: without that, every stream on the HEP port could
         * hold 64 KiB outside any cap. */
        size_t before = app->hep_n;
        if (flags & TCPSTREAM_GAP_BEFORE)
            app->hep_n = 0;
        if (p->evid != NULL)
            pend_push(p, app, data.n);
        handle_hep_stream(p, app, t, data);
        if (p->evid != NULL)
            pend_trim(p, app, app->hep_n);
        p->stream_bytes = p->stream_bytes - before + app->hep_n;
        if (stream_over(p)) {
            p->stream_bytes -= app->hep_n;
            p->stream_bytes_dropped += app->hep_n;
            hep_release(app);
            stream_sync(p);
        }
        if (p->stream_bytes > p->stream_bytes_peak)
            p->stream_bytes_peak = p->stream_bytes;
        return;
    }
    p->cur_tuple = *t;
    size_t before = sipframe_stream_buffered(app->fs);
    if (p->evid != NULL)
        pend_push(p, app, data.n);
    sipframe_stream_feed(app->fs, data, (flags & TCPSTREAM_GAP_BEFORE) ? SIPFRAME_GAP : 0,
                         on_message, p, &p->frame_stats);
    size_t after = sipframe_stream_buffered(app->fs);
    if (p->evid != NULL)
        pend_trim(p, app, after);
    p->stream_bytes = p->stream_bytes - before + after;
    if (stream_over(p)) {
        /* Many streams each holding a partial message: the total cap drops
         * this one's partial message; it resyncs on its next start line. */
        struct sipframe_stream *fresh = sipframe_stream_new(p->cfg.max_msg, true);
        if (fresh != NULL) {
            p->stream_bytes -= after;
            p->stream_bytes_dropped += after;
            sipframe_stream_free(app->fs);
            app->fs = fresh;
            stream_sync(p);
        }
    }
    if (p->stream_bytes > p->stream_bytes_peak)
        p->stream_bytes_peak = p->stream_bytes;
}

/* A decoded packet whose payload is framed as a datagram (UDP, or HEP over
 * any transport), not fed to TCP reassembly; pipeline_ahead asks the same. */
static inline bool framed_as_datagram(const struct decode_packet *pkt)
{
    return pkt->from_hep || pkt->tuple.transport != SW_TRANSPORT_TCP;
}

static void handle_decoded(struct pipeline *p, enum decode_result r, struct decode_packet *pkt)
{
    if (r == DECODE_FRAGMENT) {
        struct sw_bytes dgram;
        if (p->depth >= 4) { /* fragments inside reassembled fragments inside ... */
            p->frag_too_deep++;
            return;
        }
        if (p->evid != NULL) {
            evidence_frame_hold(p->evid);
            ipfrag_set_tag(p->ipfrag, p->packets);
        }
        if (ipfrag_add(p->ipfrag, &pkt->frag, pkt->payload, p->now, &dgram) != IPFRAG_COMPLETE)
            return;
        if (p->evid != NULL) {
            /* the datagram's messages came from every fragment that carried its bytes */
            size_t n;
            bool complete;
            const uint64_t *tags = ipfrag_tags(p->ipfrag, &n, &complete);
            p->n_msg_ids = SW_MIN(n, (size_t)EVIDENCE_MAX_IDS);
            memcpy(p->msg_ids, tags, p->n_msg_ids * sizeof *tags);
            p->msg_ids_complete = complete && n <= EVIDENCE_MAX_IDS;
        }
        struct decode_packet inner;
        memset(&inner, 0, sizeof inner);
        enum decode_result r2 = decode_ip_payload(p->decode, &pkt->frag, dgram, pkt->ts, &inner);
        p->depth++;
        handle_decoded(p, r2, &inner);
        p->depth--;
        return;
    }
    if (r != DECODE_OK)
        return; /* decode counted why */
    p->cur_hep = pkt->from_hep;
    p->cur_hep_capture_id = pkt->hep_capture_id;
    p->cur_hep_agent = pkt->hep_agent;
    p->cur_hep_agent_port = pkt->hep_agent_port;
    if (framed_as_datagram(pkt)) {
        p->cur_tuple = pkt->tuple;
        sipframe_datagram_whole(pkt->payload, p->cfg.max_msg,
                                (enum sw_transport)pkt->tuple.transport, on_message, on_datagram, p,
                                &p->frame_stats);
        return;
    }
    if (p->evid != NULL) {
        if (pkt->payload.n > 0)
            evidence_frame_hold(p->evid); /* its bytes may stay in reassembly */
        tcpstream_set_tag(p->tcp, p->packets);
    }
    tcpstream_segment(p->tcp, &pkt->tuple, pkt->tcp_seq, pkt->tcp_flags, pkt->payload, p->now);
}

struct pipeline *pipeline_new(const struct pipeline_config *cfg, sw_emit_fn *emit, void *ctx,
                              char errbuf[SW_ERRBUF_SIZE])
{
    struct pipeline *p = calloc(1, sizeof *p);
    if (p == NULL)
        goto oom;
    p->cfg = *cfg;
    p->emit = emit;
    p->emit_ctx = ctx;
    p->now = SW_TIME_NONE;
    p->next_stats = SW_TIME_NONE;
    p->last_coarse = SW_TIME_NONE;
    sw_budget_init(&p->budget, cfg->max_memory > 0 ? cfg->max_memory : SW_BUDGET_DEFAULT_CAP);
    p->cfg.ipfrag.budget = &p->budget;
    p->cfg.tcp.budget = &p->budget;
    p->cfg.tracker.budget = &p->budget;
    p->decode = decode_new(&cfg->decode);
    p->ipfrag = ipfrag_new(&p->cfg.ipfrag);
    p->tcp = tcpstream_new(&p->cfg.tcp, on_stream, p);
    p->tracker = tracker_new(&p->cfg.tracker, stamp_emit, p);
    p->hep_dialogs = heporigin_new(HEPORIGIN_DEFAULT_MAX);
    if (p->tracker != NULL)
        tracker_set_origin_hook(p->tracker, origin_hook, p);
    if (cfg->evidence.dir != NULL) {
        p->evid = evidence_new(&cfg->evidence, errbuf);
        if (p->evid == NULL) {
            pipeline_free(p);
            return NULL;
        }
        if (p->tracker != NULL)
            tracker_set_keep_hook(p->tracker, keep_hook, p);
    }
    if (p->decode == NULL || p->ipfrag == NULL || p->tcp == NULL || p->tracker == NULL ||
        p->hep_dialogs == NULL)
        goto oom;
    return p;
oom:
    snprintf(errbuf, SW_ERRBUF_SIZE, "out of memory setting up the pipeline");
    pipeline_free(p);
    return NULL;
}

void pipeline_free(struct pipeline *p)
{
    if (p == NULL)
        return;
    tcpstream_free(p->tcp); /* closes streams: their app state is freed by on_stream */
    ipfrag_free(p->ipfrag);
    decode_free(p->decode);
    tracker_free(p->tracker);
    heporigin_free(p->hep_dialogs);
    evidence_free(p->evid);
    free(p);
}

sw_time pipeline_now(const struct pipeline *p)
{
    return p->now;
}

/* Moves the clock forward to `now` (> p->now) and runs every due timer. */
static void clock_set(struct pipeline *p, sw_time now)
{
    p->now = now;
    if (p->last_coarse == SW_TIME_NONE || now - p->last_coarse >= SW_USEC_PER_SEC) {
        p->last_coarse = now;
        ipfrag_advance(p->ipfrag, now);
        tcpstream_advance(p->tcp, now);
    }
    tracker_advance(p->tracker, now);
    if (p->evid != NULL)
        evidence_advance(p->evid, now);
    if (p->cfg.stats_interval > 0) {
        if (p->next_stats == SW_TIME_NONE) {
            p->next_stats = now + p->cfg.stats_interval;
        } else if (now >= p->next_stats) {
            pipeline_emit_stats(p, false);
            p->next_stats = now + p->cfg.stats_interval;
        }
    }
}

/* A live idle tick (main.c, quiet link): moves the clock on, counts nothing;
 * a tick more than PIPELINE_CLOCK_JUMP ahead (the wall clock stepped) is
 * ignored, the frames decide (clock_frame). */
void pipeline_advance(struct pipeline *p, sw_time now)
{
    if (p->now == SW_TIME_NONE) {
        clock_set(p, now);
        return;
    }
    now += p->clock_offset;
    if (now > p->now && now - p->now <= PIPELINE_CLOCK_JUMP)
        clock_set(p, now);
}

static sw_time time_dist(sw_time a, sw_time b)
{
    return a > b ? a - b : b - a;
}

/*
 * A frame's stamp -> the clock (issue 10: clock discontinuities). A stamp
 * within PIPELINE_CLOCK_JUMP of the clock moves it on (or, behind it, counts
 * clock_backwards and is processed at the clock's time). A stamp farther off
 * (a year ahead, an hour back) does not move the clock: the frame is
 * processed at the clock's time and counted (clock_jumps_forward /
 * clock_jumps_backward), so one bad stamp neither fires every timer nor
 * freezes them. When PIPELINE_CLOCK_AGREE frames in a row are far off and
 * agree with each other (each within PIPELINE_CLOCK_JUMP of the one
 * before), the capture's time really moved: the clock is re-based
 * (clock_rebased). Forward, it jumps to the new time (the time passed: due
 * timers fire). Backward, later stamps are shifted by the jump so that the
 * clock goes on from where it was, and timers keep running relative to the
 * new stamps (events then carry the shifted, monotonic time).
 */
static void clock_frame(struct pipeline *p, sw_time ts)
{
    if (p->now == SW_TIME_NONE) {
        clock_set(p, ts);
        return;
    }
    if (ts > INT64_MAX / 2 || ts < INT64_MIN / 2)
        ts = ts > 0 ? INT64_MAX / 2 : INT64_MIN / 2; /* no overflow below */
    sw_time t = ts + p->clock_offset;
    if (time_dist(t, p->now) <= PIPELINE_CLOCK_JUMP) {
        p->jump_run = 0;
        if (t > p->now)
            clock_set(p, t);
        else if (t < p->now)
            p->clock_backwards++;
        return;
    }
    if (p->jump_run > 0 && time_dist(t, p->jump_last) <= PIPELINE_CLOCK_JUMP)
        p->jump_run++;
    else
        p->jump_run = 1;
    p->jump_last = t;
    if (p->jump_run < PIPELINE_CLOCK_AGREE) {
        if (t > p->now) {
            p->clock_jumps_forward++;
        } else {
            p->clock_jumps_backward++;
            p->clock_backwards++;
        }
        return;
    }
    p->jump_run = 0;
    p->clock_rebased++;
    if (t > p->now)
        clock_set(p, t);
    else
        p->clock_offset += p->now - t; /* this frame: at the clock's time */
}

void pipeline_set_wire_len(struct pipeline *p, uint32_t wire_len)
{
    p->wire_len = wire_len;
}

void pipeline_frame(struct pipeline *p, int linktype, struct sw_bytes frame, sw_time ts)
{
    p->cur_hep = false; /* until decode finds HEP in this frame */
    clock_frame(p, ts);
    p->packets++; /* also the frame's id, for the evidence stage */
    if (p->evid != NULL) {
        uint32_t wl = p->wire_len > frame.n ? p->wire_len : (uint32_t)frame.n;
        evidence_frame(p->evid, p->packets, linktype, ts, frame, wl);
        p->msg_ids[0] = p->packets;
        p->n_msg_ids = 1;
        p->msg_ids_complete = true;
    }
    p->wire_len = 0;
    struct decode_packet pkt; /* cleared by decode_frame */
    enum decode_result r = decode_frame(p->decode, linktype, frame, p->now, &pkt);
    handle_decoded(p, r, &pkt);
    p->ahead.n = 0;
}

void pipeline_set_ahead(struct pipeline *p, struct sw_bytes packed)
{
    p->ahead = packed;
}

uint64_t pipeline_ahead_used(const struct pipeline *p)
{
    return p->ahead_used;
}

/* The ahead's working state is allocated by the thread that runs it, on its
 * first frame: glibc then takes it from that thread's arena, away from the
 * lines the analysing thread writes (a shared line would cross between the
 * cores on every frame). */
struct ahead_state {
    struct decode *decode;
    struct sip_msg msg; /* scratch */
};

struct pipeline_ahead {
    struct decode_config dcfg;
    size_t max_msg;
    unsigned flags;
    struct ahead_state *st; /* NULL until the first frame */
    bool failed;            /* out of memory: frames are not parsed ahead */
};

struct pipeline_ahead *pipeline_ahead_new(const struct pipeline_config *cfg)
{
    /* its own cache lines: read per frame by the other thread */
    size_t size = (sizeof(struct pipeline_ahead) + 63) & ~(size_t)63;
    struct pipeline_ahead *a = aligned_alloc(64, size);
    if (a == NULL)
        return NULL;
    memset(a, 0, size);
    a->dcfg = cfg->decode;
    a->max_msg = cfg->max_msg;
    a->flags = cfg->sipmsg_flags | SIPMSG_LAZY; /* as on_datagram asks */
    return a;
}

void pipeline_ahead_free(struct pipeline_ahead *a)
{
    if (a == NULL)
        return;
    if (a->st != NULL) {
        decode_free(a->st->decode);
        free(a->st);
    }
    free(a);
}

size_t pipeline_ahead_max(void)
{
    return SIPMSG_PACK_MAX;
}

/* What handle_decoded does with a frame that decodes whole (no fragment):
 * UDP and HEP payloads go to sipframe_datagram_whole, and on to on_datagram
 * when they are whole messages. The payload must lie in the frame (not in a
 * decoder's HEP inflate buffer): the frame's bytes are what the pipeline
 * will see at the same address. */
size_t pipeline_ahead(void *ctx, int linktype, struct sw_bytes frame, sw_time ts, uint8_t *out,
                      size_t cap)
{
    struct pipeline_ahead *a = ctx;
    if (a->st == NULL) {
        if (a->failed)
            return 0;
        a->st = calloc(1, sizeof *a->st); /* every byte defined: copies run past NULs */
        if (a->st != NULL && (a->st->decode = decode_new(&a->dcfg)) == NULL) {
            free(a->st);
            a->st = NULL;
        }
        if (a->st == NULL) {
            a->failed = true;
            return 0;
        }
    }
    struct decode_packet pkt;
    if (decode_frame(a->st->decode, linktype, frame, ts, &pkt) != DECODE_OK)
        return 0;
    if (!framed_as_datagram(&pkt))
        return 0;
    struct sw_bytes d = pkt.payload;
    uintptr_t lo = (uintptr_t)frame.p, at = (uintptr_t)d.p;
    if (d.p == NULL || at < lo || d.n > frame.n || at - lo > frame.n - d.n ||
        !sipframe_datagram_is_whole(d, a->max_msg))
        return 0;
    return sipmsg_pack_datagram(d, a->max_msg, a->flags, &a->st->msg, out, cap);
}

bool pipeline_hep_record(struct pipeline *p, struct sw_bytes rec, const struct sw_addr *agent,
                         uint16_t agent_port, sw_time now)
{
    bool skewed = false;
    p->packets++;
    struct decode_packet pkt;
    memset(&pkt, 0, sizeof pkt);
    enum decode_result r = decode_hep(p->decode, rec, now, &pkt);
    /* The agent's capture time drives the clock, as a frame's does; an agent
     * whose clock is off by more than PIPELINE_HEP_MAX_SKEW from the arrival
     * time (no NTP, a replayed capture) would fire every timer at once or
     * none: its records take the arrival time. */
    /* Timers this record's time fires are stamped with it, as a frame's are. */
    p->cur_file = NULL;
    p->cur_number = 0;
    p->cur_hep = r == DECODE_OK;
    p->cur_hep_capture_id = pkt.hep_capture_id;
    p->cur_hep_agent = *agent;
    p->cur_hep_agent_port = agent_port;
    sw_time ts = pkt.ts;
    if (r == DECODE_OK && (ts > now + PIPELINE_HEP_MAX_SKEW || ts < now - PIPELINE_HEP_MAX_SKEW)) {
        skewed = true;
        ts = now;
    }
    clock_frame(p, ts);
    pkt.hep_agent = *agent;
    pkt.hep_agent_port = agent_port;
    handle_decoded(p, r, &pkt);
    return skewed;
}

void pipeline_hep_origin(const struct pipeline *p, struct sw_event_origin *o)
{
    o->hep = p->cur_hep;
    o->hep_capture_id = p->cur_hep ? p->cur_hep_capture_id : 0;
    if (p->cur_hep) {
        o->hep_agent = p->cur_hep_agent;
        o->hep_agent_port = p->cur_hep_agent_port;
    } else {
        memset(&o->hep_agent, 0, sizeof o->hep_agent);
        o->hep_agent_port = 0;
    }
}

void pipeline_finish(struct pipeline *p)
{
    sw_time now = p->now == SW_TIME_NONE ? 0 : p->now;
    pipeline_set_origin(p, NULL, 0); /* settled by the end of input, no frame */
    tcpstream_finish(p->tcp, now);
    ipfrag_finish(p->ipfrag);
    tracker_finish(p->tracker, now);
    if (p->evid != NULL)
        evidence_finish(p->evid); /* files still to be completed, then frames freed */
}

void pipeline_emit_stats(struct pipeline *p, bool final)
{
    struct sw_counters c;
    c.n = 0;
    c.group = NULL;
    if (p->cfg.extra_counters != NULL)
        p->cfg.extra_counters(p->cfg.extra_ctx, &c); /* they name their groups */
    sw_counters_group(&c, "capture");
    sw_counters_add(&c, "clock_backwards", p->clock_backwards);
    sw_counters_add(&c, "clock_jumps_forward", p->clock_jumps_forward);
    sw_counters_add(&c, "clock_jumps_backward", p->clock_jumps_backward);
    sw_counters_add(&c, "clock_rebased", p->clock_rebased);
    sw_counters_group(&c, "decode");
    sw_counters_add(&c, "packets", p->packets);
    decode_counters(p->decode, &c);
    sw_counters_group(&c, "ipfrag");
    ipfrag_counters(p->ipfrag, &c);
    sw_counters_add(&c, "ip_frag_too_deep", p->frag_too_deep);
    sw_counters_group(&c, "tcp");
    tcpstream_counters(p->tcp, &c);
    sw_counters_add(&c, "hep_stream_errors", p->hep_stream_errors);
    sw_counters_add(&c, "stream_state_oom", p->stream_app_oom);
    sw_counters_group(&c, "sip");
    sipframe_counters(&p->frame_stats, &c);
    sipmsg_counters(&p->msg_stats, &c);
    sw_counters_add(&c, "sip_stream_bytes_held", p->stream_bytes);
    sw_counters_add(&c, "sip_stream_bytes_peak", p->stream_bytes_peak);
    sw_counters_add(&c, "sip_stream_bytes_dropped", p->stream_bytes_dropped);
    sw_counters_group(&c, "tracker");
    tracker_counters(p->tracker, &c);
    sw_counters_add(&c, "internal_assert", sw_assert_failures);
    sw_counters_group(&c, "memory");
    sw_budget_counters(&p->budget, &c);
    if (p->evid != NULL) {
        sw_counters_group(&c, "evidence");
        evidence_counters(p->evid, &c);
    }

    struct sw_run_info run;
    memset(&run, 0, sizeof run);
    run.start_time = run.uptime = SW_TIME_NONE;
    if (p->cfg.run_info != NULL)
        p->cfg.run_info(p->cfg.extra_ctx, &run);

    struct sw_not_found_summary nf;
    struct sw_transfer_summary xs;
    tracker_summary(p->tracker, &nf, &xs);

    struct sw_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = SW_EVENT_STATS;
    ev.ts = p->now == SW_TIME_NONE ? 0 : p->now;
    ev.u.stats.counters = &c;
    ev.u.stats.run = p->cfg.run_info != NULL ? &run : NULL;
    ev.u.stats.not_found = &nf;
    ev.u.stats.transfers = &xs;
    ev.u.stats.final = final;
    stamp_emit(p, &ev);
}
