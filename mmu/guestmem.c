/* SPDX-License-Identifier: MIT */
#include "mmu/guestmem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* RAM sizes both backings accept: nonzero, whole host pages. */
static bool guestmem_size_ok(uint64_t size)
{
	return size && size % (uint64_t)sysconf(_SC_PAGESIZE) == 0;
}

#ifndef MFD_HUGE_2MB
#define MFD_HUGE_2MB (21u << 26)        /* log2(2 MiB) << MFD_HUGE_SHIFT */
#endif

/*
 * The memfd backings.  hugetlb: 2 MiB pages, and no MAP_NORESERVE, so the
 * first mmap reserves the whole pool up front (-ENOMEM when the host has
 * too few) instead of a SIGBUS at some later first touch; the alias maps
 * the same file and reserves nothing more.
 */
static int guestmem_init_memfd(struct guestmem *gm, uint64_t size, bool huge)
{
	const int reserve = huge ? 0 : MAP_NORESERVE;
	int ret;

	memset(gm, 0, sizeof(*gm));
	gm->memfd = -1;
	if (!guestmem_size_ok(size) || (huge && size % GUESTMEM_HUGE_PAGE))
		return -EINVAL;

	gm->memfd = memfd_create("pagevisor-ram",
				 MFD_CLOEXEC | (huge ? MFD_HUGETLB | MFD_HUGE_2MB : 0));
	if (gm->memfd < 0) {
		ret = -errno;
		fprintf(stderr, "vmm: memfd_create%s: %s\n", huge ? "(MFD_HUGETLB)" : "",
			strerror(errno));
		return ret;
	}
	if (ftruncate(gm->memfd, (off_t)size) < 0) {
		ret = -errno;
		fprintf(stderr, "vmm: ftruncate guest RAM to %llu bytes: %s\n",
			(unsigned long long)size, strerror(errno));
		goto err_close;
	}
	gm->guest_map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | reserve,
			     gm->memfd, 0);
	if (gm->guest_map == MAP_FAILED) {
		ret = -errno;
		fprintf(stderr, "vmm: mmap guest RAM%s: %s\n", huge ? " (2 MiB huge pages)" : "",
			strerror(errno));
		goto err_close;
	}
	gm->alias = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | reserve, gm->memfd, 0);
	if (gm->alias == MAP_FAILED) {
		ret = -errno;
		fprintf(stderr, "vmm: mmap guest RAM alias: %s\n", strerror(errno));
		goto err_unmap;
	}
	gm->size = size;
	gm->page_size = huge ? GUESTMEM_HUGE_PAGE : (uint64_t)sysconf(_SC_PAGESIZE);
	return 0;

err_unmap:
	munmap(gm->guest_map, size);
err_close:
	close(gm->memfd);
	memset(gm, 0, sizeof(*gm));
	gm->memfd = -1;
	return ret;
}

int guestmem_init(struct guestmem *gm, uint64_t size)
{
	return guestmem_init_memfd(gm, size, false);
}

int guestmem_init_hugetlb(struct guestmem *gm, uint64_t size)
{
	return guestmem_init_memfd(gm, size, true);
}

int guestmem_init_anon(struct guestmem *gm, uint64_t size)
{
	memset(gm, 0, sizeof(*gm));
	gm->memfd = -1;
	if (!guestmem_size_ok(size))
		return -EINVAL;
	gm->guest_map = mmap(NULL, size, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (gm->guest_map == MAP_FAILED) {
		int ret = -errno;

		fprintf(stderr, "vmm: mmap anonymous guest RAM: %s\n", strerror(errno));
		gm->guest_map = NULL;
		return ret;
	}
	gm->alias = gm->guest_map;
	gm->size = size;
	gm->page_size = (uint64_t)sysconf(_SC_PAGESIZE);
	return 0;
}

void guestmem_destroy(struct guestmem *gm)
{
	if (gm->size == 0)      /* never initialised, or already destroyed */
		return;
	if (gm->alias != gm->guest_map)
		munmap(gm->alias, gm->size);
	munmap(gm->guest_map, gm->size);
	if (gm->memfd >= 0)
		close(gm->memfd);
	memset(gm, 0, sizeof(*gm));
	gm->memfd = -1;
}

bool guestmem_range_ok(uint64_t size, uint64_t gpa, uint64_t len)
{
	uint64_t end;

	if (__builtin_add_overflow(gpa, len, &end))
		return false;
	return end <= size;
}

void *guestmem_hva(const struct guestmem *gm, uint64_t gpa, uint64_t len)
{
	if (!gm->alias || !guestmem_range_ok(gm->size, gpa, len))
		return NULL;
	return gm->alias + gpa;
}

void *guestmem_get(const struct guestmem *gm, uint64_t gpa, uint64_t len, bool write)
{
	void *p = guestmem_hva(gm, gpa, len);

	if (!p || !gm->pager.get || !len)
		return p;
	return gm->pager.get(gm->pager.ctx, gpa, len, write) ? NULL : p;
}

void guestmem_put(const struct guestmem *gm, uint64_t gpa, uint64_t len)
{
	if (gm->pager.put && len && guestmem_range_ok(gm->size, gpa, len))
		gm->pager.put(gm->pager.ctx, gpa, len);
}

void guestmem_set_pager(struct guestmem *gm, const struct guestmem_pager *pager)
{
	gm->pager = pager ? *pager : (struct guestmem_pager){ 0 };
}

void guestmem_prefault(const struct guestmem *gm, uint64_t first, uint64_t n)
{
	if (gm->pager.prefault && n)
		gm->pager.prefault(gm->pager.ctx, first, n);
}

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23  /* Linux 5.14; older libc headers lack it */
#endif

int guestmem_populate(const struct guestmem *gm, uint64_t gpa, uint64_t len)
{
	if (!guestmem_range_ok(gm->size, gpa, len) || ((gpa | len) & 0xfff))
		return -EINVAL;
	if (!len || madvise(gm->guest_map + gpa, len, MADV_POPULATE_WRITE) == 0)
		return 0;
	return -errno;
}

int guestmem_punch(const struct guestmem *gm, uint64_t gpa, uint64_t len)
{
	if (fallocate(gm->memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)gpa,
		      (off_t)len) == 0)
		return 0;
	return -errno;
}

