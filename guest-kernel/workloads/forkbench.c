/*
 * forkbench size=S children=K: one process (user/forkbench.c) maps S
 * lazily, writes every page and forks K children one after another; each
 * child takes one copy-on-write fault on its first write (timed), checks
 * its parent's data and writes its own; the parent checks that its data
 * stayed its own after each child's exit.  Init (here) reads each
 * process's figures from its stack when proc_wait tears it down
 * (proc_reap_hook), and reports the medians over the K forks of fork_ns
 * (the fork call in the parent), first_write_ns (the child's first write)
 * and exit_ns (from the child's last instruction before exit to the
 * parent's wait returning), children, errors, cow_faults, cow_copies,
 * shared_tables (page tables the last fork shared: fork=shared), privatized
 * (shared tables copied at a first change) and frames_free_before/after (before the first process, after the last:
 * must be equal).  Exit 0 iff errors == 0 and the two counts match.
 */
#include <gk/arch.h>
#include <gk/mm.h>
#include <gk/printf.h>
#include <gk/proc.h>
#include <gk/report.h>
#include <gk/sysabi.h>
#include <gk/time.h>
#include <gk/workload.h>
#include <gk/x86.h>
#include "../user/forkbench.h"

static uint64_t fb_pages, fb_children;

/* What init collected from the processes (ring 3, init only). */
static struct {
	int parent;                             /* its pid; children are parent + 1 + k */
	bool parent_done;
	uint64_t parent_errors, forks;
	uint64_t fork_cycles[FORKBENCH_MAX_CHILDREN], wait_tsc[FORKBENCH_MAX_CHILDREN];
	bool child_done[FORKBENCH_MAX_CHILDREN];
	uint64_t child_errors;
	uint64_t first_write[FORKBENCH_MAX_CHILDREN], exit_tsc[FORKBENCH_MAX_CHILDREN];
} fb;

/* proc_reap_hook: a process's figures, before its memory goes. */
static void fb_collect(int pid)
{
	uint64_t pa = proc_lookup(pid, FORKBENCH_RESULT), k = (uint64_t)(pid - fb.parent - 1);
	const uint64_t *r = (const uint64_t *)(uintptr_t)pa;

	if (!pa)
		return;
	if (pid == fb.parent && r[0] == FORKBENCH_MAGIC && r[2] <= FORKBENCH_MAX_CHILDREN) {
		fb.parent_done = true;
		fb.parent_errors = r[1];
		fb.forks = r[2];
		for (uint64_t i = 0; i < fb.forks; i++) {
			fb.fork_cycles[i] = r[FORKBENCH_FORK_CYCLES + i];
			fb.wait_tsc[i] = r[FORKBENCH_WAIT_TSC + i];
		}
	} else if (pid > fb.parent && k < fb_children && r[0] == FORKBENCH_CHILD_MAGIC) {
		fb.child_done[k] = true;
		fb.child_errors += r[1];
		fb.first_write[k] = r[2];
		fb.exit_tsc[k] = r[3];
	}
}

