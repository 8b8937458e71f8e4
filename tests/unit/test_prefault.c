/* SPDX-License-Identifier: MIT */
/*
 * Prefault of plain RAM (vmm/prefault): a run the guest mapped becomes
 * resident in the guest mapping with its contents unchanged, nothing else
 * does; runs outside RAM are counted and ignored; a KVM that refuses
 * KVM_PRE_FAULT_MEMORY is dropped for good; off does nothing.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "testutil.h"
#include "vmm/prefault.h"

#define RAM (8ull << 20)

static struct guestmem mem;
static struct prefault pf;

/* Pages of [first, first + n) resident in the guest mapping. */
static unsigned resident(uint64_t first, uint64_t n)
{
	unsigned char v[512];
	unsigned k = 0;

	ck_assert_uint_le(n, sizeof(v));
	ck_assert_int_eq(mincore(mem.guest_map + (first << 12), n << 12, v), 0);
	for (uint64_t i = 0; i < n; i++)
		k += v[i] & 1;
	return k;
}

static uint64_t metric(const char *key)
{
	struct metric m[PREFAULT_METRICS];

	ck_assert_uint_eq(prefault_metrics(&pf, m, PREFAULT_METRICS), PREFAULT_METRICS);
	for (unsigned i = 0; i < PREFAULT_METRICS; i++)
		if (!strcmp(m[i].key, key))
			return m[i].u64;
	ck_abort_msg("no metric %s", key);
	return 0;
}

static const char *method(void)
{
	struct metric m[PREFAULT_METRICS];

	prefault_metrics(&pf, m, PREFAULT_METRICS);
	ck_assert_str_eq(m[1].key, "method");
	return m[1].str;
}

static void setup_memfd(void)
{
	ck_assert_int_eq(guestmem_init(&mem, RAM), 0);
}

static void teardown(void)
{
	guestmem_set_pager(&mem, NULL);
	guestmem_destroy(&mem);
}

START_TEST(run_makes_resident)
{
	prefault_init(&pf, &mem, true);
	ck_assert_str_eq(method(), "populate");
	ck_assert_uint_eq(resident(256, 64), 0);
	prefault_run(&pf, -1, 256, 16);
	ck_assert_uint_eq(resident(256, 16), 16);
	ck_assert_uint_eq(resident(272, 48), 0);        /* only the run */
	memset(mem.alias + (300 << 12), 0xa5, 4096);    /* contents that must stay */
	prefault_run(&pf, -1, 296, 8);
	ck_assert_uint_eq(resident(296, 8), 8);
	ck_assert_uint_eq(mem.alias[(300 << 12) + 17], 0xa5);
	ck_assert_uint_eq(mem.alias[(256 << 12) + 17], 0);
	ck_assert_uint_eq(metric("runs"), 2);
	ck_assert_uint_eq(metric("pages"), 24);
	ck_assert_uint_eq(metric("errors"), 0);
}
END_TEST

START_TEST(through_the_pager)
{
	struct guestmem_pager p;

	prefault_init(&pf, &mem, true);
	prefault_use_kvm(&pf);
	ck_assert_str_eq(method(), "populate+kvm");
	p = prefault_pager(&pf);
	guestmem_set_pager(&mem, &p);
	/* not a vCPU thread: host pages only, and guestmem_get is untouched */
	guestmem_prefault(&mem, 1024, 32);
	ck_assert_uint_eq(resident(1024, 32), 32);
	ck_assert_ptr_eq(guestmem_get(&mem, 1024 << 12, 4096, true), mem.alias + (1024 << 12));
	guestmem_put(&mem, 1024 << 12, 4096);
	ck_assert_uint_eq(metric("runs"), 1);
	ck_assert_uint_eq(metric("errors"), 0);
	ck_assert_str_eq(method(), "populate+kvm");
}
END_TEST