/*
 * hugetlb RAM: only whole huge pages can be punched; the 4 KiB pages of a
 * huge page the range covers in part are zeroed in place instead (the
 * contract is that they read zeros, not that their memory goes back).
 */
static int guestmem_release_huge(const struct guestmem *gm, uint64_t gpa, uint64_t len)
{
	uint64_t hp = gm->page_size, lo = (gpa + hp - 1) & ~(hp - 1), hi = (gpa + len) & ~(hp - 1);
	int ret;

	if (lo >= hi) {                 /* inside one huge page */
		memset(gm->alias + gpa, 0, len);
		return 0;
	}
	memset(gm->alias + gpa, 0, lo - gpa);
	memset(gm->alias + hi, 0, gpa + len - hi);
	ret = guestmem_punch(gm, lo, hi - lo);
	if (ret)
		fprintf(stderr, "vmm: fallocate(PUNCH_HOLE) of huge-page guest RAM: %s\n",
			strerror(-ret));
	return ret;
}

int guestmem_release(const struct guestmem *gm, uint64_t gpa, uint64_t len)
{
	int ret;

	if (!len)
		return 0;
	if (!guestmem_range_ok(gm->size, gpa, len) || ((gpa | len) & 0xfff))
		return -EINVAL;
	if (gm->pager.release)
		return gm->pager.release(gm->pager.ctx, gpa, len);
	/* a memfd hole reads as zeros through both mappings; anonymous memory after DONTNEED too */
	if (gm->page_size > 4096)
		return guestmem_release_huge(gm, gpa, len);
	if (gm->memfd >= 0) {
		ret = guestmem_punch(gm, gpa, len);
		if (ret)
			fprintf(stderr, "vmm: fallocate(PUNCH_HOLE) of guest RAM: %s\n", strerror(-ret));
		return ret;
	}
	if (madvise(gm->alias + gpa, len, MADV_DONTNEED) == 0)
		return 0;
	ret = -errno;
	fprintf(stderr, "vmm: madvise(MADV_DONTNEED) of guest RAM: %s\n", strerror(errno));
	return ret;
}

/* Resident pages of the anonymous mapping, by mincore in 1 GiB steps. */
static int guestmem_anon_resident(const struct guestmem *gm, uint64_t *bytes)
{
	const uint64_t step = 1ull << 30, psz = (uint64_t)sysconf(_SC_PAGESIZE);
	unsigned char *vec = malloc(step / psz);
	uint64_t n = 0;

	if (!vec)
		return -ENOMEM;
	for (uint64_t off = 0; off < gm->size; off += step) {
		uint64_t len = gm->size - off < step ? gm->size - off : step;

		if (mincore(gm->alias + off, len, vec)) {
			int ret = -errno;

			fprintf(stderr, "vmm: mincore of guest RAM: %s\n", strerror(errno));
			free(vec);
			return ret;
		}
		for (uint64_t k = 0; k < len / psz; k++)
			n += vec[k] & 1;
	}
	free(vec);
	*bytes = n * psz;
	return 0;
}

int guestmem_usage(const struct guestmem *gm, struct guestmem_usage *u)
{
	uint64_t res = 0, swp = 0;
	struct stat sb;
	int ret;

	memset(u, 0, sizeof(*u));
	if (gm->memfd >= 0) {
		if (fstat(gm->memfd, &sb)) {
			ret = -errno;
			fprintf(stderr, "vmm: fstat of guest RAM: %s\n", strerror(errno));
			return ret;
		}
		u->allocated = (uint64_t)sb.st_blocks * 512;
	} else {
		ret = guestmem_anon_resident(gm, &u->allocated);
		if (ret)
			return ret;
	}
	u->resident = u->allocated;
	if (gm->pager.usage) {
		gm->pager.usage(gm->pager.ctx, &res, &swp);
		u->resident = res * 4096;
		u->swap = swp * 4096;
	}
	return 0;
}
