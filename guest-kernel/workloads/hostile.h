/*
 * The hostile workload's shared state: hostile.c (driver, hypercall structs,
 * ports, MMIO, the final assertion), hostile_mmu.c (the PV MMU channel
 * against a model of its documented rules) and hostile_balloon.c (the
 * balloon and meminfo hypercalls, likewise).  Ring 3 only.
 */
#ifndef GK_WORKLOADS_HOSTILE_H
#define GK_WORKLOADS_HOSTILE_H

#include <stdbool.h>
#include <stdint.h>
#include <pagevisor/pvmmu.h>

#define HS_STATUS_BIT(s) (1u << (s))
#define HM_UNIV 16              /* frames at the start of the PV MMU chunk: the tables */

/*
 * The 2 MiB chunks the workload owns (identity-mapped: address == gpa).
 * Every byte of them the VMM may see holds a seeded pattern (the PV MMU
 * universe: the model's entries) except while a call is being checked, so
 * a stray write anywhere shows at the end.
 */
struct hs_mem {
	uint64_t ram_end;
	uint64_t arena;         /* A: struct placements in the first half */
	uint64_t mmu;           /* P: PV MMU universe, data frames, ring area */
	uint64_t end;           /* E: the last chunk of RAM */
	uint64_t witness;       /* W: never handed to the VMM */
	uint64_t scratch;       /* S: snapshots and the model's copy (not checked) */
	uint64_t unit;          /* U: the balloon unit it inflates and deflates (not checked) */
	bool end_ok;            /* gpas around the end of RAM fit in a 32-bit argument */
};

/* What was sent and checked; the VMM's JSON counters are compared with these. */
struct hs_counts {
	uint64_t calls;         /* port and MMIO accesses (each one exit) */
	uint64_t checks, errors;
	uint64_t hc_bad;        /* requests hypercalls.bad must count */
	uint64_t port_unknown;  /* accesses exits.unknown_port must count */
	uint64_t port_edge;     /* accesses the docs leave open: bad, unknown or neither */
	uint64_t mmio;          /* accesses exits.unknown_mmio must count */
	uint64_t mmio_split;    /* page-crossing accesses: one or two MMIO exits */
	uint64_t doorbells, records, rejected;
	uint64_t reason[PV_MMU_NR_STATUS];      /* records (and refused doorbells) per status */
	uint64_t released_recs, released_pages; /* RELEASE records applied, their frames */
	uint64_t release_rejected;              /* RELEASE records rejected (in reason[] too) */
	uint64_t balloon_requests;              /* PV_HC_BALLOON calls, the struct inside RAM */
	uint64_t balloon_rejected;              /* of those: refused with a status */
	uint64_t balloon_outside;               /* calls with the struct outside RAM (hc_bad) */
	uint64_t balloon_inflated, balloon_deflated;    /* bytes of accepted requests */
};

extern struct hs_mem hs_mem;
extern struct hs_counts hs_n;

uint64_t hs_rand(void);

static inline uint64_t hs_below(uint64_t n)
{
	return n ? hs_rand() % n : 0;
}

static inline bool hs_pct(unsigned p)
{
	return hs_rand() % 100 < p;
}

/* One of the values, at random (all of them are evaluated). */
#define HS_PICK(...)                                                         \
	({                                                                   \
		const uint64_t _v[] = { __VA_ARGS__ };                       \
		_v[hs_below(sizeof(_v) / sizeof(_v[0]))];                    \
	})

/* Count a check; a failed one is an error, printed (the first few). */
bool __attribute__((format(printf, 2, 3))) hs_check(bool ok, const char *fmt, ...);

/* Whether [gpa, gpa + len) lies inside RAM (no wrap). */
static inline bool hs_in_ram(uint64_t gpa, uint64_t len)
{
	return gpa < hs_mem.ram_end && len <= hs_mem.ram_end - gpa;
}

/* The first address of [lo, hi) (8-aligned) not holding the seeded pattern, or hi. */
uint64_t hs_pattern_find(uint64_t lo, uint64_t hi);

/* A version number the ABI does not have. */
uint32_t hs_bad_version(void);

/* Put the workload's bytes in [lo, hi) back as they were before any call. */
void hs_restore(uint64_t lo, uint64_t hi);

/*
 * Snapshots (one at a time, at most HS_SNAP_MAX bytes): copy [lo, hi);
 * after the call, accept the bytes that may change (OUT fields), then
 * compare.
 */
#define HS_SNAP_MAX (160u << 10)
void hs_snap(uint64_t lo, uint64_t hi);
#define HS_SAME (~0ull)
void hs_snap_accept(uint64_t a, uint64_t len);
uint64_t hs_snap_diff(void);    /* the first address that differs, or HS_SAME */
/* The snapshot's copy of address a (inside the snapshot's range). */
void *hs_snap_at(uint64_t a);

/* An OUT field of a struct: offset and length. */
struct hs_allow {
	uint32_t off, len;
};

/*
 * Send the struct image img (size bytes, OUT fields set to canaries) to
 * port at a random place (hs_place); check that nothing but the OUT fields
 * changed and copy their new bytes into img.  Whether the struct was
 * inside RAM (if not, it counts in hc_bad).
 */
bool hs_struct_call(uint16_t port, void *img, uint32_t size, const struct hs_allow *out,
		    unsigned nout, const char *what);

/* The null page (gpa 0) as a pointer the compiler cannot reason about. */
static inline uint8_t *hs_null(void)
{
	uintptr_t z = 0;

	__asm__("" : "+r"(z));
	return (uint8_t *)z;
}

/* hostile_mmu.c */
void hm_init(void);
void hm_setup_fill(struct pv_mmu_setup *s, uint32_t *expect);
void hm_setup_done(const struct pv_mmu_setup *s, bool in_ram, int32_t status);
void hm_doorbell(void);
void hm_scribble(void);
/* Before and after a write that must not ring the doorbell (a wrong width). */
void hm_quiet_arm(void);
void hm_quiet_check(const char *what);
/* Unpin and clear the universe, give the guest its own ring back; 0 or -1. */
int hm_finish(void);
/* The universe matches the model (after hm_finish: cleared tables). */
void hm_verify_memory(const char *when);
/* Whether a universe frame inside [lo, lo + len) is pinned. */
bool hm_pinned_in(uint64_t lo, uint64_t len);
/* Whether [lo, lo + len) touches a page of the vCPU's ring; its gpa (~0: none). */
bool hm_ring_in(uint64_t lo, uint64_t len);
uint64_t hm_ring_at(void);

/* hostile_balloon.c */
void hb_balloon_call(void);
void hb_meminfo_call(void);
/* Deflate the unit if it is inflated (the balloon is as the kernel left it). */
void hb_finish(void);

#endif
