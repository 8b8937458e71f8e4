/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the PV MMU channel's VMM side (vmm/pvmmu.c), driven as a
 * hostile guest would drive it, with nothing but guest RAM.  The input is a
 * sequence of operations: ring setups, batches of records followed by a
 * doorbell, single records applied directly, and the guest's own stores into
 * its memory (page tables being prepared, or pinned ones scribbled on).
 *
 * Oracle, after every operation that can change the validator's state: its
 * per-frame counters are recounted from scratch from guest memory and the
 * pinned set (kind, refs, wr4k/wr2m/wr1g, the per-region counts), the
 * invariants of pagevisor/pvmmu.h are checked entry by entry, and the
 * counters must add up.  A direct record that is refused must change
 * nothing; one that is applied must have exactly its op's effect.  Once the
 * guest stores into a pinned table behind the channel's back the counts are
 * its own to spoil (docs/ARCHITECTURE.md): from then on only what must hold
 * whatever the tables say is checked, and ASan/UBSan watch the rest.
 *
 * Two RAM sizes: 8 MiB, or 1 GiB + 8 MiB so that 1 GiB leaves exist (the
 * frames a short encoding reaches then sit above the first GiB).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzzutil.h"
#include "mmu/guestmem.h"
#include "pagevisor/pvmmu.h"
#include "vmm/pvmmu.h"

#define PF_AREA_BYTES   (8ull << 20)
#define PF_AREA         (PF_AREA_BYTES >> 12)   /* frames the short encoding reaches */
#define PF_BIG_BASE     (1ull << 30)
#define PF_MAX_FRAMES   ((PF_BIG_BASE + PF_AREA_BYTES) >> 12)
#define PF_MAX_2M       (PF_MAX_FRAMES >> 9)
#define PF_MAX_1G       ((PF_MAX_FRAMES >> 18) + 1)
#define PF_VCPUS        2
#define PF_MAX_OPS      64
#define PF_MAX_BATCH    48
#define PF_RSVD         0x7ff0000000000000ull

struct pf {
	struct guestmem mem;
	struct pvmmu m;
	struct pvmmu_ring_state rs[PF_VCPUS];
	uint64_t base;          /* first frame of the area */
	bool big;
	bool tainted;           /* the guest stored into a pinned table itself */
};

/* The recount: what the counters must be.  Zero between checks. */
static uint32_t pf_refs[PF_MAX_FRAMES], pf_wr4k[PF_MAX_FRAMES];
static uint32_t pf_wr2m[PF_MAX_2M], pf_wr1g[PF_MAX_1G];
static uint32_t pf_pt2m[PF_MAX_2M], pf_ring2m[PF_MAX_2M], pf_pt1g[PF_MAX_1G], pf_ring1g[PF_MAX_1G];

/* ---- decoding the input -------------------------------------------------- */

/* A frame: mostly inside the area (a few just past RAM's end), or anywhere. */
static uint64_t pf_frame(struct pf *p, struct fuzz_in *in)
{
	uint16_t v = fuzz_u16(in);

	if (v == 0xffff)
		return fuzz_u64(in) >> 12;
	return p->base + v % (PF_AREA + 8);
}

/* The address of a PTE: frame, index, sometimes misaligned. */
static uint64_t pf_ptep(struct pf *p, struct fuzz_in *in)
{
	uint64_t f = pf_frame(p, in);
	uint16_t e = fuzz_u16(in);

	return (f << 12) + (e & 511) * 8 + ((e & 0x8000) ? (e >> 12) & 7 : 0);
}

/*
 * Sixteen flag bits into PTE bits: 0-11 as they are (P, W, U, PWT, PCD, A,
 * D, PS, G, AVL), then NX, a reserved bit, bit 12 (PAT of a large page, or
 * a misaligned large frame) and bit 51 (beyond any RAM).
 */
static uint64_t pf_flags(uint16_t b)
{
	return (b & 0xfffull) | (b & 0x1000 ? PV_PTE_NX : 0) | (b & 0x2000 ? 1ull << 52 : 0) |
	       (b & 0x4000 ? 1ull << 12 : 0) | (b & 0x8000 ? 1ull << 51 : 0);
}

