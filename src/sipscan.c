/*
 * sipscan.c - sipwatch's own SIP scanner: the fast path that runs on every
 * message. One pass over the header lines (memchr for line ends), bounded
 * copies of the fields struct sip_msg carries, nothing allocated.
 *
 * Owns: nothing (stateless). Does not: validate URIs or header grammar beyond
 * what the tracker needs, decode percent-escapes, or look at SDP. libosip2
 * (sipmsg.c) re-parses the messages that feed events.
 *
 * RFC 3261 §7.3.1 (header folding: a line starting with SP/HTAB continues the
 * previous one; names are case-insensitive, whitespace allowed before ':'),
 * §7.5 (CRLFs before the start line are ignored), §20 (compact forms),
 * §20.16 (CSeq below 2^31); RFC 3515 / 3892 / 4488 (Refer-To, Referred-By,
 * Refer-Sub); RFC 6665 (Event id, Subscription-State); RFC 3420 (sipfrag);
 * RFC 2046 §5.1 (multipart boundaries).
 */
#include "sipmsg_int.h"

#include <string.h>

#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t on the stack */
#include <xxhash.h>

#include "sipwatch/ascii.h"
#include "sipwatch/sipframe.h"

#define CSEQ_MAX UINT64_C(2147483647) /* RFC 3261 §8.1.1.5: below 2^31 */
#define BOUNDARY_MAX 200              /* RFC 2046 allows 70; be lenient, not unbounded */

enum hdr {
    H_NONE = 0,
    H_CALLID,
    H_CSEQ,
    H_VIA,
    H_FROM,
    H_TO,
    H_UA,
    H_SERVER,
    H_WARNING,
    H_REFER_TO,
    H_REFERRED_BY,
    H_REFER_SUB,
    H_EVENT,
    H_SUBSTATE,
    H_CTYPE,
    H_CLEN,
    H_COUNT_
};

struct scan {
    struct sip_msg *m;
    struct sipscan_info *info;
    uint32_t seen;              /* bit per enum hdr: the first instance of a header wins */
    uint32_t folded;            /* bit per enum hdr: that first instance spans lines */
    struct sw_bytes v[H_COUNT_]; /* the first instance's value, read after the loop */
    bool cseq_ok;
    bool has_clen;
    uint64_t clen;
    /* the framer's reading of the last Content-Length line (set when
     * classify() names one): a number up to frame_max, clen_framed */
    bool clen_framed_ok;
    uint64_t clen_framed;
};

static inline bool is_lws(uint8_t c)
{
    return ascii_is_lws(c);
}

static inline struct sw_bytes sub(struct sw_bytes b, size_t from, size_t to)
{
    struct sw_bytes r = {b.p != NULL ? b.p + from : NULL, to - from};
    return r;
}

static const struct sw_bytes empty_view = {NULL, 0};

/* ascii_is_token as a table: header names are the scanner's hottest loop. */
static bool tok_table[256];
static bool tok_ready;
static void hnames_init(void);

static void tok_init(void)
{
    for (unsigned c = 0; c < 256; c++)
        tok_table[c] = ascii_is_token((uint8_t)c);
    hnames_init();
    tok_ready = true;
}

/* sipmsg_global_init(), before a second thread parses: the tables are only
 * read after this. */
void sipscan_global_init(void)
{
    if (!tok_ready)
        tok_init();
}

/* Case-insensitive comparison with a lowercase literal of known length:
 * letters match either case (OR 0x20 maps only 'A'-'Z' onto 'a'-'z'),
 * anything else exactly. */
static inline bool name_is(const uint8_t *s, const char *lower, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t c = (uint8_t)lower[i];
        uint8_t fold = (c >= 'a' && c <= 'z') ? 0x20 : 0;
        if ((uint8_t)(s[i] | fold) != c)
            return false;
    }
    return true;
}

#define NAME_IS(s, lit) name_is((s), (lit), sizeof(lit) - 1)

/* A tracked header name as 64-bit words, to compare 8 bytes at a time: a
 * byte matches when (byte | fold) == lower, fold being 0x20 on letters. */
struct hname {
    const char *lower;
    size_t len;
    uint64_t w[3], fold[3], keep[3];
};

enum hname_idx {
    N_CALLID, N_CSEQ, N_CLEN, N_CTYPE, N_FROM, N_TO, N_VIA, N_REFER_TO, N_REFER_SUB,
    N_REFERRED_BY, N_EVENT, N_SERVER, N_SUBSTATE, N_WARNING, N_UA, N_COUNT_
};

static struct hname hnames[N_COUNT_] = {
    [N_CALLID] = {"call-id", 7, {0}, {0}, {0}},
    [N_CSEQ] = {"cseq", 4, {0}, {0}, {0}},
    [N_CLEN] = {"content-length", 14, {0}, {0}, {0}},
    [N_CTYPE] = {"content-type", 12, {0}, {0}, {0}},
    [N_FROM] = {"from", 4, {0}, {0}, {0}},
    [N_TO] = {"to", 2, {0}, {0}, {0}},
    [N_VIA] = {"via", 3, {0}, {0}, {0}},
    [N_REFER_TO] = {"refer-to", 8, {0}, {0}, {0}},
    [N_REFER_SUB] = {"refer-sub", 9, {0}, {0}, {0}},
    [N_REFERRED_BY] = {"referred-by", 11, {0}, {0}, {0}},
    [N_EVENT] = {"event", 5, {0}, {0}, {0}},
    [N_SERVER] = {"server", 6, {0}, {0}, {0}},
    [N_SUBSTATE] = {"subscription-state", 18, {0}, {0}, {0}},
    [N_WARNING] = {"warning", 7, {0}, {0}, {0}},
    [N_UA] = {"user-agent", 10, {0}, {0}, {0}},
};

