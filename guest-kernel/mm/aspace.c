/*
 * Process address spaces (contract and layout: gk/aspace.h).  Creation and
 * teardown run in ring 3 (the library OS), natively: walks are plain reads,
 * every change of a pinned table goes through the mm API.
 */
#include <gk/aspace.h>
#include <gk/assert.h>
#include <gk/mm.h>
#include <gk/mmapi.h>
#include <gk/x86.h>

#define AS_TABLE_FLAGS (PTE_P | PTE_W | PTE_U)

/* Frames of one table being torn down (single vCPU; never nested). */
static uint64_t as_frames[512];

bool as_in_user_image(uint64_t va, uint64_t len)
{
	extern char __user_start[], __user_end[];
	uint64_t s = (uint64_t)(uintptr_t)__user_start, e = (uint64_t)(uintptr_t)__user_end;

	return va >= s && va <= e && len <= e - va;
}

int as_create(struct aspace *as)
{
	uint64_t pml4 = frame_alloc_4k(), pdpt = pml4 ? frame_alloc_4k() : 0;

	if (!pdpt) {
		if (pml4)
			frame_free_4k(pml4);
		return -1;
	}
	mm_pin(pdpt, PT_LEVEL_1G);      /* before any entry may point at it */
	as->pml4 = (uint64_t *)(uintptr_t)pml4;
	as->pdpt = pdpt;
	/* Not live yet: plain stores (the PML4 is never pinned). */
	as->pml4[0] = mm_proc_kernel_pdpt() | AS_TABLE_FLAGS;
	as->pml4[AS_USER_BASE >> 39] = pdpt | AS_TABLE_FLAGS;
	return 0;
}

/* The leaf entry mapping va and its level (1: 4 KiB .. 3: 1 GiB); 0 when unmapped. */
static uint64_t as_leaf(const struct aspace *as, uint64_t va, int *level)
{
	uint64_t *t = as->pml4, v = 0;

	for (int l = 4; l >= 1; l--) {
		v = mm_read_pte(&t[(va >> (12 + 9 * (l - 1))) & 511], l);
		if (!(v & PTE_P)) {
			*level = 0;
			return 0;
		}
		if (l == 1 || (l < 4 && (v & PTE_PS))) {
			*level = l;
			return v;
		}
		t = (uint64_t *)(uintptr_t)(v & PTE_ADDR);
	}
	*level = 0;
	return 0;
}

uint64_t as_lookup(const struct aspace *as, uint64_t va)
{
	int level;

	return as_leaf(as, va, &level) & PTE_ADDR;
}

int as_level(const struct aspace *as, uint64_t va)
{
	int level;

	as_leaf(as, va, &level);
	return level;
}

uint64_t as_pt_frames(const uint64_t *e, uint64_t n, uint64_t *out)
{
	uint64_t nf = 0;

	for (uint64_t i = 0; i < n; i++) {
		uint64_t t = mm_read_pte(&e[i], PT_LEVEL_4K);

		if (t & PTE_P)
			out[nf++] = t & PTE_ADDR;
	}
	return nf;
}

int as_split_2m(struct aspace *as, uint64_t va, uint64_t f0)
{
	uint64_t *pde = pt_walk(as->pml4, va, PT_LEVEL_2M, false);
	uint64_t d = pde ? mm_read_pte(pde, PT_LEVEL_2M) : 0, f = d & PTE_ADDR_2M;
	uint64_t flags = d & (PTE_W | PTE_U | PTE_A | PTE_D);

	if (va % PAGE_SIZE_2M || (d & (PTE_P | PTE_PS)) != (PTE_P | PTE_PS))
		return -1;
	/* A run of 511 entries is one record: in batched mode the VMM fills them, not CPL0. */
	mm_lazy_enter();
	mm_clear_range_in(as->pml4, PT_LEVEL_2M, va, 1);
	if (mm_map_range_in(as->pml4, PT_LEVEL_4K, va, 1, f0, flags) ||
	    mm_map_range_in(as->pml4, PT_LEVEL_4K, va + PAGE_SIZE_4K, 511, f + PAGE_SIZE_4K,
			    flags)) {
		/* no frame for the table: the 2 MiB entry goes back (its PD is there) */
		GUEST_ASSERT(!mm_map_range_in(as->pml4, PT_LEVEL_2M, va, 1, f, flags));
		mm_lazy_leave();
		return -1;
	}
	mm_lazy_leave();
	return 0;
}

