/*
 * The balloon driver (contract: gk/balloon.h, pagevisor/abi.h).
 *
 * Requests are built as batches of ranges: a unit adjacent to the last
 * range extends it, so frames the allocator hands out in order (lowest
 * first) go out as one range, and a whole target is usually one hypercall.
 * A batch is sent when a 17th range would be needed, and at the end.  The
 * driver's own requests must be accepted: the VMM refusing one means the
 * driver's view of the balloon is wrong, so it fails the VM, as a rejected
 * PV MMU record does.
 */
#include <stdbool.h>
#include <pagevisor/abi.h>
#include <gk/assert.h>
#include <gk/balloon.h>
#include <gk/hypercall.h>
#include <gk/mm.h>
#include <gk/printf.h>
#include <gk/report.h>

#define BALLOON_UNITS (PV_RAM_MAX / PV_BALLOON_UNIT)
#define BALLOON_WORDS (BALLOON_UNITS / 64)

struct balloon_stats balloon_stats;

static uint64_t balloon_map[BALLOON_WORDS];     /* 1 = the driver holds the unit */
static uint64_t balloon_units;                  /* units held */
static uint64_t balloon_tgt;                    /* the boot QUERY's target */

struct balloon_batch {
	uint32_t op;                    /* PV_BALLOON_INFLATE or _DEFLATE */
	uint32_t n;                     /* ranges */
	bool driver;                    /* the driver's own frames: keep the held set */
	struct pv_balloon *out;         /* the last reply, or NULL */
	struct pv_balloon_range r[PV_BALLOON_RANGES];
};

static uint64_t balloon_units_of(uint64_t bytes)
{
	return bytes / PV_BALLOON_UNIT + (bytes % PV_BALLOON_UNIT != 0);
}

/* The driver's INFLATE or DEFLATE of r took effect: update the held set. */
static void balloon_track(const struct balloon_batch *b, const struct pv_balloon_range *r)
{
	for (uint64_t pa = r->gpa; pa < r->gpa + r->size; pa += PV_BALLOON_UNIT) {
		uint64_t u = pa / PV_BALLOON_UNIT;

		if (b->op == PV_BALLOON_INFLATE) {
			balloon_map[u / 64] |= 1ull << (u % 64);
			balloon_units++;
		} else {
			balloon_map[u / 64] &= ~(1ull << (u % 64));
			balloon_units--;
			frame_free_2m(pa);      /* only now: the host has let it go */
		}
	}
}

/* Send the batch (nothing queued: PV_OK); it is empty afterwards. */
static int balloon_flush(struct balloon_batch *b)
{
	struct pv_balloon reply;
	uint64_t bytes = 0;
	int st;

	if (!b->n)
		return PV_OK;
	st = hc_balloon(b->op, b->r, b->n, &reply);
	balloon_stats.requests++;
	if (b->out)
		*b->out = reply;
	GUEST_ASSERTF(st == PV_OK || !b->driver,
		      "balloon: %s of %u ranges (first 0x%lx, %lu bytes) refused: status %d",
		      b->op == PV_BALLOON_INFLATE ? "INFLATE" : "DEFLATE", b->n,
		      (unsigned long)b->r[0].gpa, (unsigned long)b->r[0].size, st);
	if (st == PV_OK) {
		for (uint32_t i = 0; i < b->n; i++) {
			bytes += b->r[i].size;
			if (b->driver)
				balloon_track(b, &b->r[i]);
		}
		if (b->op == PV_BALLOON_INFLATE)
			balloon_stats.inflated_bytes += bytes;
		else
			balloon_stats.deflated_bytes += bytes;
	}
	b->n = 0;
	return st;
}

/* Add the unit at pa; a full batch is sent first (its status, else PV_OK). */
static int balloon_add(struct balloon_batch *b, uint64_t pa)
{
	struct pv_balloon_range *last = b->n ? &b->r[b->n - 1] : NULL;
	int st = PV_OK;

	if (last && last->gpa + last->size == pa) {
		last->size += PV_BALLOON_UNIT;
		return PV_OK;
	}
	if (b->n == PV_BALLOON_RANGES)
		st = balloon_flush(b);
	b->r[b->n].gpa = pa;
	b->r[b->n].size = PV_BALLOON_UNIT;
	b->n++;
	return st;
}

int balloon_frames(uint32_t op, const uint64_t *frames, uint64_t n, struct pv_balloon *out)
{
	struct balloon_batch b = { .op = op, .out = out };

	for (uint64_t i = 0; i < n; i++) {
		int st = balloon_add(&b, frames[i]);

		if (st != PV_OK)
			return st;
	}
	return balloon_flush(&b);
}

uint64_t balloon_inflate(uint64_t bytes)
{
	struct balloon_batch b = { .op = PV_BALLOON_INFLATE, .driver = true };
	uint64_t want = balloon_units_of(bytes), got = 0, pa;

	while (got < want && (pa = frame_alloc_2m())) {
		balloon_add(&b, pa);
		got++;
	}
	balloon_flush(&b);
	return got * PV_BALLOON_UNIT;
}

uint64_t balloon_deflate(uint64_t bytes)
{
	struct balloon_batch b = { .op = PV_BALLOON_DEFLATE, .driver = true };
	uint64_t want = balloon_units_of(bytes), got = 0;

	for (uint64_t w = 0; w < BALLOON_WORDS && got < want; w++) {
		/* A copy: flushing a full batch frees units and clears their bits. */
		for (uint64_t bits = balloon_map[w]; bits && got < want; bits &= bits - 1) {
			balloon_add(&b, (w * 64 + (uint64_t)__builtin_ctzll(bits)) * PV_BALLOON_UNIT);
			got++;
		}
	}
	balloon_flush(&b);
	return got * PV_BALLOON_UNIT;
}

uint64_t balloon_held(void)
{
	return balloon_units * PV_BALLOON_UNIT;
}

uint64_t balloon_target(void)
{
	return balloon_tgt;
}

int balloon_query(struct pv_balloon *out)
{
	balloon_stats.requests++;
	return hc_balloon(PV_BALLOON_QUERY, NULL, 0, out);
}

void balloon_init(void)
{
	struct pv_balloon q;
	uint64_t got;
	int st;

	st = balloon_query(&q);
	GUEST_ASSERTF(st == PV_OK, "balloon: QUERY refused: status %d", st);
	balloon_tgt = q.target_bytes;
	if (!balloon_tgt)
		return;
	got = balloon_inflate(balloon_tgt);
	if (got < balloon_units_of(balloon_tgt) * PV_BALLOON_UNIT)
		printf("guest: balloon: target %lu KiB, inflated %lu KiB: no more free 2 MiB frames\n",
		       (unsigned long)(balloon_tgt >> 10), (unsigned long)(got >> 10));
}

void balloon_report(void)
{
	if (!balloon_tgt)
		return;
	report("balloon_target_bytes", (int64_t)balloon_tgt, 0);
	report("balloon_held_bytes", (int64_t)balloon_held(), 0);
}