static void hnames_init(void)
{
    for (size_t i = 0; i < N_COUNT_; i++) {
        struct hname *h = &hnames[i];
        uint8_t w[24] = {0}, fold[24] = {0}, keep[24] = {0};
        SW_ASSERT(h->len <= sizeof w);
        for (size_t k = 0; k < h->len && k < sizeof w; k++) {
            uint8_t c = (uint8_t)h->lower[k];
            w[k] = c;
            fold[k] = (c >= 'a' && c <= 'z') ? 0x20 : 0;
            keep[k] = 0xff;
        }
        memcpy(h->w, w, sizeof w);
        memcpy(h->fold, fold, sizeof fold);
        memcpy(h->keep, keep, sizeof keep);
    }
}

/* Is the header name of line l[0..n) exactly h: its bytes, then a byte that
 * cannot continue a token (or the end of the line)? `avail` (>= n) bytes are
 * readable from l: whole words are read when they fit, the bytes past the
 * name masked off. */
static inline bool name_at(const uint8_t *l, size_t n, size_t avail, const struct hname *h,
                           size_t k)
{
    if (n < k)
        return false;
    if (avail >= ((k + 7) & ~(size_t)7)) {
        for (size_t i = 0; i * 8 < k; i++) {
            uint64_t x;
            memcpy(&x, l + 8 * i, 8);
            if (((x | h->fold[i]) & h->keep[i]) != h->w[i])
                return false;
        }
    } else if (!name_is(l, h->lower, k)) {
        return false;
    }
    return n == k || !tok_table[l[k]];
}

/* k: the name's length as a constant, so that the word loop unrolls */
#define NAME_AT(idx, k) name_at(l, n, avail, &hnames[idx], (k))

/*
 * The header a line starts (RFC 3261 §7.3.1: token, optional SP/HTAB, ':')
 * and its value after the colon. A header name is the longest token run at
 * the start of the line, so a name we track is recognised by its first byte
 * and a comparison or two; every other line - an untracked header or not a
 * header at all - is H_NONE without looking at its name any further.
 * `avail` (>= n) bytes are readable from l.
 */
static enum hdr classify(const uint8_t *l, size_t n, size_t avail, struct sw_bytes *val)
{
    enum hdr id = H_NONE;
    size_t k = 0;
    bool compact = n == 1 || !tok_table[l[1]];
    /* the second byte tells apart the names sharing a first one; OR 0x20
     * folds only letters, and the full comparison follows anyway */
    uint8_t c1 = n > 1 ? (uint8_t)(l[1] | 0x20) : 0;
    switch (l[0] | 0x20) { /* only 'A'-'Z' become letters this way */
    case 'c':
        if (compact)
            id = H_CTYPE, k = 1;
        else if (c1 == 'a' && NAME_AT(N_CALLID, 7))
            id = H_CALLID, k = 7;
        else if (c1 == 's' && NAME_AT(N_CSEQ, 4))
            id = H_CSEQ, k = 4;
        else if (c1 != 'o' || n < 12 || (l[7] != '-'))
            break;
        else if ((l[8] | 0x20) == 'l' && NAME_AT(N_CLEN, 14))
            id = H_CLEN, k = 14;
        else if ((l[8] | 0x20) == 't' && NAME_AT(N_CTYPE, 12))
            id = H_CTYPE, k = 12;
        break;
    case 'f':
        if (compact)
            id = H_FROM, k = 1;
        else if (NAME_AT(N_FROM, 4))
            id = H_FROM, k = 4;
        break;
    case 't':
        if (compact)
            id = H_TO, k = 1;
        else if (NAME_AT(N_TO, 2))
            id = H_TO, k = 2;
        break;
    case 'v':
        if (compact)
            id = H_VIA, k = 1;
        else if (NAME_AT(N_VIA, 3))
            id = H_VIA, k = 3;
        break;
    case 'i':
        if (compact)
            id = H_CALLID, k = 1;
        break;
    case 'l':
        if (compact)
            id = H_CLEN, k = 1;
        break;
    case 'r':
        if (compact)
            id = H_REFER_TO, k = 1; /* RFC 3515 */
        else if (c1 != 'e')
            break;
        else if (NAME_AT(N_REFER_TO, 8))
            id = H_REFER_TO, k = 8;
        else if (NAME_AT(N_REFER_SUB, 9))
            id = H_REFER_SUB, k = 9;
        else if (NAME_AT(N_REFERRED_BY, 11))
            id = H_REFERRED_BY, k = 11;
        break;
    case 'b':
        if (compact)
            id = H_REFERRED_BY, k = 1; /* RFC 3892 */
        break;
    case 'o':
        if (compact)
            id = H_EVENT, k = 1; /* RFC 6665 */
        break;
    case 'e':
        if (c1 == 'v' && NAME_AT(N_EVENT, 5))
            id = H_EVENT, k = 5;
        break;
    case 's':
        if (c1 == 'e' && NAME_AT(N_SERVER, 6))
            id = H_SERVER, k = 6;
        else if (c1 == 'u' && NAME_AT(N_SUBSTATE, 18))
            id = H_SUBSTATE, k = 18;
        break;
    case 'w':
        if (c1 == 'a' && NAME_AT(N_WARNING, 7))
            id = H_WARNING, k = 7;
        break;
    case 'u':
        if (c1 == 's' && NAME_AT(N_UA, 10))
            id = H_UA, k = 10;
        break;
    default:
        break;
    }
    if (id == H_NONE)
        return H_NONE;
    while (k < n && ascii_is_ws(l[k]))
        k++;
    if (k >= n || l[k] != ':')
        return H_NONE; /* not a header line: ignored, as its continuations */
    *val = sw_bytes_make(l + k + 1, n - k - 1);
    return id;
}

/* Bounded copy of a trimmed value; `multiline` when the value may hold the
 * line breaks of a folded header (which become SP, see sipscan_put). Inline:
 * a dozen copies per message, most of a few bytes, their caps constants. */
