/* test_htmlreport.c - unit tests of the HTML report and the terminal summary
 * with synthetic events: escaping of wire text (HTML and terminal), ladders
 * drawn one arrow per message, the caps on rows and ladders, the summary's
 * tallies and its row cap. The browser test (tests/cli/check_html.py) checks
 * the page as a whole. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sipwatch/htmlreport.h"
#include "sipwatch/summary.h"

#define T0 INT64_C(1795889801123456) /* 2026-11-28T18:16:41.123456Z */

static char *escaped(const char *s, size_t max)
{
    static char *buf;
    size_t len;
    free(buf);
    buf = NULL;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    htmlreport_escape(f, s, max);
    fclose(f);
    return buf;
}

static void test_escape_markup(void **state)
{
    (void)state;
    assert_string_equal(escaped("<script>a&b</script>", 100),
                        "&lt;script&gt;a&amp;b&lt;/script&gt;");
    assert_string_equal(escaped("\"><img src=x onerror='x'>", 100),
                        "&quot;&gt;&lt;img src=x onerror=&#39;x&#39;&gt;");
    assert_string_equal(escaped("plain text", 100), "plain text");
    assert_string_equal(escaped("", 100), "");
    assert_string_equal(escaped(NULL, 100), "");
}

static void test_escape_bytes(void **state)
{
    (void)state;
    /* invalid UTF-8 -> U+FFFD; valid multibyte kept */
    assert_string_equal(escaped("a\xff"
                                "b",
                                100),
                        "a\xEF\xBF\xBD"
                        "b");
    assert_string_equal(escaped("caf\xC3\xA9", 100), "caf\xC3\xA9");
    assert_string_equal(escaped("\xE2\x80\xA8", 100), "\xE2\x80\xA8");
    /* controls (an escape sequence, NUL-free C0, DEL, C1) -> '?' */
    assert_string_equal(escaped("x\x1b[31mred\x7f\r\n", 100), "x?[31mred???");
    assert_string_equal(escaped("\xC2\x9B"
                                "2J",
                                100),
                        "?2J");
    /* cut at a character boundary, "..." added, then escaped */
    assert_string_equal(escaped("abcdefghij", 8), "abcde...");
    assert_string_equal(escaped("ab\xC3\xA9\xC3\xA9\xC3\xA9", 8), "ab\xC3\xA9\xC3\xA9\xC3\xA9");
    assert_string_equal(escaped("ab\xC3\xA9\xC3\xA9\xC3\xA9", 7), "ab\xC3\xA9...");
    assert_string_equal(escaped("<<<<<<<<<<", 6), "&lt;&lt;&lt;...");
}

