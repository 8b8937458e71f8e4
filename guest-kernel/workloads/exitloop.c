/*
 * exitloop n=N cpl=0|3: N port writes to the never-registered port, each a
 * bare VM exit, timed with rdtsc.  The loop is exactly
 *     1: out %al,(%dx); dec %ecx; jnz 1b
 * as in bench/kvm_bare.c, which measures the same loop on a bare KVM.
 * Default cpl=0: on the nested-KVM host an exit from CPL0 costs ~11 us and
 * one from CPL3 ~80 us (an EPT host: ~1 us either way).
 */
#include <gk/arch.h>
#include <gk/hypercall.h>
#include <gk/printf.h>
#include <gk/report.h>
#include <gk/time.h>
#include <gk/workload.h>
#include <gk/x86.h>

struct exitloop_ctx {
	uint32_t n;
	uint16_t port;
	uint64_t cycles;
};

/* Time ctx->n exits; runs at whichever CPL it is called from. */
static long exitloop_run(void *p)
{
	struct exitloop_ctx *ctx = p;
	uint32_t n = ctx->n;
	uint64_t t0, t1;

	t0 = rdtsc();
	__asm__ volatile("1: out %%al,(%%dx); dec %%ecx; jnz 1b"
			 : "+c"(n) : "a"(0), "d"(ctx->port) : "memory", "cc");
	t1 = rdtsc();
	ctx->cycles = t1 - t0;
	return x86_cpl();
}

static struct exitloop_ctx exitloop_ctx;
static uint64_t exitloop_cpl;

static int exitloop_setup(const struct wl_args *a)
{
	uint64_t n;

	if (wl_arg_u64(a, "exitloop", "n", 100000, 1, 0xffffffffu, false, &n) ||
	    wl_arg_u64(a, "exitloop", "cpl", 0, 0, 3, false, &exitloop_cpl))
		return -1;
	if (exitloop_cpl != 0 && exitloop_cpl != 3) {
		printf("guest: exitloop: bad value cpl=%lu (want 0 or 3)\n",
		       (unsigned long)exitloop_cpl);
		return -1;
	}
	exitloop_ctx.n = (uint32_t)n;
	exitloop_ctx.port = hc_ports.unused;
	return 0;
}

static int exitloop_main(void)
{
	struct exitloop_ctx *c = &exitloop_ctx;
	long ran_at = exitloop_cpl == 3 ? user_run(exitloop_run, c) : exitloop_run(c);
	uint64_t ns = time_cycles_to_ns(c->cycles);

	report("exits", c->n, 0);
	report("ns", (int64_t)ns, 0);
	report("ns_per_exit", (int64_t)(ns * 1000 / c->n), 3);
	report("cpl", ran_at, 0);
	return ran_at == (long)exitloop_cpl && c->cycles > 0 ? 0 : 1;
}

static const char *const exitloop_params[] = { "n", "cpl", NULL };

const struct workload wl_exitloop = {
	.name = "exitloop",
	.usage = "n=1..4294967295 cpl=0|3",
	.params = exitloop_params,
	.setup = exitloop_setup,
	.main = exitloop_main,
};
