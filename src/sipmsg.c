/*
 * sipmsg.c - one framed SIP message -> struct sip_msg: the fast-path choice
 * and the only file that includes libosip2 (library osipparser2; never the
 * osip transaction layer).
 *
 * Every message goes through our scanner (sipscan.c). Only the messages that
 * can feed an event go through libosip2 as well (it costs many times the
 * scanner): REFER requests, NOTIFY requests of the `refer` event package,
 * responses whose CSeq method is REFER, and 404/604 responses; SIPMSG_FULL
 * sends every message there. For those, libosip2 is the authority for what it
 * parses well and the tracker reads - Call-ID, From/To tags, a 404/604's To
 * URI, Refer-To (as it splits the header), bodies including multipart - and
 * overrides the scanner's field when it produced a value. When libosip2 rejects a message the scanner
 * accepted, the scanner's fields stand (counted in osip_errors): an event is
 * never lost to libosip2's strictness. Messages libosip2 5.3 is known to
 * mishandle (a MIME part with two Content-Type headers leaks memory in it,
 * found by fuzzing; see sipscan_osip_hazard) are kept from it and counted
 * the same way.
 *
 * After sipmsg_parse, whatever it returns, every field of struct sip_msg is
 * defined: each char array holds a NUL-terminated string ("" when absent; the
 * bytes after the NUL are unspecified, so compare strings, not structs),
 * numbers are 0, sub_expires -1, enums *_ABSENT, bools false unless found.
 * After SIPMSG_INVALID the fields are defined but not meaningful.
 *
 * Differences kept on purpose: request_uri is always the scanner's (as sent);
 * libosip2 rebuilds a 404/604's To URI and decodes escapes of unreserved
 * characters ("%41lice" -> "Alice"), equivalent per RFC 3261 §19.1.4; other
 * URIs (From, a request's To) are the scanner's, as sent.
 *
 * A message is refused (SIPMSG_INVALID, sip_parse_errors) when its start line
 * is not a request or status line, it has no Call-ID, or no CSeq of a number
 * below 2^31 and a method: the tracker can match nothing without them.
 */
#include "sipwatch/sipmsg.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <osipparser2/osip_parser.h>
#include <osipparser2/osip_port.h>

#include "sipmsg_int.h"
#include "sipwatch/ascii.h"

/* libosip2 5.3 writes its parse errors to stdout (our NDJSON stream) unless a
 * trace hook is set; this one drops them. */
static void osip_trace_sink(const char *fi, int li, osip_trace_level_t level, const char *chfr,
                            va_list ap)
{
    (void)fi;
    (void)li;
    (void)level;
    (void)chfr;
    (void)ap;
}

/*
 * libosip2 allocates a few hundred small pieces per message and frees them
 * all in osip_message_free: through malloc/free that was about a tenth of the
 * program's instructions. Its allocator hooks (osip_set_allocators; Debian's
 * build calls them) get a bump arena instead:
 *
 * - a piece comes from the arena when it fits (at most ARENA_MAX_PIECE bytes,
 *   ARENA_SIZE in all), from malloc otherwise; free tells them apart by
 *   address and passes the others to free;
 * - the arena counts its live pieces and is reset only when the count falls
 *   to zero, i.e. when libosip2 has freed every piece it took. A piece it
 *   kept (leaked, or held across messages) keeps the arena from being
 *   reused, never handed out twice: the arena then fills up and pieces come
 *   from malloc, which is slower, not wrong;
 * - realloc grows the last piece in place, or moves it (the size is stored
 *   before each piece), keeping realloc's contract.
 *
 * Under AddressSanitizer plain malloc stays (ASan sees overflows and leaks in
 * every piece) unless SIPMSG_ARENA=1 is defined; then the arena poisons what
 * it does not hand out (its headers, its free space) so ASan still catches a
 * read past a piece or after the reset. One arena per thread: libosip2's
 * hooks are process-wide, and with read-ahead the reader thread parses
 * datagrams ahead of the analysing thread (sipmsg_pack_datagram); a piece
 * is freed on the thread that took it (osip_message_free follows its parse).
 */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SIPMSG_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(SIPMSG_ASAN)
#define SIPMSG_ASAN 1
#endif
#ifndef SIPMSG_ARENA
#ifdef SIPMSG_ASAN
#define SIPMSG_ARENA 0
#else
#define SIPMSG_ARENA 1
#endif
#endif

