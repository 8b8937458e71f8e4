/*
 * The memory system calls of processes: mmap, munmap and mprotect
 * (proc_syscall dispatches them; contract: gk/sysabi.h).
 *
 * CPL0: mmap maps at most PROC_MMAP_MAX_PAGES entries (2 MiB
 * pages, as many as there are 2 MiB frames; 4 KiB ones, and 2 MiB units
 * that fell back to them, are only recorded).  munmap and mprotect visit only
 * what of the range lies in regions, never a hole, and no region is larger
 * than one mmap (proc_region_max): so at most PROC_REGIONS - 1 regions'
 * worth, a 4 KiB region per page table that exists (512 entries each),
 * a 2 MiB region one walk per unit and the same per 4 KiB unit's table.
 */
#include <gk/aspace.h>
#include <gk/assert.h>
#include <gk/mm.h>
#include <gk/mmapi.h>
#include <gk/proc.h>
#include <gk/sysabi.h>
#include <gk/x86.h>
#include "proc_int.h"

long proc_sys_mmap(struct proc *p, uint64_t addr, uint64_t len, uint64_t prot,
		   uint64_t flags)
{
	bool huge = flags & SYS_MAP_2M;
	uint64_t size = huge ? PAGE_SIZE_2M : PAGE_SIZE_4K, n, got;
	int level = huge ? PT_LEVEL_2M : PT_LEVEL_4K;
	struct proc_region *r = NULL;

	if (p->init)
		return -SYS_EINVAL;     /* init has the mm API */
	if ((flags & ~(uint64_t)SYS_MAP_2M) || !len || len % size ||
	    (prot != SYS_PROT_READ && prot != (SYS_PROT_READ | SYS_PROT_WRITE)))
		return -SYS_EINVAL;
	n = len / size;
	if (n > (huge ? PROC_MMAP_MAX_PAGES : PROC_LAZY_MAX_PAGES))
		return -SYS_EINVAL;
	if (addr) {
		if (addr % size || addr < AS_USER_BASE || addr >= AS_MMAP_END ||
		    len > AS_MMAP_END - addr)
			return -SYS_EINVAL;
		for (int i = 0; i < PROC_REGIONS; i++)
			if (p->region[i].end && addr < p->region[i].end &&
			    p->region[i].start < addr + len)
				return -SYS_EINVAL;
	} else {
		addr = (p->mmap_next + size - 1) & ~(size - 1);
		if (addr >= AS_MMAP_END || len > AS_MMAP_END - addr)
			return -SYS_ENOMEM;
	}
	for (int i = 1; i < PROC_REGIONS && !r; i++)
		if (!p->region[i].end)
			r = &p->region[i];
	if (!r)
		return -SYS_ENOMEM;
	/*
	 * 4 KiB regions are lazy: the first touch of a page maps it
	 * (proc_page_fault).  A 2 MiB region takes a 2 MiB frame per unit
	 * while the allocator has one, and maps those units (the first got)
	 * with 2 MiB entries; the rest fall back to lazy 4 KiB pages.
	 */
	for (got = 0; huge && got < n; got++)
		if (!(proc_frames[got] = frame_alloc_2m()))
			break;
	if (huge)               /* 2 MiB frames come dirty: the VMM zeroes them */
		for (uint64_t i = 0; i < got; i++)
			mm_release_frames(proc_frames[i], PAGE_SIZE_2M / PAGE_SIZE_4K);
	if (got && mm_map_frames_in(p->as.pml4, level, addr, got, proc_frames,
				    proc_pte_flags((unsigned)prot))) {
		mm_clear_range_in(p->as.pml4, level, addr, got);     /* a table ran out */
		mm_sync();
		while (got--)
			frame_free_2m(proc_frames[got]);
		return -SYS_ENOMEM;
	}
	if (huge) {
		proc_stats.huge_units += got;
		proc_stats.small_units += n - got;
	}
	*r = (struct proc_region){ addr, addr + len, (unsigned)prot, huge };
	if (addr + len > p->mmap_next)
		p->mmap_next = addr + len;
	return (long)addr;
}

/* ---- munmap and mprotect of any page range (Linux semantics) */

/*
 * The end of the run of whole or partial 2 MiB units from va (< hi) that
 * are mapped the way va's is (*huge: with 2 MiB entries), clipped to hi.
 * One walk per unit.
 */
