/*
 * memtouch size=S|max pattern=seq|random|hotcold passes=P write=0|1 seed=X hot=H
 *          hotwalk=random|cycle final=0|1
 *
 * Exercises the host side of guest memory: the memory is mapped up front
 * (2 MiB pages where it can), so the guest itself takes no page faults and
 * every fault is the host's (userfaultfd swap mode, or the host kernel's own
 * swap).  Runs in ring 3.
 *
 * Every page carries a stamp written with it: word 0 holds the page index
 * and a generation, words 1..511 a pattern of (seed, index, generation).  A
 * table of expected generations (mapped after the pages) lets every touch
 * verify the whole page, so a lost page (zeros), a misplaced one (another
 * index) and a stale one (an older generation) are all errors.
 *
 * Pass 0 stamps every page, last page first, so the hot set (the first
 * pages) is the most recently written when the passes start (init_ns).
 * Then P passes of S/4K
 * touches each: seq walks the pages in order, random picks pages at
 * random, hotcold touches a hot set (the first H bytes, default S/4) ten
 * times for every touch of a cold page (a random cold page).  hotwalk says
 * how the hot touches go: random picks (the default), or cycle: a walk that
 * visits every hot page once per H/4K hot touches, in a fixed scattered
 * order (a stride coprime to the hot pages), as a loop over a working set
 * does.  A touch verifies the page and, with
 * write=1, stamps it again with the next generation.  With final=1 (the
 * default) a last pass reads every page back.
 * Reports pages, touches, errors, ns_per_page (passes only) and init_ns;
 * and, timing each touch of the passes in the guest, slow_touches (those of
 * MT_SLOW_NS or more: they faulted, whoever served the fault) with their
 * slow_p50_ns and slow_p99_ns (within 1/16).
 */
#include <gk/arch.h>
#include <gk/mm.h>
#include <gk/printf.h>
#include <gk/report.h>
#include <gk/time.h>
#include <gk/workload.h>
#include <gk/x86.h>
#include <string.h>

#include "pagevisor/lathist.h"

#define MT_WORDS (PAGE_SIZE_4K / 8)
#define MT_SLOW_NS 5000     /* a touch this slow faulted: a resident page takes ~1 us */

enum mt_pattern { MT_SEQ, MT_RANDOM, MT_HOTCOLD };

struct memtouch_ctx {
	uint64_t *base;         /* the pages */
	uint32_t *gen;          /* expected generation per page, after the pages */
	uint64_t pages, hot_pages, passes, seed, map_bytes;
	uint64_t write, final;
	uint64_t hot_cycle, hot_step, hot_at;   /* hotwalk=cycle: its stride and place */
	enum mt_pattern pattern;
	uint64_t rng;
	uint64_t errors, touches;
	uint64_t first_bad;     /* 1 + index of the first page that failed, or 0 */
	struct lathist slow;    /* the passes' touches of MT_SLOW_NS or more */
};

static struct memtouch_ctx mt;

static inline uint64_t mt_word(uint64_t seed, uint64_t page, uint64_t gen, uint64_t w)
{
	return ((page << 20 ^ gen << 9 ^ w) + seed) * 0x9e3779b97f4a7c15ull;
}

static inline uint64_t mt_next(uint64_t *s)     /* xorshift64* */
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

static void mt_stamp(struct memtouch_ctx *c, uint64_t page, uint32_t gen)
{
	volatile uint64_t *p = c->base + page * MT_WORDS;

	for (uint64_t w = 1; w < MT_WORDS; w++)
		p[w] = mt_word(c->seed, page, gen, w);
	p[0] = page << 32 | gen;
	c->gen[page] = gen;
}

/* True when the page holds exactly what its last stamp wrote. */
static bool mt_check(struct memtouch_ctx *c, uint64_t page)
{
	const volatile uint64_t *p = c->base + page * MT_WORDS;
	uint32_t gen = c->gen[page];
	uint64_t bad = p[0] != (page << 32 | gen);

	for (uint64_t w = 1; w < MT_WORDS; w++)
		bad |= p[w] ^ mt_word(c->seed, page, gen, w);
	return !bad;
}

