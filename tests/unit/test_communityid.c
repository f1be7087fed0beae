/* test_communityid.c - Community ID v1 against the spec's published baseline
 * (community-id-spec baseline/baseline_deflt.json and baseline_seed1.json:
 * the TCP, UDP, SCTP and port-less rows, and the ICMP rows, whose type/code
 * are hashed as ports). */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sipwatch/communityid.h"

static struct communityid *C;

struct vec {
    uint8_t proto;
    const char *saddr, *daddr;
    int sport, dport; /* -1: none */
    const char *deflt, *seed1;
};

static const struct vec vecs[] = {
    {58, "fe80::200:86ff:fe05:80da", "fe80::260:97ff:fe07:69ea", 135, 136,
     "1:dGHyGvjMfljg6Bppwm3bg0LO8TY=", "1:kHa1FhMYIT6Ym2Vm2AOtoOARDzY="},
    {58, "fe80::260:97ff:fe07:69ea", "fe80::200:86ff:fe05:80da", 135, 136,
     "1:zavyT/cezQr1fmImYCwYnMXbgck=", "1:2hSqmsDZ2kdcY9kbiUzOEBic0iM="},
    {1, "192.168.0.89", "192.168.0.1", 8, 0, "1:X0snYXpgwiv9TZtqg64sgzUn6Dk=",
     "1:03g6IloqVBdcZlPyX8r0hgoE7kA="},
    {6, "2001:470:e5bf:dead:4957:2174:e82c:4887", "2607:f8b0:400c:c03::1a", 63943, 25,
     "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4=", "1:eJYTW6AOzFLlSUoESovMjnu7rMw="},
    {6, "2607:f8b0:400c:c03::1a", "2001:470:e5bf:dead:4957:2174:e82c:4887", 25, 63943,
     "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4=", "1:eJYTW6AOzFLlSUoESovMjnu7rMw="},
    {132, "192.168.170.8", "192.168.170.56", 7, 7, "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs=",
     "1:5w3ZRjeKBzqT3zsaEECDGjUbYeg="},
    {132, "192.168.170.56", "192.168.170.8", 7, 7, "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs=",
     "1:5w3ZRjeKBzqT3zsaEECDGjUbYeg="},
    {6, "128.232.110.120", "66.35.250.204", 34855, 80, "1:LQU9qZlK+B5F3KDmev6m5PMibrg=",
     "1:3V71V58M3Ksw/yuFALMcW0LAHvc="},
    {6, "66.35.250.204", "128.232.110.120", 80, 34855, "1:LQU9qZlK+B5F3KDmev6m5PMibrg=",
     "1:3V71V58M3Ksw/yuFALMcW0LAHvc="},
    {17, "192.168.1.52", "8.8.8.8", 54585, 53, "1:d/FP5EW3wiY1vCndhwleRRKHowQ=",
     "1:Q9We8WO3piVF8yEQBNJF4uiSVrI="},
    {17, "8.8.8.8", "192.168.1.52", 53, 54585, "1:d/FP5EW3wiY1vCndhwleRRKHowQ=",
     "1:Q9We8WO3piVF8yEQBNJF4uiSVrI="},
    {46, "10.1.12.1", "10.1.12.2", -1, -1, "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw=",
     "1:rYir8gphR31noO9iDRQmF/BteEI="},
    {46, "10.1.12.2", "10.1.12.1", -1, -1, "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw=",
     "1:rYir8gphR31noO9iDRQmF/BteEI="},
};

static struct sw_addr A(const char *s)
{
    struct sw_addr a;
    memset(&a, 0, sizeof a);
    if (inet_pton(AF_INET, s, a.a) == 1)
        a.family = 4;
    else if (inet_pton(AF_INET6, s, a.a) == 1)
        a.family = 6;
    return a;
}

static void check(uint16_t seed)
{
    for (size_t i = 0; i < sizeof vecs / sizeof vecs[0]; i++) {
        const struct vec *v = &vecs[i];
        struct sw_addr s = A(v->saddr), d = A(v->daddr);
        char out[COMMUNITYID_LEN];
        bool ports = v->sport >= 0;
        assert_true(communityid_v1(C, &s, &d, ports ? (uint16_t)v->sport : 0,
                                   ports ? (uint16_t)v->dport : 0, v->proto, ports, seed, out));
        assert_string_equal(out, seed == 0 ? v->deflt : v->seed1);
    }
}

static void test_baseline_default_seed(void **state)
{
    (void)state;
    check(0);
}

static void test_baseline_seed1(void **state)
{
    (void)state;
    check(1);
}

static void test_mixed_families_refused(void **state)
{
    (void)state;
    struct sw_addr s = A("192.0.2.1"), d = A("2001:db8::1");
    char out[COMMUNITYID_LEN] = "x";
    assert_false(communityid_v1(C, &s, &d, 5060, 5060, 17, true, 0, out));
    assert_string_equal(out, "");
    struct sw_addr unset;
    memset(&unset, 0, sizeof unset);
    assert_false(communityid_v1(C, &unset, &unset, 1, 2, 17, true, 0, out));
}

/* Same address on both sides: the ports decide the order. */
static void test_equal_addresses_order_by_port(void **state)
{
    (void)state;
    struct sw_addr a = A("127.0.0.1");
    char x[COMMUNITYID_LEN], y[COMMUNITYID_LEN], z[COMMUNITYID_LEN];
    assert_true(communityid_v1(C, &a, &a, 5060, 5070, 17, true, 0, x));
    assert_true(communityid_v1(C, &a, &a, 5070, 5060, 17, true, 0, y));
    assert_true(communityid_v1(C, &a, &a, 5060, 5070, 6, true, 0, z));
    assert_string_equal(x, y);
    assert_string_not_equal(x, z);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_baseline_default_seed),
        cmocka_unit_test(test_baseline_seed1),
        cmocka_unit_test(test_mixed_families_refused),
        cmocka_unit_test(test_equal_addresses_order_by_port),
    };
    C = communityid_new();
    if (C == NULL)
        return 1;
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    communityid_free(C);
    return rc;
}
