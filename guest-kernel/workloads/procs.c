/*
 * procs n=K: K worker processes (user/procs.c) each map private memory at
 * the same user address, fill it with a pattern of their pid, yield, verify,
 * try bad system-call arguments, munmap and mprotect parts of regions,
 * and exit with a status derived from their pid; six more processes each
 * commit one fault (an unmapped address, a write to a read-only page, a
 * write to the read-only middle of a region, a read of a worker's frame
 * through the identity map, a stray ud2, a non-canonical address) and must
 * be killed while the others finish.  Init (this file, ring 3 on the kernel's tables)
 * checks after one round that every worker's page at that address is a
 * different frame holding that worker's own pattern, then waits for all
 * and checks every status.  Then one process checks fork across four
 * generations (each sees only its own and its ancestors' earlier writes)
 * and forks until the table is full (-EAGAIN).  Then `cycles` more
 * workers are created and reaped one at a time, and the frame allocator's
 * free count
 * (frame_free_4k_count) must be exactly what it was before the first
 * process.  Exit 0 iff all are as expected.
 */
#include <gk/arch.h>
#include <gk/aspace.h>
#include <gk/mm.h>
#include <gk/printf.h>
#include <gk/proc.h>
#include <gk/report.h>
#include <gk/sysabi.h>
#include <gk/workload.h>
#include <gk/x86.h>
#include "../user/procs.h"

static uint64_t procs_n, procs_cycles;

struct procs_bad {
	const char *name;
	long (*fn)(long);
	int vector;             /* the expected exception */
};

static const struct procs_bad procs_bad[] = {
	{ "unmapped", procs_unmapped, 14 },
	{ "readonly", procs_readonly, 14 },
	{ "readonly_part", procs_readonly_part, 14 },
	{ "peek", procs_peek, 14 },
	{ "ud", procs_ud, 6 },
	{ "gp", procs_gp, 13 },
};
#define PROCS_NBAD (sizeof(procs_bad) / sizeof(procs_bad[0]))
#define PROCS_MAX_WORKERS (PROC_MAX - 1 - PROCS_NBAD)

