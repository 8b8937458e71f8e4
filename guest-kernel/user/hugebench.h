/* Shared by workloads/hugebench.c (init) and user/hugebench.c (the process). */
#ifndef USER_HUGEBENCH_H
#define USER_HUGEBENCH_H

#include <gk/aspace.h>

/*
 * The process's argument: 2 MiB units (bits 0-15), passes (bits 16-23), 2 MiB
 * mmap (bit 24), the munmap/mprotect/fork checks after the passes (bit 25).
 */
#define HUGEBENCH_ARG(units, passes, huge, ops) \
	((long)((units) | (uint64_t)(passes) << 16 | (uint64_t)!!(huge) << 24 | \
		(uint64_t)!!(ops) << 25))
#define HUGEBENCH_UNITS(arg)  ((uint64_t)(arg) & 0xffff)
#define HUGEBENCH_PASSES(arg) (((uint64_t)(arg) >> 16) & 0xff)
#define HUGEBENCH_HUGE(arg)   (((uint64_t)(arg) >> 24) & 1)
#define HUGEBENCH_OPS(arg)    (((uint64_t)(arg) >> 25) & 1)
/*
 * Result words at the bottom of the stack: HUGEBENCH_MAGIC (written last),
 * errors, the mapping's address, cycles of the first pass, cycles of the
 * other passes, HUGEBENCH_MAPPED once the mmap is done (before the passes),
 * units whose 4 KiB mprotect was refused (mapped with a 2 MiB page) and
 * units where it worked (4 KiB pages) -- the last two with ops only.
 */
#define HUGEBENCH_RESULT (AS_STACK_TOP - AS_STACK_SIZE)
#define HUGEBENCH_MAGIC  0x4b6e9b3c21ull
#define HUGEBENCH_MAPPED 0x6d61707065ull

long hugebench_proc(long arg);

#endif
