/*
 * heplisten.c - the HEP collector's sockets (see heplisten.h).
 *
 * Every socket is non-blocking and served from one poll(): a slow or hostile
 * agent can hold at most one partial record (64 KiB) and one connection slot.
 * UDP: one datagram is one record (HEP3 or HEPv2). TCP: records are cut by
 * HEP3's 16-bit total length (HEP3 rev 12 §2); bytes that do not start a HEP3
 * record end the connection, since nothing after them can be framed again.
 * Does not read the wall clock: the caller passes `now`.
 */
#include "sipwatch/heplisten.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define UDP_BURST 64                  /* datagrams read per socket per poll */
#define IDLE_EVICT SW_SEC(60)          /* a connection idle this long may be replaced */

struct conn {
    int fd;
    struct sw_addr agent;
    uint16_t port;
    uint8_t *buf;                     /* partial record, NULL when none */
    size_t n;
    sw_time last;
};

struct listener {
    int udp, tcp;
    uint16_t port;
};

struct heplisten {
    struct heplisten_config cfg;
    heplisten_record_fn *fn;
    void *ctx;
    struct listener ls[HEPLISTEN_MAX_LISTEN];
    size_t n_ls;
    struct conn *conns;               /* cfg.max_conns slots; fd -1 = free */
    size_t n_conns;
    struct pollfd *pfds;              /* 1 + 2 * n_ls + max_conns */
    uint8_t dgram[65536];
    size_t bytes_held, bytes_peak;
    uint64_t udp_datagrams, tcp_accepted, tcp_refused, tcp_not_hep, recv_errors, records;
    uint64_t clock_skew, tcp_evicted;
};

struct heplisten *heplisten_new(const struct heplisten_config *cfg, heplisten_record_fn *fn,
                                void *ctx)
{
    struct heplisten *h = calloc(1, sizeof *h);
    if (h == NULL)
        return NULL;
    h->cfg = *cfg;
    if (h->cfg.max_conns == 0)
        h->cfg.max_conns = HEPLISTEN_DEFAULT_MAX_CONNS;
    h->fn = fn;
    h->ctx = ctx;
    h->conns = calloc(h->cfg.max_conns, sizeof *h->conns);
    h->pfds = calloc(1 + 2 * HEPLISTEN_MAX_LISTEN + h->cfg.max_conns, sizeof *h->pfds);
    if (h->conns == NULL || h->pfds == NULL) {
        heplisten_free(h);
        return NULL;
    }
    for (size_t i = 0; i < h->cfg.max_conns; i++)
        h->conns[i].fd = -1;
    return h;
}

void heplisten_set_ctx(struct heplisten *h, void *ctx)
{
    h->ctx = ctx;
}

static void conn_close(struct heplisten *h, struct conn *c)
{
    if (c->fd < 0)
        return;
    close(c->fd);
    c->fd = -1;
    h->bytes_held -= c->n;
    free(c->buf);
    c->buf = NULL;
    c->n = 0;
    h->n_conns--;
}

void heplisten_free(struct heplisten *h)
{
    if (h == NULL)
        return;
    for (size_t i = 0; h->conns != NULL && i < h->cfg.max_conns; i++)
        conn_close(h, &h->conns[i]);
    for (size_t i = 0; i < h->n_ls; i++) {
        close(h->ls[i].udp);
        close(h->ls[i].tcp);
    }
    free(h->conns);
    free(h->pfds);
    free(h);
}

static void addr_of(const struct sockaddr_storage *ss, struct sw_addr *a, uint16_t *port)
{
    memset(a, 0, sizeof *a);
    *port = 0;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
        a->family = 4;
        memcpy(a->a, &s4->sin_addr, 4);
        *port = ntohs(s4->sin_port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
        static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (memcmp(&s6->sin6_addr, mapped, 12) == 0) {
            /* a dual-stack socket's IPv4 agent: report it as IPv4 */
            a->family = 4;
            memcpy(a->a, (const uint8_t *)&s6->sin6_addr + 12, 4);
        } else {
            a->family = 6;
            memcpy(a->a, &s6->sin6_addr, 16);
        }
        *port = ntohs(s6->sin6_port);
    }
}

