/* Kernel entry and exit. */
#ifndef GK_KERNEL_H
#define GK_KERNEL_H

#include <stdint.h>

/* C entry from arch/entry.S with the FDT's gpa.  Never returns. */
void __attribute__((noreturn)) kmain(const void *fdt);

/* Flush console and metrics, then end the VM with code.  CPL0 or CPL3. */
void __attribute__((noreturn)) kexit(int code);

#endif
