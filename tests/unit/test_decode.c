/*
 * test_decode.c - decode on hand-built frames. Frames are built inside out
 * with small builders (payload first, then each header prepended with its
 * lengths computed from what follows), for every link type, encapsulation,
 * tunnel and HEP version, each with its truncated and invalid twins.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <zlib.h>

#include "sipwatch/decode.h"

#define SIP "OPTIONS sip:a@b SIP/2.0\r\n\r\n"

/* ---- frame builder: bytes live in b[s, e) ---- */
struct fb {
    uint8_t b[1 << 17];
    size_t s, e;
};

static struct fb F; /* one at a time; big, so not on the stack */

static struct fb *fb_new(const char *payload)
{
    F.s = F.e = 1 << 16;
    size_t n = strlen(payload);
    memcpy(F.b + F.e, payload, n);
    F.e += n;
    return &F;
}

static size_t fb_len(const struct fb *f)
{
    return f->e - f->s;
}

static struct sw_bytes fb_bytes(const struct fb *f)
{
    return sw_bytes_make(f->b + f->s, fb_len(f));
}

static void put(struct fb *f, const void *p, size_t n)
{
    memcpy(f->b + f->e, p, n);
    f->e += n;
}

static void pre(struct fb *f, const void *p, size_t n)
{
    f->s -= n;
    if (n > 0)
        memcpy(f->b + f->s, p, n);
}

