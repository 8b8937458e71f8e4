/*
 * Process address spaces (mm/aspace.c).
 *
 *   0 .. RAM end    kernel half, the same tables in every process: the
 *                   identity map WITHOUT U (a second top level over the
 *                   kernel's own PDs, built once), so CPL0 runs on any
 *                   process's CR3 and a process cannot read frames, its
 *                   own or another's, through it.  The one exception: the
 *                   pages of the user image [__user_start, __user_end)
 *                   (kernel.ld: .utext, the code and constants of user/) are
 *                   U, read-only, at their link address.
 *   ...             (unmapped)
 *   AS_USER_BASE    user region, PML4 entry 4, the process's own: mmap
 *   (2 TiB)         regions from here upwards (bump allocation),
 *   AS_STACK_TOP    the stack below it (AS_STACK_SIZE), then one unmapped
 *                   guard page, then AS_USER_END.
 *
 * Pinned set (modes immediate and batched): the user region's PDPT, PDs
 * and PTs are pinned at their level before they are linked and change only
 * through the PV MMU channel, as the workload region's do.  The process
 * PML4, the shared kernel-half tables and the kernel's identity map are
 * never pinned and are written directly, only while no CR3 points at them
 * (built before first use) -- the VMM's rules therefore hold for every
 * pinned table: no pinned table is mapped writable by another pinned table
 * (the identity maps that do map them writable are not pinned).
 *
 * The kernel's own tables (pt_kernel_pml4, U identity map, workload region
 * at MM_WORKLOAD_BASE) stay as they are for the library-OS workloads and
 * for the init process.
 */
#ifndef GK_ASPACE_H
#define GK_ASPACE_H

#include <stdbool.h>
#include <stdint.h>

#define AS_USER_BASE   0x20000000000ull                 /* 2 TiB: PML4 entry 4 */
#define AS_USER_END    (AS_USER_BASE + (1ull << 39))
#define AS_STACK_SIZE  (16 * 4096ull)
#define AS_STACK_TOP   (AS_USER_END - 4096)
#define AS_MMAP_END    (AS_USER_BASE + (1ull << 38))    /* mmap's half of the region */

struct aspace {
	uint64_t *pml4;         /* its own; entry 0 the kernel half, entry 4 the user region */
	uint64_t pdpt;          /* the user region's PDPT, pinned at level 3 */
};

/*
 * Ring 3 (library OS) or CPL0: an empty address space: a zeroed PML4 with the
 * shared kernel half and a fresh, pinned user PDPT.  0, or -1 when out of
 * memory (nothing is left allocated).
 */
int as_create(struct aspace *as);
/*
 * The 2 MiB page mapping va (2 MiB aligned) in as becomes 512 4 KiB
 * entries with its rights (W, U, A, D) under a new page table: entry 0
 * onto the frame f0, entry i onto the 2 MiB frame's i-th 4 KiB frame.  In
 * the caller's lazy section if there is one (the entries are one record
 * for the VMM to fill in batched mode).  No reference changes.  0, or -1
 * when no 2 MiB page maps va or no frame was left for the table (then the
 * 2 MiB page is mapped as before).  Any CPL.
 */
int as_split_2m(struct aspace *as, uint64_t va, uint64_t f0);
/*
 * Unmap everything in the user region, free its frames (2 MiB leaves to
 * frame_put_2m, 4 KiB ones to frame_free_4k), unpin and free its tables
 * and the PML4.  The address space must not be live (no CR3 points at it).
 * Ring 3 (library OS): native walks, the channel for the changes.
 */
void as_destroy(struct aspace *as);
/*
 * The frame va maps to in as (any page size), or 0 when unmapped.  Reads
 * through mm_read_pte (no stale entries under a queued batch).
 */
uint64_t as_lookup(const struct aspace *as, uint64_t va);
/* The level of the leaf mapping va: PT_LEVEL_4K, PT_LEVEL_2M, 3 (1 GiB); 0 when unmapped. */
int as_level(const struct aspace *as, uint64_t va);
/*
 * The frames of the present entries among the n 4 KiB entries from e (in
 * one page table), into out (room for n); how many.  Through mm_read_pte.
 */
uint64_t as_pt_frames(const uint64_t *e, uint64_t n, uint64_t *out);
/* Whether va lies in the user image (.utext), readable by every process. */
bool as_in_user_image(uint64_t va, uint64_t len);

#endif