/* A PTE value: a frame of the area (as it is, 2M- or 1G-aligned) with flags, or raw. */
static uint64_t pf_pte(struct pf *p, struct fuzz_in *in)
{
	uint8_t sel = fuzz_u8(in);
	uint64_t f;

	if (sel == 0xff)
		return fuzz_u64(in);
	f = pf_frame(p, in);
	switch (sel & 3) {
	case 1:
		f &= ~511ull;
		break;
	case 2:
		f = (sel & 4) ? 1ull << 18 : 0;
		break;
	default:
		break;
	}
	return (f << 12) | pf_flags(fuzz_u16(in));
}

static void pf_rec(struct pf *p, struct fuzz_in *in, struct pv_mmu_rec *r)
{
	uint8_t op = fuzz_u8(in), level = fuzz_u8(in);
	uint16_t count = fuzz_u16(in);

	memset(r, 0, sizeof(*r));
	r->op = op & 0x80 ? op : op % (PV_MMU_RELEASE + 2);
	r->level = level & 0x80 ? level : level % 6;
	r->count = count == 0xffff ? fuzz_u32(in) : count % 520;
	r->ptep = pf_ptep(p, in);
	r->val = pf_pte(p, in);
	r->mask = pf_flags(fuzz_u16(in));
	r->status = (int16_t)0x7777;   /* the VMM must overwrite it */
}

/* ---- the oracle ------------------------------------------------------------ */

static unsigned pf_shift(unsigned level)
{
	return 12 + 9 * (level - 1);
}

static FUZZ_ORACLE bool pf_in_ring(const struct pf *p, uint64_t f, int *who)
{
	for (int v = 0; v < PF_VCPUS; v++) {
		const struct pvmmu_ring_state *rs = &p->rs[v];
		uint64_t first = rs->gpa >> 12;
		uint64_t last = (rs->gpa + 64 + 32ull * rs->nr - 1) >> 12;

		if (rs->nr && f >= first && f <= last) {
			*who = v;
			return true;
		}
	}
	return false;
}

/* The first frame at or after @f that is pinned or a ring page, or nr_frames. */
static FUZZ_ORACLE uint64_t pf_next_used(const struct pvmmu *m, uint64_t f)
{
	static const uint8_t zero[4096];

	/* a page of kind[] at a time: most of it is zero, even with 1 GiB of RAM */
	while (f < m->nr_frames) {
		uint64_t end = (f | 4095) + 1 < m->nr_frames ? (f | 4095) + 1 : m->nr_frames;

		if (memcmp(&m->kind[f], zero, end - f)) {
			while (!m->kind[f])
				f++;
			return f;
		}
		f = end;
	}
	return f;
}

/* kind[] against the rings, and the per-region counts and nr_pinned against kind[]. */
static FUZZ_ORACLE void pf_check_kinds(struct pf *p)
{
	const struct pvmmu *m = &p->m;
	uint64_t n2m = (m->nr_frames + 511) >> 9, n1g = (m->nr_frames + (1u << 18) - 1) >> 18;
	uint32_t pinned = 0, ring = 0, want_ring = 0;

	for (uint64_t f = pf_next_used(m, 0); f < m->nr_frames; f = pf_next_used(m, f + 1)) {
		uint8_t k = m->kind[f];
		int who;

		FUZZ_CHECK(k <= PVMMU_KIND_RING, "frame 0x%llx: kind %u", (unsigned long long)f, k);
		if (k == PVMMU_KIND_RING) {
			FUZZ_CHECK(pf_in_ring(p, f, &who), "frame 0x%llx is a ring page of no ring",
				   (unsigned long long)f);
			ring++;
			pf_ring2m[f >> 9]++;
			pf_ring1g[f >> 18]++;
		} else {
			pinned++;
			pf_pt2m[f >> 9]++;
			pf_pt1g[f >> 18]++;
		}
	}
	for (int v = 0; v < PF_VCPUS; v++) {
		const struct pvmmu_ring_state *rs = &p->rs[v];

		if (!rs->nr)
			continue;
		FUZZ_CHECK(rs->nr <= PV_MMU_RING_MAX && !(rs->gpa & 0xfff) &&
			   guestmem_range_ok(p->mem.size, rs->gpa, 64 + 32ull * rs->nr),
			   "vCPU %d: ring 0x%llx x %u", v, (unsigned long long)rs->gpa, rs->nr);
		want_ring += (uint32_t)((rs->gpa + 64 + 32ull * rs->nr - 1) / 4096 - rs->gpa / 4096 + 1);
	}
	/* each ring frame belongs to one ring: overlapping rings would count twice */
	FUZZ_CHECK(ring == want_ring, "%u ring pages, the rings have %u", ring, want_ring);
	FUZZ_CHECK(pinned == m->nr_pinned, "%u pinned pages, nr_pinned %u", pinned, m->nr_pinned);
	for (uint64_t r = 0; r < n2m; r++) {
		FUZZ_CHECK(pf_pt2m[r] == m->pt2m[r] && pf_ring2m[r] == m->ring2m[r],
			   "2M region %llu: pt2m %u ring2m %u, recount %u %u", (unsigned long long)r,
			   m->pt2m[r], m->ring2m[r], pf_pt2m[r], pf_ring2m[r]);
	}
	for (uint64_t r = 0; r < n1g; r++) {
		FUZZ_CHECK(pf_pt1g[r] == m->pt1g[r] && pf_ring1g[r] == m->ring1g[r],
			   "1G region %llu: pt1g %u ring1g %u, recount %u %u", (unsigned long long)r,
			   m->pt1g[r], m->ring1g[r], pf_pt1g[r], pf_ring1g[r]);
	}
}

