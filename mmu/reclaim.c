/* SPDX-License-Identifier: MIT */
#include "mmu/reclaim.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "mmu/dirty.h"
#include "mmu/guestmem.h"
#include "mmu/readahead.h"
#include "mmu/uffd.h"
#include "mmu/util.h"

#define RECLAIM_BACKOFF_MIN_MS  100u
#define RECLAIM_BACKOFF_MAX_MS  5000u

void reclaim_note_resident(struct reclaim *r, uint64_t i)
{
	if (!r->clock)
		fifo_push(&r->fifo, (uint32_t)i);
}

static int reclaim_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The length of the run of consecutive indices starting at @v[k] (at most DIRTY_SCAN_MAX). */
static unsigned reclaim_run(const uint64_t *v, unsigned n, unsigned k)
{
	unsigned len = 1;

	while (k + len < n && len < DIRTY_SCAN_MAX && v[k + len] == v[k] + len)
		len++;
	return len;
}

static void reclaim_lock_run(struct pages *p, const uint64_t *v, unsigned len)
{
	for (unsigned k = 0; k < len; k++)     /* ascending, distinct stripes (len <= 64) */
		pages_lock(p, v[k]);
}

static void reclaim_unlock_run(struct pages *p, const uint64_t *v, unsigned len)
{
	for (unsigned k = len; k-- > 0;)
		pages_unlock(p, v[k]);
}

static uint64_t reclaim_addr(struct reclaim *r, uint64_t i)
{
	return (uintptr_t)r->gm->guest_map + (i << PAGE_SHIFT_4K);
}

/* Zap the host PTEs of pages [@i, @i + @len) of the guest mapping. */
static int reclaim_zap(struct reclaim *r, uint64_t i, unsigned len)
{
	if (madvise((void *)(uintptr_t)reclaim_addr(r, i), (size_t)len << PAGE_SHIFT_4K,
		    MADV_DONTNEED) == 0)
		return 0;
	mmu_fatal(r->fatal, "madvise(MADV_DONTNEED) of guest RAM: %s", strerror(errno));
	return -errno;
}

/*
 * Pages [@v[0], @v[0] + @len) (locks held) that have no PTE in the guest
 * mapping.  No guest access reached them since they lost it: that takes a
 * MINOR fault, which maps the page and clears PAGE_UNMAPPED.  So for these
 * our own state is the evidence, not the PTE: a none PTE shows neither
 * "written" nor "clean" (PAGEMAP_SCAN does not protect a none PTE on every
 * kernel, e.g. 6.12, so no uffd-wp marker can be relied on there).
 */
static uint64_t reclaim_unmapped(struct reclaim *r, const uint64_t *v, unsigned len)
{
	uint64_t mask = 0;

	for (unsigned m = 0; m < len; m++)
		if (pages_get(r->pages, v[m]) & PAGE_UNMAPPED)
			mask |= 1ull << m;
	return mask;
}

/*
 * Page @i (lock held) was written since its last protection: dirty, and a
 * read-ahead page among them was used.
 */
static void reclaim_written(struct reclaim *r, uint64_t i)
{
	struct pages *p = r->pages;
	uint32_t st = pages_get(p, i) | PAGE_DIRTY;

	if (st & PAGE_RA) {
		readahead_hit(r->ra, page_ra_stream(st), 1);
		st &= ~(PAGE_RA | PAGE_RA_STREAM);
	}
	if (st & PAGE_PREFAULT) {
		atomic_fetch_add_explicit(&r->c.pf_hit, 1, memory_order_relaxed);
		st &= ~PAGE_PREFAULT;
	}
	pages_set(p, i, st);
}

/*
 * Aging: zap the pages the hand starts to watch, so that their next access
 * is a MINOR fault.  Zap, then look at the PTEs, with the page locks
 * held: a fault (CONTINUE) cannot come between, and a page written since
 * its last protection has no uffd-wp marker left, so it becomes DIRTY here.
 * One that was unmapped already keeps its DIRTY bit as it is.
 */
