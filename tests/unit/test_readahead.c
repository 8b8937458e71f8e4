/* SPDX-License-Identifier: MIT */
/* Readahead decisions: a sequence of faults and outcomes in, windows out. */
#include "mmu/readahead.h"
#include "testutil.h"

#define NR 4096u

static struct readahead ra;

static void expect(struct ra_plan pl, uint64_t first, uint32_t n, uint64_t marker)
{
	ck_assert_uint_eq(pl.n, n);
	if (n)
		ck_assert_uint_eq(pl.first, first);
	ck_assert_uint_eq(pl.marker, marker);
}

/* A forward stream: the window doubles as the stream passes its markers. */
START_TEST(sequential_grows)
{
	struct ra_plan pl;
	uint32_t prev;

	readahead_init(&ra, RA_AUTO, 0, NR, NR);
	pl = readahead_fault(&ra, 100);         /* new stream, nothing measured: a probe block */
	expect(pl, 100, 2, RA_NONE);
	ck_assert_int_eq(pl.stream, RA_NEW_ID);
	pl = readahead_fault(&ra, 101);         /* continues it: upward, read ahead of it */
	expect(pl, 102, 2, 102);
	ck_assert_int_ne(pl.stream, RA_NEW_ID);
	prev = pl.n;
	for (int k = 0; k < 16; k++) {
		uint64_t m = pl.marker;

		pl = readahead_marker(&ra, pl.stream, m);
		ck_assert_uint_eq(pl.first, m + prev);                  /* right after the last */
		ck_assert_uint_ge(pl.n, prev);                          /* never shrinks while used */
		ck_assert_uint_le(pl.n, RA_MAX);
		ck_assert_uint_eq(pl.marker, pl.first);
		ck_assert_uint_eq(pl.used_first + pl.used_n, m);        /* what it passed */
		prev = pl.n;
	}
	ck_assert_uint_eq(pl.n, RA_MAX);
	readahead_destroy(&ra);

	/* a small limit keeps windows to an eighth of it */
	readahead_init(&ra, RA_AUTO, 0, NR, 512);
	readahead_fault(&ra, 10);
	pl = readahead_fault(&ra, 11);
	for (int k = 0; k < 16; k++)
		pl = readahead_marker(&ra, pl.stream, pl.marker);
	ck_assert_uint_eq(pl.n, 64);
	readahead_destroy(&ra);
}
END_TEST

START_TEST(backward)
{
	struct ra_plan pl;

	readahead_init(&ra, RA_AUTO, 0, NR, NR);
	readahead_fault(&ra, 1000);
	pl = readahead_fault(&ra, 999);
	expect(pl, 997, 2, 998);                /* below the fault; the marker nearest it */
	pl = readahead_marker(&ra, pl.stream, 998);
	ck_assert_uint_eq(pl.first + pl.n, 997);
	ck_assert_uint_eq(pl.marker, 996);
	ck_assert_uint_eq(pl.used_first, 999);
	ck_assert_uint_eq(pl.used_n, 1);
	readahead_destroy(&ra);
}
END_TEST

/* New streams read as much around them as such blocks were used. */
START_TEST(new_streams_by_rate)
{
	struct ra_plan pl;
	unsigned blocks = 0;

	readahead_init(&ra, RA_AUTO, 0, NR, NR);
	readahead_wasted(&ra, RA_NEW_ID, 100);
	ck_assert_uint_eq(readahead_new_window(&ra), 0);
	for (uint64_t k = 0; k < 64; k++) {
		pl = readahead_fault(&ra, (k * 613) % NR);      /* scattered: every fault a new stream */
		ck_assert_int_eq(pl.stream, RA_NEW_ID);
		blocks += pl.n > 0;
	}
	ck_assert_uint_eq(blocks, 64 / RA_PROBE);               /* probes only */
	readahead_hit(&ra, RA_NEW_ID, 100);                     /* half used */
	ck_assert_uint_eq(readahead_new_window(&ra), RA_NEW_MAX);
	pl = readahead_fault(&ra, 2053);
	expect(pl, 2048, RA_NEW_MAX, RA_NONE);                  /* the aligned block */
	readahead_wasted(&ra, RA_NEW_ID, 150);                  /* 100 of 350 */
	ck_assert_uint_eq(readahead_new_window(&ra), 4);
	readahead_wasted(&ra, RA_NEW_ID, 400);                  /* 100 of 750 */
	ck_assert_uint_eq(readahead_new_window(&ra), 2);
	ck_assert_uint_eq(atomic_load(&ra.hit), 100);
	ck_assert_uint_eq(atomic_load(&ra.wasted), 650);
	readahead_destroy(&ra);
}
END_TEST

/* A stream whose pages go unused shrinks, by half at most per window. */
START_TEST(unused_shrinks)
{
	struct ra_plan pl;

	readahead_init(&ra, RA_AUTO, 0, NR, NR);
	readahead_fault(&ra, 10);
	pl = readahead_fault(&ra, 11);
	for (int k = 0; k < 10; k++)
		pl = readahead_marker(&ra, pl.stream, pl.marker);
	ck_assert_uint_eq(pl.n, 64);
	/* faults inside each new window, its marker never touched: no hits */
	pl = readahead_fault(&ra, pl.first + 1);
	ck_assert_uint_eq(pl.n, 32);
	pl = readahead_fault(&ra, pl.first + 1);
	ck_assert_uint_eq(pl.n, 16);
	pl = readahead_fault(&ra, pl.first + 1);
	ck_assert_uint_eq(pl.n, 8);
	readahead_destroy(&ra);
}
END_TEST

START_TEST(edges_and_modes)
{
	struct ra_plan pl;

	readahead_init(&ra, RA_AUTO, 0, NR, NR);
	readahead_fault(&ra, NR - 3);
	pl = readahead_fault(&ra, NR - 2);
	expect(pl, NR - 1, 1, NR - 1);          /* clipped at the end of RAM */
	pl = readahead_marker(&ra, pl.stream, NR - 1);
	ck_assert_uint_eq(pl.n, 0);             /* nothing past it */
	readahead_fault(&ra, 1);
	pl = readahead_fault(&ra, 0);
	ck_assert_uint_eq(pl.n, 0);             /* nothing below page 0 */
	/* a marker of a slot that went to another stream is ignored */
	pl = readahead_marker(&ra, 3, 77);
	ck_assert_uint_eq(pl.n, 0);
	pl = readahead_marker(&ra, -1, 77);
	ck_assert_uint_eq(pl.n, 0);
	readahead_destroy(&ra);

	readahead_init(&ra, RA_OFF, 0, NR, NR);
	ck_assert_uint_eq(readahead_fault(&ra, 5).n, 0);
	ck_assert_uint_eq(readahead_fault(&ra, 6).n, 0);
	readahead_destroy(&ra);

	readahead_init(&ra, RA_FIXED, 32, NR, NR);
	pl = readahead_fault(&ra, 64);
	expect(pl, 65, 32, 65);
	pl = readahead_marker(&ra, pl.stream, 65);
	expect(pl, 97, 32, 97);
	pl = readahead_fault(&ra, 100);         /* inside the stream's window: on from it */
	expect(pl, 101, 32, 101);
	readahead_destroy(&ra);
}
END_TEST

static Suite *readahead_suite(void)
{
	Suite *s = suite_create("readahead");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, sequential_grows);
	tcase_add_test(tc, backward);
	tcase_add_test(tc, new_streams_by_rate);
	tcase_add_test(tc, unused_shrinks);
	tcase_add_test(tc, edges_and_modes);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return testutil_run(readahead_suite());
}