/*
 * Settle one per-frame count: compare it with the recount unless a full
 * compare did already, and zero the recount for the next check.
 */
static FUZZ_ORACLE void pf_settle(const char *name, const uint32_t *have, uint32_t *want,
				  uint64_t g, bool compared)
{
	if (!want[g])
		return;         /* settled through an earlier entry */
	FUZZ_CHECK(compared || have[g] == want[g], "%s[0x%llx] = %u, recount says %u", name,
		   (unsigned long long)g, have[g], want[g]);
	want[g] = 0;
}

enum pf_pass {
	PF_COUNT,               /* check each entry's invariants, count it */
	PF_SETTLE,              /* compare the per-frame counts it made, zero them */
};

/*
 * One present entry @v of the table at frame @t, pinned at @level: check the
 * invariants of pagevisor/pvmmu.h and count it, or settle what counting it
 * added (@compared: refs and wr4k were compared in full).
 */
static FUZZ_ORACLE void pf_entry(struct pf *p, uint64_t t, unsigned level, unsigned i, uint64_t v,
				 enum pf_pass pass, bool compared)
{
	const struct pvmmu *m = &p->m;
	uint64_t a = v & PV_PTE_ADDR, g = a >> 12, pages;
	unsigned shift;

	if (pass == PF_COUNT)
		FUZZ_CHECK(!(v & PF_RSVD), "table 0x%llx (level %u) entry %u = 0x%llx: reserved bits",
			   (unsigned long long)t, level, i, (unsigned long long)v);
	if (level > 1 && !(v & PV_PTE_PS)) {
		if (pass == PF_SETTLE)
			return pf_settle("refs", m->refs, pf_refs, g, compared);
		FUZZ_CHECK(g < m->nr_frames && m->kind[g] == level - 1,
			   "table 0x%llx (level %u) entry %u = 0x%llx points to a frame of kind %d",
			   (unsigned long long)t, level, i, (unsigned long long)v,
			   g < m->nr_frames ? m->kind[g] : -1);
		pf_refs[g]++;
		return;
	}
	if (pass == PF_SETTLE) {
		if (level == 1 && (v & PV_PTE_W))
			pf_settle("wr4k", m->wr4k, pf_wr4k, g, compared);
		return;
	}
	FUZZ_CHECK(level != 4 && !(level == 1 && (v & PV_PTE_PS)),
		   "table 0x%llx (level %u) entry %u = 0x%llx: PS at a wrong level",
		   (unsigned long long)t, level, i, (unsigned long long)v);
	shift = pf_shift(level);
	pages = 1ull << (shift - 12);
	FUZZ_CHECK(!(a & ((1ull << shift) - 1)) && g < m->nr_frames && m->nr_frames - g >= pages,
		   "table 0x%llx (level %u) entry %u = 0x%llx: frame misaligned or outside RAM",
		   (unsigned long long)t, level, i, (unsigned long long)v);
	if (!(v & PV_PTE_W))
		return;
	switch (level) {
	case 1:
		FUZZ_CHECK(m->kind[g] == PVMMU_KIND_NONE,
			   "table 0x%llx entry %u = 0x%llx maps a page of kind %u writable",
			   (unsigned long long)t, i, (unsigned long long)v, m->kind[g]);
		pf_wr4k[g]++;
		break;
	case 2:
		FUZZ_CHECK(!pf_pt2m[g >> 9] && !pf_ring2m[g >> 9],
			   "table 0x%llx entry %u = 0x%llx maps a table or ring page writable (2M)",
			   (unsigned long long)t, i, (unsigned long long)v);
		pf_wr2m[g >> 9]++;
		break;
	default:
		FUZZ_CHECK(!pf_pt1g[g >> 18] && !pf_ring1g[g >> 18],
			   "table 0x%llx entry %u = 0x%llx maps a table or ring page writable (1G)",
			   (unsigned long long)t, i, (unsigned long long)v);
		pf_wr1g[g >> 18]++;
		break;
	}
}

