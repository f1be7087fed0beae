/*
 * test_evidence.c - the evidence store: frames kept per Call-ID and written in
 * capture order, pooled fragments claimed later, the byte budget and its
 * eviction order (released, then normal, then pinned), completeness marks,
 * event selection, file names, atomic writes, DIR bounded (oldest removed).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>

#include <cmocka.h>

#include "sipwatch/evidence.h"

#define T0 (SW_SEC(1795891518))

static char tmpl[64];

static const char *mkdir_tmp(void)
{
    snprintf(tmpl, sizeof tmpl, "/tmp/sw-evidence-XXXXXX");
    assert_non_null(mkdtemp(tmpl));
    return tmpl;
}

static void rm_rf(const char *dir)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static struct evidence *mk(const char *dir, size_t budget, uint64_t max_dir)
{
    struct evidence_config cfg;
    evidence_config_default(&cfg);
    cfg.dir = dir;
    cfg.buffer_bytes = budget;
    cfg.max_dir_bytes = max_dir;
    char errbuf[SW_ERRBUF_SIZE];
    struct evidence *e = evidence_new(&cfg, errbuf);
    assert_non_null(e);
    return e;
}

static uint64_t ctr(const struct evidence *e, const char *name)
{
    struct sw_counters c;
    c.n = 0;
    c.group = NULL;
    evidence_counters(e, &c);
    for (size_t i = 0; i < c.n; i++)
        if (strcmp(c.v[i].name, name) == 0)
            return c.v[i].value;
    fail_msg("no counter %s", name);
    return 0;
}

/* One frame of `size` bytes filled with `fill`, carrying a message of call_id. */
static void frame_msg(struct evidence *e, uint64_t id, const char *call_id, size_t size,
                      uint8_t fill)
{
    static uint8_t buf[4096];
    memset(buf, fill, size);
    evidence_frame(e, id, 1, T0 + (sw_time)id * 1000, sw_bytes_make(buf, size), (uint32_t)size);
    if (call_id != NULL)
        evidence_message(e, call_id, &id, 1, true);
}

static struct sw_event nf_event(const char *call_id, sw_time ts)
{
    struct sw_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = SW_EVENT_USER_NOT_FOUND;
    ev.ts = ts;
    ev.call_id = call_id;
    ev.u.not_found.status = 404;
    return ev;
}

/* Reads a pcap written by the store: the number of records, their first
 * bytes and their times (microseconds). */
static size_t read_pcap(const char *path, uint8_t *first, sw_time *ts, size_t max)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    uint8_t gh[24];
    assert_int_equal(fread(gh, 1, 24, f), 24);
    assert_int_equal(gh[0], 0xd4); /* little-endian, microseconds */
    size_t n = 0;
    uint32_t h[4];
    while (fread(h, 4, 4, f) == 4) {
        uint8_t data[4096];
        assert_true(h[2] <= sizeof data);
        assert_int_equal(fread(data, 1, h[2], f), h[2]);
        if (n < max) {
            first[n] = data[0];
            ts[n] = (sw_time)h[0] * SW_USEC_PER_SEC + h[1];
        }
        n++;
    }
    fclose(f);
    return n;
}

static void test_select_parse(void **state)
{
    (void)state;
    uint32_t m;
    assert_true(evidence_select_parse("no_notify,user_not_found", &m));
    assert_true(m & (1u << (SW_EVENT__COUNT + SW_OUTCOME_NO_NOTIFY)));
    assert_false(m & (1u << (SW_EVENT__COUNT + SW_OUTCOME_COMPLETED)));
    assert_true(m & (1u << SW_EVENT_USER_NOT_FOUND));
    assert_false(m & (1u << SW_EVENT_SCAN));
    assert_true(evidence_select_parse("transfer", &m));
    assert_true(m & (1u << (SW_EVENT__COUNT + SW_OUTCOME_COMPLETED)));
    assert_true(evidence_select_parse("all", &m));
    assert_false(evidence_select_parse("stats", &m));
    assert_false(evidence_select_parse("bogus", &m));
    assert_false(evidence_select_parse("", &m));
    struct evidence_config cfg;
    evidence_config_default(&cfg);
    assert_false(cfg.select & (1u << (SW_EVENT__COUNT + SW_OUTCOME_COMPLETED)));
    assert_true(cfg.select & (1u << (SW_EVENT__COUNT + SW_OUTCOME_NOTIFY_INCOMPLETE)));
}