static void reclaim_age(struct reclaim *r, uint64_t *aged, unsigned n)
{
	struct pages *p = r->pages;

	qsort(aged, n, sizeof(*aged), reclaim_cmp);
	for (unsigned k = 0, len; k < n; k += len) {
		uint64_t written = ~0ull, unmapped;

		len = reclaim_run(aged, n, k);
		reclaim_lock_run(p, aged + k, len);
		unmapped = reclaim_unmapped(r, aged + k, len);
		if (!reclaim_zap(r, aged[k], len)) {
			for (unsigned m = 0; m < len; m++)
				pages_set(p, aged[k + m], pages_get(p, aged[k + m]) | PAGE_UNMAPPED);
			if (dirty_scan(r->pagemap_fd, reclaim_addr(r, aged[k]), len, false, &written))
				written = ~0ull;
			written &= ~unmapped;
		}
		for (unsigned m = 0; m < len; m++)
			if (written & (1ull << m))
				reclaim_written(r, aged[k + m]);
		reclaim_unlock_run(p, aged + k, len);
		atomic_fetch_add_explicit(&r->c.zap, len, memory_order_relaxed);
	}
}

/* Give up on victim @i (lock held): resident again; @stale drops its swap copy. */
static void reclaim_keep(struct reclaim *r, uint64_t i, bool stale)
{
	struct pages *p = r->pages;
	uint32_t st = page_kept(pages_get(p, i), stale);

	if ((st & PAGE_DIRTY) && (st & PAGE_COPY)) {
		swap_slot_drop(r->swap, i);
		st &= ~PAGE_COPY;
	}
	pages_set(p, i, st);
	if (!r->clock)
		fifo_push_front(&r->fifo, (uint32_t)i);   /* still the oldest */
}

/*
 * Protect, per run: write-protect the victims and learn which were written
 * since their last protection (PAGEMAP_SCAN with PM_SCAN_WP_MATCHING reads
 * and protects each PTE in one step).  From here on every guest write
 * leaves a trace in the PTE.
 */
static void reclaim_protect(struct reclaim *r, uint64_t *v, unsigned n)
{
	struct pages *p = r->pages;

	for (unsigned k = 0, len; k < n; k += len) {
		uint64_t written = ~0ull;
		int ret;

		len = reclaim_run(v, n, k);
		reclaim_lock_run(p, v + k, len);
		ret = dirty_scan(r->pagemap_fd, reclaim_addr(r, v[k]), len, true, &written);
		written &= ~reclaim_unmapped(r, v + k, len);
		for (unsigned m = 0; m < len; m++) {
			uint64_t i = v[k + m];

			if (ret) {
				reclaim_keep(r, i, false);     /* unprotected: cannot evict safely */
				continue;
			}
			if (written & (1ull << m))
				reclaim_written(r, i);
		}
		reclaim_unlock_run(p, v + k, len);
		if (ret)
			mmu_fatal(r->fatal, "PAGEMAP_SCAN of guest RAM: %s", strerror(-ret));
	}
}

/*
 * Prepare: each dirty victim (or one without a copy) takes its slot, loses
 * DIRTY -- after Protect, so a later write shows -- and is queued for
 * writing; consecutive pages go in one run (one write).  @io_of[k] is the
 * run of victim k or -1.  Pinned victims are kept.  Returns the number of
 * runs.
 */
