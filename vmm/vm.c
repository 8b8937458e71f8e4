/* SPDX-License-Identifier: MIT */
#include "vmm/vm.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pagevisor/abi.h"
#include "pv_version.h"
#include "mmu/swapmode.h"
#include "vmm/boot.h"
#include "vmm/dtb.h"
#include "vmm/escape.h"
#include "vmm/balloon.h"
#include "vmm/json.h"
#include "vmm/kvm.h"
#include "vmm/kvmstats.h"
#include "vmm/metrics.h"
#include "vmm/vcpu.h"

int vm_init(struct vm *vm, const struct vm_config *cfg, FILE *console)
{
	int ret;

	memset(vm, 0, sizeof(*vm));
	vm->cfg = cfg;
	vm->kvm_fd = vm->vm_fd = vm->vm_stats_fd = -1;
	vm->console = console;
	report_init(&vm->reports);

	ret = cfg->anon_ram ? guestmem_init_anon(&vm->mem, cfg->mem_size) :
	      cfg->hugepages ? guestmem_init_hugetlb(&vm->mem, cfg->mem_size) :
			       guestmem_init(&vm->mem, cfg->mem_size);
	if (ret)
		return ret;
	ret = pvmmu_init(&vm->pvmmu, &vm->mem);
	if (ret) {
		fprintf(stderr, "vmm: PV MMU state for %llu bytes of RAM: %s\n",
			(unsigned long long)cfg->mem_size, strerror(-ret));
		return ret;
	}
	prefault_init(&vm->prefault, &vm->mem, cfg->prefault && !cfg->swap_dir);
	ret = balloon_init(&vm->balloon, &vm->mem, &vm->pvmmu, cfg->balloon);
	if (ret) {
		fprintf(stderr, "vmm: balloon state: %s\n", strerror(-ret));
		return ret;
	}
	ret = serial_register(vm);
	if (!ret)
		ret = debugexit_register(vm);
	if (!ret)
		ret = hypercall_register(vm);
	if (ret)
		fprintf(stderr, "vmm: registering devices: %s\n", strerror(-ret));
	return ret;
}

int vm_swap_prepare(struct vm *vm)
{
	struct swapmode_params p = {
		.dir = vm->cfg->swap_dir,
		.limit_pages = vm->cfg->resident >> 12,
		.clock = vm->cfg->aging_clock,
		.fault_threads = vm->cfg->fault_threads,
		.readahead = vm->cfg->readahead < 0 ? RA_AUTO : vm->cfg->readahead ? RA_FIXED : RA_OFF,
		.readahead_pages = vm->cfg->readahead > 0 ? (uint32_t)vm->cfg->readahead : 0,
		.prefault = vm->cfg->prefault,
	};

	if (!vm->cfg->swap_dir)
		return 0;
	return swapmode_create(&vm->swap, &vm->mem, &p);
}

/* Swap mode lost guest data (a swap-in failed): the VM cannot go on. */
static void vm_swap_fatal(void *opaque, const char *msg)
{
	struct vm *vm = opaque;

	vm_end(vm, VM_END_FAILED, PV_STATUS_VM_FAILED, "swap mode: %s", msg);
	vm_kick_vcpus(vm);
}

int vm_swap_start(struct vm *vm)
{
	struct guestmem_pager pager;
	int ret;

	if (!vm->swap)
		return 0;
	swapmode_on_fatal(vm->swap, vm_swap_fatal, vm);
	ret = swapmode_start(vm->swap);
	if (ret)
		return ret;
	pager = swapmode_pager(vm->swap);
	guestmem_set_pager(&vm->mem, &pager);   /* the VMM's accesses now page in */
	return 0;
}

/* --pv-mmu, for the FDT and the reports (a test's hand-made config has none) */
static const char *vm_pv_mmu(const struct vm *vm)
{
	return vm->cfg->pv_mmu ? vm->cfg->pv_mmu : CONFIG_DEFAULT_PV_MMU;
}

int vm_load_image(struct vm *vm, const void *image, size_t len, char *err, size_t errlen)
{
	int ret = elf_load(image, len, &vm->mem, &vm->image, err, errlen);

	if (ret)
		return ret;
	ret = boot_setup_memory(&vm->mem);
	if (ret)
		snprintf(err, errlen, "cannot build the boot page tables: %s", strerror(-ret));
	return ret;
}

/*
 * Without --swap (swap mode has its own): --prealloc, then the PV MMU
 * channel's mapped runs go to vmm/prefault.  0 or -errno.
 */