static uint64_t proc_unit_run(const struct proc *p, uint64_t va, uint64_t hi, bool *huge)
{
	uint64_t end = proc_pt_end(va, hi);

	*huge = proc_unit_2m(p, va);
	while (end < hi && proc_unit_2m(p, end) == *huge)
		end = proc_pt_end(end, hi);
	return end;
}

/*
 * The largest mmap region: one mmap's worth.  Splits only shrink regions
 * and a join never goes past this, so a call's work stays bounded (above)
 * and a 2 MiB region's frames fit proc_frames.
 */
static uint64_t proc_region_max(bool huge)
{
	return huge ? PROC_MMAP_MAX_PAGES * PAGE_SIZE_2M : PROC_LAZY_MAX_PAGES * PAGE_SIZE_4K;
}

/* Whether va lies strictly inside r: a range ending there splits or trims r. */
static bool proc_cuts(const struct proc_region *r, uint64_t va)
{
	return r->end && va > r->start && va < r->end;
}

/*
 * munmap/mprotect's arguments: addr and len 4 KiB-aligned, len > 0, inside
 * the mmap area without wrapping (never the stack, region 0).  init has
 * the mm API: never.
 */
static bool proc_range_ok(const struct proc *p, uint64_t addr, uint64_t len)
{
	return !p->init && len && addr % PAGE_SIZE_4K == 0 && len % PAGE_SIZE_4K == 0 &&
	       addr >= AS_USER_BASE && addr < AS_MMAP_END && len <= AS_MMAP_END - addr;
}

/*
 * CPL0, before munmap (prot < 0) or mprotect (to prot) changes [addr, end):
 * where an end of the range cuts a unit mapped with a 2 MiB entry (and
 * mprotect's region there has another prot), the page is split
 * (proc_split_2m), so that the change applies to its 4 KiB pages.  A
 * split changes nothing a process can see: doing it first keeps a
 * failure (-SYS_ENOMEM) ahead of every change.
 */
static int proc_split_ends(struct proc *p, uint64_t addr, uint64_t end, int prot,
			   uint64_t *stat)
{
	const uint64_t cut[2] = { addr, end };

	for (int i = 0; i < 2; i++) {
		const struct proc_region *r = proc_region_at(p, cut[i]);

		if (cut[i] % PAGE_SIZE_2M && r && r->huge && (prot < 0 || r->prot != (unsigned)prot) &&
		    proc_split_2m(p, cut[i] & ~(PAGE_SIZE_2M - 1), stat))
			return -SYS_ENOMEM;
	}
	return 0;
}

static int proc_free_slots(const struct proc *p)
{
	int n = 0;

	for (int i = 1; i < PROC_REGIONS; i++)
		n += !p->region[i].end;
	return n;
}

/* A free slot, which the caller counted, set to r's prot and size over [start, end). */
static struct proc_region *proc_region_copy(struct proc *p, const struct proc_region *r,
					    uint64_t start, uint64_t end)
{
	for (int i = 1; i < PROC_REGIONS; i++)
		if (!p->region[i].end) {
			p->region[i] = (struct proc_region){ start, end, r->prot, r->huge };
			return &p->region[i];
		}
	GUEST_ASSERTF(false, "proc: pid %d: no region slot for a split", p->pid);
	return NULL;
}

/*
 * Regions that meet at a va in [lo, hi] and agree (prot, page size) become
 * one, as Linux merges a changed vma with its neighbours: so changing a
 * page's prot and back does not use up slots.  Regions meeting elsewhere
 * stay apart.  At most PROC_REGIONS joins, each after a scan of the slots.
 */
static void proc_regions_join(struct proc *p, uint64_t lo, uint64_t hi)
{
	for (int i = 1; i < PROC_REGIONS; i++)
		for (int j = 1; p->region[i].end && j < PROC_REGIONS; j++) {
			struct proc_region *a = &p->region[i], *b = &p->region[j];

			if (!b->end || a->end != b->start || a->end < lo || a->end > hi ||
			    a->prot != b->prot || a->huge != b->huge ||
			    b->end - a->start > proc_region_max(a->huge))
				continue;
			a->end = b->end;
			b->end = 0;
			j = 0;          /* a grew: it may touch another one now */
		}
}

