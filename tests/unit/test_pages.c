/* SPDX-License-Identifier: MIT */
/*
 * Swap mode's pure parts: watermarks, the page state transitions, resident
 * accounting against the limit, CLOCK and FIFO victim choice, the latency
 * histogram.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "pagevisor/lathist.h"
#include "mmu/pages.h"
#include "mmu/aging.h"
#include "testutil.h"

START_TEST(watermarks)
{
	static const uint64_t limits[] = { 1, 2, 3, 4, 16, 64, 65, 256, 2048, 16384, 1u << 24 };
	uint64_t h, l;

	pages_watermarks(2048, &h, &l);         /* headroom a quarter of it, at most 512 */
	ck_assert_uint_eq(h, 2048 - 256);
	ck_assert_uint_eq(l, 2048 - 512);
	pages_watermarks(16384, &h, &l);
	ck_assert_uint_eq(h, 16384 - 256);
	ck_assert_uint_eq(l, 16384 - 512);
	pages_watermarks(256, &h, &l);
	ck_assert_uint_eq(h, 224);
	ck_assert_uint_eq(l, 192);
	pages_watermarks(64, &h, &l);           /* at least 32 */
	ck_assert_uint_eq(h, 48);
	ck_assert_uint_eq(l, 32);
	for (size_t k = 0; k < sizeof(limits) / sizeof(limits[0]); k++) {
		pages_watermarks(limits[k], &h, &l);
		ck_assert_msg(l >= 1 && l <= h && h <= limits[k], "limit %llu: low %llu high %llu",
			      (unsigned long long)limits[k], (unsigned long long)l,
			      (unsigned long long)h);
		if (limits[k] >= 4)
			ck_assert_msg(l < h && h < limits[k], "limit %llu: room between the marks",
				      (unsigned long long)limits[k]);
	}
}
END_TEST

START_TEST(transitions)
{
	uint32_t st = PAGE_SWAPPED | PAGE_BUSY;

	/* from the slot: clean; zero-filled: dirty; CLOCK gives a fresh page its bit */
	st = page_installed(st, true, true);
	ck_assert_uint_eq(page_kind(st), PAGE_RESIDENT);
	ck_assert(!(st & (PAGE_BUSY | PAGE_DIRTY)));
	ck_assert(st & PAGE_REF);
	ck_assert(page_installed(PAGE_ABSENT, false, false) == (PAGE_RESIDENT | PAGE_DIRTY));

	/* pins nest; a write makes the copy stale; pinned pages are not evictable */
	ck_assert(page_evictable(st));
	st = page_pinned(st, false, false);
	st = page_pinned(st, true, false);
	ck_assert_uint_eq(page_pins(st), 2);
	ck_assert(st & PAGE_DIRTY);
	ck_assert(!page_evictable(st));
	st = page_unpinned(page_unpinned(st));
	ck_assert_uint_eq(page_pins(st), 0);
	ck_assert_uint_eq(page_unpinned(st), st);      /* never below zero */
	ck_assert(page_evictable(st));
	ck_assert(!page_evictable(st | PAGE_BUSY));
	ck_assert(!page_evictable(page_with_kind(st, PAGE_EVICTING)));

	/* the end of a write-back */
	st = PAGE_EVICTING;
	ck_assert(page_may_punch(st, true));
	ck_assert(!page_may_punch(st | PAGE_REF, true));       /* touched meanwhile (CLOCK) */
	ck_assert(page_may_punch(st | PAGE_REF, false));       /* FIFO has no bits to look at */
	ck_assert(!page_may_punch(st | PAGE_DIRTY, false));    /* a VMM write */
	ck_assert(!page_may_punch(st + PAGE_PIN_ONE, false));  /* a VMM user */
	ck_assert(!page_may_punch(PAGE_RESIDENT, false));
	ck_assert_uint_eq(page_kept(st | PAGE_REF, false), PAGE_RESIDENT | PAGE_REF);
	ck_assert_uint_eq(page_kept(st, true), PAGE_RESIDENT | PAGE_DIRTY);
}
END_TEST

