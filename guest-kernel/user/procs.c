/*
 * The processes of workload procs (workloads/procs.c).  Code under user/ is
 * linked into .utext and runs in ring 3 in its own address space: it may
 * call nothing but what is in this directory (usys_call), and must have no
 * writable statics (the user image is read-only).
 */
#include <stdint.h>
#include <gk/aspace.h>
#include <gk/proc.h>
#include <gk/sysabi.h>
#include "procs.h"

static inline long u_sys(long nr, long a1, long a2, long a3, long a4)
{
	return usys_call(nr, a1, a2, a3, a4, 0);
}

#define U_PAGE 4096l
#define U_2M   (2l << 20)
#define U_RW   (SYS_PROT_READ | SYS_PROT_WRITE)

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
	e += u_sys(SYS_MUNMAP, AS_USER_BASE + 123, 4096, 0, 0) != -SYS_EINVAL; /* unaligned */
	e += u_sys(SYS_MUNMAP, AS_USER_BASE, 0, 0, 0) != -SYS_EINVAL;
	e += u_sys(SYS_MUNMAP, AS_USER_BASE, 100, 0, 0) != -SYS_EINVAL;
	e += u_sys(SYS_MUNMAP, AS_USER_BASE, -4096, 0, 0) != -SYS_EINVAL;       /* wraps */
	e += u_sys(SYS_MUNMAP, AS_MMAP_END - 4096, 8192, 0, 0) != -SYS_EINVAL;  /* past mmap's */
	e += u_sys(SYS_MUNMAP, AS_STACK_TOP - 4096, 4096, 0, 0) != -SYS_EINVAL; /* the stack */
	e += u_sys(SYS_MPROTECT, -4096, 8192, 1, 0) != -SYS_EINVAL;
	e += u_sys(SYS_MPROTECT, AS_USER_BASE + 123, 4096, 1, 0) != -SYS_EINVAL;
	e += u_sys(SYS_MPROTECT, AS_USER_BASE, 0, 1, 0) != -SYS_EINVAL;
	e += u_sys(SYS_MPROTECT, AS_USER_BASE, -4096, 1, 0) != -SYS_EINVAL;
	e += u_sys(SYS_WAIT, 0x100000, 0, 0, 0) != -SYS_EFAULT;
	e += u_sys(SYS_WAIT, AS_STACK_TOP - 2, 0, 0, 0) != -SYS_EFAULT; /* unaligned */
	e += u_sys(SYS_WAIT, 0, 0, 0, 0) != -SYS_ECHILD;
	e += u_sys(SYS_REPORT, 0x100000, 1, 0, 0) != -SYS_EFAULT;
	e += u_sys(SYS_MPROTECT, AS_USER_BASE, 4096, 7, 0) != -SYS_EINVAL; /* prot */
	e += u_sys(99, 0, 0, 0, 0) != -SYS_ENOSYS;
	return e;
}

/* One-page mmaps into a[0..max) until the region slots run out; how many. */
static long u_fill(long *a, long max)
{
	long n = 0;

	while (n < max && (a[n] = u_sys(SYS_MMAP, 0, U_PAGE, U_RW, 0)) > 0)
		n++;
	return n;
}

/* a[0..n) unmapped again; one error per failure. */
static long u_unfill(const long *a, long n)
{
	long e = 0;

	while (n--)
		e += u_sys(SYS_MUNMAP, a[n], U_PAGE, 0, 0) != 0;
	return e;
}

/* The first word of page i of q. */
#define U_W(q, i) ((q)[(i) * (U_PAGE / 8)])

/*
 * Partial mprotect and munmap of a 7-page region q (all mmap slots free on
 * entry); u_fill counts the free slots, so the pieces.  A write the kernel
 * wrongly forbids kills the worker: its status is then wrong.
 */
