/*
 * The processes of workload forkbench (workloads/forkbench.c).  The first
 * one maps `pages` 4 KiB pages lazily, writes every page, then forks
 * `children` children one after another.  Per fork it times the fork call;
 * the child times its first write (one copy-on-write fault), verifies all
 * of its parent's data, writes its own into some pages, verifies those,
 * and exits, leaving its figures at the bottom of its stack; the parent
 * waits, takes the TSC, verifies that its own data is as it left it (the
 * child's writes stayed private) and rewrites some pages before the next
 * fork.  Results: user/forkbench.h.
 */
#include <stdint.h>
#include <gk/aspace.h>
#include <gk/sysabi.h>
#include <gk/x86.h>
#include "forkbench.h"

#define FB_PAGE_WORDS 512
#define FB_PARENT_STEP 7        /* after fork k the parent rewrites pages i % 7 == k % 7 */
#define FB_CHILD_STEP 5         /* child k writes pages i % 5 == 1, and page k first */

static inline long fb_sys(long nr, long a1)
{
	return usys_call(nr, a1, 0, 0, 0, 0);
}

static inline uint64_t fb_val(uint64_t who, uint64_t page)
{
	return ((who << 32) | page) * 0x9e3779b97f4a7c15ull + 1;
}

/* The parent's version of page i after `rounds` forks (0: as first written). */
static uint64_t fb_version(uint64_t i, uint64_t rounds)
{
	uint64_t r = i % FB_PARENT_STEP;

	if (!rounds || rounds - 1 < r)
		return 0;
	return r + FB_PARENT_STEP * ((rounds - 1 - r) / FB_PARENT_STEP) + 1;
}

/* Page i's first and last word hold who's value for it. */
static void fb_put(uint64_t *base, uint64_t i, uint64_t who)
{
	base[i * FB_PAGE_WORDS] = fb_val(who, i);
	base[i * FB_PAGE_WORDS + FB_PAGE_WORDS - 1] = ~fb_val(who, i);
}

static long fb_bad(const uint64_t *base, uint64_t i, uint64_t who)
{
	return base[i * FB_PAGE_WORDS] != fb_val(who, i) ||
	       base[i * FB_PAGE_WORDS + FB_PAGE_WORDS - 1] != ~fb_val(who, i);
}

/* Child k's value for page i is "who" 1000 + k; the parent's version v is "who" v. */
static bool fb_child_page(uint64_t i, uint64_t k, uint64_t pages)
{
	return i == k % pages || i % FB_CHILD_STEP == 1;
}

static void __attribute__((noreturn)) fb_child(uint64_t *base, uint64_t pages, uint64_t k)
{
	volatile uint64_t *res = (volatile uint64_t *)FORKBENCH_RESULT;
	uint64_t t0, t1, errors = 0;

	t0 = rdtsc();
	base[(k % pages) * FB_PAGE_WORDS] = fb_val(1000 + k, k % pages);
	t1 = rdtsc();
	base[(k % pages) * FB_PAGE_WORDS + FB_PAGE_WORDS - 1] = ~fb_val(1000 + k, k % pages);
	for (uint64_t i = 0; i < pages; i++)
		if (i != k % pages)
			errors += fb_bad(base, i, fb_version(i, k));
	for (uint64_t i = 0; i < pages; i++)
		if (fb_child_page(i, k, pages))
			fb_put(base, i, 1000 + k);
	for (uint64_t i = 0; i < pages; i++)
		errors += fb_bad(base, i, fb_child_page(i, k, pages) ? 1000 + k : fb_version(i, k));
	res[0] = FORKBENCH_CHILD_MAGIC;
	res[1] = errors;
	res[2] = t1 - t0;
	res[3] = rdtsc();
	fb_sys(SYS_EXIT, errors ? 1 : 0);
	__builtin_unreachable();
}

long forkbench_proc(long arg)
{
	uint64_t pages = FORKBENCH_PAGES(arg), children = FORKBENCH_CHILDREN(arg), errors = 0, k;
	uint64_t fork_cycles[FORKBENCH_MAX_CHILDREN], wait_tsc[FORKBENCH_MAX_CHILDREN];
	volatile uint64_t *res = (volatile uint64_t *)FORKBENCH_RESULT;
	long m = usys_call(SYS_MMAP, 0, (long)(pages * 4096), SYS_PROT_READ | SYS_PROT_WRITE, 0, 0);
	uint64_t *base = (uint64_t *)m;

	if (m < 0 || children > FORKBENCH_MAX_CHILDREN)
		return 2;
	for (uint64_t i = 0; i < pages; i++)
		fb_put(base, i, 0);
	for (k = 0; k < children; k++) {
		uint64_t t0 = rdtsc(), t1;
		long pid = fb_sys(SYS_FORK, 0), w;
		int st = -1;

		t1 = rdtsc();
		if (pid == 0)
			fb_child(base, pages, k);
		if (pid < 0) {
			errors++;
			break;
		}
		fork_cycles[k] = t1 - t0;
		w = fb_sys(SYS_WAIT, (long)&st);
		wait_tsc[k] = rdtsc();
		errors += w != pid || st != 0;
		for (uint64_t i = 0; i < pages; i++)
			errors += fb_bad(base, i, fb_version(i, k));
		for (uint64_t i = k % FB_PARENT_STEP; i < pages; i += FB_PARENT_STEP)
			fb_put(base, i, k + 1);
	}
	for (uint64_t i = 0; i < pages; i++)
		errors += fb_bad(base, i, fb_version(i, k));
	for (uint64_t i = 0; i < k; i++) {
		res[FORKBENCH_FORK_CYCLES + i] = fork_cycles[i];
		res[FORKBENCH_WAIT_TSC + i] = wait_tsc[i];
	}
	res[0] = FORKBENCH_MAGIC;
	res[1] = errors;
	res[2] = k;
	return errors ? 1 : 0;
}
