/*
 * communityid.h - Community ID v1 flow hashes (corelight/community-id-spec),
 * the string Zeek, Suricata, Arkime, Elastic and Wireshark all compute for a
 * flow, so a sipwatch event joins their records with one string compare.
 *
 *   "1:" base64(SHA1(seed16 . addr_lo . addr_hi . proto8 . 0 . port_lo . port_hi))
 *
 * with the endpoints ordered so that the smaller (address, port) comes first
 * (addresses compared as network-order bytes, then ports). SHA-1 is
 * libcrypto's (docs/dependencies.md says why). A context is used by one
 * thread at a time.
 */
#ifndef SIPWATCH_COMMUNITYID_H
#define SIPWATCH_COMMUNITYID_H

#include "sipwatch/types.h"

/* "1:" + 28 base64 characters + NUL */
#define COMMUNITYID_LEN 31

/* A digest context (libcrypto's SHA-1 fetched once, a reused digest
 * context): owned; NULL on OOM. communityid_free(NULL) is fine. */
struct communityid;
struct communityid *communityid_new(void);
void communityid_free(struct communityid *c);

/* Writes the Community ID of the flow between (src, sport) and (dst, dport)
 * over IP protocol `proto` (TCP 6, UDP 17, SCTP 132: the protocols with
 * ports; has_ports false hashes the addresses and proto alone, as the spec
 * does for other protocols) into out. Both addresses must be of one family.
 * Returns false (out = "") when they are not, or when the digest fails. */
bool communityid_v1(struct communityid *c, const struct sw_addr *src, const struct sw_addr *dst, uint16_t sport,
                    uint16_t dport, uint8_t proto, bool has_ports, uint16_t seed,
                    char out[COMMUNITYID_LEN]);

#endif