static long u_partial(long pid)
{
	uint64_t *q = (uint64_t *)u_sys(SYS_MMAP, 0, 7 * U_PAGE, U_RW, 0);
	long e = 0, a[PROC_REGIONS], n;

	if ((long)q < 0)
		return 1;
	for (int i = 0; i < 7; i++)
		if (i != 2 && i != 6)           /* 2 and 6 first fault below */
			U_W(q, i) = u_pattern(pid, 100 + i);
	e += u_sys(SYS_MPROTECT, (long)q + U_PAGE, 2 * U_PAGE, SYS_PROT_READ, 0) != 0;
	n = u_fill(a, PROC_REGIONS);
	e += n != PROC_REGIONS - 1 - 3;         /* [0] RW, [1, 2] R, [3, 6] RW */
	e += u_unfill(a, n);
	e += U_W(q, 1) != u_pattern(pid, 101) || U_W(q, 2) != 0;      /* a read fault in R */
	U_W(q, 0) = u_pattern(pid, 200);        /* the pieces beside stay writable */
	U_W(q, 6) = u_pattern(pid, 106);        /* a write fault in RW */
	e += u_sys(SYS_MPROTECT, (long)q + 6 * U_PAGE, 2 * U_PAGE, SYS_PROT_READ, 0) != -SYS_ENOMEM;
	e += u_sys(SYS_MPROTECT, (long)q + 7 * U_PAGE, U_PAGE, SYS_PROT_READ, 0) != -SYS_ENOMEM;
	U_W(q, 6) = u_pattern(pid, 206);        /* the refused mprotect changed nothing */
	e += u_sys(SYS_MUNMAP, (long)q + 4 * U_PAGE, U_PAGE, 0, 0) != 0;       /* a split */
	e += u_sys(SYS_MUNMAP, (long)q + 2 * U_PAGE, U_PAGE, 0, 0) != 0;       /* a trim */
	e += u_sys(SYS_MUNMAP, (long)q + 2 * U_PAGE, U_PAGE, 0, 0) != 0;       /* a hole */
	n = u_fill(a, PROC_REGIONS);
	e += n != PROC_REGIONS - 1 - 4;         /* [0], [1], [3], [5, 6] */
	e += u_unfill(a, n);
	e += U_W(q, 0) != u_pattern(pid, 200) || U_W(q, 1) != u_pattern(pid, 101);
	e += U_W(q, 3) != u_pattern(pid, 103) || U_W(q, 5) != u_pattern(pid, 105);
	e += U_W(q, 6) != u_pattern(pid, 206);
	e += u_sys(SYS_MMAP, (long)q + 4 * U_PAGE, U_PAGE, U_RW, 0) != (long)q + 4 * U_PAGE;
	e += U_W(q, 4) != 0;                    /* a new frame, not the freed one's data */
	U_W(q, 4) = 1;
	e += u_sys(SYS_MMAP, (long)q + 2 * U_PAGE, 2 * U_PAGE, U_RW, 0) != -SYS_EINVAL;
	e += u_sys(SYS_MUNMAP, (long)q, 7 * U_PAGE, 0, 0) != 0;        /* pieces and a hole */
	n = u_fill(a, PROC_REGIONS);
	e += n != PROC_REGIONS - 1;             /* none left */
	e += u_unfill(a, n);
	e += u_sys(SYS_MPROTECT, (long)q, U_PAGE, SYS_PROT_READ, 0) != -SYS_ENOMEM;
	return e;
}

/*
 * A 3-page region z when the slots run out: splits are refused whole and
 * change nothing, trims and an exact mprotect still work, and a prot
 * changed and changed back joins the pieces again.
 */
static long u_slots(long pid)
{
	uint64_t *z = (uint64_t *)u_sys(SYS_MMAP, 0, 3 * U_PAGE, U_RW, 0);
	long e = 0, a[PROC_REGIONS], n, z1 = (long)z + U_PAGE;

	if ((long)z < 0)
		return 1;
	for (int i = 0; i < 3; i++)
		U_W(z, i) = u_pattern(pid, 300 + i);
	n = u_fill(a, PROC_REGIONS);
	if (n != PROC_REGIONS - 2)
		return e + 1 + u_unfill(a, n);
	e += u_unfill(a + n - 2, 2);            /* two slots free */
	e += u_sys(SYS_MPROTECT, z1, U_PAGE, SYS_PROT_READ, 0) != 0;
	e += u_sys(SYS_MPROTECT, z1, U_PAGE, U_RW, 0) != 0;
	U_W(z, 1) = u_pattern(pid, 301);        /* writable again */
	e += u_fill(a + n - 2, 2) != 2;         /* joined: both slots free again */
	e += u_sys(SYS_MPROTECT, z1, U_PAGE, SYS_PROT_READ, 0) != -SYS_ENOMEM;
	e += u_sys(SYS_MPROTECT, (long)z, U_PAGE, SYS_PROT_READ, 0) != -SYS_ENOMEM;
	e += u_sys(SYS_MUNMAP, z1, U_PAGE, 0, 0) != -SYS_ENOMEM;
	U_W(z, 0) = U_W(z, 0) + 1;              /* still RW, all of it */
	U_W(z, 1) = U_W(z, 1) + 1;
	e += U_W(z, 2) != u_pattern(pid, 302);
	e += u_sys(SYS_MUNMAP, (long)z, U_PAGE, 0, 0) != 0;            /* trims: no slot */
	e += u_sys(SYS_MUNMAP, (long)z + 2 * U_PAGE, U_PAGE, 0, 0) != 0;
	e += u_sys(SYS_MPROTECT, z1, U_PAGE, SYS_PROT_READ, 0) != 0;   /* exact: no slot */
	e += U_W(z, 1) != u_pattern(pid, 301) + 1;
	e += u_unfill(a, n);
	e += u_sys(SYS_MUNMAP, z1, U_PAGE, 0, 0) != 0;
	return e;
}

