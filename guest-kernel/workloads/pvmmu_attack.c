/*
 * pvmmu_attack: a hostile guest.  Sends the VMM PV MMU records that break
 * each rule of pagevisor/pvmmu.h, one doorbell per kind of attack, and
 * checks that every one comes back with the expected status, that the
 * header counts them, that the ring header with an absurd count is refused
 * as a whole, that nothing the attacks aimed at changed (read back through
 * the identity map), and that a valid batch still works afterwards.
 *
 * Runs in ring 3 in every mode, with the ring registered (set up here if
 * the mode is off) and its own page-table pages: T1, T2, T4 pinned at
 * levels 1, 2 and 4, reachable from no CR3, so no TLB is involved; X a plain
 * frame that is never pinned; D a data frame.  Each record breaks exactly
 * one rule where it can.
 *
 * Metrics: attack_<reason> = records rejected with the expected status, per
 * reason named as in the VMM's pvmmu.rejected_by_reason.<reason> counters
 * (bad_ring counts the refused header); attack_rejected = their sum; errors
 * = mismatches of any kind.  Exit 0 iff errors == 0.
 */
#include <stdarg.h>
#include <pagevisor/pvmmu.h>
#include <gk/arch.h>
#include <gk/mm.h>
#include <gk/mmapi.h>
#include <gk/printf.h>
#include <gk/probe.h>
#include <gk/pvmmu.h>
#include <gk/report.h>
#include <gk/workload.h>
#include <gk/x86.h>

#define ATK_STATUS_UNSET 0x5a5a         /* the VMM must overwrite it */
#define ATK_X_PATTERN    0xa5a5a5a5deadbeefull

struct atk_rec {
	uint8_t op, level;
	uint32_t count;
	uint64_t ptep, val, mask;
	int16_t expect;
};

static uint64_t atk_t1, atk_t2, atk_t4, atk_x, atk_d, atk_ring, atk_end;
static uint64_t atk_errors, atk_total;

