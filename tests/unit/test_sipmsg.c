/* test_sipmsg.c - unit tests of sipmsg: the scanner, the libosip2 path, the
 * choice between them, and sipmsg_uri_user_host. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sipwatch/sipmsg.h"

#include "corpus.h"

#define CRLF "\r\n"

static const char INVITE[] =
    "INVITE sip:bob@biloxi.example.com SIP/2.0" CRLF
    "Via: SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bK776asdhds;rport" CRLF
    "Via: SIP/2.0/UDP proxy.example.com;branch=z9hG4bKsecond" CRLF "Max-Forwards: 70" CRLF
    "To: Bob <sip:bob@biloxi.example.com>" CRLF
    "From: \"Alice <A>\" <sip:alice@atlanta.example.com>;tag=1928301774" CRLF
    "Call-ID: a84b4c76e66710@pc33.atlanta.example.com" CRLF "CSeq: 314159 INVITE" CRLF
    "Contact: <sip:alice@pc33.atlanta.example.com>" CRLF "User-Agent: Softphone/1.2.3 (Linux)" CRLF
    "Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, NOTIFY" CRLF "Supported: replaces, timer" CRLF
    "Content-Type: application/sdp" CRLF "Content-Length: 310" CRLF CRLF "v=0" CRLF
    "o=alice 2890844526 2890844526 IN IP4 pc33.atlanta.example.com" CRLF "s=Session SDP" CRLF
    "c=IN IP4 192.0.2.101" CRLF "t=0 0" CRLF "m=audio 49172 RTP/AVP 0 8 18 101" CRLF
    "a=rtpmap:0 PCMU/8000" CRLF "a=rtpmap:8 PCMA/8000" CRLF "a=rtpmap:18 G729/8000" CRLF
    "a=fmtp:18 annexb=no" CRLF "a=rtpmap:101 telephone-event/8000" CRLF "a=fmtp:101 0-16" CRLF
    "a=ptime:20" CRLF "a=sendrecv" CRLF;

static const char TRYING[] =
    "SIP/2.0 100 Trying" CRLF
    "Via: SIP/2.0/UDP "
    "pc33.atlanta.example.com:5060;branch=z9hG4bK776asdhds;received=192.0.2.101" CRLF
    "To: Bob <sip:bob@biloxi.example.com>" CRLF
    "From: Alice <sip:alice@atlanta.example.com>;tag=1928301774" CRLF
    "Call-ID: a84b4c76e66710@pc33.atlanta.example.com" CRLF "CSeq: 314159 INVITE" CRLF
    "Content-Length: 0" CRLF CRLF;

static const char REFER[] =
    "REFER sip:bob@192.0.2.4 SIP/2.0" CRLF "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKrefer1" CRLF
    "From: <sip:alice@example.com>;tag=a1" CRLF "To: <sip:bob@example.com>;tag=b2" CRLF
    "Call-ID: refer-1@192.0.2.1" CRLF "CSeq: 93809824 REFER" CRLF
    "Refer-To: \"Carol\" <sip:carol@example.com?Replaces=abc%40h%3Bto-tag%3D1%3Bfrom-tag%3D2>" CRLF
    "Referred-By: <sip:alice@example.com>" CRLF "Refer-Sub: false" CRLF
    "Contact: <sip:alice@192.0.2.1>" CRLF "Content-Length: 0" CRLF CRLF;

static const char ACCEPTED[] =
    "SIP/2.0 202 Accepted" CRLF "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKrefer1" CRLF
    "From: <sip:alice@example.com>;tag=a1" CRLF "To: <sip:bob@example.com>;tag=b2" CRLF
    "Call-ID: refer-1@192.0.2.1" CRLF "CSeq: 93809824 REFER" CRLF "Server: PBX 9.1" CRLF
    "Content-Length: 0" CRLF CRLF;

static const char NOTIFY_ACTIVE[] =
    "NOTIFY sip:alice@192.0.2.1 SIP/2.0" CRLF "Via: SIP/2.0/UDP 192.0.2.4;branch=z9hG4bKn1" CRLF
    "From: <sip:bob@example.com>;tag=b2" CRLF "To: <sip:alice@example.com>;tag=a1" CRLF
    "Call-ID: refer-1@192.0.2.1" CRLF "CSeq: 1993402 NOTIFY" CRLF "Event: Refer;id=7" CRLF
    "Subscription-State: active;expires=60" CRLF "Content-Type: message/sipfrag;version=2.0" CRLF
    "Content-Length: 20" CRLF CRLF "SIP/2.0 100 Trying" CRLF;

static const char NOTIFY_TERMINATED[] =
    "NOTIFY sip:alice@192.0.2.1 SIP/2.0" CRLF "Via: SIP/2.0/UDP 192.0.2.4;branch=z9hG4bKn2" CRLF
    "From: <sip:bob@example.com>;tag=b2" CRLF "To: <sip:alice@example.com>;tag=a1" CRLF
    "Call-ID: refer-1@192.0.2.1" CRLF "CSeq: 1993403 NOTIFY" CRLF "Event: refer" CRLF
    "Subscription-State: terminated;reason=noresource" CRLF
    "Content-Type: Message/SIPfrag ; charset=UTF-8" CRLF "Content-Length: 52" CRLF CRLF CRLF
    "SIP/2.0 200 OK" CRLF "Contact: <sip:carol@192.0.2.9>" CRLF CRLF;

static const char NOTIFY_MULTIPART[] =
    "NOTIFY sip:alice@192.0.2.1 SIP/2.0" CRLF "Via: SIP/2.0/UDP 192.0.2.4;branch=z9hG4bKn3" CRLF
    "From: <sip:bob@example.com>;tag=b2" CRLF "To: <sip:alice@example.com>;tag=a1" CRLF
    "Call-ID: refer-1@192.0.2.1" CRLF "CSeq: 1993404 NOTIFY" CRLF "Event: refer;id=93809824" CRLF
    "Subscription-State: terminated;reason=noresource" CRLF
    "Content-Type: multipart/mixed;boundary=\"b0und\"" CRLF "Content-Length: 120" CRLF CRLF
    "--b0und" CRLF "Content-Type: text/plain" CRLF CRLF "hello" CRLF "--b0und" CRLF
    "Content-Type: message/sipfrag" CRLF CRLF "SIP/2.0 486 Busy Here" CRLF "--b0und--" CRLF;

static const char NOT_FOUND[] =
    "SIP/2.0 404 Not Found" CRLF "Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKscan1" CRLF
    "From: \"100\" <sip:100@198.51.100.7>;tag=s1" CRLF
    "To: \"100\" <sip:100@203.0.113.5>;tag=as1" CRLF "Call-ID: scan-1" CRLF "CSeq: 1 REGISTER" CRLF
    "Server: Asterisk PBX 18" CRLF "Warning: 399 pbx \"No such user\"" CRLF
    "Content-Length: 0" CRLF CRLF;

static const char DOES_NOT_EXIST[] =
    "SIP/2.0 604 Does Not Exist Anywhere" CRLF
    "Via: SIP/2.0/TCP 198.51.100.7:5060;branch=z9hG4bKscan2" CRLF
    "From: <sip:+15550100@198.51.100.7;user=phone>;tag=s2" CRLF
    "To: <sip:+15550199@203.0.113.5;user=phone>;tag=as2" CRLF "Call-ID: scan-2@198.51.100.7" CRLF
    "CSeq: 2 INVITE" CRLF "Content-Length: 0" CRLF CRLF;

/* Every compact form of RFC 3261 §20 plus r, b, o. */
static const char COMPACT[] =
    "REFER sip:bob@192.0.2.4 SIP/2.0" CRLF
    "v: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKc1, SIP/2.0/UDP 192.0.2.2;branch=z9hG4bKc2" CRLF
    "f: <sip:alice@example.com>;tag=fa" CRLF "t: sip:bob@example.com;tag=tb" CRLF
    "i: compact-1@192.0.2.1" CRLF "CSeq: 5 REFER" CRLF "m: <sip:alice@192.0.2.1>" CRLF
    "k: replaces" CRLF "s: transfer" CRLF "u: refer" CRLF "x: 1800" CRLF "e: identity" CRLF
    "r: sip:carol@example.com" CRLF "b: <sip:alice@example.com>" CRLF "o: refer;id=5" CRLF
    "c: text/plain" CRLF "l: 2" CRLF CRLF "hi";

static const char FOLDED[] =
    "REFER sip:bob@192.0.2.4 SIP/2.0" CRLF "Via: SIP/2.0/UDP 192.0.2.1" CRLF
    " ;branch=z9hG4bKfold" CRLF "From: Alice" CRLF "\t<sip:alice@example.com>" CRLF
    "  ;tag=fold1" CRLF "To  : <sip:bob@example.com>" CRLF "Call-ID: fold-1" CRLF "CSeq:" CRLF
    "  7 REFER" CRLF "User-Agent: Long" CRLF " Agent/1.0" CRLF "Refer-To:" CRLF
    " <sip:carol@example.com>" CRLF "Content-Length: 0" CRLF CRLF;

/* Without <>, unescaped Replaces (its ';' belong to the URI headers). */
static const char REFER_BARE[] =
    "REFER sip:bob@192.0.2.4 SIP/2.0" CRLF "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKbare" CRLF
    "From: sip:alice@example.com;tag=a9" CRLF "To: sip:bob@example.com" CRLF "Call-ID: bare-1" CRLF
    "CSeq: 2147483647 REFER" CRLF
    "Refer-To: sip:carol@example.com?replaces%3Dabc%2540h%3Bto-tag%3D1" CRLF
    "Refer-Sub: TRUE;x=1" CRLF "Content-Length: 0" CRLF CRLF;

