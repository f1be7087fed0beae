/*
 * fuzz_report.c - libFuzzer target for report: events whose strings, times
 * and numbers come from the input are written to a memstream; every line
 * must parse back with json_loads, one line per event written, and be byte
 * for byte the line jansson makes of the same event built afresh
 * (report_ref.h), with the same json_errors and utf8_repaired counts. Three
 * rounds of events (other numbers, strings shifted) go through one report,
 * so its reused objects change between values, nulls and keys.
 *
 * Input: byte 0 picks the event type (and the mask), bytes 1..8 the time;
 * the rest is split at NUL bytes into the strings the event carries.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "sipwatch/report.h"

#include "report_ref.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x))                                                                                  \
            abort();                                                                               \
    } while (0)

/* The value of the counter `name`, UINT64_MAX when absent. */
static uint64_t counter_of(const struct sw_counters *c, const char *name)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->v[i].name, name) == 0)
            return c->v[i].value;
    return UINT64_MAX;
}

#define MAX_STR 48

static char *strs[MAX_STR];
static size_t n_strs, str_shift;

static const char *str(size_t i)
{
    if (n_strs == 0)
        return NULL;
    const char *s = strs[(i + str_shift) % n_strs];
    return s[0] == '\x01' ? NULL : s; /* a leading 0x01 stands for "unknown" */
}

static sw_time tm(uint64_t v, size_t k)
{
    v = v * 6364136223846793005u + 1442695040888963407u * (k + 1);
    if ((v & 7) == 0)
        return SW_TIME_NONE;
    return (sw_time)(v >> 3) - (sw_time)(UINT64_C(1) << 59);
}

static struct sw_ladder_msg ladder[SW_MAX_LADDER + 2];

