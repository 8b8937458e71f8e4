/*
 * Physical frames and page tables.
 *
 * Virtual layout (one address space, shared by kernel and ring 3):
 *
 *   0                  identity map of RAM (va == pa), P|W|U: 1 GiB pages
 *                      for whole GiBs when CPUID offers them (this host's
 *                      KVM does not), 2 MiB pages otherwise.  The kernel
 *                      image, its statics, the page tables and all frames
 *                      live here.
 *   MM_WORKLOAD_BASE   workload memory (mm_map_user), 2 MiB pages where
 *   (1 TiB)            va and length allow, 4 KiB pages for a tail.
 *
 * The U bit is set everywhere: a library OS, ring 3 may use the kernel.
 * SMEP/SMAP stay off.
 */
#ifndef GK_MM_H
#define GK_MM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <gk/bootinfo.h>
#include <gk/x86.h>

#define MM_WORKLOAD_BASE 0x10000000000ull                /* PML4 entry 2 */
#define MM_WORKLOAD_END  (MM_WORKLOAD_BASE + (1ull << 39))
/* A page for the boot-time cost measurement (mm/mmmode.c), below 512 GiB. */
#define MM_SCRATCH_VA    (511ull << 30)

/* ---- mm/frame.c: frames in 2 MiB chunks, 4 KiB frames carved on demand */

/*
 * Free every whole 2 MiB chunk of bi's RAM above reserved_end (the kernel
 * image's end), minus the FDT's; [reserved_end, its chunk's end) becomes the
 * first source of 4 KiB frames.
 */
void frame_init(const struct bootinfo *bi, uint64_t reserved_end);

/*
 * A 2 MiB-aligned chunk (contents undefined) with one reference, or 0 when
 * none is left.  frame_free_2m frees one with at most one reference.
 */
uint64_t frame_alloc_2m(void);
void frame_free_2m(uint64_t pa);
/*
 * References to a chunk handed out whole, as a process's 2 MiB page (fork
 * shares it copy-on-write): one more, how many, one fewer (the last frees
 * it).  At most 255.  O(1).
 */
void frame_ref_2m(uint64_t pa);
unsigned frame_refs_2m(uint64_t pa);
void frame_put_2m(uint64_t pa);
/*
 * A chunk handed out whole becomes 511 4 KiB frames, 1..511, each with as
 * many references as the chunk had (frame_free_4k frees them one by one,
 * and the chunk goes back whole when all are free).  Its bookkeeping
 * takes frame 0, as in every carved chunk: the caller has moved frame 0's
 * data elsewhere and unmapped it first.  O(512) stores.
 */
void frame_split_2m(uint64_t pa);

/* Take the chunk at pa (2 MiB-aligned) if it is free: true when taken. */
bool frame_take_2m(uint64_t pa);

/*
 * A zeroed 4 KiB frame with one reference, or 0 when memory is exhausted.
 * Until frame_boot_done() it only hands out frames from the kernel's own
 * chunk, which the boot map covers.  O(1).
 */
uint64_t frame_alloc_4k(void);
/*
 * As frame_alloc_4k, but not zeroed: for a frame the caller overwrites
 * whole at once (a copy-on-write copy), so CPL0 is not made to clear it
 * first.
 */
uint64_t frame_alloc_4k_dirty(void);
/*
 * Drop one reference to a frame from frame_alloc_4k; the last one frees it,
 * and the last free frame of a chunk returns the chunk to the 2 MiB
 * allocator (coalescing).  O(1).
 */
void frame_free_4k(uint64_t pa);
/* One more reference to an allocated 4 KiB frame (fork shares frames). */
void frame_ref_4k(uint64_t pa);
/* The references to a 4 KiB frame (0: free). */
unsigned frame_refs_4k(uint64_t pa);
/*
 * A zeroed 4 KiB frame (one reference) carved out of a whole free chunk,
 * never from a chunk carved already, so that one fewer 2 MiB chunk is
 * left whole: how a test fragments memory.  0 when no whole chunk is free.
 * After boot (frame_boot_done).
 */
uint64_t frame_carve_2m(void);
/* Free memory in 4 KiB frames: whole chunks * 512 plus free frames of carved chunks. */
uint64_t frame_free_4k_count(void);

/* Bytes still allocatable as whole 2 MiB chunks. */
uint64_t frame_free_bytes(void);

/* Whether n2m chunks and then n4k 4 KiB frames can still be allocated. */
bool frame_can_alloc(uint64_t n2m, uint64_t n4k);

