/*
 * fuzz_pipeline.c - the whole packet path on a capture file held in memory
 * (pcap_fopen_offline over fmemopen: no temp file): decode, reassembly,
 * framing, parsing, tracking, and the JSON of every event, which must parse
 * back. Short timeouts make the timers fire within small inputs. Every
 * other frame comes with its parse done ahead (pipeline_ahead, as the
 * read-ahead thread does it), so that both paths run on hostile frames.
 */
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
        json_decref(j);
        line = nl + 1;
    }
    free(out);
    return 0;
}
