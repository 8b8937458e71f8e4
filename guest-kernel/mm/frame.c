/*
 * Physical frame allocator.  RAM is managed in 2 MiB chunks: a bitmap with
 * one bit per chunk (1 = free), so setup costs one store per 64 chunks, not
 * one per frame.  4 KiB frames are carved from chunks, first from the rest
 * of the kernel's own chunk.
 *
 * A chunk carved into 4 KiB frames keeps its bookkeeping in its first frame
 * (struct frame_chunk; the kernel's chunk in a static one): a reference
 * count per frame, its own list of freed frames threaded through them, the
 * next never-used frame, and how many are free.  Chunks with a free frame
 * are on a doubly linked list; a chunk whose frames are all free again goes
 * back to the bitmap whole (coalescing; never the kernel's chunk).  So
 * every operation is O(1).
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
/*
 * References to a chunk handed out whole (1 from frame_alloc_2m; fork
 * shares a process's 2 MiB page copy-on-write): one byte, since only
 * processes (PROC_MAX) share one.  0 for a free or carved chunk.
 */
static uint8_t frame_ref2m[FRAME_CHUNKS_MAX];

#define FRAME_PER_CHUNK (PAGE_SIZE_2M / PAGE_SIZE_4K)
#define FRAME_NONE      ((uint32_t)-1)

struct frame_chunk {
	uint16_t ref[FRAME_PER_CHUNK];  /* per frame; frame 0 (this header) unused */
	uint64_t list;                  /* freed frames, linked through word 0 */
	uint32_t prev, next;            /* partial list (chunk numbers) */
	uint16_t nfree;                 /* free frames, never-used ones included */
	uint16_t carve;                 /* next never-used frame */
	bool dirty;                     /* handed out before: never-used frames may be dirty */
	bool partial;                   /* on the partial list */
};

static struct frame_chunk frame_kchunk; /* the kernel's chunk: frames [carve, 512) */
static uint64_t frame_kchunk_no = FRAME_NONE;
static uint32_t frame_partial = FRAME_NONE;     /* first chunk with a free frame */
static uint64_t frame_nfree4k;                  /* free frames in carved chunks */
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
	uint64_t carve = (reserved_end + PAGE_SIZE_4K - 1) & ~(PAGE_SIZE_4K - 1);

	if ((uint64_t)(uintptr_t)bi->fdt + bi->fdt_size > carve || low == 0)
		return;                 /* the FDT lies above the kernel: no carve area */
	frame_kchunk_no = low - 1;
	frame_kchunk.carve = (uint16_t)((carve - frame_kchunk_no * PAGE_SIZE_2M) / PAGE_SIZE_4K);
	frame_kchunk.nfree = (uint16_t)(FRAME_PER_CHUNK - frame_kchunk.carve);
	frame_kchunk.list = 0;
	frame_kchunk.prev = frame_kchunk.next = FRAME_NONE;
	if (frame_kchunk.nfree) {
		frame_kchunk.partial = true;
		frame_partial = (uint32_t)frame_kchunk_no;
		frame_nfree4k = frame_kchunk.nfree;
	}
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
	uint64_t pa = frame_take_chunk(&dirty);

	if (pa)
		frame_ref2m[pa / PAGE_SIZE_2M] = 1;
	return pa;
}

bool frame_take_2m(uint64_t pa)
{
	uint64_t c = pa / PAGE_SIZE_2M;

	if (pa % PAGE_SIZE_2M || c >= FRAME_CHUNKS_MAX || !(frame_free_map[c / 64] >> (c % 64) & 1))
		return false;
	frame_free_map[c / 64] &= ~(1ull << (c % 64));
	frame_dirty_map[c / 64] |= 1ull << (c % 64);
	frame_nfree--;
	frame_ref2m[c] = 1;
	return true;
}

