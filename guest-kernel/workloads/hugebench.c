/*
 * hugebench size=S map=2m|4k passes=P: one process (user/hugebench.c)
 * maps S with 2 MiB pages (SYS_MAP_2M) or 4 KiB ones (lazy) and writes a
 * word in every 4 KiB page P times, checking the previous pass each time.
 * Init reads the process's results after a yield, counts how each 2 MiB
 * unit of the mapping is mapped (one 2 MiB entry, or 4 KiB pages) by
 * walking the process's tables, waits, and reports pages, units,
 * huge_mappings, small_mappings, first_ns_per_page (pass 1: the faults of
 * a 4 KiB mapping), ns_per_page (passes 2..P), errors.  The VMM's JSON has
 * KVM's page-fault counts beside them (kvm.vcpu[0]).  Exit 0 iff errors ==
 * 0.  The kernel's own counts of the process's 2 MiB mmap sit beside the
 * walk's: mmap_huge_units and mmap_small_units (proc_stats deltas).
 *
 * fragment=1 keep=K: before the process starts, init carves one 4 KiB
 * frame out of every whole free 2 MiB chunk but K (frame_carve_2m), so
 * the process's 2 MiB mmap finds at most K 2 MiB frames and its other
 * units fall back to 4 KiB pages; the frames go back as soon as the
 * process has mapped (it yields then).  fragment_frames: how many.
 * frames_free_before (before carving) and frames_free_after (after the
 * process is reaped) must be equal: every frame came back.
 *
 * ops=1 (map=2m): after the passes the process yields (init counts the
 * units then: huge_mappings, small_mappings) and runs munmap, mprotect and
 * a fork of two generations over the mapping (user/hugebench.c: hb_ops),
 * which split the 2 MiB pages: split_munmap, split_mprotect, split_cow
 * (proc_stats deltas) and huge_after_ops, small_after_ops (the walk at
 * the end).
 */
#include <string.h>
#include <gk/arch.h>
#include <gk/mm.h>
#include <gk/printf.h>
#include <gk/proc.h>
#include <gk/report.h>
#include <gk/sysabi.h>
#include <gk/time.h>
#include <gk/workload.h>
#include <gk/x86.h>
#include "../user/hugebench.h"

static uint64_t hb_units, hb_passes, hb_frag, hb_keep, hb_ops;
static bool hb_huge;

/*
 * Every whole free chunk but hb_keep carved: one frame taken out of each,
 * the frames chained through their first word.  The chain's head; *n: its
 * length.
 */
static uint64_t hb_fragment(uint64_t *n)
{
	uint64_t head = 0, f;

	*n = 0;
	while (frame_free_bytes() / PAGE_SIZE_2M > hb_keep && (f = frame_carve_2m())) {
		*(uint64_t *)(uintptr_t)f = head;
		head = f;
		(*n)++;
	}
	return head;
}

static void hb_unfragment(uint64_t head)
{
	while (head) {
		uint64_t next = *(uint64_t *)(uintptr_t)head;

		frame_free_4k(head);
		head = next;
	}
}

/* How each 2 MiB unit of pid's mapping at base is mapped; an unmapped unit is an error. */
static uint64_t hb_count(int pid, uint64_t base, uint64_t *huge, uint64_t *small)
{
	uint64_t errors = 0;

	*huge = *small = 0;
	for (uint64_t u = 0; u < hb_units; u++) {
		int l = proc_lookup_level(pid, base + u * PAGE_SIZE_2M);

		if (l == PT_LEVEL_2M)
			(*huge)++;
		else if (l == PT_LEVEL_4K)
			(*small)++;
		else
			errors++;
	}
	return errors;
}

/* Proc_stats' split counters, by cause. */
static void hb_splits(uint64_t out[3])
{
	out[0] = proc_stats.split_munmap;
	out[1] = proc_stats.split_mprotect;
	out[2] = proc_stats.split_cow;
}

/* What init learns while the process runs (hb_step). */
struct hb_run {
	int pid;
	uint64_t frag;          /* the fragmenting frames still held */
	bool counted;           /* the units counted after the passes (ops) */
	uint64_t huge, small, errors;
};

/*
 * wl_proc_result's step: once the process has mapped, the fragmenting
 * frames go back (so that a fork finds memory); once its passes are done
 * (ops), the units are counted, before the ops split them.
 */
static void hb_step(const uint64_t *r, void *ctx)
{
	struct hb_run *run = ctx;

	if (run->frag && r[5] == HUGEBENCH_MAPPED) {
		hb_unfragment(run->frag);
		run->frag = 0;
	}
	if (r[5] == HUGEBENCH_PASSED && !run->counted) {
		run->errors += hb_count(run->pid, r[2], &run->huge, &run->small);
		run->counted = true;
	}
}

