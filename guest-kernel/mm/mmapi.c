/*
 * The mode-dispatching mm API (contract: gk/mmapi.h).
 *
 * A range operation walks to each page table it touches (pt_walk, which
 * reads through mm_read_pte and creates tables through mm_new_table) and
 * then, for the entries of that table:
 *   batched    queues one record (MAP_FRAMES: one per entry, coalescing)
 *   immediate  one hypercall per entry, then invlpg
 *   off        a tight loop of raw stores (pt_store) and invlpg
 * The off and immediate loops run at CPL0, where each instruction is
 * emulated on the nested-KVM host: they are written to do little per entry.
 *
 * mm_release_frames names frames, not PTEs: batched queues RELEASE records
 * (the next frames extend the last one); off and immediate send each record
 * with its own doorbell, O(1) at CPL0 per GiB.  Mode off registers the ring
 * only when the first release needs it, so a run that never releases sees
 * no channel at all in mode off.
 */
#include <pagevisor/abi.h>
#include <pagevisor/pvmmu.h>
#include <gk/aspace.h>
#include <gk/assert.h>
#include <gk/mm.h>
#include <gk/mmapi.h>
#include <gk/pvmmu.h>
#include <gk/syscall.h>
#include <gk/x86.h>

#define MM_TABLE_FLAGS (PTE_P | PTE_W | PTE_U)

enum mm_mode mm_mode = MM_MODE_OFF;
static unsigned mm_lazy_depth;

static uint64_t mm_level_size(int level)
{
	return 1ull << (12 + 9 * (level - 1));
}

int mm_must_forward(void)
{
	return mm_mode != MM_MODE_BATCHED && x86_cpl() != 0;
}

/* The root rides in a1's bits 12 and up (page-aligned); 0 means the kernel's. */
static long mm_forward_in(uint64_t *root, unsigned op, int level, uint64_t va, uint64_t n,
			  uint64_t val, uint64_t mask)
{
	uint64_t r = root == pt_kernel_pml4 ? 0 : (uint64_t)(uintptr_t)root;

	return sys_call(SYS_MM, (long)(r | op | (unsigned)level << 8), (long)va, (long)n,
			(long)val, (long)mask);
}

long mm_forward(unsigned op, int level, uint64_t va, uint64_t n, uint64_t val, uint64_t mask)
{
	return mm_forward_in(pt_kernel_pml4, op, level, va, n, val, mask);
}

uint64_t mm_read_pte(const uint64_t *ptep, int level)
{
	if (mm_mode == MM_MODE_BATCHED && pvmmu_pending(ptep, level))
		pvmmu_flush();
	return *(const volatile uint64_t *)ptep;
}

void mm_sync(void)
{
	if (mm_mode == MM_MODE_BATCHED)
		pvmmu_flush();
}

void mm_lazy_enter(void)
{
	mm_lazy_depth++;
}

void mm_lazy_leave(void)
{
	GUEST_ASSERT(mm_lazy_depth > 0);
	if (!--mm_lazy_depth)
		mm_sync();
}

/* Outside a lazy section, an operation's batch leaves before it returns. */
static void mm_done(void)
{
	if (!mm_lazy_depth)
		mm_sync();
}

/* CPL0: flush pages 4 KiB pages from va out of the TLB now. */
static void mm_tlb_now(uint64_t va, uint64_t pages)
{
	if (pages > PVMMU_INVLPG_MAX) {
		write_cr3(read_cr3());
		return;
	}
	for (; pages; pages--, va += PAGE_SIZE_4K)
		invlpg(va);
}

void mm_flush_tlb(uint64_t va, uint64_t pages)
{
	if (mm_mode == MM_MODE_BATCHED) {
		pvmmu_queue_tlb(va, pages);
		mm_done();
	} else if (x86_cpl()) {
		mm_forward(PV_MMU_FLUSH_TLB, 1, va, pages, 0, 0);
	} else {
		mm_tlb_now(va, pages);
	}
}

