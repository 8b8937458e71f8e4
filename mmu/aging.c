/* SPDX-License-Identifier: MIT */
#include "mmu/aging.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int fifo_init(struct fifo *f, uint64_t cap)
{
	memset(f, 0, sizeof(*f));
	f->q = calloc(cap ? cap : 1, sizeof(*f->q));
	f->inq = calloc((cap + 63) / 64 ? (cap + 63) / 64 : 1, sizeof(*f->inq));
	if (!f->q || !f->inq) {
		free(f->q);
		free(f->inq);
		return -ENOMEM;
	}
	f->cap = cap ? cap : 1;
	pthread_mutex_init(&f->mu, NULL);
	return 0;
}

void fifo_destroy(struct fifo *f)
{
	if (!f->q)
		return;
	pthread_mutex_destroy(&f->mu);
	free(f->q);
	free(f->inq);
	memset(f, 0, sizeof(*f));
}

/*
 * Whether @i is queued; mark it so.  A page the guest released leaves
 * memory without being popped: its entry stays, and stands for the page
 * again if it comes back before the entry is popped.  So every page is
 * queued at most once, and the queue (cap = pages) is never full.
 */
static bool fifo_mark(struct fifo *f, uint32_t i)
{
	uint64_t bit = 1ull << (i % 64);
	bool was = f->inq[i / 64] & bit;

	f->inq[i / 64] |= bit;
	return was;
}

void fifo_push(struct fifo *f, uint32_t i)
{
	pthread_mutex_lock(&f->mu);
	if (i < f->cap && !fifo_mark(f, i) && f->n < f->cap)
		f->q[(f->head + f->n++) % f->cap] = i;
	pthread_mutex_unlock(&f->mu);
}

void fifo_push_front(struct fifo *f, uint32_t i)
{
	pthread_mutex_lock(&f->mu);
	if (i < f->cap && !fifo_mark(f, i) && f->n < f->cap) {
		f->head = (f->head + f->cap - 1) % f->cap;
		f->q[f->head] = i;
		f->n++;
	}
	pthread_mutex_unlock(&f->mu);
}

bool fifo_pop(struct fifo *f, uint32_t *i)
{
	bool got = false;

	pthread_mutex_lock(&f->mu);
	if (f->n) {
		*i = f->q[f->head];
		f->inq[*i / 64] &= ~(1ull << (*i % 64));
		f->head = (f->head + 1) % f->cap;
		f->n--;
		got = true;
	}
	pthread_mutex_unlock(&f->mu);
	return got;
}

unsigned aging_clock_pick(struct pages *p, uint64_t *hand, uint64_t *victims, unsigned max,
			    uint64_t *aged, unsigned max_aged, unsigned *naged)
{
	unsigned n = 0, na = 0;

	/* a turn clears REF, PAGE_AGE_MAX more take the age to 0 */
	for (uint64_t scanned = 0; scanned < (PAGE_AGE_MAX + 2) * p->nr && n < max && na < max_aged;
	     scanned++) {
		uint64_t i = *hand;
		uint32_t st;

		*hand = i + 1 == p->nr ? 0 : i + 1;
		if (!page_evictable(pages_get(p, i)))
			continue;
		pages_lock(p, i);
		st = pages_get(p, i);
		if (page_evictable(st)) {
			if (st & PAGE_REF) {
				/* a fresh page is watched now; a used one keeps its mapping */
				pages_set(p, i, st & ~(PAGE_REF | PAGE_AROUND));
				if (!page_age(st))
					aged[na++] = i;
			} else if (st & PAGE_AROUND) {
				/*
				 * Mapped by fault-around, unseen since: it ages as
				 * any unreferenced page, but is watched again first,
				 * so it goes only after a turn in which a touch shows.
				 */
				st &= ~PAGE_AROUND;
				if (page_age(st))
					st = page_with_age(st, page_age(st) - 1);
				pages_set(p, i, st);
				aged[na++] = i;
			} else if (page_age(st)) {
				pages_set(p, i, page_with_age(st, page_age(st) - 1));
				if (page_age(st) == PAGE_AGE_WATCH)
					aged[na++] = i;         /* watched from here: a touch faults */
			} else {
				pages_set(p, i, page_with_kind(st, PAGE_EVICTING));
				victims[n++] = i;
			}
		}
		pages_unlock(p, i);
	}
	*naged = na;
	return n;
}

static uint64_t fifo_len(struct fifo *f)
{
	uint64_t n;

	pthread_mutex_lock(&f->mu);
	n = f->n;
	pthread_mutex_unlock(&f->mu);
	return n;
}

unsigned aging_fifo_pick(struct pages *p, struct fifo *f, uint64_t *victims, unsigned max)
{
	uint64_t tries = fifo_len(f);
	unsigned n = 0;
	uint32_t i;

	while (n < max && tries-- && fifo_pop(f, &i)) {
		uint32_t st;

		pages_lock(p, i);
		st = pages_get(p, i);
		if (page_evictable(st)) {
			pages_set(p, i, page_with_kind(st, PAGE_EVICTING));
			victims[n++] = i;
		} else if (page_kind(st) == PAGE_RESIDENT) {
			fifo_push(f, i);        /* pinned or busy: later */
		}
		pages_unlock(p, i);
	}
	return n;
}
