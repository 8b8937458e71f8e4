/*
 * memtest size=S seed=X: the kernel maps S bytes of fresh memory at
 * MM_WORKLOAD_BASE (2 MiB pages, 4 KiB for a tail); ring 3 writes a
 * per-8-byte pattern derived from address and seed, reads it back and counts
 * mismatches.  Exit 0 only with zero errors.
 *
 * Ring 3 maps the memory (map_ns) and unmaps it at the end (unmap_ns)
 * through the mm API, in the PV MMU mode of the run (gk/mmapi.h): batched,
 * a few records and a doorbell; off, one system call per page table whose
 * CPL0 loop writes each live PDE (emulated and trapped on the nested-KVM
 * host).
 */
#include <gk/arch.h>
#include <gk/mm.h>
#include <gk/printf.h>
#include <gk/report.h>
#include <gk/time.h>
#include <gk/workload.h>
#include <gk/x86.h>

struct memtest_ctx {
	uint64_t *base;
	uint64_t words;
	uint64_t seed;
	uint64_t errors;
	uint64_t bytes;         /* size rounded up to 4 KiB: what gets mapped */
	uint64_t map_cycles;
	uint64_t unmap_cycles;
};

static inline uint64_t memtest_pattern(const uint64_t *p, uint64_t seed)
{
	return ((uint64_t)(uintptr_t)p ^ seed) * 0x9e3779b97f4a7c15ull;
}

/* Metrics and one summary line (called in ring 3, where formatting is cheap). */
static void memtest_report(const struct memtest_ctx *c, uint64_t wns, uint64_t rns)
{
	uint64_t bytes = c->words * 8;

	report("errors", (int64_t)c->errors, 0);
	report("bytes", (int64_t)bytes, 0);
	report("ns", (int64_t)(wns + rns), 0);
	report("write_ns", (int64_t)wns, 0);
	report("read_ns", (int64_t)rns, 0);
	report("mb_per_s", wns + rns ? (int64_t)(bytes * 2 * 1000 / (wns + rns)) : 0, 0);
	report("map_ns", (int64_t)time_cycles_to_ns(c->map_cycles), 0);
	report("unmap_ns", (int64_t)time_cycles_to_ns(c->unmap_cycles), 0);
	printf("memtest: %lu bytes, %lu errors, write %lu us, read %lu us\n",
	       (unsigned long)bytes, (unsigned long)c->errors,
	       (unsigned long)(wns / 1000), (unsigned long)(rns / 1000));
}

/* Map, write the pattern, read it back, unmap; at CPL3. */
static long memtest_user(void *arg)
{
	struct memtest_ctx *c = arg;
	uint64_t *p = c->base, *end = c->base + c->words, errors = 0;
	uint64_t t0, t1, t2, t3;

	t0 = rdtsc();
	if (mm_map_user((uint64_t)(uintptr_t)c->base, c->bytes)) {
		printf("guest: memtest: out of memory mapping %lu KiB\n",
		       (unsigned long)(c->bytes >> 10));
		return 1;
	}
	c->map_cycles = rdtsc() - t0;
	t0 = rdtsc();
	for (p = c->base; p < end; p++)
		*(volatile uint64_t *)p = memtest_pattern(p, c->seed);
	t1 = rdtsc();
	for (p = c->base; p < end; p++)
		errors += *(volatile uint64_t *)p != memtest_pattern(p, c->seed);
	t2 = rdtsc();
	mm_unmap_user((uint64_t)(uintptr_t)c->base, c->bytes);
	t3 = rdtsc();
	c->errors = errors;
	c->unmap_cycles = t3 - t2;
	memtest_report(c, time_cycles_to_ns(t1 - t0), time_cycles_to_ns(t2 - t1));
	return errors ? 1 : 0;
}

static struct memtest_ctx memtest_ctx;

static int memtest_setup(const struct wl_args *a)
{
	struct memtest_ctx *c = &memtest_ctx;
	uint64_t size;

	if (wl_arg_u64(a, "memtest", "size", 64ull << 20, 8, 1ull << 40, true, &size) ||
	    wl_arg_u64(a, "memtest", "seed", 1, 0, ~0ull, false, &c->seed))
		return -1;
	c->bytes = (size + PAGE_SIZE_4K - 1) & ~(PAGE_SIZE_4K - 1);
	if (!mm_can_map(MM_WORKLOAD_BASE, c->bytes)) {
		printf("guest: memtest: size=%s (%lu KiB) exceeds free memory (%lu KiB)\n",
		       wl_arg(a, "size") ? wl_arg(a, "size") : "64M",
		       (unsigned long)(c->bytes >> 10),
		       (unsigned long)(frame_free_bytes() >> 10));
		return -1;
	}
	c->base = (uint64_t *)(uintptr_t)MM_WORKLOAD_BASE;
	c->words = size / 8;
	return 0;
}

static int memtest_main(void)
{
	return (int)user_run(memtest_user, &memtest_ctx);
}

static const char *const memtest_params[] = { "size", "seed", NULL };

const struct workload wl_memtest = {
	.name = "memtest",
	.usage = "size=S[K|M|G] seed=N",
	.params = memtest_params,
	.setup = memtest_setup,
	.main = memtest_main,
};
