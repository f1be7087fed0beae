/* test_report.c - unit tests of report: exact NDJSON lines per event type,
 * UTF-8 repair, the event mask, the output file (append, reopen, errors),
 * time formatting, and sequences of events on one report against lines built
 * afresh by jansson (report_ref.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "sipwatch/report.h"

#include "../fuzz/report_ref.h"

#define T0 INT64_C(1795889801123456) /* 2026-11-28T18:16:41.123456Z */

static char *mem_buf;
static size_t mem_len;

/* A report on a memstream; the caller closes `*f` to read mem_buf. */
static struct report *mem_report(FILE **f, unsigned mask)
{
    struct report_config cfg = {.event_mask = mask};
    free(mem_buf);
    mem_buf = NULL;
    mem_len = 0;
    *f = open_memstream(&mem_buf, &mem_len);
    assert_non_null(*f);
    struct report *r = report_new_stream(*f, &cfg);
    assert_non_null(r);
    return r;
}

/* Renders one event and returns the text written (owned by mem_buf). */
static const char *render(const struct sw_event *ev, struct sw_counters *counters)
{
    FILE *f;
    struct report *r = mem_report(&f, 0);
    assert_int_equal(report_event(r, ev), 0);
    if (counters != NULL) {
        counters->n = 0;
        report_counters(r, counters);
    }
    report_free(r);
    fclose(f);
    return mem_buf;
}

static uint64_t counter(const struct sw_counters *c, const char *name)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->v[i].name, name) == 0)
            return c->v[i].value;
    fail_msg("no counter %s", name);
    return 0;
}

static void tuple_v4(struct sw_event *ev, const char *src, uint16_t sport, const char *dst,
                     uint16_t dport, enum sw_transport tr)
{
    ev->has_tuple = true;
    ev->tuple.src.family = 4;
    ev->tuple.dst.family = 4;
    assert_int_equal(inet_pton(AF_INET, src, ev->tuple.src.a), 1);
    assert_int_equal(inet_pton(AF_INET, dst, ev->tuple.dst.a), 1);
    ev->tuple.sport = sport;
    ev->tuple.dport = dport;
    ev->tuple.transport = (uint8_t)tr;
}

static void transfer_event(struct sw_event *ev)
{
    memset(ev, 0, sizeof *ev);
    ev->type = SW_EVENT_TRANSFER;
    ev->ts = T0;
    ev->call_id = "refer-1@192.0.2.1";
    tuple_v4(ev, "192.0.2.1", 5060, "192.0.2.4", 5080, SW_TRANSPORT_UDP);
    struct sw_event_transfer *x = &ev->u.transfer;
    x->outcome = SW_OUTCOME_COMPLETED;
    x->refer_to = "sip:carol@example.com?Replaces=a%40b";
    x->referred_by = "<sip:alice@example.com>";
    x->replaces = true;
    x->refer_cseq = 93809824;
    x->refer_status = 202;
    x->refer_reason = "Accepted";
    x->notify_count = 2;
    x->final_status = 200;
    x->final_reason = "OK";
    x->refer_time = T0 - 2500000 - 300000;
    x->accepted_time = T0 - 2500000;
    x->wait = 2500000;
    x->subscription_state = "terminated;reason=noresource";
}

static void test_transfer_line(void **state)
{
    (void)state;
    struct sw_event ev;
    transfer_event(&ev);
    assert_string_equal(
        render(&ev, NULL),
        "{\"timestamp\":\"2026-11-28T18:16:41.123456Z\",\"event_type\":\"transfer\",\"host\":null"
        ",\"in_iface\":null,\"pcap_filename\":null,\"pcap_cnt\":null,\"call_id\":\"refer-1@192.0."
        "2.1\",\"src_ip\":\"192.0.2.1\",\"src_port\":5060,\"dest_ip\":\"192.0.2.4\",\"dest_port\""
        ":5080,\"proto\":\"UDP\",\"sip_transport\":\"UDP\",\"app_proto\":\"sip\",\"community_id\""
        ":\"1:OuTCVw3TkpDdQIViGeQV9CV7+IQ=\",\"hep_capture_id\":null,\"hep_agent\":null,\"transfe"
        "r\":{\"outcome\":\"completed\",\"refer_to\":\"sip:carol@example.com?Replaces=a%40b\",\"r"
        "eferred_by\":\"<sip:alice@example.com>\",\"replaces\":true,\"refer_cseq\":93809824,\"ref"
        "er_status\":202,\"refer_reason\":\"Accepted\",\"auth_challenges\":0,\"notify_count\":2,"
        "\"final_status\":200,\"final_reason\":\"OK\",\"refer_time\":\"2026-11-28T18:16:38.323456"
        "Z\",\"accepted_time\":\"2026-11-28T18:16:38.623456Z\",\"wait_s\":2.5,\"subscription_stat"
        "e\":\"terminated;reason=noresource\",\"from\":null,\"to\":null,\"transferor_ua\":null,\""
        "transferee_ua\":null,\"notify_answered\":0,\"notify_refused\":0,\"notify_refused_status"
        "\":null,\"notify_refused_reason\":null,\"notify_unanswered\":0,\"transferor_uninformed\""
        ":false,\"truncated\":false},\"messages\":[],\"messages_truncated\":false,\"evidence\":nu"
        "ll,\"evidence_complete\":null}\n");
}

static void test_transfer_unknowns(void **state)
{
    (void)state;
    struct sw_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = SW_EVENT_TRANSFER;
    ev.ts = 0;
    ev.call_id = NULL;
    struct sw_event_transfer *x = &ev.u.transfer;
    x->outcome = SW_OUTCOME_NO_RESPONSE;
    x->refer_time = SW_TIME_NONE;
    x->accepted_time = SW_TIME_NONE;
    x->wait = 32000104;
    x->truncated = true;
    assert_string_equal(
        render(&ev, NULL),
        "{\"timestamp\":\"1970-01-01T00:00:00.000000Z\",\"event_type\":\"transfer\",\"host\":null"
        ",\"in_iface\":null,\"pcap_filename\":null,\"pcap_cnt\":null,\"call_id\":null,\"src_ip\":"
        "null,\"src_port\":null,\"dest_ip\":null,\"dest_port\":null,\"proto\":null,\"sip_transpor"
        "t\":null,\"app_proto\":\"sip\",\"community_id\":null,\"hep_capture_id\":null,\"hep_agent"
        "\":null,\"transfer\":{\"outcome\":\"no_response\",\"refer_to\":null,\"referred_by\":null"
        ",\"replaces\":false,\"refer_cseq\":0,\"refer_status\":null,\"refer_reason\":null,\"auth_"
        "challenges\":0,\"notify_count\":0,\"final_status\":null,\"final_reason\":null,\"refer_ti"
        "me\":null,\"accepted_time\":null,\"wait_s\":32.000104,\"subscription_state\":null,\"from"
        "\":null,\"to\":null,\"transferor_ua\":null,\"transferee_ua\":null,\"notify_answered\":0,"
        "\"notify_refused\":0,\"notify_refused_status\":null,\"notify_refused_reason\":null,\"not"
        "ify_unanswered\":0,\"transferor_uninformed\":false,\"truncated\":true},\"messages\":[],"
        "\"messages_truncated\":false,\"evidence\":null,\"evidence_complete\":null}\n");
    x->wait = SW_TIME_NONE;
    x->truncated = false;
    const char *s = render(&ev, NULL);
    assert_non_null(strstr(s, "\"wait_s\":null,\"subscription_state\":null,"));
    assert_non_null(strstr(s, "\"truncated\":false}")); /* always present */
}

