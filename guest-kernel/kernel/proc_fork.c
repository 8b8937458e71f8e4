/*
 * SYS_FORK (proc_syscall dispatches it; contracts: gk/proc.h, gk/sysabi.h).
 *
 * CPL0: Fork (eager) reads every entry of the caller's page tables under its
 * regions and shares each present leaf: O(mapped pages) at CPL0.  Fork
 * (shared) links the child's PD entries to the caller's page tables:
 * O(page tables); the first change of a shared table copies it (512
 * entries).  The copy-on-write faults that follow are proc_fault.c's.
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

enum proc_fork_mode proc_fork_mode = PROC_FORK_EAGER;

int proc_fork_set(const char *v)
{
	if (!strcmp(v, "eager"))
		proc_fork_mode = PROC_FORK_EAGER;
	else if (!strcmp(v, "shared"))
		proc_fork_mode = PROC_FORK_SHARED;
	else
		return -1;
	return 0;
}

/*
 * CPL0: p's 2 MiB page at va mapped read-only at va in c, its frame one
 * reference more (p's entry loses W in fork's second half:
 * proc_fork_wp_2m); the first write on either side splits it
 * (proc_cow_2m).  No copy, so fork needs no free 2 MiB frame.
 */
static int proc_fork_2m(struct proc *p, struct proc *c, uint64_t va)
{
	uint64_t pa = proc_huge_entry(p, va) & PTE_ADDR_2M;

	if (mm_map_range_in(c->as.pml4, PT_LEVEL_2M, va & ~(PAGE_SIZE_2M - 1), 1, pa, PTE_U))
		return -SYS_ENOMEM;
	frame_ref_2m(pa);
	return 0;
}

/* CPL0, fork's second half: p's 2 MiB pages in r, shared with the child now, lose W. */
static void proc_fork_wp_2m(struct proc *p, const struct proc_region *r)
{
	if (!r->huge || !(r->prot & SYS_PROT_WRITE))
		return;
	for (uint64_t va = r->start; va < r->end; va = proc_pt_end(va, r->end))
		if (proc_unit_2m(p, va))
			mm_protect_range_in(p->as.pml4, PT_LEVEL_2M, va & ~(PAGE_SIZE_2M - 1), 1, 0,
					    PTE_W);
}

/*
 * CPL0, fork's first half, the only one that can fail: c gets every table
 * it will need (eager: a PT wherever p has one under a 4 KiB region;
 * shared: the PD above it; 4 KiB units of a 2 MiB region alike) and the
 * units mapped with 2 MiB entries, shared (proc_fork_2m).  p is not
 * touched, so on failure tearing c down leaves p exactly as it was.
 */
static int proc_fork_tables(struct proc *p, struct proc *c, const struct proc_region *r)
{
	int level = proc_fork_mode == PROC_FORK_SHARED ? PT_LEVEL_2M : PT_LEVEL_4K;

	for (uint64_t va = r->start; va < r->end; va = proc_pt_end(va, r->end)) {
		if (r->huge && proc_unit_2m(p, va)) {
			if (proc_fork_2m(p, c, va))
				return -SYS_ENOMEM;
		} else if (pt_walk(p->as.pml4, va, PT_LEVEL_4K, false) &&
			   !pt_walk(c->as.pml4, va, level, true)) {
			return -SYS_ENOMEM;
		}
	}
	return 0;
}

/* CPL0: proc_frames[0..n) mapped read-only at va in c (its tables exist: cannot fail). */
static void proc_fork_run(struct proc *c, uint64_t va, uint64_t n)
{
	if (n && mm_map_frames_in(c->as.pml4, PT_LEVEL_4K, va, n, proc_frames, PTE_U))
		GUEST_ASSERTF(false, "proc: fork: a table of pid %d went missing", c->pid);
}

/*
 * CPL0, eager fork's second half, per page table of a region (a unit
 * mapped with a 2 MiB entry has none: copied already): every
 * present leaf's frame gets a reference and is mapped read-only in c; in a
 * writable region p's leaves become read-only too (copy-on-write).  One
 * read per entry, one record per run of present entries, one protect per
 * table.
 */
static void proc_fork_share(struct proc *p, struct proc *c, const struct proc_region *r)
{
	for (uint64_t va = r->start, end; va < r->end; va = end) {
		uint64_t *e = pt_walk(p->as.pml4, va, PT_LEVEL_4K, false), n = 0, run = 0;
		uint64_t cnt = ((end = proc_pt_end(va, r->end)) - va) / PAGE_SIZE_4K;

		for (uint64_t i = 0; e && i < cnt; i++) {
			uint64_t t = mm_read_pte(&e[i], PT_LEVEL_4K);

			if (!(t & PTE_P)) {
				proc_fork_run(c, run, n);
				n = 0;
				continue;
			}
			if (!n)
				run = va + i * PAGE_SIZE_4K;
			frame_ref_4k(t & PTE_ADDR);
			proc_frames[n++] = t & PTE_ADDR;
		}
		proc_fork_run(c, run, n);
		if (e && (r->prot & SYS_PROT_WRITE))
			mm_protect_range_in(p->as.pml4, PT_LEVEL_4K, va, cnt, 0, PTE_W);
	}
}