/* The 2 MiB pages of [lo, hi), units mapped with 2 MiB entries: unmapped, their frames freed. */
static void proc_unmap_2m(struct proc *p, uint64_t lo, uint64_t hi)
{
	uint64_t n = (hi - lo) / PAGE_SIZE_2M;  /* <= PROC_MMAP_MAX_PAGES: proc_region_max */

	for (uint64_t i = 0; i < n; i++)
		proc_frames[i] = as_lookup(&p->as, lo + i * PAGE_SIZE_2M);
	mm_clear_range_in(p->as.pml4, PT_LEVEL_2M, lo, n);
	mm_sync();
	for (uint64_t i = 0; i < n; i++)
		if (proc_frames[i])
			frame_put_2m(proc_frames[i]);   /* fork may share it */
}

/* Lazy 4 KiB pages of [lo, hi): per page table that exists, the pages mapped so far. */
static void proc_unmap_4k(struct proc *p, uint64_t lo, uint64_t hi)
{
	uint64_t n;

	for (uint64_t va = lo; va < hi; va += n * PAGE_SIZE_4K) {
		uint64_t *e = pt_walk(p->as.pml4, va, PT_LEVEL_4K, false), nf;

		n = 512 - ((va / PAGE_SIZE_4K) & 511);
		if (n > (hi - va) / PAGE_SIZE_4K)
			n = (hi - va) / PAGE_SIZE_4K;
		nf = e ? as_pt_frames(e, n, proc_frames) : 0;
		if (!nf)
			continue;
		mm_clear_range_in(p->as.pml4, PT_LEVEL_4K, va, n);
		mm_sync();              /* the clears land before a frame can be reused */
		while (nf)
			frame_free_4k(proc_frames[--nf]);
	}
}

/*
 * Every part of [addr, addr + len) that lies in a region is unmapped and
 * the region trimmed; holes are fine (0, as Linux).  A region the range
 * lies strictly inside is split, which takes a slot: checked before
 * anything changes, so -ENOMEM leaves all as it was; so are the splits of
 * 2 MiB pages an end cuts (proc_split_ends) and the copies of shared page
 * tables under the range (proc_own_range).
 */
long proc_sys_munmap(struct proc *p, uint64_t addr, uint64_t len)
{
	uint64_t end = addr + len;

	if (!proc_range_ok(p, addr, len))
		return -SYS_EINVAL;
	for (int i = 1; i < PROC_REGIONS; i++)
		if (proc_cuts(&p->region[i], addr) && proc_cuts(&p->region[i], end) &&
		    !proc_free_slots(p))
			return -SYS_ENOMEM;
	if (proc_split_ends(p, addr, end, -1, &proc_stats.split_munmap) ||
	    proc_own_range(p, addr, end, true))
		return -SYS_ENOMEM;
	for (int i = 1; i < PROC_REGIONS; i++) {
		struct proc_region *r = &p->region[i];
		uint64_t lo = r->start > addr ? r->start : addr, hi = r->end < end ? r->end : end;

		if (!r->end || lo >= hi)
			continue;
		for (uint64_t va = lo, e; va < hi; va = e) {
			bool u2m = false;

			e = r->huge ? proc_unit_run(p, va, hi, &u2m) : hi;
			if (u2m)
				proc_unmap_2m(p, va, e);
			else
				proc_unmap_4k(p, va, e);
		}
		if (lo > r->start && hi < r->end)       /* lies past the range: skipped */
			proc_region_copy(p, r, hi, r->end);
		if (lo > r->start)
			r->end = lo;
		else if (hi < r->end)
			r->start = hi;
		else
			r->end = 0;
	}
	return 0;
}

/* Whether regions cover all of [addr, end): at most one step per region. */
static bool proc_covered(const struct proc *p, uint64_t addr, uint64_t end)
{
	while (addr < end) {
		const struct proc_region *r = proc_region_at(p, addr);

		if (!r)
			return false;
		addr = r->end;
	}
	return true;
}

/*
 * [lo, hi) of a 4 KiB region of p gets the W bit on its mapped pages,
 * except on frames still shared after a fork: those stay read-only and
 * are copied at their first write (proc_cow).  One read per entry of each
 * page table that exists, one protect per run of entries between shared
 * frames.
 */