static int vm_prefault_start(struct vm *vm)
{
	bool kvm = kvm_check_extension(vm->vm_fd, KVM_CAP_PRE_FAULT_MEMORY) > 0;
	struct guestmem_pager pager;
	int ret;

	if (vm->cfg->prealloc && (ret = prefault_all(&vm->prefault, vm->vcpus[0].fd, kvm)))
		return ret;
	if (!vm->prefault.on)
		return 0;
	if (kvm)
		prefault_use_kvm(&vm->prefault);
	pager = prefault_pager(&vm->prefault);
	guestmem_set_pager(&vm->mem, &pager);
	return 0;
}

int vm_create_kvm(struct vm *vm)
{
	struct kvm_userspace_memory_region slot = {
		.slot = 0,
		.guest_phys_addr = 0,
		.memory_size = vm->mem.size,
		.userspace_addr = (uintptr_t)vm->mem.guest_map,
	};
	int ret;

	ret = kvm_open(&vm->kvm_fd);
	if (ret)
		return ret;
	ret = kvm_ioctl_checked(vm->kvm_fd, KVM_CREATE_VM, NULL);
	if (ret < 0)
		return ret;
	vm->vm_fd = ret;
	/* Intel needs a TSS area for real mode; we never use it, keep it out of RAM's way */
	ret = kvm_ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (void *)0xfffbd000ul);
	if (ret < 0 && ret != -ENOTTY && ret != -EINVAL)
		fprintf(stderr, "vmm: KVM_SET_TSS_ADDR: %s (ignored)\n", strerror(-ret));
	ret = kvm_ioctl_checked(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &slot);
	if (ret < 0)
		return ret;
	vm->vm_stats_fd = kvmstats_open(vm->vm_fd);

	vm->nr_vcpus = vm->cfg->cpus;
	vm->vcpus = calloc(vm->nr_vcpus, sizeof(*vm->vcpus));
	if (!vm->vcpus)
		return -ENOMEM;
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		vm->vcpus[i].fd = -1;
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		ret = vcpu_create(vm, &vm->vcpus[i], (int)i);
		if (ret)
			return ret;
	}
	ret = kvm_ioctl(vm->vcpus[0].fd, KVM_GET_TSC_KHZ, NULL);
	if (ret <= 0) {
		fprintf(stderr, "vmm: KVM_GET_TSC_KHZ: %s\n", ret ? strerror(-ret) : "returned 0");
		return ret ? ret : -EIO;
	}
	vm->tsc_khz = (uint32_t)ret;
	return vm_prefault_start(vm);
}

int vm_boot(struct vm *vm)
{
	struct dtb_params p = {
		.mem_size = vm->mem.size,
		.bootargs = vm->cfg->cmdline,
		.cpus = vm->nr_vcpus,
		.tsc_khz = vm->tsc_khz,
		.pv_mmu = vm_pv_mmu(vm),
	};
	void *fdt = guestmem_hva(&vm->mem, PV_BOOT_FDT_GPA, PV_BOOT_FDT_MAX);
	int ret;

	if (!fdt)
		return -EFAULT;
	ret = dtb_build(fdt, PV_BOOT_FDT_MAX, &p);
	if (ret < 0)
		return ret;
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		ret = vcpu_set_boot_state(&vm->vcpus[i], vm->image.entry);
		if (ret)
			return ret;
	}
	return 0;
}

static void vm_kick_handler(int sig)
{
	(void)sig;      /* only there to interrupt KVM_RUN with EINTR */
}

void vm_kick_vcpus(struct vm *vm)
{
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];

		if (v->run)
			v->run->immediate_exit = 1;     /* covers a kick just before entry */
		if (v->started)
			pthread_kill(v->thread, VCPU_KICK_SIGNAL);
	}
}

/* Take a blocked @sig that is pending, if any. */
static void vm_drain_signal(int sig)
{
	sigset_t pending, one;
	int got;

	sigemptyset(&one);
	sigaddset(&one, sig);
	if (!sigpending(&pending) && sigismember(&pending, sig))
		sigwait(&one, &got);
}

/* Wait in the calling thread for the last vCPU to stop, or for a signal. */
static void vm_wait(struct vm *vm, const sigset_t *waitset)
{
	int sig;

	while (atomic_load(&vm->running) > 0) {
		if (sigwait(waitset, &sig))
			continue;
		if (sig == SIGINT || sig == SIGTERM) {
			vm_end(vm, VM_END_SIGNAL, 128 + sig, "stopped by %s",
			       sig == SIGINT ? "SIGINT" : "SIGTERM");
			vm_kick_vcpus(vm);
			/* a vCPU may wait in a fault on swap storage that hangs */
			swapmode_abort(vm->swap);
		}
	}
}