static inline void put_view(struct sip_msg *m, char *dst, size_t cap, struct sw_bytes v,
                            bool multiline)
{
    v = ascii_trim(v);
    size_t n = v.n < cap - 1 ? v.n : cap - 1;
    if (n < v.n)
        m->truncated_fields++;
    if (n > 0)
        memcpy(dst, v.p, n);
    dst[n] = '\0';
    /* Folded values keep their line breaks inside; libosip2 turns each CR
     * and LF into SP, and so do we, so that both parsers agree. (A CR alone
     * cannot be inside: lines end at LF and the CR before it is cut.) */
    if (multiline && n > 0 && memchr(dst, '\n', n) != NULL) {
        for (size_t i = 0; i < n; i++)
            if (dst[i] == '\r' || dst[i] == '\n')
                dst[i] = ' ';
    }
}

void sipscan_put(struct sip_msg *m, char *dst, size_t cap, struct sw_bytes v)
{
    put_view(m, dst, cap, v, true);
}

/* As put_view copies: a value holding an LF (folded) has each CR and LF as
 * SP; any other value is hashed as it is. */
static uint64_t key_hash(struct sw_bytes v, bool multiline)
{
    if (v.n == 0)
        return 0;
    if (!multiline || memchr(v.p, '\n', v.n) == NULL)
        return XXH3_64bits_withSeed(v.p, v.n, sw_hash_seed);
    XXH3_state_t st;
    uint8_t buf[256];
    /* A state on the stack must be initialised before a reset with a seed:
     * the reset skips deriving the secret when the state's seed already
     * equals it, and stack garbage (an earlier call's state) can. Without
     * this a folded key's hash depended on what the stack held before
     * (found by fuzz_sipmsg comparing two parses of one message). */
    XXH3_INITSTATE(&st);
    XXH3_64bits_reset_withSeed(&st, sw_hash_seed);
    for (size_t i = 0; i < v.n;) {
        size_t k = SW_MIN(v.n - i, sizeof buf);
        for (size_t j = 0; j < k; j++)
            buf[j] = v.p[i + j] == '\r' || v.p[i + j] == '\n' ? ' ' : v.p[i + j];
        XXH3_64bits_update(&st, buf, k);
        i += k;
    }
    return XXH3_64bits_digest(&st);
}

uint64_t sipmsg_key_hash(struct sw_bytes v, size_t cap)
{
    v = ascii_trim(v);
    return v.n >= cap ? key_hash(v, true) : 0;
}

/* A key field: the bounded copy, and the hash of the whole value when the
 * copy had to cut it (a whole copy is its own key: no hash to compute). */
static void put_key(struct sip_msg *m, char *dst, size_t cap, struct sw_bytes v, bool multiline,
                    uint64_t *hash)
{
    put_view(m, dst, cap, v, multiline);
    v = ascii_trim(v);
    *hash = v.n >= cap ? key_hash(v, multiline) : 0;
}

/* A reason phrase is text (RFC 3261 §25.1 Reason-Phrase): each control byte
 * in it (an ESC sequence meant for a terminal, a BEL) becomes '?'. */
static void repair_ctl(char *s)
{
    for (; *s != '\0'; s++)
        if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7f)
            *s = '?';
}

/* Skips a quoted string starting at v.p[i] == '"'; returns the index after
 * the closing quote (or v.n). */
static size_t skip_quoted(struct sw_bytes v, size_t i)
{
    for (i++; i < v.n; i++) {
        if (v.p[i] == '\\')
            i++;
        else if (v.p[i] == '"')
            return i + 1;
    }
    return v.n;
}

/* Finds parameter `name` (lowercase) in a ";a=b;name=v" list: the view may
 * start anywhere before the first ';'. Values end at ';', ',' or LWS; a
 * quoted value is returned with its quotes. *val = "" for a bare name. */
static bool param_find(struct sw_bytes ps, const char *name, struct sw_bytes *val)
{
    size_t k = strlen(name);
    size_t i = 0;
    while (i < ps.n) {
        if (ps.p[i] == '"') {
            i = skip_quoted(ps, i);
            continue;
        }
        if (ps.p[i] != ';') {
            i++;
            continue;
        }
        i++;
        while (i < ps.n && is_lws(ps.p[i]))
            i++;
        size_t ns = i;
        while (i < ps.n && ascii_is_token(ps.p[i]))
            i++;
        size_t ne = i;
        while (i < ps.n && is_lws(ps.p[i]))
            i++;
        if (ne - ns != k || !name_is(ps.p + ns, name, k))
            continue;
        *val = empty_view;
        if (i < ps.n && ps.p[i] == '=') {
            i++;
            while (i < ps.n && is_lws(ps.p[i]))
                i++;
            size_t vs = i;
            if (i < ps.n && ps.p[i] == '"')
                i = skip_quoted(ps, i);
            else
                while (i < ps.n && !is_lws(ps.p[i]) && ps.p[i] != ';' && ps.p[i] != ',')
                    i++;
            *val = sub(ps, vs, i);
        }
        return true;
    }
    return false;
}

/* The first token of a value (up to ';', ',' or LWS), after leading LWS. */
static struct sw_bytes first_token(struct sw_bytes v, size_t *end)
{
    size_t i = 0;
    while (i < v.n && is_lws(v.p[i]))
        i++;
    size_t s = i;
    while (i < v.n && !is_lws(v.p[i]) && v.p[i] != ';' && v.p[i] != ',')
        i++;
    if (end != NULL)
        *end = i;
    return sub(v, s, i);
}

static bool parse_u32(struct sw_bytes v, uint64_t max, uint64_t *out)
{
    return ascii_parse_uint(ascii_trim(v), max, out);
}

/* Position of the first '<' outside a quoted display name, or v.n. */
static size_t find_laquot(struct sw_bytes v)
{
    size_t i = 0;
    while (i < v.n) {
        if (v.p[i] == '"') {
            i = skip_quoted(v, i);
            continue;
        }
        if (v.p[i] == '<')
            return i;
        i++;
    }
    return v.n;
}