static void not_found_event(struct sw_event *ev)
{
    memset(ev, 0, sizeof *ev);
    ev->type = SW_EVENT_USER_NOT_FOUND;
    ev->ts = T0;
    ev->call_id = "scan-1";
    ev->has_tuple = true;
    ev->tuple.src.family = 6;
    assert_int_equal(inet_pton(AF_INET6, "2001:db8::7", ev->tuple.src.a), 1);
    ev->tuple.dst.family = 6;
    assert_int_equal(inet_pton(AF_INET6, "2001:db8::5", ev->tuple.dst.a), 1);
    ev->tuple.sport = 5062;
    ev->tuple.dport = 5060;
    ev->tuple.transport = SW_TRANSPORT_TCP;
    struct sw_event_not_found *x = &ev->u.not_found;
    x->method = "INVITE";
    x->request_uri = "sip:100@203.0.113.5";
    x->user = "100";
    x->domain = "203.0.113.5";
    x->from = "\"100\" <sip:100@198.51.100.7>;tag=s1";
    x->to = "<sip:100@203.0.113.5>";
    x->user_agent = "friendly-scanner";
    x->server = "Asterisk PBX 18";
    x->status = 404;
    x->reason = "Not Found";
    x->warning = NULL;
    x->rtt = 12345;
}

static void test_not_found_line(void **state)
{
    (void)state;
    struct sw_event ev;
    not_found_event(&ev);
    assert_string_equal(
        render(&ev, NULL),
        "{\"timestamp\":\"2026-11-28T18:16:41.123456Z\",\"event_type\":\"user_not_found\",\"host"
        "\":null,\"in_iface\":null,\"pcap_filename\":null,\"pcap_cnt\":null,\"call_id\":\"scan-1"
        "\",\"src_ip\":\"2001:db8::7\",\"src_port\":5062,\"dest_ip\":\"2001:db8::5\",\"dest_port"
        "\":5060,\"proto\":\"TCP\",\"sip_transport\":\"TCP\",\"app_proto\":\"sip\",\"community_id"
        "\":\"1:6CxjA8kqjav3nEZxgvwVQOKR8Xg=\",\"hep_capture_id\":null,\"hep_agent\":null,\"user_"
        "not_found\":{\"method\":\"INVITE\",\"request_uri\":\"sip:100@203.0.113.5\",\"user\":\"10"
        "0\",\"domain\":\"203.0.113.5\",\"from\":\"\\\"100\\\" <sip:100@198.51.100.7>;tag=s1\",\""
        "to\":\"<sip:100@203.0.113.5>\",\"user_agent\":\"friendly-scanner\",\"server\":\"Asterisk"
        " PBX 18\",\"status\":404,\"reason\":\"Not Found\",\"warning\":null,\"rtt_s\":0.012345},"
        "\"messages\":[],\"messages_truncated\":false,\"evidence\":null,\"evidence_complete\":nul"
        "l}\n");
    ev.u.not_found.rtt = SW_TIME_NONE;
    ev.u.not_found.status = 0;
    const char *s = render(&ev, NULL);
    assert_non_null(strstr(s, "\"status\":null,"));
    assert_non_null(strstr(s, "\"rtt_s\":null},"));
}

static void test_scan_line(void **state)
{
    (void)state;
    struct sw_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = SW_EVENT_SCAN;
    ev.ts = T0;
    ev.call_id = NULL;
    tuple_v4(&ev, "198.51.100.7", 5060, "203.0.113.5", 5060, SW_TRANSPORT_UDP);
    struct sw_event_scan *x = &ev.u.scan;
    x->src_ip = "198.51.100.7";
    x->count = 25;
    x->distinct_users = 3;
    x->users[0] = "100";
    x->users[1] = "101";
    x->users[2] = "admin";
    x->n_users = 3;
    x->methods[0] = "REGISTER";
    x->n_methods = 1;
    x->n_user_agents = 0;
    x->first_time = T0 - 60000000;
    x->last_time = T0;
    x->window = SW_SEC(60);
    assert_string_equal(
        render(&ev, NULL),
        "{\"timestamp\":\"2026-11-28T18:16:41.123456Z\",\"event_type\":\"scan\",\"host\":null,\"i"
        "n_iface\":null,\"pcap_filename\":null,\"pcap_cnt\":null,\"call_id\":null,\"src_ip\":\"19"
        "8.51.100.7\",\"src_port\":5060,\"dest_ip\":\"203.0.113.5\",\"dest_port\":5060,\"proto\":"
        "\"UDP\",\"sip_transport\":\"UDP\",\"app_proto\":\"sip\",\"community_id\":\"1:i2ZlPIMKWPD"
        "dvpkcG8tUrobPel0=\",\"hep_capture_id\":null,\"hep_agent\":null,\"scan\":{\"src_ip\":\"19"
        "8.51.100.7\",\"count\":25,\"distinct_users\":3,\"users\":[\"100\",\"101\",\"admin\"],\"u"
        "sers_truncated\":false,\"methods\":[\"REGISTER\"],\"user_agents\":[],\"first_time\":\"20"
        "26-11-28T18:15:41.123456Z\",\"last_time\":\"2026-11-28T18:16:41.123456Z\",\"window_s\":6"
        "0.0},\"messages\":[],\"messages_truncated\":false,\"evidence\":null,\"evidence_complete"
        "\":null}\n");
    /* a lying count never reads past the arrays */
    x->n_users = 1000;
    x->n_methods = 1000;
    for (size_t i = 0; i < SW_SCAN_MAX_SAMPLE; i++)
        x->users[i] = "u";
    for (size_t i = 0; i < SW_SCAN_MAX_LIST; i++)
        x->methods[i] = "M";
    json_t *j = json_loads(render(&ev, NULL), 0, NULL);
    assert_non_null(j);
    json_t *sc = json_object_get(j, "scan");
    assert_int_equal(json_array_size(json_object_get(sc, "users")), SW_SCAN_MAX_SAMPLE);
    assert_int_equal(json_array_size(json_object_get(sc, "methods")), SW_SCAN_MAX_LIST);
    json_decref(j);
}

