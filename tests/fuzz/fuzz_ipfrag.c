/*
 * fuzz_ipfrag.c - libFuzzer target for ipfrag. The input is a sequence of
 * fragment records: flags(1) offset(2, in 8-byte units) length(2, capped by
 * what is left) id(1), then `length` data bytes. Flag bits: 0x01 more,
 * 0x02 IPv6, 0x04 a second source address, 0x08 take the data from the last
 * completed datagram (the pipeline's nested case), 0x10 advance time by 10 s
 * first; all of 0xe0 also runs ipfrag_advance. Small caps make evictions and
 * drops happen. Checks: completed datagrams are readable to their end and at
 * most 65535 bytes; finish releases every byte accounted.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sipwatch/ipfrag.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ipfrag_config cfg = {8, 64 << 10, SW_SEC(30), NULL};
    struct ipfrag *f = ipfrag_new(&cfg);
    if (f == NULL)
        return 0;
    sw_time now = 0;
    struct sw_bytes last = {NULL, 0};
    uint8_t copy[65536];
    size_t i = 0;
    while (size - i >= 6) {
        uint8_t flags = data[i];
        uint32_t off = (uint32_t)((data[i + 1] << 8) | data[i + 2]) * 8;
        size_t len = (size_t)((data[i + 3] << 8) | data[i + 4]);
        uint8_t id = data[i + 5];
        i += 6;
        len = len > size - i ? size - i : len;
        struct sw_bytes frag = sw_bytes_make(data + i, len);
        i += len;
        if ((flags & 0x08) && last.p != NULL) {
            /* bytes from ipfrag's own output, as with a reassembled tunnel */
            size_t n = len < last.n ? len : last.n;
            frag = sw_bytes_make(last.p, n);
        }
        if (flags & 0x10)
            now += SW_SEC(10);
        struct decode_ip ip;
        memset(&ip, 0, sizeof ip);
        ip.src.family = ip.dst.family = (flags & 0x02) ? 6 : 4;
        ip.src.a[0] = (flags & 0x04) ? 2 : 1;
        ip.dst.a[0] = 3;
        ip.proto = 17;
        ip.id = id;
        ip.offset = off;
        ip.more = (flags & 0x01) != 0;
        struct sw_bytes out;
        enum ipfrag_result r = ipfrag_add(f, &ip, frag, now, &out);
        last.p = NULL;
        if (r == IPFRAG_COMPLETE) {
            if (out.n > 65535)
                __builtin_trap();
            memcpy(copy, out.p, out.n); /* ASan checks the whole view */
            last = out;
        }
        if ((flags & 0xe0) == 0xe0)
            ipfrag_advance(f, now);
    }
    struct sw_counters c;
    c.n = 0;
    c.group = NULL;
    ipfrag_counters(f, &c);
    ipfrag_finish(f);
    c.n = 0;
    c.group = NULL;
    ipfrag_counters(f, &c);
    for (size_t k = 0; k < c.n; k++) /* everything is released at the end */
        if ((strcmp(c.v[k].name, "ip_frag_bytes_held") == 0 ||
             strcmp(c.v[k].name, "ip_frag_datagrams_held") == 0) &&
            c.v[k].value != 0)
            __builtin_trap();
    ipfrag_free(f);
    return 0;
}
