/* SPDX-License-Identifier: MIT */
#include "vmm/metrics.h"

#include <inttypes.h>
#include <stdbool.h>
#include <string.h>

#include "vmm/json.h"

#define METRICS_DEPTH 8

/* Split dotted @path into at most METRICS_DEPTH components (pointers and lengths). */
static unsigned metrics_split(const char *path, const char **c, size_t *len)
{
	unsigned n = 0;

	while (*path && n < METRICS_DEPTH) {
		const char *dot = strchr(path, '.');
		size_t l = dot ? (size_t)(dot - path) : strlen(path);

		c[n] = path;
		len[n++] = l;
		path += l + (dot != NULL);
	}
	return n;
}

static void metrics_json_lat(struct json *j, const char *key, const struct lathist *h)
{
	uint64_t log2[LATHIST_LOG2_MAX + 1];
	unsigned used = lathist_log2(h, log2);

	json_obj_begin(j, key);
	json_u64(j, "count", atomic_load(&h->count));
	json_u64(j, "ns_total", atomic_load(&h->ns_total));
	json_u64(j, "p50_ns", lathist_percentile(h, 50));
	json_u64(j, "p99_ns", lathist_percentile(h, 99));
	json_arr_begin(j, "hist_log2_ns");
	for (unsigned e = 0; e < used; e++)
		json_u64(j, NULL, log2[e]);
	json_arr_end(j);
	json_obj_end(j);
}

void metrics_json(struct json *j, const struct metric *m, unsigned n)
{
	const char *open[METRICS_DEPTH], *c[METRICS_DEPTH];
	size_t olen[METRICS_DEPTH], clen[METRICS_DEPTH];
	unsigned depth = 0;

	for (unsigned k = 0; k < n; k++) {
		unsigned nc = metrics_split(m[k].path, c, clen), same = 0;
		char name[64];

		while (same < depth && same < nc && olen[same] == clen[same] &&
		       memcmp(open[same], c[same], clen[same]) == 0)
			same++;
		for (; depth > same; depth--)
			json_obj_end(j);
		for (; depth < nc; depth++) {
			snprintf(name, sizeof(name), "%.*s", (int)clen[depth], c[depth]);
			json_obj_begin(j, name);
			open[depth] = c[depth];
			olen[depth] = clen[depth];
		}
		switch (m[k].kind) {
		case METRIC_U64:
			json_u64(j, m[k].key, m[k].u64);
			break;
		case METRIC_STR:
			json_str(j, m[k].key, m[k].str);
			break;
		case METRIC_LAT:
			metrics_json_lat(j, m[k].key, m[k].lat);
			break;
		case METRIC_MILLI:
			json_fixed(j, m[k].key, (int64_t)m[k].u64, 3);
			break;
		}
	}
	for (; depth > 0; depth--)
		json_obj_end(j);
}

void metrics_print(FILE *f, const struct metric *m, unsigned n)
{
	for (unsigned k = 0; k < n; k++) {
		bool first = k == 0 || strcmp(m[k].path, m[k - 1].path) != 0;

		if (first)
			fprintf(f, "%s%s:", k ? "\n" : "", m[k].path);
		fprintf(f, "%s %s ", first ? "" : ",", m[k].key);
		switch (m[k].kind) {
		case METRIC_U64:
			fprintf(f, "%" PRIu64, m[k].u64);
			break;
		case METRIC_STR:
			fputs(m[k].str, f);
			break;
		case METRIC_LAT:
			fprintf(f, "p50/p99 %" PRIu64 "/%" PRIu64 " ns (%" PRIuFAST64 ")",
				lathist_percentile(m[k].lat, 50), lathist_percentile(m[k].lat, 99),
				atomic_load(&m[k].lat->count));
			break;
		case METRIC_MILLI:
			fprintf(f, "%" PRIu64 ".%03" PRIu64, m[k].u64 / 1000, m[k].u64 % 1000);
			break;
		}
	}
	if (n)
		fputc('\n', f);
}