static void test_stats_line(void **state)
{
    (void)state;
    struct sw_counters c;
    c.n = 0;
    c.group = NULL;
    sw_counters_add(&c, "packets", 10);
    sw_counters_add(&c, "sip_messages", 7);
    sw_counters_add(&c, "huge", UINT64_MAX);
    struct sw_transfer_summary xs;
    memset(&xs, 0, sizeof xs);
    xs.by_outcome[SW_OUTCOME_COMPLETED] = 2;
    xs.by_outcome[SW_OUTCOME_EVICTED] = 1;
    struct sw_not_found_summary nf;
    memset(&nf, 0, sizeof nf);
    nf.status_404 = 5;
    nf.status_604 = 1;
    nf.top_users[0] = (struct sw_top_entry){"100", 4};
    nf.top_users[1] = (struct sw_top_entry){"bad\xff", 2};
    nf.n_top_users = 2;
    nf.top_sources[0] = (struct sw_top_entry){"198.51.100.7", 6};
    nf.n_top_sources = 1;
    struct sw_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = SW_EVENT_STATS;
    ev.ts = T0;
    ev.call_id = "ignored";
    ev.has_tuple = false;
    ev.u.stats.counters = &c;
    ev.u.stats.transfers = &xs;
    ev.u.stats.not_found = &nf;
    ev.u.stats.final = true;
    struct sw_counters rc;
    assert_string_equal(
        render(&ev, &rc),
        "{\"timestamp\":\"2026-11-28T18:16:41.123456Z\",\"event_type\":\"stats\",\"host\":null,\""
        "in_iface\":null,\"pcap_filename\":null,\"pcap_cnt\":null,\"call_id\":null,\"src_ip\":nul"
        "l,\"src_port\":null,\"dest_ip\":null,\"dest_port\":null,\"proto\":null,\"sip_transport\""
        ":null,\"app_proto\":null,\"community_id\":null,\"hep_capture_id\":null,\"hep_agent\":nul"
        "l,\"stats\":{\"version\":null,\"start_time\":null,\"uptime_s\":null,\"inputs\":[],\"capt"
        "ure_loss_pct\":null,\"packets\":10,\"sip_messages\":7,\"huge\":9223372036854775807,\"tra"
        "nsfers\":{\"completed\":2,\"failed\":0,\"no_notify\":0,\"notify_incomplete\":0,\"rejecte"
        "d\":0,\"no_response\":0,\"notify_not_requested\":0,\"evicted\":1},\"not_found\":{\"404\""
        ":5,\"604\":1,\"top_users\":[{\"user\":\"100\",\"count\":4},{\"user\":\"bad\xef\xbf\xbd\""
        ",\"count\":2}],\"top_sources\":[{\"src_ip\":\"198.51.100.7\",\"count\":6}],\"top_truncat"
        "ed\":false},\"final\":true}}\n");
    assert_int_equal(counter(&rc, "utf8_repaired"), 1);
    assert_int_equal(counter(&rc, "events_written"), 1);
    ev.u.stats.transfers = NULL;
    ev.u.stats.not_found = NULL;
    ev.u.stats.counters = NULL;
    ev.u.stats.final = false;
    assert_string_equal(
        render(&ev, NULL),
        "{\"timestamp\":\"2026-11-28T18:16:41.123456Z\",\"event_type\":\"stats\",\"host\":null,\""
        "in_iface\":null,\"pcap_filename\":null,\"pcap_cnt\":null,\"call_id\":null,\"src_ip\":nul"
        "l,\"src_port\":null,\"dest_ip\":null,\"dest_port\":null,\"proto\":null,\"sip_transport\""
        ":null,\"app_proto\":null,\"community_id\":null,\"hep_capture_id\":null,\"hep_agent\":nul"
        "l,\"stats\":{\"version\":null,\"start_time\":null,\"uptime_s\":null,\"inputs\":[],\"capt"
        "ure_loss_pct\":null,\"transfers\":null,\"not_found\":null,\"final\":false}}\n");
}

/* Every string field of every event type carries invalid UTF-8 and control
 * characters; every line parses back, every key is there, and the repair
 * count is exact. */
