/* SPDX-License-Identifier: MIT */
/*
 * The PV MMU channel's VMM side, record by record: each op's effect on guest
 * memory, every rejection (exact status, its counter, and nothing else
 * changed), pin/unpin rules, rings, doorbells, flushes, a guest that rewrites
 * its ring while the VMM reads it, and the cost per applied PTE (printed).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "pagevisor/pvmmu.h"
#include "testutil.h"
#include "vmm/json.h"
#include "vmm/pvmmu.h"

/*
 * 8 MiB of RAM: tables in the first 2 MiB region, the ring alone in the
 * second, free pages above.
 */
#define RAM         (8ull << 20)
#define PML4        0x10000ull
#define PDPT        0x11000ull
#define PD          0x12000ull
#define PT          0x13000ull
#define PT2         0x14000ull
#define SPARE       0x15000ull      /* a page that is never a table */
#define DATA        0x100000ull
#define RING        0x300000ull
#define FREE2M      0x400000ull     /* a 2 MiB region without tables or rings */

#define P   PV_PTE_P
#define W   PV_PTE_W
#define PS  PV_PTE_PS

static struct guestmem mem;
static struct pvmmu m;
static struct pvmmu_flush acc;
static struct pvmmu_ring_state rs;

static void setup_ram(uint64_t size)
{
	ck_assert_int_eq(guestmem_init(&mem, size), 0);
	ck_assert_int_eq(pvmmu_init(&m, &mem), 0);
	memset(&acc, 0, sizeof(acc));
	memset(&rs, 0, sizeof(rs));
}

static void setup(void)
{
	setup_ram(RAM);
}

static void setup_big(void)
{
	setup_ram(2ull << 30);      /* for 1 GiB leaves; untouched pages cost nothing */
}

static void teardown(void)
{
	pvmmu_destroy(&m);
	pvmmu_destroy(&m);          /* twice is fine */
	guestmem_destroy(&mem);
}

static uint64_t *at(uint64_t gpa)
{
	uint64_t *p = guestmem_hva(&mem, gpa, 8);

	ck_assert_ptr_nonnull(p);
	return p;
}

static struct pv_mmu_rec rec(uint8_t op, uint8_t level, uint32_t count, uint64_t ptep,
			     uint64_t val, uint64_t mask)
{
	return (struct pv_mmu_rec){ .op = op, .level = level, .count = count, .ptep = ptep,
				    .val = val, .mask = mask };
}

static int apply(uint8_t op, uint8_t level, uint32_t count, uint64_t ptep, uint64_t val,
		 uint64_t mask)
{
	struct pv_mmu_rec r = rec(op, level, count, ptep, val, mask);

	return pvmmu_apply(&m, &r, &acc);
}

#define OK(...) ck_assert_int_eq(apply(__VA_ARGS__), PV_MMU_OK)

static void pin(uint64_t gpa, uint8_t level)
{
	ck_assert_int_eq(apply(PV_MMU_PIN, level, 0, gpa, 0, 0), PV_MMU_OK);
	ck_assert_uint_eq(m.kind[gpa >> 12], level);
}

/* Register the ring of @nr records at @gpa as rs. */
static struct pv_mmu_ring *ring_init(uint64_t gpa, uint32_t nr)
{
	struct pv_mmu_setup s = { .version = PV_ABI_VERSION, .nr_records = nr, .ring_gpa = gpa };
	struct pv_mmu_ring *r = guestmem_hva(&mem, gpa, 64 + 32ull * nr);

	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(pvmmu_setup(&m, &rs, &s), PV_OK);
	return r;
}

/* Everything a record could change: guest RAM (small VMs) and the state. */
struct snap {
	uint8_t *ram;
	uint8_t *kind;
	uint32_t *refs, *wr4k, *wr2m, *wr1g, *pt1g, *ring1g;
	uint16_t *pt2m, *ring2m;
	uint32_t nr_pinned;
	uint64_t n2m, n1g;
};

static void *dup(const void *p, size_t len)
{
	void *q = malloc(len);

	ck_assert_ptr_nonnull(q);
	memcpy(q, p, len);
	return q;
}

static void snap_take(struct snap *s)
{
	s->n2m = (m.nr_frames + 511) >> 9;
	s->n1g = (m.nr_frames + (1u << 18) - 1) >> 18;
	s->ram = mem.size <= RAM ? dup(mem.alias, mem.size) : NULL;
	s->kind = dup(m.kind, m.nr_frames);
	s->refs = dup(m.refs, m.nr_frames * 4);
	s->wr4k = dup(m.wr4k, m.nr_frames * 4);
	s->wr2m = dup(m.wr2m, s->n2m * 4);
	s->wr1g = dup(m.wr1g, s->n1g * 4);
	s->pt2m = dup(m.pt2m, s->n2m * 2);
	s->ring2m = dup(m.ring2m, s->n2m * 2);
	s->pt1g = dup(m.pt1g, s->n1g * 4);
	s->ring1g = dup(m.ring1g, s->n1g * 4);
	s->nr_pinned = m.nr_pinned;
}

/* Nothing changed since snap_take(); frees the snapshot. */
static void snap_same(struct snap *s, int line)
{
	ck_assert_msg(!s->ram || memcmp(s->ram, mem.alias, mem.size) == 0,
		      "line %d: guest RAM changed", line);
	ck_assert_msg(memcmp(s->kind, m.kind, m.nr_frames) == 0 &&
		      memcmp(s->refs, m.refs, m.nr_frames * 4) == 0 &&
		      memcmp(s->wr4k, m.wr4k, m.nr_frames * 4) == 0 &&
		      memcmp(s->wr2m, m.wr2m, s->n2m * 4) == 0 &&
		      memcmp(s->wr1g, m.wr1g, s->n1g * 4) == 0 &&
		      memcmp(s->pt2m, m.pt2m, s->n2m * 2) == 0 &&
		      memcmp(s->ring2m, m.ring2m, s->n2m * 2) == 0 &&
		      memcmp(s->pt1g, m.pt1g, s->n1g * 4) == 0 &&
		      memcmp(s->ring1g, m.ring1g, s->n1g * 4) == 0 &&
		      s->nr_pinned == m.nr_pinned, "line %d: pvmmu state changed", line);
	free(s->ram);
	free(s->kind);
	free(s->refs);
	free(s->wr4k);
	free(s->wr2m);
	free(s->wr1g);
	free(s->pt2m);
	free(s->ring2m);
	free(s->pt1g);
	free(s->ring1g);
}

/* The record must be refused with @want, counted once, and change nothing. */
static void reject(int line, int want, uint8_t op, uint8_t level, uint32_t count,
		   uint64_t ptep, uint64_t val, uint64_t mask)
{
	struct pvmmu_counters c = m.c;
	struct pvmmu_flush a = acc;
	struct snap s;
	int st;

	snap_take(&s);
	st = apply(op, level, count, ptep, val, mask);
	ck_assert_msg(st == want, "line %d: op %u level %u count %u ptep 0x%llx val 0x%llx: "
		      "status %d, want %d (%s)", line, op, level, count, (unsigned long long)ptep,
		      (unsigned long long)val, st, want, pvmmu_status_name(want));
	c.records++;
	c.rejected++;
	c.by_reason[want]++;
	ck_assert_msg(memcmp(&c, &m.c, sizeof(c)) == 0, "line %d: counters", line);
	ck_assert_msg(memcmp(&a, &acc, sizeof(a)) == 0, "line %d: flush changed", line);
	snap_same(&s, line);
}

#define REJECT(want, ...) reject(__LINE__, want, __VA_ARGS__)

/*
 * Recompute every count from the pinned tables' contents and check the
 * invariants of pagevisor/pvmmu.h against guest memory itself.
 */
