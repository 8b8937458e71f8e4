/* SPDX-License-Identifier: MIT */
/*
 * A latency histogram that many threads add to: log2 buckets of ns, each cut
 * into LATHIST_SUB linear sub-buckets, so percentiles come out within 1/16
 * of the value (exact below 16 ns).  Relaxed atomic adds only.
 *
 * Not part of the guest/VMM contract: code both sides use (the VMM's fault
 * latencies, the guest's touch times), here because include/ is what both
 * may include.  Header-only, C11 (stdatomic), no libc beyond it.
 */
#ifndef PAGEVISOR_LATHIST_H
#define PAGEVISOR_LATHIST_H

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
static inline unsigned lathist_index(uint64_t ns)
{
	unsigned e;

	if (ns < LATHIST_SUB)
		return (unsigned)ns;
	e = 63 - (unsigned)__builtin_clzll(ns);
	if (e > LATHIST_LOG2_MAX)
		return LATHIST_N - 1;
	return (e - LATHIST_SUB_BITS + 1) * LATHIST_SUB +
	       (unsigned)((ns >> (e - LATHIST_SUB_BITS)) & (LATHIST_SUB - 1));
}

/* The smallest value of sub-bucket @i, and the width of its range. */
static inline uint64_t lathist_low(unsigned i)
{
	unsigned e = i / LATHIST_SUB + LATHIST_SUB_BITS - 1, sub = i % LATHIST_SUB;

	if (i < LATHIST_SUB)
		return i;
	return (1ull << e) + ((uint64_t)sub << (e - LATHIST_SUB_BITS));
}

static inline uint64_t lathist_width(unsigned i)
{
	return i < LATHIST_SUB ? 1 : 1ull << (i / LATHIST_SUB - 1);
}

static inline void lathist_add(struct lathist *h, uint64_t ns)
{
	atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->ns_total, ns, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->b[lathist_index(ns)], 1, memory_order_relaxed);
}

/*
 * The @pct-th percentile (0..100): the middle of the sub-bucket holding the
 * ceil(count * pct / 100)-th sample; 0 when empty.
 */
static inline uint64_t lathist_percentile(const struct lathist *h, unsigned pct)
{
	uint64_t total = 0, seen = 0, rank;

	for (unsigned i = 0; i < LATHIST_N; i++)
		total += atomic_load_explicit(&h->b[i], memory_order_relaxed);
	if (!total)
		return 0;
	rank = (total * pct + 99) / 100;
	if (rank == 0)
		rank = 1;
	for (unsigned i = 0; i < LATHIST_N; i++) {
		seen += atomic_load_explicit(&h->b[i], memory_order_relaxed);
		if (seen >= rank)
			return lathist_low(i) + lathist_width(i) / 2;
	}
	return lathist_low(LATHIST_N - 1);
}

/*
 * Collapse into plain log2 buckets: out[i] counts [2^i, 2^(i+1)) ns (0 ns
 * in out[0]).  Returns the number of buckets up to the last nonzero one.
 */
static inline unsigned lathist_log2(const struct lathist *h, uint64_t out[LATHIST_LOG2_MAX + 1])
{
	unsigned used = 0;

	for (unsigned e = 0; e <= LATHIST_LOG2_MAX; e++)
		out[e] = 0;
	for (unsigned i = 0; i < LATHIST_N; i++) {
		uint64_t n = atomic_load_explicit(&h->b[i], memory_order_relaxed), low;
		unsigned e;

		if (!n)
			continue;
		low = lathist_low(i);
		e = low ? 63 - (unsigned)__builtin_clzll(low) : 0;
		out[e] += n;
		used = e + 1;
	}
	return used;
}

#endif
