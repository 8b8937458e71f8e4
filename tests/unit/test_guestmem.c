/* SPDX-License-Identifier: MIT */
/* Guest RAM: two views of one memfd, and the one checked gpa -> hva. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

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
	return s;
}

int main(void)
{
	return testutil_run(guestmem_suite());
}
