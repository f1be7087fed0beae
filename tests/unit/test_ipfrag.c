/*
 * test_ipfrag.c - fragment reassembly: orders, duplicates, the first-come-wins
 * overlap policy, invalid fragments, IPv6, timeouts, finish, the caps, and
 * fragments whose bytes live in ipfrag's own previous output.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sipwatch/ipfrag.h"

static struct ipfrag *mk(size_t max_datagrams, size_t max_bytes, sw_time timeout)
{
    struct ipfrag_config cfg = {max_datagrams, max_bytes, timeout, NULL};
    struct ipfrag *f = ipfrag_new(&cfg);
    assert_non_null(f);
    return f;
}

static struct ipfrag *mk_default(void)
{
    return mk(IPFRAG_DEFAULT_MAX_DATAGRAMS, IPFRAG_DEFAULT_MAX_BYTES, IPFRAG_DEFAULT_TIMEOUT);
}

static uint64_t ctr(const struct ipfrag *f, const char *name)
{
    struct sw_counters c;
    c.n = 0;
    c.group = NULL;
    ipfrag_counters(f, &c);
    for (size_t i = 0; i < c.n; i++)
        if (strcmp(c.v[i].name, name) == 0)
            return c.v[i].value;
    fail_msg("no counter %s", name);
    return 0;
}

static struct decode_ip ip4(uint32_t id, uint32_t off, bool more)
{
    struct decode_ip ip;
    memset(&ip, 0, sizeof ip);
    ip.src.family = ip.dst.family = 4;
    memcpy(ip.src.a, "\x0a\x00\x00\x01", 4);
    memcpy(ip.dst.a, "\x0a\x00\x00\x02", 4);
    ip.proto = 17;
    ip.id = id;
    ip.offset = off;
    ip.more = more;
    return ip;
}

static struct decode_ip ip6(uint32_t id, uint32_t off, bool more)
{
    struct decode_ip ip = ip4(id, off, more);
    ip.src.family = ip.dst.family = 6;
    memcpy(ip.src.a, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01", 16);
    memcpy(ip.dst.a, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x02", 16);
    return ip;
}

static struct sw_bytes OUT;

static enum ipfrag_result add(struct ipfrag *f, struct decode_ip ip, const void *p, size_t n,
                              sw_time now)
{
    return ipfrag_add(f, &ip, sw_bytes_make(p, n), now, &OUT);
}

/* A datagram of `n` bytes with a recognisable pattern. */
static uint8_t DG[65536];
static void fill(size_t n, uint8_t seed)
{
    for (size_t i = 0; i < n; i++)
        DG[i] = (uint8_t)(i * 7 + seed);
}

/* Feeds DG[0, n) as fragments of `step` bytes in the given order. */
static void feed_order(struct ipfrag *f, uint32_t id, size_t n, size_t step, const size_t *order,
                       size_t count)
{
    for (size_t i = 0; i < count; i++) {
        size_t off = order[i] * step;
        size_t len = SW_MIN(step, n - off);
        bool more = off + len < n;
        enum ipfrag_result r = add(f, ip4(id, (uint32_t)off, more), DG + off, len, 1);
        if (i + 1 < count) {
            assert_int_equal(r, IPFRAG_HELD);
        } else {
            assert_int_equal(r, IPFRAG_COMPLETE);
            assert_int_equal(OUT.n, n);
            assert_memory_equal(OUT.p, DG, n);
        }
    }
}

static void test_in_order_and_reversed(void **state)
{
    (void)state;
    struct ipfrag *f = mk_default();
    fill(3000, 1);
    size_t fwd[3] = {0, 1, 2}, rev[3] = {2, 1, 0};
    feed_order(f, 1, 3000, 1480, fwd, 3);
    feed_order(f, 2, 3000, 1480, rev, 3);
    assert_int_equal(ctr(f, "ip_fragments"), 6);
    assert_int_equal(ctr(f, "ip_reassembled"), 2);
    assert_int_equal(ctr(f, "ip_frag_bytes_held"), 0);
    assert_int_equal(ctr(f, "ip_frag_datagrams_held"), 0);
    assert_true(ctr(f, "ip_frag_bytes_peak") >= 3000);
    assert_true(ctr(f, "ip_frag_bytes_peak") < 3000 + 512);
    ipfrag_free(f);
}

