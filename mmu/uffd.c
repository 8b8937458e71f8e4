/* SPDX-License-Identifier: MIT */
#include "mmu/uffd.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "mmu/swapmode.h"

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
#define UFFD_MSGS       8       /* events read at once */
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

static void uffd_wake(struct swapmode *sm, uint64_t addr, uint64_t len)
{
	struct uffdio_range r = { .start = addr, .len = len };

	ioctl(sm->uffd.fd, UFFDIO_WAKE, &r);
}

/*
 * Resolve a fault with @req on [@addr, @addr + @len): EAGAIN (the mm is
 * changing) is retried; EEXIST (the page or its PTE is already there)
 * counts as done, wakes the range and returns 1.  Otherwise 0 or -errno.
 */
static int uffd_resolve(struct swapmode *sm, unsigned long req, void *arg, uint64_t addr,
			uint64_t len)
{
	for (unsigned tries = 0;; tries++) {
		if (ioctl(sm->uffd.fd, req, arg) == 0)
			return 0;
		if (errno == EAGAIN && tries < UFFD_EAGAIN_MAX) {
			atomic_fetch_add_explicit(&sm->c.eagain, 1, memory_order_relaxed);
			continue;
		}
		if (errno == EEXIST) {
			atomic_fetch_add_explicit(&sm->c.eexist, 1, memory_order_relaxed);
			uffd_wake(sm, addr, len);
			return 1;
		}
		return -errno;
	}
}

int uffd_continue(struct swapmode *sm, uint64_t addr, uint64_t len, bool wp)
{
	struct uffdio_continue c = {
		.range = { .start = addr, .len = len },
		.mode = wp ? UFFDIO_CONTINUE_MODE_WP : 0,
	};

	return uffd_resolve(sm, UFFDIO_CONTINUE, &c, addr, len);
}

static int uffd_copy(struct swapmode *sm, uint64_t addr, const void *src, bool wp)
{
	struct uffdio_copy c = {
		.dst = addr, .src = (uintptr_t)src, .len = 4096,
		.mode = wp ? UFFDIO_COPY_MODE_WP : 0,
	};

	return uffd_resolve(sm, UFFDIO_COPY, &c, addr, 4096);
}

static int uffd_zero(struct swapmode *sm, uint64_t addr)
{
	struct uffdio_zeropage z = { .range = { .start = addr, .len = 4096 } };

	return uffd_resolve(sm, UFFDIO_ZEROPAGE, &z, addr, 4096);
}

/*
 * Bring page @i back from @slot into the guest mapping at @addr,
 * write-protected when @wp (a clean page: its first write must show).  A
 * page already in the memfd (EEXIST from COPY: nothing should have put it
 * there) gets the slot's data written over it, then CONTINUE.  0 or -errno.
 */
static int uffd_swap_in(struct swapmode *sm, struct uffd_worker *w, uint64_t i, uint64_t addr,
			uint64_t slot, bool wp)
{
	uint8_t *alias = sm->gm->alias + (i << PAGE_SHIFT_4K);
	struct io_uring *ring = w->ring_ok ? &w->ring : NULL;
	int ret;

	ret = swap_read(&sm->swap, ring, w->bounce, slot);
	if (ret == -ESHUTDOWN)
		w->abandoned = true;    /* the read may still land in bounce */
	if (ret)
		return ret;
	ret = uffd_copy(sm, addr, w->bounce, wp);
	if (ret == 1) {
		memcpy(alias, w->bounce, 4096);
		ret = uffd_continue(sm, addr, 4096, wp);
	}
	return ret < 0 ? ret : 0;
}

/*
 * A fault on a page in the memfd: referenced; map it again.  Counted as a
 * minor fault when this CONTINUE mapped it; one already mapped by the time
 * it is served (EEXIST: another thread, or reclaim mapping back a page it
 * kept) only counts in eexist.
 */
