/*
 * The balloon driver (mm/balloon.c): RAM the guest gives back to the host,
 * in aligned 2 MiB units (PV_HC_BALLOON, pagevisor/abi.h).  The driver
 * holds frames it took from the frame allocator (frame_alloc_2m) and
 * INFLATEd; DEFLATE hands them back to the allocator, where they read as
 * zeros.  Adjacent frames travel as one range, up to PV_BALLOON_RANGES
 * ranges per hypercall.  The held set is a bitmap in kernel .bss: the
 * frames themselves are never touched (a touch would make the host back
 * them again).  Ring 3 preferred (the loops are native there); any CPL works.
 */
#ifndef GK_BALLOON_H
#define GK_BALLOON_H

#include <stdint.h>
#include <pagevisor/abi.h>

/* Every balloon hypercall this kernel made (the VMM's balloon.* count them too). */
struct balloon_stats {
	uint64_t requests;              /* PV_HC_BALLOON calls, QUERY included */
	uint64_t inflated_bytes;        /* by accepted INFLATEs */
	uint64_t deflated_bytes;        /* by accepted DEFLATEs */
};
extern struct balloon_stats balloon_stats;

/*
 * Boot, after frame_init (ring 3, before workload setup, so that setups
 * that size themselves by free memory see the balloon): QUERY the target
 * and inflate to it, rounded up to 2 MiB units.  A target the allocator
 * cannot meet inflates what it can and prints one line.  A refused request
 * fails the VM.
 */
void balloon_init(void);

/* QUERY now: the status; the reply (target_bytes, current_bytes) in *out. */
int balloon_query(struct pv_balloon *out);

/* The target the boot QUERY returned (bytes; 0: none set). */
uint64_t balloon_target(void);

/*
 * Take up to bytes (rounded up to 2 MiB units) from the frame allocator and
 * inflate them; the bytes inflated (less when the allocator runs out).
 */
uint64_t balloon_inflate(uint64_t bytes);

/*
 * Deflate up to bytes (rounded up to units) of what the driver holds and
 * give the frames back to the allocator; the bytes deflated.
 */
uint64_t balloon_deflate(uint64_t bytes);

/* Bytes the driver holds. */
uint64_t balloon_held(void);

/*
 * For callers that balloon frames of their own (the driver does not hold
 * them): op (PV_BALLOON_INFLATE or _DEFLATE) on the n 2 MiB frames in
 * frames[], adjacent ones merged into one range, PV_BALLOON_RANGES ranges a
 * hypercall.  PV_OK, or the first failing status (the calls before it took
 * effect).  *out, unless NULL: the last reply.
 */
int balloon_frames(uint32_t op, const uint64_t *frames, uint64_t n, struct pv_balloon *out);

/* When a target was set: metrics balloon_target_bytes and balloon_held_bytes. */
void balloon_report(void);

#endif
