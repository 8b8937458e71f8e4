/*
 * hostile, the PV MMU part: random setups and doorbells checked against a
 * model of the rules in pagevisor/pvmmu.h and docs/ARCHITECTURE.md.
 *
 * The universe: HM_UNIV frames at the start of the PV MMU chunk that
 * records may pin, fill and unpin (reachable from no CR3, so no TLB is
 * involved); the model keeps their expected entries and the level each is
 * pinned at, and the ring the VMM holds for this vCPU.  Every target a
 * record names is memory the model knows: the universe, the workload's
 * other chunks, the null page, the current ring, or addresses outside RAM.
 *
 * For each record the model computes every status the documentation allows
 * (a record that breaks several rules may get any of theirs, since no order
 * is documented; none broken: PV_MMU_OK), checks the VMM's answer against
 * that set, and follows the VMM's answer (an applied record changes the
 * model).  After each doorbell the universe must equal the model, and the
 * ring must have changed only in the statuses and the header's OUT fields.
 */
#include <string.h>
#include <pagevisor/pvmmu.h>
#include <gk/hypercall.h>
#include <gk/mm.h>
#include <gk/pvmmu.h>
#include <gk/x86.h>

#include "hostile.h"

#define HM_DATA         16              /* frames 16..31 of the chunk: plain data */
#define HM_RING_FIRST   32              /* frames 32..71: where rings go */
#define HM_RING_PAGES   40
#define HM_BATCH        48              /* fresh records per doorbell at most */
#define HM_ST_CANARY    0x5a5a
#define HM_RSVD         0x7ff0000000000000ull   /* bits 52..62 */
#define HM_MODEL        (512u << 10)    /* the model's entries, in the scratch chunk */
#define B(s)            HS_STATUS_BIT(s)
#define HM_MAYBE_OK     (1u << 31)      /* also PV_MMU_OK: it depends on memory not modelled */

struct hm_flush {
	uint32_t mode;
	uint64_t va, end;
};

static struct {
	uint64_t univ;                  /* universe frame i: univ + i * 4096 */
	uint8_t kind[HM_UNIV];          /* 0, or the level it is pinned at */
	uint64_t *model;                /* HM_UNIV * 512 expected entries */
	uint64_t ring;                  /* the vCPU's ring as the VMM holds it */
	uint32_t nr;                    /* its records; 0: no ring */
	bool guest_ring;                /* the kernel's own ring was registered */
	uint32_t unsure;                /* statuses that depend on memory not modelled */
	struct pv_mmu_ring quiet;       /* the header before a write that must not ring */
	uint64_t quiet_at;
} hm;

static inline uint64_t hm_u(unsigned i)
{
	return hm.univ + (uint64_t)i * PAGE_SIZE_4K;
}

/* The universe frame holding pa, or -1. */
static int hm_index(uint64_t pa)
{
	return pa >= hm.univ && pa - hm.univ < HM_UNIV * PAGE_SIZE_4K ?
	       (int)((pa - hm.univ) >> 12) : -1;
}

static inline uint64_t hm_page_size(unsigned level)
{
	return 1ull << (12 + 9 * (level - 1));
}

static uint64_t hm_ring_bytes(uint32_t nr)
{
	return sizeof(struct pv_mmu_ring) + (uint64_t)nr * sizeof(struct pv_mmu_rec);
}

/* Whether [a, a + len) touches a page of the current ring. */
static bool hm_in_ring(uint64_t a, uint64_t len)
{
	uint64_t lo = hm.ring & ~0xfffull;
	uint64_t hi = (hm.ring + hm_ring_bytes(hm.nr) + 0xfff) & ~0xfffull;

	return hm.nr && a < hi && lo < a + len;
}

bool hm_ring_in(uint64_t lo, uint64_t len)
{
	return hm_in_ring(lo, len);
}

uint64_t hm_ring_at(void)
{
	return hm.nr ? hm.ring : ~0ull;
}

bool hm_pinned_in(uint64_t lo, uint64_t len)
{
	for (int i = 0; i < HM_UNIV; i++)
		if (hm.kind[i] && hm_u(i) >= lo && hm_u(i) - lo < len)
			return true;
	return false;
}

/* The level frame pa is pinned at; pin is the universe frame being pinned at pin_level. */
static unsigned hm_kind(uint64_t pa, int pin, unsigned pin_level)
{
	int i = hm_index(pa);

	if (i < 0)
		return 0;
	return i == pin ? pin_level : hm.kind[i];
}

/*
 * Whether the model knows every frame of [base, base + size): the
 * workload's chunks, the first MiB (below the kernel: nothing is pinned
 * there), the current ring, the kernel's ring (never pinned), or outside
 * RAM.
 */
static bool hm_known(uint64_t base, uint64_t size)
{
	const uint64_t chunk[] = { hs_mem.arena, hs_mem.mmu, hs_mem.end, hs_mem.witness,
				   hs_mem.scratch };
	uint64_t kring = (uint64_t)(uintptr_t)pvmmu_ring;

	if (base >= hs_mem.ram_end || (base < (1u << 20) && size <= (1u << 20) - base))
		return true;
	if (size == PAGE_SIZE_4K && (hm_in_ring(base, size) ||
				     (base >= kring && base - kring < PVMMU_RING_BYTES)))
		return true;
	for (unsigned i = 0; i < sizeof(chunk) / sizeof(chunk[0]); i++)
		if (base >= chunk[i] && base - chunk[i] < PAGE_SIZE_2M &&
		    size <= PAGE_SIZE_2M - (base - chunk[i]))
			return true;
	return false;
}

/* Statuses a writable leaf over [base, base + size) may get: pinned or ring pages under it. */
static uint32_t hm_wr_region(uint64_t base, uint64_t size, int pin)
{
	uint32_t s = 0;

	for (int i = 0; i < HM_UNIV; i++)
		if ((hm.kind[i] || i == pin) && hm_u(i) >= base && hm_u(i) - base < size)
			s |= B(PV_MMU_E_WRPT);
	if (hm_in_ring(base, size))
		s |= B(PV_MMU_E_WRRING);
	if (!hm_known(base, size))
		hm.unsure |= B(PV_MMU_E_WRPT) | B(PV_MMU_E_WRRING);
	return s;
}

