/*
 * Page faults of processes (proc_page_fault, CPL0; contract: gk/proc.h):
 * demand paging with fault-around, copy-on-write of 4 KiB and 2 MiB
 * pages, the split of a 2 MiB page, shared page tables made a process's
 * own, and the pages a system call touches mapped first
 * (proc_user_populate); also the region and table lookups that proc_vm.c
 * and proc_fork.c use.
 *
 * A copy-on-write fault is O(1) with at most one 4 KiB copy
 * (and one table copy in shared mode).
 */
#include <string.h>
#include <gk/aspace.h>
#include <gk/assert.h>
#include <gk/mm.h>
#include <gk/mmapi.h>
#include <gk/proc.h>
#include <gk/sysabi.h>
#include <gk/x86.h>
#include "proc_int.h"

int proc_faultaround;   /* pages, a power of two; 0: none; PROC_FA_AUTO */

uint64_t proc_pte_flags(unsigned prot)
{
	return PTE_U | (prot & SYS_PROT_WRITE ? PTE_W : 0);
}

/* The region holding va, or NULL. */
const struct proc_region *proc_region_at(const struct proc *p, uint64_t va)
{
	for (int i = 0; i < PROC_REGIONS; i++)
		if (p->region[i].end && va >= p->region[i].start && va < p->region[i].end)
			return &p->region[i];
	return NULL;
}

/* The end of the page table's span (2 MiB) that holds va, clipped to end. */
uint64_t proc_pt_end(uint64_t va, uint64_t end)
{
	uint64_t next = (va & ~(PAGE_SIZE_2M - 1)) + PAGE_SIZE_2M;

	return next < end ? next : end;
}

/* The PD entry over va in p, 0 when there is no PD. */
static uint64_t proc_pde(const struct proc *p, uint64_t va)
{
	uint64_t *pde = pt_walk(p->as.pml4, va & ~(PAGE_SIZE_2M - 1), PT_LEVEL_2M, false);

	return pde ? mm_read_pte(pde, PT_LEVEL_2M) : 0;
}

/* The 2 MiB entry (P and PS set) that maps va in p, or 0. */
uint64_t proc_huge_entry(const struct proc *p, uint64_t va)
{
	uint64_t d = proc_pde(p, va);

	return (d & (PTE_P | PTE_PS)) == (PTE_P | PTE_PS) ? d : 0;
}

/* The PD entry over va in p when it links a page table (not a 2 MiB page), or 0. */
uint64_t proc_pt_link(const struct proc *p, uint64_t va)
{
	uint64_t d = proc_pde(p, va);

	return (d & PTE_P) && !(d & PTE_PS) ? d : 0;
}

/*
 * Whether the 2 MiB unit holding va is mapped with one 2 MiB entry (the
 * PD entry's PS bit).  A unit of a 2 MiB region without one falls back to
 * 4 KiB pages (proc_sys_mmap): every path asks the tables, not the region.
 */
bool proc_unit_2m(const struct proc *p, uint64_t va)
{
	return proc_huge_entry(p, va) != 0;
}

/*
 * CPL0, fork=shared: p stops using the shared page table its PD entry
 * *pde (value d, W clear, the table's use count > 1) links at span.  The
 * copy gets the same entries, read-only, and a reference on every present
 * frame (the frames are then shared between tables, copy-on-write as in
 * eager mode); it is filled by plain stores while it is neither pinned nor
 * linked (PIN has the VMM check all 512 entries), then pinned and linked
 * with W in one lazy section.  The old table loses one use.  0 or
 * -SYS_ENOMEM (nothing changed).
 */
static int proc_pt_privatize(uint64_t *pde, uint64_t span, uint64_t d)
{
	uint64_t old = d & PTE_ADDR, copy = frame_alloc_4k_dirty();
	const uint64_t *o = (const uint64_t *)(uintptr_t)old;
	uint64_t *n = (uint64_t *)(uintptr_t)copy;

	if (!copy)
		return -SYS_ENOMEM;
	for (unsigned i = 0; i < 512; i++) {
		uint64_t t = mm_read_pte(&o[i], PT_LEVEL_4K);

		if (t & PTE_P) {
			frame_ref_4k(t & PTE_ADDR);
			t &= ~PTE_W;
		}
		n[i] = t;
	}
	mm_lazy_enter();
	mm_pin(copy, PT_LEVEL_4K);
	mm_set_pte(pde, PT_LEVEL_2M, copy | PTE_P | PTE_W | PTE_U, span);
	mm_flush_tlb(span, PAGE_SIZE_2M / PAGE_SIZE_4K);
	mm_lazy_leave();
	frame_free_4k(old);             /* one use less: others still link it */
	proc_stats.privatized++;
	return 0;
}