static void uffd_serve_minor(struct swapmode *sm, uint64_t i, uint64_t addr, uint32_t st,
			     bool write, uint64_t t0)
{
	int ret;

	if (sm->clock)
		st = page_rereferenced(st);
	/* a write fault on a resident page will dirty it: map it writable at once */
	if (write && page_kind(st) == PAGE_RESIDENT)
		st |= PAGE_DIRTY;
	pages_set(&sm->pages, i, st);
	/* one being written back, and a clean one, stay write-protected: writes show */
	ret = uffd_continue(sm, addr, 4096, page_kind(st) == PAGE_EVICTING ||
			    !(st & PAGE_DIRTY));
	pages_unlock(&sm->pages, i);
	if (ret < 0)
		swapmode_fatal(sm, "UFFDIO_CONTINUE at gpa 0x%llx: %s",
			       (unsigned long long)(i << PAGE_SHIFT_4K), strerror(-ret));
	if (ret)
		return;
	atomic_fetch_add_explicit(&sm->c.minor, 1, memory_order_relaxed);
	lathist_add(&sm->c.lat_minor, swapmode_now_ns() - t0);
}

/*
 * A fault on a page not in the memfd: zero-fill or swap in, with the page
 * BUSY and its lock dropped (the wait for room and the read take time).
 * Called with the lock held; returns with it released.
 */
static void uffd_serve_missing(struct swapmode *sm, struct uffd_worker *w, uint64_t i,
			       uint64_t addr, uint32_t st, bool write, uint64_t t0)
{
	bool from_slot = page_kind(st) == PAGE_SWAPPED;
	/* a clean page is write-protected, unless the fault is a write: dirty at once */
	bool wp = !write;
	uint64_t slot = i;       /* the swap file's layout: page i in slot i */
	int ret;

	atomic_fetch_add_explicit(&sm->c.missing, 1, memory_order_relaxed);
	pages_set(&sm->pages, i, st | PAGE_BUSY);
	pages_unlock(&sm->pages, i);

	pages_reserve(&sm->pages);
	ret = from_slot ? uffd_swap_in(sm, w, i, addr, slot, wp) : uffd_zero(sm, addr);
	if (ret > 0)
		ret = 0;        /* EEXIST on a zero-fill: the page is there */
	if (ret < 0 && from_slot) {
		/* -ESHUTDOWN: the VM is being stopped, the storage may hang: not an error */
		if (ret != -ESHUTDOWN) {
			atomic_fetch_add(&sm->c.swap_errors, 1);
			swapmode_fatal(sm, "swap-in of gpa 0x%llx from slot %llu: %s; guest data lost",
				       (unsigned long long)(i << PAGE_SHIFT_4K),
				       (unsigned long long)slot, swap_strerror(ret));
		}
		from_slot = false;      /* unblock the vCPU with a zero page; the VM is ending */
		ret = uffd_zero(sm, addr);
		if (ret > 0)
			ret = 0;
	}
	if (ret < 0)
		swapmode_fatal(sm, "installing gpa 0x%llx: %s",
			       (unsigned long long)(i << PAGE_SHIFT_4K), strerror(-ret));

	pages_lock(&sm->pages, i);
	st = page_installed(pages_get(&sm->pages, i), from_slot, sm->clock);
	pages_set_idle(&sm->pages, i, st | (from_slot && !wp ? PAGE_DIRTY : 0));
	pages_unlock(&sm->pages, i);
	reclaim_note_resident(sm, i);
	if (from_slot) {
		atomic_fetch_add_explicit(&sm->c.swap_in, 1, memory_order_relaxed);
		lathist_add(&sm->c.lat_swap_in, swapmode_now_ns() - t0);
	} else {
		atomic_fetch_add_explicit(&sm->c.zero_fill, 1, memory_order_relaxed);
		lathist_add(&sm->c.lat_zero, swapmode_now_ns() - t0);
	}
}

void uffd_serve(struct swapmode *sm, struct uffd_worker *w, uint64_t addr, uint64_t flags,
		uint64_t t0)
{
	uint64_t i;
	uint32_t st;
	bool write;

	addr &= ~(PAGE_SIZE_4K - 1);
	if (addr < sm->uffd.base || addr - sm->uffd.base >= sm->uffd.len)
		return;
	i = (addr - sm->uffd.base) >> PAGE_SHIFT_4K;
	write = (flags & UFFD_PAGEFAULT_FLAG_WRITE) != 0;

	/* served by the page's state, not by the event's kind: see mmu/uffd.h */
	pages_lock(&sm->pages, i);
	st = pages_wait_idle(&sm->pages, i);
	switch (page_kind(st)) {
	case PAGE_RESIDENT:
	case PAGE_EVICTING:
		uffd_serve_minor(sm, i, addr, st, write, t0);
		break;
	default:
		uffd_serve_missing(sm, w, i, addr, st, write, t0);
		break;
	}
}

