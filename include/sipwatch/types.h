/*
 * types.h - the shared basics every module may include: byte views, capture
 * time, addresses, the 5-tuple, transports, counters and the error buffer.
 *
 * Nothing here allocates. A `struct sw_bytes` is a borrowed view: it is valid
 * only as long as the memory it points into (see each producer's header).
 */
#ifndef SIPWATCH_TYPES_H
#define SIPWATCH_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Capture time: microseconds since the Unix epoch, from the packet header.
 * Only capture.c and main.c ever read the wall clock. */
typedef int64_t sw_time;
#define SW_TIME_NONE INT64_MIN
#define SW_USEC_PER_SEC INT64_C(1000000)
#define SW_SEC(s) ((sw_time)(s) * SW_USEC_PER_SEC)

/* Capture time as UTC calendar time and microseconds, floored so that
 * times before 1970 read forwards. False (and *tm zeroed) when gmtime_r
 * cannot represent it. */
struct tm;
bool sw_time_split(sw_time t, struct tm *tm, long *usec);

/* A borrowed byte view; never stored beyond the call that received it. */
struct sw_bytes {
    const uint8_t *p;
    size_t n;
};

static inline struct sw_bytes sw_bytes_make(const void *p, size_t n)
{
    struct sw_bytes b = { (const uint8_t *)p, n };
    return b;
}

/* An IPv4 or IPv6 address. IPv4 uses the first 4 bytes of `a`; the rest is 0
 * so that whole structs compare and hash equal with memcmp. */
struct sw_addr {
    uint8_t family; /* 4 or 6; 0 = unset */
    uint8_t a[16];
};

enum sw_transport {
    SW_TRANSPORT_UNKNOWN = 0,
    SW_TRANSPORT_UDP,
    SW_TRANSPORT_TCP,
    SW_TRANSPORT_TLS,
    SW_TRANSPORT_WS,
    SW_TRANSPORT_WSS,
    SW_TRANSPORT_SCTP,
};

/* "UDP", "TCP", "TLS", "WS", "WSS", "SCTP" or "unknown". */
const char *sw_transport_name(enum sw_transport t);

/* The addresses a SIP message travelled between (innermost headers; for HEP,
 * the addresses HEP reports). Initialise with memset 0 so padding hashes equal. */
struct sw_tuple {
    struct sw_addr src, dst;
    uint16_t sport, dport;
    uint8_t transport; /* enum sw_transport */
    uint8_t pad_[3];
};

/* Writes the textual address (inet_ntop form) into buf; returns buf.
 * An unset address gives "". */
#define SW_ADDRSTRLEN 46
char *sw_addr_str(const struct sw_addr *a, char buf[SW_ADDRSTRLEN]);

/* The reversed tuple (dst becomes src). */
struct sw_tuple sw_tuple_reverse(const struct sw_tuple *t);

/* Environment errors (open, filter, permissions, setup OOM) are described in
 * a caller-provided buffer of this size, libpcap style. */
#define SW_ERRBUF_SIZE 512

/* Named counters, appended by each module's x_counters() and shown in the
 * `stats` event in the order appended, nested by stage: the caller names the
 * stage (sw_counters_group) before a module appends its counters. Names are
 * static strings. Naming rule (docs/stats.md, checked by a test): a name
 * ending in `_held` or `_active` is a gauge (a value now), one ending in
 * `_peak` is the highest a gauge reached, every other one is a counter that
 * only grows during a run. */
#define SW_COUNTERS_MAX 200
struct sw_counter {
    const char *group; /* stage: "capture", "decode", "ipfrag", "tcp", "sip",
                        * "tracker", "output", ... */
    const char *name;
    uint64_t value;
};
struct sw_counters {
    struct sw_counter v[SW_COUNTERS_MAX];
    size_t n;
    const char *group; /* applied to what is added next */
};

static inline void sw_counters_group(struct sw_counters *c, const char *group)
{
    c->group = group;
}

static inline void sw_counters_add(struct sw_counters *c, const char *name, uint64_t value)
{
    if (c->n < SW_COUNTERS_MAX) {
        c->v[c->n].group = c->group;
        c->v[c->n].name = name;
        c->v[c->n].value = value;
        c->n++;
    }
}

/* Invariants. SW_ASSERT aborts in debug, test and fuzz builds (NDEBUG unset);
 * in release builds SW_FAILS(x) counts the failure and lets the caller
 * recover: `if (SW_FAILS(p != NULL)) return DECODE_INVALID;` */
extern uint64_t sw_assert_failures;
void sw_assert_fail(const char *expr, const char *file, int line);
#ifdef NDEBUG
#define SW_FAILS(x) (!(x) ? (sw_assert_failures++, true) : false)
#else
#define SW_FAILS(x) (!(x) ? (sw_assert_fail(#x, __FILE__, __LINE__), true) : false)
#endif
#define SW_ASSERT(x) ((void)SW_FAILS(x))

/* The seed of every hash table's hash (XXH3). main() draws it at random
 * (sw_hash_seed_init) so that keys chosen by a sender (Call-IDs, ports)
 * cannot be made to collide; nothing sipwatch writes depends on it, since
 * tables are iterated in insertion order. */
extern uint64_t sw_hash_seed;
void sw_hash_seed_init(void);

#define SW_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define SW_MIN(a, b) ((a) < (b) ? (a) : (b))
#define SW_MAX(a, b) ((a) > (b) ? (a) : (b))

#endif
