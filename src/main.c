/*
 * main.c - the command line: options, inputs and output, signals, privilege
 * drop, the read loop and exit codes. The only place that prints diagnostics
 * (one "sipwatch: ..." line on stderr) and, with capture.c, reads the wall
 * clock (live capture only, to run timers while the link is quiet).
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "sipwatch/capture.h"
#include "sipwatch/heplisten.h"
#include "sipwatch/metrics.h"
#include "sipwatch/ladder.h"
#include "sipwatch/htmlreport.h"
#include "sipwatch/pipeline.h"
#include "sipwatch/report.h"
#include "sipwatch/sipframe.h"
#include "sipwatch/sipmsg.h"
#include "sipwatch/summary.h"

#ifndef SIPWATCH_VERSION
#error "SIPWATCH_VERSION comes from meson.build (project version)"
#endif

static volatile sig_atomic_t g_stop, g_reopen;
static struct capture *g_cap; /* for on_signal: set before the handlers are installed */

static void on_signal(int sig)
{
    if (sig == SIGHUP) {
        g_reopen = 1;
    } else {
        g_stop = 1;
        if (g_cap != NULL)
            capture_break(g_cap);
    }
}

/* Output failures and recoveries (output.c tells, main prints). */
static void on_output_notice(void *ctx, const char *msg)
{
    (void)ctx;
    fprintf(stderr, "sipwatch: %s\n", msg);
}

static void die(const char *msg)
{
    fprintf(stderr, "sipwatch: %s\n", msg);
    exit(2);
}

