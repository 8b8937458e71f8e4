/*
 * The guest side of the paravirtual MMU channel (pagevisor/pvmmu.h): one
 * ring of records in kernel .bss, the queue that fills it, and the doorbell.
 * mm/mmapi.c is the only normal user; workloads go through gk/mmapi.h.
 *
 * Queue (batched mode): pvmmu_queue() appends a record, or extends the last
 * one when the new run continues it (same op, level, flags; next PTE in the
 * same table; for MAP the next frame): O(1), so consecutive PTEs travel as one
 * record and scattered frames degrade to one record per PTE.  It keeps, per
 * level, the [lowest, highest) PTE address the queue writes, so a PTE read
 * can tell in O(1) whether it must flush first (pvmmu_pending).  TLB work
 * is collected as one VA range and sent as one FLUSH_TLB record.  RELEASE
 * records name frames, not PTEs: they stay out of the envelope and extend
 * the last RELEASE when the frames continue it.
 *
 * pvmmu_flush() rings the doorbell: from ring 3 through the system-call trap
 * (the TLB flush needs CPL0), at CPL0 directly.  The CPL0 part is
 * pvmmu_bell_cpl0(): the port write, then the TLB flush the header asks for
 * (invlpg up to PVMMU_INVLPG_MAX pages, else a CR3 reload).  Then the header
 * and every record are checked: a rejected record in normal operation is a
 * kernel bug and fails the VM with the record's index, op and status.
 *
 * Shadow paging.  A KVM without EPT/NPT (this host's nested kvm_pvm) keeps
 * shadow copies of the guest's page tables and learns of changes only from
 * guest writes: it write-protects each table and traps the writes, or lets
 * a leaf table go "unsync" (writable) after a write fault and re-reads it at
 * the next CR3 load or invlpg.  The VMM writes through its own mapping of
 * guest RAM, which KVM does not see: a new entry is picked up (no shadow
 * exists, the access faults and KVM walks the table), but a changed or
 * cleared present entry would stay in the shadow, flush or no flush
 * (measured: protect RW->RO and clear did not take effect).  So each
 * table whose present entries a batch changes is marked with
 * pvmmu_queue_resync(), and the guest rewrites two bytes of it (the same
 * bytes), which KVM traps:
 *  - partly changed tables: from ring 3 before the doorbell; KVM makes the
 *    leaf table unsync and re-reads it at the doorbell's TLB flush (one
 *    fault into KVM, ~29 us, plus the re-read, per table per batch);
 *  - tables the batch clears whole: at CPL0 right after the doorbell; KVM
 *    emulates the misaligned write and drops its shadow of the table
 *    (~3 us; nothing is left in it to re-read).
 * On an EPT/NPT host both are plain stores.  Entries that only gain rights
 * (RO -> RW) need no resync: a stale, narrower shadow entry faults into
 * KVM, which re-walks the table.
 */
#ifndef GK_PVMMU_H
#define GK_PVMMU_H

#include <stdbool.h>
#include <stdint.h>
#include <pagevisor/pvmmu.h>

/* Header (64 B, two records' worth) + 4094 records = 128 KiB, 32 pages. */
#define PVMMU_RECORDS    4094u
#define PVMMU_RING_BYTES (sizeof(struct pv_mmu_ring) + PVMMU_RECORDS * sizeof(struct pv_mmu_rec))

/* A batch flushing more 4 KiB pages than this reloads CR3 instead of invlpg. */
#define PVMMU_INVLPG_MAX 32u

/* The ring (page-aligned, identity-mapped: its address is its gpa). */
extern struct pv_mmu_ring *const pvmmu_ring;

struct pvmmu_stats {
	uint64_t doorbells;     /* PV_HC_MMU_FLUSH port writes */
	uint64_t records;       /* records they carried */
};
extern struct pvmmu_stats pvmmu_stats;

/*
 * Any CPL: register the ring with PV_HC_MMU_SETUP (once; later calls return
 * PV_OK).  The VMM's status, or -1 if it did not answer (an older VMM).
 */
int pvmmu_setup(void);

/* Whether pvmmu_setup() registered the ring (the VMM holds it as this vCPU's). */
bool pvmmu_registered(void);

/* Any CPL: queue one record (coalescing, see above); flushes first when full. */
void pvmmu_queue(unsigned op, unsigned level, uint64_t ptep, uint32_t count,
		 uint64_t val, uint64_t mask);

/*
 * Any CPL: the next doorbell must resync the table holding this PTE address
 * (a queued record changes its present entries; whole_clear: a CLEAR of all
 * 512 entries).  Call after queueing the record.
 */
void pvmmu_queue_resync(uint64_t table, int whole_clear);

/*
 * Any CPL: queue PV_MMU_RELEASE of count frames from pa (1..PV_MMU_RELEASE_MAX);
 * the frames after the last queued RELEASE extend it, O(1).
 */
void pvmmu_queue_release(uint64_t pa, uint32_t count);

/* Any CPL: the next doorbell's batch must flush [va, va + pages * 4 KiB). */
void pvmmu_queue_tlb(uint64_t va, uint64_t pages);

/* Whether a queued record writes the level-`level` PTE at ptep's address range. */
bool pvmmu_pending(const uint64_t *ptep, int level);

/* Records queued (not yet sent). */
uint32_t pvmmu_queued(void);

/* Any CPL: send what is queued (nothing queued: nothing happens), check it. */
void pvmmu_flush(void);

/*
 * CPL0 (mm/pvmmu_bell.S, ~20 instructions, all emulated here): the doorbell,
 * the drops of whole-cleared tables, and the TLB flush the header asks for;
 * no checks.  The system-call trap jumps straight to it (SYS_PVMMU_BELL).
 */
void pvmmu_bell_cpl0(void);

/*
 * CPL0, mode immediate: one record with count 1, its own doorbell, checked;
 * with resync (a present entry changed), the entry is then rewritten with
 * its new value so that a shadow-paging KVM drops its copy.  The caller
 * does the TLB flush.  The queue must be empty.
 */
void pvmmu_immediate(unsigned op, unsigned level, uint64_t ptep, uint64_t val, uint64_t mask,
		     int resync);

/*
 * Any CPL, modes off and immediate: one PV_MMU_RELEASE record of count
 * frames from pa with its own doorbell, checked (a rejection fails the VM).
 * The ring must be registered and the queue empty.
 */
void pvmmu_release_now(uint64_t pa, uint32_t count);

/* Any CPL, for the hostile-guest test: the bare port write, no checks. */
void pvmmu_bell_raw(void);

#endif
