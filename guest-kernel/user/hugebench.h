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
 * errors, the mapping's address (from the mmap on), cycles of the first
 * pass, cycles of the other passes, a stage: HUGEBENCH_MAPPED once the
 * mmap is done (before the passes), HUGEBENCH_PASSED after the passes
 * (with ops; the process yields then, before its ops change the mapping).
 */
#define HUGEBENCH_RESULT (AS_STACK_TOP - AS_STACK_SIZE)
#define HUGEBENCH_MAGIC  0x4b6e9b3c21ull
#define HUGEBENCH_MAPPED 0x6d61707065ull
#define HUGEBENCH_PASSED 0x7061737365ull
/*
 * ops: what unit u of the mapping gets (user/hugebench.c: hb_ops): unit 1
 * a 4 KiB munmap (of its page HUGEBENCH_HOLE: one hole in all, as each
 * takes a region slot), units 0, 3, 6, ... a 4 KiB mprotect (page 1,
 * read-only and back: the pieces join again), the others a whole-unit
 * mprotect and then the writes after fork.
 */
#define HUGEBENCH_OP_MPROTECT 0
#define HUGEBENCH_OP_MUNMAP   1
#define HUGEBENCH_OP_COW      2
#define HUGEBENCH_OP(u) ((u) == 1 ? HUGEBENCH_OP_MUNMAP : \
			 (u) % 3 == 0 ? HUGEBENCH_OP_MPROTECT : HUGEBENCH_OP_COW)
#define HUGEBENCH_HOLE        2

long hugebench_proc(long arg);

#endif
