/* SPDX-License-Identifier: MIT */
/*
 * The balloon's VMM side: inflating gives the memory back to the host (the
 * memfd's blocks drop), deflating hands back zeroed memory, and every bad
 * request is refused whole with its status, counted once, changing nothing
 * (guest RAM compared byte for byte).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pagevisor/abi.h"
#include "pagevisor/pvmmu.h"
#include "testutil.h"
#include "vmm/balloon.h"
#include "vmm/pvmmu.h"

#define MIB         (1ull << 20)
#define RAM         (32 * MIB)
#define PT          0x13000ull      /* a pinned table in the first 2 MiB unit */
#define RING        0x300000ull     /* a ring in the second */

static struct guestmem mem;
static struct pvmmu m;
static struct balloon b;

static void setup(void)
{
	struct pv_mmu_setup s = { .version = PV_ABI_VERSION, .nr_records = 16, .ring_gpa = RING };
	struct pv_mmu_rec pin = { .op = PV_MMU_PIN, .level = 1, .ptep = PT };
	struct pvmmu_flush acc = { 0 };
	struct pvmmu_ring_state rs = { 0 };

	ck_assert_int_eq(guestmem_init(&mem, RAM), 0);
	ck_assert_int_eq(pvmmu_init(&m, &mem), 0);
	ck_assert_int_eq(balloon_init(&b, &mem, &m, 8 * MIB), 0);
	ck_assert_int_eq(pvmmu_apply(&m, &pin, &acc), PV_MMU_OK);
	ck_assert_int_eq(pvmmu_setup(&m, &rs, &s), PV_OK);
	memset(mem.alias, 0x3c, RAM);   /* all of RAM backed and stamped */
}

static void teardown(void)
{
	balloon_destroy(&b);
	pvmmu_destroy(&m);
	guestmem_destroy(&mem);
}

static uint64_t allocated(void)
{
	struct stat sb;

	ck_assert_int_eq(fstat(mem.memfd, &sb), 0);
	return (uint64_t)sb.st_blocks * 512;
}

static struct pv_balloon req(uint32_t op, uint32_t count)
{
	return (struct pv_balloon){ .version = PV_ABI_VERSION, .op = op, .count = count };
}

static bool filled(uint64_t gpa, uint64_t len, uint8_t v)
{
	for (uint64_t k = 0; k < len; k++)
		if (mem.alias[gpa + k] != v)
			return false;
	return true;
}

START_TEST(query)
{
	struct pv_balloon r = req(PV_BALLOON_QUERY, 0);

	r.status = 77;
	ck_assert_int_eq(balloon_request(&b, &r), PV_OK);
	ck_assert_int_eq(r.status, PV_OK);
	ck_assert_uint_eq(r.target_bytes, 8 * MIB);
	ck_assert_uint_eq(r.current_bytes, 0);
	ck_assert_uint_eq(b.c.requests, 1);
	ck_assert_uint_eq(b.c.rejected, 0);
}
END_TEST

START_TEST(inflate_deflate)
{
	struct pv_balloon r = req(PV_BALLOON_INFLATE, 2);
	uint64_t before = allocated();

	r.range[0] = (struct pv_balloon_range){ 8 * MIB, 4 * MIB };
	r.range[1] = (struct pv_balloon_range){ 30 * MIB, 2 * MIB };   /* the last unit */
	ck_assert_int_eq(balloon_request(&b, &r), PV_OK);
	ck_assert_uint_eq(r.current_bytes, 6 * MIB);
	ck_assert_uint_le(allocated() + 6 * MIB, before);
	ck_assert(filled(6 * MIB, 2 * MIB, 0x3c));          /* neighbours kept */
	ck_assert(filled(12 * MIB, 2 * MIB, 0x3c));
	ck_assert_uint_eq(b.c.inflated, 6 * MIB);
	/* the guest touches held memory: allowed, it comes back on deflate as zeros */
	memset(mem.alias + 9 * MIB, 0x77, 4096);
	r = req(PV_BALLOON_DEFLATE, 1);
	r.range[0] = (struct pv_balloon_range){ 8 * MIB, 4 * MIB };
	ck_assert_int_eq(balloon_request(&b, &r), PV_OK);
	ck_assert_uint_eq(r.current_bytes, 2 * MIB);
	ck_assert(filled(8 * MIB, 4 * MIB, 0));
	ck_assert_uint_eq(b.c.deflated, 4 * MIB);
	/* usable again; inflatable again */
	memset(mem.alias + 8 * MIB, 0x11, 4 * MIB);
	ck_assert(filled(8 * MIB, 4 * MIB, 0x11));
	r = req(PV_BALLOON_INFLATE, 1);
	r.range[0] = (struct pv_balloon_range){ 10 * MIB, 2 * MIB };
	ck_assert_int_eq(balloon_request(&b, &r), PV_OK);
	ck_assert_uint_eq(r.current_bytes, 4 * MIB);
	ck_assert_uint_eq(b.c.rejected, 0);
}
END_TEST

