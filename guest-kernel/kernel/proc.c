/*
 * Processes and their system calls (contracts: gk/proc.h, gk/sysabi.h).
 *
 * CPL0 side (proc_syscall, proc_kill_current): each call does a bounded
 * amount of work -- argument checks against at most PROC_REGIONS regions,
 * a scan of PROC_MAX slots, a frame copy and a CR3 load -- except mmap,
 * munmap and mprotect.  mmap maps at most PROC_MMAP_MAX_PAGES entries (2 MiB
 * pages, as many as there are 2 MiB frames; 4 KiB ones, and 2 MiB units
 * that fell back to them, are only recorded).  munmap and mprotect visit only
 * what of the range lies in regions, never a hole, and no region is larger
 * than one mmap (proc_region_max): so at most PROC_REGIONS - 1 regions'
 * worth, a 4 KiB region per page table that exists (512 entries each),
 * a 2 MiB region one walk per unit and the same per 4 KiB unit's table.
 * Fork (eager) reads every entry of the caller's page tables under its
 * regions and shares each present leaf: O(mapped pages) at CPL0.  Fork
 * (shared) links the child's PD entries to the caller's page tables:
 * O(page tables); the first change of a shared table copies it (512
 * entries).  A copy-on-write fault is O(1) with at most one 4 KiB copy
 * (and one table copy in shared mode).
 * Ring-3 side (proc_create, proc_wait: init only): building and tearing
 * down address spaces, natively -- also of forked children, whose parents
 * only collect pid and status (PROC_DEAD).
 */
#include <string.h>
#include <pagevisor/abi.h>
#include <gk/aspace.h>
#include <gk/assert.h>
#include <gk/console.h>
#include <gk/mm.h>
#include <gk/mmapi.h>
#include <gk/printf.h>
#include <gk/proc.h>
#include <gk/report.h>
#include <gk/sysabi.h>
#include <gk/x86.h>

/*
 * ZOMBIE: ended, not yet waited for.  REAPING: handed to init's proc_wait,
 * which tears it down natively.  DEAD: a process parent waited for it (a
 * forked child); init tears it down the next time it waits, natively, so
 * CPL0 never walks a whole address space.
 */
enum proc_state {
	PROC_FREE, PROC_RUNNABLE, PROC_WAITING, PROC_ZOMBIE, PROC_REAPING, PROC_DEAD
};

/*
 * huge: made by a SYS_MAP_2M mmap, so its 2 MiB units may be mapped with
 * 2 MiB entries; which ones, only the tables say (proc_unit_2m): the others
 * fell back to lazy 4 KiB pages.  Pieces a munmap or mprotect leaves keep
 * the flag; a cut inside a 4 KiB unit leaves a piece that is not 2 MiB
 * aligned there.  A 4 KiB region never holds a 2 MiB entry.
 */
struct proc_region {
	uint64_t start, end;    /* end == 0: unused */
	unsigned prot;
	bool huge;
};

struct proc {
	enum proc_state state;
	int pid;
	int parent;             /* slot */
	int status;
	bool init;
	struct aspace as;
	uint64_t cr3;
	uint64_t mmap_next;
	uint64_t fa_next;       /* fault-around: where a sequential fault would land */
	unsigned fa_win;        /* fault-around auto: the current window (pages) */
	struct proc_region region[PROC_REGIONS];
	struct trap_frame regs; /* while not running */
	uint64_t kill_err, kill_rip, kill_cr2;
};

struct proc_stats proc_stats;
static struct proc proc_table[PROC_MAX];
static int proc_cur;            /* the running slot */
static int proc_next_pid = 1;
static bool proc_active;        /* slot 0 is init */
static uint64_t proc_frames[PROC_MMAP_MAX_PAGES];
int proc_faultaround;           /* pages, a power of two; 0: none; PROC_FA_AUTO */
enum proc_fork_mode proc_fork_mode = PROC_FORK_EAGER;
void (*proc_reap_hook)(int pid);

extern char uproc_return[];     /* user/usys.S */

/* A free slot (not init's), or -1.  Either CPL. */
static int proc_free_slot(void)
{
	for (int s = 1; s < PROC_MAX; s++)
		if (proc_table[s].state == PROC_FREE)
			return s;
	return -1;
}

/* ---- ring 3, init */

static void proc_init_self(void)
{
	struct proc *p = &proc_table[0];

	if (proc_active)
		return;
	p->state = PROC_RUNNABLE;
	p->pid = proc_next_pid++;
	p->parent = -1;
	p->init = true;
	p->cr3 = (uint64_t)(uintptr_t)pt_kernel_pml4;
	proc_active = true;
}