/*
 * CPL0: the page table under va (in a 4 KiB region of p) made p's own
 * before p changes it or, with write, writes through it.  Only a shared
 * fork leaves a PD entry without W: a table still used by others (use
 * count > 1) is copied (proc_pt_privatize); one p alone uses now gets W
 * back on its PD entry when write asks, after its entries became
 * read-only (their frames may be shared with copies other processes
 * made: proc_cow sorts each page out).  O(1) with a PD entry that has W
 * (eager mode, private tables); else at most 512 entries.  0 (also when
 * there is no table), or -SYS_ENOMEM.
 */
int proc_pt_own(struct proc *p, uint64_t va, bool write)
{
	uint64_t span = va & ~(PAGE_SIZE_2M - 1), *pde, d;

	pde = pt_walk(p->as.pml4, span, PT_LEVEL_2M, false);
	d = pde ? mm_read_pte(pde, PT_LEVEL_2M) : 0;
	if (!(d & PTE_P) || (d & (PTE_PS | PTE_W)))
		return 0;
	if (frame_refs_4k(d & PTE_ADDR) > 1)
		return proc_pt_privatize(pde, span, d);
	if (!write)
		return 0;
	mm_lazy_enter();
	mm_protect_range_in(p->as.pml4, PT_LEVEL_4K, span, PAGE_SIZE_2M / PAGE_SIZE_4K, 0, PTE_W);
	mm_protect_range_in(p->as.pml4, PT_LEVEL_2M, span, 1, PTE_W, 0);
	mm_lazy_leave();
	return 0;
}

/*
 * CPL0, munmap of all of span: p's page table there (PD entry d) goes as
 * a whole.  One p shares (fork=shared: no W, use count > 1) is not copied
 * only to be emptied: p's link is cleared and one use dropped, its frames
 * staying referenced by the table for the others, as at as_destroy
 * (proc_stats.unlinked).  One of p's own is emptied (one record), unlinked
 * and unpinned in the same lazy section, then its frames and itself are
 * freed (proc_stats.tables_freed), as Linux frees page tables under an
 * unmapped range: so mmap/munmap churn at new addresses (mmap's addresses
 * only grow) leaves no empty tables behind.  The span's TLB entries are
 * flushed (the entry linked a table).
 */
static void proc_pt_drop(struct proc *p, uint64_t span, uint64_t d)
{
	const uint64_t *pt = (const uint64_t *)(uintptr_t)(d & PTE_ADDR);
	bool shared = !(d & PTE_W) && frame_refs_4k(d & PTE_ADDR) > 1;
	uint64_t nf = shared ? 0 : as_pt_frames(pt, 512, proc_frames);

	mm_lazy_enter();
	if (!shared)
		mm_clear_range_in(p->as.pml4, PT_LEVEL_4K, span, 512);
	mm_clear_range_in(p->as.pml4, PT_LEVEL_2M, span, 1);
	mm_flush_tlb(span, PAGE_SIZE_2M / PAGE_SIZE_4K);
	if (!shared)
		mm_unpin(d & PTE_ADDR, PT_LEVEL_4K);
	mm_lazy_leave();
	while (nf)
		frame_free_4k(proc_frames[--nf]);
	frame_free_4k(d & PTE_ADDR);            /* shared: one use less, never the last */
	if (shared)
		proc_stats.unlinked++;
	else
		proc_stats.tables_freed++;
}

/*
 * CPL0: every page table under the regions' part of [lo, hi) (4 KiB units;
 * proc_pt_own passes over 2 MiB entries) made p's own (proc_pt_own) before
 * munmap or mprotect changes it, so that a failure (-SYS_ENOMEM) comes
 * before any change p could see.  With unmap (munmap), a page table whose
 * whole span lies in [lo, hi) is not made p's own but, once nothing can
 * fail any more, dropped whole (proc_pt_drop).
 */