/* @r must be refused with @want, counted once, and change nothing. */
static void refuse(int line, struct pv_balloon r, int32_t want)
{
	uint8_t *ram = malloc(RAM);
	uint64_t *held = malloc((b.nr_units + 63) / 64 * 8);
	struct balloon_counters c = b.c;
	uint64_t cur = b.current;
	int32_t st;

	ck_assert(ram && held);
	memcpy(ram, mem.alias, RAM);
	memcpy(held, b.held, (b.nr_units + 63) / 64 * 8);
	st = balloon_request(&b, &r);
	ck_assert_msg(st == want && r.status == want, "line %d: status %d, want %d", line, st,
		      want);
	c.requests++;
	c.rejected++;
	ck_assert_msg(memcmp(&c, &b.c, sizeof(c)) == 0, "line %d: counters", line);
	ck_assert_msg(b.current == cur && r.current_bytes == cur, "line %d: current", line);
	ck_assert_msg(memcmp(held, b.held, (b.nr_units + 63) / 64 * 8) == 0, "line %d: held", line);
	ck_assert_msg(memcmp(ram, mem.alias, RAM) == 0, "line %d: guest RAM changed", line);
	free(ram);
	free(held);
}

#define REFUSE(want, r) refuse(__LINE__, r, want)

static struct pv_balloon one(uint32_t op, uint64_t gpa, uint64_t size)
{
	struct pv_balloon r = req(op, 1);

	r.range[0] = (struct pv_balloon_range){ gpa, size };
	return r;
}

START_TEST(refusals)
{
	struct pv_balloon r = one(PV_BALLOON_INFLATE, 20 * MIB, 2 * MIB);

	ck_assert_int_eq(balloon_request(&b, &r), PV_OK);       /* [20M, 22M) held */
	r = one(PV_BALLOON_INFLATE, 4 * MIB, 2 * MIB);
	r.version = PV_ABI_VERSION + 1;
	REFUSE(PV_EVERSION, r);
	r.version = 0;
	REFUSE(PV_EVERSION, r);
	REFUSE(PV_EINVAL, one(3, 4 * MIB, 2 * MIB));
	REFUSE(PV_EINVAL, one(0xffffffffu, 4 * MIB, 2 * MIB));
	REFUSE(PV_EINVAL, req(PV_BALLOON_INFLATE, 0));
	REFUSE(PV_EINVAL, req(PV_BALLOON_DEFLATE, PV_BALLOON_RANGES + 1));
	REFUSE(PV_EINVAL, req(PV_BALLOON_INFLATE, 0xffffffffu));
	r = req(PV_BALLOON_QUERY, 1);
	REFUSE(PV_EINVAL, r);
	REFUSE(PV_EINVAL, one(PV_BALLOON_INFLATE, 4 * MIB + 4096, 2 * MIB));
	REFUSE(PV_EINVAL, one(PV_BALLOON_INFLATE, 4 * MIB, 0));
	REFUSE(PV_EINVAL, one(PV_BALLOON_INFLATE, 4 * MIB, MIB));
	REFUSE(PV_EINVAL, one(PV_BALLOON_INFLATE, 4 * MIB, 3 * MIB));
	REFUSE(PV_EFAULT, one(PV_BALLOON_INFLATE, RAM, 2 * MIB));
	REFUSE(PV_EFAULT, one(PV_BALLOON_INFLATE, RAM - 2 * MIB, 4 * MIB));
	REFUSE(PV_EFAULT, one(PV_BALLOON_INFLATE, 0xffffffffffe00000ull, 4 * MIB));
	REFUSE(PV_EFAULT, one(PV_BALLOON_INFLATE, 2 * MIB, 0xffffffffffe00000ull));
	/* two ranges sharing a unit */
	r = req(PV_BALLOON_INFLATE, 2);
	r.range[0] = (struct pv_balloon_range){ 4 * MIB, 4 * MIB };
	r.range[1] = (struct pv_balloon_range){ 6 * MIB, 2 * MIB };
	REFUSE(PV_EINVAL, r);
	/* a good range and a bad one: nothing happens to the good one */
	r.range[1] = (struct pv_balloon_range){ 8 * MIB + 4096, 2 * MIB };
	REFUSE(PV_EINVAL, r);
	r.range[1] = (struct pv_balloon_range){ RAM, 2 * MIB };
	REFUSE(PV_EFAULT, r);
	/* pinned table, ring, state */
	REFUSE(PV_EBUSY, one(PV_BALLOON_INFLATE, 0, 2 * MIB));
	REFUSE(PV_EBUSY, one(PV_BALLOON_INFLATE, 2 * MIB, 2 * MIB));
	REFUSE(PV_EBUSY, one(PV_BALLOON_INFLATE, 0, 8 * MIB));
	REFUSE(PV_EBUSY, one(PV_BALLOON_INFLATE, 18 * MIB, 4 * MIB));
	REFUSE(PV_EBUSY, one(PV_BALLOON_DEFLATE, 22 * MIB, 2 * MIB));
	REFUSE(PV_EBUSY, one(PV_BALLOON_DEFLATE, 20 * MIB, 4 * MIB));
	ck_assert_uint_eq(b.current, 2 * MIB);
}
END_TEST

static Suite *balloon_suite(void)
{
	Suite *s = suite_create("balloon");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);     /* RAM compared whole per refusal: slow under ASan */
	tcase_add_test(tc, query);
	tcase_add_test(tc, inflate_deflate);
	tcase_add_test(tc, refusals);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return testutil_run(balloon_suite());
}
