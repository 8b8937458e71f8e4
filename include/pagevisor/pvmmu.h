/* SPDX-License-Identifier: MIT */
/*
 * pagevisor paravirtual MMU channel: batched page-table updates.
 *
 * Each vCPU registers one ring in its own memory (PV_HC_MMU_SETUP).  In lazy
 * MMU mode the guest queues records there and rings one doorbell
 * (PV_HC_MMU_FLUSH) when it leaves lazy mode, when the ring is full, or
 * before it reads a PTE that has a queued write.  The VMM validates each
 * record and applies the valid ones to guest memory, writes a status into
 * every record and the totals into the header, and returns to the guest,
 * which then performs the TLB flush the batch asked for (a VMM in userspace
 * cannot flush a guest TLB) and starts the next batch at record 0.
 *
 * Page-table pages the channel may change are pinned first (PV_MMU_PIN).
 * Invariants the VMM keeps for the pinned set (Xen PV style):
 *  - a record may only write PTEs inside a page pinned at the record's level;
 *  - a non-leaf entry of a pinned table points to a table pinned one level
 *    lower (so every table reachable from a pinned table is validated);
 *  - no leaf entry of a pinned table maps a pinned page or a ring page
 *    writable, and every frame it maps lies inside guest RAM;
 *  - PS appears only at levels 2 and 3; reserved bits are zero.
 * Pinning a page validates all of its present entries; unpinning a table
 * that a pinned parent still points to is refused.
 */
#ifndef PAGEVISOR_PVMMU_H
#define PAGEVISOR_PVMMU_H

#include <stdint.h>

#include "pagevisor/abi.h"

#define PV_HC_MMU_SETUP      (PV_PORT_HC_BASE + 0x4) /* outl gpa of struct pv_mmu_setup */
#define PV_HC_MMU_FLUSH      (PV_PORT_HC_BASE + 0x5) /* outl 0: process this vCPU's ring */

/* FDT /pagevisor property: the mode `vmm --pv-mmu` asks the guest to use. */
#define PV_FDT_PV_MMU        "pv-mmu"    /* "auto", "off", "immediate" or "batched" */

#define PV_MMU_RING_MAX      4096u       /* records in one ring at most */
#define PV_MMU_RANGE_MAX     512u        /* PTEs in one record at most (one table) */

/* x86-64 PTE bits the channel knows about. */
#define PV_PTE_P             (1ull << 0)
#define PV_PTE_W             (1ull << 1)
#define PV_PTE_U             (1ull << 2)
#define PV_PTE_PWT           (1ull << 3)
#define PV_PTE_PCD           (1ull << 4)
#define PV_PTE_A             (1ull << 5)
#define PV_PTE_D             (1ull << 6)
#define PV_PTE_PS            (1ull << 7)
#define PV_PTE_G             (1ull << 8)
#define PV_PTE_AVL           (7ull << 9)          /* bits 9-11: the guest's own */
#define PV_PTE_NX            (1ull << 63)
#define PV_PTE_ADDR          0x000ffffffffff000ull
/* Bits PV_MMU_PROTECT may set or clear. */
#define PV_PTE_PROT_BITS     (PV_PTE_W | PV_PTE_U | PV_PTE_PWT | PV_PTE_PCD | PV_PTE_A | \
			      PV_PTE_D | PV_PTE_G | PV_PTE_AVL | PV_PTE_NX)

enum pv_mmu_op {
	PV_MMU_SET = 1,         /* *ptep = val (count 1) */
	PV_MMU_MAP = 2,         /* pte[i] = val + i * page size of level (frames advance) */
	PV_MMU_PROTECT = 3,     /* present pte[i] = (pte[i] & ~mask) | val; mask, val within
				   PV_PTE_PROT_BITS; non-present entries are left alone */
	PV_MMU_CLEAR = 4,       /* pte[i] = 0 */
	PV_MMU_PIN = 5,         /* ptep = gpa of a page: validate it as a table of level */
	PV_MMU_UNPIN = 6,       /* ptep = gpa of a pinned page: release it */
	PV_MMU_FLUSH_TLB = 7,   /* val = first va, count = pages (0: everything) */
	PV_MMU_RELEASE = 8,     /* ptep = gpa of the first frame, count = frames (1..
				   PV_MMU_RELEASE_MAX): their contents are dead.  The VMM
				   drops them from host memory and swap and never writes
				   them back; the next access reads zeros.  level, val and
				   mask are ignored.  A frame outside RAM [out_of_range],
				   pinned or a ring page [busy] refuses the whole record. */
};

