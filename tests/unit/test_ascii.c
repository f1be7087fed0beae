/* test_ascii.c - the locale-free text helpers and the byte cursor. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <arpa/inet.h>

#include <cmocka.h>

#include "sipwatch/ascii.h"
#include "sipwatch/cursor.h"
#include "sipwatch/event.h"

static struct sw_bytes S(const char *s)
{
    return sw_bytes_make(s, strlen(s));
}

static void test_parse_uint_edges(void **state)
{
    (void)state;
    uint64_t v = 0;
    assert_true(ascii_parse_uint(S("0"), 100, &v));
    assert_int_equal(v, 0);
    assert_true(ascii_parse_uint(S(" 42\t"), 100, &v));
    assert_int_equal(v, 42);
    assert_true(ascii_parse_uint(S("100"), 100, &v)); /* the largest allowed */
    assert_false(ascii_parse_uint(S("101"), 100, &v)); /* the first refused */
    assert_false(ascii_parse_uint(S(""), 100, &v));
    assert_false(ascii_parse_uint(S("-5"), 100, &v));
    assert_false(ascii_parse_uint(S("12abc"), 100, &v));
    assert_false(ascii_parse_uint(S("1 2"), 100, &v));
    assert_true(ascii_parse_uint(S("18446744073709551615"), UINT64_MAX, &v));
    assert_false(ascii_parse_uint(S("18446744073709551616"), UINT64_MAX, &v));
}

static void test_case_helpers(void **state)
{
    (void)state;
    assert_true(ascii_ieq(S("Call-ID"), "call-id"));
    assert_false(ascii_ieq(S("Call-I"), "call-id"));
    assert_true(ascii_istarts(S("SIP/2.0 200 OK"), "sip/2.0 "));
    assert_false(ascii_istarts(S("SIP"), "sip/2.0"));
    assert_int_equal(ascii_ifind(S("abc;REPLACES=x"), "replaces="), 4);
    assert_int_equal(ascii_ifind(S("abc"), "replaces="), 3);
    struct sw_bytes t = ascii_trim(S(" \t x y \r\n"));
    assert_int_equal(t.n, 3);
    assert_memory_equal(t.p, "x y", 3);
    /* bytes >= 0x80 are never letters, whatever the locale */
    assert_false(ascii_is_alpha(0xe9));
    assert_int_equal(ascii_lower(0xc9), 0xc9);
}

static void test_copy_truncates(void **state)
{
    (void)state;
    char buf[4];
    assert_true(ascii_copy(buf, sizeof buf, S("abc")));
    assert_string_equal(buf, "abc");
    assert_false(ascii_copy(buf, sizeof buf, S("abcd")));
    assert_string_equal(buf, "abc");
}

static void test_cursor_sticky(void **state)
{
    (void)state;
    const uint8_t b[] = { 0x12, 0x34, 0x56 };
    struct cur c = cur_init(b, sizeof b);
    assert_int_equal(cur_be16(&c), 0x1234);
    assert_true(cur_ok(&c));
    assert_int_equal(cur_be16(&c), 0); /* one byte missing */
    assert_false(cur_ok(&c));
    assert_int_equal(cur_u8(&c), 0); /* sticky: even a fitting read fails */
    assert_int_equal(cur_left(&c), 0);
    struct cur d = cur_init(b, sizeof b);
    cur_skip(&d, 3); /* last byte present */
    assert_true(cur_ok(&d));
    assert_int_equal(cur_left(&d), 0);
}

static void test_event_mask(void **state)
{
    (void)state;
    unsigned m = 0;
    assert_true(sw_event_mask_parse("transfer,scan", &m));
    assert_int_equal(m, (1u << SW_EVENT_TRANSFER) | (1u << SW_EVENT_SCAN));
    assert_false(sw_event_mask_parse("transfer,bogus", &m));
    assert_false(sw_event_mask_parse("", &m));
    assert_string_equal(sw_outcome_name(SW_OUTCOME_NO_NOTIFY), "no_notify");
    assert_string_equal(sw_event_type_name(SW_EVENT_USER_NOT_FOUND), "user_not_found");
}

static void test_addr_str(void **state)
{
    (void)state;
    struct sw_addr a;
    char buf[SW_ADDRSTRLEN];
    memset(&a, 0, sizeof a);
    assert_string_equal(sw_addr_str(&a, buf), "");
    a.family = 4;
    a.a[0] = 192; a.a[1] = 0; a.a[2] = 2; a.a[3] = 1;
    assert_string_equal(sw_addr_str(&a, buf), "192.0.2.1");
    /* IPv4 is formatted by hand: the same text as inet_ntop, every octet */
    for (unsigned v = 0; v < 256; v++) {
        char ref[SW_ADDRSTRLEN];
        a.a[0] = (uint8_t)v; a.a[1] = (uint8_t)(255 - v); a.a[2] = (uint8_t)(v / 3);
        a.a[3] = (uint8_t)(v * 7);
        assert_non_null(inet_ntop(AF_INET, a.a, ref, sizeof ref));
        assert_string_equal(sw_addr_str(&a, buf), ref);
    }
    a.family = 6;
    memset(a.a, 0, 16);
    a.a[0] = 0x20; a.a[1] = 0x01; a.a[2] = 0x0d; a.a[3] = 0xb8; a.a[15] = 1;
    assert_string_equal(sw_addr_str(&a, buf), "2001:db8::1");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_uint_edges),
        cmocka_unit_test(test_case_helpers),
        cmocka_unit_test(test_copy_truncates),
        cmocka_unit_test(test_cursor_sticky),
        cmocka_unit_test(test_event_mask),
        cmocka_unit_test(test_addr_str),
    };
    return cmocka_run_group_tests_name("ascii", tests, NULL, NULL);
}
