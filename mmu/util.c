/* SPDX-License-Identifier: MIT */
#include "mmu/util.h"

#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

int mmu_thread(pthread_t *t, void *(*fn)(void *), void *arg, const char *what)
{
	sigset_t all, old;
	int ret;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = pthread_create(t, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret)
		fprintf(stderr, "vmm: pthread_create for the %s thread: %s\n", what, strerror(ret));
	return -ret;
}

void mmu_thread_end(pthread_t t, const atomic_bool *done, bool may_hang)
{
	struct timespec ms = { .tv_nsec = 1000000l };

	if (!may_hang) {
		pthread_join(t, NULL);
		return;
	}
	while (!atomic_load(done))
		nanosleep(&ms, NULL);
	pthread_detach(t);
}

void mmu_fatal(struct mmu_fatal *f, const char *fmt, ...)
{
	bool expected = false;
	char msg[256];
	va_list ap;

	if (!atomic_compare_exchange_strong(&f->sent, &expected, true))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "vmm: swap mode: %s\n", msg);
	if (f->fn)
		f->fn(f->opaque, msg);
}