#if SIPMSG_ARENA
#ifdef SIPMSG_ASAN
#include <sanitizer/asan_interface.h>
#define ARENA_POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define ARENA_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define ARENA_POISON(p, n) ((void)(p), (void)(n))
#define ARENA_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define ARENA_SIZE ((size_t)256 * 1024)
#define ARENA_MAX_PIECE ((size_t)16 * 1024) /* bigger ones (the message copy) from malloc */
#define ARENA_ALIGN ((size_t)16)            /* as malloc's: alignof(max_align_t) */
#define ARENA_HDR ARENA_ALIGN               /* the piece's size, before it */

static _Thread_local _Alignas(16) unsigned char g_arena[ARENA_SIZE];
static _Thread_local size_t g_arena_top;  /* bytes handed out since the last reset */
static _Thread_local size_t g_arena_live; /* pieces not freed yet */
#ifdef SIPMSG_ASAN
static _Thread_local bool g_arena_poisoned; /* this thread's arena, once */
#endif

static bool arena_owns(const void *p)
{
    uintptr_t a = (uintptr_t)p, b = (uintptr_t)g_arena;
    return a >= b && a < b + ARENA_SIZE;
}

static size_t arena_size_of(const unsigned char *p)
{
    size_t n;
    ARENA_UNPOISON(p - ARENA_HDR, sizeof n);
    memcpy(&n, p - ARENA_HDR, sizeof n);
    ARENA_POISON(p - ARENA_HDR, sizeof n);
    return n;
}

static void arena_set_size(unsigned char *p, size_t n)
{
    ARENA_UNPOISON(p - ARENA_HDR, sizeof n);
    memcpy(p - ARENA_HDR, &n, sizeof n);
    ARENA_POISON(p - ARENA_HDR, sizeof n);
}

static size_t arena_round(size_t n)
{
    return (n + ARENA_ALIGN - 1) & ~(ARENA_ALIGN - 1);
}

static void *arena_malloc(size_t n)
{
#ifdef SIPMSG_ASAN
    if (!g_arena_poisoned) {
        ARENA_POISON(g_arena, ARENA_SIZE);
        g_arena_poisoned = true;
    }
#endif
    if (n <= ARENA_MAX_PIECE && ARENA_SIZE - g_arena_top >= ARENA_HDR + arena_round(n)) {
        unsigned char *p = g_arena + g_arena_top + ARENA_HDR;
        g_arena_top += ARENA_HDR + arena_round(n);
        g_arena_live++;
        ARENA_UNPOISON(p, n);
        arena_set_size(p, n);
        return p;
    }
    return malloc(n);
}

static void arena_free(void *p)
{
    if (p == NULL)
        return;
    if (!arena_owns(p)) {
        free(p);
        return;
    }
    ARENA_POISON(p, arena_size_of(p));
    if (--g_arena_live == 0)
        g_arena_top = 0;
}

static void *arena_realloc(void *p, size_t n)
{
    if (p == NULL)
        return arena_malloc(n);
    if (!arena_owns(p))
        return realloc(p, n);
    unsigned char *q = p;
    size_t old = arena_size_of(q);
    size_t end = (size_t)(q - g_arena) + arena_round(old);
    if (n <= old || (end == g_arena_top && n <= ARENA_MAX_PIECE &&
                     (size_t)(q - g_arena) + arena_round(n) <= ARENA_SIZE)) {
        /* shrink, or grow the last piece in place */
        if (end == g_arena_top)
            g_arena_top = (size_t)(q - g_arena) + arena_round(n);
        if (n < old)
            ARENA_POISON(q + n, old - n);
        else
            ARENA_UNPOISON(q, n);
        arena_set_size(q, n);
        return q;
    }
    void *m = arena_malloc(n);
    if (m == NULL)
        return NULL; /* p stays valid, as realloc leaves it */
    memcpy(m, q, old);
    arena_free(q);
    return m;
}
#endif

static bool g_init;

int sipmsg_global_init(void)
{
    if (g_init)
        return 0;
    /* Before parser_init(): its own setup may trace. Level 0 = no level
     * enabled; the sink catches whatever is traced regardless. */
    osip_trace_initialize_func(TRACE_LEVEL0, osip_trace_sink);
    if (parser_init() != 0)
        return -1;
    sipscan_global_init();
#if SIPMSG_ARENA
    osip_set_allocators(arena_malloc, arena_realloc, arena_free);
#endif
    g_init = true;
    return 0;
}

