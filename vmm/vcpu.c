/* SPDX-License-Identifier: MIT */
#include "vmm/vcpu.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "vmm/boot.h"
#include "vmm/gva.h"
#include "vmm/kvm.h"
#include "vmm/kvmstats.h"
#include "vmm/vm.h"

#define VCPU_CPUID_MAX 256

/* The vCPU whose thread this is: vCPU ioctls from its exit handlers need its fd. */
static __thread struct vcpu *vcpu_self;

int vcpu_current_fd(void)
{
	return vcpu_self ? vcpu_self->fd : -1;
}

static inline uint64_t vcpu_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int vcpu_set_cpuid(struct vcpu *v)
{
	struct kvm_cpuid2 *cpuid;
	int ret;

	cpuid = calloc(1, sizeof(*cpuid) + VCPU_CPUID_MAX * sizeof(cpuid->entries[0]));
	if (!cpuid)
		return -ENOMEM;
	cpuid->nent = VCPU_CPUID_MAX;
	ret = kvm_ioctl_checked(v->vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, cpuid);
	if (ret < 0)
		goto out;
	ret = kvm_ioctl_checked(v->fd, KVM_SET_CPUID2, cpuid);
out:
	free(cpuid);
	return ret < 0 ? ret : 0;
}

int vcpu_create(struct vm *vm, struct vcpu *v, int id)
{
	int ret;

	memset(v, 0, sizeof(*v));
	v->vm = vm;
	v->id = id;
	v->fd = -1;
	v->stats_fd = -1;
	ret = stats_init(&v->stats);
	if (ret)
		return ret;

	ret = kvm_ioctl_checked(vm->vm_fd, KVM_CREATE_VCPU, (void *)(long)id);
	if (ret < 0)
		goto err;
	v->fd = ret;
	ret = kvm_ioctl_checked(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, NULL);
	if (ret < 0)
		goto err;
	if ((size_t)ret < sizeof(struct kvm_run)) {
		ret = -EPROTO;
		goto err;
	}
	v->run_size = (size_t)ret;
	v->run = mmap(NULL, v->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (v->run == MAP_FAILED) {
		ret = -errno;
		v->run = NULL;
		fprintf(stderr, "vmm: mmap kvm_run of vCPU %d: %s\n", id, strerror(errno));
		goto err;
	}
	ret = vcpu_set_cpuid(v);
	if (ret)
		goto err;
	v->stats_fd = kvmstats_open(v->fd);     /* optional: the JSON says if missing */
	return 0;
err:
	vcpu_destroy(v);
	return ret;
}

int vcpu_set_boot_state(struct vcpu *v, uint64_t entry)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	int ret;

	ret = kvm_ioctl_checked(v->fd, KVM_GET_SREGS, &sregs);
	if (ret < 0)
		return ret;
	boot_fill_sregs(&sregs);
	ret = kvm_ioctl_checked(v->fd, KVM_SET_SREGS, &sregs);
	if (ret < 0)
		return ret;
	boot_fill_regs(&regs, entry);
	ret = kvm_ioctl_checked(v->fd, KVM_SET_REGS, &regs);
	return ret < 0 ? ret : 0;
}

/* The bytes at RIP, as kvmtool shows them: what the guest was executing. */
static void vcpu_dump_code(struct vcpu *v, FILE *f, uint64_t rip, uint64_t cr3)
{
	const uint8_t *code;
	uint64_t gpa;

	if (gva_to_gpa(&v->vm->mem, cr3, rip, &gpa) ||
	    !(code = guestmem_get(&v->vm->mem, gpa, 16, false))) {
		fprintf(f, " code: rip 0x%llx does not map into guest RAM\n", (unsigned long long)rip);
		return;
	}
	fprintf(f, " code at gpa 0x%llx:", (unsigned long long)gpa);
	for (int i = 0; i < 16; i++)
		fprintf(f, " %02x", code[i]);
	fputc('\n', f);
	guestmem_put(&v->vm->mem, gpa, 16);
}

