/*
 * The process of workload hugebench (workloads/hugebench.c): map units x
 * 2 MiB, with 2 MiB pages (SYS_MAP_2M) or 4 KiB ones, and write one word
 * in every 4 KiB page, passes times (pass p writes its own pattern after
 * checking the previous one); the first pass (faults, for a 4 KiB mapping)
 * and the rest are timed apart.  Then every word is checked once more.
 * With ops, munmap, mprotect and fork over the mapping follow (hb_ops),
 * splitting its 2 MiB pages.
 * Results go to the bottom of its stack (HUGEBENCH_RESULT), where init
 * reads them after a yield, before it waits.
 */
#include <stdbool.h>
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

/* Whether page i is the hole ops unmap in its unit (HUGEBENCH_OP_MUNMAP). */
static bool hb_hole(uint64_t i, bool ops)
{
	return ops && HUGEBENCH_OP(i / 512) == HUGEBENCH_OP_MUNMAP && i % 512 == HUGEBENCH_HOLE;
}

/* Pages (holes left out) whose word does not hold pass's pattern. */
static uint64_t hb_check(uint8_t *base, uint64_t pages, bool ops, uint64_t pass)
{
	uint64_t e = 0;

	for (uint64_t i = 0; i < pages; i++)
		e += !hb_hole(i, ops) && HB_W(base, i) != hb_word(i, pass);
	return e;
}

/* Every page's word (holes left out) set to pass's pattern, then checked. */
static uint64_t hb_write(uint8_t *base, uint64_t pages, bool ops, uint64_t pass)
{
	for (uint64_t i = 0; i < pages; i++)
		if (!hb_hole(i, ops))
			HB_W(base, i) = hb_word(i, pass);
	return hb_check(base, pages, ops, pass);
}

/*
 * The fork half of ops, two generations: the child checks the parent's
 * words and forks a grandchild, which checks them too, writes pass + 2
 * everywhere and checks; then the child checks that its words stayed the
 * parent's, writes pass + 1 and checks.  Each first write to a 2 MiB page
 * still shared is a copy-on-write split.  Errors seen by the parent
 * (the child's status included); the parent's words are checked after.
 */
static uint64_t hb_fork(uint8_t *base, uint64_t pages, uint64_t pass)
{
	int status = -1;
	long pid = usys_call(SYS_FORK, 0, 0, 0, 0, 0);

	if (pid == 0) {
		uint64_t ce = hb_check(base, pages, true, pass);
		long gc = usys_call(SYS_FORK, 0, 0, 0, 0, 0);

		if (gc == 0) {
			ce += hb_check(base, pages, true, pass);
			ce += hb_write(base, pages, true, pass + 2);
			usys_call(SYS_EXIT, ce ? 3 : 0, 0, 0, 0, 0);
		}
		ce += gc < 0;
		ce += gc > 0 && (usys_call(SYS_WAIT, (long)&status, 0, 0, 0, 0) != gc || status != 0);
		ce += hb_check(base, pages, true, pass);
		ce += hb_write(base, pages, true, pass + 1);
		usys_call(SYS_EXIT, ce ? 3 : 0, 0, 0, 0, 0);
	}
	if (pid < 0)
		return 1;
	return usys_call(SYS_WAIT, (long)&status, 0, 0, 0, 0) != pid || status != 0;
}

/*
 * After the passes (pass's words in place): per unit u, by HUGEBENCH_OP(u):
 * a 4 KiB mprotect read-only of page 1 and back, then a
 * write to it (a 2 MiB page is split by the first); a 4 KiB munmap of page
 * HUGEBENCH_HOLE (splits), then an mprotect over the hole (-ENOMEM); an
 * mprotect of the whole unit read-only and back (a 2 MiB page stays one).
 * Then every word is checked, a fork of two generations writes in all
 * (hb_fork: the units still mapped 2 MiB are split by copy-on-write) and
 * the parent's words must still be its own; last the parent writes all
 * again (the last sharer of each page).  The errors.
 */
static uint64_t hb_ops(uint8_t *base, uint64_t units, uint64_t pass)
{
	uint64_t e = 0, pages = units * 512;

	for (uint64_t u = 0; u < units; u++) {
		long a = (long)(base + u * HB_2M), rw = SYS_PROT_READ | SYS_PROT_WRITE;
		uint64_t i = u * 512;

		switch (HUGEBENCH_OP(u)) {
		case HUGEBENCH_OP_MPROTECT:
			e += usys_call(SYS_MPROTECT, a + 4096, 4096, SYS_PROT_READ, 0, 0) != 0;
			e += HB_W(base, i + 1) != hb_word(i + 1, pass);
			e += usys_call(SYS_MPROTECT, a + 4096, 4096, rw, 0, 0) != 0;
			HB_W(base, i + 1) = hb_word(i + 1, pass);
			break;
		case HUGEBENCH_OP_MUNMAP:
			e += usys_call(SYS_MUNMAP, a + HUGEBENCH_HOLE * 4096, 4096, 0, 0, 0) != 0;
			e += usys_call(SYS_MPROTECT, a + (HUGEBENCH_HOLE - 1) * 4096, 3 * 4096,
				       SYS_PROT_READ, 0, 0) != -SYS_ENOMEM;
			break;
		default:
			e += usys_call(SYS_MPROTECT, a, HB_2M, SYS_PROT_READ, 0, 0) != 0;
			e += usys_call(SYS_MPROTECT, a, HB_2M, rw, 0, 0) != 0;
			break;
		}
	}
	e += hb_check(base, pages, true, pass);
	e += hb_fork(base, pages, pass);
	e += hb_check(base, pages, true, pass);
	return e + hb_write(base, pages, true, pass);
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
	res[2] = (uint64_t)m;
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
	errors += hb_check(base, pages, false, passes - 1);
	if (HUGEBENCH_OPS(arg)) {
		res[5] = HUGEBENCH_PASSED;      /* init counts the mapping's units now */
		usys_call(SYS_YIELD, 0, 0, 0, 0, 0);
		errors += hb_ops(base, units, passes - 1);
	}
	res[1] = errors;
	res[3] = t[1] - t[0];
	res[4] = t[2] - t[1];
	res[0] = HUGEBENCH_MAGIC;
	usys_call(SYS_YIELD, 0, 0, 0, 0, 0);
	return errors ? 1 : 0;
}