int vm_run(struct vm *vm)
{
	struct sigaction sa = { .sa_handler = vm_kick_handler };   /* no SA_RESTART */
	sigset_t waitset, old;
	int ret = 0;

	sigemptyset(&waitset);
	sigaddset(&waitset, SIGINT);
	sigaddset(&waitset, SIGTERM);
	sigaddset(&waitset, VM_DONE_SIGNAL);
	if (sigaction(VCPU_KICK_SIGNAL, &sa, NULL)) {
		ret = -errno;
		fprintf(stderr, "vmm: sigaction: %s\n", strerror(errno));
		return ret;
	}
	/* vCPU threads inherit this mask: the signals are all taken here */
	pthread_sigmask(SIG_BLOCK, &waitset, &old);
	vm->main_thread = pthread_self();
	atomic_store(&vm->running, vm->nr_vcpus);
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		ret = vcpu_start(&vm->vcpus[i]);
		if (ret) {
			vm_end(vm, VM_END_FAILED, PV_STATUS_VM_FAILED,
			       "could not start the vCPU threads");
			atomic_fetch_sub(&vm->running, vm->nr_vcpus - i);
			vm_kick_vcpus(vm);
			break;
		}
	}
	vm_wait(vm, &waitset);
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		vcpu_join(&vm->vcpus[i]);
	/* only now: a vCPU waiting in a userfaultfd fault cannot be interrupted */
	swapmode_stop(vm->swap);
	vm_drain_signal(VM_DONE_SIGNAL);        /* unblocked, it would kill us */
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!vm_ended(vm))
		vm_end(vm, VM_END_FAILED, PV_STATUS_VM_FAILED, "vCPUs stopped without an exit");
	fflush(vm->console);
	return ret;
}

void vm_destroy(struct vm *vm)
{
	for (unsigned i = 0; vm->vcpus && i < vm->nr_vcpus; i++)
		vcpu_destroy(&vm->vcpus[i]);
	free(vm->vcpus);
	vm->vcpus = NULL;
	if (vm->vm_stats_fd >= 0)
		close(vm->vm_stats_fd);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	vm->kvm_fd = vm->vm_fd = vm->vm_stats_fd = -1;
	iobus_destroy(&vm->bus);
	balloon_destroy(&vm->balloon);
	pvmmu_destroy(&vm->pvmmu);
	guestmem_set_pager(&vm->mem, NULL);
	swapmode_destroy(vm->swap);     /* before RAM: unregisters it, closes (frees) the swap file */
	vm->swap = NULL;
	guestmem_destroy(&vm->mem);
	report_destroy(&vm->reports);
}

void vm_end(struct vm *vm, enum vm_end how, int status, const char *fmt, ...)
{
	int expected = VM_RUNNING;
	va_list ap;

	/* claim the end first so exit_status and fail_msg are written once */
	if (!atomic_compare_exchange_strong(&vm->end, &expected, -1))
		return;
	vm->exit_status = status;
	va_start(ap, fmt);
	vsnprintf(vm->fail_msg, sizeof(vm->fail_msg), fmt, ap);
	va_end(ap);
	atomic_store_explicit(&vm->end, how, memory_order_release);
}

void vm_console_write(struct vm *vm, const void *data, size_t len)
{
	if (!len)
		return;
	escape_fwrite(vm->console, data, len);
	if (memchr(data, '\n', len))
		fflush(vm->console);
}

void vm_stats_merge(struct vm *vm, struct vcpu_stats *out)
{
	for (unsigned i = 0; vm->vcpus && i < vm->nr_vcpus; i++)
		if (vm->vcpus[i].stats.port)
			stats_merge(out, &vm->vcpus[i].stats);
}

static const char *vm_end_name(int end)
{
	switch (end) {
	case VM_END_GUEST:  return "guest_exit";
	case VM_END_FAILED: return "failed";
	case VM_END_SIGNAL: return "signal";
	default:            return "running";
	}
}

#define VM_METRICS_MAX (2 + SWAPMODE_RELEASE_METRICS + BALLOON_METRICS + SWAPMODE_METRICS_MAX + \
			PREFAULT_METRICS)

/*
 * The report's metric objects beside the fixed ones: released (the PV MMU
 * channel's, and swap mode's), balloon, and swap mode's own or, without
 * it, prefault's.
 */