static void check_invariants(void)
{
	uint64_t n2m = (m.nr_frames + 511) >> 9, n1g = (m.nr_frames + (1u << 18) - 1) >> 18;
	uint32_t *refs = calloc(m.nr_frames, 4), *wr4k = calloc(m.nr_frames, 4);
	uint32_t *wr2m = calloc(n2m, 4), *wr1g = calloc(n1g, 4);
	uint32_t pinned = 0;

	ck_assert(refs && wr4k && wr2m && wr1g);
	for (uint64_t f = 0; f < m.nr_frames; f++) {
		unsigned level = m.kind[f];
		const uint64_t *t = guestmem_hva(&mem, f << 12, 4096);

		if (level < 1 || level > 4)
			continue;
		pinned++;
		for (int i = 0; i < 512; i++) {
			uint64_t v = t[i], a = v & PV_PTE_ADDR, g = a >> 12, size;

			if (!(v & P))
				continue;
			ck_assert_uint_eq(v & 0x7ff0000000000000ull, 0);
			if (level > 1 && !(v & PS)) {
				ck_assert_uint_lt(g, m.nr_frames);
				ck_assert_uint_eq(m.kind[g], level - 1);
				refs[g]++;
				continue;
			}
			ck_assert_uint_ne(level, 4);
			size = 1ull << (12 + 9 * (level - 1));
			ck_assert_uint_eq(a & (size - 1), 0);
			ck_assert(a + size <= mem.size);
			if (!(v & W))
				continue;
			for (uint64_t k = 0; k < size >> 12; k++)
				ck_assert_msg(m.kind[g + k] == 0, "frame 0x%llx mapped writable",
					      (unsigned long long)(g + k));
			if (level == 1)
				wr4k[g]++;
			else if (level == 2)
				wr2m[g >> 9]++;
			else
				wr1g[g >> 18]++;
		}
	}
	ck_assert_uint_eq(pinned, m.nr_pinned);
	ck_assert(memcmp(refs, m.refs, m.nr_frames * 4) == 0);
	ck_assert(memcmp(wr4k, m.wr4k, m.nr_frames * 4) == 0);
	ck_assert(memcmp(wr2m, m.wr2m, n2m * 4) == 0);
	ck_assert(memcmp(wr1g, m.wr1g, n1g * 4) == 0);
	free(refs);
	free(wr4k);
	free(wr2m);
	free(wr1g);
}

/* ---- each op's success path ------------------------------------------ */

START_TEST(set_map_protect_clear)
{
	uint64_t *pt = at(PT);

	pin(PT, 1);
	OK(PV_MMU_SET, 1, 1, PT + 8 * 5, (DATA + 0x3000) | P | W, 0);
	ck_assert_uint_eq(pt[5], (DATA + 0x3000) | P | W);
	ck_assert_uint_eq(m.wr4k[(DATA >> 12) + 3], 1);
	ck_assert_uint_eq(m.c.ptes_written, 1);

	/* frames advance by 4 KiB; flags are val's */
	OK(PV_MMU_MAP, 1, 512, PT, DATA | P | W | PV_PTE_NX, 0);
	for (uint64_t i = 0; i < 512; i++)
		ck_assert_uint_eq(pt[i], (DATA + i * 4096) | P | W | PV_PTE_NX);
	ck_assert_uint_eq(m.wr4k[(DATA >> 12) + 3], 1);     /* old entry 5 uncounted */
	ck_assert_uint_eq(m.c.ptes_written, 513);
	check_invariants();

	/* PROTECT: read-only, keep the A/D bits the hardware set, skip non-present */
	pt[7] |= PV_PTE_A | PV_PTE_D;
	OK(PV_MMU_SET, 1, 1, PT + 8 * 9, 0x1234502, 0);     /* a swap entry: not present */
	OK(PV_MMU_PROTECT, 1, 16, PT, PV_PTE_G, W | PV_PTE_NX);
	ck_assert_uint_eq(pt[0], DATA | P | PV_PTE_G);
	ck_assert_uint_eq(pt[7], (DATA + 7 * 4096) | P | PV_PTE_G | PV_PTE_A | PV_PTE_D);
	ck_assert_uint_eq(pt[9], 0x1234502);
	ck_assert_uint_eq(pt[16], (DATA + 16 * 4096) | P | W | PV_PTE_NX);
	ck_assert_uint_eq(m.wr4k[DATA >> 12], 0);
	ck_assert_uint_eq(m.c.ptes_written, 514 + 15);
	check_invariants();

	OK(PV_MMU_CLEAR, 1, 3, PT + 8 * 15, 0, 0);
	ck_assert_uint_eq(pt[15], 0);
	ck_assert_uint_eq(pt[16], 0);
	ck_assert_uint_eq(pt[17], 0);
	ck_assert_uint_eq(pt[18], (DATA + 18 * 4096) | P | W | PV_PTE_NX);
	ck_assert_uint_eq(m.wr4k[(DATA >> 12) + 16], 0);
	check_invariants();

	/* MAP of non-present entries: any value, the address still advances */
	OK(PV_MMU_MAP, 1, 2, PT + 8 * 100, 0x5000 | 0x2, 0);
	ck_assert_uint_eq(pt[100], 0x5002);
	ck_assert_uint_eq(pt[101], 0x6002);
	ck_assert_uint_eq(m.c.applied, 7);
	ck_assert_uint_eq(m.c.rejected, 0);
	ck_assert_uint_eq(m.c.pins, 1);
}
END_TEST

/*
 * A leaf table shared by two address spaces (guest fork=shared): pinned
 * once, linked from two pinned PDs (one link read-only), refs counts both
 * links; a second PIN is refused; UNPIN waits for the last link to go.
 */
START_TEST(shared_leaf_table)
{
	const uint64_t pd2 = SPARE;

	pin(PT, 1);
	OK(PV_MMU_MAP, 1, 4, PT, DATA | P | W, 0);
	pin(PD, 2);
	pin(pd2, 2);
	OK(PV_MMU_SET, 2, 1, PD + 8 * 3, PT | P | W, 0);
	OK(PV_MMU_SET, 2, 1, pd2 + 8 * 3, PT | P, 0);      /* the child's link: read-only */
	ck_assert_uint_eq(m.refs[PT >> 12], 2);
	ck_assert_int_eq(apply(PV_MMU_PIN, 1, 0, PT, 0, 0), PV_MMU_E_BUSY);
	/* the parent's link loses W: still one reference */
	OK(PV_MMU_PROTECT, 2, 1, PD + 8 * 3, 0, W);
	ck_assert_uint_eq(*at(PD + 8 * 3), PT | P);
	ck_assert_uint_eq(m.refs[PT >> 12], 2);
	ck_assert_uint_eq(m.wr4k[DATA >> 12], 1);          /* the table's entries, counted once */
	check_invariants();
	ck_assert_int_eq(apply(PV_MMU_UNPIN, 1, 0, PT, 0, 0), PV_MMU_E_BUSY);
	OK(PV_MMU_CLEAR, 2, 1, pd2 + 8 * 3, 0, 0);
	ck_assert_uint_eq(m.refs[PT >> 12], 1);
	ck_assert_int_eq(apply(PV_MMU_UNPIN, 1, 0, PT, 0, 0), PV_MMU_E_BUSY);
	/* the last user gets W back on its link */
	OK(PV_MMU_PROTECT, 2, 1, PD + 8 * 3, W, 0);
	ck_assert_uint_eq(m.refs[PT >> 12], 1);
	OK(PV_MMU_CLEAR, 2, 1, PD + 8 * 3, 0, 0);
	ck_assert_uint_eq(m.refs[PT >> 12], 0);
	check_invariants();
	OK(PV_MMU_UNPIN, 1, 0, PT, 0, 0);
	ck_assert_uint_eq(m.kind[PT >> 12], 0);
	ck_assert_uint_eq(m.wr4k[DATA >> 12], 0);
	check_invariants();
}
END_TEST

START_TEST(hierarchy_and_large_pages)
{
	uint64_t *pd = at(PD);

	pin(PT, 1);
	pin(PD, 2);
	pin(PDPT, 3);
	pin(PML4, 4);
	OK(PV_MMU_SET, 4, 1, PML4, PDPT | P | W, 0);
	OK(PV_MMU_SET, 3, 1, PDPT, PD | P | W | PV_PTE_U, 0);
	OK(PV_MMU_SET, 2, 1, PD, PT | P | W, 0);
	ck_assert_uint_eq(m.refs[PT >> 12], 1);
	ck_assert_uint_eq(m.refs[PD >> 12], 1);
	ck_assert_uint_eq(m.refs[PDPT >> 12], 1);
	/* 2 MiB leaves at level 2, writable where no table or ring is */
	OK(PV_MMU_MAP, 2, 2, PD + 8, FREE2M | P | W | PS, 0);
	ck_assert_uint_eq(pd[1], FREE2M | P | W | PS);
	ck_assert_uint_eq(pd[2], (FREE2M + (2 << 20)) | P | W | PS);
	ck_assert_uint_eq(m.wr2m[FREE2M >> 21], 1);
	/* read-only over the tables is fine */
	OK(PV_MMU_SET, 2, 1, PD + 8 * 3, 0 | P | PS, 0);
	check_invariants();
	/* the non-leaf entry goes, and the table it referenced can go too */
	OK(PV_MMU_CLEAR, 2, 1, PD, 0, 0);
	ck_assert_uint_eq(m.refs[PT >> 12], 0);
	OK(PV_MMU_UNPIN, 0, 0, PT, 0, 0);
	ck_assert_uint_eq(m.kind[PT >> 12], 0);
	ck_assert_uint_eq(m.c.unpins, 1);
	check_invariants();
}
END_TEST

