/*
 * capture.c - frames in: a live interface (libpcap, non-blocking, polled so
 * that timers can run while the link is quiet) or capture files (pcap and
 * pcapng, "-" = stdin) read in the order given as one timeline.
 *
 * Every input is opened (and its filter compiled) before the first frame is
 * handed out, so a bad file or filter fails the run before any output. A
 * file cut mid-record is not an error: what was readable is used and a
 * warning names the file. Timestamps are asked for in microseconds whatever
 * the file's precision.
 *
 * Signals: stdin is read through a stdio cookie whose read() is retried on
 * EINTR (libpcap's fread cannot resume a record once a read failed), unless
 * capture_break() was called (SIGTERM: stop reading now).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* fopencookie */
#endif
#include "sipwatch/capture.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <pcap/pcap.h>

struct capture_input {
    pcap_t *h;
    const char *name;
    int linktype;
    uint64_t records;          /* files: records read so far (pcap_cnt) */
    struct bpf_program prog;   /* files: the filter, applied per record */
    bool has_prog;
    uint64_t size; /* regular files: bytes on disk (progress); 0 otherwise */
    char *stdio_buf;       /* the FILE's buffer (setvbuf), freed after pcap_close */
};

struct capture {
    struct capture_config cfg;
    struct capture_input *in;
    size_t n_in, cur;
    bool live;
    bool stream;                  /* an input is stdin and not a regular file */
    volatile sig_atomic_t broken; /* capture_break() was called */
    uint64_t frames, bytes, truncated_files, bad_timestamps;
};

static int apply_filter(struct capture *c, struct capture_input *in, char errbuf[SW_ERRBUF_SIZE])
{
    if (c->cfg.bpf == NULL)
        return 0;
    struct bpf_program prog;
    if (pcap_compile(in->h, &prog, c->cfg.bpf, 1, PCAP_NETMASK_UNKNOWN) != 0) {
        snprintf(errbuf, SW_ERRBUF_SIZE, "bad filter '%s': %s", c->cfg.bpf, pcap_geterr(in->h));
        return -1;
    }
    if (!c->live) {
        /* Files: applied to each record here rather than inside libpcap, so
         * that records the filter drops still count towards the frame
         * numbers (pcap_cnt) that events give. */
        in->prog = prog;
        in->has_prog = true;
        return 0;
    }
    int rc = pcap_setfilter(in->h, &prog);
    pcap_freecode(&prog);
    if (rc != 0) {
        snprintf(errbuf, SW_ERRBUF_SIZE, "cannot set filter '%s': %s", c->cfg.bpf, pcap_geterr(in->h));
        return -1;
    }
    return 0;
}

static int check_linktype(struct capture *c, struct capture_input *in, char errbuf[SW_ERRBUF_SIZE])
{
    in->linktype = pcap_datalink(in->h);
    if (c->cfg.linktype_ok != NULL && !c->cfg.linktype_ok(in->linktype)) {
        const char *name = pcap_datalink_val_to_name(in->linktype);
        char num[32];
        snprintf(num, sizeof num, "%d", in->linktype);
        snprintf(errbuf, SW_ERRBUF_SIZE, "%s: unsupported link type %s", in->name, name ? name : num);
        return -1;
    }
    return 0;
}

/* read(2) on stdin for stdio, retried when a signal interrupts it. */
#define CAPTURE_FILE_BUFFER (128u * 1024u)

static ssize_t stdin_read(void *cookie, char *buf, size_t size)
{
    struct capture *c = cookie;
    for (;;) {
        ssize_t n = read(STDIN_FILENO, buf, size);
        if (n >= 0 || errno != EINTR || c->broken)
            return n;
    }
}

static FILE *stdin_stream(struct capture *c)
{
    cookie_io_functions_t io = { .read = stdin_read };
    return fopencookie(c, "rb", io);
}

