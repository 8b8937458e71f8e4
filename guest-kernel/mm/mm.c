/*
 * Address-space setup and workload memory.
 *
 * Writing a live page-table entry costs ~10 us on the nested-KVM host
 * (emulated at CPL0, and the table is write-protected by the shadow MMU),
 * while writes to a table that is not in use yet are ordinary stores, native
 * at CPL3.  So the identity map is built in ring 3 into static tables that
 * are not live yet, and the kernel then switches CR3 to them: boot cost does
 * not grow with RAM.
 */
#include <pagevisor/abi.h>
#include <gk/assert.h>
#include <gk/mm.h>
#include <gk/x86.h>

#define MM_FLAGS (PTE_W | PTE_U)

/* Bootstrap: [0, 2 MiB) identity, with U.  Live from mm_boot() to mm_init(). */
static uint64_t mm_boot_pml4[512] __attribute__((aligned(4096)));
static uint64_t mm_boot_pdpt[512] __attribute__((aligned(4096)));
static uint64_t mm_boot_pd[512] __attribute__((aligned(4096)));

/* The kernel's tables: one PD per GiB of RAM, like the VMM's boot map. */
static uint64_t mm_pml4[512] __attribute__((aligned(4096)));
static uint64_t mm_pdpt[512] __attribute__((aligned(4096)));
static uint64_t mm_pd[PV_BOOT_PD_MAX][512] __attribute__((aligned(4096)));

static bool mm_1g_pages;

/* CPUID 0x80000001 EDX bit 26: 1 GiB pages. */
static bool mm_has_1g_pages(void)
{
	uint32_t a, b, c, d;

	cpuid(0x80000000, &a, &b, &c, &d);
	if (a < 0x80000001)
		return false;
	cpuid(0x80000001, &a, &b, &c, &d);
	return d >> 26 & 1;
}

void mm_boot(void)
{
	mm_1g_pages = mm_has_1g_pages();
	pt_write(&mm_boot_pml4[0], (uint64_t)(uintptr_t)mm_boot_pdpt | MM_FLAGS | PTE_P, 0);
	pt_write(&mm_boot_pdpt[0], (uint64_t)(uintptr_t)mm_boot_pd | MM_FLAGS | PTE_P, 0);
	pt_write(&mm_boot_pd[0], 0 | MM_FLAGS | PTE_P | PTE_PS, 0);
	write_cr3((uint64_t)(uintptr_t)mm_boot_pml4);
}

void mm_build(const struct bootinfo *bi)
{
	uint64_t end = bi->ram_end;

	GUEST_ASSERT(end <= (uint64_t)PV_BOOT_PD_MAX << 30);
	pt_kernel_pml4 = mm_pml4;       /* later mappings go here too */
	pt_write(&mm_pml4[0], (uint64_t)(uintptr_t)mm_pdpt | MM_FLAGS | PTE_P, 0);
	for (uint64_t g = 0; g << 30 < end; g++) {
		uint64_t base = g << 30;

		if (mm_1g_pages && end - base >= PAGE_SIZE_1G) {
			pt_write(&mm_pdpt[g], base | MM_FLAGS | PTE_P | PTE_PS, base);
			continue;
		}
		pt_write(&mm_pdpt[g], (uint64_t)(uintptr_t)mm_pd[g] | MM_FLAGS | PTE_P, base);
		for (uint64_t i = 0; i < 512 && base + (i << 21) < end; i++)
			pt_write(&mm_pd[g][i], (base + (i << 21)) | MM_FLAGS | PTE_P | PTE_PS,
				 base + (i << 21));
	}
}

void mm_init(void)
{
	write_cr3((uint64_t)(uintptr_t)mm_pml4);
	frame_boot_done();
}

/*
 * Map [va, end) with fresh 2 MiB chunks within one page directory: one
 * walk, then consecutive entries.  Returns the va reached (== va: no memory).
 */
static uint64_t mm_fill_pd(uint64_t va, uint64_t end)
{
	uint64_t *pde = pt_walk(pt_kernel_pml4, va, PT_LEVEL_2M, true);
	uint64_t pd_end = (va | (PAGE_SIZE_1G - 1)) + 1;

	if (!pde)
		return va;
	for (; va < end && va < pd_end; va += PAGE_SIZE_2M, pde++) {
		uint64_t pa;

		if ((*pde & PTE_P) || !(pa = frame_alloc_2m()))
			break;
		pt_write(pde, pa | MM_FLAGS | PTE_P | PTE_PS, va);
	}
	return va;
}

int mm_map_user(uint64_t va, uint64_t len)
{
	uint64_t end = va + len;

	GUEST_ASSERT(va % PAGE_SIZE_4K == 0 && len % PAGE_SIZE_4K == 0 && end >= va);
	while (va < end) {
		if (va % PAGE_SIZE_2M == 0 && end - va >= PAGE_SIZE_2M) {
			uint64_t next = mm_fill_pd(va, end & ~(PAGE_SIZE_2M - 1));

			if (next == va)
				return -1;
			va = next;
		} else {
			uint64_t pa = frame_alloc_4k();

			if (!pa)
				return -1;
			if (pt_map(pt_kernel_pml4, va, pa, PT_LEVEL_4K, MM_FLAGS)) {
				frame_free_4k(pa);
				return -1;
			}
			va += PAGE_SIZE_4K;
		}
	}
	return 0;
}

void mm_unmap_user(uint64_t va, uint64_t len)
{
	uint64_t end = va + len;

	while (va < end) {
		uint64_t pa;

		if (va % PAGE_SIZE_2M == 0 &&
		    (pa = pt_unmap(pt_kernel_pml4, va, PT_LEVEL_2M))) {
			frame_free_2m(pa);
			va += PAGE_SIZE_2M;
		} else {
			pa = pt_unmap(pt_kernel_pml4, va, PT_LEVEL_4K);
			if (pa)
				frame_free_4k(pa);
			va += PAGE_SIZE_4K;
		}
	}
}

bool mm_can_map(uint64_t va, uint64_t len)
{
	uint64_t head = (PAGE_SIZE_2M - va % PAGE_SIZE_2M) % PAGE_SIZE_2M;
	uint64_t n2m, n4k, tables;

	if (head > len)
		head = len;
	n2m = (len - head) / PAGE_SIZE_2M;
	n4k = (head + (len - head) % PAGE_SIZE_2M) / PAGE_SIZE_4K;
	/* PDPTs, PDs and PTs the range may need (an upper bound). */
	tables = 2 * ((len >> 39) + 2) + (len >> 30) + 2 + 2;
	return frame_can_alloc(n2m, n4k + tables);
}