int proc_create(long (*entry)(long), long arg)
{
	uint64_t e = (uint64_t)(uintptr_t)entry, frames[AS_STACK_SIZE / PAGE_SIZE_4K];
	uint64_t nstack = AS_STACK_SIZE / PAGE_SIZE_4K, got;
	struct proc *p = NULL;
	int slot;

	proc_init_self();
	GUEST_ASSERT(proc_cur == 0 && x86_cpl() == 3);
	if (!as_in_user_image(e, 1))
		return -SYS_EINVAL;
	if ((slot = proc_free_slot()) < 0)
		return -SYS_EAGAIN;
	p = &proc_table[slot];
	memset(p, 0, sizeof(*p));
	if (as_create(&p->as))
		return -SYS_ENOMEM;
	for (got = 0; got < nstack; got++)
		if (!(frames[got] = frame_alloc_4k()))
			break;
	if (got < nstack || mm_map_frames_in(p->as.pml4, PT_LEVEL_4K, AS_STACK_TOP - AS_STACK_SIZE,
					     nstack, frames, PTE_W | PTE_U)) {
		while (got)
			frame_free_4k(frames[--got]);
		as_destroy(&p->as);
		return -SYS_ENOMEM;
	}
	/* The entry function's return address, through the identity map. */
	*(uint64_t *)(uintptr_t)(frames[nstack - 1] + PAGE_SIZE_4K - 8) =
		(uint64_t)(uintptr_t)uproc_return;
	p->region[0] = (struct proc_region){ AS_STACK_TOP - AS_STACK_SIZE, AS_STACK_TOP,
					     SYS_PROT_READ | SYS_PROT_WRITE, false };
	p->mmap_next = AS_USER_BASE;
	p->cr3 = (uint64_t)(uintptr_t)p->as.pml4;
	p->regs.rip = e;
	p->regs.rdi = (uint64_t)arg;
	p->regs.cs = GDT_USER_CS | 3;
	p->regs.ss = GDT_USER_DS | 3;
	p->regs.rflags = X86_RFLAGS_RESERVED;           /* IOPL 0, IF off */
	p->regs.rsp = AS_STACK_TOP - 8;
	p->parent = 0;
	p->pid = proc_next_pid++;
	p->state = PROC_RUNNABLE;
	proc_stats.created++;
	return p->pid;
}

static const char *const proc_vec_names[32] = {
	"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "CSO", "#TS", "#NP",
	"#SS", "#GP", "#PF", "#15", "#MF", "#AC", "#MC", "#XM", "#VE", "#CP",
};

/* Ring 3, init: the process in slot s (REAPING) torn down; whether it was init's child. */
static bool proc_reap(int s)
{
	struct proc *p = &proc_table[s];
	bool mine = p->parent == 0;

	if (proc_reap_hook)
		proc_reap_hook(p->pid);
	if (p->status & SYS_STATUS_KILLED) {
		unsigned v = SYS_STATUS_VECTOR(p->status);

		printf("proc: pid %d killed: exception %u (%s) err=0x%lx rip=0x%lx cr2=0x%lx\n",
		       p->pid, v, v < 32 && proc_vec_names[v] ? proc_vec_names[v] : "?",
		       (unsigned long)p->kill_err, (unsigned long)p->kill_rip,
		       (unsigned long)p->kill_cr2);
	}
	as_destroy(&p->as);
	p->state = PROC_FREE;
	return mine;
}

int proc_wait(int *status)
{
	for (;;) {
		long pid = usys_call(SYS_WAIT, (long)(uintptr_t)status, 0, 0, 0, 0);
		int s;

		if (pid < 0)
			return (int)pid;
		for (s = 1; s < PROC_MAX; s++)
			if (proc_table[s].state == PROC_REAPING && proc_table[s].pid == pid)
				break;
		GUEST_ASSERTF(s < PROC_MAX, "proc_wait: pid %ld is not being reaped", pid);
		if (proc_reap(s))
			return (int)pid;
	}
}

uint64_t proc_lookup(int pid, uint64_t va)
{
	for (int s = 1; s < PROC_MAX; s++)
		if (proc_table[s].state != PROC_FREE && proc_table[s].pid == pid)
			return as_lookup(&proc_table[s].as, va);
	return 0;
}