static void test_invalid_utf8_everywhere(void **state)
{
    (void)state;
    static const char bad[] = "a\xc0\x80z\x01\x1f\"\\\xed\xa0\x80\xf4\x90\x80\x80\xe2\x82";
    /* one U+FFFD per maximal ill-formed subpart: C0, 80, ED, A0, 80, F4, 90,
     * 80, 80, E2 82 = 10 */
    const unsigned per = 10;
    struct sw_event ev;
    struct sw_counters rc;

    transfer_event(&ev);
    ev.call_id = bad;
    ev.u.transfer.refer_to = ev.u.transfer.referred_by = ev.u.transfer.refer_reason = bad;
    ev.u.transfer.final_reason = ev.u.transfer.subscription_state = bad;
    json_t *j = json_loads(render(&ev, &rc), 0, NULL);
    assert_non_null(j);
    assert_int_equal(counter(&rc, "utf8_repaired"), 6 * per);
    assert_int_equal(counter(&rc, "json_errors"), 0);
    const char *cid = json_string_value(json_object_get(j, "call_id"));
    assert_non_null(cid);
    assert_string_equal(cid, "a\xef\xbf\xbd\xef\xbf\xbdz\x01\x1f\"\\\xef\xbf\xbd\xef\xbf\xbd"
                             "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
                             "\xef\xbf\xbd");
    assert_non_null(
        json_string_value(json_object_get(json_object_get(j, "transfer"), "subscription_state")));
    json_decref(j);
    /* control characters are escaped, never raw */
    assert_non_null(strstr(mem_buf, "\\u0001\\u001F\\\"\\\\"));
    assert_null(memchr(mem_buf, '\x01', strlen(mem_buf)));

    not_found_event(&ev);
    ev.u.not_found.method = ev.u.not_found.request_uri = ev.u.not_found.user = bad;
    ev.u.not_found.domain = ev.u.not_found.from = ev.u.not_found.to = bad;
    ev.u.not_found.user_agent = ev.u.not_found.server = ev.u.not_found.reason = bad;
    ev.u.not_found.warning = bad;
    j = json_loads(render(&ev, &rc), 0, NULL);
    assert_non_null(j);
    assert_int_equal(counter(&rc, "utf8_repaired"), 10 * per);
    assert_int_equal(json_object_size(json_object_get(j, "user_not_found")), 12);
    json_decref(j);

    memset(&ev, 0, sizeof ev);
    ev.type = SW_EVENT_SCAN;
    ev.u.scan.src_ip = bad;
    ev.u.scan.users[0] = bad;
    ev.u.scan.n_users = 1;
    ev.u.scan.methods[0] = bad;
    ev.u.scan.n_methods = 1;
    ev.u.scan.user_agents[0] = bad;
    ev.u.scan.user_agents[1] = "\xff\xfe";
    ev.u.scan.n_user_agents = 2;
    ev.u.scan.first_time = ev.u.scan.last_time = ev.u.scan.window = SW_TIME_NONE;
    j = json_loads(render(&ev, &rc), 0, NULL);
    assert_non_null(j);
    assert_int_equal(counter(&rc, "utf8_repaired"), 4 * per + 2);
    json_t *ua = json_object_get(json_object_get(j, "scan"), "user_agents");
    assert_string_equal(json_string_value(json_array_get(ua, 1)), "\xef\xbf\xbd\xef\xbf\xbd");
    json_decref(j);
}

static void test_utf8_repair_table(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        size_t n;
        const char *out;
        unsigned bad;
    } t[] = {
        {"plain", 5, "plain", 0},
        {"\xc3\xa9", 2, "\xc3\xa9", 0},                 /* U+00E9 */
        {"\xe2\x82\xac", 3, "\xe2\x82\xac", 0},         /* U+20AC */
        {"\xf0\x9f\x98\x80", 4, "\xf0\x9f\x98\x80", 0}, /* U+1F600 */
        {"\xf4\x8f\xbf\xbf", 4, "\xf4\x8f\xbf\xbf", 0}, /* U+10FFFF, the last */
        {"\xed\x9f\xbf", 3, "\xed\x9f\xbf", 0},         /* U+D7FF, before surrogates */
        {"\xee\x80\x80", 3, "\xee\x80\x80", 0},         /* U+E000, after them */
        {"\xc0\x80", 2, "\xef\xbf\xbd\xef\xbf\xbd", 2}, /* overlong NUL */
        {"\xc1\xbf", 2, "\xef\xbf\xbd\xef\xbf\xbd", 2}, /* overlong */
        {"\xe0\x9f\xbf", 3, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", 3}, /* overlong 3 */
        {"\xf0\x8f\xbf\xbf", 4, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd",
         4},                                                            /* overlong 4 */
        {"\xed\xa0\x80", 3, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", 3}, /* U+D800 */
        {"\xf4\x90\x80\x80", 4, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd",
         4}, /* U+110000 */
        {"\xf5\x80", 2, "\xef\xbf\xbd\xef\xbf\xbd", 2},
        {"\xff", 1, "\xef\xbf\xbd", 1},
        {"\x80", 1, "\xef\xbf\xbd", 1},
        {"\xe2\x82", 2, "\xef\xbf\xbd", 1},   /* cut at the end: one */
        {"\xe2\x82z", 3, "\xef\xbf\xbdz", 1}, /* cut before ASCII */
        {"\xf0\x9f\x98", 3, "\xef\xbf\xbd", 1},
        {"\xe2\xe2\x82\xac", 4, "\xef\xbf\xbd\xe2\x82\xac", 1},
        {"a\0b", 3, "a\0b", 0},
        {"", 0, "", 0},
    };
    char out[64];
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        unsigned bad = 99;
        size_t n = report_utf8_repair(t[i].in, t[i].n, out, sizeof out, &bad);
        size_t en = strlen(t[i].out);
        if (t[i].n == 3 && t[i].in[1] == '\0')
            en = 3;
        if (n != en || memcmp(out, t[i].out, n) != 0 || bad != t[i].bad || out[n] != '\0')
            fail_msg("case %zu: length %zu, %u repaired", i, n, bad);
    }
    /* the output is never cut inside a sequence */
    assert_int_equal(report_utf8_repair("ab\xe2\x82\xac", 5, out, 5, NULL), 2);
    assert_string_equal(out, "ab");
    assert_int_equal(report_utf8_repair("ab\xe2\x82\xac", 5, out, 6, NULL), 5);
    assert_int_equal(report_utf8_repair("ab\xff", 3, out, 5, NULL), 2);
    assert_int_equal(report_utf8_repair("ab\xff", 3, out, 6, NULL), 5);
    assert_int_equal(report_utf8_repair("abc", 3, out, 1, NULL), 0);
    assert_string_equal(out, "");
}

