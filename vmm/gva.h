/* SPDX-License-Identifier: MIT */
/* Walk the guest's 4-level page tables from the VMM, through guestmem_get/put. */
#ifndef PV_VMM_GVA_H
#define PV_VMM_GVA_H

#include <stdint.h>

struct guestmem;

/*
 * Translate @gva with the tables at @cr3 (4 KiB, 2 MiB and 1 GiB pages).
 * Returns 0 and the gpa in @gpa, -EFAULT when a table is outside guest RAM,
 * -ENOENT when an entry is not present.
 */
int gva_to_gpa(const struct guestmem *gm, uint64_t cr3, uint64_t gva, uint64_t *gpa);

#endif
