/* SPDX-License-Identifier: MIT */
/*
 * Metrics described by mmu/ (mmu/metric.h) into the JSON report and the
 * table.  A list keeps the metrics of one object together; objects nest by
 * their dotted paths ("uffd.latency" inside "uffd").
 */
#ifndef PV_VMM_METRICS_H
#define PV_VMM_METRICS_H

#include <stdio.h>

#include "mmu/metric.h"

struct json;

/*
 * Write @n metrics as members of the object @j is in: each path's objects
 * are opened when the path first appears and closed when it changes.  A
 * latency histogram is an object {count, ns_total, p50_ns, p99_ns,
 * hist_log2_ns}.
 */
void metrics_json(struct json *j, const struct metric *m, unsigned n);

/* One line per path: "path: key value, key value, ...", histograms as p50/p99 (count). */
void metrics_print(FILE *f, const struct metric *m, unsigned n);

#endif
