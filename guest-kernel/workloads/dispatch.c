/* Workload selection and parameter parsing (ring 3, at boot). */
#include <string.h>
#include <stdlib.h>
#include <gk/arch.h>
#include <gk/balloon.h>
#include <gk/console.h>
#include <gk/proc.h>
#include <gk/mmapi.h>
#include <gk/printf.h>
#include <gk/report.h>
#include <gk/sysabi.h>
#include <gk/time.h>
#include <gk/workload.h>
#include <gk/x86.h>

#define WL_CMDLINE_MAX 1024

static const struct workload *const wl_table[] = {
	&wl_hello, &wl_exitloop, &wl_memtest, &wl_fault, &wl_ptebench, &wl_pvmmu_attack,
	&wl_memtouch, &wl_hostile, &wl_mapwalk, &wl_balloon, &wl_procs,
	&wl_faultbench, &wl_forkbench, &wl_hugebench,
};
#define WL_COUNT (sizeof(wl_table) / sizeof(wl_table[0]))

static char wl_cmdline[WL_CMDLINE_MAX];
static const struct workload *wl_chosen;

const char *wl_arg(const struct wl_args *a, const char *key)
{
	for (int i = 0; i < a->n; i++)
		if (!strcmp(a->key[i], key))
			return a->val[i];
	return NULL;
}

int wl_arg_u64(const struct wl_args *a, const char *wl, const char *key,
	       uint64_t def, uint64_t min, uint64_t max, bool sizes, uint64_t *out)
{
	const char *s = wl_arg(a, key);
	char *end;
	uint64_t v, mul = 1;

	if (!s) {
		*out = def;
		return 0;
	}
	v = strtoul(s, &end, 0);
	if (sizes && *end) {
		switch (*end) {
		case 'k': case 'K': mul = 1ull << 10; end++; break;
		case 'm': case 'M': mul = 1ull << 20; end++; break;
		case 'g': case 'G': mul = 1ull << 30; end++; break;
		}
	}
	if (end == s || *end || *s == '-' || v > max / mul || v * mul < min) {
		printf("guest: %s: bad value %s=%s (want %s%lu..%lu)\n", wl, key, s,
		       sizes ? "a size with K/M/G suffix, " : "",
		       (unsigned long)min, (unsigned long)max);
		return -1;
	}
	*out = v * mul;
	return 0;
}

static uint64_t wl_gcd(uint64_t a, uint64_t b)
{
	while (b) {
		uint64_t t = a % b;

		a = b;
		b = t;
	}
	return a;
}

uint64_t wl_coprime_stride(uint64_t n, uint64_t from)
{
	uint64_t s = from ? from : 1;

	while (wl_gcd(s, n) != 1)
		s++;
	return s;
}

const uint64_t *wl_proc_result(int pid, uint64_t va, unsigned word, uint64_t magic,
			       void (*step)(const uint64_t *r, void *ctx), void *ctx)
{
	for (int i = 0; i < WL_RESULT_YIELDS; i++) {
		const uint64_t *r;

		usys_call(SYS_YIELD, 0, 0, 0, 0, 0);
		r = (const uint64_t *)(uintptr_t)proc_lookup(pid, va);
		if (!r)
			return NULL;
		if (r[word] == magic)
			return r;
		if (step)
			step(r, ctx);
	}
	return NULL;
}

static const struct workload *wl_find(const char *name)
{
	for (unsigned i = 0; i < WL_COUNT; i++)
		if (!strcmp(wl_table[i]->name, name))
			return wl_table[i];
	return NULL;
}

static bool wl_param_known(const struct workload *w, const char *key)
{
	for (const char *const *p = w->params; *p; p++)
		if (!strcmp(*p, key))
			return true;
	return false;
}

static void wl_print_known(void)
{
	printf("guest: known workloads:");
	for (unsigned i = 0; i < WL_COUNT; i++)
		printf(" %s", wl_table[i]->name);
	printf("\n");
}

/*
 * Split wl_cmdline in place into key=value tokens; pick out workload= and
 * the kernel's own console=, faultaround= and fork=.  0, or -1 after
 * printing why.
 */
static int wl_parse(struct wl_args *a, const char **name)
{
	char *p = wl_cmdline;

	a->n = 0;
	while (*p) {
		char *tok, *eq;

		while (*p == ' ' || *p == '\t' || *p == '\n')
			*p++ = '\0';
		if (!*p)
			break;
		tok = p;
		while (*p && *p != ' ' && *p != '\t' && *p != '\n')
			p++;
		if (*p)
			*p++ = '\0';
		eq = strchr(tok, '=');
		if (!eq || eq == tok) {
			printf("guest: bad argument '%s' (want key=value)\n", tok);
			return -1;
		}
		*eq = '\0';
		if (!strcmp(tok, "workload")) {
			*name = eq + 1;
		} else if (!strcmp(tok, "console")) {
			if (strcmp(eq + 1, "serial") && strcmp(eq + 1, "hypercall")) {
				printf("guest: bad value console=%s (want serial|hypercall)\n",
				       eq + 1);
				return -1;
			}
			console_use_serial(!strcmp(eq + 1, "serial"));
		} else if (!strcmp(tok, "faultaround")) {
			if (proc_faultaround_set(eq + 1)) {
				printf("guest: bad value faultaround=%s (want 0|N|auto, N a power of two <= 512)\n",
				       eq + 1);
				return -1;
			}
		} else if (!strcmp(tok, "fork")) {
			if (proc_fork_set(eq + 1)) {
				printf("guest: bad value fork=%s (want eager|shared)\n",
				       eq + 1);
				return -1;
			}
		} else if (wl_arg(a, tok)) {
			printf("guest: parameter '%s' given twice\n", tok);
			return -1;
		} else if (a->n == WL_ARGS_MAX) {
			printf("guest: more than %d parameters\n", WL_ARGS_MAX);
			return -1;
		} else {
			a->key[a->n] = tok;
			a->val[a->n++] = eq + 1;
		}
	}
	return 0;
}

int workload_select(const char *bootargs)
{
	static struct wl_args args;
	const char *name = "hello";
	const struct workload *w;

	if (strlen(bootargs) >= sizeof(wl_cmdline)) {
		printf("guest: bootargs longer than %d bytes\n", WL_CMDLINE_MAX - 1);
		return 1;
	}
	memcpy(wl_cmdline, bootargs, strlen(bootargs) + 1);
	if (wl_parse(&args, &name))
		return 1;
	w = wl_find(name);
	if (!w) {
		printf("guest: unknown workload '%s'\n", name);
		wl_print_known();
		return 1;
	}
	for (int i = 0; i < args.n; i++) {
		if (!wl_param_known(w, args.key[i])) {
			printf("guest: workload %s: unknown parameter '%s' (%s%s)\n",
			       w->name, args.key[i], *w->usage ? "usage: " : "it takes none",
			       w->usage);
			return 1;
		}
	}
	if (w->setup && w->setup(&args))
		return 1;
	wl_chosen = w;
	return 0;
}

int workload_run(void)
{
	int code;

	report("boot_ns", (int64_t)time_cycles_to_ns(rdtsc() - arch_boot_tsc), 0);
	mm_mode_report();
	code = wl_chosen->main();
	balloon_report();
	return code;
}