static unsigned reclaim_prepare_writes(struct reclaim *r, uint64_t *v, unsigned n, int *io_of)
{
	struct pages *p = r->pages;
	unsigned nio = 0;

	for (unsigned k = 0; k < n; k++) {
		uint64_t i = v[k];
		struct swap_io *last = nio ? &r->io[nio - 1] : NULL;
		uint32_t st;

		io_of[k] = -1;
		pages_lock(p, i);
		st = pages_get(p, i);
		if (page_kind(st) != PAGE_EVICTING) {
			pages_unlock(p, i);
			continue;
		}
		if (page_pins(st)) {
			reclaim_keep(r, i, false);
			atomic_fetch_add_explicit(&r->c.evict_cancelled, 1, memory_order_relaxed);
		} else if ((st & PAGE_DIRTY) || !(st & PAGE_COPY)) {
			/* never, by construction: a released page is ABSENT until touched again */
			if (st & PAGE_RELEASED)
				atomic_fetch_add_explicit(&r->c.released_written, 1,
							  memory_order_relaxed);
			if (!(st & PAGE_COPY))
				swap_slot_take(r->swap, i);
			pages_set(p, i, (st & ~PAGE_DIRTY) | PAGE_COPY);
			if (last && last->first + last->n == i) {
				last->n++;
			} else {
				r->io[nio++] = (struct swap_io){
					.buf = r->gm->alias + (i << PAGE_SHIFT_4K),
					.first = i,
					.n = 1,
				};
			}
			io_of[k] = (int)nio - 1;
		}
		pages_unlock(p, i);
	}
	return nio;
}

/* Write them in one batch; failures keep their pages (in Finish) and back off. */
static void reclaim_write(struct reclaim *r, unsigned nio)
{
	unsigned failed;
	int err = 0;

	if (!nio)
		return;
	failed = swap_write_batch(r->swap, r->ring_ok ? &r->ring : NULL, r->io, nio);
	for (unsigned k = 0; k < nio; k++)
		if (!r->io[k].res)
			atomic_fetch_add_explicit(&r->c.swap_out, r->io[k].n, memory_order_relaxed);
	if (!failed) {
		r->backoff_ms = 0;
		atomic_store(&r->swap->failing, false);
		atomic_store(&r->pages->give_way, false);
		return;
	}
	for (unsigned k = 0; k < nio && !err; k++)
		err = r->io[k].res;
	if (atomic_load(&r->swap->abort))
		return;         /* stopping: the pages stay resident, nothing failed */
	atomic_fetch_add(&r->c.write_errors, failed);
	swap_report(r->swap, "write", err, "keeping pages resident");
	atomic_store(&r->swap->failing, true);
	r->backoff_ms = r->backoff_ms ? r->backoff_ms * 2 : RECLAIM_BACKOFF_MIN_MS;
	if (r->backoff_ms > RECLAIM_BACKOFF_MAX_MS)
		r->backoff_ms = RECLAIM_BACKOFF_MAX_MS;
	r->retry_ns = mmu_now_ns() + r->backoff_ms * 1000000ull;
	/* reclaim cannot keep the limit while the file fails: let faults through */
	atomic_store(&r->pages->give_way, true);
	pages_kick(r->pages);
}

/* Punch [@i, @i + @len) out of the memfd.  0 or -errno. */
static int reclaim_punch(struct reclaim *r, uint64_t i, unsigned len)
{
	int ret = guestmem_punch(r->gm, i << PAGE_SHIFT_4K, (uint64_t)len << PAGE_SHIFT_4K);

	if (ret)
		mmu_fatal(r->fatal, "fallocate(PUNCH_HOLE) of guest RAM: %s", strerror(-ret));
	return ret;
}

/* Bits [m, m + n) of a run's mask. */
static inline uint64_t reclaim_bits(unsigned m, unsigned n)
{
	return (n == 64 ? ~0ull : (1ull << n) - 1) << m;
}

/* The length of the stretch of equal bits of @mask from bit @m, within @len. */
static unsigned reclaim_stretch(uint64_t mask, unsigned m, unsigned len)
{
	unsigned n = 1;

	while (m + n < len && ((mask >> m) & 1) == ((mask >> (m + n)) & 1))
		n++;
	return n;
}

/*
 * Which of the run's candidates @cand were written since Protect: a first
 * look without zapping finds those already written (they stay mapped and
 * take no fault); the rest are zapped (*@zapped) and looked at again.  After
 * the zap a uffd-wp marker is the proof that a page was not written.
 */
