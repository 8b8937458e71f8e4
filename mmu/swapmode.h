/* SPDX-License-Identifier: MIT */
/*
 * Userfaultfd swap mode, the facade the VMM calls: guest RAM larger than
 * what the host keeps resident.  The guest mapping of RAM is registered with
 * userfaultfd (MISSING, MINOR, and WP in async mode for dirty tracking);
 * fault threads (mmu/uffd.c) zero-fill, swap in, or CONTINUE; a reclaim
 * thread (mmu/reclaim.c) ages pages by zapping their host PTEs (CLOCK) and
 * writes cold ones to the swap file (mmu/swap.c) before punching them out
 * of the memfd.  The VMM's own accesses go through guestmem_get/put, which
 * go through swapmode_pager().  docs/ARCHITECTURE.md has the states, the
 * threads and the ordering rules.
 *
 * Steps, in this order: swapmode_create() (makes the swap file: before the
 * image is loaded, so a bad DIR is a usage error), swapmode_start() (after
 * every pre-run write to RAM: those pages are counted as resident and dirty;
 * registers userfaultfd; starts the threads), swapmode_stop() (after the
 * vCPU threads were joined: a vCPU waiting in a fault cannot be interrupted),
 * swapmode_destroy() (closes the swap file, which frees it).
 */
#ifndef PV_MMU_SWAPMODE_H
#define PV_MMU_SWAPMODE_H

#include <liburing.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "mmu/fault.h"
#include "mmu/guestmem.h"
#include "pagevisor/lathist.h"
#include "mmu/metric.h"
#include "mmu/pages.h"
#include "mmu/readahead.h"
#include "mmu/reclaim.h"
#include "mmu/swap.h"
#include "mmu/uffd.h"
#include "mmu/util.h"

#define SWAPMODE_MAX_THREADS 8

struct swapmode_params {
	const char *dir;        /* where the (unnamed) swap file is made */
	uint64_t limit_pages;   /* resident limit, in 4 KiB pages */
	bool clock;             /* --aging clock; false: off (FIFO, no reference bits) */
	unsigned fault_threads; /* 1..SWAPMODE_MAX_THREADS */
	enum ra_mode readahead; /* --readahead off, auto, or N pages (RA_FIXED) */
	uint32_t readahead_pages;
	bool prefault;          /* --prefault on: pages the guest maps are brought in */
};

/* The VMM's own accesses (the fault threads' and reclaim's counters are theirs). */
struct swapmode_counters {
	atomic_uint_fast64_t vmm_swap_in;       /* pages swapped in for them */
	atomic_uint_fast64_t vmm_read_errors;
	/* pages the guest released: dropped from the memfd, their swap slots freed */
	atomic_uint_fast64_t released_resident, released_slots;
};

struct swapmode {
	struct guestmem *gm;
	struct pages pages;
	struct swap swap;
	struct uffd uffd;
	struct fault fault;
	struct readahead ra;
	struct reclaim reclaim;
	struct swapmode_counters c;
	bool clock;
	bool prefault;
	unsigned nr_threads;
	bool started;
	/* swap-ins for the VMM's own accesses (vCPU threads, one at a time) */
	pthread_mutex_t vmm_ring_mu;
	struct io_uring vmm_ring;
	bool vmm_ring_ok;
	struct mmu_fatal fatal;         /* guest data lost: end the VM */
};

/*
 * Allocate swap mode for @gm and make the swap file.  Returns 0 or -errno
 * after one line on stderr; -ENOMEM is ours, anything else is about the
 * --swap directory (a usage error).
 */
int swapmode_create(struct swapmode **out, struct guestmem *gm, const struct swapmode_params *p);

/* Who to tell when guest data is lost (a swap-in read failed): ends the VM. */
void swapmode_on_fatal(struct swapmode *sm, void (*fn)(void *, const char *), void *opaque);

/* Account pre-run pages, register userfaultfd, start the threads.  0 or -errno. */
int swapmode_start(struct swapmode *sm);

/*
 * The VM is being stopped (SIGINT, SIGTERM): nothing may wait for room or
 * for swap I/O any more, so that every vCPU and thread can stop within
 * SWAP_TICK_MS even when the swap storage hangs.  Faults still pending are
 * served with zero pages (the guest does not run on).  Safe with NULL.
 */
void swapmode_abort(struct swapmode *sm);

/* Stop and join the threads.  Idempotent. */
void swapmode_stop(struct swapmode *sm);

/* Stop, unregister, close the swap file, free.  Safe with NULL. */
void swapmode_destroy(struct swapmode *sm);

/*
 * The pager for guestmem_get/put in swap mode (guestmem_set_pager: set it
 * after swapmode_start, clear it before swapmode_destroy).  get, for [gpa,
 * gpa + len) already checked to lie inside RAM with len > 0, makes every
 * page resident (swapping in synchronously), pins it, and marks it dirty
 * when write; it fails with -errno when a swap-in failed (nothing stays
 * pinned).  prefault (with --prefault on) claims the pages of a run the
 * guest mapped that are not in memory and has a fault thread bring them in
 * (fault_prefault: never waits).  release drops a range: each page waits
 * until it is idle (not being installed, evicted or used by another VMM
 * access), then is punched out of the memfd, its slot freed, and is ABSENT
 * (RELEASED) -- never written back, a zero page at its next touch.
 */
struct guestmem_pager swapmode_pager(struct swapmode *sm);

#define SWAPMODE_METRICS_MAX 64

/*
 * The metrics of the "uffd" and "mem" objects of the report, into @m (room
 * for @max; SWAPMODE_METRICS_MAX is enough).  Returns how many there are.
 */
unsigned swapmode_metrics(const struct swapmode *sm, struct metric *m, unsigned max);

/* The "released" metrics swap mode adds (resident_pages, slots_freed, swapped_out). */
#define SWAPMODE_RELEASE_METRICS 3
unsigned swapmode_release_metrics(const struct swapmode *sm, struct metric *m, unsigned max);

#endif
