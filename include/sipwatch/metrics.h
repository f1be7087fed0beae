/*
 * metrics.h - the stats event as a Prometheus text-format file (exposition
 * format 0.0.4), for node_exporter's textfile collector: a sink fed the same
 * `stats` events as the reporter, writing the whole file each time under a
 * temporary name and renaming it into place, so a reader never sees half.
 *
 * Names: sipwatch_<group>_<name>_total for counters, sipwatch_<group>_<name>
 * for gauges (`_held`, `_active`) and peaks (`_peak`), as types.h names them;
 * transfer outcomes and not-found statuses as labelled counters. Every sample
 * carries the label host="...".
 */
#ifndef SIPWATCH_METRICS_H
#define SIPWATCH_METRICS_H

#include "sipwatch/event.h"

struct metrics;

/* `path` and `host` are copied. NULL with errbuf filled when the path is too
 * long or memory runs out; the file itself is first written at the first
 * stats event (its directory must be writable then, after -Z). */
struct metrics *metrics_new(const char *path, const char *host, char errbuf[SW_ERRBUF_SIZE]);
void metrics_free(struct metrics *m);

/* An emit function (ctx = struct metrics *): writes the file on a stats
 * event, ignores the others. A failed write is counted, the previous file
 * stays in place, and the error is kept for metrics_error(). */
void metrics_emit(void *ctx, const struct sw_event *ev);

/* The last write's error ("" when it succeeded), cleared by the call. */
const char *metrics_take_error(struct metrics *m);

/* metrics_writes, metrics_write_errors. */
void metrics_counters(const struct metrics *m, struct sw_counters *out);

#endif
