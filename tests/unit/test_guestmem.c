/* SPDX-License-Identifier: MIT */
/* Guest RAM: two views of one memfd, and the one checked gpa -> hva. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "mmu/guestmem.h"
#include "testutil.h"

#define SIZE (4u << 20)

START_TEST(views_share_memory)
{
	struct guestmem gm;

	ck_assert_int_eq(guestmem_init(&gm, SIZE), 0);
	ck_assert_ptr_ne(gm.guest_map, gm.alias);
	gm.guest_map[12345] = 0x5a;
	ck_assert_uint_eq(gm.alias[12345], 0x5a);
	gm.alias[SIZE - 1] = 0xa5;
	ck_assert_uint_eq(gm.guest_map[SIZE - 1], 0xa5);
	guestmem_destroy(&gm);
	guestmem_destroy(&gm);  /* idempotent */
}
END_TEST

START_TEST(bad_sizes)
{
	struct guestmem gm;

	ck_assert_int_eq(guestmem_init(&gm, 0), -EINVAL);
	ck_assert_int_eq(guestmem_init(&gm, 4097), -EINVAL);
	guestmem_destroy(&gm);
}
END_TEST

START_TEST(hva_bounds)
{
	struct guestmem gm;

	ck_assert_int_eq(guestmem_init(&gm, SIZE), 0);
	ck_assert_ptr_eq(guestmem_hva(&gm, 0, 1), gm.alias);
	ck_assert_ptr_eq(guestmem_hva(&gm, SIZE - 8, 8), gm.alias + SIZE - 8);
	ck_assert_ptr_eq(guestmem_hva(&gm, 0, SIZE), gm.alias);
	ck_assert_ptr_eq(guestmem_hva(&gm, SIZE, 0), gm.alias + SIZE);
	ck_assert_ptr_null(guestmem_hva(&gm, SIZE - 8, 9));
	ck_assert_ptr_null(guestmem_hva(&gm, SIZE, 1));
	ck_assert_ptr_null(guestmem_hva(&gm, 0, SIZE + 1ull));
	ck_assert_ptr_null(guestmem_hva(&gm, SIZE + 1ull, 0));
	guestmem_destroy(&gm);
}
END_TEST

START_TEST(hva_overflow)
{
	struct guestmem gm;

	ck_assert_int_eq(guestmem_init(&gm, SIZE), 0);
	/* gpa + len wraps to a small number: must not pass as "inside" */
	ck_assert_ptr_null(guestmem_hva(&gm, UINT64_MAX, 2));
	ck_assert_ptr_null(guestmem_hva(&gm, 16, UINT64_MAX - 8));
	ck_assert_ptr_null(guestmem_hva(&gm, UINT64_MAX - 4095, 4096));
	ck_assert_ptr_null(guestmem_hva(&gm, 1ull << 63, 1ull << 63));
	ck_assert(!guestmem_range_ok(SIZE, UINT64_MAX, 1));
	ck_assert(guestmem_range_ok(SIZE, 0, 0));
	guestmem_destroy(&gm);

	/* an uninitialised guestmem translates nothing */
	memset(&gm, 0, sizeof(gm));
	ck_assert_ptr_null(guestmem_hva(&gm, 0, 1));
}
END_TEST

/* Without swap mode, get/put are the bounds-checked translation and nothing else. */
START_TEST(get_put_without_swap)
{
	struct guestmem gm;
	uint8_t *p;

	ck_assert_int_eq(guestmem_init(&gm, SIZE), 0);
	p = guestmem_get(&gm, 4096, 8192, true);
	ck_assert_ptr_eq(p, gm.alias + 4096);
	p[0] = 7;
	guestmem_put(&gm, 4096, 8192);
	ck_assert_uint_eq(gm.guest_map[4096], 7);
	ck_assert_ptr_null(guestmem_get(&gm, SIZE - 8, 9, false));
	ck_assert_ptr_null(guestmem_get(&gm, UINT64_MAX, 2, false));
	ck_assert_ptr_eq(guestmem_get(&gm, SIZE, 0, false), gm.alias + SIZE);
	guestmem_put(&gm, SIZE - 8, 9);         /* a put of a refused range is harmless */
	guestmem_destroy(&gm);
}
END_TEST

/* --anon-ram: one private anonymous mapping, no memfd. */
START_TEST(anonymous_ram)
{
	struct guestmem gm;

	ck_assert_int_eq(guestmem_init_anon(&gm, SIZE), 0);
	ck_assert_int_eq(gm.memfd, -1);
	ck_assert_ptr_eq(gm.guest_map, gm.alias);
	gm.guest_map[SIZE - 1] = 3;
	ck_assert_ptr_eq(guestmem_hva(&gm, SIZE - 1, 1), gm.guest_map + SIZE - 1);
	ck_assert_uint_eq(*(uint8_t *)guestmem_get(&gm, SIZE - 1, 1, false), 3);
	guestmem_put(&gm, SIZE - 1, 1);
	guestmem_destroy(&gm);
	guestmem_destroy(&gm);
	ck_assert_int_eq(guestmem_init_anon(&gm, 4097), -EINVAL);
}
END_TEST

#define HUGE_SYSFS "/sys/kernel/mm/hugepages/hugepages-2048kB/"
#define HP         GUESTMEM_HUGE_PAGE

