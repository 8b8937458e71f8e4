/*
 * The process system-call ABI (kernel/proc.c).  A separate header from
 * gk/syscall.h: that one is the library OS's private trap (SYS_MM,
 * SYS_PVMMU_BELL: trusted callers, raw kernel pointers, at sys_trap in
 * kernel .text, which processes cannot even fetch); this one is the
 * contract with untrusted code, entered through a different trap address
 * (usys_trap, in .utext, mapped U into every process).  Both are ud2 traps
 * (`int`/`syscall` do not work on the nested-KVM host).
 *
 * Registers: RAX = number, arguments in RDI, RSI, RDX, R10, R8; the result
 * in RAX; every other register survives.  usys_call() below is the C form.
 * Results: >= 0 on success, -errno on failure (never a kernel crash).
 *
 * Argument rules (checked at CPL0 before anything is touched):
 *  - a user pointer with a length must lie inside the caller's regions
 *    (its mmap regions, its stack, or the shared user image for reads),
 *    without a hole between them, each with the access the call needs; addr + len must not wrap: else -EFAULT.
 *    A kernel address is never inside a region.  The init process (the
 *    library-OS workload, which runs on the kernel's own tables) is trusted.
 *  - mmap/munmap/mprotect addresses and lengths are page-aligned (4 KiB, or
 *    2 MiB with SYS_MAP_2M) and non-zero: else -EINVAL.  munmap and
 *    mprotect take any such range inside the mmap area (gk/aspace.h), not
 *    only whole regions; a 2 MiB page an end of it cuts is split into
 *    4 KiB pages first (-ENOMEM if memory for that ran out, nothing
 *    changed).  A range that splits a region needs a
 *    free region slot per new piece (PROC_REGIONS in all): else -ENOMEM,
 *    and nothing has changed.  Pieces mprotect leaves with the same prot
 *    join again where they meet inside or at the ends of its range.
 *  - fork: the child is a copy of the caller (regions, registers with
 *    RAX 0, memory) and the caller's child for wait.  4 KiB pages are
 *    shared copy-on-write: read-only in both until one writes, then that
 *    one gets its own copy (the last sharer just gets the page back
 *    writable); 2 MiB pages alike, except that a write to one still
 *    shared splits it into 4 KiB pages (in every sharer) and copies only
 *    the 4 KiB page written.  -EAGAIN: no process slot;
 *    -ENOMEM: no memory; either way the caller's memory is as it was.
 *    A parent's wait for a forked child returns pid and status; the
 *    child's memory is freed shortly after (by init, natively).  Children
 *    of a process that ends go to init.
 */
#ifndef GK_SYSABI_H
#define GK_SYSABI_H

#define SYSABI_VERSION   1

/* Numbers start at 16: distinct from gk/syscall.h's even though the traps differ. */
#define SYS_EXIT         16     /* (status 0..255): does not return */
#define SYS_WRITE        17     /* (buf, len <= SYS_WRITE_MAX): len, console output */
#define SYS_MMAP         18     /* (addr or 0, len, prot, flags): addr; anonymous, zeroed */
#define SYS_MUNMAP       19     /* (addr, len): 0; what lies in regions goes; holes are fine */
#define SYS_MPROTECT     20     /* (addr, len, prot): 0; all of it in regions, else -ENOMEM */
#define SYS_FORK         21     /* (): child's pid / 0 in the child; -EAGAIN, -ENOMEM */
#define SYS_WAIT         22     /* (int *status or 0): pid of a dead child; -ECHILD */
#define SYS_GETPID       23     /* (): pid */
#define SYS_YIELD        24     /* (): 0, after the other runnable processes ran */
#define SYS_REPORT       25     /* (key, value): one metric, key NUL-terminated, < 32 bytes */
#define SYS_UFIRST       SYS_EXIT
#define SYS_ULAST        SYS_REPORT

#define SYS_WRITE_MAX    4096

/* mmap prot: READ, or READ|WRITE (x86 without NX: readable implies executable). */
#define SYS_PROT_READ    1
#define SYS_PROT_WRITE   2
/* mmap flags: 2 MiB pages (addr and len multiples of 2 MiB). */
#define SYS_MAP_2M       1

/*
 * wait's status: exit(s) gives s (0..255); a process the kernel killed for
 * an exception gives SYS_STATUS_KILLED | vector (never an exit status).
 */
#define SYS_STATUS_KILLED 0x100
#define SYS_STATUS_VECTOR(s) ((s) & 0xff)

/* errno values (Linux numbers) */
#define SYS_ENOENT       2
#define SYS_ECHILD       10
#define SYS_EAGAIN       11
#define SYS_ENOMEM       12
#define SYS_EFAULT       14
#define SYS_EINVAL       22
#define SYS_ENOSYS       38

#ifndef __ASSEMBLER__
/* Ring 3, any process (user/usys.S, in .utext). */
long usys_call(long nr, long a1, long a2, long a3, long a4, long a5);
#endif

#endif