int proc_own_range(struct proc *p, uint64_t lo, uint64_t hi, bool unmap)
{
	for (int pass = 0; pass < (unmap ? 2 : 1); pass++)
		for (int i = 1; i < PROC_REGIONS; i++) {
			const struct proc_region *r = &p->region[i];
			uint64_t a = r->start > lo ? r->start : lo, b = r->end < hi ? r->end : hi;

			for (uint64_t va = a; r->end && va < b; va = proc_pt_end(va, b)) {
				uint64_t span = va & ~(PAGE_SIZE_2M - 1), d = 0;

				if (unmap && span >= lo && span + PAGE_SIZE_2M <= hi)
					d = proc_pt_link(p, span);
				if (pass == 0 && !d && proc_pt_own(p, va, false))
					return -SYS_ENOMEM;
				if (pass == 1 && d)
					proc_pt_drop(p, span, d);
			}
		}
	return 0;
}

/* Map the run of n frames (proc_frames) at va; on failure free them. */
static int proc_map_run(struct proc *p, uint64_t va, uint64_t n, uint64_t flags)
{
	if (!n || !mm_map_frames_in(p->as.pml4, PT_LEVEL_4K, va, n, proc_frames, flags))
		return 0;
	while (n--)
		frame_free_4k(proc_frames[n] & PTE_ADDR);
	return -SYS_ENOMEM;
}

/*
 * CPL0: the 4 KiB page holding va (in region r of p) mapped to a zeroed
 * frame if it is not mapped yet, and the unmapped pages of the window of
 * win pages around it (aligned to win, a power of two <= 512, clipped to
 * r) too, with the accessed bit clear.  A shared page table is made p's
 * own first (proc_pt_own; with write, writable).  One walk, one lazy section (one
 * doorbell in batched mode), one read per window entry, one frame per page
 * mapped.  The pages mapped, or -SYS_ENOMEM when va's own page could not
 * be; *end is set to the window's end.
 */
static long proc_populate(struct proc *p, const struct proc_region *r, uint64_t va,
			  uint64_t win, bool write, uint64_t *end)
{
	uint64_t page = va & ~(PAGE_SIZE_4K - 1), flags = proc_pte_flags(r->prot);
	uint64_t lo = page & ~(win * PAGE_SIZE_4K - 1), hi = lo + win * PAGE_SIZE_4K;
	uint64_t *e, run = 0, n = 0;
	long mapped = 0;
	int err = 0;

	*end = page + PAGE_SIZE_4K;
	if (r->huge && proc_unit_2m(p, page))
		return 0;               /* a 2 MiB entry maps it (the window lies in its unit) */
	if (lo < r->start)
		lo = r->start;
	if (hi > r->end)
		hi = r->end;
	/* one page mapped already (the kernel's populate): no table to own or copy */
	if (win == 1 && (e = pt_walk(p->as.pml4, page, PT_LEVEL_4K, false)) &&
	    (mm_read_pte(e, PT_LEVEL_4K) & PTE_P))
		return 0;
	if (proc_pt_own(p, lo, write) || !(e = pt_walk(p->as.pml4, lo, PT_LEVEL_4K, true)))
		return -SYS_ENOMEM;
	*end = hi;
	mm_lazy_enter();
	for (uint64_t v = lo; v < hi; v += PAGE_SIZE_4K, e++) {
		uint64_t pa = 0;

		if (!(mm_read_pte(e, PT_LEVEL_4K) & PTE_P) && !(pa = frame_alloc_4k()) && v == page)
			err = -SYS_ENOMEM;
		if (!pa) {              /* mapped already, or no frame */
			int e2 = proc_map_run(p, run, n, flags);

			err = err ? err : e2;
			mapped += e2 ? 0 : (long)n;
			n = 0;
			continue;
		}
		if (!n)
			run = v;
		proc_frames[n++] = pa | (v == page ? PTE_A : 0);
	}
	if (proc_map_run(p, run, n, flags) == 0)
		mapped += (long)n;
	else if (!err)
		err = -SYS_ENOMEM;
	mm_lazy_leave();
	return err ? err : mapped;
}

/*
 * CPL0: a write to the present, read-only 4 KiB page at va of p, in a
 * writable 4 KiB region: copy-on-write.  A shared page table is made p's
 * own and writable first (proc_pt_own).  A frame only p maps (one
 * reference) just gets the W bit; a shared one is copied into a new frame
 * mapped writable in its place, in one lazy section (one doorbell in
 * batched), and p's reference on the old frame is dropped after the
 * doorbell (the other side keeps it).  0; -SYS_ENOMEM (no frame); -SYS_EFAULT
 * when the page is not mapped read-only (not a copy-on-write fault).
 */