void vcpu_dump_regs(struct vcpu *v, FILE *f)
{
	struct kvm_regs r;
	struct kvm_sregs s;

	if (kvm_ioctl(v->fd, KVM_GET_REGS, &r) < 0 || kvm_ioctl(v->fd, KVM_GET_SREGS, &s) < 0) {
		fprintf(f, "vmm: vCPU %d: registers unavailable (KVM_GET_REGS/KVM_GET_SREGS failed)\n",
			v->id);
		return;
	}
	fprintf(f, "vCPU %d registers:\n"
		" rip %016llx  rsp %016llx  rflags %016llx\n"
		" rax %016llx  rbx %016llx  rcx %016llx  rdx %016llx\n"
		" rsi %016llx  rdi %016llx  rbp %016llx\n"
		" r8  %016llx  r9  %016llx  r10 %016llx  r11 %016llx\n"
		" r12 %016llx  r13 %016llx  r14 %016llx  r15 %016llx\n"
		" cs %04x (dpl %u)  ss %04x  cr0 %016llx  cr2 %016llx\n"
		" cr3 %016llx  cr4 %016llx  efer %016llx\n",
		v->id, r.rip, r.rsp, r.rflags, r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi, r.rbp,
		r.r8, r.r9, r.r10, r.r11, r.r12, r.r13, r.r14, r.r15,
		s.cs.selector, s.cs.dpl, s.ss.selector, s.cr0, s.cr2, s.cr3, s.cr4, s.efer);
	/*
	 * Our guest never runs in real mode: this is the reset state.  KVM on
	 * AMD SVM re-initialises the vCPU when it intercepts a shutdown (the
	 * VMCB is undefined after one), so a triple fault leaves nothing to show.
	 */
	if (!(s.cr0 & 1 /* PE */) && s.cs.selector == 0xf000 && r.rip == 0xfff0) {
		fprintf(f, " (the reset state: the host re-initialised the vCPU at the exit, as KVM on AMD SVM does at a shutdown; the guest's registers are lost)\n");
		return;
	}
	vcpu_dump_code(v, f, r.rip, s.cr3);
}

/* A fatal exit: record why, show the registers, stop. */
static enum vcpu_action vcpu_fatal(struct vcpu *v, const char *what)
{
	vm_end(v->vm, VM_END_FAILED, PV_STATUS_VM_FAILED, "vCPU %d: %s", v->id, what);
	vcpu_dump_regs(v, stderr);
	return VCPU_STOP;
}

static void vcpu_io(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	uint32_t size = run->io.size, count = run->io.count;
	bool is_write = run->io.direction == KVM_EXIT_IO_OUT;
	const struct iobus_range *r;
	uint8_t *data;

	if ((size != 1 && size != 2 && size != 4) || count == 0 ||
	    run->io.data_offset >= v->run_size ||
	    (uint64_t)size * count > v->run_size - run->io.data_offset) {
		v->stats.unknown_port++;
		return;
	}
	data = (uint8_t *)run + run->io.data_offset;
	r = iobus_find(&v->vm->bus, IOBUS_PIO, run->io.port, size);
	for (uint32_t i = 0; i < count; i++, data += size) {
		if (!r) {
			v->stats.unknown_port++;
			if (!is_write)
				memset(data, 0xff, size);
			continue;
		}
		if (!is_write)
			memset(data, 0, size);
		r->fn(v, r->opaque, run->io.port - r->base, data, size, is_write);
	}
}

static void vcpu_mmio(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	uint32_t len = run->mmio.len;
	const struct iobus_range *r;

	if (len == 0 || len > sizeof(run->mmio.data)) {
		v->stats.unknown_mmio++;
		return;
	}
	r = iobus_find(&v->vm->bus, IOBUS_MMIO, run->mmio.phys_addr, len);
	if (!r) {
		v->stats.unknown_mmio++;
		if (!run->mmio.is_write)
			memset(run->mmio.data, 0xff, len);
		return;
	}
	if (!run->mmio.is_write)
		memset(run->mmio.data, 0, len);
	r->fn(v, r->opaque, run->mmio.phys_addr - r->base, run->mmio.data, len, run->mmio.is_write);
}

