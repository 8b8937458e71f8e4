/* SPDX-License-Identifier: MIT */
#include "mmu/swapmode.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mmu/dirty.h"

int swapmode_create(struct swapmode **out, struct guestmem *gm, const struct swapmode_params *p)
{
	struct swapmode *sm;
	int ret;

	*out = NULL;
	sm = calloc(1, sizeof(*sm));
	if (!sm)
		goto nomem;
	pthread_mutex_init(&sm->vmm_ring_mu, NULL);
	readahead_init(&sm->ra, p->readahead, p->readahead_pages, gm->size >> PAGE_SHIFT_4K,
		       p->limit_pages);
	sm->gm = gm;
	sm->clock = p->clock;
	sm->prefault = p->prefault;
	sm->nr_threads = p->fault_threads ? p->fault_threads : 1;
	sm->uffd.fd = sm->uffd.stop_fd = -1;
	sm->swap.fd = -1;
	sm->reclaim.pagemap_fd = -1;    /* destroy may come before the parts are wired */
	if (pages_init(&sm->pages, gm->size >> PAGE_SHIFT_4K, p->limit_pages))
		goto nomem;
	/* the parts, each given what it works on */
	sm->reclaim = (struct reclaim){
		.gm = gm, .pages = &sm->pages, .swap = &sm->swap, .uffd = &sm->uffd, .ra = &sm->ra,
		.fatal = &sm->fatal, .pagemap_fd = -1, .clock = sm->clock,
	};
	sm->fault = (struct fault){
		.gm = gm, .pages = &sm->pages, .swap = &sm->swap, .uffd = &sm->uffd, .ra = &sm->ra,
		.reclaim = &sm->reclaim, .fatal = &sm->fatal, .clock = sm->clock,
	};
	if (reclaim_init(&sm->reclaim))
		goto nomem;
	ret = swap_open(&sm->swap, p->dir, sm->pages.nr, true);
	if (ret) {
		swapmode_destroy(sm);
		return ret;
	}
	/* without a ring, the VMM's swap-ins fall back to pread */
	sm->vmm_ring_ok = io_uring_queue_init(2, &sm->vmm_ring, 0) == 0;
	*out = sm;
	return 0;
nomem:
	fprintf(stderr, "vmm: swap mode: out of memory for the page state\n");
	swapmode_destroy(sm);
	return -ENOMEM;
}

void swapmode_on_fatal(struct swapmode *sm, void (*fn)(void *, const char *), void *opaque)
{
	sm->fatal.fn = fn;
	sm->fatal.opaque = opaque;
}

/*
 * Pages the loader, the boot tables and the FDT wrote before the run are
 * in the memfd: resident and dirty (no swap copy).  They are also mapped
 * into the guest mapping now (CONTINUE), so the guest takes no fault on
 * them.
 */
static int swapmode_account_loaded(struct swapmode *sm)
{
	struct pages *p = &sm->pages;
	off_t end = (off_t)sm->gm->size, at = 0, data, hole;
	uint64_t n = 0;

	while (at < end) {
		data = lseek(sm->gm->memfd, at, SEEK_DATA);
		if (data < 0) {
			if (errno == ENXIO)
				break;
			fprintf(stderr, "vmm: lseek(SEEK_DATA) on guest RAM: %s\n", strerror(errno));
			return -errno;
		}
		hole = lseek(sm->gm->memfd, data, SEEK_HOLE);
		if (hole < 0)
			hole = end;
		data &= ~(off_t)(PAGE_SIZE_4K - 1);
		for (off_t o = data; o < hole; o += (off_t)PAGE_SIZE_4K) {
			uint64_t i = (uint64_t)o >> PAGE_SHIFT_4K;

			pages_set(p, i, page_installed(0, false, sm->clock));
			reclaim_note_resident(&sm->reclaim, i);
			n++;
		}
		uffd_continue(&sm->uffd, (uintptr_t)sm->gm->guest_map + (uint64_t)data,
			      (uint64_t)(hole - data), false);
		at = hole;
	}
	pages_account(p, n);
	return 0;
}

