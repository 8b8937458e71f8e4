/*
 * Ring-3 entry and the return trap (contract and rationale: arch/user.c).
 *
 * long user_enter(long (*fn)(void *), void *arg, uint64_t user_sp)
 *   Saves the kernel's callee-saved registers and RSP, puts the address of
 *   user_return_trap on the user stack as fn's return address, and irets to
 *   fn at CPL3 with IOPL 3.  "Returns" via user_return.
 */
#include <gk/arch.h>
#include <gk/x86.h>

#define USER_RFLAGS (X86_RFLAGS_IOPL3 | X86_RFLAGS_RESERVED)    /* IF off */

	.text
	.globl user_enter
	.type user_enter, @function
user_enter:
	push	%rbp
	push	%rbx
	push	%r12
	push	%r13
	push	%r14
	push	%r15
	mov	%rsp, user_saved_rsp
	sub	$8, %rdx
	movq	$user_return_trap, (%rdx)
	pushq	$(GDT_USER_DS | 3)      /* SS */
	pushq	%rdx                    /* RSP */
	pushq	$USER_RFLAGS
	pushq	$(GDT_USER_CS | 3)      /* CS */
	pushq	%rdi                    /* RIP = fn */
	mov	%rsi, %rdi              /* fn's argument */
	iretq
	.size user_enter, . - user_enter

/* Ring 3 lands here when fn returns; the #UD it raises is the signal. */
	.globl user_return_trap
	.type user_return_trap, @function
user_return_trap:
	ud2
	.size user_return_trap, . - user_return_trap

/*
 * Jumped to from the #UD stub (CPL0, on the TSS RSP0 stack) with RAX = fn's
 * return value.  The exception frame is abandoned; the kernel context saved
 * by user_enter is restored and user_enter returns RAX to its caller.
 */
	.globl user_return
	.type user_return, @function
user_return:
	mov	user_saved_rsp, %rsp
	movq	$0, user_saved_rsp
	pop	%r15
	pop	%r14
	pop	%r13
	pop	%r12
	pop	%rbx
	pop	%rbp
	ret
	.size user_return, . - user_return

	.bss
	.balign 8
	.globl user_saved_rsp
user_saved_rsp:
	.quad	0

	.section .note.GNU-stack, "", @progbits
