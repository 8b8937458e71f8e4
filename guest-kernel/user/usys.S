/*
 * Code every process may run (.utext, mapped U into each address space):
 * the system-call trap and the return from a process's entry function.
 * Contracts: gk/sysabi.h.  The object files under user/ go to .utext by
 * kernel.ld.
 */
#include <gk/sysabi.h>
#include <gk/trapcall.h>

	.text
	TRAP_CALL usys_call, usys_trap

/* A process's entry function returns here: exit(its value). */
	.globl uproc_return
	.type uproc_return, @function
uproc_return:
	mov	%rax, %rdi
	mov	$SYS_EXIT, %rax
	jmp	usys_trap
	.size uproc_return, . - uproc_return

	.section .note.GNU-stack, "", @progbits
