/* SPDX-License-Identifier: MIT */
/*
 * The fault service threads of swap mode: they read the userfaultfd (several
 * readers are fine: non-blocking reads after poll) and serve each fault by
 * the page's state, not by the event's kind (the state may have moved on
 * since the kernel raised it):
 *
 *   ABSENT    zero-fill (UFFDIO_ZEROPAGE)
 *   SWAPPED   read its slot, with read-ahead neighbours (mmu/readahead.h),
 *             and install it when the read completes
 *   RESIDENT, EVICTING
 *             mark referenced (CLOCK) and UFFDIO_CONTINUE, with the present
 *             but unmapped neighbours (fault-around); a read-ahead stream's
 *             marker starts the stream's next window
 *   BUSY      being installed: left to the installer, which wakes it
 *
 * The pipeline.  A thread never waits for a read: it queues the faulting
 * page's read (one page, so the vCPU waits for its own page only) and the
 * window's (one request for the run of neighbours, from the swap file's
 * page-i-in-slot-i layout), and goes back to the uffd; completions come on
 * its io_uring, and each contiguous run of pages is installed with one
 * UFFDIO_COPY.  Read-ahead pages are installed write-protected (clean) like
 * any swapped-in page, with a fresh page's one pass of grace under CLOCK and
 * no reference (they were not touched); a stream's marker goes into the
 * memfd unmapped, so its touch is a MINOR fault.
 *
 * A fault thread never waits on a page (a page it found BUSY gets WAITED,
 * and whoever clears BUSY wakes it), so no thread waits on another's
 * completion.  It may wait for room under the limit for the faulting page
 * only; read-ahead takes room only where there is some (pages_try_reserve).
 */
#ifndef PV_MMU_FAULT_H
#define PV_MMU_FAULT_H

#include <liburing.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "mmu/readahead.h"

struct swapmode;

#define FAULT_REQS      8u      /* reads in flight per thread */
#define FAULT_AROUND    16u     /* pages: the aligned block a MINOR fault maps */
#define FAULT_RA_KEEP   16u     /* pages of room read-ahead leaves for faults */

/* One read in flight: the faulting page alone, or a read-ahead window. */
struct fault_req {
	bool used;
	bool demand;            /* a vCPU waits on page @first (n == 1) */
	bool write;             /* ... and its fault was a write */
	int stream;             /* read-ahead: the pages' stream id */
	uint32_t n;             /* pages read, from @first */
	uint64_t first;
	uint64_t marker;        /* RA_NONE, or the page to leave unmapped */
	uint64_t claimed[RA_MAX / 64 + 1];      /* read-ahead: pages [first + k] it installs */
	uint64_t t_event, t_submit;
	uint8_t *buf;           /* (RA_MAX + 1) pages, its own mapping */
};

struct fault_worker {
	struct swapmode *sm;
	pthread_t thread;
	bool started;
	bool ring_ok;
	bool abandoned;         /* a read was given up on: its buffer and ring stay */
	int ring_efd;           /* eventfd the ring signals completions on */
	unsigned inflight;
	struct io_uring ring;
	struct fault_req req[FAULT_REQS];
};

struct fault {
	unsigned nr;
	struct fault_worker *w;
};

/* Start @nr fault threads serving sm->uffd.  0 or -errno (threads started so far keep running). */
int fault_start(struct swapmode *sm, unsigned nr);

/*
 * Stop and join the threads: each completes or (after swap_abort) gives up
 * the reads it has in flight first.  Idempotent.
 */
void fault_stop(struct swapmode *sm);

/*
 * Serve one fault on the page at @addr (flags from the event), read at @t0
 * (ns).  Exposed for tests; the threads call it.
 */
void fault_serve(struct fault_worker *w, uint64_t addr, uint64_t flags, uint64_t t0);

/*
 * Whoever cleared BUSY on page @i and found it WAITED (pages_set_idle)
 * wakes its faults: they find the page mapped, or fault again.
 */
void fault_wake(struct swapmode *sm, uint64_t i);

#endif