START_TEST(pin_counts_existing_entries)
{
	uint64_t *pt = at(PT), *pd = at(PD);

	/* a table the guest filled before pinning it */
	for (int i = 0; i < 512; i++)
		pt[i] = (DATA + i * 4096ull) | P | (i & 1 ? W : 0);
	pt[3] = 0xabc000;       /* not present: anything goes */
	pin(PT, 1);
	ck_assert_uint_eq(m.wr4k[(DATA >> 12) + 1], 1);
	ck_assert_uint_eq(m.wr4k[(DATA >> 12) + 2], 0);
	pd[0] = PT | P | W;
	pd[1] = FREE2M | P | W | PS;
	pin(PD, 2);
	ck_assert_uint_eq(m.refs[PT >> 12], 1);
	ck_assert_uint_eq(m.wr2m[FREE2M >> 21], 1);
	check_invariants();
	/* unpinning removes what the entries added */
	OK(PV_MMU_UNPIN, 7, 0, PD, 0, 0);   /* level ignored */
	ck_assert_uint_eq(m.refs[PT >> 12], 0);
	ck_assert_uint_eq(m.wr2m[FREE2M >> 21], 0);
	OK(PV_MMU_UNPIN, 0, 0, PT, 0, 0);
	ck_assert_uint_eq(m.wr4k[(DATA >> 12) + 1], 0);
	ck_assert_uint_eq(m.nr_pinned, 0);
	check_invariants();
}
END_TEST

/* ---- every rejection, record by record --------------------------------- */

START_TEST(reject_op_level_align_count)
{
	pin(PT, 1);
	REJECT(PV_MMU_E_OP, 0, 1, 1, PT, 0, 0);
	REJECT(PV_MMU_E_OP, PV_MMU_RELEASE + 1, 1, 1, PT, 0, 0);
	REJECT(PV_MMU_E_OP, 255, 1, 1, PT, 0, 0);

	REJECT(PV_MMU_E_LEVEL, PV_MMU_SET, 0, 1, PT, 0, 0);
	REJECT(PV_MMU_E_LEVEL, PV_MMU_MAP, 5, 1, PT, 0, 0);
	REJECT(PV_MMU_E_LEVEL, PV_MMU_CLEAR, 255, 1, PT, 0, 0);
	REJECT(PV_MMU_E_LEVEL, PV_MMU_PIN, 0, 0, PD, 0, 0);
	REJECT(PV_MMU_E_LEVEL, PV_MMU_PIN, 5, 0, PD, 0, 0);

	REJECT(PV_MMU_E_ALIGN, PV_MMU_SET, 1, 1, PT + 4, DATA | P, 0);
	REJECT(PV_MMU_E_ALIGN, PV_MMU_CLEAR, 1, 2, PT + 1, 0, 0);
	REJECT(PV_MMU_E_ALIGN, PV_MMU_PIN, 2, 0, PD + 8, 0, 0);
	REJECT(PV_MMU_E_ALIGN, PV_MMU_UNPIN, 0, 0, PT + 0x800, 0, 0);

	REJECT(PV_MMU_E_COUNT, PV_MMU_SET, 1, 2, PT, DATA | P, 0);
	REJECT(PV_MMU_E_COUNT, PV_MMU_SET, 1, 0, PT, DATA | P, 0);
	REJECT(PV_MMU_E_COUNT, PV_MMU_MAP, 1, 0, PT, DATA | P, 0);
	REJECT(PV_MMU_E_COUNT, PV_MMU_MAP, 1, 513, PT, DATA | P, 0);
	REJECT(PV_MMU_E_COUNT, PV_MMU_CLEAR, 1, UINT32_MAX, PT, 0, 0);
	REJECT(PV_MMU_E_COUNT, PV_MMU_PROTECT, 1, 1u << 31, PT, 0, W);
}
END_TEST

START_TEST(reject_range)
{
	pin(PT, 1);
	/* the run leaves its table */
	REJECT(PV_MMU_E_RANGE, PV_MMU_CLEAR, 1, 2, PT + 4088, 0, 0);
	REJECT(PV_MMU_E_RANGE, PV_MMU_MAP, 1, 512, PT + 8, DATA | P, 0);
	/* outside RAM, at its end, and where ptep + 8 * count wraps */
	REJECT(PV_MMU_E_RANGE, PV_MMU_SET, 1, 1, RAM, DATA | P, 0);
	REJECT(PV_MMU_E_RANGE, PV_MMU_CLEAR, 1, 2, RAM - 8, 0, 0);
	REJECT(PV_MMU_E_RANGE, PV_MMU_SET, 1, 1, UINT64_MAX - 7, DATA | P, 0);
	REJECT(PV_MMU_E_RANGE, PV_MMU_MAP, 1, 512, UINT64_MAX - 4095, DATA | P, 0);
	REJECT(PV_MMU_E_RANGE, PV_MMU_CLEAR, 1, 512, 1ull << 63, 0, 0);
	REJECT(PV_MMU_E_RANGE, PV_MMU_PIN, 1, 0, RAM, 0, 0);
	REJECT(PV_MMU_E_RANGE, PV_MMU_PIN, 1, 0, UINT64_MAX & ~0xfffull, 0, 0);
	REJECT(PV_MMU_E_RANGE, PV_MMU_UNPIN, 0, 0, UINT64_MAX & ~0xfffull, 0, 0);
}
END_TEST

START_TEST(reject_not_pinned)
{
	pin(PT, 1);
	pin(PD, 2);
	ring_init(RING, 16);
	REJECT(PV_MMU_E_NOTPINNED, PV_MMU_SET, 1, 1, SPARE, DATA | P, 0);
	REJECT(PV_MMU_E_NOTPINNED, PV_MMU_SET, 2, 1, PT, DATA | P | PS, 0);  /* wrong level */
	REJECT(PV_MMU_E_NOTPINNED, PV_MMU_SET, 1, 1, PD, DATA | P, 0);
	REJECT(PV_MMU_E_NOTPINNED, PV_MMU_CLEAR, 1, 4, RING, 0, 0);       /* a ring page */
	REJECT(PV_MMU_E_NOTPINNED, PV_MMU_PROTECT, 1, 1, DATA, 0, W);
}
END_TEST

START_TEST(reject_frame)
{
	uint64_t top = PV_PTE_ADDR;     /* the highest 4 KiB frame the field holds */

	pin(PT, 1);
	pin(PD, 2);
	pin(PDPT, 3);
	REJECT(PV_MMU_E_FRAME, PV_MMU_SET, 1, 1, PT, RAM | P, 0);
	REJECT(PV_MMU_E_FRAME, PV_MMU_SET, 1, 1, PT, top | P, 0);
	REJECT(PV_MMU_E_FRAME, PV_MMU_SET, 2, 1, PD, RAM | P | PS, 0);
	REJECT(PV_MMU_E_FRAME, PV_MMU_SET, 2, 1, PD, (FREE2M + 0x1000) | P | PS, 0);
	REJECT(PV_MMU_E_FRAME, PV_MMU_SET, 2, 1, PD, (FREE2M + 0x200000 - 0x1000) | P | PS, 0);
	/* bit 12 is PAT in a 2M/1G leaf: not supported, so not an aligned frame */
	REJECT(PV_MMU_E_FRAME, PV_MMU_SET, 2, 1, PD, FREE2M | (1ull << 12) | P | PS, 0);
	/* 1 GiB leaves do not fit 8 MiB of RAM */
	REJECT(PV_MMU_E_FRAME, PV_MMU_SET, 3, 1, PDPT, 0 | P | PS, 0);
	/* frames that run past RAM part way through a range: nothing is written */
	REJECT(PV_MMU_E_FRAME, PV_MMU_MAP, 1, 512, PT, (RAM - 100 * 4096) | P, 0);
	REJECT(PV_MMU_E_FRAME, PV_MMU_MAP, 2, 5, PD, (RAM - (4ull << 20)) | P | PS, 0);
	/* frame + i * size leaves the address field (non-present: no RAM check) */
	REJECT(PV_MMU_E_FRAME, PV_MMU_MAP, 1, 2, PT, top, 0);
	REJECT(PV_MMU_E_FRAME, PV_MMU_MAP, 3, 512, PDPT, (top & ~0x3fffffffull) - (1ull << 38), 0);
	ck_assert_uint_eq(at(PT)[0], 0);
}
END_TEST

