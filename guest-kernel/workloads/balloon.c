/*
 * balloon size=S: memory given to the host comes back empty, and the host
 * really lets it go.
 *
 * S (a multiple of 2 MiB, default 8 MiB) in 2 MiB frames is mapped at
 * MM_WORKLOAD_BASE with 2 MiB pages and written whole, so that the host
 * backs it; meminfo (A0) and QUERY; the mapping is cleared and those very
 * frames are INFLATEd (balloon_frames: the workload keeps them, the driver
 * does not hold them); meminfo (A1) and QUERY again:
 *   (A0.allocated + A0.swap) - (A1.allocated + A1.swap) >= S - 256 KiB
 *   (slack for the host's own pages: the VMM's structs, the page tables),
 *   and current_bytes grew by exactly S;
 * then DEFLATE, map the frames again: every word reads 0; a new pattern is
 * written and read back.  Metrics: balloon_bytes, alloc_before (A0),
 * alloc_inflated (A1), alloc_drop_bytes (the difference above, signed),
 * errors.  Exit 0 iff every check holds.
 */
#include <stdarg.h>
#include <pagevisor/abi.h>
#include <gk/arch.h>
#include <gk/balloon.h>
#include <gk/hypercall.h>
#include <gk/mm.h>
#include <gk/mmapi.h>
#include <gk/printf.h>
#include <gk/report.h>
#include <gk/workload.h>
#include <gk/x86.h>

#define BW_BASE MM_WORKLOAD_BASE
#define BW_SLACK (256u << 10)
#define BW_ERRORS_SHOWN 8

struct bw_ctx {
	uint64_t size, n;               /* bytes; 2 MiB frames */
	uint64_t *frames;               /* frame_alloc_2m_list */
	uint64_t errors;
};

static struct bw_ctx bw;

