/*
 * Processes (kernel/proc.c, proc_fault.c, proc_vm.c, proc_fork.c): a
 * fixed table, a cooperative scheduler on the one vCPU, the system calls
 * of gk/sysabi.h.
 *
 * Cooperative because nothing could preempt: the VMM creates no interrupt
 * controller and no timer, so the kernel runs only when a process traps
 * (a system call, or an exception).  A process runs until it yields, waits,
 * exits or is killed.
 *
 * Slot 0 is init (pid 1): the library-OS workload that calls proc_create,
 * running in ring 3 on the kernel's own tables (U identity map), trusted.
 * Every other process runs on its own address space (gk/aspace.h) with
 * IOPL 0 and no I/O ports (TSS bitmap off while it runs; this nested host
 * lets `out` through from CPL3 anyway, an EPT host does not).
 *
 * The kernel keeps no state on its stack across a switch: a context is the
 * trap frame (all registers) saved in the table, and a switch is a copy of
 * two frames and a CR3 load at CPL0, O(PROC_MAX) for the next runnable.  A
 * wait that must block rewinds RIP to the trap and re-executes the call
 * when its parent is woken.
 */
#ifndef GK_PROC_H
#define GK_PROC_H

#include <stdbool.h>
#include <stdint.h>
#include <gk/arch.h>

#define PROC_MAX      16
#define PROC_REGIONS  8         /* region 0: the stack; the rest mmap's */

/*
 * A 2 MiB mmap maps eagerly, so it covers at most one table's worth
 * (512 units); a unit with no 2 MiB frame left falls back to lazy 4 KiB
 * pages.  A 4 KiB mmap is lazy (pages are mapped on fault) and may
 * cover PROC_LAZY_MAX_PAGES (256 MiB: forkbench's largest size); its munmap
 * reads the entries of each page table that exists, 512 per table at CPL0.
 */
#define PROC_MMAP_MAX_PAGES 512
#define PROC_LAZY_MAX_PAGES (64 * 1024)

/*
 * Fault-around (boot argument faultaround=0|N|auto): a page fault maps the
 * unmapped pages of an aligned window of N pages (a power of two up to 512,
 * clipped to the region) around the faulting one; 0 or 1: that page only.
 * auto: per process, the window doubles (up to PROC_FA_AUTO_MAX) when a
 * fault lands where the last window ended and halves otherwise.
 */
#define PROC_FA_AUTO     (-1)
#define PROC_FA_AUTO_MAX 64
extern int proc_faultaround;
/* Parse a faultaround= value: 0, or -1 when it is not 0..512 (a power of two) or auto. */
int proc_faultaround_set(const char *v);

/*
 * Fork (boot argument fork=eager|shared, default eager): how SYS_FORK gives
 * the child its user tables.  eager: the child gets its own page tables at
 * once, every present 4 KiB leaf shared copy-on-write (read-only in both;
 * a reference per shared frame), 2 MiB pages too (a reference on the
 * 2 MiB frame; the first write splits it: proc_page_fault).  shared: the child's
 * PD entries point at the parent's page tables (their use count, the PT
 * frame's reference count, goes up; W cleared on the PD entries of both),
 * and a process's first change of such a table (a write fault, a lazy
 * page, munmap, mprotect) copies it first; 2 MiB pages shared as in eager.
 */
enum proc_fork_mode { PROC_FORK_EAGER, PROC_FORK_SHARED };
extern enum proc_fork_mode proc_fork_mode;
/* Parse a fork= value: 0, or -1 when it is not a mode that exists. */
int proc_fork_set(const char *v);

/* Ring 3, init only: a process running entry(arg) (entry in .utext). pid, or -errno. */
int proc_create(long (*entry)(long), long arg);
/*
 * Ring 3, init only: wait for a child to end (SYS_WAIT), then free its
 * address space and slot natively; a killed child's message is printed
 * here.  Processes that a process parent already waited for (forked
 * children) are torn down here too, on the way, and not returned.  The
 * child's pid (status in *status), or -ECHILD.
 */
int proc_wait(int *status);
/*
 * Init only, optional: proc_wait calls it with the pid of every process it
 * is about to tear down, while its memory is still there (proc_lookup):
 * workloads read results a process left behind.
 */
extern void (*proc_reap_hook)(int pid);
/* The pid's physical frame at user va, 0 if none (init only; tests). */
uint64_t proc_lookup(int pid, uint64_t va);
/* Init only: the level of pid's leaf mapping va (as_level), -1 for no such process. */
int proc_lookup_level(int pid, uint64_t va);

struct proc_stats {
	uint64_t created, switches, syscalls, killed;
	uint64_t bad_args;      /* calls answered with -errno */
	uint64_t faults;        /* page faults that mapped memory */
	uint64_t fault_pages;   /* pages they mapped (fault-around's neighbours included) */
	uint64_t forks;         /* SYS_FORK calls that made a child */
	uint64_t cow_faults;    /* write faults on a copy-on-write page */
	uint64_t cow_copies;    /* ... that copied it (the frame was still shared) */
	uint64_t shared_tables; /* page tables the last fork shared (fork=shared) */
	uint64_t privatized;    /* shared page tables copied by a process changing them */
	uint64_t unlinked;      /* ... a process unmapped whole: only its link dropped */
	uint64_t tables_freed;  /* a process's own page tables freed by a munmap of their span */
	uint64_t huge_units;    /* 2 MiB units a SYS_MAP_2M mmap mapped with a 2 MiB entry */
	uint64_t small_units;   /* ... that fell back to 4 KiB pages (no 2 MiB frame left) */
	uint64_t split_munmap;  /* 2 MiB pages split into 4 KiB ones: by a partial munmap, */
	uint64_t split_mprotect;        /* ... a partial mprotect, */
	uint64_t split_cow;     /* ... a write to one shared after fork (once per frame) */
};
extern struct proc_stats proc_stats;

/* CPL0, from traps_handle: a usys_trap system call; f may become another process's frame. */
void proc_syscall(struct trap_frame *f);
/*
 * CPL0, from traps_handle: an exception at CPL3.  A process (not init) is
 * killed (status SYS_STATUS_KILLED | vector) and f becomes the next
 * process's frame: true.  false: init or no process, the exception is fatal.
 */
bool proc_kill_current(struct trap_frame *f);
/*
 * CPL0, from traps_handle: a #PF at CPL3.  A not-present fault of a process
 * inside one of its regions' 4 KiB units (all of a 4 KiB region; a 2 MiB
 * unit that fell back) with the access allowed maps a zeroed
 * frame at the page; a write to a read-only page of a writable region is
 * copy-on-write (after fork): the page becomes writable, copied first if
 * its frame is still shared -- a shared 2 MiB page is split into 4 KiB
 * pages in every process mapping it, and the 4 KiB page written copied.
 * true: iret retries the access.  O(1) at CPL0 (region scan of
 * PROC_REGIONS, one walk, one frame, one map, at most one 4 KiB copy; a
 * split: one more 4 KiB copy and a table per sharer, PROC_MAX walks).  false: the fault kills (proc_kill_current) or
 * is fatal.
 */
bool proc_page_fault(struct trap_frame *f);

/* arch/gdt.c: whether ring 3 may use I/O ports (the TSS bitmap). */
void gdt_user_ports(bool on);

#endif
