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
 *
 * Read-ahead (regular files, unless capture_config.no_read_ahead): a second
 * thread runs libpcap - the read(2)s, the kernel's copies out of the page
 * cache, the record parsing, the filter - and packs the records it accepts
 * into a ring of RA_BATCHES batches of RA_BATCH_BYTES; capture_next() hands
 * them out in the same order, with the same numbers and warnings, so events
 * do not change. The reader thread owns the pcap handles until
 * capture_close() joins it; a frame's bytes stay in their batch until the
 * next capture_next() call, as they stayed in libpcap's buffer. Pipes and
 * stdin stream frames as they come and are read on the caller's thread.
 * The reader thread starts at the first capture_next(), and also runs the
 * caller's ahead hook on each frame it packs (capture_set_ahead): the
 * hook's bytes follow the frame's in the batch.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* fopencookie */
#endif
#include "sipwatch/capture.h"

#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <pthread.h>
#include <stdatomic.h>

#include <pcap/pcap.h>

/* 4 x 1 MiB: smaller batches cost more hand-overs (futex wake-ups showed:
 * 8 x 64 KiB was 15 % slower); more would only add memory. */
#define RA_BATCHES 4
#define RA_BATCH_BYTES ((size_t)1 << 20)
#define RA_PREFETCH ((size_t)16384)

/* One record in a batch, followed by its bytes (caplen of them, or the
 * warning text of RA_END), the next record 8-aligned after them. */
enum ra_kind { RA_FRAME = 1, RA_END };
struct ra_rec {
    int64_t sec, usec;
    uint64_t number;
    uint32_t caplen, len;
    uint32_t kind;
    uint32_t input;
    uint32_t ahead_n; /* the ahead hook's bytes, after the frame's (8-aligned) */
};
struct ra_batch {
    unsigned char *buf;
    size_t cap, used; /* used: set when published (the reader fills at ra->fill) */
};
/* The reader's fields, the consumer's and the shared ones (under mu) are on
 * separate cache lines: a line written by one core per record and read by
 * the other per record would cross between the cores every time. */
struct read_ahead {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t filled, freed;
    struct ra_batch b[RA_BATCHES];
    unsigned published;      /* batches handed to the consumer and not released */
    bool done;               /* reader: every input read (or stopped) */
    bool failed;             /* reader: out of memory for a batch: reading stopped */
    atomic_bool stop;        /* consumer: capture_close, stop reading */
    _Alignas(64) unsigned prod; /* reader: the batch it fills */
    size_t fill;             /* reader: bytes packed in b[prod] so far */
    /* reader: its copies of the capture's settings (struct capture holds
     * counters the consumer writes per frame) */
    capture_ahead_fn *ahead_fn;
    void *ahead_ctx;
    size_t ahead_cap;
    _Alignas(64) unsigned cons; /* consumer: the batch it reads */
    size_t rpos;             /* consumer: next record in b[cons] */
    size_t pf;               /* consumer: prefetched up to here in b[cons] */
    bool holding;            /* consumer: b[cons] is published and being read */
};

struct capture_input {
    const char *name;
    int linktype;
    uint64_t size; /* regular files: bytes on disk (progress); 0 otherwise */
    char *stdio_buf;       /* the FILE's buffer (setvbuf), freed after pcap_close */
    bool has_prog;
    /* what the reader thread writes per record, on a line of its own */
    _Alignas(64) pcap_t *h;
    uint64_t records;          /* files: records read so far (pcap_cnt) */
    struct bpf_program prog;   /* files: the filter, applied per record */
    _Atomic uint64_t pos;  /* read-ahead: bytes the reader has read of it */
};

struct capture {
    struct capture_config cfg;
    struct capture_input *in;
    size_t n_in, cur;
    bool live;
    bool stream;                  /* an input is stdin and not a regular file */
    volatile sig_atomic_t broken; /* capture_break() was called */
    uint64_t frames, bytes, truncated_files, bad_timestamps;
    struct read_ahead *ra;        /* files on a reader thread, or NULL */
    bool want_ra;                 /* start the reader thread at the first capture_next */
    capture_ahead_fn *ahead_fn;   /* run by the reader thread on every frame, or NULL */
    void *ahead_ctx;
    size_t ahead_cap;
};

