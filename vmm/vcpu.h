/* SPDX-License-Identifier: MIT */
/* One vCPU: its fd, its kvm_run page, its thread, its counters, the run loop. */
#ifndef PV_VMM_VCPU_H
#define PV_VMM_VCPU_H

#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>

#include "vmm/pvmmu.h"
#include "vmm/stats.h"

struct vm;

/* Interrupts a vCPU thread's KVM_RUN (unblocked only in vCPU threads). */
#define VCPU_KICK_SIGNAL SIGUSR1
/* Sent by the last vCPU thread to stop, to the thread in vm_run(). */
#define VM_DONE_SIGNAL   SIGUSR2

struct vcpu {
	struct vm *vm;
	int id;
	int fd;
	int stats_fd;
	struct kvm_run *run;
	size_t run_size;
	pthread_t thread;
	bool started;
	struct vcpu_stats stats;
	struct pvmmu_ring_state pvmmu_ring;     /* this vCPU's PV MMU ring */
};

/* KVM_CREATE_VCPU, map kvm_run, set CPUID.  Returns 0 or -errno. */
int vcpu_create(struct vm *vm, struct vcpu *v, int id);

/* Load the 64-bit entry state of pagevisor/abi.h.  Returns 0 or -errno. */
int vcpu_set_boot_state(struct vcpu *v, uint64_t entry);

/* Start the vCPU thread / wait for it.  Return 0 or -errno. */
int vcpu_start(struct vcpu *v);
void vcpu_join(struct vcpu *v);

/* The fd of the vCPU whose thread calls this, or -1 on any other thread. */
int vcpu_current_fd(void);

void vcpu_destroy(struct vcpu *v);

enum vcpu_action { VCPU_CONTINUE, VCPU_STOP };

/*
 * Handle the exit described in v->run, which took @ns so far to reach us.
 * Free of KVM calls except on fatal exits (register dump), so tests can feed
 * it made-up exits with v->fd = -1.
 */
enum vcpu_action vcpu_handle_exit(struct vcpu *v);

/* Print the registers (KVM_GET_REGS/SREGS) to @f. */
void vcpu_dump_regs(struct vcpu *v, FILE *f);

#endif