/*
 * n 2 MiB chunks and their list (kept in one more chunk, reached through the
 * identity map), if those and then n4k 4 KiB frames can be allocated; NULL
 * otherwise.  frame_free_2m_list frees the first `keep_n` chunks of the list
 * and the list's own chunk (a chunk the host may still hold is not freed).
 */
uint64_t *frame_alloc_2m_list(uint64_t n, uint64_t n4k);
void frame_free_2m_list(uint64_t *list, uint64_t keep_n);

/* The full identity map is live: frame_alloc_4k may use any chunk. */
void frame_boot_done(void);

/* ---- mm/pgtable.c: 4-level page tables */

/* Levels as in walk(): 1 = PTE (4 KiB), 2 = PDE (2 MiB), 3 = PDPTE (1 GiB). */
#define PT_LEVEL_4K 1
#define PT_LEVEL_2M 2
#define PT_LEVEL_1G 3

/* The kernel's PML4: set by mm_build, live after mm_init. */
extern uint64_t *pt_kernel_pml4;

/*
 * The one place a raw PTE store happens (boot tables, and mode off): *ptep =
 * val, then invlpg(va) if the old entry was present (new mappings need no
 * flush).  CPL0, or CPL3 when old is not present (invlpg is privileged).
 * Never used on a pinned table (gk/mmapi.h).
 */
static inline void pt_store(uint64_t *ptep, uint64_t old, uint64_t val, uint64_t va)
{
	*(volatile uint64_t *)ptep = val;
	if (old & PTE_P)
		invlpg(va);
}

static inline void pt_write(uint64_t *ptep, uint64_t val, uint64_t va)
{
	pt_store(ptep, *(volatile uint64_t *)ptep, val, va);
}

/*
 * Pointer to va's entry at level in pml4's tree.  Entries are read with
 * mm_read_pte (no stale reads under a queued batch).  With alloc, missing
 * intermediate tables are created by mm_new_table.  NULL if a table is
 * missing (alloc false), memory ran out, or a larger page covers va.
 */
uint64_t *pt_walk(uint64_t *pml4, uint64_t va, int level, bool alloc);

/*
 * mm/mmapi.c: a zeroed table linked into *parent (an entry at parent_level
 * covering va), pinned first at parent_level - 1 unless the mode is off.
 * Its address, or 0 when memory ran out.
 */
uint64_t mm_new_table(uint64_t *parent, int parent_level, uint64_t va);

/* ---- mm/mm.c: address-space setup and workload memory */

/* Boot: the whole identity map becomes live at once, see mm/mm.c. */
#define MM_BOOT_MAPPED PAGE_SIZE_2M

/*
 * CPL0, first: switch to static bootstrap tables mapping [0, MM_BOOT_MAPPED)
 * with U (kernel image and FDT), so ring 3 can run before RAM's size is known.
 */
void mm_boot(void);

/*
 * Any CPL (ring 3 at boot): fill the kernel's static tables, not live yet,
 * with the identity map of bi's RAM.  Plain stores, no TLB flush needed.
 */
void mm_build(const struct bootinfo *bi);

/* Highest RAM address + 1 (set by mm_build). */
extern uint64_t mm_ram_end;

/* CPL0, after mm_build: switch CR3 to the kernel's tables. */
void mm_init(void);

/*
 * The workload region's PDPT (static, linked into the PML4 by mm_build) and
 * the scratch PTE mapping MM_SCRATCH_VA, in a table of its own (both never
 * pinned by mm_build; mm_mode_init pins the PDPT in modes that use the
 * channel).
 */
extern uint64_t mm_wl_pdpt[512];
extern uint64_t mm_scratch_pt[512];

/*
 * Back [va, va+len) in the workload region with fresh frames, P|W|U, 2 MiB
 * pages where va and len allow, through the mm API (gk/mmapi.h) in one lazy
 * section, one mm_map_frames call per page table.  va and len 4 KiB-aligned,
 * not mapped yet.  Returns 0, or -1 when memory ran out (what was mapped
 * stays mapped).  Any CPL; cheapest in ring 3.
 */
int mm_map_user(uint64_t va, uint64_t len);

/*
 * Unmap [va, va+len) mapped by mm_map_user and free its frames: per page
 * table one mm_clear_range call and one mm_sync, then the frees.  Any CPL.
 */
void mm_unmap_user(uint64_t va, uint64_t len);

/*
 * The processes' shared kernel half (gk/aspace.h): a PDPT over the kernel's
 * identity map without U, except the path to the user image.  Built by the
 * first call (plain stores: no CR3 points at it yet), any CPL; its address.
 */
uint64_t mm_proc_kernel_pdpt(void);
/* Whether mm_map_user(va, len) can succeed (page tables included). */
bool mm_can_map(uint64_t va, uint64_t len);

#endif
