/* SPDX-License-Identifier: MIT */
/*
 * Per-vCPU exit counters.  Each vCPU thread owns its struct vcpu_stats and
 * only adds to it (arrays, no locks, no allocation on the hot path); the main
 * thread merges them after the vCPUs have stopped.
 */
#ifndef PV_VMM_STATS_H
#define PV_VMM_STATS_H

#include <stdint.h>
#include <stdio.h>

#include "vmm/kvm.h"

#define STATS_HIST_BUCKETS 32   /* bucket i: [2^i, 2^(i+1)) ns; 0 holds 0..1 ns */
#define STATS_NR_PORTS     0x10000
#define STATS_MMIO_SLOTS   64   /* distinct MMIO addresses tracked; then "other" */

struct stats_lat {
	uint64_t count;
	uint64_t ns_total;
	uint64_t hist[STATS_HIST_BUCKETS];
};

struct stats_io {
	uint64_t count;
	uint64_t ns_total;
};

struct stats_mmio {
	uint64_t addr;
	struct stats_io io;
};

struct vcpu_stats {
	uint64_t total;                         /* every KVM_RUN return */
	uint64_t run_ns;                        /* time inside KVM_RUN */
	struct stats_lat reason[KVM_EXIT_NAMES];
	struct stats_lat reason_other;          /* reasons >= KVM_EXIT_NAMES */
	struct stats_io *port;                  /* [STATS_NR_PORTS] */
	struct stats_mmio mmio[STATS_MMIO_SLOTS];
	uint32_t mmio_used;
	struct stats_io mmio_other;
	uint64_t unknown_port;                  /* accesses to unregistered ports */
	uint64_t unknown_mmio;                  /* ... and unregistered MMIO */
};

/* Allocate the port array.  Returns 0 or -ENOMEM. */
int stats_init(struct vcpu_stats *s);
void stats_destroy(struct vcpu_stats *s);

/* floor(log2(ns)), clamped to the last bucket. */
static inline unsigned stats_bucket(uint64_t ns)
{
	unsigned b = ns ? 63 - (unsigned)__builtin_clzll(ns) : 0;

	return b < STATS_HIST_BUCKETS ? b : STATS_HIST_BUCKETS - 1;
}

/* Account one exit of @reason that took @ns to handle. */
void stats_exit(struct vcpu_stats *s, uint32_t reason, uint64_t ns);
void stats_port(struct vcpu_stats *s, uint16_t port, uint64_t ns);
void stats_mmio(struct vcpu_stats *s, uint64_t addr, uint64_t ns);

/* Add every counter of @src into @dst (both initialised). */
void stats_merge(struct vcpu_stats *dst, const struct vcpu_stats *src);

/* Latency percentile (0..100) estimated from a histogram: the upper bound of
 * the bucket holding it, in ns; 0 when empty. */
uint64_t stats_hist_percentile(const uint64_t *hist, unsigned nr, unsigned pct);

struct json;
/* The "exits" object of the JSON report. */
void stats_json(struct json *j, const struct vcpu_stats *s);
/* The human table. */
void stats_print_table(FILE *f, const struct vcpu_stats *s);

#endif
