/* SPDX-License-Identifier: MIT */
/* The I/O bus: registration and overlap rules, lookups, offsets. */
#include <errno.h>

#include "testutil.h"
#include "vmm/iobus.h"

static uint64_t last_off;
static void fn(struct vcpu *vcpu, void *opaque, uint64_t off, uint8_t *data,
	       uint32_t len, bool is_write)
{
	last_off = off;
}

START_TEST(overlaps_refused)
{
	struct iobus bus = { 0 };

	ck_assert_int_eq(iobus_register(&bus, IOBUS_PIO, 0x3f8, 8, fn, NULL, "a"), 0);
	ck_assert_int_eq(iobus_register(&bus, IOBUS_PIO, 0x3f8, 8, fn, NULL, "same"), -EEXIST);
	ck_assert_int_eq(iobus_register(&bus, IOBUS_PIO, 0x3f0, 9, fn, NULL, "tail"), -EEXIST);
	ck_assert_int_eq(iobus_register(&bus, IOBUS_PIO, 0x3ff, 1, fn, NULL, "last"), -EEXIST);
	ck_assert_int_eq(iobus_register(&bus, IOBUS_PIO, 0x3fa, 1, fn, NULL, "inside"), -EEXIST);
	ck_assert_int_eq(iobus_register(&bus, IOBUS_PIO, 0x300, 0x200, fn, NULL, "cover"), -EEXIST);
	/* touching neighbours are fine */
	ck_assert_int_eq(iobus_register(&bus, IOBUS_PIO, 0x3f0, 8, fn, NULL, "below"), 0);
	ck_assert_int_eq(iobus_register(&bus, IOBUS_PIO, 0x400, 4, fn, NULL, "above"), 0);
	/* the same range in the other space does not overlap */
	ck_assert_int_eq(iobus_register(&bus, IOBUS_MMIO, 0x3f8, 8, fn, NULL, "mmio"), 0);
	ck_assert_uint_eq(bus.nr[IOBUS_PIO], 3);
	ck_assert_uint_eq(bus.nr[IOBUS_MMIO], 1);
	iobus_destroy(&bus);
}
END_TEST

START_TEST(bad_ranges)
{
	struct iobus bus = { 0 };

	ck_assert_int_eq(iobus_register(&bus, IOBUS_PIO, 0x10, 0, fn, NULL, "empty"), -EINVAL);
	ck_assert_int_eq(iobus_register(&bus, IOBUS_PIO, 0xfffe, 4, fn, NULL, "past64k"), -EINVAL);
	ck_assert_int_eq(iobus_register(&bus, IOBUS_PIO, 0xfffc, 4, fn, NULL, "top"), 0);
	ck_assert_int_eq(iobus_register(&bus, IOBUS_MMIO, UINT64_MAX - 1, 4, fn, NULL, "wrap"),
			 -EINVAL);
	ck_assert_int_eq(iobus_register(&bus, IOBUS_MMIO, 0x1000, 4, NULL, NULL, "nofn"), -EINVAL);
	ck_assert_int_eq(iobus_register(&bus, IOBUS_NR_SPACES, 0x1000, 4, fn, NULL, "space"),
			 -EINVAL);
	iobus_destroy(&bus);
}
END_TEST

START_TEST(lookup)
{
	struct iobus bus = { 0 };
	const struct iobus_range *r;

	/* registered out of order: the bus keeps them sorted */
	ck_assert_int_eq(iobus_register(&bus, IOBUS_PIO, 0x510, 16, fn, NULL, "hc"), 0);
	ck_assert_int_eq(iobus_register(&bus, IOBUS_PIO, 0x3f8, 8, fn, NULL, "com1"), 0);
	ck_assert_int_eq(iobus_register(&bus, IOBUS_PIO, 0xf4, 4, fn, NULL, "exit"), 0);
	r = iobus_find(&bus, IOBUS_PIO, 0x3fd, 1);
	ck_assert_ptr_nonnull(r);
	ck_assert_str_eq(r->name, "com1");
	r->fn(NULL, r->opaque, 0x3fd - r->base, NULL, 1, false);
	ck_assert_uint_eq(last_off, 5);
	ck_assert_str_eq(iobus_find(&bus, IOBUS_PIO, 0x51f, 1)->name, "hc");
	ck_assert_str_eq(iobus_find(&bus, IOBUS_PIO, 0xf4, 4)->name, "exit");
	ck_assert_ptr_null(iobus_find(&bus, IOBUS_PIO, 0x520, 1));
	ck_assert_ptr_null(iobus_find(&bus, IOBUS_PIO, 0xf3, 1));
	ck_assert_ptr_null(iobus_find(&bus, IOBUS_PIO, 0x7f0, 1));
	/* an access straddling the end of a range matches nothing */
	ck_assert_ptr_null(iobus_find(&bus, IOBUS_PIO, 0x3fe, 4));
	ck_assert_ptr_null(iobus_find(&bus, IOBUS_MMIO, 0x3f8, 1));
	ck_assert_ptr_null(iobus_find(&bus, IOBUS_MMIO, UINT64_MAX, 4));
	iobus_destroy(&bus);
	ck_assert_ptr_null(iobus_find(&bus, IOBUS_PIO, 0x3f8, 1));
}
END_TEST

static Suite *iobus_suite(void)
{
	Suite *s = suite_create("iobus");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, overlaps_refused);
	tcase_add_test(tc, bad_ranges);
	tcase_add_test(tc, lookup);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return testutil_run(iobus_suite());
}