/* Check the page; count an error (and remember the first) when it fails. */
static void mt_verify(struct memtouch_ctx *c, uint64_t page)
{
	if (mt_check(c, page))
		return;
	if (!c->errors)
		c->first_bad = page + 1;
	c->errors++;
}

static void mt_touch(struct memtouch_ctx *c, uint64_t page)
{
	c->touches++;
	mt_verify(c, page);
	if (c->write)
		mt_stamp(c, page, c->gen[page] + 1);
}

static uint64_t mt_pick(struct memtouch_ctx *c, uint64_t i)
{
	uint64_t cold = c->pages - c->hot_pages;

	switch (c->pattern) {
	case MT_SEQ:
		return i % c->pages;
	case MT_RANDOM:
		return mt_next(&c->rng) % c->pages;
	default:        /* ten hot touches for each cold one */
		if (i % 11 != 10 || cold == 0) {
			if (!c->hot_cycle)
				return mt_next(&c->rng) % c->hot_pages;
			c->hot_at = (c->hot_at + c->hot_step) % c->hot_pages;
			return c->hot_at;
		}
		return c->hot_pages + mt_next(&c->rng) % cold;
	}
}

static long memtouch_user(void *arg)
{
	struct memtouch_ctx *c = arg;
	uint64_t t0, t1, t2, slow = time_ns_to_cycles_ceil(MT_SLOW_NS);

	if (mm_map_user((uint64_t)(uintptr_t)c->base, c->map_bytes)) {
		printf("guest: memtouch: out of memory mapping %lu KiB\n",
		       (unsigned long)(c->map_bytes >> 10));
		return 1;
	}
	t0 = rdtsc();
	for (uint64_t pg = c->pages; pg-- > 0;)
		mt_stamp(c, pg, 1);
	t1 = rdtsc();
	for (uint64_t pass = 0; pass < c->passes; pass++)
		for (uint64_t i = 0; i < c->pages; i++) {
			uint64_t page = mt_pick(c, i), s = rdtsc(), d;

			mt_touch(c, page);
			d = rdtsc() - s;
			if (d >= slow)          /* only the slow ones pay for the conversion */
				lathist_add(&c->slow, time_cycles_to_ns(d));
		}
	t2 = rdtsc();
	/* a last full read: every page must still hold its latest stamp */
	for (uint64_t pg = 0; c->final && pg < c->pages; pg++)
		mt_verify(c, pg);

	uint64_t init_ns = time_cycles_to_ns(t1 - t0), ns = time_cycles_to_ns(t2 - t1);

	report("pages", (int64_t)c->pages, 0);
	report("touches", (int64_t)c->touches, 0);
	report("errors", (int64_t)c->errors, 0);
	report("init_ns", (int64_t)init_ns, 0);
	report("ns", (int64_t)ns, 0);
	report("ns_per_page", c->touches ? (int64_t)(ns * 1000 / c->touches) : 0, 3);
	report("slow_touches", (int64_t)c->slow.count, 0);
	report("slow_p50_ns", (int64_t)lathist_percentile(&c->slow, 50), 0);
	report("slow_p99_ns", (int64_t)lathist_percentile(&c->slow, 99), 0);
	printf("memtouch: %lu pages, %lu touches, %lu errors, %lu ns/page\n",
	       (unsigned long)c->pages, (unsigned long)c->touches, (unsigned long)c->errors,
	       (unsigned long)(c->touches ? ns / c->touches : 0));
	if (c->errors)
		printf("memtouch: first bad page %lu\n", (unsigned long)(c->first_bad - 1));
	mm_unmap_user((uint64_t)(uintptr_t)c->base, c->map_bytes);
	return c->errors ? 1 : 0;
}

/* What @pages pages take: the pages and the table of generations after them. */
static uint64_t memtouch_map_bytes(uint64_t pages)
{
	return pages * PAGE_SIZE_4K +
	       ((pages * sizeof(uint32_t) + PAGE_SIZE_4K - 1) & ~(PAGE_SIZE_4K - 1));
}

/*
 * size=max: the most pages that can still be mapped.  Frames go out from the
 * bottom of RAM up, so such a region ends a few pages short of the end of
 * RAM (a host reading ahead of it runs past the end).
 */