static int nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* Splits "[ADDR]:PORT", "ADDR:PORT", ":PORT" or "PORT" into host (NULL = any) and port. */
static bool split_spec(const char *spec, char *host, size_t hostsz, char *port, size_t portsz)
{
    const char *colon;
    host[0] = '\0';
    if (spec[0] == '[') {
        const char *end = strchr(spec, ']');
        if (end == NULL || end[1] != ':' || (size_t)(end - spec - 1) >= hostsz)
            return false;
        memcpy(host, spec + 1, (size_t)(end - spec - 1));
        host[end - spec - 1] = '\0';
        colon = end + 1;
    } else {
        colon = strrchr(spec, ':');
        if (colon != NULL) {
            if (memchr(spec, ':', (size_t)(colon - spec)) != NULL)
                return false; /* a bare IPv6 address needs brackets */
            if ((size_t)(colon - spec) >= hostsz)
                return false;
            memcpy(host, spec, (size_t)(colon - spec));
            host[colon - spec] = '\0';
        }
    }
    const char *p = colon != NULL ? colon + 1 : spec;
    size_t n = strlen(p);
    if (n == 0 || n >= portsz || n > 5)
        return false;
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        v = v * 10 + (unsigned)(p[i] - '0');
    }
    if (v > 65535)
        return false;
    memcpy(port, p, n + 1);
    return true;
}

static int open_one(const struct addrinfo *ai, int type, char errbuf[SW_ERRBUF_SIZE],
                    const char *spec)
{
    int fd = socket(ai->ai_family, type | SOCK_CLOEXEC, 0);
    if (fd < 0)
        goto fail;
    int one = 1, zero = 0;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ai->ai_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero); /* also IPv4 agents */
    if (type == SOCK_DGRAM) {
        int rcvbuf = 4 << 20; /* bursts from many agents; the kernel caps it at rmem_max */
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    }
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0)
        goto fail;
    if (type == SOCK_STREAM && listen(fd, 64) != 0)
        goto fail;
    if (nonblock(fd) != 0)
        goto fail;
    return fd;
fail:
    snprintf(errbuf, SW_ERRBUF_SIZE, "--hep-listen %s (%s): %s", spec,
             type == SOCK_DGRAM ? "UDP" : "TCP", strerror(errno));
    if (fd >= 0)
        close(fd);
    return -1;
}

int heplisten_add(struct heplisten *h, const char *spec, char errbuf[SW_ERRBUF_SIZE])
{
    char host[64], port[8];
    if (h->n_ls == HEPLISTEN_MAX_LISTEN) {
        snprintf(errbuf, SW_ERRBUF_SIZE, "--hep-listen: at most %d addresses",
                 HEPLISTEN_MAX_LISTEN);
        return -1;
    }
    if (!split_spec(spec, host, sizeof host, port, sizeof port)) {
        snprintf(errbuf, SW_ERRBUF_SIZE,
                 "--hep-listen '%s': expected [ADDR]:PORT, ADDR:PORT or :PORT (PORT 0-65535)",
                 spec);
        return -1;
    }
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
    hints.ai_socktype = SOCK_DGRAM;
    hints.ai_family = host[0] == '\0' ? AF_INET6 : AF_UNSPEC;
    int gr = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
    if (gr != 0 && host[0] == '\0') {
        hints.ai_family = AF_INET; /* no IPv6 on this host */
        gr = getaddrinfo(NULL, port, &hints, &res);
    }
    if (gr != 0) {
        snprintf(errbuf, SW_ERRBUF_SIZE, "--hep-listen '%s': %s", spec, gai_strerror(gr));
        return -1;
    }
    struct listener *l = &h->ls[h->n_ls];
    l->udp = open_one(res, SOCK_DGRAM, errbuf, spec);
    l->tcp = -1;
    if (l->udp >= 0) {
        /* Port 0: TCP takes the port the system gave UDP, so both match. */
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        struct sw_addr a;
        if (getsockname(l->udp, (struct sockaddr *)&ss, &sl) == 0) {
            addr_of(&ss, &a, &l->port);
            if (ss.ss_family == AF_INET)
                ((struct sockaddr_in *)res->ai_addr)->sin_port = htons(l->port);
            else
                ((struct sockaddr_in6 *)res->ai_addr)->sin6_port = htons(l->port);
        }
        l->tcp = open_one(res, SOCK_STREAM, errbuf, spec);
    }
    freeaddrinfo(res);
    if (l->udp < 0 || l->tcp < 0) {
        if (l->udp >= 0)
            close(l->udp);
        return -1;
    }
    h->n_ls++;
    return 0;
}

