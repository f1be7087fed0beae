/*
 * htmlreport.h - events -> one self-contained HTML page (--report FILE.html):
 * a second reporter beside report.c, fed the same plain events.
 *
 * The page has no external scripts, fonts, styles or images: it works
 * offline, opened from disk. It shows the totals, a timeline of the events
 * (inline SVG, one lane per event type), the transfers in a table whose
 * columns sort and filter, the not-found users and sources, each scan, and
 * for every flagged event (a transfer summary_transfer_flagged() picks, or a
 * scan) its ladder as an SVG sequence diagram.
 *
 * Owns: the output file (opened at htmlreport_new so that a bad path fails
 * before any packet is read, written whole by htmlreport_write at the end),
 * the page's sections as escaped HTML built while events arrive, bounded:
 * at most max_rows rows per table and max_ladders ladders, and at most 8 MiB
 * of markup per section (the rest counted and said so on the page), event
 * times for the timeline up to a cap.
 * Every value from the wire is made valid UTF-8, stripped of control
 * characters and HTML-escaped (& < > " '), so it is inert in text, in
 * attribute values and in SVG text. The page's own script is a constant that
 * never reads markup from data (no innerHTML), and a Content-Security-Policy
 * allows only that script (by its hash) to run.
 */
#ifndef SIPWATCH_HTMLREPORT_H
#define SIPWATCH_HTMLREPORT_H

#include <stdio.h>

#include "sipwatch/event.h"
#include "sipwatch/types.h"

#define HTMLREPORT_DEFAULT_ROWS 2000
#define HTMLREPORT_DEFAULT_LADDERS 300
#define HTMLREPORT_MAX_TIMES 500000

struct htmlreport_config {
    const char *path;   /* the page to write (truncated) */
    size_t max_rows;    /* rows per table; 0 = HTMLREPORT_DEFAULT_ROWS */
    size_t max_ladders; /* flagged events drawn; 0 = HTMLREPORT_DEFAULT_LADDERS */
};

struct htmlreport;

/* Opens cfg->path for writing. NULL with errbuf filled on failure. */
struct htmlreport *htmlreport_new(const struct htmlreport_config *cfg, char errbuf[SW_ERRBUF_SIZE]);
/* Writes to a stream the caller owns (tests); cfg->path is ignored and
 * htmlreport_free does not close it. NULL on OOM. */
struct htmlreport *htmlreport_new_stream(FILE *f, const struct htmlreport_config *cfg);
/* Closes the file (if ours) and frees. NULL is fine. */
void htmlreport_free(struct htmlreport *h);

/* Takes one event (borrowed for the call); usable as sw_emit_fn. */
void htmlreport_emit(void *htmlreport, const struct sw_event *ev);

/* What main knows of the input (see summary_input). */
void htmlreport_input(struct htmlreport *h, size_t n_files, const char *iface, sw_time first,
                      sw_time last);

/* Writes the page (call once, after the final stats event) and flushes.
 * Returns 0, or -1 with errno set when the write failed. */
int htmlreport_write(struct htmlreport *h);

/* Appends s (NUL-terminated, borrowed; NULL writes nothing) to f escaped as
 * HTML text that is also safe in a quoted attribute value: invalid UTF-8
 * becomes U+FFFD, control characters '?', and & < > " ' character
 * references. At most max_bytes of the value are kept (cut at a character
 * boundary, "..." added). For tests and for the page itself. */
void htmlreport_escape(FILE *f, const char *s, size_t max_bytes);

#endif
