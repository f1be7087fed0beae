/*
 * fuzz_sipmsg.c - libFuzzer target for sipmsg: the input is one framed SIP
 * message, parsed by the scanner alone, with SIPMSG_FULL (libosip2 too) and
 * with SIPMSG_LAZY. Checks: all give the same verdict and the same
 * scanner-owned fields (lazy: those it promises, all of them for a message
 * that feeds events, and the same truncation count), every string is
 * terminated inside its buffer, numbers are in range; then
 * sipmsg_uri_user_host runs on the URIs found. The input as a whole
 * datagram, parsed directly and packed then unpacked (the read-ahead
 * thread's path, sipmsg_pack_datagram), gives the same verdict, length,
 * notes, counts and fields.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sipwatch/sipmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x)) {                                                                                \
            fprintf(stderr, "fuzz_sipmsg: check failed, line %d: %s\n", __LINE__, #x);          \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define TERMINATED(m, f) CHECK(memchr((m)->f, '\0', sizeof(m)->f) != NULL)

static struct sip_msg fast, full, lazy, direct, scratch, unpacked;
static uint8_t blob[SIPMSG_PACK_MAX];

#define SAME_STR(f) CHECK(strcmp(direct.f, unpacked.f) == 0);
#define SAME_NUM(f) CHECK(direct.f == unpacked.f);

static void check_packed(struct sw_bytes raw, size_t max_msg, unsigned flags)
{
    struct sipmsg_stats s1, s2;
    memset(&s1, 0, sizeof s1);
    memset(&s2, 0, sizeof s2);
    size_t l1 = 0, l2 = 0;
    unsigned n1 = 0, n2 = 0;
    enum sipmsg_result r1 = sipmsg_parse_datagram(raw, max_msg, flags, &direct, &s1, &l1, &n1), r2;
    size_t k = sipmsg_pack_datagram(raw, max_msg, flags, &scratch, blob, sizeof blob);
    CHECK(k > 0 && k <= sizeof blob);
    CHECK(sipmsg_unpack_datagram(sw_bytes_make(blob, k), raw, max_msg, flags, &unpacked, &s2, &l2,
                                 &n2, &r2));
    CHECK(r1 == r2 && l1 == l2 && n1 == n2 && memcmp(&s1, &s2, sizeof s1) == 0);
    SAME_NUM(is_request) SAME_STR(method) SAME_NUM(status) SAME_STR(reason)
    SAME_STR(request_uri) SAME_STR(call_id) SAME_NUM(cseq) SAME_STR(cseq_method) SAME_STR(branch)
    SAME_STR(from) SAME_STR(to) SAME_STR(from_uri) SAME_STR(to_uri) SAME_STR(from_tag)
    SAME_STR(to_tag) SAME_STR(user_agent) SAME_STR(server) SAME_STR(warning) SAME_STR(refer_to)
    SAME_STR(referred_by) SAME_NUM(refer_replaces) SAME_NUM(refer_sub) SAME_STR(event)
    SAME_NUM(has_event_id) SAME_NUM(event_id) SAME_STR(subscription_state) SAME_NUM(substate)
    SAME_NUM(sub_expires) SAME_NUM(sipfrag_status) SAME_STR(sipfrag_reason)
    SAME_NUM(call_id_hash) SAME_NUM(branch_hash) SAME_NUM(from_tag_hash) SAME_NUM(to_tag_hash)
    SAME_NUM(header_lines) SAME_NUM(full_parse) SAME_NUM(truncated_fields)
}

static void check_msg(const struct sip_msg *m)
{
    TERMINATED(m, method);
    TERMINATED(m, reason);
    TERMINATED(m, request_uri);
    TERMINATED(m, call_id);
    TERMINATED(m, cseq_method);
    TERMINATED(m, branch);
    TERMINATED(m, from);
    TERMINATED(m, to);
    TERMINATED(m, from_uri);
    TERMINATED(m, to_uri);
    TERMINATED(m, from_tag);
    TERMINATED(m, to_tag);
    TERMINATED(m, user_agent);
    TERMINATED(m, server);
    TERMINATED(m, warning);
    TERMINATED(m, refer_to);
    TERMINATED(m, referred_by);
    TERMINATED(m, event);
    TERMINATED(m, subscription_state);
    TERMINATED(m, sipfrag_reason);
    CHECK(m->is_request ? m->status == 0 : (m->status >= 100 && m->status <= 699));
    CHECK(m->is_request == (m->method[0] != '\0'));
    CHECK(m->call_id[0] != '\0');
    CHECK(m->cseq <= 2147483647u);
    CHECK(m->sipfrag_status == 0 || (m->sipfrag_status >= 100 && m->sipfrag_status <= 699));
    CHECK(m->sub_expires >= -1);

    char user[SIPMSG_MAX_FIELD], host[SIPMSG_MAX_FIELD];
    sipmsg_uri_user_host(m->request_uri, user, sizeof user, host, sizeof host);
    CHECK(strlen(user) < sizeof user && strlen(host) < sizeof host);
    sipmsg_uri_user_host(m->to_uri, user, sizeof user, host, sizeof host);
    sipmsg_uri_user_host(m->refer_to, user, 8, host, 8);
    CHECK(strlen(user) < 8 && strlen(host) < 8);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int inited;
    if (!inited) {
        CHECK(sipmsg_global_init() == 0);
        inited = 1;
    }
    struct sipmsg_stats st;
    memset(&st, 0, sizeof st);
    /* an exact-size copy so ASan sees the message's real end */
    uint8_t *copy = malloc(size ? size : 1);
    CHECK(copy != NULL);
    if (size > 0)
        memcpy(copy, data, size);
    struct sw_bytes raw = sw_bytes_make(copy, size);
    enum sipmsg_result a = sipmsg_parse(raw, 0, &fast, &st);
    enum sipmsg_result b = sipmsg_parse(raw, SIPMSG_FULL, &full, &st);
    enum sipmsg_result c = sipmsg_parse(raw, SIPMSG_LAZY, &lazy, &st);
    if (size > 0) {
        check_packed(raw, size, SIPMSG_LAZY);
        check_packed(raw, size, SIPMSG_FULL);
        check_packed(raw, size > 64 ? size / 2 : size, SIPMSG_LAZY); /* cut by max_msg */
    }
    free(copy);
    CHECK(a == b && a == c);
    CHECK(st.messages == 3);
    if (a != SIPMSG_OK) {
        CHECK(st.invalid == 3);
        return 0;
    }
    /* libosip2 runs unless the header lines are a flood (sipmsg.h) */
    CHECK(full.full_parse == (full.header_lines <= SIPMSG_MAX_HEADER_LINES));
    check_msg(&fast);
    check_msg(&full);
    /* fields only the scanner fills are the same on both paths */
    CHECK(fast.is_request == full.is_request && fast.status == full.status);
    CHECK(strcmp(fast.method, full.method) == 0 && strcmp(fast.reason, full.reason) == 0);
    CHECK(strcmp(fast.request_uri, full.request_uri) == 0);
    CHECK(fast.cseq == full.cseq && strcmp(fast.cseq_method, full.cseq_method) == 0);
    CHECK(strcmp(fast.branch, full.branch) == 0 && strcmp(fast.event, full.event) == 0);
    CHECK(fast.event_id == full.event_id && fast.substate == full.substate);
    CHECK(fast.refer_sub == full.refer_sub && strcmp(fast.user_agent, full.user_agent) == 0);

    check_msg(&lazy);
    CHECK(lazy.truncated_fields == fast.truncated_fields && lazy.full_parse == fast.full_parse);
    CHECK(lazy.is_request == fast.is_request && lazy.status == fast.status);
    CHECK(strcmp(lazy.method, fast.method) == 0 && strcmp(lazy.reason, fast.reason) == 0);
    CHECK(strcmp(lazy.request_uri, fast.request_uri) == 0);
    CHECK(strcmp(lazy.call_id, fast.call_id) == 0 && lazy.cseq == fast.cseq);
    CHECK(strcmp(lazy.cseq_method, fast.cseq_method) == 0);
    CHECK(strcmp(lazy.event, fast.event) == 0 && lazy.event_id == fast.event_id);
    CHECK(lazy.has_event_id == fast.has_event_id);
    if (fast.is_request || fast.full_parse) {
        CHECK(strcmp(lazy.from, fast.from) == 0 && strcmp(lazy.to, fast.to) == 0);
        CHECK(strcmp(lazy.user_agent, fast.user_agent) == 0);
    }
    if (fast.full_parse) {
        CHECK(strcmp(lazy.branch, fast.branch) == 0 && strcmp(lazy.from_uri, fast.from_uri) == 0);
        CHECK(strcmp(lazy.to_uri, fast.to_uri) == 0 && strcmp(lazy.from_tag, fast.from_tag) == 0);
        CHECK(strcmp(lazy.to_tag, fast.to_tag) == 0 && strcmp(lazy.server, fast.server) == 0);
        CHECK(strcmp(lazy.warning, fast.warning) == 0);
        CHECK(strcmp(lazy.refer_to, fast.refer_to) == 0 && lazy.refer_sub == fast.refer_sub);
        CHECK(strcmp(lazy.referred_by, fast.referred_by) == 0);
        CHECK(lazy.refer_replaces == fast.refer_replaces && lazy.substate == fast.substate);
        CHECK(strcmp(lazy.subscription_state, fast.subscription_state) == 0);
        CHECK(lazy.sub_expires == fast.sub_expires && lazy.sipfrag_status == fast.sipfrag_status);
        CHECK(strcmp(lazy.sipfrag_reason, fast.sipfrag_reason) == 0);
    }
    return 0;
}