static long hb_init(void *arg)
{
	uint64_t pages = hb_units * 512, errors = 0, c1 = 0, c2 = 0;
	uint64_t hu0 = proc_stats.huge_units, su0 = proc_stats.small_units;
	uint64_t free0 = frame_free_4k_count(), free1, nfrag = 0;
	uint64_t huge_after = 0, small_after = 0, sp0[3], sp1[3];
	struct hb_run run = { 0 };
	const uint64_t *r;
	int status = -1;

	(void)arg;
	hb_splits(sp0);
	if (hb_frag)
		run.frag = hb_fragment(&nfrag);
	run.pid = proc_create(hugebench_proc, HUGEBENCH_ARG(hb_units, hb_passes, hb_huge, hb_ops));
	if (run.pid < 0) {
		printf("guest: hugebench: create failed: %d\n", run.pid);
		hb_unfragment(run.frag);
		return 1;
	}
	/* It yields after its mmap, after its passes (ops), and with its results. */
	r = wl_proc_result(run.pid, HUGEBENCH_RESULT, 0, HUGEBENCH_MAGIC, hb_step, &run);
	hb_unfragment(run.frag);                /* not given back yet: the mmap failed */
	errors += run.errors;
	if (!r) {
		printf("guest: hugebench: no result from pid %d\n", run.pid);
		errors++;
	} else {
		/* without ops the units are counted now; with ops, again after them */
		errors += r[1] + (run.counted ? hb_count(run.pid, r[2], &huge_after, &small_after)
					      : hb_count(run.pid, r[2], &run.huge, &run.small));
		c1 = r[3];
		c2 = r[4];
	}
	if (hb_ops && !run.counted) {
		printf("guest: hugebench: the process never reported its passes done\n");
		errors++;
	}
	if (proc_wait(&status) != run.pid || status != 0) {
		printf("guest: hugebench: pid %d ended with status 0x%x\n", run.pid, status);
		errors++;
	}
	hb_splits(sp1);
	free1 = frame_free_4k_count();
	if (free1 != free0) {
		printf("guest: hugebench: %lu frames free before, %lu after\n",
		       (unsigned long)free0, (unsigned long)free1);
		errors++;
	}
	if (hb_ops) {
		report("huge_after_ops", (int64_t)huge_after, 0);
		report("small_after_ops", (int64_t)small_after, 0);
		report("split_munmap", (int64_t)(sp1[0] - sp0[0]), 0);
		report("split_mprotect", (int64_t)(sp1[1] - sp0[1]), 0);
		report("split_cow", (int64_t)(sp1[2] - sp0[2]), 0);
	}
	if (hb_frag)
		report("fragment_frames", (int64_t)nfrag, 0);
	report("frames_free_before", (int64_t)free0, 0);
	report("frames_free_after", (int64_t)free1, 0);
	report("pages", (int64_t)pages, 0);
	report("units", (int64_t)hb_units, 0);
	report("huge_mappings", (int64_t)run.huge, 0);
	report("small_mappings", (int64_t)run.small, 0);
	report("mmap_huge_units", (int64_t)(proc_stats.huge_units - hu0), 0);
	report("mmap_small_units", (int64_t)(proc_stats.small_units - su0), 0);
	report("first_ns_per_page", (int64_t)(time_cycles_to_ns(c1) * 1000 / pages), 3);
	report("ns_per_page", hb_passes > 1 ?
	       (int64_t)(time_cycles_to_ns(c2) * 1000 / (pages * (hb_passes - 1))) : 0, 3);
	report("errors", (int64_t)errors, 0);
	printf("hugebench: %lu pages, %lu 2M units mapped huge, %lu small, %lu errors\n",
	       (unsigned long)pages, (unsigned long)run.huge, (unsigned long)run.small,
	       (unsigned long)errors);
	return errors != 0;
}

static int hb_setup(const struct wl_args *a)
{
	const char *map = wl_arg(a, "map");
	uint64_t size;

	if (wl_arg_u64(a, "hugebench", "size", 64ull << 20, PAGE_SIZE_2M,
		       PROC_MMAP_MAX_PAGES * PAGE_SIZE_2M, true, &size) ||
	    wl_arg_u64(a, "hugebench", "passes", 3, 1, 255, false, &hb_passes) ||
	    wl_arg_u64(a, "hugebench", "fragment", 0, 0, 1, false, &hb_frag) ||
	    wl_arg_u64(a, "hugebench", "keep", 0, 0, PROC_MMAP_MAX_PAGES, false, &hb_keep) ||
	    wl_arg_u64(a, "hugebench", "ops", 0, 0, 1, false, &hb_ops))
		return -1;
	if (size % PAGE_SIZE_2M) {
		printf("guest: hugebench: size=%lu is not a multiple of 2 MiB\n", (unsigned long)size);
		return -1;
	}
	if (map && strcmp(map, "2m") && strcmp(map, "4k")) {
		printf("guest: hugebench: bad value map=%s (want 2m|4k)\n", map);
		return -1;
	}
	if (hb_ops && map && strcmp(map, "2m")) {
		printf("guest: hugebench: ops=1 goes with map=2m\n");
		return -1;
	}
	if (hb_keep && !hb_frag) {
		printf("guest: hugebench: keep=K goes with fragment=1\n");
		return -1;
	}
	hb_units = size / PAGE_SIZE_2M;
	hb_huge = !map || !strcmp(map, "2m");
	return 0;
}

static int hb_main(void)
{
	return (int)user_run(hb_init, NULL);
}

static const char *const hb_params[] = { "size", "map", "passes", "fragment", "keep", "ops",
					 NULL };

const struct workload wl_hugebench = {
	.name = "hugebench",
	.usage = "size=S map=2m|4k passes=P fragment=0|1 keep=K ops=0|1",
	.params = hb_params,
	.setup = hb_setup,
	.main = hb_main,
};