START_TEST(reject_flags)
{
	pin(PT, 1);
	pin(PD, 2);
	pin(PDPT, 3);
	pin(PML4, 4);
	REJECT(PV_MMU_E_FLAGS, PV_MMU_SET, 1, 1, PT, DATA | P | (1ull << 52), 0);
	REJECT(PV_MMU_E_FLAGS, PV_MMU_SET, 1, 1, PT, DATA | P | (1ull << 62), 0);
	REJECT(PV_MMU_E_FLAGS, PV_MMU_SET, 2, 1, PD, PT | P | (1ull << 59), 0);
	REJECT(PV_MMU_E_FLAGS, PV_MMU_SET, 1, 1, PT, DATA | P | PS, 0);      /* PAT at 4K */
	REJECT(PV_MMU_E_FLAGS, PV_MMU_SET, 4, 1, PML4, PDPT | P | PS, 0);    /* PS at 4 */
	REJECT(PV_MMU_E_FLAGS, PV_MMU_MAP, 1, 8, PT, DATA | P | (1ull << 55), 0);
	/* PROTECT may not touch P, PS or the address */
	OK(PV_MMU_SET, 1, 1, PT, DATA | P, 0);
	REJECT(PV_MMU_E_FLAGS, PV_MMU_PROTECT, 1, 1, PT, 0, P);
	REJECT(PV_MMU_E_FLAGS, PV_MMU_PROTECT, 1, 1, PT, PS, 0);
	REJECT(PV_MMU_E_FLAGS, PV_MMU_PROTECT, 1, 1, PT, 0x5000, 0);
	REJECT(PV_MMU_E_FLAGS, PV_MMU_PROTECT, 1, 1, PT, 0, 1ull << 52);
	/* non-present values are not checked: the guest keeps swap entries there */
	OK(PV_MMU_SET, 1, 1, PT + 8, 0xfffffffffffffffeull, 0);
}
END_TEST

START_TEST(reject_writable_pt)
{
	uint64_t *pt = at(PT);

	pin(PT, 1);
	pin(PT2, 1);
	pin(PD, 2);
	REJECT(PV_MMU_E_WRPT, PV_MMU_SET, 1, 1, PT, PT | P | W, 0);        /* itself */
	REJECT(PV_MMU_E_WRPT, PV_MMU_SET, 1, 1, PT, PD | P | W, 0);
	REJECT(PV_MMU_E_WRPT, PV_MMU_MAP, 1, 8, PT, (PT2 - 0x5000) | P | W, 0);
	/* read-only is fine, and adding W to it later is not */
	OK(PV_MMU_MAP, 1, 3, PT, PT | P, 0);
	REJECT(PV_MMU_E_WRPT, PV_MMU_PROTECT, 1, 3, PT, W, 0);
	ck_assert_uint_eq(pt[1], PT2 | P);
	/* a writable 2 MiB leaf over the region that holds the tables */
	REJECT(PV_MMU_E_WRPT, PV_MMU_SET, 2, 1, PD, 0 | P | W | PS, 0);
	OK(PV_MMU_SET, 2, 1, PD, 0 | P | PS, 0);
	REJECT(PV_MMU_E_WRPT, PV_MMU_PROTECT, 2, 1, PD, W, 0);
	check_invariants();
}
END_TEST

START_TEST(reject_writable_ring)
{
	pin(PT, 1);
	pin(PD, 2);
	ring_init(RING, 256);   /* 3 pages */
	REJECT(PV_MMU_E_WRRING, PV_MMU_SET, 1, 1, PT, RING | P | W, 0);
	REJECT(PV_MMU_E_WRRING, PV_MMU_SET, 1, 1, PT, (RING + 0x2000) | P | W, 0);
	REJECT(PV_MMU_E_WRRING, PV_MMU_MAP, 1, 512, PT, (RING - 0x1ff000) | P | W, 0);
	REJECT(PV_MMU_E_WRRING, PV_MMU_SET, 2, 1, PD, (RING & ~0x1fffffull) | P | W | PS, 0);
	OK(PV_MMU_SET, 1, 1, PT, (RING + 0x3000) | P | W, 0);     /* just past it */
	OK(PV_MMU_SET, 1, 1, PT + 8, RING | P, 0);                 /* read-only */
	REJECT(PV_MMU_E_WRRING, PV_MMU_PROTECT, 1, 2, PT, W, 0);
	check_invariants();
}
END_TEST

START_TEST(reject_not_table)
{
	uint64_t *pd = at(PD);

	pin(PT, 1);
	pin(PD, 2);
	pin(PDPT, 3);
	pin(PML4, 4);
	ring_init(RING, 16);
	REJECT(PV_MMU_E_NOTTABLE, PV_MMU_SET, 2, 1, PD, SPARE | P | W, 0);    /* not pinned */
	REJECT(PV_MMU_E_NOTTABLE, PV_MMU_SET, 2, 1, PD, PD | P, 0);           /* itself */
	REJECT(PV_MMU_E_NOTTABLE, PV_MMU_SET, 3, 1, PDPT, PT | P, 0);         /* level 1 */
	REJECT(PV_MMU_E_NOTTABLE, PV_MMU_SET, 4, 1, PML4, PD | P, 0);
	REJECT(PV_MMU_E_NOTTABLE, PV_MMU_SET, 2, 1, PD, RING | P, 0);
	REJECT(PV_MMU_E_NOTTABLE, PV_MMU_SET, 2, 1, PD, RAM | P, 0);
	REJECT(PV_MMU_E_NOTTABLE, PV_MMU_SET, 2, 1, PD, PV_PTE_ADDR | P, 0);
	REJECT(PV_MMU_E_NOTTABLE, PV_MMU_MAP, 2, 2, PD, PT | P, 0);   /* 2nd: PT + 2M */
	ck_assert_uint_eq(pd[0], 0);
}
END_TEST

START_TEST(reject_busy)
{
	pin(PT, 1);
	pin(PD, 2);
	ring_init(RING, 16);
	REJECT(PV_MMU_E_BUSY, PV_MMU_PIN, 1, 0, PT, 0, 0);           /* pinned already */
	REJECT(PV_MMU_E_BUSY, PV_MMU_PIN, 2, 0, PT, 0, 0);
	REJECT(PV_MMU_E_BUSY, PV_MMU_PIN, 1, 0, RING, 0, 0);         /* a ring page */
	REJECT(PV_MMU_E_BUSY, PV_MMU_UNPIN, 0, 0, SPARE, 0, 0);      /* not pinned */
	REJECT(PV_MMU_E_BUSY, PV_MMU_UNPIN, 0, 0, RING, 0, 0);
	/* a page some pinned table maps writable */
	OK(PV_MMU_SET, 1, 1, PT + 8, SPARE | P | W, 0);
	REJECT(PV_MMU_E_BUSY, PV_MMU_PIN, 1, 0, SPARE, 0, 0);
	OK(PV_MMU_PROTECT, 1, 1, PT + 8, 0, W);
	pin(SPARE, 1);                  /* read-only now: fine */
	OK(PV_MMU_UNPIN, 0, 0, SPARE, 0, 0);
	/* a page inside a writable 2 MiB mapping */
	OK(PV_MMU_SET, 2, 1, PD + 8, FREE2M | P | W | PS, 0);
	REJECT(PV_MMU_E_BUSY, PV_MMU_PIN, 1, 0, FREE2M + 0x7000, 0, 0);
	/* a table its parent still points to */
	OK(PV_MMU_SET, 2, 1, PD, PT | P | W, 0);
	REJECT(PV_MMU_E_BUSY, PV_MMU_UNPIN, 0, 0, PT, 0, 0);
	OK(PV_MMU_CLEAR, 2, 1, PD, 0, 0);
	OK(PV_MMU_UNPIN, 0, 0, PT, 0, 0);
	check_invariants();
}
END_TEST