/*
 * The next events: for SWAPMODE_SPIN_US after the last fault served, by reading
 * the (non-blocking) uffd in a loop -- faults come in bursts, and a thread
 * woken from poll() on this nested host takes ~15 us longer to resolve one
 * (docs/ARCHITECTURE.md) -- then by poll().  0 when told to stop.
 */
static ssize_t uffd_next(struct uffd_worker *w, struct uffd_msg *msg, size_t len, uint64_t last)
{
	struct swapmode *sm = w->sm;
	struct pollfd pfd[2] = {
		{ .fd = sm->uffd.fd, .events = POLLIN },
		{ .fd = sm->uffd.stop_fd, .events = POLLIN },
	};
	ssize_t n;

	for (;;) {
		if (swapmode_now_ns() - last < SWAPMODE_SPIN_US * 1000ull) {
			n = read(sm->uffd.fd, msg, len);
			if (n >= 0 || (errno != EAGAIN && errno != EINTR))
				return n;
			continue;
		}
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (pfd[1].revents)
			return 0;
		n = read(sm->uffd.fd, msg, len);
		if (n >= 0 || (errno != EAGAIN && errno != EINTR))
			return n;               /* EAGAIN: another thread took it */
	}
}

static void *uffd_thread(void *arg)
{
	struct uffd_worker *w = arg;
	struct uffd_msg msg[UFFD_MSGS];
	uint64_t last = 0;
	ssize_t n;

	while ((n = uffd_next(w, msg, sizeof(msg), last)) > 0) {
		uint64_t t0 = swapmode_now_ns();

		for (size_t k = 0; k < (size_t)n / sizeof(msg[0]); k++)
			if (msg[k].event == UFFD_EVENT_PAGEFAULT)
				uffd_serve(w->sm, w, msg[k].arg.pagefault.address,
					   msg[k].arg.pagefault.flags, t0);
		last = swapmode_now_ns();
	}
	if (n < 0)
		fprintf(stderr, "vmm: reading userfaultfd: %s\n", strerror(errno));
	return NULL;
}

int uffd_start(struct swapmode *sm, unsigned nr)
{
	struct uffd *u = &sm->uffd;
	int ret;

	u->w = calloc(nr, sizeof(*u->w));
	if (!u->w)
		return -ENOMEM;
	u->nr = nr;
	for (unsigned k = 0; k < nr; k++) {
		struct uffd_worker *w = &u->w[k];

		w->sm = sm;
		/* a mapping of its own, not the heap: an abandoned one is simply never unmapped */
		w->bounce = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
				 -1, 0);
		if (w->bounce == MAP_FAILED) {
			w->bounce = NULL;
			return -ENOMEM;
		}
		/* without a ring, reads fall back to pread */
		w->ring_ok = io_uring_queue_init(4, &w->ring, 0) == 0;
		ret = swapmode_thread(&w->thread, uffd_thread, w, "fault");
		if (ret)
			return ret;
		w->started = true;
	}
	return 0;
}

void uffd_stop(struct uffd *u)
{
	uint64_t one = 1;

	if (!u->w)
		return;
	if (u->stop_fd >= 0 && write(u->stop_fd, &one, sizeof(one)) < 0)
		fprintf(stderr, "vmm: eventfd write: %s\n", strerror(errno));
	for (unsigned k = 0; k < u->nr; k++) {
		struct uffd_worker *w = &u->w[k];

		if (w->started)
			pthread_join(w->thread, NULL);
		if (w->ring_ok && w->ring.sq.ring_entries)     /* not dropped by swap_read */
			io_uring_queue_exit(&w->ring);
		if (w->bounce && !w->abandoned)
			munmap(w->bounce, 4096);
	}
	free(u->w);
	u->w = NULL;
	u->nr = 0;
}

void uffd_close(struct uffd *u)
{
	uffd_stop(u);
	if (u->stop_fd >= 0)
		close(u->stop_fd);
	if (u->fd >= 0)
		close(u->fd);
	u->fd = u->stop_fd = -1;
}