static int proc_cow(struct proc *p, uint64_t va)
{
	uint64_t page = va & ~(PAGE_SIZE_4K - 1), *e, pte, old, copy;

	if (proc_pt_own(p, page, true))
		return -SYS_ENOMEM;
	e = pt_walk(p->as.pml4, page, PT_LEVEL_4K, false);
	pte = e ? mm_read_pte(e, PT_LEVEL_4K) : 0;
	if (!(pte & PTE_P))
		return -SYS_EFAULT;
	if (pte & PTE_W) {              /* a stale TLB entry: made writable already */
		mm_flush_tlb(page, 1);
		return 0;
	}
	old = pte & PTE_ADDR;
	proc_stats.cow_faults++;
	if (frame_refs_4k(old) == 1) {
		mm_protect_range_in(p->as.pml4, PT_LEVEL_4K, page, 1, PTE_W, 0);
		return 0;
	}
	if (!(copy = frame_alloc_4k_dirty()))
		return -SYS_ENOMEM;
	memcpy((void *)(uintptr_t)copy, (const void *)(uintptr_t)old, PAGE_SIZE_4K);
	proc_frames[0] = copy | PTE_A | PTE_D;
	mm_lazy_enter();
	mm_clear_range_in(p->as.pml4, PT_LEVEL_4K, page, 1);
	GUEST_ASSERTF(!mm_map_frames_in(p->as.pml4, PT_LEVEL_4K, page, 1, proc_frames,
					PTE_W | PTE_U), "proc: cow remap failed");
	mm_lazy_leave();
	frame_free_4k(old);
	proc_stats.cow_copies++;
	return 0;
}

/*
 * CPL0: the 2 MiB page at unit (2 MiB aligned) of p split into 4 KiB
 * pages, in p and in every other process that maps its frame (fork shares
 * one at the same address in each: so at unit in each one's tables),
 * before a munmap, mprotect or copy-on-write changes part of it.  The
 * frame's 4 KiB frames 1..511 stay where they are, each with a reference
 * per process mapping it; frame 0's data moves to a new frame, so that the
 * chunk keeps a carved chunk's bookkeeping there (frame_split_2m).  The
 * entries keep their rights, so shared ones stay copy-on-write.  One 4 KiB
 * copy, and per process a new page table whose entries the VMM fills
 * (as_split_2m); *stat counts the split.  0 (also when no 2 MiB entry maps
 * unit), or -SYS_ENOMEM with nothing changed.
 */
int proc_split_2m(struct proc *p, uint64_t unit, uint64_t *stat)
{
	uint64_t d = proc_huge_entry(p, unit), f = d & PTE_ADDR_2M, f0;
	unsigned n, done = 0;

	if (!d)
		return 0;
	n = frame_refs_2m(f);
	/* n page tables and f0: with them at hand no step below can fail */
	if (!frame_can_alloc(0, n + 1) || !(f0 = frame_alloc_4k_dirty()))
		return -SYS_ENOMEM;
	memcpy((void *)(uintptr_t)f0, (const void *)(uintptr_t)f, PAGE_SIZE_4K);
	for (int s = 1; s < PROC_MAX && done < n; s++) {
		struct proc *q = &proc_table[s];

		if (q->state == PROC_FREE || (proc_huge_entry(q, unit) & PTE_ADDR_2M) != f)
			continue;
		GUEST_ASSERTF(!as_split_2m(&q->as, unit, f0), "proc: split in pid %d failed", q->pid);
		if (done++)
			frame_ref_4k(f0);
	}
	GUEST_ASSERTF(done == n, "proc: 2 MiB frame 0x%lx has %u references, %u mappings",
		      (unsigned long)f, n, done);
	frame_split_2m(f);              /* only now: no entry maps frame 0 any more */
	(*stat)++;
	return 0;
}

/*
 * CPL0: a write to the read-only 2 MiB page holding va of p, in a writable
 * region: copy-on-write, as Linux does for a huge page since 5.8.  A frame
 * only p maps gets W back, still one 2 MiB page; a shared one is split
 * (proc_split_2m) and only the 4 KiB page written is copied (proc_cow),
 * never 2 MiB.  0 or -SYS_ENOMEM.
 */
