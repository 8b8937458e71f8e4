/* SPDX-License-Identifier: MIT */
#include "mmu/lathist.h"

unsigned lathist_index(uint64_t ns)
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

uint64_t lathist_low(unsigned i)
{
	unsigned e = i / LATHIST_SUB + LATHIST_SUB_BITS - 1, sub = i % LATHIST_SUB;

	if (i < LATHIST_SUB)
		return i;
	return (1ull << e) + ((uint64_t)sub << (e - LATHIST_SUB_BITS));
}

uint64_t lathist_width(unsigned i)
{
	return i < LATHIST_SUB ? 1 : 1ull << (i / LATHIST_SUB - 1);
}

void lathist_add(struct lathist *h, uint64_t ns)
{
	atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->ns_total, ns, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->b[lathist_index(ns)], 1, memory_order_relaxed);
}

uint64_t lathist_percentile(const struct lathist *h, unsigned pct)
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

unsigned lathist_log2(const struct lathist *h, uint64_t out[LATHIST_LOG2_MAX + 1])
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
