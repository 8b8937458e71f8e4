/*
 * Workloads, chosen by the bootargs: `workload=NAME key=value ...`
 * (default: hello).  Two steps:
 *   setup  ring 3, during boot: check and store the parameters (printing
 *          and formatting are cheap there).  The page tables are not live
 *          yet and the PV MMU mode is not chosen: map nothing here.
 *   main   CPL0: prepare (e.g. map memory), run the measured part in ring 3
 *          with user_run(), return the VM's exit code: 0 when the
 *          workload's own checks hold, else 1.
 */
#ifndef GK_WORKLOAD_H
#define GK_WORKLOAD_H

#include <stdbool.h>
#include <stdint.h>

#define WL_ARGS_MAX 16

/* The key=value parameters after workload= (pointers into a kernel buffer). */
struct wl_args {
	int n;
	const char *key[WL_ARGS_MAX];
	const char *val[WL_ARGS_MAX];
};

struct workload {
	const char *name;
	const char *usage;              /* e.g. "n=N cpl=0|3" */
	const char *const *params;      /* accepted keys, NULL-terminated */
	int (*setup)(const struct wl_args *a);  /* ring 3; 0, or -1 after printing why */
	int (*main)(void);                      /* CPL0; the exit code */
};

extern const struct workload wl_hello, wl_exitloop, wl_memtest, wl_fault, wl_ptebench, wl_memtouch,
	wl_pvmmu_attack, wl_hostile, wl_mapwalk, wl_balloon, wl_procs,
	wl_faultbench, wl_forkbench, wl_hugebench;

/*
 * Ring 3, at boot (frame allocator ready): parse the bootargs, choose the
 * workload and run its setup.  0, or exit code 1 after printing one line.
 */
int workload_select(const char *bootargs);

/* CPL0: run the chosen workload, then queue the balloon's metrics; its exit code. */
int workload_run(void);

/* The value of key, or NULL. */
const char *wl_arg(const struct wl_args *a, const char *key);

/*
 * key's value as an unsigned number (strtoul base 0; with sizes, a K/M/G
 * suffix multiplies by 2^10/2^20/2^30) in [min, max], or def when absent.
 * 0 on success; on a bad value prints one line and returns -1.
 */
int wl_arg_u64(const struct wl_args *a, const char *wl, const char *key,
	       uint64_t def, uint64_t min, uint64_t max, bool sizes, uint64_t *out);

/*
 * The smallest stride >= max(@from, 1) coprime to @n: i * stride % n then
 * visits each of 0..n-1 once per n steps, in a scattered order.
 */
uint64_t wl_coprime_stride(uint64_t n, uint64_t from);

/*
 * Ring 3, init (gk/proc.h): how a workload reads what its process leaves
 * in a result block at user va (a page of its own, the bottom of its
 * stack, say): yield until word `word` there holds magic, at most
 * WL_RESULT_YIELDS times (its children may run first); step, if given,
 * sees the block after each yield before that (stages the process marks
 * on the way; ctx is its own).  The block, read through the identity map
 * and valid until the process is reaped; NULL when pid maps no page at va
 * or never wrote magic.
 */
#define WL_RESULT_YIELDS 1000
const uint64_t *wl_proc_result(int pid, uint64_t va, unsigned word, uint64_t magic,
			       void (*step)(const uint64_t *r, void *ctx), void *ctx);

#endif
