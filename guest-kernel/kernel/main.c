/*
 * Boot, in order.  Every CPL0 instruction is emulated on the nested-KVM
 * host (~0.4-1.3 us) and every live page-table write costs ~3-5 us, so CPL0
 * does only what needs CPL0 (descriptor tables, CR3) and one user_run()
 * does the rest natively in ring 3: IDT gates, FDT, frame allocator, the
 * identity map (into tables not live yet), the balloon's boot inflation
 * (one QUERY; frames it holds are never touched, so neither the bootstrap
 * map nor the identity map matters to it), bootargs.  Nothing grows with
 * RAM at CPL0; nothing is cleared (RAM and .bss arrive zeroed).  After the
 * CR3 switch the PV MMU mode is set up (mm/mmmode.c: with auto, a short
 * measurement), then the workload runs; workload setup only parses.
 */
#include <gk/arch.h>
#include <gk/assert.h>
#include <gk/balloon.h>
#include <gk/bootinfo.h>
#include <gk/console.h>
#include <gk/hypercall.h>
#include <gk/kernel.h>
#include <gk/mm.h>
#include <gk/mmapi.h>
#include <gk/report.h>
#include <gk/time.h>
#include <gk/workload.h>

extern char __kernel_end[];     /* kernel.ld */

/* The ring-3 part of boot; returns 0, or an exit code after printing why. */
static long kmain_user_boot(void *arg)
{
	struct bootinfo *bi = arg;

	idt_fill();
	bootinfo_parse(bi->fdt, bi);
	hc_set_ports(&bi->ports);
	time_init(bi->tsc_khz);
	frame_init(bi, (uint64_t)(uintptr_t)__kernel_end);
	mm_build(bi);
	balloon_init();         /* before workload setup: setups size by free memory */
	return workload_select(bi->bootargs);
}

void kmain(const void *fdt)
{
	static struct bootinfo bi;
	long code;

	gdt_init();
	idt_init();
	mm_boot();
	GUEST_ASSERTF((uintptr_t)fdt + PV_BOOT_FDT_MAX <= MM_BOOT_MAPPED,
		      "FDT at %p lies outside the boot map", fdt);
	bi.fdt = fdt;
	code = user_run(kmain_user_boot, &bi);
	mm_init();
	mm_mode_init((enum mm_mode)bi.pv_mmu);
	kexit(code ? (int)code : workload_run());
}

void kexit(int code)
{
	console_flush();
	report_flush();
	hc_exit((uint32_t)code);
}
