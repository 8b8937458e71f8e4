/*
 * PV MMU ring, queue and doorbell (contract: gk/pvmmu.h, pagevisor/pvmmu.h).
 *
 * Cost model (nested-KVM host): every CPL0 instruction is emulated (~1 us),
 * ring 3 is native, an exit costs ~11 us from CPL0.  So everything per
 * record or per PTE (appending, coalescing, checking statuses) runs at the
 * caller's CPL, normally ring 3; the CPL0 part of a batch is the port write
 * and one TLB flush, O(1).
 */
#include <stddef.h>
#include <pagevisor/abi.h>
#include <gk/assert.h>
#include <gk/hypercall.h>
#include <gk/pvmmu.h>
#include <gk/syscall.h>
#include <gk/x86.h>

uint8_t pvmmu_mem[PVMMU_RING_BYTES] __attribute__((aligned(4096)));
struct pv_mmu_ring *const pvmmu_ring = (struct pv_mmu_ring *)pvmmu_mem;
struct pvmmu_stats pvmmu_stats;

static bool pvmmu_ready;
static uint32_t pvmmu_n;                /* records queued */
static uint64_t pvmmu_lo[5], pvmmu_hi[5];       /* per level: queued PTE writes [lo, hi) */
static uint64_t pvmmu_tlb_lo, pvmmu_tlb_hi;     /* VA range to flush [lo, hi) */
/* Shadow-paging resync (gk/pvmmu.h): tables to touch before / drop after the bell. */
static uint64_t pvmmu_resync[PVMMU_RECORDS];
static uint32_t pvmmu_nresync;
uint64_t pvmmu_drop[PVMMU_RECORDS];            /* read by mm/pvmmu_bell.S */
uint32_t pvmmu_ndrop;
uint16_t pvmmu_bell_port = PV_HC_MMU_FLUSH;

_Static_assert(PVMMU_RECORDS <= PV_MMU_RING_MAX, "ring too large for the ABI");
_Static_assert(PVMMU_RING_BYTES % 4096 == 0, "ring is whole pages");
/* mm/pvmmu_bell.S reads the header at these offsets. */
_Static_assert(offsetof(struct pv_mmu_ring, flush) == 20 &&
	       offsetof(struct pv_mmu_ring, flush_va) == 24 &&
	       offsetof(struct pv_mmu_ring, flush_pages) == 32, "ring header layout");

/*
 * The shadow-paging resync (gk/pvmmu.h): a 2-byte rewrite of a table (the
 * bytes read are the bytes written; the table does not change).  Done in
 * ring 3 to a leaf table, KVM makes the table unsync (the first write
 * faults into KVM, later ones are native) and re-reads it at the flush
 * after the doorbell; done at CPL0, or to a higher-level table, KVM
 * emulates the write, finds it misaligned and drops its shadow of the
 * table.
 */
static inline void pvmmu_touch(uint64_t table)
{
	volatile uint16_t *p = (volatile uint16_t *)(uintptr_t)table;

	*p = *p;
}

int pvmmu_setup(void)
{
	static struct pv_mmu_setup s __attribute__((aligned(64)));

	if (pvmmu_ready)
		return PV_OK;
	s.version = PV_ABI_VERSION;
	s.nr_records = PVMMU_RECORDS;
	s.ring_gpa = (uint64_t)(uintptr_t)pvmmu_mem;
	s.status = -1;
	pvmmu_bell_port = hc_port(PV_HC_MMU_FLUSH);
	outl(hc_port(PV_HC_MMU_SETUP), (uint32_t)(uintptr_t)&s);
	pvmmu_ready = s.status == PV_OK;
	for (int l = 0; l < 5; l++)
		pvmmu_lo[l] = ~0ull;
	return s.status;
}

bool pvmmu_registered(void)
{
	return pvmmu_ready;
}

uint32_t pvmmu_queued(void)
{
	return pvmmu_n;
}

static uint64_t pvmmu_page_size(unsigned level)
{
	return 1ull << (12 + 9 * (level - 1));
}

