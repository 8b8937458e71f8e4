/* SPDX-License-Identifier: MIT */
/*
 * Prefault for plain RAM (no --swap; swap mode has its own, in mmu/fault).
 * The frames a PV MMU batch maps are frames the guest is about to touch:
 * fault-around just mapped them, or a workload mapped a chunk to walk it.
 * Each first touch would otherwise cost two faults below the guest: the
 * host's (a page of the memfd or of anonymous RAM allocated) and KVM's
 * (its stage-2 entry built on an EPT/NPT violation), each one exit.  Here
 * the vCPU thread does both for a whole run at once, natively, before the
 * doorbell returns: madvise(MADV_POPULATE_WRITE) for the host pages, then,
 * where KVM has KVM_CAP_PRE_FAULT_MEMORY (two-dimensional paging),
 * KVM_PRE_FAULT_MEMORY on the calling vCPU for the stage-2 entries.
 *
 * It is a hint: a failure changes no guest data (populating never writes
 * contents), is counted, and a method the host refuses is dropped for the
 * rest of the run with one line on stderr.
 */
#ifndef PV_VMM_PREFAULT_H
#define PV_VMM_PREFAULT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "mmu/guestmem.h"
#include "mmu/metric.h"

struct prefault {
	const struct guestmem *mem;
	bool on;                /* --prefault on */
	bool all;               /* --prealloc was done */
	atomic_bool populate;   /* MADV_POPULATE_WRITE still works here */
	atomic_bool kvm;        /* KVM_PRE_FAULT_MEMORY offered and still works */
	atomic_uint_fast64_t runs, pages, errors;
};

/*
 * Set @pf up for @mem: @on is --prefault on without --swap.  Host pages
 * only, until prefault_use_kvm() (the VM has KVM_CAP_PRE_FAULT_MEMORY).
 * With @on the caller installs prefault_pager() as @mem's pager.
 */
void prefault_init(struct prefault *pf, const struct guestmem *mem, bool on);
void prefault_use_kvm(struct prefault *pf);

/* The pager that hands the PV MMU channel's mapped runs to prefault_run(). */
struct guestmem_pager prefault_pager(struct prefault *pf);

/*
 * Pages [@first, @first + @n) were just mapped by the guest: bring the
 * ones inside RAM into host memory and, on the calling vCPU (@vcpu_fd; -1
 * on another thread), into KVM's stage-2 tables.  Never fails: see above
 * (a run starting outside RAM is only counted as an error).
 */
void prefault_run(struct prefault *pf, int vcpu_fd, uint64_t first, uint64_t n);

/*
 * --prealloc: all of RAM into host memory and, with @kvm (the VM has
 * KVM_CAP_PRE_FAULT_MEMORY), KVM's stage-2 tables through @vcpu_fd, before
 * the guest runs.  0, or -errno when the host memory cannot be had (named
 * on stderr); a stage-2 failure is only named: the guest's touches do it.
 */
int prefault_all(struct prefault *pf, int vcpu_fd, bool kvm);

#define PREFAULT_METRICS 6
unsigned prefault_metrics(const struct prefault *pf, struct metric *m, unsigned max);

#endif
