/*
 * fault vector=N: raise exception N in ring 3.  The kernel's exception
 * handler reports it as a guest assertion, so the VMM fails the run
 * (status 3) with "exception N (#XX) ...".  Returning here means the
 * exception did not happen: exit 1.
 */
#include <gk/arch.h>
#include <gk/printf.h>
#include <gk/workload.h>

/* An address no mapping covers (PML4 slot 255, below the canonical hole). */
#define FAULT_UNMAPPED_VA 0x00007ff000000000ull

/* Raise the exception (CPL3); returns only if it did not happen. */
static long fault_user(void *arg)
{
	long v = (long)arg;

	printf("fault: raising vector %ld from ring 3\n", v);
	switch (v) {
	case 0:         /* #DE: divide by zero */
		__asm__ volatile("xor %%ecx, %%ecx; div %%ecx" : : : "rax", "rcx", "rdx");
		break;
	case 3:         /* #BP: int3 (gate DPL 3) */
		__asm__ volatile("int3");
		break;
	case 6:         /* #UD: a ud2 that is not the ring-3 return trap */
		__asm__ volatile("ud2");
		break;
	case 13:        /* #GP: load from a non-canonical address */
		__asm__ volatile("mov (%0), %%rax" : : "r"(0x8000000000000000ull) : "rax", "memory");
		break;
	case 14:        /* #PF: store to an unmapped address (err = U|W|!P = 0x6) */
		*(volatile uint64_t *)(uintptr_t)FAULT_UNMAPPED_VA = 1;
		break;
	}
	return v;
}

static uint64_t fault_vector;

static int fault_setup(const struct wl_args *a)
{
	uint64_t v;

	if (!wl_arg(a, "vector")) {
		printf("guest: fault: missing parameter vector (usage: workload=fault %s)\n",
		       wl_fault.usage);
		return -1;
	}
	if (wl_arg_u64(a, "fault", "vector", 0, 0, 31, false, &v))
		return -1;
	if (v != 0 && v != 3 && v != 6 && v != 13 && v != 14) {
		printf("guest: fault: vector=%lu not supported (supported: %s)\n",
		       (unsigned long)v, wl_fault.usage);
		return -1;
	}
	fault_vector = v;
	return 0;
}

static int fault_main(void)
{
	user_run(fault_user, (void *)(uintptr_t)fault_vector);
	printf("guest: fault: vector %lu did not fault\n", (unsigned long)fault_vector);
	return 1;
}

static const char *const fault_params[] = { "vector", NULL };

const struct workload wl_fault = {
	.name = "fault",
	.usage = "vector=0|3|6|13|14",
	.params = fault_params,
	.setup = fault_setup,
	.main = fault_main,
};
