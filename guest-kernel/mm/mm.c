/*
 * Address-space setup and workload memory.
 *
 * Writing a live page-table entry costs ~3-5 us on the nested-KVM host
 * (emulated at CPL0, and the table is write-tracked by the shadow MMU),
 * while writes to a table that is not in use yet are ordinary stores, native
 * at CPL3.  So the identity map is built in ring 3 into static tables that
 * are not live yet, and the kernel then switches CR3 to them: boot cost does
 * not grow with RAM.  After boot the workload region changes only through
 * the mm API (gk/mmapi.h).
 */
#include <pagevisor/abi.h>
#include <gk/assert.h>
#include <gk/mm.h>
#include <gk/mmapi.h>
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

/* The workload region's PDPT (PML4 entry 2); pinned at level 3 by mm_mode_init. */
uint64_t mm_wl_pdpt[512] __attribute__((aligned(4096)));

/* MM_SCRATCH_VA: PDPT entry 511 -> mm_scratch_pd -> mm_scratch_pt[0], never pinned. */
static uint64_t mm_scratch_pd[512] __attribute__((aligned(4096)));
uint64_t mm_scratch_pt[512] __attribute__((aligned(4096)));

static bool mm_1g_pages;
uint64_t mm_ram_end;

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

	mm_ram_end = end;
	GUEST_ASSERT(end <= (uint64_t)PV_BOOT_PD_MAX << 30 && end <= MM_SCRATCH_VA);
	pt_kernel_pml4 = mm_pml4;       /* later mappings go here too */
	pt_write(&mm_pml4[0], (uint64_t)(uintptr_t)mm_pdpt | MM_FLAGS | PTE_P, 0);
	pt_write(&mm_pml4[MM_WORKLOAD_BASE >> 39], (uint64_t)(uintptr_t)mm_wl_pdpt | MM_FLAGS | PTE_P, 0);
	pt_write(&mm_pdpt[MM_SCRATCH_VA >> 30], (uint64_t)(uintptr_t)mm_scratch_pd | MM_FLAGS | PTE_P, 0);
	pt_write(&mm_scratch_pd[0], (uint64_t)(uintptr_t)mm_scratch_pt | MM_FLAGS | PTE_P, 0);
	/* The scratch page maps the scratch table itself, read-only. */
	pt_write(&mm_scratch_pt[0], (uint64_t)(uintptr_t)mm_scratch_pt | PTE_U | PTE_P, 0);
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

/* Entries of the level's size from va to the end of its table, at most max. */
static uint64_t mm_piece(uint64_t va, int level, uint64_t max)
{
	uint64_t left = 512 - ((va >> (12 + 9 * (level - 1))) & 511);

	return left < max ? left : max;
}

/*
 * One page table's worth at a time: the frames are allocated where we run
 * (natively in ring 3), then one mm_map_frames call maps them (batched: a
 * record, coalesced; off and immediate: one system call whose CPL0 loop
 * does only the entries).
 */
int mm_map_user(uint64_t va, uint64_t len)
{
	uint64_t end = va + len, frames[512];
	int ret = 0;

	GUEST_ASSERT(va % PAGE_SIZE_4K == 0 && len % PAGE_SIZE_4K == 0 && end >= va);
	mm_lazy_enter();
	while (va < end && !ret) {
		int big = va % PAGE_SIZE_2M == 0 && end - va >= PAGE_SIZE_2M;
		int level = big ? PT_LEVEL_2M : PT_LEVEL_4K;
		uint64_t size = big ? PAGE_SIZE_2M : PAGE_SIZE_4K;
		/* 4 KiB pages up to the next 2 MiB boundary or the end. */
		uint64_t want = big ? (end - va) / PAGE_SIZE_2M :
			(((va | (PAGE_SIZE_2M - 1)) + 1 < end ? (va | (PAGE_SIZE_2M - 1)) + 1 : end) - va)
			/ PAGE_SIZE_4K;
		uint64_t n = mm_piece(va, level, want), got;

		for (got = 0; got < n; got++)
			if (!(frames[got] = big ? frame_alloc_2m() : frame_alloc_4k()))
				break;
		if (got < n)
			ret = -1;
		if (got && mm_map_frames(level, va, got, frames, MM_FLAGS)) {
			while (got--)
				big ? frame_free_2m(frames[got]) : frame_free_4k(frames[got]);
			ret = -1;
		}
		va += n * size;
	}
	mm_lazy_leave();
	return ret;
}

