/* SPDX-License-Identifier: MIT */
/* The metrics a guest reported (PV_HC_REPORT), kept for the JSON. */
#ifndef PV_VMM_REPORT_H
#define PV_VMM_REPORT_H

#include <pthread.h>
#include <stdint.h>

#include "pagevisor/abi.h"

#define REPORT_MAX_KEYS 256

struct report_entry {
	char key[PV_METRIC_KEY_MAX];
	int64_t value;
	uint32_t decimals;
};

struct report_store {
	pthread_mutex_t lock;
	struct report_entry e[REPORT_MAX_KEYS];
	unsigned nr;
};

void report_init(struct report_store *rs);
void report_destroy(struct report_store *rs);

/* True when @m has a NUL-terminated, non-empty [a-z0-9_] key and decimals <= 9. */
int report_metric_valid(const struct pv_metric *m);

/*
 * Validate a report the VMM already copied out of guest memory and, only if
 * all of it is valid, store its metrics (a key reported again is updated).
 * Returns PV_OK, PV_EVERSION or PV_EINVAL; @accepted gets the number stored.
 */
int report_apply(struct report_store *rs, const struct pv_report *r, uint32_t *accepted);

/* Look up a key; 0 and the entry copied to @out, or -ENOENT. */
int report_get(struct report_store *rs, const char *key, struct report_entry *out);

struct json;
/* The "guest" object of the JSON report. */
void report_json(struct json *j, struct report_store *rs);

#endif
