/*
 * fuzz_htmlreport.c - a capture file held in memory through the whole
 * pipeline into the HTML report and the terminal summary (the sinks
 * --report and --summary add): whatever the wire holds, the page has exactly
 * one script (ours) and no element a header value could have opened, and
 * the summary holds no control character but newlines.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pcap/pcap.h>

#include "sipwatch/capture.h"
#include "sipwatch/htmlreport.h"
#include "sipwatch/pipeline.h"
#include "sipwatch/sipmsg.h"
#include "sipwatch/summary.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct sinks {
    struct htmlreport *html;
    struct summary *sum;
};

static void emit(void *ctx, const struct sw_event *ev)
{
    struct sinks *k = ctx;
    htmlreport_emit(k->html, ev);
    summary_emit(k->sum, ev);
}

static size_t count(const char *hay, size_t n, const char *needle)
{
    size_t c = 0, k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(hay + i, needle, k) == 0)
            c++;
    return c;
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
    char *page = NULL, *text = NULL;
    size_t page_n = 0, text_n = 0;
    FILE *pf = open_memstream(&page, &page_n);
    struct htmlreport_config hcfg = {NULL, 4, 2};
    struct sinks k = {htmlreport_new_stream(pf, &hcfg), summary_new(3)};
    if (k.html == NULL || k.sum == NULL)
        abort();

    struct pipeline_config cfg;
    pipeline_config_default(&cfg);
    cfg.tracker.notify_timeout = SW_SEC(1);
    cfg.tracker.transaction_timeout = SW_SEC(2);
    cfg.tracker.final_timeout = SW_SEC(3);
    cfg.tracker.scan_threshold = 2;
    cfg.tracker.max_transfers = 4;
    cfg.max_msg = 4096;
    char err[SW_ERRBUF_SIZE];
    struct pipeline *pl = pipeline_new(&cfg, emit, &k, err);
    int dlt = pcap_datalink(p);
    struct pcap_pkthdr *h;
    const u_char *d;
    int n = 0;
    while (pl != NULL && n++ < 2000 && pcap_next_ex(p, &h, &d) == 1) {
        sw_time ts = capture_time_of((int64_t)h->ts.tv_sec, (int64_t)h->ts.tv_usec, NULL);
        pipeline_frame(pl, dlt, sw_bytes_make(d, h->caplen), ts);
    }
    if (pl != NULL) {
        pipeline_finish(pl);
        pipeline_emit_stats(pl, true);
    }
    pipeline_free(pl);
    pcap_close(p);
    if (htmlreport_write(k.html) != 0)
        abort();
    htmlreport_free(k.html);
    fclose(pf);
    FILE *tf = open_memstream(&text, &text_n);
    summary_print(k.sum, tf);
    summary_free(k.sum);
    fclose(tf);

    if (count(page, page_n, "<script") != 1 || count(page, page_n, "</script") != 1 ||
        count(page, page_n, "<img") != 0 || count(page, page_n, "<iframe") != 0 ||
        memchr(page, '\0', page_n) != NULL)
        abort();
    for (size_t i = 0; i < text_n; i++) {
        unsigned char c = (unsigned char)text[i];
        if ((c < 0x20 && c != '\n') || c == 0x7f)
            abort();
    }
    free(page);
    free(text);
    return 0;
}
