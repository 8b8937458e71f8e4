/*
 * The process of workload hugebench (workloads/hugebench.c): map units x
 * 2 MiB, with 2 MiB pages (SYS_MAP_2M) or 4 KiB ones, and write one word
 * in every 4 KiB page, passes times (pass p writes its own pattern after
 * checking the previous one); the first pass (faults, for a 4 KiB mapping)
 * and the rest are timed apart.  Then every word is checked once more.
 * Results go to the bottom of its stack (HUGEBENCH_RESULT), where init
 * reads them after a yield, before it waits.
 */
#include <stdint.h>
#include <gk/aspace.h>
#include <gk/sysabi.h>
#include <gk/x86.h>
#include "hugebench.h"

static inline uint64_t hb_word(uint64_t page, uint64_t pass)
{
	return (page + 1) * 0x9e3779b97f4a7c15ull ^ pass;
}

long hugebench_proc(long arg)
{
	uint64_t units = HUGEBENCH_UNITS(arg), passes = HUGEBENCH_PASSES(arg);
	uint64_t pages = units * 512, errors = 0, t[3] = { 0, 0, 0 };
	volatile uint64_t *res = (volatile uint64_t *)HUGEBENCH_RESULT;
	long m = usys_call(SYS_MMAP, 0, (long)(units << 21), SYS_PROT_READ | SYS_PROT_WRITE,
			   HUGEBENCH_HUGE(arg) ? SYS_MAP_2M : 0, 0);
	uint8_t *base = (uint8_t *)m;

	if (m < 0)
		return 2;
	t[0] = rdtsc();
	for (uint64_t p = 0; p < passes; p++) {
		for (uint64_t i = 0; i < pages; i++) {
			volatile uint64_t *w = (volatile uint64_t *)(base + i * 4096 + (i % 512) * 8);

			errors += *w != (p ? hb_word(i, p - 1) : 0);
			*w = hb_word(i, p);
		}
		if (!p)
			t[1] = rdtsc();
	}
	t[2] = rdtsc();
	for (uint64_t i = 0; i < pages; i++)
		errors += *(volatile uint64_t *)(base + i * 4096 + (i % 512) * 8) !=
			  hb_word(i, passes - 1);
	res[1] = errors;
	res[2] = (uint64_t)m;
	res[3] = t[1] - t[0];
	res[4] = t[2] - t[1];
	res[0] = HUGEBENCH_MAGIC;
	usys_call(SYS_YIELD, 0, 0, 0, 0, 0);
	return errors ? 1 : 0;
}