/* Frames of one call in capture order, the other call's frames left out;
 * a fragment pooled before its datagram completes is claimed with it. */
static void test_write_in_order(void **state)
{
    (void)state;
    const char *dir = mkdir_tmp();
    struct evidence *e = mk(dir, (size_t)1 << 20, 0);
    frame_msg(e, 1, "a@x", 100, 0xa1);
    frame_msg(e, 2, "b@x", 100, 0xb2);
    frame_msg(e, 3, NULL, 60, 0xf3); /* first fragment */
    evidence_frame_hold(e);
    frame_msg(e, 4, NULL, 60, 0xf4); /* second: completes a datagram of call a */
    evidence_frame_hold(e);
    uint64_t ids[2] = {3, 4};
    evidence_message(e, "a@x", ids, 2, true);
    struct sw_event ev = nf_event("a@x", T0 + 5000);
    evidence_event(e, &ev);
    assert_non_null(ev.evidence.path);
    assert_true(ev.evidence.complete);
    assert_non_null(strstr(ev.evidence.path, "-user_not_found-404-"));
    assert_int_equal(strncmp(ev.evidence.path, "2026-11-28/", 11), 0);
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, ev.evidence.path);
    uint8_t first[8];
    sw_time ts[8];
    assert_int_equal(read_pcap(path, first, ts, 8), 3);
    assert_int_equal(first[0], 0xa1);
    assert_int_equal(first[1], 0xf3);
    assert_int_equal(first[2], 0xf4);
    assert_int_equal(ts[0], T0 + 1000);
    assert_int_equal(ts[2], T0 + 4000);
    /* nothing half-written is left behind */
    char day[512];
    snprintf(day, sizeof day, "%s/2026-11-28", dir);
    DIR *d = opendir(day);
    assert_non_null(d);
    struct dirent *de;
    int files = 0;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] != '.')
            files++;
        else
            assert_true(strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0);
    }
    closedir(d);
    assert_int_equal(files, 1);
    assert_int_equal(ctr(e, "evidence_files_written"), 1);
    evidence_finish(e);
    assert_int_equal(ctr(e, "evidence_bytes_held"), 0);
    assert_int_equal(ctr(e, "evidence_frames_held"), 0);
    evidence_free(e);
    rm_rf(dir);
}

/* Over the budget, released Call-IDs go first, then normal ones (least
 * recently active first); pinned ones last. An evicted call seen again is
 * incomplete. */