static void proc_protect_4k_rw(struct proc *p, uint64_t lo, uint64_t hi)
{
	mm_lazy_enter();
	for (uint64_t va = lo, end; va < hi; va = end) {
		uint64_t *e = pt_walk(p->as.pml4, va, PT_LEVEL_4K, false), from = 0;
		uint64_t cnt = ((end = proc_pt_end(va, hi)) - va) / PAGE_SIZE_4K;

		for (uint64_t i = 0; e && i <= cnt; i++) {
			uint64_t t = i < cnt ? mm_read_pte(&e[i], PT_LEVEL_4K) : 0;

			if (i < cnt && (!(t & PTE_P) || frame_refs_4k(t & PTE_ADDR) == 1))
				continue;
			if (i > from)
				mm_protect_range_in(p->as.pml4, PT_LEVEL_4K, va + from * PAGE_SIZE_4K,
						    i - from, PTE_W, 0);
			from = i + 1;
		}
	}
	mm_lazy_leave();
}

/*
 * The 2 MiB pages of [lo, hi) get W, except those still shared after a
 * fork: they stay read-only until their first write (proc_cow_2m).  One
 * walk and at most one protect per unit.
 */
static void proc_protect_2m_rw(struct proc *p, uint64_t lo, uint64_t hi)
{
	mm_lazy_enter();
	for (uint64_t va = lo; va < hi; va += PAGE_SIZE_2M)
		if (frame_refs_2m(proc_huge_entry(p, va) & PTE_ADDR_2M) == 1)
			mm_protect_range_in(p->as.pml4, PT_LEVEL_2M, va, 1, PTE_W, 0);
	mm_lazy_leave();
}

/*
 * [lo, hi) of r, mapped pages included, gets prot; lazy pages take r->prot
 * when they fault.  In a 2 MiB region, per run of units: 2 MiB entries
 * (whole units: proc_split_ends split the ones cut), or the 4 KiB pages of
 * units that fell back or were split.
 */
static void proc_protect(struct proc *p, struct proc_region *r, uint64_t lo, uint64_t hi,
			 unsigned prot)
{
	uint64_t w = prot & SYS_PROT_WRITE ? PTE_W : 0;

	for (uint64_t va = lo, e; va < hi; va = e) {
		bool u2m = false;

		e = r->huge ? proc_unit_run(p, va, hi, &u2m) : hi;
		if (u2m && w)
			proc_protect_2m_rw(p, va, e);
		else if (u2m)
			mm_protect_range_in(p->as.pml4, PT_LEVEL_2M, va, (e - va) / PAGE_SIZE_2M,
					    0, PTE_W);
		else if (w)
			proc_protect_4k_rw(p, va, e);
		else
			mm_protect_range_in(p->as.pml4, PT_LEVEL_4K, va, (e - va) / PAGE_SIZE_4K,
					    0, PTE_W);
	}
	if (hi < r->end) {              /* lies past the range: skipped */
		proc_region_copy(p, r, hi, r->end);
		r->end = hi;
	}
	if (lo > r->start) {            /* the copy has the old prot until below */
		struct proc_region *m = proc_region_copy(p, r, lo, hi);

		r->end = lo;
		r = m;
	}
	r->prot = prot;
}

/*
 * prot applies to exactly [addr, addr + len), which regions must cover
 * (else -ENOMEM, as Linux).  A region with another prot that the range
 * cuts is split there, a slot per cut: counted before anything changes,
 * so -ENOMEM leaves all as it was.  Then pieces that agree join where
 * they meet in [addr, addr + len].
 */
long proc_sys_mprotect(struct proc *p, uint64_t addr, uint64_t len, uint64_t prot)
{
	uint64_t end = addr + len;
	int need = 0;

	if (!proc_range_ok(p, addr, len) ||
	    (prot != SYS_PROT_READ && prot != (SYS_PROT_READ | SYS_PROT_WRITE)))
		return -SYS_EINVAL;
	if (!proc_covered(p, addr, end))
		return -SYS_ENOMEM;
	for (int i = 1; i < PROC_REGIONS; i++)
		if (p->region[i].prot != prot)
			need += proc_cuts(&p->region[i], addr) + proc_cuts(&p->region[i], end);
	if (need > proc_free_slots(p) ||
	    proc_split_ends(p, addr, end, (int)prot, &proc_stats.split_mprotect) ||
	    proc_own_range(p, addr, end, false))
		return -SYS_ENOMEM;
	for (int i = 1; i < PROC_REGIONS; i++) {
		struct proc_region *r = &p->region[i];
		uint64_t lo = r->start > addr ? r->start : addr, hi = r->end < end ? r->end : end;

		if (r->end && lo < hi && r->prot != prot)
			proc_protect(p, r, lo, hi, (unsigned)prot);
	}
	proc_regions_join(p, addr, end);
	return 0;
}