struct sample {
    const char *name;
    const char *text;
    size_t len;
};

#define SAMPLE(x)                                                                                  \
    {                                                                                              \
#x, x, sizeof(x) - 1                                                                       \
    }
static const struct sample samples[] = {
    SAMPLE(INVITE),           SAMPLE(TRYING),        SAMPLE(REFER),
    SAMPLE(ACCEPTED),         SAMPLE(NOTIFY_ACTIVE), SAMPLE(NOTIFY_TERMINATED),
    SAMPLE(NOTIFY_MULTIPART), SAMPLE(NOT_FOUND),     SAMPLE(DOES_NOT_EXIST),
    SAMPLE(COMPACT),          SAMPLE(FOLDED),        SAMPLE(REFER_BARE),
};

static struct sip_msg M, M2;
static struct sipmsg_stats ST;

static enum sipmsg_result parse_n(const char *s, size_t n, unsigned flags)
{
    /* an exact-size heap copy, so ASan sees the message's real end */
    char *c = malloc(n ? n : 1);
    assert_non_null(c);
    memcpy(c, s, n);
    enum sipmsg_result r = sipmsg_parse(sw_bytes_make(c, n), flags, &M, &ST);
    free(c);
    return r;
}

static enum sipmsg_result parse(const char *s, unsigned flags)
{
    return parse_n(s, strlen(s), flags);
}

static int setup(void **state)
{
    (void)state;
    return sipmsg_global_init();
}

static int reset(void **state)
{
    (void)state;
    memset(&ST, 0, sizeof ST);
    return 0;
}

static void test_invite(void **state)
{
    (void)state;
    assert_int_equal(parse(INVITE, 0), SIPMSG_OK);
    assert_true(M.is_request);
    assert_string_equal(M.method, "INVITE");
    assert_string_equal(M.request_uri, "sip:bob@biloxi.example.com");
    assert_string_equal(M.call_id, "a84b4c76e66710@pc33.atlanta.example.com");
    assert_int_equal(M.cseq, 314159);
    assert_string_equal(M.cseq_method, "INVITE");
    assert_string_equal(M.branch, "z9hG4bK776asdhds");
    assert_string_equal(M.from, "\"Alice <A>\" <sip:alice@atlanta.example.com>;tag=1928301774");
    assert_string_equal(M.from_uri, "sip:alice@atlanta.example.com");
    assert_string_equal(M.from_tag, "1928301774");
    assert_string_equal(M.to, "Bob <sip:bob@biloxi.example.com>");
    assert_string_equal(M.to_uri, "sip:bob@biloxi.example.com");
    assert_string_equal(M.to_tag, "");
    assert_string_equal(M.user_agent, "Softphone/1.2.3 (Linux)");
    assert_string_equal(M.server, "");
    assert_int_equal(M.status, 0);
    assert_int_equal(M.sipfrag_status, 0);
    assert_int_equal(M.sub_expires, -1);
    assert_false(M.full_parse);
    assert_int_equal(M.truncated_fields, 0);
    assert_int_equal(ST.requests, 1);
    assert_int_equal(ST.fast_path, 1);
    assert_int_equal(ST.full_parse, 0);
}

static void test_trying(void **state)
{
    (void)state;
    assert_int_equal(parse(TRYING, 0), SIPMSG_OK);
    assert_false(M.is_request);
    assert_int_equal(M.status, 100);
    assert_string_equal(M.reason, "Trying");
    assert_string_equal(M.method, "");
    assert_string_equal(M.cseq_method, "INVITE");
    assert_string_equal(M.branch, "z9hG4bK776asdhds");
    assert_false(M.full_parse);
    assert_int_equal(ST.responses, 1);
    assert_int_equal(ST.fast_path, 1);
}

static void test_refer(void **state)
{
    (void)state;
    assert_int_equal(parse(REFER, 0), SIPMSG_OK);
    assert_true(M.full_parse);
    assert_int_equal(ST.full_parse, 1);
    assert_int_equal(ST.osip_errors, 0);
    assert_string_equal(M.refer_to,
                        "sip:carol@example.com?Replaces=abc%40h%3Bto-tag%3D1%3Bfrom-tag%3D2");
    assert_true(M.refer_replaces);
    assert_string_equal(M.referred_by, "<sip:alice@example.com>");
    assert_int_equal(M.refer_sub, SIPMSG_REFER_SUB_FALSE);
    assert_int_equal(M.cseq, 93809824);
    assert_string_equal(M.from_tag, "a1");
    assert_string_equal(M.to_tag, "b2");
}

static void test_accepted(void **state)
{
    (void)state;
    assert_int_equal(parse(ACCEPTED, 0), SIPMSG_OK);
    assert_int_equal(M.status, 202);
    assert_string_equal(M.reason, "Accepted");
    assert_string_equal(M.server, "PBX 9.1");
    assert_true(M.full_parse); /* CSeq method REFER */
}

static void test_notify_active(void **state)
{
    (void)state;
    assert_int_equal(parse(NOTIFY_ACTIVE, 0), SIPMSG_OK);
    assert_true(M.full_parse);
    assert_int_equal(ST.osip_errors, 0);
    assert_string_equal(M.event, "refer");
    assert_true(M.has_event_id);
    assert_int_equal(M.event_id, 7);
    assert_string_equal(M.subscription_state, "active;expires=60");
    assert_int_equal(M.substate, SIPMSG_SUBSTATE_ACTIVE);
    assert_int_equal(M.sub_expires, 60);
    assert_int_equal(M.sipfrag_status, 100);
    assert_string_equal(M.sipfrag_reason, "Trying");
}

static void test_notify_terminated(void **state)
{
    (void)state;
    assert_int_equal(parse(NOTIFY_TERMINATED, 0), SIPMSG_OK);
    assert_true(M.full_parse);
    assert_int_equal(ST.osip_errors, 0);
    assert_false(M.has_event_id);
    assert_int_equal(M.substate, SIPMSG_SUBSTATE_TERMINATED);
    assert_int_equal(M.sub_expires, -1);
    assert_string_equal(M.subscription_state, "terminated;reason=noresource");
    assert_int_equal(M.sipfrag_status, 200);
    assert_string_equal(M.sipfrag_reason, "OK");
    /* the scanner alone gives the same sipfrag */
    assert_int_equal(parse(NOTIFY_TERMINATED, 0), SIPMSG_OK);
}

static void test_notify_multipart(void **state)
{
    (void)state;
    for (unsigned flags = 0; flags <= SIPMSG_FULL; flags++) {
        assert_int_equal(parse(NOTIFY_MULTIPART, flags), SIPMSG_OK);
        assert_true(M.full_parse);
        assert_int_equal(M.sipfrag_status, 486);
        assert_string_equal(M.sipfrag_reason, "Busy Here");
        assert_int_equal(M.event_id, 93809824);
    }
    assert_int_equal(ST.osip_errors, 0);
}

/* The scanner alone (a NOTIFY of another package takes the fast path) finds
 * the sipfrag part of a multipart body too, and a cut last part. */
static void test_multipart_scanner(void **state)
{
    (void)state;
    static const char m[] =
        "NOTIFY sip:a@b SIP/2.0" CRLF "Call-ID: mp" CRLF "CSeq: 1 NOTIFY" CRLF "Event: dialog" CRLF
        "Content-Type: multipart/mixed; boundary=zz" CRLF CRLF "preamble" CRLF "--zz" CRLF
        "c: message/sipfrag;version=2.0" CRLF CRLF "SIP/2.0 603 Declined" CRLF "Via: x" CRLF "--zz";
    assert_int_equal(parse(m, 0), SIPMSG_OK);
    assert_false(M.full_parse);
    assert_int_equal(M.sipfrag_status, 603);
    assert_string_equal(M.sipfrag_reason, "Declined");
    static const char cut[] = "NOTIFY sip:a@b SIP/2.0" CRLF "Call-ID: mp" CRLF "CSeq: 1 NOTIFY" CRLF
                              "Content-Type: multipart/mixed;boundary=zz" CRLF CRLF "--zz" CRLF
                              "Content-Type: message/sipfrag" CRLF CRLF "SIP/2.0 18";
    assert_int_equal(parse(cut, 0), SIPMSG_OK);
    assert_int_equal(M.sipfrag_status, 0);
    static const char noboundary[] =
        "NOTIFY sip:a@b SIP/2.0" CRLF "Call-ID: mp" CRLF "CSeq: 1 NOTIFY" CRLF
        "Content-Type: multipart/mixed" CRLF CRLF "--zz" CRLF
        "Content-Type: message/sipfrag" CRLF CRLF "SIP/2.0 180 Ringing" CRLF;
    assert_int_equal(parse(noboundary, 0), SIPMSG_OK);
    assert_int_equal(M.sipfrag_status, 0);
}

/* libosip2 5.3 leaks memory on a MIME part with two Content-Type headers
 * (found by fuzzing): such messages are kept from it, counted as refused,
 * and the scanner's fields stand. */
