/*
 * The process of workload hugebench (workloads/hugebench.c): map units x
 * 2 MiB, with 2 MiB pages (SYS_MAP_2M) or 4 KiB ones, and write one word
 * in every 4 KiB page, passes times (pass p writes its own pattern after
 * checking the previous one); the first pass (faults, for a 4 KiB mapping)
 * and the rest are timed apart.  Then every word is checked once more.
 * With ops, munmap, mprotect and fork over the mapping follow (hb_ops).
 * Results go to the bottom of its stack (HUGEBENCH_RESULT), where init
 * reads them after a yield, before it waits.
 */
#include <stdint.h>
#include <gk/aspace.h>
#include <gk/sysabi.h>
#include <gk/x86.h>
#include "hugebench.h"

#define HB_2M     (2ul << 20)
#define HB_W(b, i) (*(volatile uint64_t *)((b) + (i) * 4096 + ((i) % 512) * 8))

static inline uint64_t hb_word(uint64_t page, uint64_t pass)
{
	return (page + 1) * 0x9e3779b97f4a7c15ull ^ pass;
}

/* Whether every page's word but the one of page skip holds pass's pattern. */
static uint64_t hb_check(uint8_t *base, uint64_t pages, uint64_t skip, uint64_t pass)
{
	uint64_t e = 0;

	for (uint64_t i = 0; i < pages; i++)
		e += i != skip && HB_W(base, i) != hb_word(i, pass);
	return e;
}

/*
 * Over the mapping (pass's words in place), the errors: per unit a 4 KiB
 * mprotect at its second page, refused (-EINVAL) where a 2 MiB page maps
 * the unit (then the whole unit goes read-only and back), done and undone
 * where it fell back to 4 KiB pages (res[6], res[7] count them); in the
 * last unit, if it fell back, a 4 KiB munmap of its third page (mprotect
 * over the hole: -ENOMEM); then a fork whose child checks every word and
 * writes pass + 1 everywhere (copy-on-write in 4 KiB units; 2 MiB ones
 * are copies) while the parent's words stay.
 */
static uint64_t hb_ops(uint8_t *base, uint64_t units, uint64_t pass, volatile uint64_t *res)
{
	uint64_t e = 0, nh = 0, ns = 0, pages = units * 512, hole = ~0ull;
	int status = -1;
	long pid, last = 0;

	for (uint64_t u = 0; u < units; u++) {
		long a = (long)(base + u * HB_2M), r;

		r = usys_call(SYS_MPROTECT, a + 4096, 4096, SYS_PROT_READ, 0, 0);
		last = r;
		if (r == -SYS_EINVAL) {
			nh++;
			e += usys_call(SYS_MPROTECT, a, HB_2M, SYS_PROT_READ, 0, 0) != 0;
			e += usys_call(SYS_MPROTECT, a, HB_2M, SYS_PROT_READ | SYS_PROT_WRITE, 0, 0) != 0;
		} else if (r == 0) {
			ns++;
			e += usys_call(SYS_MPROTECT, a + 4096, 4096, SYS_PROT_READ | SYS_PROT_WRITE,
				       0, 0) != 0;
		} else {
			e++;
		}
	}
	res[6] = nh;
	res[7] = ns;
	if (last == 0) {
		hole = (units - 1) * 512 + 2;
		e += usys_call(SYS_MUNMAP, (long)(base + hole * 4096), 4096, 0, 0, 0) != 0;
		e += usys_call(SYS_MPROTECT, (long)(base + (hole - 1) * 4096), 3 * 4096,
			       SYS_PROT_READ, 0, 0) != -SYS_ENOMEM;
	}
	e += hb_check(base, pages, hole, pass);
	pid = usys_call(SYS_FORK, 0, 0, 0, 0, 0);
	if (pid == 0) {
		uint64_t ce = hb_check(base, pages, hole, pass);

		for (uint64_t i = 0; i < pages; i++)
			if (i != hole)
				HB_W(base, i) = hb_word(i, pass + 1);
		ce += hb_check(base, pages, hole, pass + 1);
		usys_call(SYS_EXIT, ce ? 3 : 0, 0, 0, 0, 0);
	}
	if (pid < 0)
		return e + 1;
	e += usys_call(SYS_WAIT, (long)&status, 0, 0, 0, 0) != pid || status != 0;
	e += hb_check(base, pages, hole, pass);
	for (uint64_t i = 0; i < pages; i++)      /* the last sharer of a 4 KiB page writes */
		if (i != hole)
			HB_W(base, i) = hb_word(i, pass);
	return e + hb_check(base, pages, hole, pass);
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
	res[5] = HUGEBENCH_MAPPED;              /* init may give fragmenting frames back now */
	usys_call(SYS_YIELD, 0, 0, 0, 0, 0);
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
		errors += HB_W(base, i) != hb_word(i, passes - 1);
	if (HUGEBENCH_OPS(arg))
		errors += hb_ops(base, units, passes - 1, res);
	res[1] = errors;
	res[2] = (uint64_t)m;
	res[3] = t[1] - t[0];
	res[4] = t[2] - t[1];
	res[0] = HUGEBENCH_MAGIC;
	usys_call(SYS_YIELD, 0, 0, 0, 0, 0);
	return errors ? 1 : 0;
}
