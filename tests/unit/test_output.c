/* test_output.c - the line sink: immediate or batched, whole lines, failure
 * episodes, a line cut by a failing write finished (pipe) or cut back (file),
 * reopen failures counted, EPIPE and give_up. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* F_GETPIPE_SZ */
#endif
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sipwatch/output.h"

static char notices[8][SW_ERRBUF_SIZE];
static int n_notices;

static void on_notice(void *ctx, const char *msg)
{
    (void)ctx;
    if (n_notices < 8)
        snprintf(notices[n_notices], SW_ERRBUF_SIZE, "%s", msg);
    n_notices++;
}

/* A line of exactly n bytes (newline included) with a numbered body. */
static const char *line_of(size_t n, unsigned k)
{
    static char buf[70000];
    memset(buf, 'a' + (int)(k % 26), n - 1);
    buf[n - 1] = '\n';
    return buf;
}

static char tmpdir[] = "/tmp/test_output.XXXXXX";

static void test_batched_file(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/batched.ndjson", tmpdir);
    char errbuf[SW_ERRBUF_SIZE];
    struct output_config cfg = {.path = path, .give_up = SW_SEC(60)};
    mode_t old = umask(022);
    struct output *o = output_open(&cfg, errbuf);
    umask(old);
    assert_non_null(o);
    assert_false(output_is_immediate(o)); /* a regular file */
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0640);
    for (unsigned i = 0; i < 100; i++)
        assert_int_equal(output_line(o, line_of(1000, i), 1000), 0);
    /* 64 KiB of whole lines went out (65 lines), the rest waits */
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 65000);
    assert_int_equal(output_flush(o), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 100000);
    struct output_stats os;
    output_stats(o, &os);
    assert_int_equal(os.lines, 100);
    assert_int_equal(os.errors, 0);
    output_free(o);
}

/* A pipe that takes part of a line and then nothing (non-blocking, full):
 * the rest of that line goes out first when it drains, never another line
 * glued to its start. */
static void test_pipe_partial_line_finished(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    int cap = fcntl(fds[1], F_GETPIPE_SZ);
    assert_true(cap > 0);
    assert_int_equal(fcntl(fds[1], F_SETFL, O_NONBLOCK), 0);
    fflush(stdout);
    int saved = dup(1);
    assert_int_equal(dup2(fds[1], 1), 1);
    close(fds[1]);
    char errbuf[SW_ERRBUF_SIZE];
    n_notices = 0;
    struct output_config cfg = {.give_up = SW_SEC(60), .notice = on_notice};
    struct output *o = output_open(&cfg, errbuf);
    dup2(saved, 1);
    close(saved);
    assert_non_null(o);
    assert_true(output_is_immediate(o)); /* a pipe */
    /* fill the pipe but one page, then a 10000-byte line (more than
     * PIPE_BUF, so not atomic): one page of it goes, then EAGAIN */
    size_t first = (size_t)cap - 4096;
    assert_int_equal(output_line(o, line_of(first, 0), first), 0);
    assert_int_equal(output_line(o, line_of(10000, 1), 10000), 1); /* held */
    assert_int_equal(output_line(o, line_of(500, 2), 500), -1);  /* dropped while failing */
    assert_int_equal(n_notices, 1);
    assert_non_null(strstr(notices[0], "cannot write events to stdout"));
    /* the reader drains the pipe */
    static char got[1 << 20];
    size_t have = 0;
    ssize_t k;
    assert_int_equal(fcntl(fds[0], F_SETFL, O_NONBLOCK), 0);
    while ((k = read(fds[0], got + have, sizeof got - have)) > 0)
        have += (size_t)k;
    assert_int_equal(have, first + 4096); /* a line cut inside: 4096 of its 10000 bytes */
    output_poll(o); /* retries: the 5904 bytes left of line 1 */
    assert_int_equal(n_notices, 2);
    assert_non_null(strstr(notices[1], "again after"));
    assert_non_null(strstr(notices[1], "1 events lost"));
    assert_int_equal(output_line(o, line_of(300, 3), 300), 0);
    output_free(o);
    while ((k = read(fds[0], got + have, sizeof got - have)) > 0)
        have += (size_t)k;
    close(fds[0]);
    assert_int_equal(have, first + 10000 + 300);
    /* every line whole: lengths first, 10000, 300 */
    assert_int_equal(got[first - 1], '\n');
    assert_int_equal(got[first + 9999], '\n');
    assert_int_equal(got[first + 10299], '\n');
    for (size_t i = first; i < first + 9999; i++)
        assert_int_equal(got[i], 'b');
}

