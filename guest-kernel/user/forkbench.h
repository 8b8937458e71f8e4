/* Shared by workloads/forkbench.c (init) and user/forkbench.c (the processes). */
#ifndef USER_FORKBENCH_H
#define USER_FORKBENCH_H

#include <gk/aspace.h>

#define FORKBENCH_MAX_CHILDREN 64

/* The first process's argument: pages (bits 0-23) and children (bits 24-31). */
#define FORKBENCH_ARG(pages, children) ((long)((pages) | (uint64_t)(children) << 24))
#define FORKBENCH_PAGES(arg)    ((uint64_t)(arg) & 0xffffff)
#define FORKBENCH_CHILDREN(arg) (((uint64_t)(arg) >> 24) & 0xff)

/*
 * Results, at the bottom of each process's stack, read by init when it
 * tears the process down (proc_reap_hook).  The parent: magic, errors,
 * forks done, then FORKBENCH_MAX_CHILDREN fork cycles and as many TSC
 * values taken when wait returned.  A child: magic, errors, cycles of its
 * first write, the TSC just before its exit.
 */
#define FORKBENCH_RESULT       (AS_STACK_TOP - AS_STACK_SIZE)
#define FORKBENCH_MAGIC        0xf0a4be9c40ull
#define FORKBENCH_CHILD_MAGIC  0xf0a4c41d00ull
#define FORKBENCH_FORK_CYCLES  3
#define FORKBENCH_WAIT_TSC     (3 + FORKBENCH_MAX_CHILDREN)

long forkbench_proc(long arg);

#endif
