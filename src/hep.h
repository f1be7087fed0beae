/* hep.h - internal to decode: HEP v2/v3 records. STUB. */
#ifndef SIPWATCH_HEP_H
#define SIPWATCH_HEP_H
#include "sipwatch/types.h"
#endif
