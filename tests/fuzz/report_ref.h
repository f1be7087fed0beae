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

struct ref {
    uint64_t json_errors, utf8_repaired;
};

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
    r->utf8_repaired += bad;
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

static json_t *ref_array(struct ref *r, const char *const *v, size_t n, size_t max)
{
    json_t *a = json_array();
    n = SW_MIN(n, max);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, ref_str(r, v[i]));
    return a;
}

static json_t *ref_top(struct ref *r, const struct sw_top_entry *v, size_t n, const char *key)
{
    json_t *a = json_array();
    n = SW_MIN(n, (size_t)SW_SUMMARY_TOP);
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
        ref_put(r, o, "notify_count", json_integer(x->notify_count));
        ref_put(r, o, "final_status", ref_status(x->final_status));
        ref_put(r, o, "final_reason", ref_str(r, x->final_reason));
        ref_put(r, o, "refer_time", ref_time(x->refer_time));
        ref_put(r, o, "accepted_time", ref_time(x->accepted_time));
        ref_put(r, o, "wait_s", ref_dur(x->wait, 1e6));
        ref_put(r, o, "subscription_state", ref_str(r, x->subscription_state));
        if (x->truncated)
            ref_put(r, o, "truncated", json_true());
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
        ref_put(r, o, "rtt_ms", ref_dur(x->rtt, 1e3));
        break;
    }
    case SW_EVENT_SCAN: {
        const struct sw_event_scan *x = &ev->u.scan;
        ref_put(r, o, "src_ip", ref_str(r, x->src_ip));
        ref_put(r, o, "count", ref_count(x->count));
        ref_put(r, o, "distinct_users", ref_count(x->distinct_users));
        ref_put(r, o, "users", ref_array(r, x->users, x->n_users, SW_SCAN_MAX_SAMPLE));
        ref_put(r, o, "methods", ref_array(r, x->methods, x->n_methods, SW_SCAN_MAX_LIST));
        ref_put(r, o, "user_agents",
                ref_array(r, x->user_agents, x->n_user_agents, SW_SCAN_MAX_LIST));
        ref_put(r, o, "first_time", ref_time(x->first_time));
        ref_put(r, o, "last_time", ref_time(x->last_time));
        ref_put(r, o, "window_s", ref_dur(x->window, 1e6));
        break;
    }
    case SW_EVENT_STATS: {
        const struct sw_event_stats *x = &ev->u.stats;
        if (x->counters != NULL) {
            size_t n = SW_MIN(x->counters->n, (size_t)SW_COUNTERS_MAX);
            for (size_t i = 0; i < n; i++)
                if (x->counters->v[i].name != NULL)
                    ref_put(r, o, x->counters->v[i].name, ref_count(x->counters->v[i].value));
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
            nf = json_object();
            ref_put(r, nf, "404", ref_count(s->status_404));
            ref_put(r, nf, "604", ref_count(s->status_604));
            ref_put(r, nf, "top_users", ref_top(r, s->top_users, s->n_top_users, "user"));
            ref_put(r, nf, "top_sources", ref_top(r, s->top_sources, s->n_top_sources, "src_ip"));
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

/* The reference line of ev (newline included), malloc'd; counts into *r. */
static char *ref_line(struct ref *r, const struct sw_event *ev, size_t *len)
{
    static const char *const bodies[] = {"transfer", "user_not_found", "scan", "stats"};
    json_t *o = json_object();
    char ip[SW_ADDRSTRLEN];
    bool tuple = ev->has_tuple && ev->type != SW_EVENT_STATS;
    const struct sw_tuple *t = &ev->tuple;
    ref_put(r, o, "timestamp", ref_time(ev->ts));
    ref_put(r, o, "event_type", json_string(sw_event_type_name(ev->type)));
    ref_put(r, o, "call_id", ev->type == SW_EVENT_STATS ? json_null() : ref_str(r, ev->call_id));
    ref_put(r, o, "src_ip", tuple ? json_string(sw_addr_str(&t->src, ip)) : json_null());
    ref_put(r, o, "src_port", tuple ? json_integer(t->sport) : json_null());
    ref_put(r, o, "dest_ip", tuple ? json_string(sw_addr_str(&t->dst, ip)) : json_null());
    ref_put(r, o, "dest_port", tuple ? json_integer(t->dport) : json_null());
    ref_put(r, o, "proto",
            tuple ? json_string(sw_transport_name((enum sw_transport)t->transport)) : json_null());
    if ((unsigned)ev->type < SW_EVENT__COUNT)
        ref_put(r, o, bodies[ev->type], ref_body(r, ev));
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
    json_decref(o);
    if (s == NULL)
        abort();
    size_t n = strlen(s);
    char *line = realloc(s, n + 2);
    if (line == NULL)
        abort();
    line[n] = '\n';
    line[n + 1] = '\0';
    *len = n + 1;
    return line;
}

#endif
