/* SPDX-License-Identifier: MIT */
/*
 * Reclaim: keeps resident pages between the low and high watermarks under
 * the limit (a kswapd).
 *
 * Choice of victims (mmu/aging.c).  --aging clock: a hand walks page
 * indices; a resident page with its referenced bit set has the bit cleared
 * and here its host PTE zapped (MADV_DONTNEED on the guest mapping: the page
 * stays in the memfd, so the next access is a MINOR fault, which sets the
 * bit again); one without it is a victim.  --aging off: FIFO by install
 * order, no reference bits, no zapping.
 *
 * Eviction of a batch of victims (EVICTING): write-protect them, learning
 * in the same walk which were written since their last protection (those,
 * and pages without a swap copy, are dirty); write the dirty ones to fresh
 * slots in one io_uring batch; then, per contiguous run and under the page
 * locks: zap, look at the PTEs again (a page written during the write-back
 * lost its protection), and punch out of the memfd the pages that are still
 * unchanged, untouched (CLOCK) and unpinned.  The others stay resident.
 */
#ifndef PV_MMU_RECLAIM_H
#define PV_MMU_RECLAIM_H

#include <liburing.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "mmu/aging.h"
#include "mmu/pages.h"
#include "mmu/swap.h"

struct guestmem;
struct mmu_fatal;
struct readahead;
struct uffd;

#define RECLAIM_BATCH 64u

struct reclaim_counters {
	atomic_uint_fast64_t swap_out;  /* pages written to the swap file */
	atomic_uint_fast64_t swap_out_skipped_clean;    /* evicted without a write */
	atomic_uint_fast64_t evicted;   /* pages punched out of the memfd */
	atomic_uint_fast64_t evict_cancelled;   /* chosen, then kept (touched, written, pinned) */
	atomic_uint_fast64_t zap;       /* host PTEs zapped to age referenced pages */
	atomic_uint_fast64_t write_errors;      /* failed write runs */
	atomic_uint_fast64_t pf_hit;    /* prefaulted pages seen written */
	atomic_uint_fast64_t pf_wasted; /* prefaulted pages evicted with no sign of use */
	atomic_uint_fast64_t released_written;  /* writes of released pages (must stay 0) */
};

struct reclaim {
	/* what reclaim works on: set by its owner before reclaim_init */
	struct guestmem *gm;
	struct pages *pages;
	struct swap *swap;
	struct uffd *uffd;
	struct readahead *ra;
	struct mmu_fatal *fatal;
	int pagemap_fd;                 /* /proc/self/pagemap: PAGEMAP_SCAN (its owner's, opened at start) */
	bool clock;                     /* --aging clock; false: FIFO */

	struct reclaim_counters c;
	pthread_t thread;
	bool started;
	atomic_bool done;       /* the thread is past its last use of this */
	bool ring_ok;
	struct io_uring ring;           /* write-back batches */
	uint64_t hand;                  /* CLOCK */
	struct fifo fifo;               /* FIFO (--aging off) */
	uint64_t backoff_ms;            /* after a failed write: wait before trying again */
	uint64_t retry_ns;
	struct swap_io io[RECLAIM_BATCH];
};

/* With the context set: the FIFO and the ring.  0 or -ENOMEM. */
int reclaim_init(struct reclaim *r);
int reclaim_start(struct reclaim *r);
void reclaim_stop(struct reclaim *r);
void reclaim_destroy(struct reclaim *r);

/* A page became resident (installed): FIFO queues it. */
void reclaim_note_resident(struct reclaim *r, uint64_t i);

/*
 * One round of reclaim, as the thread does it: pick a batch, age, evict.
 * Returns the number of pages punched.  Exposed for tests.
 */
unsigned reclaim_round(struct reclaim *r);

#endif