static void fill(struct sw_event *ev, uint8_t sel, uint64_t v)
{
    size_t k = 0;
    /* the envelope, the ladder and the evidence */
    ev->origin.pcap_filename = str(k + 20);
    ev->origin.pcap_cnt = v >> 20;
    ev->origin.in_iface = str(k + 21);
    ev->origin.hep = (v & 0x100) != 0;
    ev->origin.hep_capture_id = (uint32_t)(v >> 9);
    ev->origin.hep_agent = ev->tuple.src;
    ev->evidence.path = str(k + 22);
    ev->evidence.complete = (v & 0x200) != 0;
    ev->ladder.n = (v >> 24) % (SW_MAX_LADDER + 3);
    ev->ladder.truncated = (v & 0x400) != 0;
    ev->ladder.msgs = ladder;
    for (size_t i = 0; i < ev->ladder.n; i++) {
        struct sw_ladder_msg *m = &ladder[i];
        m->ts = tm(v, 10 + i);
        m->tuple = ev->tuple;
        m->tuple.src.family = (i & 1) ? 6 : 4;
        m->tuple.dst.family = (i & 2) ? 6 : 4;
        m->is_request = ((v >> i) & 1) != 0;
        m->method = str(k + 23 + i);
        m->request_uri = str(k + 24 + i);
        m->status = (int)((v >> (i % 32)) % 700);
        m->reason = str(k + 25 + i);
        m->cseq = (uint32_t)(v >> (i % 40));
        m->cseq_method = str(k + 26 + i);
        m->copy = (enum sw_msg_copy)(i % 3);
    }
    ev->ts = (sw_time)(v >> 1);
    ev->call_id = str(k++);
    ev->has_tuple = (sel & 0x10) != 0;
    ev->tuple.src.family = (sel & 0x20) ? 6 : 4;
    ev->tuple.dst.family = (sel & 0x40) ? 4 : 0;
    memcpy(ev->tuple.src.a, &v, sizeof v);
    ev->tuple.sport = (uint16_t)v;
    ev->tuple.dport = (uint16_t)(v >> 16);
    ev->tuple.transport = (uint8_t)(v % 9);
    switch (ev->type) {
    case SW_EVENT_TRANSFER: {
        struct sw_event_transfer *x = &ev->u.transfer;
        x->outcome = (enum sw_transfer_outcome)(v % (SW_OUTCOME__COUNT + 1));
        x->refer_to = str(k++);
        x->referred_by = str(k++);
        x->replaces = (v & 2) != 0;
        x->refer_cseq = (uint32_t)(v >> 7);
        x->refer_status = (int)(v % 700);
        x->refer_reason = str(k++);
        x->notify_count = (unsigned)(v >> 40);
        x->final_status = (int)((v >> 3) % 700);
        x->final_reason = str(k++);
        x->refer_time = tm(v, 1);
        x->accepted_time = tm(v, 2);
        x->wait = tm(v, 3);
        x->subscription_state = str(k++);
        x->truncated = (v & 4) != 0;
        x->parties.from = str(k++);
        x->parties.to = str(k++);
        x->parties.transferor_ua = str(k++);
        x->parties.transferee_ua = str(k++);
        x->notify.answered_ok = (unsigned)(v >> 50);
        x->notify.refused = (unsigned)(v >> 52);
        x->notify.last_refusal_status = (int)((v >> 5) % 700);
        x->notify.last_refusal_reason = str(k++);
        x->notify.unanswered = (unsigned)(v >> 60);
        x->transferor_uninformed = (v & 8) != 0;
        x->auth_challenges = (unsigned)(v >> 56);
        break;
    }
    case SW_EVENT_USER_NOT_FOUND: {
        struct sw_event_not_found *x = &ev->u.not_found;
        x->method = str(k++);
        x->request_uri = str(k++);
        x->user = str(k++);
        x->domain = str(k++);
        x->from = str(k++);
        x->to = str(k++);
        x->user_agent = str(k++);
        x->server = str(k++);
        x->status = (int)(v % 1000);
        x->reason = str(k++);
        x->warning = str(k++);
        x->rtt = tm(v, 4);
        break;
    }
    case SW_EVENT_SCAN: {
        struct sw_event_scan *x = &ev->u.scan;
        x->src_ip = str(k++);
        x->count = v;
        x->distinct_users = v >> 5;
        x->n_users = n_strs % (SW_SCAN_MAX_SAMPLE + 1);
        for (size_t i = 0; i < x->n_users; i++)
            x->users[i] = str(k++);
        x->n_methods = (v >> 8) % (SW_SCAN_MAX_LIST + 1);
        for (size_t i = 0; i < x->n_methods; i++)
            x->methods[i] = str(k++);
        x->n_user_agents = (v >> 12) % (SW_SCAN_MAX_LIST + 1);
        for (size_t i = 0; i < x->n_user_agents; i++)
            x->user_agents[i] = str(k++);
        x->first_time = tm(v, 5);
        x->last_time = tm(v, 6);
        x->window = tm(v, 7);
        break;
    }
    case SW_EVENT_STATS:
    case SW_EVENT__COUNT:
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 9)
        return 0;
    uint8_t sel = data[0];
    uint64_t v = 0;
    memcpy(&v, data + 1, 8);
    data += 9;
    size -= 9;

    n_strs = 0;
    size_t pos = 0;
    while (pos <= size && n_strs < MAX_STR) {
        const uint8_t *z = pos < size ? memchr(data + pos, 0, size - pos) : NULL;
        size_t end = z != NULL ? (size_t)(z - data) : size;
        char *s = malloc(end - pos + 1);
        CHECK(s != NULL);
        memcpy(s, data + pos, end - pos);
        s[end - pos] = '\0';
        strs[n_strs++] = s;
        pos = end + 1;
    }

    struct sw_counters counters;
    struct sw_not_found_summary nf;
    struct sw_transfer_summary xs;
    memset(&nf, 0, sizeof nf);
    memset(&xs, 0, sizeof xs);
    counters.n = 0;
    counters.group = NULL;
    for (size_t i = 0; i < n_strs && i < SW_COUNTERS_MAX; i++)
        sw_counters_add(&counters, strs[i], v + i); /* names from the input too */
    for (size_t i = 0; i < SW_SUMMARY_TOP && i < n_strs; i++) {
        nf.top_users[i] = (struct sw_top_entry){str(i), v >> i};
        nf.top_sources[i] = (struct sw_top_entry){str(i + 1), i};
    }
    nf.n_top_users = SW_MIN(n_strs, (size_t)SW_SUMMARY_TOP);
    nf.n_top_sources = nf.n_top_users;
    xs.by_outcome[v % SW_OUTCOME__COUNT] = v;

    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    CHECK(f != NULL);
    struct report_config cfg = {.event_mask = (sel & 0x80) ? (unsigned)(sel >> 4) & 0xf : 0,
                                .line_buffered = (sel & 0x08) != 0};
    struct report *r = report_new_stream(f, &cfg);
    CHECK(r != NULL);
    struct ref ref = {0};
    char *expect = NULL;
    size_t expect_n = 0;
    for (unsigned round = 0; round < 3; round++) {
        uint64_t rv = round == 0 ? v : v * 0x9E3779B97F4A7C15u + round;
        uint8_t rsel = (uint8_t)(sel ^ (round * 0x35u));
        str_shift = round;
        for (unsigned t = 0; t < SW_EVENT__COUNT; t++) {
            struct sw_event ev;
            memset(&ev, 0, sizeof ev);
            ev.type = (enum sw_event_type)((t + sel) % SW_EVENT__COUNT);
            fill(&ev, rsel, rv);
            if (ev.type == SW_EVENT_STATS) {
                ev.u.stats.counters = (rsel & 1) ? NULL : &counters;
                ev.u.stats.not_found = (rsel & 2) ? NULL : &nf;
                ev.u.stats.transfers = (rsel & 4) ? NULL : &xs;
                ev.u.stats.final = (rv & 1) != 0;
            }
            CHECK(report_event(r, &ev) == 0);
            if (cfg.event_mask == 0 || (cfg.event_mask & (1u << ev.type))) {
                size_t n;
                char *line = ref_line(&ref, &ev, &n);
                expect = realloc(expect, expect_n + n);
                CHECK(expect != NULL);
                memcpy(expect + expect_n, line, n);
                expect_n += n;
                free(line);
            }
        }
    }
    struct sw_counters rc;
    rc.n = 0;
    rc.group = NULL;
    report_counters(r, &rc);
    report_free(r);
    fclose(f);

    /* every line parses back; as many lines as events written */
    uint64_t lines = 0;
    size_t p = 0;
    while (p < len) {
        char *nl = memchr(buf + p, '\n', len - p);
        CHECK(nl != NULL);
        json_error_t err;
        json_t *j = json_loadb(buf + p, (size_t)(nl - (buf + p)), 0, &err);
        CHECK(j != NULL && json_is_object(j));
        CHECK(json_object_get(j, "timestamp") != NULL && json_object_get(j, "proto") != NULL);
        CHECK((size_t)(nl - (buf + p)) + 1 <= REPORT_MAX_LINE); /* every line fits */
        json_decref(j);
        lines++;
        p = (size_t)(nl - buf) + 1;
    }
    CHECK(counter_of(&rc, "events_written") == lines);
    CHECK(counter_of(&rc, "events_written") + counter_of(&rc, "events_suppressed") ==
          3 * SW_EVENT__COUNT);
    CHECK(counter_of(&rc, "events_lost") == 0 && counter_of(&rc, "output_errors") == 0);
    CHECK(len == expect_n && (len == 0 || memcmp(buf, expect, len) == 0));
    CHECK(counter_of(&rc, "utf8_repaired") == ref.utf8_repaired);
    CHECK(counter_of(&rc, "json_errors") == ref.json_errors);
    free(expect);
    free(buf);
    for (size_t i = 0; i < n_strs; i++)
        free(strs[i]);
    return 0;
}
