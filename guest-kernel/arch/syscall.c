/*
 * System-call dispatch (CPL0; the trap itself: arch/syscall_entry.S).
 * Calls exist only for what needs CPL0: an mm operation done by a kernel
 * loop (modes off and immediate) and the PV MMU doorbell with its TLB flush.
 */
#include <gk/assert.h>
#include <gk/mmapi.h>
#include <gk/pvmmu.h>
#include <gk/syscall.h>

long sys_dispatch(long nr, long a1, long a2, long a3, long a4, long a5)
{
	switch (nr) {
	case SYS_MM:
		return mm_syscall(a1, (uint64_t)a2, (uint64_t)a3, (uint64_t)a4, (uint64_t)a5);
	case SYS_PVMMU_BELL:    /* normally taken by the fast path in syscall_entry.S */
		pvmmu_bell_cpl0();
		return 0;
	}
	kpanic("unknown system call %ld", nr);
}