/*
 * A system call's buffer may span region pieces (as on Linux): a write
 * from a read-write page into a read-only one works; one running on into
 * a hole is -EFAULT.
 */
static long u_span(void)
{
	char *q = (char *)u_sys(SYS_MMAP, 0, 2 * U_PAGE, U_RW, 0);
	const char msg[] = "procs: span\n";
	long e = 0, n = (long)sizeof(msg) - 1;

	if ((long)q < 0)
		return 1;
	for (long i = 0; i < n; i++)
		q[U_PAGE - 4 + i] = msg[i];
	e += u_sys(SYS_MPROTECT, (long)q + U_PAGE, U_PAGE, SYS_PROT_READ, 0) != 0;
	e += u_sys(SYS_WRITE, (long)q + U_PAGE - 4, n, 0, 0) != n;
	e += u_sys(SYS_WRITE, (long)q + 2 * U_PAGE - 8, 16, 0, 0) != -SYS_EFAULT; /* the last mmap */
	e += u_sys(SYS_MUNMAP, (long)q, 2 * U_PAGE, 0, 0) != 0;
	return e;
}

/*
 * A 3-unit 2 MiB region: a munmap across units 1 and 2 splits both 2 MiB
 * pages it cuts, an mprotect of the 4 KiB piece left of unit 1 is exact,
 * one of unit 0 whole leaves its 2 MiB page; every word left keeps its
 * data; a 4 KiB mmap fits in the hole.
 */
