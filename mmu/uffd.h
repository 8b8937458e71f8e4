/* SPDX-License-Identifier: MIT */
/*
 * Userfaultfd on the guest mapping of RAM: the descriptor and the resolving
 * ioctls.  The guest mapping (the one KVM's memory slot points at) is
 * registered in MISSING, MINOR and WP modes, WP in async mode (dirty
 * tracking: mmu/dirty.h); the VMM's alias is never registered.  The fault
 * threads that read it are mmu/fault.c's.
 *
 * Every resolving call treats EEXIST as done (the range is woken; counted
 * in eexist) and retries EAGAIN (counted in eagain).
 */
#ifndef PV_MMU_UFFD_H
#define PV_MMU_UFFD_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct uffd {
	int fd;                 /* -1: none */
	int stop_fd;            /* eventfd: readable once the fault threads must stop */
	uint64_t base, len;     /* the registered range (the guest mapping) */
	atomic_uint_fast64_t eexist, eagain;
};

/*
 * Open a userfaultfd with the features swap mode needs and register
 * [@base, @base + @len).  Returns 0 or -errno after one line naming the
 * syscall or ioctl.
 */
int uffd_open(struct uffd *u, void *base, uint64_t len);

/* Close the uffd (unregisters the range).  Safe on an unopened one (fd -1). */
void uffd_close(struct uffd *u);

/*
 * Resolve faults on [@addr, @addr + @len) of the guest mapping: map what
 * the memfd holds (CONTINUE), copy @src in (COPY, a whole run in one call),
 * or zero pages (ZEROPAGE: one page, or a run); MODE_WP when @wp.  0 when it mapped,
 * 1 when already mapped (EEXIST: the range is woken), or -errno.
 */
int uffd_continue(struct uffd *u, uint64_t addr, uint64_t len, bool wp);
int uffd_copy(struct uffd *u, uint64_t addr, const void *src, uint64_t len, bool wp);
int uffd_zero(struct uffd *u, uint64_t addr);
int uffd_zero_range(struct uffd *u, uint64_t addr, uint64_t len);

/* Wake what waits on [@addr, @addr + @len) without resolving: it faults again. */
void uffd_wake(struct uffd *u, uint64_t addr, uint64_t len);

#endif