/* libosip2 5.3 has no parser_free(): parser_init() only fills static tables.
 * The allocators go back to malloc unless a piece is still out (its free
 * must come to us). */
void sipmsg_global_free(void)
{
#if SIPMSG_ARENA
    if (g_init && g_arena_live == 0) {
        osip_set_allocators(NULL, NULL, NULL);
        g_init = false;
    }
#endif
}

/* Overwrites a field the scanner filled; a cut the scanner already counted
 * (the field is full) is not counted twice. */
static void put_str(struct sip_msg *m, char *dst, size_t cap, const char *s)
{
    unsigned before = m->truncated_fields;
    bool was_full = strnlen(dst, cap) == cap - 1;
    sipscan_put(m, dst, cap, sw_bytes_make(s, strlen(s)));
    if (was_full)
        m->truncated_fields = before;
}

static void osip_uri_into(struct sip_msg *m, osip_uri_t *u, char *dst)
{
    char *s = NULL;
    if (u == NULL || osip_uri_to_str(u, &s) != 0 || s == NULL)
        return;
    if (s[0] != '\0')
        put_str(m, dst, SIPMSG_MAX_FIELD, s);
    osip_free(s);
}

static void osip_tag_into(struct sip_msg *m, osip_from_t *f, char *dst, uint64_t *hash)
{
    osip_generic_param_t *tag = NULL;
    if (f != NULL && osip_from_get_tag(f, &tag) == 0 && tag != NULL && tag->gvalue != NULL) {
        put_str(m, dst, SIPMSG_MAX_TOKEN * 2, tag->gvalue);
        *hash = sipmsg_key_hash(sw_bytes_make(tag->gvalue, strlen(tag->gvalue)),
                                SIPMSG_MAX_TOKEN * 2);
    }
}

static bool ct_is(const osip_content_type_t *ct, const char *type, const char *subtype)
{
    return ct != NULL && ct->type != NULL && ct->subtype != NULL &&
           strcasecmp(ct->type, type) == 0 &&
           (subtype == NULL || strcasecmp(ct->subtype, subtype) == 0);
}

/* The sipfrag status from libosip2's bodies: the message body itself when
 * its type is message/sipfrag, else the first multipart part of that type. */
static void osip_sipfrag(struct sip_msg *m, const osip_message_t *om)
{
    bool multi = ct_is(om->content_type, "multipart", NULL);
    if (!multi && !ct_is(om->content_type, "message", "sipfrag"))
        return;
    int n = osip_list_size(&om->bodies);
    for (int i = 0; i < n; i++) {
        const osip_body_t *b = osip_list_get(&om->bodies, i);
        if (b == NULL || b->body == NULL)
            continue;
        if (multi && !ct_is(b->content_type, "message", "sipfrag"))
            continue;
        int keep = m->sipfrag_status;
        m->sipfrag_status = 0;
        if (!sipscan_sipfrag(m, sw_bytes_make(b->body, b->length)))
            m->sipfrag_status = keep;
        return;
    }
}

static const osip_header_t *osip_header(const osip_message_t *om, const char *a, const char *b)
{
    osip_header_t *h = NULL;
    if (osip_message_header_get_byname(om, a, 0, &h) >= 0 && h != NULL)
        return h;
    h = NULL;
    if (osip_message_header_get_byname(om, b, 0, &h) >= 0 && h != NULL)
        return h;
    return NULL;
}

/*
 * libosip2 parses every header it knows whole (Via, Contact, Allow, CSeq ...,
 * a few allocations each) although we read only Call-ID, From, To, Refer-To
 * and the body from it: it gets a copy of the message without the other
 * header lines. Kept: the start line, those headers (long and compact names)
 * with Content-Type and Content-Length (its body parse reads them), every
 * line it would cut or name differently than our scanner (a CR before the
 * line's end, or no ':'), continuation lines with their header, the blank
 * line and the body as sent. What it parses is then parsed as before; a
 * dropped header that libosip2 would have refused no longer refuses the
 * whole message (the scanner keeps its own fields of it).
 */
