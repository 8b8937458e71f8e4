/*
 * Exception entry stubs for vectors 0..31.  Each pushes a dummy error code
 * where the CPU pushes none, then the vector, and joins traps_common, which
 * saves the registers as a struct trap_frame and calls traps_handle().
 *
 * Fast paths, a few CPL0 instructions each, without building a frame (every
 * CPL0 instruction is emulated on the nested-KVM host):
 *  - #UD from ring 3 at user_return_trap: user_run()'s "fn returned" signal
 *    (arch/user.c); at sys_trap: a system call (arch/syscall_entry.S).
 *  - #UD from ring 3 at usys_trap: a process system call (gk/sysabi.h); it
 *    takes the full frame (traps_common) because it may switch processes.
 *  - #PF and #GP from ring 3 at an instruction listed in the exception table
 *    (__extable, gk/probe.h): resume at its fixup with RAX = -EFAULT.
 */
#include <gk/arch.h>
#include <gk/x86.h>

	.text

.macro TRAP_STUB vec
	.balign 16
traps_stub_\vec:
	.if (\vec == 8) || ((\vec >= 10) && (\vec <= 14)) || (\vec == 17) || (\vec == 21) || (\vec == 29) || (\vec == 30)
	.else
	pushq	$0
	.endif
	pushq	$\vec
	jmp	traps_common
.endm

/* #UD: RIP at 0(%rsp), CS at 8(%rsp) (no error code). */
	.balign 16
traps_stub_ud:
	testb	$3, 8(%rsp)
	jz	1f
	cmpq	$sys_trap, (%rsp)
	je	sys_entry               /* RAX = nr, args in RDI RSI RDX R10 R8 */
	cmpq	$user_return_trap, (%rsp)
	je	user_return             /* RAX still holds the user's return value */
	cmpq	$usys_trap, (%rsp)
	jne	1f
	pushq	$0                      /* a process system call: a full frame, */
	pushq	$TRAP_SYSCALL           /* traps_handle -> proc_syscall */
	jmp	traps_common
1:	pushq	$0
	pushq	$TRAP_UD
	jmp	traps_common

/*
 * #PF, #GP: error code at 0(%rsp), RIP at 8, CS at 16.  From ring 3 at an
 * __extable instruction: RIP = its fixup, RAX = -EFAULT, iretq.
 */
.macro FIXUP_STUB vec
	.balign 16
traps_stub_\vec:
	testb	$3, 16(%rsp)
	jz	3f
	push	%rsi
	push	%rdi
	mov	24(%rsp), %rdi          /* faulting RIP */
	mov	$__extable_start, %rsi
1:	cmp	$__extable_end, %rsi
	jae	2f
	cmp	(%rsi), %rdi
	je	4f
	add	$16, %rsi
	jmp	1b
4:	mov	8(%rsi), %rdi
	mov	%rdi, 24(%rsp)
	pop	%rdi
	pop	%rsi
	add	$8, %rsp                /* error code */
	mov	$-EFAULT, %rax
	iretq
2:	pop	%rdi
	pop	%rsi
3:	pushq	$\vec
	jmp	traps_common
.endm

	FIXUP_STUB 13
	FIXUP_STUB 14

	TRAP_STUB 0
	TRAP_STUB 1
	TRAP_STUB 2
	TRAP_STUB 3
	TRAP_STUB 4
	TRAP_STUB 5
	TRAP_STUB 7
	TRAP_STUB 8
	TRAP_STUB 9
	TRAP_STUB 10
	TRAP_STUB 11
	TRAP_STUB 12
	TRAP_STUB 15
	TRAP_STUB 16
	TRAP_STUB 17
	TRAP_STUB 18
	TRAP_STUB 19
	TRAP_STUB 20
	TRAP_STUB 21
	TRAP_STUB 22
	TRAP_STUB 23
	TRAP_STUB 24
	TRAP_STUB 25
	TRAP_STUB 26
	TRAP_STUB 27
	TRAP_STUB 28
	TRAP_STUB 29
	TRAP_STUB 30
	TRAP_STUB 31

	.balign 16
traps_common:
	push	%rax
	push	%rbx
	push	%rcx
	push	%rdx
	push	%rsi
	push	%rdi
	push	%rbp
	push	%r8
	push	%r9
	push	%r10
	push	%r11
	push	%r12
	push	%r13
	push	%r14
	push	%r15
	mov	%rsp, %rdi
	cld
	call	traps_handle
	pop	%r15
	pop	%r14
	pop	%r13
	pop	%r12
	pop	%r11
	pop	%r10
	pop	%r9
	pop	%r8
	pop	%rbp
	pop	%rdi
	pop	%rsi
	pop	%rdx
	pop	%rcx
	pop	%rbx
	pop	%rax
	add	$16, %rsp               /* vector, error code */
	iretq

	.section .rodata
	.balign 8
	.globl traps_stub_table
traps_stub_table:
	.quad traps_stub_0, traps_stub_1, traps_stub_2, traps_stub_3
	.quad traps_stub_4, traps_stub_5, traps_stub_ud, traps_stub_7
	.quad traps_stub_8, traps_stub_9, traps_stub_10, traps_stub_11
	.quad traps_stub_12, traps_stub_13, traps_stub_14, traps_stub_15
	.quad traps_stub_16, traps_stub_17, traps_stub_18, traps_stub_19
	.quad traps_stub_20, traps_stub_21, traps_stub_22, traps_stub_23
	.quad traps_stub_24, traps_stub_25, traps_stub_26, traps_stub_27
	.quad traps_stub_28, traps_stub_29, traps_stub_30, traps_stub_31

	.section .note.GNU-stack, "", @progbits
