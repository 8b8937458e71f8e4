/*
 * void pvmmu_bell_cpl0(void): the CPL0 part of a PV MMU batch (gk/pvmmu.h),
 * in assembly because every CPL0 instruction is emulated on the nested-KVM
 * host (~1 us each): ~20 instructions on the common path, against ~45 for
 * the C version through sys_dispatch.
 *   1. outl 0 to the doorbell port;
 *   2. the 2-byte rewrite of each table the batch cleared whole
 *      (pvmmu_drop[0..pvmmu_ndrop)): KVM drops its shadow of it;
 *   3. the TLB flush the header asks for: invlpg of up to PVMMU_INVLPG_MAX
 *      pages, else a CR3 reload.
 * Clobbers RAX, RCX, RDX, RSI, RDI (caller-saved: it is a C function, and
 * the system-call trap returns to a C call site).
 */
#include <gk/x86.h>

#define PV_MMU_FLUSH_NONE  0
#define PV_MMU_FLUSH_RANGE 1
#define PVMMU_INVLPG_MAX   32
#define HDR_FLUSH          20
#define HDR_FLUSH_VA       24
#define HDR_FLUSH_PAGES    32

	.text
	.globl pvmmu_bell_cpl0
	.type pvmmu_bell_cpl0, @function
pvmmu_bell_cpl0:
	movzwl	pvmmu_bell_port, %edx
	xor	%eax, %eax
	outl	%eax, (%dx)
	mov	pvmmu_ndrop, %ecx
	test	%ecx, %ecx
	jnz	4f
1:	mov	$pvmmu_mem, %rsi
	mov	HDR_FLUSH(%rsi), %eax
	test	%eax, %eax              /* PV_MMU_FLUSH_NONE */
	jz	3f
	cmp	$PV_MMU_FLUSH_RANGE, %eax
	jne	2f
	mov	HDR_FLUSH_PAGES(%rsi), %rcx
	cmp	$PVMMU_INVLPG_MAX, %rcx
	ja	2f
	mov	HDR_FLUSH_VA(%rsi), %rax
	jrcxz	3f
5:	invlpg	(%rax)
	add	$4096, %rax
	dec	%rcx
	jnz	5b
	ret
2:	mov	%cr3, %rax              /* FLUSH_ALL, or a range too long for invlpg */
	mov	%rax, %cr3
3:	ret

4:	mov	$pvmmu_drop, %rsi       /* ECX tables */
6:	mov	(%rsi), %rdi
	movw	(%rdi), %ax
	movw	%ax, (%rdi)
	add	$8, %rsi
	dec	%ecx
	jnz	6b
	movl	$0, pvmmu_ndrop
	jmp	1b
	.size pvmmu_bell_cpl0, . - pvmmu_bell_cpl0

	.section .note.GNU-stack, "", @progbits
