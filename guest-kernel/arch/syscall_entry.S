/*
 * The system-call trap (gk/syscall.h).
 *
 * long sys_call(nr, a1, a2, a3, a4, a5): ring 3.  Moves the C arguments into
 * the trap's registers (RAX = nr, RDI, RSI, RDX, R10, R8) and executes the
 * ud2 at sys_trap.  The #UD stub jumps to sys_entry, which returns here, past
 * the ud2, with the result in RAX.  Callee-saved registers survive (the
 * CPL0 side is C); the others are clobbered, as for any call.
 */
#include <gk/arch.h>
#include <gk/syscall.h>
#include <gk/trapcall.h>

	.text
	TRAP_CALL sys_call, sys_trap

/*
 * From the #UD stub: CPL0 on the TSS RSP0 stack, the CPU's frame (RIP, CS,
 * RFLAGS, RSP, SS) at 0(%rsp); the stack was 16-aligned before that push.
 */
	.globl sys_entry
	.type sys_entry, @function
sys_entry:
	addq	$2, (%rsp)              /* resume after the ud2 */
	cmp	$SYS_PVMMU_BELL, %rax   /* the hot one: no C, no frame */
	jne	1f
	call	pvmmu_bell_cpl0
	iretq
1:
	sub	$8, %rsp                /* 16-byte alignment at the call */
	mov	%r8, %r9
	mov	%r10, %r8
	mov	%rdx, %rcx
	mov	%rsi, %rdx
	mov	%rdi, %rsi
	mov	%rax, %rdi
	call	sys_dispatch
	add	$8, %rsp
	iretq
	.size sys_entry, . - sys_entry

	.section .note.GNU-stack, "", @progbits
