/*
 * exitloop n=N cpl=0|3: N port writes to the never-registered port, each a
 * bare VM exit, timed with rdtsc.  The loop is exactly
 *     1: out %al,(%dx); dec %ecx; jnz 1b
 * as in bench/kvm_bare.c, which measures the same loop on a bare KVM.
 * Default cpl=0: here CPL0 exits are the cheap ones (~11 us vs ~100 us);
 * CPL0's emulated dec/jnz add ~2.6 us per iteration.
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

static int exitloop_main(const struct wl_args *a)
{
	struct exitloop_ctx ctx = { .port = hc_ports.unused };
	uint64_t n, cpl, ns;
	long ran_at;

	if (wl_arg_u64(a, "exitloop", "n", 100000, 1, 0xffffffffu, false, &n) ||
	    wl_arg_u64(a, "exitloop", "cpl", 0, 0, 3, false, &cpl))
		return 1;
	if (cpl != 0 && cpl != 3) {
		printf("guest: exitloop: bad value cpl=%lu (want 0 or 3)\n", (unsigned long)cpl);
		return 1;
	}
	ctx.n = (uint32_t)n;
	ran_at = cpl == 3 ? user_run(exitloop_run, &ctx) : exitloop_run(&ctx);
	ns = time_cycles_to_ns(ctx.cycles);
	report("exits", (int64_t)n, 0);
	report("ns", (int64_t)ns, 0);
	report("ns_per_exit", (int64_t)(ns * 1000 / n), 3);
	report("cpl", ran_at, 0);
	return ran_at == (long)cpl && ctx.cycles > 0 ? 0 : 1;
}

static const char *const exitloop_params[] = { "n", "cpl", NULL };

const struct workload wl_exitloop = {
	.name = "exitloop",
	.usage = "n=1..4294967295 cpl=0|3",
	.params = exitloop_params,
	.main = exitloop_main,
};
