/*
 * ascii.h - locale-free text helpers over bytes-plus-length. Packet text is
 * never NUL-terminated and may hold any byte: no <ctype.h>, strlen, strstr,
 * atoi or sscanf on it.
 */
#ifndef SIPWATCH_ASCII_H
#define SIPWATCH_ASCII_H

#include <string.h>

#include "sipwatch/types.h"

static inline bool ascii_is_digit(uint8_t c)
{
    return c >= '0' && c <= '9';
}

static inline bool ascii_is_alpha(uint8_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static inline bool ascii_is_ws(uint8_t c) /* SP or HTAB */
{
    return c == ' ' || c == '\t';
}

static inline uint8_t ascii_lower(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

/* RFC 3261 token characters (method names, header names, tags). */
static inline bool ascii_is_token(uint8_t c)
{
    if (ascii_is_alpha(c) || ascii_is_digit(c))
        return true;
    switch (c) {
    case '-': case '.': case '!': case '%': case '*': case '_':
    case '+': case '`': case '\'': case '~':
        return true;
    default:
        return false;
    }
}

/* Case-insensitive equality of a view and a C string literal. */
static inline bool ascii_ieq(struct sw_bytes b, const char *s)
{
    size_t n = strlen(s);
    if (b.n != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (ascii_lower(b.p[i]) != ascii_lower((uint8_t)s[i]))
            return false;
    return true;
}

/* Case-insensitive prefix test. */
static inline bool ascii_istarts(struct sw_bytes b, const char *s)
{
    size_t n = strlen(s);
    if (b.n < n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (ascii_lower(b.p[i]) != ascii_lower((uint8_t)s[i]))
            return false;
    return true;
}

/* Case-sensitive prefix test. */
static inline bool ascii_starts(struct sw_bytes b, const char *s)
{
    size_t n = strlen(s);
    return b.n >= n && memcmp(b.p, s, n) == 0;
}

/* SP, HTAB, CR or LF: one compare and one bit test. */
static inline bool ascii_is_lws(uint8_t c)
{
    return c <= ' ' && ((UINT64_C(0x100002600) >> c) & 1) != 0;
}

/* Strips SP/HTAB (and CR/LF) from both ends. */
static inline struct sw_bytes ascii_trim(struct sw_bytes b)
{
    while (b.n > 0 && ascii_is_lws(b.p[0])) {
        b.p++;
        b.n--;
    }
    while (b.n > 0 && ascii_is_lws(b.p[b.n - 1]))
        b.n--;
    return b;
}

/* Parses an unsigned decimal with optional surrounding SP/HTAB; the whole
 * view must be the number. Rejects "", "-5", "12abc", "1 2" and values above
 * max (which also rules out overflow). */
static inline bool ascii_parse_uint(struct sw_bytes v, uint64_t max, uint64_t *out)
{
    size_t i = 0, digits = 0;
    uint64_t n = 0;
    while (i < v.n && ascii_is_ws(v.p[i]))
        i++;
    for (; i < v.n && ascii_is_digit(v.p[i]); i++, digits++) {
        /* the value only grows with each digit: past max (or past 2^64)
         * once is past it for good; no division */
        if (__builtin_mul_overflow(n, 10, &n) ||
            __builtin_add_overflow(n, (uint64_t)(v.p[i] - '0'), &n) || n > max)
            return false;
    }
    while (i < v.n && ascii_is_ws(v.p[i]))
        i++;
    if (digits == 0 || i != v.n)
        return false;
    *out = n;
    return true;
}

/* Copies a view into a NUL-terminated buffer of size cap (cap >= 1), cutting
 * it if needed. Returns true if the whole view fit. */
static inline bool ascii_copy(char *dst, size_t cap, struct sw_bytes v)
{
    size_t n = v.n < cap - 1 ? v.n : cap - 1;
    if (n > 0)
        memcpy(dst, v.p, n);
    dst[n] = '\0';
    return n == v.n;
}

/* Finds a case-insensitive needle in b; returns its offset or b.n. */
static inline size_t ascii_ifind(struct sw_bytes b, const char *needle)
{
    size_t k = strlen(needle);
    if (k == 0)
        return 0;
    for (size_t i = 0; i + k <= b.n; i++) {
        struct sw_bytes t = { b.p + i, b.n - i };
        if (ascii_istarts(t, needle))
            return i;
    }
    return b.n;
}

#endif