/* Whether a leaf of a pinned universe table maps pa writable. */
static bool hm_mapped_writable(uint64_t pa)
{
	for (int i = 0; i < HM_UNIV; i++) {
		unsigned level = hm.kind[i];
		uint64_t size = level ? hm_page_size(level) : 0;
		const uint64_t *e = hm.model + i * 512;

		for (unsigned j = 0; level && j < 512; j++) {
			uint64_t v = e[j], base = v & PV_PTE_ADDR & ~(size - 1);

			if ((v & (PTE_P | PTE_W)) != (PTE_P | PTE_W) || (level > 1 && !(v & PTE_PS)))
				continue;
			if (pa >= base && pa - base < size)
				return true;
		}
	}
	return false;
}

/* Entries of pinned universe tables pointing to the table pa. */
static unsigned hm_refs(uint64_t pa)
{
	unsigned n = 0;

	for (int i = 0; i < HM_UNIV; i++) {
		unsigned level = hm.kind[i];
		const uint64_t *e = hm.model + i * 512;

		for (unsigned j = 0; level > 1 && j < 512; j++)
			if ((e[j] & PTE_P) && (level == 4 || !(e[j] & PTE_PS)) &&
			    (e[j] & PV_PTE_ADDR) == pa)
				n++;
	}
	return n;
}

/*
 * Statuses entry v may get in a table pinned at level (pin: the universe
 * frame being pinned, counted as pinned at level while its entries are
 * checked).  0: valid.
 */
static uint32_t hm_entry(uint64_t v, unsigned level, int pin)
{
	uint64_t addr = v & PV_PTE_ADDR, size;
	uint32_t s = 0;

	if (!(v & PTE_P))
		return 0;                       /* never checked: the guest's own (swap entries) */
	if (v & HM_RSVD)
		s |= B(PV_MMU_E_FLAGS);
	if (level == 4 || (level > 1 && !(v & PTE_PS))) {
		if (v & PTE_PS)
			s |= B(PV_MMU_E_FLAGS); /* PS only at levels 2 and 3 */
		if (hm_kind(addr, pin, level) != level - 1)
			s |= B(PV_MMU_E_NOTTABLE);
		if (addr >= hs_mem.ram_end)
			s |= B(PV_MMU_E_FRAME);
		return s;
	}
	if (level == 1 && (v & PTE_PS))
		s |= B(PV_MMU_E_FLAGS);
	size = hm_page_size(level);
	if ((addr & (size - 1)) || !hs_in_ram(addr, size))
		s |= B(PV_MMU_E_FRAME);
	if (v & PTE_W)
		s |= hm_wr_region(addr & ~(size - 1), size, pin);
	return s;
}

/* Entry i of a SET, MAP, PROTECT or CLEAR run whose entry was old; *wrap: MAP left the field. */
static uint64_t hm_new_entry(const struct pv_mmu_rec *r, uint32_t i, uint64_t old, bool *wrap)
{
	uint64_t addr;

	switch (r->op) {
	case PV_MMU_SET:
		return r->val;
	case PV_MMU_MAP:
		addr = (r->val & PV_PTE_ADDR) + i * hm_page_size(r->level);
		*wrap = *wrap || (addr & ~PV_PTE_ADDR);
		return (r->val & ~PV_PTE_ADDR) | (addr & PV_PTE_ADDR);
	case PV_MMU_PROTECT:
		return (old & ~r->mask) | r->val;
	default:
		return 0;
	}
}

static uint32_t hm_expect_pte(const struct pv_mmu_rec *r)
{
	uint64_t len = 8ull * r->count;
	unsigned level = r->level;
	bool level_ok = level >= 1 && level <= 4, wrap = false;
	bool count_ok = r->count >= 1 && r->count <= PV_MMU_RANGE_MAX &&
			(r->op != PV_MMU_SET || r->count == 1);
	bool in_table = hs_in_ram(r->ptep, len) && (r->ptep & 0xfff) + len <= PAGE_SIZE_4K;
	int t = hm_index(r->ptep);
	uint32_t s = 0;

	if (!level_ok)
		s |= B(PV_MMU_E_LEVEL);
	if (r->ptep & 7)
		s |= B(PV_MMU_E_ALIGN);
	if (!count_ok)
		s |= B(PV_MMU_E_COUNT);
	if (r->op == PV_MMU_PROTECT && ((r->mask | r->val) & ~PV_PTE_PROT_BITS))
		s |= B(PV_MMU_E_FLAGS);
	if (!in_table)
		s |= B(PV_MMU_E_RANGE);
	if (!level_ok || t < 0 || hm.kind[t] != level)
		s |= B(PV_MMU_E_NOTPINNED);
	if (t < 0 || !level_ok || !count_ok || !in_table || (r->ptep & 7))
		return s;
	for (uint32_t i = 0; i < r->count; i++) {
		uint64_t old = hm.model[t * 512 + ((r->ptep & 0xfff) >> 3) + i];
		uint64_t v = hm_new_entry(r, i, old, &wrap);

		if (r->op == PV_MMU_PROTECT && !(old & PTE_P))
			continue;               /* left alone */
		s |= hm_entry(v, level, -1);
	}
	if (wrap)
		s |= B(PV_MMU_E_FRAME) | B(PV_MMU_E_FLAGS);
	return s;
}

static uint32_t hm_expect_pin(const struct pv_mmu_rec *r)
{
	uint64_t page = r->ptep & ~0xfffull;
	unsigned level = r->level;
	int t = hm_index(r->ptep);
	uint32_t s = 0;

	if (level < 1 || level > 4)
		s |= B(PV_MMU_E_LEVEL);
	if (r->ptep & 0xfff)
		s |= B(PV_MMU_E_ALIGN);
	if (!hs_in_ram(page, PAGE_SIZE_4K))
		s |= B(PV_MMU_E_RANGE);
	if (hm_in_ring(page, PAGE_SIZE_4K) || (t >= 0 && (hm.kind[t] || hm_mapped_writable(page))))
		s |= B(PV_MMU_E_BUSY);
	if (t >= 0 && level >= 1 && level <= 4)
		for (unsigned i = 0; i < 512; i++)
			s |= hm_entry(hm.model[t * 512 + i], level, t);
	return s;
}

static uint32_t hm_expect_unpin(const struct pv_mmu_rec *r)
{
	uint64_t page = r->ptep & ~0xfffull;
	int t = hm_index(r->ptep);
	uint32_t s = 0;

	if (r->ptep & 0xfff)
		s |= B(PV_MMU_E_ALIGN);
	if (!hs_in_ram(page, PAGE_SIZE_4K))
		s |= B(PV_MMU_E_RANGE);
	if (t < 0 || !hm.kind[t] || hm_refs(page))
		s |= B(PV_MMU_E_BUSY);          /* level is ignored */
	return s;
}

