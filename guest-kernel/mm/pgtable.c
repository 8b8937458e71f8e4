/*
 * 4-level page-table walk.  Page-table pages are reached through the
 * identity map (va == pa).  Entries are read with mm_read_pte, which first
 * sends a queued PV MMU batch that writes them; missing tables come from
 * mm_new_table, which creates them in the current mode (gk/mmapi.h).  Raw
 * stores are pt_store/pt_write in gk/mm.h.
 */
#include <gk/assert.h>
#include <gk/mm.h>
#include <gk/mmapi.h>
#include <gk/x86.h>

uint64_t *pt_kernel_pml4;

static unsigned pt_index(uint64_t va, int level)
{
	return (unsigned)(va >> (12 + 9 * (level - 1))) & 511;
}

uint64_t *pt_walk(uint64_t *pml4, uint64_t va, int level, bool alloc)
{
	uint64_t *table = pml4;

	for (int l = 4; l > level; l--) {
		uint64_t *e = &table[pt_index(va, l)];
		uint64_t v = mm_read_pte(e, l);

		if (!(v & PTE_P)) {
			if (!alloc || !(v = mm_new_table(e, l, va)))
				return NULL;
		} else if (v & PTE_PS) {
			return NULL;    /* a larger page maps va */
		}
		table = (uint64_t *)(uintptr_t)(v & PTE_ADDR);
	}
	return &table[pt_index(va, level)];
}