/* name-addr / addr-spec (RFC 3261 §20.10, §20.20): the URI alone and the
 * header parameters after it (a `tag` there is the dialog tag; one inside
 * <> would be a URI parameter). */
static void nameaddr_split(struct sw_bytes v, struct sw_bytes *uri, struct sw_bytes *params)
{
    v = ascii_trim(v);
    size_t lt = find_laquot(v);
    if (lt < v.n) {
        const uint8_t *gt = memchr(v.p + lt + 1, '>', v.n - lt - 1);
        size_t e = gt != NULL ? (size_t)(gt - v.p) : v.n;
        *uri = ascii_trim(sub(v, lt + 1, e));
        *params = gt != NULL ? sub(v, e + 1, v.n) : empty_view;
        return;
    }
    const uint8_t *sc = memchr(v.p, ';', v.n);
    size_t e = sc != NULL ? (size_t)(sc - v.p) : v.n;
    *uri = ascii_trim(sub(v, 0, e));
    *params = sub(v, e, v.n);
}

static void on_nameaddr(struct sip_msg *m, struct sw_bytes v, bool ml, char *val, char *uri,
                        char *tag, uint64_t *tag_hash)
{
    struct sw_bytes u, ps, t;
    put_view(m, val, SIPMSG_MAX_FIELD, v, ml);
    nameaddr_split(v, &u, &ps);
    put_view(m, uri, SIPMSG_MAX_FIELD, u, ml);
    if (param_find(ps, "tag", &t))
        put_key(m, tag, SIPMSG_MAX_TOKEN * 2, t, ml, tag_hash);
}

void sipscan_refer_to(struct sip_msg *m, struct sw_bytes v)
{
    struct sw_bytes u;
    v = ascii_trim(v);
    size_t lt = find_laquot(v);
    if (lt < v.n) {
        const uint8_t *gt = memchr(v.p + lt + 1, '>', v.n - lt - 1);
        u = sub(v, lt + 1, gt != NULL ? (size_t)(gt - v.p) : v.n);
    } else if (memchr(v.p, '?', v.n) != NULL) {
        /* Without <> a URI with headers is not RFC 3261 grammar, but it is
         * sent: its Replaces value holds ';', so keep the whole value. */
        u = v;
    } else {
        const uint8_t *sc = memchr(v.p, ';', v.n);
        u = sub(v, 0, sc != NULL ? (size_t)(sc - v.p) : v.n);
    }
    u = ascii_trim(u);
    sipscan_put(m, m->refer_to, SIPMSG_MAX_FIELD, u);

    /* URI headers start at '?' (or an escaped "%3F" when the whole URI was
     * escaped once more); Replaces= may be escaped too (RFC 3891 §7). */
    size_t q = 0;
    while (q < u.n && u.p[q] != '?')
        q++;
    size_t qe = ascii_ifind(u, "%3f");
    if (qe < q)
        q = qe;
    if (q >= u.n)
        return;
    struct sw_bytes h = sub(u, q, u.n);
    size_t r = ascii_ifind(h, "replaces");
    while (r < h.n) {
        struct sw_bytes after = sub(h, r + 8, h.n);
        if (ascii_starts(after, "=") || ascii_istarts(after, "%3d")) {
            m->refer_replaces = true;
            return;
        }
        struct sw_bytes rest = sub(h, r + 8, h.n);
        size_t r2 = ascii_ifind(rest, "replaces");
        r = r2 < rest.n ? r + 8 + r2 : h.n;
    }
}

/* "SIP/2.0 NNN Reason" (reason may be empty); status 100..699. */
static inline bool status_line(struct sw_bytes line, int *status, struct sw_bytes *reason)
{
    size_t i;
    if (line.n >= 9 && memcmp(line.p, "SIP/2.0 ", 8) == 0 && !ascii_is_ws(line.p[8])) {
        i = 8; /* the usual form: where the loops below would stop */
    } else {
        if (!ascii_istarts(line, "SIP/"))
            return false;
        i = 4;
        while (i < line.n && !ascii_is_ws(line.p[i]))
            i++;
        while (i < line.n && ascii_is_ws(line.p[i]))
            i++;
    }
    if (line.n - i < 3 || !ascii_is_digit(line.p[i]) || !ascii_is_digit(line.p[i + 1]) ||
        !ascii_is_digit(line.p[i + 2]))
        return false;
    int s = (line.p[i] - '0') * 100 + (line.p[i + 1] - '0') * 10 + (line.p[i + 2] - '0');
    i += 3;
    if (s < 100 || s > 699 || (i < line.n && !ascii_is_ws(line.p[i])))
        return false;
    *status = s;
    *reason = ascii_trim(sub(line, i, line.n));
    return true;
}

/* One line of `b` starting at `pos`: the view without CR LF, *next after LF. */
static inline struct sw_bytes line_at(struct sw_bytes b, size_t pos, size_t *next)
{
    const uint8_t *lf = memchr(b.p + pos, '\n', b.n - pos);
    size_t le = lf != NULL ? (size_t)(lf - b.p) : b.n;
    *next = lf != NULL ? le + 1 : b.n;
    if (le > pos && b.p[le - 1] == '\r')
        le--;
    return sub(b, pos, le);
}

bool sipscan_sipfrag(struct sip_msg *m, struct sw_bytes body)
{
    size_t i = 0, next;
    while (i < body.n && (body.p[i] == '\r' || body.p[i] == '\n'))
        i++;
    if (i >= body.n)
        return false;
    struct sw_bytes reason, line = line_at(body, i, &next);
    int st;
    if (!status_line(line, &st, &reason))
        return false;
    m->sipfrag_status = st;
    sipscan_put(m, m->sipfrag_reason, SIPMSG_MAX_FIELD, reason);
    repair_ctl(m->sipfrag_reason);
    return true;
}