static void ra_start(struct capture *c);
static void ra_stop(struct capture *c);

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

/* CPUs this process may run on: its affinity mask (taskset, a container's
 * or a unit's CPU set), else those online. */
static long cpus_usable(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        return CPU_COUNT(&set);
    return sysconf(_SC_NPROCESSORS_ONLN);
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
    c->in = aligned_alloc(64, n * sizeof *c->in); /* sizeof: a multiple of 64 */
    if (c->in != NULL)
        memset(c->in, 0, n * sizeof *c->in);
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
    /* Read-ahead pays only with a second core to run on: on one, the two
     * threads would take turns and the hand-overs cost. */
    bool regular = !c->live && cpus_usable() > 1;
    for (size_t i = 0; i < c->n_in; i++)
        regular = regular && c->in[i].size > 0;
    c->want_ra = regular && !cfg->no_read_ahead;
    return c;
}

void capture_close(struct capture *c)
{
    if (c == NULL)
        return;
    ra_stop(c); /* the reader thread lets go of the handles */
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

/* The next record of a file that the filter keeps (records it drops still
 * count: pcap_cnt is tshark's frame number); pcap_next_ex's result. Used
 * by the reader thread and by the caller's thread alike. */
static int file_next(struct capture_input *in, struct pcap_pkthdr **hdr, const u_char **data)
{
    for (;;) {
        int rc = pcap_next_ex(in->h, hdr, data);
        if (rc != 1)
            return rc;
        in->records++;
        if (!in->has_prog || pcap_offline_filter(&in->prog, *hdr, *data) != 0)
            return 1;
    }
}

/* A file cut mid-record: what was read is used, the caller prints warnbuf,
 * reading goes on with the next file. */
static void warn_cut(struct capture *c, const char *name, const char *why, size_t why_len,
                     char warnbuf[SW_ERRBUF_SIZE])
{
    if (warnbuf != NULL)
        snprintf(warnbuf, SW_ERRBUF_SIZE, "%s: %.*s; the rest of this file is skipped", name,
                 (int)SW_MIN(why_len, (size_t)400), why);
    c->truncated_files++;
}

/* ---- read-ahead ------------------------------------------------------ */

static size_t ra_align(size_t n)
{
    return (n + 7) & ~(size_t)7;
}

/* Reader: the batch to fill next, once the consumer left one free. False
 * when asked to stop. */
static bool ra_wait_free(struct read_ahead *ra)
{
    pthread_mutex_lock(&ra->mu);
    while (ra->published == RA_BATCHES && !atomic_load_explicit(&ra->stop, memory_order_relaxed))
        pthread_cond_wait(&ra->freed, &ra->mu);
    pthread_mutex_unlock(&ra->mu);
    return !atomic_load_explicit(&ra->stop, memory_order_relaxed);
}

/* Reader: hands the batch it filled to the consumer (even an empty one when
 * `last`, so that the consumer wakes and sees `done`). */
static void ra_publish(struct read_ahead *ra, bool last)
{
    pthread_mutex_lock(&ra->mu);
    if (ra->fill > 0) {
        ra->b[ra->prod].used = ra->fill;
        ra->published++;
        ra->prod = (ra->prod + 1) % RA_BATCHES;
    }
    if (last)
        ra->done = true;
    pthread_cond_signal(&ra->filled);
    pthread_mutex_unlock(&ra->mu);
}

/* Reader: room for a record of n bytes (header included) in the batch being
 * filled; a full batch is published first. A record larger than a batch
 * (snaplens go up to 256 KiB, some link types more) grows the empty batch
 * it goes into. False when asked to stop or out of memory. */
static bool ra_room(struct read_ahead *ra, size_t n)
{
    struct ra_batch *b = &ra->b[ra->prod];
    if (ra->fill > 0 && b->cap - ra->fill < n) {
        ra_publish(ra, false);
        if (!ra_wait_free(ra))
            return false;
        b = &ra->b[ra->prod];
        ra->fill = 0;
    }
    if (b->cap - ra->fill < n) {
        size_t cap = n > RA_BATCH_BYTES ? n : RA_BATCH_BYTES;
        unsigned char *p = realloc(b->buf, cap);
        if (p == NULL)
            return false;
        b->buf = p;
        b->cap = cap;
    }
    return true;
}

/* Packs record r and its n bytes of data; for a frame, then runs the ahead
 * hook on the bytes as they lie in the batch (where the consumer will find
 * them) and packs what it wrote after them. */
static bool ra_put(struct read_ahead *ra, int linktype, struct ra_rec *r, const void *data,
                   size_t n)
{
    size_t hook_cap = r->kind == RA_FRAME ? ra->ahead_cap : 0;
    size_t need = ra_align(sizeof *r + n);
    if (!ra_room(ra, need + hook_cap))
        return false;
    struct ra_batch *b = &ra->b[ra->prod];
    unsigned char *rec = b->buf + ra->fill;
    if (n > 0)
        memcpy(rec + sizeof *r, data, n);
    r->ahead_n = 0;
    if (hook_cap > 0) {
        sw_time ts = capture_time_of(r->sec, r->usec, NULL);
        size_t k = ra->ahead_fn(ra->ahead_ctx, linktype, sw_bytes_make(rec + sizeof *r, n), ts,
                                rec + need, hook_cap);
        r->ahead_n = (uint32_t)SW_MIN(k, hook_cap);
    }
    memcpy(rec, r, sizeof *r);
    ra->fill += need + ra_align(r->ahead_n);
    return true;
}

static void *ra_main(void *arg)
{
    struct capture *c = arg;
    struct read_ahead *ra = c->ra;
    bool ok = ra_wait_free(ra);
    if (ok)
        ra->fill = 0;
    for (size_t i = 0; ok && i < c->n_in; i++) {
        struct capture_input *in = &c->in[i];
        FILE *f = pcap_file(in->h);
        for (;;) {
            struct pcap_pkthdr *hdr;
            const u_char *data;
            int rc = file_next(in, &hdr, &data);
            if (rc == 1) {
                struct ra_rec r = { .sec = (int64_t)hdr->ts.tv_sec, .usec = (int64_t)hdr->ts.tv_usec,
                                    .number = in->records, .caplen = hdr->caplen, .len = hdr->len,
                                    .kind = RA_FRAME, .input = (uint32_t)i };
                if (!(ok = ra_put(ra, in->linktype, &r, data, hdr->caplen)))
                    break;
                if ((in->records & 255) == 0 && f != NULL) {
                    long pos = ftell(f);
                    if (pos > 0)
                        atomic_store_explicit(&in->pos, (uint64_t)pos, memory_order_relaxed);
                }
                if (atomic_load_explicit(&ra->stop, memory_order_relaxed)) {
                    ok = false;
                    break;
                }
                continue;
            }
            /* The end of this file; PCAP_ERROR: cut mid-record (a warning) */
            const char *why = rc == PCAP_ERROR ? pcap_geterr(in->h) : "";
            size_t wn = strlen(why);
            struct ra_rec r = { .kind = RA_END, .input = (uint32_t)i, .caplen = (uint32_t)wn,
                                .len = rc == PCAP_ERROR };
            ok = ra_put(ra, in->linktype, &r, why, wn);
            atomic_store_explicit(&in->pos, in->size, memory_order_relaxed);
            break;
        }
    }
    if (!ok && !atomic_load_explicit(&ra->stop, memory_order_relaxed)) {
        pthread_mutex_lock(&ra->mu);
        ra->failed = true; /* ra_room() found no memory: said, not hidden */
        pthread_mutex_unlock(&ra->mu);
    }
    ra_publish(ra, true);
    return NULL;
}

static void ra_free(struct read_ahead *ra)
{
    for (size_t i = 0; i < RA_BATCHES; i++)
        free(ra->b[i].buf);
    pthread_cond_destroy(&ra->filled);
    pthread_cond_destroy(&ra->freed);
    pthread_mutex_destroy(&ra->mu);
    free(ra);
}

/* Starts the reader thread; on any failure the caller's thread reads. */
static void ra_start(struct capture *c)
{
    struct read_ahead *ra = aligned_alloc(64, sizeof *ra); /* its lines as laid out */
    if (ra == NULL)
        return;
    memset(ra, 0, sizeof *ra);
    atomic_init(&ra->stop, false);
    ra->ahead_fn = c->ahead_fn;
    ra->ahead_ctx = c->ahead_ctx;
    ra->ahead_cap = c->ahead_fn != NULL ? c->ahead_cap : 0;
    pthread_mutex_init(&ra->mu, NULL);
    pthread_cond_init(&ra->filled, NULL);
    pthread_cond_init(&ra->freed, NULL);
    c->ra = ra;
    /* Signals go to the caller's thread (its reads and writes are the ones
     * a signal must interrupt): the reader starts with all of them blocked. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = pthread_create(&ra->thread, NULL, ra_main, c);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        c->ra = NULL;
        ra_free(ra);
    }
}

static void ra_stop(struct capture *c)
{
    struct read_ahead *ra = c->ra;
    if (ra == NULL)
        return;
    atomic_store(&ra->stop, true);
    pthread_mutex_lock(&ra->mu);
    pthread_cond_broadcast(&ra->freed);
    pthread_mutex_unlock(&ra->mu);
    pthread_join(ra->thread, NULL);
    c->ra = NULL;
    ra_free(ra);
}

static enum capture_result fill_frame_ts(struct capture *c, const struct capture_input *in,
                                         int64_t sec, int64_t usec, const u_char *data,
                                         uint32_t caplen, uint32_t len, uint64_t number,
                                         struct sw_frame *f);

/* Consumer: the reader's core wrote the batch; the lines this core will
 * read of the records up to RA_PREFETCH bytes ahead are put on their way
 * here, so that the first touches do not wait. Of a frame whose parse was
 * done ahead only its head is read (link, IP and transport headers, the
 * SIP start line) and the ahead bytes; of any other, all of it. The walk
 * reads each record's header one call after it asked for its line. */
#define RA_HEAD_BYTES ((size_t)192)
static inline void prefetch_lines(const unsigned char *p, size_t n)
{
    uintptr_t a = (uintptr_t)p & ~(uintptr_t)63, end = (uintptr_t)p + n;
    for (; a < end; a += 64)
        __builtin_prefetch((const void *)a);
}

static void ra_prefetch(struct read_ahead *ra, const struct ra_batch *b)
{
    size_t want = SW_MIN(ra->rpos + RA_PREFETCH, b->used);
    while (ra->pf < want) {
        const unsigned char *rec = b->buf + ra->pf;
        struct ra_rec r;
        memcpy(&r, rec, sizeof r);
        size_t body = ra_align(sizeof r + r.caplen);
        size_t hot = SW_MIN((size_t)r.caplen, r.ahead_n > 0 ? RA_HEAD_BYTES : RA_PREFETCH);
        prefetch_lines(rec + sizeof r, hot);
        prefetch_lines(rec + body, r.ahead_n);
        ra->pf += body + ra_align(r.ahead_n);
        if (ra->pf < b->used)
            __builtin_prefetch(b->buf + ra->pf); /* the next record's header */
    }
}

/* Consumer: the next record of the read-ahead ring. */
static enum capture_result ra_next(struct capture *c, struct sw_frame *f, char errbuf[SW_ERRBUF_SIZE],
                                   char warnbuf[SW_ERRBUF_SIZE])
{
    struct read_ahead *ra = c->ra;
    for (;;) {
        if (ra->holding) {
            struct ra_batch *b = &ra->b[ra->cons];
            if (ra->rpos < b->used) {
                struct ra_rec r;
                memcpy(&r, b->buf + ra->rpos, sizeof r);
                const unsigned char *data = b->buf + ra->rpos + sizeof r;
                ra->rpos += ra_align(sizeof r + r.caplen) + ra_align(r.ahead_n);
                ra_prefetch(ra, b);
                if (r.input >= c->n_in)
                    return CAPTURE_END; /* cannot happen: the reader wrote it */
                if (r.kind == RA_FRAME) {
                    enum capture_result cr = fill_frame_ts(c, &c->in[r.input], r.sec, r.usec,
                                                           data, r.caplen, r.len, r.number, f);
                    if (r.ahead_n > 0)
                        f->ahead = sw_bytes_make(data + ra_align(sizeof r + r.caplen) - sizeof r,
                                                 r.ahead_n);
                    return cr;
                }
                if (r.len != 0)
                    warn_cut(c, c->in[r.input].name, (const char *)data, r.caplen, warnbuf);
                c->cur = r.input + 1;
                continue;
            }
            /* this batch is read: back to the reader */
            pthread_mutex_lock(&ra->mu);
            ra->holding = false;
            ra->published--;
            ra->cons = (ra->cons + 1) % RA_BATCHES;
            pthread_cond_signal(&ra->freed);
            pthread_mutex_unlock(&ra->mu);
        }
        pthread_mutex_lock(&ra->mu);
        while (ra->published == 0 && !ra->done)
            pthread_cond_wait(&ra->filled, &ra->mu);
        bool have = ra->published > 0, failed = ra->failed;
        pthread_mutex_unlock(&ra->mu);
        if (!have) {
            c->cur = c->n_in;
            if (failed) {
                snprintf(errbuf, SW_ERRBUF_SIZE, "out of memory reading the capture ahead");
                return CAPTURE_ERROR;
            }
            return CAPTURE_END;
        }
        ra->holding = true;
        ra->rpos = 0;
        ra->pf = 0;
    }
}

static enum capture_result fill_frame_ts(struct capture *c, const struct capture_input *in,
                                         int64_t sec, int64_t usec, const u_char *data,
                                         uint32_t caplen, uint32_t len, uint64_t number,
                                         struct sw_frame *f)
{
    bool clamped;
    f->ts = capture_time_of(sec, usec, &clamped);
    c->bad_timestamps += clamped;
    f->linktype = in->linktype;
    f->data = sw_bytes_make(data, caplen);
    f->wire_len = len;
    f->file = c->live ? NULL : in->name;
    f->number = number;
    f->ahead = sw_bytes_make(NULL, 0);
    c->frames++;
    c->bytes += caplen;
    return CAPTURE_FRAME;
}

static enum capture_result fill_frame(struct capture *c, const struct capture_input *in,
                                      const struct pcap_pkthdr *hdr, const u_char *data,
                                      struct sw_frame *f)
{
    return fill_frame_ts(c, in, (int64_t)hdr->ts.tv_sec, (int64_t)hdr->ts.tv_usec, data,
                         hdr->caplen, hdr->len, in->records, f);
}

enum capture_result capture_next(struct capture *c, struct sw_frame *f, char errbuf[SW_ERRBUF_SIZE],
                                 char warnbuf[SW_ERRBUF_SIZE])
{
    if (warnbuf != NULL)
        warnbuf[0] = '\0';
    if (c->want_ra && !c->broken) {
        c->want_ra = false;
        ra_start(c);
    }
    if (c->ra != NULL)
        return ra_next(c, f, errbuf, warnbuf);
    while (c->cur < c->n_in) {
        struct capture_input *in = &c->in[c->cur];
        struct pcap_pkthdr *hdr;
        const u_char *data;
        int rc = c->live ? pcap_next_ex(in->h, &hdr, &data) : file_next(in, &hdr, &data);
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
            const char *why = pcap_geterr(in->h);
            warn_cut(c, in->name, why, strlen(why), warnbuf);
        }
        c->cur++; /* PCAP_ERROR_BREAK (-2) from a file is its end */
    }
    return CAPTURE_END;
}

void capture_set_ahead(struct capture *c, capture_ahead_fn *fn, void *ctx, size_t cap)
{
    c->ahead_fn = fn;
    c->ahead_ctx = ctx;
    c->ahead_cap = fn != NULL ? cap : 0;
}

int capture_fd(const struct capture *c)
{
    return c->live && c->n_in > 0 ? pcap_get_selectable_fd(c->in[0].h) : -1;
}

void capture_break(struct capture *c)
{
    c->broken = 1;
    if (c->ra != NULL) /* lock-free: async-signal-safe */
        atomic_store_explicit(&c->ra->stop, true, memory_order_relaxed);
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
        if (c->ra != NULL) {
            d += SW_MIN(atomic_load_explicit(&in->pos, memory_order_relaxed), in->size);
        } else if (i < c->cur) {
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
