/*
 * Physical frame allocator.  RAM is managed in 2 MiB chunks: a bitmap with
 * one bit per chunk (1 = free), so setup costs one store per 64 chunks, not
 * one per frame.  4 KiB frames (page tables) are carved from one chunk at a
 * time, first from the rest of the kernel's own chunk; freed ones go on a
 * list threaded through the frames.
 *
 * Zeroing: guest RAM arrives zeroed from the VMM, so a chunk never handed out
 * before is clean; frame_alloc_4k only clears memory that may be dirty.
 */
#include <string.h>
#include <pagevisor/abi.h>
#include <gk/assert.h>
#include <gk/mm.h>
#include <gk/x86.h>

#define FRAME_CHUNKS_MAX (PV_RAM_MAX / PAGE_SIZE_2M)
#define FRAME_WORDS      (FRAME_CHUNKS_MAX / 64)

static uint64_t frame_free_map[FRAME_WORDS];    /* 1 = chunk free */
static uint64_t frame_dirty_map[FRAME_WORDS];   /* 1 = chunk was handed out */
static uint64_t frame_nfree;                    /* free chunks */
static uint64_t frame_hint;                     /* first word that may have a free bit */

static uint64_t frame_carve_pa;         /* next 4 KiB frame in the carve chunk */
static uint64_t frame_carve_end;
static bool frame_carve_dirty;
static uint64_t frame_list;             /* freed 4 KiB frames, linked through word 0 */
static bool frame_booted;               /* frame_boot_done() was called */

/* Set bits in v (SWAR; __builtin_popcountll would need libgcc without -mpopcnt). */
static uint64_t frame_popcount(uint64_t v)
{
	v = v - ((v >> 1) & 0x5555555555555555ull);
	v = (v & 0x3333333333333333ull) + ((v >> 2) & 0x3333333333333333ull);
	v = (v + (v >> 4)) & 0x0f0f0f0f0f0f0f0full;
	return (v * 0x0101010101010101ull) >> 56;
}

/* Mark chunks [first, last) free (free true) or reserved. */
static void frame_mark(uint64_t first, uint64_t last, bool free)
{
	while (first < last) {
		uint64_t w = first / 64, b = first % 64;
		uint64_t n = last - first < 64 - b ? last - first : 64 - b;
		uint64_t mask = (n == 64 ? ~0ull : ((1ull << n) - 1)) << b;
		uint64_t had = frame_popcount(frame_free_map[w] & mask);

		if (free) {
			frame_free_map[w] |= mask;
			frame_nfree += n - had;
		} else {
			frame_free_map[w] &= ~mask;
			frame_nfree -= had;
		}
		first += n;
	}
}

void frame_init(const struct bootinfo *bi, uint64_t reserved_end)
{
	uint64_t low = (reserved_end + PAGE_SIZE_2M - 1) / PAGE_SIZE_2M;

	for (int i = 0; i < bi->nmem; i++) {
		uint64_t first = (bi->mem[i].base + PAGE_SIZE_2M - 1) / PAGE_SIZE_2M;
		uint64_t last = (bi->mem[i].base + bi->mem[i].size) / PAGE_SIZE_2M;

		if (first < low)
			first = low;
		if (last > FRAME_CHUNKS_MAX)
			last = FRAME_CHUNKS_MAX;
		frame_mark(first, last, true);
	}
	frame_mark((uint64_t)(uintptr_t)bi->fdt / PAGE_SIZE_2M,
		   ((uint64_t)(uintptr_t)bi->fdt + bi->fdt_size + PAGE_SIZE_2M - 1) /
		   PAGE_SIZE_2M, false);

	/* The rest of the kernel's last chunk feeds the first 4 KiB frames. */
	frame_carve_pa = (reserved_end + PAGE_SIZE_4K - 1) & ~(PAGE_SIZE_4K - 1);
	frame_carve_end = low * PAGE_SIZE_2M;
	if ((uint64_t)(uintptr_t)bi->fdt + bi->fdt_size > frame_carve_pa)
		frame_carve_pa = frame_carve_end;       /* the FDT lies above the kernel */
	frame_carve_dirty = false;
}