static void test_shuffled(void **state)
{
    (void)state;
    struct ipfrag *f = mk_default();
    fill(65535, 3); /* the largest datagram, 64 fragments of 1024 bytes */
    size_t order[64];
    uint32_t x = 12345;
    for (int round = 0; round < 5; round++) {
        for (size_t i = 0; i < 64; i++)
            order[i] = i;
        for (size_t i = 63; i > 0; i--) { /* Fisher-Yates with a fixed LCG */
            x = x * 1103515245u + 12345u;
            size_t j = (x >> 8) % (i + 1);
            size_t t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        feed_order(f, 100 + (uint32_t)round, 65535, 1024, order, 64);
    }
    assert_int_equal(ctr(f, "ip_reassembled"), 5);
    assert_int_equal(ctr(f, "ip_frag_overlaps") + ctr(f, "ip_frag_dropped_invalid"), 0);
    ipfrag_free(f);
}

static void test_duplicates(void **state)
{
    (void)state;
    struct ipfrag *f = mk_default();
    fill(24, 5);
    assert_int_equal(add(f, ip4(7, 0, true), DG, 16, 1), IPFRAG_HELD);
    assert_int_equal(add(f, ip4(7, 0, true), DG, 16, 1), IPFRAG_DROPPED);
    assert_int_equal(ctr(f, "ip_frag_duplicates"), 1);
    assert_int_equal(ctr(f, "ip_frag_overlaps"), 0);
    assert_int_equal(add(f, ip4(7, 16, false), DG + 16, 8, 1), IPFRAG_COMPLETE);
    assert_memory_equal(OUT.p, DG, 24);
    /* a duplicate of an already completed datagram starts a new one */
    assert_int_equal(add(f, ip4(7, 16, false), DG + 16, 8, 2), IPFRAG_HELD);
    ipfrag_finish(f);
    assert_int_equal(ctr(f, "ip_frag_incomplete"), 1);
    ipfrag_free(f);
}

static void test_overlaps_first_wins(void **state)
{
    (void)state;
    struct ipfrag *f = mk_default();
    uint8_t a[16], b[16], c[8], want[32];
    memset(a, 'A', 16);
    memset(b, 'B', 16);
    memset(c, 'C', 8);
    memcpy(want, a, 16);
    memcpy(want + 16, b + 8, 8);
    memcpy(want + 24, c, 8);
    assert_int_equal(add(f, ip4(9, 0, true), a, 16, 1), IPFRAG_HELD);
    /* [8, 24): its first half is held already, only [16, 24) is new */
    assert_int_equal(add(f, ip4(9, 8, true), b, 16, 1), IPFRAG_HELD);
    assert_int_equal(ctr(f, "ip_frag_overlaps"), 1);
    /* the same range as a held run with other bytes: an overlap, not a duplicate */
    assert_int_equal(add(f, ip4(9, 0, true), b, 16, 1), IPFRAG_DROPPED);
    assert_int_equal(ctr(f, "ip_frag_overlaps"), 2);
    assert_int_equal(ctr(f, "ip_frag_duplicates"), 0);
    assert_int_equal(add(f, ip4(9, 24, false), c, 8, 1), IPFRAG_COMPLETE);
    assert_int_equal(OUT.n, 32);
    assert_memory_equal(OUT.p, want, 32);

    /* a fragment spanning two holes around a held run fills both */
    uint8_t big[40];
    memset(big, 'Z', 40);
    assert_int_equal(add(f, ip4(10, 16, true), a, 8, 1), IPFRAG_HELD);
    assert_int_equal(add(f, ip4(10, 0, false), big, 40, 1), IPFRAG_COMPLETE);
    assert_int_equal(OUT.n, 40);
    for (size_t i = 0; i < 40; i++)
        assert_int_equal(OUT.p[i], i >= 16 && i < 24 ? 'A' : 'Z');
    assert_int_equal(ctr(f, "ip_frag_overlaps"), 3);
    ipfrag_free(f);
}

static void test_invalid(void **state)
{
    (void)state;
    struct ipfrag *f = mk_default();
    uint8_t x[64] = {0};
    /* ends at 65535: allowed; at 65536: refused */
    assert_int_equal(add(f, ip4(1, 65528, false), x, 7, 1), IPFRAG_HELD);
    assert_int_equal(add(f, ip4(2, 65528, false), x, 8, 1), IPFRAG_DROPPED);
    /* a non-last fragment must carry a multiple of 8 bytes, at least 8 */
    assert_int_equal(add(f, ip4(3, 0, true), x, 12, 1), IPFRAG_DROPPED);
    assert_int_equal(add(f, ip4(3, 0, true), x, 0, 1), IPFRAG_DROPPED);
    assert_int_equal(ctr(f, "ip_frag_dropped_invalid"), 3);
    /* the last fragment fixes the end */
    assert_int_equal(add(f, ip4(4, 16, false), x, 8, 1), IPFRAG_HELD);
    assert_int_equal(add(f, ip4(4, 24, true), x, 8, 1), IPFRAG_DROPPED);  /* past the end */
    assert_int_equal(add(f, ip4(4, 8, false), x, 8, 1), IPFRAG_DROPPED);  /* another end */
    assert_int_equal(add(f, ip4(4, 16, false), x, 9, 1), IPFRAG_DROPPED); /* another end */
    assert_int_equal(ctr(f, "ip_frag_dropped_invalid"), 6);
    /* a last fragment ending before bytes already held */
    assert_int_equal(add(f, ip4(5, 32, true), x, 8, 1), IPFRAG_HELD);
    assert_int_equal(add(f, ip4(5, 0, false), x, 16, 1), IPFRAG_DROPPED);
    struct decode_ip bad = ip4(6, 0, true);
    bad.src.family = 0;
    assert_int_equal(add(f, bad, x, 8, 1), IPFRAG_DROPPED);
    assert_int_equal(ctr(f, "ip_frag_dropped_invalid"), 8);
    /* the datagrams are intact: id 4 completes with the right pieces */
    assert_int_equal(add(f, ip4(4, 0, true), x, 16, 1), IPFRAG_COMPLETE);
    assert_int_equal(OUT.n, 24);
    /* a zero-length last fragment is fine */
    assert_int_equal(add(f, ip4(8, 0, true), x, 16, 1), IPFRAG_HELD);
    assert_int_equal(add(f, ip4(8, 16, false), x, 0, 1), IPFRAG_COMPLETE);
    assert_int_equal(OUT.n, 16);
    ipfrag_free(f);
}

static void test_ipv6_and_keys(void **state)
{
    (void)state;
    struct ipfrag *f = mk_default();
    fill(2000, 9);
    /* same id, different family / proto / source: four datagrams */
    assert_int_equal(add(f, ip6(0xdeadbeef, 0, true), DG, 1232, 1), IPFRAG_HELD);
    assert_int_equal(add(f, ip4(0xdeadbeef, 0, true), DG, 1232, 1), IPFRAG_HELD);
    struct decode_ip p = ip6(0xdeadbeef, 0, true);
    p.proto = 6;
    assert_int_equal(ipfrag_add(f, &p, sw_bytes_make(DG, 1232), 1, &OUT), IPFRAG_HELD);
    p = ip6(0xdeadbeef, 0, true);
    p.src.a[15] = 9;
    assert_int_equal(ipfrag_add(f, &p, sw_bytes_make(DG, 1232), 1, &OUT), IPFRAG_HELD);
    assert_int_equal(ctr(f, "ip_frag_datagrams_held"), 4);
    assert_int_equal(add(f, ip6(0xdeadbeef, 1232, false), DG + 1232, 768, 1), IPFRAG_COMPLETE);
    assert_int_equal(OUT.n, 2000);
    assert_memory_equal(OUT.p, DG, 2000);
    assert_int_equal(ctr(f, "ip_frag_datagrams_held"), 3);
    ipfrag_finish(f);
    assert_int_equal(ctr(f, "ip_frag_incomplete"), 3);
    assert_int_equal(ctr(f, "ip_frag_datagrams_held"), 0);
    assert_int_equal(ctr(f, "ip_frag_bytes_held"), 0);
    ipfrag_free(f);
}

static void test_timeout(void **state)
{
    (void)state;
    struct ipfrag *f = mk(16, 1 << 20, SW_SEC(30));
    uint8_t x[16] = {0};
    assert_int_equal(add(f, ip4(1, 0, true), x, 8, SW_SEC(100)), IPFRAG_HELD);
    assert_int_equal(add(f, ip4(2, 0, true), x, 8, SW_SEC(110)), IPFRAG_HELD);
    /* later fragments do not extend the first one's deadline */
    assert_int_equal(add(f, ip4(1, 8, true), x, 8, SW_SEC(120)), IPFRAG_HELD);
    ipfrag_advance(f, SW_SEC(130) - 1);
    assert_int_equal(ctr(f, "ip_frag_timeouts"), 0);
    ipfrag_advance(f, SW_SEC(130));
    assert_int_equal(ctr(f, "ip_frag_timeouts"), 1);
    assert_int_equal(ctr(f, "ip_frag_datagrams_held"), 1);
    /* a fragment of an expired datagram that advance has not seen yet
     * expires it and starts a new one */
    assert_int_equal(add(f, ip4(2, 8, false), x, 8, SW_SEC(140)), IPFRAG_HELD);
    assert_int_equal(ctr(f, "ip_frag_timeouts"), 2);
    assert_int_equal(add(f, ip4(2, 0, true), x, 8, SW_SEC(141)), IPFRAG_COMPLETE);
    ipfrag_advance(f, SW_SEC(1000));
    assert_int_equal(ctr(f, "ip_frag_timeouts"), 2);
    assert_int_equal(ctr(f, "ip_frag_bytes_held"), 0);
    ipfrag_finish(f);
    assert_int_equal(ctr(f, "ip_frag_incomplete"), 0);
    ipfrag_free(f);
}

static void test_cap_datagrams(void **state)
{
    (void)state;
    struct ipfrag *f = mk(2, 1 << 20, SW_SEC(30));
    uint8_t x[16] = {0};
    assert_int_equal(add(f, ip4(1, 0, true), x, 8, 1), IPFRAG_HELD);
    assert_int_equal(add(f, ip4(2, 0, true), x, 8, 2), IPFRAG_HELD);
    assert_int_equal(add(f, ip4(3, 0, true), x, 8, 3), IPFRAG_HELD); /* evicts id 1 */
    assert_int_equal(ctr(f, "ip_frag_evicted"), 1);
    assert_int_equal(ctr(f, "ip_frag_datagrams_held"), 2);
    assert_int_equal(add(f, ip4(2, 8, false), x, 8, 4), IPFRAG_COMPLETE);
    assert_int_equal(add(f, ip4(1, 8, false), x, 8, 5), IPFRAG_HELD); /* starts over */
    assert_int_equal(ctr(f, "ip_frag_evicted"), 1);
    ipfrag_free(f);
    f = mk(0, 1 << 20, SW_SEC(30)); /* no datagrams at all */
    assert_int_equal(add(f, ip4(1, 0, true), x, 8, 1), IPFRAG_DROPPED);
    assert_int_equal(ctr(f, "ip_frag_dropped_cap"), 1);
    ipfrag_free(f);
}

static void test_cap_bytes_and_runs(void **state)
{
    (void)state;
    struct ipfrag *f = mk(1000, 8192, SW_SEC(30));
    fill(4096, 1);
    assert_int_equal(add(f, ip4(1, 0, true), DG, 2048, 1), IPFRAG_HELD);
    assert_int_equal(add(f, ip4(2, 0, true), DG, 2048, 1), IPFRAG_HELD);
    assert_int_equal(add(f, ip4(3, 0, true), DG, 2048, 1), IPFRAG_HELD);
    assert_true(ctr(f, "ip_frag_bytes_held") <= 8192);
    assert_int_equal(ctr(f, "ip_frag_evicted"), 0);
    /* the fourth does not fit: the oldest goes */
    assert_int_equal(add(f, ip4(4, 0, true), DG, 2048, 1), IPFRAG_HELD);
    assert_int_equal(ctr(f, "ip_frag_evicted"), 1);
    assert_true(ctr(f, "ip_frag_bytes_held") <= 8192);
    /* more than the whole cap: refused, after evicting everything else */
    assert_int_equal(add(f, ip4(5, 0, true), DG, 4096, 1), IPFRAG_HELD);
    assert_int_equal(ctr(f, "ip_frag_evicted"), 3);
    uint8_t big[8192] = {0};
    assert_int_equal(add(f, ip4(6, 0, true), big, 8192, 1), IPFRAG_DROPPED);
    assert_int_equal(ctr(f, "ip_frag_evicted"), 5); /* ids 4 and 5 went first */
    assert_int_equal(ctr(f, "ip_frag_dropped_cap"), 1);
    assert_int_equal(ctr(f, "ip_frag_datagrams_held"), 0);
    assert_true(ctr(f, "ip_frag_bytes_peak") <= 8192);
    ipfrag_free(f);

    /* runs per datagram: 1024 are held, the 1025th is refused */
    f = mk_default();
    uint8_t x[8] = {0};
    for (uint32_t i = 0; i < 1024; i++)
        assert_int_equal(add(f, ip4(1, i * 16, true), x, 8, 1), IPFRAG_HELD);
    assert_int_equal(add(f, ip4(1, 1024 * 16, true), x, 8, 1), IPFRAG_DROPPED);
    assert_int_equal(ctr(f, "ip_frag_dropped_cap"), 1);
    ipfrag_free(f);
}

/* 100 000 fragments that never complete, each of a new datagram. */
static void flood(size_t max_datagrams, size_t max_bytes)
{
    struct ipfrag *f = mk(max_datagrams, max_bytes, SW_SEC(30));
    fill(1480, 2);
    size_t peak = 0;
    for (uint32_t i = 0; i < 100000; i++) {
        struct decode_ip ip = ip4(i, 0, true);
        ip.src.a[2] = (uint8_t)(i >> 16); /* ids wrap at 16 bits in IPv4 */
        assert_int_equal(ipfrag_add(f, &ip, sw_bytes_make(DG, 1480), SW_SEC(1), &OUT), IPFRAG_HELD);
        size_t held = ctr(f, "ip_frag_bytes_held");
        assert_true(held <= max_bytes);
        peak = SW_MAX(peak, held);
    }
    /* the peak also sees the moment between a datagram's creation and the
     * eviction that makes room for its bytes: still under the cap */
    assert_true(ctr(f, "ip_frag_bytes_peak") >= peak);
    assert_true(ctr(f, "ip_frag_bytes_peak") <= max_bytes);
    assert_true(ctr(f, "ip_frag_datagrams_held") <= max_datagrams);
    assert_int_equal(ctr(f, "ip_frag_evicted"), 100000 - ctr(f, "ip_frag_datagrams_held"));
    print_message("flood max_datagrams=%zu max_bytes=%zu: bytes_held=%llu peak=%llu "
                  "datagrams_held=%llu evicted=%llu\n",
                  max_datagrams, max_bytes, (unsigned long long)ctr(f, "ip_frag_bytes_held"),
                  (unsigned long long)ctr(f, "ip_frag_bytes_peak"),
                  (unsigned long long)ctr(f, "ip_frag_datagrams_held"),
                  (unsigned long long)ctr(f, "ip_frag_evicted"));
    ipfrag_finish(f);
    assert_int_equal(ctr(f, "ip_frag_incomplete") + ctr(f, "ip_frag_evicted"), 100000);
    assert_int_equal(ctr(f, "ip_frag_bytes_held"), 0);
    ipfrag_free(f);
}

static void test_flood_never_completed(void **state)
{
    (void)state;
    flood(IPFRAG_DEFAULT_MAX_DATAGRAMS, IPFRAG_DEFAULT_MAX_BYTES); /* the datagram cap binds */
    flood(1 << 20, (size_t)4 << 20);                               /* the byte cap binds */
}

/* The pipeline's nested case: a reassembled tunnel datagram carries a
 * fragment of an inner datagram, so `data` points into ipfrag's own output. */
static void test_nested_input(void **state)
{
    (void)state;
    struct ipfrag *f = mk_default();
    uint8_t inner[48];
    for (size_t i = 0; i < 48; i++)
        inner[i] = (uint8_t)(0x80 + i);
    /* the inner datagram's first half arrives on its own */
    struct decode_ip in0 = ip6(77, 0, true);
    assert_int_equal(ipfrag_add(f, &in0, sw_bytes_make(inner, 24), 1, &OUT), IPFRAG_HELD);
    /* the outer datagram: 8 bytes of header, then the inner second half */
    uint8_t outer[32];
    memset(outer, 0xee, 8);
    memcpy(outer + 8, inner + 24, 24);
    assert_int_equal(add(f, ip4(5, 0, true), outer, 16, 1), IPFRAG_HELD);
    assert_int_equal(add(f, ip4(5, 16, false), outer + 16, 16, 1), IPFRAG_COMPLETE);
    assert_int_equal(OUT.n, 32);
    struct sw_bytes prev = OUT;
    /* its bytes go back in as the inner fragment: it completes into the
     * same output buffer its data points into */
    struct decode_ip in1 = ip6(77, 24, false);
    assert_int_equal(ipfrag_add(f, &in1, sw_bytes_make(prev.p + 8, 24), 2, &OUT), IPFRAG_COMPLETE);
    assert_int_equal(OUT.n, 48);
    assert_memory_equal(OUT.p, inner, 48);
    /* and again, with the inner fragment held first from the output */
    assert_int_equal(add(f, ip4(6, 0, true), outer, 16, 1), IPFRAG_HELD);
    assert_int_equal(add(f, ip4(6, 16, false), outer + 16, 16, 1), IPFRAG_COMPLETE);
    prev = OUT;
    in1.id = 78;
    assert_int_equal(ipfrag_add(f, &in1, sw_bytes_make(prev.p + 8, 24), 2, &OUT), IPFRAG_HELD);
    memset((uint8_t *)(uintptr_t)prev.p, 0, 32); /* the caller may reuse it: it was copied */
    in0.id = 78;
    assert_int_equal(ipfrag_add(f, &in0, sw_bytes_make(inner, 24), 2, &OUT), IPFRAG_COMPLETE);
    assert_memory_equal(OUT.p, inner, 48);
    ipfrag_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_in_order_and_reversed),
        cmocka_unit_test(test_shuffled),
        cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_overlaps_first_wins),
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_ipv6_and_keys),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_cap_datagrams),
        cmocka_unit_test(test_cap_bytes_and_runs),
        cmocka_unit_test(test_flood_never_completed),
        cmocka_unit_test(test_nested_input),
    };
    return cmocka_run_group_tests_name("ipfrag", tests, NULL, NULL);
}
