/* SPDX-License-Identifier: MIT */
/* x86-64 entry state: boot GDT, identity page tables, registers. */
#ifndef PV_VMM_BOOT_H
#define PV_VMM_BOOT_H

#include <linux/kvm.h>
#include <stdint.h>

struct guestmem;

/*
 * Write the boot GDT and the identity map (2 MiB pages covering all of RAM)
 * at the fixed gpas of pagevisor/abi.h.  Returns 0, or -E2BIG when RAM needs
 * more than PV_BOOT_PD_MAX page directories.
 */
int boot_setup_memory(struct guestmem *gm);

/* Fill @s (as read by KVM_GET_SREGS) with 64-bit mode, paging on, flat
 * segments, CR3 = the boot PML4. */
void boot_fill_sregs(struct kvm_sregs *s);

/* Fill @r: RIP = entry, RDI = FDT gpa, RSP = boot stack, RFLAGS = 0x2. */
void boot_fill_regs(struct kvm_regs *r, uint64_t entry);

#endif