static void test_osip_hazard(void **state)
{
    (void)state;
    static const char two[] =
        "NOTIFY sip:a@b SIP/2.0" CRLF "Call-ID: hz" CRLF "CSeq: 1 NOTIFY" CRLF "Event: refer" CRLF
        "Content-Type: multipart/mixed;boundary=q" CRLF CRLF "--q" CRLF
        "Content-Type: message/sipfrag" CRLF "content-type-x: text/plain" CRLF CRLF
        "SIP/2.0 200 OK" CRLF "--q--" CRLF;
    assert_int_equal(parse(two, 0), SIPMSG_OK);
    assert_true(M.full_parse);
    assert_int_equal(ST.osip_errors, 1);
    assert_int_equal(M.sipfrag_status, 200);
    /* libosip2 skips a byte after the delimiter without looking at it */
    static const char glued[] =
        "REFER sip:a SIP/2.0" CRLF "Call-ID: hz" CRLF "CSeq: 4 REFER" CRLF
        "c: multipart/x;boundary=\"b0u\"" CRLF CRLF "--b0unContent-Type:t/pl\n"
        "Content-Type: l\r\r\n--b0u";
    assert_int_equal(parse(glued, 0), SIPMSG_OK);
    assert_int_equal(ST.osip_errors, 2);
    /* a boundary libosip2 could read differently, two Content-Types on the message */
    static const char comma[] = "REFER sip:a SIP/2.0" CRLF "Call-ID: hz" CRLF "CSeq: 4 REFER" CRLF
                                "Content-Type: multipart/mixed;boundary=a,b" CRLF CRLF "--a,b" CRLF;
    assert_int_equal(parse(comma, 0), SIPMSG_OK);
    assert_int_equal(ST.osip_errors, 3);
    static const char twoct[] = "REFER sip:a SIP/2.0" CRLF "Call-ID: hz" CRLF "CSeq: 4 REFER" CRLF
                                "c: text/plain" CRLF "Content-Type: text/html" CRLF CRLF "x";
    assert_int_equal(parse(twoct, 0), SIPMSG_OK);
    assert_int_equal(ST.osip_errors, 4);
    /* one Content-Type per part, the sipfrag one carrying a Content-Type of
     * its own after the blank line: libosip2 runs */
    static const char fine[] =
        "NOTIFY sip:a@b SIP/2.0" CRLF "Call-ID: hz" CRLF "CSeq: 1 NOTIFY" CRLF "Event: refer" CRLF
        "Content-Type: multipart/mixed;boundary=q" CRLF CRLF "--q" CRLF
        "Content-Type: text/plain" CRLF CRLF "x" CRLF "--q" CRLF
        "Content-Type: message/sipfrag" CRLF CRLF "SIP/2.0 183 Progress" CRLF
        "Content-Type: application/sdp" CRLF CRLF "--q--" CRLF;
    assert_int_equal(parse(fine, 0), SIPMSG_OK);
    assert_int_equal(ST.osip_errors, 4);
    assert_int_equal(M.sipfrag_status, 183);
    /* two Content-Type names are needed for a hazard (a cheap count comes
     * first): a name one byte short is none */
#define HZ_EDGE(x) "NOTIFY sip:a@b SIP/2.0" CRLF "Call-ID: hz" CRLF "CSeq: 1 NOTIFY" CRLF \
                   "Event: refer" CRLF "Content-Type: multipart/mixed;boundary=q" CRLF CRLF \
                   "--q" CRLF x CRLF "Content-Type: text/plain" CRLF CRLF "x" CRLF "--q--" CRLF
    assert_int_equal(parse(HZ_EDGE("Content-Typ: a/b"), 0), SIPMSG_OK);
    assert_int_equal(ST.osip_errors, 4);
    assert_int_equal(parse(HZ_EDGE("Content-TYPE: a/b"), 0), SIPMSG_OK);
    assert_int_equal(ST.osip_errors, 5);
#undef HZ_EDGE
}

/* The shapes of libosip2's leak that the scanner's own view of the body
 * would miss: libosip2 splits parts only at "\n--boundary", takes its own
 * reading of the Content-Type and of line ends. Each of these leaks in
 * libosip2 5.3 (LeakSanitizer fails this test without the hazard check) and
 * must be kept from it; well-formed bodies still go to libosip2. */
static void test_osip_hazard_libosip_view(void **state)
{
    (void)state;
#define HZ_HEAD "NOTIFY sip:a@b SIP/2.0" CRLF "Call-ID: hz" CRLF "CSeq: 1 NOTIFY" CRLF "Event: refer" CRLF
#define HZ_TWO CRLF "--q" CRLF "Content-Type: text/plain" CRLF "Content-Type: text/html" CRLF CRLF \
               "x" CRLF "--q--" CRLF
    static const char *const leak[] = {
        /* "--q" glued to a header value is no delimiter for libosip2: both
         * Content-Types are in its first part (fuzz: leak-46e70fe0...) */
        HZ_HEAD "Content-Type: multipart/mixed;boundary=q" CRLF CRLF "--q" CRLF
                "Content-Type: text/plain--q" CRLF "Content-Type: text/plain" CRLF CRLF "x" CRLF
                "--q--" CRLF,
        /* "multipart /mixed": libosip2 trims the type */
        HZ_HEAD "Content-Type: multipart /mixed;boundary=q" CRLF HZ_TWO,
        /* a lone CR ends a header line for libosip2 */
        HZ_HEAD "Subject: a\rContent-Type: multipart/mixed;boundary=q" CRLF HZ_TWO,
        /* libosip2 reads the parameters differently: boundary=q for it */
        HZ_HEAD "Content-Type: multipart/mixed;x=\"a;boundary=z\";boundary=q" CRLF HZ_TWO,
        /* LF-only line ends, leading SP/HTAB and a longer name */
        HZ_HEAD "Content-Type: multipart/mixed;boundary=q" CRLF "\n--q\n \tcontent-type: a/b\n"
                "CONTENT-TYPE-x: c/d\n\nx\n--q--\n",
    };
    for (size_t i = 0; i < sizeof leak / sizeof leak[0]; i++) {
        memset(&ST, 0, sizeof ST);
        assert_int_equal(parse(leak[i], 0), SIPMSG_OK);
        assert_true(M.full_parse);
        assert_int_equal(ST.osip_errors, 1);
    }
    /* One Content-Type per part, blank lines between the parts' headers
     * (CRLF, LF, lone CR ends): libosip2 parses them, no hazard */
    static const char *const fine[] = {
        HZ_HEAD "Content-Type: multipart/mixed;boundary=q" CRLF CRLF "--q" CRLF
                "Content-Type: text/plain" CRLF CRLF "x" CRLF "--q" CRLF
                "Content-Type: message/sipfrag" CRLF CRLF "SIP/2.0 200 OK" CRLF "--q--" CRLF,
        HZ_HEAD "Content-Type: multipart/mixed;boundary=q" CRLF "\n--q\nContent-Type: text/plain\n\nx\n"
                "--q\nContent-Type: message/sipfrag\n\nSIP/2.0 200 OK\n--q--\n",
        HZ_HEAD "Content-Type: multipart/mixed;boundary=q" CRLF CRLF "--q" CRLF
                "Content-Type: text/plain\r\rx" CRLF "--q" CRLF "Content-Type: text/plain\r\ry"
                CRLF "--q--" CRLF,
    };
    for (size_t i = 0; i < sizeof fine / sizeof fine[0]; i++) {
        memset(&ST, 0, sizeof ST);
        assert_int_equal(parse(fine[i], 0), SIPMSG_OK);
        assert_true(M.full_parse);
        assert_int_equal(ST.osip_errors, 0);
    }
#undef HZ_TWO
#undef HZ_HEAD
}

static void test_sipfrag_cut_body(void **state)
{
    (void)state;
    /* Content-Length says 40, the capture holds less: used as it is. libosip2
     * refuses it, the scanner's fields stand. */
    static const char m[] =
        "NOTIFY sip:a@b SIP/2.0" CRLF "Call-ID: cut" CRLF "CSeq: 3 NOTIFY" CRLF "Event: refer" CRLF
        "Content-Type: message/sipfrag" CRLF "Content-Length: 40" CRLF CRLF "SIP/2.0 200 OK" CRLF;
    assert_int_equal(parse(m, 0), SIPMSG_OK);
    assert_true(M.full_parse);
    assert_int_equal(ST.osip_errors, 1);
    assert_int_equal(M.sipfrag_status, 200);
    assert_string_equal(M.sipfrag_reason, "OK");
    /* Not a sipfrag type: no status, whatever the body says */
    static const char t[] =
        "NOTIFY sip:a@b SIP/2.0" CRLF "Call-ID: cut" CRLF "CSeq: 3 NOTIFY" CRLF "Event: refer" CRLF
        "Content-Type: message/sipfragx" CRLF CRLF "SIP/2.0 200 OK" CRLF;
    assert_int_equal(parse(t, 0), SIPMSG_OK);
    assert_int_equal(M.sipfrag_status, 0);
    /* A sipfrag whose first line is no status line */
    static const char u[] = "NOTIFY sip:a@b SIP/2.0" CRLF "Call-ID: cut" CRLF "CSeq: 3 NOTIFY" CRLF
                            "c: message/sipfrag" CRLF CRLF "INVITE sip:x SIP/2.0" CRLF;
    assert_int_equal(parse(u, 0), SIPMSG_OK);
    assert_int_equal(M.sipfrag_status, 0);
    /* Content-Length shorter than the body cuts it */
    static const char v[] = "NOTIFY sip:a@b SIP/2.0" CRLF "Call-ID: cut" CRLF "CSeq: 3 NOTIFY" CRLF
                            "c: message/sipfrag" CRLF "l: 10" CRLF CRLF "SIP/2.0 200 OK" CRLF;
    assert_int_equal(parse(v, 0), SIPMSG_OK);
    assert_int_equal(M.sipfrag_status, 0);
}

