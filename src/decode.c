/* decode.c - STUB, replaced by the decode work. */
#include "sipwatch/decode.h"

#include <stdlib.h>

struct decode {
    struct decode_config cfg;
};

struct decode *decode_new(const struct decode_config *cfg)
{
    struct decode *d = calloc(1, sizeof *d);
    if (d != NULL)
        d->cfg = *cfg;
    return d;
}

void decode_free(struct decode *d)
{
    free(d);
}

bool decode_linktype_supported(int linktype)
{
    return linktype == 1;
}

enum decode_result decode_frame(struct decode *d, int linktype, struct sw_bytes frame, sw_time ts,
                                struct decode_packet *pkt)
{
    return DECODE_SKIP;
}

enum decode_result decode_ip_payload(struct decode *d, const struct decode_ip *ip,
                                     struct sw_bytes payload, sw_time ts, struct decode_packet *pkt)
{
    return DECODE_SKIP;
}

int decode_hep_frame(struct sw_bytes head, size_t *len)
{
    return -1;
}

enum decode_result decode_hep(struct decode *d, struct sw_bytes rec, sw_time ts,
                              struct decode_packet *pkt)
{
    return DECODE_SKIP;
}

void decode_counters(const struct decode *d, struct sw_counters *out)
{
}
