/*
 * fuzz_decode.c - libFuzzer target for decode (+ ipfrag on the way): the
 * first input byte picks a supported link type, the rest is one frame.
 * Fragments go to an ipfrag shared across inputs (so datagrams can complete
 * across runs) and completed datagrams continue through decode_ip_payload,
 * as in the pipeline. The whole input is also decoded as a HEP record, and
 * framed as a HEP stream head.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "sipwatch/decode.h"
#include "sipwatch/ipfrag.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const int linktypes[] = {0, 1, 9, 12, 14, 101, 108, 113, 228, 229, 276};

static struct decode *dec;
static struct ipfrag *frag;
static sw_time now;

static void check(enum decode_result r, const struct decode_packet *p)
{
    /* Touch every byte handed on, so ASan sees any view past its buffer. */
    volatile uint8_t sink = 0;
    if (r == DECODE_OK || r == DECODE_FRAGMENT)
        for (size_t i = 0; i < p->payload.n; i++)
            sink ^= p->payload.p[i];
    if (r == DECODE_OK && !p->from_hep && p->tuple.transport != SW_TRANSPORT_UDP &&
        p->tuple.transport != SW_TRANSPORT_TCP)
        __builtin_trap();
    (void)sink;
}

static void handle(enum decode_result r, struct decode_packet *p, unsigned depth)
{
    check(r, p);
    if (r != DECODE_FRAGMENT || depth >= 4)
        return;
    struct sw_bytes out;
    if (ipfrag_add(frag, &p->frag, p->payload, now, &out) != IPFRAG_COMPLETE)
        return;
    struct decode_packet inner;
    memset(&inner, 0, sizeof inner);
    enum decode_result r2 = decode_ip_payload(dec, &p->frag, out, now, &inner);
    handle(r2, &inner, depth + 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (dec == NULL) {
        struct decode_config dc = {DECODE_DEFAULT_HEP_PORT, DECODE_DEFAULT_VXLAN_PORT,
                                   DECODE_DEFAULT_GTPU_PORT, 8};
        struct ipfrag_config fc = {64, 1 << 20, SW_SEC(30), NULL};
        dec = decode_new(&dc);
        frag = ipfrag_new(&fc);
        if (dec == NULL || frag == NULL)
            __builtin_trap();
    }
    now += SW_SEC(1);
    ipfrag_advance(frag, now);
    if (size == 0)
        return 0;
    int lt = linktypes[data[0] % (sizeof linktypes / sizeof linktypes[0])];
    if (!decode_linktype_supported(lt))
        __builtin_trap();
    struct decode_packet pkt;
    memset(&pkt, 0, sizeof pkt);
    enum decode_result r = decode_frame(dec, lt, sw_bytes_make(data + 1, size - 1), now, &pkt);
    handle(r, &pkt, 0);

    memset(&pkt, 0, sizeof pkt);
    r = decode_hep(dec, sw_bytes_make(data + 1, size - 1), now, &pkt);
    check(r, &pkt);
    size_t len = 0;
    if (decode_hep_frame(sw_bytes_make(data + 1, size - 1), &len) == 1 && len > size - 1)
        __builtin_trap();
    return 0;
}