static void test_summary_safe_text(void **state)
{
    (void)state;
    char buf[16];
    assert_string_equal(summary_safe_text(NULL, buf, sizeof buf), "-");
    assert_string_equal(summary_safe_text("\x1b]0;title\x07", buf, sizeof buf), "?]0;title?");
    assert_string_equal(summary_safe_text("0123456789abcdefghij", buf, sizeof buf),
                        "0123456789ab...");
    assert_string_equal(summary_safe_text("\xF4\x90\x80\x80", buf, sizeof buf),
                        "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
}

static struct sw_tuple tuple(const char *src, uint16_t sport, const char *dst, uint16_t dport)
{
    struct sw_tuple t;
    memset(&t, 0, sizeof t);
    t.src.family = t.dst.family = 4;
    inet_pton(AF_INET, src, t.src.a);
    inet_pton(AF_INET, dst, t.dst.a);
    t.sport = sport;
    t.dport = dport;
    t.transport = SW_TRANSPORT_UDP;
    return t;
}

static struct sw_ladder_msg lmsg[6];

/* A flagged transfer (no_notify) whose ladder has 6 messages between three
 * endpoints, one a retransmission, one with a hostile reason phrase. */
static struct sw_event transfer_event(enum sw_transfer_outcome o, const char *ua)
{
    struct sw_tuple a = tuple("192.0.2.1", 5060, "192.0.2.2", 5060);
    struct sw_tuple b = tuple("192.0.2.2", 5060, "192.0.2.3", 5070);
    struct sw_tuple ra = sw_tuple_reverse(&a);
    const struct sw_tuple tu[6] = {a, a, ra, b, ra, a};
    for (int i = 0; i < 6; i++) {
        memset(&lmsg[i], 0, sizeof lmsg[i]);
        lmsg[i].ts = T0 + i * 100000;
        lmsg[i].tuple = tu[i];
        lmsg[i].cseq = 2;
        lmsg[i].cseq_method = "REFER";
        lmsg[i].is_request = i != 2 && i != 4;
        lmsg[i].method = lmsg[i].is_request ? "REFER" : NULL;
        lmsg[i].request_uri = "sip:bob@192.0.2.2";
        lmsg[i].status = lmsg[i].is_request ? 0 : 202;
        lmsg[i].reason = "Accepted <script>alert(1)</script>";
        lmsg[i].copy = i == 1 ? SW_MSG_RETRANSMISSION : SW_MSG_ORIGINAL;
    }
    struct sw_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = SW_EVENT_TRANSFER;
    ev.ts = T0 + SW_SEC(5);
    ev.call_id = "call<1>@x";
    ev.has_tuple = true;
    ev.tuple = a;
    ev.u.transfer.outcome = o;
    ev.u.transfer.refer_to = "sip:carol@192.0.2.3";
    ev.u.transfer.wait = SW_SEC(4);
    ev.u.transfer.refer_time = ev.u.transfer.accepted_time = T0;
    ev.u.transfer.parties.transferor_ua = ua;
    ev.ladder.msgs = lmsg;
    ev.ladder.n = 6;
    return ev;
}

static char *page_buf;
static size_t page_len;

static const char *page(struct sw_event *evs, size_t n, size_t max_rows, size_t max_ladders)
{
    free(page_buf);
    page_buf = NULL;
    FILE *f = open_memstream(&page_buf, &page_len);
    assert_non_null(f);
    struct htmlreport_config cfg = {NULL, max_rows, max_ladders};
    struct htmlreport *h = htmlreport_new_stream(f, &cfg);
    assert_non_null(h);
    for (size_t i = 0; i < n; i++)
        htmlreport_emit(h, &evs[i]);
    assert_int_equal(htmlreport_write(h), 0);
    htmlreport_free(h);
    fclose(f);
    return page_buf;
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

static void test_ladder_arrows(void **state)
{
    (void)state;
    struct sw_event ev = transfer_event(SW_OUTCOME_NO_NOTIFY, "UA <b>");
    const char *p = page(&ev, 1, 0, 0);
    assert_int_equal(count(p, "<section class=\"ladder\""), 1);
    assert_non_null(strstr(p, "data-messages=\"6\""));
    assert_int_equal(count(p, "<g class=\"msg"), 6);
    assert_int_equal(count(p, "<g class=\"msg rtx\""), 1);
    assert_int_equal(count(p, "class=\"ep\""), 3); /* three endpoints, three columns */
    assert_non_null(strstr(p, ">192.0.2.3:5070</text>"));
    assert_non_null(strstr(p, "202 Accepted &lt;script&gt;alert(1)&lt;/script&gt;"));
    assert_non_null(strstr(p, "+500.0 ms"));
    assert_non_null(strstr(p, "<td>UA &lt;b&gt;</td>"));
    assert_non_null(strstr(p, "href=\"#ladder-1\">call&lt;1&gt;@x</a>"));
    assert_null(strstr(p, "<script>alert"));
    assert_int_equal(count(p, "<script>"), 1);
    assert_non_null(strstr(p, "id=\"n-outcome-no_notify\">1<"));
    assert_non_null(strstr(p, "id=\"n-flagged\">1<"));
}

static void test_completed_not_flagged(void **state)
{
    (void)state;
    struct sw_event ev = transfer_event(SW_OUTCOME_COMPLETED, NULL);
    const char *p = page(&ev, 1, 0, 0);
    assert_int_equal(count(p, "<section class=\"ladder\""), 0);
    assert_int_equal(count(p, "<tr class=\"ok\">"), 1);
    assert_non_null(strstr(p, "No flagged events."));
    ev.u.transfer.transferor_uninformed = true; /* completed, but never told */
    p = page(&ev, 1, 0, 0);
    assert_int_equal(count(p, "<section class=\"ladder\""), 1);
}

static void test_caps(void **state)
{
    (void)state;
    struct sw_event ev[5];
    for (int i = 0; i < 5; i++)
        ev[i] = transfer_event(SW_OUTCOME_REJECTED, "ua");
    const char *p = page(ev, 5, 3, 2);
    assert_int_equal(count(p, "<section class=\"ladder\""), 2);
    assert_int_equal(count(p, "<tr class=\"flag\">"), 3);
    assert_non_null(strstr(p, "id=\"n-transfer\">5<"));
    assert_non_null(strstr(p, "3 more flagged events are not drawn"));
    assert_non_null(strstr(p, "2 more transfers are counted above but not listed"));
    /* rows past the cap link to no ladder; the third row's ladder was not drawn */
    assert_int_equal(count(p, "href=\"#ladder-"), 2);
}

static void test_empty_ladder_and_scan(void **state)
{
    (void)state;
    struct sw_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = SW_EVENT_SCAN;
    ev.ts = T0;
    ev.u.scan.src_ip = "198.51.100.7";
    ev.u.scan.count = 12;
    ev.u.scan.distinct_users = 11;
    ev.u.scan.users[0] = "<u>";
    ev.u.scan.n_users = 1;
    ev.u.scan.user_agents[0] = "friendly-scanner";
    ev.u.scan.n_user_agents = 1;
    ev.u.scan.first_time = T0;
    ev.u.scan.last_time = T0 + SW_SEC(1);
    const char *p = page(&ev, 1, 0, 0);
    assert_non_null(strstr(p, "data-messages=\"0\""));
    assert_non_null(strstr(p, "No messages were kept"));
    assert_non_null(strstr(p, "<td>&lt;u&gt;</td>"));
    assert_non_null(strstr(p, "id=\"n-scan\">1<"));
}

static char *sum_buf;

static const char *summary_text(struct summary *s)
{
    size_t len;
    free(sum_buf);
    sum_buf = NULL;
    FILE *f = open_memstream(&sum_buf, &len);
    assert_non_null(f);
    assert_int_equal(summary_print(s, f), 0);
    fclose(f);
    return sum_buf;
}

static void test_summary_tallies(void **state)
{
    (void)state;
    struct summary *s = summary_new(2);
    assert_non_null(s);
    for (int i = 0; i < 5; i++) {
        struct sw_event ev =
            transfer_event(i == 0 ? SW_OUTCOME_COMPLETED : SW_OUTCOME_FAILED, NULL);
        ev.u.transfer.refer_to = "sip:x\x1b[2J@y";
        summary_emit(s, &ev);
    }
    struct sw_event nf;
    memset(&nf, 0, sizeof nf);
    nf.type = SW_EVENT_USER_NOT_FOUND;
    nf.has_tuple = true;
    nf.tuple = tuple("192.0.2.9", 5060, "192.0.2.2", 5060);
    const char *users[] = {"alice", "bob", "alice", "alice"};
    for (int i = 0; i < 4; i++) {
        nf.u.not_found.user = users[i];
        nf.u.not_found.status = i == 3 ? 604 : 404;
        summary_emit(s, &nf);
    }
    struct sw_counters c = {0};
    sw_counters_add(&c, "packets", 77);
    sw_counters_add(&c, "tcp_gaps", 2);
    sw_counters_add(&c, "tcp_gap_bytes", 99);
    struct sw_event st;
    memset(&st, 0, sizeof st);
    st.type = SW_EVENT_STATS;
    st.u.stats.counters = &c;
    st.u.stats.final = true;
    summary_emit(s, &st);
    summary_input(s, 1, NULL, T0, T0 + SW_SEC(90));
    const char *t = summary_text(s);
    assert_non_null(strstr(t, "  input       1 file, 77 packets\n"));
    assert_non_null(strstr(t, "(1m30s)"));
    assert_non_null(strstr(t, "  transfers   5: 1 completed, 4 failed\n"));
    assert_non_null(strstr(t, "    flagged (4):\n"));
    assert_int_equal(count(t, "Refer-To: sip:x?[2J@y"), 2);
    assert_null(strstr(t, "\x1b"));
    assert_non_null(strstr(t, "      ... and 2 more (see the events)\n"));
    assert_non_null(strstr(t, "  not found   4 (404: 3, 604: 1)\n"));
    assert_non_null(strstr(t, "    by user    2 distinct: alice 3, bob 1\n"));
    assert_non_null(strstr(t, "    by source  1 distinct: 192.0.2.9 4\n"));
    assert_non_null(strstr(t, "    2 gaps in TCP streams (bytes never captured): 99 bytes\n"));
    struct sw_top_entry top[1];
    uint64_t others = 0;
    assert_int_equal(summary_top(s, false, top, 1, &others), 1);
    assert_string_equal(top[0].key, "alice");
    assert_int_equal(others, 1);
    summary_free(s);
}

static void test_summary_without_stats(void **state)
{
    (void)state;
    struct summary *s = summary_new(0);
    const char *t = summary_text(s);
    assert_non_null(strstr(t, "problems    unknown (no final stats)"));
    assert_non_null(strstr(t, "  transfers   0\n"));
    summary_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape_markup),         cmocka_unit_test(test_escape_bytes),
        cmocka_unit_test(test_summary_safe_text),     cmocka_unit_test(test_ladder_arrows),
        cmocka_unit_test(test_completed_not_flagged), cmocka_unit_test(test_caps),
        cmocka_unit_test(test_empty_ladder_and_scan), cmocka_unit_test(test_summary_tallies),
        cmocka_unit_test(test_summary_without_stats),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    free(page_buf);
    free(sum_buf);
    escaped(NULL, 0);
    return rc;
}