/* Count a failed check and print it (the first few). */
static void __attribute__((format(printf, 3, 4))) bw_check(struct bw_ctx *c, bool ok,
							   const char *fmt, ...)
{
	va_list ap;

	if (ok)
		return;
	if (++c->errors > BW_ERRORS_SHOWN)
		return;
	printf("guest: balloon: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

static inline uint64_t bw_word(uint64_t a, uint64_t gen)
{
	return (a ^ gen << 56) * 0x9e3779b97f4a7c15ull | 1;    /* never 0 */
}

static void bw_fill(struct bw_ctx *c, uint64_t gen)
{
	volatile uint64_t *p = (volatile uint64_t *)(uintptr_t)BW_BASE;

	for (uint64_t i = 0; i < c->size / 8; i++)
		p[i] = bw_word(BW_BASE + i * 8, gen);
}

/* Words of the mapping that do not hold gen's pattern (gen 0: zeros); the first is printed. */
static void bw_expect(struct bw_ctx *c, uint64_t gen, const char *when)
{
	const volatile uint64_t *p = (const volatile uint64_t *)(uintptr_t)BW_BASE;
	uint64_t bad = 0, first = 0;

	for (uint64_t i = 0; i < c->size / 8; i++) {
		uint64_t want = gen ? bw_word(BW_BASE + i * 8, gen) : 0;

		if (p[i] != want && !bad++)
			first = i;
	}
	bw_check(c, !bad, "%s: %lu words wrong, the first at offset 0x%lx: 0x%lx, expected 0x%lx",
		 when, (unsigned long)bad, (unsigned long)(first * 8), (unsigned long)p[first],
		 (unsigned long)(gen ? bw_word(BW_BASE + first * 8, gen) : 0));
}

static bool bw_map(struct bw_ctx *c)
{
	if (!mm_map_frames(PT_LEVEL_2M, BW_BASE, c->n, c->frames, PTE_W | PTE_U))
		return true;
	printf("guest: balloon: out of memory for a page table\n");
	return false;
}

static bool bw_meminfo(struct bw_ctx *c, struct pv_meminfo *m, const char *when)
{
	int st = hc_meminfo(m);

	bw_check(c, st == PV_OK, "meminfo %s: status %d", when, st);
	return st == PV_OK;
}

static bool bw_query(struct bw_ctx *c, struct pv_balloon *q, const char *when)
{
	int st = balloon_query(q);

	bw_check(c, st == PV_OK, "QUERY %s: status %d", when, st);
	return st == PV_OK;
}

/* The frames and a chunk for their list; false (printed) when memory is short. */
static bool bw_alloc(struct bw_ctx *c)
{
	c->frames = frame_alloc_2m_list(c->n, c->size / PAGE_SIZE_1G + 2);
	if (!c->frames)
		printf("guest: balloon: size=%lu MiB needs %lu MiB of free 2 MiB frames, %lu MiB free\n",
		       (unsigned long)(c->size >> 20), (unsigned long)((c->n + 1) * 2),
		       (unsigned long)(frame_free_bytes() >> 20));
	return c->frames != NULL;
}

static long bw_user(void *arg)
{
	struct bw_ctx *c = arg;
	struct pv_meminfo a0 = { 0 }, a1 = { 0 };
	struct pv_balloon q0 = { 0 }, q1 = { 0 }, r = { 0 };
	int64_t drop = 0;
	bool ok;
	int st;

	if (!bw_alloc(c) || !bw_map(c))
		return 1;
	bw_fill(c, 1);
	bw_expect(c, 1, "the pattern before inflating");
	ok = bw_query(c, &q0, "before inflating") && bw_meminfo(c, &a0, "before inflating");
	mm_clear_range(PT_LEVEL_2M, BW_BASE, c->n);

	st = balloon_frames(PV_BALLOON_INFLATE, c->frames, c->n, &r);
	bw_check(c, st == PV_OK, "INFLATE of %lu MiB: status %d", (unsigned long)(c->size >> 20), st);
	if (st != PV_OK)
		goto out;       /* nothing else can hold */
	bw_check(c, r.current_bytes == q0.current_bytes + c->size,
		 "INFLATE of %lu bytes: current_bytes %lu, was %lu", (unsigned long)c->size,
		 (unsigned long)r.current_bytes, (unsigned long)q0.current_bytes);
	if (ok && bw_meminfo(c, &a1, "after inflating")) {
		drop = (int64_t)(a0.allocated_bytes + a0.swap_bytes) -
		       (int64_t)(a1.allocated_bytes + a1.swap_bytes);
		bw_check(c, drop >= (int64_t)(c->size - BW_SLACK),
			 "inflating %lu KiB gave back %ld KiB (allocated %lu -> %lu KiB, swap %lu -> "
			 "%lu KiB), want at least %lu KiB", (unsigned long)(c->size >> 10),
			 (long)(drop / 1024), (unsigned long)(a0.allocated_bytes >> 10),
			 (unsigned long)(a1.allocated_bytes >> 10), (unsigned long)(a0.swap_bytes >> 10),
			 (unsigned long)(a1.swap_bytes >> 10), (unsigned long)((c->size - BW_SLACK) >> 10));
	}
	if (bw_query(c, &q1, "after inflating"))
		bw_check(c, q1.current_bytes == q0.current_bytes + c->size,
			 "QUERY after inflating %lu bytes: current_bytes %lu, was %lu",
			 (unsigned long)c->size, (unsigned long)q1.current_bytes,
			 (unsigned long)q0.current_bytes);

	st = balloon_frames(PV_BALLOON_DEFLATE, c->frames, c->n, &r);
	bw_check(c, st == PV_OK, "DEFLATE of %lu MiB: status %d", (unsigned long)(c->size >> 20), st);
	if (st == PV_OK)
		bw_check(c, r.current_bytes == q0.current_bytes,
			 "DEFLATE: current_bytes %lu, %lu before the INFLATE",
			 (unsigned long)r.current_bytes, (unsigned long)q0.current_bytes);
	if (!bw_map(c)) {
		c->errors++;
		goto out;
	}
	bw_expect(c, 0, "after deflating");
	bw_fill(c, 2);
	bw_expect(c, 2, "a new pattern after deflating");
	mm_clear_range(PT_LEVEL_2M, BW_BASE, c->n);
	/* a chunk the host may still hold goes back to the allocator only if deflated */
	frame_free_2m_list(c->frames, st == PV_OK ? c->n : 0);
out:
	report("balloon_bytes", (int64_t)c->size, 0);
	report("alloc_before", (int64_t)a0.allocated_bytes, 0);
	report("alloc_inflated", (int64_t)a1.allocated_bytes, 0);
	report("alloc_drop_bytes", drop, 0);
	report("errors", (int64_t)c->errors, 0);
	printf("balloon: %lu MiB inflated and deflated, the host gave back %ld KiB, %lu errors\n",
	       (unsigned long)(c->size >> 20), (long)(drop / 1024), (unsigned long)c->errors);
	return c->errors ? 1 : 0;
}

static int bw_setup(const struct wl_args *a)
{
	struct bw_ctx *c = &bw;

	if (wl_arg_u64(a, "balloon", "size", 8ull << 20, PAGE_SIZE_2M, 1ull << 39, true, &c->size))
		return -1;
	if (c->size % PAGE_SIZE_2M) {
		printf("guest: balloon: size=%lu KiB: want a multiple of 2 MiB\n",
		       (unsigned long)(c->size >> 10));
		return -1;
	}
	c->n = c->size / PAGE_SIZE_2M;
	return 0;
}

static int bw_main(void)
{
	return (int)user_run(bw_user, &bw);
}

static const char *const bw_params[] = { "size", NULL };

const struct workload wl_balloon = {
	.name = "balloon",
	.usage = "size=S[K|M|G]",
	.params = bw_params,
	.setup = bw_setup,
	.main = bw_main,
};