static long u_partial_2m(long pid)
{
	uint64_t *h = (uint64_t *)u_sys(SYS_MMAP, 0, 3 * U_2M, U_RW, SYS_MAP_2M);
	long e = 0, m = (long)h + U_2M, w = U_2M / 8, pg = U_PAGE / 8;

	if ((long)h < 0)
		return 1;
	for (int i = 0; i < 3; i++) {
		h[i * w] = u_pattern(pid, 400 + i);
		h[i * w + pg] = u_pattern(pid, 410 + i);        /* page 1 of unit i */
	}
	e += u_sys(SYS_MUNMAP, m + U_PAGE, U_2M, 0, 0) != 0;   /* unit 1 but page 0, unit 2's page 0 */
	e += u_sys(SYS_MPROTECT, m, U_PAGE, SYS_PROT_READ, 0) != 0;
	e += u_sys(SYS_MPROTECT, (long)h, U_2M, SYS_PROT_READ, 0) != 0;
	e += h[0] != u_pattern(pid, 400) || h[pg] != u_pattern(pid, 410);
	e += h[w] != u_pattern(pid, 401) || h[2 * w + pg] != u_pattern(pid, 412);
	e += u_sys(SYS_MMAP, m + U_PAGE, U_PAGE, U_RW, 0) != m + U_PAGE;
	*(uint64_t *)(m + U_PAGE) = 1;
	e += u_sys(SYS_MUNMAP, (long)h, 3 * U_2M, 0, 0) != 0;
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
	errors += u_partial(pid) + u_slots(pid) + u_partial_2m(pid) + u_span();
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

/* Writes the middle page of three after making only it read-only: #PF there. */
long procs_readonly_part(long arg)
{
	volatile uint64_t *p = (uint64_t *)u_sys(SYS_MMAP, 0, 3 * U_PAGE, U_RW, 0);

	for (int i = 0; i < 3; i++)
		U_W(p, i) = 1;
	if (u_sys(SYS_MPROTECT, (long)p + U_PAGE, U_PAGE, SYS_PROT_READ, 0))
		return PROCS_STATUS_BAD;
	U_W(p, 0) = 2;
	U_W(p, 2) = 2;
	U_W(p, 1) = 2;
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

/* ---- fork: generations, and a full process table */

#define U_GENS 4                /* this process, child, grandchild, great-grandchild */

static inline uint64_t u_gen(long level, long round)
{
	return u_pattern(1000 + level, (uint64_t)round);
}

/*
 * Each generation forks the next (U_GENS in all).  Word 0 of page q and of
 * the 2 MiB page h is the value of whoever wrote it last in this process's
 * view; q[1 + l] is level l's own value.  A child must see its parent's
 * value from before the fork (not the parent's write after it) and every
 * ancestor's; it then writes its own.  A parent must see its own write
 * after its child exited, none of the child's.  The 2 MiB-aligned 4 KiB
 * region z (one page table, which fork=shared shares down the generations)
 * is unmapped whole by the last generation: every ancestor's z stays.
 * Errors; each child's errors come back as its exit status.
 */
static long u_generations(void)
{
	uint64_t *q = (uint64_t *)u_sys(SYS_MMAP, 0, U_PAGE, U_RW, 0);
	uint64_t *h = (uint64_t *)u_sys(SYS_MMAP, 0, U_2M, U_RW, SYS_MAP_2M);
	uint64_t *z = (uint64_t *)u_sys(SYS_MMAP, AS_USER_BASE + (1l << 30), U_2M, U_RW, 0);
	long level = 0, e = 0;

	if ((long)q < 0 || (long)h < 0 || (long)z < 0)
		return 1;
	q[0] = q[1] = h[0] = u_gen(0, 0);
	z[0] = z[U_2M / 8 - 1] = u_gen(0, 2);
	while (level < U_GENS - 1) {
		long pid = u_sys(SYS_FORK, 0, 0, 0, 0), w;
		int st = -1;

		if (pid < 0)
			return e + 1;
		if (pid == 0) {                 /* the child: its parent's data as of the fork */
			level++;
			e += q[0] != u_gen(level - 1, 0) || h[0] != u_gen(level - 1, 0);
			for (long l = 0; l < level; l++)
				e += q[1 + l] != u_gen(l, 0);
			e += q[1 + level] != 0;
			q[0] = q[1 + level] = h[0] = u_gen(level, 0);
			continue;
		}
		q[0] = h[0] = u_gen(level, 1);  /* after the fork: the child must not see it */
		w = u_sys(SYS_WAIT, (long)&st, 0, 0, 0);
		e += w != pid || st != 0;
		e += q[0] != u_gen(level, 1) || h[0] != u_gen(level, 1) || q[2 + level] != 0;
		e += z[0] != u_gen(0, 2) || z[U_2M / 8 - 1] != u_gen(0, 2);
		for (long l = 0; l <= level; l++)
			e += q[1 + l] != u_gen(l, 0);
		break;
	}
	e += u_sys(SYS_MUNMAP, (long)h, U_2M, 0, 0) != 0;
	if (level == U_GENS - 1)        /* the last generation: its parent checks z after */
		e += u_sys(SYS_MUNMAP, (long)z, U_2M, 0, 0) != 0;
	return e;
}

/*
 * Forks until the process table is full: the next fork must fail with
 * -EAGAIN (not crash); then every child (which only exits, status 7) is
 * waited for.  Errors.
 */
static long u_fork_full(void)
{
	long n = 0, pid, e = 0;

	while ((pid = u_sys(SYS_FORK, 0, 0, 0, 0)) > 0)
		n++;
	if (pid == 0)
		u_sys(SYS_EXIT, 7, 0, 0, 0);
	e += pid != -SYS_EAGAIN || n == 0 || n >= PROC_MAX;
	while (n--) {
		int st = -1;

		e += u_sys(SYS_WAIT, (long)&st, 0, 0, 0) <= 0 || st != 7;
	}
	e += u_sys(SYS_WAIT, 0, 0, 0, 0) != -SYS_ECHILD;
	return e;
}

long procs_forks(long arg)
{
	long pid = u_sys(SYS_GETPID, 0, 0, 0, 0), e = u_generations();

	/* Only the first process goes on: every descendant has exited in u_generations. */
	if (u_sys(SYS_GETPID, 0, 0, 0, 0) != pid)
		return e ? PROCS_STATUS_BAD : 0;
	e += u_fork_full();
	return e ? PROCS_STATUS_BAD : PROCS_STATUS(pid);
}