/* Every present entry of every pinned table, in one pass. */
static FUZZ_ORACLE void pf_walk(struct pf *p, enum pf_pass pass, bool compared)
{
	const struct pvmmu *m = &p->m;

	for (uint64_t t = pf_next_used(m, 0); t < m->nr_frames; t = pf_next_used(m, t + 1)) {
		unsigned level = m->kind[t];
		const uint64_t *pte;

		if (level < 1 || level > 4)
			continue;
		pte = guestmem_hva(&p->mem, t << 12, 4096);
		for (unsigned i = 0; i < 512; i++)
			if (pte[i] & PV_PTE_P)
				pf_entry(p, t, level, i, pte[i], pass, compared);
	}
}

/* A whole counter array against its recount. */
static FUZZ_ORACLE void pf_compare(const char *name, const uint32_t *have, const uint32_t *want,
				   uint64_t n)
{
	if (!memcmp(have, want, n * sizeof(*have)))
		return;
	for (uint64_t f = 0; f < n; f++)
		FUZZ_CHECK(have[f] == want[f], "%s[0x%llx] = %u, recount says %u", name,
			   (unsigned long long)f, have[f], want[f]);
}

static FUZZ_ORACLE void pf_check_counters(const struct pvmmu *m)
{
	const struct pvmmu_counters *c = &m->c;
	uint64_t by = 0;

	for (int s = 1; s < PV_MMU_NR_STATUS; s++)
		if (s != PV_MMU_E_RING && s != PV_MMU_E_NORING)
			by += c->by_reason[s];
	FUZZ_CHECK(c->records == c->applied + c->rejected, "records %llu != applied %llu + rejected %llu",
		   (unsigned long long)c->records, (unsigned long long)c->applied,
		   (unsigned long long)c->rejected);
	FUZZ_CHECK(by == c->rejected, "rejected %llu, by reason %llu",
		   (unsigned long long)c->rejected, (unsigned long long)by);
	FUZZ_CHECK(c->pins - c->unpins == m->nr_pinned, "pins %llu - unpins %llu != nr_pinned %u",
		   (unsigned long long)c->pins, (unsigned long long)c->unpins, m->nr_pinned);
	FUZZ_CHECK(c->by_reason[PV_MMU_E_RING] + c->by_reason[PV_MMU_E_NORING] <= c->doorbells,
		   "more refused doorbells than doorbells");
	FUZZ_CHECK(c->by_reason[PV_MMU_OK] == 0, "by_reason[OK] = %llu",
		   (unsigned long long)c->by_reason[PV_MMU_OK]);
}

/*
 * The whole oracle.  @full compares refs and wr4k everywhere with their
 * recount; without it, only where the pinned tables account for a count.
 * With 1 GiB of RAM a full compare reads 2 MiB: done at the end of each
 * input, sparse after each operation.
 */
