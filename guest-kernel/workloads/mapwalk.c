/*
 * mapwalk size=S chunk=C passes=P release=0|1: memory that is mapped only
 * while it is used, chunk by chunk, as a kernel maps a file window or a
 * process's pages on demand.
 *
 * S of RAM in 2 MiB frames (frame_alloc_2m) is walked P times through one
 * C-sized window at MM_WORKLOAD_BASE.  For each chunk: one lazy section maps
 * the chunk's frames with 4 KiB PTEs (one mm_map_range per physically
 * contiguous run; batched: one doorbell, the MAP the VMM prefaults: frames
 * swapped out since the last pass come back while the guest starts on the
 * first pages); ring 3 verifies every page's stamp from the previous pass
 * (pass 0: zeros, fresh memory) and stamps it anew; one lazy section clears
 * the PTEs (and flushes).  With release=1 the last pass verifies and, in the
 * clear's lazy section, releases the chunk's frames (mm_release_frames: one
 * doorbell carries the CLEAR and the RELEASE) instead of restamping;
 * meminfo before and after each such section measures what the host gave
 * back (signed sums; those two exits are not timed).
 *
 * A stamp: word 0 = page index << 32 | (pass + 1), words 1..511 a pattern
 * of (index, pass); all 512 words are checked.  Times are per pass in the
 * guest, mapping and unmapping included: ns_per_page over passes 1..P-1
 * (maps the VMM can prefault), first_ns_per_page for pass 0 (first
 * touches), release_ns for the release pass.
 *
 * Metrics: pages, chunks, passes, errors, ns_per_page, first_ns_per_page,
 * released_bytes, release_alloc_drop_bytes, release_swap_drop_bytes,
 * release_ns, allocated_bytes (meminfo at the end).  Exit 0 iff errors == 0.
 */
#include <pagevisor/abi.h>
#include <gk/arch.h>
#include <gk/hypercall.h>
#include <gk/mm.h>
#include <gk/mmapi.h>
#include <gk/printf.h>
#include <gk/report.h>
#include <gk/time.h>
#include <gk/workload.h>
#include <gk/x86.h>

#define MW_WORDS (PAGE_SIZE_4K / 8)
#define MW_PAGES_2M (PAGE_SIZE_2M / PAGE_SIZE_4K)
#define MW_WINDOW MM_WORKLOAD_BASE
#define MW_SEED 0x6d617077616c6b31ull

struct mapwalk_ctx {
	uint64_t size, chunk, passes, release;
	uint64_t nframes, per_chunk, chunks, pages;     /* per_chunk: 2 MiB frames */
	uint64_t *frames;               /* frame_alloc_2m_list */
	uint64_t errors;
	uint64_t bad_page, bad_pass, bad_word, bad_found, bad_want;     /* the first bad page */
	int64_t alloc_drop, swap_drop;  /* release pass: signed sums over its sections */
	uint64_t untimed;               /* cycles of the current pass spent in meminfo */
	uint64_t pass_cycles[2];        /* pass 0; passes 1..P-1 */
	uint64_t release_cycles;
};

static struct mapwalk_ctx mw;

static inline uint64_t mw_word(uint64_t page, uint64_t pass, uint64_t w)
{
	if (!w)
		return page << 32 | (pass + 1);
	return ((page << 20 ^ pass << 9 ^ w) + MW_SEED) * 0x9e3779b97f4a7c15ull;
}

/*
 * Check the page at p against the stamp of pass `pass - 1` (pass 0: all
 * zeros); count a bad page, remembering the first one's first bad word.
 */
static void mw_verify(struct mapwalk_ctx *c, const volatile uint64_t *p, uint64_t page,
		      uint64_t pass)
{
	uint64_t bad = 0;

	if (!pass) {
		for (uint64_t w = 0; w < MW_WORDS; w++)
			bad |= p[w];
	} else {
		for (uint64_t w = 0; w < MW_WORDS; w++)
			bad |= p[w] ^ mw_word(page, pass - 1, w);
	}
	if (!bad)
		return;
	if (!c->errors++) {
		for (uint64_t w = 0; w < MW_WORDS; w++) {
			uint64_t want = pass ? mw_word(page, pass - 1, w) : 0;

			if (p[w] != want) {
				c->bad_word = w;
				c->bad_found = p[w];
				c->bad_want = want;
				break;
			}
		}
		c->bad_page = page;
		c->bad_pass = pass;
	}
}

