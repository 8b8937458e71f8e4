/* SPDX-License-Identifier: MIT */
/*
 * Dirty tracking with userfaultfd write-protect in async mode: a page
 * write-protected (UFFDIO_COPY/CONTINUE with MODE_WP, or a PAGEMAP_SCAN with
 * PM_SCAN_WP_MATCHING) loses its protection on the first write, which the
 * kernel resolves by itself (no event).  Its host PTE then says whether it
 * was written since: a present PTE with uffd-wp, or the uffd-wp marker a
 * zap leaves behind, means "not written"; anything else (a writable PTE, no
 * PTE, no page table) counts as written.  KVM writes to guest RAM through
 * the same PTEs, so guest writes are seen; the VMM's writes through the
 * alias are not (guestmem_get marks those dirty itself).
 */
#ifndef PV_MMU_DIRTY_H
#define PV_MMU_DIRTY_H

#include <stdbool.h>
#include <stdint.h>

#define DIRTY_SCAN_MAX 64u      /* pages per call */

/*
 * Scan @n (1..DIRTY_SCAN_MAX) pages from @addr (page-aligned) of a mapping
 * registered for async uffd-wp; bit k of *@written is set when page k
 * counts as written.  With @protect, every page is write-protected in the
 * same walk (atomically with reading its PTE: no write slips between).
 * @pagemap_fd is /proc/self/pagemap.  Returns 0 or -errno.
 */
int dirty_scan(int pagemap_fd, uint64_t addr, unsigned n, bool protect, uint64_t *written);

/* Whether this kernel has PAGEMAP_SCAN (Linux 6.7): 0, or -errno with a reason. */
int dirty_probe(int pagemap_fd);

#endif