START_TEST(refused_kvm_is_dropped)
{
	int fd = open("/dev/null", O_RDONLY);   /* KVM_PRE_FAULT_MEMORY: ENOTTY */

	ck_assert_int_ge(fd, 0);
	prefault_init(&pf, &mem, true);
	prefault_use_kvm(&pf);
	prefault_run(&pf, fd, 64, 4);
	ck_assert_uint_eq(resident(64, 4), 4);  /* the host pages came anyway */
	ck_assert_uint_eq(metric("errors"), 1);
	ck_assert_str_eq(method(), "populate");
	prefault_run(&pf, fd, 128, 4);          /* not tried again */
	ck_assert_uint_eq(metric("errors"), 1);
	ck_assert_uint_eq(metric("runs"), 2);
	close(fd);
}
END_TEST

START_TEST(outside_ram)
{
	uint64_t last = RAM >> 12;

	prefault_init(&pf, &mem, true);
	prefault_run(&pf, -1, last, 1);
	prefault_run(&pf, -1, UINT64_MAX >> 11, 1);     /* first << 12 would wrap */
	prefault_run(&pf, -1, 1ull << 40, 1ull << 40);
	prefault_run(&pf, -1, 5, 0);                    /* empty: not even counted */
	ck_assert_uint_eq(metric("errors"), 3);
	ck_assert_uint_eq(metric("runs"), 0);
	ck_assert_uint_eq(metric("pages"), 0);
	/* a leaf reaching past the end (a 1 GiB one over 8 MiB of RAM): clipped to RAM */
	prefault_run(&pf, -1, last - 2, 1ull << 18);
	ck_assert_uint_eq(resident(last - 2, 2), 2);
	ck_assert_uint_eq(metric("runs"), 1);
	ck_assert_uint_eq(metric("pages"), 2);
	prefault_run(&pf, -1, 1, UINT64_MAX);           /* n would wrap first + n */
	ck_assert_uint_eq(metric("pages"), 2 + (RAM >> 12) - 1);
	ck_assert_uint_eq(metric("errors"), 3);
}
END_TEST

START_TEST(off_does_nothing)
{
	prefault_init(&pf, &mem, false);
	prefault_use_kvm(&pf);
	prefault_run(&pf, -1, 256, 16);
	ck_assert_uint_eq(resident(256, 16), 0);
	ck_assert_uint_eq(metric("runs"), 0);
	ck_assert_str_eq(method(), "none");
}
END_TEST

START_TEST(anonymous_ram)
{
	teardown();
	ck_assert_int_eq(guestmem_init_anon(&mem, RAM), 0);
	prefault_init(&pf, &mem, true);
	prefault_run(&pf, -1, 512, 16);
	ck_assert_uint_eq(resident(512, 16), 16);
	ck_assert_uint_eq(metric("errors"), 0);
}
END_TEST

START_TEST(prealloc_everything)
{
	struct metric m[PREFAULT_METRICS];

	prefault_init(&pf, &mem, false);        /* --prefault off does not matter */
	memset(mem.alias + (7 << 20), 0x5a, 4096);
	ck_assert_int_eq(prefault_all(&pf, -1, true), 0);
	for (uint64_t f = 0; f < RAM >> 12; f += 512)
		ck_assert_uint_eq(resident(f, 512), 512);
	ck_assert_uint_eq(mem.alias[(7 << 20) + 9], 0x5a);
	ck_assert_uint_eq(mem.alias[(6 << 20) + 9], 0);
	prefault_metrics(&pf, m, PREFAULT_METRICS);
	ck_assert_str_eq(m[2].key, "prealloc");
	ck_assert_str_eq(m[2].str, "on");
}
END_TEST

static Suite *prefault_suite(void)
{
	Suite *s = suite_create("prefault");
	TCase *tc = tcase_create("plain");

	tcase_add_checked_fixture(tc, setup_memfd, teardown);
	tcase_add_test(tc, run_makes_resident);
	tcase_add_test(tc, through_the_pager);
	tcase_add_test(tc, refused_kvm_is_dropped);
	tcase_add_test(tc, outside_ram);
	tcase_add_test(tc, off_does_nothing);
	tcase_add_test(tc, anonymous_ram);
	tcase_add_test(tc, prealloc_everything);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return testutil_run(prefault_suite());
}