/*
 * RELEASE names frames: at least one (count 0 still names ptep's page for
 * the other rules), and the partial page of an unaligned start.
 */
static uint32_t hm_expect_release(const struct pv_mmu_rec *r)
{
	uint64_t base = r->ptep & ~0xfffull, end, hi, len;
	uint32_t s = 0;
	bool wrap;

	if (r->ptep & 0xfff)
		s |= B(PV_MMU_E_ALIGN);
	if (r->count == 0 || r->count > PV_MMU_RELEASE_MAX)
		s |= B(PV_MMU_E_COUNT);
	len = ((uint64_t)(r->count ? r->count : 1) + ((r->ptep & 0xfff) != 0)) * PAGE_SIZE_4K;
	wrap = __builtin_add_overflow(base, len, &end);
	if (wrap || end > hs_mem.ram_end)
		s |= B(PV_MMU_E_RANGE);
	if (base >= hs_mem.ram_end)
		return s;
	hi = wrap || end > hs_mem.ram_end ? hs_mem.ram_end : end;
	if (hm_pinned_in(base, hi - base) || hm_in_ring(base, hi - base))
		s |= B(PV_MMU_E_BUSY);
	if (!hm_known(base, hi - base))
		hm.unsure |= B(PV_MMU_E_BUSY);  /* the kernel's pinned tables are not modelled */
	return s;
}

/* Every status record r may get; 0: it must be applied. */
static uint32_t hm_expect_any(const struct pv_mmu_rec *r)
{
	uint32_t s;

	switch (r->op) {
	case PV_MMU_SET:
	case PV_MMU_MAP:
	case PV_MMU_PROTECT:
	case PV_MMU_CLEAR:
		return hm_expect_pte(r);
	case PV_MMU_PIN:
		return hm_expect_pin(r);
	case PV_MMU_UNPIN:
		return hm_expect_unpin(r);
	case PV_MMU_FLUSH_TLB:
		return 0;
	case PV_MMU_RELEASE:
		return hm_expect_release(r);
	default:
		s = B(PV_MMU_E_OP);
		if (r->level < 1 || r->level > 4)
			s |= B(PV_MMU_E_LEVEL);
		if (r->ptep & 7)
			s |= B(PV_MMU_E_ALIGN);
		if (r->count == 0 || r->count > PV_MMU_RANGE_MAX)
			s |= B(PV_MMU_E_COUNT);
		if (!hs_in_ram(r->ptep, 8))
			s |= B(PV_MMU_E_RANGE);
		return s;
	}
}

/*
 * As hm_expect_any(); with HM_MAYBE_OK when the only rules r may break
 * depend on memory the model does not know (a writable page over a chunk
 * that is not the workload's): then PV_MMU_OK is right too.
 */
static uint32_t hm_expect(const struct pv_mmu_rec *r)
{
	uint32_t s;

	hm.unsure = 0;
	s = hm_expect_any(r);
	return s || !hm.unsure ? s | hm.unsure : hm.unsure | HM_MAYBE_OK;
}

/*
 * docs/ARCHITECTURE.md: FLUSH_TLB ranges merge into their page-aligned
 * envelope, which becomes a full flush past 64 pages, for count 0, or when
 * it wraps.
 */
static void hm_flush_add(struct hm_flush *f, uint64_t va, uint32_t count)
{
	uint64_t end, hi;

	if (f->mode == PV_MMU_FLUSH_ALL)
		return;
	if (!count || __builtin_add_overflow(va, (uint64_t)count << 12, &end) ||
	    __builtin_add_overflow(end, 0xfffull, &hi)) {
		f->mode = PV_MMU_FLUSH_ALL;
		return;
	}
	va &= ~0xfffull;
	hi &= ~0xfffull;
	if (f->mode == PV_MMU_FLUSH_NONE) {
		f->mode = PV_MMU_FLUSH_RANGE;
		f->va = va;
		f->end = hi;
	} else {
		f->va = va < f->va ? va : f->va;
		f->end = hi > f->end ? hi : f->end;
	}
	if (f->end - f->va > 64 * PAGE_SIZE_4K)
		f->mode = PV_MMU_FLUSH_ALL;
}

/* The VMM applied r: so does the model. */
static void hm_apply(const struct pv_mmu_rec *r, struct hm_flush *f)
{
	int t = hm_index(r->ptep);
	unsigned first = (r->ptep & 0xfff) >> 3;
	bool wrap = false;

	switch (r->op) {
	case PV_MMU_SET:
	case PV_MMU_MAP:
	case PV_MMU_PROTECT:
	case PV_MMU_CLEAR:
		if (t < 0 || r->count > 512 - first)
			return;         /* the model cannot follow (already an error) */
		for (uint32_t i = 0; i < r->count; i++) {
			uint64_t *e = &hm.model[t * 512 + first + i];

			if (r->op == PV_MMU_PROTECT && !(*e & PTE_P))
				continue;
			*e = hm_new_entry(r, i, *e, &wrap);
		}
		break;
	case PV_MMU_PIN:
		if (t >= 0)
			hm.kind[t] = r->level;
		break;
	case PV_MMU_UNPIN:
		if (t >= 0)
			hm.kind[t] = 0;
		break;
	case PV_MMU_FLUSH_TLB:
		hm_flush_add(f, r->val, r->count);
		break;
	case PV_MMU_RELEASE:            /* released universe frames read zeros */
		for (int i = 0; i < HM_UNIV; i++)
			if (hm_u(i) >= r->ptep && hm_u(i) - r->ptep < (uint64_t)r->count * PAGE_SIZE_4K)
				memset(hm.model + i * 512, 0, PAGE_SIZE_4K);
		break;
	}
}

/* Whether pa is a page that holds the seeded pattern while no call looks at it. */
static bool hm_stamped(uint64_t pa)
{
	const uint64_t chunk[] = { hs_mem.arena, hs_mem.mmu + HM_UNIV * PAGE_SIZE_4K, hs_mem.end,
				   hs_mem.witness };
	const uint64_t size[] = { PAGE_SIZE_2M, PAGE_SIZE_2M - HM_UNIV * PAGE_SIZE_4K,
				  PAGE_SIZE_2M, PAGE_SIZE_2M };

	if (hm_in_ring(pa, PAGE_SIZE_4K))
		return false;                   /* it holds the records being answered */
	for (unsigned i = 0; i < sizeof(chunk) / sizeof(chunk[0]); i++)
		if (pa >= chunk[i] && pa - chunk[i] < size[i])
			return true;
	return false;
}