/* Fill one record (status cleared: the VMM writes it). */
static void pvmmu_rec_fill(struct pv_mmu_rec *r, unsigned op, unsigned level, uint32_t count,
			   uint64_t ptep, uint64_t val, uint64_t mask)
{
	r->op = (uint8_t)op;
	r->level = (uint8_t)level;
	r->status = 0;
	r->count = count;
	r->ptep = ptep;
	r->val = val;
	r->mask = mask;
}

void pvmmu_queue(unsigned op, unsigned level, uint64_t ptep, uint32_t count,
		 uint64_t val, uint64_t mask)
{
	struct pv_mmu_rec *r;

	if (pvmmu_n) {
		r = &pvmmu_ring->rec[pvmmu_n - 1];
		/* Continues the last run inside the same table (ptep not page-aligned)? */
		if (r->op == op && r->level == level && r->mask == mask &&
		    r->ptep + (uint64_t)r->count * 8 == ptep && (ptep & 4095) &&
		    (op == PV_MMU_CLEAR || (op == PV_MMU_PROTECT && r->val == val) ||
		     (op == PV_MMU_MAP && r->val + r->count * pvmmu_page_size(level) == val))) {
			r->count += count;
			goto envelope;
		}
	}
	GUEST_ASSERT(pvmmu_ready);
	if (pvmmu_n >= PVMMU_RECORDS - 1)       /* one slot stays free for FLUSH_TLB */
		pvmmu_flush();
	pvmmu_rec_fill(&pvmmu_ring->rec[pvmmu_n++], op, level, count, ptep, val, mask);
envelope:
	if (op == PV_MMU_PIN || op == PV_MMU_UNPIN || op == PV_MMU_FLUSH_TLB)
		return;
	if (ptep < pvmmu_lo[level])
		pvmmu_lo[level] = ptep;
	if (ptep + (uint64_t)count * 8 > pvmmu_hi[level])
		pvmmu_hi[level] = ptep + (uint64_t)count * 8;
}

void pvmmu_queue_release(uint64_t pa, uint32_t count)
{
	struct pv_mmu_rec *r = pvmmu_n ? &pvmmu_ring->rec[pvmmu_n - 1] : NULL;

	/* The next frames after the last RELEASE: one record (no PTE is written: no envelope). */
	if (r && r->op == PV_MMU_RELEASE && r->ptep + (uint64_t)r->count * 4096 == pa &&
	    r->count <= PV_MMU_RELEASE_MAX - count) {
		r->count += count;
		return;
	}
	GUEST_ASSERT(pvmmu_ready);
	if (pvmmu_n >= PVMMU_RECORDS - 1)
		pvmmu_flush();
	pvmmu_rec_fill(&pvmmu_ring->rec[pvmmu_n++], PV_MMU_RELEASE, 1, count, pa, 0, 0);
}

void pvmmu_queue_tlb(uint64_t va, uint64_t pages)
{
	uint64_t end = va + pages * 4096;

	if (pvmmu_tlb_hi <= pvmmu_tlb_lo) {
		pvmmu_tlb_lo = va;
		pvmmu_tlb_hi = end;
		return;
	}
	if (va < pvmmu_tlb_lo)
		pvmmu_tlb_lo = va;
	if (end > pvmmu_tlb_hi)
		pvmmu_tlb_hi = end;
}

bool pvmmu_pending(const uint64_t *ptep, int level)
{
	uint64_t a = (uint64_t)(uintptr_t)ptep;

	return pvmmu_n && a >= pvmmu_lo[level] && a < pvmmu_hi[level];
}

void pvmmu_bell_raw(void)
{
	outl(hc_port(PV_HC_MMU_FLUSH), 0);
}

/* The batch of n records came back: every status must be OK. */
static void pvmmu_check(uint32_t n, bool every_record)
{
	struct pv_mmu_ring *h = pvmmu_ring;

	GUEST_ASSERTF(h->status == PV_MMU_OK && h->processed == n,
		      "pvmmu: doorbell with %u records: ring status %d, processed %u, rejected %u",
		      n, h->status, h->processed, h->rejected);
	if (!every_record && !h->rejected)
		return;
	for (uint32_t i = 0; i < n; i++) {
		const struct pv_mmu_rec *r = &h->rec[i];

		GUEST_ASSERTF(r->status == PV_MMU_OK,
			      "pvmmu: record %u of %u rejected: op %u level %u count %u "
			      "ptep 0x%lx val 0x%lx mask 0x%lx: status %d",
			      i, n, r->op, r->level, r->count, (unsigned long)r->ptep,
			      (unsigned long)r->val, (unsigned long)r->mask, r->status);
	}
	GUEST_ASSERTF(!h->rejected, "pvmmu: header says %u rejected, records say none",
		      h->rejected);
}

