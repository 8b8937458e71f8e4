/* SPDX-License-Identifier: MIT */
/*
 * vmm: options -> VM -> run -> report.  The only place that exits.
 *
 * Exit status: the guest's code; PV_STATUS_USAGE (2) for bad usage or input
 * (options, image, sizes, stats file, swap file); PV_STATUS_VM_FAILED (3) when the VM
 * could not be created or failed while running.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pagevisor/abi.h"
#include "vmm/config.h"
#include "vmm/elf.h"
#include "vmm/vm.h"

static uint64_t main_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Open the --stats destination before the run, so a bad path fails early. */
static FILE *main_open_stats(const char *path)
{
	FILE *f;

	if (!path)
		return NULL;
	if (strcmp(path, "-") == 0)
		return stdout;
	f = fopen(path, "w");
	if (!f)
		fprintf(stderr, "vmm: --stats %s: cannot open for writing: %s\n", path,
			strerror(errno));
	return f;
}

int main(int argc, char **argv)
{
	struct vm_config cfg;
	static struct vm vm;
	FILE *stats = NULL;
	void *image = NULL;
	size_t image_len = 0;
	char err[256] = "";
	uint64_t t0 = main_now_ns(), wall;
	int status = PV_STATUS_USAGE, ret;

	ret = config_parse(&cfg, argc, argv, stdout, stderr);
	if (ret == CONFIG_DONE) {
		status = 0;
		goto out_cfg;
	}
	if (ret < 0 || config_check_memory(cfg.mem_size, config_host_memory(), stderr))
		goto out_cfg;
	if (elf_read_file(cfg.image, &image, &image_len, err, sizeof(err))) {
		fprintf(stderr, "vmm: %s: %s\n", cfg.image, err);
		goto out_cfg;
	}
	if (cfg.stats_path) {
		stats = main_open_stats(cfg.stats_path);
		if (!stats)
			goto out_image;
	}

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
	if (stats) {
		fflush(stdout);
		if (vm_write_json(&vm, stats, wall))
			fprintf(stderr, "vmm: --stats %s: write failed\n", cfg.stats_path);
	}
out_vm:
	vm_destroy(&vm);
out_image:
	if (stats && stats != stdout && fclose(stats))
		fprintf(stderr, "vmm: --stats %s: %s\n", cfg.stats_path, strerror(errno));
	free(image);
out_cfg:
	config_free(&cfg);
	return status;
}