/*
 * A refused RELEASE took nothing away: the workload's stamped frames it
 * named (the first 64) still hold the pattern.  (Universe frames: the
 * model's check after the doorbell.)
 */
static void hm_release_kept(const struct pv_mmu_rec *r, int st)
{
	uint64_t pa = r->ptep & ~0xfffull;
	uint32_t n = r->count < 64 ? (r->count ? r->count : 1) : 64;

	for (uint32_t i = 0; i < n && pa < hs_mem.ram_end; i++, pa += PAGE_SIZE_4K) {
		uint64_t a;

		if (!hm_stamped(pa))
			continue;
		a = hs_pattern_find(pa, pa + PAGE_SIZE_4K);
		hs_check(a == pa + PAGE_SIZE_4K, "refused RELEASE (status %d) of %u frames at 0x%lx: "
			 "0x%lx holds 0x%lx now", st, r->count, (unsigned long)r->ptep,
			 (unsigned long)a, a < pa + PAGE_SIZE_4K ?
			 (unsigned long)*(const uint64_t *)(uintptr_t)a : 0ul);
	}
}

/* ---- generators ----------------------------------------------------------- */

/* A universe frame pinned at level (pinned: true) or not pinned; any if there is none. */
static int hm_pick_frame(bool pinned, unsigned level)
{
	int cand[HM_UNIV], n = 0;

	for (int i = 0; i < HM_UNIV; i++)
		if (pinned ? (level ? hm.kind[i] == level : hm.kind[i] != 0) : !hm.kind[i])
			cand[n++] = i;
	return n ? cand[hs_below(n)] : (int)hs_below(HM_UNIV);
}

static unsigned hm_gen_index(void)
{
	unsigned k = hs_below(100);

	return k < 50 ? hs_below(512) : k < 70 ? 0 : k < 85 ? 511 : 504 + hs_below(8);
}

/* A 4 KiB frame for a run of n leaves inside known memory, or out of RAM. */
static uint64_t hm_gen_frame4k(uint32_t n, bool *wr_ok)
{
	uint64_t chunk, end = hs_mem.ram_end;
	unsigned room = n <= 512 ? n : 1;

	*wr_ok = true;
	switch (hs_below(10)) {
	case 0:
	case 1:         /* a run from the universe stays in its chunk */
		return hm_u(room <= 512 - HM_UNIV ? hs_below(HM_UNIV) : 0);
	case 2:
		chunk = HS_PICK(hs_mem.mmu, hs_mem.arena, hs_mem.end, hs_mem.witness);
		return chunk + hs_below(512 - room + 1) * PAGE_SIZE_4K;
	case 3:
		return end - PAGE_SIZE_4K * (1 + hs_below(4));  /* a run may leave RAM */
	case 4:
		*wr_ok = room == 1;     /* past the ring: perhaps not the workload's */
		if (hm.nr)
			return (hm.ring & ~0xfffull) +
			       hs_below(hm_ring_bytes(hm.nr) >> 12) * PAGE_SIZE_4K;
		return hm.univ + (HM_RING_FIRST + hs_below(HM_RING_PAGES)) * PAGE_SIZE_4K;
	case 5:
		return room <= 200 ? 0 : end;
	case 6:
		return end + hs_below(1024) * PAGE_SIZE_4K;
	case 7:
		return (1ull << 52) - PAGE_SIZE_4K * (1 + hs_below(2));
	default:
		return hm.univ + (room <= 512 - 2 * HM_DATA ? HM_DATA + hs_below(16) : 0) *
				 PAGE_SIZE_4K;
	}
}

/* A 2 MiB page (level 2) or 1 GiB page (level 3) for a run of n, maybe misaligned. */
static uint64_t hm_gen_frame_big(unsigned level, uint32_t n, bool *wr_ok)
{
	uint64_t size = hm_page_size(level), end = hs_mem.ram_end;
	uint64_t beyond = (end + size - 1) & ~(size - 1);
	unsigned k = hs_below(100);

	*wr_ok = false;
	if (k < 50 && level == 2) {
		*wr_ok = n == 1;                /* the next chunks are not the workload's */
		return HS_PICK(hs_mem.mmu, hs_mem.arena, hs_mem.end, hs_mem.witness);
	}
	if (k < 50) {
		*wr_ok = end < PAGE_SIZE_1G;    /* refused anyway: the page leaves RAM */
		return 0;
	}
	if (k < 70)
		return hs_mem.mmu + PAGE_SIZE_4K * (1 + hs_below(511));       /* misaligned */
	*wr_ok = true;
	return HS_PICK(beyond, beyond + size * hs_below(64), (1ull << 52) - size);
}

/* A table for a non-leaf entry at level: a universe frame or something that is not one. */
static uint64_t hm_gen_table(unsigned level)
{
	unsigned k = hs_below(100);

	if (k < 50)
		return hm_u(hm_pick_frame(true, level - 1));
	if (k < 75)
		return hm_u(hs_below(HM_UNIV));
	if (k < 85)
		return HS_PICK(hs_mem.arena, hs_mem.witness, 0);
	return hs_mem.ram_end + hs_below(4096) * PAGE_SIZE_4K;
}

/* A PTE value for level; MAP runs of *n (a non-leaf run in RAM shrinks to 1). */
static uint64_t hm_gen_val(unsigned level, uint32_t *n, bool map)
{
	static const uint64_t extra[] = {
		PV_PTE_U, PV_PTE_PWT, PV_PTE_PCD, PV_PTE_A, PV_PTE_D, PV_PTE_G, 1ull << 9,
		1ull << 10, 1ull << 11, PV_PTE_NX,
	};
	unsigned k = hs_below(100), L = level >= 1 && level <= 4 ? level : 1 + hs_below(4);
	uint64_t v, addr, flags = PTE_P;
	bool leaf = L == 1 || (L < 4 && k < 60) || (L == 4 && k < 16), wr_ok;

	if (k < 12) {
		v = hs_rand() & ~PTE_P;                 /* not present: never checked */
		return map ? v & ~(0xfull << 48) : v;   /* a run must not leave the field */
	}
	for (unsigned i = 0; i < sizeof(extra) / sizeof(extra[0]); i++)
		if (hs_pct(i == 0 ? 70 : 15))
			flags |= extra[i];
	if (hs_pct(50))
		flags |= PTE_W;
	if (hs_pct(4))
		flags |= 1ull << (52 + hs_below(11));   /* reserved */
	if (!leaf) {
		addr = hm_gen_table(L);
		if (map && addr < hs_mem.ram_end)
			*n = 1;         /* the next tables would be anyone's */
		return addr | flags;
	}
	if (L == 1) {
		addr = hm_gen_frame4k(map ? *n : 1, &wr_ok);
		if (hs_pct(4))
			flags |= PTE_PS;        /* PAT at level 1: PS belongs to levels 2, 3 */
	} else {
		addr = hm_gen_frame_big(L, map ? *n : 1, &wr_ok);
		flags |= PTE_PS;
	}
	if (!wr_ok)
		flags &= ~PTE_W;
	return addr | flags;
}