static bool osip_wants(const uint8_t *l, size_t colon)
{
    size_t k = colon;
    while (k > 0 && ascii_is_ws(l[k - 1]))
        k--;
    const char *want;
    switch (k) { /* the header names kept, by length, long and compact forms */
    case 1:
        return memchr("iftrclIFTRCL", l[0], 12) != NULL;
    case 2:
        want = "to";
        break;
    case 4:
        want = "from";
        break;
    case 7:
        want = "call-id";
        break;
    case 8:
        want = "refer-to";
        break;
    case 12:
        want = "content-type";
        break;
    case 14:
        want = "content-length";
        break;
    default:
        return false;
    }
    return ascii_ieq(sw_bytes_make(l, k), want);
}

/* Copies into dst (room for raw.n bytes) the message libosip2 is given;
 * returns its length. head_len: start line + headers + blank line. A header
 * (its line and continuation lines) is kept or dropped whole. */
static size_t osip_reduce(struct sw_bytes raw, size_t head_len, uint8_t *dst)
{
    const uint8_t *p = raw.p;
    size_t pos = 0, out = 0, hstart = 0;
    while (pos < head_len && (p[pos] == '\r' || p[pos] == '\n'))
        pos++;
    bool first = true, keep = true;
    while (pos < head_len) {
        const uint8_t *lf = memchr(p + pos, '\n', head_len - pos);
        size_t next = lf != NULL ? (size_t)(lf - p) + 1 : head_len;
        size_t le = next - 1; /* the LF, or the CR before it */
        if (lf == NULL)
            le = head_len;
        else if (le > pos && p[le - 1] == '\r')
            le--;
        const uint8_t *l = p + pos;
        size_t n = le - pos;
        if (first || n == 0) {
            keep = true; /* the start line; the blank line */
        } else if (!ascii_is_ws(l[0])) {
            const uint8_t *colon = memchr(l, ':', n);
            hstart = pos;
            keep = colon == NULL || memchr(l, '\r', n) != NULL ||
                   osip_wants(l, (size_t)(colon - l));
        } else if (!keep && memchr(l, '\r', n) != NULL) {
            /* a continuation libosip2 would cut: its header goes whole */
            memcpy(dst + out, p + hstart, pos - hstart);
            out += pos - hstart;
            keep = true;
        }
        if (keep) {
            memcpy(dst + out, p + pos, next - pos);
            out += next - pos;
        }
        first = false;
        pos = next;
    }
    memcpy(dst + out, p + head_len, raw.n - head_len);
    return out + raw.n - head_len;
}

/* Runs libosip2 and overrides the fields it is the authority for. Returns
 * false if it rejected the message. */
static bool full_parse(struct sw_bytes raw, size_t head_len, struct sip_msg *m)
{
    uint8_t stackbuf[4096];
    uint8_t *buf = raw.n <= sizeof stackbuf ? stackbuf : malloc(raw.n);
    if (buf == NULL)
        return false;
    size_t n = osip_reduce(raw, SW_MIN(head_len, raw.n), buf);
    osip_message_t *om = NULL;
    if (osip_message_init(&om) != 0) {
        if (buf != stackbuf)
            free(buf);
        return false;
    }
    int rc = osip_message_parse(om, (const char *)buf, n);
    if (buf != stackbuf)
        free(buf);
    if (rc != 0) {
        osip_message_free(om);
        return false;
    }
    if (om->call_id != NULL && om->call_id->number != NULL) {
        /* libosip2 splits the Call-ID at '@': rebuild the whole value as
         * osip_call_id_to_str() does (the number, then '@' and the host if
         * there is one), without its allocation and sprintf */
        const char *num = om->call_id->number, *host = om->call_id->host;
        size_t nn = strlen(num), hn = host != NULL ? strlen(host) : 0;
        size_t k = nn + (host != NULL ? 1 + hn : 0);
        char stack[1024];
        char *s = k < sizeof stack ? stack : malloc(k + 1);
        if (s != NULL) {
            memcpy(s, num, nn);
            if (host != NULL) {
                s[nn] = '@';
                memcpy(s + nn + 1, host, hn);
            }
            s[k] = '\0';
            if (k > 0) {
                put_str(m, m->call_id, sizeof m->call_id, s);
                m->call_id_hash = sipmsg_key_hash(sw_bytes_make(s, k), sizeof m->call_id);
            }
            if (s != stack)
                free(s);
        }
    }
    /* The tags match dialogs; of the URIs the tracker reads only a 404/604's
     * To (the user that does not exist, when the request was not seen or
     * named no user): libosip2's text of the others would cost a rebuild
     * (osip_uri_to_str, ~2k instructions) for nothing; the scanner's stand. */
    if (om->from != NULL)
        osip_tag_into(m, om->from, m->from_tag, &m->from_tag_hash);
    if (om->to != NULL) {
        if (!m->is_request && (m->status == 404 || m->status == 604))
            osip_uri_into(m, om->to->url, m->to_uri);
        osip_tag_into(m, om->to, m->to_tag, &m->to_tag_hash);
    }
    /* Refer-To comes back as an unknown header, under its short name when
     * sent compact; its URI is cut out the same way as the scanner does. */
    const osip_header_t *h = osip_header(om, "refer-to", "r");
    if (h != NULL && h->hvalue != NULL) {
        m->refer_replaces = false;
        sipscan_refer_to(m, sw_bytes_make(h->hvalue, strlen(h->hvalue)));
    }
    osip_sipfrag(m, om);
    osip_message_free(om);
    return true;
}