/* The media type of a Content-Type value, parameters and LWS dropped. */
static struct sw_bytes media_type(struct sw_bytes ct)
{
    const uint8_t *sc = ct.n > 0 ? memchr(ct.p, ';', ct.n) : NULL;
    return ascii_trim(sub(ct, 0, sc != NULL ? (size_t)(sc - ct.p) : ct.n));
}

bool sipscan_is_sipfrag_type(struct sw_bytes ct)
{
    return ascii_ieq(media_type(ct), "message/sipfrag");
}

/* Offset of the next "--boundary" at a line start at or after pos, or b.n. */
static size_t find_delim(struct sw_bytes b, size_t pos, struct sw_bytes bd)
{
    while (pos + 2 + bd.n <= b.n) {
        const uint8_t *d = memchr(b.p + pos, '-', b.n - pos);
        if (d == NULL)
            return b.n;
        size_t o = (size_t)(d - b.p);
        if (o + 2 + bd.n > b.n)
            return b.n;
        if ((o == 0 || b.p[o - 1] == '\n') && b.p[o + 1] == '-' &&
            memcmp(b.p + o + 2, bd.p, bd.n) == 0)
            return o;
        pos = o + 1;
    }
    return b.n;
}

/* RFC 3515 NOTIFYs may carry the sipfrag as one part of a multipart body:
 * the first message/sipfrag part counts. A cut last part is used as it is. */
static void multipart_scan(struct sip_msg *m, struct sw_bytes ct, struct sw_bytes body)
{
    struct sw_bytes bd;
    if (!param_find(ct, "boundary", &bd))
        return;
    if (bd.n >= 2 && bd.p[0] == '"' && bd.p[bd.n - 1] == '"')
        bd = sub(bd, 1, bd.n - 1);
    if (bd.n == 0 || bd.n > BOUNDARY_MAX)
        return;
    size_t pos = find_delim(body, 0, bd);
    while (pos < body.n) {
        size_t after = pos + 2 + bd.n, part;
        if (after + 2 <= body.n && body.p[after] == '-' && body.p[after + 1] == '-')
            return; /* close delimiter */
        (void)line_at(body, after, &part);
        size_t end = find_delim(body, part, bd);
        struct sw_bytes pb = sub(body, part, end);
        /* The CRLF before a delimiter belongs to the delimiter. */
        if (end < body.n && pb.n > 0 && pb.p[pb.n - 1] == '\n')
            pb.n--;
        if (end < body.n && pb.n > 0 && pb.p[pb.n - 1] == '\r')
            pb.n--;
        struct sw_bytes pct = empty_view;
        size_t i = 0, next;
        while (i < pb.n) {
            struct sw_bytes l = line_at(pb, i, &next);
            i = next;
            if (l.n == 0)
                break;
            const uint8_t *colon = memchr(l.p, ':', l.n);
            if (colon == NULL)
                continue;
            struct sw_bytes name = ascii_trim(sub(l, 0, (size_t)(colon - l.p)));
            if ((ascii_ieq(name, "content-type") || ascii_ieq(name, "c")) && pct.p == NULL)
                pct = sub(l, (size_t)(colon - l.p) + 1, l.n);
        }
        if (sipscan_is_sipfrag_type(pct)) {
            (void)sipscan_sipfrag(m, sub(pb, i, pb.n));
            return;
        }
        pos = end;
    }
}

static void on_cseq(struct scan *s, struct sw_bytes v, bool ml)
{
    uint64_t n = 0;
    size_t i = 0, ds;
    while (i < v.n && is_lws(v.p[i]))
        i++;
    ds = i;
    /* the number read as it is scanned; once past CSEQ_MAX it stays there
     * (no overflow, whatever the digit count), and is refused */
    while (i < v.n && ascii_is_digit(v.p[i])) {
        n = n * 10 + (uint64_t)(v.p[i] - '0');
        if (n > CSEQ_MAX)
            n = CSEQ_MAX + 1;
        i++;
    }
    if (i == ds || n > CSEQ_MAX)
        return;
    if (i >= v.n || !is_lws(v.p[i]))
        return;
    struct sw_bytes meth = ascii_trim(sub(v, i, v.n));
    if (meth.n == 0)
        return;
    for (size_t k = 0; k < meth.n; k++)
        if (!tok_table[meth.p[k]])
            return;
    s->m->cseq = (uint32_t)n;
    put_view(s->m, s->m->cseq_method, SIPMSG_MAX_TOKEN, meth, ml);
    s->cseq_ok = true;
}

static void on_via(struct sip_msg *m, struct sw_bytes v)
{
    /* The first value of the first Via only: values are comma-separated. */
    size_t i = 0;
    while (i < v.n && v.p[i] != ',') {
        if (v.p[i] == '"')
            i = skip_quoted(v, i);
        else
            i++;
    }
    struct sw_bytes b;
    if (param_find(sub(v, 0, i), "branch", &b))
        put_key(m, m->branch, sizeof m->branch, b, true, &m->branch_hash);
}

static void on_event(struct sip_msg *m, struct sw_bytes v)
{
    size_t end;
    struct sw_bytes pkg = first_token(v, &end);
    size_t n = SW_MIN(pkg.n, sizeof m->event - 1);
    for (size_t i = 0; i < n; i++)
        m->event[i] = (char)ascii_lower(pkg.p[i]);
    m->event[n] = '\0';
    if (n < pkg.n)
        m->truncated_fields++;
    struct sw_bytes id;
    uint64_t x;
    if (param_find(sub(v, end, v.n), "id", &id) && parse_u32(id, UINT32_MAX, &x)) {
        m->has_event_id = true;
        m->event_id = (uint32_t)x;
    }
}