void frame_free_2m(uint64_t pa)
{
	uint64_t c = pa / PAGE_SIZE_2M;

	GUEST_ASSERTF(pa % PAGE_SIZE_2M == 0 && c < FRAME_CHUNKS_MAX &&
		      !(frame_free_map[c / 64] >> (c % 64) & 1) && frame_ref2m[c] <= 1,
		      "frame_free_2m: bad, free or shared chunk 0x%lx", (unsigned long)pa);
	frame_ref2m[c] = 0;
	frame_free_map[c / 64] |= 1ull << (c % 64);
	frame_nfree++;
	if (c / 64 < frame_hint)
		frame_hint = c / 64;
}

/* The reference count of the whole chunk at pa, checked to be one handed out whole. */
static uint8_t *frame_ref2m_of(uint64_t pa)
{
	uint64_t c = pa / PAGE_SIZE_2M;

	GUEST_ASSERTF(pa % PAGE_SIZE_2M == 0 && c < FRAME_CHUNKS_MAX && frame_ref2m[c],
		      "frame: 0x%lx is not a 2 MiB frame in use", (unsigned long)pa);
	return &frame_ref2m[c];
}

void frame_ref_2m(uint64_t pa)
{
	uint8_t *r = frame_ref2m_of(pa);

	GUEST_ASSERTF(*r < UINT8_MAX, "frame_ref_2m: 0x%lx has too many references",
		      (unsigned long)pa);
	(*r)++;
}

unsigned frame_refs_2m(uint64_t pa)
{
	return *frame_ref2m_of(pa);
}

void frame_put_2m(uint64_t pa)
{
	uint8_t *r = frame_ref2m_of(pa);

	if (!--*r)
		frame_free_2m(pa);
}

static struct frame_chunk *frame_chunk_of(uint64_t c)
{
	return c == frame_kchunk_no ? &frame_kchunk
				    : (struct frame_chunk *)(uintptr_t)(c * PAGE_SIZE_2M);
}

static void frame_partial_add(uint64_t c, struct frame_chunk *h)
{
	h->prev = FRAME_NONE;
	h->next = frame_partial;
	if (frame_partial != FRAME_NONE)
		frame_chunk_of(frame_partial)->prev = (uint32_t)c;
	frame_partial = (uint32_t)c;
	h->partial = true;
}

static void frame_partial_del(struct frame_chunk *h)
{
	if (h->prev != FRAME_NONE)
		frame_chunk_of(h->prev)->next = h->next;
	else
		frame_partial = h->next;
	if (h->next != FRAME_NONE)
		frame_chunk_of(h->next)->prev = h->prev;
	h->partial = false;
}

/* A new chunk carved into 4 KiB frames (its header in frame 0): its number, or FRAME_NONE. */
static uint32_t frame_new_chunk(void)
{
	struct frame_chunk *h;
	bool dirty;
	uint64_t pa = frame_take_chunk(&dirty);

	if (!pa)
		return FRAME_NONE;
	h = (struct frame_chunk *)(uintptr_t)pa;
	memset(h, 0, sizeof(*h));
	h->carve = 1;
	h->nfree = FRAME_PER_CHUNK - 1;
	h->dirty = dirty;
	frame_nfree4k += h->nfree;
	frame_partial_add(pa / PAGE_SIZE_2M, h);
	return (uint32_t)(pa / PAGE_SIZE_2M);
}

/* A 4 KiB frame with one reference; zeroed if zero, else as it was left. */
static uint64_t frame_take_4k(bool zero)
{
	uint64_t c = frame_partial, pa;
	struct frame_chunk *h;

	if (c == FRAME_NONE) {
		if (!frame_booted)
			return 0;       /* a new chunk may lie outside the boot map */
		if ((c = frame_new_chunk()) == FRAME_NONE)
			return 0;
	}
	h = frame_chunk_of(c);
	if (h->list) {
		pa = h->list;
		h->list = *(uint64_t *)(uintptr_t)pa;
		if (zero)
			memset((void *)(uintptr_t)pa, 0, PAGE_SIZE_4K);
	} else {
		pa = c * PAGE_SIZE_2M + (uint64_t)h->carve++ * PAGE_SIZE_4K;
		if (zero && h->dirty)
			memset((void *)(uintptr_t)pa, 0, PAGE_SIZE_4K);
	}
	h->ref[(pa / PAGE_SIZE_4K) % FRAME_PER_CHUNK] = 1;
	frame_nfree4k--;
	if (!--h->nfree)
		frame_partial_del(h);
	return pa;
}

