/* Assertion failures and the stack-protector hook (libfdt is built with it). */
#include <pagevisor/abi.h>
#include <gk/assert.h>
#include <gk/console.h>
#include <gk/hypercall.h>
#include <gk/printf.h>

void kassert_fail(const char *file, unsigned line, const char *fmt, ...)
{
	char msg[PV_ASSERT_MSG_MAX];
	va_list ap;

	console_flush();        /* whatever was printed before belongs first */
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	hc_assert(file, line, msg);
}

/* libfdt.a checks a canary at %fs:0x28 (see arch/entry.S). */
void __attribute__((noreturn)) __stack_chk_fail(void);
void __stack_chk_fail(void)
{
	kassert_fail(__FILE__, __LINE__, "stack smashing detected");
}
