/*
 * fuzz_tcpstream.c - libFuzzer target for tcpstream. The input is a sequence
 * of segments: 1 byte (bit 0 direction, bit 1 SYN, bit 2 FIN, bit 3 RST,
 * bits 4-5 which of 4 client ports, bit 6 a 20 s pause, bit 7 advance the
 * clock), 2 bytes signed sequence delta from the previous segment of that
 * direction, 1 byte payload length, then the payload. Small caps (3
 * connections, 1 KiB out of order per direction) make eviction, gaps and
 * timeouts frequent. The sink keeps heap state per direction in the app slot
 * and touches it on every call, so ASan sees a CLOSE that comes twice, too
 * early, or never (a leak).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sipwatch/decode.h"
#include "sipwatch/tcpstream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct app {
    uint64_t bytes;
    uint16_t sport, dport;
};

struct fz {
    long open;
};

static void sink(void *ctx, const struct sw_tuple *t, struct sw_bytes d, unsigned flags, sw_time ts,
                 void **slot)
{
    (void)ts;
    struct fz *f = ctx;
    struct app *a = *slot;
    if (flags & TCPSTREAM_CLOSE) {
        if (d.n != 0 || a == NULL || a->sport != t->sport || a->dport != t->dport)
            abort();
        free(a);
        *slot = NULL;
        f->open--;
        return;
    }
    if (d.n == 0 || d.p == NULL)
        abort();
    if (a == NULL) {
        a = calloc(1, sizeof *a);
        if (a == NULL)
            return;
        a->sport = t->sport;
        a->dport = t->dport;
        *slot = a;
        f->open++;
    }
    if (a->sport != t->sport || a->dport != t->dport)
        abort();
    volatile uint8_t first = d.p[0], last = d.p[d.n - 1]; /* ASan: the view is readable */
    (void)first;
    (void)last;
    a->bytes += d.n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz f = {0};
    struct tcpstream_config cfg = {3, 1024, 2048, SW_SEC(10), NULL};
    struct tcpstream *s = tcpstream_new(&cfg, sink, &f);
    if (s == NULL)
        return 0;
    uint32_t seq[4][2] = {{0}};
    sw_time now = SW_SEC(1000);
    size_t i = 0;
    while (i + 4 <= size) {
        uint8_t ctl = data[i];
        int16_t delta = (int16_t)(uint16_t)((data[i + 1] << 8) | data[i + 2]);
        size_t len = data[i + 3];
        i += 4;
        if (len > size - i)
            len = size - i;
        int dir = ctl & 1, port = (ctl >> 4) & 3;
        uint8_t flags = DECODE_TCP_ACK;
        if (ctl & 0x02)
            flags |= DECODE_TCP_SYN;
        if (ctl & 0x04)
            flags |= DECODE_TCP_FIN;
        if (ctl & 0x08)
            flags |= DECODE_TCP_RST;
        if (ctl & 0x40)
            now += SW_SEC(20);
        else
            now += 1000;
        struct sw_tuple t;
        memset(&t, 0, sizeof t);
        t.src.family = t.dst.family = 4;
        t.src.a[3] = (uint8_t)(dir ? 2 : 1);
        t.dst.a[3] = (uint8_t)(dir ? 1 : 2);
        t.sport = (uint16_t)(dir ? 5060 : 40000 + port);
        t.dport = (uint16_t)(dir ? 40000 + port : 5060);
        t.transport = SW_TRANSPORT_TCP;
        uint32_t sq = seq[port][dir] + (uint32_t)(int32_t)delta;
        /* an exact-size copy, so ASan sees the payload's real end */
        uint8_t *p = malloc(len ? len : 1);
        if (p == NULL)
            break;
        memcpy(p, data + i, len);
        tcpstream_segment(s, &t, sq, flags, sw_bytes_make(p, len), now);
        free(p);
        seq[port][dir] = sq + (uint32_t)len;
        i += len;
        if (ctl & 0x80)
            tcpstream_advance(s, now);
    }
    if (size > 0 && (data[0] & 0x80))
        tcpstream_finish(s, now);
    tcpstream_free(s);
    if (f.open != 0)
        abort(); /* a direction with app state never got its CLOSE */
    return 0;
}
