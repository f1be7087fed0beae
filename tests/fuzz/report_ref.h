/*
 * report_ref.h - the reference for report.c's lines: each event built as a
 * new jansson tree and dumped (the way report.c wrote them before it kept one
 * object per event type and updated it in place). fuzz_report and
 * test_report compare the two byte for byte, with the json_errors and
 * utf8_repaired counts, over sequences of events written by one report, so
 * that every value a reused object held before must be gone or replaced.
 * Test code only.
 */
#ifndef SIPWATCH_TEST_REPORT_REF_H
#define SIPWATCH_TEST_REPORT_REF_H

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "sipwatch/report.h"

#include "sipwatch/communityid.h"

/* One digest context for the reference (test code; never freed). */
static struct communityid *ref_cid(void)
{
    static struct communityid *c;
    if (c == NULL)
        c = communityid_new();
    return c;
}

struct ref {
    uint64_t json_errors, utf8_repaired;
    const char *host;   /* the report's cfg.host */
    uint16_t seed;      /* its community_id_seed */
    unsigned fit;       /* fitting level (report.c: fit_str_cap, fit_list_cap) */
    bool cut;
};

static size_t ref_str_cap(unsigned fit)
{
    return fit == 0 ? SIZE_MAX : (size_t)512 >> fit;
}

static size_t ref_list_cap(unsigned fit)
{
    return fit == 0 ? SIZE_MAX : (size_t)32 >> fit;
}

static void ref_put(struct ref *r, json_t *obj, const char *key, json_t *v)
{
    if (v == NULL) {
        r->json_errors++;
        v = json_null();
    }
    if (json_object_set_new(obj, key, v) != 0)
        r->json_errors++;
}

static json_t *ref_str(struct ref *r, const char *s)
{
    if (s == NULL)
        return json_null();
    size_t n = strlen(s);
    char *fix = malloc(3 * n + 1);
    if (fix == NULL)
        abort();
    unsigned bad = 0;
    size_t k = report_utf8_repair(s, n, fix, 3 * n + 1, &bad);
    if (r->fit == 0)
        r->utf8_repaired += bad;
    size_t cap = ref_str_cap(r->fit);
    if (k > cap) {
        size_t c = cap - 3;
        while (c > 0 && ((uint8_t)fix[c] & 0xC0) == 0x80)
            c--;
        memcpy(fix + c, "...", 3);
        k = c + 3;
        r->cut = true;
    }
    json_t *j = json_stringn(fix, k);
    free(fix);
    if (j == NULL) {
        r->json_errors++;
        return json_null();
    }
    return j;
}

static json_t *ref_time(sw_time t)
{
    char buf[32];
    if (t == SW_TIME_NONE)
        return json_null();
    return json_string(report_format_time(t, buf));
}

static json_t *ref_dur(sw_time t, double div)
{
    return t == SW_TIME_NONE ? json_null() : json_real((double)t / div);
}

static json_t *ref_status(int s)
{
    return s == 0 ? json_null() : json_integer(s);
}

static json_t *ref_count(uint64_t v)
{
    return json_integer(v > (uint64_t)INT64_MAX ? INT64_MAX : (json_int_t)v);
}

static json_t *ref_array(struct ref *r, const char *const *v, size_t n, size_t max, bool *cut)
{
    json_t *a = json_array();
    n = SW_MIN(n, max);
    if (n > ref_list_cap(r->fit)) {
        n = ref_list_cap(r->fit);
        r->cut = true;
        if (cut != NULL)
            *cut = true;
    }
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, ref_str(r, v[i]));
    return a;
}

static json_t *ref_top(struct ref *r, const struct sw_top_entry *v, size_t n, const char *key,
                       bool *cut)
{
    json_t *a = json_array();
    n = SW_MIN(n, (size_t)SW_SUMMARY_TOP);
    if (n > ref_list_cap(r->fit)) {
        n = ref_list_cap(r->fit);
        r->cut = true;
        *cut = true;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_object();
        ref_put(r, e, key, ref_str(r, v[i].key));
        ref_put(r, e, "count", ref_count(v[i].count));
        json_array_append_new(a, e);
    }
    return a;
}

