/* SPDX-License-Identifier: MIT */
/*
 * Guest RAM: one memfd, mapped twice.  guest_map is the mapping KVM's memory
 * slot points at (and, in swap mode, the one registered with userfaultfd);
 * alias is the VMM's own view, never registered, through which every VMM
 * access to guest memory goes: guestmem_get/put while the guest runs,
 * guestmem_hva for setup before it does.  With --anon-ram, RAM is one
 * private anonymous mapping instead (guest_map == alias, no memfd).
 */
#ifndef PV_MMU_GUESTMEM_H
#define PV_MMU_GUESTMEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Who keeps guest RAM resident for the VMM's accesses while the guest runs
 * (swap mode); without one, all of RAM always is.  get makes [gpa, gpa +
 * len) resident and pinned (0 or -errno), put unpins it.  The rest may be
 * NULL: prefault (a hint, never waits) brings pages [first, first + n) in
 * because the guest mapped them; release drops [gpa, gpa + len) from memory
 * and from swap (0 or -errno); usage says how many pages are in memory and
 * in swap by the pager's count.
 */
struct guestmem_pager {
	int (*get)(void *ctx, uint64_t gpa, uint64_t len, bool write);
	void (*put)(void *ctx, uint64_t gpa, uint64_t len);
	void (*prefault)(void *ctx, uint64_t first, uint64_t n);
	int (*release)(void *ctx, uint64_t gpa, uint64_t len);
	void (*usage)(void *ctx, uint64_t *resident_pages, uint64_t *swap_pages);
	void *ctx;
};

#define GUESTMEM_HUGE_PAGE (2ull << 20)  /* --hugepages: the host page size */

struct guestmem {
	int memfd;              /* -1 with --anon-ram */
	uint64_t size;          /* bytes, a multiple of the host page size */
	uint8_t *guest_map;     /* for KVM_SET_USER_MEMORY_REGION */
	uint8_t *alias;         /* for the VMM */
	uint64_t page_size;     /* of the host memory: 4 KiB, or GUESTMEM_HUGE_PAGE (hugetlb) */
	struct guestmem_pager pager;    /* get == NULL: none */
};

/* Create a memfd of @size bytes and both mappings.  Returns 0 or -errno. */
int guestmem_init(struct guestmem *gm, uint64_t size);

/*
 * --hugepages: a hugetlb memfd of 2 MiB pages (@size a multiple of them),
 * all reserved from the host's pool at once: -ENOMEM when it has too few.
 * Returns 0 or -errno (named on stderr).
 */
int guestmem_init_hugetlb(struct guestmem *gm, uint64_t size);

/* --anon-ram: one private anonymous mapping of @size bytes, no memfd.  0 or -errno. */
int guestmem_init_anon(struct guestmem *gm, uint64_t size);

/*
 * Route guestmem_get/put through @pager from now on (NULL: no pager).  The
 * caller sets it once the pager runs and clears it before the pager goes.
 */
void guestmem_set_pager(struct guestmem *gm, const struct guestmem_pager *pager);

/* Unmap both views and close the memfd.  Safe on a zeroed struct. */
void guestmem_destroy(struct guestmem *gm);

/* True when [gpa, gpa + len) lies inside [0, size), without overflow.
 * len 0 is inside when gpa <= size. */
bool guestmem_range_ok(uint64_t size, uint64_t gpa, uint64_t len);

/*
 * The one gpa -> hva translation: a pointer into the alias for
 * [gpa, gpa + len), or NULL when any byte of it is outside guest RAM
 * (including when gpa + len overflows).  Only for setup before the guest
 * runs (loader, boot tables, FDT) and for tests: in swap mode a page may be
 * punched out of the memfd, and reading it here would silently allocate a
 * zero page in its place.
 */
void *guestmem_hva(const struct guestmem *gm, uint64_t gpa, uint64_t len);

/*
 * Access to guest RAM while the guest runs: like guestmem_hva (NULL outside
 * RAM), but in swap mode every page of the range is made resident (swapped
 * in synchronously if needed) and pinned against reclaim until
 * guestmem_put(), and marked dirty when @write.  NULL also when a swap-in
 * failed.  Without swap mode both cost a bounds check.  Pair every non-NULL
 * get with a put of the same range; gets nest.
 */
void *guestmem_get(const struct guestmem *gm, uint64_t gpa, uint64_t len, bool write);
void guestmem_put(const struct guestmem *gm, uint64_t gpa, uint64_t len);

/*
 * The guest mapped pages [@first, @first + @n) of RAM: a pager with
 * prefault starts bringing the ones not in memory in (without waiting);
 * otherwise nothing.  The range must lie inside RAM.
 */
void guestmem_prefault(const struct guestmem *gm, uint64_t first, uint64_t n);

/*
 * Allocate the host pages of [@gpa, @gpa + @len) (page-aligned, inside RAM)
 * in the guest mapping, the one KVM reads, without changing their contents
 * (madvise MADV_POPULATE_WRITE, Linux 5.14).  Not for swap mode, whose
 * pages come through userfaultfd.  0 or -errno (the caller names it).
 */
int guestmem_populate(const struct guestmem *gm, uint64_t gpa, uint64_t len);

/*
 * Punch [@gpa, @gpa + @len) (page-aligned, inside RAM) out of the memfd: its
 * memory goes back to the host, both mappings read zeros there, and the
 * guest mapping's PTEs go with it.  0 or -errno (the caller names it).
 */
int guestmem_punch(const struct guestmem *gm, uint64_t gpa, uint64_t len);

/*
 * The contents of [@gpa, @gpa + @len) (page-aligned, inside RAM) are dead:
 * drop them from host memory (and, through the pager, from swap).  The next
 * access reads zeros.  hugetlb RAM gives back only the huge pages wholly
 * inside; the rest is zeroed in place.  0 or -errno (named on stderr).
 */
int guestmem_release(const struct guestmem *gm, uint64_t gpa, uint64_t len);

/* What guest RAM costs the host now, in bytes (struct pv_meminfo's meaning). */
struct guestmem_usage {
	uint64_t allocated;     /* the memfd's st_blocks * 512; anon: resident pages (mincore) */
	uint64_t resident;      /* the pager's count, else = allocated */
	uint64_t swap;          /* the pager's swap copies, else 0 */
};
int guestmem_usage(const struct guestmem *gm, struct guestmem_usage *u);

#endif
