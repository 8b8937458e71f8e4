/* SPDX-License-Identifier: MIT */
/*
 * The VMM side of the paravirtual MMU channel (pagevisor/pvmmu.h): the
 * record validator, the bookkeeping of pinned page-table pages and rings,
 * and the doorbell.  Free of KVM and of struct vm, so unit tests drive it
 * with nothing but guest RAM.
 *
 * Per 4 KiB frame of guest RAM it keeps what the frame is (nothing, a table
 * pinned at level 1..4, or a ring page), how many entries of pinned tables
 * point at it as a table (refs), and how many writable leaf entries of
 * pinned tables map it, at the leaf's own granularity (wr4k per frame, wr2m
 * per 2 MiB, wr1g per 1 GiB), plus per 2 MiB and 1 GiB region the number of
 * pinned and ring pages inside.  So every check of one entry is O(1): a
 * frame is mapped writable iff wr4k[f], wr2m[f >> 9] or wr1g[f >> 18] is nonzero,
 * and a writable 2M or 1G leaf covers a pinned page iff its region's count
 * is nonzero.
 *
 * Only the effects of entries of pinned tables are counted.  The VMM keeps
 * no copy of the tables: an entry's old value is read from guest memory.  A
 * guest that writes a pinned table behind the channel's back only spoils its
 * own accounting: removing an old value checks its frame against RAM and
 * never takes a count below zero, so the VMM stays within its arrays and
 * within guest RAM whatever the tables hold.
 */
#ifndef PV_VMM_PVMMU_H
#define PV_VMM_PVMMU_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "mmu/guestmem.h"
#include "pagevisor/pvmmu.h"

struct json;

/* kind[] values: 0 free, 1..4 a table pinned at that level, or a ring page. */
#define PVMMU_KIND_NONE     0u
#define PVMMU_KIND_RING     5u

/*
 * At most this many pinned pages, so that no count (bounded by the entries
 * of all pinned tables, 512 each) can pass UINT32_MAX.  32 GiB of tables.
 */
#define PVMMU_PINNED_MAX    ((UINT32_MAX / PV_MMU_RANGE_MAX) - 1u)

/* A FLUSH_TLB envelope wider than this many pages becomes a full flush. */
#define PVMMU_FLUSH_RANGE_MAX 64u

struct pvmmu_counters {
	uint64_t doorbells;     /* PV_HC_MMU_FLUSH hypercalls */
	uint64_t records;       /* records consumed (applied + rejected) */
	uint64_t applied;
	uint64_t rejected;
	uint64_t ptes_written;  /* entries stored by SET, MAP, PROTECT, CLEAR */
	uint64_t pins, unpins, flushes;
	uint64_t setups;        /* PV_HC_MMU_SETUP hypercalls (refused ones too) */
	uint64_t released_requests, released_pages;     /* applied RELEASE records, their frames */
	uint64_t prefault_runs; /* runs of mapped frames handed to guestmem_prefault */
	/*
	 * Per status.  Record statuses count records; PV_MMU_E_RING and
	 * PV_MMU_E_NORING count refused doorbells (they are not in rejected).
	 */
	uint64_t by_reason[PV_MMU_NR_STATUS];
};

struct pvmmu {
	const struct guestmem *mem;
	uint64_t nr_frames;     /* 4 KiB frames of guest RAM */
	uint8_t *kind;          /* [nr_frames] */
	uint32_t *refs;         /* [nr_frames] entries pointing here as a table */
	uint32_t *wr4k;         /* [nr_frames] writable 4K leaves mapping this frame */
	uint32_t *wr2m;         /* [2M regions] writable 2M leaves mapping the region */
	uint32_t *wr1g;         /* [1G regions] writable 1G leaves mapping the region */
	uint16_t *pt2m, *ring2m; /* [2M regions] pinned / ring pages inside */
	uint32_t *pt1g, *ring1g; /* [1G regions] pinned / ring pages inside */
	uint32_t nr_pinned;
	/* frames that SET/MAP records mapped, not yet handed to guestmem_prefault */
	uint64_t pf_first, pf_n;
	pthread_mutex_t lock;   /* held by each doorbell and setup */
	struct pvmmu_counters c;
};