static json_t *ref_body(struct ref *r, const struct sw_event *ev)
{
    json_t *o = json_object();
    switch (ev->type) {
    case SW_EVENT_TRANSFER: {
        const struct sw_event_transfer *x = &ev->u.transfer;
        ref_put(r, o, "outcome", json_string(sw_outcome_name(x->outcome)));
        ref_put(r, o, "refer_to", ref_str(r, x->refer_to));
        ref_put(r, o, "referred_by", ref_str(r, x->referred_by));
        ref_put(r, o, "replaces", json_boolean(x->replaces));
        ref_put(r, o, "refer_cseq", json_integer(x->refer_cseq));
        ref_put(r, o, "refer_status", ref_status(x->refer_status));
        ref_put(r, o, "refer_reason", ref_str(r, x->refer_reason));
        ref_put(r, o, "auth_challenges", json_integer(x->auth_challenges));
        ref_put(r, o, "notify_count", json_integer(x->notify_count));
        ref_put(r, o, "final_status", ref_status(x->final_status));
        ref_put(r, o, "final_reason", ref_str(r, x->final_reason));
        ref_put(r, o, "refer_time", ref_time(x->refer_time));
        ref_put(r, o, "accepted_time", ref_time(x->accepted_time));
        ref_put(r, o, "wait_s", ref_dur(x->wait, 1e6));
        ref_put(r, o, "subscription_state", ref_str(r, x->subscription_state));
        ref_put(r, o, "from", ref_str(r, x->parties.from));
        ref_put(r, o, "to", ref_str(r, x->parties.to));
        ref_put(r, o, "transferor_ua", ref_str(r, x->parties.transferor_ua));
        ref_put(r, o, "transferee_ua", ref_str(r, x->parties.transferee_ua));
        ref_put(r, o, "notify_answered", json_integer(x->notify.answered_ok));
        ref_put(r, o, "notify_refused", json_integer(x->notify.refused));
        ref_put(r, o, "notify_refused_status", ref_status(x->notify.last_refusal_status));
        ref_put(r, o, "notify_refused_reason", ref_str(r, x->notify.last_refusal_reason));
        ref_put(r, o, "notify_unanswered", json_integer(x->notify.unanswered));
        ref_put(r, o, "transferor_uninformed", json_boolean(x->transferor_uninformed));
        ref_put(r, o, "truncated", json_boolean(x->truncated));
        break;
    }
    case SW_EVENT_USER_NOT_FOUND: {
        const struct sw_event_not_found *x = &ev->u.not_found;
        ref_put(r, o, "method", ref_str(r, x->method));
        ref_put(r, o, "request_uri", ref_str(r, x->request_uri));
        ref_put(r, o, "user", ref_str(r, x->user));
        ref_put(r, o, "domain", ref_str(r, x->domain));
        ref_put(r, o, "from", ref_str(r, x->from));
        ref_put(r, o, "to", ref_str(r, x->to));
        ref_put(r, o, "user_agent", ref_str(r, x->user_agent));
        ref_put(r, o, "server", ref_str(r, x->server));
        ref_put(r, o, "status", ref_status(x->status));
        ref_put(r, o, "reason", ref_str(r, x->reason));
        ref_put(r, o, "warning", ref_str(r, x->warning));
        ref_put(r, o, "rtt_s", ref_dur(x->rtt, 1e6));
        break;
    }
    case SW_EVENT_SCAN: {
        const struct sw_event_scan *x = &ev->u.scan;
        bool ucut = x->n_users > SW_SCAN_MAX_SAMPLE;
        ref_put(r, o, "src_ip", ref_str(r, x->src_ip));
        ref_put(r, o, "count", ref_count(x->count));
        ref_put(r, o, "distinct_users", ref_count(x->distinct_users));
        ref_put(r, o, "users", ref_array(r, x->users, x->n_users, SW_SCAN_MAX_SAMPLE, &ucut));
        ref_put(r, o, "users_truncated", json_boolean(ucut));
        ref_put(r, o, "methods", ref_array(r, x->methods, x->n_methods, SW_SCAN_MAX_LIST, NULL));
        ref_put(r, o, "user_agents",
                ref_array(r, x->user_agents, x->n_user_agents, SW_SCAN_MAX_LIST, NULL));
        ref_put(r, o, "first_time", ref_time(x->first_time));
        ref_put(r, o, "last_time", ref_time(x->last_time));
        ref_put(r, o, "window_s", ref_dur(x->window, 1e6));
        break;
    }
    case SW_EVENT_STATS: {
        const struct sw_event_stats *x = &ev->u.stats;
        const struct sw_run_info *ri = x->run;
        ref_put(r, o, "version", ri != NULL ? ref_str(r, ri->version) : json_null());
        ref_put(r, o, "start_time", ri != NULL ? ref_time(ri->start_time) : json_null());
        ref_put(r, o, "uptime_s", ri != NULL ? ref_dur(ri->uptime, 1e6) : json_null());
        json_t *in = json_array();
        for (size_t i = 0; ri != NULL && i < ri->n_inputs; i++) {
            if (i >= ref_list_cap(r->fit)) {
                r->cut = true;
                break;
            }
            json_array_append_new(in, ref_str(r, ri->inputs[i]));
        }
        ref_put(r, o, "inputs", in);
        bool has_recv = false, has_drop = false;
        uint64_t recv = 0, drop = 0;
        for (size_t i = 0; x->counters != NULL && i < x->counters->n && i < SW_COUNTERS_MAX; i++) {
            const char *nm = x->counters->v[i].name;
            if (nm != NULL && !has_recv && strcmp(nm, "pcap_received") == 0)
                has_recv = true, recv = x->counters->v[i].value;
            if (nm != NULL && !has_drop && strcmp(nm, "pcap_dropped") == 0)
                has_drop = true, drop = x->counters->v[i].value;
        }
        if (has_recv && has_drop) {
            double pct = recv == 0 ? (drop > 0 ? 100.0 : 0.0) : 100.0 * (double)drop / (double)recv;
            ref_put(r, o, "capture_loss_pct", json_real(pct > 100.0 ? 100.0 : pct));
        } else {
            ref_put(r, o, "capture_loss_pct", json_null());
        }
        if (x->counters != NULL) {
            size_t n = SW_MIN(x->counters->n, (size_t)SW_COUNTERS_MAX);
            for (size_t i = 0; i < n; i++) {
                const struct sw_counter *c = &x->counters->v[i];
                if (c->name == NULL)
                    continue;
                json_t *g = o;
                if (c->group != NULL) {
                    g = json_object_get(o, c->group);
                    if (g == NULL || !json_is_object(g)) {
                        g = json_object();
                        json_object_set_new(o, c->group, g);
                    }
                }
                ref_put(r, g, c->name, ref_count(c->value));
            }
        }
        json_t *t = json_null();
        if (x->transfers != NULL) {
            t = json_object();
            for (unsigned i = 0; i < SW_OUTCOME__COUNT; i++)
                ref_put(r, t, sw_outcome_name((enum sw_transfer_outcome)i),
                        ref_count(x->transfers->by_outcome[i]));
        }
        ref_put(r, o, "transfers", t);
        json_t *nf = json_null();
        if (x->not_found != NULL) {
            const struct sw_not_found_summary *s = x->not_found;
            bool cut = false;
            nf = json_object();
            ref_put(r, nf, "404", ref_count(s->status_404));
            ref_put(r, nf, "604", ref_count(s->status_604));
            ref_put(r, nf, "top_users", ref_top(r, s->top_users, s->n_top_users, "user", &cut));
            ref_put(r, nf, "top_sources",
                    ref_top(r, s->top_sources, s->n_top_sources, "src_ip", &cut));
            ref_put(r, nf, "top_truncated", json_boolean(cut));
        }
        ref_put(r, o, "not_found", nf);
        ref_put(r, o, "final", json_boolean(x->final));
        break;
    }
    case SW_EVENT__COUNT:
        break;
    }
    return o;
}

