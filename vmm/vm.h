/* SPDX-License-Identifier: MIT */
/* The VM: KVM fds, guest RAM, the I/O bus, vCPUs, and how the run ended. */
#ifndef PV_VMM_VM_H
#define PV_VMM_VM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "mmu/guestmem.h"
#include "vmm/balloon.h"
#include "vmm/config.h"
#include "vmm/dev/devices.h"
#include "vmm/elf.h"
#include "vmm/iobus.h"
#include "vmm/prefault.h"
#include "vmm/pvmmu.h"
#include "vmm/report.h"
#include "vmm/stats.h"

struct vcpu;

enum vm_end {
	VM_RUNNING = 0,
	VM_END_GUEST,           /* the guest exited with a code */
	VM_END_FAILED,          /* the VM failed: see fail_msg */
	VM_END_SIGNAL,          /* SIGINT or SIGTERM stopped it: status 128 + signal */
};

struct vm_hypercall_stats {
	atomic_uint_fast64_t exit, report, assert_fail, puts, balloon, meminfo, bad;
};

struct vm {
	const struct vm_config *cfg;
	int kvm_fd, vm_fd, vm_stats_fd;
	struct guestmem mem;
	struct iobus bus;
	struct vcpu *vcpus;
	unsigned nr_vcpus;
	uint32_t tsc_khz;
	struct elf_image image;
	struct report_store reports;
	struct serial_state serial;
	struct vm_hypercall_stats hc;
	struct pvmmu pvmmu;     /* the PV MMU channel: pinned tables, rings, counters */
	struct balloon balloon; /* 2 MiB units the guest gave back (PV_HC_BALLOON) */
	struct swapmode *swap;  /* userfaultfd swap mode (--swap), or NULL */
	struct prefault prefault;       /* without --swap: the frames the guest maps */
	FILE *console;          /* where guest output goes (stdout) */
	pthread_t main_thread;  /* vm_run()'s caller: told when the last vCPU stops */
	atomic_uint running;    /* vCPU threads not yet finished */

	atomic_int end;         /* enum vm_end; set once by vm_end() */
	int exit_status;        /* valid once end != VM_RUNNING */
	char fail_msg[1280];     /* printable ASCII: guest text in it is escaped */
};

/*
 * Steps, called in this order from main(): vm_init() (no KVM yet: RAM and
 * devices, so bad images are refused before /dev/kvm is touched),
 * vm_swap_prepare() (--swap: the swap file, a usage error when refused),
 * vm_load_image(), vm_create_kvm(), vm_boot() (FDT, entry state),
 * vm_swap_start() (after the last pre-run write to RAM), vm_run() (stops
 * the swap threads after the vCPUs), then the reports and vm_destroy().
 * All return 0 or -errno.
 */
int vm_init(struct vm *vm, const struct vm_config *cfg, FILE *console);
/* Without --swap these do nothing.  -ENOMEM from prepare is ours; others are FILE's. */
int vm_swap_prepare(struct vm *vm);
int vm_swap_start(struct vm *vm);
int vm_load_image(struct vm *vm, const void *image, size_t len, char *err, size_t errlen);
int vm_create_kvm(struct vm *vm);
int vm_boot(struct vm *vm);
/*
 * Run the vCPU threads until the VM ends.  SIGINT and SIGTERM end it too
 * (VM_END_SIGNAL): the vCPUs are kicked out of KVM_RUN and the counters
 * still come out.
 */
int vm_run(struct vm *vm);

/* Make every vCPU leave KVM_RUN soon (immediate_exit + a signal). */
void vm_kick_vcpus(struct vm *vm);
void vm_destroy(struct vm *vm);

/* Record how the run ends; the first caller wins.  Thread-safe. */
void vm_end(struct vm *vm, enum vm_end how, int status, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static inline int vm_ended(struct vm *vm)
{
	return atomic_load_explicit(&vm->end, memory_order_acquire) != VM_RUNNING;
}

/* Write guest console output (serial or PV_HC_PUTS), escaped (vmm/escape.h). */
void vm_console_write(struct vm *vm, const void *data, size_t len);

/* Merged exit counters of all vCPUs into @out (initialised by stats_init). */
void vm_stats_merge(struct vm *vm, struct vcpu_stats *out);

/* The JSON report and the human table. */
int vm_write_json(struct vm *vm, FILE *f, uint64_t wall_ns);
void vm_print_table(struct vm *vm, FILE *f, uint64_t wall_ns);

#endif
