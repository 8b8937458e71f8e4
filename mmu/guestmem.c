/* SPDX-License-Identifier: MIT */
#include "mmu/guestmem.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* RAM sizes both backings accept: nonzero, whole host pages. */
static bool guestmem_size_ok(uint64_t size)
{
	return size && size % (uint64_t)sysconf(_SC_PAGESIZE) == 0;
}

int guestmem_init(struct guestmem *gm, uint64_t size)
{
	int ret;

	memset(gm, 0, sizeof(*gm));
	gm->memfd = -1;
	if (!guestmem_size_ok(size))
		return -EINVAL;

	gm->memfd = memfd_create("pagevisor-ram", MFD_CLOEXEC);
	if (gm->memfd < 0) {
		ret = -errno;
		fprintf(stderr, "vmm: memfd_create: %s\n", strerror(errno));
		return ret;
	}
	if (ftruncate(gm->memfd, (off_t)size) < 0) {
		ret = -errno;
		fprintf(stderr, "vmm: ftruncate guest RAM to %llu bytes: %s\n",
			(unsigned long long)size, strerror(errno));
		goto err_close;
	}
	gm->guest_map = mmap(NULL, size, PROT_READ | PROT_WRITE,
			     MAP_SHARED | MAP_NORESERVE, gm->memfd, 0);
	if (gm->guest_map == MAP_FAILED) {
		ret = -errno;
		fprintf(stderr, "vmm: mmap guest RAM: %s\n", strerror(errno));
		goto err_close;
	}
	gm->alias = mmap(NULL, size, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_NORESERVE, gm->memfd, 0);
	if (gm->alias == MAP_FAILED) {
		ret = -errno;
		fprintf(stderr, "vmm: mmap guest RAM alias: %s\n", strerror(errno));
		goto err_unmap;
	}
	gm->size = size;
	return 0;

err_unmap:
	munmap(gm->guest_map, size);
err_close:
	close(gm->memfd);
	memset(gm, 0, sizeof(*gm));
	gm->memfd = -1;
	return ret;
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
