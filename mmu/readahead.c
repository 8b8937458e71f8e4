/* SPDX-License-Identifier: MIT */
#include "mmu/readahead.h"

#include <string.h>

void readahead_init(struct readahead *ra, enum ra_mode mode, uint32_t fixed, uint64_t nr_pages,
		    uint64_t limit)
{
	memset(ra, 0, sizeof(*ra));
	ra->mode = mode;
	ra->fixed = fixed > RA_MAX ? RA_MAX : fixed;
	ra->nr = nr_pages;
	ra->max = RA_MAX;
	while (ra->max > 8 && ra->max > limit / 8)
		ra->max /= 2;
	pthread_mutex_init(&ra->mu, NULL);
}

void readahead_destroy(struct readahead *ra)
{
	pthread_mutex_destroy(&ra->mu);
}

static uint32_t ra_pow2_up(uint32_t v)
{
	uint32_t p = 1;

	while (p < v)
		p <<= 1;
	return p;
}

uint32_t readahead_new_window(const struct readahead *ra)
{
	uint64_t h = ra->new_hit, all = ra->new_hit + ra->new_wasted;

	if (ra->mode == RA_FIXED)
		return ra->fixed;
	if (ra->mode == RA_OFF)
		return 0;
	if (!all)
		return 2;       /* nothing measured yet: a probe */
	if (2 * h >= all)
		return RA_NEW_MAX;
	if (4 * h >= all)
		return 4;
	if (8 * h >= all)
		return 2;
	return 0;
}

/* The pages a stream covers: its last fault and the window it read last. */
static void ra_span(const struct ra_stream *s, uint64_t *lo, uint64_t *hi)
{
	*lo = *hi = s->last;
	if (!s->window || !s->dir)
		return;
	if (s->dir > 0) {
		*lo = s->first < *lo ? s->first : *lo;
		*hi = s->next - 1 > *hi ? s->next - 1 : *hi;
	} else {
		*lo = s->next + 1 < *lo ? s->next + 1 : *lo;
		*hi = s->first > *hi ? s->first : *hi;
	}
}

/* The stream a fault at @p continues (nearest to its span, within reach), or -1. */
static int ra_find(struct readahead *ra, uint64_t p)
{
	uint64_t best = UINT64_MAX;
	int k = -1;

	for (int i = 0; i < (int)RA_STREAMS; i++) {
		const struct ra_stream *s = &ra->s[i];
		uint64_t reach = s->window > RA_REACH ? s->window : RA_REACH, lo, hi, d;

		if (!s->valid || p == s->last)
			continue;
		ra_span(s, &lo, &hi);
		d = p < lo ? lo - p : p > hi ? p - hi : 0;
		if (d <= reach && d < best) {
			best = d;
			k = i;
		}
	}
	return k;
}

static int ra_lru(struct readahead *ra)
{
	int k = 0;

	for (int i = 0; i < (int)RA_STREAMS; i++) {
		if (!ra->s[i].valid)
			return i;
		if (ra->s[i].used < ra->s[k].used)
			k = i;
	}
	return k;
}

/* Clip [first, first + n) to RAM. */
static void ra_clip(const struct readahead *ra, struct ra_plan *pl)
{
	if (pl->first >= ra->nr) {
		pl->n = 0;
		return;
	}
	if (pl->n > ra->nr - pl->first)
		pl->n = (uint32_t)(ra->nr - pl->first);
}

/*
 * The window of @s from page @from on in its direction, @w pages; the
 * stream remembers it, and its first page is the marker.
 */
static struct ra_plan ra_window(struct readahead *ra, int k, uint64_t from, uint32_t w)
{
	struct ra_stream *s = &ra->s[k];
	struct ra_plan pl = { .stream = k, .marker = RA_NONE };

	if (s->dir > 0) {
		pl.first = from;
		pl.n = w;
	} else {
		pl.n = from + 1 < w ? (uint32_t)(from + 1) : w;
		pl.first = from + 1 - pl.n;
	}
	ra_clip(ra, &pl);
	if (!pl.n)
		return pl;
	s->window = pl.n;
	s->first = s->dir > 0 ? pl.first : pl.first + pl.n - 1;
	s->next = s->dir > 0 ? pl.first + pl.n : pl.first - 1;     /* wraps below 0: clipped later */
	pl.marker = s->first;
	return pl;
}

/* The next window's size: the Linux rule, from the hits since the last sizing. */
static uint32_t ra_next_size(struct readahead *ra, struct ra_stream *s)
{
	uint32_t w;

	if (ra->mode == RA_FIXED)
		return ra->fixed;
	w = ra_pow2_up(s->hits + 2);
	if (w < s->window / 2)
		w = s->window / 2;
	if (w > ra->max)
		w = ra->max;
	s->hits = 0;
	return w;
}

struct ra_plan readahead_fault(struct readahead *ra, uint64_t p)
{
	struct ra_plan pl = { .stream = RA_NEW_ID, .marker = RA_NONE };
	struct ra_stream *s;
	uint32_t w;
	int k;