/* Frames one RELEASE record may name: 1 GiB. */
#define PV_MMU_RELEASE_MAX   (1u << 18)

/* Record status, written by the VMM.  Each nonzero one has a JSON counter
 * pvmmu.rejected_by_reason.<name> (names in brackets). */
enum pv_mmu_status {
	PV_MMU_OK = 0,
	PV_MMU_E_OP = 1,        /* unknown opcode [bad_op] */
	PV_MMU_E_LEVEL = 2,     /* level not 1..4 [bad_level] */
	PV_MMU_E_ALIGN = 3,     /* PTE address not 8-aligned, page (PIN, UNPIN, RELEASE) not
				   4K-aligned [unaligned] */
	PV_MMU_E_RANGE = 4,     /* address outside RAM, or the run leaves its table [out_of_range] */
	PV_MMU_E_COUNT = 5,     /* count 0 or too large for the op [bad_count] */
	PV_MMU_E_NOTPINNED = 6, /* PTE not in a table pinned at this level [not_pinned] */
	PV_MMU_E_FRAME = 7,     /* frame outside RAM or misaligned for the page size [bad_frame] */
	PV_MMU_E_FLAGS = 8,     /* reserved bits, PS at a wrong level, bad protect mask [bad_flags] */
	PV_MMU_E_WRPT = 9,      /* writable mapping of a pinned page-table page [writable_pt] */
	PV_MMU_E_WRRING = 10,   /* writable mapping of a ring page [writable_ring] */
	PV_MMU_E_NOTTABLE = 11, /* non-leaf entry to a page not pinned one level down [not_table] */
	PV_MMU_E_BUSY = 12,     /* pin of a pinned, ring or writably mapped page; unpin of a
				   referenced or unpinned table; release of a pinned or
				   ring page [busy] */
	PV_MMU_E_RING = 13,     /* header count larger than the ring [bad_ring] */
	PV_MMU_E_NORING = 14,   /* doorbell before setup [no_ring] */
	PV_MMU_NR_STATUS
};

/* One record: 32 bytes. */
struct pv_mmu_rec {
	/* IN */
	uint8_t op;             /* enum pv_mmu_op */
	uint8_t level;          /* 1 (4 KiB PTEs) .. 4 (PML4 entries) */
	/* OUT */
	int16_t status;         /* enum pv_mmu_status */
	/* IN */
	uint32_t count;         /* PTEs in the run (1..PV_MMU_RANGE_MAX) */
	uint64_t ptep;          /* gpa of the first PTE, or of the page (PIN, UNPIN) */
	uint64_t val;
	uint64_t mask;          /* PROTECT: bits to clear; else 0 */
};
_Static_assert(sizeof(struct pv_mmu_rec) == 32, "pv_mmu_rec ABI");

/* TLB flush the guest must perform after a doorbell (hdr.flush). */
#define PV_MMU_FLUSH_NONE    0
#define PV_MMU_FLUSH_RANGE   1   /* [flush_va, flush_va + flush_pages * 4096) */
#define PV_MMU_FLUSH_ALL     2

/* The ring: this header, then nr_records records, from a page-aligned gpa. */
struct pv_mmu_ring {
	/* IN */
	uint32_t count;         /* records queued for this doorbell */
	uint32_t reserved0;
	/* OUT */
	uint32_t processed;     /* records consumed: == count unless status != OK */
	uint32_t rejected;      /* records whose status is not PV_MMU_OK */
	int32_t status;         /* PV_MMU_OK, or PV_MMU_E_RING / PV_MMU_E_NORING */
	uint32_t flush;         /* PV_MMU_FLUSH_*: the union of this batch's FLUSH_TLB records */
	uint64_t flush_va;
	uint64_t flush_pages;
	uint64_t reserved1[3];
	struct pv_mmu_rec rec[];
};
_Static_assert(sizeof(struct pv_mmu_ring) == 64, "pv_mmu_ring ABI");

struct pv_mmu_setup {
	/* IN */
	uint32_t version;       /* PV_ABI_VERSION */
	uint32_t nr_records;    /* 1..PV_MMU_RING_MAX */
	uint64_t ring_gpa;      /* page-aligned, inside RAM, not pinned, not mapped writable
				   by a pinned table */
	/* OUT */
	int32_t status;         /* PV_OK, PV_EVERSION, PV_EINVAL, PV_EFAULT */
	uint32_t reserved;
};
_Static_assert(sizeof(struct pv_mmu_setup) == 24, "pv_mmu_setup ABI");

#endif /* PAGEVISOR_PVMMU_H */