int proc_lookup_level(int pid, uint64_t va)
{
	for (int s = 1; s < PROC_MAX; s++)
		if (proc_table[s].state != PROC_FREE && proc_table[s].pid == pid)
			return as_level(&proc_table[s].as, va);
	return -1;
}

/* ---- CPL0 */

/* The next runnable slot after the current one, round robin (itself last); -1 if none. */
static int proc_pick(void)
{
	for (int i = 1; i <= PROC_MAX; i++) {
		int s = (proc_cur + i) % PROC_MAX;

		if (proc_table[s].state == PROC_RUNNABLE)
			return s;
	}
	return -1;
}

static void proc_switch(struct trap_frame *f, int next)
{
	struct proc *n = &proc_table[next];

	if (next == proc_cur)
		return;
	proc_table[proc_cur].regs = *f;
	*f = n->regs;
	proc_cur = next;
	write_cr3(n->cr3);
	gdt_user_ports(n->init);
	proc_stats.switches++;
}

static void proc_schedule(struct trap_frame *f)
{
	int next = proc_pick();

	GUEST_ASSERTF(next >= 0, "proc: nothing runnable (pid %d)", proc_table[proc_cur].pid);
	proc_switch(f, next);
}

/* A process blocked in SYS_WAIT becomes runnable: it re-executes the call. */
static void proc_wake(int slot)
{
	if (proc_table[slot].state == PROC_WAITING)
		proc_table[slot].state = PROC_RUNNABLE;
}

/*
 * The current process ends with status; its parent wakes; its children go
 * to init (as Linux reparents orphans), which reaps them; the next one runs.
 */
static void proc_end(struct trap_frame *f, int status)
{
	struct proc *p = &proc_table[proc_cur];

	p->state = PROC_ZOMBIE;
	p->status = status;
	for (int s = 1; s < PROC_MAX; s++) {
		struct proc *c = &proc_table[s];

		/* DEAD and REAPING ones were waited for already: init only tears them down. */
		if (c->parent != proc_cur || s == proc_cur || c->state == PROC_FREE ||
		    c->state == PROC_DEAD || c->state == PROC_REAPING)
			continue;
		c->parent = 0;
		if (c->state == PROC_ZOMBIE)
			proc_wake(0);
	}
	if (p->parent >= 0)
		proc_wake(p->parent);
	proc_schedule(f);
}

bool proc_kill_current(struct trap_frame *f)
{
	struct proc *p = &proc_table[proc_cur];

	if (!proc_active || p->init)
		return false;
	p->kill_err = f->error;
	p->kill_rip = f->rip;
	p->kill_cr2 = read_cr2();
	proc_stats.killed++;
	proc_end(f, SYS_STATUS_KILLED | (int)(f->vector & 0xff));
	return true;
}

static uint64_t proc_pte_flags(unsigned prot)
{
	return PTE_U | (prot & SYS_PROT_WRITE ? PTE_W : 0);
}

/* The region holding va, or NULL. */
static const struct proc_region *proc_region_at(const struct proc *p, uint64_t va)
{
	for (int i = 0; i < PROC_REGIONS; i++)
		if (p->region[i].end && va >= p->region[i].start && va < p->region[i].end)
			return &p->region[i];
	return NULL;
}

/* The end of the page table's span (2 MiB) that holds va, clipped to end. */
static uint64_t proc_pt_end(uint64_t va, uint64_t end)
{
	uint64_t next = (va & ~(PAGE_SIZE_2M - 1)) + PAGE_SIZE_2M;

	return next < end ? next : end;
}

/* The 2 MiB entry (P and PS set) that maps va in p, or 0. */
static uint64_t proc_huge_entry(const struct proc *p, uint64_t va)
{
	uint64_t *pde = pt_walk(p->as.pml4, va & ~(PAGE_SIZE_2M - 1), PT_LEVEL_2M, false);
	uint64_t d = pde ? mm_read_pte(pde, PT_LEVEL_2M) : 0;

	return (d & (PTE_P | PTE_PS)) == (PTE_P | PTE_PS) ? d : 0;
}

/*
 * Whether the 2 MiB unit holding va is mapped with one 2 MiB entry (the
 * PD entry's PS bit).  A unit of a 2 MiB region without one falls back to
 * 4 KiB pages (proc_sys_mmap): every path asks the tables, not the region.
 */
