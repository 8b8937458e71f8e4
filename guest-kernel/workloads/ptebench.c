/*
 * ptebench pages=N rounds=R op=protect|unmap|map frames=contig|scattered
 *          batch=B check=all|sample seed=X
 *
 * Changes N PTEs R times through the mm API, in the run's PV MMU mode, and
 * checks every change took effect.  Everything runs in ring 3; the mm API
 * decides what goes to CPL0 (gk/mmapi.h).
 *
 * Setup (untimed): N 4 KiB pages at MM_WORKLOAD_BASE, each backed by a frame
 * stamped with stamp(frame) in its first word.  frames=contig: page i gets
 * frame i of a run of 2 MiB chunks (one MAP record per page table);
 * frames=scattered: page i gets frame 2 * (i * S mod N) of a pool of 2N
 * frames, S coprime to N, so no two neighbouring pages ever get neighbouring
 * frames (one record per PTE in batched mode).  The tables are created once.
 *
 * Each round, timed with rdtsc around the mm calls only (system calls,
 * doorbells and TLB flushes included):
 *   protect  all N pages RW -> RO (even rounds) or RO -> RW (odd rounds);
 *            check: every page reads its stamp; a write probe to every page
 *            (check=all) or to every 64th, the first and the last
 *            (check=sample) faults when RO and succeeds when RW
 *   unmap    (untimed) map the N pages; (timed) clear them; check: read
 *            probes (all or sample) fault
 *   map      (timed) map the N pages; check: each reads the stamp of its
 *            frame; (untimed) clear them
 * batch=B (batched mode only): leave and re-enter lazy mode every B pages;
 * 0: one lazy section per round (the queue still flushes when the ring fills).
 *
 * Metrics: updates, ns, ns_per_update (3 decimals), errors, checks, and for
 * the timed calls the guest's doorbells and records (doorbells_total,
 * records_total: the whole run, boot included).  Exit 0 iff errors == 0; a
 * record the VMM rejects fails the VM (status 3) in the mm layer.
 */
#include <string.h>
#include <gk/arch.h>
#include <gk/mm.h>
#include <gk/mmapi.h>
#include <gk/printf.h>
#include <gk/probe.h>
#include <gk/pvmmu.h>
#include <gk/report.h>
#include <gk/time.h>
#include <gk/workload.h>
#include <gk/x86.h>

#define PTB_PAGES_MAX   262144u                 /* the frame list fits one 2 MiB chunk */
#define PTB_CHUNKS_MAX  (2 * PTB_PAGES_MAX / 512)
#define PTB_FLAGS       (PTE_W | PTE_U)
#define PTB_SAMPLE      64

enum { PTB_PROTECT, PTB_UNMAP, PTB_MAP };
enum { PTB_DO_RO, PTB_DO_RW, PTB_DO_CLEAR, PTB_DO_MAP };

struct ptebench {
	/* parameters */
	uint64_t pages, rounds, batch, seed;
	int op, scattered, sample;
	/* memory */
	uint64_t *pas;                  /* page i -> frame */
	uint64_t nchunks;
	/* results */
	uint64_t cycles, updates, errors, checks, doorbells, records;
};

static struct ptebench ptb;
static uint64_t ptb_chunks[PTB_CHUNKS_MAX];

static uint64_t ptb_stamp(uint64_t pa)
{
	return (pa + ptb.seed) * 0x9e3779b97f4a7c15ull | 1;
}

static uint64_t ptb_va(uint64_t i)
{
	return MM_WORKLOAD_BASE + i * PAGE_SIZE_4K;
}

static void ptb_error(const char *what, uint64_t i, uint64_t got, uint64_t want)
{
	if (ptb.errors++ < 8)
		printf("ptebench: %s: page %lu: got 0x%lx, want 0x%lx\n", what,
		       (unsigned long)i, (unsigned long)got, (unsigned long)want);
}