/* Pinning validates every entry, and a refused pin leaves no trace. */
START_TEST(pin_validates_entries)
{
	uint64_t *t = at(PT2);

	pin(PT, 1);
	t[511] = PT | P | W;            /* maps a pinned table writable */
	REJECT(PV_MMU_E_WRPT, PV_MMU_PIN, 1, 0, PT2, 0, 0);
	t[511] = PT2 | P | W;           /* maps itself writable */
	REJECT(PV_MMU_E_WRPT, PV_MMU_PIN, 1, 0, PT2, 0, 0);
	t[511] = (PT2 - 0x1000 * 20) | P | W;
	t[20] = DATA | P | PS;          /* PAT */
	REJECT(PV_MMU_E_FLAGS, PV_MMU_PIN, 1, 0, PT2, 0, 0);
	t[20] = RAM | P;
	REJECT(PV_MMU_E_FRAME, PV_MMU_PIN, 1, 0, PT2, 0, 0);
	t[20] = 0;
	/* as a level-2 table: entry 511 would be a table pointer to a non-table */
	REJECT(PV_MMU_E_NOTTABLE, PV_MMU_PIN, 2, 0, PT2, 0, 0);
	t[511] = PT2 | P;               /* points to itself as a table */
	REJECT(PV_MMU_E_NOTTABLE, PV_MMU_PIN, 2, 0, PT2, 0, 0);
	t[511] = PT | P | W;
	pin(PT2, 2);
	ck_assert_uint_eq(m.refs[PT >> 12], 1);
	check_invariants();
}
END_TEST

/* 1 GiB leaves need RAM of 1 GiB or more: a 2 GiB VM (sparse). */
START_TEST(large_leaves_1g)
{
	struct pv_mmu_setup s = { .version = PV_ABI_VERSION, .nr_records = 16,
				  .ring_gpa = (1ull << 30) + 0x5000 };
	uint64_t *pdpt = at(PDPT);

	pin(PT, 1);
	pin(PDPT, 3);
	REJECT(PV_MMU_E_WRPT, PV_MMU_SET, 3, 1, PDPT, 0 | P | W | PS, 0);
	OK(PV_MMU_SET, 3, 1, PDPT, 0 | P | PS, 0);
	OK(PV_MMU_SET, 3, 1, PDPT + 8, (1ull << 30) | P | W | PS, 0);
	ck_assert_uint_eq(m.wr1g[1], 1);
	/* no ring, no pin under a writable 1 GiB mapping */
	ck_assert_int_eq(pvmmu_setup(&m, &rs, &s), PV_EINVAL);
	REJECT(PV_MMU_E_BUSY, PV_MMU_PIN, 1, 0, (1ull << 30) + 0x9000, 0, 0);
	OK(PV_MMU_PROTECT, 3, 1, PDPT + 8, 0, W);
	ck_assert_int_eq(pvmmu_setup(&m, &rs, &s), PV_OK);
	REJECT(PV_MMU_E_WRRING, PV_MMU_PROTECT, 3, 1, PDPT + 8, W, 0);
	/* 1G frames: aligned, inside RAM */
	REJECT(PV_MMU_E_FRAME, PV_MMU_SET, 3, 1, PDPT + 16, (2ull << 30) | P | PS, 0);
	REJECT(PV_MMU_E_FRAME, PV_MMU_SET, 3, 1, PDPT + 16, (1ull << 29) | P | PS, 0);
	REJECT(PV_MMU_E_FRAME, PV_MMU_MAP, 3, 3, PDPT + 16, 0 | P | PS, 0);
	OK(PV_MMU_MAP, 3, 2, PDPT + 16, 0 | P | PS | PV_PTE_G, 0);
	ck_assert_uint_eq(pdpt[3], (1ull << 30) | P | PS | PV_PTE_G);
	check_invariants();
}
END_TEST

/* A pinned table the guest rewrote behind the channel's back: no harm. */
START_TEST(guest_writes_pinned_table)
{
	uint64_t *pt = at(PT), *pd = at(PD);

	pin(PT, 1);
	pin(PD, 2);
	pt[0] = PV_PTE_ADDR | P | W;            /* a frame far outside RAM */
	pt[1] = DATA | P | W;                   /* never counted */
	pd[0] = PV_PTE_ADDR | P;
	pd[1] = FREE2M | P | W | PS;
	OK(PV_MMU_CLEAR, 1, 2, PT, 0, 0);
	OK(PV_MMU_CLEAR, 2, 2, PD, 0, 0);
	ck_assert_uint_eq(m.wr4k[DATA >> 12], 0);
	ck_assert_uint_eq(m.wr2m[FREE2M >> 21], 0);
	pt[5] = RAM | P | W;
	pd[5] = SPARE | P;
	OK(PV_MMU_UNPIN, 0, 0, PD, 0, 0);
	OK(PV_MMU_UNPIN, 0, 0, PT, 0, 0);
	ck_assert_uint_eq(m.nr_pinned, 0);
	ck_assert_uint_eq(m.refs[SPARE >> 12], 0);
}
END_TEST

/* ---- RELEASE ------------------------------------------------------------ */

/* Host memory the memfd holds now. */
static uint64_t allocated(void)
{
	struct stat sb;

	ck_assert_int_eq(fstat(mem.memfd, &sb), 0);
	return (uint64_t)sb.st_blocks * 512;
}

START_TEST(reject_release)
{
	pin(PT, 1);
	ring_init(RING, 256);   /* 3 pages */
	memset(guestmem_hva(&mem, FREE2M, 0x10000), 0xa5, 0x10000);   /* must survive */
	REJECT(PV_MMU_E_ALIGN, PV_MMU_RELEASE, 0, 1, FREE2M + 8, 0, 0);
	REJECT(PV_MMU_E_ALIGN, PV_MMU_RELEASE, 0, 1, FREE2M + 0x800, 0, 0);
	REJECT(PV_MMU_E_COUNT, PV_MMU_RELEASE, 0, 0, FREE2M, 0, 0);
	REJECT(PV_MMU_E_COUNT, PV_MMU_RELEASE, 0, PV_MMU_RELEASE_MAX + 1, FREE2M, 0, 0);
	REJECT(PV_MMU_E_COUNT, PV_MMU_RELEASE, 0, UINT32_MAX, FREE2M, 0, 0);
	REJECT(PV_MMU_E_RANGE, PV_MMU_RELEASE, 0, 1, RAM, 0, 0);
	REJECT(PV_MMU_E_RANGE, PV_MMU_RELEASE, 0, 2, RAM - 0x1000, 0, 0);
	REJECT(PV_MMU_E_RANGE, PV_MMU_RELEASE, 0, 16, 0xfffffffffffff000ull, 0, 0);
	REJECT(PV_MMU_E_RANGE, PV_MMU_RELEASE, 0, PV_MMU_RELEASE_MAX, FREE2M, 0, 0);
	/* a pinned table or a ring page anywhere inside refuses the whole record */
	REJECT(PV_MMU_E_BUSY, PV_MMU_RELEASE, 0, 1, PT, 0, 0);
	REJECT(PV_MMU_E_BUSY, PV_MMU_RELEASE, 0, 0x40, PT - 0x3000, 0, 0);
	REJECT(PV_MMU_E_BUSY, PV_MMU_RELEASE, 0, 1, RING + 0x2000, 0, 0);
	REJECT(PV_MMU_E_BUSY, PV_MMU_RELEASE, 0, 0x400, RING - 0x100000, 0, 0);
	ck_assert_uint_eq(m.c.released_requests, 0);
	ck_assert_uint_eq(m.c.released_pages, 0);
	check_invariants();
}
END_TEST

