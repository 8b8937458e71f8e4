/*
 * The process of workload faultbench (workloads/faultbench.c): map `pages`
 * 4 KiB pages lazily, write one word in each (seq: in order; random: page
 * i * stride % pages, stride coprime to pages), then verify every page.
 * The cycles the touch took and the error count go to the bottom of its
 * stack (FAULTBENCH_RESULT), where init reads them after a yield.
 */
#include <stdint.h>
#include <gk/aspace.h>
#include <gk/sysabi.h>
#include <gk/x86.h>
#include "faultbench.h"

static inline uint64_t fb_word(uint64_t page)
{
	return (page + 1) * 0x9e3779b97f4a7c15ull;
}

long faultbench_proc(long arg)
{
	uint64_t pages = FAULTBENCH_PAGES(arg), stride = FAULTBENCH_STRIDE(arg), errors = 0;
	volatile uint64_t *res = (volatile uint64_t *)FAULTBENCH_RESULT;
	long m = usys_call(SYS_MMAP, 0, (long)(pages * 4096), SYS_PROT_READ | SYS_PROT_WRITE, 0, 0);
	uint8_t *base = (uint8_t *)m;
	uint64_t t0, t1, pg = 0;

	if (m < 0)
		return 2;
	t0 = rdtsc();
	for (uint64_t i = 0; i < pages; i++) {
		*(volatile uint64_t *)(base + pg * 4096 + (pg % 512) * 8) = fb_word(pg);
		pg += stride;
		if (pg >= pages)
			pg -= pages;
	}
	t1 = rdtsc();
	for (pg = 0; pg < pages; pg++) {
		volatile uint64_t *w = (volatile uint64_t *)(base + pg * 4096);

		errors += w[pg % 512] != fb_word(pg);
		errors += w[(pg + 1) % 512] != 0;       /* the rest of the frame is zeroed */
	}
	res[0] = t1 - t0;
	res[1] = errors;
	res[2] = FAULTBENCH_MAGIC;
	usys_call(SYS_YIELD, 0, 0, 0, 0, 0);
	return errors ? 1 : 0;
}