static int open_file(struct capture *c, struct capture_input *in, const char *path,
                     char errbuf[SW_ERRBUF_SIZE])
{
    char perr[PCAP_ERRBUF_SIZE] = "";
    in->name = path;
    if (strcmp(path, "-") == 0) {
        in->name = "stdin";
        struct stat st;
        c->stream = fstat(STDIN_FILENO, &st) != 0 || !S_ISREG(st.st_mode);
        FILE *f = stdin_stream(c);
        if (f == NULL) {
            snprintf(errbuf, SW_ERRBUF_SIZE, "stdin: %s", strerror(errno));
            return -1;
        }
        in->h = pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_MICRO, perr);
        if (in->h == NULL) {
            fclose(f);
            snprintf(errbuf, SW_ERRBUF_SIZE, "stdin: not a pcap or pcapng capture (%s)", perr);
            return -1;
        }
        return 0;
    }
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(errbuf, SW_ERRBUF_SIZE, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (S_ISDIR(st.st_mode)) {
        snprintf(errbuf, SW_ERRBUF_SIZE, "%s: is a directory, not a capture file", path);
        return -1;
    }
    if (st.st_size == 0) {
        snprintf(errbuf, SW_ERRBUF_SIZE, "%s: empty file, not a capture", path);
        return -1;
    }
    if (S_ISREG(st.st_mode))
        in->size = (uint64_t)st.st_size;
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(errbuf, SW_ERRBUF_SIZE, "%s: %s", path, strerror(errno));
        return -1;
    }
    /* libpcap reads a record with two freads: through stdio's default 4 KiB
     * buffer that is a read(2) every few records; 128 KiB makes it one per
     * ~200. glibc ignores the size unless it is given the buffer: ours,
     * freed after pcap_close() (fclose) in capture_close(); the first 16
     * files get one (all inputs are open at once). */
    if (c->n_in < 16 && (in->stdio_buf = malloc(CAPTURE_FILE_BUFFER)) != NULL)
        (void)setvbuf(f, in->stdio_buf, _IOFBF, CAPTURE_FILE_BUFFER);
    in->h = pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_MICRO, perr);
    if (in->h == NULL) {
        fclose(f);
        if (strstr(perr, "unknown file format") != NULL || strstr(perr, "truncated dump file") != NULL)
            snprintf(errbuf, SW_ERRBUF_SIZE, "%s: not a pcap or pcapng capture file (%s)", path, perr);
        else
            snprintf(errbuf, SW_ERRBUF_SIZE, "%s: %s", path, perr);
        return -1;
    }
    return 0;
}

static int open_live(struct capture *c, struct capture_input *in, char errbuf[SW_ERRBUF_SIZE])
{
    char perr[PCAP_ERRBUF_SIZE] = "";
    in->name = c->cfg.iface;
    in->h = pcap_create(c->cfg.iface, perr);
    if (in->h == NULL) {
        snprintf(errbuf, SW_ERRBUF_SIZE, "%s: %s", c->cfg.iface, perr);
        return -1;
    }
    pcap_set_snaplen(in->h, c->cfg.snaplen > 0 ? c->cfg.snaplen : 262144);
    pcap_set_promisc(in->h, c->cfg.promisc ? 1 : 0);
    pcap_set_timeout(in->h, c->cfg.timeout_ms > 0 ? c->cfg.timeout_ms : 250);
    pcap_set_buffer_size(in->h, (c->cfg.buffer_mb > 0 ? c->cfg.buffer_mb : 32) << 20);
    pcap_set_tstamp_precision(in->h, PCAP_TSTAMP_PRECISION_MICRO);
    int rc = pcap_activate(in->h);
    if (rc < 0) {
        const char *why = pcap_geterr(in->h);
        if (rc == PCAP_ERROR_NO_SUCH_DEVICE)
            snprintf(errbuf, SW_ERRBUF_SIZE, "%s: no such interface (%s)", c->cfg.iface, why);
        else if (rc == PCAP_ERROR_PERM_DENIED)
            snprintf(errbuf, SW_ERRBUF_SIZE, "%s: permission denied (run as root or grant CAP_NET_RAW): %s",
                    c->cfg.iface, why);
        else
            snprintf(errbuf, SW_ERRBUF_SIZE, "%s: %s", c->cfg.iface, why[0] ? why : pcap_statustostr(rc));
        return -1;
    }
    if (pcap_setnonblock(in->h, 1, perr) != 0) {
        snprintf(errbuf, SW_ERRBUF_SIZE, "%s: %s", c->cfg.iface, perr);
        return -1;
    }
    return 0;
}