static FUZZ_ORACLE void pf_check(struct pf *p, bool full)
{
	const struct pvmmu *m = &p->m;
	uint64_t n2m = (m->nr_frames + 511) >> 9, n1g = (m->nr_frames + (1u << 18) - 1) >> 18;

	pf_check_counters(m);
	pf_check_kinds(p);
	if (!p->tainted) {
		pf_walk(p, PF_COUNT, false);
		if (full) {
			pf_compare("refs", m->refs, pf_refs, m->nr_frames);
			pf_compare("wr4k", m->wr4k, pf_wr4k, m->nr_frames);
		}
		pf_compare("wr2m", m->wr2m, pf_wr2m, n2m);
		pf_compare("wr1g", m->wr1g, pf_wr1g, n1g);
		pf_walk(p, PF_SETTLE, full);
		memset(pf_wr2m, 0, n2m * sizeof(pf_wr2m[0]));
		memset(pf_wr1g, 0, n1g * sizeof(pf_wr1g[0]));
	}
	memset(pf_pt2m, 0, n2m * sizeof(pf_pt2m[0]));
	memset(pf_ring2m, 0, n2m * sizeof(pf_ring2m[0]));
	memset(pf_pt1g, 0, n1g * sizeof(pf_pt1g[0]));
	memset(pf_ring1g, 0, n1g * sizeof(pf_ring1g[0]));
}

/* ---- operations ---------------------------------------------------------- */

/* The guest stores into its own memory; a store into a pinned table taints. */
static void pf_guest_store(struct pf *p, uint64_t gpa, uint64_t v)
{
	uint64_t *q = guestmem_hva(&p->mem, gpa & ~7ull, 8);

	if (!q)
		return;
	if (gpa >> 12 < p->m.nr_frames && p->m.kind[gpa >> 12] >= 1 && p->m.kind[gpa >> 12] <= 4)
		p->tainted = true;
	*q = v;
}

static void pf_op_store(struct pf *p, struct fuzz_in *in)
{
	uint64_t gpa = pf_ptep(p, in);

	pf_guest_store(p, gpa, pf_pte(p, in));
}

/* A table page prepared in one go: entry i = first + i * step for n entries. */
static void pf_op_fill(struct pf *p, struct fuzz_in *in)
{
	static const uint64_t steps[4] = { 0, 1ull << 12, 1ull << 21, 1ull << 30 };
	uint64_t f = pf_frame(p, in), first = pf_pte(p, in);
	uint16_t n = fuzz_u16(in);
	uint64_t step = steps[n >> 14];

	n = (n & 0x3ff) % 513;
	for (unsigned i = 0; i < 512; i++)
		pf_guest_store(p, (f << 12) + 8 * i, i < n ? first + i * step : 0);
}

static void pf_op_setup(struct pf *p, struct fuzz_in *in)
{
	uint8_t b = fuzz_u8(in);
	struct pvmmu_ring_state *rs = &p->rs[b % PF_VCPUS], old = *rs;
	struct pv_mmu_setup s = {
		.version = (b & 0x80) ? fuzz_u32(in) : PV_ABI_VERSION,
		.nr_records = fuzz_u16(in) % (PV_MMU_RING_MAX + 2),
		.ring_gpa = pf_frame(p, in) << 12 | ((b & 0x40) ? 0x800 : 0),
	};
	uint64_t setups = p->m.c.setups;
	int st = pvmmu_setup(&p->m, rs, &s);

	FUZZ_CHECK(st == PV_OK || st == PV_EINVAL || st == PV_EFAULT || st == PV_EVERSION,
		   "setup status %d", st);
	FUZZ_CHECK(p->m.c.setups == setups + 1, "setups not counted");
	if (st == PV_OK)
		FUZZ_CHECK(rs->gpa == s.ring_gpa && rs->nr == s.nr_records, "setup OK, ring not set");
	else
		FUZZ_CHECK(rs->gpa == old.gpa && rs->nr == old.nr, "refused setup changed the ring");
}