static enum sipmsg_result parse(struct sw_bytes raw, unsigned flags, struct sip_msg *out,
                                struct sipmsg_stats *st, struct sipscan_info *cut)
{
    struct sipscan_info info;
    info.frame_max = cut != NULL ? cut->frame_max : 0;
    st->messages++;
    enum sipscan_result r = sipscan_parse(raw, (flags & SIPMSG_LAZY) && !(flags & SIPMSG_FULL),
                                          out, &info);
    raw.n = info.msg_len;
    if (cut != NULL)
        *cut = info;
    if (r != SIPSCAN_OK) {
        if (r == SIPSCAN_NUL)
            st->nul_bytes++;
        st->invalid++;
        return SIPMSG_INVALID;
    }
    if (out->is_request)
        st->requests++;
    else
        st->responses++;
    bool full = (flags & SIPMSG_FULL) || info.feeds_event;
    if (full && out->header_lines > SIPMSG_MAX_HEADER_LINES) {
        /* libosip2's header lists are quadratic: the scanner's fields stand */
        st->header_floods++;
        st->fast_path++;
    } else if (full) {
        st->full_parse++;
        out->full_parse = true;
        /* A message libosip2 is known to mishandle counts as refused. */
        if (sipscan_osip_hazard(raw, &info) || !full_parse(raw, info.head_len, out))
            st->osip_errors++;
    } else {
        st->fast_path++;
    }
    st->truncated_fields += out->truncated_fields;
    return SIPMSG_OK;
}

enum sipmsg_result sipmsg_parse(struct sw_bytes raw, unsigned flags, struct sip_msg *out,
                                struct sipmsg_stats *st)
{
    return parse(raw, flags, out, st, NULL);
}

enum sipmsg_result sipmsg_parse_datagram(struct sw_bytes dgram, size_t max_msg, unsigned flags,
                                         struct sip_msg *out, struct sipmsg_stats *st, size_t *len,
                                         unsigned *notes)
{
    struct sipscan_info info;
    info.frame_max = max_msg > 0 ? max_msg : 1;
    enum sipmsg_result r = parse(dgram, flags, out, st, &info);
    *len = info.msg_len;
    *notes = info.cut_notes;
    return r;
}

/* ---- parsing ahead ---------------------------------------------------- */

/* Every field of struct sip_msg (sipmsg.h): its strings, then the rest.
 * test_sipmsg's pack test fails when a field is missing here. */
#define SIPMSG_STRINGS(X)                                                                      \
    X(method) X(reason) X(request_uri) X(call_id) X(cseq_method) X(branch) X(from) X(to)       \
    X(from_uri) X(to_uri) X(from_tag) X(to_tag) X(user_agent) X(server) X(warning)             \
    X(refer_to) X(referred_by) X(event) X(subscription_state) X(sipfrag_reason)
#define SIPMSG_SCALARS(X)                                                                      \
    X(is_request) X(status) X(cseq) X(refer_replaces) X(refer_sub) X(has_event_id)           \
    X(event_id) X(substate) X(sub_expires) X(sipfrag_status) X(call_id_hash) X(branch_hash)  \
    X(from_tag_hash) X(to_tag_hash) X(header_lines) X(full_parse) X(truncated_fields)

struct pack_head {
    const uint8_t *p;       /* the datagram parsed: address and length */
    size_t n, max_msg, len; /* len, notes: sipmsg_parse_datagram's */
    unsigned flags, notes, result;
    uint32_t strings;       /* bit i: the i-th of SIPMSG_STRINGS follows (not "") */
    size_t size;            /* the whole blob */
    struct sipmsg_stats counts;
};