enum vcpu_action vcpu_handle_exit(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	char what[160];

	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		vcpu_io(v);
		break;
	case KVM_EXIT_MMIO:
		vcpu_mmio(v);
		break;
	case KVM_EXIT_INTR:
		break;
	case KVM_EXIT_HLT:
		return vcpu_fatal(v, "guest halted (HLT) without an exit hypercall");
	case KVM_EXIT_SHUTDOWN:
		return vcpu_fatal(v, "triple fault (KVM_EXIT_SHUTDOWN)");
	case KVM_EXIT_FAIL_ENTRY:
		snprintf(what, sizeof(what), "VM entry failed (KVM_EXIT_FAIL_ENTRY, reason 0x%llx)",
			 (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		return vcpu_fatal(v, what);
	case KVM_EXIT_INTERNAL_ERROR:
		snprintf(what, sizeof(what), "KVM internal error (KVM_EXIT_INTERNAL_ERROR, suberror %u%s)",
			 run->internal.suberror,
			 run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION ?
			 ": instruction emulation failed" : "");
		return vcpu_fatal(v, what);
	case KVM_EXIT_SYSTEM_EVENT:
		if (run->system_event.type == KVM_SYSTEM_EVENT_SHUTDOWN) {
			vm_end(v->vm, VM_END_GUEST, 0, "guest requested power-off");
			return VCPU_STOP;
		}
		snprintf(what, sizeof(what), "system event %u (KVM_EXIT_SYSTEM_EVENT)",
			 run->system_event.type);
		return vcpu_fatal(v, what);
	default:
		snprintf(what, sizeof(what), "unhandled exit reason %u (KVM_EXIT_%s)",
			 run->exit_reason,
			 kvm_exit_name(run->exit_reason) ? kvm_exit_name(run->exit_reason) : "?");
		return vcpu_fatal(v, what);
	}
	return vm_ended(v->vm) ? VCPU_STOP : VCPU_CONTINUE;
}

/* Count and time one exit: handling time from KVM_RUN's return to now. */
static void vcpu_account(struct vcpu *v, uint64_t ns)
{
	struct kvm_run *run = v->run;

	stats_exit(&v->stats, run->exit_reason, ns);
	if (run->exit_reason == KVM_EXIT_IO)
		stats_port(&v->stats, run->io.port, ns);
	else if (run->exit_reason == KVM_EXIT_MMIO)
		stats_mmio(&v->stats, run->mmio.phys_addr, ns);
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	uint64_t t_enter = vcpu_now_ns(), t_exit, t_done;
	enum vcpu_action act;
	sigset_t kick;
	int r;

	vcpu_self = v;
	sigemptyset(&kick);
	sigaddset(&kick, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &kick, NULL);
	while (!vm_ended(v->vm)) {
		r = ioctl(v->fd, KVM_RUN, 0);
		t_exit = vcpu_now_ns();
		v->stats.run_ns += t_exit - t_enter;
		if (r < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				v->run->immediate_exit = 0;
				stats_exit(&v->stats, KVM_EXIT_INTR, 0);
				t_enter = vcpu_now_ns();
				continue;
			}
			vm_end(v->vm, VM_END_FAILED, PV_STATUS_VM_FAILED, "vCPU %d: KVM_RUN: %s",
			       v->id, strerror(errno));
			break;
		}
		act = vcpu_handle_exit(v);
		t_done = vcpu_now_ns();
		vcpu_account(v, t_done - t_exit);
		if (act == VCPU_STOP)
			break;
		t_enter = t_done;
	}
	if (atomic_fetch_sub(&v->vm->running, 1) == 1)
		pthread_kill(v->vm->main_thread, VM_DONE_SIGNAL);
	return NULL;
}

int vcpu_start(struct vcpu *v)
{
	int ret = pthread_create(&v->thread, NULL, vcpu_thread, v);

	if (ret) {
		fprintf(stderr, "vmm: pthread_create for vCPU %d: %s\n", v->id, strerror(ret));
		return -ret;
	}
	v->started = true;
	return 0;
}

void vcpu_join(struct vcpu *v)
{
	if (v->started)
		pthread_join(v->thread, NULL);
	v->started = false;
}

void vcpu_destroy(struct vcpu *v)
{
	if (v->run)
		munmap(v->run, v->run_size);
	v->run = NULL;
	if (v->stats_fd >= 0)
		close(v->stats_fd);
	v->stats_fd = -1;
	if (v->fd >= 0)
		close(v->fd);
	v->fd = -1;
	stats_destroy(&v->stats);
}
