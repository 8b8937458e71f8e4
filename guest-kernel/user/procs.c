/*
 * The processes of workload procs (workloads/procs.c).  Code under user/ is
 * linked into .utext and runs in ring 3 in its own address space: it may
 * call nothing but what is in this directory (usys_call), and must have no
 * writable statics (the user image is read-only).
 */
#include <stdint.h>
#include <gk/aspace.h>
#include <gk/sysabi.h>
#include "procs.h"

static inline long u_sys(long nr, long a1, long a2, long a3, long a4)
{
	return usys_call(nr, a1, a2, a3, a4, 0);
}

static inline uint64_t u_pattern(long pid, uint64_t i)
{
	return ((uint64_t)pid << 40 | i) * 0x9e3779b97f4a7c15ull;
}

/* Each bad argument must get the documented error; one error count per miss. */
static long u_bad_args(void)
{
	long e = 0;

	e += u_sys(SYS_WRITE, 0x100000, 8, 0, 0) != -SYS_EFAULT;        /* kernel address */
	e += u_sys(SYS_WRITE, -16, 32, 0, 0) != -SYS_EFAULT;            /* wraps */
	e += u_sys(SYS_WRITE, AS_USER_BASE + (1ull << 30), 8, 0, 0) != -SYS_EFAULT; /* unmapped */
	e += u_sys(SYS_WRITE, 0x100000, SYS_WRITE_MAX + 1, 0, 0) != -SYS_EINVAL;
	e += u_sys(SYS_MMAP, AS_USER_BASE + 123, 4096, 3, 0) != -SYS_EINVAL;  /* unaligned */
	e += u_sys(SYS_MMAP, 0, 4097, 3, 0) != -SYS_EINVAL;
	e += u_sys(SYS_MMAP, 0, 0, 3, 0) != -SYS_EINVAL;
	e += u_sys(SYS_MMAP, 0, 4096, 3, SYS_MAP_2M) != -SYS_EINVAL;
	e += u_sys(SYS_MMAP, 0x100000, 4096, 3, 0) != -SYS_EINVAL;      /* kernel address */
	e += u_sys(SYS_MMAP, 0, 4096, 7, 0) != -SYS_EINVAL;             /* prot */
	e += u_sys(SYS_MMAP, 0, -4096, 3, 0) != -SYS_EINVAL;            /* huge length */
	e += u_sys(SYS_MUNMAP, 0x100000, 4096, 0, 0) != -SYS_EINVAL;
	e += u_sys(SYS_MPROTECT, -4096, 8192, 1, 0) != -SYS_EINVAL;
	e += u_sys(SYS_WAIT, 0x100000, 0, 0, 0) != -SYS_EFAULT;
	e += u_sys(SYS_WAIT, AS_STACK_TOP - 2, 0, 0, 0) != -SYS_EFAULT; /* unaligned */
	e += u_sys(SYS_WAIT, 0, 0, 0, 0) != -SYS_ECHILD;
	e += u_sys(SYS_REPORT, 0x100000, 1, 0, 0) != -SYS_EFAULT;
	e += u_sys(SYS_FORK, 0, 0, 0, 0) != -SYS_ENOSYS;
	e += u_sys(99, 0, 0, 0, 0) != -SYS_ENOSYS;
	return e;
}

long procs_worker(long index)
{
	long pid = u_sys(SYS_GETPID, 0, 0, 0, 0), errors = u_bad_args();
	uint64_t *p, *h, n = PROCS_BYTES / 8;

	p = (uint64_t *)u_sys(SYS_MMAP, 0, PROCS_BYTES, SYS_PROT_READ | SYS_PROT_WRITE, 0);
	h = (uint64_t *)u_sys(SYS_MMAP, 0, 2 << 20, SYS_PROT_READ | SYS_PROT_WRITE, SYS_MAP_2M);
	if ((uint64_t)p != AS_USER_BASE || (long)h < 0 || (uint64_t)h % (2 << 20))
		return PROCS_STATUS_BAD;
	for (uint64_t i = 0; i < n; i++)
		p[i] = u_pattern(pid, i);
	for (uint64_t i = 0; i < (2 << 20) / 8; i += 512) {
		errors += h[i] != 0;            /* fresh memory reads zeros */
		h[i] = u_pattern(pid, i);
	}
	u_sys(SYS_YIELD, 0, 0, 0, 0);           /* the others write the same va now */
	u_sys(SYS_YIELD, 0, 0, 0, 0);
	for (uint64_t i = 0; i < n; i++)
		errors += p[i] != u_pattern(pid, i);
	for (uint64_t i = 0; i < (2 << 20) / 8; i += 512)
		errors += h[i] != u_pattern(pid, i);
	errors += u_sys(SYS_MPROTECT, (long)p, PROCS_BYTES, SYS_PROT_READ, 0) != 0;
	for (uint64_t i = 0; i < n; i++)
		errors += p[i] != u_pattern(pid, i);
	errors += u_sys(SYS_MUNMAP, (long)h, 2 << 20, 0, 0) != 0;
	errors += u_sys(SYS_MUNMAP, (long)p, PROCS_BYTES, 0, 0) != 0;
	errors += u_sys(SYS_WRITE, (long)"procs: worker done\n", 19, 0, 0) != 19;
	if (index == 0)
		errors += u_sys(SYS_REPORT, (long)"user_report", 42, 0, 0) != 0;
	return errors ? PROCS_STATUS_BAD : PROCS_STATUS(pid);
}

/* Touches an address it just unmapped: #PF. */
long procs_unmapped(long arg)
{
	volatile uint64_t *p = (uint64_t *)u_sys(SYS_MMAP, 0, 4096, 3, 0);

	if (u_sys(SYS_MUNMAP, (long)p, 4096, 0, 0))
		return PROCS_STATUS_BAD;
	*p = 1;
	return PROCS_STATUS_BAD;
}

/* Writes a page after making it read-only: #PF. */
long procs_readonly(long arg)
{
	volatile uint64_t *p = (uint64_t *)u_sys(SYS_MMAP, 0, 4096, 3, 0);

	*p = 1;
	if (u_sys(SYS_MPROTECT, (long)p, 4096, SYS_PROT_READ, 0))
		return PROCS_STATUS_BAD;
	*p = 2;
	return PROCS_STATUS_BAD;
}

/* Reads another process's frame through the identity map (supervisor here): #PF. */
long procs_peek(long pa)
{
	return *(volatile uint64_t *)pa ? PROCS_STATUS_BAD : PROCS_STATUS_BAD - 1;
}

/* A ud2 that is no system call: #UD. */
long procs_ud(long arg)
{
	__asm__ volatile("ud2");
	return PROCS_STATUS_BAD;
}

/* A non-canonical address: #GP. */
long procs_gp(long arg)
{
	return *(volatile uint64_t *)0x8000000000000000ull ? PROCS_STATUS_BAD : PROCS_STATUS_BAD - 1;
}
