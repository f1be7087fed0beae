/*
 * fuzz_pipeline.c - the whole packet path on a capture file held in memory
 * (pcap_fopen_offline over fmemopen: no temp file): decode, reassembly,
 * framing, parsing, tracking, and the JSON of every event, which must parse
 * back. Short timeouts make the timers fire within small inputs. Every
 * other frame comes with its parse done ahead (pipeline_ahead, as the
 * read-ahead thread does it), so that both paths run on hostile frames.
 * When the input's last byte is odd the evidence stage runs too (every
 * event type, a small buffer so that it evicts): each file an event names
 * must be there and be a pcap; the files go after each input.
 */
#include <ftw.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <pcap/pcap.h>

#include "sipwatch/capture.h"
#include "sipwatch/pipeline.h"
#include "sipwatch/report.h"
#include "sipwatch/sipmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static FILE *sink_file;
static struct report *rep;

static char evdir[64];

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    if (ftw->level > 0)
        remove(path);
    return 0;
}

static void rm_evdir(void)
{
    nftw(evdir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

static void rm_evdir_at_exit(void)
{
    rm_evdir();
    rmdir(evdir);
}

/* An event's "evidence" file: there, a pcap (either byte order, micro or
 * nanoseconds). */
static void check_evidence(json_t *ev)
{
    json_t *f = json_object_get(ev, "evidence");
    if (f == NULL || json_is_null(f))
        return;
    if (!json_is_string(f))
        abort();
    char path[512];
    snprintf(path, sizeof path, "%s/%s", evdir, json_string_value(f));
    FILE *in = fopen(path, "rb");
    if (in == NULL)
        abort();
    uint8_t h[24];
    size_t n = fread(h, 1, sizeof h, in);
    fclose(in);
    uint32_t magic = (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 |
                     (uint32_t)h[3] << 24;
    if (n != sizeof h || (magic != 0xa1b2c3d4u && magic != 0xd4c3b2a1u && magic != 0xa1b23c4du &&
                          magic != 0x4d3cb2a1u))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool init;
    if (!init) {
        sipmsg_global_init();
        init = true;
    }
    if (size < 24)
        return 0;
    FILE *in = fmemopen((void *)data, size, "rb");
    if (in == NULL)
        return 0;
    char perr[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_fopen_offline(in, perr);
    if (p == NULL) {
        fclose(in);
        return 0;
    }
    char *out = NULL;
    size_t out_n = 0;
    sink_file = open_memstream(&out, &out_n);
    struct report_config rcfg = { 0 };
    rep = report_new_stream(sink_file, &rcfg);

    struct pipeline_config cfg;
    pipeline_config_default(&cfg);
    cfg.tracker.notify_timeout = SW_SEC(1);
    cfg.tracker.transaction_timeout = SW_SEC(2);
    cfg.tracker.final_timeout = SW_SEC(3);
    cfg.tracker.scan_threshold = 2;
    cfg.tracker.max_transfers = 4;
    cfg.tracker.max_transactions = 8;
    cfg.ipfrag.max_datagrams = 4;
    cfg.tcp.max_streams = 4;
    cfg.max_msg = 4096;
    bool with_evidence = (data[size - 1] & 1) != 0;
    if (with_evidence) {
        if (evdir[0] == '\0') {
            snprintf(evdir, sizeof evdir, "/tmp/fuzz-pipeline-evidence-XXXXXX");
            if (mkdtemp(evdir) == NULL)
                abort();
            atexit(rm_evdir_at_exit);
        }
        evidence_config_default(&cfg.evidence);
        cfg.evidence.dir = evdir;
        cfg.evidence.buffer_bytes = (size_t)64 << 10;
        cfg.evidence.pool_bytes = (size_t)8 << 10;
        cfg.evidence.max_dir_bytes = 0;
        if (!evidence_select_parse("all", &cfg.evidence.select))
            abort();
    }
    char err[SW_ERRBUF_SIZE];
    struct pipeline *pl = pipeline_new(&cfg, report_emit, rep, err);
    struct pipeline_ahead *ah = pipeline_ahead_new(&cfg);
    static uint8_t blob[16384];
    if (pipeline_ahead_max() > sizeof blob)
        abort();
    int dlt = pcap_datalink(p);
    struct pcap_pkthdr *h;
    const u_char *d;
    int n = 0;
    while (pl != NULL && n++ < 2000 && pcap_next_ex(p, &h, &d) == 1) {
        sw_time ts = capture_time_of((int64_t)h->ts.tv_sec, (int64_t)h->ts.tv_usec, NULL);
        struct sw_bytes f = sw_bytes_make(d, h->caplen);
        if (ah != NULL && (n & 1)) {
            size_t k = pipeline_ahead(ah, dlt, f, ts, blob, sizeof blob);
            if (k > sizeof blob)
                abort();
            pipeline_set_ahead(pl, sw_bytes_make(blob, k));
        }
        pipeline_frame(pl, dlt, f, ts);
    }
    pipeline_ahead_free(ah);
    if (pl != NULL) {
        pipeline_finish(pl);
        pipeline_emit_stats(pl, true);
    }
    pipeline_free(pl);
    pcap_close(p);
    report_free(rep);
    fclose(sink_file);
    /* every line must be a JSON object */
    char *line = out;
    while (line != NULL && *line != '\0') {
        char *nl = strchr(line, '\n');
        if (nl == NULL)
            abort(); /* a line must be written whole */
        json_error_t je;
        json_t *j = json_loadb(line, (size_t)(nl - line), 0, &je);
        if (j == NULL || !json_is_object(j))
            abort();
        if (with_evidence)
            check_evidence(j);
        json_decref(j);
        line = nl + 1;
    }
    free(out);
    if (with_evidence)
        rm_evdir();
    return 0;
}
