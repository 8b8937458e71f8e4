/* SPDX-License-Identifier: MIT */
/*
 * Guest RAM: one memfd, mapped twice.  guest_map is the mapping KVM's memory
 * slot points at (and, in swap mode, the one registered with userfaultfd);
 * alias is the VMM's own view, never registered, through which every VMM
 * access to guest memory goes via guestmem_hva().
 */
#ifndef PV_MMU_GUESTMEM_H
#define PV_MMU_GUESTMEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct guestmem {
	int memfd;
	uint64_t size;          /* bytes, a multiple of the host page size */
	uint8_t *guest_map;     /* for KVM_SET_USER_MEMORY_REGION */
	uint8_t *alias;         /* for the VMM */
};

/* Create a memfd of @size bytes and both mappings.  Returns 0 or -errno. */
int guestmem_init(struct guestmem *gm, uint64_t size);

/* Unmap both views and close the memfd.  Safe on a zeroed struct. */
void guestmem_destroy(struct guestmem *gm);

/* True when [gpa, gpa + len) lies inside [0, size), without overflow.
 * len 0 is inside when gpa <= size. */
bool guestmem_range_ok(uint64_t size, uint64_t gpa, uint64_t len);

/*
 * The one gpa -> hva translation: a pointer into the alias for
 * [gpa, gpa + len), or NULL when any byte of it is outside guest RAM
 * (including when gpa + len overflows).
 */
void *guestmem_hva(const struct guestmem *gm, uint64_t gpa, uint64_t len);

#endif
