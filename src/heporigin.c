/*
 * heporigin.c - Call-ID -> HEP agent (see heporigin.h): a uthash table with
 * an LRU list, capped in entries. Call-IDs are at most SIPMSG_MAX_CALLID - 1
 * bytes (sipmsg cuts them), so an entry costs under 400 bytes.
 */
#include "sipwatch/heporigin.h"

#include <stdlib.h>
#include <string.h>

#include <xxhash.h>
#define HASH_FUNCTION(keyptr, keylen, hashv)                                                       \
    (hashv) = (unsigned)XXH3_64bits_withSeed(keyptr, keylen, sw_hash_seed)
#include <uthash.h>

struct entry {
    UT_hash_handle hh;
    struct entry *prev, *next; /* LRU: head = most recent */
    uint32_t capture_id;
    struct sw_addr agent;
    uint16_t agent_port;
    char call_id[];
};

struct heporigin {
    struct entry *table, *head, *tail;
    size_t n, max;
};

struct heporigin *heporigin_new(size_t max_entries)
{
    struct heporigin *h = calloc(1, sizeof *h);
    if (h != NULL)
        h->max = max_entries ? max_entries : HEPORIGIN_DEFAULT_MAX;
    return h;
}

static void unlink_entry(struct heporigin *h, struct entry *e)
{
    if (e->prev != NULL)
        e->prev->next = e->next;
    else
        h->head = e->next;
    if (e->next != NULL)
        e->next->prev = e->prev;
    else
        h->tail = e->prev;
    e->prev = e->next = NULL;
}

static void push_front(struct heporigin *h, struct entry *e)
{
    e->prev = NULL;
    e->next = h->head;
    if (h->head != NULL)
        h->head->prev = e;
    h->head = e;
    if (h->tail == NULL)
        h->tail = e;
}

void heporigin_free(struct heporigin *h)
{
    if (h == NULL)
        return;
    struct entry *e, *tmp;
    HASH_ITER(hh, h->table, e, tmp) {
        HASH_DELETE(hh, h->table, e);
        free(e);
    }
    free(h);
}

void heporigin_note(struct heporigin *h, const char *call_id, uint32_t capture_id,
                    const struct sw_addr *agent, uint16_t agent_port)
{
    size_t len = strlen(call_id); /* our own bounded copy from sipmsg, not packet bytes */
    if (len == 0)
        return;
    struct entry *e = NULL;
    HASH_FIND(hh, h->table, call_id, len, e);
    if (e == NULL) {
        if (h->n == h->max) {
            struct entry *old = h->tail;
            unlink_entry(h, old);
            HASH_DELETE(hh, h->table, old);
            free(old);
            h->n--;
        }
        e = calloc(1, sizeof *e + len + 1);
        if (e == NULL)
            return;
        memcpy(e->call_id, call_id, len + 1);
        HASH_ADD(hh, h->table, call_id[0], len, e);
        h->n++;
    } else {
        unlink_entry(h, e);
    }
    push_front(h, e);
    e->capture_id = capture_id;
    e->agent = *agent;
    e->agent_port = agent_port;
}

bool heporigin_find(const struct heporigin *h, const char *call_id, struct sw_event_origin *o)
{
    if (call_id == NULL)
        return false;
    struct entry *e = NULL;
    HASH_FIND(hh, h->table, call_id, strlen(call_id), e);
    if (e == NULL)
        return false;
    o->hep = true;
    o->hep_capture_id = e->capture_id;
    o->hep_agent = e->agent;
    o->hep_agent_port = e->agent_port;
    return true;
}