static void usage(FILE *f)
{
    fprintf(f,
"Usage: sipwatch [options] -r FILE [-r FILE ...]\n"
"       sipwatch [options] -i INTERFACE\n"
"       sipwatch [options] --hep-listen [ADDR]:PORT [-i INTERFACE]\n"
"\n"
"Passive SIP analyser: reassembles SIP off the wire, follows dialogs and writes\n"
"one JSON event per line (transfer, user_not_found, scan, stats).\n"
"\n"
"Input:\n"
"  -r, --read FILE           read a pcap or pcapng file ('-' = stdin); repeat to read\n"
"                            several files in order as one timeline\n"
"  -i, --interface IFACE     capture live on IFACE\n"
"  -f, --filter BPF          capture filter; best none. 'port 5060' alone drops IP\n"
"                            fragments, and a filter for untagged traffic passes\n"
"                            nothing from VLAN or tunnelled mirrors (see README)\n"
"      --snaplen N           live snapshot length, 64-262144 (default 262144)\n"
"      --buffer-mb N         live kernel buffer in MiB, 1-4096 (default 32)\n"
"      --no-promisc          live: do not put the interface in promiscuous mode\n"
"      --hep-listen [ADDR]:PORT  receive HEP v2/v3 from capture agents on UDP and\n"
"                            TCP PORT (no root needed); repeatable; alone or with -i\n"
"Output:\n"
"  -o, --output FILE         write events to FILE (default stdout); SIGHUP reopens it\n"
"      --sensor NAME         the events' `host` (default: this host's name)\n"
"      --community-id-seed N Community ID seed, 0-65535 (default 0, as Zeek and\n"
"                            Suricata)\n"
"      --events LIST         event types to write, comma-separated\n"
"                            (transfer,user_not_found,scan,stats; default all)\n"
"      --summary             print a readable summary at the end (on stderr when events\n"
"                            go to stdout, else on stdout); default when stdout is a\n"
"                            terminal and no -o is given\n"
"      --report FILE.html    also write a self-contained HTML report of the run\n"
"      --stats-interval SEC  also write a stats event every SEC seconds of capture\n"
"                            time, 0-315360000 (default 0: only at the end; 300 live)\n"
"      --write-timeout SEC   exit 1 once writing events has failed for SEC seconds,\n"
"                            0-315360000 (disk full; default %.0f; 0 = at the\n"
"                            first failure)\n"
"      --metrics-file PATH   write the stats counters in Prometheus text format to\n"
"                            PATH (atomically, at every stats event)\n"
"      --ladder              print each event's message ladder as text (sngrep\n"
"                            style arrows) instead of JSON\n"
"Evidence (docs/evidence.md):\n"
"      --evidence DIR        write one pcap per event under DIR/YYYY-MM-DD/: the\n"
"                            frames of the event's Call-ID, as captured\n"
"      --evidence-events LIST  which events get a file: all, transfer,\n"
"                            user_not_found, scan, or transfer outcomes (no_notify,\n"
"                            ...); default every event but completed transfers\n"
"      --evidence-buffer-mb N  frames kept in memory for Call-IDs that may still\n"
"                            be flagged, 1-65536 MiB (default %zu)\n"
"      --evidence-max-mb N   bound on DIR, oldest files removed first, 0-10485760\n"
"                            MiB (default %llu; 0 = unbounded)\n"
        , (double)OUTPUT_DEFAULT_GIVE_UP / 1e6, EVIDENCE_DEFAULT_BUFFER_BYTES >> 20,
        (unsigned long long)(EVIDENCE_DEFAULT_MAX_DIR_BYTES >> 20));
    fprintf(f,
"Transfers (RFC 3515, 4488, 6665):\n"
"  Timeouts are seconds, more than 0 and at most 315360000 (decimals allowed).\n"
"      --notify-timeout SEC  accepted REFER without NOTIFY -> no_notify (default %.0f)\n"
"      --final-timeout SEC   accepted REFER without final sipfrag -> notify_incomplete\n"
"                            (default %.0f)\n"
"      --transaction-timeout SEC  request without final response (default %.0f)\n"
"      --max-transfers N     transfers followed at once, 1-100000000 (default %d)\n"
"Not-found users and scans:\n"
"      --scan-threshold N    distinct not-found users from one source, 1-1000000 ...\n"
"                            (default %d)\n"
"      --scan-window SEC     ... within SEC seconds make a scan event (default %.0f)\n"
"Decoding:\n"
"      --hep-port N          UDP/TCP port carrying HEP v2 in captures, 0-65535\n"
"                            (default %d; 0 = off); HEP3 is recognised on any port\n"
"      --max-msg-size N      largest SIP message reassembled, 512-16777216 bytes\n"
"                            (default %zu)\n"
"      --no-fast-path        run libosip2 on every message (slower; for checks)\n"
"      --no-read-ahead       read capture files on the analysing thread (one core;\n"
"                            default: a second thread reads regular files and\n"
"                            parses their datagrams ahead)\n"
"      --max-memory-mb N     one ceiling for the bytes every table holds, MiB\n"
"                            (%d..%d; default %zu); over it the oldest entries go\n"
"Process:\n"
"  -Z, --user USER           drop privileges to USER after opening inputs and output\n"
"  -h, --help                this help\n"
"  -V, --version             print the version\n"
"\n"
"Exit status: 0 when the input was read (a cut file is a warning), 2 on a usage\n"
"or input error, 1 when events could not be written (the reader went away,\n"
"writes failing for --write-timeout, or any event lost).\n",
        (double)TRACKER_DEFAULT_NOTIFY_TIMEOUT / 1e6, (double)TRACKER_DEFAULT_FINAL_TIMEOUT / 1e6,
        (double)TRACKER_DEFAULT_TRANSACTION_TIMEOUT / 1e6, TRACKER_DEFAULT_MAX_TRANSFERS,
        TRACKER_DEFAULT_SCAN_THRESHOLD, (double)TRACKER_DEFAULT_SCAN_WINDOW / 1e6,
        DECODE_DEFAULT_HEP_PORT, SIPFRAME_DEFAULT_MAX_MSG, SW_BUDGET_MIN_MB, SW_BUDGET_MAX_MB,
        SW_BUDGET_DEFAULT_CAP >> 20);
}

/* Seconds with up to 6 decimals, e.g. "32" or "0.5", into microseconds. */
static bool parse_seconds(const char *s, sw_time *out)
{
    sw_time whole = 0, frac = 0;
    int fdigits = 0;
    const char *p = s;
    if (*p == '\0')
        return false;
    for (; *p >= '0' && *p <= '9'; p++) {
        whole = whole * 10 + (*p - '0');
        if (whole > 10L * 365 * 86400)
            return false;
    }
    if (*p == '.') {
        for (p++; *p >= '0' && *p <= '9'; p++) {
            if (fdigits < 6) {
                frac = frac * 10 + (*p - '0');
                fdigits++;
            }
        }
    }
    if (*p != '\0' || p == s)
        return false;
    while (fdigits++ < 6)
        frac *= 10;
    *out = whole * SW_USEC_PER_SEC + frac;
    return true;
}

static bool parse_count(const char *s, unsigned long max, unsigned long *out)
{
    char *end;
    if (*s < '0' || *s > '9')
        return false;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno != 0 || *end != '\0' || v > max)
        return false;
    *out = v;
    return true;
}

/* Every range error names the range (`expect`), as --help does. */
static void bad_value(const char *opt, const char *val, const char *expect)
{
    char msg[512];
    snprintf(msg, sizeof msg, "invalid value '%s' for %s: expected %s", val, opt, expect);
    die(msg);
}

