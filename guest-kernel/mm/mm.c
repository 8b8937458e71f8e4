/* Address-space setup (the identity map) and workload memory. */
#include <gk/assert.h>
#include <gk/mm.h>
#include <gk/x86.h>

#define MM_FLAGS (PTE_W | PTE_U)
#define MM_NO_FRAME (~0ull)     /* pa_of() result: out of memory */

uint64_t mm_boot_end;
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

/*
 * Map [va, end) with 2 MiB pages within one page directory: one walk, then
 * consecutive entries.  pa_of(va) supplies each frame (MM_NO_FRAME: none).
 * Returns the va reached.
 */
static uint64_t mm_fill_pd(uint64_t va, uint64_t end, uint64_t (*pa_of)(uint64_t))
{
	uint64_t *pde = pt_walk(pt_kernel_pml4, va, PT_LEVEL_2M, true);
	uint64_t pd_end = (va | (PAGE_SIZE_1G - 1)) + 1;

	if (!pde)
		return va;
	for (; va < end && va < pd_end; va += PAGE_SIZE_2M, pde++) {
		uint64_t pa;

		if ((*pde & PTE_P) || (pa = pa_of(va)) == MM_NO_FRAME)
			break;
		pt_write(pde, pa | MM_FLAGS | PTE_P | PTE_PS, va);
	}
	return va;
}

static uint64_t mm_identity(uint64_t va)
{
	return va;
}

static uint64_t mm_fresh_chunk(uint64_t va)
{
	uint64_t pa = frame_alloc_2m();

	(void)va;
	return pa ? pa : MM_NO_FRAME;
}

void mm_boot(void)
{
	static uint64_t pml4[512] __attribute__((aligned(4096)));
	static uint64_t pdpt[512] __attribute__((aligned(4096)));
	static uint64_t pd[512] __attribute__((aligned(4096)));

	mm_1g_pages = mm_has_1g_pages();
	pt_write(&pml4[0], (uint64_t)(uintptr_t)pdpt | MM_FLAGS | PTE_P, 0);
	if (mm_1g_pages) {
		pt_write(&pdpt[0], 0 | MM_FLAGS | PTE_P | PTE_PS, 0);
		mm_boot_end = PAGE_SIZE_1G;
	} else {
		pt_write(&pdpt[0], (uint64_t)(uintptr_t)pd | MM_FLAGS | PTE_P, 0);
		pt_write(&pd[0], 0 | MM_FLAGS | PTE_P | PTE_PS, 0);
		mm_boot_end = PAGE_SIZE_2M;
	}
	pt_kernel_pml4 = pml4;
	write_cr3((uint64_t)(uintptr_t)pml4);
}

void mm_init(const struct bootinfo *bi)
{
	uint64_t pa = mm_boot_end;

	while (pa < bi->ram_end) {
		if (mm_1g_pages) {
			uint64_t *e = pt_walk(pt_kernel_pml4, pa, PT_LEVEL_1G, true);

			GUEST_ASSERTF(e, "mm_init: no memory for a PDPT at 0x%lx", (unsigned long)pa);
			pt_write(e, pa | MM_FLAGS | PTE_P | PTE_PS, pa);
			pa += PAGE_SIZE_1G;
		} else {
			uint64_t next = mm_fill_pd(pa, bi->ram_end, mm_identity);

			GUEST_ASSERTF(next > pa, "mm_init: cannot map 0x%lx", (unsigned long)pa);
			pa = next;
		}
	}
}

int mm_map_user(uint64_t va, uint64_t len)
{
	uint64_t end = va + len;

	GUEST_ASSERT(va % PAGE_SIZE_4K == 0 && len % PAGE_SIZE_4K == 0 && end >= va);
	while (va < end) {
		if (va % PAGE_SIZE_2M == 0 && end - va >= PAGE_SIZE_2M) {
			uint64_t next = mm_fill_pd(va, end & ~(PAGE_SIZE_2M - 1),
						   mm_fresh_chunk);

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