static long hp_read(const char *name)
{
	char path[128];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), HUGE_SYSFS "%s", name);
	if (!(f = fopen(path, "r")))
		return -1;
	if (fscanf(f, "%ld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

static bool hp_write(long n)
{
	FILE *f = fopen(HUGE_SYSFS "nr_hugepages", "w");
	bool ok = f && fprintf(f, "%ld\n", n) > 0;

	if (f && fclose(f))
		ok = false;
	return ok;
}

static uint64_t allocated(const struct guestmem *gm)
{
	struct guestmem_usage u;

	ck_assert_int_eq(guestmem_usage(gm, &u), 0);
	return u.allocated;
}

/*
 * hugetlb RAM (--hugepages): whole huge pages punched on release, partial
 * ones zeroed in place, populate by huge page, a short pool refused at
 * init.  Needs 4 free 2 MiB pages: reserved here for the test when root
 * may, else skipped with a line on stderr.
 */
static long hp_total = -1;      /* nr_hugepages before the tcase, when it changed it */
static bool hp_ok;

/* Unchecked: runs in the parent, so the pool is given back even after a failure. */
static void hp_reserve(void)
{
	long total = hp_read("nr_hugepages"), free0 = hp_read("free_hugepages");

	hp_ok = free0 >= 4;
	if (total < 0 || free0 < 0 || hp_ok)
		return;
	hp_total = total;
	hp_ok = hp_write(total + 4 - free0) && hp_read("free_hugepages") >= 4;
}

static void hp_unreserve(void)
{
	if (hp_total >= 0)
		hp_write(hp_total);
	hp_total = -1;
}

START_TEST(hugetlb_ram)
{
	struct guestmem gm;

	if (!hp_ok) {
		fprintf(stderr, "test_guestmem: no 4 free 2 MiB huge pages and none could be "
			"reserved: hugetlb_ram skipped\n");
		return;
	}
	ck_assert_int_eq(guestmem_init_hugetlb(&gm, 3 * HP + 4096), -EINVAL);
	ck_assert_int_eq(guestmem_init_hugetlb(&gm, (uint64_t)(hp_read("free_hugepages") + 1) * HP),
			 -ENOMEM);
	ck_assert_int_eq(guestmem_init_hugetlb(&gm, 4 * HP), 0);
	ck_assert_uint_eq(gm.page_size, HP);
	ck_assert_uint_eq(allocated(&gm), 0);
	memset(gm.alias, 0x77, 4 * HP);
	ck_assert_uint_eq(gm.guest_map[3 * HP + 5], 0x77);     /* one file, two views */
	ck_assert_uint_eq(allocated(&gm), 4 * HP);
	/* a whole huge page goes back (reading it brings a zeroed one: hugetlb has no zero page) */
	ck_assert_int_eq(guestmem_release(&gm, HP, HP), 0);
	ck_assert_uint_eq(allocated(&gm), 3 * HP);
	ck_assert_uint_eq(gm.alias[HP + 12345], 0);
	ck_assert_uint_eq(allocated(&gm), 4 * HP);
	/* part of one: zeroed in place, nothing given back, neighbours intact */
	ck_assert_int_eq(guestmem_release(&gm, 3 * 4096, 2 * 4096), 0);
	ck_assert_uint_eq(allocated(&gm), 4 * HP);
	ck_assert_uint_eq(gm.alias[3 * 4096], 0);
	ck_assert_uint_eq(gm.alias[5 * 4096 - 1], 0);
	ck_assert_uint_eq(gm.alias[3 * 4096 - 1], 0x77);
	ck_assert_uint_eq(gm.alias[5 * 4096], 0x77);
	/* edges and a whole page between them */
	gm.alias[HP - 1] = 0x77;
	ck_assert_int_eq(guestmem_release(&gm, 2 * HP - 4096, HP + 2 * 4096), 0);
	ck_assert_uint_eq(allocated(&gm), 3 * HP);
	ck_assert_uint_eq(gm.alias[2 * HP - 4097], 0);  /* released above, read back as zero */
	ck_assert_uint_eq(gm.alias[2 * HP - 4096], 0);
	ck_assert_uint_eq(gm.alias[3 * HP + 4095], 0);
	ck_assert_uint_eq(gm.alias[3 * HP + 4096], 0x77);
	ck_assert_uint_eq(gm.alias[HP - 1], 0x77);
	ck_assert_uint_eq(allocated(&gm), 3 * HP);
	/* populating one 4 KiB page brings its whole huge page */
	ck_assert_int_eq(guestmem_populate(&gm, 2 * HP + 5 * 4096, 4096), 0);
	ck_assert_uint_eq(allocated(&gm), 4 * HP);
	guestmem_destroy(&gm);
}
END_TEST

static Suite *guestmem_suite(void)
{
	Suite *s = suite_create("guestmem");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, views_share_memory);
	tcase_add_test(tc, bad_sizes);
	tcase_add_test(tc, hva_bounds);
	tcase_add_test(tc, hva_overflow);
	tcase_add_test(tc, get_put_without_swap);
	tcase_add_test(tc, anonymous_ram);
	suite_add_tcase(s, tc);
	tc = tcase_create("hugetlb");
	tcase_add_unchecked_fixture(tc, hp_reserve, hp_unreserve);
	tcase_add_test(tc, hugetlb_ram);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return testutil_run(guestmem_suite());
}
