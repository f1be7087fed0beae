/*
 * output.h - the line sink: whole lines to a file, stdout or a caller's
 * stream, each in one write(), never split, never half written.
 *
 * Owns: the output descriptor (a file opened O_APPEND|O_CREAT, mode 0640,
 * or a dup of fd 1), its line buffer, the failure episode (when it began,
 * the events lost in it) and the reopen-on-SIGHUP state. Does not: format
 * anything (report.c hands it finished lines), print (it tells its owner
 * through the notice callback; main.c prints).
 *
 * Delivery policy:
 *   - immediate: every line is written as soon as it is given (live capture,
 *     an input or an output that is a pipe, FIFO, socket or terminal);
 *   - batched (file-to-file replays): whole lines are gathered in a 64 KiB
 *     buffer that is written when the next line would not fit and at flush,
 *     so every write() ends at the end of a line.
 *   write() is retried on EINTR and resumed after a partial write.
 *
 * Failure: a write that fails (ENOSPC, EIO, EPIPE, ...) keeps the lines
 * not yet written in the buffer and starts an episode: one notice, then
 * every new line is dropped (counted in events_lost) until the buffer can
 * be written again, which ends the episode (one notice with the count).
 * A write that stopped inside a line on a regular file is cut back to the
 * end of the last whole line (ftruncate), and that line is written again
 * in full later; where that is impossible (a pipe) the rest of the line is
 * written first when writing works again, so no line is ever glued to
 * another. output_failed() turns true on EPIPE, and when every write has
 * failed for `give_up` of monotonic time.
 */
#ifndef SIPWATCH_OUTPUT_H
#define SIPWATCH_OUTPUT_H

#include <stdio.h>

#include "sipwatch/types.h"

#define OUTPUT_BUFFER ((size_t)64 * 1024)
/* A line longer than this is refused (counted lost); events are capped far below. */
#define OUTPUT_MAX_LINE ((size_t)1 << 20)
/* While a reopen keeps failing, it is tried again this often (and at every SIGHUP). */
#define OUTPUT_REOPEN_RETRY SW_SEC(10)
#define OUTPUT_DEFAULT_GIVE_UP SW_SEC(60)
#define OUTPUT_FILE_MODE 0640

/* A message for the operator (one line, no "sipwatch: " prefix). */
typedef void output_notice_fn(void *ctx, const char *msg);

struct output_config {
    const char *path;          /* NULL or "-" = stdout */
    bool immediate;            /* write every line at once (otherwise only when the
                                * output itself is a pipe, FIFO, socket or terminal) */
    sw_time give_up;           /* continuous failure before output_failed(); 0 = at once */
    output_notice_fn *notice;  /* may be NULL */
    void *notice_ctx;
};

struct output;

/* Opens the output. NULL with errbuf filled on failure. */
struct output *output_open(const struct output_config *cfg, char errbuf[SW_ERRBUF_SIZE]);
/* Writes to a stream the caller owns (tests, fuzzing): lines go through
 * fwrite, each whole; output_free flushes but does not close it. */
struct output *output_new_stream(FILE *f, const struct output_config *cfg);
/* Writes what is buffered, then closes (stdout's dup is closed, fd 1 is
 * not). Lines still unwritten are counted lost and told. NULL is fine. */
void output_free(struct output *o);

/* One line, `n` bytes ending in '\n' (borrowed). Returns 0 when it was
 * written or queued whole, 1 when it was queued but the write that followed
 * failed (it goes out when the output works again, or is lost at exit),
 * -1 when it was dropped (errno set). */
int output_line(struct output *o, const char *line, size_t n);
/* Writes the buffer. 0, or -1 (errno set) if something is still unwritten. */
int output_flush(struct output *o);
/* Retries a failed write and a failed reopen when due; call when idle. */
void output_poll(struct output *o);

/* Reopens the file (SIGHUP after logrotate moved it); stdout: no-op.
 * Returns 0, or -1 with errbuf filled: the old file is kept, the failure is
 * counted, and it is tried again every OUTPUT_REOPEN_RETRY and at the next
 * call. */
int output_reopen(struct output *o, char errbuf[SW_ERRBUF_SIZE]);

/* True when the run should end: the reader went away (EPIPE) or writing
 * has failed for give_up. */
bool output_failed(const struct output *o);
/* errno of the last failed write, 0 if none. */
int output_last_errno(const struct output *o);
/* Whether lines are written at once (see the policy above). */
bool output_is_immediate(const struct output *o);

struct output_stats {
    uint64_t lines;            /* accepted: written, or queued whole to be written */
    uint64_t errors;           /* failed write() calls (and flushes of a stream) */
    uint64_t lost;             /* lines dropped: output failing, too long, or unwritten at exit */
    uint64_t reopen_failures;  /* failed reopens (SIGHUP and the retries) */
};
void output_stats(const struct output *o, struct output_stats *out);

#endif
