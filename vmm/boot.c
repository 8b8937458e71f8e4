/* SPDX-License-Identifier: MIT */
#include "vmm/boot.h"

#include <errno.h>
#include <string.h>

#include "mmu/guestmem.h"
#include "pagevisor/abi.h"

#define PTE_P		(1ull << 0)
#define PTE_RW		(1ull << 1)
#define PTE_PS		(1ull << 7)

#define CR0_PE		(1ull << 0)
#define CR0_MP		(1ull << 1)
#define CR0_ET		(1ull << 4)
#define CR0_NE		(1ull << 5)
#define CR0_WP		(1ull << 16)
#define CR0_PG		(1ull << 31)
#define CR4_PAE		(1ull << 5)
#define EFER_LME	(1ull << 8)
#define EFER_LMA	(1ull << 10)
#define EFER_NXE	(1ull << 11)

#define PAGE_SIZE	4096ull
#define HUGE_2M		(2ull << 20)
#define GIB		(1ull << 30)

static const uint64_t boot_gdt[] = {
	0,			/* null */
	0x00af9b000000ffffull,	/* 0x08: code, 64-bit, DPL 0 */
	0x00cf93000000ffffull,	/* 0x10: data, flat 4 GiB */
};

int boot_setup_memory(struct guestmem *gm)
{
	uint64_t *gdt, *pml4, *pdpt, *pd;
	uint64_t nr_pd, i;

	if (!gm->size || gm->size % HUGE_2M)
		return -EINVAL;
	nr_pd = (gm->size + GIB - 1) / GIB;
	if (nr_pd > PV_BOOT_PD_MAX)
		return -E2BIG;

	gdt = guestmem_hva(gm, PV_BOOT_GDT_GPA, sizeof(boot_gdt));
	pml4 = guestmem_hva(gm, PV_BOOT_PML4_GPA, PAGE_SIZE);
	pdpt = guestmem_hva(gm, PV_BOOT_PDPT_GPA, PAGE_SIZE);
	pd = guestmem_hva(gm, PV_BOOT_PD_GPA, nr_pd * PAGE_SIZE);
	if (!gdt || !pml4 || !pdpt || !pd)
		return -EFAULT;

	memcpy(gdt, boot_gdt, sizeof(boot_gdt));
	memset(pml4, 0, PAGE_SIZE);
	memset(pdpt, 0, PAGE_SIZE);
	memset(pd, 0, nr_pd * PAGE_SIZE);
	pml4[0] = PV_BOOT_PDPT_GPA | PTE_P | PTE_RW;
	for (i = 0; i < nr_pd; i++)
		pdpt[i] = (PV_BOOT_PD_GPA + i * PAGE_SIZE) | PTE_P | PTE_RW;
	/* The PDs are contiguous, so one index runs across all of them. */
	for (i = 0; i < gm->size / HUGE_2M; i++)
		pd[i] = (i * HUGE_2M) | PTE_P | PTE_RW | PTE_PS;
	return 0;
}

static void flat_segment(struct kvm_segment *seg, uint16_t selector, uint8_t type)
{
	seg->base = 0;
	seg->limit = 0xffffffff;
	seg->selector = selector;
	seg->type = type;
	seg->present = 1;
	seg->dpl = 0;
	seg->db = 1;
	seg->s = 1;
	seg->l = 0;
	seg->g = 1;
	seg->avl = 0;
	seg->unusable = 0;
}

void boot_fill_sregs(struct kvm_sregs *s)
{
	struct kvm_segment data;

	flat_segment(&s->cs, PV_BOOT_CS, 0xb);
	s->cs.db = 0;	/* L=1 requires D=0 */
	s->cs.l = 1;
	flat_segment(&data, PV_BOOT_DS, 0x3);
	s->ds = s->es = s->fs = s->gs = s->ss = data;

	s->gdt.base = PV_BOOT_GDT_GPA;
	s->gdt.limit = sizeof(boot_gdt) - 1;
	s->idt.base = 0;
	s->idt.limit = 0;

	s->cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
	s->cr3 = PV_BOOT_PML4_GPA;
	s->cr4 = CR4_PAE;
	s->efer = EFER_LME | EFER_LMA | EFER_NXE;
}

void boot_fill_regs(struct kvm_regs *r, uint64_t entry)
{
	memset(r, 0, sizeof(*r));
	r->rip = entry;
	r->rdi = PV_BOOT_FDT_GPA;
	r->rsp = PV_BOOT_STACK_TOP;
	r->rflags = 0x2;
}
