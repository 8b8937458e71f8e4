/*
 * The mm API: every page-table write after boot goes through here, in the
 * mode `vmm --pv-mmu auto|off|immediate|batched` put into the FDT.
 *
 *   off        the kernel writes PTEs itself (the shadow MMU traps each
 *              write on the nested-KVM host) and invlpgs each changed page
 *   immediate  one PV MMU hypercall per PTE (a record with count 1): the
 *              paravirtual baseline without batching
 *   batched    lazy MMU mode: records queue in the ring (a run of consecutive
 *              PTEs is one record) and leave in one doorbell at
 *              mm_lazy_leave(), when the ring is full, or before a PTE with a
 *              queued write is read; TLB flushes are batched too (one per
 *              doorbell)
 *   auto       measure at boot and pick off or batched (mm/mmmode.c)
 *
 * Scope: the workload region (one PML4 entry at MM_WORKLOAD_BASE) and each
 * process's user region (AS_USER_BASE, gk/aspace.h).  In modes immediate
 * and batched their PDPTs, PDs and PTs are pinned at their level when
 * created and are only ever changed through the channel; every PML4 and
 * the identity maps (the kernel's, and the processes' shared supervisor
 * copy) are outside the channel (written directly, never pinned).
 *
 * Range operations take a level (1: 4 KiB PTEs, 2: 2 MiB PDEs) and a number
 * of entries; they split at page-table boundaries: one record per table
 * touched (batched), one hypercall per entry (immediate), a CPL0 loop (off).
 * Callable at any CPL.  From ring 3 in modes off and immediate each call is
 * ONE system call that runs the whole loop at CPL0 (invlpg needs CPL0, and
 * "off" is the classic kernel loop); in batched mode the queueing runs in
 * ring 3, natively, and only the doorbell is a system call.
 * Outside a lazy section each call sends its own batch before returning.
 */
#ifndef GK_MMAPI_H
#define GK_MMAPI_H

#include <stdint.h>

enum mm_mode {
	MM_MODE_OFF = 0,
	MM_MODE_IMMEDIATE = 1,
	MM_MODE_BATCHED = 2,
	MM_MODE_AUTO = 3,       /* only as a request */
};

extern enum mm_mode mm_mode;

/* What the boot-time measurement found (mm/mmmode.c); all 0 unless auto ran. */
struct mm_auto {
	int ran;
	uint64_t direct_ps;     /* one direct PTE write + invlpg, picoseconds */
	uint64_t invlpg_ps;     /* invlpg alone */
	uint64_t batched_ps;    /* per PTE of a 512-PTE record: doorbell + VMM */
};
extern struct mm_auto mm_auto;

/*
 * CPL0, once, after mm_init(): adopt the requested mode (MM_MODE_AUTO:
 * measure and choose), register the ring unless the mode is off, pin the
 * workload PDPT.  A mode the VMM cannot serve fails the VM (auto: off).
 */
void mm_mode_init(enum mm_mode requested);

/* Metrics pvmmu_mode and, when auto ran, auto_direct_ns, auto_invlpg_ns, auto_batched_ns. */
void mm_mode_report(void);

/*
 * Map n entries from va onto consecutive frames from pa, with flags (P,
 * and PS at level 2, are added).  The entries must not be present (new
 * mappings need no TLB flush; clear first to replace one).  Creates missing
 * tables.  0, or -1 when memory for a table ran out.
 */
int mm_map_range(int level, uint64_t va, uint64_t n, uint64_t pa, uint64_t flags);

/* As mm_map_range, entry i onto frames[i] (runs of consecutive frames coalesce). */
int mm_map_frames(int level, uint64_t va, uint64_t n, const uint64_t *frames, uint64_t flags);

/* Present entries: pte = (pte & ~clear) | set; both within PV_PTE_PROT_BITS. */
void mm_protect_range(int level, uint64_t va, uint64_t n, uint64_t set, uint64_t clear);