static json_t *ref_endpoint(const struct sw_addr *a, uint16_t port)
{
    char ip[SW_ADDRSTRLEN], buf[SW_ADDRSTRLEN + 10];
    sw_addr_str(a, ip);
    snprintf(buf, sizeof buf, a->family == 6 ? "[%s]:%u" : "%s:%u", ip, (unsigned)port);
    return json_string(buf);
}

static json_t *ref_ladder(struct ref *r, const struct sw_ladder *l, bool *cut)
{
    static const char *const copies[] = {"original", "retransmission", "other_leg"};
    json_t *a = json_array();
    size_t n = SW_MIN(l->n, (size_t)SW_MAX_LADDER);
    if (n > ref_list_cap(r->fit)) {
        n = ref_list_cap(r->fit);
        r->cut = true;
        *cut = true;
    }
    for (size_t i = 0; i < n; i++) {
        const struct sw_ladder_msg *m = &l->msgs[i];
        json_t *e = json_object();
        char line[2 * 512 + 16], cseq[16 + 64];
        if (m->is_request)
            snprintf(line, sizeof line, "%s %s", m->method ? m->method : "",
                     m->request_uri ? m->request_uri : "");
        else
            snprintf(line, sizeof line, "%d %s", m->status, m->reason ? m->reason : "");
        snprintf(cseq, sizeof cseq, "%u %s", (unsigned)m->cseq,
                 m->cseq_method ? m->cseq_method : "");
        ref_put(r, e, "ts", ref_time(m->ts));
        ref_put(r, e, "src", ref_endpoint(&m->tuple.src, m->tuple.sport));
        ref_put(r, e, "dst", ref_endpoint(&m->tuple.dst, m->tuple.dport));
        ref_put(r, e, "transport",
                json_string(sw_transport_name((enum sw_transport)m->tuple.transport)));
        ref_put(r, e, "line", ref_str(r, line));
        ref_put(r, e, "cseq", ref_str(r, cseq));
        ref_put(r, e, "copy", json_string(copies[(unsigned)m->copy < 3 ? (unsigned)m->copy : 0]));
        json_array_append_new(a, e);
    }
    return a;
}

