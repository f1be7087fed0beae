/*
 * ladder.h - `--ladder`: prints the message ladder of each flagged event as
 * text, sngrep style: one column per endpoint (address:port, in order of
 * first appearance), one arrow per message with its time and start line.
 * A reporter like report.c, fed the same events; it writes to a FILE.
 */
#ifndef SIPWATCH_LADDER_H
#define SIPWATCH_LADDER_H

#include <stdio.h>

#include "sipwatch/event.h"

/* Prints the event (borrowed) if it is a transfer, user_not_found or scan
 * event; stats events print nothing. Returns 0, or -1 on a write error. */
int ladder_print(FILE *out, const struct sw_event *ev);

#endif