static void on_substate(struct sip_msg *m, struct sw_bytes v)
{
    size_t end;
    sipscan_put(m, m->subscription_state, SIPMSG_MAX_FIELD, v);
    struct sw_bytes st = first_token(v, &end);
    if (ascii_ieq(st, "active"))
        m->substate = SIPMSG_SUBSTATE_ACTIVE;
    else if (ascii_ieq(st, "pending"))
        m->substate = SIPMSG_SUBSTATE_PENDING;
    else if (ascii_ieq(st, "terminated"))
        m->substate = SIPMSG_SUBSTATE_TERMINATED;
    else
        m->substate = SIPMSG_SUBSTATE_OTHER;
    struct sw_bytes e;
    uint64_t x;
    if (param_find(sub(v, end, v.n), "expires", &e) && parse_u32(e, UINT32_MAX, &x))
        m->sub_expires = (int64_t)x;
}

/* A header line and its continuations, once whole: every Content-Type is
 * counted (the first kept), the first instance of each tracked header is
 * kept for process(), Content-Length read at once. */
static inline void record(struct scan *s, enum hdr id, struct sw_bytes v, bool folded)
{
    if (id == H_NONE)
        return;
    if (id == H_CTYPE && s->info->n_ctype++ == 0)
        s->info->ctype = ascii_trim(v);
    uint32_t bit = 1u << id;
    if (s->seen & bit)
        return;
    s->seen |= bit;
    s->v[id] = v;
    if (folded)
        s->folded |= bit;
    if (id == H_CLEN) {
        /* Digits between SP/HTAB, as the framer read them on this line, read
         * the same trimmed; a folded value is longer than that line. */
        if (!folded && s->clen_framed_ok && s->clen_framed <= UINT64_MAX / 2) {
            s->has_clen = true;
            s->clen = s->clen_framed;
        } else {
            s->has_clen = parse_u32(v, UINT64_MAX / 2, &s->clen);
        }
    }
}

/* Fills the fields of one recorded header. */
static inline void process(struct scan *s, enum hdr id)
{
    struct sip_msg *m = s->m;
    if (!(s->seen & (1u << id)))
        return;
    struct sw_bytes v = s->v[id];
    bool ml = (s->folded & (1u << id)) != 0;
    switch (id) {
    case H_CALLID:
        put_key(m, m->call_id, sizeof m->call_id, v, ml, &m->call_id_hash);
        break;
    case H_CSEQ:
        on_cseq(s, v, ml);
        break;
    case H_VIA:
        on_via(m, v);
        break;
    case H_FROM:
        on_nameaddr(m, v, ml, m->from, m->from_uri, m->from_tag, &m->from_tag_hash);
        break;
    case H_TO:
        on_nameaddr(m, v, ml, m->to, m->to_uri, m->to_tag, &m->to_tag_hash);
        break;
    case H_UA:
        put_view(m, m->user_agent, sizeof m->user_agent, v, ml);
        break;
    case H_SERVER:
        put_view(m, m->server, sizeof m->server, v, ml);
        break;
    case H_WARNING:
        put_view(m, m->warning, sizeof m->warning, v, ml);
        break;
    case H_REFER_TO:
        sipscan_refer_to(m, v);
        break;
    case H_REFERRED_BY:
        put_view(m, m->referred_by, sizeof m->referred_by, v, ml);
        break;
    case H_REFER_SUB: {
        struct sw_bytes t = first_token(v, NULL);
        if (ascii_ieq(t, "true"))
            m->refer_sub = SIPMSG_REFER_SUB_TRUE;
        else if (ascii_ieq(t, "false"))
            m->refer_sub = SIPMSG_REFER_SUB_FALSE;
        break;
    }
    case H_EVENT:
        on_event(m, v);
        break;
    case H_SUBSTATE:
        on_substate(m, v);
        break;
    case H_CTYPE: /* counted and kept by record() */
    case H_CLEN:
    case H_NONE:
    case H_COUNT_:
        break;
    }
}

/*
 * The smallest buffer each header's fields are copied into: a value shorter
 * than that cannot be cut, so a lazy parse that skips the header misses no
 * truncation count (sip_truncated_fields stays exact).
 */
static size_t min_cap(enum hdr id)
{
    switch (id) {
    case H_VIA:
    case H_FROM:
    case H_TO:
        return SIPMSG_MAX_TOKEN * 2; /* branch, tags */
    case H_REFER_SUB:
        return SIZE_MAX; /* nothing copied */
    default:
        return SIPMSG_MAX_FIELD;
    }
}

/* Lazy parse: the fields the tracker reads from a message that feeds no
 * event (see SIPMSG_LAZY in sipmsg.h); any header long enough that a copy
 * of it could be cut is processed whole, to count that cut. */
static void process_lazy(struct scan *s, enum hdr id)
{
    struct sip_msg *m = s->m;
    if (!(s->seen & (1u << id)))
        return;
    if (s->v[id].n >= min_cap(id)) {
        process(s, id);
        return;
    }
    if (!m->is_request)
        return;
    bool ml = (s->folded & (1u << id)) != 0;
    switch (id) {
    case H_FROM:
        put_view(m, m->from, sizeof m->from, s->v[id], ml);
        break;
    case H_TO:
        put_view(m, m->to, sizeof m->to, s->v[id], ml);
        break;
    case H_UA:
        put_view(m, m->user_agent, sizeof m->user_agent, s->v[id], ml);
        break;
    default:
        break;
    }
}

static bool start_line(struct sip_msg *m, struct sw_bytes line)
{
    struct sw_bytes reason;
    if (ascii_starts(line, "SIP/")) {
        if (!status_line(line, &m->status, &reason))
            return false;
        m->is_request = false;
        put_view(m, m->reason, sizeof m->reason, reason, false);
        repair_ctl(m->reason);
        return true;
    }
    /* Method SP Request-URI SP SIP-Version (RFC 3261 §7.1) */
    size_t i = 0;
    while (i < line.n && tok_table[line.p[i]])
        i++;
    if (i == 0 || i >= line.n || line.p[i] != ' ')
        return false;
    struct sw_bytes meth = sub(line, 0, i);
    size_t us = ++i;
    /* the URI ends at the first SP or HTAB: memchr for each, not a byte loop */
    const uint8_t *sp = memchr(line.p + us, ' ', line.n - us);
    size_t ue = sp != NULL ? (size_t)(sp - line.p) : line.n;
    const uint8_t *ht = ue > us ? memchr(line.p + us, '\t', ue - us) : NULL;
    i = ht != NULL ? (size_t)(ht - line.p) : ue;
    if (i == us || i >= line.n)
        return false;
    struct sw_bytes uri = sub(line, us, i);
    struct sw_bytes ver = ascii_trim(sub(line, i, line.n));
    if (!ascii_istarts(ver, "SIP/") || ver.n < 5)
        return false;
    m->is_request = true;
    put_view(m, m->method, sizeof m->method, meth, false);
    put_view(m, m->request_uri, sizeof m->request_uri, uri, false);
    return true;
}

