/*
 * Choosing the PV MMU mode at boot (CPL0, once, after mm_init).
 *
 * auto measures, in a few hundred microseconds here:
 *   direct   one write of a live PTE (the scratch PTE mapping MM_SCRATCH_VA,
 *            in a table that is never pinned) followed by invlpg, and
 *            invlpg alone: the write's own cost is their difference
 *   batched  one doorbell carrying one MAP record of 512 PTEs, then one
 *            carrying a CLEAR of them, into a pinned table that nothing
 *            points to: per PTE, (doorbell + records + VMM) / 1024
 * and picks batched iff the channel's cost per PTE is below the direct
 * write's.  The TLB flush is left out of both sides: every mode must flush,
 * and flushes can be batched with or without the channel; what the channel
 * replaces is the write.
 *
 * Why this picks batched here and off on an EPT/NPT host.  Here (nested
 * kvm_pvm, shadow paging, every CPL0 instruction emulated) a kernel write
 * to a live page table is an emulated, write-tracked store: measured ~3 us
 * for the write (3.5 us with its invlpg, invlpg alone ~0.45 us), against
 * ~0.16 us per PTE for a 512-PTE record (doorbell from CPL0 + the VMM, which
 * spends ~7 ns per PTE).  The shadow-paging resync a batch needs when it
 * changes present entries (gk/pvmmu.h, ~0.1 us per PTE of a full table) is
 * not in the measurement; it does not change the answer.  On an EPT/NPT
 * host the guest writes its page tables natively: ~1-5 ns per write, while
 * a doorbell is an exit to the userspace VMM (~1-2 us, i.e. 2-4 ns per PTE
 * of a 512-PTE record) plus the VMM's validation of every PTE (~7 ns each
 * here): the channel cannot win, so auto picks off.  The measurement keeps
 * to O(1) work, ~0.6 ms here: 4 repetitions of three tiny loops and four
 * doorbells.
 */
#include <pagevisor/abi.h>
#include <gk/assert.h>
#include <gk/mm.h>
#include <gk/mmapi.h>
#include <gk/pvmmu.h>
#include <gk/report.h>
#include <gk/time.h>
#include <gk/x86.h>

#define MM_AUTO_REPS 4

struct mm_auto mm_auto;

static uint64_t mm_ps(uint64_t cycles, uint64_t per)
{
	/* cycles * 1000 stays far below 2^64 for these short intervals. */
	return time_cycles_to_ns(cycles * 1000) / per;
}

/* Cheapest of MM_AUTO_REPS: nothing, invlpg, PTE write + invlpg (cycles). */
static void mm_auto_direct(void)
{
	volatile uint64_t *page = (volatile uint64_t *)(uintptr_t)MM_SCRATCH_VA;
	uint64_t *pte = &mm_scratch_pt[0];
	uint64_t none = ~0ull, inv = ~0ull, wr = ~0ull;

	for (int i = 0; i < MM_AUTO_REPS; i++) {
		uint64_t t0, t1, t2, t3, t4, t5;

		(void)*page;    /* the table is in use (shadowed) and va is in the TLB */
		t0 = rdtsc();
		t1 = rdtsc();
		(void)*page;
		t2 = rdtsc();
		invlpg(MM_SCRATCH_VA);
		t3 = rdtsc();
		(void)*page;
		t4 = rdtsc();
		pt_write(pte, *pte ^ PTE_W, MM_SCRATCH_VA);
		t5 = rdtsc();
		none = t1 - t0 < none ? t1 - t0 : none;
		inv = t3 - t2 < inv ? t3 - t2 : inv;
		wr = t5 - t4 < wr ? t5 - t4 : wr;
	}
	mm_auto.invlpg_ps = mm_ps(inv > none ? inv - none : 0, 1);
	mm_auto.direct_ps = mm_ps(wr > none ? wr - none : 0, 1);
}

/* One 512-PTE MAP and one 512-PTE CLEAR, each in its own doorbell. */
static void mm_auto_batched(void)
{
	uint64_t pt = frame_alloc_4k(), t0, t1;

	GUEST_ASSERT(pt);
	pvmmu_queue(PV_MMU_PIN, 1, pt, 1, 0, 0);
	pvmmu_flush();
	t0 = rdtsc();
	/* Read-only mappings of the first 2 MiB (the kernel's chunk). */
	pvmmu_queue(PV_MMU_MAP, 1, pt, PV_MMU_RANGE_MAX, PTE_P | PTE_U, 0);
	pvmmu_flush();
	pvmmu_queue(PV_MMU_CLEAR, 1, pt, PV_MMU_RANGE_MAX, 0, 0);
	pvmmu_flush();
	t1 = rdtsc();
	pvmmu_queue(PV_MMU_UNPIN, 1, pt, 1, 0, 0);
	pvmmu_flush();
	frame_free_4k(pt);
	mm_auto.batched_ps = mm_ps(t1 - t0, 2 * PV_MMU_RANGE_MAX);
}

void mm_mode_init(enum mm_mode req)
{
	int st;

	if (req == MM_MODE_OFF) {
		mm_mode = MM_MODE_OFF;
		return;
	}
	st = pvmmu_setup();
	if (st != PV_OK) {
		GUEST_ASSERTF(req == MM_MODE_AUTO,
			      "pv-mmu %s: the VMM refused the ring (status %d)",
			      req == MM_MODE_BATCHED ? "batched" : "immediate", st);
		mm_mode = MM_MODE_OFF;  /* a VMM without the channel */
		return;
	}
	if (req == MM_MODE_AUTO) {
		mm_auto_direct();
		mm_auto_batched();
		mm_auto.ran = 1;
		req = mm_auto.batched_ps < mm_auto.direct_ps - mm_auto.invlpg_ps &&
		      mm_auto.direct_ps > mm_auto.invlpg_ps ? MM_MODE_BATCHED : MM_MODE_OFF;
	}
	mm_mode = req;
	if (mm_mode != MM_MODE_OFF) {
		mm_pin((uint64_t)(uintptr_t)mm_wl_pdpt, PT_LEVEL_1G);
		mm_sync();
	}
}

void mm_mode_report(void)
{
	report("pvmmu_mode", mm_mode, 0);
	if (!mm_auto.ran)
		return;
	report("auto_direct_ns", (int64_t)mm_auto.direct_ps, 3);
	report("auto_invlpg_ns", (int64_t)mm_auto.invlpg_ps, 3);
	report("auto_batched_ns", (int64_t)mm_auto.batched_ps, 3);
}
