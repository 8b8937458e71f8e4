/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>

#include "mmu/guestmem.h"
#include "pagevisor/abi.h"
#include "testutil.h"
#include "vmm/boot.h"

#define MIB		(1ull << 20)
#define GIB		(1ull << 30)
#define PTE_P		0x1ull
#define PTE_RW		0x2ull
#define PTE_PS		0x80ull
#define ADDR_MASK	0x000ffffffffff000ull

static uint64_t rd64(struct guestmem *gm, uint64_t gpa)
{
	uint64_t *p = guestmem_hva(gm, gpa, 8);

	ck_assert_ptr_nonnull(p);
	return *p;
}

/* Walk the guest's tables for @va; returns the 2 MiB page's gpa or ~0. */
static uint64_t walk(struct guestmem *gm, uint64_t va)
{
	uint64_t e;

	e = rd64(gm, PV_BOOT_PML4_GPA + ((va >> 39) & 511) * 8);
	if (!(e & PTE_P))
		return ~0ull;
	ck_assert_uint_eq(e & ~ADDR_MASK, PTE_P | PTE_RW);
	e = rd64(gm, (e & ADDR_MASK) + ((va >> 30) & 511) * 8);
	if (!(e & PTE_P))
		return ~0ull;
	ck_assert_uint_eq(e & ~ADDR_MASK, PTE_P | PTE_RW);
	e = rd64(gm, (e & ADDR_MASK) + ((va >> 21) & 511) * 8);
	if (!(e & PTE_P))
		return ~0ull;
	ck_assert_uint_eq(e & ~ADDR_MASK, PTE_P | PTE_RW | PTE_PS);
	return e & ADDR_MASK;
}

/* Set up @ram bytes over poisoned table pages and check the whole map. */
static void check_map(uint64_t ram)
{
	uint64_t nr_pd = (ram + GIB - 1) / GIB, i, pte;
	struct guestmem gm;
	uint8_t *low;

	ck_assert_int_eq(guestmem_init(&gm, ram), 0);
	low = guestmem_hva(&gm, 0, PV_BOOT_PD_GPA + PV_BOOT_PD_MAX * 4096);
	ck_assert_ptr_nonnull(low);
	memset(low, 0xee, PV_BOOT_PD_GPA + PV_BOOT_PD_MAX * 4096);

	ck_assert_int_eq(boot_setup_memory(&gm), 0);

	ck_assert_uint_eq(rd64(&gm, PV_BOOT_PML4_GPA), PV_BOOT_PDPT_GPA | PTE_P | PTE_RW);
	for (i = 1; i < 512; i++)
		ck_assert_uint_eq(rd64(&gm, PV_BOOT_PML4_GPA + i * 8), 0);
	for (i = 0; i < 512; i++)
		ck_assert_uint_eq(rd64(&gm, PV_BOOT_PDPT_GPA + i * 8),
				  i < nr_pd ? (PV_BOOT_PD_GPA + i * 4096) | PTE_P | PTE_RW : 0);
	for (i = 0; i < nr_pd * 512; i++) {
		pte = rd64(&gm, PV_BOOT_PD_GPA + i * 8);
		if (i * 2 * MIB < ram)
			ck_assert_uint_eq(pte, (i * 2 * MIB) | PTE_P | PTE_RW | PTE_PS);
		else
			ck_assert_uint_eq(pte, 0);
	}
	/* PD pages beyond the ones in use are not ours to touch. */
	if (nr_pd < PV_BOOT_PD_MAX)
		ck_assert_uint_eq(low[PV_BOOT_PD_GPA + nr_pd * 4096], 0xee);

	ck_assert_uint_eq(walk(&gm, 0), 0);
	ck_assert_uint_eq(walk(&gm, 0x100000), 0);
	ck_assert_uint_eq(walk(&gm, ram - 1), ram - 2 * MIB);
	ck_assert_uint_eq(walk(&gm, ram), ~0ull);
	ck_assert_uint_eq(walk(&gm, 1ull << 39), ~0ull);
	guestmem_destroy(&gm);
}

START_TEST(map_4m) { check_map(4 * MIB); }
END_TEST
START_TEST(map_1g_2m) { check_map(GIB + 2 * MIB); }
END_TEST
START_TEST(map_3g) { check_map(3 * GIB); }
END_TEST
START_TEST(map_max) { check_map(PV_RAM_MAX); }
END_TEST

START_TEST(too_big_or_misaligned)
{
	struct guestmem gm;

	ck_assert_int_eq(guestmem_init(&gm, PV_RAM_MAX + 2 * MIB), 0);
	ck_assert_int_eq(boot_setup_memory(&gm), -E2BIG);
	ck_assert_uint_eq(*(uint64_t *)guestmem_hva(&gm, PV_BOOT_PML4_GPA, 8), 0);
	guestmem_destroy(&gm);

	ck_assert_int_eq(guestmem_init(&gm, 4 * MIB + 4096), 0);
	ck_assert_int_eq(boot_setup_memory(&gm), -EINVAL);
	guestmem_destroy(&gm);
}
END_TEST