/* Records into the vCPU's ring (the guest's stores), then its doorbell. */
static void pf_op_batch(struct pf *p, struct fuzz_in *in)
{
	uint8_t b = fuzz_u8(in), n = fuzz_u8(in) % (PF_MAX_BATCH + 1);
	const struct pvmmu_ring_state *rs = &p->rs[b % PF_VCPUS];
	struct pvmmu_counters c0 = p->m.c;
	struct pv_mmu_ring *ring = NULL;
	uint32_t count = n, rejected = 0;
	int st;

	if (b & 0x80)
		count = fuzz_u32(in);  /* a count the ring may not hold */
	if (rs->nr)
		ring = guestmem_hva(&p->mem, rs->gpa, 64 + 32ull * rs->nr);
	for (unsigned i = 0; i < n; i++) {
		struct pv_mmu_rec r;

		pf_rec(p, in, &r);
		if (ring && i < rs->nr)
			ring->rec[i] = r;
	}
	if (ring) {
		ring->count = count;
		ring->processed = ring->rejected = 0x5555;
	}
	st = pvmmu_doorbell(&p->m, rs);
	FUZZ_CHECK(p->m.c.doorbells == c0.doorbells + 1, "doorbell not counted");
	if (!ring) {
		FUZZ_CHECK(st == PV_MMU_E_NORING && p->m.c.records == c0.records &&
			   p->m.c.by_reason[st] == c0.by_reason[st] + 1,
			   "doorbell without a ring: status %d", st);
		return;
	}
	FUZZ_CHECK(ring->status == st, "header status %d, returned %d", ring->status, st);
	if (st == PV_MMU_E_RING) {
		FUZZ_CHECK(count > rs->nr && ring->processed == 0 && ring->rejected == 0 &&
			   p->m.c.records == c0.records && p->m.c.by_reason[st] == c0.by_reason[st] + 1,
			   "count %u of %u refused, processed %u", count, rs->nr, ring->processed);
		return;
	}
	FUZZ_CHECK(st == PV_MMU_OK && count <= rs->nr && ring->processed == count,
		   "count %u of %u: status %d, processed %u", count, rs->nr, st, ring->processed);
	for (uint32_t i = 0; i < count; i++) {
		int16_t s = ring->rec[i].status;

		FUZZ_CHECK(s >= 0 && s < PV_MMU_E_RING, "record %u: status %d", i, s);
		rejected += s != PV_MMU_OK;
	}
	FUZZ_CHECK(ring->rejected == rejected && p->m.c.rejected - c0.rejected == rejected &&
		   p->m.c.records - c0.records == count,
		   "header rejected %u, statuses %u, counters %llu of %llu", ring->rejected, rejected,
		   (unsigned long long)(p->m.c.rejected - c0.rejected),
		   (unsigned long long)(p->m.c.records - c0.records));
	FUZZ_CHECK(ring->flush <= PV_MMU_FLUSH_ALL, "flush %u", ring->flush);
	if (ring->flush == PV_MMU_FLUSH_RANGE)
		FUZZ_CHECK(!(ring->flush_va & 0xfff) && ring->flush_pages >= 1 &&
			   ring->flush_pages <= PVMMU_FLUSH_RANGE_MAX, "flush range 0x%llx + %llu pages",
			   (unsigned long long)ring->flush_va, (unsigned long long)ring->flush_pages);
	else
		FUZZ_CHECK(!ring->flush_va && !ring->flush_pages, "flush range without FLUSH_RANGE");
}

/* What an applied SET/MAP/PROTECT/CLEAR must have left in entry @i. */
static uint64_t pf_expect(const struct pv_mmu_rec *r, uint64_t old, unsigned i)
{
	switch (r->op) {
	case PV_MMU_SET:
		return r->val;
	case PV_MMU_MAP:
		return (r->val & ~PV_PTE_ADDR) |
		       ((r->val & PV_PTE_ADDR) + ((uint64_t)i << pf_shift(r->level)));
	case PV_MMU_PROTECT:
		return (old & PV_PTE_P) ? (old & ~r->mask) | r->val : old;
	default:
		return 0;
	}
}

/* The state a refused record must leave alone (small RAM only: cheap). */
struct pf_snap {
	uint8_t kind[PF_AREA];
	uint32_t refs[PF_AREA], wr4k[PF_AREA], wr2m[PF_AREA >> 9];
	uint32_t nr_pinned;
};

static FUZZ_ORACLE void pf_snap_take(const struct pvmmu *m, struct pf_snap *s)
{
	memcpy(s->kind, m->kind, sizeof(s->kind));
	memcpy(s->refs, m->refs, sizeof(s->refs));
	memcpy(s->wr4k, m->wr4k, sizeof(s->wr4k));
	memcpy(s->wr2m, m->wr2m, sizeof(s->wr2m));
	s->nr_pinned = m->nr_pinned;
}