/*
 * One PD (GiB va): its leaves' frames freed, its PTs cleared, unpinned,
 * freed.  A PT that other address spaces still use (fork=shared: its use
 * count, the frame's reference count, is above 1) is left as it is: only
 * the link goes and one use is dropped; the last user frees its frames.
 */
static void as_destroy_pd(struct aspace *as, uint64_t *pd, uint64_t va)
{
	uint64_t npt = 0, nshared = 0, pts[512], n2m = 0;

	for (unsigned j = 0; j < 512; j++) {
		uint64_t d = mm_read_pte(&pd[j], PT_LEVEL_2M), nf;

		if (!(d & PTE_P) || (d & PTE_PS))
			continue;
		if (frame_refs_4k(d & PTE_ADDR) > 1) {
			pts[511 - nshared++] = d & PTE_ADDR;    /* from the top: npt + nshared <= 512 */
			continue;
		}
		nf = as_pt_frames((const uint64_t *)(uintptr_t)(d & PTE_ADDR), 512, as_frames);
		mm_clear_range_in(as->pml4, PT_LEVEL_4K, va + ((uint64_t)j << 21), 512);
		mm_sync();
		while (nf)
			frame_free_4k(as_frames[--nf]);
		pts[npt++] = d & PTE_ADDR;
	}
	for (unsigned j = 0; j < 512; j++) {
		uint64_t d = mm_read_pte(&pd[j], PT_LEVEL_2M);

		if ((d & PTE_P) && (d & PTE_PS))
			as_frames[n2m++] = d & PTE_ADDR;
	}
	/* Leaves and links in one record; then the PTs have no referrer left. */
	mm_lazy_enter();
	mm_clear_range_in(as->pml4, PT_LEVEL_2M, va, 512);
	for (uint64_t i = 0; i < npt; i++)
		mm_unpin(pts[i], PT_LEVEL_4K);
	mm_lazy_leave();
	while (n2m)
		frame_put_2m(as_frames[--n2m]);         /* fork may share them */
	while (npt)
		frame_free_4k(pts[--npt]);
	while (nshared)
		frame_free_4k(pts[511 - --nshared]);    /* a use dropped; never the last */
}

void as_destroy(struct aspace *as)
{
	uint64_t *pdpt = (uint64_t *)(uintptr_t)as->pdpt;

	for (unsigned i = 0; i < 512; i++) {
		uint64_t e = mm_read_pte(&pdpt[i], PT_LEVEL_1G), va = AS_USER_BASE + ((uint64_t)i << 30);

		if (!(e & PTE_P))
			continue;
		as_destroy_pd(as, (uint64_t *)(uintptr_t)(e & PTE_ADDR), va);
		mm_lazy_enter();
		mm_set_pte(&pdpt[i], PT_LEVEL_1G, 0, va);
		mm_unpin(e & PTE_ADDR, PT_LEVEL_2M);
		mm_lazy_leave();
		frame_free_4k(e & PTE_ADDR);
	}
	as->pml4[AS_USER_BASE >> 39] = 0;
	mm_unpin(as->pdpt, PT_LEVEL_1G);
	mm_sync();
	frame_free_4k(as->pdpt);
	frame_free_4k((uint64_t)(uintptr_t)as->pml4);
	as->pml4 = NULL;
	as->pdpt = 0;
}
