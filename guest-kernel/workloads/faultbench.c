/*
 * faultbench size=S pattern=seq|random: one process (user/faultbench.c)
 * maps S lazily and writes one word in every page (in order, or in a
 * scattered order), then verifies.  Init reads the touch loop's cycles from
 * the process's stack after a yield, waits for it, and reports faults (page
 * faults that mapped memory), fault_pages (pages they mapped), pages,
 * ns_per_fault, ns_per_page (3 decimals), errors and faultaround (the
 * boot argument; -1 = auto).  Exit 0 iff errors == 0.
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
#include "../user/faultbench.h"

static uint64_t fb_pages;
static bool fb_random;

static long fb_init(void *arg)
{
	uint64_t stride = fb_random ? wl_coprime_stride(fb_pages, fb_pages / 2 + 17) : 1;
	uint64_t faults0 = proc_stats.faults, mapped0 = proc_stats.fault_pages;
	uint64_t faults, mapped, cycles = 0, errors = 0, ns;
	const uint64_t *r;
	int status = -1, pid;

	(void)arg;
	pid = proc_create(faultbench_proc, FAULTBENCH_ARG(fb_pages, stride));
	if (pid < 0) {
		printf("guest: faultbench: create failed: %d\n", pid);
		return 1;
	}
	r = wl_proc_result(pid, FAULTBENCH_RESULT, 2, FAULTBENCH_MAGIC, NULL, NULL);
	if (!r) {
		printf("guest: faultbench: no result from pid %d\n", pid);
		errors++;
	} else {
		cycles = r[0];
		errors += r[1];
	}
	faults = proc_stats.faults - faults0;
	mapped = proc_stats.fault_pages - mapped0;
	if (proc_wait(&status) != pid || status != 0) {
		printf("guest: faultbench: pid %d ended with status 0x%x\n", pid, status);
		errors++;
	}
	if (mapped != fb_pages) {
		printf("guest: faultbench: %lu pages mapped by faults, expected %lu\n",
		       (unsigned long)mapped, (unsigned long)fb_pages);
		errors++;
	}
	ns = time_cycles_to_ns(cycles);
	report("pages", (int64_t)fb_pages, 0);
	report("faults", (int64_t)faults, 0);
	report("fault_pages", (int64_t)mapped, 0);
	report("touch_ns", (int64_t)ns, 0);
	report("ns_per_fault", faults ? (int64_t)(ns * 1000 / faults) : 0, 3);
	report("ns_per_page", (int64_t)(ns * 1000 / fb_pages), 3);
	report("faultaround", proc_faultaround, 0);
	report("errors", (int64_t)errors, 0);
	printf("faultbench: %lu pages %s, %lu faults, %lu ns, %lu errors\n",
	       (unsigned long)fb_pages, fb_random ? "random" : "seq", (unsigned long)faults,
	       (unsigned long)ns, (unsigned long)errors);
	return errors != 0;
}

static int fb_setup(const struct wl_args *a)
{
	const char *pat = wl_arg(a, "pattern");
	uint64_t size;

	if (wl_arg_u64(a, "faultbench", "size", 16ull << 20, PAGE_SIZE_4K,
		       PROC_LAZY_MAX_PAGES * PAGE_SIZE_4K, true, &size))
		return -1;
	if (size % PAGE_SIZE_4K) {
		printf("guest: faultbench: size=%lu is not a multiple of 4 KiB\n",
		       (unsigned long)size);
		return -1;
	}
	if (pat && strcmp(pat, "seq") && strcmp(pat, "random")) {
		printf("guest: faultbench: bad value pattern=%s (want seq|random)\n", pat);
		return -1;
	}
	fb_pages = size / PAGE_SIZE_4K;
	fb_random = pat && !strcmp(pat, "random");
	return 0;
}

static int fb_main(void)
{
	return (int)user_run(fb_init, NULL);
}

static const char *const fb_params[] = { "size", "pattern", NULL };

const struct workload wl_faultbench = {
	.name = "faultbench",
	.usage = "size=S pattern=seq|random",
	.params = fb_params,
	.setup = fb_setup,
	.main = fb_main,
};
