/* SPDX-License-Identifier: MIT */
#include "vmm/gva.h"

#include <errno.h>
#include <string.h>

#include "mmu/guestmem.h"

#define GVA_P      0x1ull
#define GVA_PS     0x80ull
#define GVA_ADDR   0x000ffffffffff000ull

int gva_to_gpa(const struct guestmem *gm, uint64_t cr3, uint64_t gva, uint64_t *gpa)
{
	uint64_t table = cr3 & GVA_ADDR;

	for (int level = 4; level >= 1; level--) {
		unsigned shift = 12 + 9 * (level - 1);
		uint64_t ea = table + ((gva >> shift) & 511) * 8, e;
		const void *p = guestmem_get(gm, ea, 8, false);

		if (!p)
			return -EFAULT;
		memcpy(&e, p, 8);
		guestmem_put(gm, ea, 8);
		if (!(e & GVA_P))
			return -ENOENT;
		if (level == 1 || ((e & GVA_PS) && level <= 3)) {
			uint64_t mask = (1ull << shift) - 1;

			*gpa = ((e & GVA_ADDR) & ~mask) | (gva & mask);
			return 0;
		}
		table = e & GVA_ADDR;
	}
	return -ENOENT;
}
