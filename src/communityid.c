/*
 * communityid.c - Community ID v1 (see communityid.h). The hash input is
 * laid out byte for byte as the spec's reference implementation lays it out
 * (community-id-spec, "Pseudo code"): 2-byte seed, the two addresses (4 or
 * 16 bytes each), proto, one zero byte, then the two ports, all in network
 * order. Checked against the spec's published baseline vectors
 * (tests/unit/test_communityid.c).
 */
#include "sipwatch/communityid.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

struct communityid {
    EVP_MD *md;
    EVP_MD_CTX *ctx;
};

struct communityid *communityid_new(void)
{
    struct communityid *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    /* Fetched once: an implicit fetch per digest (EVP_Digest with
     * EVP_sha1()) costs several times the hash of 40 bytes. */
    c->md = EVP_MD_fetch(NULL, "SHA1", NULL);
    c->ctx = EVP_MD_CTX_new();
    if (c->md == NULL || c->ctx == NULL) {
        communityid_free(c);
        return NULL;
    }
    return c;
}

void communityid_free(struct communityid *c)
{
    if (c == NULL)
        return;
    EVP_MD_CTX_free(c->ctx);
    EVP_MD_free(c->md);
    free(c);
}

bool communityid_v1(struct communityid *cid, const struct sw_addr *src, const struct sw_addr *dst, uint16_t sport,
                    uint16_t dport, uint8_t proto, bool has_ports, uint16_t seed,
                    char out[COMMUNITYID_LEN])
{
    out[0] = '\0';
    if (src->family != dst->family || (src->family != 4 && src->family != 6))
        return false;
    size_t alen = src->family == 4 ? 4 : 16;
    const struct sw_addr *lo = src, *hi = dst;
    uint16_t plo = sport, phi = dport;
    int c = memcmp(src->a, dst->a, alen);
    if (c > 0 || (c == 0 && has_ports && sport > dport)) {
        lo = dst, hi = src;
        plo = dport, phi = sport;
    }
    uint8_t buf[2 + 16 + 16 + 2 + 4];
    size_t n = 0;
    buf[n++] = (uint8_t)(seed >> 8);
    buf[n++] = (uint8_t)seed;
    memcpy(buf + n, lo->a, alen);
    n += alen;
    memcpy(buf + n, hi->a, alen);
    n += alen;
    buf[n++] = proto;
    buf[n++] = 0;
    if (has_ports) {
        buf[n++] = (uint8_t)(plo >> 8);
        buf[n++] = (uint8_t)plo;
        buf[n++] = (uint8_t)(phi >> 8);
        buf[n++] = (uint8_t)phi;
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (EVP_DigestInit_ex2(cid->ctx, cid->md, NULL) != 1 ||
        EVP_DigestUpdate(cid->ctx, buf, n) != 1 || EVP_DigestFinal_ex(cid->ctx, md, &mdlen) != 1 ||
        mdlen != 20)
        return false;
    memcpy(out, "1:", 2);
    /* 20 bytes -> 28 base64 characters and a NUL */
    if (EVP_EncodeBlock((unsigned char *)out + 2, md, (int)mdlen) != 28) {
        out[0] = '\0';
        return false;
    }
    return true;
}