/* A single entry, in the current mode; flush: whether va's TLB entry may be stale. */
static void mm_write_entry(uint64_t *ptep, int level, uint64_t val, uint64_t va, int flush)
{
	switch (mm_mode) {
	case MM_MODE_BATCHED:
		pvmmu_queue(PV_MMU_SET, (unsigned)level, (uint64_t)(uintptr_t)ptep, 1, val, 0);
		if (flush) {
			pvmmu_queue_resync((uint64_t)(uintptr_t)ptep, 0);
			pvmmu_queue_tlb(va & ~(mm_level_size(level) - 1),
					mm_level_size(level) / PAGE_SIZE_4K);
		}
		break;
	case MM_MODE_IMMEDIATE:
		pvmmu_immediate(PV_MMU_SET, (unsigned)level, (uint64_t)(uintptr_t)ptep, val, 0,
				flush);
		if (flush)
			invlpg(va);
		break;
	default:
		pt_write(ptep, val, va);
		break;
	}
}

void mm_set_pte(uint64_t *ptep, int level, uint64_t val, uint64_t va)
{
	if (mm_must_forward()) {
		mm_forward(PV_MMU_SET, level, va, (uint64_t)(uintptr_t)ptep, val, 0);
		return;
	}
	mm_write_entry(ptep, level, val, va, 1);
	mm_done();
}

static void mm_pin_op(unsigned op, uint64_t table, int level)
{
	if (mm_mode == MM_MODE_OFF)
		return;
	if (mm_must_forward()) {
		mm_forward(op, level, 0, table, 0, 0);
		return;
	}
	if (mm_mode == MM_MODE_BATCHED) {
		pvmmu_queue(op, (unsigned)level, table, 1, 0, 0);
		mm_done();
	} else {
		pvmmu_immediate(op, (unsigned)level, table, 0, 0, 0);
	}
}

void mm_pin(uint64_t table, int level)
{
	mm_pin_op(PV_MMU_PIN, table, level);
}

void mm_unpin(uint64_t table, int level)
{
	mm_pin_op(PV_MMU_UNPIN, table, level);
}

void mm_release_frames(uint64_t pa, uint64_t n)
{
	if (!n)
		return;
	GUEST_ASSERTF(pa % PAGE_SIZE_4K == 0 && pa < mm_ram_end &&
		      n <= (mm_ram_end - pa) / PAGE_SIZE_4K,
		      "mm: release of %lu frames from 0x%lx (RAM ends at 0x%lx)",
		      (unsigned long)n, (unsigned long)pa, (unsigned long)mm_ram_end);
	if (mm_mode == MM_MODE_BATCHED) {
		for (; n; ) {
			uint32_t c = n < PV_MMU_RELEASE_MAX ? (uint32_t)n : PV_MMU_RELEASE_MAX;

			pvmmu_queue_release(pa, c);
			pa += (uint64_t)c * PAGE_SIZE_4K;
			n -= c;
		}
		mm_done();
		return;
	}
	if (mm_must_forward()) {
		mm_forward(PV_MMU_RELEASE, 1, pa, n, 0, 0);
		return;
	}
	/* CPL0, off or immediate.  Off has no ring until the first release needs one. */
	if (!pvmmu_registered()) {
		int st = pvmmu_setup();

		GUEST_ASSERTF(st == PV_OK, "mm: release: the VMM refused the ring (status %d)", st);
	}
	for (; n; ) {
		uint32_t c = n < PV_MMU_RELEASE_MAX ? (uint32_t)n : PV_MMU_RELEASE_MAX;

		pvmmu_release_now(pa, c);
		pa += (uint64_t)c * PAGE_SIZE_4K;
		n -= c;
	}
}