int swapmode_start(struct swapmode *sm)
{
	int ret;

	sm->reclaim.pagemap_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (sm->reclaim.pagemap_fd < 0) {
		ret = -errno;
		fprintf(stderr, "vmm: open /proc/self/pagemap: %s\n", strerror(errno));
		return ret;
	}
	ret = dirty_probe(sm->reclaim.pagemap_fd);
	if (ret) {
		fprintf(stderr, "vmm: PAGEMAP_SCAN (dirty tracking, Linux 6.7 or later): %s\n",
			strerror(-ret));
		return ret;
	}
	ret = uffd_open(&sm->uffd, sm->gm->guest_map, sm->gm->size);
	if (ret)
		return ret;
	ret = swapmode_account_loaded(sm);
	if (ret)
		return ret;
	sm->started = true;
	ret = reclaim_start(&sm->reclaim);
	if (!ret)
		ret = fault_start(&sm->fault, sm->nr_threads);
	return ret;
}

void swapmode_abort(struct swapmode *sm)
{
	if (!sm)
		return;
	swap_abort(&sm->swap);
	atomic_store(&sm->pages.stop, true);    /* waits for room give way */
	pages_kick(&sm->pages);
}

/*
 * At the end, read-ahead pages still in memory whose stream went past them
 * count as used, as they would when they left; the others stay undecided.
 */
static void swapmode_settle_readahead(struct swapmode *sm)
{
	struct pages *p = &sm->pages;

	for (uint64_t i = 0; i < p->nr; i++) {
		uint32_t st = pages_get(p, i);

		if ((st & PAGE_RA) && readahead_passed(&sm->ra, page_ra_stream(st), i)) {
			pages_set(p, i, st & ~(PAGE_RA | PAGE_RA_STREAM));
			readahead_hit(&sm->ra, -1, 1);
		}
	}
}

void swapmode_stop(struct swapmode *sm)
{
	if (!sm || !sm->started)
		return;
	fault_stop(&sm->fault);
	reclaim_stop(&sm->reclaim);
	swapmode_settle_readahead(sm);  /* the threads are gone: no lock needed */
	sm->started = false;
}

void swapmode_destroy(struct swapmode *sm)
{
	if (!sm)
		return;
	swapmode_stop(sm);
	uffd_close(&sm->uffd);
	reclaim_destroy(&sm->reclaim);
	readahead_destroy(&sm->ra);
	if (sm->vmm_ring_ok && sm->vmm_ring.sq.ring_entries)   /* not abandoned by swap_read */
		io_uring_queue_exit(&sm->vmm_ring);
	pthread_mutex_destroy(&sm->vmm_ring_mu);
	swap_close(&sm->swap);
	pages_destroy(&sm->pages);
	if (sm->reclaim.pagemap_fd >= 0)
		close(sm->reclaim.pagemap_fd);
	free(sm);
}

/*
 * Make page @i resident for the VMM and pin it.  A page not in the memfd is
 * installed with its lock dropped (BUSY): zero-filled by touching it through
 * the alias, or read from its slot into the alias; then it is mapped into
 * the guest mapping too (CONTINUE), so the guest takes no fault on it.
 */
static int swapmode_get_page(struct swapmode *sm, uint64_t i, bool write)
{
	struct pages *p = &sm->pages;
	uint8_t *alias = sm->gm->alias + (i << PAGE_SHIFT_4K);
	bool from_slot;
	uint64_t slot;
	uint32_t st;
	int ret = 0;

	pages_lock(p, i);
	st = pages_wait_idle(p, i);
	if (page_kind(st) == PAGE_RESIDENT || page_kind(st) == PAGE_EVICTING) {
		pages_set(p, i, page_pinned(st, write, sm->clock));
		pages_unlock(p, i);
		return 0;
	}
	from_slot = page_kind(st) == PAGE_SWAPPED;
	slot = i;       /* the swap file's layout: page i in slot i */
	pages_set(p, i, st | PAGE_BUSY);
	pages_unlock(p, i);

	pages_reserve(p);
	if (from_slot) {
		pthread_mutex_lock(&sm->vmm_ring_mu);
		ret = swap_read(&sm->swap, sm->vmm_ring_ok ? &sm->vmm_ring : NULL, alias, slot);
		pthread_mutex_unlock(&sm->vmm_ring_mu);
	} else
		(void)*(volatile uint8_t *)alias;       /* allocates a zero page in the memfd */
	if (ret) {
		/* give the hole back so the slot stays the page's only copy */
		(void)guestmem_punch(sm->gm, i << PAGE_SHIFT_4K, PAGE_SIZE_4K);
		fault_unclaim(&sm->fault, i);
		if (ret == -ESHUTDOWN)
			return ret;     /* stopping: the access fails, nothing is lost */
		atomic_fetch_add(&sm->c.vmm_read_errors, 1);
		mmu_fatal(&sm->fatal, "swap-in of gpa 0x%llx from slot %llu for the VMM: %s",
			       (unsigned long long)(i << PAGE_SHIFT_4K), (unsigned long long)slot,
			       swap_strerror(ret));
		return ret;
	}
	uffd_continue(&sm->uffd, (uintptr_t)sm->gm->guest_map + (i << PAGE_SHIFT_4K), PAGE_SIZE_4K,
		      from_slot && !write);
	pages_lock(p, i);
	fault_installed(&sm->fault, i, from_slot, 0, true, write);
	if (from_slot)
		atomic_fetch_add_explicit(&sm->c.vmm_swap_in, 1, memory_order_relaxed);
	return 0;
}

