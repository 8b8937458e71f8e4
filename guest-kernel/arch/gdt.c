/*
 * GDT and TSS.  The TSS gives exceptions from ring 3 a kernel stack (RSP0),
 * #DF its own stack (IST1), and an I/O permission bitmap of all zeros so
 * ring 3 may use every port.  The bitmap matters on hosts that honour
 * RFLAGS.IOPL; this nested host masks IOPL at CPL3 but lets `out` through
 * (slowly) anyway.  Everything here is static data: boot cost is a few stores.
 */
#include <stdbool.h>
#include <stdint.h>
#include <gk/arch.h>
#include <gk/proc.h>

struct tss64 {
	uint32_t reserved0;
	uint64_t rsp[3];
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3;
	uint16_t iomap_base;
} __attribute__((packed));
_Static_assert(sizeof(struct tss64) == 104, "TSS layout");

/* The TSS, then 8 KiB of I/O bitmap (0 = port allowed), then the 0xff end byte. */
struct tss_block {
	struct tss64 tss;
	uint8_t iomap[65536 / 8];
	uint8_t iomap_end;
} __attribute__((packed));

static uint8_t gdt_trap_stack[16384] __attribute__((aligned(4096)));
static uint8_t gdt_df_stack[4096] __attribute__((aligned(4096)));

static struct tss_block gdt_tss __attribute__((aligned(64))) = {
	.tss = {
		.rsp = { (uint64_t)(uintptr_t)(gdt_trap_stack + sizeof(gdt_trap_stack)) },
		.ist = { (uint64_t)(uintptr_t)(gdt_df_stack + sizeof(gdt_df_stack)) },
		.iomap_base = sizeof(struct tss64),
	},
	.iomap_end = 0xff,
};

static uint64_t gdt[GDT_ENTRIES] __attribute__((aligned(16))) = {
	[GDT_KERNEL_CS / 8] = 0x00af9a000000ffffull,   /* 64-bit code, DPL0 */
	[GDT_KERNEL_DS / 8] = 0x00cf92000000ffffull,   /* data, DPL0 */
	[GDT_USER_DS / 8]   = 0x00cff2000000ffffull,   /* data, DPL3 */
	[GDT_USER_CS / 8]   = 0x00affa000000ffffull,   /* 64-bit code, DPL3 */
	/* GDT_TSS: filled in by gdt_init() (the base is split into pieces) */
};

void gdt_init(void)
{
	uint64_t base = (uint64_t)(uintptr_t)&gdt_tss;
	uint64_t limit = sizeof(gdt_tss) - 1;
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) gdtr = { sizeof(gdt) - 1, (uint64_t)(uintptr_t)gdt };

	gdt[GDT_TSS / 8] = (limit & 0xffff) | ((base & 0xffffff) << 16) |
			   (0x89ull << 40) |            /* present, 64-bit TSS */
			   ((limit >> 16) << 48) | ((base >> 24 & 0xff) << 56);
	gdt[GDT_TSS / 8 + 1] = base >> 32;

	__asm__ volatile(
		"lgdt %0\n\t"
		"mov %1, %%ds\n\t"
		"mov %1, %%es\n\t"
		"mov %1, %%ss\n\t"
		"pushq %2\n\t"
		"lea 1f(%%rip), %%rax\n\t"
		"pushq %%rax\n\t"
		"lretq\n"
		"1:\n\t"
		"ltr %w3"
		: : "m"(gdtr), "r"((uint64_t)GDT_KERNEL_DS), "i"(GDT_KERNEL_CS),
		  "r"((uint64_t)GDT_TSS)
		: "rax", "memory");
}

/* CPL0.  The bitmap is read at each I/O check: moving its base past the limit denies every port. */
void gdt_user_ports(bool on)
{
	gdt_tss.tss.iomap_base = on ? sizeof(struct tss64) : 0xffff;
}