static void __attribute__((format(printf, 2, 3))) atk_error(const char *kind, const char *fmt, ...)
{
	va_list ap;

	atk_errors++;
	printf("pvmmu_attack: %s: ", kind);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

/* Fill the ring with n records, ring the bell; the number that matched. */
static uint64_t atk_send(const char *kind, const struct atk_rec *a, uint32_t n)
{
	struct pv_mmu_ring *h = pvmmu_ring;
	uint64_t matched = 0, rejected = 0;

	for (uint32_t i = 0; i < n; i++) {
		struct pv_mmu_rec *r = &h->rec[i];

		r->op = a[i].op;
		r->level = a[i].level;
		r->status = ATK_STATUS_UNSET;
		r->count = a[i].count;
		r->ptep = a[i].ptep;
		r->val = a[i].val;
		r->mask = a[i].mask;
		rejected += a[i].expect != PV_MMU_OK;
	}
	h->count = n;
	h->status = -1;
	h->processed = h->rejected = 0xdead;
	pvmmu_bell_raw();
	for (uint32_t i = 0; i < n; i++) {
		if (h->rec[i].status == a[i].expect) {
			matched += a[i].expect != PV_MMU_OK;
			continue;
		}
		atk_error(kind, "record %u: status %d, expected %d (op %u level %u count %u "
			  "ptep 0x%lx val 0x%lx mask 0x%lx)", i, h->rec[i].status, a[i].expect,
			  a[i].op, a[i].level, a[i].count, (unsigned long)a[i].ptep,
			  (unsigned long)a[i].val, (unsigned long)a[i].mask);
	}
	if (h->status != PV_MMU_OK || h->processed != n || h->rejected != rejected)
		atk_error(kind, "header: status %d, processed %u of %u, rejected %u of %lu",
			  h->status, h->processed, n, h->rejected, (unsigned long)rejected);
	h->count = 0;
	atk_total += matched;
	return matched;
}

/* Send the records given as arguments in one doorbell. */
#define ATK(kind, ...)                                                       \
	({                                                                   \
		struct atk_rec _a[] = { __VA_ARGS__ };                       \
		atk_send(kind, _a, sizeof(_a) / sizeof(_a[0]));              \
	})

#define REC(o, l, c, p, v, m, e) { (o), (l), (c), (p), (v), (m), (e) }

/* Setup: pin T1, T2, T4; T2[0] -> T1; T1[7] = the ring read-only, T1[8] = T2 read-only. */
static void atk_prepare(void)
{
	ATK("prepare",
	    REC(PV_MMU_PIN, 1, 1, atk_t1, 0, 0, PV_MMU_OK),
	    REC(PV_MMU_PIN, 2, 1, atk_t2, 0, 0, PV_MMU_OK),
	    REC(PV_MMU_PIN, 4, 1, atk_t4, 0, 0, PV_MMU_OK),
	    REC(PV_MMU_SET, 2, 1, atk_t2, atk_t1 | PTE_P | PTE_W | PTE_U, 0, PV_MMU_OK),
	    REC(PV_MMU_MAP, 1, 1, atk_t1 + 7 * 8, atk_ring | PTE_P | PTE_U, 0, PV_MMU_OK),
	    REC(PV_MMU_MAP, 1, 1, atk_t1 + 8 * 8, atk_t2 | PTE_P | PTE_U, 0, PV_MMU_OK));
}

/* Entries of T1, T2, T4 and the words of X as the prepare step left them. */
static void atk_verify_memory(const char *when)
{
	const uint64_t *t1 = (const uint64_t *)(uintptr_t)atk_t1;
	const uint64_t *t2 = (const uint64_t *)(uintptr_t)atk_t2;
	const uint64_t *t4 = (const uint64_t *)(uintptr_t)atk_t4;
	const uint64_t *x = (const uint64_t *)(uintptr_t)atk_x;

	for (unsigned i = 0; i < 512; i++) {
		uint64_t w1 = i == 7 ? (atk_ring | PTE_P | PTE_U) :
			      i == 8 ? (atk_t2 | PTE_P | PTE_U) : 0;
		uint64_t w2 = i == 0 ? (atk_t1 | PTE_P | PTE_W | PTE_U) : 0;

		if (t1[i] != w1)
			atk_error(when, "T1[%u] = 0x%lx changed", i, (unsigned long)t1[i]);
		if (t2[i] != w2)
			atk_error(when, "T2[%u] = 0x%lx changed", i, (unsigned long)t2[i]);
		if (t4[i])
			atk_error(when, "T4[%u] = 0x%lx changed", i, (unsigned long)t4[i]);
		if (x[i] != ATK_X_PATTERN)
			atk_error(when, "X[%u] = 0x%lx changed", i, (unsigned long)x[i]);
	}
}

static void atk_run(void)
{
	uint64_t t1 = atk_t1, t2 = atk_t2, t4 = atk_t4, x = atk_x, d = atk_d, ring = atk_ring;
	uint64_t end = atk_end, P = PTE_P, W = PTE_W, U = PTE_U, PS = PTE_PS;
	const int16_t E_RANGE = PV_MMU_E_RANGE, E_ALIGN = PV_MMU_E_ALIGN;
	struct pv_mmu_ring *h = pvmmu_ring;

	report("attack_out_of_range", (int64_t)ATK("out_of_range",
	    REC(PV_MMU_SET, 1, 1, end, d | P, 0, E_RANGE),                 /* beyond RAM */
	    REC(PV_MMU_SET, 1, 1, 0xfffffffffffff000ull, d | P, 0, E_RANGE),   /* near 2^64 */
	    REC(PV_MMU_SET, 1, 1, 0xfffffffffffffff8ull, d | P, 0, E_RANGE),
	    REC(PV_MMU_MAP, 1, 2, t1 + 511 * 8, d | P, 0, E_RANGE)),      /* leaves its table */
	    0);
	report("attack_unaligned", (int64_t)ATK("unaligned",
	    REC(PV_MMU_SET, 1, 1, t1 + 4, d | P, 0, E_ALIGN),
	    REC(PV_MMU_PIN, 1, 1, x + 8, 0, 0, E_ALIGN)), 0);
	report("attack_not_pinned", (int64_t)ATK("not_pinned",
	    REC(PV_MMU_SET, 1, 1, x, d | P, 0, PV_MMU_E_NOTPINNED),
	    REC(PV_MMU_SET, 2, 1, t1 + 8, 0, 0, PV_MMU_E_NOTPINNED)), 0); /* T1 is level 1 */
	report("attack_bad_frame", (int64_t)ATK("bad_frame",
	    REC(PV_MMU_MAP, 1, 1, t1, end | P, 0, PV_MMU_E_FRAME),
	    REC(PV_MMU_MAP, 1, 2, t1 + 2 * 8, (end - 4096) | P, 0, PV_MMU_E_FRAME),
	    /* a 2 MiB page at 1 MiB (bit 20; bit 12 would be PAT) */
	    REC(PV_MMU_SET, 2, 1, t2 + 1 * 8, 0x100000 | P | PS, 0, PV_MMU_E_FRAME)), 0);
	report("attack_bad_flags", (int64_t)ATK("bad_flags",
	    REC(PV_MMU_MAP, 1, 1, t1 + 3 * 8, d | P | PS, 0, PV_MMU_E_FLAGS),  /* PS at level 1 */
	    REC(PV_MMU_SET, 4, 1, t4, 0 | P | PS, 0, PV_MMU_E_FLAGS),          /* PS at level 4 */
	    REC(PV_MMU_MAP, 1, 1, t1 + 4 * 8, d | P | (1ull << 52), 0, PV_MMU_E_FLAGS),
	    REC(PV_MMU_PROTECT, 1, 1, t1 + 7 * 8, 0, P, PV_MMU_E_FLAGS),       /* P is no protect bit */
	    REC(PV_MMU_PROTECT, 1, 1, t1 + 7 * 8, PS, 0, PV_MMU_E_FLAGS)), 0);
	report("attack_writable_pt", (int64_t)ATK("writable_pt",
	    REC(PV_MMU_MAP, 1, 1, t1 + 5 * 8, t2 | P | W, 0, PV_MMU_E_WRPT),
	    REC(PV_MMU_MAP, 1, 1, t1 + 6 * 8, t4 | P | W | U, 0, PV_MMU_E_WRPT),
	    REC(PV_MMU_PROTECT, 1, 1, t1 + 8 * 8, W, 0, PV_MMU_E_WRPT)), 0);   /* T2, RO -> RW */
	report("attack_writable_ring", (int64_t)ATK("writable_ring",
	    REC(PV_MMU_MAP, 1, 1, t1 + 6 * 8, ring | P | W, 0, PV_MMU_E_WRRING),
	    REC(PV_MMU_MAP, 1, 1, t1 + 6 * 8, (ring + PVMMU_RING_BYTES - 4096) | P | W, 0,
		PV_MMU_E_WRRING),
	    REC(PV_MMU_PROTECT, 1, 1, t1 + 7 * 8, W, 0, PV_MMU_E_WRRING)), 0); /* ring, RO -> RW */
	report("attack_bad_op", (int64_t)ATK("bad_op",
	    REC(0, 1, 1, t1, d | P, 0, PV_MMU_E_OP),
	    REC(99, 1, 1, t1, d | P, 0, PV_MMU_E_OP)), 0);
	report("attack_bad_level", (int64_t)ATK("bad_level",
	    REC(PV_MMU_SET, 0, 1, t1, d | P, 0, PV_MMU_E_LEVEL),
	    REC(PV_MMU_SET, 5, 1, t1, d | P, 0, PV_MMU_E_LEVEL)), 0);
	report("attack_bad_count", (int64_t)ATK("bad_count",
	    REC(PV_MMU_MAP, 1, 0, t1, d | P, 0, PV_MMU_E_COUNT),
	    REC(PV_MMU_MAP, 1, PV_MMU_RANGE_MAX + 1, t1, d | P, 0, PV_MMU_E_COUNT)), 0);
	report("attack_not_table", (int64_t)ATK("not_table",
	    REC(PV_MMU_SET, 2, 1, t2 + 2 * 8, x | P | W | U, 0, PV_MMU_E_NOTTABLE),
	    REC(PV_MMU_SET, 2, 1, t2 + 3 * 8, t4 | P | W | U, 0, PV_MMU_E_NOTTABLE)), 0);
	report("attack_busy", (int64_t)ATK("busy",
	    REC(PV_MMU_UNPIN, 1, 1, t1, 0, 0, PV_MMU_E_BUSY),     /* T2[0] refers to it */
	    REC(PV_MMU_PIN, 1, 1, t1, 0, 0, PV_MMU_E_BUSY),       /* pinned already */
	    REC(PV_MMU_PIN, 1, 1, ring, 0, 0, PV_MMU_E_BUSY),     /* the ring */
	    REC(PV_MMU_UNPIN, 1, 1, x, 0, 0, PV_MMU_E_BUSY)), 0); /* never pinned */

	/* A header claiming 0xffffffff records: refused whole, nothing applied. */
	h->rec[0] = (struct pv_mmu_rec){ PV_MMU_SET, 1, ATK_STATUS_UNSET, 1, t1 + 9 * 8, d | P, 0 };
	h->count = 0xffffffffu;
	h->status = -1;
	h->processed = 0xdead;
	pvmmu_bell_raw();
	if (h->status == PV_MMU_E_RING && h->processed == 0 && h->rec[0].status == ATK_STATUS_UNSET) {
		report("attack_bad_ring", 1, 0);
		atk_total++;
	} else {
		report("attack_bad_ring", 0, 0);
		atk_error("bad_ring", "header status %d, processed %u, record status %d",
			  h->status, h->processed, h->rec[0].status);
	}
	h->count = 0;
}

/* After the attacks: a valid batch works and maps what it says; then tidy up. */
static void atk_valid(void)
{
	const uint64_t *t1 = (const uint64_t *)(uintptr_t)atk_t1;
	uint64_t t2 = atk_t2, P = PTE_P, U = PTE_U;

	ATK("valid", REC(PV_MMU_MAP, 1, 10, atk_t1 + 16 * 8, atk_d | P | U, 0, PV_MMU_OK));
	for (unsigned i = 0; i < 10; i++)
		if (t1[16 + i] != ((atk_d + i * 4096) | P | U))
			atk_error("valid", "T1[%u] = 0x%lx not applied", 16 + i,
				  (unsigned long)t1[16 + i]);
	ATK("cleanup",
	    REC(PV_MMU_CLEAR, 1, PV_MMU_RANGE_MAX, atk_t1, 0, 0, PV_MMU_OK),
	    REC(PV_MMU_CLEAR, 2, 1, t2, 0, 0, PV_MMU_OK),
	    REC(PV_MMU_UNPIN, 1, 1, atk_t1, 0, 0, PV_MMU_OK),
	    REC(PV_MMU_UNPIN, 2, 1, atk_t2, 0, 0, PV_MMU_OK),
	    REC(PV_MMU_UNPIN, 4, 1, atk_t4, 0, 0, PV_MMU_OK));
	for (unsigned i = 0; i < 512; i++)
		if (t1[i])
			atk_error("cleanup", "T1[%u] = 0x%lx not cleared", i, (unsigned long)t1[i]);

	/* And the mm API, in the run's mode, on the live workload region. */
	if (mm_map_range(PT_LEVEL_4K, MM_WORKLOAD_BASE, 1, atk_d, PTE_W | PTE_U)) {
		atk_error("valid", "mm_map_range failed");
	} else {
		uint64_t v = 0;

		if (probe_read((void *)(uintptr_t)MM_WORKLOAD_BASE, &v) || v != ATK_X_PATTERN + 1)
			atk_error("valid", "read through a fresh mapping: 0x%lx, want 0x%lx",
				  (unsigned long)v, (unsigned long)(ATK_X_PATTERN + 1));
		mm_clear_range(PT_LEVEL_4K, MM_WORKLOAD_BASE, 1);
		if (!probe_read((void *)(uintptr_t)MM_WORKLOAD_BASE, &v))
			atk_error("valid", "cleared page still readable");
	}
}

static long atk_user(void *arg)
{
	int st = pvmmu_setup();
	(void)arg;

	if (st != PV_OK) {
		printf("guest: pvmmu_attack: the VMM refused the ring (status %d)\n", st);
		return 1;
	}
	if (pvmmu_queued()) {
		printf("guest: pvmmu_attack: PV MMU queue not empty\n");
		return 1;
	}
	atk_ring = (uint64_t)(uintptr_t)pvmmu_ring;
	atk_end = mm_ram_end;
	atk_t1 = frame_alloc_4k();
	atk_t2 = frame_alloc_4k();
	atk_t4 = frame_alloc_4k();
	atk_x = frame_alloc_4k();
	atk_d = frame_alloc_4k();
	if (!atk_t1 || !atk_t2 || !atk_t4 || !atk_x || !atk_d) {
		printf("guest: pvmmu_attack: out of memory\n");
		return 1;
	}
	for (unsigned i = 0; i < 512; i++)
		((uint64_t *)(uintptr_t)atk_x)[i] = ATK_X_PATTERN;
	*(uint64_t *)(uintptr_t)atk_d = ATK_X_PATTERN + 1;

	atk_prepare();
	atk_verify_memory("prepare");
	atk_run();
	atk_verify_memory("after the attacks");
	atk_valid();

	report("attack_rejected", (int64_t)atk_total, 0);
	report("errors", (int64_t)atk_errors, 0);
	printf("pvmmu_attack: %lu records rejected as expected, %lu errors\n",
	       (unsigned long)atk_total, (unsigned long)atk_errors);
	return atk_errors ? 1 : 0;
}

static int atk_main(void)
{
	return (int)user_run(atk_user, NULL);
}

static const char *const atk_params[] = { NULL };

const struct workload wl_pvmmu_attack = {
	.name = "pvmmu_attack",
	.usage = "",
	.params = atk_params,
	.main = atk_main,
};
