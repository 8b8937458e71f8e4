/*
 * What the process files share (kernel/proc.c, proc_fault.c, proc_vm.c,
 * proc_fork.c): the table and its types, the scratch frame array, and
 * the helpers one file calls in another.  Private to kernel/: the
 * contracts are gk/proc.h and gk/sysabi.h.
 */
#ifndef GK_PROC_INT_H
#define GK_PROC_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <gk/arch.h>
#include <gk/aspace.h>
#include <gk/proc.h>

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

/* proc.c */
extern struct proc proc_table[PROC_MAX];
extern int proc_cur;            /* the running slot */
extern int proc_next_pid;
extern bool proc_active;        /* slot 0 is init */
extern uint64_t proc_frames[PROC_MMAP_MAX_PAGES];
int proc_free_slot(void);

/* proc_fault.c */
uint64_t proc_pte_flags(unsigned prot);
const struct proc_region *proc_region_at(const struct proc *p, uint64_t va);
uint64_t proc_pt_end(uint64_t va, uint64_t end);
uint64_t proc_huge_entry(const struct proc *p, uint64_t va);
uint64_t proc_pt_link(const struct proc *p, uint64_t va);
bool proc_unit_2m(const struct proc *p, uint64_t va);
int proc_pt_own(struct proc *p, uint64_t va, bool write);
int proc_own_range(struct proc *p, uint64_t lo, uint64_t hi, bool unmap);
int proc_split_2m(struct proc *p, uint64_t unit, uint64_t *stat);
int proc_user_populate(struct proc *p, uint64_t addr, uint64_t len, bool write);

/* proc_vm.c */
long proc_sys_mmap(struct proc *p, uint64_t addr, uint64_t len, uint64_t prot,
		   uint64_t flags);
long proc_sys_munmap(struct proc *p, uint64_t addr, uint64_t len);
long proc_sys_mprotect(struct proc *p, uint64_t addr, uint64_t len, uint64_t prot);

/* proc_fork.c */
long proc_sys_fork(struct trap_frame *f, struct proc *p);

#endif
