/* SPDX-License-Identifier: MIT */
#include "vmm/stats.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/json.h"

int stats_init(struct vcpu_stats *s)
{
	memset(s, 0, sizeof(*s));
	s->port = calloc(STATS_NR_PORTS, sizeof(*s->port));
	return s->port ? 0 : -ENOMEM;
}

void stats_destroy(struct vcpu_stats *s)
{
	free(s->port);
	s->port = NULL;
}

static void stats_lat_add(struct stats_lat *l, uint64_t ns)
{
	l->count++;
	l->ns_total += ns;
	l->hist[stats_bucket(ns)]++;
}

void stats_exit(struct vcpu_stats *s, uint32_t reason, uint64_t ns)
{
	s->total++;
	stats_lat_add(reason < KVM_EXIT_NAMES ? &s->reason[reason] : &s->reason_other, ns);
}

void stats_port(struct vcpu_stats *s, uint16_t port, uint64_t ns)
{
	s->port[port].count++;
	s->port[port].ns_total += ns;
}

/* Open addressing on the address; a full table sends the rest to "other". */
static struct stats_io *stats_mmio_slot(struct vcpu_stats *s, uint64_t addr)
{
	uint32_t h = (uint32_t)((addr * 0x9e3779b97f4a7c15ull) >> 58);

	for (uint32_t i = 0; i < STATS_MMIO_SLOTS; i++) {
		struct stats_mmio *m = &s->mmio[(h + i) % STATS_MMIO_SLOTS];

		if (m->io.count && m->addr == addr)
			return &m->io;
		if (!m->io.count) {
			if (s->mmio_used >= STATS_MMIO_SLOTS)
				break;
			s->mmio_used++;
			m->addr = addr;
			return &m->io;
		}
	}
	return &s->mmio_other;
}

void stats_mmio(struct vcpu_stats *s, uint64_t addr, uint64_t ns)
{
	struct stats_io *io = stats_mmio_slot(s, addr);

	io->count++;
	io->ns_total += ns;
}

static void stats_lat_merge(struct stats_lat *d, const struct stats_lat *s)
{
	d->count += s->count;
	d->ns_total += s->ns_total;
	for (int i = 0; i < STATS_HIST_BUCKETS; i++)
		d->hist[i] += s->hist[i];
}

void stats_merge(struct vcpu_stats *dst, const struct vcpu_stats *src)
{
	dst->total += src->total;
	dst->run_ns += src->run_ns;
	for (int i = 0; i < KVM_EXIT_NAMES; i++)
		stats_lat_merge(&dst->reason[i], &src->reason[i]);
	stats_lat_merge(&dst->reason_other, &src->reason_other);
	for (int p = 0; p < STATS_NR_PORTS; p++) {
		dst->port[p].count += src->port[p].count;
		dst->port[p].ns_total += src->port[p].ns_total;
	}
	for (int i = 0; i < STATS_MMIO_SLOTS; i++) {
		const struct stats_mmio *m = &src->mmio[i];
		struct stats_io *d;

		if (!m->io.count)
			continue;
		d = stats_mmio_slot(dst, m->addr);
		d->count += m->io.count;
		d->ns_total += m->io.ns_total;
	}
	dst->mmio_other.count += src->mmio_other.count;
	dst->mmio_other.ns_total += src->mmio_other.ns_total;
	dst->unknown_port += src->unknown_port;
	dst->unknown_mmio += src->unknown_mmio;
}

uint64_t stats_hist_percentile(const uint64_t *hist, unsigned nr, unsigned pct)
{
	uint64_t total = 0, seen = 0, rank;

	for (unsigned i = 0; i < nr; i++)
		total += hist[i];
	if (!total)
		return 0;
	rank = (total * pct + 99) / 100;        /* ceil: the pct-th percent of samples */
	if (rank == 0)
		rank = 1;
	for (unsigned i = 0; i < nr; i++) {
		seen += hist[i];
		if (seen >= rank)
			return (2ull << i) - 1;
	}
	return (2ull << (nr - 1)) - 1;
}

static void stats_json_lat(struct json *j, const char *name, const struct stats_lat *l)
{
	unsigned last = 0;

	json_obj_begin(j, name);
	json_u64(j, "count", l->count);
	json_u64(j, "ns_total", l->ns_total);
	for (unsigned i = 0; i < STATS_HIST_BUCKETS; i++)
		if (l->hist[i])
			last = i;
	json_arr_begin(j, "hist_log2_ns");
	for (unsigned i = 0; i <= last && l->count; i++)
		json_u64(j, NULL, l->hist[i]);
	json_arr_end(j);
	json_obj_end(j);
}