static void test_not_found(void **state)
{
    (void)state;
    assert_int_equal(parse(NOT_FOUND, 0), SIPMSG_OK);
    assert_true(M.full_parse);
    assert_int_equal(ST.osip_errors, 0);
    assert_int_equal(M.status, 404);
    assert_string_equal(M.reason, "Not Found");
    assert_string_equal(M.warning, "399 pbx \"No such user\"");
    assert_string_equal(M.server, "Asterisk PBX 18");
    assert_string_equal(M.to_uri, "sip:100@203.0.113.5");
    assert_string_equal(M.to_tag, "as1");
    assert_string_equal(M.cseq_method, "REGISTER");
    assert_int_equal(parse(DOES_NOT_EXIST, 0), SIPMSG_OK);
    assert_true(M.full_parse);
    assert_int_equal(M.status, 604);
    assert_string_equal(M.to_uri, "sip:+15550199@203.0.113.5;user=phone");
    /* 480 and 403 take the fast path */
    static const char r480[] =
        "SIP/2.0 480 Temporarily Unavailable" CRLF "Call-ID: x" CRLF "CSeq: 2 INVITE" CRLF CRLF;
    assert_int_equal(parse(r480, 0), SIPMSG_OK);
    assert_false(M.full_parse);
    assert_int_equal(ST.fast_path, 1);
    assert_int_equal(ST.full_parse, 2);
}

/* Keys are the whole value: Call-IDs and tags longer than their copy carry
 * a hash of the whole; equal values hash equal, whatever parser ran. */
static void test_long_keys(void **state)
{
    (void)state;
    static char a[2048], b[2048];
    char pre[601];
    memset(pre, 'k', 600);
    pre[600] = '\0';
#define LONG_KEYS_FMT                                                                              \
    "SIP/2.0 404 Not Found" CRLF "Call-ID: %s-%s" CRLF "CSeq: 1 INVITE" CRLF                       \
    "From: <sip:a@x>;tag=%s%s" CRLF "To: <sip:b@y>;tag=t" CRLF CRLF
    snprintf(a, sizeof a, LONG_KEYS_FMT, pre, "1", pre, "1");
    snprintf(b, sizeof b, LONG_KEYS_FMT, pre, "2", pre, "2");
    assert_int_equal(parse(a, SIPMSG_LAZY), SIPMSG_OK);
    M2 = M;
    assert_int_equal(parse(b, SIPMSG_LAZY), SIPMSG_OK);
    assert_string_equal(M.call_id, M2.call_id); /* the copies are the same prefix */
    assert_true(M.call_id_hash != 0 && M.call_id_hash != M2.call_id_hash);
    assert_string_equal(M.from_tag, M2.from_tag);
    assert_true(M.from_tag_hash != M2.from_tag_hash);
    assert_int_equal(M.to_tag_hash, 0); /* whole in its copy */
    uint64_t h = M.call_id_hash;
    assert_int_equal(parse(b, SIPMSG_FULL), SIPMSG_OK); /* libosip2's Call-ID */
    assert_true(M.call_id_hash == h);
    assert_int_equal(parse(NOT_FOUND, 0), SIPMSG_OK);
    assert_int_equal(M.call_id_hash, 0);
}

/* A header flood is never handed to libosip2: the scanner's fields stand. */
static void test_header_flood(void **state)
{
    (void)state;
    size_t n_hdr = SIPMSG_MAX_HEADER_LINES + 1;
    size_t cap = strlen(NOT_FOUND) + n_hdr * 5 + 1;
    char *m = malloc(cap);
    assert_non_null(m);
    const char *blank = strstr(NOT_FOUND, CRLF CRLF);
    size_t head = (size_t)(blank - NOT_FOUND) + 2;
    memcpy(m, NOT_FOUND, head);
    size_t off = head;
    for (size_t i = 0; i < n_hdr; i++, off += 5)
        memcpy(m + off, "a:1" CRLF, 5);
    memcpy(m + off, NOT_FOUND + head, strlen(NOT_FOUND) - head);
    off += strlen(NOT_FOUND) - head;
    assert_int_equal(parse_n(m, off, 0), SIPMSG_OK);
    assert_false(M.full_parse);
    assert_int_equal(ST.header_floods, 1);
    assert_int_equal(ST.full_parse, 0);
    assert_int_equal(M.status, 404);
    assert_string_equal(M.to_tag, "as1");
    /* one line fewer: libosip2 runs */
    memcpy(m + head, NOT_FOUND + head, strlen(NOT_FOUND) - head);
    assert_int_equal(parse_n(m, head + strlen(NOT_FOUND) - head, 0), SIPMSG_OK);
    assert_true(M.full_parse);
    free(m);
}

/* A control byte in a reason phrase is repaired, the response kept. */
static void test_reason_control_bytes(void **state)
{
    (void)state;
    static const char r[] = "SIP/2.0 404 Not\x1b[31m Found\x07" CRLF "Call-ID: x" CRLF
                            "CSeq: 2 INVITE" CRLF CRLF;
    assert_int_equal(parse(r, 0), SIPMSG_OK);
    assert_int_equal(M.status, 404);
    assert_string_equal(M.reason, "Not?[31m Found?");
}

static void test_compact_forms(void **state)
{
    (void)state;
    for (unsigned flags = 0; flags <= SIPMSG_FULL; flags++) {
        assert_int_equal(parse(COMPACT, flags), SIPMSG_OK);
        assert_string_equal(M.branch, "z9hG4bKc1");
        assert_string_equal(M.from_uri, "sip:alice@example.com");
        assert_string_equal(M.from_tag, "fa");
        assert_string_equal(M.to_uri, "sip:bob@example.com");
        assert_string_equal(M.to_tag, "tb");
        assert_string_equal(M.call_id, "compact-1@192.0.2.1");
        assert_string_equal(M.refer_to, "sip:carol@example.com");
        assert_false(M.refer_replaces);
        assert_string_equal(M.referred_by, "<sip:alice@example.com>");
        assert_string_equal(M.event, "refer");
        assert_int_equal(M.event_id, 5);
        assert_true(M.full_parse);
    }
    assert_int_equal(ST.osip_errors, 0);
}

static void test_folded(void **state)
{
    (void)state;
    for (unsigned flags = 0; flags <= SIPMSG_FULL; flags++) {
        assert_int_equal(parse(FOLDED, flags), SIPMSG_OK);
        assert_string_equal(M.branch, "z9hG4bKfold");
        assert_string_equal(M.from_uri, "sip:alice@example.com");
        assert_string_equal(M.from_tag, "fold1");
        assert_string_equal(M.from, "Alice  \t<sip:alice@example.com>    ;tag=fold1");
        assert_string_equal(M.to_uri, "sip:bob@example.com");
        assert_int_equal(M.cseq, 7);
        assert_string_equal(M.cseq_method, "REFER");
        assert_string_equal(M.user_agent, "Long   Agent/1.0");
        assert_string_equal(M.refer_to, "sip:carol@example.com");
    }
    assert_int_equal(ST.osip_errors, 0);
}

static void test_callid_at(void **state)
{
    (void)state;
    static const char m[] =
        "SIP/2.0 404 Not Found" CRLF "Call-ID:   abc@def@ghi  " CRLF "CSeq: 1 INVITE" CRLF
        "To: <sip:x@y>" CRLF "From: <sip:a@b>;tag=1" CRLF "Via: SIP/2.0/UDP h;branch=z9" CRLF CRLF;
    assert_int_equal(parse(m, 0), SIPMSG_OK);
    assert_true(M.full_parse);
    assert_string_equal(M.call_id, "abc@def@ghi");
    assert_int_equal(ST.osip_errors, 0);
    static const char m2[] =
        "SIP/2.0 180 Ringing" CRLF "i: 1234@[2001:db8::1]" CRLF "CSeq: 1 INVITE" CRLF CRLF;
    assert_int_equal(parse(m2, SIPMSG_FULL), SIPMSG_OK);
    assert_string_equal(M.call_id, "1234@[2001:db8::1]");
    assert_int_equal(parse(m2, 0), SIPMSG_OK);
    assert_string_equal(M.call_id, "1234@[2001:db8::1]");
}

static void test_nul_in_headers(void **state)
{
    (void)state;
    static const char m[] =
        "SIP/2.0 404 Not Found" CRLF "Call-ID: a\0b" CRLF "CSeq: 1 INVITE" CRLF CRLF;
    assert_int_equal(parse_n(m, sizeof m - 1, 0), SIPMSG_INVALID);
    assert_int_equal(ST.nul_bytes, 1);
    assert_int_equal(ST.invalid, 1);
    static const char s[] =
        "SIP/2.0 404 Not\0Found" CRLF "Call-ID: ab" CRLF "CSeq: 1 INVITE" CRLF CRLF;
    assert_int_equal(parse_n(s, sizeof s - 1, 0), SIPMSG_INVALID);
    assert_int_equal(ST.nul_bytes, 2);
    /* a NUL in the body is fine */
    static const char b[] =
        "SIP/2.0 404 Not Found" CRLF "Call-ID: ab" CRLF "CSeq: 1 INVITE" CRLF CRLF "\0\0";
    assert_int_equal(parse_n(b, sizeof b - 1, 0), SIPMSG_OK);
    assert_int_equal(ST.nul_bytes, 2);
    assert_int_equal(ST.invalid, 2);
}

