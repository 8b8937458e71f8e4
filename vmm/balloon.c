/* SPDX-License-Identifier: MIT */
#include "vmm/balloon.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/pvmmu.h"

#define BALLOON_UNIT_SHIFT 21

int balloon_init(struct balloon *b, const struct guestmem *mem, struct pvmmu *m, uint64_t target)
{
	memset(b, 0, sizeof(*b));
	b->nr_units = mem->size >> BALLOON_UNIT_SHIFT;
	b->held = calloc((b->nr_units + 63) / 64 + 1, sizeof(*b->held));
	if (!b->held)
		return -ENOMEM;
	b->mem = mem;
	b->pvmmu = m;
	b->target = target;
	return 0;
}

void balloon_destroy(struct balloon *b)
{
	free(b->held);
	memset(b, 0, sizeof(*b));
}

static bool balloon_holds(const struct balloon *b, uint64_t u)
{
	return (b->held[u / 64] >> (u % 64)) & 1;
}

static void balloon_mark(struct balloon *b, uint64_t u, bool held)
{
	if (held)
		b->held[u / 64] |= 1ull << (u % 64);
	else
		b->held[u / 64] &= ~(1ull << (u % 64));
}

/* One range alone: its shape and place.  A status. */
static int32_t balloon_check_range(const struct balloon *b, const struct pv_balloon_range *r)
{
	if (!r->size || (r->gpa | r->size) & (PV_BALLOON_UNIT - 1))
		return PV_EINVAL;
	if (!guestmem_range_ok(b->mem->size, r->gpa, r->size))
		return PV_EFAULT;
	return PV_OK;
}

/* Whether ranges @a and @b (both inside RAM) share a byte. */
static bool balloon_overlap(const struct pv_balloon_range *a, const struct pv_balloon_range *b)
{
	return a->gpa < b->gpa + b->size && b->gpa < a->gpa + a->size;
}

/* The whole request, before anything changes (PV MMU lock held).  A status. */
static int32_t balloon_check(const struct balloon *b, const struct pv_balloon *req)
{
	bool inflate = req->op == PV_BALLOON_INFLATE;
	int32_t worst = PV_OK, st[PV_BALLOON_RANGES];

	if (req->count == 0 || req->count > PV_BALLOON_RANGES)
		return PV_EINVAL;
	/* shape and place first, so that the status does not depend on the range order */
	for (uint32_t k = 0; k < req->count; k++) {
		st[k] = balloon_check_range(b, &req->range[k]);
		if (st[k] == PV_EINVAL)
			return st[k];
		if (st[k] != PV_OK)
			worst = st[k];
		for (uint32_t q = 0; st[k] == PV_OK && q < k; q++)
			if (st[q] == PV_OK && balloon_overlap(&req->range[q], &req->range[k]))
				return PV_EINVAL;
	}
	if (worst != PV_OK)
		return worst;
	for (uint32_t k = 0; k < req->count; k++) {
		uint64_t u0 = req->range[k].gpa >> BALLOON_UNIT_SHIFT;
		uint64_t nu = req->range[k].size >> BALLOON_UNIT_SHIFT;

		if (!pvmmu_frames_free(b->pvmmu, req->range[k].gpa >> 12, req->range[k].size >> 12))
			return PV_EBUSY;
		for (uint64_t u = u0; u < u0 + nu; u++)
			if (balloon_holds(b, u) == inflate)
				return PV_EBUSY;
	}
	return PV_OK;
}

int32_t balloon_request(struct balloon *b, struct pv_balloon *req)
{
	struct pvmmu *m = b->pvmmu;
	int32_t st = PV_OK;

	pthread_mutex_lock(&m->lock);
	b->c.requests++;
	if (req->version != PV_ABI_VERSION)
		st = PV_EVERSION;
	else if (req->op == PV_BALLOON_QUERY)
		st = req->count ? PV_EINVAL : PV_OK;
	else if (req->op != PV_BALLOON_INFLATE && req->op != PV_BALLOON_DEFLATE)
		st = PV_EINVAL;
	else
		st = balloon_check(b, req);
	for (uint32_t k = 0; st == PV_OK && req->op != PV_BALLOON_QUERY && k < req->count; k++) {
		const struct pv_balloon_range *r = &req->range[k];
		bool inflate = req->op == PV_BALLOON_INFLATE;

		/* dropped either way: deflated memory reads as zeros whatever the guest did */
		if (guestmem_release(b->mem, r->gpa, r->size)) {
			st = PV_EFAULT;         /* the VM is ending; the units done so far stay */
			break;
		}
		for (uint64_t u = r->gpa >> BALLOON_UNIT_SHIFT;
		     u < (r->gpa + r->size) >> BALLOON_UNIT_SHIFT; u++)
			balloon_mark(b, u, inflate);
		if (inflate) {
			b->current += r->size;
			b->c.inflated += r->size;
		} else {
			b->current -= r->size;
			b->c.deflated += r->size;
		}
	}
	if (st != PV_OK)
		b->c.rejected++;
	req->status = st;
	req->target_bytes = b->target;
	req->current_bytes = b->current;
	pthread_mutex_unlock(&m->lock);
	return st;
}

unsigned balloon_metrics(const struct balloon *b, struct metric *m, unsigned max)
{
	struct metric all[BALLOON_METRICS] = {
		METRIC_U64_AT("balloon", "target_bytes", b->target),
		METRIC_U64_AT("balloon", "current_bytes", b->current),
		METRIC_U64_AT("balloon", "inflated_bytes", b->c.inflated),
		METRIC_U64_AT("balloon", "deflated_bytes", b->c.deflated),
		METRIC_U64_AT("balloon", "requests", b->c.requests),
		METRIC_U64_AT("balloon", "rejected", b->c.rejected),
	};
	unsigned n = max < BALLOON_METRICS ? max : BALLOON_METRICS;

	memcpy(m, all, n * sizeof(*m));
	return BALLOON_METRICS;
}