static void test_event_mask(void **state)
{
    (void)state;
    FILE *f;
    struct report *r = mem_report(&f, 1u << SW_EVENT_USER_NOT_FOUND);
    struct sw_event ev;
    transfer_event(&ev);
    assert_int_equal(report_event(r, &ev), 0);
    not_found_event(&ev);
    assert_int_equal(report_event(r, &ev), 0);
    ev.type = SW_EVENT_STATS;
    memset(&ev.u, 0, sizeof ev.u);
    assert_int_equal(report_event(r, &ev), 0);
    ev.type = SW_EVENT__COUNT;
    assert_int_equal(report_event(r, &ev), 0);
    struct sw_counters c;
    c.n = 0;
    c.group = NULL;
    report_counters(r, &c);
    static const char *const names[] = {
        "events_written", "events_written_transfer", "events_written_user_not_found",
        "events_written_scan", "events_written_stats", "events_suppressed", "output_errors",
        "events_lost", "output_reopen_failures", "utf8_repaired", "json_errors", "events_shortened",
    };
    assert_int_equal(c.n, sizeof names / sizeof names[0]);
    for (size_t i = 0; i < c.n; i++)
        assert_string_equal(c.v[i].name, names[i]);
    assert_int_equal(counter(&c, "events_written"), 1);
    assert_int_equal(counter(&c, "events_written_user_not_found"), 1);
    assert_int_equal(counter(&c, "events_written_transfer"), 0);
    assert_int_equal(counter(&c, "events_suppressed"), 2);
    assert_int_equal(counter(&c, "json_errors"), 1); /* the type out of range */
    report_free(r);
    fclose(f);
    assert_non_null(strstr(mem_buf, "\"event_type\":\"user_not_found\""));
    assert_non_null(strchr(mem_buf, '\n'));
    assert_ptr_equal(strchr(mem_buf, '\n'), mem_buf + mem_len - 1);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void test_append_and_reopen(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_report.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256], moved[256];
    snprintf(path, sizeof path, "%s/events.ndjson", dir);
    snprintf(moved, sizeof moved, "%s/events.ndjson.1", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("{\"old\":1}\n", f);
    fclose(f);

    char errbuf[SW_ERRBUF_SIZE] = "";
    struct report_config cfg = {.path = path, .give_up = SW_SEC(60)};
    struct report *r = report_new(&cfg, errbuf);
    assert_non_null(r);
    struct sw_event ev;
    not_found_event(&ev);
    assert_int_equal(report_event(r, &ev), 0);
    assert_int_equal(report_flush(r), 0);
    char *s = slurp(path);
    assert_non_null(s);
    assert_memory_equal(s, "{\"old\":1}\n{\"timestamp\":", 23);

    /* logrotate moved it: reopen creates a new file, the old one is kept */
    assert_int_equal(rename(path, moved), 0);
    assert_int_equal(report_reopen(r, errbuf), 0);
    transfer_event(&ev);
    assert_int_equal(report_event(r, &ev), 0);
    assert_int_equal(report_flush(r), 0);
    s = slurp(path);
    assert_non_null(s);
    assert_memory_equal(s, "{\"timestamp\":", 13);
    assert_non_null(strstr(s, "\"event_type\":\"transfer\""));
    assert_null(strstr(s, "user_not_found"));
    s = slurp(moved);
    assert_non_null(strstr(s, "user_not_found"));
    assert_null(strstr(s, "\"transfer\""));

    /* reopen failing (directory gone) keeps the old stream */
    assert_int_equal(unlink(path), 0);
    assert_int_equal(unlink(moved), 0);
    assert_int_equal(rmdir(dir), 0);
    assert_int_equal(report_reopen(r, errbuf), -1);
    assert_non_null(strstr(errbuf, "cannot open output "));
    assert_non_null(strstr(errbuf, "No such file or directory"));
    assert_int_equal(report_event(r, &ev), 0);
    report_free(r);

    /* report_new on an impossible path fails with the message */
    errbuf[0] = '\0';
    cfg.path = "/nonexistent-dir/x.ndjson";
    assert_null(report_new(&cfg, errbuf));
    assert_string_equal(errbuf,
                        "cannot open output /nonexistent-dir/x.ndjson: No such file or directory");
}

static void test_dev_full(void **state)
{
    (void)state;
    char errbuf[SW_ERRBUF_SIZE];
    struct report_config cfg = {.path = "/dev/full", .line_buffered = true, .give_up = SW_SEC(60)};
    struct report *r = report_new(&cfg, errbuf);
    if (r == NULL)
        skip();
    struct sw_event ev;
    transfer_event(&ev);
    errno = 0;
    /* the first line is held (written when the output works again), the
     * second is dropped while the output fails */
    assert_int_equal(report_event(r, &ev), -1);
    assert_int_equal(errno, ENOSPC);
    assert_int_equal(report_event(r, &ev), -1);
    assert_false(report_failed(r)); /* give_up 60 s */
    struct sw_counters c;
    c.n = 0;
    c.group = NULL;
    report_counters(r, &c);
    assert_int_equal(counter(&c, "output_errors"), 2);
    assert_int_equal(counter(&c, "events_lost"), 1);
    assert_int_equal(report_last_errno(r), ENOSPC);
    report_free(r);

    /* batched (file-to-file): the error shows at flush time; give_up 0
     * means the run should stop at the first failure */
    cfg.line_buffered = false;
    cfg.give_up = 0;
    r = report_new(&cfg, errbuf);
    assert_non_null(r);
    assert_int_equal(report_event(r, &ev), 0);
    assert_int_equal(report_flush(r), -1);
    assert_true(report_failed(r));
    c.n = 0;
    c.group = NULL;
    report_counters(r, &c);
    assert_int_equal(counter(&c, "output_errors"), 1);
    assert_int_equal(counter(&c, "events_written"), 1);
    report_free(r);
}

/* "-" (and NULL) write to fd 1, whole lines. */
static void test_stdout(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(stdout);
    int saved = dup(1);
    assert_true(saved >= 0);
    assert_int_equal(dup2(fds[1], 1), 1);
    close(fds[1]);
    char errbuf[SW_ERRBUF_SIZE];
    struct report_config cfg = {.path = "-"};
    struct report *r = report_new(&cfg, errbuf);
    struct sw_event ev;
    not_found_event(&ev);
    int rc = r != NULL ? report_event(r, &ev) : -2;
    report_free(r);
    dup2(saved, 1);
    close(saved);
    char buf[4096];
    ssize_t n = read(fds[0], buf, sizeof buf - 1);
    close(fds[0]);
    assert_int_equal(rc, 0);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_memory_equal(buf, "{\"timestamp\":\"2026-11-28T18:16:41.123456Z\"", 42);
    assert_int_equal(buf[n - 1], '\n');
}

static void test_format_time(void **state)
{
    (void)state;
    static const struct {
        sw_time t;
        const char *s;
    } t[] = {
        {0, "1970-01-01T00:00:00.000000Z"},
        {1, "1970-01-01T00:00:00.000001Z"},
        {999999, "1970-01-01T00:00:00.999999Z"},
        {1000000, "1970-01-01T00:00:01.000000Z"},
        {-1, "1969-12-31T23:59:59.999999Z"},
        {-1000000, "1969-12-31T23:59:59.000000Z"},
        {T0, "2026-11-28T18:16:41.123456Z"},
        {INT64_C(2147483647999999), "2038-01-19T03:14:07.999999Z"},
        {INT64_C(2147483648000000), "2038-01-19T03:14:08.000000Z"},
        {INT64_C(4102444800000001), "2100-01-01T00:00:00.000001Z"},
        {INT64_C(253402300799999999), "9999-12-31T23:59:59.999999Z"},
    };
    char buf[32];
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        assert_string_equal(report_format_time(t[i].t, buf), t[i].s);
    /* the extremes fit in 32 bytes */
    assert_true(strlen(report_format_time(INT64_MAX, buf)) < 32);
    assert_true(strlen(report_format_time(INT64_MIN + 1, buf)) < 32);
}

/* A report that stays open: each call writes one event and returns its line
 * (in mem_buf, valid until the next call). */
static FILE *seq_f;
static struct report *seq_r;
static size_t seq_off;

static void seq_open(void)
{
    seq_r = mem_report(&seq_f, 0);
    seq_off = 0;
}

static const char *seq_line(const struct sw_event *ev, size_t *n)
{
    assert_int_equal(report_event(seq_r, ev), 0);
    assert_int_equal(fflush(seq_f), 0);
    const char *line = mem_buf + seq_off;
    *n = mem_len - seq_off;
    seq_off = mem_len;
    return line;
}

static void seq_close(struct sw_counters *rc)
{
    rc->n = 0;
    report_counters(seq_r, rc);
    report_free(seq_r);
    fclose(seq_f);
}

/* ev written by the open report is the reference line, byte for byte. */
static void seq_check(const struct sw_event *ev, struct ref *ref, int round)
{
    size_t want_n, got_n;
    char *want = ref_line(ref, ev, &want_n);
    const char *got = seq_line(ev, &got_n);
    if (got_n != want_n || memcmp(got, want, want_n) != 0)
        fail_msg("event %d:\n got %.*s\nwant %s", round, (int)got_n, got, want);
    free(want);
}

/* One object per event type is reused: what an event leaves in it (a
 * string where the next has null, the optional "truncated" key, another
 * address, a time in the same or another second) never shows in the next. */
static void test_reuse_sequence(void **state)
{
    (void)state;
    struct ref ref = {0};
    struct sw_event ev;
    int k = 0;
    seq_open();

    transfer_event(&ev);
    ev.u.transfer.truncated = true;
    seq_check(&ev, &ref, k++);
    /* unknowns where there were strings; "truncated" goes; no tuple */
    ev.ts = T0 + 1;
    ev.call_id = NULL;
    ev.has_tuple = false;
    ev.u.transfer.truncated = false;
    ev.u.transfer.refer_to = NULL;
    ev.u.transfer.refer_status = 0;
    ev.u.transfer.accepted_time = SW_TIME_NONE;
    ev.u.transfer.wait = SW_TIME_NONE;
    ev.u.transfer.replaces = false;
    seq_check(&ev, &ref, k++);
    /* back again, "truncated" last; another address, another second that
     * shares the time cache's entry (4 s later), then the first again */
    transfer_event(&ev);
    ev.u.transfer.truncated = true;
    ev.ts = T0 + 4000000;
    tuple_v4(&ev, "198.51.100.7", 5061, "192.0.2.4", 5080, SW_TRANSPORT_TCP);
    seq_check(&ev, &ref, k++);
    ev.ts = T0 + 999;
    ev.tuple.src.family = 6; /* same bytes, other family: other text */
    seq_check(&ev, &ref, k++);
    ev.ts = T0 - 1000000; /* the second before */
    ev.tuple.src.family = 0;
    seq_check(&ev, &ref, k++);
    ev.ts = INT64_MIN + 1; /* the extremes */
    seq_check(&ev, &ref, k++);
    ev.ts = INT64_MAX;
    seq_check(&ev, &ref, k++);
    ev.ts = T0;
    ev.u.transfer.refer_to = "\xff\xfe bad \xc3";
    ev.u.transfer.final_reason = "caf\xc3\xa9";
    seq_check(&ev, &ref, k++);
    ev.u.transfer.refer_to = "ok";
    seq_check(&ev, &ref, k++);

    /* another type in between, then the first again */
    memset(&ev, 0, sizeof ev);
    ev.type = SW_EVENT_USER_NOT_FOUND;
    ev.ts = T0;
    ev.call_id = "nf@x";
    ev.u.not_found.method = "INVITE";
    ev.u.not_found.status = 404;
    ev.u.not_found.rtt = 1468;
    seq_check(&ev, &ref, k++);
    ev.u.not_found.status = 0;
    ev.u.not_found.rtt = SW_TIME_NONE;
    ev.u.not_found.method = "";
    ev.u.not_found.warning = "399 x \"y\"";
    seq_check(&ev, &ref, k++);
    transfer_event(&ev);
    seq_check(&ev, &ref, k++);

    struct sw_counters rc;
    seq_close(&rc);
    assert_int_equal(counter(&rc, "events_written"), k);
    assert_int_equal(counter(&rc, "utf8_repaired"), ref.utf8_repaired);
    assert_int_equal(counter(&rc, "json_errors"), 0);
    assert_true(ref.utf8_repaired > 0);
}

static uint64_t rnd_state = 88172645463325252u;

static uint64_t rnd(void)
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 7;
    rnd_state ^= rnd_state << 17;
    return rnd_state;
}