/* Take a free chunk; *dirty says whether it was handed out before. */
static uint64_t frame_take_chunk(bool *dirty)
{
	if (!frame_nfree)
		return 0;
	for (uint64_t w = frame_hint; w < FRAME_WORDS; w++) {
		if (!frame_free_map[w])
			continue;
		uint64_t b = (uint64_t)__builtin_ctzll(frame_free_map[w]);

		frame_free_map[w] &= ~(1ull << b);
		*dirty = frame_dirty_map[w] >> b & 1;
		frame_dirty_map[w] |= 1ull << b;
		frame_nfree--;
		frame_hint = w;
		return (w * 64 + b) * PAGE_SIZE_2M;
	}
	kpanic("frame: %lu free chunks but none in the bitmap", (unsigned long)frame_nfree);
}

uint64_t frame_alloc_2m(void)
{
	bool dirty;

	return frame_take_chunk(&dirty);
}

bool frame_take_2m(uint64_t pa)
{
	uint64_t c = pa / PAGE_SIZE_2M;

	if (pa % PAGE_SIZE_2M || c >= FRAME_CHUNKS_MAX || !(frame_free_map[c / 64] >> (c % 64) & 1))
		return false;
	frame_free_map[c / 64] &= ~(1ull << (c % 64));
	frame_dirty_map[c / 64] |= 1ull << (c % 64);
	frame_nfree--;
	return true;
}

void frame_free_2m(uint64_t pa)
{
	uint64_t c = pa / PAGE_SIZE_2M;

	GUEST_ASSERTF(pa % PAGE_SIZE_2M == 0 && c < FRAME_CHUNKS_MAX &&
		      !(frame_free_map[c / 64] >> (c % 64) & 1),
		      "frame_free_2m: bad or free chunk 0x%lx", (unsigned long)pa);
	frame_free_map[c / 64] |= 1ull << (c % 64);
	frame_nfree++;
	if (c / 64 < frame_hint)
		frame_hint = c / 64;
}

uint64_t frame_alloc_4k(void)
{
	uint64_t pa;

	if (frame_list) {
		pa = frame_list;
		frame_list = *(uint64_t *)(uintptr_t)pa;
		memset((void *)(uintptr_t)pa, 0, PAGE_SIZE_4K);
		return pa;
	}
	if (frame_carve_pa == frame_carve_end) {
		if (!frame_booted)
			return 0;       /* a new chunk may lie outside the boot map */
		frame_carve_pa = frame_take_chunk(&frame_carve_dirty);
		if (!frame_carve_pa)
			return 0;
		frame_carve_end = frame_carve_pa + PAGE_SIZE_2M;
	}
	pa = frame_carve_pa;
	frame_carve_pa += PAGE_SIZE_4K;
	if (frame_carve_dirty)
		memset((void *)(uintptr_t)pa, 0, PAGE_SIZE_4K);
	return pa;
}

void frame_free_4k(uint64_t pa)
{
	GUEST_ASSERTF(pa && pa % PAGE_SIZE_4K == 0, "frame_free_4k: bad frame 0x%lx",
		      (unsigned long)pa);
	*(uint64_t *)(uintptr_t)pa = frame_list;
	frame_list = pa;
}

uint64_t frame_free_bytes(void)
{
	return frame_nfree * PAGE_SIZE_2M;
}

void frame_boot_done(void)
{
	frame_booted = true;
}

bool frame_can_alloc(uint64_t n2m, uint64_t n4k)
{
	uint64_t carve_left = (frame_carve_end - frame_carve_pa) / PAGE_SIZE_4K;
	uint64_t per_chunk = PAGE_SIZE_2M / PAGE_SIZE_4K;
	uint64_t extra = n4k > carve_left ? (n4k - carve_left + per_chunk - 1) / per_chunk : 0;

	if (extra && !frame_booted)
		return false;
	return n2m <= frame_nfree && extra <= frame_nfree - n2m;
}

uint64_t *frame_alloc_2m_list(uint64_t n, uint64_t n4k)
{
	uint64_t *list;

	if (n > (PAGE_SIZE_2M / sizeof(*list)) || !frame_can_alloc(n + 1, n4k))
		return NULL;
	list = (uint64_t *)(uintptr_t)frame_alloc_2m();
	for (uint64_t i = 0; i < n; i++)
		list[i] = frame_alloc_2m();
	return list;
}

void frame_free_2m_list(uint64_t *list, uint64_t keep_n)
{
	for (uint64_t i = 0; i < keep_n; i++)
		frame_free_2m(list[i]);
	frame_free_2m((uint64_t)(uintptr_t)list);
}