struct capture *capture_open(const struct capture_config *cfg, char errbuf[SW_ERRBUF_SIZE])
{
    struct capture *c = calloc(1, sizeof *c);
    if (c == NULL) {
        snprintf(errbuf, SW_ERRBUF_SIZE, "out of memory");
        return NULL;
    }
    c->cfg = *cfg;
    c->live = cfg->iface != NULL;
    size_t n = c->live ? 1 : cfg->n_files;
    if (n == 0) {
        snprintf(errbuf, SW_ERRBUF_SIZE, "no input: give -r FILE or -i INTERFACE");
        free(c);
        return NULL;
    }
    c->in = calloc(n, sizeof *c->in);
    if (c->in == NULL) {
        snprintf(errbuf, SW_ERRBUF_SIZE, "out of memory");
        free(c);
        return NULL;
    }
    size_t stdin_uses = 0;
    for (size_t i = 0; i < n; i++) {
        struct capture_input *in = &c->in[i];
        int rc;
        if (c->live) {
            rc = open_live(c, in, errbuf);
        } else {
            if (strcmp(cfg->files[i], "-") == 0 && ++stdin_uses > 1) {
                snprintf(errbuf, SW_ERRBUF_SIZE, "stdin (-r -) can be read only once");
                rc = -1;
            } else {
                rc = open_file(c, in, cfg->files[i], errbuf);
            }
        }
        c->n_in = i + 1;
        if (rc == 0)
            rc = check_linktype(c, in, errbuf);
        if (rc == 0)
            rc = apply_filter(c, in, errbuf);
        if (rc != 0) {
            capture_close(c);
            return NULL;
        }
    }
    return c;
}

void capture_close(struct capture *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->n_in; i++) {
        if (c->in[i].h != NULL)
            pcap_close(c->in[i].h);
        if (c->in[i].has_prog)
            pcap_freecode(&c->in[i].prog);
        free(c->in[i].stdio_buf); /* after pcap_close: its FILE used it */
    }
    free(c->in);
    free(c);
}

#define CAPTURE_MAX_SEC INT64_C(253402300799) /* 9999-12-31T23:59:59Z */

sw_time capture_time_of(int64_t sec, int64_t usec, bool *clamped)
{
    bool c = false;
    if (sec < 0 || sec > CAPTURE_MAX_SEC) {
        sec = sec < 0 ? 0 : CAPTURE_MAX_SEC;
        c = true;
    }
    if (usec < 0 || usec >= SW_USEC_PER_SEC) {
        usec = usec < 0 ? 0 : SW_USEC_PER_SEC - 1;
        c = true;
    }
    if (clamped != NULL)
        *clamped = c;
    return sec * SW_USEC_PER_SEC + usec;
}

static enum capture_result fill_frame(struct capture *c, const struct capture_input *in,
                                      const struct pcap_pkthdr *hdr, const u_char *data,
                                      struct sw_frame *f)
{
    bool clamped;
    f->ts = capture_time_of((int64_t)hdr->ts.tv_sec, (int64_t)hdr->ts.tv_usec, &clamped);
    c->bad_timestamps += clamped;
    f->linktype = in->linktype;
    f->data = sw_bytes_make(data, hdr->caplen);
    f->wire_len = hdr->len;
    f->file = c->live ? NULL : in->name;
    f->number = in->records;
    c->frames++;
    c->bytes += hdr->caplen;
    return CAPTURE_FRAME;
}