static char rnd_strs[64][48];

/* NULL, one of a few repeated values, ASCII with escapes, or any bytes
 * (invalid UTF-8 too). */
static const char *rnd_str(void)
{
    static const char *const fixed[] = {"", "same", "caf\xc3\xa9", "\xff"};
    static unsigned k;
    char *s = rnd_strs[k++ % 64];
    uint64_t v = rnd();
    if (v % 7 == 0)
        return NULL;
    if (v % 7 == 1)
        return fixed[(v >> 3) % 4];
    size_t n = (v >> 8) % 40;
    for (size_t i = 0; i < n; i++) {
        uint64_t c = rnd();
        s[i] = (char)(v % 3 == 0 ? 1 + c % 255 : (v % 3 == 1 ? 1 + c % 127 : 'a' + c % 26));
    }
    s[n] = '\0';
    return s;
}

static sw_time rnd_time(void)
{
    static const sw_time edges[] = {SW_TIME_NONE,
                                    0,
                                    1,
                                    -1,
                                    999999,
                                    1000000,
                                    T0,
                                    INT64_MAX,
                                    INT64_MIN + 1,
                                    INT64_MIN + 1999999,
                                    INT64_MIN + 2000000,
                                    INT64_C(100000000000000000)};
    uint64_t v = rnd();
    if (v % 3 == 0)
        return edges[(v >> 4) % (sizeof edges / sizeof edges[0])];
    if (v % 3 == 1)
        return T0 + (sw_time)((v >> 4) % 20000000u); /* seconds that repeat */
    return (sw_time)(rnd() >> (v % 64));
}

