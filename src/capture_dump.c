/*
 * capture_dump.c - writes evidence captures: libpcap's pcap_open_dead +
 * pcap_dump_open + pcap_dump, classic pcap with microsecond timestamps (the
 * precision sipwatch keeps, sw_time), snaplen 262144 as for live capture.
 * Frames go out byte for byte as captured, with their original length.
 */
#include "sipwatch/capture_dump.h"

#include <stdio.h>
#include <stdlib.h>

#include <pcap/pcap.h>

struct capture_dump {
    pcap_t *dead;
    pcap_dumper_t *dumper;
};

struct capture_dump *capture_dump_open(const char *path, int linktype,
                                       char errbuf[SW_ERRBUF_SIZE])
{
    struct capture_dump *d = calloc(1, sizeof *d);
    if (d == NULL) {
        snprintf(errbuf, SW_ERRBUF_SIZE, "out of memory");
        return NULL;
    }
    d->dead = pcap_open_dead_with_tstamp_precision(linktype, 262144, PCAP_TSTAMP_PRECISION_MICRO);
    if (d->dead == NULL) {
        snprintf(errbuf, SW_ERRBUF_SIZE, "pcap_open_dead failed");
        free(d);
        return NULL;
    }
    d->dumper = pcap_dump_open(d->dead, path);
    if (d->dumper == NULL) {
        snprintf(errbuf, SW_ERRBUF_SIZE, "%s: %s", path, pcap_geterr(d->dead));
        pcap_close(d->dead);
        free(d);
        return NULL;
    }
    return d;
}

void capture_dump_write(struct capture_dump *d, sw_time ts, struct sw_bytes bytes,
                        uint32_t orig_len)
{
    struct pcap_pkthdr h;
    sw_time sec = ts / SW_USEC_PER_SEC, usec = ts % SW_USEC_PER_SEC;
    if (usec < 0) {
        usec += SW_USEC_PER_SEC;
        sec--;
    }
    h.ts.tv_sec = (time_t)sec;
    h.ts.tv_usec = (suseconds_t)usec;
    h.caplen = (bpf_u_int32)bytes.n;
    h.len = orig_len < bytes.n ? (bpf_u_int32)bytes.n : orig_len;
    pcap_dump((u_char *)d->dumper, &h, bytes.p);
}

int capture_dump_close(struct capture_dump *d)
{
    if (d == NULL)
        return 0;
    int rc = 0;
    if (pcap_dump_flush(d->dumper) != 0)
        rc = -1;
    FILE *f = pcap_dump_file(d->dumper);
    if (f != NULL && ferror(f))
        rc = -1;
    pcap_dump_close(d->dumper);
    pcap_close(d->dead);
    free(d);
    return rc;
}