static void swapmode_put(void *ctx, uint64_t gpa, uint64_t len)
{
	struct swapmode *sm = ctx;
	struct pages *p = &sm->pages;

	for (uint64_t i = gpa >> PAGE_SHIFT_4K; i <= (gpa + len - 1) >> PAGE_SHIFT_4K; i++) {
		pages_lock(p, i);
		pages_set(p, i, page_unpinned(pages_get(p, i)));
		pages_unlock(p, i);
	}
}

static int swapmode_get(void *ctx, uint64_t gpa, uint64_t len, bool write)
{
	struct swapmode *sm = ctx;
	uint64_t first = gpa >> PAGE_SHIFT_4K, last = (gpa + len - 1) >> PAGE_SHIFT_4K;

	for (uint64_t i = first; i <= last; i++) {
		int ret = swapmode_get_page(sm, i, write);

		if (ret) {
			if (i > first)
				swapmode_put(sm, first << PAGE_SHIFT_4K, (i - first) << PAGE_SHIFT_4K);
			return ret;
		}
	}
	return 0;
}

static void swapmode_prefault(void *ctx, uint64_t first, uint64_t n)
{
	struct swapmode *sm = ctx;

	fault_prefault(&sm->fault, first, n);
}

/* Whether page @i (lock held) must settle before it can be dropped. */
static bool swapmode_unsettled(uint32_t st)
{
	return (st & PAGE_BUSY) || page_kind(st) == PAGE_EVICTING || page_pins(st);
}

/*
 * Wait until page @i is settled: installed (BUSY waits on its stripe), out
 * of reclaim's hands (EVICTING: its write-back and Finish take ~0.1-10 ms)
 * and unpinned by other VMM users.  -ESHUTDOWN once the VM stops.
 */
static int swapmode_settle(struct swapmode *sm, uint64_t i)
{
	struct pages *p = &sm->pages;
	const struct timespec nap = { .tv_nsec = 50000 };

	for (;;) {
		uint32_t st;

		pages_lock(p, i);
		st = pages_wait_idle(p, i);
		pages_unlock(p, i);
		if (!swapmode_unsettled(st))
			return 0;
		if (atomic_load(&sm->swap.abort))
			return -ESHUTDOWN;
		nanosleep(&nap, NULL);
	}
}

/*
 * Drop pages [@v, @v + @len) (len <= 64, locks held, all settled): punch
 * the resident ones out of the memfd, free every slot.  0 or -errno.
 */
static int swapmode_drop_run(struct swapmode *sm, uint64_t v, unsigned len)
{
	struct pages *p = &sm->pages;
	uint64_t resident = 0;

	for (unsigned k = 0; k < len; k++)
		resident += page_kind(pages_get(p, v + k)) == PAGE_RESIDENT;
	/* a hole reads as zeros in both mappings, and the guest mapping's PTEs go with it */
	if (resident) {
		int ret = guestmem_punch(sm->gm, v << PAGE_SHIFT_4K, (uint64_t)len << PAGE_SHIFT_4K);

		if (ret) {
			fprintf(stderr, "vmm: fallocate(PUNCH_HOLE) of released guest RAM: %s\n",
				strerror(-ret));
			return ret;
		}
	}
	for (unsigned k = 0; k < len; k++) {
		uint32_t st = pages_get(p, v + k);

		if (st & PAGE_COPY) {
			swap_slot_drop(&sm->swap, v + k);
			atomic_fetch_add_explicit(&sm->c.released_slots, 1, memory_order_relaxed);
		}
		pages_set(p, v + k, PAGE_ABSENT | PAGE_RELEASED);
	}
	atomic_fetch_add_explicit(&sm->c.released_resident, resident, memory_order_relaxed);
	pages_release(p, resident);
	return 0;
}

