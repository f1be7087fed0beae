/*
 * hep.h - internal to decode: HEP v2/v3 capture-agent records (sipcapture's
 * Homer Encapsulation Protocol), as sent by heplify, captagent, Kamailio and
 * OpenSIPS siptrace over UDP or TCP.
 */
#ifndef SIPWATCH_HEP_H
#define SIPWATCH_HEP_H

#include "decode_int.h"

/* Decodes one HEP record (borrowed) into c->pkt: HEP's tuple, timestamp (the
 * packet's ts is kept when HEP has none) and SIP payload, from_hep set. */
enum decode_result hep_decode(struct decode_ctx *c, struct sw_bytes rec);

/* See decode_hep_frame() in decode.h. */
int hep_frame(struct sw_bytes head, size_t *len);

#endif
