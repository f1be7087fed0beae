/*
 * capture_dump.h - frames out: writes a classic pcap file (microsecond
 * timestamps) with libpcap's pcap_dump, for the evidence stage. A sibling
 * of capture.c so that libpcap stays inside the capture module.
 */
#ifndef SIPWATCH_CAPTURE_DUMP_H
#define SIPWATCH_CAPTURE_DUMP_H

#include "sipwatch/types.h"

struct capture_dump;

/* Creates `path` (truncating it) for frames of DLT `linktype`; NULL with
 * errbuf filled on failure. */
struct capture_dump *capture_dump_open(const char *path, int linktype,
                                       char errbuf[SW_ERRBUF_SIZE]);
/* One frame: capture time, captured bytes (borrowed), original length. */
void capture_dump_write(struct capture_dump *d, sw_time ts, struct sw_bytes bytes,
                        uint32_t orig_len);
/* Flushes and closes; returns 0, or -1 if any write failed
 * (the file is then incomplete). NULL is fine (returns 0). */
int capture_dump_close(struct capture_dump *d);

#endif