static uint64_t reclaim_look(struct reclaim *r, const uint64_t *v, unsigned len, uint64_t cand,
			     uint64_t *zapped)
{
	uint64_t written = 0;

	*zapped = 0;
	for (int pass = 0; pass < 2; pass++) {
		uint64_t live = cand & ~written;

		for (unsigned m = 0, n; m < len; m += n) {
			uint64_t w;

			n = reclaim_stretch(live, m, len);
			if (!(live & (1ull << m)))
				continue;
			if (pass)
				*zapped |= reclaim_bits(m, n);
			if ((pass && reclaim_zap(r, v[m], n)) ||
			    dirty_scan(r->pagemap_fd, reclaim_addr(r, v[m]), n, false, &w))
				w = ~0ull;
			written |= (w << m) & reclaim_bits(m, n);
		}
	}
	return written;
}

/*
 * Finish, for a run of victims with their locks held: keep those that a
 * pin, a VMM write, a failed write or (CLOCK) a reference claimed; of the
 * rest, keep those written since Protect (mapped back if zapped) and punch
 * the others.  Nothing can change a page between its zap and its punch: a
 * guest access needs a fault, which waits for the page lock.  Returns the
 * number punched.
 */
static unsigned reclaim_finish_run(struct reclaim *r, uint64_t *v, const int *io_of,
				   unsigned len)
{
	struct pages *p = r->pages;
	uint64_t cand = 0, zapped, punch, unmapped;
	unsigned punched = 0;

	for (unsigned m = 0; m < len; m++) {
		uint32_t st = pages_get(p, v[m]);

		if (page_kind(st) != PAGE_EVICTING)
			continue;
		if (io_of[m] >= 0 && r->io[io_of[m]].res) {
			reclaim_keep(r, v[m], true);
		} else if (!page_may_punch(st, r->clock)) {
			reclaim_keep(r, v[m], (st & PAGE_DIRTY) != 0);
			atomic_fetch_add_explicit(&r->c.evict_cancelled, 1, memory_order_relaxed);
		} else {
			cand |= 1ull << m;
		}
	}
	unmapped = cand & reclaim_unmapped(r, v, len);   /* untouched since: nothing to look at */
	punch = cand & ~reclaim_look(r, v, len, cand & ~unmapped, &zapped);
	for (unsigned m = 0; m < len; m++) {
		if (!(cand & ~punch & (1ull << m)))
			continue;
		reclaim_keep(r, v[m], true);
		if (zapped & (1ull << m)) {     /* dirty now: no protection needed */
			uffd_continue(r->uffd, reclaim_addr(r, v[m]), 4096, false);
			pages_set(p, v[m], pages_get(p, v[m]) & ~PAGE_UNMAPPED);
		}
		atomic_fetch_add_explicit(&r->c.evict_cancelled, 1, memory_order_relaxed);
	}
	for (unsigned m = 0, n; m < len; m += n) {
		n = reclaim_stretch(punch, m, len);
		if (!(punch & (1ull << m)))
			continue;
		if (reclaim_punch(r, v[m], n)) {
			for (unsigned q = m; q < m + n; q++)
				reclaim_keep(r, v[q], false);
			continue;
		}
		for (unsigned q = m; q < m + n; q++) {
			uint32_t st = pages_get(p, v[q]);

			/* read ahead: used if its stream went past it, else wasted */
			if ((st & PAGE_RA) && readahead_passed(r->ra, page_ra_stream(st), v[q]))
				readahead_hit(r->ra, -1, 1);
			else if (st & PAGE_RA)
				readahead_wasted(r->ra, page_ra_stream(st), 1);
			if (st & PAGE_PREFAULT)
				atomic_fetch_add_explicit(&r->c.pf_wasted, 1, memory_order_relaxed);
			pages_set(p, v[q], page_with_kind(st & ~(PAGE_REF | PAGE_RA | PAGE_RA_STREAM |
								 PAGE_MARKER | PAGE_UNMAPPED |
								 PAGE_AROUND | PAGE_PREFAULT),
							  PAGE_SWAPPED));
			if (io_of[q] < 0)
				atomic_fetch_add_explicit(&r->c.swap_out_skipped_clean, 1,
							  memory_order_relaxed);
		}
		punched += n;
	}
	return punched;
}