uint64_t frame_alloc_4k(void)
{
	return frame_take_4k(true);
}

uint64_t frame_alloc_4k_dirty(void)
{
	return frame_take_4k(false);
}

uint64_t frame_carve_2m(void)
{
	/* the new chunk goes to the head of the partial list: frame_take_4k takes from it */
	if (!frame_booted || frame_new_chunk() == FRAME_NONE)
		return 0;
	return frame_take_4k(true);
}

void frame_split_2m(uint64_t pa)
{
	unsigned refs = *frame_ref2m_of(pa);
	struct frame_chunk *h = (struct frame_chunk *)(uintptr_t)pa;
	memset(h, 0, sizeof(*h));
	/* all counts in one instruction: on a PVM host each CPL0 instruction is emulated */
	_Static_assert(sizeof(h->ref) % 8 == 0, "ref[] in whole words");
	memset64((uint64_t *)(void *)h->ref, refs * 0x0001000100010001ull, sizeof(h->ref) / 8);
	h->ref[0] = 0;                  /* frame 0: this header */
	h->carve = FRAME_PER_CHUNK;
	h->dirty = true;
	h->prev = h->next = FRAME_NONE;
	frame_ref2m[pa / PAGE_SIZE_2M] = 0;
}

void frame_ref_4k(uint64_t pa)
{
	struct frame_chunk *h = frame_chunk_of(pa / PAGE_SIZE_2M);
	uint16_t *r = &h->ref[(pa / PAGE_SIZE_4K) % FRAME_PER_CHUNK];

	GUEST_ASSERTF(pa % PAGE_SIZE_4K == 0 && *r && *r < UINT16_MAX,
		      "frame_ref_4k: bad frame 0x%lx", (unsigned long)pa);
	(*r)++;
}

unsigned frame_refs_4k(uint64_t pa)
{
	return frame_chunk_of(pa / PAGE_SIZE_2M)->ref[(pa / PAGE_SIZE_4K) % FRAME_PER_CHUNK];
}

void frame_free_4k(uint64_t pa)
{
	uint64_t c = pa / PAGE_SIZE_2M;
	struct frame_chunk *h;
	uint16_t *r;

	GUEST_ASSERTF(pa && pa % PAGE_SIZE_4K == 0 && c < FRAME_CHUNKS_MAX,
		      "frame_free_4k: bad frame 0x%lx", (unsigned long)pa);
	h = frame_chunk_of(c);
	r = &h->ref[(pa / PAGE_SIZE_4K) % FRAME_PER_CHUNK];
	GUEST_ASSERTF(*r && (uint64_t)(r - h->ref) != 0, "frame_free_4k: free frame 0x%lx",
		      (unsigned long)pa);
	if (--*r)
		return;
	*(uint64_t *)(uintptr_t)pa = h->list;
	h->list = pa;
	frame_nfree4k++;
	if (!h->nfree++)
		frame_partial_add(c, h);
	if (h->nfree == FRAME_PER_CHUNK - 1 && c != frame_kchunk_no) {
		/* Every frame is free again: the chunk goes back whole. */
		frame_partial_del(h);
		frame_nfree4k -= h->nfree;
		frame_free_2m(c * PAGE_SIZE_2M);
	}
}

uint64_t frame_free_4k_count(void)
{
	return frame_nfree * FRAME_PER_CHUNK + frame_nfree4k;
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
	uint64_t per_chunk = FRAME_PER_CHUNK - 1;
	uint64_t extra = n4k > frame_nfree4k ? (n4k - frame_nfree4k + per_chunk - 1) / per_chunk : 0;

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
