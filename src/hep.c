/* hep.c - STUB: HEP v2/v3 parsing, used by decode.c (see src/hep.h). */
#include "hep.h"