START_TEST(reserve_and_peak)
{
	struct pages p;

	ck_assert_int_eq(pages_init(&p, 64, 4), 0);
	for (int k = 0; k < 4; k++)
		ck_assert(!pages_reserve(&p));
	ck_assert_uint_eq(atomic_load(&p.resident), 4);
	/* full, and reclaim cannot free: the limit gives way, counted */
	atomic_store(&p.give_way, true);
	ck_assert(pages_reserve(&p));
	ck_assert_uint_eq(atomic_load(&p.gave_way), 1);
	ck_assert_uint_eq(atomic_load(&p.peak), 5);
	pages_release(&p, 3);
	ck_assert_uint_eq(atomic_load(&p.resident), 2);
	ck_assert_uint_eq(atomic_load(&p.peak), 5);
	pages_account(&p, 10);
	ck_assert_uint_eq(atomic_load(&p.peak), 12);
	pages_destroy(&p);
	pages_destroy(&p);
}
END_TEST

static void *release_later(void *arg)
{
	struct pages *p = arg;

	usleep(20000);
	pages_release(p, 1);
	return NULL;
}

/* A reserve at the limit waits for room; reclaim is told. */
/* Read-ahead's room: only what is free, less what faults keep; never over the limit. */
START_TEST(try_reserve)
{
	struct pages p;

	ck_assert_int_eq(pages_init(&p, 1000, 100), 0);
	ck_assert_uint_eq(pages_try_reserve(&p, 50, 16), 50);
	ck_assert_uint_eq(pages_try_reserve(&p, 50, 16), 34);  /* up to 100 - 16 */
	ck_assert_uint_eq(pages_try_reserve(&p, 1, 16), 0);
	ck_assert_uint_eq(atomic_load(&p.resident), 84);
	ck_assert_uint_eq(pages_try_reserve(&p, 100, 0), 16);  /* keep 0: to the limit */
	ck_assert_uint_eq(atomic_load(&p.peak), 100);
	ck_assert_uint_eq(pages_try_reserve(&p, 5, 200), 0);   /* keep above the limit */
	pages_release(&p, 100);
	ck_assert_uint_eq(atomic_load(&p.room_waits), 0);
	pages_destroy(&p);
}
END_TEST

START_TEST(reserve_waits_for_room)
{
	struct pages p;
	pthread_t t;

	ck_assert_int_eq(pages_init(&p, 64, 2), 0);
	pages_account(&p, 2);
	ck_assert(pages_wait_work(&p, 1));     /* at high: work for reclaim */
	pthread_create(&t, NULL, release_later, &p);
	ck_assert(!pages_reserve(&p));  /* returned only after the release */
	pthread_join(t, NULL);
	ck_assert_uint_eq(atomic_load(&p.resident), 2);
	ck_assert_uint_eq(atomic_load(&p.peak), 2);
	ck_assert_uint_eq(atomic_load(&p.gave_way), 0);
	pages_destroy(&p);
}
END_TEST

