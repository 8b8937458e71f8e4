/*
 * 4-level page tables.  Page-table pages come from frame_alloc_4k and are
 * reached through the identity map (va == pa).  Every entry write goes
 * through pt_write(), so a later paravirtual MMU (batched updates handed to
 * the VMM) has one place to hook.
 */
#include <gk/assert.h>
#include <gk/mm.h>
#include <gk/x86.h>

#define PT_TABLE_FLAGS (PTE_P | PTE_W | PTE_U)

uint64_t *pt_kernel_pml4;

static uint64_t pt_level_size(int level)
{
	return 1ull << (12 + 9 * (level - 1));
}

static unsigned pt_index(uint64_t va, int level)
{
	return (unsigned)(va >> (12 + 9 * (level - 1))) & 511;
}

void pt_write(uint64_t *ptep, uint64_t val, uint64_t va)
{
	uint64_t old = *ptep;

	*(volatile uint64_t *)ptep = val;
	if (old & PTE_P)
		invlpg(va);
}

uint64_t *pt_walk(uint64_t *pml4, uint64_t va, int level, bool alloc)
{
	uint64_t *table = pml4;

	for (int l = 4; l > level; l--) {
		uint64_t *e = &table[pt_index(va, l)];

		if (!(*e & PTE_P)) {
			uint64_t pa = alloc ? frame_alloc_4k() : 0;

			if (!pa)
				return NULL;
			pt_write(e, pa | PT_TABLE_FLAGS, va);
		} else if (*e & PTE_PS) {
			return NULL;    /* a larger page maps va */
		}
		table = (uint64_t *)(uintptr_t)(*e & PTE_ADDR);
	}
	return &table[pt_index(va, level)];
}

int pt_map(uint64_t *pml4, uint64_t va, uint64_t pa, int level, uint64_t flags)
{
	uint64_t *e = pt_walk(pml4, va, level, true);

	GUEST_ASSERTF(va % pt_level_size(level) == 0 && pa % pt_level_size(level) == 0,
		      "pt_map: misaligned va 0x%lx pa 0x%lx level %d",
		      (unsigned long)va, (unsigned long)pa, level);
	if (!e || (*e & PTE_P))
		return -1;
	pt_write(e, pa | flags | PTE_P | (level > PT_LEVEL_4K ? PTE_PS : 0), va);
	return 0;
}

uint64_t pt_unmap(uint64_t *pml4, uint64_t va, int level)
{
	uint64_t *e = pt_walk(pml4, va, level, false);
	uint64_t old;

	if (!e || !(*e & PTE_P))
		return 0;
	if (level > PT_LEVEL_4K && !(*e & PTE_PS))
		return 0;       /* a table, not a page of this size */
	old = *e;
	pt_write(e, 0, va);
	return old & PTE_ADDR & ~(pt_level_size(level) - 1);
}