static int swapmode_release(void *ctx, uint64_t gpa, uint64_t len)
{
	struct swapmode *sm = ctx;
	struct pages *p = &sm->pages;
	uint64_t i = gpa >> PAGE_SHIFT_4K, end = (gpa + len) >> PAGE_SHIFT_4K;

	while (i < end) {
		unsigned n = end - i < 64 ? (unsigned)(end - i) : 64, k;
		int ret;

		/* ascending, at most 64: distinct stripes, the order reclaim takes them in */
		for (k = 0; k < n; k++) {
			pages_lock(p, i + k);
			if (swapmode_unsettled(pages_get(p, i + k)))
				break;
		}
		if (k < n) {
			for (unsigned q = k + 1; q-- > 0;)
				pages_unlock(p, i + q);
			ret = swapmode_settle(sm, i + k);
			if (ret)
				return ret;
			continue;
		}
		ret = swapmode_drop_run(sm, i, n);
		for (unsigned q = n; q-- > 0;)
			pages_unlock(p, i + q);
		if (ret)
			return ret;
		i += n;
	}
	return 0;
}

static void swapmode_usage(void *ctx, uint64_t *resident, uint64_t *swapped)
{
	struct swapmode *sm = ctx;

	*resident = atomic_load(&sm->pages.resident);
	*swapped = atomic_load(&sm->swap.used);
}

struct guestmem_pager swapmode_pager(struct swapmode *sm)
{
	return (struct guestmem_pager){
		.get = swapmode_get, .put = swapmode_put,
		.prefault = sm->prefault ? swapmode_prefault : NULL,
		.release = swapmode_release, .usage = swapmode_usage, .ctx = sm,
	};
}

/* @num / @den with three decimals (0 when @den is 0). */
static uint64_t swapmode_ratio_milli(uint64_t num, uint64_t den)
{
	return den ? (num * 1000 + den / 2) / den : 0;
}

