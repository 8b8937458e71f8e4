/* SPDX-License-Identifier: MIT */
/*
 * vmm: options -> VM -> run -> report.  The only place that exits.
 *
 * Exit status: the guest's code; PV_STATUS_USAGE (2) for bad usage or input
 * (options, image, sizes, stats file, swap directory); PV_STATUS_VM_FAILED (3) when
 * the VM could not be created or failed while running; PV_STATUS_REPORT (4) when
 * the report could not be written.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pagevisor/abi.h"
#include "vmm/config.h"
#include "vmm/elf.h"
#include "vmm/statsfile.h"
#include "vmm/vm.h"

static uint64_t main_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * SIGINT and SIGTERM stay blocked for the whole life of the process: during
 * the run vm_run() takes them with sigwait, and one that comes before the
 * run (pending) or after it (absorbed) can never kill the VMM between the
 * end of the guest and a complete report.  SIGPIPE is ignored: a closed
 * stdout is a write error, reported, not a silent death.
 */
static void main_signals(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
}

struct main_report {
	struct vm *vm;
	uint64_t wall_ns;
};

static int main_write_json(FILE *f, void *arg)
{
	struct main_report *r = arg;

	return vm_write_json(r->vm, f, r->wall_ns);
}

int main(int argc, char **argv)
{
	struct vm_config cfg;
	static struct vm vm;
	struct statsfile stats = { .tmp_fd = -1 };
	struct main_report rep = { .vm = &vm };
	void *image = NULL;
	size_t image_len = 0;
	char err[256] = "";
	uint64_t t0 = main_now_ns(), wall;
	int status = PV_STATUS_USAGE, ret;

	main_signals();
	ret = config_parse(&cfg, argc, argv, stdout, stderr);
	if (ret == CONFIG_DONE) {
		status = 0;
		goto out_cfg;
	}
	if (ret < 0 || config_check_memory(cfg.mem_size, config_host_memory(), stderr))
		goto out_cfg;
	if (cfg.hugepages && config_check_hugepages(cfg.mem_size, config_host_hugepages(), stderr))
		goto out_cfg;
	if (elf_read_file(cfg.image, &image, &image_len, err, sizeof(err))) {
		fprintf(stderr, "vmm: %s: %s\n", cfg.image, err);
		goto out_cfg;
	}
	if (cfg.stats_path && statsfile_open(&stats, cfg.stats_path))
		goto out_image;

	status = PV_STATUS_VM_FAILED;
	if (vm_init(&vm, &cfg, stdout))
		goto out_vm;
	ret = vm_swap_prepare(&vm);
	if (ret) {
		if (ret != -ENOMEM)
			status = PV_STATUS_USAGE;       /* the swap file was refused */
		goto out_vm;
	}
	ret = vm_load_image(&vm, image, image_len, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "vmm: %s: %s\n", cfg.image, err);
		status = PV_STATUS_USAGE;
		goto out_vm;
	}
	if (vm_create_kvm(&vm))
		goto out_vm;
	ret = vm_boot(&vm);
	if (ret == -ENOSPC) {
		fprintf(stderr, "vmm: the guest command line (%zu bytes) does not fit the %u-byte device tree\n",
			strlen(cfg.cmdline), PV_BOOT_FDT_MAX);
		status = PV_STATUS_USAGE;
		goto out_vm;
	}
	if (ret) {
		fprintf(stderr, "vmm: preparing the boot state: %s\n", strerror(-ret));
		goto out_vm;
	}
	if (vm_swap_start(&vm))
		goto out_vm;
	vm_run(&vm);

	status = vm.exit_status;
	if (atomic_load(&vm.end) == VM_END_FAILED)
		fprintf(stderr, "vmm: VM failed: %s\n", vm.fail_msg);
	wall = main_now_ns() - t0;
	if (!cfg.quiet)
		vm_print_table(&vm, stderr, wall);
	if (cfg.stats_path) {
		fflush(stdout);
		rep.wall_ns = wall;
		if (statsfile_write(&stats, main_write_json, &rep))
			status = PV_STATUS_REPORT;
	}
out_vm:
	vm_destroy(&vm);
out_image:
	statsfile_close(&stats);
	free(image);
out_cfg:
	config_free(&cfg);
	return status;
}