static void test_start_lines(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "\r\n\r\n",
        "INVITE",
        "INVITE ",
        "INVITE sip:a@b",
        "INVITE sip:a@b ",
        "INVITE sip:a@b SIP",
        "INVITE  sip:a@b SIP/2.0",
        " INVITE sip:a@b SIP/2.0",
        "INV@TE sip:a@b SIP/2.0",
        "SIP/2.0",
        "SIP/2.0 ",
        "SIP/2.0 20",
        "SIP/2.0 2000 OK",
        "SIP/2.0 099 Low",
        "SIP/2.0 700 High",
        "SIP/2.0 2x0 OK",
        "HTTP/1.1 200 OK",
    };
    char buf[256];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(buf, sizeof buf, "%s\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n\r\n", bad[i]);
        if (parse(buf, 0) != SIPMSG_INVALID)
            fail_msg("accepted start line '%s'", bad[i]);
    }
    assert_int_equal(ST.invalid, sizeof bad / sizeof bad[0]);
    assert_int_equal(parse("SIP/2.0 699 X\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n\r\n", 0), SIPMSG_OK);
    assert_int_equal(M.status, 699);
    assert_int_equal(parse("SIP/2.0 100\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n\r\n", 0), SIPMSG_OK);
    assert_int_equal(M.status, 100);
    assert_string_equal(M.reason, "");
    /* CRLFs before the start line are ignored (RFC 3261 §7.5); bare LF ends lines */
    assert_int_equal(parse("\r\n\r\nOPTIONS sip:x SIP/2.0\nCall-ID: y\nCSeq: 9 OPTIONS\n\n", 0),
                     SIPMSG_OK);
    assert_string_equal(M.method, "OPTIONS");
    assert_string_equal(M.call_id, "y");
    /* the last header without its line end, no blank line */
    assert_int_equal(parse("BYE sip:x SIP/2.0\r\nCall-ID: y\r\nCSeq: 9 BYE", 0), SIPMSG_OK);
    assert_string_equal(M.cseq_method, "BYE");
    /* missing Call-ID or CSeq */
    assert_int_equal(parse("BYE sip:x SIP/2.0\r\nCSeq: 9 BYE\r\n\r\n", 0), SIPMSG_INVALID);
    assert_int_equal(parse("BYE sip:x SIP/2.0\r\nCall-ID:\r\nCSeq: 9 BYE\r\n\r\n", 0),
                     SIPMSG_INVALID);
    assert_int_equal(parse("BYE sip:x SIP/2.0\r\nCall-ID: y\r\n\r\n", 0), SIPMSG_INVALID);
    /* a header after the blank line is body */
    assert_int_equal(parse("BYE sip:x SIP/2.0\r\nCall-ID: y\r\n\r\nCSeq: 9 BYE\r\n", 0),
                     SIPMSG_INVALID);
}

static void test_cseq_edges(void **state)
{
    (void)state;
    static const struct {
        const char *v;
        bool ok;
        uint32_t n;
    } t[] = {
        {"2147483647 INVITE", true, 2147483647u},
        {"2147483648 INVITE", false, 0},
        {"4294967296 INVITE", false, 0},
        {"99999999999999999999999 INVITE", false, 0},
        {"0 INVITE", true, 0},
        {"  12\tACK  ", true, 12},
        {"abc INVITE", false, 0},
        {"12", false, 0},
        {"12 ", false, 0},
        {"12INVITE", false, 0},
        {"-1 INVITE", false, 0},
        {"1 INV@TE", false, 0},
        {"INVITE 1", false, 0},
    };
    char buf[256];
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        snprintf(buf, sizeof buf, "SIP/2.0 200 OK\r\nCall-ID: x\r\nCSeq: %s\r\n\r\n", t[i].v);
        enum sipmsg_result r = parse(buf, 0);
        if ((r == SIPMSG_OK) != t[i].ok)
            fail_msg("CSeq '%s': result %d", t[i].v, (int)r);
        if (t[i].ok)
            assert_int_equal(M.cseq, t[i].n);
    }
}

static void test_refer_to_forms(void **state)
{
    (void)state;
    static const struct {
        const char *v, *uri;
        bool replaces;
    } t[] = {
        {"<sip:c@h?Replaces=x%40y%3Bto-tag%3D1%3Bfrom-tag%3D2>",
         "sip:c@h?Replaces=x%40y%3Bto-tag%3D1%3Bfrom-tag%3D2", true},
        {"Carol <sip:c@h;transport=tcp?replaces=x>;method=INVITE",
         "sip:c@h;transport=tcp?replaces=x", true},
        {"sip:c@h?Replaces=abc@h;to-tag=1;from-tag=2", "sip:c@h?Replaces=abc@h;to-tag=1;from-tag=2",
         true},
        {"sip:c@h%3FReplaces%3Dabc", "sip:c@h%3FReplaces%3Dabc", true},
        {"sip:c@h?X-Replaces-Not=1", "sip:c@h?X-Replaces-Not=1", false},
        {"sip:c@h;replaces=1", "sip:c@h", false},
        {"<sip:replaces@h>", "sip:replaces@h", false},
        {"sip:c@h;method=INVITE", "sip:c@h", false},
        {"\"A <b>\" <tel:+1555>", "tel:+1555", false},
        {"<sip:unterminated@h", "sip:unterminated@h", false},
    };
    char buf[512];
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        snprintf(buf, sizeof buf,
                 "REFER sip:b@h SIP/2.0\r\nCall-ID: x\r\nCSeq: 1 REFER\r\nRefer-To: %s\r\n\r\n",
                 t[i].v);
        for (unsigned f = 0; f <= SIPMSG_FULL; f++) {
            assert_int_equal(parse(buf, f), SIPMSG_OK);
            if (strcmp(M.refer_to, t[i].uri) != 0 || M.refer_replaces != t[i].replaces)
                fail_msg("Refer-To '%s': got '%s' replaces=%d", t[i].v, M.refer_to,
                         M.refer_replaces);
        }
    }
}

static void test_refer_sub_event_substate(void **state)
{
    (void)state;
    static const struct {
        const char *hdr;
        enum sipmsg_refer_sub rs;
    } t[] = {
        {"Refer-Sub: false", SIPMSG_REFER_SUB_FALSE},
        {"refer-sub:FALSE ;x=y", SIPMSG_REFER_SUB_FALSE},
        {"Refer-Sub: true", SIPMSG_REFER_SUB_TRUE},
        {"Refer-Sub: maybe", SIPMSG_REFER_SUB_ABSENT},
        {"Refer-Sub: falsehood", SIPMSG_REFER_SUB_ABSENT},
        {"X-Refer-Sub: false", SIPMSG_REFER_SUB_ABSENT},
    };
    char buf[256];
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        snprintf(buf, sizeof buf,
                 "REFER sip:b@h SIP/2.0\r\nCall-ID: x\r\nCSeq: 1 REFER\r\n%s\r\n\r\n", t[i].hdr);
        assert_int_equal(parse(buf, 0), SIPMSG_OK);
        assert_int_equal(M.refer_sub, t[i].rs);
    }
    assert_int_equal(parse("NOTIFY sip:b SIP/2.0\r\nCall-ID: x\r\nCSeq: 1 NOTIFY\r\n"
                           "Event: REFER ; id = 4294967295\r\n"
                           "Subscription-State: Pending ;expires=0\r\n\r\n",
                           0),
                     SIPMSG_OK);
    assert_string_equal(M.event, "refer");
    assert_true(M.has_event_id);
    assert_int_equal(M.event_id, 4294967295u);
    assert_int_equal(M.substate, SIPMSG_SUBSTATE_PENDING);
    assert_int_equal(M.sub_expires, 0);
    assert_true(M.full_parse);
    assert_int_equal(parse("NOTIFY sip:b SIP/2.0\r\nCall-ID: x\r\nCSeq: 1 NOTIFY\r\n"
                           "Event: presence;id=4294967296\r\n"
                           "Subscription-State: waiting;expires=abc\r\n\r\n",
                           0),
                     SIPMSG_OK);
    assert_string_equal(M.event, "presence");
    assert_false(M.has_event_id);
    assert_int_equal(M.substate, SIPMSG_SUBSTATE_OTHER);
    assert_int_equal(M.sub_expires, -1);
    assert_false(M.full_parse); /* not the refer package */
    assert_int_equal(parse("NOTIFY sip:b SIP/2.0\r\nCall-ID: x\r\nCSeq: 1 NOTIFY\r\n"
                           "o: refer.x;id=\"3\"\r\n\r\n",
                           0),
                     SIPMSG_OK);
    assert_string_equal(M.event, "refer.x");
    assert_false(M.has_event_id);
    assert_false(M.full_parse);
}

/* The first Via's first value; a tag inside <> is a URI parameter. */
static void test_via_and_tags(void **state)
{
    (void)state;
    for (unsigned f = 0; f <= SIPMSG_FULL; f++) {
        assert_int_equal(
            parse("SIP/2.0 404 Not Found\r\n"
                  "Via: SIP/2.0/UDP a;received=\"1,2\";rport, SIP/2.0/UDP b;branch=no\r\n"
                  "Via: SIP/2.0/UDP c;branch=no2\r\n"
                  "From: <sip:a@b;tag=uri>;x=1;TAG=hdr\r\n"
                  "To: \"x;tag=q\" <sip:c@d;tag=uri>\r\n"
                  "Call-ID: v\r\nCSeq: 1 INVITE\r\n\r\n",
                  f),
            SIPMSG_OK);
        assert_string_equal(M.branch, "");
        assert_string_equal(M.from_uri, "sip:a@b;tag=uri");
        assert_string_equal(M.from_tag, "hdr");
        assert_string_equal(M.to_uri, "sip:c@d;tag=uri");
        assert_string_equal(M.to_tag, "");
    }
}

