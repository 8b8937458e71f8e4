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
#include <gk/x86.h>

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

	static uint64_t t[8];
	t[0] = rdtsc();
	gdt_init();
	t[1] = rdtsc();
	idt_init();
	t[2] = rdtsc();
	mm_boot();
	t[3] = rdtsc();
	GUEST_ASSERTF((uintptr_t)fdt + PV_BOOT_FDT_MAX <= mm_boot_end,
		      "FDT at %p lies outside the boot map", fdt);
	bi.fdt = fdt;
	user_run(kmain_user_boot, &bi);
	t[4] = rdtsc();
	t[7] = rdtsc();
	mm_init(&bi);
	t[5] = rdtsc();
	mm_init(&bi);
	t[6] = rdtsc();
	report("t5b_mminit_again", t[6] - t[5], 0);
	t[5] = rdtsc();
	mm_init(&bi);
	t[6] = rdtsc();
	report("t5c_mminit_again", t[6] - t[5], 0);
	t[5] = rdtsc();
	
	report("t45_nothing", t[7] - t[4], 0);
	{
		uint64_t a, b;
		static volatile uint64_t x;
		a = rdtsc();
		__asm__ volatile(".rept 100\n nop\n .endr");
		b = rdtsc(); report("x_nop100", b - a, 0);
		a = rdtsc();
		__asm__ volatile(".rept 100\n add $1, %%rax\n .endr" ::: "rax");
		b = rdtsc(); report("x_add100", b - a, 0);
		a = rdtsc();
		__asm__ volatile(".rept 100\n mov (%0), %%rax\n .endr" :: "r"(&x) : "rax");
		b = rdtsc(); report("x_load100", b - a, 0);
		a = rdtsc();
		__asm__ volatile(".rept 100\n mov %%rax, (%0)\n .endr" :: "r"(&x) : "rax");
		b = rdtsc(); report("x_store100", b - a, 0);
		a = rdtsc();
		for (int i = 0; i < 100; i++) x = *(volatile uint64_t *)(uintptr_t)(0x400000 + i * 4096ull);
		b = rdtsc(); report("x_loadpages100", b - a, 0);
		a = rdtsc();
		for (int i = 0; i < 100; i++) x = *(volatile uint64_t *)(uintptr_t)(0x400000 + i * 4096ull);
		b = rdtsc(); report("x_loadpages100b", b - a, 0);
		a = rdtsc();
		for (int i = 0; i < 100; i++) x = *(volatile uint64_t *)(uintptr_t)(0x400000 + i * 8ull);
		b = rdtsc(); report("x_loadloop100", b - a, 0);
	}
	report("t0_entry", t[0] - arch_boot_tsc, 0);
	report("t1_gdt", t[1] - t[0], 0);
	report("t2_idt", t[2] - t[1], 0);
	report("t3_mmboot", t[3] - t[2], 0);
	report("t4_userboot", t[4] - t[3], 0);
	report("t5_mminit", t[5] - t[4], 0);
	t[6] = rdtsc();
	report("t6_report", t[6] - t[5], 0);
	kexit(workload_dispatch(bi.bootargs));
}

void kexit(int code)
{
	console_flush();
	report_flush();
	hc_exit((uint32_t)code);
}