static long procs_init(void *arg)
{
	int pid[PROC_MAX], expect[PROC_MAX], n = 0, ok = 0, killed = 0, errors = 0, isolated = 0;
	int forks_ok = 0;
	uint64_t frame[PROC_MAX], free_before = frame_free_4k_count(), free_after;

	for (uint64_t i = 0; i < procs_n; i++) {
		pid[n] = proc_create(procs_worker, (long)i);
		if (pid[n] < 0) {
			printf("guest: procs: create failed: %d\n", pid[n]);
			return 1;
		}
		expect[n] = PROCS_STATUS(pid[n]);
		n++;
	}
	for (unsigned i = 0; i < PROCS_NBAD; i++) {
		long a = (long)proc_lookup(pid[0], AS_STACK_TOP - 8);   /* a worker's frame */

		pid[n] = proc_create(procs_bad[i].fn, a);
		if (pid[n] < 0) {
			printf("guest: procs: create failed: %d\n", pid[n]);
			return 1;
		}
		expect[n++] = SYS_STATUS_KILLED | procs_bad[i].vector;
	}
	/* One round: every worker has mapped and filled its memory and yielded. */
	usys_call(SYS_YIELD, 0, 0, 0, 0, 0);
	for (uint64_t i = 0; i < procs_n; i++) {
		frame[i] = proc_lookup(pid[i], AS_USER_BASE);
		if (!frame[i] || *(uint64_t *)(uintptr_t)frame[i] !=
		    ((uint64_t)pid[i] << 40) * 0x9e3779b97f4a7c15ull) {
			printf("guest: procs: pid %d: its page at 0x%lx is not its own\n", pid[i],
			       (unsigned long)AS_USER_BASE);
			errors++;
			continue;
		}
		for (uint64_t j = 0; j < i; j++)
			if (frame[j] == frame[i])
				errors++;
		isolated++;
	}
	for (int left = n; left > 0; left--) {
		int status = -1, w = proc_wait(&status), i;

		for (i = 0; i < n && pid[i] != w; i++)
			;
		if (i == n) {
			printf("guest: procs: wait returned %d\n", w);
			errors++;
			break;
		}
		if (status != expect[i]) {
			printf("guest: procs: pid %d ended with status 0x%x, expected 0x%x\n",
			       w, status, expect[i]);
			errors++;
		} else if (status & SYS_STATUS_KILLED) {
			killed++;
		} else {
			ok++;
		}
	}
	if (proc_wait(NULL) != -SYS_ECHILD)
		errors++;
	/* Fork: generations, then a full table (no other process is alive now). */
	{
		int st = -1, p = proc_create(procs_forks, 0), w = p < 0 ? p : proc_wait(&st);

		if (w != p || st != PROCS_STATUS(p)) {
			printf("guest: procs: forks: pid %d wait %d status 0x%x\n", p, w, st);
			errors++;
		} else {
			forks_ok = 1;
		}
	}
	/* Create/exit cycles, one worker at a time; then every frame must be back. */
	for (uint64_t c = 0; c < procs_cycles; c++) {
		int st = -1, p = proc_create(procs_worker, (long)c), w = p < 0 ? p : proc_wait(&st);

		if (w != p || st != PROCS_STATUS(p)) {
			printf("guest: procs: cycle %lu: pid %d wait %d status 0x%x\n",
			       (unsigned long)c, p, w, st);
			errors++;
		}
	}
	free_after = frame_free_4k_count();
	if (free_after != free_before) {
		printf("guest: procs: %lu free 4 KiB frames before, %lu after\n",
		       (unsigned long)free_before, (unsigned long)free_after);
		errors++;
	}
	report("procs", (int64_t)procs_n, 0);
	report("exited_ok", ok, 0);
	report("killed", killed, 0);
	report("isolated", isolated, 0);
	report("errors", errors, 0);
	report("switches", (int64_t)proc_stats.switches, 0);
	report("syscalls", (int64_t)proc_stats.syscalls, 0);
	report("bad_args", (int64_t)proc_stats.bad_args, 0);
	report("faults", (int64_t)proc_stats.faults, 0);
	report("fault_pages", (int64_t)proc_stats.fault_pages, 0);
	report("cycles", (int64_t)procs_cycles, 0);
	report("forks_ok", forks_ok, 0);
	report("forks", (int64_t)proc_stats.forks, 0);
	report("cow_faults", (int64_t)proc_stats.cow_faults, 0);
	report("cow_copies", (int64_t)proc_stats.cow_copies, 0);
	report("privatized", (int64_t)proc_stats.privatized, 0);
	report("unlinked", (int64_t)proc_stats.unlinked, 0);
	report("tables_freed", (int64_t)proc_stats.tables_freed, 0);
	report("frames_free_before", (int64_t)free_before, 0);
	report("frames_free_after", (int64_t)free_after, 0);
	printf("procs: %d exited as expected, %d killed as expected, %d errors\n", ok, killed, errors);
	return errors || ok != (int)procs_n || killed != (int)PROCS_NBAD;
}

static int procs_setup(const struct wl_args *a)
{
	return wl_arg_u64(a, "procs", "n", 4, 1, PROCS_MAX_WORKERS, false, &procs_n) ||
	       wl_arg_u64(a, "procs", "cycles", 8, 0, 1000, false, &procs_cycles);
}

static int procs_main(void)
{
	return (int)user_run(procs_init, NULL);
}

static const char *const procs_params[] = { "n", "cycles", NULL };

const struct workload wl_procs = {
	.name = "procs",
	.usage = "n=K cycles=C",
	.params = procs_params,
	.setup = procs_setup,
	.main = procs_main,
};
