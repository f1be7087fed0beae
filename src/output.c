/*
 * output.c - the line sink (see output.h for the policy).
 *
 * The buffer only ever holds whole lines, except in one case: a write that
 * stopped inside a line on something that cannot be cut back (a pipe, or a
 * file whose ftruncate failed). Then `head_partial` is set, the buffer
 * starts with the rest of that line, and it goes out first, so the reader
 * sees the line completed rather than another glued to its start.
 *
 * Time: the give-up limit and the reopen retries run on CLOCK_MONOTONIC,
 * not on capture time (a replay's clock says nothing about how long the
 * disk has been full).
 */
#include "sipwatch/output.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct output {
    struct output_config cfg;
    char *path;      /* owned copy; NULL for stdout and caller streams */
    const char *shown; /* the name in messages */
    int fd;          /* -1 with a caller's stream */
    FILE *fp;        /* the caller's stream, or NULL */
    bool immediate;
    bool regular;    /* fd is a regular file: a cut line can be truncated away */
    char *buf;
    size_t len, cap;
    bool head_partial; /* buf starts inside a line (see above) */
    /* failure episode */
    bool failing, fatal;
    sw_time fail_since;
    int last_errno;
    uint64_t episode_lost;
    /* reopen */
    bool reopen_pending;
    sw_time reopen_next;
    uint64_t reopen_tries;
    struct output_stats st;
};

static sw_time mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (sw_time)ts.tv_sec * SW_USEC_PER_SEC + ts.tv_nsec / 1000;
}

static void notice(struct output *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void notice(struct output *o, const char *fmt, ...)
{
    if (o->cfg.notice == NULL)
        return;
    char msg[SW_ERRBUF_SIZE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    o->cfg.notice(o->cfg.notice_ctx, msg);
}

/* Opens path for append, created 0640 (the umask may take more away), or
 * a close-on-exec dup of fd 1. Returns the fd or -1 with errbuf filled. */
static int open_fd(const char *path, char errbuf[SW_ERRBUF_SIZE])
{
    int fd;
    if (path == NULL)
        fd = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
    else
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, OUTPUT_FILE_MODE);
    if (fd < 0)
        snprintf(errbuf, SW_ERRBUF_SIZE, "cannot open output %s: %s", path ? path : "-",
                 strerror(errno));
    return fd;
}

/* Sets `regular` and `immediate` from what fd is. */
static void classify(struct output *o)
{
    struct stat st;
    o->regular = false;
    o->immediate = o->cfg.immediate;
    if (o->fd < 0 || fstat(o->fd, &st) != 0)
        return;
    o->regular = S_ISREG(st.st_mode);
    if (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) || isatty(o->fd))
        o->immediate = true;
}

static struct output *alloc(const struct output_config *cfg)
{
    struct output *o = calloc(1, sizeof *o);
    if (o == NULL)
        return NULL;
    o->cfg = *cfg;
    o->cfg.path = NULL;
    o->fd = -1;
    o->cap = OUTPUT_BUFFER;
    o->buf = malloc(o->cap);
    if (o->buf == NULL) {
        free(o);
        return NULL;
    }
    return o;
}

struct output *output_open(const struct output_config *cfg, char errbuf[SW_ERRBUF_SIZE])
{
    struct output *o = alloc(cfg);
    if (o == NULL) {
        snprintf(errbuf, SW_ERRBUF_SIZE, "out of memory opening the output");
        return NULL;
    }
    o->shown = "stdout";
    if (cfg->path != NULL && strcmp(cfg->path, "-") != 0) {
        o->path = strdup(cfg->path);
        if (o->path == NULL) {
            snprintf(errbuf, SW_ERRBUF_SIZE, "out of memory opening the output");
            output_free(o);
            return NULL;
        }
        o->shown = o->path;
    }
    o->fd = open_fd(o->path, errbuf);
    if (o->fd < 0) {
        output_free(o);
        return NULL;
    }
    classify(o);
    return o;
}

struct output *output_new_stream(FILE *f, const struct output_config *cfg)
{
    struct output *o = alloc(cfg);
    if (o == NULL)
        return NULL;
    o->fp = f;
    o->shown = "the output stream";
    o->immediate = true; /* stdio buffers it; fwrite takes whole lines */
    return o;
}

