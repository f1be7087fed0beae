/*
 * heplisten.h - the HEP collector: receives HEP v2/v3 records from capture
 * agents (Kamailio/OpenSIPS siptrace, heplify, captagent, FreeSWITCH,
 * Asterisk) on plain UDP and TCP sockets, no libpcap and no privileges.
 *
 * Owns: the listening sockets (one UDP and one TCP per --hep-listen address),
 * the accepted TCP connections (at most max_conns) and each one's partial
 * record (at most HEPLISTEN_MAX_RECORD bytes: HEP3's length is 16 bits).
 * Hands every whole record, with the agent's address, to a callback; does
 * not decode records (decode_hep does, through pipeline_hep_record).
 * HEP over TCP is framed by HEP3's length field: a connection whose bytes are
 * not HEP3 (HEPv2 cannot be framed on a stream) is closed and counted.
 */
#ifndef SIPWATCH_HEPLISTEN_H
#define SIPWATCH_HEPLISTEN_H

#include "sipwatch/types.h"

#define HEPLISTEN_MAX_RECORD ((size_t)65535)  /* HEP3 total length is 16 bits */
#define HEPLISTEN_DEFAULT_MAX_CONNS 256
#define HEPLISTEN_MAX_LISTEN 16               /* --hep-listen addresses */

struct heplisten_config {
    size_t max_conns;        /* TCP connections at once; default 256. At the cap a
                              * new one replaces the longest idle (over 60 s),
                              * else it is refused (counted) */
};

/* One whole record (borrowed for the call) from agent:port, received at wall
 * time `now`. Returns true when the record's clock was off and its arrival
 * time was used instead (counted as listen_clock_skew). */
typedef bool heplisten_record_fn(void *ctx, struct sw_bytes rec, const struct sw_addr *agent,
                                 uint16_t port, sw_time now);

struct heplisten;

/* Returns a collector with no sockets yet (owned; heplisten_free), or NULL. */
struct heplisten *heplisten_new(const struct heplisten_config *cfg, heplisten_record_fn *fn,
                                void *ctx);
void heplisten_free(struct heplisten *h);

/* Sets the callback's ctx (when it exists only after the collector). */
void heplisten_set_ctx(struct heplisten *h, void *ctx);

/* Opens a UDP and a TCP socket on `spec` (borrowed): "[ADDR]:PORT", "ADDR:PORT"
 * or ":PORT"/"PORT" (all addresses, IPv6 and IPv4). Returns 0, or -1 with
 * errbuf filled (bad address, port in use, no permission). */
int heplisten_add(struct heplisten *h, const char *spec, char errbuf[SW_ERRBUF_SIZE]);

/* The local port of the idx-th --hep-listen address (0 when absent): tests
 * listen on port 0 and ask which one the system chose. */
uint16_t heplisten_port(const struct heplisten *h, size_t idx);

enum heplisten_result {
    HEPLISTEN_IDLE = 0,      /* nothing arrived within the timeout */
    HEPLISTEN_BUSY,          /* HEP sockets were served */
    HEPLISTEN_EXTRA,         /* extra_fd is readable (maybe HEP sockets too) */
    HEPLISTEN_ERROR,         /* poll failed (not EINTR): errbuf says why */
};

/* Waits up to timeout_ms for HEP traffic or for extra_fd (e.g. the live pcap
 * fd; -1 none), serves every ready HEP socket (records go to the callback) and
 * says what happened. `now` is the wall time, for connection idleness and the
 * callback. A signal interrupts the wait (HEPLISTEN_IDLE). */
enum heplisten_result heplisten_poll(struct heplisten *h, int extra_fd, int timeout_ms, sw_time now,
                                     char errbuf[SW_ERRBUF_SIZE]);

/* Counters, in the caller's current group: listen_udp_datagrams,
 * listen_tcp_accepted, listen_tcp_refused, listen_tcp_not_hep,
 * listen_tcp_active, listen_tcp_bytes_held/peak, listen_recv_errors,
 * listen_records, listen_clock_skew. */
void heplisten_counters(const struct heplisten *h, struct sw_counters *out);

#endif