static FUZZ_ORACLE bool pf_snap_same(const struct pvmmu *m, const struct pf_snap *s)
{
	return !memcmp(s->kind, m->kind, sizeof(s->kind)) &&
	       !memcmp(s->refs, m->refs, sizeof(s->refs)) &&
	       !memcmp(s->wr4k, m->wr4k, sizeof(s->wr4k)) &&
	       !memcmp(s->wr2m, m->wr2m, sizeof(s->wr2m)) && s->nr_pinned == m->nr_pinned;
}

/* The first entry where two table pages differ, or 512. */
static FUZZ_ORACLE unsigned pf_page_diff(const uint64_t *a, const uint64_t *b)
{
	unsigned i = 0;

	if (!memcmp(a, b, 4096))
		return 512;
	while (a[i] == b[i])
		i++;
	return i;
}

/*
 * One record through pvmmu_apply(), its effect checked exactly: on the page
 * its ptep names, only the entries it covers change, to what its op says;
 * a refused record, PIN, UNPIN and FLUSH_TLB change none.
 */
static void pf_op_apply(struct pf *p, struct fuzz_in *in)
{
	static struct pf_snap snap;
	static uint64_t before[512], want[512];
	struct pvmmu_flush acc = { .mode = PV_MMU_FLUSH_NONE };
	struct pvmmu_counters c0 = p->m.c;
	struct pv_mmu_rec r;
	uint64_t *page, written = 0;
	unsigned diff;
	bool pteop;
	int st;

	pf_rec(p, in, &r);
	pteop = r.op >= PV_MMU_SET && r.op <= PV_MMU_CLEAR;
	page = guestmem_hva(&p->mem, r.ptep & ~0xfffull, 4096);
	if (page)
		memcpy(before, page, 4096);
	if (!p->big)
		pf_snap_take(&p->m, &snap);
	st = pvmmu_apply(&p->m, &r, &acc);

	FUZZ_CHECK(st >= 0 && st < PV_MMU_E_RING, "apply: status %d", st);
	FUZZ_CHECK(p->m.c.records == c0.records + 1 && p->m.c.by_reason[st] ==
		   c0.by_reason[st] + (st != PV_MMU_OK), "apply: not counted once");
	if (r.op == 0 || r.op > PV_MMU_RELEASE)
		FUZZ_CHECK(st == PV_MMU_E_OP, "op %u: status %d", r.op, st);
	else if (pteop && (r.level < 1 || r.level > 4))
		FUZZ_CHECK(st == PV_MMU_E_LEVEL, "level %u: status %d", r.level, st);
	if (page)
		memcpy(want, before, 4096);
	if (st == PV_MMU_OK && r.op == PV_MMU_RELEASE)
		memset(want, 0, sizeof(want));         /* ptep's page is the first one dropped */
	if (st == PV_MMU_OK && pteop) {
		unsigned first = (r.ptep & 0xfff) / 8;

		FUZZ_CHECK(page && !(r.ptep & 7) && first + r.count <= 512,
			   "applied op %u at 0x%llx x %u", r.op, (unsigned long long)r.ptep, r.count);
		for (unsigned i = 0; i < r.count; i++) {
			want[first + i] = pf_expect(&r, before[first + i], i);
			written += r.op != PV_MMU_PROTECT || (before[first + i] & PV_PTE_P);
		}
	}
	diff = page ? pf_page_diff(page, want) : 512;
	FUZZ_CHECK(diff == 512, "op %u level %u count %u at 0x%llx, status %d: entry %u of its "
		   "page is 0x%llx, want 0x%llx", r.op, r.level, r.count,
		   (unsigned long long)r.ptep, st, diff, (unsigned long long)page[diff % 512],
		   (unsigned long long)want[diff % 512]);
	FUZZ_CHECK(p->m.c.ptes_written - c0.ptes_written == written, "ptes_written %llu, want %llu",
		   (unsigned long long)(p->m.c.ptes_written - c0.ptes_written),
		   (unsigned long long)written);
	if (st != PV_MMU_OK) {
		FUZZ_CHECK(p->big || pf_snap_same(&p->m, &snap),
			   "refused record (status %d) changed the state", st);
		FUZZ_CHECK(acc.mode == PV_MMU_FLUSH_NONE, "refused record widened the flush");
	} else if (r.op == PV_MMU_PIN) {
		FUZZ_CHECK(p->m.kind[r.ptep >> 12] == r.level, "pinned, kind %u",
			   p->m.kind[r.ptep >> 12]);
	} else if (r.op == PV_MMU_UNPIN) {
		FUZZ_CHECK(p->m.kind[r.ptep >> 12] == PVMMU_KIND_NONE, "unpinned, still kind %u",
			   p->m.kind[r.ptep >> 12]);
	} else if (r.op == PV_MMU_FLUSH_TLB) {
		FUZZ_CHECK(acc.mode != PV_MMU_FLUSH_NONE, "FLUSH_TLB asked for no flush");
	}
}