static uint64_t hm_gen_ptep(unsigned level, unsigned *idx)
{
	unsigned k = hs_below(100), i = hm_gen_index(), l = level >= 1 && level <= 4 ? level : 1;
	uint64_t end = hs_mem.ram_end;

	*idx = i;
	if (k < 55)
		return hm_u(hm_pick_frame(true, l)) + 8 * i;
	if (k < 70)
		return hm_u(hs_below(HM_UNIV)) + 8 * i;
	if (k < 75)
		return hm_u(hs_below(HM_UNIV)) + 8 * i + 1 + hs_below(7);
	if (k < 80)
		return HS_PICK(hm.univ + HM_DATA * PAGE_SIZE_4K, hs_mem.arena, 0) + 8 * i;
	if (k < 85 && hm.nr)
		return (hm.ring & ~0xfffull) + 8 * i;
	if (k < 93)
		return HS_PICK(end - 8, end - 8 * (1 + hs_below(4)), end, end + 8 * i);
	return HS_PICK(~7ull, ~0xfffull, 0xffffffffull, hs_rand(), 1ull << 52, 1ull << 63);
}

static uint32_t hm_gen_count(unsigned op, unsigned idx)
{
	unsigned k = hs_below(100), room = 512 - idx;

	if (op == PV_MMU_SET)
		return k < 90 ? 1 : (uint32_t)HS_PICK(0, 2, 512, 513, 0xffffffffull);
	if (k < 55)
		return 1 + hs_below(8);
	if (k < 75)
		return 1 + hs_below(room);
	if (k < 85)
		return room + 1 + hs_below(4);          /* leaves the table */
	return (uint32_t)HS_PICK(0, 512, 513, 0xffffffffull, 0x80000000ull);
}

/* PROTECT's val and mask: mostly within PV_PTE_PROT_BITS. */
static void hm_gen_prot(uint64_t *val, uint64_t *mask)
{
	static const uint64_t bits[] = {
		PV_PTE_W, PV_PTE_U, PV_PTE_PWT, PV_PTE_PCD, PV_PTE_A, PV_PTE_D, PV_PTE_G,
		1ull << 9, 1ull << 10, 1ull << 11, PV_PTE_NX,
	};

	*val = *mask = 0;
	for (unsigned i = 0; i < sizeof(bits) / sizeof(bits[0]); i++) {
		if (hs_pct(i == 0 ? 40 : 15))
			*val |= bits[i];
		if (hs_pct(i == 0 ? 30 : 15))
			*mask |= bits[i];
	}
	if (hs_pct(10))
		*(hs_pct(50) ? val : mask) |= HS_PICK(PTE_P, PTE_PS, 1ull << 52, 1ull << 12,
						      1ull << 62);
}

/* The page of a PIN (pin: true) or UNPIN. */
static uint64_t hm_gen_page(bool pin)
{
	unsigned k = hs_below(100);
	uint64_t end = hs_mem.ram_end;

	if (k < 60)
		return hm_u(hm_pick_frame(!pin && hs_pct(70), 0));
	if (k < 70 && hm.nr)
		return hm.ring & ~0xfffull;
	if (k < 78)
		return hm_u(hs_below(HM_UNIV)) + HS_PICK(8, 0x800, 1, 0xff8);
	if (k < 90)
		return HS_PICK(end, end + PAGE_SIZE_4K * hs_below(1000), ~0xfffull,
			       hs_rand() | (1ull << 62));
	if (!pin && k < 95)
		return HS_PICK(hs_mem.arena, 0, hm.univ + HM_DATA * PAGE_SIZE_4K);
	return hm_u(hs_below(HM_UNIV));
}

static uint64_t hm_gen_va(void)
{
	return HS_PICK(0, hs_rand(), ~0xfffull - PAGE_SIZE_4K * hs_below(8), ~0ull,
		       0xffff800000000000ull + (hs_below(1u << 30) << 12),
		       0x10000000000ull + (hs_below(4096) << 12), hs_rand() | 0xfff);
}

/*
 * A RELEASE: of universe frames (applied unless a pinned one is among
 * them), or one that must be refused, naming pages that hold the pattern
 * (data frames, RAM's last frames) so that a wrong release shows: a pinned
 * table, the ring, an unaligned start, count 0 or too large, a run past
 * the end of RAM, beyond RAM, wrapping.  Never a run that could be applied
 * outside the universe.
 */
static void hm_gen_release(struct pv_mmu_rec *r)
{
	uint64_t end = hs_mem.ram_end, ring = hm_ring_at();
	unsigned k = hs_below(100), i, p;

	r->ptep = hm.univ + (HM_DATA + hs_below(HM_DATA - 4)) * PAGE_SIZE_4K;
	r->count = 1 + hs_below(4);
	if (k < 20) {
		i = hs_below(HM_UNIV);
		r->ptep = hm_u(i);
		r->count = 1 + hs_below(HM_UNIV - i);
	} else if (k < 30) {
		i = hm_pick_frame(true, 0);
		r->ptep = hm_u(i);
		r->count = 1 + hs_below(HM_UNIV - i);
	} else if (k < 38 && ring != ~0ull) {
		p = (uint32_t)((((ring + hm_ring_bytes(hm.nr) + 0xfff) & ~0xfffull) -
				(ring & ~0xfffull)) >> 12);
		r->ptep = (ring & ~0xfffull) + hs_below(p) * PAGE_SIZE_4K;
	} else if (k < 52) {
		r->ptep += HS_PICK(8, 0x800, 1, 0xff8, 0x10);
	} else if (k < 62) {
		r->count = 0;
	} else if (k < 72) {
		r->count = (uint32_t)HS_PICK(PV_MMU_RELEASE_MAX + 1,
					     PV_MMU_RELEASE_MAX + 1 + hs_below(1000),
					     0x80000000ull, 0xffffffffull);
	} else if (k < 88) {
		p = 1 + hs_below(4);
		r->ptep = end - p * PAGE_SIZE_4K;
		r->count = p + 1 + hs_below(8);
	} else {
		r->ptep = HS_PICK(end, end + PAGE_SIZE_4K * hs_below(1000), ~0xfffull,
				  ~0xfffull - PAGE_SIZE_4K * hs_below(4), 1ull << 52);
		r->count = (uint32_t)HS_PICK(1, 2, 1 + hs_below(64), PV_MMU_RELEASE_MAX);
	}
	r->level = (uint8_t)hs_rand();          /* level, val and mask are ignored */
	r->val = hs_pct(80) ? 0 : hs_rand();
	r->mask = hs_pct(80) ? 0 : hs_rand();
}

