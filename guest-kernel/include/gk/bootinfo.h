/* What the kernel learns from the VMM's FDT (kernel/fdt.c). */
#ifndef GK_BOOTINFO_H
#define GK_BOOTINFO_H

#include <stdint.h>
#include <gk/hypercall.h>

#define BOOTINFO_MEM_MAX 8

struct mem_range {
	uint64_t base;
	uint64_t size;
};

struct bootinfo {
	const void *fdt;
	uint32_t fdt_size;
	struct mem_range mem[BOOTINFO_MEM_MAX];
	int nmem;
	uint64_t ram_end;               /* highest RAM address + 1 */
	const char *bootargs;           /* points into the FDT; "" if none */
	uint32_t tsc_khz;
	struct hc_ports ports;
	int pv_mmu;                     /* enum mm_mode: /pagevisor pv-mmu, absent: auto */
};

/*
 * Parse the FDT at fdt: /memory reg (2+2 cells), /chosen bootargs,
 * /pagevisor tsc-khz, ports and pv-mmu.  A broken or incomplete FDT fails the VM.
 */
void bootinfo_parse(const void *fdt, struct bootinfo *bi);

#endif
