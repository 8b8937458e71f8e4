/* SPDX-License-Identifier: MIT */
/*
 * What every part of mmu/ shares: the clock, how its threads start, and the
 * one way to say that guest data is lost.
 */
#ifndef PV_MMU_UTIL_H
#define PV_MMU_UTIL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

static inline uint64_t mmu_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* A thread with every signal blocked (signals belong to the main and vCPU threads). */
int mmu_thread(pthread_t *t, void *(*fn)(void *), void *arg, const char *what);

/*
 * End a thread of ours: join it, or, with @may_hang (it may have I/O in
 * flight: the swap layer was aborted), wait until it has set @done (its
 * last store before it returns) and detach it.  A thread's exit waits in
 * the kernel for the io_uring work it queued (io-wq workers are joined at
 * task exit), and on storage that hangs (a frozen file system) that is
 * until the storage comes back.  Nothing of ours is touched after @done.
 */
void mmu_thread_end(pthread_t t, const atomic_bool *done, bool may_hang);

/* Who to tell when guest data is lost: told once. */
struct mmu_fatal {
	void (*fn)(void *opaque, const char *msg);
	void *opaque;
	atomic_bool sent;
};

/* Report that guest data is lost, once: "vmm: swap mode: MSG" on stderr, then @f's fn. */
void mmu_fatal(struct mmu_fatal *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
