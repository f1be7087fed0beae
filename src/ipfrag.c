/* ipfrag.c - STUB, replaced by the ipfrag work. */
#include "sipwatch/ipfrag.h"

#include <stdlib.h>

struct ipfrag {
    struct ipfrag_config cfg;
};

struct ipfrag *ipfrag_new(const struct ipfrag_config *cfg)
{
    struct ipfrag *f = calloc(1, sizeof *f);
    if (f != NULL)
        f->cfg = *cfg;
    return f;
}

void ipfrag_free(struct ipfrag *f)
{
    free(f);
}

enum ipfrag_result ipfrag_add(struct ipfrag *f, const struct decode_ip *ip, struct sw_bytes data,
                              sw_time now, struct sw_bytes *out)
{
    return IPFRAG_DROPPED;
}

void ipfrag_advance(struct ipfrag *f, sw_time now)
{
}

void ipfrag_finish(struct ipfrag *f)
{
}

void ipfrag_counters(const struct ipfrag *f, struct sw_counters *out)
{
}