START_TEST(clock_choice)
{
	uint64_t victims[8], aged[8], hand = 6;
	unsigned n, na;
	struct pages p;

	ck_assert_int_eq(pages_init(&p, 10, 8), 0);
	/* 0 R, 1 R+ref, 2 absent, 3 R pinned, 4 R busy, 5 R, 6 R+ref, 7 swapped, 8 R, 9 R+ref */
	pages_set(&p, 0, PAGE_RESIDENT);
	pages_set(&p, 1, PAGE_RESIDENT | PAGE_REF);
	pages_set(&p, 3, PAGE_RESIDENT + PAGE_PIN_ONE);
	pages_set(&p, 4, PAGE_RESIDENT | PAGE_BUSY);
	pages_set(&p, 5, PAGE_RESIDENT | PAGE_DIRTY);
	pages_set(&p, 6, PAGE_RESIDENT | PAGE_REF);
	pages_set(&p, 7, PAGE_SWAPPED);
	pages_set(&p, 8, PAGE_RESIDENT);
	pages_set(&p, 9, PAGE_RESIDENT | PAGE_REF);

	/* from 6: 6 aged, 8 victim, 9 aged, wrap, 0 victim */
	n = aging_clock_pick(&p, &hand, victims, 2, aged, 8, &na);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(victims[0], 8);
	ck_assert_uint_eq(victims[1], 0);
	ck_assert_uint_eq(na, 2);
	ck_assert_uint_eq(aged[0], 6);
	ck_assert_uint_eq(aged[1], 9);
	ck_assert_uint_eq(hand, 1);
	ck_assert_uint_eq(page_kind(pages_get(&p, 8)), PAGE_EVICTING);
	ck_assert(!(pages_get(&p, 6) & PAGE_REF));

	/* on: 1 aged, 5 victim (dirty or not), 6 now a victim; pinned and busy skipped */
	n = aging_clock_pick(&p, &hand, victims, 8, aged, 8, &na);
	ck_assert_uint_eq(n, 4);
	ck_assert_uint_eq(victims[0], 5);
	ck_assert_uint_eq(victims[1], 6);
	ck_assert_uint_eq(victims[2], 9);
	ck_assert_uint_eq(victims[3], 1);
	ck_assert_uint_eq(na, 1);
	ck_assert_uint_eq(aged[0], 1);
	ck_assert_uint_eq(pages_get(&p, 3), PAGE_RESIDENT + PAGE_PIN_ONE);
	ck_assert_uint_eq(pages_get(&p, 4), PAGE_RESIDENT | PAGE_BUSY);

	/* nothing evictable left: two turns, then give up */
	n = aging_clock_pick(&p, &hand, victims, 8, aged, 8, &na);
	ck_assert_uint_eq(n + na, 0);

	/* a full aging list stops the hand early */
	pages_set(&p, 0, PAGE_RESIDENT | PAGE_REF);
	pages_set(&p, 8, PAGE_RESIDENT | PAGE_REF);
	hand = 0;
	n = aging_clock_pick(&p, &hand, victims, 8, aged, 1, &na);
	ck_assert_uint_eq(n, 0);
	ck_assert_uint_eq(na, 1);
	ck_assert_uint_eq(hand, 1);
	pages_destroy(&p);
}
END_TEST

/* A used page (touched while watched) keeps its mapping for turns and is watched again late. */
START_TEST(clock_watch)
{
	uint64_t victims[4], aged[4], hand = 0;
	uint32_t used = page_rereferenced(PAGE_RESIDENT), fresh = page_installed(0, true, true);
	unsigned n, na;
	struct pages p;

	ck_assert_int_eq(pages_init(&p, 2, 2), 0);
	pages_set(&p, 0, used);
	pages_set(&p, 1, fresh);
	/* turn 1: both lose REF; only the fresh page is watched (zapped) */
	n = aging_clock_pick(&p, &hand, victims, 4, aged, 1, &na);
	ck_assert_uint_eq(n, 0);
	ck_assert_uint_eq(na, 1);
	ck_assert_uint_eq(aged[0], 1);
	ck_assert_uint_eq(hand, 0);
	ck_assert_uint_eq(pages_get(&p, 0), used & ~PAGE_REF);
	/* turn 2: the fresh page goes; the used one ages, unwatched */
	n = aging_clock_pick(&p, &hand, victims, 1, aged, 4, &na);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(victims[0], 1);
	ck_assert_uint_eq(na, 0);
	ck_assert_uint_eq(page_age(pages_get(&p, 0)), PAGE_AGE_MAX - 1);
	/* then, turn by turn: watched (listed once) as its age falls from PAGE_AGE_WATCH, gone at 0 */
	n = aging_clock_pick(&p, &hand, victims, 1, aged, 4, &na);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(victims[0], 0);
	ck_assert_uint_eq(na, 1);
	ck_assert_uint_eq(aged[0], 0);
	ck_assert_uint_eq(page_kind(pages_get(&p, 0)), PAGE_EVICTING);
	pages_destroy(&p);
}
END_TEST