/* Writes p[0..n): returns the bytes written; on a shortfall errno says why. */
static size_t write_all(struct output *o, const char *p, size_t n)
{
    if (o->fp != NULL) {
        size_t w = fwrite(p, 1, n, o->fp);
        if (w != n) {
            if (errno == 0)
                errno = EIO;
            clearerr(o->fp);
        }
        return w;
    }
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(o->fd, p + done, n - done);
        if (w > 0) {
            done += (size_t)w;
        } else if (w < 0 && errno == EINTR) {
            continue; /* a signal before anything was written: again */
        } else {
            if (w == 0)
                errno = EIO;
            break;
        }
    }
    return done;
}

/* The length of p[0..n) up to and including its last '\n', 0 if none. */
static size_t last_line_end(const char *p, size_t n)
{
    while (n > 0 && p[n - 1] != '\n')
        n--;
    return n;
}

static uint64_t count_lines(const char *p, size_t n)
{
    uint64_t k = 0;
    const char *end = p + n;
    while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        k++;
        p++;
    }
    return k;
}

static void episode_begin(struct output *o, int err)
{
    o->failing = true;
    o->fail_since = mono_now();
    o->episode_lost = 0;
    if (err == EPIPE) {
        o->fatal = true; /* the reader went away: nothing can arrive any more */
        return;
    }
    notice(o, "cannot write events to %s: %s; holding %zu bytes, dropping new events until it "
              "works again", o->shown, strerror(err), o->len);
    if (o->cfg.give_up <= 0)
        o->fatal = true;
}

static void episode_end(struct output *o)
{
    o->failing = false;
    double s = (double)(mono_now() - o->fail_since) / 1e6;
    notice(o, "writing events to %s again after %.1f s; %llu events lost", o->shown, s,
           (unsigned long long)o->episode_lost);
}

/* Writes the buffer. On failure keeps what was not written (cut back to a
 * line boundary on a regular file) and returns -1 with errno set. */
static int drain(struct output *o)
{
    if (o->len == 0) {
        if (o->fp != NULL && fflush(o->fp) != 0) {
            int e = errno;
            o->st.errors++;
            o->last_errno = e;
            clearerr(o->fp);
            if (!o->failing)
                episode_begin(o, e);
            errno = e;
            return -1;
        }
        if (o->failing)
            episode_end(o);
        return 0;
    }
    errno = 0;
    size_t done = write_all(o, o->buf, o->len);
    if (done == o->len) {
        o->len = 0;
        o->head_partial = false;
        if (o->failing)
            episode_end(o);
        return 0;
    }
    int e = errno;
    o->st.errors++;
    o->last_errno = e;
    /* Drop what was written; a line the write stopped inside is cut back
     * out of a regular file (it is written again whole later), else its
     * rest stays at the head of the buffer to be finished first. */
    size_t keep = done;
    if (done > 0) {
        size_t whole = last_line_end(o->buf, done);
        if (whole == done) {
            o->head_partial = false;
        } else {
            /* whole == 0 with head_partial: the line began in an earlier write */
            bool cut = false;
            if (o->regular && !(whole == 0 && o->head_partial)) {
                struct stat st;
                off_t extra = (off_t)(done - whole);
                cut = fstat(o->fd, &st) == 0 && st.st_size >= extra &&
                      ftruncate(o->fd, st.st_size - extra) == 0;
            }
            if (cut) {
                keep = whole;
                o->head_partial = false;
            } else {
                o->head_partial = true;
            }
        }
    }
    memmove(o->buf, o->buf + keep, o->len - keep);
    o->len -= keep;
    if (!o->failing)
        episode_begin(o, e);
    else if (e == EPIPE)
        o->fatal = true;
    if (o->failing && !o->fatal && mono_now() - o->fail_since >= o->cfg.give_up)
        o->fatal = true;
    errno = e;
    return -1;
}

static void lose(struct output *o, uint64_t k)
{
    o->st.lost += k;
    o->episode_lost += k;
}

static void try_reopen(struct output *o);