static void test_truncation(void **state)
{
    (void)state;
    char buf[2048];
    char ua[601];
    memset(ua, 'U', 600);
    ua[600] = '\0';
    snprintf(buf, sizeof buf,
             "SIP/2.0 404 Not Found\r\nCall-ID: t\r\nCSeq: 1 INVITE\r\n"
             "User-Agent: %s\r\nServer: ok\r\n\r\n",
             ua);
    assert_int_equal(parse(buf, 0), SIPMSG_OK);
    assert_int_equal(strlen(M.user_agent), SIPMSG_MAX_FIELD - 1);
    assert_int_equal(M.truncated_fields, 1);
    assert_int_equal(ST.truncated_fields, 1);
    assert_string_equal(M.server, "ok");
    /* exactly the size that fits is no truncation */
    ua[SIPMSG_MAX_FIELD - 1] = '\0';
    snprintf(buf, sizeof buf,
             "SIP/2.0 200 OK\r\nCall-ID: t\r\nCSeq: 1 INVITE\r\n"
             "User-Agent: %s\r\n\r\n",
             ua);
    assert_int_equal(parse(buf, 0), SIPMSG_OK);
    assert_int_equal(M.truncated_fields, 0);
    /* a long From URI cut by both parsers is counted once per copy */
    char uri[700];
    memset(uri, 'a', sizeof uri - 1);
    uri[sizeof uri - 1] = '\0';
    snprintf(buf, sizeof buf,
             "SIP/2.0 404 Not Found\r\nCall-ID: t\r\nCSeq: 1 INVITE\r\n"
             "From: <sip:%s@h>;tag=1\r\nVia: SIP/2.0/UDP h\r\nTo: <sip:x@y>\r\n\r\n",
             uri);
    assert_int_equal(parse(buf, 0), SIPMSG_OK);
    assert_true(M.full_parse);
    assert_int_equal(M.truncated_fields, 2); /* from, from_uri */
    assert_string_equal(M.from_tag, "1");
    /* libosip2's Call-ID, rebuilt from its two halves: cut once at the
     * field's size, whole when it fits, '@' and host kept */
    static const size_t idlen[] = {SIPMSG_MAX_CALLID - 1, SIPMSG_MAX_CALLID, 400};
    for (size_t i = 0; i < sizeof idlen / sizeof idlen[0]; i++) {
        char id[512];
        memset(id, 'c', idlen[i]);
        memcpy(id + idlen[i] - 6, "@h.com", 6);
        id[idlen[i]] = '\0';
        snprintf(buf, sizeof buf, "SIP/2.0 404 Not Found\r\nCall-ID:  %s \r\nCSeq: 1 INVITE\r\n\r\n",
                 id);
        assert_int_equal(parse(buf, 0), SIPMSG_OK);
        assert_true(M.full_parse);
        assert_int_equal(ST.osip_errors, 0);
        id[SIPMSG_MAX_CALLID - 1] = '\0';
        assert_string_equal(M.call_id, id);
        assert_int_equal(M.truncated_fields, idlen[i] >= SIPMSG_MAX_CALLID);
    }
    assert_int_equal(parse("SIP/2.0 404 Not Found\r\nCall-ID: abc\r\nCSeq: 1 INVITE\r\n\r\n", 0),
                     SIPMSG_OK);
    assert_string_equal(M.call_id, "abc");
}

static void compare_fields(const char *name, const struct sip_msg *a, const struct sip_msg *b)
{
#define SF(f)                                                                                      \
    if (strcmp(a->f, b->f) != 0)                                                                   \
        fail_msg("%s: %s differs: '%s' vs '%s'", name, #f, a->f, b->f);
#define NF(f)                                                                                      \
    if (a->f != b->f)                                                                              \
        fail_msg("%s: %s differs: %lld vs %lld", name, #f, (long long)a->f, (long long)b->f);
    NF(is_request)
    SF(method) NF(status) SF(reason) SF(request_uri) SF(call_id) NF(cseq) SF(cseq_method) SF(branch)
        SF(from) SF(to) SF(from_uri) SF(to_uri) SF(from_tag) SF(to_tag) SF(user_agent) SF(server)
            SF(warning) SF(refer_to) SF(referred_by) NF(refer_replaces) NF(refer_sub) SF(event)
                NF(has_event_id) NF(event_id) SF(subscription_state) NF(substate) NF(sub_expires)
                    NF(sipfrag_status) SF(sipfrag_reason) NF(truncated_fields)
#undef SF
#undef NF
}

/* Both paths give the same fields on every sample; libosip2 accepts them all
 * (else the comparison would prove nothing). */
static void test_paths_agree(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
        uint64_t oe = ST.osip_errors;
        assert_int_equal(parse_n(samples[i].text, samples[i].len, 0), SIPMSG_OK);
        M2 = M;
        assert_int_equal(parse_n(samples[i].text, samples[i].len, SIPMSG_FULL), SIPMSG_OK);
        assert_true(M.full_parse);
        if (ST.osip_errors != oe)
            fail_msg("%s: libosip2 refused it", samples[i].name);
        compare_fields(samples[i].name, &M2, &M);
    }
}

/* SIPMSG_LAZY: the promised fields as a full scan gives them, nothing else
 * for a message that feeds no event, everything for one that does, and the
 * same truncation count either way. */
static void test_lazy(void **state)
{
    (void)state;
    assert_int_equal(parse(INVITE, SIPMSG_LAZY), SIPMSG_OK);
    assert_string_equal(M.method, "INVITE");
    assert_string_equal(M.request_uri, "sip:bob@biloxi.example.com");
    assert_string_equal(M.call_id, "a84b4c76e66710@pc33.atlanta.example.com");
    assert_int_equal(M.cseq, 314159);
    assert_string_equal(M.cseq_method, "INVITE");
    assert_string_equal(M.from, "\"Alice <A>\" <sip:alice@atlanta.example.com>;tag=1928301774");
    assert_string_equal(M.to, "Bob <sip:bob@biloxi.example.com>");
    assert_string_equal(M.user_agent, "Softphone/1.2.3 (Linux)");
    assert_string_equal(M.branch, "");
    assert_string_equal(M.from_uri, "");
    assert_string_equal(M.from_tag, "");
    assert_false(M.full_parse);

    assert_int_equal(parse(TRYING, SIPMSG_LAZY), SIPMSG_OK);
    assert_int_equal(M.status, 100);
    assert_string_equal(M.reason, "Trying");
    assert_string_equal(M.call_id, "a84b4c76e66710@pc33.atlanta.example.com");
    assert_string_equal(M.cseq_method, "INVITE");
    assert_string_equal(M.from, "");
    assert_string_equal(M.to, "");
    assert_string_equal(M.branch, "");

    /* a header that could be cut is parsed whole: its cut is counted */
    char buf[2048], ua[601];
    memset(ua, 'U', 600);
    ua[600] = '\0';
    snprintf(buf, sizeof buf,
             "SIP/2.0 200 OK\r\nCall-ID: t\r\nCSeq: 1 INVITE\r\nUser-Agent: %s\r\n"
             "Server: ok\r\n\r\n",
             ua);
    assert_int_equal(parse(buf, SIPMSG_LAZY), SIPMSG_OK);
    assert_int_equal(M.truncated_fields, 1);
    assert_int_equal(strlen(M.user_agent), SIPMSG_MAX_FIELD - 1);
    assert_string_equal(M.server, "");
    /* the raw value (its leading SP too) shorter than the buffer: cannot be
     * cut, not parsed */
    ua[SIPMSG_MAX_FIELD - 2] = '\0';
    snprintf(buf, sizeof buf, "SIP/2.0 200 OK\r\nCall-ID: t\r\nCSeq: 1 INVITE\r\nUser-Agent: %s\r\n\r\n",
             ua);
    assert_int_equal(parse(buf, SIPMSG_LAZY), SIPMSG_OK);
    assert_int_equal(M.truncated_fields, 0);
    assert_string_equal(M.user_agent, "");
    /* a tag of 128 bytes is cut (127 fit): the From is parsed whole */
    char tag[129];
    memset(tag, 't', 128);
    tag[128] = '\0';
    snprintf(buf, sizeof buf,
             "SIP/2.0 200 OK\r\nCall-ID: t\r\nCSeq: 1 INVITE\r\nFrom: <sip:a@b>;tag=%s\r\n\r\n", tag);
    assert_int_equal(parse(buf, 0), SIPMSG_OK);
    unsigned cut = M.truncated_fields;
    assert_int_equal(cut, 1);
    assert_int_equal(parse(buf, SIPMSG_LAZY), SIPMSG_OK);
    assert_int_equal(M.truncated_fields, cut);
    assert_int_equal(strlen(M.from_tag), 127);

    /* every sample: the promised fields agree; messages that feed events
     * agree on everything */
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
        assert_int_equal(parse_n(samples[i].text, samples[i].len, 0), SIPMSG_OK);
        M2 = M;
        assert_int_equal(parse_n(samples[i].text, samples[i].len, SIPMSG_LAZY), SIPMSG_OK);
        assert_int_equal(M.truncated_fields, M2.truncated_fields);
        assert_int_equal(M.full_parse, M2.full_parse);
        if (M2.full_parse) {
            compare_fields(samples[i].name, &M2, &M);
            continue;
        }
        assert_string_equal(M.call_id, M2.call_id);
        assert_string_equal(M.cseq_method, M2.cseq_method);
        assert_string_equal(M.event, M2.event);
        if (M2.is_request) {
            assert_string_equal(M.from, M2.from);
            assert_string_equal(M.to, M2.to);
            assert_string_equal(M.user_agent, M2.user_agent);
        }
    }
    /* invalid stays invalid */
    assert_int_equal(parse("SIP/2.0 200 OK\r\nCall-ID: x\r\n\r\n", SIPMSG_LAZY), SIPMSG_INVALID);
    /* SIPMSG_FULL wins */
    assert_int_equal(parse(TRYING, SIPMSG_LAZY | SIPMSG_FULL), SIPMSG_OK);
    assert_string_equal(M.branch, "z9hG4bK776asdhds");
}