static void w16(uint8_t *p, unsigned v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void w32(uint8_t *p, uint32_t v)
{
    w16(p, v >> 16);
    w16(p + 2, v & 0xffff);
}

static const uint8_t A1[4] = {10, 0, 0, 1}, A2[4] = {10, 0, 0, 2};
static const uint8_t A3[4] = {192, 168, 1, 3}, A4[4] = {192, 168, 1, 4};
static const uint8_t B1[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
static const uint8_t B2[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 2};

static void pre_udp(struct fb *f, unsigned sport, unsigned dport)
{
    uint8_t h[8] = {0};
    w16(h, sport);
    w16(h + 2, dport);
    w16(h + 4, (unsigned)(fb_len(f) + 8));
    pre(f, h, 8);
}

static void pre_tcp(struct fb *f, unsigned sport, unsigned dport, uint32_t seq, uint8_t flags,
                    size_t optlen)
{
    uint8_t h[60] = {0};
    w16(h, sport);
    w16(h + 2, dport);
    w32(h + 4, seq);
    h[12] = (uint8_t)(((20 + optlen) / 4) << 4);
    h[13] = flags;
    pre(f, h, 20 + optlen);
}

/* IPv4 with `optlen` bytes of options, fragment fields as given. */
static void pre_ip4x(struct fb *f, const uint8_t *src, const uint8_t *dst, uint8_t proto,
                     size_t optlen, uint16_t id, uint16_t fo)
{
    uint8_t h[60] = {0};
    h[0] = (uint8_t)(0x40 | ((20 + optlen) / 4));
    w16(h + 2, (unsigned)(fb_len(f) + 20 + optlen));
    w16(h + 4, id);
    w16(h + 6, fo);
    h[8] = 64;
    h[9] = proto;
    memcpy(h + 12, src, 4);
    memcpy(h + 16, dst, 4);
    for (size_t i = 20; i < 20 + optlen; i++)
        h[i] = 1; /* NOP */
    pre(f, h, 20 + optlen);
}

static void pre_ip4(struct fb *f, uint8_t proto)
{
    pre_ip4x(f, A1, A2, proto, 0, 0x1234, 0x4000);
}

static void pre_ip6x(struct fb *f, const uint8_t *src, const uint8_t *dst, uint8_t nh)
{
    uint8_t h[40] = {0x60};
    w16(h + 4, (unsigned)fb_len(f));
    h[6] = nh;
    h[7] = 64;
    memcpy(h + 8, src, 16);
    memcpy(h + 24, dst, 16);
    pre(f, h, 40);
}

static void pre_ip6(struct fb *f, uint8_t nh)
{
    pre_ip6x(f, B1, B2, nh);
}

/* A hop-by-hop/routing/destination-options header of 8 * (1 + units) bytes. */
static void pre_ext6(struct fb *f, uint8_t next, unsigned units)
{
    uint8_t h[64] = {0};
    h[0] = next;
    h[1] = (uint8_t)units;
    pre(f, h, 8 * (1 + units));
}

static void pre_frag6(struct fb *f, uint8_t next, uint16_t off, bool more, uint32_t id)
{
    uint8_t h[8] = {next};
    w16(h + 2, (unsigned)(off | (more ? 1 : 0)));
    w32(h + 4, id);
    pre(f, h, 8);
}

static void pre_eth(struct fb *f, unsigned type)
{
    uint8_t h[14] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
    w16(h + 12, type);
    pre(f, h, 14);
}

/* A tag whose inner type is `type`; the caller prepends the TPID. */
static void pre_tag(struct fb *f, unsigned vid, unsigned type)
{
    uint8_t h[4];
    w16(h, vid);
    w16(h + 2, type);
    pre(f, h, 4);
}

static void pre_mpls(struct fb *f, uint32_t label, bool bos)
{
    uint8_t h[4];
    w32(h, (label << 12) | (bos ? 0x100u : 0) | 64);
    pre(f, h, 4);
}

static void pre_ppp_proto(struct fb *f, unsigned proto)
{
    uint8_t h[2];
    w16(h, proto);
    pre(f, h, 2);
}

static void pre_pppoe(struct fb *f)
{
    uint8_t h[6] = {0x11, 0x00, 0x12, 0x34};
    w16(h + 4, (unsigned)fb_len(f));
    pre(f, h, 6);
}

static void pre_gre(struct fb *f, uint16_t flags, unsigned proto)
{
    uint8_t h[16] = {0};
    size_t n = 4;
    w16(h, flags);
    w16(h + 2, proto);
    if (flags & 0x8000)
        n += 4;
    if (flags & 0x2000) {
        w32(h + n, 0xabcd);
        n += 4;
    }
    if (flags & 0x1000) {
        w32(h + n, 7);
        n += 4;
    }
    pre(f, h, n);
}

static void pre_vxlan(struct fb *f, uint8_t flags)
{
    uint8_t h[8] = {flags, 0, 0, 0, 0, 0, 42, 0};
    pre(f, h, 8);
}

/* ---- decoding helpers ---- */
static struct decode *mk(void)
{
    struct decode_config cfg = {DECODE_DEFAULT_HEP_PORT, DECODE_DEFAULT_VXLAN_PORT,
                                DECODE_DEFAULT_GTPU_PORT, 8};
    struct decode *d = decode_new(&cfg);
    assert_non_null(d);
    return d;
}

static uint64_t ctr(const struct decode *d, const char *name)
{
    struct sw_counters c;
    c.n = 0;
    c.group = NULL;
    decode_counters(d, &c);
    for (size_t i = 0; i < c.n; i++)
        if (strcmp(c.v[i].name, name) == 0)
            return c.v[i].value;
    fail_msg("no counter %s", name);
    return 0;
}

static struct decode_packet P;

static enum decode_result dec(struct decode *d, int lt, const struct fb *f)
{
    return decode_frame(d, lt, fb_bytes(f), 1000, &P);
}

static enum decode_result dec_n(struct decode *d, int lt, const struct fb *f, size_t n)
{
    return decode_frame(d, lt, sw_bytes_make(f->b + f->s, n), 1000, &P);
}

/* The whole frame gives `full`; every strict prefix gives TRUNCATED (the
 * outer lengths cover everything, so any cut is seen by some layer). */
static void check_prefixes(struct decode *d, int lt, const struct fb *f, enum decode_result full)
{
    assert_int_equal(dec(d, lt, f), full);
    for (size_t n = 0; n < fb_len(f); n++) {
        enum decode_result r = dec_n(d, lt, f, n);
        if (r != DECODE_TRUNCATED)
            fail_msg("prefix %zu of %zu gave %d", n, fb_len(f), r);
    }
    assert_int_equal(dec(d, lt, f), full); /* leaves P for the caller to check */
}

static void check_payload(const char *want)
{
    assert_int_equal(P.payload.n, strlen(want));
    assert_memory_equal(P.payload.p, want, strlen(want));
}

static void check_v4(const uint8_t *src, const uint8_t *dst, unsigned sport, unsigned dport,
                     enum sw_transport t)
{
    assert_int_equal(P.tuple.src.family, 4);
    assert_int_equal(P.tuple.dst.family, 4);
    assert_memory_equal(P.tuple.src.a, src, 4);
    assert_memory_equal(P.tuple.dst.a, dst, 4);
    static const uint8_t zero[12];
    assert_memory_equal(P.tuple.src.a + 4, zero, 12);
    assert_int_equal(P.tuple.sport, sport);
    assert_int_equal(P.tuple.dport, dport);
    assert_int_equal(P.tuple.transport, t);
}

static void check_v6(const uint8_t *src, const uint8_t *dst, unsigned sport, unsigned dport,
                     enum sw_transport t)
{
    assert_int_equal(P.tuple.src.family, 6);
    assert_memory_equal(P.tuple.src.a, src, 16);
    assert_memory_equal(P.tuple.dst.a, dst, 16);
    assert_int_equal(P.tuple.sport, sport);
    assert_int_equal(P.tuple.dport, dport);
    assert_int_equal(P.tuple.transport, t);
}

/* Ethernet / IPv4 / UDP 5060 carrying SIP. */
static struct fb *eth_udp4(const char *payload)
{
    struct fb *f = fb_new(payload);
    pre_udp(f, 5060, 5062);
    pre_ip4(f, 17);
    pre_eth(f, 0x0800);
    return f;
}

/* ---- tests ---- */

static void test_linktypes(void **state)
{
    (void)state;
    const int yes[] = {0, 1, 9, 12, 14, 101, 108, 113, 228, 229, 276};
    const int no[] = {-1, 2, 10, 50, 104, 105, 127, 192, 230, 277};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        assert_true(decode_linktype_supported(yes[i]));
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        assert_false(decode_linktype_supported(no[i]));
    struct decode *d = mk();
    struct fb *f = fb_new(SIP);
    pre_udp(f, 5060, 5060);
    pre_ip4(f, 17);
    assert_int_equal(dec(d, 127, f), DECODE_SKIP);
    assert_int_equal(ctr(d, "linktype_unsupported"), 1);
    /* Every supported type decodes something: none falls through. */
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        assert_int_not_equal(dec_n(d, yes[i], f, 0), DECODE_SKIP);
    decode_free(d);
}

static void test_ether_udp4(void **state)
{
    (void)state;
    struct decode *d = mk();
    struct fb *f = eth_udp4(SIP);
    uint8_t pad[10] = {0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee};
    put(f, pad, sizeof pad); /* Ethernet padding: trimmed by the IP length */
    memset(&P, 0xa5, sizeof P);
    assert_int_equal(decode_frame(d, 1, fb_bytes(f), 123456789, &P), DECODE_OK);
    check_v4(A1, A2, 5060, 5062, SW_TRANSPORT_UDP);
    check_payload(SIP);
    assert_int_equal(P.ts, 123456789);
    assert_false(P.from_hep);
    static const uint8_t zero[3];
    assert_memory_equal(P.tuple.pad_, zero, 3);
    assert_int_equal(ctr(d, "decode_frames"), 1);
    assert_int_equal(ctr(d, "udp_packets"), 1);
    assert_int_equal(ctr(d, "ipv4_packets"), 1);
    /* 802.3 length field and ARP: not IP */
    uint8_t h[14] = {0};
    w16(h + 12, 100);
    assert_int_equal(decode_frame(d, 1, sw_bytes_make(h, 14), 0, &P), DECODE_SKIP);
    w16(h + 12, 0x0806);
    assert_int_equal(decode_frame(d, 1, sw_bytes_make(h, 14), 0, &P), DECODE_SKIP);
    assert_int_equal(ctr(d, "decode_not_ip"), 2);
    f = eth_udp4("");
    check_prefixes(d, 1, f, DECODE_OK);
    assert_int_equal(P.payload.n, 0);
    /* 14 cuts inside Ethernet, the other 28 seen by the IPv4 length */
    assert_int_equal(ctr(d, "link_truncated"), 14);
    assert_int_equal(ctr(d, "ipv4_truncated"), 28);
    assert_int_equal(ctr(d, "udp_truncated"), 0);
    decode_free(d);
}

static void test_null_loop(void **state)
{
    (void)state;
    struct decode *d = mk();
    struct {
        uint8_t h[4];
        int lt;
        int family;
    } cases[] = {
        {{2, 0, 0, 0}, 0, 4},  {{0, 0, 0, 2}, 0, 4}, /* either host order */
        {{24, 0, 0, 0}, 0, 6}, {{28, 0, 0, 0}, 0, 6},  {{0, 0, 0, 30}, 0, 6},
        {{10, 0, 0, 0}, 0, 6}, {{0, 0, 0, 2}, 108, 4}, {{0, 0, 0, 24}, 108, 6},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct fb *f = fb_new(SIP);
        pre_udp(f, 5060, 5060);
        if (cases[i].family == 4)
            pre_ip4(f, 17);
        else
            pre_ip6(f, 17);
        pre(f, cases[i].h, 4);
        assert_int_equal(dec(d, cases[i].lt, f), DECODE_OK);
        assert_int_equal(P.tuple.src.family, cases[i].family);
        check_payload(SIP);
        if (i == 0)
            check_prefixes(d, 0, f, DECODE_OK);
    }
    struct fb *f = fb_new("x");
    uint8_t other[4] = {99, 0, 0, 0};
    pre(f, other, 4);
    assert_int_equal(dec(d, 0, f), DECODE_SKIP);
    uint8_t le2[4] = {2, 0, 0, 0}; /* DLT_LOOP is big-endian: this is 0x02000000 */
    f = fb_new("x");
    pre(f, le2, 4);
    assert_int_equal(dec(d, 108, f), DECODE_SKIP);
    decode_free(d);
}

static void test_raw_ipv4_ipv6_links(void **state)
{
    (void)state;
    struct decode *d = mk();
    const int raw[] = {12, 14, 101, 228};
    for (size_t i = 0; i < 4; i++) {
        struct fb *f = fb_new(SIP);
        pre_udp(f, 5060, 5061);
        pre_ip4(f, 17);
        check_prefixes(d, raw[i], f, DECODE_OK);
        check_v4(A1, A2, 5060, 5061, SW_TRANSPORT_UDP);
        check_payload(SIP);
    }
    struct fb *f = fb_new(SIP);
    pre_udp(f, 5060, 5061);
    pre_ip6(f, 17);
    assert_int_equal(dec(d, 101, f), DECODE_OK);
    assert_int_equal(dec(d, 229, f), DECODE_OK);
    check_v6(B1, B2, 5060, 5061, SW_TRANSPORT_UDP);
    assert_int_equal(dec(d, 228, f), DECODE_INVALID); /* DLT_IPV4 carrying IPv6 */
    f->b[f->s] = 0x50;                                /* version 5 */
    assert_int_equal(dec(d, 101, f), DECODE_INVALID);
    assert_int_equal(dec(d, 229, f), DECODE_INVALID);
    assert_int_equal(ctr(d, "link_invalid"), 3);
    decode_free(d);
}

static void test_sll_sll2(void **state)
{
    (void)state;
    struct decode *d = mk();
    struct fb *f = fb_new(SIP);
    pre_udp(f, 5060, 5060);
    pre_ip4(f, 17);
    uint8_t sll[16] = {0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x08, 0x00};
    pre(f, sll, 16);
    check_prefixes(d, 113, f, DECODE_OK);
    check_payload(SIP);

    f = fb_new(SIP);
    pre_udp(f, 5060, 5060);
    pre_ip6(f, 17);
    uint8_t sll2[20] = {0x86, 0xdd, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0};
    pre(f, sll2, 20);
    check_prefixes(d, 276, f, DECODE_OK);
    check_v6(B1, B2, 5060, 5060, SW_TRANSPORT_UDP);
    decode_free(d);
}

static void test_ppp_link(void **state)
{
    (void)state;
    struct decode *d = mk();
    struct fb *f = fb_new(SIP);
    pre_udp(f, 5060, 5060);
    pre_ip4(f, 17);
    pre_ppp_proto(f, 0x0021);
    assert_int_equal(dec(d, 9, f), DECODE_OK);
    uint8_t hdlc[2] = {0xff, 0x03};
    pre(f, hdlc, 2);
    check_prefixes(d, 9, f, DECODE_OK);
    check_payload(SIP);
    /* protocol field compression: a single odd byte */
    f = fb_new(SIP);
    pre_udp(f, 5060, 5060);
    pre_ip6(f, 17);
    uint8_t pfc[1] = {0x57};
    pre(f, pfc, 1);
    assert_int_equal(dec(d, 9, f), DECODE_OK);
    check_v6(B1, B2, 5060, 5060, SW_TRANSPORT_UDP);
    f = fb_new("lcp");
    pre_ppp_proto(f, 0xc021);
    assert_int_equal(dec(d, 9, f), DECODE_SKIP);
    decode_free(d);
}

static void test_vlan_qinq(void **state)
{
    (void)state;
    struct decode *d = mk();
    struct fb *f = fb_new(SIP);
    pre_udp(f, 5060, 5060);
    pre_ip4(f, 17);
    pre_tag(f, 100, 0x0800);
    pre_tag(f, 200, 0x8100);
    pre_eth(f, 0x88a8);
    check_prefixes(d, 1, f, DECODE_OK);
    check_payload(SIP);

    /* 8 tags (0x9100 outer) is the most allowed; 9 is refused */
    f = fb_new(SIP);
    pre_udp(f, 5060, 5060);
    pre_ip4(f, 17);
    pre_tag(f, 1, 0x0800);
    for (int i = 0; i < 7; i++)
        pre_tag(f, 1, 0x8100);
    pre_eth(f, 0x9100);
    uint64_t before = ctr(d, "vlan");
    assert_int_equal(dec(d, 1, f), DECODE_OK);
    assert_int_equal(ctr(d, "vlan") - before, 8);
    f->s += 14;
    pre_tag(f, 1, 0x8100);
    pre_eth(f, 0x8100);
    assert_int_equal(dec(d, 1, f), DECODE_INVALID);
    assert_int_equal(ctr(d, "link_invalid"), 1);
    decode_free(d);
}

static void test_mpls(void **state)
{
    (void)state;
    struct decode *d = mk();
    struct fb *f = fb_new(SIP);
    pre_udp(f, 5060, 5060);
    pre_ip4(f, 17);
    pre_mpls(f, 16, true);
    pre_mpls(f, 17, false);
    pre_mpls(f, 18, false);
    pre_eth(f, 0x8847);
    check_prefixes(d, 1, f, DECODE_OK);
    check_payload(SIP);
    assert_true(ctr(d, "mpls") > 0);

    f = fb_new(SIP);
    pre_udp(f, 5060, 5060);
    pre_ip6(f, 17);
    pre_mpls(f, 16, true);
    pre_eth(f, 0x8848);
    assert_int_equal(dec(d, 1, f), DECODE_OK);
    check_v6(B1, B2, 5060, 5060, SW_TRANSPORT_UDP);

    /* 16 labels is the most; the 17th is refused */
    f = fb_new(SIP);
    pre_udp(f, 5060, 5060);
    pre_ip4(f, 17);
    pre_mpls(f, 1, true);
    for (int i = 0; i < 15; i++)
        pre_mpls(f, 1, false);
    pre_eth(f, 0x8847);
    assert_int_equal(dec(d, 1, f), DECODE_OK);
    f->s += 14;
    pre_mpls(f, 1, false);
    pre_eth(f, 0x8847);
    assert_int_equal(dec(d, 1, f), DECODE_INVALID);

    /* a pseudowire control word (first nibble 0): not IP */
    f = fb_new("\x01\x02 ethernet");
    pre_mpls(f, 16, true);
    pre_eth(f, 0x8847);
    assert_int_equal(dec(d, 1, f), DECODE_SKIP);
    decode_free(d);
}

static void test_pppoe(void **state)
{
    (void)state;
    struct decode *d = mk();
    struct fb *f = fb_new(SIP);
    pre_udp(f, 5060, 5060);
    pre_ip4(f, 17);
    pre_ppp_proto(f, 0x0021);
    pre_pppoe(f);
    pre_tag(f, 10, 0x8864);
    pre_eth(f, 0x8100);
    check_prefixes(d, 1, f, DECODE_OK);
    check_payload(SIP);
    assert_int_equal(ctr(d, "pppoe"), 2); /* check_prefixes decodes twice */

    f = fb_new(SIP);
    pre_udp(f, 5060, 5060);
    pre_ip6(f, 17);
    pre_ppp_proto(f, 0x0057);
    pre_pppoe(f);
    pre_eth(f, 0x8864);
    assert_int_equal(dec(d, 1, f), DECODE_OK);
    check_v6(B1, B2, 5060, 5060, SW_TRANSPORT_UDP);
    f->b[f->s + 14] = 0x12; /* version/type */
    assert_int_equal(dec(d, 1, f), DECODE_INVALID);
    f->b[f->s + 14] = 0x11;
    f->b[f->s + 15] = 0x07; /* a discovery code on the session ethertype */
    assert_int_equal(dec(d, 1, f), DECODE_INVALID);
    f->b[f->s + 15] = 0;

    f = fb_new("lcp");
    pre_ppp_proto(f, 0xc021);
    pre_pppoe(f);
    pre_eth(f, 0x8864);
    assert_int_equal(dec(d, 1, f), DECODE_SKIP);
    decode_free(d);
}

static void test_ipv4_lengths(void **state)
{
    (void)state;
    struct decode *d = mk();
    struct fb *f = fb_new(SIP);
    pre_udp(f, 5060, 5060);
    pre_ip4x(f, A3, A4, 17, 8, 1, 0); /* IHL 7: options skipped */
    assert_int_equal(dec(d, 101, f), DECODE_OK);
    check_v4(A3, A4, 5060, 5060, SW_TRANSPORT_UDP);
    check_payload(SIP);
    check_prefixes(d, 101, f, DECODE_OK);

    f = fb_new(SIP);
    pre_udp(f, 5060, 5060);
    pre_ip4(f, 17);
    uint8_t *h = f->b + f->s;
    h[0] = 0x44; /* IHL 4 */
    assert_int_equal(dec(d, 101, f), DECODE_INVALID);
    h[0] = 0x45;
    w16(h + 2, 19); /* total < IHL */
    assert_int_equal(dec(d, 101, f), DECODE_INVALID);
    w16(h + 2, 20); /* exactly the header: nothing for UDP */
    assert_int_equal(dec(d, 101, f), DECODE_TRUNCATED);
    assert_int_equal(ctr(d, "udp_truncated"), 1);
    w16(h + 2, (unsigned)fb_len(f) + 1); /* one byte more than captured */
    assert_int_equal(dec(d, 101, f), DECODE_TRUNCATED);
    w16(h + 2, 0); /* TSO: the captured length is used, outermost header only */
    assert_int_equal(dec(d, 101, f), DECODE_OK);
    check_payload(SIP);
    assert_int_equal(ctr(d, "ipv4_len0_tso"), 1);
    h[0] = 0x55; /* version 5 */
    w16(h + 2, (unsigned)fb_len(f));
    assert_int_equal(dec(d, 228, f), DECODE_INVALID);
    assert_int_equal(ctr(d, "ipv4_invalid"), 2);
    decode_free(d);
}

static void test_ipv4_fragments(void **state)
{
    (void)state;
    struct decode *d = mk();
    struct fb *f = fb_new("0123456789abcdef");
    pre_ip4x(f, A1, A2, 17, 0, 0xbeef, 0x2000); /* MF, offset 0 */
    pre_eth(f, 0x0800);
    assert_int_equal(dec(d, 1, f), DECODE_FRAGMENT);
    assert_int_equal(P.frag.src.family, 4);
    assert_memory_equal(P.frag.src.a, A1, 4);
    assert_memory_equal(P.frag.dst.a, A2, 4);
    assert_int_equal(P.frag.proto, 17);
    assert_int_equal(P.frag.id, 0xbeef);
    assert_int_equal(P.frag.offset, 0);
    assert_true(P.frag.more);
    assert_int_equal(P.frag.depth, 0);
    check_payload("0123456789abcdef");

    f = fb_new("tail");
    pre_ip4x(f, A1, A2, 17, 4, 0xbeef, 0x0002); /* last, offset 16 bytes, options */
    assert_int_equal(dec(d, 101, f), DECODE_FRAGMENT);
    assert_int_equal(P.frag.offset, 16);
    assert_false(P.frag.more);
    check_payload("tail");
    f = fb_new("x");
    pre_ip4x(f, A1, A2, 17, 0, 1, 0x3fff); /* largest offset */
    assert_int_equal(dec(d, 101, f), DECODE_FRAGMENT);
    assert_int_equal(P.frag.offset, 0x1fff * 8);
    assert_int_equal(ctr(d, "ip_fragments_passed"), 3);
    /* inside a tunnel: the depth says where */
    f = fb_new("x");
    pre_ip4x(f, A3, A4, 6, 0, 9, 0x2000);
    pre_ip4(f, 4);
    assert_int_equal(dec(d, 101, f), DECODE_FRAGMENT);
    assert_int_equal(P.frag.depth, 1);
    assert_int_equal(P.frag.proto, 6);
    assert_memory_equal(P.frag.src.a, A3, 4);
    decode_free(d);
}

static void test_ipv6_ext_headers(void **state)
{
    (void)state;
    struct decode *d = mk();
    struct fb *f = fb_new(SIP);
    pre_udp(f, 5070, 5080);
    pre_ext6(f, 17, 0);                                           /* destination options */
    pre(f, (uint8_t[]){60, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 12); /* AH: (1+2)*4 */
    pre_ext6(f, 51, 2);                                           /* routing, 24 bytes */
    pre_ext6(f, 43, 0);                                           /* hop-by-hop */
    pre_ip6(f, 0);
    pre_eth(f, 0x86dd);
    check_prefixes(d, 1, f, DECODE_OK);
    check_v6(B1, B2, 5070, 5080, SW_TRANSPORT_UDP);
    check_payload(SIP);
    assert_int_equal(ctr(d, "ipv6_packets"), 2);

    f = fb_new("");
    pre_ip6(f, 59);
    assert_int_equal(dec(d, 229, f), DECODE_SKIP);
    assert_int_equal(ctr(d, "l4_other_skipped"), 1);

    /* 8 extension headers is the most; the 9th is refused */
    f = fb_new(SIP);
    pre_udp(f, 5060, 5060);
    pre_ext6(f, 17, 0);
    for (int i = 0; i < 7; i++)
        pre_ext6(f, 60, 0);
    pre_ip6(f, 60);
    assert_int_equal(dec(d, 229, f), DECODE_OK);
    f->s += 40;
    pre_ext6(f, 60, 0);
    pre_ip6(f, 60);
    assert_int_equal(dec(d, 229, f), DECODE_INVALID);

    f = fb_new(SIP);
    pre_udp(f, 5060, 5060);
    pre_ip6(f, 17);
    pre_eth(f, 0x86dd);
    uint8_t *h = f->b + f->s + 14;
    h[0] = 0x40; /* the ethertype says IPv6 */
    assert_int_equal(dec(d, 1, f), DECODE_INVALID);
    h[0] = 0x60;
    w16(h + 4, (unsigned)fb_len(f) - 14 - 39); /* one byte more than captured */
    assert_int_equal(dec(d, 1, f), DECODE_TRUNCATED);
    w16(h + 4, (unsigned)fb_len(f) - 14 - 41); /* one byte less: UDP says more */
    assert_int_equal(dec(d, 1, f), DECODE_TRUNCATED);
    assert_int_equal(ctr(d, "udp_truncated"), 1);
    assert_int_equal(ctr(d, "ipv6_invalid"), 2);
    decode_free(d);
}

static void test_ipv6_fragments(void **state)
{
    (void)state;
    struct decode *d = mk();
    struct fb *f = fb_new("fragment-data-16");
    pre_frag6(f, 17, 0, true, 0xdeadbeef);
    pre_ext6(f, 44, 0);
    pre_ip6(f, 0);
    check_prefixes(d, 229, f, DECODE_FRAGMENT);
    assert_int_equal(P.frag.src.family, 6);
    assert_memory_equal(P.frag.src.a, B1, 16);
    assert_int_equal(P.frag.id, 0xdeadbeef);
    assert_int_equal(P.frag.proto, 17);
    assert_int_equal(P.frag.offset, 0);
    assert_true(P.frag.more);
    check_payload("fragment-data-16");

    f = fb_new("end");
    pre_frag6(f, 17, 0xfff8, false, 7);
    pre_ip6(f, 44);
    assert_int_equal(dec(d, 229, f), DECODE_FRAGMENT);
    assert_int_equal(P.frag.offset, 0xfff8);
    assert_false(P.frag.more);

    /* an atomic fragment (offset 0, M 0) is decoded on the spot */
    f = fb_new(SIP);
    pre_udp(f, 5060, 5060);
    pre_frag6(f, 17, 0, false, 7);
    pre_ip6(f, 44);
    assert_int_equal(dec(d, 229, f), DECODE_OK);
    check_payload(SIP);
    decode_free(d);
}

static void test_udp_lengths(void **state)
{
    (void)state;
    struct decode *d = mk();
    struct fb *f = fb_new(SIP "trailing");
    pre_udp(f, 1, 2);
    uint8_t *u = f->b + f->s;
    w16(u + 4, 8 + (unsigned)strlen(SIP)); /* UDP shorter than IP: payload cut to it */
    pre_ip4(f, 17);
    assert_int_equal(dec(d, 101, f), DECODE_OK);
    check_payload(SIP);
    w16(u + 4, 8);
    assert_int_equal(dec(d, 101, f), DECODE_OK);
    assert_int_equal(P.payload.n, 0);
    w16(u + 4, 7);
    assert_int_equal(dec(d, 101, f), DECODE_INVALID);
    w16(u + 4, (unsigned)(fb_len(f) - 20)); /* exactly what is there */
    assert_int_equal(dec(d, 101, f), DECODE_OK);
    w16(u + 4, (unsigned)(fb_len(f) - 20 + 1));
    assert_int_equal(dec(d, 101, f), DECODE_TRUNCATED);
    assert_int_equal(ctr(d, "udp_invalid"), 1);
    assert_int_equal(ctr(d, "udp_truncated"), 1);
    decode_free(d);
}

static void test_tcp(void **state)
{
    (void)state;
    struct decode *d = mk();
    struct fb *f = fb_new(SIP);
    pre_tcp(f, 5060, 40000, 0xfffffff0u, DECODE_TCP_PSH | DECODE_TCP_ACK, 12);
    pre_ip4(f, 6);
    pre_eth(f, 0x0800);
    check_prefixes(d, 1, f, DECODE_OK);
    check_v4(A1, A2, 5060, 40000, SW_TRANSPORT_TCP);
    check_payload(SIP);
    assert_int_equal(P.tcp_seq, 0xfffffff0u);
    assert_int_equal(P.tcp_flags, DECODE_TCP_PSH | DECODE_TCP_ACK);

    uint8_t *t = f->b + f->s + 34;
    t[12] = 0x40; /* data offset 16 */
    assert_int_equal(dec(d, 1, f), DECODE_INVALID);
    t[12] = 0x50; /* 20: the options become payload */
    assert_int_equal(dec(d, 1, f), DECODE_OK);
    assert_int_equal(P.payload.n, strlen(SIP) + 12);
    t[12] = 0xf0; /* 60 > what is there */
    assert_int_equal(dec(d, 1, f), DECODE_TRUNCATED);
    assert_int_equal(ctr(d, "tcp_invalid"), 1);

    /* TCP to the HEP port is still a TCP segment: the pipeline frames HEP */
    f = fb_new("HEP3");
    pre_tcp(f, 9060, 40000, 1, DECODE_TCP_SYN, 0);
    pre_ip6(f, 6);
    assert_int_equal(dec(d, 229, f), DECODE_OK);
    check_v6(B1, B2, 9060, 40000, SW_TRANSPORT_TCP);
    assert_false(P.from_hep);
    decode_free(d);
}

static void test_skipped_l4(void **state)
{
    (void)state;
    struct decode *d = mk();
    /* ICMP port unreachable quoting a SIP datagram: never decoded as SIP */
    struct fb *f = fb_new(SIP);
    pre_udp(f, 5060, 5060);
    pre_ip4(f, 17);
    uint8_t icmp[8] = {3, 3};
    pre(f, icmp, 8);
    pre_ip4(f, 1);
    assert_int_equal(dec(d, 101, f), DECODE_SKIP);
    f = fb_new("icmpv6");
    pre_ip6(f, 58);
    assert_int_equal(dec(d, 101, f), DECODE_SKIP);
    assert_int_equal(ctr(d, "icmp_skipped"), 2);
    f = fb_new("sctp chunk");
    pre_ip4(f, 132);
    assert_int_equal(dec(d, 101, f), DECODE_SKIP);
    f = fb_new("sctp chunk");
    pre_ip6(f, 132);
    assert_int_equal(dec(d, 101, f), DECODE_SKIP);
    assert_int_equal(ctr(d, "sctp_skipped"), 2);
    f = fb_new("esp");
    pre_ip4(f, 50);
    assert_int_equal(dec(d, 101, f), DECODE_SKIP);
    assert_int_equal(ctr(d, "l4_other_skipped"), 1);
    assert_int_equal(ctr(d, "decode_truncated") + ctr(d, "decode_invalid"), 0);
    decode_free(d);
}

static void test_gre(void **state)
{
    (void)state;
    struct decode *d = mk();
    const uint16_t flagsets[] = {0, 0x8000, 0x2000, 0x1000, 0xb000};
    for (size_t i = 0; i < 5; i++) {
        struct fb *f = fb_new(SIP);
        pre_udp(f, 5060, 5060);
        pre_ip4x(f, A3, A4, 17, 0, 1, 0);
        pre_gre(f, flagsets[i], 0x0800);
        pre_ip4(f, 47);
        pre_eth(f, 0x0800);
        check_prefixes(d, 1, f, DECODE_OK);
        check_v4(A3, A4, 5060, 5060, SW_TRANSPORT_UDP);
        check_payload(SIP);
    }
    struct fb *f = fb_new(SIP);
    pre_udp(f, 5060, 5060);
    pre_ip6(f, 17);
    pre_gre(f, 0x2000, 0x86dd);
    pre_ip6x(f, B2, B1, 47);
    assert_int_equal(dec(d, 229, f), DECODE_OK);
    check_v6(B1, B2, 5060, 5060, SW_TRANSPORT_UDP);
    /* transparent Ethernet bridging */
    f = fb_new(SIP);
    pre_udp(f, 5060, 5060);
    pre_ip4x(f, A3, A4, 17, 0, 1, 0);
    pre_tag(f, 5, 0x0800);
    pre_eth(f, 0x8100);
    pre_gre(f, 0, 0x6558);
    pre_ip4(f, 47);
    check_prefixes(d, 101, f, DECODE_OK);
    check_v4(A3, A4, 5060, 5060, SW_TRANSPORT_UDP);
    /* RFC 1701 routing, unknown version: skipped */
    f = fb_new("x");
    pre_gre(f, 0x4000, 0x0800);
    pre_ip4(f, 47);
    assert_int_equal(dec(d, 101, f), DECODE_SKIP);
    f = fb_new("x");
    pre_gre(f, 0x0002, 0x0800);
    pre_ip4(f, 47);
    assert_int_equal(dec(d, 101, f), DECODE_SKIP);
    assert_int_equal(ctr(d, "tunnel_other_skipped"), 2);
    assert_int_equal(ctr(d, "tunnel_gre"), 5 * 2 + 1 + 2 + 2);
    decode_free(d);
}

static void test_erspan(void **state)
{
    (void)state;
    struct decode *d = mk();
    /* type II: GRE with a sequence number, 8-byte header, Ethernet */
    struct fb *f = eth_udp4(SIP);
    uint8_t e2[8] = {0x10, 0x64, 0x00, 0x01, 0, 0, 0, 0};
    pre(f, e2, 8);
    pre_gre(f, 0x1000, 0x88be);
    pre_ip4x(f, A3, A4, 47, 0, 1, 0);
    pre_eth(f, 0x0800);
    check_prefixes(d, 1, f, DECODE_OK);
    check_v4(A1, A2, 5060, 5062, SW_TRANSPORT_UDP);
    check_payload(SIP);
    f->b[f->s + 14 + 20 + 8] = 0x20; /* version 2 in a type II header */
    assert_int_equal(dec(d, 1, f), DECODE_INVALID);
    assert_int_equal(ctr(d, "tunnel_invalid"), 1);

    /* type I: no sequence number, Ethernet right after GRE */
    f = eth_udp4(SIP);
    pre_gre(f, 0, 0x88be);
    pre_ip4x(f, A3, A4, 47, 0, 1, 0);
    assert_int_equal(dec(d, 101, f), DECODE_OK);
    check_payload(SIP);

    /* type III, without and with the platform-specific subheader */
    for (int o = 0; o < 2; o++) {
        f = eth_udp4(SIP);
        uint8_t e3[20] = {0x20, 0x64, 0x00, 0x01, 1, 2, 3, 4, 0, 0, 0x00, (uint8_t)o};
        pre(f, e3, o ? 20 : 12);
        pre_gre(f, 0x1000, 0x22eb);
        pre_ip4x(f, A3, A4, 47, 0, 1, 0);
        check_prefixes(d, 101, f, DECODE_OK);
        check_v4(A1, A2, 5060, 5062, SW_TRANSPORT_UDP);
        check_payload(SIP);
    }
    /* with O set but only 12 bytes: the Ethernet header is read as the subheader */
    f = eth_udp4(SIP);
    uint8_t e3o[12] = {0x20, 0x64, 0x00, 0x01, 1, 2, 3, 4, 0, 0, 0x00, 1};
    pre(f, e3o, 12);
    pre_gre(f, 0x1000, 0x22eb);
    pre_ip4x(f, A3, A4, 47, 0, 1, 0);
    assert_int_not_equal(dec(d, 101, f), DECODE_OK);
    assert_int_equal(ctr(d, "tunnel_erspan"), 2 + 1 + 1 + 2 * 2 + 1);
    decode_free(d);
}

static void test_pptp_gre(void **state)
{
    (void)state;
    struct decode *d = mk();
    for (int variant = 0; variant < 3; variant++) {
        struct fb *f = fb_new(SIP);
        pre_udp(f, 5060, 5060);
        pre_ip4x(f, A3, A4, 17, 0, 1, 0);
        pre_ppp_proto(f, 0x0021);
        uint8_t hdlc[2] = {0xff, 0x03};
        if (variant != 1)
            pre(f, hdlc, 2);
        uint8_t g[16] = {0x20, 0x01, 0x88, 0x0b};
        size_t n = 8;
        w16(g + 4, (unsigned)fb_len(f));
        w16(g + 6, 77);
        if (variant == 2) {
            g[0] |= 0x10; /* sequence */
            g[1] |= 0x80; /* acknowledgement */
            n = 16;
        }
        pre(f, g, n);
        pre_ip4(f, 47);
        check_prefixes(d, 101, f, DECODE_OK);
        check_v4(A3, A4, 5060, 5060, SW_TRANSPORT_UDP);
        check_payload(SIP);
        if (variant == 0) {
            uint8_t *gh = f->b + f->s + 20;
            w16(gh + 4, (unsigned)(fb_len(f) - 28 + 1)); /* payload length lies */
            assert_int_equal(dec(d, 101, f), DECODE_TRUNCATED);
            w16(gh + 4, (unsigned)(fb_len(f) - 28));
            gh[0] = 0x00; /* no key */
            assert_int_equal(dec(d, 101, f), DECODE_INVALID);
        }
    }
    decode_free(d);
}

static void test_ipip(void **state)
{
    (void)state;
    struct decode *d = mk();
    struct fb *f = fb_new(SIP);
    pre_tcp(f, 5060, 5060, 1, DECODE_TCP_ACK, 0);
    pre_ip4x(f, A3, A4, 6, 0, 1, 0);
    pre_ip4(f, 4);
    pre_eth(f, 0x0800);
    check_prefixes(d, 1, f, DECODE_OK);
    check_v4(A3, A4, 5060, 5060, SW_TRANSPORT_TCP);
    f = fb_new(SIP);
    pre_udp(f, 5060, 5060);
    pre_ip6(f, 17);
    pre_ip4(f, 41);
    check_prefixes(d, 101, f, DECODE_OK);
    check_v6(B1, B2, 5060, 5060, SW_TRANSPORT_UDP);
    f = fb_new(SIP);
    pre_udp(f, 5060, 5060);
    pre_ip4x(f, A3, A4, 17, 0, 1, 0);
    pre_ip6(f, 4);
    check_prefixes(d, 229, f, DECODE_OK);
    check_v4(A3, A4, 5060, 5060, SW_TRANSPORT_UDP);
    /* IPv6 declared, IPv4 inside */
    f = fb_new(SIP);
    pre_udp(f, 5060, 5060);
    pre_ip4(f, 17);
    pre_ip4(f, 41);
    assert_int_equal(dec(d, 101, f), DECODE_INVALID);
    assert_int_equal(ctr(d, "tunnel_ipip"), 2 + 2 + 2 + 1);
    decode_free(d);
}

static void test_vxlan(void **state)
{
    (void)state;
    struct decode *d = mk();
    struct fb *f = eth_udp4(SIP);
    pre_vxlan(f, 0x08);
    pre_udp(f, 51234, 4789);
    pre_ip4x(f, A3, A4, 17, 0, 1, 0);
    pre_eth(f, 0x0800);
    check_prefixes(d, 1, f, DECODE_OK);
    check_v4(A1, A2, 5060, 5062, SW_TRANSPORT_UDP);
    check_payload(SIP);
    f->b[f->s + 42] = 0x00; /* no I flag */
    assert_int_equal(dec(d, 1, f), DECODE_INVALID);
    assert_int_equal(ctr(d, "tunnel_invalid"), 1);
    /* 4789 as the source port only: a plain datagram */
    f = fb_new(SIP);
    pre_udp(f, 4789, 5060);
    pre_ip4(f, 17);
    assert_int_equal(dec(d, 101, f), DECODE_OK);
    check_payload(SIP);
    /* VXLAN on another configured port */
    struct decode_config cfg = {0, 8472, 0, 8};
    struct decode *d2 = decode_new(&cfg);
    f = eth_udp4(SIP);
    pre_vxlan(f, 0x08);
    pre_udp(f, 1, 8472);
    pre_ip4x(f, A3, A4, 17, 0, 1, 0);
    assert_int_equal(decode_frame(d2, 101, fb_bytes(f), 0, &P), DECODE_OK);
    check_v4(A1, A2, 5060, 5062, SW_TRANSPORT_UDP);
    assert_int_equal(ctr(d2, "tunnel_vxlan"), 1);
    decode_free(d2);
    decode_free(d);
}

/* GTP-U G-PDU header with optional fields and extension headers. */
static void pre_gtpu(struct fb *f, uint8_t flags, uint8_t type, const uint8_t *opt, size_t optlen)
{
    pre(f, opt, optlen);
    uint8_t h[8] = {flags, type};
    w16(h + 2, (unsigned)fb_len(f));
    w32(h + 4, 0x11223344);
    pre(f, h, 8);
}

static void test_gtpu(void **state)
{
    (void)state;
    struct decode *d = mk();
    struct fb *f = fb_new(SIP);
    pre_udp(f, 5060, 5060);
    pre_ip4x(f, A3, A4, 17, 0, 1, 0);
    pre_gtpu(f, 0x30, 255, NULL, 0);
    pre_udp(f, 2152, 2152);
    pre_ip4(f, 17);
    check_prefixes(d, 101, f, DECODE_OK);
    check_v4(A3, A4, 5060, 5060, SW_TRANSPORT_UDP);
    check_payload(SIP);

    /* S flag (4 optional bytes), then E with two extension headers, to IPv6 */
    const uint8_t seq[4] = {0, 1, 0, 0};
    const uint8_t ext[4 + 4 + 8] = {0, 1, 0, 0x85, 1, 0x10, 0x00, 0xc0, 2, 1, 2, 3, 4, 5, 6, 0};
    for (int e = 0; e < 2; e++) {
        f = fb_new(SIP);
        pre_udp(f, 5060, 5060);
        pre_ip6(f, 17);
        if (e)
            pre_gtpu(f, 0x34, 255, ext, sizeof ext);
        else
            pre_gtpu(f, 0x32, 255, seq, 4);
        pre_udp(f, 2152, 2152);
        pre_ip4(f, 17);
        check_prefixes(d, 101, f, DECODE_OK);
        check_v6(B1, B2, 5060, 5060, SW_TRANSPORT_UDP);
    }
    uint8_t *g = f->b + f->s + 28;
    g[8 + 4] = 0; /* an extension header of length 0 */
    assert_int_equal(dec(d, 101, f), DECODE_INVALID);
    g[8 + 4] = 1;
    g[0] = 0x54; /* version 2 */
    assert_int_equal(dec(d, 101, f), DECODE_INVALID);
    g[0] = 0x24; /* GTP' */
    assert_int_equal(dec(d, 101, f), DECODE_INVALID);
    g[0] = 0x34;
    g[1] = 1; /* echo request */
    assert_int_equal(dec(d, 101, f), DECODE_SKIP);
    assert_int_equal(ctr(d, "tunnel_other_skipped"), 1);
    g[1] = 255;
    w16(g + 2, (unsigned)(fb_len(f) - 28 - 8 + 1)); /* length lies */
    assert_int_equal(dec(d, 101, f), DECODE_TRUNCATED);
    assert_int_equal(ctr(d, "tunnel_gtpu"), 3 * 2);
    decode_free(d);
}

static void test_depth_limit(void **state)
{
    (void)state;
    struct decode_config cfg = {0, 4789, 2152, 2};
    struct decode *d = decode_new(&cfg);
    struct fb *f = fb_new(SIP);
    pre_udp(f, 5060, 5060);
    pre_ip4x(f, A3, A4, 17, 0, 1, 0);
    pre_ip4(f, 4);
    pre_ip4(f, 4);
    assert_int_equal(decode_frame(d, 101, fb_bytes(f), 0, &P), DECODE_OK); /* depth 2 */
    pre_gre(f, 0, 0x0800);
    pre_ip4(f, 47);
    assert_int_equal(decode_frame(d, 101, fb_bytes(f), 0, &P), DECODE_SKIP);
    assert_int_equal(ctr(d, "tunnel_too_deep"), 1);
    decode_free(d);
    /* max_depth 0: no tunnel is entered */
    cfg.max_depth = 0;
    d = decode_new(&cfg);
    f = fb_new(SIP);
    pre_udp(f, 5060, 5060);
    pre_ip4(f, 17);
    pre_ip4(f, 4);
    assert_int_equal(decode_frame(d, 101, fb_bytes(f), 0, &P), DECODE_SKIP);
    assert_int_equal(ctr(d, "tunnel_too_deep"), 1);
    decode_free(d);
}

/* ---- HEP ---- */
struct hep3 {
    uint8_t b[1 << 17];
    size_t n;
};
static struct hep3 H;

static void hep3_begin(void)
{
    memcpy(H.b, "HEP3\0\0", 6);
    H.n = 6;
}

static void hep3_chunk(uint16_t vendor, uint16_t type, const void *p, size_t n)
{
    w16(H.b + H.n, vendor);
    w16(H.b + H.n + 2, type);
    w16(H.b + H.n + 4, (unsigned)(n + 6));
    memcpy(H.b + H.n + 6, p, n);
    H.n += 6 + n;
}

static void hep3_u8(uint16_t type, uint8_t v)
{
    hep3_chunk(0, type, &v, 1);
}

static void hep3_u16(uint16_t type, unsigned v)
{
    uint8_t b[2];
    w16(b, v);
    hep3_chunk(0, type, b, 2);
}

static void hep3_u32(uint16_t type, uint32_t v)
{
    uint8_t b[4];
    w32(b, v);
    hep3_chunk(0, type, b, 4);
}

static void hep3_end(void)
{
    w16(H.b + 4, (unsigned)H.n);
}

/* A typical heplify record: IPv4 UDP SIP. */
static void hep3_sip4(const char *sip)
{
    hep3_begin();
    hep3_u8(1, 2);
    hep3_u8(2, 17);
    hep3_chunk(0, 3, A3, 4);
    hep3_chunk(0, 4, A4, 4);
    hep3_u16(7, 5060);
    hep3_u16(8, 5080);
    hep3_u32(9, 1700000000);
    hep3_u32(10, 123456);
    hep3_u8(11, 1);
    hep3_u32(12, 2001);
    hep3_chunk(0, 15, sip, strlen(sip));
    hep3_end();
}

static struct fb *hep_udp(unsigned sport, unsigned dport)
{
    struct fb *f = fb_new("");
    put(f, H.b, H.n);
    pre_udp(f, sport, dport);
    pre_ip4(f, 17);
    pre_eth(f, 0x0800);
    return f;
}

static void test_hep3(void **state)
{
    (void)state;
    struct decode *d = mk();
    hep3_sip4(SIP);
    struct fb *f = hep_udp(40000, 9060);
    check_prefixes(d, 1, f, DECODE_OK);
    assert_true(P.from_hep);
    check_v4(A3, A4, 5060, 5080, SW_TRANSPORT_UDP);
    assert_int_equal(P.ts, 1700000000 * SW_USEC_PER_SEC + 123456);
    check_payload(SIP);
    /* the agent is the outer source; the capture id is chunk 0x000c */
    assert_int_equal(P.hep_capture_id, 2001);
    assert_int_equal(P.hep_agent.family, 4);
    assert_memory_equal(P.hep_agent.a, A1, 4);
    assert_int_equal(P.hep_agent_port, 40000);
    f = hep_udp(9060, 40000); /* either port */
    assert_int_equal(dec(d, 1, f), DECODE_OK);
    assert_true(P.from_hep);
    /* HEP port off, or another port: HEP3 is still known by its magic */
    struct decode_config cfg = {0, 4789, 2152, 8};
    struct decode *d2 = decode_new(&cfg);
    assert_int_equal(decode_frame(d2, 1, fb_bytes(f), 0, &P), DECODE_OK);
    assert_true(P.from_hep);
    check_v4(A3, A4, 5060, 5080, SW_TRANSPORT_UDP);
    f = hep_udp(40000, 5060);
    check_prefixes(d2, 1, f, DECODE_OK);
    assert_true(P.from_hep);
    check_v4(A3, A4, 5060, 5080, SW_TRANSPORT_UDP);
    assert_int_equal(P.hep_agent_port, 40000);
    /* "HEP" and a SIP-looking payload on another port stay plain */
    f = fb_new("HEP2 sip:x SIP/2.0\r\n\r\n");
    pre_udp(f, 40000, 5060);
    pre_ip4(f, 17);
    pre_eth(f, 0x0800);
    assert_int_equal(decode_frame(d2, 1, fb_bytes(f), 0, &P), DECODE_OK);
    assert_false(P.from_hep);
    decode_free(d2);

    /* IPv6, TCP, no timestamp (the frame's is kept), a vendor chunk skipped,
     * unknown generic chunks skipped, no protocol type chunk */
    hep3_begin();
    hep3_u8(1, 10);
    hep3_u8(2, 6);
    hep3_chunk(0, 5, B2, 16);
    hep3_chunk(0, 6, B1, 16);
    hep3_u16(7, 5061);
    hep3_u16(8, 5062);
    hep3_chunk(0x0027, 15, "vendor", 6);
    hep3_chunk(0, 0x11, "correlation", 11);
    hep3_chunk(0, 15, SIP, strlen(SIP));
    hep3_end();
    f = hep_udp(40000, 9060);
    assert_int_equal(decode_frame(d, 1, fb_bytes(f), 777, &P), DECODE_OK);
    check_v6(B2, B1, 5061, 5062, SW_TRANSPORT_TCP);
    assert_int_equal(P.ts, 777);
    check_payload(SIP);
    assert_int_equal(P.tcp_seq, 0);

    /* not SIP (RTCP JSON): skipped and counted */
    hep3_begin();
    hep3_u8(11, 5);
    hep3_chunk(0, 15, "{}", 2);
    hep3_end();
    f = hep_udp(40000, 9060);
    assert_int_equal(dec(d, 1, f), DECODE_SKIP);
    assert_int_equal(ctr(d, "hep_not_sip"), 1);
    assert_int_equal(ctr(d, "hep_errors"), 0);
    assert_int_equal(ctr(d, "hep_packets"), 2 + 1 + 1 + 1);
    decode_free(d);
}

static void test_hep3_lies(void **state)
{
    (void)state;
    struct decode *d = mk();
    uint64_t errs = 0;
    /* total length: < 6, one past the packet, exactly the packet */
    hep3_sip4(SIP);
    w16(H.b + 4, 5);
    assert_int_equal(decode_hep(d, sw_bytes_make(H.b, H.n), 0, &P), DECODE_INVALID);
    w16(H.b + 4, (unsigned)H.n + 1);
    assert_int_equal(decode_hep(d, sw_bytes_make(H.b, H.n), 0, &P), DECODE_TRUNCATED);
    w16(H.b + 4, (unsigned)H.n);
    assert_int_equal(decode_hep(d, sw_bytes_make(H.b, H.n), 0, &P), DECODE_OK);
    check_payload(SIP);
    /* bytes after the record are not chunks */
    H.b[H.n] = 0xff;
    assert_int_equal(decode_hep(d, sw_bytes_make(H.b, H.n + 1), 0, &P), DECODE_OK);
    errs = 2;
    assert_int_equal(ctr(d, "hep_errors"), errs);

    /* the last chunk's length: < 6, one past the record, exactly the record */
    size_t last = H.n - 6 - strlen(SIP);
    w16(H.b + last + 4, 5);
    assert_int_equal(decode_hep(d, sw_bytes_make(H.b, H.n), 0, &P), DECODE_INVALID);
    w16(H.b + last + 4, (unsigned)(6 + strlen(SIP) + 1));
    assert_int_equal(decode_hep(d, sw_bytes_make(H.b, H.n), 0, &P), DECODE_INVALID);
    w16(H.b + last + 4, (unsigned)(6 + strlen(SIP) - 1)); /* leaves one stray byte */
    assert_int_equal(decode_hep(d, sw_bytes_make(H.b, H.n), 0, &P), DECODE_INVALID);
    w16(H.b + last + 4, (unsigned)(6 + strlen(SIP)));
    assert_int_equal(decode_hep(d, sw_bytes_make(H.b, H.n), 0, &P), DECODE_OK);
    errs += 3;
    /* a fixed-size chunk of the wrong size */
    hep3_begin();
    hep3_u16(1, 2); /* family: 1 byte */
    hep3_chunk(0, 15, SIP, strlen(SIP));
    hep3_end();
    assert_int_equal(decode_hep(d, sw_bytes_make(H.b, H.n), 0, &P), DECODE_INVALID);
    /* no payload */
    hep3_begin();
    hep3_u8(11, 1);
    hep3_end();
    assert_int_equal(decode_hep(d, sw_bytes_make(H.b, H.n), 0, &P), DECODE_INVALID);
    /* not HEP at all, empty */
    assert_int_equal(decode_hep(d, sw_bytes_make("SIP/2.0 200 OK", 14), 0, &P), DECODE_INVALID);
    assert_int_equal(decode_hep(d, sw_bytes_make("", 0), 0, &P), DECODE_TRUNCATED);
    assert_int_equal(decode_hep(d, sw_bytes_make("HEP", 3), 0, &P), DECODE_INVALID);
    errs += 5;
    assert_int_equal(ctr(d, "hep_errors"), errs);
    decode_free(d);
}

static size_t zcompress(const char *in, size_t n, uint8_t *out, size_t cap, bool gzip)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    assert_int_equal(deflateInit2(&zs, 9, Z_DEFLATED, gzip ? 31 : 15, 8, Z_DEFAULT_STRATEGY), Z_OK);
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)n;
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
    size_t len = cap - zs.avail_out;
    deflateEnd(&zs);
    return len;
}

static char BIG[(64 << 10) + 2];

/* A record whose payload is compressed, minus the last `cut` bytes of the stream. */
static void hep3_compressed(const char *sip, size_t n, bool gzip, size_t cut)
{
    static uint8_t z[1 << 16];
    size_t zn = zcompress(sip, n, z, sizeof z, gzip) - cut;
    hep3_begin();
    hep3_u8(1, 2);
    hep3_u8(2, 17);
    hep3_chunk(0, 3, A3, 4);
    hep3_chunk(0, 4, A4, 4);
    hep3_u16(7, 5060);
    hep3_u16(8, 5080);
    hep3_u8(11, 1);
    hep3_chunk(0, 16, z, zn);
    hep3_end();
}

static void test_hep3_compressed(void **state)
{
    (void)state;
    struct decode *d = mk();
    for (int gz = 0; gz < 2; gz++) {
        hep3_compressed(SIP, strlen(SIP), gz, 0);
        struct fb *f = hep_udp(40000, 9060);
        check_prefixes(d, 1, f, DECODE_OK);
        check_v4(A3, A4, 5060, 5080, SW_TRANSPORT_UDP);
        check_payload(SIP);
        assert_true(P.from_hep);
    }
    assert_int_equal(ctr(d, "hep_errors"), 0);
    uint64_t comp = ctr(d, "hep_compressed");
    assert_true(comp >= 2);
    /* 64 KiB inflates; one byte more does not */
    memset(BIG, 'a', sizeof BIG);
    memcpy(BIG, SIP, strlen(SIP));
    hep3_compressed(BIG, 64 << 10, false, 0);
    assert_int_equal(decode_hep(d, sw_bytes_make(H.b, H.n), 0, &P), DECODE_OK);
    assert_int_equal(P.payload.n, 64 << 10);
    assert_memory_equal(P.payload.p, SIP, strlen(SIP));
    hep3_compressed(BIG, (64 << 10) + 1, false, 0);
    assert_int_equal(decode_hep(d, sw_bytes_make(H.b, H.n), 0, &P), DECODE_INVALID);
    /* corrupt and cut-short streams */
    hep3_compressed(SIP, strlen(SIP), false, 0);
    H.b[H.n - 3] ^= 0xff; /* inside the adler32 trailer */
    assert_int_equal(decode_hep(d, sw_bytes_make(H.b, H.n), 0, &P), DECODE_INVALID);
    hep3_compressed(SIP, strlen(SIP), true, 4); /* no gzip length trailer */
    assert_int_equal(decode_hep(d, sw_bytes_make(H.b, H.n), 0, &P), DECODE_INVALID);
    assert_int_equal(ctr(d, "hep_errors"), 3);
    /* the same decoder keeps working after errors */
    hep3_compressed(SIP, strlen(SIP), true, 0);
    assert_int_equal(decode_hep(d, sw_bytes_make(H.b, H.n), 0, &P), DECODE_OK);
    check_payload(SIP);
    decode_free(d);
}

static void test_hep2(void **state)
{
    (void)state;
    struct decode *d = mk();
    /* v2, IPv4: 8-byte header, addresses, 12-byte time block (LE), payload */
    uint8_t h[8 + 8 + 12] = {2, 16, 2, 17};
    w16(h + 4, 5060);
    w16(h + 6, 5070);
    memcpy(h + 8, A3, 4);
    memcpy(h + 12, A4, 4);
    uint8_t t[12] = {0x00, 0xf1, 0x53, 0x65, 0x40, 0xe2, 0x01, 0x00, 0xd1, 0x07, 0, 0};
    memcpy(h + 16, t, 12); /* 0x6553f100 s, 123456 us */
    struct fb *f = fb_new(SIP);
    pre(f, h, sizeof h);
    pre_udp(f, 40000, 9060);
    pre_ip4(f, 17);
    check_prefixes(d, 101, f, DECODE_OK);
    assert_true(P.from_hep);
    check_v4(A3, A4, 5060, 5070, SW_TRANSPORT_UDP);
    assert_int_equal(P.ts, (sw_time)0x6553f100 * SW_USEC_PER_SEC + 123456);
    check_payload(SIP);
    assert_int_equal(P.hep_capture_id, 2001); /* 0x07d1, little-endian like the time */
    assert_memory_equal(P.hep_agent.a, A1, 4);
    /* HEPv2 has no magic: on another port it is a plain datagram */
    f = fb_new(SIP);
    pre(f, h, sizeof h);
    pre_udp(f, 40000, 5060);
    pre_ip4(f, 17);
    assert_int_equal(dec(d, 101, f), DECODE_OK);
    assert_false(P.from_hep);
    check_v4(A1, A2, 40000, 5060, SW_TRANSPORT_UDP);

    /* v2, IPv6, TCP */
    uint8_t h6[8 + 32 + 12] = {2, 40, 10, 6};
    w16(h6 + 4, 5061);
    w16(h6 + 6, 5071);
    memcpy(h6 + 8, B1, 16);
    memcpy(h6 + 24, B2, 16);
    f = fb_new(SIP);
    pre(f, h6, sizeof h6);
    assert_int_equal(decode_hep(d, fb_bytes(f), 5, &P), DECODE_OK);
    check_v6(B1, B2, 5061, 5071, SW_TRANSPORT_TCP);
    assert_int_equal(P.ts, 0);
    check_payload(SIP);
    /* cut inside the time block; bad family */
    assert_int_equal(decode_hep(d, sw_bytes_make(h6, sizeof h6 - 1), 0, &P), DECODE_TRUNCATED);
    assert_int_equal(decode_hep(d, sw_bytes_make(h6, sizeof h6), 0, &P), DECODE_OK);
    assert_int_equal(P.payload.n, 0);
    h6[2] = 7;
    assert_int_equal(decode_hep(d, sw_bytes_make(h6, sizeof h6), 0, &P), DECODE_INVALID);
    /* v1: no time block, the frame's time is kept */
    uint8_t h1[16] = {1, 16, 2, 17};
    memcpy(h1 + 8, A3, 4);
    memcpy(h1 + 12, A4, 4);
    f = fb_new(SIP);
    pre(f, h1, sizeof h1);
    assert_int_equal(decode_hep(d, fb_bytes(f), 42, &P), DECODE_OK);
    assert_int_equal(P.ts, 42);
    check_payload(SIP);
    decode_free(d);
}

static void test_hep_frame(void **state)
{
    (void)state;
    size_t len = 0;
    hep3_sip4(SIP);
    for (size_t n = 0; n < H.n; n++) /* every prefix: more is needed */
        assert_int_equal(decode_hep_frame(sw_bytes_make(H.b, n), &len), 0);
    assert_int_equal(decode_hep_frame(sw_bytes_make(H.b, H.n), &len), 1);
    assert_int_equal(len, H.n);
    H.b[H.n] = 'H'; /* the next record's first byte */
    assert_int_equal(decode_hep_frame(sw_bytes_make(H.b, H.n + 1), &len), 1);
    assert_int_equal(len, H.n);
    assert_int_equal(decode_hep_frame(sw_bytes_make("HEX", 3), &len), -1);
    assert_int_equal(decode_hep_frame(sw_bytes_make("X", 1), &len), -1);
    assert_int_equal(decode_hep_frame(sw_bytes_make("\x02\x10", 2), &len), -1); /* v2 */
    assert_int_equal(decode_hep_frame(sw_bytes_make("HEP3\x00\x05", 6), &len), -1);
    assert_int_equal(decode_hep_frame(sw_bytes_make("HEP3\x00\x06", 6), &len), 1);
    assert_int_equal(len, 6);
    struct decode *d = mk();
    assert_int_equal(decode_hep(d, sw_bytes_make(H.b, len = H.n), 9, &P), DECODE_OK);
    check_payload(SIP);
    assert_int_equal(P.ts, 1700000000 * SW_USEC_PER_SEC + 123456);
    decode_free(d);
}

static void test_ip_payload(void **state)
{
    (void)state;
    struct decode *d = mk();
    struct decode_ip ip;
    memset(&ip, 0, sizeof ip);
    ip.src.family = ip.dst.family = 4;
    memcpy(ip.src.a, A1, 4);
    memcpy(ip.dst.a, A2, 4);
    ip.proto = 17;
    ip.offset = 1480; /* ignored */
    ip.more = true;
    struct fb *f = fb_new(SIP);
    pre_udp(f, 5060, 5090);
    assert_int_equal(decode_ip_payload(d, &ip, fb_bytes(f), 55, &P), DECODE_OK);
    check_v4(A1, A2, 5060, 5090, SW_TRANSPORT_UDP);
    check_payload(SIP);
    assert_int_equal(P.ts, 55);
    /* a reassembled IPv6 datagram may start with destination options */
    memset(&ip, 0, sizeof ip);
    ip.src.family = ip.dst.family = 6;
    memcpy(ip.src.a, B1, 16);
    memcpy(ip.dst.a, B2, 16);
    ip.proto = 60;
    f = fb_new(SIP);
    pre_tcp(f, 5060, 5061, 99, DECODE_TCP_ACK, 0);
    pre_ext6(f, 6, 0);
    assert_int_equal(decode_ip_payload(d, &ip, fb_bytes(f), 1, &P), DECODE_OK);
    check_v6(B1, B2, 5060, 5061, SW_TRANSPORT_TCP);
    assert_int_equal(P.tcp_seq, 99);
    /* a reassembled outer datagram carrying a tunnel continues at its depth */
    ip.proto = 4;
    ip.depth = 8;
    f = fb_new(SIP);
    pre_udp(f, 5060, 5060);
    pre_ip4(f, 17);
    assert_int_equal(decode_ip_payload(d, &ip, fb_bytes(f), 1, &P), DECODE_SKIP);
    assert_int_equal(ctr(d, "tunnel_too_deep"), 1);
    ip.depth = 7;
    assert_int_equal(decode_ip_payload(d, &ip, fb_bytes(f), 1, &P), DECODE_OK);
    check_v4(A1, A2, 5060, 5060, SW_TRANSPORT_UDP);
    /* a HEP datagram inside a reassembled datagram */
    hep3_sip4(SIP);
    f = fb_new("");
    put(f, H.b, H.n);
    pre_udp(f, 1234, 9060);
    ip.proto = 17;
    assert_int_equal(decode_ip_payload(d, &ip, fb_bytes(f), 1, &P), DECODE_OK);
    assert_true(P.from_hep);
    assert_int_equal(ctr(d, "decode_frames"), 0); /* only decode_frame counts frames */
    decode_free(d);
}

static void test_counters_listed(void **state)
{
    (void)state;
    struct decode *d = mk();
    const char *names[] = {
        "decode_frames",
        "decode_truncated",
        "decode_invalid",
        "decode_not_ip",
        "sctp_skipped",
        "icmp_skipped",
        "l4_other_skipped",
        "tunnel_gre",
        "tunnel_erspan",
        "tunnel_vxlan",
        "tunnel_ipip",
        "tunnel_gtpu",
        "mpls",
        "vlan",
        "pppoe",
        "hep_packets",
        "hep_errors",
        "hep_compressed",
        "hep_not_sip",
        "udp_packets",
        "tcp_packets",
        "ipv6_packets",
        "link_truncated",
        "tunnel_invalid",
        "ip_fragments_passed",
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        assert_int_equal(ctr(d, names[i]), 0);
    /* totals are the sums of the per-layer counts */
    struct fb *f = eth_udp4(SIP);
    check_prefixes(d, 1, f, DECODE_OK);
    assert_int_equal(ctr(d, "decode_truncated"),
                     ctr(d, "link_truncated") + ctr(d, "ipv4_truncated") + ctr(d, "udp_truncated"));
    assert_int_equal(ctr(d, "decode_truncated"), fb_len(f));
    decode_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_linktypes),
        cmocka_unit_test(test_ether_udp4),
        cmocka_unit_test(test_null_loop),
        cmocka_unit_test(test_raw_ipv4_ipv6_links),
        cmocka_unit_test(test_sll_sll2),
        cmocka_unit_test(test_ppp_link),
        cmocka_unit_test(test_vlan_qinq),
        cmocka_unit_test(test_mpls),
        cmocka_unit_test(test_pppoe),
        cmocka_unit_test(test_ipv4_lengths),
        cmocka_unit_test(test_ipv4_fragments),
        cmocka_unit_test(test_ipv6_ext_headers),
        cmocka_unit_test(test_ipv6_fragments),
        cmocka_unit_test(test_udp_lengths),
        cmocka_unit_test(test_tcp),
        cmocka_unit_test(test_skipped_l4),
        cmocka_unit_test(test_gre),
        cmocka_unit_test(test_erspan),
        cmocka_unit_test(test_pptp_gre),
        cmocka_unit_test(test_ipip),
        cmocka_unit_test(test_vxlan),
        cmocka_unit_test(test_gtpu),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_hep3),
        cmocka_unit_test(test_hep3_lies),
        cmocka_unit_test(test_hep3_compressed),
        cmocka_unit_test(test_hep2),
        cmocka_unit_test(test_hep_frame),
        cmocka_unit_test(test_ip_payload),
        cmocka_unit_test(test_counters_listed),
    };
    return cmocka_run_group_tests_name("decode", tests, NULL, NULL);
}