START_TEST(gdt_bytes)
{
	static const uint8_t want[24] = {
		0, 0, 0, 0, 0, 0, 0, 0,
		0xff, 0xff, 0, 0, 0, 0x9b, 0xaf, 0x00,
		0xff, 0xff, 0, 0, 0, 0x93, 0xcf, 0x00,
	};
	struct guestmem gm;
	uint8_t *gdt;

	ck_assert_int_eq(guestmem_init(&gm, 4 * MIB), 0);
	gdt = guestmem_hva(&gm, PV_BOOT_GDT_GPA, 32);
	memset(gdt, 0xee, 32);
	ck_assert_int_eq(boot_setup_memory(&gm), 0);
	ck_assert_int_eq(memcmp(gdt, want, sizeof(want)), 0);
	ck_assert_uint_eq(gdt[24], 0xee);
	guestmem_destroy(&gm);
}
END_TEST

static void check_data_seg(const struct kvm_segment *s)
{
	ck_assert_uint_eq(s->selector, PV_BOOT_DS);
	ck_assert_uint_eq(s->base, 0);
	ck_assert_uint_eq(s->limit, 0xffffffff);
	ck_assert_uint_eq(s->type, 3);
	ck_assert_uint_eq(s->present, 1);
	ck_assert_uint_eq(s->dpl, 0);
	ck_assert_uint_eq(s->db, 1);
	ck_assert_uint_eq(s->s, 1);
	ck_assert_uint_eq(s->l, 0);
	ck_assert_uint_eq(s->g, 1);
	ck_assert_uint_eq(s->unusable, 0);
}

START_TEST(sregs)
{
	struct kvm_sregs s;

	memset(&s, 0x55, sizeof(s));
	boot_fill_sregs(&s);

	ck_assert_uint_eq(s.cs.selector, PV_BOOT_CS);
	ck_assert_uint_eq(s.cs.base, 0);
	ck_assert_uint_eq(s.cs.limit, 0xffffffff);
	ck_assert_uint_eq(s.cs.type, 0xb);
	ck_assert_uint_eq(s.cs.present, 1);
	ck_assert_uint_eq(s.cs.dpl, 0);
	ck_assert_uint_eq(s.cs.db, 0);
	ck_assert_uint_eq(s.cs.s, 1);
	ck_assert_uint_eq(s.cs.l, 1);
	ck_assert_uint_eq(s.cs.g, 1);
	ck_assert_uint_eq(s.cs.unusable, 0);
	check_data_seg(&s.ds);
	check_data_seg(&s.es);
	check_data_seg(&s.fs);
	check_data_seg(&s.gs);
	check_data_seg(&s.ss);

	ck_assert_uint_eq(s.gdt.base, PV_BOOT_GDT_GPA);
	ck_assert_uint_eq(s.gdt.limit, 23);
	ck_assert_uint_eq(s.idt.base, 0);
	ck_assert_uint_eq(s.idt.limit, 0);
	ck_assert_uint_eq(s.cr0, 0x80010033);
	ck_assert_uint_eq(s.cr3, PV_BOOT_PML4_GPA);
	ck_assert_uint_eq(s.cr4, 0x20);
	ck_assert_uint_eq(s.efer, 0xd00);

	/* KVM's own values stay. */
	ck_assert_uint_eq(s.tr.selector, 0x5555);
	ck_assert_uint_eq(s.ldt.selector, 0x5555);
	ck_assert_uint_eq(s.apic_base, 0x5555555555555555ull);
}
END_TEST

START_TEST(regs)
{
	struct kvm_regs r;

	memset(&r, 0x55, sizeof(r));
	boot_fill_regs(&r, 0x100040);
	ck_assert_uint_eq(r.rip, 0x100040);
	ck_assert_uint_eq(r.rdi, PV_BOOT_FDT_GPA);
	ck_assert_uint_eq(r.rsp, PV_BOOT_STACK_TOP);
	ck_assert_uint_eq(r.rflags, 2);
	ck_assert_uint_eq(r.rax, 0);
	ck_assert_uint_eq(r.rsi, 0);
	ck_assert_uint_eq(r.rbp, 0);
	ck_assert_uint_eq(r.r15, 0);
}
END_TEST

static Suite *boot_suite(void)
{
	Suite *s = suite_create("boot");
	TCase *tm = tcase_create("memory");
	TCase *tr = tcase_create("registers");

	tcase_set_timeout(tm, 30);
	tcase_add_test(tm, map_4m);
	tcase_add_test(tm, map_1g_2m);
	tcase_add_test(tm, map_3g);
	tcase_add_test(tm, map_max);
	tcase_add_test(tm, too_big_or_misaligned);
	tcase_add_test(tm, gdt_bytes);
	suite_add_tcase(s, tm);

	tcase_add_test(tr, sregs);
	tcase_add_test(tr, regs);
	suite_add_tcase(s, tr);
	return s;
}

int main(void)
{
	return testutil_run(boot_suite());
}