static void hm_gen_rec(struct pv_mmu_rec *r)
{
	unsigned k = hs_below(100), idx;

	memset(r, 0, sizeof(*r));
	r->op = k < 14 ? PV_MMU_SET : k < 32 ? PV_MMU_MAP : k < 44 ? PV_MMU_PROTECT :
		k < 54 ? PV_MMU_CLEAR : k < 67 ? PV_MMU_PIN : k < 76 ? PV_MMU_UNPIN :
		k < 84 ? PV_MMU_FLUSH_TLB : k < 92 ? PV_MMU_RELEASE :
		(uint8_t)HS_PICK(0, 9, 0x7f, 0x80, 0xff, 9 + hs_below(247));
	r->level = hs_pct(94) ? 1 + hs_below(4) : (uint8_t)HS_PICK(0, 5, 7, 0xff, hs_rand());
	switch (r->op) {
	case PV_MMU_PIN:
	case PV_MMU_UNPIN:
		r->ptep = hm_gen_page(r->op == PV_MMU_PIN);
		r->count = hs_pct(80) ? 1 : (uint32_t)hs_rand();       /* ignored */
		if (r->op == PV_MMU_UNPIN && hs_pct(30))
			r->level = (uint8_t)hs_rand();                  /* ignored */
		r->val = hs_pct(80) ? 0 : hs_rand();
		break;
	case PV_MMU_FLUSH_TLB:
		if (hs_pct(60)) {       /* near one place: envelopes around the 64-page edge */
			r->val = MM_WORKLOAD_BASE + (hs_below(8) << 12) + (hs_pct(20) ? 0x800 : 0);
			r->count = (uint32_t)HS_PICK(1, 56, 57, 63, 64, 65, 1 + hs_below(70));
		} else {
			r->val = hm_gen_va();
			r->count = (uint32_t)HS_PICK(0, 1 + hs_below(64), 65 + hs_below(1000),
						     0xffffffffull, hs_rand());
		}
		r->ptep = hs_pct(80) ? 0 : hs_rand();
		r->level = (uint8_t)hs_rand();                          /* ignored */
		break;
	case PV_MMU_RELEASE:
		hm_gen_release(r);
		break;
	default:
		r->ptep = hm_gen_ptep(r->level, &idx);
		r->count = hm_gen_count(r->op, idx);
		if (r->op == PV_MMU_PROTECT)
			hm_gen_prot(&r->val, &r->mask);
		else if (r->op == PV_MMU_CLEAR || r->op > PV_MMU_FLUSH_TLB)
			r->val = hs_pct(80) ? 0 : hs_rand();
		else
			r->val = hm_gen_val(r->level, &r->count, r->op == PV_MMU_MAP);
		if (r->op != PV_MMU_PROTECT && hs_pct(10))
			r->mask = hs_rand();                            /* ignored */
		break;
	}
}

/* ---- setup ------------------------------------------------------------------ */

static uint32_t hm_setup_expect(const struct pv_mmu_setup *s)
{
	uint64_t gpa = s->ring_gpa, bytes = hm_ring_bytes(s->nr_records);
	uint32_t e = 0;

	if (s->version != PV_ABI_VERSION)
		e |= B(PV_EVERSION);
	if (s->nr_records == 0 || s->nr_records > PV_MMU_RING_MAX || (gpa & 0xfff))
		e |= B(PV_EINVAL);
	if (!hs_in_ram(gpa, bytes)) {
		e |= B(PV_EFAULT);
		return e;
	}
	for (uint64_t pa = gpa & ~0xfffull; pa < gpa + bytes; pa += PAGE_SIZE_4K) {
		if (hm_kind(pa, -1, 0) || hm_mapped_writable(pa)) {
			e |= B(PV_EINVAL);      /* pinned, or mapped writable by a pinned table */
			break;
		}
	}
	return e;
}

void hm_setup_fill(struct pv_mmu_setup *s, uint32_t *expect)
{
	uint64_t area = hm.univ + HM_RING_FIRST * PAGE_SIZE_4K, end = hs_mem.ram_end, gpa;
	unsigned k = hs_below(100), p;
	uint32_t nr, fit;
	int t;

	s->version = hs_pct(88) ? PV_ABI_VERSION :
		     (uint32_t)HS_PICK(0, PV_ABI_VERSION + 1, 0xffffffffull, hs_rand());
	if (k >= 80 && k < 94) {
		t = hm_pick_frame(true, 0);     /* refused: pinned or mapped writable */
		if (hm.kind[t] || hm_mapped_writable(hm_u(t))) {
			s->ring_gpa = hm_u(t);
			s->nr_records = 1 + hs_below(100);
			*expect = hm_setup_expect(s);
			return;
		}
		k = 0;
	}
	if (k >= 94 && !(hm.nr && hm.ring >= area && hm.ring < area + HM_RING_PAGES * PAGE_SIZE_4K))
		k = 0;
	if (k < 40) {
		p = hs_below(HM_RING_PAGES);
		fit = ((HM_RING_PAGES - p) * PAGE_SIZE_4K - sizeof(struct pv_mmu_ring)) /
		      sizeof(struct pv_mmu_rec);
		fit = fit < PV_MMU_RING_MAX ? fit : PV_MMU_RING_MAX;
		gpa = area + p * PAGE_SIZE_4K;
		nr = hs_pct(20) ? fit : 1 + hs_below(fit);
	} else if (k < 47) {
		gpa = (uint64_t)(uintptr_t)pvmmu_ring;
		nr = PVMMU_RECORDS;
	} else if (k < 54) {
		p = 1 + hs_below(3);
		gpa = end - p * PAGE_SIZE_4K;
		fit = (p * PAGE_SIZE_4K - sizeof(struct pv_mmu_ring)) / sizeof(struct pv_mmu_rec);
		nr = hs_pct(60) ? 1 + hs_below(fit) : fit + 1 + hs_below(64);
	} else if (k < 58) {
		gpa = 0;
		nr = 1 + hs_below(126);         /* inside the null page */
	} else if (k < 66) {
		gpa = area + HS_PICK(1, 8, 64, 2048, 4095);
		nr = 1 + hs_below(64);
	} else if (k < 73) {
		gpa = HS_PICK(end, end + PAGE_SIZE_4K * (1 + hs_below(1000)), 1ull << 40, ~0xfffull,
			      ~0x1fffull, (hs_rand() | (1ull << 62)) & ~0xfffull);
		if (gpa < end)
			gpa = end;
		nr = (uint32_t)HS_PICK(1, 126, PV_MMU_RING_MAX);
	} else if (k < 80) {
		gpa = area;
		nr = (uint32_t)HS_PICK(0, PV_MMU_RING_MAX + 1, 0xffffffffull, 0x80000000ull, 8192);
	} else {
		gpa = hm.ring + PAGE_SIZE_4K * hs_below(2);     /* overlaps the current ring */
		nr = 1 + hs_below(200);
	}
	s->ring_gpa = gpa;
	s->nr_records = nr;
	*expect = hm_setup_expect(s);
}