/* libosip2 normalises escapes of unreserved characters in URIs it rebuilds;
 * request_uri stays as sent. */
static void test_osip_uri_authority(void **state)
{
    (void)state;
    static const char m[] = "SIP/2.0 404 Not Found\r\nCall-ID: e\r\nCSeq: 1 INVITE\r\n"
                            "Via: SIP/2.0/UDP h\r\nFrom: <sip:a@b>;tag=1\r\n"
                            "To: <sip:%41lice@h>\r\n\r\n";
    assert_int_equal(parse(m, 0), SIPMSG_OK);
    assert_true(M.full_parse);
    assert_string_equal(M.to_uri, "sip:Alice@h");
    assert_int_equal(parse("INVITE sip:%41lice@h SIP/2.0\r\nCall-ID: e\r\nCSeq: 1 INVITE\r\n"
                           "To: <sip:%41lice@h>\r\n\r\n",
                           0),
                     SIPMSG_OK);
    assert_false(M.full_parse);
    assert_string_equal(M.to_uri, "sip:%41lice@h");
    assert_string_equal(M.request_uri, "sip:%41lice@h");
}

/* libosip2 is given only the header lines it is the authority for (and the
 * body's): a header it would refuse elsewhere in the message no longer
 * refuses the whole message; lines it would cut differently from the
 * scanner (a CR inside) are still given, so it refuses what it refused. */
static void test_osip_reduced(void **state)
{
    (void)state;
    /* "Via: garbage" and a bad CSeq made libosip2 refuse the whole 404 */
    static const char badvia[] = "SIP/2.0 404 Not Found\r\nVia: garbage\r\nCall-ID: e\r\n"
                                 "CSeq: 1 INVITE\r\nf: <sip:a@b>;tag=1\r\n"
                                 "t: <sip:%41lice@h>\r\n ;tag=9\r\nContact: <>>\r\n\r\n";
    assert_int_equal(parse(badvia, 0), SIPMSG_OK);
    assert_true(M.full_parse);
    assert_int_equal(ST.osip_errors, 0);
    assert_string_equal(M.to_uri, "sip:Alice@h"); /* libosip2's: compact, folded */
    assert_string_equal(M.to_tag, "9");
    assert_string_equal(M.branch, ""); /* the scanner's: no branch in that Via */
    /* a CR inside a header libosip2 does not need: it would read a second
     * From there and refuse the message, so it still gets that line */
    static const char cr[] = "SIP/2.0 404 Not Found\r\nSubject: a\rFrom: <sip:x@y>\r\n"
                             "Call-ID: e\r\nCSeq: 1 INVITE\r\nFrom: <sip:a@b>;tag=1\r\n"
                             "To: <sip:%41lice@h>\r\n\r\n";
    assert_int_equal(parse(cr, 0), SIPMSG_OK);
    assert_int_equal(ST.osip_errors, 1);
    assert_string_equal(M.to_uri, "sip:%41lice@h"); /* the scanner's */
    /* a CR in a continuation line: its header goes whole (alone, the
     * continuation would extend the start line, which libosip2 refuses) */
    static const char crfold[] = "SIP/2.0 404 Not Found\r\nSubject: a\r\n b\rX-A: c\r\n"
                                 "Call-ID: e\r\nCSeq: 1 REFER\r\nFrom: <sip:a@b>;tag=1\r\n"
                                 "To: <sip:%41lice@h>\r\n\r\n";
    assert_int_equal(parse(crfold, 0), SIPMSG_OK);
    assert_int_equal(ST.osip_errors, 1);
    assert_string_equal(M.to_uri, "sip:Alice@h");
    /* a header line without a colon: refused as before */
    static const char nocolon[] = "SIP/2.0 404 Not Found\r\nCall-ID: e\r\nCSeq: 1 INVITE\r\n"
                                  "Bogus line\r\nTo: <sip:%41lice@h>\r\n\r\n";
    assert_int_equal(parse(nocolon, 0), SIPMSG_OK);
    assert_int_equal(ST.osip_errors, 2);
    /* the body and its Content-Length/Content-Type go along: a cut body
     * is refused, a whole one parsed */
    static const char body[] = "NOTIFY sip:a@b SIP/2.0\r\nVia: x\r\nCall-ID: n\r\n"
                               "CSeq: 3 NOTIFY\r\nEvent: refer\r\nc: message/sipfrag\r\n"
                               "l: 16\r\n\r\nSIP/2.0 200 OK\r\n";
    assert_int_equal(parse(body, 0), SIPMSG_OK);
    assert_int_equal(ST.osip_errors, 2);
    assert_int_equal(M.sipfrag_status, 200);
    static const char cut[] = "NOTIFY sip:a@b SIP/2.0\r\nVia: x\r\nCall-ID: n\r\n"
                              "CSeq: 3 NOTIFY\r\nEvent: refer\r\nc: message/sipfrag\r\n"
                              "l: 40\r\n\r\nSIP/2.0 200 OK\r\n";
    assert_int_equal(parse(cut, 0), SIPMSG_OK);
    assert_int_equal(ST.osip_errors, 3);
}

static void test_fast_path_choice(void **state)
{
    (void)state;
    static const struct {
        const char *start, *cseq, *extra;
        bool full;
    } t[] = {
        {"INVITE sip:a SIP/2.0", "1 INVITE", "", false},
        {"REFER sip:a SIP/2.0", "1 REFER", "", true},
        {"refer sip:a SIP/2.0", "1 refer", "", false}, /* methods are case-sensitive */
        {"NOTIFY sip:a SIP/2.0", "1 NOTIFY", "Event: refer\r\n", true},
        {"NOTIFY sip:a SIP/2.0", "1 NOTIFY", "Event: dialog\r\n", false},
        {"NOTIFY sip:a SIP/2.0", "1 NOTIFY", "", false},
        {"SIP/2.0 100 Trying", "1 INVITE", "", false},
        {"SIP/2.0 404 Not Found", "1 INVITE", "", true},
        {"SIP/2.0 604 Nope", "1 OPTIONS", "", true},
        {"SIP/2.0 603 Decline", "1 INVITE", "", false},
        {"SIP/2.0 202 Accepted", "1 REFER", "", true},
        {"SIP/2.0 481 Gone", "1 REFER", "", true},
        {"SIP/2.0 200 OK", "1 NOTIFY", "", false},
    };
    char buf[256];
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        snprintf(buf, sizeof buf, "%s\r\nCall-ID: x\r\nCSeq: %s\r\n%s\r\n", t[i].start, t[i].cseq,
                 t[i].extra);
        assert_int_equal(parse(buf, 0), SIPMSG_OK);
        if (M.full_parse != t[i].full)
            fail_msg("'%s' / '%s': full_parse %d", t[i].start, t[i].cseq, M.full_parse);
        assert_int_equal(parse(buf, SIPMSG_FULL), SIPMSG_OK);
        assert_true(M.full_parse);
    }
}

/* libosip2 5.3 prints parse errors to stdout unless its trace hook is set.
 * Messages the scanner accepts and libosip2 refuses must leave fd 1 clean. */
static void test_stdout_clean(void **state)
{
    (void)state;
    static const char *const msgs[] = {
        "REFER sip:a SIP/2.0\r\nCall-ID: x\r\nCSeq: 1 REFER\r\nc: "
        "message/sipfrag\r\nContent-Length: 40\r\n\r\nSIP/2.0 200 OK\r\n",
        "SIP/2.0 404 Not Found\r\nVia SIP/2.0/UDP h\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n\r\n",
        "SIP/2.0 404 Not Found\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\nFrom: <>\r\n\r\n",
        "REFER sip:a SIP/2.0\r\nCall-ID: x\r\nCSeq: 1 REFER\r\nTo: <<<\r\nVia: ;;;\r\n\r\n",
        "SIP/2.0 604 X\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\nContent-Type: multipart/mixed;"
        "boundary=q\r\n\r\n--q\r\nContent-Type\r\n\r\n--q",
    };
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(stdout);
    int saved = dup(1);
    assert_true(saved >= 0);
    assert_int_equal(dup2(fds[1], 1), 1);
    memset(&ST, 0, sizeof ST);
    for (size_t i = 0; i < sizeof msgs / sizeof msgs[0]; i++)
        (void)sipmsg_parse(sw_bytes_make(msgs[i], strlen(msgs[i])), SIPMSG_FULL, &M, &ST);
    (void)sipmsg_parse(sw_bytes_make("garbage\r\n\r\n", 11), SIPMSG_FULL, &M, &ST);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    close(fds[1]);
    char buf[256];
    ssize_t n = read(fds[0], buf, sizeof buf);
    close(fds[0]);
    assert_int_equal(n, 0);
    /* the messages did reach libosip2, and it refused them */
    assert_int_equal(ST.full_parse, sizeof msgs / sizeof msgs[0]);
    assert_int_equal(ST.osip_errors, sizeof msgs / sizeof msgs[0]);
    assert_int_equal(ST.invalid, 1);
}