/*
 * Per page table: read the entries (natively in ring 3), clear the run in
 * one mm_clear_range call, send it (mm_sync), then free the frames: no
 * frame is reused while a queued batch still maps it.
 */
void mm_unmap_user(uint64_t va, uint64_t len)
{
	uint64_t end = va + len, frames[512];

	while (va < end) {
		uint64_t *pde = pt_walk(pt_kernel_pml4, va, PT_LEVEL_2M, false);
		uint64_t v = pde ? mm_read_pte(pde, PT_LEVEL_2M) : 0;
		int level = (v & PTE_PS) ? PT_LEVEL_2M : PT_LEVEL_4K;
		uint64_t size = level == PT_LEVEL_2M ? PAGE_SIZE_2M : PAGE_SIZE_4K;
		uint64_t n, nf = 0, *e;

		if (!(v & PTE_P)) {             /* nothing below this PDE */
			va = (va | (PAGE_SIZE_2M - 1)) + 1;
			continue;
		}
		GUEST_ASSERT(level == PT_LEVEL_4K || va % PAGE_SIZE_2M == 0);
		n = mm_piece(va, level, (end - va + size - 1) / size);
		e = level == PT_LEVEL_2M ? pde : pt_walk(pt_kernel_pml4, va, PT_LEVEL_4K, false);
		for (uint64_t i = 0; i < n; i++) {
			uint64_t w = mm_read_pte(&e[i], level);

			if (level == PT_LEVEL_2M && (w & PTE_P) && !(w & PTE_PS)) {
				n = i;          /* a page table: the next round takes it */
				break;
			}
			if (w & PTE_P)
				frames[nf++] = w & PTE_ADDR;
		}
		mm_clear_range(level, va, n);   /* n >= 1: entry 0 is a page */
		mm_sync();
		for (uint64_t i = 0; i < nf; i++)
			level == PT_LEVEL_2M ? frame_free_2m(frames[i]) : frame_free_4k(frames[i]);
		va += n * size;
	}
}

/*
 * The processes' kernel half: own PDPT, own PD for GiB 0 (2 MiB pages
 * without U) and own PT for [0, 2 MiB) (4 KiB pages; U and read-only on the
 * user image, supervisor elsewhere); the other GiBs share the kernel's PDs
 * (or 1 GiB pages) with U cleared in the PDPT entry, which is enough: a
 * user access needs U at every level.
 */
static uint64_t mm_pk_pdpt[512] __attribute__((aligned(4096)));
static uint64_t mm_pk_pd[512] __attribute__((aligned(4096)));
static uint64_t mm_pk_pt[512] __attribute__((aligned(4096)));

uint64_t mm_proc_kernel_pdpt(void)
{
	extern char __user_start[], __user_end[];
	uint64_t us = (uint64_t)(uintptr_t)__user_start, ue = (uint64_t)(uintptr_t)__user_end;

	if (mm_pk_pdpt[0])
		return (uint64_t)(uintptr_t)mm_pk_pdpt;
	GUEST_ASSERT(ue <= PAGE_SIZE_2M && us % PAGE_SIZE_4K == 0);
	for (uint64_t i = 0; i < 512; i++) {
		uint64_t pa = i * PAGE_SIZE_4K;

		mm_pk_pt[i] = pa | PTE_P | (pa >= us && pa < ue ? PTE_U : PTE_W);
	}
	for (uint64_t i = 1; i < 512 && (i << 21) < mm_ram_end; i++)
		mm_pk_pd[i] = (i << 21) | PTE_P | PTE_W | PTE_PS;
	mm_pk_pd[0] = (uint64_t)(uintptr_t)mm_pk_pt | PTE_P | PTE_W | PTE_U;
	for (uint64_t g = 1; g < 512; g++)
		mm_pk_pdpt[g] = mm_pdpt[g] & ~PTE_U;
	mm_pk_pdpt[0] = (uint64_t)(uintptr_t)mm_pk_pd | PTE_P | PTE_W | PTE_U;
	return (uint64_t)(uintptr_t)mm_pk_pdpt;
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
