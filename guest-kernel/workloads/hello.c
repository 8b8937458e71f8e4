/* hello: one greeting line from ring 3; metric hello=1. */
#include <gk/arch.h>
#include <gk/printf.h>
#include <gk/report.h>
#include <gk/workload.h>
#include <gk/x86.h>

static long hello_user(void *arg)
{
	(void)arg;
	printf("hello from the pagevisor guest (ring %d)\n", x86_cpl());
	report("hello", 1, 0);
	return x86_cpl() == 3 ? 0 : 1;
}

static int hello_main(void)
{
	return (int)user_run(hello_user, NULL);
}

static const char *const hello_params[] = { NULL };

const struct workload wl_hello = {
	.name = "hello",
	.usage = "",
	.params = hello_params,
	.main = hello_main,
};
