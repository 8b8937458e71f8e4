/* SPDX-License-Identifier: MIT */
/*
 * The balloon (PV_HC_BALLOON, pagevisor/abi.h): guest RAM handed back to
 * the host and taken again in aligned 2 MiB units, so a host huge page is
 * given back whole.  Free of KVM and of struct vm: unit tests drive it
 * with guest RAM and the PV MMU state alone.
 *
 * One bit per 2 MiB unit of RAM says whether the balloon holds it.  A
 * request is checked whole, under the PV MMU channel's lock (a unit holding
 * a pinned table or a ring is refused, and no doorbell can pin one into it
 * meanwhile), then applied: each range's memory is dropped from the host
 * (guestmem_release: the memfd and, in swap mode, swap) on inflate, and
 * again on deflate, so that deflated memory reads as zeros even if the
 * guest touched it while the balloon held it.
 */
#ifndef PV_VMM_BALLOON_H
#define PV_VMM_BALLOON_H

#include <stdint.h>

#include "mmu/guestmem.h"
#include "mmu/metric.h"
#include "pagevisor/abi.h"

struct pvmmu;

struct balloon_counters {
	uint64_t requests;      /* PV_HC_BALLOON hypercalls, QUERY included */
	uint64_t rejected;      /* requests refused with a status (nothing changed) */
	uint64_t inflated, deflated;    /* bytes */
};

struct balloon {
	const struct guestmem *mem;
	struct pvmmu *pvmmu;
	uint64_t target;        /* bytes: --balloon */
	uint64_t nr_units;      /* 2 MiB units of RAM */
	uint64_t *held;         /* [nr_units / 64]: the balloon holds the unit */
	uint64_t current;       /* bytes held */
	struct balloon_counters c;      /* under pvmmu->lock */
};

/* For @mem, checked against @m's pinned set, with a target of @target bytes.  0 or -ENOMEM. */
int balloon_init(struct balloon *b, const struct guestmem *mem, struct pvmmu *m, uint64_t target);
void balloon_destroy(struct balloon *b);

/*
 * PV_HC_BALLOON with @req copied out of guest RAM: validate it whole, apply
 * it, and fill its OUT part (status, target_bytes, current_bytes).  Returns
 * the status.  Takes the PV MMU lock.
 */
int32_t balloon_request(struct balloon *b, struct pv_balloon *req);

#define BALLOON_METRICS 6
/* The "balloon" object of the report, into @m (room for @max).  Returns BALLOON_METRICS. */
unsigned balloon_metrics(const struct balloon *b, struct metric *m, unsigned max);

#endif