static void mw_stamp(volatile uint64_t *p, uint64_t page, uint64_t pass)
{
	for (uint64_t w = 1; w < MW_WORDS; w++)
		p[w] = mw_word(page, pass, w);
	p[0] = mw_word(page, pass, 0);
}

/* Frames from f[k] that are physically consecutive (at most left). */
static uint64_t mw_run(const uint64_t *f, uint64_t k, uint64_t left)
{
	uint64_t n = 1;

	while (n < left && f[k + n] == f[k] + n * PAGE_SIZE_2M)
		n++;
	return n;
}

/* meminfo, untimed; false (an error, printed) when the VMM refuses it. */
static bool mw_meminfo(struct mapwalk_ctx *c, struct pv_meminfo *m)
{
	uint64_t t0 = rdtsc();
	int st = hc_meminfo(m);

	c->untimed += rdtsc() - t0;
	if (st == PV_OK)
		return true;
	if (!c->errors++) {
		printf("guest: mapwalk: meminfo refused: status %d\n", st);
		c->bad_page = ~0ull;    /* no page to show */
	}
	return false;
}

/* One chunk of one pass: map, verify (and stamp), clear (and release). 0, or -1. */
static int mw_chunk(struct mapwalk_ctx *c, uint64_t chunk, uint64_t pass, bool releasing)
{
	const uint64_t *f = c->frames + chunk * c->per_chunk;
	uint64_t first = chunk * c->per_chunk * MW_PAGES_2M, n = c->per_chunk * MW_PAGES_2M;
	struct pv_meminfo before, after;
	bool measured = false;

	mm_lazy_enter();
	for (uint64_t k = 0, r; k < c->per_chunk; k += r) {
		r = mw_run(f, k, c->per_chunk - k);
		if (mm_map_range(PT_LEVEL_4K, MW_WINDOW + k * PAGE_SIZE_2M, r * MW_PAGES_2M, f[k],
				 PTE_W | PTE_U)) {
			mm_lazy_leave();
			printf("guest: mapwalk: out of memory for a page table\n");
			return -1;
		}
	}
	mm_lazy_leave();

	for (uint64_t i = 0; i < n; i++) {
		volatile uint64_t *p = (volatile uint64_t *)(uintptr_t)(MW_WINDOW + i * PAGE_SIZE_4K);

		mw_verify(c, p, first + i, pass);
		if (!releasing)
			mw_stamp(p, first + i, pass);
	}

	if (releasing)
		measured = mw_meminfo(c, &before);
	mm_lazy_enter();
	mm_clear_range(PT_LEVEL_4K, MW_WINDOW, n);
	for (uint64_t k = 0, r; releasing && k < c->per_chunk; k += r) {
		r = mw_run(f, k, c->per_chunk - k);
		mm_release_frames(f[k], r * MW_PAGES_2M);
	}
	mm_lazy_leave();
	if (measured && mw_meminfo(c, &after)) {
		c->alloc_drop += (int64_t)(before.allocated_bytes - after.allocated_bytes);
		c->swap_drop += (int64_t)(before.swap_bytes - after.swap_bytes);
	}
	return 0;
}

static void mw_report(struct mapwalk_ctx *c)
{
	uint64_t first_ns = time_cycles_to_ns(c->pass_cycles[0]);
	uint64_t rest_ns = time_cycles_to_ns(c->pass_cycles[1]);
	uint64_t rest_pages = c->pages * (c->passes - 1);
	struct pv_meminfo m = { 0 };

	mw_meminfo(c, &m);
	report("pages", (int64_t)c->pages, 0);
	report("chunks", (int64_t)c->chunks, 0);
	report("passes", (int64_t)c->passes, 0);
	report("errors", (int64_t)c->errors, 0);
	report("ns_per_page", rest_pages ? (int64_t)(rest_ns * 1000 / rest_pages) : 0, 3);
	report("first_ns_per_page", (int64_t)(first_ns * 1000 / c->pages), 3);
	report("released_bytes", c->release ? (int64_t)c->size : 0, 0);
	report("release_alloc_drop_bytes", c->alloc_drop, 0);
	report("release_swap_drop_bytes", c->swap_drop, 0);
	report("release_ns", (int64_t)time_cycles_to_ns(c->release_cycles), 0);
	report("allocated_bytes", (int64_t)m.allocated_bytes, 0);
	printf("mapwalk: %lu pages in %lu chunks, %lu passes, %lu errors, %lu ns/page "
	       "(first pass %lu)\n", (unsigned long)c->pages, (unsigned long)c->chunks,
	       (unsigned long)c->passes, (unsigned long)c->errors,
	       (unsigned long)(rest_pages ? rest_ns / rest_pages : 0),
	       (unsigned long)(first_ns / c->pages));
	if (c->errors && c->bad_page != ~0ull)
		printf("mapwalk: first bad page %lu (pass %lu, word %lu): found 0x%lx, expected 0x%lx\n",
		       (unsigned long)c->bad_page, (unsigned long)c->bad_pass,
		       (unsigned long)c->bad_word, (unsigned long)c->bad_found,
		       (unsigned long)c->bad_want);
}

