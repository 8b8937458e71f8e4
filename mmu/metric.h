/* SPDX-License-Identifier: MIT */
/*
 * A metric as the part of mmu/ that keeps it describes it: once.  vmm/
 * writes the JSON report and the human table from the same list, so the
 * two cannot drift, and mmu/ knows nothing of JSON.
 */
#ifndef PV_MMU_METRIC_H
#define PV_MMU_METRIC_H

#include <stdint.h>

#include "pagevisor/lathist.h"

enum metric_kind { METRIC_U64, METRIC_STR, METRIC_LAT, METRIC_MILLI };

struct metric {
	const char *path;       /* the object it belongs to, dotted: "uffd", "uffd.latency" */
	const char *key;
	enum metric_kind kind;
	uint64_t u64;           /* METRIC_MILLI: thousandths (written as 0.123) */
	const char *str;
	const struct lathist *lat;
};

#define METRIC_U64_AT(p, k, v)  ((struct metric){ .path = (p), .key = (k), .kind = METRIC_U64, .u64 = (v) })
#define METRIC_STR_AT(p, k, s)  ((struct metric){ .path = (p), .key = (k), .kind = METRIC_STR, .str = (s) })
#define METRIC_MILLI_AT(p, k, v) ((struct metric){ .path = (p), .key = (k), .kind = METRIC_MILLI, .u64 = (v) })
#define METRIC_LAT_AT(p, k, h)  ((struct metric){ .path = (p), .key = (k), .kind = METRIC_LAT, .lat = (h) })

#endif