int output_line(struct output *o, const char *line, size_t n)
{
    if (o->reopen_pending && mono_now() >= o->reopen_next)
        try_reopen(o);
    if (n == 0 || n > OUTPUT_MAX_LINE) {
        lose(o, 1);
        errno = EMSGSIZE;
        return -1;
    }
    if (o->failing || o->len + n > o->cap) {
        /* make room (batched), or see whether the failure is over */
        if (o->len > 0 || o->failing)
            (void)drain(o);
        if (o->failing) {
            lose(o, 1);
            errno = o->last_errno;
            return -1;
        }
        if (n > o->cap) { /* a line longer than the buffer: grow for it */
            char *nb = realloc(o->buf, n);
            if (nb == NULL) {
                lose(o, 1);
                errno = ENOMEM;
                return -1;
            }
            o->buf = nb;
            o->cap = n;
        }
    }
    memcpy(o->buf + o->len, line, n);
    o->len += n;
    o->st.lines++;
    if (o->immediate && drain(o) != 0)
        return 1; /* held: written when the output works again */
    return 0;
}

int output_flush(struct output *o)
{
    if (o->len == 0 && !o->failing && o->fp == NULL)
        return 0;
    return drain(o);
}

/* Switches to a new fd, or counts the failure and schedules a retry. */
static int reopen_now(struct output *o, char errbuf[SW_ERRBUF_SIZE])
{
    char eb[SW_ERRBUF_SIZE];
    if (errbuf == NULL)
        errbuf = eb;
    int fd = open_fd(o->path, errbuf);
    o->reopen_tries++;
    if (fd < 0) {
        o->st.reopen_failures++;
        size_t k = strlen(errbuf);
        snprintf(errbuf + k, SW_ERRBUF_SIZE - k,
                 "; still writing to the old file, trying again every %d s and at the next "
                 "SIGHUP", (int)(OUTPUT_REOPEN_RETRY / SW_USEC_PER_SEC));
        if (!o->reopen_pending)
            o->reopen_tries = 1;
        o->reopen_pending = true;
        o->reopen_next = mono_now() + OUTPUT_REOPEN_RETRY;
        return -1;
    }
    /* What is buffered belongs to the old file; a line cut there cannot be
     * finished in the new one. */
    if (o->len > 0)
        (void)drain(o);
    if (o->head_partial) {
        const char *nl = memchr(o->buf, '\n', o->len);
        size_t skip = nl != NULL ? (size_t)(nl - o->buf) + 1 : o->len;
        memmove(o->buf, o->buf + skip, o->len - skip);
        o->len -= skip;
        o->head_partial = false;
        lose(o, 1);
    }
    close(o->fd);
    o->fd = fd;
    classify(o);
    if (o->reopen_pending && o->reopen_tries > 1)
        notice(o, "reopened %s after %llu failed attempts", o->shown,
               (unsigned long long)(o->reopen_tries - 1));
    o->reopen_pending = false;
    if (o->failing || o->len > 0)
        (void)drain(o);
    return 0;
}

static void try_reopen(struct output *o)
{
    (void)reopen_now(o, NULL);
}

int output_reopen(struct output *o, char errbuf[SW_ERRBUF_SIZE])
{
    if (o->path == NULL)
        return 0;
    return reopen_now(o, errbuf);
}

void output_poll(struct output *o)
{
    if (o->reopen_pending && mono_now() >= o->reopen_next)
        try_reopen(o);
    if (o->failing)
        (void)drain(o);
}

bool output_failed(const struct output *o)
{
    if (o->failing && !o->fatal && mono_now() - o->fail_since >= o->cfg.give_up)
        return true;
    return o->fatal;
}

int output_last_errno(const struct output *o)
{
    return o->last_errno;
}

bool output_is_immediate(const struct output *o)
{
    return o->immediate;
}

void output_stats(const struct output *o, struct output_stats *out)
{
    *out = o->st;
}

void output_free(struct output *o)
{
    if (o == NULL)
        return;
    if (o->len > 0 || o->fp != NULL)
        (void)drain(o);
    if (o->len > 0) {
        uint64_t k = count_lines(o->buf, o->len);
        lose(o, k);
        if (o->last_errno != EPIPE) /* main said it: the reader went away */
                notice(o, "%llu events could not be written to %s and are lost (%s)",
                   (unsigned long long)k, o->shown, strerror(o->last_errno));
    }
    if (o->fd >= 0)
        close(o->fd);
    free(o->buf);
    free(o->path);
    free(o);
}
