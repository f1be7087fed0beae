/*
 * evidence.h - the evidence stage: keeps copies of the original frames that
 * carried each Call-ID's messages, within a byte budget, and writes one
 * capture file per flagged event (--evidence DIR).
 *
 * Owns: copies of frames (bytes as captured, capture time, link type,
 * original length), each shared by the Call-IDs whose messages it carried;
 * a FIFO pool of frames that went into a reassembly buffer (IP fragments,
 * TCP segments) before any message came out of them; the list of files
 * written under DIR (bounded by max_dir_bytes, oldest removed first).
 * Does not: decode anything, or decide which Call-IDs matter: the pipeline
 * hands it each message's frame ids and Call-ID, the tracker tells it which
 * Call-IDs can still be flagged (evidence_keep), events ask for their file.
 * The pcap writing itself is in capture_dump.c (libpcap stays in capture).
 */
#ifndef SIPWATCH_EVIDENCE_H
#define SIPWATCH_EVIDENCE_H

#include "sipwatch/event.h"
#include "sipwatch/types.h"

struct evidence_config {
    const char *dir;           /* --evidence DIR (borrowed; must outlive the store);
                                * the pipeline runs no evidence stage without it */
    size_t buffer_bytes;       /* frames held for all Call-IDs; default 64 MiB */
    size_t pool_bytes;         /* frames held in reassembly, not yet in a message;
                                * default 1/8 of buffer_bytes (part of it) */
    uint64_t max_dir_bytes;    /* files under DIR; default 1 GiB; 0 = unbounded */
    /* which events get a file: bit (1u << type) for user_not_found and scan,
     * bit (1u << (SW_EVENT__COUNT + outcome)) for each transfer outcome */
    uint32_t select;
};
#define EVIDENCE_DEFAULT_BUFFER_BYTES ((size_t)64 << 20)
#define EVIDENCE_DEFAULT_MAX_DIR_BYTES ((uint64_t)1 << 30)

/* Frame ids a message came from: at most this many are attributed (a
 * message cut into more segments than that is marked incomplete). */
#define EVIDENCE_MAX_IDS 128

/* Fills *cfg with the defaults (every event but completed transfers). */
void evidence_config_default(struct evidence_config *cfg);

/* Parses --evidence-events: a comma-separated list of "all", event types
 * ("transfer" = every outcome, "user_not_found", "scan") and transfer
 * outcome names ("no_notify", "completed", ...); false on an unknown name. */
bool evidence_select_parse(const char *list, uint32_t *select);

struct evidence;

/* A store (owned), or NULL with errbuf filled (DIR cannot be made or read). */
struct evidence *evidence_new(const struct evidence_config *cfg, char errbuf[SW_ERRBUF_SIZE]);
void evidence_free(struct evidence *e); /* NULL is fine; writes nothing */

/* The frame being handled: run-wide id (increasing), link type, capture
 * time, the captured bytes (borrowed until the next evidence_frame call) and
 * the original length. */
void evidence_frame(struct evidence *e, uint64_t id, int linktype, sw_time ts,
                    struct sw_bytes bytes, uint32_t orig_len);
/* The current frame's bytes went into a reassembly buffer (fragment, TCP
 * segment): keep a copy in the pool until a message claims it. */
void evidence_frame_hold(struct evidence *e);

/* A message of `call_id` (NUL-terminated, borrowed) came from the frames
 * `ids` (n of them, borrowed; the current frame or pooled ones). */
void evidence_message(struct evidence *e, const char *call_id, const uint64_t *ids, size_t n,
                      bool ids_complete);

/* The tracker's verdict on a Call-ID (tracker_keep levels: 0 release, 1
 * normal, 2 pin): released ones are evicted first, pinned ones last; 3: the
 * Call-ID belongs to the next event too (a scan's hits: its file holds their
 * frames, merged in capture order; such a file is not rewritten later). */
void evidence_keep(struct evidence *e, const char *call_id, int level);

/* An event on its way to the reporters: if selected, writes its file and
 * fills ev->evidence (path borrowed until the next evidence call). */
void evidence_event(struct evidence *e, struct sw_event *ev);

/* Rewrites files whose Call-IDs received frames after they were written
 * (the ACK of a 404, the answer to a last NOTIFY), once quiet for a second. */
void evidence_advance(struct evidence *e, sw_time now);
/* End of input: the rewrites still due, then frees every frame. */
void evidence_finish(struct evidence *e);

/* group "evidence": evidence_frames_held, evidence_bytes_held/_peak,
 * evidence_calls_active, evidence_calls_evicted, evidence_pool_evicted,
 * evidence_files_written, evidence_files_removed, evidence_incomplete, ... */
void evidence_counters(const struct evidence *e, struct sw_counters *out);

#endif
