/* Shared by workloads/hugebench.c (init) and user/hugebench.c (the process). */
#ifndef USER_HUGEBENCH_H
#define USER_HUGEBENCH_H

#include <gk/aspace.h>

/* The process's argument: 2 MiB units (bits 0-15), passes (bits 16-23), 2 MiB mmap (bit 24). */
#define HUGEBENCH_ARG(units, passes, huge) \
	((long)((units) | (uint64_t)(passes) << 16 | (uint64_t)!!(huge) << 24))
#define HUGEBENCH_UNITS(arg)  ((uint64_t)(arg) & 0xffff)
#define HUGEBENCH_PASSES(arg) (((uint64_t)(arg) >> 16) & 0xff)
#define HUGEBENCH_HUGE(arg)   (((uint64_t)(arg) >> 24) & 1)
/*
 * Result words at the bottom of the stack: HUGEBENCH_MAGIC, errors, the
 * mapping's address, cycles of the first pass, cycles of the other passes.
 */
#define HUGEBENCH_RESULT (AS_STACK_TOP - AS_STACK_SIZE)
#define HUGEBENCH_MAGIC  0x4b6e9b3c21ull

long hugebench_proc(long arg);

#endif
