/*
 * Guest assertions: a failure reaches the VMM as PV_HC_ASSERT with
 * file:line and a message, and the VM fails (status 3).  Usable at CPL0
 * and CPL3.  For broken invariants only; ordinary errors return codes.
 */
#ifndef GK_ASSERT_H
#define GK_ASSERT_H

/* Format the message and fail the VM.  Never returns. */
void __attribute__((noreturn, format(printf, 3, 4)))
kassert_fail(const char *file, unsigned line, const char *fmt, ...);

#define GUEST_ASSERT(cond)                                                   \
	do {                                                                 \
		if (!(cond))                                                 \
			kassert_fail(__FILE__, __LINE__,                     \
				     "assertion failed: %s", #cond);         \
	} while (0)

#define GUEST_ASSERTF(cond, ...)                                             \
	do {                                                                 \
		if (!(cond))                                                 \
			kassert_fail(__FILE__, __LINE__, __VA_ARGS__);       \
	} while (0)

#define kpanic(...) kassert_fail(__FILE__, __LINE__, __VA_ARGS__)

#endif
