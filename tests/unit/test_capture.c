/* test_capture.c - capture: files in order, precision, filters, errors, cut files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "sipwatch/capture.h"

static char tmpdir[256];

/* A classic pcap: magic selects micro (a1b2c3d4) or nano (a1b23c4d) seconds. */
static void write_pcap(const char *path, uint32_t magic, int linktype, int n, uint32_t sub,
                       size_t cut)
{
    uint8_t buf[4096];
    size_t len = 0;
    uint32_t hdr[6] = { magic, 0x00040002u, 0, 0, 65535, (uint32_t)linktype };
    memcpy(buf, hdr, sizeof hdr);
    len = sizeof hdr;
    for (int i = 0; i < n; i++) {
        uint32_t rec[4] = { 1700000000u + (uint32_t)i, sub, 60, 60 };
        memcpy(buf + len, rec, sizeof rec);
        len += sizeof rec;
        memset(buf + len, i + 1, 60);
        /* make it UDP over IPv4 over Ethernet for the BPF tests */
        static const uint8_t eth_ip_udp[] = {
            0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0x00,
            0x45, 0, 0, 46, 0, 1, 0, 0, 64, 17, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2,
            0x13, 0xc4, 0x13, 0xc4, 0, 26, 0, 0,
        };
        memcpy(buf + len, eth_ip_udp, sizeof eth_ip_udp);
        len += 60;
    }
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fwrite(buf, 1, len - cut, f);
    fclose(f);
}