uint64_t mm_new_table(uint64_t *parent, int parent_level, uint64_t va)
{
	uint64_t pa;

	/* The region's PDPT is static (mm/mm.c): the PML4 is never written here. */
	GUEST_ASSERTF(parent_level < 4, "mm: new table under the PML4 for va 0x%lx",
		      (unsigned long)va);
	pa = frame_alloc_4k();          /* zeroed */
	if (!pa)
		return 0;
	if (mm_mode != MM_MODE_OFF) {
		/* Queued in order: the VMM pins it before the link refers to it. */
		if (mm_mode == MM_MODE_BATCHED)
			pvmmu_queue(PV_MMU_PIN, (unsigned)parent_level - 1, pa, 1, 0, 0);
		else
			pvmmu_immediate(PV_MMU_PIN, (unsigned)parent_level - 1, pa, 0, 0, 0);
	}
	mm_write_entry(parent, parent_level, pa | MM_TABLE_FLAGS, va, 0);
	return pa;
}

/* ---- the per-table work of a range operation, one function per mode */

/*
 * Whether the operation may take rights away from present entries or drop
 * them: then a shadow-paging KVM must re-read the table (gk/pvmmu.h).
 * Adding rights (PROTECT setting W or U, clearing NX) does not need it.
 */
static int mm_restricts(unsigned op, uint64_t set, uint64_t clear)
{
	return op == PV_MMU_CLEAR || (op == PV_MMU_PROTECT && (clear || (set & PTE_NX)));
}

struct mm_range {
	unsigned op;            /* PV_MMU_MAP, PV_MMU_PROTECT, PV_MMU_CLEAR, MMOP_MAP_FRAMES */
	int level;
	uint64_t val;           /* MAP: first entry; PROTECT: bits to set */
	uint64_t mask;          /* PROTECT: bits to clear; MAP_FRAMES: flags */
	const uint64_t *frames; /* MAP_FRAMES */
};

/* Batched: one record per table (MAP_FRAMES: per entry, coalesced). */
static void mm_table_batched(const struct mm_range *r, uint64_t *p, uint64_t n, uint64_t va)
{
	uint64_t ptep = (uint64_t)(uintptr_t)p;
	unsigned level = (unsigned)r->level;

	switch (r->op) {
	case PV_MMU_MAP:
		pvmmu_queue(PV_MMU_MAP, level, ptep, (uint32_t)n, r->val, 0);
		break;
	case MMOP_MAP_FRAMES:
		for (uint64_t i = 0; i < n; i++)
			pvmmu_queue(PV_MMU_MAP, level, ptep + i * 8, 1, r->frames[i] | r->mask, 0);
		break;
	default:                /* PROTECT, CLEAR */
		pvmmu_queue(r->op, level, ptep, (uint32_t)n, r->val, r->mask);
		if (mm_restricts(r->op, r->val, r->mask))
			pvmmu_queue_resync(ptep, r->op == PV_MMU_CLEAR && n == 512);
		pvmmu_queue_tlb(va, n * (mm_level_size(r->level) / PAGE_SIZE_4K));
		break;
	}
}

/* Immediate (CPL0): one hypercall per entry; invlpg after protect and clear. */
static void mm_table_immediate(const struct mm_range *r, uint64_t *p, uint64_t n, uint64_t va)
{
	uint64_t size = mm_level_size(r->level), val = r->val;
	unsigned level = (unsigned)r->level;
	int resync = mm_restricts(r->op, r->val, r->mask);

	for (uint64_t i = 0; i < n; i++, va += size) {
		uint64_t ptep = (uint64_t)(uintptr_t)&p[i];

		switch (r->op) {
		case PV_MMU_MAP:
			pvmmu_immediate(PV_MMU_MAP, level, ptep, val, 0, 0);
			val += size;
			break;
		case MMOP_MAP_FRAMES:
			pvmmu_immediate(PV_MMU_MAP, level, ptep, r->frames[i] | r->mask, 0, 0);
			break;
		default:
			pvmmu_immediate(r->op, level, ptep, r->val, r->mask, resync);
			invlpg(va);
			break;
		}
	}
}