static void test_uri_user_host(void **state)
{
    (void)state;
    static const struct {
        const char *uri, *user, *host;
    } t[] = {
        {"sip:alice@example.com:5060;transport=udp", "alice", "example.com"},
        {"sip:+1-555-0100;npdi@gw.example;user=phone", "+1-555-0100", "gw.example"},
        {"sips:bob:secret@h", "bob", "h"},
        {"tel:+15550100;phone-context=x", "+15550100", ""},
        {"sip:[2001:db8::1]:5060", "", "2001:db8::1"},
        {"sip:u@[2001:db8::1]", "u", "2001:db8::1"},
        {"sip:example.com", "", "example.com"},
        {"sip:al%20ice@h", "al%20ice", "h"},
        {"<sip:x@y>", "x", "y"},
        {" <sip:x@y>;tag=1", "x", "y"},
        {"SIP:Carol@Chicago.example.com", "Carol", "Chicago.example.com"},
        {"sip:c@h?Replaces=a@b", "c", "h"},
        {"sip:h?Replaces=a@b", "", "h"},
        {"sip:[::1", "", "::1"},
        {"sip:", "", ""},
        {"", "", ""},
        {"sip:@h", "", "h"},
        {"alice@example.com", "alice", "example.com"},
    };
    char user[64], host[64];
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        sipmsg_uri_user_host(t[i].uri, user, sizeof user, host, sizeof host);
        if (strcmp(user, t[i].user) != 0 || strcmp(host, t[i].host) != 0)
            fail_msg("'%s' -> '%s' / '%s'", t[i].uri, user, host);
    }
    /* small buffers cut, always NUL-terminated */
    sipmsg_uri_user_host("sip:alice@example.com", user, 4, host, 5);
    assert_string_equal(user, "ali");
    assert_string_equal(host, "exam");
    sipmsg_uri_user_host(NULL, user, sizeof user, host, sizeof host);
    assert_string_equal(user, "");
}

static void test_counters(void **state)
{
    (void)state;
    struct sipmsg_stats st = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    struct sw_counters c;
    c.n = 0;
    c.group = NULL;
    sipmsg_counters(&st, &c);
    static const char *const names[] = {
        "sip_messages",    "sip_requests",   "sip_responses",
        "sip_fast_path",   "sip_full_parse", "sip_parse_errors",
        "sip_osip_errors", "sip_nul_bytes",  "sip_truncated_fields", "sip_header_flood",
    };
    assert_int_equal(c.n, 10);
    for (size_t i = 0; i < c.n; i++) {
        assert_string_equal(c.v[i].name, names[i]);
        assert_int_equal(c.v[i].value, i + 1);
    }
}


/* Zeroes every string field's bytes after its first NUL. */
static void normalize(struct sip_msg *m)
{
#define Z(f) \
    { \
        size_t k = strnlen(m->f, sizeof m->f); \
        if (k < sizeof m->f) \
            memset(m->f + k, 0, sizeof m->f - k); \
    }
    Z(method) Z(reason) Z(request_uri) Z(call_id) Z(cseq_method) Z(branch) Z(from) Z(to)
    Z(from_uri) Z(to_uri) Z(from_tag) Z(to_tag) Z(user_agent) Z(server) Z(warning) Z(refer_to)
    Z(referred_by) Z(event) Z(subscription_state) Z(sipfrag_reason)
#undef Z
}

/* One datagram, parsed directly and through pack/unpack (the read-ahead
 * thread's path): both sip_msgs start as the same garbage, so any field
 * the unpacking leaves alone (one missing from sipmsg.c's lists) shows. */
static void pack_check(const char *name, const uint8_t *text, size_t n, size_t max_msg,
                       unsigned flags)
{
    static struct sip_msg a, b, scratch;
    static uint8_t blob[SIPMSG_PACK_MAX];
    struct sipmsg_stats sa, sb;
    memset(&sa, 0, sizeof sa);
    memset(&sb, 0, sizeof sb);
    memset(&a, 0xA5, sizeof a);
    memset(&b, 0xA5, sizeof b);
    memset(&scratch, 0x5A, sizeof scratch);
    struct sw_bytes dg = sw_bytes_make(text, n);
    size_t la = 0, lb = 0;
    unsigned na = 0, nb = 0;
    enum sipmsg_result ra = sipmsg_parse_datagram(dg, max_msg, flags, &a, &sa, &la, &na), rb;
    size_t k = sipmsg_pack_datagram(dg, max_msg, flags, &scratch, blob, sizeof blob);
    assert_true(k > 0 && k <= sizeof blob);
    struct sw_bytes bl = sw_bytes_make(blob, k);
    /* another datagram, max_msg or flags: not this parse */
    assert_false(sipmsg_unpack_datagram(bl, sw_bytes_make(text, n - 1), max_msg, flags, &b, &sb,
                                        &lb, &nb, &rb));
    assert_false(sipmsg_unpack_datagram(bl, sw_bytes_make(text + 1, n - 1), max_msg, flags, &b,
                                        &sb, &lb, &nb, &rb));
    assert_false(sipmsg_unpack_datagram(bl, dg, max_msg + 1, flags, &b, &sb, &lb, &nb, &rb));
    assert_false(sipmsg_unpack_datagram(bl, dg, max_msg, flags ^ SIPMSG_FULL, &b, &sb, &lb, &nb,
                                        &rb));
    assert_false(sipmsg_unpack_datagram(sw_bytes_make(blob, k - 1), dg, max_msg, flags, &b, &sb,
                                        &lb, &nb, &rb));
    struct sip_msg untouched;
    memset(&untouched, 0xA5, sizeof untouched);
    if (memcmp(&b, &untouched, sizeof b) != 0 || sb.messages != 0)
        fail_msg("%s: a refused unpacking wrote", name);
    assert_true(sipmsg_unpack_datagram(bl, dg, max_msg, flags, &b, &sb, &lb, &nb, &rb));
    assert_int_equal(ra, rb);
    assert_int_equal(la, lb);
    assert_int_equal(na, nb);
    if (memcmp(&sa, &sb, sizeof sa) != 0)
        fail_msg("%s (max %zu, flags %u): counts differ", name, max_msg, flags);
    /* "bytes after the NUL are unspecified" (sipmsg.h): a Call-ID with a NUL
     * in it, say, is copied whole and cut at the NUL */
    normalize(&a);
    normalize(&b);
    if (memcmp(&a, &b, sizeof a) != 0) {
        const uint8_t *x = (const uint8_t *)&a, *y = (const uint8_t *)&b;
        size_t i = 0;
        while (x[i] == y[i])
            i++;
        fail_msg("%s (max %zu, flags %u): sip_msg differs at byte %zu", name, max_msg, flags, i);
    }
}

static void pack_all_ways(const char *name, const uint8_t *text, size_t n)
{
    const unsigned flags[] = {0, SIPMSG_LAZY, SIPMSG_FULL, SIPMSG_FULL | SIPMSG_LAZY};
    for (size_t f = 0; f < sizeof flags / sizeof flags[0]; f++) {
        pack_check(name, text, n, n, flags[f]);
        pack_check(name, text, n, n + 100, flags[f]);
        if (n > 40)
            pack_check(name, text, n, 40, flags[f]); /* a message cut by max_msg */
    }
}

static void pack_corpus_file(const char *name, const uint8_t *p, size_t n, void *ctx)
{
    (void)ctx;
    if (n > 1)
        pack_all_ways(name, p, n);
}

/* pack + unpack = parse, on every sample and the fuzz corpus (messages
 * libosip2 refuses, cut bodies, floods, NULs, folded and compact headers) */
static void test_pack_is_parse(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++)
        pack_all_ways(samples[i].name, (const uint8_t *)samples[i].text, samples[i].len);
    unsigned files = corpus_each("sipmsg", pack_corpus_file, NULL);
    assert_true(files >= 10);
    /* a scratch too small packs nothing */
    static uint8_t small[64];
    static struct sip_msg m;
    assert_int_equal(sipmsg_pack_datagram(sw_bytes_make(INVITE, sizeof INVITE - 1), 65535, 0, &m,
                                          small, sizeof small),
                     0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_invite, reset),
        cmocka_unit_test_setup(test_trying, reset),
        cmocka_unit_test_setup(test_refer, reset),
        cmocka_unit_test_setup(test_accepted, reset),
        cmocka_unit_test_setup(test_notify_active, reset),
        cmocka_unit_test_setup(test_notify_terminated, reset),
        cmocka_unit_test_setup(test_notify_multipart, reset),
        cmocka_unit_test_setup(test_multipart_scanner, reset),
        cmocka_unit_test_setup(test_osip_hazard, reset),
        cmocka_unit_test_setup(test_osip_hazard_libosip_view, reset),
        cmocka_unit_test_setup(test_sipfrag_cut_body, reset),
        cmocka_unit_test_setup(test_not_found, reset),
        cmocka_unit_test_setup(test_compact_forms, reset),
        cmocka_unit_test_setup(test_folded, reset),
        cmocka_unit_test_setup(test_callid_at, reset),
        cmocka_unit_test_setup(test_nul_in_headers, reset),
        cmocka_unit_test_setup(test_start_lines, reset),
        cmocka_unit_test_setup(test_cseq_edges, reset),
        cmocka_unit_test_setup(test_refer_to_forms, reset),
        cmocka_unit_test_setup(test_refer_sub_event_substate, reset),
        cmocka_unit_test_setup(test_via_and_tags, reset),
        cmocka_unit_test_setup(test_truncation, reset),
        cmocka_unit_test_setup(test_paths_agree, reset),
        cmocka_unit_test_setup(test_pack_is_parse, reset),
        cmocka_unit_test_setup(test_lazy, reset),
        cmocka_unit_test_setup(test_osip_uri_authority, reset),
        cmocka_unit_test_setup(test_osip_reduced, reset),
        cmocka_unit_test_setup(test_fast_path_choice, reset),
        cmocka_unit_test_setup(test_stdout_clean, reset),
        cmocka_unit_test(test_uri_user_host),
        cmocka_unit_test_setup(test_long_keys, reset),
        cmocka_unit_test_setup(test_header_flood, reset),
        cmocka_unit_test_setup(test_reason_control_bytes, reset),
        cmocka_unit_test(test_counters),
    };
    return cmocka_run_group_tests_name("sipmsg", tests, setup, NULL);
}