/* Strings are copied in 16-byte steps (a variable-length memcpy of a
 * short string compiled to `rep movsq`, ~30 cycles to start): a field's
 * size is a multiple of 16, so a copy rounded up stays in it, and a packing
 * ends with PACK_SLACK bytes so that one read from it does too. */
#define PACK_SLACK 16
#define SIZE_OK(f) _Static_assert(sizeof(((struct sip_msg *)0)->f) % 16 == 0, #f);
SIPMSG_STRINGS(SIZE_OK)
#undef SIZE_OK

static inline void copy16(void *dst, const void *src, size_t k)
{
    for (size_t i = 0; i < k; i += 16)
        memcpy((char *)dst + i, (const char *)src + i, 16);
}

#define COUNT_ONE(f) +1
_Static_assert(0 SIPMSG_STRINGS(COUNT_ONE) <= 32, "one bit per string in pack_head.strings");
_Static_assert(sizeof(struct pack_head) + sizeof(struct sip_msg) +
                       2 * (0 SIPMSG_STRINGS(COUNT_ONE)) + PACK_SLACK <=
                   SIPMSG_PACK_MAX,
               "SIPMSG_PACK_MAX holds any packing");

size_t sipmsg_pack_datagram(struct sw_bytes dgram, size_t max_msg, unsigned flags,
                            struct sip_msg *m, uint8_t *out, size_t cap)
{
    if (cap < SIPMSG_PACK_MAX)
        return 0;
    struct pack_head h;
    memset(&h, 0, sizeof h);
    h.p = dgram.p;
    h.n = dgram.n;
    h.max_msg = max_msg;
    h.flags = flags;
    h.result = sipmsg_parse_datagram(dgram, max_msg, flags, m, &h.counts, &h.len, &h.notes);
    uint8_t *o = out + sizeof h;
#define PUT_SCALAR(f)                                                                          \
    memcpy(o, &m->f, sizeof m->f);                                                             \
    o += sizeof m->f;
    SIPMSG_SCALARS(PUT_SCALAR)
#undef PUT_SCALAR
    uint32_t bit = 1;
#define PUT_STRING(f)                                                                          \
    if (m->f[0] != '\0') {                                                                     \
        uint16_t k = (uint16_t)strnlen(m->f, sizeof m->f - 1);                                 \
        h.strings |= bit;                                                                      \
        memcpy(o, &k, sizeof k);                                                               \
        copy16(o + sizeof k, m->f, k);                                                         \
        o += sizeof k + k;                                                                     \
    }                                                                                          \
    bit <<= 1;
    SIPMSG_STRINGS(PUT_STRING)
#undef PUT_STRING
    memset(o, 0, PACK_SLACK);
    h.size = (size_t)(o - out) + PACK_SLACK;
    memcpy(out, &h, sizeof h);
    return h.size;
}

static void counts_add(struct sipmsg_stats *st, const struct sipmsg_stats *d)
{
    st->messages += d->messages;
    st->requests += d->requests;
    st->responses += d->responses;
    st->fast_path += d->fast_path;
    st->full_parse += d->full_parse;
    st->invalid += d->invalid;
    st->osip_errors += d->osip_errors;
    st->nul_bytes += d->nul_bytes;
    st->truncated_fields += d->truncated_fields;
    st->header_floods += d->header_floods;
}

bool sipmsg_unpack_datagram(struct sw_bytes blob, struct sw_bytes dgram, size_t max_msg,
                            unsigned flags, struct sip_msg *out, struct sipmsg_stats *st,
                            size_t *len, unsigned *notes, enum sipmsg_result *r)
{
    struct pack_head h;
    if (blob.n < sizeof h)
        return false;
    memcpy(&h, blob.p, sizeof h);
    if (h.p != dgram.p || h.n != dgram.n || h.max_msg != max_msg || h.flags != flags ||
        h.size != blob.n)
        return false;
    const uint8_t *o = blob.p + sizeof h;
#define GET_SCALAR(f)                                                                          \
    memcpy(&out->f, o, sizeof out->f);                                                         \
    o += sizeof out->f;
    SIPMSG_SCALARS(GET_SCALAR)
#undef GET_SCALAR
    uint32_t bit = 1;
#define GET_STRING(f)                                                                          \
    if (h.strings & bit) {                                                                     \
        uint16_t k;                                                                            \
        memcpy(&k, o, sizeof k);                                                               \
        k = (uint16_t)SW_MIN((size_t)k, sizeof out->f - 1);                                    \
        copy16(out->f, o + sizeof k, k);                                                       \
        out->f[k] = '\0';                                                                      \
        o += sizeof k + k;                                                                     \
    } else {                                                                                   \
        out->f[0] = '\0';                                                                      \
    }                                                                                          \
    bit <<= 1;
    SIPMSG_STRINGS(GET_STRING)
#undef GET_STRING
    counts_add(st, &h.counts);
    *len = h.len;
    *notes = h.notes;
    *r = (enum sipmsg_result)h.result;
    return true;
}