uint16_t heplisten_port(const struct heplisten *h, size_t idx)
{
    return idx < h->n_ls ? h->ls[idx].port : 0;
}

static void deliver(struct heplisten *h, struct sw_bytes rec, const struct sw_addr *a, uint16_t port,
                    sw_time now)
{
    h->records++;
    if (h->fn(h->ctx, rec, a, port, now))
        h->clock_skew++;
}

static void serve_udp(struct heplisten *h, int fd, sw_time now)
{
    for (int i = 0; i < UDP_BURST; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        ssize_t n = recvfrom(fd, h->dgram, sizeof h->dgram, MSG_DONTWAIT, (struct sockaddr *)&ss,
                             &sl);
        if (n < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                h->recv_errors++;
            return;
        }
        h->udp_datagrams++;
        struct sw_addr a;
        uint16_t port;
        addr_of(&ss, &a, &port);
        deliver(h, sw_bytes_make(h->dgram, (size_t)n), &a, port, now);
    }
}

static struct conn *free_slot(struct heplisten *h, sw_time now)
{
    struct conn *idle = NULL;
    for (size_t i = 0; i < h->cfg.max_conns; i++) {
        struct conn *c = &h->conns[i];
        if (c->fd < 0)
            return c;
        if (now - c->last >= IDLE_EVICT && (idle == NULL || c->last < idle->last))
            idle = c;
    }
    if (idle != NULL) {
        h->tcp_evicted++;
        conn_close(h, idle);
    }
    return idle;
}

static void serve_accept(struct heplisten *h, int lfd, sw_time now)
{
    for (int i = 0; i < UDP_BURST; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        int fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
                errno != ECONNABORTED)
                h->recv_errors++;
            return;
        }
        struct conn *c = free_slot(h, now);
        if (c == NULL) {
            h->tcp_refused++;
            close(fd);
            continue;
        }
        c->fd = fd;
        addr_of(&ss, &c->agent, &c->port);
        c->buf = NULL;
        c->n = 0;
        c->last = now;
        h->n_conns++;
        h->tcp_accepted++;
    }
}

/* Cuts whole HEP3 records off the head of `b`: returns bytes consumed, or
 * SIZE_MAX when the head is not HEP3. */
static size_t frame_records(struct heplisten *h, struct conn *c, const uint8_t *b, size_t n,
                            sw_time now)
{
    size_t off = 0;
    while (n - off >= 4) {
        if (memcmp(b + off, "HEP3", 4) != 0)
            return SIZE_MAX;
        if (n - off < 6)
            break;
        size_t total = ((size_t)b[off + 4] << 8) | b[off + 5];
        if (total < 6)
            return SIZE_MAX;
        if (n - off < total)
            break;
        deliver(h, sw_bytes_make(b + off, total), &c->agent, c->port, now);
        off += total;
    }
    if (off < n && memcmp(b + off, "HEP3", n - off < 4 ? n - off : 4) != 0)
        return SIZE_MAX;
    return off;
}

