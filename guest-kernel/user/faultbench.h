/* Shared by workloads/faultbench.c (init) and user/faultbench.c (the process). */
#ifndef USER_FAULTBENCH_H
#define USER_FAULTBENCH_H

#include <gk/aspace.h>

/* The process's argument: pages (bits 0-23) and the touch stride (bits 24-47). */
#define FAULTBENCH_ARG(pages, stride) ((long)((pages) | (uint64_t)(stride) << 24))
#define FAULTBENCH_PAGES(arg)  ((uint64_t)(arg) & 0xffffff)
#define FAULTBENCH_STRIDE(arg) (((uint64_t)(arg) >> 24) & 0xffffff)
/* Result words: cycles of the touch loop, errors, FAULTBENCH_MAGIC. */
#define FAULTBENCH_RESULT (AS_STACK_TOP - AS_STACK_SIZE)
#define FAULTBENCH_MAGIC  0xfa017be7c4ull

long faultbench_proc(long arg);

#endif