/* S in 2 MiB frames and a chunk for their list; false (printed) when memory is short. */
static bool mw_alloc(struct mapwalk_ctx *c)
{
	/* Page tables: one per 2 MiB of window, a PD per GiB, slack for the walk. */
	uint64_t tables = c->per_chunk + c->chunk / PAGE_SIZE_1G + 2;

	c->frames = frame_alloc_2m_list(c->nframes, tables);
	if (!c->frames)
		printf("guest: mapwalk: size=%lu MiB needs %lu MiB of free 2 MiB frames and page "
		       "tables, %lu MiB free\n", (unsigned long)(c->size >> 20),
		       (unsigned long)((c->nframes + 1) * 2), (unsigned long)(frame_free_bytes() >> 20));
	return c->frames != NULL;
}

static long mapwalk_user(void *arg)
{
	struct mapwalk_ctx *c = arg;

	if (!mw_alloc(c))
		return 1;
	for (uint64_t pass = 0; pass < c->passes; pass++) {
		bool releasing = c->release && pass == c->passes - 1;
		uint64_t t0 = rdtsc(), t;

		c->untimed = 0;
		for (uint64_t k = 0; k < c->chunks; k++)
			if (mw_chunk(c, k, pass, releasing))
				return 1;
		t = rdtsc() - t0 - c->untimed;
		c->pass_cycles[pass ? 1 : 0] += t;
		if (releasing)
			c->release_cycles = t;
	}
	mw_report(c);
	frame_free_2m_list(c->frames, c->nframes);
	return c->errors ? 1 : 0;
}

static int mapwalk_setup(const struct wl_args *a)
{
	struct mapwalk_ctx *c = &mw;

	if (wl_arg_u64(a, "mapwalk", "size", 64ull << 20, PAGE_SIZE_2M, 1ull << 39, true, &c->size) ||
	    wl_arg_u64(a, "mapwalk", "chunk", PAGE_SIZE_2M, PAGE_SIZE_2M, 1ull << 39, true,
		       &c->chunk) ||
	    wl_arg_u64(a, "mapwalk", "passes", 3, 1, 1000, false, &c->passes) ||
	    wl_arg_u64(a, "mapwalk", "release", 1, 0, 1, false, &c->release))
		return -1;
	if (c->size % PAGE_SIZE_2M || c->chunk % PAGE_SIZE_2M || c->size % c->chunk) {
		printf("guest: mapwalk: size=%lu KiB, chunk=%lu KiB: want multiples of 2 MiB, "
		       "chunk dividing size\n", (unsigned long)(c->size >> 10),
		       (unsigned long)(c->chunk >> 10));
		return -1;
	}
	c->nframes = c->size / PAGE_SIZE_2M;
	c->per_chunk = c->chunk / PAGE_SIZE_2M;
	c->chunks = c->size / c->chunk;
	c->pages = c->size / PAGE_SIZE_4K;
	return 0;
}

static int mapwalk_main(void)
{
	return (int)user_run(mapwalk_user, &mw);
}

static const char *const mapwalk_params[] = { "size", "chunk", "passes", "release", NULL };

const struct workload wl_mapwalk = {
	.name = "mapwalk",
	.usage = "size=S[K|M|G] chunk=C passes=P release=0|1",
	.params = mapwalk_params,
	.setup = mapwalk_setup,
	.main = mapwalk_main,
};
