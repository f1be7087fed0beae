/* tracker.c - STUB, replaced by the tracker work. */
#include "sipwatch/tracker.h"

#include <stdlib.h>
#include <string.h>

void tracker_config_default(struct tracker_config *cfg)
{
    cfg->notify_timeout = TRACKER_DEFAULT_NOTIFY_TIMEOUT;
    cfg->final_timeout = TRACKER_DEFAULT_FINAL_TIMEOUT;
    cfg->transaction_timeout = TRACKER_DEFAULT_TRANSACTION_TIMEOUT;
    cfg->linger = TRACKER_DEFAULT_LINGER;
    cfg->max_transfers = TRACKER_DEFAULT_MAX_TRANSFERS;
    cfg->max_transactions = TRACKER_DEFAULT_MAX_TRANSACTIONS;
    cfg->scan_threshold = TRACKER_DEFAULT_SCAN_THRESHOLD;
    cfg->scan_window = TRACKER_DEFAULT_SCAN_WINDOW;
    cfg->max_scan_sources = TRACKER_DEFAULT_MAX_SCAN_SOURCES;
    cfg->max_scan_users = TRACKER_DEFAULT_MAX_SCAN_USERS;
    cfg->max_summary_keys = TRACKER_DEFAULT_MAX_SUMMARY_KEYS;
}

struct tracker {
    struct tracker_config cfg;
    sw_emit_fn *emit;
    void *ctx;
};

struct tracker *tracker_new(const struct tracker_config *cfg, sw_emit_fn *emit, void *ctx)
{
    struct tracker *t = calloc(1, sizeof *t);
    if (t != NULL) {
        t->cfg = *cfg;
        t->emit = emit;
        t->ctx = ctx;
    }
    return t;
}

void tracker_free(struct tracker *t)
{
    free(t);
}

void tracker_on_msg(struct tracker *t, const struct sip_msg *m, const struct sw_tuple *tuple,
                    sw_time ts)
{
}

void tracker_advance(struct tracker *t, sw_time now)
{
}

void tracker_finish(struct tracker *t, sw_time now)
{
}

void tracker_summary(const struct tracker *t, struct sw_not_found_summary *nf,
                     struct sw_transfer_summary *xfer)
{
    memset(nf, 0, sizeof *nf);
    memset(xfer, 0, sizeof *xfer);
}

void tracker_counters(const struct tracker *t, struct sw_counters *out)
{
}