static void test_epipe_is_fatal(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    signal(SIGPIPE, SIG_IGN);
    fflush(stdout);
    int saved = dup(1);
    assert_int_equal(dup2(fds[1], 1), 1);
    close(fds[1]);
    close(fds[0]);
    char errbuf[SW_ERRBUF_SIZE];
    n_notices = 0;
    struct output_config cfg = {.give_up = SW_SEC(60), .notice = on_notice};
    struct output *o = output_open(&cfg, errbuf);
    dup2(saved, 1);
    close(saved);
    assert_non_null(o);
    assert_int_equal(output_line(o, line_of(100, 0), 100), 1);
    assert_true(output_failed(o));
    assert_int_equal(output_last_errno(o), EPIPE);
    output_free(o);
    assert_int_equal(n_notices, 0); /* main says it */
}

static void test_give_up(void **state)
{
    (void)state;
    char errbuf[SW_ERRBUF_SIZE];
    n_notices = 0;
    struct output_config cfg = {.path = "/dev/full", .immediate = true,
                                .give_up = SW_USEC_PER_SEC / 5, .notice = on_notice};
    struct output *o = output_open(&cfg, errbuf);
    if (o == NULL)
        skip();
    assert_int_equal(output_line(o, line_of(100, 0), 100), 1);
    assert_false(output_failed(o));
    usleep(250000);
    assert_int_equal(output_line(o, line_of(100, 1), 100), -1);
    assert_true(output_failed(o));
    struct output_stats os;
    output_stats(o, &os);
    assert_int_equal(os.errors, 2);
    assert_int_equal(os.lost, 1);
    output_free(o); /* the held line is lost: counted and told */
    assert_int_equal(n_notices, 2);
    assert_non_null(strstr(notices[1], "1 events could not be written"));
}

static void test_reopen_failure_counted_and_retried(void **state)
{
    (void)state;
    char dir[256], moved[256], path[512];
    snprintf(dir, sizeof dir, "%s/logs", tmpdir);
    snprintf(moved, sizeof moved, "%s/logs.old", tmpdir);
    snprintf(path, sizeof path, "%s/ev.ndjson", dir);
    assert_int_equal(mkdir(dir, 0700), 0);
    char errbuf[SW_ERRBUF_SIZE];
    n_notices = 0;
    struct output_config cfg = {.path = path, .give_up = SW_SEC(60), .notice = on_notice};
    struct output *o = output_open(&cfg, errbuf);
    assert_non_null(o);
    assert_int_equal(output_line(o, line_of(10, 0), 10), 0);
    assert_int_equal(rename(dir, moved), 0);
    assert_int_equal(output_reopen(o, errbuf), -1);
    assert_non_null(strstr(errbuf, "cannot open output"));
    assert_non_null(strstr(errbuf, "trying again"));
    assert_int_equal(output_line(o, line_of(10, 1), 10), 0); /* to the old file */
    struct output_stats os;
    output_stats(o, &os);
    assert_int_equal(os.reopen_failures, 1);
    assert_int_equal(mkdir(dir, 0700), 0);
    assert_int_equal(output_reopen(o, errbuf), 0);
    assert_int_equal(n_notices, 1);
    assert_non_null(strstr(notices[0], "reopened"));
    assert_int_equal(output_line(o, line_of(10, 2), 10), 0);
    output_free(o);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 10);
    char old[512];
    snprintf(old, sizeof old, "%s/ev.ndjson", moved);
    assert_int_equal(stat(old, &st), 0);
    assert_int_equal(st.st_size, 20);
}

int main(void)
{
    if (mkdtemp(tmpdir) == NULL)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batched_file),
        cmocka_unit_test(test_pipe_partial_line_finished),
        cmocka_unit_test(test_epipe_is_fatal),
        cmocka_unit_test(test_give_up),
        cmocka_unit_test(test_reopen_failure_counted_and_retried),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