/* Frames, the frame list and the stamps.  0, or -1 when memory ran out. */
static int ptb_memory(void)
{
	uint64_t n = ptb.pages, frames = ptb.scattered ? 2 * n : n, stride = 1;
	uint64_t list = frame_alloc_2m();

	if (!list)
		return -1;
	ptb.pas = (uint64_t *)(uintptr_t)list;
	ptb.nchunks = (frames + 511) / 512;
	for (uint64_t c = 0; c < ptb.nchunks; c++)
		if (!(ptb_chunks[c] = frame_alloc_2m()))
			return -1;
	if (ptb.scattered)
		stride = wl_coprime_stride(n, n * 5 / 8 + 1);  /* far apart, coprime to n */
	for (uint64_t i = 0; i < n; i++) {
		uint64_t f = ptb.scattered ? 2 * (i * stride % n) : i;
		uint64_t pa = ptb_chunks[f / 512] + f % 512 * PAGE_SIZE_4K;

		ptb.pas[i] = pa;
		*(volatile uint64_t *)(uintptr_t)pa = ptb_stamp(pa);
	}
	return 0;
}

/* One mm call for pages [first, first + n). */
static void ptb_do(int what, uint64_t first, uint64_t n)
{
	uint64_t va = ptb_va(first);
	int ret = 0;

	switch (what) {
	case PTB_DO_RO:
		mm_protect_range(PT_LEVEL_4K, va, n, 0, PTE_W);
		break;
	case PTB_DO_RW:
		mm_protect_range(PT_LEVEL_4K, va, n, PTE_W, 0);
		break;
	case PTB_DO_CLEAR:
		mm_clear_range(PT_LEVEL_4K, va, n);
		break;
	case PTB_DO_MAP:
		if (ptb.scattered) {
			ret = mm_map_frames(PT_LEVEL_4K, va, n, &ptb.pas[first], PTB_FLAGS);
			break;
		}
		/* Contiguous: one call per physically contiguous run (normally one). */
		for (uint64_t i = first, end = first + n; i < end && !ret;) {
			uint64_t j = i + 1;

			while (j < end && ptb.pas[j] == ptb.pas[j - 1] + PAGE_SIZE_4K)
				j++;
			ret = mm_map_range(PT_LEVEL_4K, ptb_va(i), j - i, ptb.pas[i], PTB_FLAGS);
			i = j;
		}
		break;
	}
	if (ret)
		ptb_error("out of memory for page tables", first, 0, 0);
}

/* All N pages, in lazy sections of batch pages (batched mode), timed. */
static void ptb_timed(int what)
{
	uint64_t step = mm_mode == MM_MODE_BATCHED && ptb.batch ? ptb.batch : ptb.pages;
	struct pvmmu_stats s0 = pvmmu_stats;
	uint64_t t0 = rdtsc();

	for (uint64_t first = 0; first < ptb.pages; first += step) {
		uint64_t n = ptb.pages - first < step ? ptb.pages - first : step;

		mm_lazy_enter();
		ptb_do(what, first, n);
		mm_lazy_leave();
	}
	ptb.cycles += rdtsc() - t0;
	ptb.updates += ptb.pages;
	ptb.doorbells += pvmmu_stats.doorbells - s0.doorbells;
	ptb.records += pvmmu_stats.records - s0.records;
}

/* Untimed: all N pages in one call. */
static void ptb_untimed(int what)
{
	mm_lazy_enter();
	ptb_do(what, 0, ptb.pages);
	mm_lazy_leave();
}

static int ptb_sampled(uint64_t i)
{
	return !ptb.sample || i % PTB_SAMPLE == 0 || i == ptb.pages - 1;
}

