/* SPDX-License-Identifier: MIT */
/*
 * Userfaultfd on the guest mapping of RAM, and the fault service threads.
 *
 * The guest mapping (the one KVM's memory slot points at) is registered in
 * MISSING, MINOR and WP modes, WP in async mode (dirty tracking: mmu/dirty.h);
 * the VMM's alias is never registered.  N threads read the one uffd
 * (non-blocking reads after poll: several readers are fine) and serve each
 * fault by the page's state, not by the event's kind (the state may have
 * moved on since the event was raised):
 *
 *   ABSENT    zero-fill (UFFDIO_ZEROPAGE)
 *   SWAPPED   read the slot with the thread's io_uring and install it
 *             (UFFDIO_COPY from a bounce buffer, write-protected: clean)
 *   RESIDENT, EVICTING
 *             mark referenced (CLOCK) and UFFDIO_CONTINUE (write-protected
 *             when the page is clean, so its next write shows)
 *
 * EEXIST counts as done (the range is woken), EAGAIN is retried.
 */
#ifndef PV_MMU_UFFD_H
#define PV_MMU_UFFD_H

#include <liburing.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct swapmode;

struct uffd_worker {
	struct swapmode *sm;
	pthread_t thread;
	bool started;
	bool ring_ok;
	bool abandoned;         /* a read into bounce was given up on: bounce is never freed */
	struct io_uring ring;   /* swap-in reads */
	void *bounce;           /* 4 KiB, page-aligned */
};

struct uffd {
	int fd;                 /* -1: none */
	int stop_fd;            /* eventfd: readable once the threads must stop */
	uint64_t base, len;     /* the registered range (the guest mapping) */
	unsigned nr;
	struct uffd_worker *w;
};

/*
 * Open a userfaultfd with the features swap mode needs and register
 * [@base, @base + @len).  Returns 0 or -errno after one line naming the
 * syscall or ioctl.
 */
int uffd_open(struct uffd *u, void *base, uint64_t len);

/* Start @nr fault threads serving sm->uffd.  0 or -errno (threads started so far keep running). */
int uffd_start(struct swapmode *sm, unsigned nr);

/* Stop and join the threads.  Idempotent. */
void uffd_stop(struct uffd *u);

/* Close the uffd (unregisters the range).  Safe on an unopened one (fd -1). */
void uffd_close(struct uffd *u);

/*
 * Serve one fault on the page at @addr (flags from the event), read at
 * @t0 (ns).  Exposed for tests; the threads call it.
 */
void uffd_serve(struct swapmode *sm, struct uffd_worker *w, uint64_t addr, uint64_t flags,
		uint64_t t0);

/*
 * UFFDIO_CONTINUE on [@addr, @addr + @len) of the guest mapping, with
 * MODE_WP when @wp.  0 when it mapped, 1 when already mapped (EEXIST: the
 * range is woken), or -errno.
 */
int uffd_continue(struct swapmode *sm, uint64_t addr, uint64_t len, bool wp);

#endif
