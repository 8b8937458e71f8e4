/* SPDX-License-Identifier: MIT */
#include "mmu/dirty.h"

#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/fs.h>

#ifndef PAGEMAP_SCAN            /* Linux 6.7 uapi; older headers lack it */
struct page_region {
	uint64_t start, end, categories;
};

struct pm_scan_arg {
	uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
	uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};

#define PAGE_IS_WRITTEN         (1 << 1)
#define PAGE_IS_PRESENT         (1 << 3)
#define PAGE_IS_SWAPPED         (1 << 4)
#define PM_SCAN_WP_MATCHING     (1 << 0)
#define PM_SCAN_CHECK_WPASYNC   (1 << 1)
#define PAGEMAP_SCAN            _IOWR('f', 16, struct pm_scan_arg)
#endif

int dirty_scan(int pagemap_fd, uint64_t addr, unsigned n, bool protect, uint64_t *written)
{
	struct page_region r[DIRTY_SCAN_MAX];
	uint64_t end = addr + (uint64_t)n * 4096, at = addr;
	uint64_t w = n == 64 ? ~0ull : (1ull << n) - 1;        /* written until shown clean */

	if (n == 0 || n > DIRTY_SCAN_MAX)
		return -EINVAL;
	while (at < end) {
		struct pm_scan_arg a = {
			.size = sizeof(a),
			.flags = protect ? PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC : 0,
			.start = at,
			.end = end,
			.vec = (uintptr_t)r,
			.vec_len = DIRTY_SCAN_MAX,
			/* every page is of interest: all of them get protected */
			.return_mask = PAGE_IS_WRITTEN | PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
		};
		long nr = ioctl(pagemap_fd, PAGEMAP_SCAN, &a);

		if (nr < 0)
			return -errno;
		for (long k = 0; k < nr; k++) {
			/* clean only on evidence: a protected PTE or a uffd-wp marker */
			bool clean = (r[k].categories & (PAGE_IS_PRESENT | PAGE_IS_SWAPPED)) &&
				     !(r[k].categories & PAGE_IS_WRITTEN);

			for (uint64_t p = r[k].start; clean && p < r[k].end; p += 4096)
				w &= ~(1ull << ((p - addr) / 4096));
		}
		if (a.walk_end <= at)
			return -EIO;
		at = a.walk_end;
	}
	*written = w;
	return 0;
}

int dirty_probe(int pagemap_fd)
{
	struct pm_scan_arg a = { .size = sizeof(a) };   /* an empty range */

	return ioctl(pagemap_fd, PAGEMAP_SCAN, &a) < 0 ? -errno : 0;
}
