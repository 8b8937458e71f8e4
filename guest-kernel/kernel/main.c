/*
 * Boot, in order.  Every CPL0 instruction costs ~1.3 us on the nested-KVM
 * host, so the kernel does at CPL0 only what needs CPL0 (descriptor tables,
 * CR3, page tables) and hands the rest to ring 3, where it runs natively:
 * FDT parsing and allocator setup run in one user_run() round trip.  No
 * per-page loops, no clearing: RAM and .bss arrive zeroed.
 */
#include <gk/arch.h>
#include <gk/assert.h>
#include <gk/bootinfo.h>
#include <gk/console.h>
#include <gk/hypercall.h>
#include <gk/kernel.h>
#include <gk/mm.h>
#include <gk/report.h>
#include <gk/time.h>
#include <gk/workload.h>

extern char __kernel_end[];     /* kernel.ld */

/* The ring-3 part of boot: pure data work on kernel statics. */
static long kmain_user_boot(void *arg)
{
	struct bootinfo *bi = arg;

	bootinfo_parse(bi->fdt, bi);
	hc_set_ports(&bi->ports);
	time_init(bi->tsc_khz);
	frame_init(bi, (uint64_t)(uintptr_t)__kernel_end);
	return 0;
}

void kmain(const void *fdt)
{
	static struct bootinfo bi;

	gdt_init();
	idt_init();
	mm_boot();
	GUEST_ASSERTF((uintptr_t)fdt + PV_BOOT_FDT_MAX <= mm_boot_end,
		      "FDT at %p lies outside the boot map", fdt);
	bi.fdt = fdt;
	user_run(kmain_user_boot, &bi);
	mm_init(&bi);
	kexit(workload_dispatch(bi.bootargs));
}

void kexit(int code)
{
	console_flush();
	report_flush();
	hc_exit((uint32_t)code);
}
