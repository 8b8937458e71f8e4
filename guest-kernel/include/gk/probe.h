/*
 * Probes: memory accesses from ring 3 that may fault on purpose.  The
 * faulting instruction of each probe is listed in the exception table
 * (section __extable: {instruction, fixup} pairs, kernel.ld); the #PF and #GP
 * stubs (arch/traps_entry.S) look a fault from CS.RPL 3 up there and, on a
 * match, resume at the fixup with RAX = -EFAULT, in a dozen CPL0
 * instructions.  Every other exception stays a fatal report.
 */
#ifndef GK_PROBE_H
#define GK_PROBE_H

#include <stdint.h>

/* Ring 3: *val = *(uint64_t *)addr; 0, or -EFAULT (then *val is unchanged). */
long probe_read(const void *addr, uint64_t *val);

/* Ring 3: *(uint64_t *)addr = val; 0, or -EFAULT. */
long probe_write(void *addr, uint64_t val);

#endif
