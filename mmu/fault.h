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
#include <stdatomic.h>
#include <stdint.h>

#include "pagevisor/lathist.h"
#include "mmu/readahead.h"

struct guestmem;
struct mmu_fatal;
struct pages;
struct reclaim;
struct swap;
struct uffd;

#define FAULT_REQS      8u      /* reads in flight per thread */
#define FAULT_AROUND    16u     /* pages: the aligned block a MINOR fault maps */
#define FAULT_RA_KEEP   16u     /* pages of room read-ahead leaves for faults */
#define FAULT_SPIN_US   200     /* see fault_thread() */
#define FAULT_PF_QUEUE  64u     /* prefault runs waiting for worker 0 */
#define FAULT_PF_HEAD   16u     /* pages: a prefault run's first read */

/* One read in flight: the faulting page alone, or a read-ahead window. */
struct fault_req {
	bool used;
	bool demand;            /* a vCPU waits on page @first (n == 1) */
	bool prefault;          /* not demand: a prefault run, not a read-ahead window */
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
	struct fault *f;
	pthread_t thread;
	bool started;
	bool ring_ok;
	bool abandoned;         /* a read was given up on: its buffer and ring stay */
	atomic_bool done;       /* the thread is past its last use of this */
	int ring_efd;           /* eventfd the ring signals completions on */
	unsigned inflight;
	struct io_uring ring;
	struct fault_req req[FAULT_REQS];
};

struct fault_counters {
	atomic_uint_fast64_t missing;   /* faults that found the page absent or swapped */
	atomic_uint_fast64_t minor;     /* faults on pages aging zapped */
	atomic_uint_fast64_t zero_fill, swap_in;
	atomic_uint_fast64_t read_errors;       /* failed or mismatching demand reads */
	atomic_uint_fast64_t busy;      /* faults on a page being installed: left to the installer */
	atomic_uint_fast64_t fault_around;      /* pages a MINOR fault mapped besides its own */
	atomic_uint_fast64_t ra_installed;      /* read-ahead pages installed */
	atomic_uint_fast64_t ra_marker;         /* MINOR faults on read-ahead markers */
	atomic_uint_fast64_t pf_batches;        /* fault_prefault calls that claimed pages */
	atomic_uint_fast64_t pf_installed;      /* pages prefault brought in */
	atomic_uint_fast64_t pf_hit;            /* ... that a fault showed used (MINOR, or waited) */
	atomic_uint_fast64_t pf_dropped;        /* claimed, given back: queue full, no room, error */
	struct lathist lat_zero, lat_swap_in, lat_minor;
	/* a swap-in's stages: event read -> read submitted -> read done -> installed (woken) */
	struct lathist lat_queue, lat_read, lat_install;
};

struct fault {
	/* what the fault path works on: set by its owner before fault_start */
	struct guestmem *gm;
	struct pages *pages;
	struct swap *swap;
	struct uffd *uffd;
	struct readahead *ra;
	struct reclaim *reclaim;        /* told of each page that becomes resident */
	struct mmu_fatal *fatal;
	bool clock;                     /* --aging clock: installed pages get a pass of grace */

	struct fault_counters c;
	unsigned nr;
	struct fault_worker *w;

	/* prefault: runs of claimed (BUSY) pages, served by worker 0 */
	pthread_mutex_t pf_mu;
	struct fault_pf_run { uint64_t first, n; } pf_q[FAULT_PF_QUEUE];
	unsigned pf_head, pf_len;
	atomic_uint_fast64_t pf_pending;        /* claimed, not yet installed or given back */
	int pf_efd;                             /* eventfd: wakes worker 0 */
};

/*
 * Prefault: the guest mapped pages [@first, @first + @n).  Claim (BUSY) the
 * ones not in memory -- swapped out, or never touched -- and queue them for
 * worker 0, which reserves room (waiting for reclaim if it must), reads the
 * swapped ones (one request per run, as read-ahead) and zero-fills the
 * others, and installs them mapped, so the guest's touches take no fault.
 * A touch before that finds the page BUSY and is woken at its install.
 * Never waits (called on a vCPU thread); claims at most a quarter of the
 * limit at a time.  Returns the pages claimed.
 */
uint64_t fault_prefault(struct fault *f, uint64_t first, uint64_t n);

/* Start @nr fault threads serving f->uffd.  0 or -errno (threads started so far keep running). */
int fault_start(struct fault *f, unsigned nr);

/*
 * Stop and join the threads: each completes or (after swap_abort) gives up
 * the reads it has in flight first.  Idempotent.
 */
void fault_stop(struct fault *f);

/*
 * Serve one fault on the page at @addr (flags from the event), read at @t0
 * (ns).  Exposed for tests; the threads call it.
 */
void fault_serve(struct fault_worker *w, uint64_t addr, uint64_t flags, uint64_t t0);

/*
 * Whoever cleared BUSY on page @i and found it WAITED (pages_set_idle)
 * wakes its faults: they find the page mapped, or fault again.
 */
void fault_wake(struct fault *f, uint64_t i);

/*
 * The one way a page becomes resident, whoever installed it (a fault
 * thread, or the VMM's own access): with its lock held, store its state as
 * installed (from its slot or not) with @bits added, pinned for the VMM when
 * @pin (dirty when @write), clear BUSY and wake its waiters, release the
 * lock, and tell reclaim.
 */
void fault_installed(struct fault *f, uint64_t i, bool from_slot, uint32_t bits, bool pin,
		     bool write);

/*
 * A claim given up: page @i (BUSY, not installed) is as it was, BUSY cleared
 * with its waiters woken, and its reserved room given back.
 */
void fault_unclaim(struct fault *f, uint64_t i);

#endif