/* Off (CPL0): the classic kernel loop, a raw store and invlpg per changed entry. */
static void mm_table_direct(const struct mm_range *r, uint64_t *p, uint64_t n, uint64_t va)
{
	uint64_t size = mm_level_size(r->level), val = r->val, clear = ~r->mask;
	uint64_t *end = p + n;

	switch (r->op) {
	case PV_MMU_MAP:
		for (; p < end; p++, va += size, val += size)
			pt_store(p, *p, val, va);
		break;
	case MMOP_MAP_FRAMES:
		for (const uint64_t *f = r->frames; p < end; p++, f++, va += size)
			pt_store(p, *p, *f | r->mask, va);
		break;
	case PV_MMU_PROTECT:
		for (; p < end; p++, va += size) {
			uint64_t old = *p;

			if (old & PTE_P)
				pt_store(p, old, (old & clear) | val, va);
		}
		break;
	case PV_MMU_CLEAR:
		for (; p < end; p++, va += size) {
			uint64_t old = *p;

			if (old)
				pt_store(p, old, 0, va);
		}
		break;
	}
}

/*
 * root: the kernel's PML4 (the workload region) or a process's (its user
 * region, gk/aspace.h).  Both regions' tables below the PML4 are pinned.
 */
static long mm_range_run(uint64_t *root, struct mm_range *r, uint64_t va, uint64_t n)
{
	uint64_t size = mm_level_size(r->level);
	int alloc = r->op == PV_MMU_MAP || r->op == MMOP_MAP_FRAMES;
	uint64_t lo = root == pt_kernel_pml4 ? MM_WORKLOAD_BASE : AS_USER_BASE;
	uint64_t hi = root == pt_kernel_pml4 ? MM_WORKLOAD_END : AS_USER_END;
	long ret = 0;

	GUEST_ASSERTF((r->level == 1 || r->level == 2) && va % size == 0 &&
		      va >= lo && va < hi && n <= (hi - va) / size,
		      "mm: bad range op %u level %d va 0x%lx n %lu", r->op, r->level,
		      (unsigned long)va, (unsigned long)n);
	while (n) {
		uint64_t idx = (va / size) & 511, cnt = 512 - idx < n ? 512 - idx : n;
		uint64_t *p = pt_walk(root, va, r->level, alloc);

		if (p) {
			if (mm_mode == MM_MODE_BATCHED)
				mm_table_batched(r, p, cnt, va);
			else if (mm_mode == MM_MODE_IMMEDIATE)
				mm_table_immediate(r, p, cnt, va);
			else
				mm_table_direct(r, p, cnt, va);
		} else if (alloc) {
			ret = -1;       /* out of memory for a table */
			break;
		}                       /* no table: nothing to protect or clear */
		va += cnt * size;
		n -= cnt;
		if (r->op == PV_MMU_MAP)
			r->val += cnt * size;
		else if (r->frames)
			r->frames += cnt;
	}
	mm_done();
	return ret;
}

static uint64_t mm_leaf_bits(int level, uint64_t flags)
{
	return flags | PTE_P | (level > 1 ? PTE_PS : 0);
}

int mm_map_range_in(uint64_t *root, int level, uint64_t va, uint64_t n, uint64_t pa,
		    uint64_t flags)
{
	struct mm_range r = { PV_MMU_MAP, level, pa | mm_leaf_bits(level, flags), 0, 0 };

	if (mm_must_forward())
		return (int)mm_forward_in(root, PV_MMU_MAP, level, va, n, pa, flags);
	return (int)mm_range_run(root, &r, va, n);
}

int mm_map_frames_in(uint64_t *root, int level, uint64_t va, uint64_t n,
		     const uint64_t *frames, uint64_t flags)
{
	struct mm_range r = { MMOP_MAP_FRAMES, level, 0, mm_leaf_bits(level, flags), frames };

	if (mm_must_forward())
		return (int)mm_forward_in(root, MMOP_MAP_FRAMES, level, va, n,
					  (uint64_t)(uintptr_t)frames, flags);
	return (int)mm_range_run(root, &r, va, n);
}