/* Every page reads the stamp of its frame. */
static void ptb_check_stamps(void)
{
	for (uint64_t i = 0; i < ptb.pages; i++) {
		uint64_t v = 0, want = ptb_stamp(ptb.pas[i]);

		if (probe_read((void *)(uintptr_t)ptb_va(i), &v))
			ptb_error("read faulted", i, 0, want);
		else if (v != want)
			ptb_error("wrong frame", i, v, want);
		ptb.checks++;
	}
}

/* Write probes (the stamp itself, so memory stays as it was). */
static void ptb_check_writes(int must_fault)
{
	for (uint64_t i = 0; i < ptb.pages; i++) {
		long r;

		if (!ptb_sampled(i))
			continue;
		r = probe_write((void *)(uintptr_t)ptb_va(i), ptb_stamp(ptb.pas[i]));
		if ((r != 0) != must_fault)
			ptb_error(must_fault ? "write to a read-only page did not fault"
				  : "write to a writable page faulted", i, (uint64_t)r, 0);
		ptb.checks++;
	}
}

/* Read probes fault. */
static void ptb_check_unmapped(void)
{
	for (uint64_t i = 0; i < ptb.pages; i++) {
		uint64_t v;

		if (!ptb_sampled(i))
			continue;
		if (!probe_read((void *)(uintptr_t)ptb_va(i), &v))
			ptb_error("read of an unmapped page did not fault", i, v, 0);
		ptb.checks++;
	}
}

/*
 * Read hazards: inside one lazy section, clear page 0 and map it again,
 * reading its PTE through mm_read_pte after each: the queued write must be
 * visible (batched mode: each read sends the queue first).
 */
static void ptb_check_hazard(void)
{
	uint64_t *pte = pt_walk(pt_kernel_pml4, ptb_va(0), PT_LEVEL_4K, false);
	uint64_t want = ptb.pas[0] | PTB_FLAGS | PTE_P, v;

	if (!pte) {
		ptb_error("no page table", 0, 0, 0);
		return;
	}
	mm_lazy_enter();
	mm_clear_range(PT_LEVEL_4K, ptb_va(0), 1);
	if ((v = mm_read_pte(pte, PT_LEVEL_4K)) != 0)
		ptb_error("PTE read under a queued clear", 0, v, 0);
	mm_map_range(PT_LEVEL_4K, ptb_va(0), 1, ptb.pas[0], PTB_FLAGS);
	if (((v = mm_read_pte(pte, PT_LEVEL_4K)) & ~(PTE_A | PTE_D)) != want)
		ptb_error("PTE read under a queued map", 0, v, want);
	mm_lazy_leave();
	ptb.checks += 2;
}

static const char *const ptb_op_names[] = { "protect", "unmap", "map" };

static long ptb_user(void *arg)
{
	uint64_t ns;
	(void)arg;

	if (ptb_memory()) {
		printf("guest: ptebench: out of memory for %lu pages\n", (unsigned long)ptb.pages);
		return 1;
	}
	ptb_untimed(PTB_DO_MAP);                /* also creates the page tables */
	ptb_check_stamps();
	ptb_check_hazard();
	if (ptb.op != PTB_PROTECT)
		ptb_untimed(PTB_DO_CLEAR);
	for (uint64_t r = 0; r < ptb.rounds; r++) {
		switch (ptb.op) {
		case PTB_PROTECT:
			ptb_timed(r % 2 ? PTB_DO_RW : PTB_DO_RO);
			ptb_check_stamps();
			ptb_check_writes(r % 2 == 0);
			break;
		case PTB_UNMAP:
			ptb_untimed(PTB_DO_MAP);
			ptb_timed(PTB_DO_CLEAR);
			ptb_check_unmapped();
			break;
		case PTB_MAP:
			ptb_timed(PTB_DO_MAP);
			ptb_check_stamps();
			ptb_untimed(PTB_DO_CLEAR);
			break;
		}
	}
	ns = time_cycles_to_ns(ptb.cycles);
	report("updates", (int64_t)ptb.updates, 0);
	report("ns", (int64_t)ns, 0);
	report("ns_per_update", ptb.updates ? (int64_t)(ns * 1000 / ptb.updates) : 0, 3);
	report("errors", (int64_t)ptb.errors, 0);
	report("checks", (int64_t)ptb.checks, 0);
	report("doorbells", (int64_t)ptb.doorbells, 0);
	report("records", (int64_t)ptb.records, 0);
	report("doorbells_total", (int64_t)pvmmu_stats.doorbells, 0);
	report("records_total", (int64_t)pvmmu_stats.records, 0);
	printf("ptebench: op=%s frames=%s mode=%d: %lu updates, %lu.%03lu ns/update, "
	       "%lu doorbells, %lu records, %lu checks, %lu errors\n",
	       ptb_op_names[ptb.op], ptb.scattered ? "scattered" : "contig", (int)mm_mode,
	       (unsigned long)ptb.updates,
	       (unsigned long)(ptb.updates ? ns / ptb.updates : 0),
	       (unsigned long)(ptb.updates ? ns * 1000 / ptb.updates % 1000 : 0),
	       (unsigned long)ptb.doorbells, (unsigned long)ptb.records,
	       (unsigned long)ptb.checks, (unsigned long)ptb.errors);
	return ptb.errors ? 1 : 0;
}