/* Entries become 0. */
void mm_clear_range(int level, uint64_t va, uint64_t n);
/*
 * The same four on the tree under root: the kernel's PML4 (the workload
 * region: what the forms above use) or a process's (its user region,
 * gk/aspace.h).  The target need not be the live CR3: without PCIDs a CR3
 * load flushes the TLB, so entries of a tree that is not live are never
 * cached.
 */
int mm_map_range_in(uint64_t *root, int level, uint64_t va, uint64_t n, uint64_t pa,
		    uint64_t flags);
int mm_map_frames_in(uint64_t *root, int level, uint64_t va, uint64_t n,
		     const uint64_t *frames, uint64_t flags);
void mm_protect_range_in(uint64_t *root, int level, uint64_t va, uint64_t n, uint64_t set,
			 uint64_t clear);
void mm_clear_range_in(uint64_t *root, int level, uint64_t va, uint64_t n);

/*
 * n PD entries from va (2 MiB aligned, under root) link the page tables
 * tables[0..n) (pinned at level 1 already), with flags (P is added, never
 * PS): fork=shared gives a child its parent's tables this way.  The
 * entries must not be present.  Creates a missing PD.  0, or -1 when memory
 * for it ran out.
 */
int mm_link_tables_in(uint64_t *root, uint64_t va, uint64_t n, const uint64_t *tables,
		      uint64_t flags);

/* One entry (of a table at `level`, mapping va): *ptep = val, TLB flushed for va. */
void mm_set_pte(uint64_t *ptep, int level, uint64_t val, uint64_t va);

/* Flush [va, va + pages * 4 KiB) from the TLB (batched: at the next doorbell). */
void mm_flush_tlb(uint64_t va, uint64_t pages);

/* Pin / unpin a page-table page at level (modes immediate, batched; off: no-op). */
void mm_pin(uint64_t table, int level);
void mm_unpin(uint64_t table, int level);

/*
 * The contents of n 4 KiB frames from pa (page-aligned, inside RAM) are
 * dead: the VMM drops them from host memory and swap, and the next access
 * reads zeros (PV_MMU_RELEASE, split into records of at most
 * PV_MMU_RELEASE_MAX frames).  The frames stay the caller's; unmap them
 * first if they are mapped.  Queued like the other operations: batched, in
 * the current lazy section (an unmap and the release of its frames leave in
 * one doorbell; the release follows the unmap in the batch); immediate and
 * off, one record and doorbell each (mode off registers the ring the first
 * time: PTE writes stay direct, releases go through the channel).  From
 * ring 3 in off and immediate, ONE system call.  A rejected record fails
 * the VM, as any rejected record does.
 */
void mm_release_frames(uint64_t pa, uint64_t n);

/* Lazy MMU sections nest; leaving the outermost one sends the batch. */
void mm_lazy_enter(void);
void mm_lazy_leave(void);

/* Send whatever is queued now (inside or outside a lazy section). */
void mm_sync(void);

/*
 * Read a PTE of a table at level: if a queued record writes it, the queue
 * is flushed first, so readers never see a stale entry.  O(1).
 */
uint64_t mm_read_pte(const uint64_t *ptep, int level);

/* ---- forwarding to CPL0 (mm/mmapi.c) */

/* Operations a system call can carry: the PV_MMU_* ops, and these. */
#define MMOP_MAP_FRAMES  16     /* val = frames array, mask = flags */
#define MMOP_LINK_TABLES 17     /* level 2, val = tables array, mask = flags */

/* Whether this call must go to CPL0: mode off or immediate, and we are in ring 3. */
int mm_must_forward(void);

/* Ring 3: one SYS_MM system call. */
long mm_forward(unsigned op, int level, uint64_t va, uint64_t n, uint64_t val, uint64_t mask);

/* CPL0, from the system-call trap: an mm operation forwarded from ring 3. */
long mm_syscall(long op_level, uint64_t va, uint64_t n, uint64_t val, uint64_t mask);

#endif