static void rnd_tuple(struct sw_event *ev)
{
    static const char *const addrs[] = {"192.0.2.1", "198.51.100.7", "192.0.2.4"};
    if (rnd() % 4 == 0)
        return;
    tuple_v4(ev, addrs[rnd() % 3], (uint16_t)rnd(), addrs[rnd() % 3], (uint16_t)rnd(),
             (enum sw_transport)(rnd() % 9));
    if (rnd() % 5 == 0) {
        ev->tuple.src.family = 6;
        ev->tuple.dst.family = 0;
    }
}

/* The lines written are jansson's for the same event built afresh, byte for
 * byte, over 4000 random events of every type written by one report (so each
 * reused object goes through every change of value, null and key), with
 * random strings, times, numbers and counter names (duplicates, invalid
 * UTF-8, names of the stats objects). */
static void test_matches_jansson(void **state)
{
    (void)state;
    struct ref ref = {0};
    seq_open();
    int round;
    for (round = 0; round < 4000; round++) {
        struct sw_event ev;
        memset(&ev, 0, sizeof ev);
        ev.type = (enum sw_event_type)(rnd() % SW_EVENT__COUNT);
        ev.ts = rnd_time();
        ev.call_id = rnd_str();
        rnd_tuple(&ev);
        struct sw_counters c;
        struct sw_not_found_summary nf;
        struct sw_transfer_summary xs;
        memset(&nf, 0, sizeof nf);
        memset(&xs, 0, sizeof xs);
        c.n = 0;
        switch (ev.type) {
        case SW_EVENT_TRANSFER: {
            struct sw_event_transfer *x = &ev.u.transfer;
            x->outcome = (enum sw_transfer_outcome)(rnd() % (SW_OUTCOME__COUNT + 1));
            x->refer_to = rnd_str();
            x->referred_by = rnd_str();
            x->replaces = rnd() & 1;
            x->refer_cseq = (uint32_t)rnd();
            x->refer_status = (int)(rnd() % 700);
            x->refer_reason = rnd_str();
            x->notify_count = (unsigned)rnd();
            x->final_status = (int)(rnd() % 700);
            x->final_reason = rnd_str();
            x->refer_time = rnd_time();
            x->accepted_time = rnd_time();
            x->wait = rnd_time();
            x->subscription_state = rnd_str();
            x->truncated = rnd() & 1;
            break;
        }
        case SW_EVENT_USER_NOT_FOUND: {
            struct sw_event_not_found *x = &ev.u.not_found;
            x->method = rnd_str();
            x->request_uri = rnd_str();
            x->user = rnd_str();
            x->domain = rnd_str();
            x->from = rnd_str();
            x->to = rnd_str();
            x->user_agent = rnd_str();
            x->server = rnd_str();
            x->status = (int)(rnd() % 1000);
            x->reason = rnd_str();
            x->warning = rnd_str();
            x->rtt = rnd_time();
            break;
        }
        case SW_EVENT_SCAN: {
            struct sw_event_scan *x = &ev.u.scan;
            x->src_ip = rnd_str();
            x->count = rnd();
            x->distinct_users = rnd() >> 3;
            x->n_users = rnd() % (SW_SCAN_MAX_SAMPLE + 2);
            for (size_t i = 0; i < SW_MIN(x->n_users, (size_t)SW_SCAN_MAX_SAMPLE); i++)
                x->users[i] = rnd_str();
            x->n_methods = rnd() % (SW_SCAN_MAX_LIST + 2);
            for (size_t i = 0; i < SW_MIN(x->n_methods, (size_t)SW_SCAN_MAX_LIST); i++)
                x->methods[i] = rnd_str();
            x->n_user_agents = rnd() % (SW_SCAN_MAX_LIST + 2);
            for (size_t i = 0; i < SW_MIN(x->n_user_agents, (size_t)SW_SCAN_MAX_LIST); i++)
                x->user_agents[i] = rnd_str();
            x->first_time = rnd_time();
            x->last_time = rnd_time();
            x->window = rnd_time();
            break;
        }
        case SW_EVENT_STATS:
        case SW_EVENT__COUNT: {
            static const char *const names[] = {
                "packets", "transfers", "not_found",         "final", "a\"b\\c\x01", "bad\xff",
                "",        "packets",   "\xc3\xa9t\xc3\xa9", NULL};
            size_t n = rnd() % SW_COUNTERS_MAX;
            for (size_t i = 0; i < n; i++)
                sw_counters_add(&c, names[rnd() % (sizeof names / sizeof names[0])], rnd());
            for (size_t i = 0; i < SW_SUMMARY_TOP; i++) {
                nf.top_users[i] = (struct sw_top_entry){rnd_str(), rnd()};
                nf.top_sources[i] = (struct sw_top_entry){rnd_str(), rnd() % 100};
            }
            nf.n_top_users = rnd() % (SW_SUMMARY_TOP + 2);
            nf.n_top_sources = rnd() % (SW_SUMMARY_TOP + 2);
            nf.status_404 = rnd();
            for (size_t i = 0; i < SW_OUTCOME__COUNT; i++)
                xs.by_outcome[i] = rnd() >> (rnd() % 64);
            ev.u.stats.counters = rnd() % 5 ? &c : NULL;
            ev.u.stats.not_found = rnd() % 5 ? &nf : NULL;
            ev.u.stats.transfers = rnd() % 5 ? &xs : NULL;
            ev.u.stats.final = rnd() & 1;
            break;
        }
        }
        /* a ladder: endpoints of both families (and none), any strings */
        struct sw_ladder_msg lad[4];
        if (ev.type != SW_EVENT_STATS && rnd() % 2 == 0) {
            ev.ladder.n = rnd() % 5;
            ev.ladder.msgs = lad;
            for (size_t i = 0; i < ev.ladder.n; i++) {
                struct sw_ladder_msg *m = &lad[i];
                memset(m, 0, sizeof *m);
                m->ts = rnd_time();
                m->tuple.src.family = (uint8_t)(rnd() % 3 == 0 ? 6 : rnd() % 5 == 0 ? 0 : 4);
                m->tuple.dst.family = (uint8_t)(rnd() % 3 == 0 ? 6 : 4);
                for (size_t j = 0; j < 16; j++) {
                    m->tuple.src.a[j] = (uint8_t)(rnd() % 4 == 0 ? 0 : rnd());
                    m->tuple.dst.a[j] = (uint8_t)(rnd() % 4 == 0 ? 0 : rnd());
                }
                m->tuple.sport = (uint16_t)rnd();
                m->tuple.dport = (uint16_t)(rnd() >> (rnd() % 64));
                m->tuple.transport = (uint8_t)(rnd() % 9);
                m->is_request = rnd() & 1;
                m->method = rnd_str();
                m->request_uri = rnd_str();
                m->status = (int)(rnd() % 3 == 0 ? (int64_t)rnd() : (int64_t)(rnd() % 700));
                m->reason = rnd_str();
                m->cseq = (uint32_t)(rnd() >> (rnd() % 64));
                m->cseq_method = rnd_str();
                m->copy = (enum sw_msg_copy)(rnd() % 3);
            }
        }
        seq_check(&ev, &ref, round);
    }
    struct sw_counters rc;
    seq_close(&rc);
    assert_int_equal(counter(&rc, "events_written"), round);
    assert_int_equal(counter(&rc, "utf8_repaired"), ref.utf8_repaired);
    assert_int_equal(counter(&rc, "json_errors"), ref.json_errors);
}