static void test_budget_eviction_order(void **state)
{
    (void)state;
    const char *dir = mkdir_tmp();
    struct evidence *e = mk(dir, (size_t)64 << 10, 0); /* the smallest budget */
    evidence_keep(e, "pinned@x", 2);
    frame_msg(e, 1, "pinned@x", 4000, 1);
    evidence_keep(e, "normal@x", 1);
    frame_msg(e, 2, "normal@x", 4000, 2);
    frame_msg(e, 3, "released@x", 4000, 3); /* no keep verdict: released */
    uint64_t id = 4;
    /* fill with normal calls until something is evicted */
    char name[32];
    for (int i = 0; ctr(e, "evidence_calls_evicted") == 0 && i < 100; i++) {
        snprintf(name, sizeof name, "fill%d@x", i);
        evidence_keep(e, name, 1);
        frame_msg(e, id++, name, 4000, 9);
    }
    assert_int_equal(ctr(e, "evidence_calls_evicted"), 1);
    struct sw_event ev = nf_event("released@x", T0 + SW_SEC(1));
    evidence_event(e, &ev);
    assert_null(ev.evidence.path); /* gone first */
    assert_int_equal(ctr(e, "evidence_no_frames"), 1);
    /* more pressure: the oldest normal call goes, the pinned one stays */
    for (int i = 100; ctr(e, "evidence_calls_evicted") < 3 && i < 200; i++) {
        snprintf(name, sizeof name, "fill%d@x", i);
        evidence_keep(e, name, 1);
        frame_msg(e, id++, name, 4000, 9);
    }
    ev = nf_event("normal@x", T0 + SW_SEC(2));
    evidence_event(e, &ev);
    assert_null(ev.evidence.path);
    ev = nf_event("pinned@x", T0 + SW_SEC(3));
    evidence_event(e, &ev);
    assert_non_null(ev.evidence.path);
    assert_true(ev.evidence.complete);
    assert_true(ctr(e, "evidence_bytes_held") <= ((size_t)64 << 10));
    /* the evicted normal call comes back: its file is marked incomplete */
    frame_msg(e, id++, "normal@x", 100, 7);
    ev = nf_event("normal@x", T0 + SW_SEC(4));
    evidence_event(e, &ev);
    assert_non_null(ev.evidence.path);
    assert_false(ev.evidence.complete);
    assert_int_equal(ctr(e, "evidence_incomplete"), 1);
    evidence_free(e);
    rm_rf(dir);
}

/* Over the budget with no released Call-ID at all, a pooled fragment still
 * evicts the oldest ordinary call (an empty class is skipped). */
static void test_budget_no_released(void **state)
{
    (void)state;
    const char *dir = mkdir_tmp();
    struct evidence *e = mk(dir, (size_t)64 << 10, 0);
    char name[32];
    uint64_t id = 1;
    for (int i = 0; i < 15; i++) { /* ~60 KiB of ordinary calls */
        snprintf(name, sizeof name, "n%d@x", i);
        evidence_keep(e, name, 1);
        frame_msg(e, id++, name, 4000, 1);
    }
    assert_int_equal(ctr(e, "evidence_calls_evicted"), 0);
    for (int i = 0; i < 4; i++) {
        frame_msg(e, id++, NULL, 2000, 2);
        evidence_frame_hold(e);
    }
    assert_true(ctr(e, "evidence_calls_evicted") > 0);
    assert_true(ctr(e, "evidence_bytes_held") <= ((size_t)64 << 10));
    evidence_free(e);
    rm_rf(dir);
}

/* A message whose fragment already left the pool: incomplete, counted. */
static void test_pool_lost_fragment(void **state)
{
    (void)state;
    const char *dir = mkdir_tmp();
    struct evidence_config cfg;
    evidence_config_default(&cfg);
    cfg.dir = dir;
    cfg.buffer_bytes = (size_t)1 << 20;
    cfg.pool_bytes = 10000;
    char errbuf[SW_ERRBUF_SIZE];
    struct evidence *e = evidence_new(&cfg, errbuf);
    assert_non_null(e);
    frame_msg(e, 1, NULL, 3000, 1);
    evidence_frame_hold(e);
    for (uint64_t id = 2; id < 10; id++) { /* other traffic pushes it out */
        frame_msg(e, id, NULL, 3000, 2);
        evidence_frame_hold(e);
    }
    assert_true(ctr(e, "evidence_pool_evicted") > 0);
    frame_msg(e, 10, NULL, 100, 3);
    uint64_t ids[2] = {1, 10};
    evidence_message(e, "c@x", ids, 2, true);
    assert_int_equal(ctr(e, "evidence_frames_missing"), 1);
    struct sw_event ev = nf_event("c@x", T0 + SW_SEC(1));
    evidence_event(e, &ev);
    assert_non_null(ev.evidence.path);
    assert_false(ev.evidence.complete);
    evidence_free(e);
    rm_rf(dir);
}

