/*
 * Ring 3.
 *
 * Why: on the nested-KVM host every CPL0 instruction is emulated (~1.3 us)
 * while CPL3 code runs natively, so workloads run in ring 3.  The kernel is
 * a library OS: its identity map has the U bit everywhere, so ring-3 code
 * calls kernel functions (printf, report, hypercalls) and touches kernel data
 * directly.  There is no protection between workload and kernel.
 *
 * Getting back: `int N` and `syscall` do not work on this host, but hardware
 * exceptions raised at CPL3 are delivered through the IDT.  So user_run()
 * makes fn "return" into user_return_trap, a ud2 at a known address.  The
 * #UD stub (arch/traps_entry.S) checks RIP == user_return_trap and CS.RPL ==
 * 3 and, if so, jumps to user_return with the value still in RAX, which
 * restores the kernel context user_enter saved (a longjmp).  Any other #UD
 * is a real exception.  Cost: one iretq at CPL0 plus one exception from CPL3
 * (~80-100 us here, ~1 us on an EPT host).
 *
 * Ports: the iret frame sets IOPL 3 and the TSS I/O bitmap allows every
 * port, so ring 3 reaches the VMM's hypercall ports on any host.
 */
#include <gk/arch.h>
#include <gk/assert.h>
#include <gk/x86.h>

#define USER_STACK_SIZE (64 * 1024)

long user_enter(long (*fn)(void *), void *arg, uint64_t user_sp);
extern uint64_t user_saved_rsp;

static uint8_t user_stack[USER_STACK_SIZE] __attribute__((aligned(4096)));

long user_run(long (*fn)(void *), void *arg)
{
	GUEST_ASSERT(x86_cpl() == 0 && user_saved_rsp == 0);
	return user_enter(fn, arg, (uint64_t)(uintptr_t)(user_stack + USER_STACK_SIZE));
}
