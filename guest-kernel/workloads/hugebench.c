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
 * 0.  fragment=1 (2 MiB frames used up first, so a 2 MiB mmap falls back to
 * 4 KiB pages) waits for that fallback: refused until then.
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

static uint64_t hb_units, hb_passes;
static bool hb_huge;

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

static long hb_init(void *arg)
{
	uint64_t pages = hb_units * 512, errors = 0, huge = 0, small = 0, c1 = 0, c2 = 0;
	const uint64_t *r;
	int status = -1, pid;
	uint64_t pa;

	(void)arg;
	pid = proc_create(hugebench_proc, HUGEBENCH_ARG(hb_units, hb_passes, hb_huge));
	if (pid < 0) {
		printf("guest: hugebench: create failed: %d\n", pid);
		return 1;
	}
	usys_call(SYS_YIELD, 0, 0, 0, 0, 0);    /* the process runs until its yield */
	pa = proc_lookup(pid, HUGEBENCH_RESULT);
	r = (const uint64_t *)(uintptr_t)pa;
	if (!pa || r[0] != HUGEBENCH_MAGIC) {
		printf("guest: hugebench: no result from pid %d\n", pid);
		errors++;
	} else {
		errors += r[1] + hb_count(pid, r[2], &huge, &small);
		c1 = r[3];
		c2 = r[4];
	}
	if (proc_wait(&status) != pid || status != 0) {
		printf("guest: hugebench: pid %d ended with status 0x%x\n", pid, status);
		errors++;
	}
	report("pages", (int64_t)pages, 0);
	report("units", (int64_t)hb_units, 0);
	report("huge_mappings", (int64_t)huge, 0);
	report("small_mappings", (int64_t)small, 0);
	report("first_ns_per_page", (int64_t)(time_cycles_to_ns(c1) * 1000 / pages), 3);
	report("ns_per_page", hb_passes > 1 ?
	       (int64_t)(time_cycles_to_ns(c2) * 1000 / (pages * (hb_passes - 1))) : 0, 3);
	report("errors", (int64_t)errors, 0);
	printf("hugebench: %lu pages, %lu 2M units mapped huge, %lu small, %lu errors\n",
	       (unsigned long)pages, (unsigned long)huge, (unsigned long)small,
	       (unsigned long)errors);
	return errors != 0;
}

static int hb_setup(const struct wl_args *a)
{
	const char *map = wl_arg(a, "map");
	uint64_t size, frag;

	if (wl_arg_u64(a, "hugebench", "size", 64ull << 20, PAGE_SIZE_2M,
		       PROC_MMAP_MAX_PAGES * PAGE_SIZE_2M, true, &size) ||
	    wl_arg_u64(a, "hugebench", "passes", 3, 1, 255, false, &hb_passes) ||
	    wl_arg_u64(a, "hugebench", "fragment", 0, 0, 1, false, &frag))
		return -1;
	if (size % PAGE_SIZE_2M) {
		printf("guest: hugebench: size=%lu is not a multiple of 2 MiB\n", (unsigned long)size);
		return -1;
	}
	if (map && strcmp(map, "2m") && strcmp(map, "4k")) {
		printf("guest: hugebench: bad value map=%s (want 2m|4k)\n", map);
		return -1;
	}
	if (frag) {
		printf("guest: hugebench: fragment=1 needs the 4 KiB fallback of 2 MiB mmap "
		       "(not built yet)\n");
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

static const char *const hb_params[] = { "size", "map", "passes", "fragment", NULL };

const struct workload wl_hugebench = {
	.name = "hugebench",
	.usage = "size=S map=2m|4k passes=P fragment=0",
	.params = hb_params,
	.setup = hb_setup,
	.main = hb_main,
};
