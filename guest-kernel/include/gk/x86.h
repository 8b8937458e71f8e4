/*
 * x86-64 instructions, registers and constants the guest kernel uses.  The
 * register bits are plain integers so assembly files can include this too.
 */
#ifndef GK_X86_H
#define GK_X86_H

#define X86_CR0_MP          (1 << 1)
#define X86_CR0_EM          (1 << 2)
#define X86_CR4_OSFXSR      (1 << 9)
#define X86_CR4_OSXMMEXCPT  (1 << 10)

#define X86_RFLAGS_RESERVED (1 << 1)
#define X86_RFLAGS_IOPL3    (3 << 12)

#define X86_MSR_FS_BASE     0xc0000100

#define EFAULT              14          /* probes return -EFAULT */

#ifndef __ASSEMBLER__
#include <stdint.h>

/* Page-table entry bits. */
#define PTE_P    (1ull << 0)
#define PTE_W    (1ull << 1)
#define PTE_U    (1ull << 2)
#define PTE_A    (1ull << 5)
#define PTE_D    (1ull << 6)
#define PTE_PS   (1ull << 7)
#define PTE_NX   (1ull << 63)
#define PTE_ADDR 0x000ffffffffff000ull
#define PTE_ADDR_2M 0x000fffffffe00000ull  /* a 2 MiB entry's frame (bit 12 is its PAT bit) */

/* #PF error code bits. */
#define PF_ERR_P    (1ull << 0)     /* protection violation (else not present) */
#define PF_ERR_W    (1ull << 1)
#define PF_ERR_U    (1ull << 2)
#define PF_ERR_RSVD (1ull << 3)

#define PAGE_SIZE_4K (1ull << 12)
#define PAGE_SIZE_2M (1ull << 21)
#define PAGE_SIZE_1G (1ull << 30)

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port) : "memory");
}

static inline void outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port) : "memory");
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;

	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port) : "memory");
	return v;
}

static inline void outw(uint16_t port, uint16_t v)
{
	__asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port) : "memory");
}

static inline uint16_t inw(uint16_t port)
{
	uint16_t v;

	__asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port) : "memory");
	return v;
}

static inline uint32_t inl(uint16_t port)
{
	uint32_t v;

	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port) : "memory");
	return v;
}

/* Works at CPL3 too (CR4.TSD stays clear). */
static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

static inline void wrmsr(uint32_t msr, uint64_t v)
{
	__asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v),
			 "d"((uint32_t)(v >> 32)) : "memory");
}

static inline void cpuid(uint32_t leaf, uint32_t *a, uint32_t *b,
			 uint32_t *c, uint32_t *d)
{
	__asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d)
			 : "a"(leaf), "c"(0));
}

static inline uint64_t read_cr2(void)
{
	uint64_t v;

	__asm__ volatile("mov %%cr2, %0" : "=r"(v));
	return v;
}

static inline uint64_t read_cr3(void)
{
	uint64_t v;

	__asm__ volatile("mov %%cr3, %0" : "=r"(v));
	return v;
}

static inline void write_cr3(uint64_t v)
{
	__asm__ volatile("mov %0, %%cr3" : : "r"(v) : "memory");
}

static inline void invlpg(uint64_t va)
{
	__asm__ volatile("invlpg (%0)" : : "r"(va) : "memory");
}

static inline uint16_t read_cs(void)
{
	uint16_t v;

	__asm__ volatile("mov %%cs, %0" : "=r"(v));
	return v;
}

/* Current privilege level: 0 in the kernel, 3 inside user_run(). */
static inline int x86_cpl(void)
{
	return read_cs() & 3;
}

static inline void __attribute__((noreturn)) x86_halt_forever(void)
{
	for (;;)
		__asm__ volatile("cli; hlt");
}

#endif /* !__ASSEMBLER__ */
#endif
