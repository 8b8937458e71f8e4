/*
 * Processes and their system calls (contracts: gk/proc.h, gk/sysabi.h):
 * the process table, scheduling, the small calls and the dispatcher.
 * Page faults are in proc_fault.c, mmap, munmap and mprotect in
 * proc_vm.c, fork in proc_fork.c; what they share, in proc_int.h.
 *
 * CPL0 side (proc_syscall, proc_kill_current): each call does a bounded
 * amount of work -- argument checks against at most PROC_REGIONS regions,
 * a scan of PROC_MAX slots, a frame copy and a CR3 load -- except mmap,
 * munmap and mprotect (proc_vm.c) and fork (proc_fork.c).
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
#include "proc_int.h"

struct proc_stats proc_stats;
struct proc proc_table[PROC_MAX];
int proc_cur;                   /* the running slot */
int proc_next_pid = 1;
bool proc_active;               /* slot 0 is init */
uint64_t proc_frames[PROC_MMAP_MAX_PAGES];
void (*proc_reap_hook)(int pid);

extern char uproc_return[];     /* user/usys.S */

/* A free slot (not init's), or -1.  Either CPL. */
int proc_free_slot(void)
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

/*
 * Whether [addr, addr + len) lies in regions of p that meet end to end
 * (the pieces munmap and mprotect leave), each with the access (write:
 * SYS_PROT_WRITE), or, for reads, in the user image.  init: always.
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
	do {                            /* piece by piece: at most PROC_REGIONS steps */
		const struct proc_region *r = proc_region_at(p, addr);

		if (!r || (write && !(r->prot & SYS_PROT_WRITE)))
			return false;
		addr = r->end;
	} while (addr < end);
	return true;
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
