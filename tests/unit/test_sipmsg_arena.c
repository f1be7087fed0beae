/* test_sipmsg_arena.c - unit tests of the allocator sipmsg_global_init gives
 * libosip2 (sipmsg.c): pieces through osip_malloc/osip_realloc/osip_free as
 * libosip2 calls them, the arena's reset only once every piece is back, a
 * kept piece never handed out again, realloc's contract, the fallback to
 * malloc, and libosip2 returning every piece of every message it parses (the
 * sipmsg fuzz corpus). In builds without the arena (AddressSanitizer) every
 * test still runs, without the checks of addresses: ASan checks the pieces
 * and its leak check at exit stands for the arena's emptiness. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <osipparser2/osip_parser.h>
#include <osipparser2/osip_port.h>

#include "sipwatch/sipmsg.h"

#include "corpus.h"

#define CRLF "\r\n"

/* True when the arena is installed (not in sanitizer builds). */
static bool arena_on(void)
{
    return osip_malloc_func != NULL;
}

/* The address a one-byte piece gets now; it is given back at once. With the
 * arena, the same address every time the arena is empty. */
static void *probe(void)
{
    void *p = osip_malloc(1);
    assert_non_null(p);
    osip_free(p);
    return p;
}

static void fill_pattern(unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(seed * 31u + i);
}

static void check_pattern(const unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != (unsigned char)(seed * 31u + i))
            fail_msg("piece %u byte %zu changed", seed, i);
}

/* Pieces of every size up to past the arena's largest: aligned as malloc's,
 * disjoint (each keeps its bytes while the others are written). */
static void test_pieces_aligned_disjoint(void **state)
{
    (void)state;
    static const size_t sizes[] = {0,  1,   7,    8,     15,    16,    17,
                                   31, 100, 4096, 16383, 16384, 16385, 70000};
    enum { N = sizeof sizes / sizeof sizes[0] };
    unsigned char *p[N];
    for (unsigned i = 0; i < N; i++) {
        p[i] = osip_malloc(sizes[i]);
        assert_non_null(p[i]);
        assert_int_equal((uintptr_t)p[i] % 16, 0);
        fill_pattern(p[i], sizes[i], i);
    }
    for (unsigned i = 0; i < N; i++)
        check_pattern(p[i], sizes[i], i);
    for (unsigned i = 0; i < N; i++)
        osip_free(p[i]);
}

/* The arena is reused only when every piece is back: a piece still out is
 * never overlapped, whatever is freed around it. */
static void test_reset_only_when_empty(void **state)
{
    (void)state;
    bool on = arena_on();
    void *empty = probe();
    if (on)
        assert_ptr_equal(probe(), empty);
    unsigned char *a = osip_malloc(40), *b = osip_malloc(40);
    assert_non_null(a);
    assert_non_null(b);
    if (on)
        assert_ptr_equal(a, empty);
    fill_pattern(a, 40, 1);
    osip_free(b);
    unsigned char *c = osip_malloc(40); /* a is out: no reset, no reuse of a */
    assert_non_null(c);
    assert_true(c >= a + 40 || c + 40 <= a);
    fill_pattern(c, 40, 2);
    check_pattern(a, 40, 1);
    osip_free(c);
    if (on)
        assert_ptr_not_equal(probe(), empty);
    check_pattern(a, 40, 1);
    osip_free(a);
    if (on)
        assert_ptr_equal(probe(), empty);
}

/* realloc keeps the bytes when it grows in place (the last piece), moves
 * (another piece follows), shrinks, starts from NULL, and crosses into and
 * out of the arena's size range. */
static void test_realloc_contract(void **state)
{
    (void)state;
    unsigned char *a = osip_realloc(NULL, 24);
    assert_non_null(a);
    fill_pattern(a, 24, 3);
    unsigned char *a2 = osip_realloc(a, 100); /* last piece */
    assert_non_null(a2);
    if (arena_on())
        assert_ptr_equal(a2, a);
    check_pattern(a2, 24, 3);
    fill_pattern(a2, 100, 4);
    unsigned char *b = osip_malloc(10);
    fill_pattern(b, 10, 5);
    unsigned char *a3 = osip_realloc(a2, 300); /* b follows: moves */
    assert_non_null(a3);
    if (arena_on())
        assert_ptr_not_equal(a3, a2);
    check_pattern(a3, 100, 4);
    check_pattern(b, 10, 5);
    fill_pattern(a3, 300, 6);
    unsigned char *a4 = osip_realloc(a3, 50); /* shrinks */
    assert_non_null(a4);
    check_pattern(a4, 50, 6);
    unsigned char *a5 = osip_realloc(a4, 40000); /* past the largest piece */
    assert_non_null(a5);
    check_pattern(a5, 50, 6);
    fill_pattern(a5, 40000, 7);
    unsigned char *a6 = osip_realloc(a5, 60000); /* a malloc'd piece grows */
    assert_non_null(a6);
    check_pattern(a6, 40000, 7);
    unsigned char *c = osip_malloc(20000);
    fill_pattern(c, 20000, 8);
    unsigned char *c2 = osip_realloc(c, 8); /* a malloc'd piece shrinks */
    assert_non_null(c2);
    check_pattern(c2, 8, 8);
    check_pattern(b, 10, 5);
    osip_free(c2);
    osip_free(a6);
    osip_free(b);
    if (arena_on())
        assert_ptr_equal(probe(), probe());
}