/* One vCPU's ring: nr 0 until the vCPU's first successful setup. */
struct pvmmu_ring_state {
	uint64_t gpa;
	uint32_t nr;
};

/* The TLB flush a batch asks for (the header's flush, flush_va, flush_pages). */
struct pvmmu_flush {
	uint32_t mode;          /* PV_MMU_FLUSH_* */
	uint64_t va, end;       /* PV_MMU_FLUSH_RANGE: [va, end), page-aligned */
};

/* Allocate the per-frame state for all of @mem.  Returns 0 or -ENOMEM. */
int pvmmu_init(struct pvmmu *m, const struct guestmem *mem);
/* Free it.  Safe on a zeroed struct and twice. */
void pvmmu_destroy(struct pvmmu *m);

/*
 * PV_HC_MMU_SETUP with @s copied out of guest RAM: register @rs's ring of
 * s->nr_records records at page-aligned s->ring_gpa.  Its pages must be
 * inside RAM, neither pinned nor another vCPU's ring, and not mapped
 * writable by a pinned table.  A new setup releases the vCPU's old ring; a
 * refused one leaves it in place.  Returns PV_OK, PV_EVERSION, PV_EINVAL
 * (count, alignment, pages in use) or PV_EFAULT (outside RAM).  Takes
 * m->lock.
 */
int pvmmu_setup(struct pvmmu *m, struct pvmmu_ring_state *rs, const struct pv_mmu_setup *s);

/*
 * Validate @rec as a whole, then apply it (a rejected record changes
 * nothing), and count it.  FLUSH_TLB records widen @acc.  Returns an enum
 * pv_mmu_status.  The caller holds m->lock (or is the only thread).
 */
int pvmmu_apply(struct pvmmu *m, const struct pv_mmu_rec *rec, struct pvmmu_flush *acc);

/*
 * PV_HC_MMU_FLUSH: process @rs's ring.  Copy the header's count once, then
 * each record once, apply it, write its status back, and fill the header's
 * OUT fields.  A count above the ring's size is refused whole (status
 * PV_MMU_E_RING, nothing applied).  Without a ring there is nowhere to
 * answer: only counted (no_ring).  Returns the header status.  Takes m->lock.
 */
int pvmmu_doorbell(struct pvmmu *m, const struct pvmmu_ring_state *rs);

/*
 * Frames SET and MAP records map (present leaves) are gathered into runs
 * and handed to guestmem_prefault() (swap mode brings them in before the
 * guest touches them); a doorbell hands over the last run before it
 * returns.  For callers of pvmmu_apply() outside a doorbell: hand it over
 * now.  The caller holds m->lock (or is the only thread).
 */
void pvmmu_prefault_flush(struct pvmmu *m);

/*
 * Whether frames [@f, @f + @n) (inside RAM) hold no pinned table and no
 * ring page: O(1) per 2 MiB region without one.  The caller holds m->lock.
 */
bool pvmmu_frames_free(const struct pvmmu *m, uint64_t f, uint64_t n);

/* True when a leaf entry of a pinned table maps frame @f writable. */
static inline int pvmmu_mapped_writable(const struct pvmmu *m, uint64_t f)
{
	return (m->wr4k[f] | m->wr2m[f >> 9] | m->wr1g[f >> 18]) != 0;
}

/* "bad_op" ... "no_ring" for a nonzero status; NULL otherwise. */
const char *pvmmu_status_name(int status);

/* The pvmmu object of the JSON report, and one table line. */
void pvmmu_json(struct json *j, const struct pvmmu *m, const char *mode);
void pvmmu_print(FILE *f, const struct pvmmu *m, const char *mode);

#endif