/*
 * Back to the state pvmmu_init() gives (keep in step with it): for the
 * 1 GiB RAM, whose validator lives across inputs.  Under ASan each of its
 * megabyte arrays would be a fresh mapping whose pages and shadow pages
 * fault one at a time, ~10 us each on a nested host: 3 ms per input.
 */
static void pf_reset(struct pvmmu *m)
{
	uint64_t n2m = (m->nr_frames + 511) >> 9, n1g = (m->nr_frames + (1u << 18) - 1) >> 18;

	fuzz_zero(m->kind, m->nr_frames * sizeof(*m->kind));
	fuzz_zero(m->refs, m->nr_frames * sizeof(*m->refs));
	fuzz_zero(m->wr4k, m->nr_frames * sizeof(*m->wr4k));
	memset(m->wr2m, 0, n2m * sizeof(*m->wr2m));
	memset(m->pt2m, 0, n2m * sizeof(*m->pt2m));
	memset(m->ring2m, 0, n2m * sizeof(*m->ring2m));
	memset(m->wr1g, 0, n1g * sizeof(*m->wr1g));
	memset(m->pt1g, 0, n1g * sizeof(*m->pt1g));
	memset(m->ring1g, 0, n1g * sizeof(*m->ring1g));
	m->nr_pinned = 0;
	m->pf_first = m->pf_n = 0;
	memset(&m->c, 0, sizeof(m->c));
}

/* Fresh RAM for an input; a fresh validator too, except the 1 GiB one's (pf_reset). */
static int pf_begin(struct pf *p, bool big)
{
	memset(p->rs, 0, sizeof(p->rs));
	p->tainted = false;
	p->big = big;
	p->base = big ? PF_BIG_BASE >> 12 : 0;
	/* pvmmu keeps &p->mem, which stays valid across guestmem_init()s */
	if (guestmem_init(&p->mem, big ? PF_BIG_BASE + PF_AREA_BYTES : PF_AREA_BYTES))
		return -1;
	if (p->m.mem)
		return 0;
	if (pvmmu_init(&p->m, &p->mem)) {
		guestmem_destroy(&p->mem);
		return -1;
	}
	return 0;
}

static void pf_end(struct pf *p)
{
	if (p->big)
		pf_reset(&p->m);
	else
		pvmmu_destroy(&p->m);
	guestmem_destroy(&p->mem);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct pf small, big;
	struct fuzz_in in;
	struct pf *p;

	fuzz_in_init(&in, data, size);
	p = fuzz_u8(&in) & 1 ? &big : &small;
	if (pf_begin(p, p == &big))
		abort();        /* out of memory or memfds: not the input's fault */
	for (int k = 0; k < PF_MAX_OPS && !fuzz_in_done(&in); k++) {
		switch (fuzz_u8(&in) % 5) {
		case 0:
			pf_op_setup(p, &in);
			break;
		case 1:
			pf_op_batch(p, &in);
			break;
		case 2:
			pf_op_apply(p, &in);
			break;
		case 3:
			pf_op_store(p, &in);
			continue;       /* no state of the VMM's changed */
		default:
			pf_op_fill(p, &in);
			continue;
		}
		pf_check(p, !p->big);
	}
	pf_check(p, true);
	pf_end(p);
	return 0;
}