/* More than the arena holds: the rest comes from malloc, every piece keeps
 * its bytes, and the arena is reused once all are back. */
static void test_full_arena_falls_back(void **state)
{
    (void)state;
    enum { N = 80, SZ = 8000 }; /* 640 KB, more than twice the arena */
    unsigned char *p[N];
    void *empty = arena_on() ? probe() : NULL;
    for (unsigned i = 0; i < N; i++) {
        p[i] = osip_malloc(SZ);
        assert_non_null(p[i]);
        fill_pattern(p[i], SZ, i);
    }
    for (unsigned i = 0; i < N; i++)
        check_pattern(p[i], SZ, i);
    for (unsigned i = 0; i < N; i += 2) /* the first half back, out of order */
        osip_free(p[i]);
    for (unsigned i = 1; i < N; i += 2)
        check_pattern(p[i], SZ, i);
    for (unsigned i = 1; i < N; i += 2)
        osip_free(p[i]);
    if (arena_on())
        assert_ptr_equal(probe(), empty);
}

struct arena_ctx {
    struct sip_msg *m;
    struct sipmsg_stats *st;
    bool on;
    void *empty;
};

static void parse_full(const char *name, const uint8_t *p, size_t n, void *ctx)
{
    struct arena_ctx *cx = ctx;
    (void)sipmsg_parse(sw_bytes_make(p, n), SIPMSG_FULL, cx->m, cx->st);
    if (cx->on && probe() != cx->empty)
        fail_msg("libosip2 kept a piece of %s", name);
}

/* libosip2 gives back every piece of every message it parses, and the
 * strings sipmsg asks of it: after each message of the sipmsg fuzz corpus
 * (and a REFER, its 202, a 404 built here), parsed with SIPMSG_FULL, the
 * arena is empty again. A piece libosip2 kept would show here. */
static void test_osip_returns_every_piece(void **state)
{
    (void)state;
    bool on = arena_on();
    static const char refer[] =
        "REFER sip:bob@192.0.2.4 SIP/2.0" CRLF "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKr1" CRLF
        "From: <sip:alice@example.com>;tag=a1" CRLF "To: <sip:bob@example.com>;tag=b2" CRLF
        "Call-ID: refer-1@192.0.2.1" CRLF "CSeq: 1 REFER" CRLF
        "Refer-To: <sip:carol@example.com?Replaces=abc%40h%3Bto-tag%3D1%3Bfrom-tag%3D2>" CRLF
        "Content-Length: 0" CRLF CRLF;
    static const char not_found[] =
        "SIP/2.0 404 Not Found" CRLF "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKr2" CRLF
        "From: <sip:alice@example.com>;tag=a1" CRLF "To: <sip:nobody@example.com>;tag=x" CRLF
        "Call-ID: nf-1" CRLF "CSeq: 2 INVITE" CRLF "Warning: 399 pbx \"no such user\"" CRLF
        "Content-Length: 0" CRLF CRLF;
    void *empty = on ? probe() : NULL;
    struct sip_msg m;
    struct sipmsg_stats st;
    memset(&st, 0, sizeof st);
    assert_int_equal(sipmsg_parse(sw_bytes_make(refer, sizeof refer - 1), SIPMSG_FULL, &m, &st),
                     SIPMSG_OK);
    assert_true(m.full_parse);
    if (on)
        assert_ptr_equal(probe(), empty);
    assert_int_equal(
        sipmsg_parse(sw_bytes_make(not_found, sizeof not_found - 1), SIPMSG_FULL, &m, &st),
        SIPMSG_OK);
    if (on)
        assert_ptr_equal(probe(), empty);

    struct arena_ctx cx = { &m, &st, on, empty };
    unsigned files = corpus_each("sipmsg", parse_full, &cx);
    assert_true(files >= 5);
    assert_true(st.full_parse >= 5);
}

static int setup(void **state)
{
    (void)state;
    return sipmsg_global_init();
}

static int teardown(void **state)
{
    (void)state;
    sipmsg_global_free();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pieces_aligned_disjoint),
        cmocka_unit_test(test_reset_only_when_empty),
        cmocka_unit_test(test_realloc_contract),
        cmocka_unit_test(test_full_arena_falls_back),
        cmocka_unit_test(test_osip_returns_every_piece),
    };
    return cmocka_run_group_tests_name("sipmsg_arena", tests, setup, teardown);
}