#define RANGE_SECONDS_POS "seconds, more than 0 and at most 315360000 (e.g. 32 or 0.5)"
#define RANGE_SECONDS_0 "seconds, 0 (off) to 315360000 (e.g. 300 or 0.5)"

/* A timeout: positive seconds (0 would settle every transfer at once). */
static void parse_timeout(const char *opt, const char *val, sw_time *out)
{
    if (!parse_seconds(val, out) || *out <= 0)
        bad_value(opt, val, RANGE_SECONDS_POS);
}

/* tcpdump's droproot: groups, gid, uid, then make sure root cannot come back. */
static void drop_privileges(const char *user)
{
    char msg[SW_ERRBUF_SIZE];
    struct passwd *pw = getpwnam(user);
    if (pw == NULL) {
        snprintf(msg, sizeof msg, "-Z %s: no such user", user);
        die(msg);
    }
    /* Already that user (a unit's User=, or run by hand): nothing to drop. */
    if (getuid() == pw->pw_uid && geteuid() == pw->pw_uid && getgid() == pw->pw_gid &&
        getegid() == pw->pw_gid)
        return;
    if (initgroups(pw->pw_name, pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 ||
        setuid(pw->pw_uid) != 0) {
        int e = errno;
        /* EPERM under a capability bounding set without them (systemd's
         * CapabilityBoundingSet=CAP_NET_RAW CAP_NET_ADMIN): say which. */
        const char *need = e == EPERM ? " (needs CAP_SETUID and CAP_SETGID; with systemd use "
                                        "User= instead of -Z)"
                                      : "";
        snprintf(msg, sizeof msg, "-Z %s: cannot drop privileges: %s%s", user, strerror(e), need);
        die(msg);
    }
    if (pw->pw_uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
        snprintf(msg, sizeof msg, "-Z %s: root privileges could be regained; refusing to run", user);
        die(msg);
    }
}

struct extra_ctx {
    struct capture *cap;     /* NULL with --hep-listen alone */
    struct report *rep;
    sw_time start;            /* wall clock at start */
    const char *const *inputs;
    size_t n_inputs;
    struct heplisten *hl;    /* NULL without --hep-listen */
    struct metrics *met;     /* NULL without --metrics-file */
    struct pipeline *pl;
};

static sw_time wall_now(void);

static void extra_counters(void *ctx, struct sw_counters *out)
{
    struct extra_ctx *x = ctx;
    sw_counters_group(out, "capture");
    if (x->cap != NULL)
        capture_counters(x->cap, out);
    sw_counters_group(out, "output");
    report_counters(x->rep, out);
    if (x->met != NULL)
        metrics_counters(x->met, out);
    if (x->hl != NULL) {
        sw_counters_group(out, "hep");
        heplisten_counters(x->hl, out);
    }
}

/* Events go to the reporter, then (stats only) to the metrics file. */
static void emit_all(void *ctx, const struct sw_event *ev)
{
    struct extra_ctx *x = ctx;
    report_emit(x->rep, ev);
    if (x->met != NULL && ev->type == SW_EVENT_STATS) {
        metrics_emit(x->met, ev);
        const char *err = metrics_take_error(x->met);
        if (err[0] != '\0')
            fprintf(stderr, "sipwatch: warning: %s\n", err);
    }
}

/* A record from a HEP agent: the wall clock is its arrival time. */
static bool on_hep_record(void *ctx, struct sw_bytes rec, const struct sw_addr *agent,
                          uint16_t port, sw_time now)
{
    struct extra_ctx *x = ctx;
    return pipeline_hep_record(x->pl, rec, agent, port, now);
}

static void run_info(void *ctx, struct sw_run_info *out)
{
    struct extra_ctx *x = ctx;
    out->version = SIPWATCH_VERSION;
    out->start_time = x->start;
    out->uptime = wall_now() - x->start;
    out->inputs = x->inputs;
    out->n_inputs = x->n_inputs;
}

static sw_time wall_now(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (sw_time)tv.tv_sec * SW_USEC_PER_SEC + tv.tv_usec;
}

/* --summary, --report (numbered apart from the options above). */
enum { OPT_SUMMARY = 0x200, OPT_REPORT };

/* Every sink of the events: the NDJSON reporter, the HTML report and the
 * summary (either may be NULL), in that order. */
struct sinks {
    struct extra_ctx *x; /* the reporter and the metrics file (emit_all) */
    struct report *rep;
    struct htmlreport *html;
    struct summary *sum;
    uint64_t events; /* not counting stats, for the progress line */
};

static void sinks_emit(void *ctx, const struct sw_event *ev)
{
    struct sinks *k = ctx;
    if (k->x != NULL)
        emit_all(k->x, ev);
    else
        report_emit(k->rep, ev);
    if (k->html != NULL)
        htmlreport_emit(k->html, ev);
    if (k->sum != NULL)
        summary_emit(k->sum, ev);
    if (ev->type != SW_EVENT_STATS)
        k->events++;
}

/* The progress line on a terminal's stderr, at most 4 times a second (wall
 * clock): percent of the input files, packets, events. `done` erases it. */
static void progress(struct capture *cap, uint64_t packets, uint64_t events, bool done)
{
    static sw_time last;
    uint64_t at, total;
    if (done) {
        if (last != 0)
            fputs("\r\033[K", stderr);
        return;
    }
    sw_time now = wall_now();
    if (now - last < SW_USEC_PER_SEC / 4 || !capture_progress(cap, &at, &total))
        return;
    last = now;
    fprintf(stderr, "\r\033[Ksipwatch: %3d%%  %" PRIu64 " packets  %" PRIu64 " events",
            (int)(total > 0 ? at * 100 / total : 0), packets, events);
}

enum {
    OPT_EVENTS = 256, OPT_NOTIFY_TIMEOUT, OPT_FINAL_TIMEOUT, OPT_TXN_TIMEOUT, OPT_MAX_TRANSFERS,
    OPT_SCAN_THRESHOLD, OPT_SCAN_WINDOW, OPT_HEP_PORT, OPT_MAX_MSG, OPT_NO_FAST_PATH,
    OPT_NO_READ_AHEAD,
    OPT_STATS_INTERVAL, OPT_SNAPLEN, OPT_BUFFER_MB, OPT_NO_PROMISC, OPT_SENSOR,
    OPT_COMMUNITY_ID_SEED, OPT_WRITE_TIMEOUT, OPT_MAX_MEMORY, OPT_HEP_LISTEN,
    OPT_METRICS_FILE, OPT_LADDER, OPT_EVIDENCE, OPT_EVIDENCE_EVENTS, OPT_EVIDENCE_BUFFER,
    OPT_EVIDENCE_MAX,
};

/* events_lost from the output's counters. */
static uint64_t events_lost(const struct report *rep)
{
    static struct sw_counters c;
    c.n = 0;
    c.group = NULL;
    report_counters(rep, &c);
    for (size_t i = 0; i < c.n; i++)
        if (strcmp(c.v[i].name, "events_lost") == 0)
            return c.v[i].value;
    return 0;
}


/* --ladder: events go to the text ladder instead of the JSON reporter. */
struct ladder_ctx {
    bool failed;
};

static void ladder_emit(void *ctx, const struct sw_event *ev)
{
    struct ladder_ctx *l = ctx;
    if (ladder_print(stdout, ev) != 0)
        l->failed = true;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "read", required_argument, NULL, 'r' },
        { "interface", required_argument, NULL, 'i' },
        { "filter", required_argument, NULL, 'f' },
        { "output", required_argument, NULL, 'o' },
        { "user", required_argument, NULL, 'Z' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { "events", required_argument, NULL, OPT_EVENTS },
        { "notify-timeout", required_argument, NULL, OPT_NOTIFY_TIMEOUT },
        { "final-timeout", required_argument, NULL, OPT_FINAL_TIMEOUT },
        { "transaction-timeout", required_argument, NULL, OPT_TXN_TIMEOUT },
        { "max-transfers", required_argument, NULL, OPT_MAX_TRANSFERS },
        { "scan-threshold", required_argument, NULL, OPT_SCAN_THRESHOLD },
        { "scan-window", required_argument, NULL, OPT_SCAN_WINDOW },
        { "hep-port", required_argument, NULL, OPT_HEP_PORT },
        { "max-msg-size", required_argument, NULL, OPT_MAX_MSG },
        { "no-fast-path", no_argument, NULL, OPT_NO_FAST_PATH },
        { "no-read-ahead", no_argument, NULL, OPT_NO_READ_AHEAD },
        { "stats-interval", required_argument, NULL, OPT_STATS_INTERVAL },
        { "summary", no_argument, NULL, OPT_SUMMARY },
        { "report", required_argument, NULL, OPT_REPORT },
        { "snaplen", required_argument, NULL, OPT_SNAPLEN },
        { "buffer-mb", required_argument, NULL, OPT_BUFFER_MB },
        { "no-promisc", no_argument, NULL, OPT_NO_PROMISC },
        { "sensor", required_argument, NULL, OPT_SENSOR },
        { "community-id-seed", required_argument, NULL, OPT_COMMUNITY_ID_SEED },
        { "write-timeout", required_argument, NULL, OPT_WRITE_TIMEOUT },
        { "max-memory-mb", required_argument, NULL, OPT_MAX_MEMORY },
        { "hep-listen", required_argument, NULL, OPT_HEP_LISTEN },
        { "metrics-file", required_argument, NULL, OPT_METRICS_FILE },
        { "ladder", no_argument, NULL, OPT_LADDER },
        { "evidence", required_argument, NULL, OPT_EVIDENCE },
        { "evidence-events", required_argument, NULL, OPT_EVIDENCE_EVENTS },
        { "evidence-buffer-mb", required_argument, NULL, OPT_EVIDENCE_BUFFER },
        { "evidence-max-mb", required_argument, NULL, OPT_EVIDENCE_MAX },
        { NULL, 0, NULL, 0 },
    };
    struct pipeline_config pcfg;
    pipeline_config_default(&pcfg);
    struct capture_config ccfg = { .snaplen = 262144, .promisc = true, .timeout_ms = 250,
                                   .buffer_mb = 32 };
    struct report_config rcfg = { .give_up = OUTPUT_DEFAULT_GIVE_UP,
                                  .notice = on_output_notice };
    const char **files = calloc((size_t)argc + 1, sizeof *files);
    size_t n_files = 0;
    const char *user = NULL;
    const char **hep_listen = calloc((size_t)argc + 1, sizeof *hep_listen);
    size_t n_hep_listen = 0;
    const char *metrics_path = NULL;
    bool stats_interval_set = false, ladder = false;
    struct ladder_ctx lctx = { false };
    unsigned long v;
    int c;
    bool want_summary = false;
    struct htmlreport_config hcfg = { 0 };

    if (files == NULL || hep_listen == NULL)
        die("out of memory");
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":r:i:f:o:Z:hV", longopts, NULL)) != -1) {
        switch (c) {
        case 'r': files[n_files++] = optarg; break;
        case 'i':
            if (ccfg.iface != NULL)
                die("only one -i INTERFACE is supported");
            ccfg.iface = optarg;
            break;
        case 'f': ccfg.bpf = optarg; break;
        case 'o': rcfg.path = optarg; break;
        case 'Z': user = optarg; break;
        case 'h':
            usage(stdout);
            free(files);
            free(hep_listen);
            return 0;
        case 'V':
            printf("sipwatch %s\n", SIPWATCH_VERSION);
            free(files);
            free(hep_listen);
            return 0;
        case OPT_EVENTS:
            if (!sw_event_mask_parse(optarg, &rcfg.event_mask))
                bad_value("--events", optarg,
                          "a comma-separated list of transfer, user_not_found, scan, stats");
            break;
        case OPT_NOTIFY_TIMEOUT:
            parse_timeout("--notify-timeout", optarg, &pcfg.tracker.notify_timeout);
            break;
        case OPT_FINAL_TIMEOUT:
            parse_timeout("--final-timeout", optarg, &pcfg.tracker.final_timeout);
            break;
        case OPT_TXN_TIMEOUT:
            parse_timeout("--transaction-timeout", optarg, &pcfg.tracker.transaction_timeout);
            break;
        case OPT_MAX_TRANSFERS:
            if (!parse_count(optarg, 100000000UL, &v) || v == 0)
                bad_value("--max-transfers", optarg, "a whole number from 1 to 100000000");
            pcfg.tracker.max_transfers = v;
            break;
        case OPT_SCAN_THRESHOLD:
            if (!parse_count(optarg, 1000000UL, &v) || v == 0)
                bad_value("--scan-threshold", optarg, "a whole number from 1 to 1000000");
            pcfg.tracker.scan_threshold = (unsigned)v;
            break;
        case OPT_SCAN_WINDOW:
            parse_timeout("--scan-window", optarg, &pcfg.tracker.scan_window);
            break;
        case OPT_HEP_PORT:
            if (!parse_count(optarg, 65535UL, &v))
                bad_value("--hep-port", optarg, "a port from 0 (off) to 65535");
            pcfg.decode.hep_port = (uint16_t)v;
            break;
        case OPT_MAX_MSG:
            if (!parse_count(optarg, 16UL << 20, &v) || v < 512)
                bad_value("--max-msg-size", optarg, "bytes, from 512 to 16777216");
            pcfg.max_msg = v;
            break;
        case OPT_NO_FAST_PATH: pcfg.sipmsg_flags |= SIPMSG_FULL; break;
        case OPT_NO_READ_AHEAD: ccfg.no_read_ahead = true; break;
        case OPT_SUMMARY: want_summary = true; break;
        case OPT_REPORT: hcfg.path = optarg; break;
        case OPT_STATS_INTERVAL:
            if (!parse_seconds(optarg, &pcfg.stats_interval))
                bad_value("--stats-interval", optarg, RANGE_SECONDS_0);
            stats_interval_set = true;
            break;
        case OPT_SNAPLEN:
            if (!parse_count(optarg, 262144UL, &v) || v < 64)
                bad_value("--snaplen", optarg, "bytes, from 64 to 262144");
            ccfg.snaplen = (int)v;
            break;
        case OPT_BUFFER_MB:
            if (!parse_count(optarg, 4096UL, &v) || v == 0)
                bad_value("--buffer-mb", optarg, "MiB, from 1 to 4096");
            ccfg.buffer_mb = (int)v;
            break;
        case OPT_NO_PROMISC: ccfg.promisc = false; break;
        case OPT_SENSOR:
            if (optarg[0] == '\0' || strlen(optarg) > 255)
                bad_value("--sensor", optarg, "a name of 1 to 255 bytes");
            rcfg.host = optarg;
            break;
        case OPT_COMMUNITY_ID_SEED:
            if (!parse_count(optarg, 65535UL, &v))
                bad_value("--community-id-seed", optarg, "a whole number from 0 to 65535");
            rcfg.community_id_seed = (uint16_t)v;
            break;
        case OPT_WRITE_TIMEOUT:
            if (!parse_seconds(optarg, &rcfg.give_up))
                bad_value("--write-timeout", optarg, RANGE_SECONDS_0);
            break;
        case OPT_MAX_MEMORY:
            if (!parse_count(optarg, SW_BUDGET_MAX_MB, &v) || v < SW_BUDGET_MIN_MB)
                bad_value("--max-memory-mb", optarg, "a whole number of MiB from 16 to 1048576");
            pcfg.max_memory = (size_t)v << 20;
            break;
        case OPT_HEP_LISTEN: hep_listen[n_hep_listen++] = optarg; break;
        case OPT_METRICS_FILE: metrics_path = optarg; break;
        case OPT_LADDER: ladder = true; break;
        case OPT_EVIDENCE:
            if (optarg[0] == '\0')
                bad_value("--evidence", optarg, "a directory");
            pcfg.evidence.dir = optarg;
            break;
        case OPT_EVIDENCE_EVENTS:
            if (!evidence_select_parse(optarg, &pcfg.evidence.select))
                bad_value("--evidence-events", optarg,
                          "a comma-separated list of all, transfer, user_not_found, scan and "
                          "transfer outcomes (no_notify, ...)");
            break;
        case OPT_EVIDENCE_BUFFER:
            if (!parse_count(optarg, 65536UL, &v) || v == 0)
                bad_value("--evidence-buffer-mb", optarg, "MiB, from 1 to 65536");
            pcfg.evidence.buffer_bytes = (size_t)v << 20;
            break;
        case OPT_EVIDENCE_MAX:
            if (!parse_count(optarg, 10485760UL, &v))
                bad_value("--evidence-max-mb", optarg, "MiB, from 0 (unbounded) to 10485760");
            pcfg.evidence.max_dir_bytes = (uint64_t)v << 20;
            break;
        case ':': {
            char msg[128];
            snprintf(msg, sizeof msg, "option %s needs a value (see --help)", argv[optind - 1]);
            die(msg);
            break;
        }
        default: {
            char msg[128];
            snprintf(msg, sizeof msg, "unknown option %s (see --help)", argv[optind - 1]);
            die(msg);
        }
        }
    }
    if (optind < argc) {
        char msg[256];
        snprintf(msg, sizeof msg, "unexpected argument '%s' (files are read with -r FILE)",
                 argv[optind]);
        die(msg);
    }
    if (ccfg.iface != NULL && n_files > 0)
        die("give either -r FILE or -i INTERFACE, not both");
    if (ccfg.iface == NULL && n_files == 0 && n_hep_listen == 0) {
        die("no input: give -r FILE, -i INTERFACE or --hep-listen [ADDR]:PORT (see --help)");
    }
    if (n_hep_listen > 0 && n_files > 0)
        die("--hep-listen receives live; it cannot be combined with -r FILE");
    ccfg.files = files;
    ccfg.n_files = n_files;
    ccfg.linktype_ok = decode_linktype_supported;

    sw_time start = wall_now();
    char hostname[256];
    if (rcfg.host == NULL && gethostname(hostname, sizeof hostname) == 0) {
        hostname[sizeof hostname - 1] = '\0';
        rcfg.host = hostname;
    }
    char errbuf[SW_ERRBUF_SIZE] = "", warnbuf[SW_ERRBUF_SIZE] = "";
    struct heplisten *hl = NULL;
    if (n_hep_listen > 0) {
        struct heplisten_config lcfg = { .max_conns = HEPLISTEN_DEFAULT_MAX_CONNS };
        hl = heplisten_new(&lcfg, on_hep_record, NULL);
        if (hl == NULL)
            die("out of memory");
        for (size_t i = 0; i < n_hep_listen; i++) {
            if (heplisten_add(hl, hep_listen[i], errbuf) != 0)
                die(errbuf);
        }
    }
    struct capture *cap = NULL;
    if (ccfg.iface != NULL || n_files > 0) {
        cap = capture_open(&ccfg, errbuf);
        if (cap == NULL)
            die(errbuf);
    }
    bool live = cap == NULL || capture_is_live(cap);
    /* Events as soon as they are known when someone waits for them: live,
     * or a pipe on stdin (`tcpdump -w - | sipwatch -r -`); output.c adds an
     * output that is a pipe, FIFO, socket or terminal. */
    rcfg.line_buffered = live || (cap != NULL && capture_input_is_stream(cap));
    struct report *rep = report_new(&rcfg, errbuf);
    if (rep == NULL) {
        capture_close(cap);
        die(errbuf);
    }
    struct metrics *met = NULL;
    if (metrics_path != NULL) {
        met = metrics_new(metrics_path, rcfg.host != NULL ? rcfg.host : "localhost", errbuf);
        if (met == NULL)
            die(errbuf);
    }
    bool events_to_stdout = rcfg.path == NULL || strcmp(rcfg.path, "-") == 0;
    struct sinks sinks = { .rep = rep };
    if (hcfg.path != NULL && (sinks.html = htmlreport_new(&hcfg, errbuf)) == NULL) {
        report_free(rep);
        capture_close(cap);
        die(errbuf);
    }
    if (want_summary || (events_to_stdout && isatty(STDOUT_FILENO))) {
        if ((sinks.sum = summary_new(0)) == NULL)
            die("out of memory");
    }
    bool show_progress = !live && isatty(STDERR_FILENO);
    sw_time first_ts = SW_TIME_NONE, last_ts = SW_TIME_NONE;
    if (user != NULL)
        drop_privileges(user);
    sw_hash_seed_init();
    if (sipmsg_global_init() != 0)
        die("cannot initialise the SIP parser");

    if (live && !stats_interval_set)
        pcfg.stats_interval = SW_SEC(300);
    /* inputs: the interface, else the files, else the --hep-listen addresses */
    struct extra_ctx xctx = { cap, rep, start,
                              ccfg.iface != NULL ? &ccfg.iface : n_files > 0 ? files : hep_listen,
                              ccfg.iface != NULL ? 1 : n_files > 0 ? n_files : n_hep_listen,
                              hl, met, NULL };
    pcfg.extra_counters = extra_counters;
    pcfg.run_info = run_info;
    pcfg.extra_ctx = &xctx;
    pcfg.in_iface = ccfg.iface;
    sinks.x = &xctx;
    struct pipeline *pl = ladder ? pipeline_new(&pcfg, ladder_emit, &lctx, errbuf)
                                 : pipeline_new(&pcfg, sinks_emit, &sinks, errbuf);
    if (pl == NULL)
        die(errbuf);
    xctx.pl = pl;
    /* Files read ahead on a second thread: it also parses their datagrams
     * ahead of this thread (pipeline_ahead). */
    struct pipeline_ahead *ahead = NULL;
    if (cap != NULL) {
        ahead = pipeline_ahead_new(&pcfg);
        if (ahead != NULL)
            capture_set_ahead(cap, pipeline_ahead, ahead, pipeline_ahead_max());
    }
    if (hl != NULL)
        heplisten_set_ctx(hl, &xctx);

    /* SIGHUP (logrotate) must interrupt nothing: SA_RESTART, and every read
     * and write is retried on EINTR anyway. SIGINT and SIGTERM are meant to
     * stop a read blocked on a quiet stdin: no SA_RESTART, and capture_break
     * tells capture.c not to retry. */
    g_cap = cap;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGHUP);
    sigaddset(&sa.sa_mask, SIGINT);
    sigaddset(&sa.sa_mask, SIGTERM);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    int rc = 0;
    uint64_t n_frames = 0;
    struct sw_frame fr;
    while (!g_stop) {
        if (hl != NULL) {
            /* HEP sockets and the live pcap fd (if any) in one poll; a frame
             * is read only when pcap says one is ready, so a quiet interface
             * never holds up the agents. */
            enum heplisten_result hr =
                heplisten_poll(hl, cap != NULL ? capture_fd(cap) : -1, 250, wall_now(), errbuf);
            if (hr == HEPLISTEN_ERROR) {
                fprintf(stderr, "sipwatch: %s\n", errbuf);
                rc = 2;
                break;
            }
            if (hr == HEPLISTEN_IDLE) {
                pipeline_set_origin(pl, NULL, 0); /* a quiet link: no frame behind it */
                pipeline_advance(pl, wall_now() - SW_USEC_PER_SEC);
            }
            if (hr != HEPLISTEN_EXTRA) {
                if (g_reopen) {
                    g_reopen = 0;
                    if (report_reopen(rep, errbuf) != 0)
                        fprintf(stderr, "sipwatch: warning: %s\n", errbuf);
                }
                if (report_last_errno(rep) == EPIPE) {
                    fprintf(stderr, "sipwatch: cannot write events: %s\n", strerror(EPIPE));
                    rc = 1;
                    break;
                }
                continue;
            }
        }
        enum capture_result cr = capture_next(cap, &fr, errbuf, warnbuf);
        if (warnbuf[0] != '\0')
            fprintf(stderr, "sipwatch: warning: %s\n", warnbuf);
        if (g_reopen) {
            g_reopen = 0;
            if (report_reopen(rep, errbuf) != 0)
                fprintf(stderr, "sipwatch: warning: %s\n", errbuf);
        }
        if (report_failed(rep)) {
            /* The reader of our output went away (a log shipper died, `| head`):
             * nothing we write can arrive any more; or writes have failed for
             * --write-timeout. */
            if (report_last_errno(rep) == EPIPE)
                fprintf(stderr, "sipwatch: cannot write events: %s\n", strerror(EPIPE));
            else
                fprintf(stderr, "sipwatch: cannot write events: %s for %.0f s; stopping\n",
                        strerror(report_last_errno(rep)), (double)rcfg.give_up / 1e6);
            rc = 1;
            break;
        }
        if (cr == CAPTURE_FRAME) {
            pipeline_set_origin(pl, fr.file, fr.number);
            pipeline_set_wire_len(pl, fr.wire_len);
            pipeline_set_ahead(pl, fr.ahead);
            pipeline_frame(pl, fr.linktype, fr.data, fr.ts);
            if (first_ts == SW_TIME_NONE)
                first_ts = fr.ts;
            last_ts = fr.ts;
            if (show_progress && (++n_frames & 1023) == 0)
                progress(cap, n_frames, sinks.events, false);
        } else if (cr == CAPTURE_IDLE) {
            pipeline_set_origin(pl, NULL, 0);
            /* A quiet link: let timers fire on the wall clock, which is what
             * live timestamps are. A second of slack keeps the clock behind
             * packets still queued in the kernel. */
            pipeline_advance(pl, wall_now() - SW_USEC_PER_SEC);
            report_poll(rep);
        } else if (cr == CAPTURE_END) {
            break;
        } else {
            fprintf(stderr, "sipwatch: %s\n", errbuf);
            rc = 2;
            break;
        }
    }
    if (show_progress)
        progress(cap, 0, 0, true);
    pipeline_finish(pl);
    pipeline_emit_stats(pl, true);
    pipeline_free(pl);
    /* Exit 1 when any event could not be written: what is still unwritten
     * now is lost at report_free, which says how many. */
    if ((report_flush(rep) != 0 || events_lost(rep) > 0) && rc == 0)
        rc = 1;
    if (ladder && (lctx.failed || fflush(stdout) != 0) && rc == 0) {
        fprintf(stderr, "sipwatch: error writing the ladder: %s\n", strerror(errno));
        rc = 1;
    }
    report_free(rep);
    if (sinks.html != NULL) {
        htmlreport_input(sinks.html, n_files, ccfg.iface, first_ts, last_ts);
        if (htmlreport_write(sinks.html) != 0) {
            fprintf(stderr, "sipwatch: error writing report %s: %s\n", hcfg.path,
                    strerror(errno));
            rc = 1;
        }
        htmlreport_free(sinks.html);
    }
    if (sinks.sum != NULL) {
        summary_input(sinks.sum, n_files, ccfg.iface, first_ts, last_ts);
        summary_print(sinks.sum, events_to_stdout ? stderr : stdout);
        summary_free(sinks.sum);
    }
    metrics_free(met);
    heplisten_free(hl);
    capture_close(cap); /* joins the reader thread: then the ahead can go */
    pipeline_ahead_free(ahead);
    sipmsg_global_free();
    free(files);
    free(hep_listen);
    return rc;
}