START_TEST(release_drops_frames)
{
	uint8_t *p = guestmem_hva(&mem, FREE2M, 0x20000);
	uint64_t before;

	pin(PT, 1);
	ring_init(RING, 256);
	memset(p, 0x5a, 0x20000);
	before = allocated();
	/* the frames right below the ring and right after the table are not theirs */
	OK(PV_MMU_RELEASE, 0, 0x10, FREE2M + 0x8000, 0, 0);
	OK(PV_MMU_RELEASE, 7, 1, RING + 0x3000, 0x1234, 0xff);     /* level, val, mask ignored */
	OK(PV_MMU_RELEASE, 0, 1, PT + 0x1000, 0, 0);
	ck_assert_uint_le(allocated() + 0x10000, before);
	for (uint64_t i = 0; i < 0x20000; i++)
		ck_assert_uint_eq(p[i], i >= 0x8000 && i < 0x18000 ? 0 : 0x5a);
	ck_assert_uint_eq(m.c.released_requests, 3);
	ck_assert_uint_eq(m.c.released_pages, 0x12);
	ck_assert_uint_eq(m.c.applied, 4);     /* the pin and three releases */
	/* released memory is usable again */
	p[0x9000] = 1;
	ck_assert_uint_eq(p[0x9000], 1);
	check_invariants();
}
END_TEST

/* A pager that records the runs it is asked to prefault. */
static uint64_t pf_runs[16][2];
static unsigned pf_nr;

static void pf_record(void *ctx, uint64_t first, uint64_t n)
{
	(void)ctx;
	if (pf_nr < 16) {
		pf_runs[pf_nr][0] = first;
		pf_runs[pf_nr][1] = n;
	}
	pf_nr++;
}

static int pf_get(void *ctx, uint64_t gpa, uint64_t len, bool write)
{
	(void)ctx, (void)gpa, (void)len, (void)write;
	return 0;
}

static void pf_put(void *ctx, uint64_t gpa, uint64_t len)
{
	(void)ctx, (void)gpa, (void)len;
}

START_TEST(prefault_runs)
{
	struct guestmem_pager pg = { .get = pf_get, .put = pf_put, .prefault = pf_record };
	struct pv_mmu_ring *r;

	pin(PT, 1);
	pin(PD, 2);
	r = ring_init(RING, 16);
	guestmem_set_pager(&mem, &pg);
	pf_nr = 0;
	/* one doorbell: two MAPs that continue each other, a SET elsewhere, a non-present
	   MAP, a CLEAR and a PROTECT (neither maps anything), a 2 MiB leaf */
	r->rec[0] = rec(PV_MMU_MAP, 1, 8, PT, DATA | P | W, 0);
	r->rec[1] = rec(PV_MMU_MAP, 1, 8, PT + 64, (DATA + 0x8000) | P, 0);
	r->rec[2] = rec(PV_MMU_SET, 1, 1, PT + 8 * 100, (FREE2M + 0x5000) | P | W, 0);
	r->rec[3] = rec(PV_MMU_MAP, 1, 4, PT + 8 * 200, 0x7000 | W, 0);
	r->rec[4] = rec(PV_MMU_CLEAR, 1, 2, PT, 0, 0);
	r->rec[5] = rec(PV_MMU_PROTECT, 1, 4, PT + 8, 0, W);
	r->rec[6] = rec(PV_MMU_SET, 2, 1, PD + 8 * 3, FREE2M | P | PS, 0);
	r->count = 7;
	ck_assert_int_eq(pvmmu_doorbell(&m, &rs), PV_MMU_OK);
	ck_assert_uint_eq(r->rejected, 0);
	ck_assert_uint_eq(pf_nr, 3);
	ck_assert_uint_eq(pf_runs[0][0], DATA >> 12);
	ck_assert_uint_eq(pf_runs[0][1], 16);
	ck_assert_uint_eq(pf_runs[1][0], (FREE2M + 0x5000) >> 12);
	ck_assert_uint_eq(pf_runs[1][1], 1);
	ck_assert_uint_eq(pf_runs[2][0], FREE2M >> 12);
	ck_assert_uint_eq(pf_runs[2][1], 512);
	ck_assert_uint_eq(m.c.prefault_runs, 3);
	/* a rejected record maps nothing */
	r->rec[0] = rec(PV_MMU_MAP, 1, 8, PT + 8 * 300, (RING) | P | W, 0);
	r->count = 1;
	ck_assert_int_eq(pvmmu_doorbell(&m, &rs), PV_MMU_OK);
	ck_assert_uint_eq(r->rejected, 1);
	ck_assert_uint_eq(pf_nr, 3);
	guestmem_set_pager(&mem, NULL);
	check_invariants();
}
END_TEST

/* ---- rings -------------------------------------------------------------- */

START_TEST(ring_setup_rules)
{
	struct pvmmu_ring_state other = { 0 };
	struct pv_mmu_setup s = { .version = PV_ABI_VERSION, .nr_records = 256, .ring_gpa = RING };

	pin(PT, 1);
	s.version = PV_ABI_VERSION + 1;
	ck_assert_int_eq(pvmmu_setup(&m, &rs, &s), PV_EVERSION);
	s.version = PV_ABI_VERSION;
	s.nr_records = 0;
	ck_assert_int_eq(pvmmu_setup(&m, &rs, &s), PV_EINVAL);
	s.nr_records = PV_MMU_RING_MAX + 1;
	ck_assert_int_eq(pvmmu_setup(&m, &rs, &s), PV_EINVAL);
	s.nr_records = UINT32_MAX;
	ck_assert_int_eq(pvmmu_setup(&m, &rs, &s), PV_EINVAL);
	s.nr_records = 256;
	s.ring_gpa = RING + 64;
	ck_assert_int_eq(pvmmu_setup(&m, &rs, &s), PV_EINVAL);
	s.ring_gpa = RAM - 0x2000;              /* 3 pages do not fit */
	ck_assert_int_eq(pvmmu_setup(&m, &rs, &s), PV_EFAULT);
	s.ring_gpa = UINT64_MAX & ~0xfffull;
	ck_assert_int_eq(pvmmu_setup(&m, &rs, &s), PV_EFAULT);
	s.ring_gpa = PT - 0x1000;               /* its 2nd page is a table */
	ck_assert_int_eq(pvmmu_setup(&m, &rs, &s), PV_EINVAL);
	OK(PV_MMU_SET, 1, 1, PT, (RING + 0x2000) | P | W, 0);
	s.ring_gpa = RING;                      /* its 3rd page is mapped writable */
	ck_assert_int_eq(pvmmu_setup(&m, &rs, &s), PV_EINVAL);
	ck_assert_uint_eq(rs.nr, 0);
	ck_assert_uint_eq(m.c.setups, 9);
	OK(PV_MMU_CLEAR, 1, 1, PT, 0, 0);
	ck_assert_int_eq(pvmmu_setup(&m, &rs, &s), PV_OK);
	ck_assert_uint_eq(rs.gpa, RING);
	ck_assert_uint_eq(rs.nr, 256);
	ck_assert_uint_eq(m.kind[(RING >> 12) + 2], PVMMU_KIND_RING);
	ck_assert_uint_eq(m.kind[(RING >> 12) + 3], 0);
	/* another vCPU's ring may not overlap it */
	s.ring_gpa = RING + 0x2000;
	ck_assert_int_eq(pvmmu_setup(&m, &other, &s), PV_EINVAL);
	ck_assert_uint_eq(other.nr, 0);
	/* the same vCPU may move over its own pages; the old ones are freed */
	ck_assert_int_eq(pvmmu_setup(&m, &rs, &s), PV_OK);
	ck_assert_uint_eq(m.kind[RING >> 12], 0);
	ck_assert_uint_eq(m.kind[(RING >> 12) + 4], PVMMU_KIND_RING);
	ck_assert_uint_eq(m.ring2m[RING >> 21], 3);
	pin(RING, 1);
	/* a refused setup keeps the old ring */
	s.ring_gpa = RING;
	ck_assert_int_eq(pvmmu_setup(&m, &rs, &s), PV_EINVAL);
	ck_assert_uint_eq(rs.gpa, RING + 0x2000);
	ck_assert_uint_eq(m.kind[(RING >> 12) + 2], PVMMU_KIND_RING);
	s.nr_records = 1;
	s.ring_gpa = RAM - 0x1000;              /* the last page: 96 bytes fit */
	ck_assert_int_eq(pvmmu_setup(&m, &other, &s), PV_OK);
}
END_TEST