START_TEST(fifo_choice)
{
	uint64_t victims[8];
	struct pages p;
	struct fifo f;
	uint32_t i;

	ck_assert_int_eq(pages_init(&p, 8, 8), 0);
	ck_assert_int_eq(fifo_init(&f, 8), 0);
	for (uint32_t k = 0; k < 6; k++) {
		pages_set(&p, k, PAGE_RESIDENT | PAGE_REF);    /* FIFO ignores the bit */
		fifo_push(&f, 5 - k);                          /* install order 5, 4, ..., 0 */
	}
	pages_set(&p, 4, PAGE_RESIDENT + PAGE_PIN_ONE);
	ck_assert_uint_eq(aging_fifo_pick(&p, &f, victims, 2), 2);
	ck_assert_uint_eq(victims[0], 5);
	ck_assert_uint_eq(victims[1], 3);                      /* 4 is pinned: to the tail */
	ck_assert_uint_eq(page_kind(pages_get(&p, 5)), PAGE_EVICTING);
	/* a kept victim goes back to the head: still the oldest */
	fifo_push_front(&f, 3);
	ck_assert(fifo_pop(&f, &i));
	ck_assert_uint_eq(i, 3);
	ck_assert(fifo_pop(&f, &i));
	ck_assert_uint_eq(i, 2);
	ck_assert(fifo_pop(&f, &i));
	ck_assert(fifo_pop(&f, &i));
	ck_assert(fifo_pop(&f, &i));
	ck_assert_uint_eq(i, 4);
	ck_assert(!fifo_pop(&f, &i));
	fifo_destroy(&f);
	pages_destroy(&p);
}
END_TEST

START_TEST(latency_histogram)
{
	static struct lathist h;
	uint64_t log2[LATHIST_LOG2_MAX + 1];
	unsigned used;

	/* every sub-bucket covers its own range, contiguously */
	for (unsigned i = 0; i + 1 < LATHIST_N; i++) {
		ck_assert_uint_eq(lathist_low(i) + lathist_width(i), lathist_low(i + 1));
		ck_assert_uint_eq(lathist_index(lathist_low(i)), i);
		ck_assert_uint_eq(lathist_index(lathist_low(i) + lathist_width(i) - 1), i);
	}
	ck_assert_uint_eq(lathist_index(UINT64_MAX), LATHIST_N - 1);
	ck_assert_uint_eq(lathist_percentile(&h, 50), 0);

	for (int k = 0; k < 98; k++)
		lathist_add(&h, 30000);         /* 30 us */
	lathist_add(&h, 1000000);               /* 1 ms */
	lathist_add(&h, 5);
	/* within 1/16 of the value */
	ck_assert_uint_ge(lathist_percentile(&h, 50), 30000 - 30000 / 16);
	ck_assert_uint_le(lathist_percentile(&h, 50), 30000 + 30000 / 16);
	ck_assert_uint_le(lathist_percentile(&h, 99), 30000 + 30000 / 16);
	ck_assert_uint_ge(lathist_percentile(&h, 100), 1000000 - 1000000 / 16);
	ck_assert_uint_eq(lathist_percentile(&h, 0), 5);
	used = lathist_log2(&h, log2);
	ck_assert_uint_eq(used, 20);                    /* 2^19 <= 1 ms < 2^20 */
	ck_assert_uint_eq(log2[2], 1);                  /* 5 ns */
	ck_assert_uint_eq(log2[14], 98);                /* 2^14 <= 30 us < 2^15 */
	ck_assert_uint_eq(log2[19], 1);
	ck_assert_uint_eq(atomic_load(&h.count), 100);
}
END_TEST

static Suite *pages_suite(void)
{
	Suite *s = suite_create("pages");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, watermarks);
	tcase_add_test(tc, transitions);
	tcase_add_test(tc, reserve_and_peak);
	tcase_add_test(tc, try_reserve);
	tcase_add_test(tc, reserve_waits_for_room);
	tcase_add_test(tc, clock_choice);
	tcase_add_test(tc, clock_watch);
	tcase_add_test(tc, fifo_choice);
	tcase_add_test(tc, latency_histogram);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return testutil_run(pages_suite());
}