/* key=one|two|...: the index of the value, def when absent; -1 after printing. */
static int ptb_choice(const struct wl_args *a, const char *key, const char *const *names,
		      int n, int def)
{
	const char *v = wl_arg(a, key);

	if (!v)
		return def;
	for (int i = 0; i < n; i++)
		if (!strcmp(v, names[i]))
			return i;
	printf("guest: ptebench: bad value %s=%s (usage: %s)\n", key, v, wl_ptebench.usage);
	return -1;
}

static int ptb_setup(const struct wl_args *a)
{
	static const char *const frames[] = { "contig", "scattered" };
	static const char *const checks[] = { "all", "sample" };
	uint64_t n2m;

	if (wl_arg_u64(a, "ptebench", "pages", 4096, 1, PTB_PAGES_MAX, false, &ptb.pages) ||
	    wl_arg_u64(a, "ptebench", "rounds", 4, 1, 1000000, false, &ptb.rounds) ||
	    wl_arg_u64(a, "ptebench", "batch", 0, 0, PTB_PAGES_MAX, false, &ptb.batch) ||
	    wl_arg_u64(a, "ptebench", "seed", 1, 0, ~0ull, false, &ptb.seed) ||
	    (ptb.op = ptb_choice(a, "op", ptb_op_names, 3, PTB_PROTECT)) < 0 ||
	    (ptb.scattered = ptb_choice(a, "frames", frames, 2, 0)) < 0 ||
	    (ptb.sample = ptb_choice(a, "check", checks, 2, 0)) < 0)
		return -1;
	/* The frame list, the frames, and a chunk or two for page tables. */
	n2m = 1 + ((ptb.scattered ? 2 : 1) * ptb.pages + 511) / 512 + 2;
	if (frame_free_bytes() / PAGE_SIZE_2M < n2m) {
		printf("guest: ptebench: pages=%lu needs %lu MiB, %lu MiB free\n",
		       (unsigned long)ptb.pages, (unsigned long)(n2m * 2),
		       (unsigned long)(frame_free_bytes() >> 20));
		return -1;
	}
	return 0;
}

static int ptb_main(void)
{
	return (int)user_run(ptb_user, NULL);
}

static const char *const ptb_params[] = {
	"pages", "rounds", "op", "frames", "batch", "check", "seed", NULL
};

const struct workload wl_ptebench = {
	.name = "ptebench",
	.usage = "pages=1..262144 rounds=N op=protect|unmap|map frames=contig|scattered "
		 "batch=B check=all|sample seed=X",
	.params = ptb_params,
	.setup = ptb_setup,
	.main = ptb_main,
};
