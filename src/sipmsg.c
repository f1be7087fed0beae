/* sipmsg.c - STUB, replaced by the sipmsg work. */
#include "sipwatch/sipmsg.h"

#include <string.h>

int sipmsg_global_init(void)
{
    return 0;
}

void sipmsg_global_free(void)
{
}

enum sipmsg_result sipmsg_parse(struct sw_bytes raw, unsigned flags, struct sip_msg *out,
                                struct sipmsg_stats *st)
{
    memset(out, 0, sizeof *out);
    return SIPMSG_INVALID;
}

void sipmsg_uri_user_host(const char *uri, char *user, size_t user_cap, char *host,
                          size_t host_cap)
{
    user[0] = '\0';
    host[0] = '\0';
}

void sipmsg_counters(const struct sipmsg_stats *st, struct sw_counters *out)
{
}