enum capture_result capture_next(struct capture *c, struct sw_frame *f, char errbuf[SW_ERRBUF_SIZE],
                                 char warnbuf[SW_ERRBUF_SIZE])
{
    if (warnbuf != NULL)
        warnbuf[0] = '\0';
    while (c->cur < c->n_in) {
        struct capture_input *in = &c->in[c->cur];
        struct pcap_pkthdr *hdr;
        const u_char *data;
        int rc = pcap_next_ex(in->h, &hdr, &data);
        if (rc == 1 && !c->live) {
            in->records++;
            if (in->has_prog && pcap_offline_filter(&in->prog, hdr, data) == 0)
                continue;
        }
        if (rc == 1)
            return fill_frame(c, in, hdr, data, f);
        if (rc == 0) {
            /* live, non-blocking: nothing ready. Wait on the fd so the caller
             * can advance timers on a quiet link. */
            int fd = pcap_get_selectable_fd(in->h);
            if (fd >= 0) {
                struct pollfd pfd = { .fd = fd, .events = POLLIN };
                int pr = poll(&pfd, 1, c->cfg.timeout_ms > 0 ? c->cfg.timeout_ms : 250);
                if (pr > 0) {
                    rc = pcap_next_ex(in->h, &hdr, &data);
                    if (rc == 1)
                        return fill_frame(c, in, hdr, data, f);
                }
                if (pr < 0 && errno != EINTR) {
                    snprintf(errbuf, SW_ERRBUF_SIZE, "%s: poll: %s", in->name, strerror(errno));
                    return CAPTURE_ERROR;
                }
            }
            if (rc >= 0)
                return CAPTURE_IDLE;
        }
        if ((rc == PCAP_ERROR_BREAK && c->live) || c->broken)
            return CAPTURE_END; /* capture_break() */
        if (rc == PCAP_ERROR_NOT_ACTIVATED || (rc == PCAP_ERROR && c->live)) {
            snprintf(errbuf, SW_ERRBUF_SIZE, "%s: %s", in->name, pcap_geterr(in->h));
            return CAPTURE_ERROR;
        }
        if (rc == PCAP_ERROR) {
            /* A file cut mid-record: keep what was read, say so, go on with
             * the next file. The caller prints warnbuf after every call. */
            if (warnbuf != NULL)
                snprintf(warnbuf, SW_ERRBUF_SIZE, "%s: %s; the rest of this file is skipped",
                         in->name, pcap_geterr(in->h));
            c->truncated_files++;
        }
        c->cur++; /* PCAP_ERROR_BREAK (-2) from a file is its end */
    }
    return CAPTURE_END;
}

int capture_fd(const struct capture *c)
{
    return c->live && c->n_in > 0 ? pcap_get_selectable_fd(c->in[0].h) : -1;
}

void capture_break(struct capture *c)
{
    c->broken = 1;
    for (size_t i = 0; i < c->n_in; i++)
        pcap_breakloop(c->in[i].h);
}

bool capture_progress(const struct capture *c, uint64_t *done, uint64_t *total)
{
    uint64_t d = 0, t = 0;
    if (c->live)
        return false;
    for (size_t i = 0; i < c->n_in; i++) {
        const struct capture_input *in = &c->in[i];
        if (in->size == 0)
            return false; /* stdin or a pipe: no total to compare with */
        t += in->size;
        if (i < c->cur) {
            d += in->size;
        } else if (i == c->cur) {
            long pos = ftell(pcap_file(in->h));
            if (pos > 0)
                d += SW_MIN((uint64_t)pos, in->size);
        }
    }
    *done = d;
    *total = t;
    return t > 0;
}

bool capture_is_live(const struct capture *c)
{
    return c->live;
}

bool capture_input_is_stream(const struct capture *c)
{
    return c->stream;
}

void capture_counters(struct capture *c, struct sw_counters *out)
{
    sw_counters_add(out, "frames", c->frames);
    sw_counters_add(out, "frame_bytes", c->bytes);
    if (c->truncated_files > 0 || !c->live)
        sw_counters_add(out, "truncated_files", c->truncated_files);
    sw_counters_add(out, "bad_timestamps", c->bad_timestamps);
    if (c->live && c->n_in > 0) {
        struct pcap_stat ps;
        if (pcap_stats(c->in[0].h, &ps) == 0) {
            sw_counters_add(out, "pcap_received", ps.ps_recv);
            sw_counters_add(out, "pcap_dropped", ps.ps_drop);
            sw_counters_add(out, "pcap_if_dropped", ps.ps_ifdrop);
        }
    }
}