void pvmmu_queue_resync(uint64_t table, int whole_clear)
{
	uint64_t *list = whole_clear ? pvmmu_drop : pvmmu_resync;
	uint32_t *n = whole_clear ? &pvmmu_ndrop : &pvmmu_nresync;

	table &= ~4095ull;
	if (*n && list[*n - 1] == table)
		return;
	GUEST_ASSERT(*n < PVMMU_RECORDS);       /* one table per queued record at most */
	list[(*n)++] = table;
}

void pvmmu_flush(void)
{
	struct pv_mmu_ring *h = pvmmu_ring;
	uint32_t n = pvmmu_n;
	bool user = x86_cpl() != 0;

	if (pvmmu_tlb_hi > pvmmu_tlb_lo) {
		struct pv_mmu_rec *r = &h->rec[n++];
		uint64_t pages = (pvmmu_tlb_hi - pvmmu_tlb_lo) / 4096;

		r->op = PV_MMU_FLUSH_TLB;
		r->level = 1;
		r->status = 0;
		r->count = pages <= PVMMU_INVLPG_MAX ? (uint32_t)pages : 0;    /* 0: all */
		r->ptep = 0;
		r->val = pvmmu_tlb_lo;
		r->mask = 0;
	}
	if (!n)
		return;
	/* Before the bell: leaf tables go unsync (from ring 3). */
	for (uint32_t i = 0; i < pvmmu_nresync; i++)
		pvmmu_touch(pvmmu_resync[i]);
	pvmmu_nresync = 0;
	h->count = n;
	h->status = -1;
	h->processed = 0;
	h->rejected = 0;
	h->flush = PV_MMU_FLUSH_NONE;
	if (user)
		sys_call(SYS_PVMMU_BELL, 0, 0, 0, 0, 0);
	else
		pvmmu_bell_cpl0();
	pvmmu_stats.doorbells++;
	pvmmu_stats.records += n;
	/* Natively in ring 3 every record is checked; at CPL0 the header's totals. */
	pvmmu_check(n, user);
	h->count = 0;
	pvmmu_n = 0;
	pvmmu_tlb_lo = pvmmu_tlb_hi = 0;
	for (int l = 1; l < 5; l++) {
		pvmmu_lo[l] = ~0ull;
		pvmmu_hi[l] = 0;
	}
}

/* One record in slot 0 and its own doorbell; the caller checks the header. */
static void pvmmu_one(unsigned op, unsigned level, uint64_t ptep, uint32_t count, uint64_t val,
		      uint64_t mask)
{
	pvmmu_rec_fill(&pvmmu_ring->rec[0], op, level, count, ptep, val, mask);
	pvmmu_ring->count = 1;
	outl(hc_port(PV_HC_MMU_FLUSH), 0);
	pvmmu_stats.doorbells++;
	pvmmu_stats.records++;
}

void pvmmu_immediate(unsigned op, unsigned level, uint64_t ptep, uint64_t val, uint64_t mask,
		     int resync)
{
	struct pv_mmu_ring *h = pvmmu_ring;

	pvmmu_one(op, level, ptep, 1, val, mask);
	if (resync)     /* the entry's value rewritten: KVM drops its shadow of it */
		*(volatile uint64_t *)(uintptr_t)ptep = *(volatile uint64_t *)(uintptr_t)ptep;
	if (h->status | h->rejected | (h->processed ^ 1))
		pvmmu_check(1, true);
}

void pvmmu_release_now(uint64_t pa, uint32_t count)
{
	struct pv_mmu_ring *h = pvmmu_ring;

	GUEST_ASSERT(pvmmu_ready && !pvmmu_n);
	pvmmu_one(PV_MMU_RELEASE, 1, pa, count, 0, 0);
	if (h->status | h->rejected | (h->processed ^ 1))
		pvmmu_check(1, true);
}
