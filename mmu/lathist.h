/* SPDX-License-Identifier: MIT */
/*
 * A latency histogram that many threads add to: log2 buckets of ns, each cut
 * into LATHIST_SUB linear sub-buckets, so percentiles come out within 1/16
 * of the value (exact below 16 ns).  Relaxed atomic adds only.
 */
#ifndef PV_MMU_LATHIST_H
#define PV_MMU_LATHIST_H

#include <stdatomic.h>
#include <stdint.h>

#define LATHIST_SUB_BITS 4
#define LATHIST_SUB      (1u << LATHIST_SUB_BITS)
#define LATHIST_LOG2_MAX 40     /* the last log2 bucket, [2^40, ...) ns, takes the rest */
#define LATHIST_N        ((LATHIST_LOG2_MAX - LATHIST_SUB_BITS + 2) * LATHIST_SUB)

struct lathist {
	atomic_uint_fast64_t count;
	atomic_uint_fast64_t ns_total;
	atomic_uint_fast64_t b[LATHIST_N];
};

/* The sub-bucket of @ns; below LATHIST_SUB each value has its own. */
unsigned lathist_index(uint64_t ns);
/* The smallest value of sub-bucket @i, and the width of its range. */
uint64_t lathist_low(unsigned i);
uint64_t lathist_width(unsigned i);

void lathist_add(struct lathist *h, uint64_t ns);

/*
 * The @pct-th percentile (0..100): the middle of the sub-bucket holding the
 * ceil(count * pct / 100)-th sample; 0 when empty.
 */
uint64_t lathist_percentile(const struct lathist *h, unsigned pct);

/*
 * Collapse into plain log2 buckets: out[i] counts [2^i, 2^(i+1)) ns (0 ns
 * in out[0]).  Returns the number of buckets up to the last nonzero one.
 */
unsigned lathist_log2(const struct lathist *h, uint64_t out[LATHIST_LOG2_MAX + 1]);

#endif