/* Defines every field without clearing the whole ~8 KB struct: each string
 * gets its NUL, each scalar its "absent" value. The bytes after a string's
 * NUL are unspecified. */
static void msg_reset(struct sip_msg *m)
{
    m->is_request = false;
    m->method[0] = '\0';
    m->status = 0;
    m->reason[0] = '\0';
    m->request_uri[0] = '\0';
    m->call_id[0] = '\0';
    m->cseq = 0;
    m->cseq_method[0] = '\0';
    m->branch[0] = '\0';
    m->from[0] = '\0';
    m->to[0] = '\0';
    m->from_uri[0] = '\0';
    m->to_uri[0] = '\0';
    m->from_tag[0] = '\0';
    m->to_tag[0] = '\0';
    m->user_agent[0] = '\0';
    m->server[0] = '\0';
    m->warning[0] = '\0';
    m->refer_to[0] = '\0';
    m->referred_by[0] = '\0';
    m->refer_replaces = false;
    m->refer_sub = SIPMSG_REFER_SUB_ABSENT;
    m->event[0] = '\0';
    m->has_event_id = false;
    m->event_id = 0;
    m->subscription_state[0] = '\0';
    m->substate = SIPMSG_SUBSTATE_ABSENT;
    m->sub_expires = -1;
    m->sipfrag_status = 0;
    m->sipfrag_reason[0] = '\0';
    m->call_id_hash = m->branch_hash = m->from_tag_hash = m->to_tag_hash = 0;
    m->header_lines = 0;
    m->full_parse = false;
    m->truncated_fields = 0;
}

bool sipscan_feeds_event(const struct sip_msg *m)
{
    if (m->is_request) {
        if (SIPMSG_IS(m->method, "REFER"))
            return true;
        return SIPMSG_IS(m->method, "NOTIFY") && SIPMSG_IS(m->event, "refer");
    }
    return m->status == 404 || m->status == 604 || SIPMSG_IS(m->cseq_method, "REFER");
}

enum sipscan_result sipscan_parse(struct sw_bytes raw, bool lazy, struct sip_msg *m,
                                  struct sipscan_info *info)
{
    struct scan s;
    s.m = m;
    s.info = info;
    s.seen = s.folded = 0;
    s.cseq_ok = s.has_clen = s.clen_framed_ok = false;
    s.clen = s.clen_framed = 0;
    if (!tok_ready)
        tok_init();
    msg_reset(m);
    info->msg_len = raw.n;
    info->cut_notes = 0;
    info->head_len = raw.n;
    info->body = empty_view;
    info->ctype = empty_view;
    info->n_ctype = 0;
    info->feeds_event = false;
    if (raw.n == 0 || raw.p == NULL)
        return SIPSCAN_INVALID;

    const uint8_t *p = raw.p;
    size_t pos = 0, next;
    while (pos < raw.n && (p[pos] == '\r' || p[pos] == '\n'))
        pos++;
    if (pos >= raw.n)
        return SIPSCAN_INVALID;
    bool ok = start_line(m, line_at(raw, pos, &next));
    pos = next;

    /* One memchr per line; a line's header is known from its first bytes. */
    enum hdr cur = H_NONE;
    struct sw_bytes val = empty_view;
    bool folded = false, blank = false, blank_lf = false;
    unsigned lines = 0;
    struct sipframe_cl cl = {false, false, false, 0};
    while (pos < raw.n) {
        const uint8_t *lf = memchr(p + pos, '\n', raw.n - pos);
        size_t le = lf != NULL ? (size_t)(lf - p) : raw.n;
        next = lf != NULL ? le + 1 : raw.n;
        if (le > pos && p[le - 1] == '\r')
            le--;
        if (le == pos) {
            blank = true;
            blank_lf = lf != NULL;
            pos = next;
            break;
        }
        lines++;
        if (ascii_is_ws(p[pos])) {
            /* folded: the value now runs to the end of this line */
            if (cur != H_NONE) {
                val.n = (size_t)(p + le - val.p);
                folded = true;
            }
            pos = next;
            continue;
        }
        if (cur != H_NONE)
            record(&s, cur, val, folded);
        folded = false;
        cur = classify(p + pos, le - pos, raw.n - pos, &val);
        /* Framing a datagram: the framer's Content-Length rules (every
         * instance, the unfolded line, only lines ended by LF). Its header
         * lines are exactly the lines classify() names H_CLEN (same name
         * test, same token table): sipframe_cl_value() takes the value. */
        if (cur == H_CLEN)
            s.clen_framed_ok = info->frame_max != 0 && lf != NULL &&
                               sipframe_cl_value(&cl, val, info->frame_max, &s.clen_framed);
        pos = next;
    }
    record(&s, cur, val, folded);
    m->header_lines = lines;
    info->head_len = blank ? pos : raw.n;
    if (info->frame_max != 0) {
        /* From here on, raw is the message at the head of the datagram. A
         * lone CR at its very end is a blank line to the scanner, but the
         * framer's header block ends only at an LF. */
        raw.n = sipframe_cut(&cl, blank_lf ? pos : 0, raw.n, &info->cut_notes);
        info->msg_len = raw.n;
    }

