/*
 * summary.h - the end-of-run summary for a person at a terminal: a sink fed
 * the same plain events as the NDJSON reporter (struct sw_event), which
 * tallies them and prints a short readable text at the end.
 *
 * Owns: its tallies and copies of the few rows it lists (flagged transfers,
 * scans), each bounded (at most `max_rows` rows, the rest counted; at most
 * SUMMARY_MAX_KEYS distinct users and sources, the rest counted as others).
 * Does not: read the wire, the clock or any module's state: what it knows
 * comes from events, the final stats event's counters (read by name; a
 * missing counter is skipped) and what main tells it of the input.
 * Text from the wire is made safe for a terminal (invalid UTF-8 and control
 * characters, escape sequences included, are replaced).
 */
#ifndef SIPWATCH_SUMMARY_H
#define SIPWATCH_SUMMARY_H

#include <stdio.h>

#include "sipwatch/event.h"
#include "sipwatch/types.h"

#define SUMMARY_DEFAULT_ROWS 20
#define SUMMARY_MAX_KEYS 4096
#define SUMMARY_TOP 10

struct summary;

/* max_rows: flagged transfers and scans listed in full (0 = default).
 * NULL on OOM. */
struct summary *summary_new(size_t max_rows);
void summary_free(struct summary *s);

/* Tallies one event (borrowed for the call); usable as sw_emit_fn. */
void summary_emit(void *summary, const struct sw_event *ev);

/* What main knows of the input: files read (n_files; 0 = live), the first
 * and last frame times (SW_TIME_NONE when no frame was read). */
void summary_input(struct summary *s, size_t n_files, const char *iface, sw_time first,
                   sw_time last);

/* True for a transfer outcome worth a person's look: every outcome but
 * completed and notify_not_requested, and a completion the transferor was
 * never told of. Shared with the HTML report. */
bool summary_transfer_flagged(const struct sw_event_transfer *x);

/* What was tallied, for other sinks (the HTML report): events of a type,
 * transfers of an outcome, not-found answers by status (404, 604, 0 =
 * other), a counter of the final stats event by name (false when absent). */
uint64_t summary_count(const struct summary *s, enum sw_event_type t);
uint64_t summary_outcome(const struct summary *s, enum sw_transfer_outcome o);
uint64_t summary_not_found_status(const struct summary *s, int status);
bool summary_counter(const struct summary *s, const char *name, uint64_t *v);
/* The most frequent not-found users (sources = false) or source addresses,
 * most hits first: fills out[0..max) with keys borrowed from s (valid until
 * the next summary_emit), returns how many; *others gets the hits of the
 * keys not returned. */
size_t summary_top(const struct summary *s, bool sources, struct sw_top_entry *out, size_t max,
                   uint64_t *others);

/* Writes the summary text to f. Returns 0, or -1 on a write error. */
int summary_print(const struct summary *s, FILE *f);

/* Copies `in` (NUL-terminated, borrowed) into out[cap] as text safe for a
 * terminal: invalid UTF-8 becomes U+FFFD, C0/C1 controls and DEL become '?',
 * and a value longer than cap-1 bytes is cut at a character boundary with
 * "..." at its end. NULL gives "-". Returns out. */
char *summary_safe_text(const char *in, char *out, size_t cap);

#endif
