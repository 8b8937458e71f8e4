/* SPDX-License-Identifier: MIT */
#include "vmm/kvm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

int kvm_ioctl(int fd, unsigned long req, void *arg)
{
	int r;

	do {
		r = ioctl(fd, req, arg);
	} while (r < 0 && errno == EINTR && req != KVM_RUN);
	return r < 0 ? -errno : r;
}

int kvm__ioctl_checked(int fd, unsigned long req, void *arg, const char *name)
{
	int r = kvm_ioctl(fd, req, arg);

	if (r < 0)
		fprintf(stderr, "vmm: %s: %s\n", name, strerror(-r));
	return r;
}

int kvm_check_extension(int fd, long cap)
{
	int r = ioctl(fd, KVM_CHECK_EXTENSION, cap);

	return r < 0 ? 0 : r;
}

int kvm_open(int *kvm_fd)
{
	static const struct { long cap; const char *name; } needed[] = {
		{ KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY" },
		{ KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID" },
	};
	int fd, r;

	fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		fprintf(stderr, "vmm: open /dev/kvm: %s\n", strerror(errno));
		return r;
	}
	r = ioctl(fd, KVM_GET_API_VERSION, 0);
	if (r != KVM_API_VERSION) {
		fprintf(stderr, "vmm: KVM_GET_API_VERSION: %d, expected %d\n", r, KVM_API_VERSION);
		close(fd);
		return -ENOTSUP;
	}
	for (size_t i = 0; i < sizeof(needed) / sizeof(needed[0]); i++) {
		if (!kvm_check_extension(fd, needed[i].cap)) {
			fprintf(stderr, "vmm: KVM_CHECK_EXTENSION: %s is missing\n", needed[i].name);
			close(fd);
			return -ENOTSUP;
		}
	}
	*kvm_fd = fd;
	return 0;
}

const char *kvm_exit_name(uint32_t reason)
{
#define N(x) [KVM_EXIT_##x] = #x
	static const char *const names[KVM_EXIT_NAMES] = {
		N(UNKNOWN), N(EXCEPTION), N(IO), N(HYPERCALL), N(DEBUG), N(HLT),
		N(MMIO), N(IRQ_WINDOW_OPEN), N(SHUTDOWN), N(FAIL_ENTRY), N(INTR),
		N(SET_TPR), N(TPR_ACCESS), N(S390_SIEIC), N(S390_RESET), N(DCR),
		N(NMI), N(INTERNAL_ERROR), N(OSI), N(PAPR_HCALL), N(S390_UCONTROL),
		N(WATCHDOG), N(S390_TSCH), N(EPR), N(SYSTEM_EVENT), N(S390_STSI),
		N(IOAPIC_EOI), N(HYPERV), N(ARM_NISV), N(X86_RDMSR), N(X86_WRMSR),
		N(DIRTY_RING_FULL), N(AP_RESET_HOLD), N(X86_BUS_LOCK), N(XEN),
		N(RISCV_SBI), N(RISCV_CSR), N(NOTIFY),
	};
#undef N
	return reason < KVM_EXIT_NAMES ? names[reason] : NULL;
}
