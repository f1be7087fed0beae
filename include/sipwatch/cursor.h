/*
 * cursor.h - a length-checked reader over untrusted binary data (Knot's
 * wire_ctx). Every read checks what remains; after the first failure the
 * cursor is sticky-failed and every read returns 0, so a parser reads a whole
 * header and checks cur_ok() once.
 */
#ifndef SIPWATCH_CURSOR_H
#define SIPWATCH_CURSOR_H

#include "sipwatch/types.h"

struct cur {
    const uint8_t *p;
    size_t n;   /* bytes remaining */
    size_t off; /* bytes consumed */
    bool err;
};

static inline struct cur cur_init(const uint8_t *p, size_t n)
{
    struct cur c = { p, n, 0, false };
    return c;
}

static inline struct cur cur_from(struct sw_bytes b)
{
    return cur_init(b.p, b.n);
}

static inline bool cur_ok(const struct cur *c)
{
    return !c->err;
}

static inline size_t cur_left(const struct cur *c)
{
    return c->err ? 0 : c->n;
}

static inline bool cur_need(struct cur *c, size_t k)
{
    if (c->err || c->n < k) {
        c->err = true;
        return false;
    }
    return true;
}

static inline void cur_skip(struct cur *c, size_t k)
{
    if (cur_need(c, k)) {
        c->p += k;
        c->n -= k;
        c->off += k;
    }
}

static inline uint8_t cur_u8(struct cur *c)
{
    if (!cur_need(c, 1))
        return 0;
    uint8_t v = c->p[0];
    cur_skip(c, 1);
    return v;
}

static inline uint16_t cur_be16(struct cur *c)
{
    if (!cur_need(c, 2))
        return 0;
    uint16_t v = (uint16_t)((c->p[0] << 8) | c->p[1]);
    cur_skip(c, 2);
    return v;
}

static inline uint16_t cur_le16(struct cur *c)
{
    if (!cur_need(c, 2))
        return 0;
    uint16_t v = (uint16_t)((c->p[1] << 8) | c->p[0]);
    cur_skip(c, 2);
    return v;
}

static inline uint32_t cur_be32(struct cur *c)
{
    if (!cur_need(c, 4))
        return 0;
    uint32_t v = ((uint32_t)c->p[0] << 24) | ((uint32_t)c->p[1] << 16) |
                 ((uint32_t)c->p[2] << 8) | (uint32_t)c->p[3];
    cur_skip(c, 4);
    return v;
}

static inline uint32_t cur_le32(struct cur *c)
{
    if (!cur_need(c, 4))
        return 0;
    uint32_t v = ((uint32_t)c->p[3] << 24) | ((uint32_t)c->p[2] << 16) |
                 ((uint32_t)c->p[1] << 8) | (uint32_t)c->p[0];
    cur_skip(c, 4);
    return v;
}

/* Copies k bytes out; on failure the destination is zeroed. */
static inline void cur_copy(struct cur *c, void *dst, size_t k)
{
    if (!cur_need(c, k)) {
        for (size_t i = 0; i < k; i++)
            ((uint8_t *)dst)[i] = 0;
        return;
    }
    for (size_t i = 0; i < k; i++)
        ((uint8_t *)dst)[i] = c->p[i];
    cur_skip(c, k);
}

/* A view of the next k bytes, consumed; {NULL, 0} on failure. */
static inline struct sw_bytes cur_bytes(struct cur *c, size_t k)
{
    struct sw_bytes b = { NULL, 0 };
    if (cur_need(c, k)) {
        b.p = c->p;
        b.n = k;
        cur_skip(c, k);
    }
    return b;
}

/* A view of everything left (not consumed). */
static inline struct sw_bytes cur_rest(const struct cur *c)
{
    struct sw_bytes b = { c->err ? NULL : c->p, cur_left(c) };
    return b;
}

#endif
