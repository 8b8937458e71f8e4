/*
 * System calls from ring 3: `sys_call(nr, a1..a5)` executes a ud2 at the
 * known address `sys_trap`; the #UD stub (arch/traps_entry.S) recognizes it
 * (RIP == sys_trap, CS.RPL == 3), calls sys_dispatch() at CPL0 with the
 * arguments (RAX = nr, RDI, RSI, RDX, R10, R8), puts the result in RAX,
 * steps RIP past the ud2 and irets.  `int N` and `syscall` do not work on the
 * nested-KVM host; exceptions from CPL3 do.  A call costs ~90-100 us there
 * (~1 us on an EPT host): one per mm range operation, never one per page.
 * Ring 3 only: from CPL0 the ud2 is a fatal #UD.
 */
#ifndef GK_SYSCALL_H
#define GK_SYSCALL_H

#define SYS_MM          1       /* an mm operation at CPL0 (mm/mmapi.c): a1 = op | level << 8 */
#define SYS_PVMMU_BELL  2       /* ring the PV MMU doorbell, then the batch's TLB flush */
#define SYS_NR          3

#ifndef __ASSEMBLER__
long sys_call(long nr, long a1, long a2, long a3, long a4, long a5);

/* CPL0, from the #UD stub: run system call nr; its result goes to the caller's RAX. */
long sys_dispatch(long nr, long a1, long a2, long a3, long a4, long a5);
#endif

#endif