/*
 * Whether the page table at span (the first or last of region ri of p)
 * was linked already for an earlier region that shares it (a 2 MiB
 * region's piece cut inside a 4 KiB unit can share one with a 4 KiB region).
 */
static bool proc_span_done(const struct proc *p, int ri, uint64_t span)
{
	const struct proc_region *r = &p->region[ri];

	if (span >= r->start && span + PAGE_SIZE_2M <= r->end)
		return false;           /* inside r: no other region there */
	for (int j = 0; j < ri; j++)
		if (p->region[j].end && p->region[j].start < span + PAGE_SIZE_2M &&
		    p->region[j].end > span)
			return true;
	return false;
}

/* CPL0: c's PD entries [va, va + n * 2 MiB) link proc_frames[0..n), and p's lose W. */
static void proc_fork_link_run(struct proc *p, struct proc *c, uint64_t va, uint64_t n)
{
	if (!n)
		return;
	if (mm_link_tables_in(c->as.pml4, va, n, proc_frames, PTE_U))
		GUEST_ASSERTF(false, "proc: fork: a PD of pid %d went missing", c->pid);
	mm_protect_range_in(p->as.pml4, PT_LEVEL_2M, va, n, 0, PTE_W);
	/* p's TLB may hold writable entries under all of them: every mode flushes */
	mm_flush_tlb(va, n * (PAGE_SIZE_2M / PAGE_SIZE_4K));
}

/*
 * CPL0, shared fork's second half, per page table of region ri of p (its
 * 4 KiB units; 2 MiB entries were copied): the table gets one more use (its frame's reference count) and c's
 * PD entry links it; in both p and c the PD entry has no W, so that every
 * write through a shared table faults (proc_pt_own).  No frame reference
 * changes.  One read per PD entry, one record per run of consecutive
 * tables in each of c and p.
 */
static void proc_fork_link(struct proc *p, struct proc *c, int ri)
{
	const struct proc_region *r = &p->region[ri];
	uint64_t run = 0, n = 0;

	for (uint64_t va = r->start; va < r->end; va = proc_pt_end(va, r->end)) {
		uint64_t span = va & ~(PAGE_SIZE_2M - 1), d = proc_pt_link(p, span);

		if (!d || proc_span_done(p, ri, span) || (n && span != run + n * PAGE_SIZE_2M)) {
			proc_fork_link_run(p, c, run, n);
			n = 0;
		}
		if (!d || proc_span_done(p, ri, span))
			continue;
		if (!n)
			run = span;
		frame_ref_4k(d & PTE_ADDR);
		proc_frames[n++] = d & PTE_ADDR;
		proc_stats.shared_tables++;
	}
	proc_fork_link_run(p, c, run, n);
}

/*
 * CPL0: c's user tables from p's, in the fork mode: tables and 2 MiB
 * copies first, then the 4 KiB part -- eager: every leaf shared; shared:
 * every page table -- all in one lazy section (one doorbell in batched,
 * unless the ring fills or a walk reads a queued entry).  0, or
 * -SYS_ENOMEM with p unchanged (c still to be torn down by the caller).
 */
static int proc_fork_copy(struct proc *p, struct proc *c)
{
	int err = 0;

	proc_stats.shared_tables = 0;
	mm_lazy_enter();
	for (int i = 0; i < PROC_REGIONS && !err; i++)
		if (p->region[i].end)
			err = proc_fork_tables(p, c, &p->region[i]);
	for (int i = 0; i < PROC_REGIONS && !err; i++) {
		if (!p->region[i].end)
			continue;
		proc_fork_wp_2m(p, &p->region[i]);
		if (proc_fork_mode == PROC_FORK_SHARED)
			proc_fork_link(p, c, i);
		else
			proc_fork_share(p, c, &p->region[i]);
	}
	mm_lazy_leave();
	return err;
}

/*
 * SYS_FORK: a new process with a copy of p's regions and memory (shared
 * copy-on-write, see proc_fork_copy) and p's registers, rax 0; p's child.
 * The child's pid; -SYS_EAGAIN (no slot), -SYS_ENOMEM (no memory: nothing
 * of p has changed), -SYS_EINVAL from init (it has no user region).
 */
long proc_sys_fork(struct trap_frame *f, struct proc *p)
{
	int slot = proc_free_slot();
	struct proc *c;

	if (p->init)
		return -SYS_EINVAL;
	if (slot < 0)
		return -SYS_EAGAIN;
	c = &proc_table[slot];
	memset(c, 0, sizeof(*c));
	if (as_create(&c->as))
		return -SYS_ENOMEM;
	if (proc_fork_copy(p, c)) {
		as_destroy(&c->as);     /* drops only what c got: p is as it was */
		return -SYS_ENOMEM;
	}
	memcpy(c->region, p->region, sizeof(c->region));
	c->mmap_next = p->mmap_next;
	c->cr3 = (uint64_t)(uintptr_t)c->as.pml4;
	c->regs = *f;
	c->regs.rax = 0;
	c->parent = proc_cur;
	c->pid = proc_next_pid++;
	c->state = PROC_RUNNABLE;
	proc_stats.forks++;
	return c->pid;
}
