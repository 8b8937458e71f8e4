/*
 * IDT: vectors 0..31 only (anything above the limit raises #GP instead).
 * Gates are plain memory: idt_init() installs only the #UD gate that
 * user_run() needs and loads the IDT (CPL0); idt_fill() writes all gates
 * and runs in ring 3 at boot, where its stores are native.
 */
#include <stdint.h>
#include <gk/arch.h>

struct idt_gate {
	uint16_t off_lo;
	uint16_t sel;
	uint8_t ist;
	uint8_t type;           /* P | DPL | 0xe (64-bit interrupt gate) */
	uint16_t off_mid;
	uint32_t off_hi;
	uint32_t reserved;
} __attribute__((packed));

/* Entry stubs, arch/traps_entry.S. */
extern const uint64_t traps_stub_table[TRAP_VECTORS];

static struct idt_gate idt[TRAP_VECTORS] __attribute__((aligned(16)));

static void idt_set(int v)
{
	uint64_t off = traps_stub_table[v];

	idt[v] = (struct idt_gate){
		.off_lo = (uint16_t)off,
		.sel = GDT_KERNEL_CS,
		.ist = v == 8 ? 1 : 0,                  /* #DF: own stack */
		.type = v == 3 ? 0xee : 0x8e,           /* #BP: int3 from ring 3 */
		.off_mid = (uint16_t)(off >> 16),
		.off_hi = (uint32_t)(off >> 32),
	};
}

void idt_init(void)
{
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) idtr = { sizeof(idt) - 1, (uint64_t)(uintptr_t)idt };

	idt_set(TRAP_UD);
	__asm__ volatile("lidt %0" : : "m"(idtr) : "memory");
}

void idt_fill(void)
{
	for (int v = 0; v < TRAP_VECTORS; v++)
		idt_set(v);
}