static unsigned vm_metrics(const struct vm *vm, struct metric *m)
{
	unsigned n = 0;

	m[n++] = METRIC_U64_AT("released", "requests", vm->pvmmu.c.released_requests);
	m[n++] = METRIC_U64_AT("released", "pages", vm->pvmmu.c.released_pages);
	if (vm->swap)
		n += swapmode_release_metrics(vm->swap, m + n, SWAPMODE_RELEASE_METRICS);
	n += balloon_metrics(&vm->balloon, m + n, BALLOON_METRICS);
	if (vm->swap)
		n += swapmode_metrics(vm->swap, m + n, SWAPMODE_METRICS_MAX);
	else
		n += prefault_metrics(&vm->prefault, m + n, PREFAULT_METRICS);
	return n;
}

int vm_write_json(struct vm *vm, FILE *f, uint64_t wall_ns)
{
	struct vcpu_stats all;
	struct json j;
	int ret;

	ret = stats_init(&all);
	if (ret)
		return ret;
	vm_stats_merge(vm, &all);

	json_init(&j, f);
	json_obj_begin(&j, NULL);
	json_str(&j, "version", PV_VERSION_STRING);
	stats_json(&j, &all);

	json_obj_begin(&j, "hypercalls");
	json_u64(&j, "exit", atomic_load(&vm->hc.exit));
	json_u64(&j, "report", atomic_load(&vm->hc.report));
	json_u64(&j, "assert", atomic_load(&vm->hc.assert_fail));
	json_u64(&j, "puts", atomic_load(&vm->hc.puts));
	json_u64(&j, "balloon", atomic_load(&vm->hc.balloon));
	json_u64(&j, "meminfo", atomic_load(&vm->hc.meminfo));
	json_u64(&j, "bad", atomic_load(&vm->hc.bad));
	json_obj_end(&j);
	pvmmu_json(&j, &vm->pvmmu, vm_pv_mmu(vm));
	{
		struct metric m[VM_METRICS_MAX];

		metrics_json(&j, m, vm_metrics(vm, m));
	}

	json_obj_begin(&j, "kvm");
	json_obj_begin(&j, "vm");
	if (vm->vm_stats_fd >= 0)
		kvmstats_json(&j, vm->vm_stats_fd);
	json_obj_end(&j);
	json_arr_begin(&j, "vcpu");
	for (unsigned i = 0; vm->vcpus && i < vm->nr_vcpus; i++) {
		json_obj_begin(&j, NULL);
		if (vm->vcpus[i].stats_fd >= 0)
			kvmstats_json(&j, vm->vcpus[i].stats_fd);
		json_obj_end(&j);
	}
	json_arr_end(&j);
	json_obj_end(&j);

	report_json(&j, &vm->reports);

	json_obj_begin(&j, "run");
	json_u64(&j, "wall_ns", wall_ns);
	json_i64(&j, "exit_status", vm_ended(vm) ? vm->exit_status : PV_STATUS_VM_FAILED);
	json_str(&j, "end", vm_end_name(atomic_load(&vm->end)));
	json_str(&j, "message", vm->fail_msg);
	json_u64(&j, "memory_bytes", vm->mem.size);
	json_str(&j, "memory_backing", vm->mem.memfd < 0 ? "anonymous" :
		 vm->mem.page_size > 4096 ? "hugetlb" : "memfd");
	json_u64(&j, "memory_page_bytes", vm->mem.page_size);
	json_u64(&j, "vcpus", vm->nr_vcpus);
	json_u64(&j, "tsc_khz", vm->tsc_khz);
	json_obj_end(&j);
	json_obj_end(&j);
	ret = json_finish(&j);
	stats_destroy(&all);
	return ret;
}

void vm_print_table(struct vm *vm, FILE *f, uint64_t wall_ns)
{
	struct vcpu_stats all;

	if (stats_init(&all))
		return;
	vm_stats_merge(vm, &all);
	fprintf(f, "--- pagevisor: %s (status %d), %.3f ms wall ---\n",
		vm->fail_msg[0] ? vm->fail_msg : "no exit", vm->exit_status, wall_ns / 1e6);
	stats_print_table(f, &all);
	fprintf(f, "hypercalls: exit %" PRIuFAST64 ", report %" PRIuFAST64 ", assert %" PRIuFAST64
		", puts %" PRIuFAST64 ", bad %" PRIuFAST64 "\n",
		atomic_load(&vm->hc.exit), atomic_load(&vm->hc.report),
		atomic_load(&vm->hc.assert_fail), atomic_load(&vm->hc.puts),
		atomic_load(&vm->hc.bad));
	if (vm->pvmmu.c.doorbells)
		pvmmu_print(f, &vm->pvmmu, vm_pv_mmu(vm));
	{
		struct metric m[VM_METRICS_MAX];

		metrics_print(f, m, vm_metrics(vm, m));
	}
	stats_destroy(&all);
}