void stats_json(struct json *j, const struct vcpu_stats *s)
{
	char key[32];

	json_obj_begin(j, "exits");
	json_u64(j, "total", s->total);
	json_u64(j, "run_ns", s->run_ns);
	json_obj_begin(j, "by_reason");
	for (uint32_t r = 0; r < KVM_EXIT_NAMES; r++) {
		const char *name = kvm_exit_name(r);

		if (!s->reason[r].count)
			continue;
		if (!name) {
			snprintf(key, sizeof(key), "REASON_%u", r);
			name = key;
		}
		stats_json_lat(j, name, &s->reason[r]);
	}
	if (s->reason_other.count)
		stats_json_lat(j, "OTHER", &s->reason_other);
	json_obj_end(j);

	json_obj_begin(j, "by_port");
	for (uint32_t p = 0; p < STATS_NR_PORTS; p++) {
		if (!s->port[p].count)
			continue;
		snprintf(key, sizeof(key), "0x%" PRIx32, p);
		json_obj_begin(j, key);
		json_u64(j, "count", s->port[p].count);
		json_u64(j, "ns_total", s->port[p].ns_total);
		json_obj_end(j);
	}
	json_obj_end(j);

	json_obj_begin(j, "by_mmio");
	for (int i = 0; i < STATS_MMIO_SLOTS; i++) {
		const struct stats_mmio *m = &s->mmio[i];

		if (!m->io.count)
			continue;
		snprintf(key, sizeof(key), "0x%" PRIx64, m->addr);
		json_obj_begin(j, key);
		json_u64(j, "count", m->io.count);
		json_u64(j, "ns_total", m->io.ns_total);
		json_obj_end(j);
	}
	if (s->mmio_other.count) {
		json_obj_begin(j, "other");
		json_u64(j, "count", s->mmio_other.count);
		json_u64(j, "ns_total", s->mmio_other.ns_total);
		json_obj_end(j);
	}
	json_obj_end(j);
	json_u64(j, "unknown_port", s->unknown_port);
	json_u64(j, "unknown_mmio", s->unknown_mmio);
	json_obj_end(j);
}

static void stats_table_row(FILE *f, const char *name, uint64_t count, uint64_t ns_total,
			    const uint64_t *hist)
{
	fprintf(f, "  %-22s %12" PRIu64 " %14" PRIu64 " %10" PRIu64, name, count, ns_total,
		count ? ns_total / count : 0);
	if (hist)
		fprintf(f, " %10" PRIu64 " %10" PRIu64,
			stats_hist_percentile(hist, STATS_HIST_BUCKETS, 50),
			stats_hist_percentile(hist, STATS_HIST_BUCKETS, 99));
	fputc('\n', f);
}

void stats_print_table(FILE *f, const struct vcpu_stats *s)
{
	char name[32];

	fprintf(f, "exits: %" PRIu64 " total, %" PRIu64 " ns in KVM_RUN\n", s->total, s->run_ns);
	fprintf(f, "  %-22s %12s %14s %10s %10s %10s\n", "reason", "count", "ns_total",
		"ns_avg", "p50_ns<=", "p99_ns<=");
	for (uint32_t r = 0; r < KVM_EXIT_NAMES; r++) {
		if (!s->reason[r].count)
			continue;
		snprintf(name, sizeof(name), "%s", kvm_exit_name(r) ? kvm_exit_name(r) : "?");
		stats_table_row(f, name, s->reason[r].count, s->reason[r].ns_total,
				s->reason[r].hist);
	}
	if (s->reason_other.count)
		stats_table_row(f, "OTHER", s->reason_other.count, s->reason_other.ns_total,
				s->reason_other.hist);
	fprintf(f, "  %-22s %12s %14s %10s\n", "port", "count", "ns_total", "ns_avg");
	for (uint32_t p = 0; p < STATS_NR_PORTS; p++) {
		if (!s->port[p].count)
			continue;
		snprintf(name, sizeof(name), "0x%" PRIx32, p);
		stats_table_row(f, name, s->port[p].count, s->port[p].ns_total, NULL);
	}
	for (int i = 0; i < STATS_MMIO_SLOTS; i++) {
		if (!s->mmio[i].io.count)
			continue;
		snprintf(name, sizeof(name), "mmio 0x%" PRIx64, s->mmio[i].addr);
		stats_table_row(f, name, s->mmio[i].io.count, s->mmio[i].io.ns_total, NULL);
	}
	if (s->mmio_other.count)
		stats_table_row(f, "mmio other", s->mmio_other.count, s->mmio_other.ns_total, NULL);
	if (s->unknown_port || s->unknown_mmio)
		fprintf(f, "  unknown: %" PRIu64 " port accesses, %" PRIu64 " MMIO accesses\n",
			s->unknown_port, s->unknown_mmio);
}