void hm_setup_done(const struct pv_mmu_setup *s, bool in_ram, int32_t status)
{
	if (!in_ram || status != PV_OK)
		return;                 /* a refused setup keeps the vCPU's old ring */
	hm.ring = s->ring_gpa;
	hm.nr = s->nr_records;
}

/* ---- doorbells -------------------------------------------------------------- */

void hm_verify_memory(const char *when)
{
	const uint64_t *u = (const uint64_t *)(uintptr_t)hm.univ;

	for (unsigned i = 0; i < HM_UNIV * 512; i++) {
		if (u[i] == hm.model[i])
			continue;
		hs_check(false, "PV MMU table %u entry %u is 0x%lx, the model says 0x%lx (%s)",
			 i / 512, i % 512, (unsigned long)u[i], (unsigned long)hm.model[i], when);
		memcpy(hm.model, u, HM_UNIV * PAGE_SIZE_4K);    /* follow memory from here */
		return;
	}
	hs_n.checks++;
}

/* The ring's header and count records after the doorbell, against the model. */
static void hm_check_batch(struct pv_mmu_ring *h, uint32_t count)
{
	const struct pv_mmu_ring *before = hs_snap_at((uint64_t)(uintptr_t)h);
	struct hm_flush f = { .mode = PV_MMU_FLUSH_NONE };
	uint32_t rejected = 0;
	uint64_t diff;

	for (uint32_t i = 0; i < count; i++) {
		struct pv_mmu_rec r = before->rec[i];
		int st = h->rec[i].status;
		uint32_t allowed = hm_expect(&r);

		hs_check(st == PV_MMU_OK ? !allowed || (allowed & HM_MAYBE_OK) :
			 st > 0 && st < 31 && (allowed & B(st)),
			 "record %u: status %d, expected %s 0x%x (op %u level %u count %u ptep 0x%lx "
			 "val 0x%lx mask 0x%lx)", i, st, allowed ? "one of the mask" : "OK, mask",
			 allowed, r.op, r.level, r.count, (unsigned long)r.ptep,
			 (unsigned long)r.val, (unsigned long)r.mask);
		if (st == PV_MMU_OK) {
			hm_apply(&r, &f);
		} else {
			rejected++;
			if (st > 0 && st < PV_MMU_NR_STATUS)
				hs_n.reason[st]++;
		}
		if (r.op == PV_MMU_RELEASE && st == PV_MMU_OK) {
			hs_n.released_recs++;
			hs_n.released_pages += r.count;
		} else if (r.op == PV_MMU_RELEASE) {
			hs_n.release_rejected++;
			hm_release_kept(&r, st);
		}
		hs_snap_accept((uint64_t)(uintptr_t)&h->rec[i].status, sizeof(h->rec[i].status));
	}
	hs_n.records += count;
	hs_n.rejected += rejected;
	hs_check(h->status == PV_MMU_OK && h->processed == count && h->rejected == rejected,
		 "doorbell of %u records: header status %d, processed %u, rejected %u (%u statuses "
		 "not OK)", count, h->status, h->processed, h->rejected, rejected);
	if (f.mode == PV_MMU_FLUSH_RANGE)
		hs_check(h->flush == f.mode && h->flush_va == f.va &&
			 h->flush_pages == (f.end - f.va) >> 12,
			 "doorbell: flush %u va 0x%lx pages %lu, expected a range at 0x%lx of %lu pages",
			 h->flush, (unsigned long)h->flush_va, (unsigned long)h->flush_pages,
			 (unsigned long)f.va, (unsigned long)((f.end - f.va) >> 12));
	else
		hs_check(h->flush == f.mode, "doorbell: flush %u, expected %u", h->flush, f.mode);
	hs_snap_accept((uint64_t)(uintptr_t)&h->processed,
		       sizeof(*h) - offsetof(struct pv_mmu_ring, processed));
	diff = hs_snap_diff();
	hs_check(diff == HS_SAME, "doorbell of %u records: the VMM changed 0x%lx, neither a "
		 "status nor the header's OUT part", count, (unsigned long)diff);
	hm_verify_memory("after a doorbell");
}

static uint32_t hm_gen_count_hdr(uint32_t nr)
{
	unsigned k = hs_below(100);
	uint32_t most = nr < HM_BATCH ? nr : HM_BATCH;

	if (k < 50)
		return 1 + hs_below(most);
	if (k < 58)
		return 0;
	if (k < 66)
		return nr <= 256 ? nr : hs_below(257);  /* old records beyond the fresh ones */
	if (k < 80)
		return nr + 1 + hs_below(4);
	if (k < 90)
		return (uint32_t)HS_PICK(0xffffffffull, 0x80000000ull, 0x10000,
					 PV_MMU_RING_MAX + 1, nr + PV_MMU_RING_MAX);
	return 1 + hs_below(nr < 8 ? nr : 8);
}

/*
 * One doorbell: the prepared records (n of them), or fresh random ones and
 * a random header count.  Without a ring, a ghost ring in the ring area
 * must stay untouched.
 */