static uint64_t memtouch_max_size(void)
{
	uint64_t lo = 0, hi = frame_free_bytes() / PAGE_SIZE_4K + PAGE_SIZE_2M / PAGE_SIZE_4K;

	while (lo < hi) {
		uint64_t mid = lo + (hi - lo + 1) / 2;

		if (mm_can_map(MM_WORKLOAD_BASE, memtouch_map_bytes(mid)))
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo * PAGE_SIZE_4K;
}

static int memtouch_setup(const struct wl_args *a)
{
	struct memtouch_ctx *c = &mt;
	const char *pat = wl_arg(a, "pattern"), *walk = wl_arg(a, "hotwalk");
	const char *sz = wl_arg(a, "size");
	uint64_t size, hot, gen_bytes;

	if (sz && !strcmp(sz, "max")) {
		size = memtouch_max_size();
		if (!size) {
			printf("guest: memtouch: size=max: no free memory\n");
			return -1;
		}
	} else if (wl_arg_u64(a, "memtouch", "size", 64ull << 20, PAGE_SIZE_4K, 1ull << 40, true,
			      &size)) {
		return -1;
	}
	if (wl_arg_u64(a, "memtouch", "passes", 2, 0, 1000, false, &c->passes) ||
	    wl_arg_u64(a, "memtouch", "passes", 2, 0, 1000, false, &c->passes) ||
	    wl_arg_u64(a, "memtouch", "write", 1, 0, 1, false, &c->write) ||
	    wl_arg_u64(a, "memtouch", "seed", 1, 0, ~0ull, false, &c->seed) ||
	    wl_arg_u64(a, "memtouch", "final", 1, 0, 1, false, &c->final) ||
	    wl_arg_u64(a, "memtouch", "hot", size / 4, PAGE_SIZE_4K, size, true, &hot))
		return -1;
	if (!pat || !strcmp(pat, "seq")) {
		c->pattern = MT_SEQ;
	} else if (!strcmp(pat, "random")) {
		c->pattern = MT_RANDOM;
	} else if (!strcmp(pat, "hotcold")) {
		c->pattern = MT_HOTCOLD;
	} else {
		printf("guest: memtouch: pattern=%s: want seq, random or hotcold\n", pat);
		return -1;
	}
	if (walk && strcmp(walk, "random") && strcmp(walk, "cycle")) {
		printf("guest: memtouch: hotwalk=%s: want random or cycle\n", walk);
		return -1;
	}
	c->hot_cycle = walk && !strcmp(walk, "cycle");
	c->pages = size / PAGE_SIZE_4K;
	c->hot_pages = hot / PAGE_SIZE_4K;
	if (c->hot_pages > c->pages)
		c->hot_pages = c->pages;
	c->map_bytes = memtouch_map_bytes(c->pages);
	gen_bytes = c->map_bytes - c->pages * PAGE_SIZE_4K;
	if (!mm_can_map(MM_WORKLOAD_BASE, c->map_bytes)) {
		printf("guest: memtouch: size=%lu KiB (plus %lu KiB of bookkeeping) exceeds free memory (%lu KiB)\n",
		       (unsigned long)(size >> 10), (unsigned long)(gen_bytes >> 10),
		       (unsigned long)(frame_free_bytes() >> 10));
		return -1;
	}
	c->base = (uint64_t *)(uintptr_t)MM_WORKLOAD_BASE;
	c->gen = (uint32_t *)(uintptr_t)(MM_WORKLOAD_BASE + c->pages * PAGE_SIZE_4K);
	c->hot_step = wl_coprime_stride(c->hot_pages, c->hot_pages * 618 / 1000);  /* far apart */
	c->rng = c->seed * 0x9e3779b97f4a7c15ull | 1;
	return 0;
}

static int memtouch_main(void)
{
	return (int)user_run(memtouch_user, &mt);
}

static const char *const memtouch_params[] = {
	"size", "pattern", "passes", "write", "seed", "hot", "final", "hotwalk", NULL
};

const struct workload wl_memtouch = {
	.name = "memtouch",
	.usage = "size=S[K|M|G]|max pattern=seq|random|hotcold passes=P write=0|1 seed=X hot=H hotwalk=random|cycle final=0|1",
	.params = memtouch_params,
	.setup = memtouch_setup,
	.main = memtouch_main,
};