static int proc_cow_2m(struct proc *p, uint64_t va)
{
	uint64_t unit = va & ~(PAGE_SIZE_2M - 1), d = proc_huge_entry(p, unit);

	if (d & PTE_W) {                /* a stale TLB entry: made writable already */
		mm_flush_tlb(unit, 1);
		return 0;
	}
	if (frame_refs_2m(d & PTE_ADDR_2M) == 1) {
		proc_stats.cow_faults++;
		mm_protect_range_in(p->as.pml4, PT_LEVEL_2M, unit, 1, PTE_W, 0);
		return 0;
	}
	if (proc_split_2m(p, unit, &proc_stats.split_cow))
		return -SYS_ENOMEM;
	return proc_cow(p, va);
}

/* CPL0: copy-on-write of the page holding va in region r of p, of either size. */
static int proc_cow_page(struct proc *p, const struct proc_region *r, uint64_t va)
{
	return r->huge && proc_unit_2m(p, va) ? proc_cow_2m(p, va) : proc_cow(p, va);
}

/* CPL0: a protection fault (P set) at va: copy-on-write, or false (kill). */
static bool proc_cow_fault(struct proc *p, uint64_t va, uint64_t err)
{
	const struct proc_region *r = proc_region_at(p, va);

	if (!(err & PF_ERR_W) || !r || !(r->prot & SYS_PROT_WRITE))
		return false;
	return proc_cow_page(p, r, va) == 0;
}

/*
 * CPL0: before the kernel touches [addr, addr + len) of p (already checked
 * by proc_user_ok), map its pages that are still lazy, and before it writes
 * (write), copy the copy-on-write ones (CR0.WP: CPL0 honours read-only
 * too).  0 or -SYS_ENOMEM.
 */
int proc_user_populate(struct proc *p, uint64_t addr, uint64_t len, bool write)
{
	uint64_t va = addr & ~(PAGE_SIZE_4K - 1);

	if (p->init || !len)
		return 0;
	for (; va < addr + len; va += PAGE_SIZE_4K) {
		const struct proc_region *r = proc_region_at(p, va);

		uint64_t end;

		if (r && proc_populate(p, r, va, 1, write, &end) < 0)
			return -SYS_ENOMEM;
		if (r && write && proc_cow_page(p, r, va) == -SYS_ENOMEM)
			return -SYS_ENOMEM;
	}
	return 0;
}

/* Fault-around: the window (pages, power of two) for a fault at page; O(1). */
static uint64_t proc_fa_window(struct proc *p, uint64_t page)
{
	if (proc_faultaround != PROC_FA_AUTO)
		return proc_faultaround ? proc_faultaround : 1;
	if (!p->fa_win)
		p->fa_win = 1;
	if (page == p->fa_next) {
		if (p->fa_win < PROC_FA_AUTO_MAX)
			p->fa_win *= 2;
	} else if (p->fa_win > 1) {
		p->fa_win /= 2;
	}
	return p->fa_win;
}

int proc_faultaround_set(const char *v)
{
	uint64_t n = 0;

	if (!strcmp(v, "auto")) {
		proc_faultaround = PROC_FA_AUTO;
		return 0;
	}
	for (const char *c = v; *c; c++) {
		if (*c < '0' || *c > '9' || n > 512)
			return -1;
		n = n * 10 + (uint64_t)(*c - '0');
	}
	if (!*v || n > 512 || (n & (n - 1)))
		return -1;
	proc_faultaround = (int)n;
	return 0;
}

bool proc_page_fault(struct trap_frame *f)
{
	struct proc *p = &proc_table[proc_cur];
	const struct proc_region *r;
	uint64_t va = read_cr2(), win;
	long mapped;

	if (!proc_active || p->init || (f->error & PF_ERR_RSVD))
		return false;
	if (f->error & PF_ERR_P)
		return proc_cow_fault(p, va, f->error);
	r = proc_region_at(p, va);
	if (!r || ((f->error & PF_ERR_W) && !(r->prot & SYS_PROT_WRITE)))
		return false;
	win = proc_fa_window(p, va & ~(PAGE_SIZE_4K - 1));
	if ((mapped = proc_populate(p, r, va, win, f->error & PF_ERR_W, &p->fa_next)) < 0)
		return false;
	proc_stats.faults++;
	proc_stats.fault_pages += (uint64_t)mapped;
	return true;
}