static void copy_cstr(char *dst, size_t cap, const char *s, size_t n)
{
    if (cap == 0)
        return;
    n = SW_MIN(n, cap - 1);
    memcpy(dst, s, n);
    dst[n] = '\0';
}

void sipmsg_uri_user_host(const char *uri, char *user, size_t user_cap, char *host, size_t host_cap)
{
    if (user_cap > 0)
        user[0] = '\0';
    if (host_cap > 0)
        host[0] = '\0';
    if (uri == NULL)
        return;
    struct sw_bytes u = ascii_trim(sw_bytes_make(uri, strlen(uri)));
    if (u.n > 0 && u.p[0] == '<') {
        u.p++;
        u.n--;
        const uint8_t *gt = memchr(u.p, '>', u.n);
        if (gt != NULL)
            u.n = (size_t)(gt - u.p);
        u = ascii_trim(u);
    }
    bool tel = false;
    if (ascii_istarts(u, "sip:")) {
        u.p += 4, u.n -= 4;
    } else if (ascii_istarts(u, "sips:")) {
        u.p += 5, u.n -= 5;
    } else if (ascii_istarts(u, "tel:")) {
        u.p += 4, u.n -= 4;
        tel = true;
    }
    /* URI headers ('?...') may hold '@' (Replaces=id@host): not ours */
    const uint8_t *q = memchr(u.p, '?', u.n);
    if (q != NULL)
        u.n = (size_t)(q - u.p);
    if (tel) {
        /* tel: the subscriber number, parameters (phone-context) dropped */
        const uint8_t *sc = memchr(u.p, ';', u.n);
        copy_cstr(user, user_cap, (const char *)u.p, sc != NULL ? (size_t)(sc - u.p) : u.n);
        return;
    }
    const uint8_t *at = memchr(u.p, '@', u.n);
    struct sw_bytes hp = u;
    if (at != NULL) {
        /* userinfo: user [':' password], user parameters after ';' */
        size_t un = (size_t)(at - u.p);
        for (size_t i = 0; i < un; i++) {
            if (u.p[i] == ':' || u.p[i] == ';') {
                un = i;
                break;
            }
        }
        copy_cstr(user, user_cap, (const char *)u.p, un);
        hp.p = at + 1;
        hp.n = u.n - (size_t)(at + 1 - u.p);
    }
    size_t hn;
    if (hp.n > 0 && hp.p[0] == '[') {
        const uint8_t *rb = memchr(hp.p, ']', hp.n);
        hn = rb != NULL ? (size_t)(rb - hp.p) - 1 : hp.n - 1;
        copy_cstr(host, host_cap, (const char *)hp.p + 1, hn);
        return;
    }
    for (hn = 0; hn < hp.n; hn++)
        if (hp.p[hn] == ':' || hp.p[hn] == ';' || hp.p[hn] == '>' || ascii_is_ws(hp.p[hn]))
            break;
    copy_cstr(host, host_cap, (const char *)hp.p, hn);
}

void sipmsg_counters(const struct sipmsg_stats *st, struct sw_counters *out)
{
    sw_counters_add(out, "sip_messages", st->messages);
    sw_counters_add(out, "sip_requests", st->requests);
    sw_counters_add(out, "sip_responses", st->responses);
    sw_counters_add(out, "sip_fast_path", st->fast_path);
    sw_counters_add(out, "sip_full_parse", st->full_parse);
    sw_counters_add(out, "sip_parse_errors", st->invalid);
    sw_counters_add(out, "sip_osip_errors", st->osip_errors);
    sw_counters_add(out, "sip_nul_bytes", st->nul_bytes);
    sw_counters_add(out, "sip_truncated_fields", st->truncated_fields);
    sw_counters_add(out, "sip_header_flood", st->header_floods);
}
