/*
 * CPU setup (GDT, TSS, IDT), exception handling and ring-3 execution.
 * Shared with the assembly files (guarded by __ASSEMBLER__).
 */
#ifndef GK_ARCH_H
#define GK_ARCH_H

/* GDT selectors.  The kernel code/data match the VMM's boot GDT. */
#define GDT_KERNEL_CS 0x08
#define GDT_KERNEL_DS 0x10
#define GDT_USER_DS   0x18      /* used with RPL 3: 0x1b */
#define GDT_USER_CS   0x20      /* used with RPL 3: 0x23 */
#define GDT_TSS       0x28      /* 16-byte system descriptor */
#define GDT_ENTRIES   7

#define TRAP_VECTORS  32
#define TRAP_UD       6
#define TRAP_SYSCALL  0x80    /* not a vector: traps_common's tag for usys_trap */

#ifndef __ASSEMBLER__
#include <stdint.h>

/* Register state pushed by arch/traps_entry.S; lowest address first. */
struct trap_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error;
	uint64_t rip, cs, rflags, rsp, ss;      /* pushed by the CPU */
};

/* TSC value at _start (the guest's clock starts near 0 at vCPU creation). */
extern uint64_t arch_boot_tsc;

/* Load the kernel GDT (with user segments and the TSS), reload segments, ltr. */
void gdt_init(void);

/* CPL0: load the IDT with only the #UD gate (the ring-3 return trap). */
void idt_init(void);

/* Any CPL (ring 3 at boot): point all vectors 0..31 at their stubs. */
void idt_fill(void);

/*
 * C half of every exception.  An exception is fatal: it reaches the VMM as
 * an assertion "exception N (#XX) err=.. rip=.. cr2=..".  (The ring-3
 * return trap never gets here; see arch/user.c.)
 */
void traps_handle(struct trap_frame *f);

/*
 * Run fn(arg) at CPL3 on the user stack with IOPL 3; return its value.
 * Kernel (CPL0) only, not nested.  See arch/user.c for the return trap.
 */
long user_run(long (*fn)(void *), void *arg);

#endif
#endif