/* Durations (rtt_s, wait_s, window_s) are written without jansson in the
 * usual range: every digit count, trailing zeros, the edges of that range
 * (100 us and 10^15 us) and beyond are jansson's text, byte for byte. */
static void test_durations_match_jansson(void **state)
{
    (void)state;
    struct ref ref = {0};
    seq_open();
    int k = 0;
    sw_time p10 = 1;
    for (int d = 0; d <= 17; d++, p10 *= 10) {
        const sw_time around[] = {p10 - 1, p10, p10 + 1, 2 * p10, 5 * p10 + 3, 9 * p10 + p10 / 2,
                                  -p10, 123456789 % (p10 * 10) + p10};
        for (size_t i = 0; i < sizeof around / sizeof around[0]; i++) {
            struct sw_event ev;
            not_found_event(&ev);
            ev.u.not_found.rtt = around[i];
            seq_check(&ev, &ref, k++);
        }
    }
    for (int i = 0; i < 20000; i++) {
        struct sw_event ev;
        not_found_event(&ev);
        ev.u.not_found.rtt = (sw_time)(rnd() >> (rnd() % 64));
        seq_check(&ev, &ref, k++);
    }
    struct sw_counters rc;
    seq_close(&rc);
    assert_int_equal(counter(&rc, "events_written"), k);
}

/* Events longer than REPORT_MAX_LINE are cut to fit, with markers; the
 * reference builder (report_ref.h) cuts the same way. */
static char long_users[SW_SCAN_MAX_SAMPLE][1001];
static char long_field[600];
static struct sw_ladder_msg long_ladder[SW_MAX_LADDER];

static void check_fits(const struct sw_event *ev, const char *marker)
{
    const char *s = render(ev, NULL);
    size_t n = strlen(s);
    assert_true(n <= REPORT_MAX_LINE);
    assert_true(n > 1000); /* cut, not emptied */
    json_error_t err;
    json_t *j = json_loads(s, 0, &err);
    assert_non_null(j);
    json_decref(j);
    assert_non_null(strstr(s, marker));
    struct ref ref = {0};
    size_t want_n = 0;
    char *want = ref_line(&ref, ev, &want_n);
    assert_string_equal(s, want);
    free(want);
}

static void test_long_events_fit(void **state)
{
    (void)state;
    struct sw_event ev;
    /* a scan of 20 users of 1000 bytes each (a scanner picks the names) */
    memset(&ev, 0, sizeof ev);
    ev.type = SW_EVENT_SCAN;
    ev.ts = T0;
    struct sw_event_scan *sc = &ev.u.scan;
    for (size_t i = 0; i < SW_SCAN_MAX_SAMPLE; i++) {
        memset(long_users[i], 'a' + (int)(i % 26), 1000);
        long_users[i][1000] = '\0';
        sc->users[i] = long_users[i];
    }
    sc->n_users = SW_SCAN_MAX_SAMPLE;
    sc->distinct_users = sc->count = 20;
    sc->src_ip = "198.51.100.7";
    sc->first_time = sc->last_time = T0;
    sc->window = SW_SEC(60);
    check_fits(&ev, "...\"");
    check_fits(&ev, "\"users_truncated\":true");

    /* a transfer whose every wire string is 512 bytes of control bytes
     * (each escaped as \u00XX: six times longer) and a full ladder */
    transfer_event(&ev);
    memset(long_field, 0x1b, sizeof long_field - 1);
    long_field[sizeof long_field - 1] = '\0';
    struct sw_event_transfer *x = &ev.u.transfer;
    x->refer_to = x->referred_by = x->refer_reason = x->final_reason = long_field;
    x->parties.from = x->parties.to = x->parties.transferor_ua = long_field;
    x->parties.transferee_ua = x->subscription_state = long_field;
    ev.call_id = long_field;
    for (size_t i = 0; i < SW_MAX_LADDER; i++) {
        struct sw_ladder_msg *m = &long_ladder[i];
        memset(m, 0, sizeof *m);
        m->ts = T0;
        m->tuple = ev.tuple;
        m->is_request = i % 2 == 0;
        m->method = "NOTIFY";
        m->request_uri = long_field;
        m->status = 200;
        m->reason = long_field;
        m->cseq = (uint32_t)i;
        m->cseq_method = "NOTIFY";
    }
    ev.ladder.msgs = long_ladder;
    ev.ladder.n = SW_MAX_LADDER;
    check_fits(&ev, "\"messages_truncated\":true");
    ev.ladder.n = 0;
    check_fits(&ev, "...\"");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_transfer_line),
        cmocka_unit_test(test_transfer_unknowns),
        cmocka_unit_test(test_not_found_line),
        cmocka_unit_test(test_scan_line),
        cmocka_unit_test(test_stats_line),
        cmocka_unit_test(test_invalid_utf8_everywhere),
        cmocka_unit_test(test_utf8_repair_table),
        cmocka_unit_test(test_event_mask),
        cmocka_unit_test(test_append_and_reopen),
        cmocka_unit_test(test_dev_full),
        cmocka_unit_test(test_stdout),
        cmocka_unit_test(test_format_time),
        cmocka_unit_test(test_reuse_sequence),
        cmocka_unit_test(test_matches_jansson),
        cmocka_unit_test(test_durations_match_jansson),
        cmocka_unit_test(test_long_events_fit),
    };
    int rc = cmocka_run_group_tests_name("report", tests, NULL, NULL);
    free(mem_buf);
    return rc;
}
