/* SPDX-License-Identifier: MIT */
#include "mmu/uffd.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>


/* Linux 6.7 uapi, missing from older headers */
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC           (1 << 15)
#endif
#ifndef UFFDIO_CONTINUE_MODE_WP
#define UFFDIO_CONTINUE_MODE_WP         ((__u64)1 << 1)
#endif

#define UFFD_FEATURES   (UFFD_FEATURE_MINOR_SHMEM | UFFD_FEATURE_WP_HUGETLBFS_SHMEM | \
			 UFFD_FEATURE_WP_ASYNC)
#define UFFD_IOCTLS     ((1ull << _UFFDIO_COPY) | (1ull << _UFFDIO_ZEROPAGE) | \
			 (1ull << _UFFDIO_CONTINUE) | (1ull << _UFFDIO_WRITEPROTECT) | \
			 (1ull << _UFFDIO_WAKE))
#define UFFD_EAGAIN_MAX 100000  /* an EAGAIN storm is an error, not a loop forever */

/* userfaultfd(2), or /dev/userfaultfd where the syscall is restricted */
static int uffd_new(void)
{
	int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	int dev, err;

	if (fd >= 0 || (errno != EPERM && errno != ENOSYS))
		return fd >= 0 ? fd : -errno;
	err = errno;
	dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
	if (dev < 0)
		return -err;
	fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		fd = -errno;
	close(dev);
	return fd;
}

int uffd_open(struct uffd *u, void *base, uint64_t len)
{
	struct uffdio_api api = { .api = UFFD_API, .features = UFFD_FEATURES };
	struct uffdio_register reg = {
		.range = { .start = (uintptr_t)base, .len = len },
		.mode = UFFDIO_REGISTER_MODE_MISSING | UFFDIO_REGISTER_MODE_MINOR |
			UFFDIO_REGISTER_MODE_WP,
	};
	int ret;

	memset(u, 0, sizeof(*u));
	u->fd = u->stop_fd = -1;
	ret = uffd_new();
	if (ret < 0) {
		fprintf(stderr, "vmm: userfaultfd: %s\n", strerror(-ret));
		return ret;
	}
	u->fd = ret;
	if (ioctl(u->fd, UFFDIO_API, &api) < 0) {
		ret = -errno;
		fprintf(stderr, "vmm: UFFDIO_API (minor faults and async write-protect on shmem, "
			"Linux 6.7 or later): %s\n", strerror(errno));
		goto err;
	}
	if (ioctl(u->fd, UFFDIO_REGISTER, &reg) < 0) {
		ret = -errno;
		fprintf(stderr, "vmm: UFFDIO_REGISTER of guest RAM: %s\n", strerror(errno));
		goto err;
	}
	if ((reg.ioctls & UFFD_IOCTLS) != UFFD_IOCTLS) {
		ret = -EOPNOTSUPP;
		fprintf(stderr, "vmm: UFFDIO_REGISTER: copy, zeropage, continue or writeprotect "
			"missing for guest RAM (ioctls 0x%llx)\n", (unsigned long long)reg.ioctls);
		goto err;
	}
	u->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (u->stop_fd < 0) {
		ret = -errno;
		fprintf(stderr, "vmm: eventfd: %s\n", strerror(errno));
		goto err;
	}
	u->base = (uintptr_t)base;
	u->len = len;
	return 0;
err:
	close(u->fd);
	u->fd = -1;
	return ret;
}

void uffd_wake(struct uffd *u, uint64_t addr, uint64_t len)
{
	struct uffdio_range r = { .start = addr, .len = len };

	ioctl(u->fd, UFFDIO_WAKE, &r);
}

/*
 * Resolve a fault with @req on [@addr, @addr + @len): EAGAIN (the mm is
 * changing) is retried; EEXIST (the page or its PTE is already there)
 * counts as done, wakes the range and returns 1.  Otherwise 0 or -errno.
 */
static int uffd_resolve(struct uffd *u, unsigned long req, void *arg, uint64_t addr,
			uint64_t len)
{
	for (unsigned tries = 0;; tries++) {
		if (ioctl(u->fd, req, arg) == 0)
			return 0;
		if (errno == EAGAIN && tries < UFFD_EAGAIN_MAX) {
			atomic_fetch_add_explicit(&u->eagain, 1, memory_order_relaxed);
			continue;
		}
		if (errno == EEXIST) {
			atomic_fetch_add_explicit(&u->eexist, 1, memory_order_relaxed);
			uffd_wake(u, addr, len);
			return 1;
		}
		return -errno;
	}
}

int uffd_continue(struct uffd *u, uint64_t addr, uint64_t len, bool wp)
{
	struct uffdio_continue c = {
		.range = { .start = addr, .len = len },
		.mode = wp ? UFFDIO_CONTINUE_MODE_WP : 0,
	};

	return uffd_resolve(u, UFFDIO_CONTINUE, &c, addr, len);
}

int uffd_copy(struct uffd *u, uint64_t addr, const void *src, uint64_t len, bool wp)
{
	struct uffdio_copy c = {
		.dst = addr, .src = (uintptr_t)src, .len = len,
		.mode = wp ? UFFDIO_COPY_MODE_WP : 0,
	};

	return uffd_resolve(u, UFFDIO_COPY, &c, addr, len);
}

int uffd_zero_range(struct uffd *u, uint64_t addr, uint64_t len)
{
	struct uffdio_zeropage z = { .range = { .start = addr, .len = len } };

	return uffd_resolve(u, UFFDIO_ZEROPAGE, &z, addr, len);
}

int uffd_zero(struct uffd *u, uint64_t addr)
{
	return uffd_zero_range(u, addr, 4096);
}

void uffd_close(struct uffd *u)
{
	if (u->stop_fd >= 0)
		close(u->stop_fd);
	if (u->fd >= 0)
		close(u->fd);
	u->fd = u->stop_fd = -1;
}
