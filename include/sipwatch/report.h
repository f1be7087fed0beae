/*
 * report.h - events -> NDJSON, one object per line, written whole.
 *
 * Owns: the output stream (stdout or a file, reopened on request for log
 * rotation), one jansson object per event type, reused for every event of
 * that type (its lines are byte for byte those of an object built afresh). Header bytes are
 * not guaranteed UTF-8: invalid sequences become U+FFFD (counted), and
 * control characters are escaped by jansson, so every line parses as JSON.
 * This is the only file that includes jansson.
 */
#ifndef SIPWATCH_REPORT_H
#define SIPWATCH_REPORT_H

#include <stdio.h>

#include "sipwatch/event.h"
#include "sipwatch/output.h"
#include "sipwatch/types.h"

struct report_config {
    const char *path;     /* NULL or "-" = stdout */
    unsigned event_mask;  /* bit (1u << SW_EVENT_*) per type written; 0 = all */
    bool line_buffered;   /* write every line at once (live capture, an input
                           * pipe); output.c also does when the output is a
                           * pipe, FIFO, socket or terminal */
    sw_time give_up;      /* output.h: continuous write failure before report_failed() */
    output_notice_fn *notice; /* output failures and recoveries, for stderr; may be NULL */
    void *notice_ctx;
    const char *host;     /* the envelope's `host` (--sensor; main: the host name);
                           * NULL = null */
    uint16_t community_id_seed; /* Community ID seed (0, as Zeek/Suricata default) */
};

/* No line is longer than this (newline included): rsyslog's default
 * maxMessageSize is 8 KiB with its own header. Longer events are cut to fit
 * (wire strings end in "...", lists lose their tail and say so in a
 * `*_truncated` key), counted in events_shortened. */
#define REPORT_MAX_LINE 8000

struct report;

/* Opens the output. Returns NULL with errbuf filled on failure. */
struct report *report_new(const struct report_config *cfg, char errbuf[SW_ERRBUF_SIZE]);
/* Writes to an open stream the caller owns (tests, fuzzing: a memstream or
 * tmpfile); cfg->path is ignored, report_reopen is a no-op, report_free
 * flushes but does not close it. Returns NULL on OOM. */
struct report *report_new_stream(FILE *f, const struct report_config *cfg);
/* Flushes and closes (stdout is flushed, not closed). NULL is fine. */
void report_free(struct report *r);

/* Writes one event as one line (if its type is in the mask). Returns 0, or
 * -1 if the write failed or the line was dropped (counted; errno kept).
 * Usable as sw_emit_fn through report_emit. */
int report_event(struct report *r, const struct sw_event *ev);
void report_emit(void *report, const struct sw_event *ev);

/* Reopens the output file (SIGHUP, after logrotate moved it); stdout: no-op.
 * Returns 0 or -1 with errbuf filled (the old stream is kept then). */
int report_reopen(struct report *r, char errbuf[SW_ERRBUF_SIZE]);
int report_flush(struct report *r);
/* Retries a failed write or reopen when due (call while the input is idle). */
void report_poll(struct report *r);
/* True when the run should end: EPIPE, or writes failing for cfg.give_up. */
bool report_failed(const struct report *r);

/* errno of the last failed write (EPIPE: the reader went away), 0 if none. */
int report_last_errno(const struct report *r);

/* Formats capture time as RFC 3339 UTC with microseconds and 'Z'
 * ("2026-11-28T18:16:41.123456Z"); buf must hold 32 bytes. */
char *report_format_time(sw_time t, char buf[32]);

/* Replaces invalid UTF-8 in `in` by U+FFFD; writes at most cap-1 bytes and a
 * NUL, never cutting a sequence. Returns the output length; *repaired counts
 * replaced sequences (may be NULL). */
size_t report_utf8_repair(const char *in, size_t n, char *out, size_t cap, unsigned *repaired);

/* events_written, events_written_<type>, events_suppressed, output_errors,
 * events_lost, output_reopen_failures, utf8_repaired, json_errors */
void report_counters(const struct report *r, struct sw_counters *out);

#endif