unsigned swapmode_metrics(const struct swapmode *sm, struct metric *m, unsigned max)
{
	const struct fault_counters *f = &sm->fault.c;
	const struct reclaim_counters *r = &sm->reclaim.c;
	const struct pages *p = &sm->pages;
	uint64_t ra_issued = atomic_load(&sm->ra.issued), ra_hit = atomic_load(&sm->ra.hit);
	unsigned n = 0;

#define PUT(x) do { if (n < max) m[n] = (x); n++; } while (0)
#define U(key, v) PUT(METRIC_U64_AT("uffd", key, atomic_load(&(v))))
	PUT(METRIC_U64_AT("uffd", "fault_threads", sm->nr_threads));
	PUT(METRIC_STR_AT("uffd", "aging", sm->clock ? "clock" : "off"));
	/* the measured choices (docs/ARCHITECTURE.md); the keys stay for readers of old reports */
	PUT(METRIC_STR_AT("uffd", "swap_in_mode", "copy"));
	PUT(METRIC_STR_AT("uffd", "zero_fill_mode", "zeropage"));
	PUT(METRIC_STR_AT("uffd", "dirty_tracking", "uffd-wp"));
	PUT(METRIC_U64_AT("uffd", "swap_direct_io", sm->swap.direct));
	U("missing", f->missing);
	U("minor", f->minor);
	U("zero_fill", f->zero_fill);
	U("swap_in", f->swap_in);
	U("vmm_swap_in", sm->c.vmm_swap_in);
	U("swap_out", r->swap_out);
	U("swap_out_skipped_clean", r->swap_out_skipped_clean);
	U("evicted", r->evicted);
	U("evict_cancelled", r->evict_cancelled);
	U("zap", r->zap);
	PUT(METRIC_U64_AT("uffd", "swap_errors", atomic_load(&f->read_errors) +
			  atomic_load(&r->write_errors) + atomic_load(&sm->c.vmm_read_errors)));
	U("busy", f->busy);
	U("fault_around", f->fault_around);
	U("eexist", sm->uffd.eexist);
	U("eagain", sm->uffd.eagain);
	PUT(METRIC_LAT_AT("uffd.latency", "zero_fill", &f->lat_zero));
	PUT(METRIC_LAT_AT("uffd.latency", "swap_in", &f->lat_swap_in));
	PUT(METRIC_LAT_AT("uffd.latency", "minor", &f->lat_minor));
	PUT(METRIC_LAT_AT("uffd.latency.swap_in_stage", "queue", &f->lat_queue));
	PUT(METRIC_LAT_AT("uffd.latency.swap_in_stage", "read", &f->lat_read));
	PUT(METRIC_LAT_AT("uffd.latency.swap_in_stage", "install", &f->lat_install));
	PUT(METRIC_STR_AT("readahead", "mode", sm->ra.mode == RA_OFF ? "off" :
			  sm->ra.mode == RA_AUTO ? "auto" : "fixed"));
	PUT(METRIC_U64_AT("readahead", "issued", ra_issued));
	PUT(METRIC_U64_AT("readahead", "installed", atomic_load(&f->ra_installed)));
	PUT(METRIC_U64_AT("readahead", "marker_faults", atomic_load(&f->ra_marker)));
	PUT(METRIC_U64_AT("readahead", "hit", ra_hit));
	PUT(METRIC_U64_AT("readahead", "wasted", atomic_load(&sm->ra.wasted)));
	PUT(METRIC_MILLI_AT("readahead", "accuracy", swapmode_ratio_milli(ra_hit, ra_issued)));
	/* each hit is a fault that did not have to read: avoided, against demand reads */
	PUT(METRIC_MILLI_AT("readahead", "coverage",
			    swapmode_ratio_milli(ra_hit, ra_hit + atomic_load(&f->swap_in))));
	PUT(METRIC_STR_AT("prefault", "mode", sm->prefault ? "on" : "off"));
	PUT(METRIC_U64_AT("prefault", "batches", atomic_load(&f->pf_batches)));
	PUT(METRIC_U64_AT("prefault", "pages", atomic_load(&f->pf_installed)));
	PUT(METRIC_U64_AT("prefault", "hit", atomic_load(&f->pf_hit) + atomic_load(&r->pf_hit)));
	PUT(METRIC_U64_AT("prefault", "wasted", atomic_load(&r->pf_wasted)));
	PUT(METRIC_U64_AT("prefault", "dropped", atomic_load(&f->pf_dropped)));
	PUT(METRIC_U64_AT("mem", "limit_pages", p->limit));
	PUT(METRIC_U64_AT("mem", "high_pages", p->high));
	PUT(METRIC_U64_AT("mem", "low_pages", p->low));
	PUT(METRIC_U64_AT("mem", "resident_pages", atomic_load(&p->resident)));
	PUT(METRIC_U64_AT("mem", "resident_peak_pages", atomic_load(&p->peak)));
	PUT(METRIC_U64_AT("mem", "limit_gave_way", atomic_load(&p->gave_way)));
	PUT(METRIC_U64_AT("mem", "room_waits", atomic_load(&p->room_waits)));
	PUT(METRIC_U64_AT("mem", "swap_slots_used", atomic_load(&sm->swap.used)));
#undef U
#undef PUT
	return n;
}

unsigned swapmode_release_metrics(const struct swapmode *sm, struct metric *m, unsigned max)
{
	struct metric all[SWAPMODE_RELEASE_METRICS] = {
		METRIC_U64_AT("released", "resident_pages", atomic_load(&sm->c.released_resident)),
		METRIC_U64_AT("released", "slots_freed", atomic_load(&sm->c.released_slots)),
		METRIC_U64_AT("released", "swapped_out",
			      atomic_load(&sm->reclaim.c.released_written)),
	};
	unsigned n = max < SWAPMODE_RELEASE_METRICS ? max : SWAPMODE_RELEASE_METRICS;

	memcpy(m, all, n * sizeof(*m));
	return SWAPMODE_RELEASE_METRICS;
}
