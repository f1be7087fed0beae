/*
 * budget.h - one memory ceiling for every table (issue 10): the bytes each
 * stage holds for later (IP fragments, TCP out-of-order segments, partial
 * SIP messages, pending requests, transfers, settled keys, scan windows,
 * summary keys) are charged to one shared budget when they are allocated
 * and released when they are freed.
 *
 * The rule, for every table: when the budget is over its cap after a charge,
 * the table that charged evicts its own oldest entries (counted where that
 * table counts evictions today, and in memory_evictions) until it is back
 * under, or it holds only the new entry. So the total stays under the cap
 * plus at most one entry per table (a few KiB); per-table caps still apply.
 * Tables whose entries must not be evicted out of order (summary counts)
 * refuse new entries instead.
 *
 * A charge is the entry's real size: the allocation (fixed part + variable
 * strings as stored) plus SW_BUDGET_ENTRY_OVERHEAD for the allocator's header
 * and the entry's share of its hash table's buckets.
 *
 * One budget per pipeline, one thread: no atomics. A NULL budget (unit tests,
 * fuzz targets that build one stage) charges nothing.
 */
#ifndef SIPWATCH_BUDGET_H
#define SIPWATCH_BUDGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sipwatch/types.h"

#define SW_BUDGET_DEFAULT_CAP ((size_t)256 << 20) /* --max-memory-mb 256 */
#define SW_BUDGET_MIN_MB 16
#define SW_BUDGET_MAX_MB 1048576 /* 1 TiB */
#define SW_BUDGET_ENTRY_OVERHEAD 32

struct sw_budget {
    size_t used, peak, cap;
    uint64_t evictions; /* entries evicted to stay under cap (all tables) */
    uint64_t refused;   /* entries not stored because the budget was full */
};

static inline void sw_budget_init(struct sw_budget *b, size_t cap)
{
    b->used = b->peak = 0;
    b->cap = cap;
    b->evictions = b->refused = 0;
}

static inline void sw_budget_charge(struct sw_budget *b, size_t n)
{
    if (b == NULL)
        return;
    b->used += n;
    if (b->used > b->peak)
        b->peak = b->used;
}

static inline void sw_budget_release(struct sw_budget *b, size_t n)
{
    if (b == NULL)
        return;
    b->used = n <= b->used ? b->used - n : 0;
}

/* true if the budget is over its cap (never for a NULL budget) */
static inline bool sw_budget_over(const struct sw_budget *b)
{
    return b != NULL && b->used > b->cap;
}

/* true if `n` more bytes would go over the cap */
static inline bool sw_budget_full(const struct sw_budget *b, size_t n)
{
    return b != NULL && (b->used > b->cap || b->cap - b->used < n);
}

static inline void sw_budget_evicted(struct sw_budget *b)
{
    if (b != NULL)
        b->evictions++;
}

/* memory_bytes_held, memory_bytes_peak, memory_evictions, memory_refused */
static inline void sw_budget_counters(const struct sw_budget *b, struct sw_counters *out)
{
    sw_counters_add(out, "memory_bytes_held", b->used);
    sw_counters_add(out, "memory_bytes_peak", b->peak);
    sw_counters_add(out, "memory_evictions", b->evictions);
    sw_counters_add(out, "memory_refused", b->refused);
}

#endif
