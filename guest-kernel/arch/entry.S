/*
 * Kernel entry from the VMM (pagevisor/abi.h): 64-bit mode, paging on with
 * the VMM's identity map, RDI = FDT gpa, interrupts off.  A handful of
 * instructions: every one is emulated at CPL0 on the nested-KVM host.
 */

#include <gk/x86.h>

	.section .text.entry, "ax"
	.globl _start
	.type _start, @function
_start:
	mov	$kernel_stack_top, %rsp
	mov	%rdi, %rbx

	rdtsc
	shl	$32, %rdx
	or	%rdx, %rax
	mov	%rax, arch_boot_tsc

	/* SSE for libfdt (and anything else built for hosted userspace). */
	mov	%cr0, %rax
	and	$~X86_CR0_EM, %rax
	or	$X86_CR0_MP, %rax
	mov	%rax, %cr0
	mov	%cr4, %rax
	or	$(X86_CR4_OSFXSR | X86_CR4_OSXMMEXCPT), %rax
	mov	%rax, %cr4

	/*
	 * libfdt.a is built with the stack protector: canary at %fs:0x28.  FS
	 * holds the null selector (ring changes then leave it and its base
	 * alone, as on Linux) and FS_BASE points at arch_tls.
	 */
	xor	%eax, %eax
	mov	%eax, %fs
	mov	%eax, %gs
	mov	$X86_MSR_FS_BASE, %ecx
	mov	$arch_tls, %eax
	xor	%edx, %edx
	wrmsr

	mov	%rbx, %rdi
	xor	%ebp, %ebp
	call	kmain
1:	cli
	hlt
	jmp	1b
	.size _start, . - _start

	.data
	.balign 64
	.globl arch_tls
arch_tls:
	.quad	arch_tls                /* 0x00: self pointer */
	.fill	4, 8, 0
	.quad	0x5ca1ab1e0ddba11	/* 0x28: stack-protector canary */

	.globl arch_boot_tsc
arch_boot_tsc:
	.quad	0

	.bss
	.balign 4096
kernel_stack:
	.skip	16384
	.globl kernel_stack_top
kernel_stack_top:

	.section .note.GNU-stack, "", @progbits