	if (ra->mode == RA_OFF || p >= ra->nr)
		return pl;
	pthread_mutex_lock(&ra->mu);
	ra->tick++;
	k = ra_find(ra, p);
	if (k >= 0) {
		s = &ra->s[k];
		s->dir = p > s->last ? 1 : -1;
		s->last = p;
		s->used = ra->tick;
		w = ra_next_size(ra, s);
		/* the fault is the stream's: read on from the page after it */
		if (s->dir > 0 || p > 0)
			pl = ra_window(ra, k, s->dir > 0 ? p + 1 : p - 1, w);
		pthread_mutex_unlock(&ra->mu);
		return pl;
	}
	k = ra_lru(ra);
	s = &ra->s[k];
	*s = (struct ra_stream){ .valid = true, .start = p, .last = p, .used = ra->tick };
	if (ra->mode == RA_FIXED) {
		/* a fixed window: read on from the fault, as a stream upward */
		s->dir = 1;
		pl = ra_window(ra, k, p + 1, ra->fixed);
		pthread_mutex_unlock(&ra->mu);
		return pl;
	}
	w = readahead_new_window(ra);
	if (!w && ra->mode == RA_AUTO && ++ra->new_streams % RA_PROBE == 0)
		w = 2;
	if (w) {
		/* the aligned block around the fault: no direction yet */
		pl.first = p & ~(uint64_t)(w - 1);
		pl.n = w;
		ra_clip(ra, &pl);
	}
	pthread_mutex_unlock(&ra->mu);
	return pl;
}

struct ra_plan readahead_marker(struct readahead *ra, int stream, uint64_t p)
{
	struct ra_plan pl = { .stream = stream, .marker = RA_NONE };
	struct ra_stream *s;
	uint32_t w;

	if (ra->mode == RA_OFF || stream < 0 || stream >= (int)RA_STREAMS || p >= ra->nr)
		return pl;
	pthread_mutex_lock(&ra->mu);
	s = &ra->s[stream];
	if (!s->valid || !s->dir || p != s->first) {
		pthread_mutex_unlock(&ra->mu);
		return pl;      /* the slot went to another stream meanwhile */
	}
	ra->tick++;
	s->used = ra->tick;
	/* the stream has come to this window: it passed the window before */
	if (s->dir > 0) {
		pl.used_first = s->last < p ? s->last : p;
		pl.used_n = (uint32_t)(p - pl.used_first);
	} else {
		pl.used_first = p + 1;
		pl.used_n = s->last > p ? (uint32_t)(s->last - p) : 0;
	}
	s->hits += pl.used_n;
	s->last = p;
	w = ra_next_size(ra, s);
	if (s->dir > 0 || s->next < ra->nr) {
		struct ra_plan next = ra_window(ra, stream, s->next, w);

		pl.first = next.first;
		pl.n = next.n;
		pl.marker = next.marker;
	}
	pthread_mutex_unlock(&ra->mu);
	return pl;
}

bool readahead_passed(struct readahead *ra, int stream, uint64_t i)
{
	const struct ra_stream *s;
	bool passed;

	if (stream < 0 || stream >= (int)RA_STREAMS)
		return false;
	pthread_mutex_lock(&ra->mu);
	s = &ra->s[stream];
	passed = s->valid && ((s->dir > 0 && i >= s->start && i < s->last) ||
			      (s->dir < 0 && i <= s->start && i > s->last));
	pthread_mutex_unlock(&ra->mu);
	return passed;
}

void readahead_issued(struct readahead *ra, uint32_t n)
{
	atomic_fetch_add_explicit(&ra->issued, n, memory_order_relaxed);
}

/* A moving window over the new-stream outcomes: old ones weigh half as time goes on. */
static void ra_new_outcome(struct readahead *ra, uint32_t hit, uint32_t wasted)
{
	ra->new_hit += hit;
	ra->new_wasted += wasted;
	if (ra->new_hit + ra->new_wasted > 1024) {
		ra->new_hit /= 2;
		ra->new_wasted /= 2;
	}
}

void readahead_hit(struct readahead *ra, int stream, uint32_t n)
{
	if (!n)
		return;
	atomic_fetch_add_explicit(&ra->hit, n, memory_order_relaxed);
	pthread_mutex_lock(&ra->mu);
	if (stream == RA_NEW_ID)
		ra_new_outcome(ra, n, 0);
	else if (stream >= 0 && stream < (int)RA_STREAMS)
		ra->s[stream].hits += n;
	pthread_mutex_unlock(&ra->mu);
}

void readahead_wasted(struct readahead *ra, int stream, uint32_t n)
{
	if (!n)
		return;
	atomic_fetch_add_explicit(&ra->wasted, n, memory_order_relaxed);
	if (stream == RA_NEW_ID) {
		pthread_mutex_lock(&ra->mu);
		ra_new_outcome(ra, 0, n);
		pthread_mutex_unlock(&ra->mu);
	}
}
