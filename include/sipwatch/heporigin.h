/*
 * heporigin.h - which HEP agent saw each dialog: Call-ID -> the capture id and
 * address of the agent that sent its last HEP-carried message. An event fired
 * by a timer (a transfer whose NOTIFY never came) has no HEP record of its
 * own; this is how it still names the agent that captured the dialog.
 *
 * Owns: up to max entries (least recently noted evicted first), each with a
 * copy of its Call-ID. Only HEP-carried messages are noted, so a SPAN-only run
 * keeps nothing here.
 */
#ifndef SIPWATCH_HEPORIGIN_H
#define SIPWATCH_HEPORIGIN_H

#include "sipwatch/event.h"

#define HEPORIGIN_DEFAULT_MAX 65536

struct heporigin;

/* NULL on OOM. */
struct heporigin *heporigin_new(size_t max_entries);
void heporigin_free(struct heporigin *h);

/* Notes that `call_id` (borrowed, NUL-terminated) was last seen by this agent.
 * A failed allocation is ignored (the dialog's events then carry the origin
 * of their triggering message only). */
void heporigin_note(struct heporigin *h, const char *call_id, uint32_t capture_id,
                    const struct sw_addr *agent, uint16_t agent_port);

/* Fills o->hep* for `call_id` (borrowed; NULL finds nothing); false when unknown. */
bool heporigin_find(const struct heporigin *h, const char *call_id, struct sw_event_origin *o);

#endif