/* The median of v[0..n) in ns (v in cycles; sorted in place); 0 if n == 0. */
static uint64_t fb_median_ns(uint64_t *v, uint64_t n)
{
	for (uint64_t i = 1; i < n; i++)
		for (uint64_t j = i; j > 0 && v[j - 1] > v[j]; j--) {
			uint64_t t = v[j];

			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	if (!n)
		return 0;
	return time_cycles_to_ns(n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2);
}

static long fb_init(void *arg)
{
	uint64_t free_before = frame_free_4k_count(), free_after, errors = 0, children = 0;
	uint64_t cow0 = proc_stats.cow_faults, copies0 = proc_stats.cow_copies;
	uint64_t priv0 = proc_stats.privatized;
	uint64_t exit_cycles[FORKBENCH_MAX_CHILDREN], fork_ns, fw_ns, exit_ns;
	int status = -1, w;

	(void)arg;
	proc_reap_hook = fb_collect;
	fb.parent = proc_create(forkbench_proc, FORKBENCH_ARG(fb_pages, fb_children));
	if (fb.parent < 0) {
		printf("guest: forkbench: create failed: %d\n", fb.parent);
		return 1;
	}
	w = proc_wait(&status);
	proc_reap_hook = NULL;
	free_after = frame_free_4k_count();
	if (w != fb.parent || status != 0 || !fb.parent_done) {
		printf("guest: forkbench: pid %d: wait %d, status 0x%x, %s\n", fb.parent, w, status,
		       fb.parent_done ? "results" : "no results");
		errors++;
	}
	errors += fb.parent_errors + fb.child_errors;
	for (uint64_t k = 0; k < fb.forks; k++) {
		exit_cycles[k] = fb.wait_tsc[k] - fb.exit_tsc[k];
		children += fb.child_done[k];
	}
	if (children != fb_children) {
		printf("guest: forkbench: %lu of %lu children left results\n",
		       (unsigned long)children, (unsigned long)fb_children);
		errors++;
	}
	fork_ns = fb_median_ns(fb.fork_cycles, fb.forks);
	fw_ns = fb_median_ns(fb.first_write, fb.forks);
	exit_ns = fb_median_ns(exit_cycles, fb.forks);
	report("pages", (int64_t)fb_pages, 0);
	report("children", (int64_t)children, 0);
	report("errors", (int64_t)errors, 0);
	report("fork_ns", (int64_t)fork_ns, 0);
	report("first_write_ns", (int64_t)fw_ns, 0);
	report("exit_ns", (int64_t)exit_ns, 0);
	report("cow_faults", (int64_t)(proc_stats.cow_faults - cow0), 0);
	report("cow_copies", (int64_t)(proc_stats.cow_copies - copies0), 0);
	report("shared_tables", (int64_t)proc_stats.shared_tables, 0);
	report("privatized", (int64_t)(proc_stats.privatized - priv0), 0);
	report("frames_free_before", (int64_t)free_before, 0);
	report("frames_free_after", (int64_t)free_after, 0);
	printf("forkbench: %lu pages, %lu children, medians fork_ns=%lu first_write_ns=%lu exit_ns=%lu, cow_faults=%lu cow_copies=%lu, shared_tables=%lu privatized=%lu, %lu errors\n",
	       (unsigned long)fb_pages, (unsigned long)children, (unsigned long)fork_ns,
	       (unsigned long)fw_ns, (unsigned long)exit_ns,
	       (unsigned long)(proc_stats.cow_faults - cow0),
	       (unsigned long)(proc_stats.cow_copies - copies0),
	       (unsigned long)proc_stats.shared_tables,
	       (unsigned long)(proc_stats.privatized - priv0), (unsigned long)errors);
	if (free_after != free_before)
		printf("guest: forkbench: %lu free 4 KiB frames before, %lu after\n",
		       (unsigned long)free_before, (unsigned long)free_after);
	return errors || free_after != free_before;
}

static int fb_setup(const struct wl_args *a)
{
	uint64_t size;

	if (wl_arg_u64(a, "forkbench", "size", 16ull << 20, PAGE_SIZE_4K,
		       PROC_LAZY_MAX_PAGES * PAGE_SIZE_4K, true, &size) ||
	    wl_arg_u64(a, "forkbench", "children", 4, 0, FORKBENCH_MAX_CHILDREN, false,
		       &fb_children))
		return -1;
	if (size % PAGE_SIZE_4K) {
		printf("guest: forkbench: size=%lu is not a multiple of 4 KiB\n",
		       (unsigned long)size);
		return -1;
	}
	fb_pages = size / PAGE_SIZE_4K;
	return 0;
}

static int fb_main(void)
{
	return (int)user_run(fb_init, NULL);
}

static const char *const fb_params[] = { "size", "children", NULL };

const struct workload wl_forkbench = {
	.name = "forkbench",
	.usage = "size=S children=K",
	.params = fb_params,
	.setup = fb_setup,
	.main = fb_main,
};