    process(&s, H_CALLID);
    process(&s, H_CSEQ);
    process(&s, H_EVENT);
    info->feeds_event = sipscan_feeds_event(m);
    bool all = !lazy || info->feeds_event;
    /* libosip2 stops at a NUL in the headers yet returns success; a NUL has
     * no business there, and our copies would be cut at it. */
    enum sipscan_result r = SIPSCAN_OK;
    if (memchr(raw.p, '\0', info->head_len) != NULL)
        r = SIPSCAN_NUL;
    else if (!ok || !(s.seen & (1u << H_CALLID)) || m->call_id[0] == '\0' || !s.cseq_ok)
        r = SIPSCAN_INVALID;
    if (r != SIPSCAN_OK && lazy)
        return r; /* nobody reads the other fields */
    /* The other headers, those seen only, in enum order: lowest bit first. */
    const uint32_t rest = 1u << H_VIA | 1u << H_FROM | 1u << H_TO | 1u << H_UA |
                          1u << H_SERVER | 1u << H_WARNING | 1u << H_REFER_TO |
                          1u << H_REFERRED_BY | 1u << H_REFER_SUB | 1u << H_SUBSTATE;
    for (uint32_t todo = s.seen & rest; todo != 0; todo &= todo - 1) {
        enum hdr id = (enum hdr)__builtin_ctz(todo);
        if (all)
            process(&s, id);
        else
            process_lazy(&s, id);
    }
    if (r != SIPSCAN_OK)
        return r;

    if (blank) {
        size_t avail = raw.n - info->head_len;
        size_t bn = s.has_clen && s.clen < avail ? (size_t)s.clen : avail;
        info->body = sub(raw, info->head_len, info->head_len + bn);
    }
    if (info->body.n > 0 && info->ctype.n > 0) {
        if (sipscan_is_sipfrag_type(info->ctype))
            (void)sipscan_sipfrag(m, info->body);
        else if (ascii_istarts(media_type(info->ctype), "multipart/"))
            multipart_scan(m, info->ctype, info->body);
    }
    return SIPSCAN_OK;
}

/* Does "content-type" (any case) start at b.p[i]? */
static bool ct_name_at(struct sw_bytes b, size_t i)
{
    return i <= b.n && b.n - i >= 12 && name_is(b.p + i, "content-type", 12);
}

/* Can libosip2 read a Content-Type part header name on the line [ls, le)?
 * At the line start after SP/HTAB (osip_clrncpy trims them), or anywhere on
 * a line that starts with "--": a part's first header begins one or two
 * bytes after "\n--boundary", on the delimiter's own line. */
static bool ct_line(struct sw_bytes b, size_t ls, size_t le)
{
    struct sw_bytes l = sub(b, 0, le);
    size_t i = ls;
    while (i < le && (l.p[i] == ' ' || l.p[i] == '\t'))
        i++;
    if (ct_name_at(l, i))
        return true;
    if (le - ls < 2 || l.p[ls] != '-' || l.p[ls + 1] != '-')
        return false;
    for (i = ls + 2; i + 12 <= le; i++)
        if ((l.p[i] | 0x20) == 'c' && ct_name_at(l, i))
            return true;
    return false;
}

/*
 * libosip2 5.3 leaks memory when it reads two Content-Type headers in one
 * MIME part (osip_body_set_contenttype overwrites the first without freeing
 * it). Its multipart walk (msg_osip_body_parse, osip_body_parse_header):
 * parts start one or two bytes after each "\n--boundary" in everything after
 * the message headers (Content-Length ignored); a part's headers are lines
 * ended by CRLF, a lone CR or a lone LF, read up to the line end followed by
 * CR or LF; a header whose name (trimmed of SP/HTAB) starts with
 * "content-type", in any case, sets the part's Content-Type. Rather than
 * mirror the boundary parameter, the delimiter search and the part offsets
 * (any difference from libosip2 there would miss a leak), this looks for
 * what every such leak needs: two lines that may hold a Content-Type name
 * (ct_line) with no such end of a header block between them, anywhere in the
 * message. That is a superset of libosip2's condition (its part headers are
 * lines of the raw message, and folding it undoes only makes it stop
 * earlier); well-formed messages, one Content-Type per part, never match.
 * Two Content-Type headers on the message count as a hazard too.
 */
/* Does raw hold "content-type" (any case) at two places at least? Each line
 * ct_line() accepts holds one, so with fewer there is no hazard. Found by
 * its '-' (memchr skips the rest), then the 7 bytes before and 4 after. */
static bool two_ct_names(struct sw_bytes raw)
{
    unsigned found = 0;
    size_t i = 7;
    while (i + 5 <= raw.n) {
        const uint8_t *d = memchr(raw.p + i, '-', raw.n - 4 - i);
        if (d == NULL)
            return false;
        i = (size_t)(d - raw.p);
        if (name_is(raw.p + i - 7, "content-type", 12) && ++found > 1)
            return true;
        i++;
    }
    return false;
}

bool sipscan_osip_hazard(struct sw_bytes raw, const struct sipscan_info *info)
{
    if (info->n_ctype > 1)
        return true;
    if (!two_ct_names(raw))
        return false;
    unsigned n = 0; /* lines that may hold a Content-Type since the last block end */
    size_t ls = 0;
    while (ls < raw.n) {
        size_t le = ls;
        while (le < raw.n && raw.p[le] != '\r' && raw.p[le] != '\n')
            le++;
        if (ct_line(raw, ls, le) && ++n > 1)
            return true;
        size_t e = le;
        while (e < raw.n && (raw.p[e] == '\r' || raw.p[e] == '\n'))
            e++;
        /* one line end (CRLF, CR or LF) keeps the block going; more end it */
        bool one = e - le == 1 || (e - le == 2 && raw.p[le] == '\r' && raw.p[le + 1] == '\n');
        if (!one)
            n = 0;
        ls = e;
    }
    return false;
}