START_TEST(doorbell_batch)
{
	struct pv_mmu_ring *r = ring_init(RING, 64);
	uint64_t *pt = at(PT);

	r->rec[0] = rec(PV_MMU_PIN, 1, 0, PT, 0, 0);
	r->rec[1] = rec(PV_MMU_MAP, 1, 4, PT, DATA | P | W, 0);
	r->rec[2] = rec(PV_MMU_SET, 1, 1, PT + 8 * 4, PT | P | W, 0);     /* refused */
	r->rec[3] = rec(PV_MMU_FLUSH_TLB, 0, 4, 0, 0x7000000, 0);
	r->rec[4] = rec(42, 1, 1, PT, 0, 0);                              /* refused */
	r->rec[5] = rec(PV_MMU_SET, 1, 1, PT + 8 * 4, PT | P, 0);
	r->rec[6] = rec(PV_MMU_SET, 1, 1, PT + 8 * 5, 0, 0);              /* not consumed */
	for (int i = 0; i < 7; i++)
		r->rec[i].status = -1;
	r->count = 6;
	r->processed = r->rejected = 77;
	r->status = 77;
	ck_assert_int_eq(pvmmu_doorbell(&m, &rs), PV_MMU_OK);
	ck_assert_int_eq(r->rec[0].status, PV_MMU_OK);
	ck_assert_int_eq(r->rec[1].status, PV_MMU_OK);
	ck_assert_int_eq(r->rec[2].status, PV_MMU_E_WRPT);
	ck_assert_int_eq(r->rec[3].status, PV_MMU_OK);
	ck_assert_int_eq(r->rec[4].status, PV_MMU_E_OP);
	ck_assert_int_eq(r->rec[5].status, PV_MMU_OK);
	ck_assert_int_eq(r->rec[6].status, -1);
	ck_assert_uint_eq(r->processed, 6);
	ck_assert_uint_eq(r->rejected, 2);
	ck_assert_int_eq(r->status, PV_MMU_OK);
	ck_assert_uint_eq(r->flush, PV_MMU_FLUSH_RANGE);
	ck_assert_uint_eq(r->flush_va, 0x7000000);
	ck_assert_uint_eq(r->flush_pages, 4);
	ck_assert_uint_eq(pt[3], (DATA + 0x3000) | P | W);
	ck_assert_uint_eq(pt[4], PT | P);
	ck_assert_uint_eq(m.c.doorbells, 1);
	ck_assert_uint_eq(m.c.records, 6);
	ck_assert_uint_eq(m.c.applied, 4);
	ck_assert_uint_eq(m.c.rejected, 2);
	ck_assert_uint_eq(m.c.flushes, 1);
	ck_assert_uint_eq(m.c.by_reason[PV_MMU_E_WRPT], 1);
	ck_assert_uint_eq(m.c.by_reason[PV_MMU_E_OP], 1);

	/* the next batch starts at record 0; an empty one answers too */
	r->count = 0;
	ck_assert_int_eq(pvmmu_doorbell(&m, &rs), PV_MMU_OK);
	ck_assert_uint_eq(r->processed, 0);
	ck_assert_uint_eq(r->rejected, 0);
	ck_assert_uint_eq(r->flush, PV_MMU_FLUSH_NONE);
	ck_assert_uint_eq(r->flush_pages, 0);
	check_invariants();
}
END_TEST

START_TEST(doorbell_bad_ring)
{
	struct pv_mmu_ring *r = ring_init(RING, 4);
	uint32_t counts[] = { 5, 4096, UINT32_MAX };
	struct snap s;

	pin(PT, 1);
	for (int i = 0; i < 4; i++) {
		r->rec[i] = rec(PV_MMU_SET, 1, 1, PT + 8 * i, DATA | P, 0);
		r->rec[i].status = -1;
	}
	for (size_t k = 0; k < sizeof(counts) / sizeof(counts[0]); k++) {
		r->count = counts[k];
		r->processed = 77;
		ck_assert_int_eq(pvmmu_doorbell(&m, &rs), PV_MMU_E_RING);
		ck_assert_int_eq(r->status, PV_MMU_E_RING);
		ck_assert_uint_eq(r->processed, 0);
		ck_assert_uint_eq(r->flush, PV_MMU_FLUSH_NONE);
	}
	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(r->rec[i].status, -1);
		ck_assert_uint_eq(at(PT)[i], 0);
	}
	ck_assert_uint_eq(m.c.by_reason[PV_MMU_E_RING], 3);
	ck_assert_uint_eq(m.c.records, 1);      /* the pin */
	ck_assert_uint_eq(m.c.rejected, 0);
	/* a full ring is fine */
	r->count = 4;
	ck_assert_int_eq(pvmmu_doorbell(&m, &rs), PV_MMU_OK);
	ck_assert_uint_eq(r->processed, 4);
	ck_assert_uint_eq(at(PT)[3], DATA | P);

	/* no ring yet: nothing to read, nowhere to answer, only counted */
	memset(&rs, 0, sizeof(rs));
	snap_take(&s);
	ck_assert_int_eq(pvmmu_doorbell(&m, &rs), PV_MMU_E_NORING);
	snap_same(&s, __LINE__);
	ck_assert_uint_eq(m.c.by_reason[PV_MMU_E_NORING], 1);
	ck_assert_uint_eq(m.c.doorbells, 5);
}
END_TEST

START_TEST(flush_accumulation)
{
	/* ranges merge into their envelope, page-aligned */
	OK(PV_MMU_FLUSH_TLB, 9, 1, 0, 0x400123, 0);     /* level ignored */
	ck_assert_uint_eq(acc.mode, PV_MMU_FLUSH_RANGE);
	ck_assert_uint_eq(acc.va, 0x400000);
	ck_assert_uint_eq(acc.end, 0x402000);
	OK(PV_MMU_FLUSH_TLB, 0, 2, 0, 0x3fe000, 0);
	ck_assert_uint_eq(acc.va, 0x3fe000);
	ck_assert_uint_eq(acc.end, 0x402000);
	OK(PV_MMU_FLUSH_TLB, 0, 1, 0, 0x43d000, 0);     /* envelope now 64 pages */
	ck_assert_uint_eq(acc.mode, PV_MMU_FLUSH_RANGE);
	OK(PV_MMU_FLUSH_TLB, 0, 1, 0, 0x43e000, 0);     /* 65: all */
	ck_assert_uint_eq(acc.mode, PV_MMU_FLUSH_ALL);
	OK(PV_MMU_FLUSH_TLB, 0, 1, 0, 0x400000, 0);     /* stays all */
	ck_assert_uint_eq(acc.mode, PV_MMU_FLUSH_ALL);
	ck_assert_uint_eq(m.c.flushes, 5);

	memset(&acc, 0, sizeof(acc));
	OK(PV_MMU_FLUSH_TLB, 0, 0, 0, 0x400000, 0);     /* count 0: everything */
	ck_assert_uint_eq(acc.mode, PV_MMU_FLUSH_ALL);
	memset(&acc, 0, sizeof(acc));
	OK(PV_MMU_FLUSH_TLB, 0, 2, 0, UINT64_MAX - 0x1000, 0);  /* wraps: everything */
	ck_assert_uint_eq(acc.mode, PV_MMU_FLUSH_ALL);
	memset(&acc, 0, sizeof(acc));
	OK(PV_MMU_FLUSH_TLB, 0, UINT32_MAX, 0, 0, 0);   /* huge: everything */
	ck_assert_uint_eq(acc.mode, PV_MMU_FLUSH_ALL);
	memset(&acc, 0, sizeof(acc));
	OK(PV_MMU_FLUSH_TLB, 0, 1, 0, 0xffff800000000000ull, 0);
	OK(PV_MMU_FLUSH_TLB, 0, 1, 0, 0x1000, 0);       /* far apart: everything */
	ck_assert_uint_eq(acc.mode, PV_MMU_FLUSH_ALL);
	ck_assert_uint_eq(m.c.applied, 10);
}
END_TEST

/*
 * A guest vCPU rewrites record 0 and the header count while the VMM serves
 * doorbells: whatever mix of fields the VMM reads, it must act on one copy.
 * A second read of ptep or val could write the never-pinned canary page or
 * map a pinned table writable; a second read of count would run off the end
 * of RAM (the ring is its last page).  First only ptep flips (the narrowest
 * window), then every field does.
 */
#define CANARY 0x600000ull

static volatile int race_stop, race_mix;

