/*
 * Probes (gk/probe.h).  Each faulting instruction has an __extable entry
 * {instruction, fixup}; the fault stubs resume at the fixup with RAX =
 * -EFAULT and the stack as it was at the instruction, so `ret` returns to
 * the probe's caller.
 */
#include <gk/x86.h>

.macro EXTABLE insn, fixup
	.pushsection __extable, "a"
	.balign 8
	.quad	\insn, \fixup
	.popsection
.endm

	.text
	.globl probe_read
	.type probe_read, @function
probe_read:                             /* (addr, val *) */
	xor	%eax, %eax
1:	mov	(%rdi), %rdx
	mov	%rdx, (%rsi)
	ret
	EXTABLE	1b, probe_fixup
	.size probe_read, . - probe_read

	.globl probe_write
	.type probe_write, @function
probe_write:                            /* (addr, val) */
	xor	%eax, %eax
2:	mov	%rsi, (%rdi)
	ret
	EXTABLE	2b, probe_fixup
	.size probe_write, . - probe_write

probe_fixup:                            /* RAX = -EFAULT, set by the stub */
	ret

	.section .note.GNU-stack, "", @progbits