static char *path_of(const char *name)
{
    static char p[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", tmpdir, name);
    return p[k];
}

static bool only_ethernet(int dlt)
{
    return dlt == 1;
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/sipwatch-test-capture-XXXXXX");
    return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int count_frames(struct capture *c, sw_time *first, sw_time *last, char *warn)
{
    struct sw_frame f;
    char err[SW_ERRBUF_SIZE], w[SW_ERRBUF_SIZE];
    int n = 0;
    enum capture_result r;
    if (warn != NULL)
        warn[0] = '\0';
    while ((r = capture_next(c, &f, err, w)) == CAPTURE_FRAME || w[0] != '\0') {
        if (w[0] != '\0' && warn != NULL)
            strcpy(warn, w);
        if (r != CAPTURE_FRAME)
            break;
        if (n == 0 && first != NULL)
            *first = f.ts;
        if (last != NULL)
            *last = f.ts;
        assert_int_equal(f.linktype, 1);
        assert_int_equal(f.data.n, 60);
        n++;
    }
    return n;
}

static void test_files_in_order(void **state)
{
    (void)state;
    char a[512], b[512];
    strcpy(a, path_of("a.pcap"));
    strcpy(b, path_of("b.pcap"));
    write_pcap(a, 0xa1b2c3d4u, 1, 3, 250000, 0);
    write_pcap(b, 0xa1b2c3d4u, 1, 2, 999999, 0);
    const char *files[] = { a, b };
    struct capture_config cfg = { .files = files, .n_files = 2, .linktype_ok = only_ethernet };
    char err[SW_ERRBUF_SIZE];
    struct capture *c = capture_open(&cfg, err);
    assert_non_null(c);
    sw_time first = 0, last = 0;
    assert_int_equal(count_frames(c, &first, &last, NULL), 5);
    assert_true(first == INT64_C(1700000000250000));
    assert_true(last == INT64_C(1700000001999999));
    struct sw_counters k = { .n = 0 };
    capture_counters(c, &k);
    assert_string_equal(k.v[0].name, "frames");
    assert_int_equal(k.v[0].value, 5);
    capture_close(c);
}

/* capture_progress: bytes of the regular files read so far against their
 * total size; the whole of both at the end. */
static void test_progress(void **state)
{
    (void)state;
    char a[512], b[512];
    strcpy(a, path_of("pa.pcap"));
    strcpy(b, path_of("pb.pcap"));
    write_pcap(a, 0xa1b2c3d4u, 1, 3, 0, 0);
    write_pcap(b, 0xa1b2c3d4u, 1, 2, 0, 0);
    struct stat sa, sb;
    assert_int_equal(stat(a, &sa), 0);
    assert_int_equal(stat(b, &sb), 0);
    const char *files[] = { a, b };
    struct capture_config cfg = { .files = files, .n_files = 2, .linktype_ok = only_ethernet };
    char err[SW_ERRBUF_SIZE];
    struct capture *c = capture_open(&cfg, err);
    assert_non_null(c);
    uint64_t done = 1, total = 0;
    assert_true(capture_progress(c, &done, &total));
    assert_int_equal(total, (uint64_t)(sa.st_size + sb.st_size));
    assert_true(done <= (uint64_t)sa.st_size);
    assert_int_equal(count_frames(c, NULL, NULL, NULL), 5);
    assert_true(capture_progress(c, &done, &total));
    assert_int_equal(done, total);
    capture_close(c);
}

static void test_nanosecond_file_gives_microseconds(void **state)
{
    (void)state;
    char *p = path_of("nano.pcap");
    write_pcap(p, 0xa1b23c4du, 1, 1, 123456789, 0);
    const char *files[] = { p };
    struct capture_config cfg = { .files = files, .n_files = 1 };
    char err[SW_ERRBUF_SIZE];
    struct capture *c = capture_open(&cfg, err);
    assert_non_null(c);
    sw_time first = 0;
    assert_int_equal(count_frames(c, &first, NULL, NULL), 1);
    assert_true(first == INT64_C(1700000000123456));
    capture_close(c);
}

static void test_linktype_refused(void **state)
{
    (void)state;
    char *p = path_of("usb.pcap");
    write_pcap(p, 0xa1b2c3d4u, 189, 1, 0, 0);
    const char *files[] = { p };
    struct capture_config cfg = { .files = files, .n_files = 1, .linktype_ok = only_ethernet };
    char err[SW_ERRBUF_SIZE] = "";
    assert_null(capture_open(&cfg, err));
    assert_non_null(strstr(err, "unsupported link type"));
}

static void test_filter(void **state)
{
    (void)state;
    char *p = path_of("f.pcap");
    write_pcap(p, 0xa1b2c3d4u, 1, 4, 0, 0);
    const char *files[] = { p };
    struct capture_config cfg = { .files = files, .n_files = 1, .bpf = "udp port 5060" };
    char err[SW_ERRBUF_SIZE] = "";
    struct capture *c = capture_open(&cfg, err);
    assert_non_null(c);
    assert_int_equal(count_frames(c, NULL, NULL, NULL), 4);
    capture_close(c);
    cfg.bpf = "tcp";
    c = capture_open(&cfg, err);
    assert_non_null(c);
    assert_int_equal(count_frames(c, NULL, NULL, NULL), 0);
    capture_close(c);
    cfg.bpf = "port port";
    assert_null(capture_open(&cfg, err));
    assert_non_null(strstr(err, "filter"));
}

static void test_cut_file_warns_and_goes_on(void **state)
{
    (void)state;
    char a[512], b[512];
    strcpy(a, path_of("cut.pcap"));
    strcpy(b, path_of("next.pcap"));
    write_pcap(a, 0xa1b2c3d4u, 1, 3, 0, 10); /* third record cut short */
    write_pcap(b, 0xa1b2c3d4u, 1, 2, 0, 0);
    const char *files[] = { a, b };
    struct capture_config cfg = { .files = files, .n_files = 2 };
    char err[SW_ERRBUF_SIZE], warn[SW_ERRBUF_SIZE];
    struct capture *c = capture_open(&cfg, err);
    assert_non_null(c);
    struct sw_frame f;
    int n = 0, warnings = 0;
    enum capture_result r;
    while ((r = capture_next(c, &f, err, warn)) == CAPTURE_FRAME) {
        n++;
        if (warn[0] != '\0') {
            warnings++;
            assert_non_null(strstr(warn, "cut.pcap"));
        }
    }
    assert_int_equal(r, CAPTURE_END);
    assert_int_equal(n, 4); /* 2 whole records of the cut file + 2 of the next */
    assert_int_equal(warnings, 1);
    capture_close(c);
}

static void test_time_clamped(void **state)
{
    (void)state;
    bool c = true;
    assert_true(capture_time_of(1700000000, 999999, &c) == INT64_C(1700000000999999));
    assert_false(c);
    assert_true(capture_time_of(INT64_C(253402300799), 0, &c) == INT64_C(253402300799000000));
    assert_false(c); /* the largest allowed */
    assert_true(capture_time_of(INT64_C(15998581767936), 5, &c) == INT64_C(253402300799000005));
    assert_true(c);
    assert_true(capture_time_of(-1, -1, &c) == 0);
    assert_true(c);
    assert_true(capture_time_of(0, 1000000, &c) == 999999);
    assert_true(c);
}

static void test_open_errors(void **state)
{
    (void)state;
    char err[SW_ERRBUF_SIZE];
    const char *missing[] = { path_of("missing.pcap") };
    struct capture_config cfg = { .files = missing, .n_files = 1 };
    assert_null(capture_open(&cfg, err));
    assert_non_null(strstr(err, "No such file"));
    const char *dir[] = { tmpdir };
    cfg.files = dir;
    assert_null(capture_open(&cfg, err));
    assert_non_null(strstr(err, "directory"));
    char *e = path_of("empty.pcap");
    FILE *f = fopen(e, "wb");
    fclose(f);
    const char *empty[] = { e };
    cfg.files = empty;
    assert_null(capture_open(&cfg, err));
    assert_non_null(strstr(err, "empty"));
    struct capture_config none = { .n_files = 0 };
    assert_null(capture_open(&none, err));
    const char *twice[] = { "-", "-" };
    struct capture_config tw = { .files = twice, .n_files = 2 };
    assert_null(capture_open(&tw, err));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_files_in_order),
        cmocka_unit_test(test_progress),
        cmocka_unit_test(test_nanosecond_file_gives_microseconds),
        cmocka_unit_test(test_linktype_refused),
        cmocka_unit_test(test_filter),
        cmocka_unit_test(test_cut_file_warns_and_goes_on),
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_time_clamped),
    };
    return cmocka_run_group_tests_name("capture", tests, setup, NULL);
}
