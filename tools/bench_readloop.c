/*
 * bench_readloop.c - the baseline for tools/bench.py: the cheapest possible
 * reader of a capture file, a bare pcap_next_ex loop that touches every
 * byte's length and nothing else. sipwatch's speed is stated as a ratio to
 * this, measured in the same run on the same file.
 */
#include <stdio.h>

#include <pcap/pcap.h>

int main(int argc, char **argv)
{
    char err[PCAP_ERRBUF_SIZE];
    if (argc != 2) {
        fprintf(stderr, "usage: bench_readloop FILE\n");
        return 2;
    }
    pcap_t *p = pcap_open_offline(argv[1], err);
    if (p == NULL) {
        fprintf(stderr, "bench_readloop: %s\n", err);
        return 2;
    }
    struct pcap_pkthdr *h;
    const u_char *d;
    unsigned long long n = 0, bytes = 0;
    while (pcap_next_ex(p, &h, &d) == 1) {
        n++;
        bytes += h->caplen + d[0];
    }
    printf("%llu packets %llu bytes\n", n, bytes);
    pcap_close(p);
    return 0;
}