/* One attempt at fitting level r->fit: the whole object. */
static json_t *ref_object(struct ref *r, const struct sw_event *ev)
{
    static const char *const bodies[] = {"transfer", "user_not_found", "scan", "stats"};
    json_t *o = json_object();
    char ip[SW_ADDRSTRLEN];
    bool tuple = ev->has_tuple && ev->type != SW_EVENT_STATS;
    const struct sw_tuple *t = &ev->tuple;
    const struct sw_event_origin *og = &ev->origin;
    ref_put(r, o, "timestamp", ref_time(ev->ts));
    ref_put(r, o, "event_type", json_string(sw_event_type_name(ev->type)));
    ref_put(r, o, "host", ref_str(r, r->host));
    ref_put(r, o, "in_iface", ref_str(r, og->in_iface));
    ref_put(r, o, "pcap_filename", ref_str(r, og->pcap_filename));
    ref_put(r, o, "pcap_cnt", og->pcap_cnt > 0 ? ref_count(og->pcap_cnt) : json_null());
    ref_put(r, o, "call_id", ev->type == SW_EVENT_STATS ? json_null() : ref_str(r, ev->call_id));
    uint8_t ipp = tuple ? sw_transport_ip_proto((enum sw_transport)t->transport) : 0;
    char cid[COMMUNITYID_LEN] = "";
    if (ipp != 0)
        communityid_v1(ref_cid(), &t->src, &t->dst, t->sport, t->dport, ipp, true, r->seed, cid);
    ref_put(r, o, "src_ip", tuple ? json_string(sw_addr_str(&t->src, ip)) : json_null());
    ref_put(r, o, "src_port", tuple ? json_integer(t->sport) : json_null());
    ref_put(r, o, "dest_ip", tuple ? json_string(sw_addr_str(&t->dst, ip)) : json_null());
    ref_put(r, o, "dest_port", tuple ? json_integer(t->dport) : json_null());
    ref_put(r, o, "proto", ipp == 0 ? json_null()
                                    : json_string(ipp == 17 ? "UDP" : ipp == 6 ? "TCP" : "SCTP"));
    ref_put(r, o, "sip_transport",
            tuple ? json_string(sw_transport_name((enum sw_transport)t->transport)) : json_null());
    ref_put(r, o, "app_proto", ev->type != SW_EVENT_STATS ? json_string("sip") : json_null());
    ref_put(r, o, "community_id", cid[0] ? json_string(cid) : json_null());
    ref_put(r, o, "hep_capture_id", og->hep ? ref_count(og->hep_capture_id) : json_null());
    ref_put(r, o, "hep_agent", og->hep ? json_string(sw_addr_str(&og->hep_agent, ip)) : json_null());
    if ((unsigned)ev->type < SW_EVENT__COUNT)
        ref_put(r, o, bodies[ev->type], ref_body(r, ev));
    if (ev->type != SW_EVENT_STATS && (unsigned)ev->type < SW_EVENT__COUNT) {
        bool cut = ev->ladder.truncated;
        ref_put(r, o, "messages", ref_ladder(r, &ev->ladder, &cut));
        ref_put(r, o, "messages_truncated", json_boolean(cut));
        ref_put(r, o, "evidence", ref_str(r, ev->evidence.path));
        ref_put(r, o, "evidence_complete",
                ev->evidence.path ? json_boolean(ev->evidence.complete) : json_null());
    }
    return o;
}

/* The reference line of ev (newline included), malloc'd; counts into *r.
 * Fitting as report.c does: again at the next level while the line is
 * longer than REPORT_MAX_LINE and something was cut. */
static char *ref_line(struct ref *r, const struct sw_event *ev, size_t *len)
{
    char *s = NULL;
    size_t n = 0;
    for (r->fit = 0; r->fit < 7; r->fit++) {
        r->cut = false;
        free(s);
        json_t *o = ref_object(r, ev);
        s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
        json_decref(o);
        if (s == NULL)
            abort();
        n = strlen(s);
        if (n + 1 <= REPORT_MAX_LINE)
            break;
    }
    r->fit = 0;
    char *line = realloc(s, n + 2);
    if (line == NULL)
        abort();
    line[n] = '\n';
    line[n + 1] = '\0';
    *len = n + 1;
    return line;
}

#endif
