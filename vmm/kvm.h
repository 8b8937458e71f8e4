/* SPDX-License-Identifier: MIT */
/*
 * Thin wrappers over /dev/kvm ioctls.  kvm_ioctl() returns the raw result or
 * -errno; kvm_ioctl_checked() also prints "vmm: NAME: strerror" on failure,
 * so every error names its ioctl.
 */
#ifndef PV_VMM_KVM_H
#define PV_VMM_KVM_H

#include <linux/kvm.h>
#include <stdint.h>

/* KVM_PRE_FAULT_MEMORY (Linux 6.10), for headers older than the kernel we run on. */
#ifndef KVM_CAP_PRE_FAULT_MEMORY
#define KVM_CAP_PRE_FAULT_MEMORY 236
struct kvm_pre_fault_memory {
	__u64 gpa;
	__u64 size;
	__u64 flags;
	__u64 padding[5];
};
#define KVM_PRE_FAULT_MEMORY _IOWR(KVMIO, 0xd5, struct kvm_pre_fault_memory)
#endif

/* Returns the ioctl's result (>= 0) or -errno, retrying EINTR except for KVM_RUN. */
int kvm_ioctl(int fd, unsigned long req, void *arg);

#define kvm_ioctl_checked(fd, req, arg) kvm__ioctl_checked(fd, req, arg, #req)
int kvm__ioctl_checked(int fd, unsigned long req, void *arg, const char *name);

/* Open /dev/kvm and check the API version and the extensions we rely on. */
int kvm_open(int *kvm_fd);

/* KVM_CHECK_EXTENSION: the capability's value (0 when absent). */
int kvm_check_extension(int fd, long cap);

/* The name of a KVM_EXIT_* reason ("IO", "HLT"), or NULL for unknown ones. */
const char *kvm_exit_name(uint32_t reason);

#define KVM_EXIT_NAMES 64 /* reasons 0..63 have slots in the counters */

#endif