static unsigned reclaim_evict(struct reclaim *r, uint64_t *v, unsigned n)
{
	int io_of[RECLAIM_BATCH];
	unsigned punched = 0;

	qsort(v, n, sizeof(*v), reclaim_cmp);
	reclaim_protect(r, v, n);
	reclaim_write(r, reclaim_prepare_writes(r, v, n, io_of));
	for (unsigned k = 0, len, got; k < n; k += len) {
		len = reclaim_run(v, n, k);
		reclaim_lock_run(r->pages, v + k, len);
		got = reclaim_finish_run(r, v + k, io_of + k, len);
		reclaim_unlock_run(r->pages, v + k, len);
		punched += got;
	}
	atomic_fetch_add_explicit(&r->c.evicted, punched, memory_order_relaxed);
	pages_release(r->pages, punched);
	return punched;
}

unsigned reclaim_round(struct reclaim *r)
{
	struct pages *p = r->pages;
	uint64_t victims[RECLAIM_BATCH], aged[RECLAIM_BATCH];
	unsigned n = 0, na;

	if (!r->clock) {
		n = aging_fifo_pick(p, &r->fifo, victims, RECLAIM_BATCH);
	} else {
		/* every pass that fills the watch list changes RECLAIM_BATCH states: bounded */
		for (uint64_t it = 0; n < RECLAIM_BATCH && it <= p->nr / RECLAIM_BATCH + 1; it++) {
			n += aging_clock_pick(p, &r->hand, victims + n, RECLAIM_BATCH - n,
						aged, RECLAIM_BATCH, &na);
			if (na)
				reclaim_age(r, aged, na);
			if (na < RECLAIM_BATCH)
				break;
		}
	}
	return n ? reclaim_evict(r, victims, n) : 0;
}

/* Sleep @ms, or less when stopped. */
static void reclaim_nap(struct pages *p, uint64_t ms)
{
	while (ms && !atomic_load(&p->stop)) {
		uint64_t step = ms > 10 ? 10 : ms;
		struct timespec ts = { .tv_nsec = (long)step * 1000000l };

		nanosleep(&ts, NULL);
		ms -= step;
	}
}

static void *reclaim_thread(void *arg)
{
	struct reclaim *r = arg;
	struct pages *p = r->pages;

	while (!atomic_load(&p->stop)) {
		if (!pages_wait_work(p, 100))
			continue;
		while (!atomic_load(&p->stop) && pages_need_reclaim(p)) {
			uint64_t now = mmu_now_ns();

			if (r->backoff_ms && now < r->retry_ns) {
				/* the swap file failed lately: faults go over the limit meanwhile */
				reclaim_nap(p, (r->retry_ns - now) / 1000000ull + 1);
				continue;
			}
			if (!reclaim_round(r))
				reclaim_nap(p, 1);      /* nothing went (pinned, busy, kept) */
		}
	}
	atomic_store(&r->done, true);
	return NULL;
}

int reclaim_init(struct reclaim *r)
{
	int ret;

	/* the context is the caller's (swapmode wires it); the rest starts empty */
	ret = r->clock ? 0 : fifo_init(&r->fifo, r->pages->nr);
	if (ret)
		return ret;
	r->ring_ok = io_uring_queue_init(RECLAIM_BATCH, &r->ring, 0) == 0;
	return 0;
}

int reclaim_start(struct reclaim *r)
{
	int ret;

	atomic_store(&r->done, false);
	ret = mmu_thread(&r->thread, reclaim_thread, r, "reclaim");
	r->started = ret == 0;
	return ret;
}

void reclaim_stop(struct reclaim *r)
{
	if (!r->started)
		return;
	atomic_store(&r->pages->stop, true);
	pages_kick(r->pages);
	/* after an abort its writes may still be in flight, on storage that hangs */
	mmu_thread_end(r->thread, &r->done, atomic_load(&r->swap->abort));
	r->started = false;
}

void reclaim_destroy(struct reclaim *r)
{

	reclaim_stop(r);
	if (r->ring_ok && r->ring.sq.ring_entries)
		io_uring_queue_exit(&r->ring);
	r->ring_ok = false;
	fifo_destroy(&r->fifo);
}