static void *race_writer(void *arg)
{
	struct pv_mmu_ring *r = arg;
	static const struct pv_mmu_rec states[4] = {
		{ .op = PV_MMU_SET, .level = 1, .count = 1, .ptep = PT, .val = DATA | P | W },
		{ .op = PV_MMU_SET, .level = 1, .count = 1, .ptep = CANARY, .val = DATA | P },
		{ .op = PV_MMU_CLEAR, .level = 1, .count = 1, .ptep = PT + 8, .val = PT | P | W },
		{ .op = PV_MMU_MAP, .level = 1, .count = 512, .ptep = PT,
		  .val = (RAM - 10 * 4096) | P | W },
	};
	uint64_t w[4][4];
	volatile uint64_t *dst = (volatile uint64_t *)&r->rec[0];
	volatile uint32_t *count = &r->count;

	memcpy(w, states, sizeof(w));
	for (unsigned i = 0; !race_stop; i++) {
		if (!race_mix) {
			dst[1] = i & 1 ? CANARY : PT;
			continue;
		}
		for (int k = 0; k < 4; k++)
			dst[k] = w[(i + k * (i >> 2)) & 3][k];
		*count = i & 1 ? 1 : UINT32_MAX;
	}
	return NULL;
}

START_TEST(copy_once_under_a_racing_guest)
{
	struct pv_mmu_ring *r = ring_init(RAM - 4096, 1);
	const uint8_t *canary = guestmem_hva(&mem, CANARY, 4096);
	pthread_t t;
	unsigned n = 200000;

	pin(PT, 1);
	r->rec[0] = rec(PV_MMU_SET, 1, 1, PT, DATA | P, 0);
	r->count = 1;
	race_stop = race_mix = 0;
	ck_assert_int_eq(pthread_create(&t, NULL, race_writer, r), 0);
	for (unsigned i = 0; i < 2 * n; i++) {
		int st;

		if (i == n)
			race_mix = 1;
		st = pvmmu_doorbell(&m, &rs);
		ck_assert(st == PV_MMU_OK || st == PV_MMU_E_RING);
	}
	race_stop = 1;
	pthread_join(t, NULL);
	for (int i = 0; i < 4096; i++)
		ck_assert_uint_eq(canary[i], 0);
	ck_assert_uint_eq(m.c.doorbells, 2 * n);
	ck_assert_uint_eq(m.c.records + m.c.by_reason[PV_MMU_E_RING], 2 * n + 1);
	ck_assert_uint_eq(m.c.records, m.c.applied + m.c.rejected);
	ck_assert_uint_eq(m.kind[CANARY >> 12], 0);
	check_invariants();
}
END_TEST

/* ---- the report --------------------------------------------------------- */

START_TEST(json_has_every_reason)
{
	char buf[2048] = "";
	FILE *f = fmemopen(buf, sizeof(buf) - 1, "w");
	struct json j;

	REJECT(PV_MMU_E_OP, 0, 1, 1, PT, 0, 0);
	json_init(&j, f);
	json_obj_begin(&j, NULL);
	pvmmu_json(&j, &m, "batched");
	json_obj_end(&j);
	ck_assert_int_eq(json_finish(&j), 0);
	fclose(f);
	ck_assert_ptr_nonnull(strstr(buf, "\"mode\": \"batched\""));
	ck_assert_ptr_nonnull(strstr(buf, "\"bad_op\": 1"));
	for (int s = 1; s < PV_MMU_NR_STATUS; s++) {
		char key[64];

		snprintf(key, sizeof(key), "\"%s\": ", pvmmu_status_name(s));
		ck_assert_msg(strstr(buf, key), "no %s in %s", key, buf);
	}
	ck_assert_ptr_null(pvmmu_status_name(PV_MMU_OK));
	ck_assert_ptr_null(pvmmu_status_name(PV_MMU_NR_STATUS));
	for (const char *k = "doorbells\0records\0applied\0rejected\0flushes\0pins\0unpins\0"
			     "ptes_written\0setups\0"; *k; k += strlen(k) + 1) {
		char key[64];

		snprintf(key, sizeof(key), "\"%s\": ", k);
		ck_assert_msg(strstr(buf, key), "no %s in %s", key, buf);
	}
}
END_TEST

/* ---- cost per applied PTE (printed, not asserted) ----------------------- */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

START_TEST(cost_per_pte)
{
	enum { ROUNDS = 2001 };
	struct pv_mmu_ring *r = ring_init(RING, 256);
	static uint64_t set_ns[ROUNDS], map_ns[ROUNDS];
	uint64_t t0;

	pin(PT, 1);
	for (int k = 0; k < ROUNDS; k++) {
		uint64_t base = k & 1 ? FREE2M : FREE2M + (2ull << 20);

		for (int i = 0; i < 256; i++)
			r->rec[i] = rec(PV_MMU_SET, 1, 1, PT + 8 * i, (base + i * 4096ull) | P | W, 0);
		r->count = 256;
		t0 = now_ns();
		pvmmu_doorbell(&m, &rs);
		set_ns[k] = now_ns() - t0;
		ck_assert_uint_eq(r->rejected, 0);
	}
	for (int k = 0; k < ROUNDS; k++) {
		uint64_t base = k & 1 ? FREE2M : FREE2M + (2ull << 20);

		r->rec[0] = rec(PV_MMU_MAP, 1, 512, PT, base | P | W, 0);
		r->count = 1;
		t0 = now_ns();
		pvmmu_doorbell(&m, &rs);
		map_ns[k] = now_ns() - t0;
		ck_assert_uint_eq(r->rejected, 0);
	}
	qsort(set_ns, ROUNDS, sizeof(set_ns[0]), cmp_u64);
	qsort(map_ns, ROUNDS, sizeof(map_ns[0]), cmp_u64);
	printf("pvmmu cost per applied PTE (VMM side, %d doorbells each, median / best):\n"
	       "  256 SET records: %.1f / %.1f ns per PTE (%.2f us per doorbell)\n"
	       "  one 512-PTE MAP: %.1f / %.1f ns per PTE (%.2f us per doorbell)\n", ROUNDS,
	       set_ns[ROUNDS / 2] / 256.0, set_ns[0] / 256.0, set_ns[ROUNDS / 2] / 1e3,
	       map_ns[ROUNDS / 2] / 512.0, map_ns[0] / 512.0, map_ns[ROUNDS / 2] / 1e3);
	check_invariants();
}
END_TEST

static Suite *pvmmu_suite(void)
{
	Suite *s = suite_create("pvmmu");
	TCase *tc = tcase_create("records");
	TCase *big = tcase_create("big");
	TCase *ring = tcase_create("ring");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, set_map_protect_clear);
	tcase_add_test(tc, hierarchy_and_large_pages);
	tcase_add_test(tc, shared_leaf_table);
	tcase_add_test(tc, pin_counts_existing_entries);
	tcase_add_test(tc, reject_op_level_align_count);
	tcase_add_test(tc, reject_range);
	tcase_add_test(tc, reject_not_pinned);
	tcase_add_test(tc, reject_frame);
	tcase_add_test(tc, reject_flags);
	tcase_add_test(tc, reject_writable_pt);
	tcase_add_test(tc, reject_writable_ring);
	tcase_add_test(tc, reject_not_table);
	tcase_add_test(tc, reject_busy);
	tcase_add_test(tc, reject_release);
	tcase_add_test(tc, release_drops_frames);
	tcase_add_test(tc, pin_validates_entries);
	tcase_add_test(tc, guest_writes_pinned_table);
	tcase_add_test(tc, flush_accumulation);
	tcase_add_test(tc, json_has_every_reason);
	suite_add_tcase(s, tc);

	tcase_add_checked_fixture(big, setup_big, teardown);
	tcase_add_test(big, large_leaves_1g);
	suite_add_tcase(s, big);

	tcase_add_checked_fixture(ring, setup, teardown);
	tcase_set_timeout(ring, 60);
	tcase_add_test(ring, ring_setup_rules);
	tcase_add_test(ring, doorbell_batch);
	tcase_add_test(ring, doorbell_bad_ring);
	tcase_add_test(ring, prefault_runs);
	tcase_add_test(ring, copy_once_under_a_racing_guest);
	tcase_add_test(ring, cost_per_pte);
	suite_add_tcase(s, ring);
	return s;
}

int main(void)
{
	return testutil_run(pvmmu_suite());
}
