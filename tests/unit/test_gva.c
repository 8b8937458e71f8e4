/* SPDX-License-Identifier: MIT */
/* The VMM's walk of guest page tables: 2 MiB, 4 KiB and 1 GiB pages, holes,
 * and tables a hostile guest points outside RAM. */
#include <errno.h>
#include <string.h>

#include "mmu/guestmem.h"
#include "pagevisor/abi.h"
#include "testutil.h"
#include "vmm/boot.h"
#include "vmm/gva.h"

#define RAM (8ull << 20)

static uint64_t *pte(struct guestmem *gm, uint64_t gpa)
{
	uint64_t *p = guestmem_hva(gm, gpa, 8);

	ck_assert_ptr_nonnull(p);
	return p;
}

START_TEST(walks)
{
	struct guestmem gm;
	uint64_t gpa;

	ck_assert_int_eq(guestmem_init(&gm, RAM), 0);
	ck_assert_int_eq(boot_setup_memory(&gm), 0);
	/* the boot identity map: 2 MiB pages */
	ck_assert_int_eq(gva_to_gpa(&gm, PV_BOOT_PML4_GPA, 0x123456, &gpa), 0);
	ck_assert_uint_eq(gpa, 0x123456);
	ck_assert_int_eq(gva_to_gpa(&gm, PV_BOOT_PML4_GPA, RAM - 1, &gpa), 0);
	ck_assert_uint_eq(gpa, RAM - 1);
	ck_assert_int_eq(gva_to_gpa(&gm, PV_BOOT_PML4_GPA, RAM, &gpa), -ENOENT);

	/* a 4 KiB page at 1 TiB -> 0x345000, through tables at 0x200000.. */
	*pte(&gm, PV_BOOT_PML4_GPA + 2 * 8) = 0x200000 | 3;
	*pte(&gm, 0x200000) = 0x201000 | 3;
	*pte(&gm, 0x201000) = 0x202000 | 3;
	*pte(&gm, 0x202000 + 1 * 8) = 0x345000 | 3;
	ck_assert_int_eq(gva_to_gpa(&gm, PV_BOOT_PML4_GPA, (2ull << 39) + 0x1abc, &gpa), 0);
	ck_assert_uint_eq(gpa, 0x345abc);
	ck_assert_int_eq(gva_to_gpa(&gm, PV_BOOT_PML4_GPA, (2ull << 39) + 0x2000, &gpa), -ENOENT);

	/* a 1 GiB page */
	*pte(&gm, 0x200000 + 1 * 8) = 0x40000000ull | 0x83;
	ck_assert_int_eq(gva_to_gpa(&gm, PV_BOOT_PML4_GPA, (2ull << 39) + (1ull << 30) + 5, &gpa), 0);
	ck_assert_uint_eq(gpa, 0x40000005ull);

	/* hostile: a table pointer beyond RAM, or near the top of the address space */
	*pte(&gm, 0x202000 + 2 * 8) = 0;
	*pte(&gm, 0x201000 + 1 * 8) = 0x000ffffffffff000ull | 3;
	ck_assert_int_eq(gva_to_gpa(&gm, PV_BOOT_PML4_GPA, (2ull << 39) + (1ull << 21), &gpa), -EFAULT);
	ck_assert_int_eq(gva_to_gpa(&gm, RAM, 0, &gpa), -EFAULT);
	ck_assert_int_eq(gva_to_gpa(&gm, 0xfffffffffffff000ull, 0, &gpa), -EFAULT);
	guestmem_destroy(&gm);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("gva");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, walks);
	suite_add_tcase(s, tc);
	return testutil_run(s);
}
