/*
 * capture.h - where frames come from: a live interface, or capture files
 * (pcap and pcapng; "-" is stdin) read in order as one timeline.
 *
 * Owns: the pcap handles, the BPF program, the one frame being handed out.
 * A frame's bytes are valid until the next capture_next() call.
 */
#ifndef SIPWATCH_CAPTURE_H
#define SIPWATCH_CAPTURE_H

#include "sipwatch/types.h"

struct capture_config {
    const char *iface;        /* live capture, or NULL */
    const char *const *files; /* files to read in order (when iface is NULL) */
    size_t n_files;
    const char *bpf;          /* filter expression or NULL */
    int snaplen;              /* live; default 262144 */
    bool promisc;             /* live; default true */
    int timeout_ms;           /* live: how long capture_next waits; default 250 */
    int buffer_mb;            /* live: kernel buffer; default 32 */
    bool (*linktype_ok)(int dlt); /* refuse inputs of other link types; NULL = all */
    bool no_read_ahead;       /* files: read on the caller's thread, not a reader thread */
};

struct sw_frame {
    sw_time ts;
    int linktype;             /* DLT_* of the file or interface it came from */
    struct sw_bytes data;     /* captured bytes, valid until the next call */
    uint32_t wire_len;        /* original length on the wire */
    const char *file;         /* the file it came from as given ("-" stdin); NULL live.
                               * Valid until capture_close */
    uint64_t number;          /* files: 1-based record number in that file, counting
                               * records the filter dropped (tshark's frame.number) */
    struct sw_bytes ahead;    /* what the ahead hook wrote of it (capture_set_ahead),
                               * valid as long as data; {NULL, 0} if nothing */
};

enum capture_result {
    CAPTURE_FRAME = 0,  /* *f is filled */
    CAPTURE_IDLE,       /* live: no packet within timeout_ms (advance timers) */
    CAPTURE_END,        /* all input read */
    CAPTURE_ERROR,      /* errbuf says why; a cut file is a warning, not this */
};

struct capture;

/* A packet header's time as capture time. Hostile files (pcapng timestamps
 * are 64-bit) may hold any value: seconds are clamped to 0..9999-12-31 and
 * microseconds to 0..999999, so the arithmetic cannot overflow and every
 * timestamp can be written as RFC 3339. *clamped (may be NULL) is set when
 * it had to. */
sw_time capture_time_of(int64_t sec, int64_t usec, bool *clamped);

/* Opens every input up front (so a bad file fails before any output),
 * compiles and sets the filter. NULL with errbuf filled on failure. */
struct capture *capture_open(const struct capture_config *cfg, char errbuf[SW_ERRBUF_SIZE]);
void capture_close(struct capture *c);

/* Next frame. A file cut mid-record ends that file: the reason is put in
 * warnbuf (when non-NULL; "" otherwise) and reading goes on with the next. */
enum capture_result capture_next(struct capture *c, struct sw_frame *f,
                                 char errbuf[SW_ERRBUF_SIZE], char warnbuf[SW_ERRBUF_SIZE]);

/* Work on the read-ahead thread: with read-ahead (capture_config), fn is
 * called there for every frame, in order, before the frame is handed out;
 * it may write up to `cap` bytes about it into `out` and returns how many
 * (0: none), which capture_next hands out with the frame (sw_frame.ahead).
 * fn must touch nothing the caller's thread uses. Set it before the first
 * capture_next (the reader thread starts then); it is never called when
 * frames are read on the caller's thread. */
typedef size_t capture_ahead_fn(void *ctx, int linktype, struct sw_bytes frame, sw_time ts,
                                uint8_t *out, size_t cap);
void capture_set_ahead(struct capture *c, capture_ahead_fn *fn, void *ctx, size_t cap);

/* Live: the pcap selectable fd (or -1), to poll with other fds. */
int capture_fd(const struct capture *c);
/* Stops reading from a signal handler (pcap_breakloop; an interrupted read
 * of stdin is not retried any more). */
void capture_break(struct capture *c);
bool capture_is_live(const struct capture *c);
/* An input is stdin and stdin is not a regular file (a pipe, FIFO, socket
 * or terminal): events should be written as soon as they are known. */
bool capture_input_is_stream(const struct capture *c);
/* Files: bytes read so far of all inputs and their total size on disk, for a
 * progress display (the read position runs ahead of the frames handed out by
 * stdio's buffer). False when live or when an input is not a regular file. */
bool capture_progress(const struct capture *c, uint64_t *done, uint64_t *total);

/* frames, bytes, and live: pcap_received, pcap_dropped, pcap_if_dropped. */
void capture_counters(struct capture *c, struct sw_counters *out);

#endif