int mm_link_tables_in(uint64_t *root, uint64_t va, uint64_t n, const uint64_t *tables,
		      uint64_t flags)
{
	struct mm_range r = { MMOP_MAP_FRAMES, PT_LEVEL_2M, 0, flags | PTE_P, tables };

	GUEST_ASSERTF(!(flags & PTE_PS), "mm: link of tables with PS");
	if (mm_must_forward())
		return (int)mm_forward_in(root, MMOP_LINK_TABLES, PT_LEVEL_2M, va, n,
					  (uint64_t)(uintptr_t)tables, flags);
	return (int)mm_range_run(root, &r, va, n);
}

void mm_protect_range_in(uint64_t *root, int level, uint64_t va, uint64_t n, uint64_t set,
			 uint64_t clear)
{
	struct mm_range r = { PV_MMU_PROTECT, level, set, clear, 0 };

	GUEST_ASSERTF(!((set | clear) & ~PV_PTE_PROT_BITS), "mm: protect bits 0x%lx/0x%lx",
		      (unsigned long)set, (unsigned long)clear);
	if (mm_must_forward()) {
		mm_forward_in(root, PV_MMU_PROTECT, level, va, n, set, clear);
		return;
	}
	mm_range_run(root, &r, va, n);
}

void mm_clear_range_in(uint64_t *root, int level, uint64_t va, uint64_t n)
{
	struct mm_range r = { PV_MMU_CLEAR, level, 0, 0, 0 };

	if (mm_must_forward()) {
		mm_forward_in(root, PV_MMU_CLEAR, level, va, n, 0, 0);
		return;
	}
	mm_range_run(root, &r, va, n);
}

int mm_map_range(int level, uint64_t va, uint64_t n, uint64_t pa, uint64_t flags)
{
	return mm_map_range_in(pt_kernel_pml4, level, va, n, pa, flags);
}

int mm_map_frames(int level, uint64_t va, uint64_t n, const uint64_t *frames, uint64_t flags)
{
	return mm_map_frames_in(pt_kernel_pml4, level, va, n, frames, flags);
}

void mm_protect_range(int level, uint64_t va, uint64_t n, uint64_t set, uint64_t clear)
{
	mm_protect_range_in(pt_kernel_pml4, level, va, n, set, clear);
}

void mm_clear_range(int level, uint64_t va, uint64_t n)
{
	mm_clear_range_in(pt_kernel_pml4, level, va, n);
}

long mm_syscall(long op_level, uint64_t va, uint64_t n, uint64_t val, uint64_t mask)
{
	unsigned op = (unsigned)op_level & 0xff;
	int level = (int)(op_level >> 8 & 0xf);
	uint64_t *root = (uint64_t)op_level >> 12 ?
		(uint64_t *)(uintptr_t)((uint64_t)op_level & ~0xfffull) : pt_kernel_pml4;

	/* Only the library OS reaches sys_trap (kernel .text): the root is trusted. */
	switch (op) {
	case PV_MMU_MAP:
		return mm_map_range_in(root, level, va, n, val, mask);
	case MMOP_MAP_FRAMES:
		return mm_map_frames_in(root, level, va, n, (const uint64_t *)(uintptr_t)val, mask);
	case MMOP_LINK_TABLES:
		return mm_link_tables_in(root, va, n, (const uint64_t *)(uintptr_t)val, mask);
	case PV_MMU_PROTECT:
		mm_protect_range_in(root, level, va, n, val, mask);
		return 0;
	case PV_MMU_CLEAR:
		mm_clear_range_in(root, level, va, n);
		return 0;
	case PV_MMU_SET:
		mm_set_pte((uint64_t *)(uintptr_t)n, level, val, va);
		return 0;
	case PV_MMU_PIN:
	case PV_MMU_UNPIN:
		mm_pin_op(op, n, level);
		return 0;
	case PV_MMU_FLUSH_TLB:
		mm_flush_tlb(va, n);
		return 0;
	case PV_MMU_RELEASE:
		mm_release_frames(va, n);
		return 0;
	}
	kpanic("mm: unknown operation %u in a system call", op);
}