static bool proc_unit_2m(const struct proc *p, uint64_t va)
{
	return proc_huge_entry(p, va) != 0;
}

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
static int proc_pt_own(struct proc *p, uint64_t va, bool write)
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
 * CPL0: every page table under the regions' part of [lo, hi) (4 KiB units;
 * proc_pt_own passes over 2 MiB entries) made p's own (proc_pt_own) before munmap or mprotect changes it, so that a
 * failure (-SYS_ENOMEM) comes before any change p could see.
 */
static int proc_own_range(struct proc *p, uint64_t lo, uint64_t hi)
{
	for (int i = 1; i < PROC_REGIONS; i++) {
		const struct proc_region *r = &p->region[i];
		uint64_t a = r->start > lo ? r->start : lo, b = r->end < hi ? r->end : hi;

		if (!r->end)
			continue;
		for (uint64_t va = a; va < b; va = proc_pt_end(va, b))
			if (proc_pt_own(p, va, false))
				return -SYS_ENOMEM;
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
static int proc_split_2m(struct proc *p, uint64_t unit, uint64_t *stat)
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
static int proc_user_populate(struct proc *p, uint64_t addr, uint64_t len, bool write)
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

/*
 * Whether [addr, addr + len) lies in one region of p with the access
 * (write: SYS_PROT_WRITE), or, for reads, in the user image.  init: always.
 */
static bool proc_user_ok(const struct proc *p, uint64_t addr, uint64_t len, bool write)
{
	uint64_t end = addr + len;

	if (p->init)
		return true;
	if (end < addr)
		return false;
	if (!write && as_in_user_image(addr, len))
		return true;
	for (int i = 0; i < PROC_REGIONS; i++) {
		const struct proc_region *r = &p->region[i];

		if (r->end && addr >= r->start && end <= r->end)
			return !write || (r->prot & SYS_PROT_WRITE);
	}
	return false;
}

static long proc_sys_write(struct proc *p, uint64_t buf, uint64_t len)
{
	if (len > SYS_WRITE_MAX)
		return -SYS_EINVAL;
	if (!proc_user_ok(p, buf, len, false))
		return -SYS_EFAULT;
	if (proc_user_populate(p, buf, len, false))
		return -SYS_ENOMEM;
	console_write((const char *)(uintptr_t)buf, len);
	return (long)len;
}

static long proc_sys_report(struct proc *p, uint64_t key, int64_t value)
{
	char k[32];
	unsigned i;

	for (i = 0; i < sizeof(k); i++) {
		char c;

		if (!proc_user_ok(p, key + i, 1, false))
			return -SYS_EFAULT;
		if ((i == 0 || (key + i) % PAGE_SIZE_4K == 0) && proc_user_populate(p, key + i, 1, false))
			return -SYS_ENOMEM;
		c = *(const char *)(uintptr_t)(key + i);
		k[i] = c;
		if (!c)
			break;
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
			return -SYS_EINVAL;
	}
	if (i == 0 || i == sizeof(k))
		return -SYS_EINVAL;
	report(k, value, 0);
	return 0;
}

static long proc_sys_mmap(struct proc *p, uint64_t addr, uint64_t len, uint64_t prot,
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
		uint64_t *e = pt_walk(p->as.pml4, va, PT_LEVEL_4K, false), nf = 0;

		n = 512 - ((va / PAGE_SIZE_4K) & 511);
		if (n > (hi - va) / PAGE_SIZE_4K)
			n = (hi - va) / PAGE_SIZE_4K;
		for (uint64_t i = 0; e && i < n; i++) {
			uint64_t t = mm_read_pte(&e[i], PT_LEVEL_4K);

			if (t & PTE_P)
				proc_frames[nf++] = t & PTE_ADDR;
		}
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
static long proc_sys_munmap(struct proc *p, uint64_t addr, uint64_t len)
{
	uint64_t end = addr + len;

	if (!proc_range_ok(p, addr, len))
		return -SYS_EINVAL;
	for (int i = 1; i < PROC_REGIONS; i++)
		if (proc_cuts(&p->region[i], addr) && proc_cuts(&p->region[i], end) &&
		    !proc_free_slots(p))
			return -SYS_ENOMEM;
	if (proc_split_ends(p, addr, end, -1, &proc_stats.split_munmap) ||
	    proc_own_range(p, addr, end))
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
static long proc_sys_mprotect(struct proc *p, uint64_t addr, uint64_t len, uint64_t prot)
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
	    proc_own_range(p, addr, end))
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

/* ---- fork */

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
		uint64_t span = va & ~(PAGE_SIZE_2M - 1), *pde, d;

		pde = pt_walk(p->as.pml4, span, PT_LEVEL_2M, false);
		d = pde ? mm_read_pte(pde, PT_LEVEL_2M) : 0;
		if (!(d & PTE_P) || (d & PTE_PS) || proc_span_done(p, ri, span) ||
		    (n && span != run + n * PAGE_SIZE_2M)) {
			proc_fork_link_run(p, c, run, n);
			n = 0;
		}
		if (!(d & PTE_P) || (d & PTE_PS) || proc_span_done(p, ri, span))
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
static long proc_sys_fork(struct trap_frame *f, struct proc *p)
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

/*
 * CPL0: what p's SYS_WAIT may collect from slot s: a zombie child; for init
 * also any DEAD process (a forked child its process parent waited for),
 * first, so that none is left when init's own last child is collected.
 */
static bool proc_collectable(const struct proc *p, int s, bool dead)
{
	const struct proc *c = &proc_table[s];

	if (dead)
		return p->init && c->state == PROC_DEAD;
	return c->parent == proc_cur && c->state == PROC_ZOMBIE;
}

/*
 * CPL0: c collected by p's wait.  Init tears it down itself (proc_wait,
 * natively); a process parent gets pid and status only, and the address
 * space goes to init (DEAD), which is woken to tear it down natively.
 */
static void proc_collect(struct trap_frame *f, struct proc *p, struct proc *c, uint64_t status)
{
	if (status && (!p->init || c->state == PROC_ZOMBIE))
		*(int *)(uintptr_t)status = c->status;
	f->rax = (uint64_t)c->pid;
	if (p->init) {
		c->state = PROC_REAPING;
		return;
	}
	c->state = PROC_DEAD;
	proc_wake(0);
}

/* Returns with f set up to resume: this process's result, or another process. */
static void proc_sys_wait(struct trap_frame *f, struct proc *p, uint64_t status)
{
	bool alive = false;

	if (status && (status % 4 || !proc_user_ok(p, status, 4, true) ||
		       proc_user_populate(p, status, 4, true))) {
		proc_stats.bad_args++;
		f->rax = (uint64_t)-SYS_EFAULT;
		return;
	}
	for (int pass = 0; pass < 2; pass++)
		for (int s = 1; s < PROC_MAX; s++)
			if (proc_collectable(p, s, pass == 0)) {
				proc_collect(f, p, &proc_table[s], status);
				return;
			}
	for (int s = 1; s < PROC_MAX; s++)
		if (proc_table[s].parent == proc_cur && (proc_table[s].state == PROC_RUNNABLE ||
							 proc_table[s].state == PROC_WAITING))
			alive = true;
	if (!alive) {
		proc_stats.bad_args++;
		f->rax = (uint64_t)-SYS_ECHILD;
		return;
	}
	p->state = PROC_WAITING;
	f->rip -= 2;                    /* back to the ud2: the call runs again when woken */
	proc_schedule(f);
}

void proc_syscall(struct trap_frame *f)
{
	struct proc *p = &proc_table[proc_cur];
	uint64_t a1 = f->rdi, a2 = f->rsi, a3 = f->rdx, a4 = f->r10;
	long ret;

	f->rip += 2;                    /* past the ud2 */
	proc_stats.syscalls++;
	if (!proc_active)
		proc_init_self();       /* init's first call */
	switch (f->rax) {
	case SYS_EXIT:
		if (p->init) {
			ret = -SYS_EINVAL;
			break;
		}
		proc_end(f, (int)(a1 & 0xff));
		return;
	case SYS_WRITE:
		ret = proc_sys_write(p, a1, a2);
		break;
	case SYS_MMAP:
		ret = proc_sys_mmap(p, a1, a2, a3, a4);
		break;
	case SYS_MUNMAP:
		ret = proc_sys_munmap(p, a1, a2);
		break;
	case SYS_MPROTECT:
		ret = proc_sys_mprotect(p, a1, a2, a3);
		break;
	case SYS_WAIT:
		proc_sys_wait(f, p, a1);
		return;
	case SYS_GETPID:
		ret = p->pid;
		break;
	case SYS_YIELD:
		f->rax = 0;
		proc_schedule(f);
		return;
	case SYS_REPORT:
		ret = proc_sys_report(p, a1, (int64_t)a2);
		break;
	case SYS_FORK:
		ret = proc_sys_fork(f, p);
		break;
	default:
		ret = -SYS_ENOSYS;
		break;
	}
	if (ret < 0)
		proc_stats.bad_args++;
	f->rax = (uint64_t)ret;
}