static void serve_conn(struct heplisten *h, struct conn *c, sw_time now)
{
    /* Read straight into h->dgram after the held partial record, so a whole
     * record never needs its own allocation; only the tail is kept. */
    for (int i = 0; i < 16 && c->fd >= 0; i++) {
        if (c->n > 0)
            memcpy(h->dgram, c->buf, c->n);
        size_t want = sizeof h->dgram - c->n;
        ssize_t r = recv(c->fd, h->dgram + c->n, want, MSG_DONTWAIT);
        if (r == 0) {
            conn_close(h, c);
            return;
        }
        if (r < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                h->recv_errors++;
                conn_close(h, c);
            }
            return;
        }
        c->last = now;
        size_t n = c->n + (size_t)r;
        size_t used = frame_records(h, c, h->dgram, n, now);
        if (used == SIZE_MAX) {
            h->tcp_not_hep++;
            conn_close(h, c);
            return;
        }
        size_t rest = n - used;
        h->bytes_held -= c->n;
        if (rest == 0) {
            free(c->buf);
            c->buf = NULL;
            c->n = 0;
        } else {
            uint8_t *nb = realloc(c->buf, rest);
            if (nb == NULL) {
                h->recv_errors++;
                c->n = 0;
                conn_close(h, c);
                return;
            }
            memcpy(nb, h->dgram + used, rest);
            c->buf = nb;
            c->n = rest;
            h->bytes_held += rest;
            if (h->bytes_held > h->bytes_peak)
                h->bytes_peak = h->bytes_held;
        }
        if ((size_t)r < want)
            return; /* the socket had less than we asked for: drained */
    }
}

enum heplisten_result heplisten_poll(struct heplisten *h, int extra_fd, int timeout_ms, sw_time now,
                                     char errbuf[SW_ERRBUF_SIZE])
{
    size_t n = 0;
    h->pfds[n++] = (struct pollfd){.fd = extra_fd, .events = POLLIN};
    for (size_t i = 0; i < h->n_ls; i++) {
        h->pfds[n++] = (struct pollfd){.fd = h->ls[i].udp, .events = POLLIN};
        h->pfds[n++] = (struct pollfd){.fd = h->ls[i].tcp, .events = POLLIN};
    }
    size_t first_conn = n;
    for (size_t i = 0; i < h->cfg.max_conns; i++)
        h->pfds[n++] = (struct pollfd){.fd = h->conns[i].fd, .events = POLLIN};
    int pr = poll(h->pfds, (nfds_t)n, timeout_ms);
    if (pr < 0) {
        if (errno == EINTR)
            return HEPLISTEN_IDLE;
        snprintf(errbuf, SW_ERRBUF_SIZE, "--hep-listen: poll: %s", strerror(errno));
        return HEPLISTEN_ERROR;
    }
    if (pr == 0)
        return HEPLISTEN_IDLE;
    for (size_t i = 0; i < h->n_ls; i++) {
        if (h->pfds[1 + 2 * i].revents)
            serve_udp(h, h->ls[i].udp, now);
        if (h->pfds[2 + 2 * i].revents)
            serve_accept(h, h->ls[i].tcp, now);
    }
    for (size_t i = 0; i < h->cfg.max_conns; i++) {
        /* A slot accepted during this round has no revents yet; one closed
         * and reused shows the old revents: check the fd still matches. */
        const struct pollfd *pf = &h->pfds[first_conn + i];
        if (pf->revents && h->conns[i].fd == pf->fd && pf->fd >= 0)
            serve_conn(h, &h->conns[i], now);
    }
    if (extra_fd >= 0 && (h->pfds[0].revents & (POLLIN | POLLERR | POLLHUP)))
        return HEPLISTEN_EXTRA;
    return HEPLISTEN_BUSY;
}

void heplisten_counters(const struct heplisten *h, struct sw_counters *out)
{
    sw_counters_add(out, "listen_records", h->records);
    sw_counters_add(out, "listen_udp_datagrams", h->udp_datagrams);
    sw_counters_add(out, "listen_tcp_accepted", h->tcp_accepted);
    sw_counters_add(out, "listen_tcp_refused", h->tcp_refused);
    sw_counters_add(out, "listen_tcp_evicted", h->tcp_evicted);
    sw_counters_add(out, "listen_tcp_not_hep", h->tcp_not_hep);
    sw_counters_add(out, "listen_tcp_active", h->n_conns);
    sw_counters_add(out, "listen_tcp_bytes_held", h->bytes_held);
    sw_counters_add(out, "listen_tcp_bytes_peak", h->bytes_peak);
    sw_counters_add(out, "listen_recv_errors", h->recv_errors);
    sw_counters_add(out, "listen_clock_skew", h->clock_skew);
}
