/* SPDX-License-Identifier: MIT */
/*
 * Which pages reclaim evicts: the CLOCK hand (--aging clock) and the FIFO
 * queue (--aging off).  Page locks and state words only, no system calls:
 * the caller zaps the pages aged and evicts the victims (mmu/reclaim.c).
 */
#ifndef PV_MMU_AGING_H
#define PV_MMU_AGING_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "mmu/pages.h"

/* Install-order queue of resident pages for --aging off (each at most once). */
struct fifo {
	uint32_t *q;
	uint64_t *inq;          /* [cap / 64]: bit i, page i has an entry */
	uint64_t cap, head, n;
	pthread_mutex_t mu;
};

int fifo_init(struct fifo *f, uint64_t cap);
void fifo_destroy(struct fifo *f);
void fifo_push(struct fifo *f, uint32_t i);        /* at the tail: newest */
void fifo_push_front(struct fifo *f, uint32_t i);  /* back at the head: oldest */
bool fifo_pop(struct fifo *f, uint32_t *i);

/*
 * CLOCK: advance @hand over @p until @max victims are found (marked
 * EVICTING), @max_aged pages are to be watched (listed in @aged for the
 * caller to zap: fresh pages at their first pass, used ones when their age
 * falls from PAGE_AGE_WATCH), or PAGE_AGE_MAX + 2 full turns passed.  A
 * referenced page has its bit cleared; an unreferenced one with an age left
 * loses one (pages.h) instead of going.  Returns the number of victims, in
 * hand order; *@naged the number to watch.  Takes page locks; no system
 * calls.
 */
unsigned aging_clock_pick(struct pages *p, uint64_t *hand, uint64_t *victims, unsigned max,
			    uint64_t *aged, unsigned max_aged, unsigned *naged);

/*
 * FIFO: pop up to @max evictable pages from @f's head (marked EVICTING);
 * pages not evictable now (pinned, being installed) go back to the tail.
 */
unsigned aging_fifo_pick(struct pages *p, struct fifo *f, uint64_t *victims, unsigned max);

#endif
