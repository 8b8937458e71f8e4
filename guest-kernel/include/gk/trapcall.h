/*
 * The shape of a system-call stub (assembler only): a C call fn(nr, a1..a5)
 * moves its arguments into the trap's registers (RAX = nr, RDI, RSI, RDX,
 * R10, R8) and executes the ud2 at `trap`, which the #UD stub recognizes by
 * its address; the kernel resumes after the ud2 with the result in RAX.
 * Two stubs use it: the library OS's sys_call (kernel .text) and the
 * processes' usys_call (.utext): one trap per caller's trust.
 */
#ifndef GK_TRAPCALL_H
#define GK_TRAPCALL_H

#ifdef __ASSEMBLER__
.macro TRAP_CALL fn, trap
	.globl \fn
	.type \fn, @function
\fn:
	mov	%rdi, %rax
	mov	%rsi, %rdi
	mov	%rdx, %rsi
	mov	%rcx, %rdx
	mov	%r8, %r10
	mov	%r9, %r8
	.globl \trap
\trap:
	ud2
	ret
	.size \fn, . - \fn
.endm
#endif

#endif
