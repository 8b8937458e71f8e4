/* SPDX-License-Identifier: MIT */
#include "mmu/pages.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void pages_watermarks(uint64_t limit, uint64_t *high, uint64_t *low)
{
	uint64_t hr = limit / 4 < 32 ? 32 : limit / 4 > PAGES_HEADROOM_MAX ? PAGES_HEADROOM_MAX :
		      limit / 4;
	uint64_t mh = hr / 2, ml = hr;
	uint64_t h = limit > 2 * mh ? limit - mh : limit - limit / 4;
	uint64_t l = limit > 2 * ml ? limit - ml : limit / 2;

	if (h == 0)
		h = 1;
	if (l == 0)
		l = 1;
	if (l > h)
		l = h;
	*high = h;
	*low = l;
}

int pages_init(struct pages *p, uint64_t nr, uint64_t limit)
{
	memset(p, 0, sizeof(*p));
	/* large callocs are fresh mappings: untouched parts cost nothing */
	p->st = calloc(nr, sizeof(*p->st));
	p->stripe = calloc(PAGES_STRIPES, sizeof(*p->stripe));
	if (!p->st || !p->stripe) {
		free(p->st);
		free(p->stripe);
		memset(p, 0, sizeof(*p));
		return -ENOMEM;
	}
	for (unsigned s = 0; s < PAGES_STRIPES; s++) {
		pthread_mutex_init(&p->stripe[s].mu, NULL);
		pthread_cond_init(&p->stripe[s].cv, NULL);
	}
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->room, NULL);
	pthread_cond_init(&p->work, NULL);
	p->nr = nr;
	p->limit = limit;
	pages_watermarks(limit, &p->high, &p->low);
	return 0;
}

void pages_destroy(struct pages *p)
{
	if (!p->stripe)
		return;
	for (unsigned s = 0; s < PAGES_STRIPES; s++) {
		pthread_mutex_destroy(&p->stripe[s].mu);
		pthread_cond_destroy(&p->stripe[s].cv);
	}
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->room);
	pthread_cond_destroy(&p->work);
	free(p->st);
	free(p->stripe);
	memset(p, 0, sizeof(*p));
}

uint32_t pages_wait_idle(struct pages *p, uint64_t i)
{
	uint32_t st;

	while ((st = pages_get(p, i)) & PAGE_BUSY)
		pthread_cond_wait(&p->stripe[i % PAGES_STRIPES].cv, pages_mutex(p, i));
	return st;
}

bool pages_set_idle(struct pages *p, uint64_t i, uint32_t st)
{
	bool waited = (pages_get(p, i) | st) & PAGE_WAITED;

	pages_set(p, i, st & ~(PAGE_BUSY | PAGE_WAITED));
	pthread_cond_broadcast(&p->stripe[i % PAGES_STRIPES].cv);
	return waited;
}

static void pages_note_peak(struct pages *p, uint64_t r)
{
	uint64_t peak = atomic_load(&p->peak);

	while (r > peak && !atomic_compare_exchange_weak(&p->peak, &peak, r))
		;
}

/* An absolute CLOCK_REALTIME deadline @ms from now, for pthread_cond_timedwait. */
static struct timespec pages_deadline(unsigned ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000l;
	if (ts.tv_nsec >= 1000000000l) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000l;
	}
	return ts;
}

bool pages_reserve(struct pages *p)
{
	uint64_t r = atomic_load(&p->resident);
	bool over = false, waited = false;

	for (;;) {
		if (r < p->limit) {
			if (atomic_compare_exchange_weak(&p->resident, &r, r + 1)) {
				r++;
				break;
			}
			continue;
		}
		if (atomic_load(&p->give_way) || atomic_load(&p->stop)) {
			r = atomic_fetch_add(&p->resident, 1) + 1;
			atomic_fetch_add(&p->gave_way, 1);
			over = true;
			break;
		}
		/* full: wake reclaim and wait for room (timed: a missed wake costs 10 ms) */
		pthread_mutex_lock(&p->mu);
		if (!waited) {
			atomic_fetch_add(&p->waiting, 1);
			atomic_fetch_add(&p->room_waits, 1);
			waited = true;
		}
		pthread_cond_signal(&p->work);
		if (atomic_load(&p->resident) >= p->limit && !atomic_load(&p->give_way) &&
		    !atomic_load(&p->stop)) {
			struct timespec ts = pages_deadline(10);

			pthread_cond_timedwait(&p->room, &p->mu, &ts);
		}
		pthread_mutex_unlock(&p->mu);
		r = atomic_load(&p->resident);
	}
	if (waited)
		atomic_fetch_sub(&p->waiting, 1);
	pages_note_peak(p, r);      /* the value our own increment made */
	if (r >= p->high) {
		pthread_mutex_lock(&p->mu);
		pthread_cond_signal(&p->work);
		pthread_mutex_unlock(&p->mu);
	}
	return over;
}

uint64_t pages_try_reserve(struct pages *p, uint64_t n, uint64_t keep)
{
	uint64_t r = atomic_load(&p->resident), cap = p->limit > keep ? p->limit - keep : 0, g;

	do {
		g = r >= cap ? 0 : cap - r < n ? cap - r : n;
		if (!g)
			break;
	} while (!atomic_compare_exchange_weak(&p->resident, &r, r + g));
	if (g)
		pages_note_peak(p, r + g);
	if (r + g >= p->high) {
		pthread_mutex_lock(&p->mu);
		pthread_cond_signal(&p->work);
		pthread_mutex_unlock(&p->mu);
	}
	return g;
}

void pages_release(struct pages *p, uint64_t n)
{
	if (!n)
		return;
	atomic_fetch_sub(&p->resident, n);
	if (atomic_load(&p->waiting)) {
		pthread_mutex_lock(&p->mu);
		pthread_cond_broadcast(&p->room);
		pthread_mutex_unlock(&p->mu);
	}
}

void pages_account(struct pages *p, uint64_t n)
{
	pages_note_peak(p, atomic_fetch_add(&p->resident, n) + n);
}

void pages_kick(struct pages *p)
{
	pthread_mutex_lock(&p->mu);
	pthread_cond_broadcast(&p->room);
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->mu);
}

bool pages_wait_work(struct pages *p, unsigned timeout_ms)
{
	struct timespec ts = pages_deadline(timeout_ms);
	bool work;

	pthread_mutex_lock(&p->mu);
	while (!(work = atomic_load(&p->resident) >= p->high || atomic_load(&p->waiting) > 0) &&
	       !atomic_load(&p->stop)) {
		if (pthread_cond_timedwait(&p->work, &p->mu, &ts))
			break;
	}
	pthread_mutex_unlock(&p->mu);
	return work && !atomic_load(&p->stop);
}
