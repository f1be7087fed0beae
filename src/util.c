/*
 * util.c - the small shared basics declared in types.h and event.h: names of
 * transports, event types and outcomes, address formatting, assertions.
 */
#include "sipwatch/types.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "sipwatch/event.h"

uint64_t sw_assert_failures;
uint64_t sw_hash_seed = UINT64_C(0x9e3779b97f4a7c15);

void sw_hash_seed_init(void)
{
    uint64_t seed;
    if (getrandom(&seed, sizeof seed, GRND_NONBLOCK) == (ssize_t)sizeof seed)
        sw_hash_seed = seed;
}

void sw_assert_fail(const char *expr, const char *file, int line)
{
    fprintf(stderr, "sipwatch: internal error: %s (%s:%d)\n", expr, file, line);
    abort();
}

const char *sw_transport_name(enum sw_transport t)
{
    switch (t) {
    case SW_TRANSPORT_UDP: return "UDP";
    case SW_TRANSPORT_TCP: return "TCP";
    case SW_TRANSPORT_TLS: return "TLS";
    case SW_TRANSPORT_WS: return "WS";
    case SW_TRANSPORT_WSS: return "WSS";
    case SW_TRANSPORT_SCTP: return "SCTP";
    case SW_TRANSPORT_UNKNOWN: break;
    }
    return "unknown";
}

/* One byte as decimal without leading zeros (inet_ntop's "%u"); returns
 * the position after it. */
static char *put_octet(char *p, unsigned v)
{
    if (v >= 100) {
        *p++ = (char)('0' + v / 100);
        v %= 100;
        *p++ = (char)('0' + v / 10);
    } else if (v >= 10) {
        *p++ = (char)('0' + v / 10);
    }
    *p++ = (char)('0' + v % 10);
    return p;
}

char *sw_addr_str(const struct sw_addr *a, char buf[SW_ADDRSTRLEN])
{
    buf[0] = '\0';
    if (a->family == 4) {
        /* what inet_ntop writes ("%u.%u.%u.%u"), without its sprintf: the
         * reporter formats an address per ladder message */
        char *p = buf;
        for (int i = 0; i < 4; i++) {
            if (i > 0)
                *p++ = '.';
            p = put_octet(p, a->a[i]);
        }
        *p = '\0';
    } else if (a->family == 6) {
        inet_ntop(AF_INET6, a->a, buf, SW_ADDRSTRLEN);
    }
    return buf;
}

struct sw_tuple sw_tuple_reverse(const struct sw_tuple *t)
{
    struct sw_tuple r;
    memset(&r, 0, sizeof r);
    r.src = t->dst;
    r.dst = t->src;
    r.sport = t->dport;
    r.dport = t->sport;
    r.transport = t->transport;
    return r;
}

static const char *const event_names[SW_EVENT__COUNT] = {
    [SW_EVENT_TRANSFER] = "transfer",
    [SW_EVENT_USER_NOT_FOUND] = "user_not_found",
    [SW_EVENT_SCAN] = "scan",
    [SW_EVENT_STATS] = "stats",
};

const char *sw_event_type_name(enum sw_event_type t)
{
    return (unsigned)t < SW_EVENT__COUNT ? event_names[t] : "unknown";
}

bool sw_event_mask_parse(const char *list, unsigned *mask)
{
    unsigned m = 0;
    const char *p = list;
    while (*p != '\0') {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        bool found = false;
        for (unsigned i = 0; i < SW_EVENT__COUNT; i++) {
            if (strlen(event_names[i]) == n && strncmp(event_names[i], p, n) == 0) {
                m |= 1u << i;
                found = true;
            }
        }
        if (!found && n > 0)
            return false;
        p += n;
        if (*p == ',')
            p++;
    }
    if (m == 0)
        return false;
    *mask = m;
    return true;
}

static const char *const outcome_names[SW_OUTCOME__COUNT] = {
    [SW_OUTCOME_COMPLETED] = "completed",
    [SW_OUTCOME_FAILED] = "failed",
    [SW_OUTCOME_NO_NOTIFY] = "no_notify",
    [SW_OUTCOME_NOTIFY_INCOMPLETE] = "notify_incomplete",
    [SW_OUTCOME_REJECTED] = "rejected",
    [SW_OUTCOME_NO_RESPONSE] = "no_response",
    [SW_OUTCOME_NOTIFY_NOT_REQUESTED] = "notify_not_requested",
    [SW_OUTCOME_EVICTED] = "evicted",
};

const char *sw_outcome_name(enum sw_transfer_outcome o)
{
    return (unsigned)o < SW_OUTCOME__COUNT ? outcome_names[o] : "unknown";
}

bool sw_time_split(sw_time t, struct tm *tm, long *usec)
{
    int64_t sec = t / SW_USEC_PER_SEC, us = t % SW_USEC_PER_SEC;
    if (us < 0) {
        us += SW_USEC_PER_SEC;
        sec -= 1;
    }
    time_t tt = (time_t)sec;
    *usec = (long)us;
    if (gmtime_r(&tt, tm) == NULL) {
        memset(tm, 0, sizeof *tm);
        return false;
    }
    return true;
}