static void hm_bell(const struct pv_mmu_rec *prep, uint32_t n)
{
	uint64_t gpa = hm.nr ? hm.ring : hm.univ + HM_RING_FIRST * PAGE_SIZE_4K, lo, hi, rhi;
	uint32_t nr = hm.nr ? hm.nr : 64, count = prep ? n : hm_gen_count_hdr(nr), fresh, marked;
	struct pv_mmu_ring *h = (struct pv_mmu_ring *)(uintptr_t)gpa;
	uint64_t diff;

	fresh = prep ? n : count <= nr ? count : 1 + hs_below(8);
	fresh = fresh < HM_BATCH || prep ? fresh : HM_BATCH;
	fresh = fresh < nr ? fresh : nr;
	for (uint32_t i = 0; i < fresh; i++) {
		if (prep)
			h->rec[i] = prep[i];
		else
			hm_gen_rec(&h->rec[i]);
	}
	marked = count <= nr ? count : fresh;
	for (uint32_t i = 0; i < marked; i++)
		h->rec[i].status = HM_ST_CANARY;
	h->count = count;
	h->reserved0 = (uint32_t)hs_rand();
	h->processed = h->rejected = 0xdeadbeef;
	h->status = 0x7eadbeef;
	h->flush = 0xdeadbeef;
	h->flush_va = h->flush_pages = ~0ull;
	lo = gpa;
	hi = gpa + hm_ring_bytes(nr);
	if (hi > hs_mem.ram_end)
		hi = hs_mem.ram_end;
	rhi = hi + 64;                          /* a guard after the ring, if it is ours */
	if (gpa < 4096)
		rhi = rhi < 4096 ? rhi : 4096;
	else if (!(gpa >= hm.univ && gpa - hm.univ < PAGE_SIZE_2M))
		rhi = hi;
	hs_snap(lo, rhi);
	outl(hc_port(PV_HC_MMU_FLUSH), (uint32_t)hs_rand());   /* its value is ignored */
	hs_n.calls++;
	hs_n.doorbells++;
	if (!hm.nr) {
		diff = hs_snap_diff();
		hs_check(diff == HS_SAME, "doorbell without a ring: 0x%lx changed",
			 (unsigned long)diff);
		hs_n.hc_bad++;
		hs_n.reason[PV_MMU_E_NORING]++;
	} else if (count > nr) {
		hs_check(h->status == PV_MMU_E_RING && h->processed == 0 && h->rejected == 0,
			 "doorbell with count %u in a ring of %u: header status %d, processed %u, "
			 "rejected %u", count, nr, h->status, h->processed, h->rejected);
		hs_snap_accept((uint64_t)(uintptr_t)&h->processed,
			       sizeof(*h) - offsetof(struct pv_mmu_ring, processed));
		diff = hs_snap_diff();
		hs_check(diff == HS_SAME, "refused doorbell (count %u, ring of %u): 0x%lx changed",
			 count, nr, (unsigned long)diff);
		hs_n.hc_bad++;
		hs_n.reason[PV_MMU_E_RING]++;
	} else {
		hm_check_batch(h, count);
	}
	hs_restore(lo, rhi);
}

void hm_doorbell(void)
{
	hm_bell(NULL, 0);
}

/* Fill an unpinned universe frame directly (it is not a page table yet). */
void hm_scribble(void)
{
	int t = hm_pick_frame(false, 0);
	uint64_t *e = (uint64_t *)(uintptr_t)hm_u(t);
	unsigned k = hs_below(100), level = 1 + hs_below(4), n;

	if (hm.kind[t])
		return;
	if (k < 40) {
		memset(e, 0, PAGE_SIZE_4K);
	} else {
		n = k < 80 ? 1 + hs_below(4) : 8 + hs_below(24);
		for (unsigned i = 0; i < n; i++) {
			uint32_t one = 1;

			e[hs_below(512)] = hm_gen_val(level, &one, false);
		}
	}
	memcpy(hm.model + t * 512, e, PAGE_SIZE_4K);
}

void hm_quiet_arm(void)
{
	struct pv_mmu_ring *h;

	hm.quiet_at = hm.nr ? hm.ring : hm.univ + HM_RING_FIRST * PAGE_SIZE_4K;
	h = (struct pv_mmu_ring *)(uintptr_t)hm.quiet_at;
	h->count = 0;
	h->processed = h->rejected = 0xdeadbeef;
	h->status = 0x7eadbeef;
	hm.quiet = *h;
}

void hm_quiet_check(const char *what)
{
	hs_check(!memcmp(&hm.quiet, (const void *)(uintptr_t)hm.quiet_at, sizeof(hm.quiet)),
		 "%s: the ring's header changed (a doorbell was processed)", what);
	hs_restore(hm.quiet_at, hm.quiet_at + sizeof(hm.quiet));
}

void hm_init(void)
{
	hm.univ = hs_mem.mmu;
	hm.model = (uint64_t *)(uintptr_t)(hs_mem.scratch + HM_MODEL);
	memset((void *)(uintptr_t)hm.univ, 0, HM_UNIV * PAGE_SIZE_4K);
	memset(hm.model, 0, HM_UNIV * PAGE_SIZE_4K);
	hm.guest_ring = pvmmu_registered();
	hm.ring = hm.guest_ring ? (uint64_t)(uintptr_t)pvmmu_ring : 0;
	hm.nr = hm.guest_ring ? PVMMU_RECORDS : 0;
}

int hm_finish(void)
{
	static struct pv_mmu_setup s __attribute__((aligned(64)));
	struct pv_mmu_rec rec[2 * HM_UNIV];
	uint32_t n = 0;

	for (int i = 0; i < HM_UNIV; i++)
		if (hm.kind[i])
			rec[n++] = (struct pv_mmu_rec){ .op = PV_MMU_CLEAR, .level = hm.kind[i],
							.count = 512, .ptep = hm_u(i) };
	for (int i = 0; i < HM_UNIV; i++)
		if (hm.kind[i])
			rec[n++] = (struct pv_mmu_rec){ .op = PV_MMU_UNPIN, .level = 1,
							.count = 1, .ptep = hm_u(i) };
	for (uint32_t i = 0; hm.nr && i < n; i += hm.nr)
		hm_bell(rec + i, n - i < hm.nr ? n - i : hm.nr);
	for (int i = 0; i < HM_UNIV; i++)
		hs_check(!hm.kind[i], "universe frame %d still pinned at level %u after the clean-up",
			 i, hm.kind[i]);
	if (!hm.guest_ring)
		return 0;
	s.version = PV_ABI_VERSION;
	s.nr_records = PVMMU_RECORDS;
	s.ring_gpa = (uint64_t)(uintptr_t)pvmmu_ring;
	s.status = (int32_t)0xa5c3e1f7u;
	outl(hc_port(PV_HC_MMU_SETUP), (uint32_t)(uintptr_t)&s);
	hs_n.calls++;
	if (!hs_check(s.status == PV_OK, "giving the kernel its ring back: status %d", s.status))
		return -1;
	hm.ring = s.ring_gpa;
	hm.nr = s.nr_records;
	return 0;
}