/* Later frames of a flagged call (the ACK of a 404) are added to its file
 * once the call is quiet for a second; a completed transfer gets no file by
 * default. */
static void test_rewrite_and_selection(void **state)
{
    (void)state;
    const char *dir = mkdir_tmp();
    struct evidence *e = mk(dir, (size_t)1 << 20, 0);
    frame_msg(e, 1, "a@x", 100, 1);
    struct sw_event ev = nf_event("a@x", T0 + 1000);
    evidence_event(e, &ev);
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, ev.evidence.path);
    frame_msg(e, 2, "a@x", 100, 2); /* the ACK */
    evidence_advance(e, T0 + 2000);
    uint8_t first[4];
    sw_time ts[4];
    assert_int_equal(read_pcap(path, first, ts, 4), 1); /* not quiet yet */
    evidence_advance(e, T0 + SW_SEC(3));
    assert_int_equal(read_pcap(path, first, ts, 4), 2);
    assert_int_equal(ctr(e, "evidence_files_rewritten"), 1);

    struct sw_event x;
    memset(&x, 0, sizeof x);
    x.type = SW_EVENT_TRANSFER;
    x.ts = T0 + SW_SEC(4);
    x.call_id = "a@x";
    x.u.transfer.outcome = SW_OUTCOME_COMPLETED;
    evidence_event(e, &x);
    assert_null(x.evidence.path);
    x.u.transfer.outcome = SW_OUTCOME_NO_NOTIFY;
    evidence_event(e, &x);
    assert_non_null(x.evidence.path);
    assert_non_null(strstr(x.evidence.path, "-transfer-no_notify-"));
    evidence_free(e);
    rm_rf(dir);
}

/* DIR is bounded: the oldest files go first, also those found at start;
 * leftovers of an interrupted write are removed at start. */
static void test_dir_bound(void **state)
{
    (void)state;
    const char *dir = mkdir_tmp();
    char p[512];
    snprintf(p, sizeof p, "%s/2020-01-01", dir);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(p, sizeof p, "%s/2020-01-01/000000.000000-scan-00000000.pcap", dir);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    char junk[3000];
    memset(junk, 0, sizeof junk);
    fwrite(junk, 1, sizeof junk, f);
    fclose(f);
    char tmp[512];
    snprintf(tmp, sizeof tmp, "%s/2020-01-01/.x.pcap.tmp", dir);
    f = fopen(tmp, "wb");
    assert_non_null(f);
    fclose(f);
    struct evidence *e = mk(dir, (size_t)1 << 20, 5000);
    assert_int_not_equal(access(tmp, F_OK), 0);
    assert_int_equal(access(p, F_OK), 0);
    frame_msg(e, 1, "a@x", 1500, 1);
    struct sw_event ev = nf_event("a@x", T0 + 1000);
    evidence_event(e, &ev);
    assert_non_null(ev.evidence.path);
    /* 3000 + ~1540 bytes fit; the next file pushes the old one out */
    assert_int_equal(ctr(e, "evidence_files_removed"), 0);
    frame_msg(e, 2, "b@x", 1500, 2);
    ev = nf_event("b@x", T0 + 2000);
    evidence_event(e, &ev);
    assert_int_equal(ctr(e, "evidence_files_removed"), 1);
    assert_int_not_equal(access(p, F_OK), 0);
    evidence_free(e);
    rm_rf(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_select_parse),
        cmocka_unit_test(test_write_in_order),
        cmocka_unit_test(test_budget_eviction_order),
        cmocka_unit_test(test_budget_no_released),
        cmocka_unit_test(test_pool_lost_fragment),
        cmocka_unit_test(test_rewrite_and_selection),
        cmocka_unit_test(test_dir_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
