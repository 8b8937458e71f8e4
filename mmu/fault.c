/* SPDX-License-Identifier: MIT */
#include "mmu/fault.h"

#include <errno.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mmu/guestmem.h"
#include "mmu/pages.h"
#include "mmu/reclaim.h"
#include "mmu/swap.h"
#include "mmu/uffd.h"
#include "mmu/util.h"

#define FAULT_MSGS      8       /* events read at once */
#define FAULT_BUF_PAGES (RA_MAX + 1)

static uint64_t fault_addr(const struct fault *f, uint64_t i)
{
	return f->uffd->base + (i << PAGE_SHIFT_4K);
}

void fault_wake(struct fault *f, uint64_t i)
{
	uffd_wake(f->uffd, fault_addr(f, i), PAGE_SIZE_4K);
}

/* Store page @i's new state (lock held; released here) and wake its WAITED faults. */
static void fault_publish(struct fault *f, uint64_t i, uint32_t st)
{
	bool waited = pages_set_idle(f->pages, i, st);

	pages_unlock(f->pages, i);
	if (waited)
		fault_wake(f, i);
}

void fault_installed(struct fault *f, uint64_t i, bool from_slot, uint32_t bits, bool pin,
		     bool write)
{
	uint32_t st = page_installed(pages_get(f->pages, i), from_slot, f->clock) | bits;

	if (pin)
		st = page_pinned(st, write, f->clock);
	fault_publish(f, i, st);
	reclaim_note_resident(f->reclaim, i);
}

void fault_unclaim(struct fault *f, uint64_t i)
{
	pages_lock(f->pages, i);
	fault_publish(f, i, pages_get(f->pages, i));
	pages_release(f->pages, 1);
}

static struct fault_req *fault_req_get(struct fault_worker *w)
{
	for (unsigned k = 0; k < FAULT_REQS; k++) {
		struct fault_req *r = &w->req[k];

		if (r->used)
			continue;
		if (!r->buf) {
			/* its own mapping: one given up on in flight is left mapped, never reused */
			r->buf = mmap(NULL, FAULT_BUF_PAGES * PAGE_SIZE_4K, PROT_READ | PROT_WRITE,
				      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (r->buf == MAP_FAILED) {
				r->buf = NULL;
				return NULL;
			}
		}
		memset(r->claimed, 0, sizeof(r->claimed));
		r->used = true;
		r->demand = r->prefault = false;       /* a reused request is no longer what it was */
		return r;
	}
	return NULL;
}

static bool fault_claimed(const struct fault_req *r, uint32_t k)
{
	return (r->claimed[k / 64] >> (k % 64)) & 1;
}

/*
 * Install a run of read-ahead pages [@i, @i + @n) from @src with one COPY,
 * write-protected (clean).  A page already in the memfd (EEXIST: nothing
 * should have put it there) makes the run go page by page, the slot's data
 * written over such a page and mapped with CONTINUE.
 */
static int fault_copy_run(struct fault *f, uint64_t i, const uint8_t *src, uint32_t n,
			  bool wp)
{
	int ret = uffd_copy(f->uffd, fault_addr(f, i), src, (uint64_t)n << PAGE_SHIFT_4K, wp);

	if (ret != 1)
		return ret;
	for (uint32_t k = 0; k < n; k++) {
		ret = uffd_copy(f->uffd, fault_addr(f, i + k), src + k * PAGE_SIZE_4K,
				PAGE_SIZE_4K, wp);
		if (ret == 1) {
			memcpy(f->gm->alias + ((i + k) << PAGE_SHIFT_4K), src + k * PAGE_SIZE_4K,
			       PAGE_SIZE_4K);
			ret = uffd_continue(f->uffd, fault_addr(f, i + k), PAGE_SIZE_4K, wp);
		}
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* The faulting page's read is done (@res: bytes or -errno): install it. */
static void fault_demand_done(struct fault_worker *w, struct fault_req *r, int res)
{
	struct fault *f = w->f;
	uint64_t i = r->first, t_done = mmu_now_ns(), t_end;
	bool from_slot = true, wp = !r->write;
	int ret = res == (int)PAGE_SIZE_4K ? swap_verify(f->swap, r->buf, i) :
		  res < 0 ? res : -EIO;

	if (!ret)
		ret = fault_copy_run(f, i, r->buf, 1, wp);
	if (ret < 0) {
		/* -ESHUTDOWN: the VM is being stopped, the storage may hang: not an error */
		if (ret != -ESHUTDOWN && !atomic_load(&f->swap->abort)) {
			atomic_fetch_add(&f->c.read_errors, 1);
			mmu_fatal(f->fatal, "swap-in of gpa 0x%llx from slot %llu: %s; guest data lost",
				       (unsigned long long)(i << PAGE_SHIFT_4K), (unsigned long long)i,
				       swap_strerror(ret));
		}
		from_slot = false;      /* unblock the vCPU with a zero page; the VM is ending */
		if (uffd_zero(f->uffd, fault_addr(f, i)) < 0)
			mmu_fatal(f->fatal, "installing gpa 0x%llx: %s",
				       (unsigned long long)(i << PAGE_SHIFT_4K), strerror(errno));
	}
	t_end = mmu_now_ns();
	pages_lock(f->pages, i);
	fault_installed(f, i, from_slot, from_slot && !wp ? PAGE_DIRTY : 0, false, false);
	if (!from_slot)
		return;
	atomic_fetch_add_explicit(&f->c.swap_in, 1, memory_order_relaxed);
	lathist_add(&f->c.lat_swap_in, t_end - r->t_event);
	lathist_add(&f->c.lat_queue, r->t_submit - r->t_event);
	lathist_add(&f->c.lat_read, t_done - r->t_submit);
	lathist_add(&f->c.lat_install, t_end - t_done);
}

/* Pages a request claimed. */
static uint32_t fault_req_claimed(const struct fault_req *r)
{
	uint32_t n = 0;

	for (unsigned k = 0; k < RA_MAX / 64 + 1; k++)
		n += (uint32_t)__builtin_popcountll(r->claimed[k]);
	return n;
}

/*
 * The tag a prefaulted page @i (lock held) is installed with: PREFAULT, no
 * sign of use yet -- unless a touch already waited for it (WAITED): used.
 */
static uint32_t fault_pf_bits(struct fault *f, uint64_t i)
{
	if (pages_get(f->pages, i) & PAGE_WAITED) {
		atomic_fetch_add_explicit(&f->c.pf_hit, 1, memory_order_relaxed);
		return 0;
	}
	return PAGE_PREFAULT;
}

/* A read-ahead window's (or prefault run's) read is done: install the pages that came back whole. */
static void fault_ra_done(struct fault_worker *w, struct fault_req *r, int res)
{
	struct fault *f = w->f;
	bool ok = res == (int)(r->n * PAGE_SIZE_4K);
	uint64_t good[RA_MAX / 64 + 1] = { 0 };
	uint32_t installed = 0;

	/* each claimed page checked once: a bad one stays in its slot (a demand read says why) */
	for (uint32_t k = 0; k < r->n; k++) {
		if (!fault_claimed(r, k))
			continue;
		if (ok && !swap_verify(f->swap, r->buf + k * PAGE_SIZE_4K, r->first + k))
			good[k / 64] |= 1ull << (k % 64);
		else
			fault_unclaim(f, r->first + k);
	}
	for (uint32_t k = 0, n; k < r->n; k += n) {
		uint64_t i = r->first + k;

		n = 1;
		if (!((good[k / 64] >> (k % 64)) & 1))
			continue;
		if (i == r->marker) {
			/* into the memfd, not mapped: the stream's touch of it is a fault */
			memcpy(f->gm->alias + (i << PAGE_SHIFT_4K), r->buf + k * PAGE_SIZE_4K,
			       PAGE_SIZE_4K);
		} else {
			while (k + n < r->n && ((good[(k + n) / 64] >> ((k + n) % 64)) & 1) &&
			       i + n != r->marker)
				n++;
			if (fault_copy_run(f, i, r->buf + k * PAGE_SIZE_4K, n, true) < 0) {
				for (uint32_t q = 0; q < n; q++)
					fault_unclaim(f, i + q);
				continue;
			}
		}
		for (uint32_t q = 0; q < n; q++) {
			pages_lock(f->pages, i + q);
			if (r->prefault)
				fault_installed(f, i + q, true, fault_pf_bits(f, i + q), false, false);
			else
				fault_installed(f, i + q, true, page_with_ra(0, r->stream) |
						(i + q == r->marker ? PAGE_MARKER | PAGE_UNMAPPED : 0),
						false, false);
		}
		installed += n;
	}
	if (r->prefault) {
		atomic_fetch_add_explicit(&f->c.pf_installed, installed, memory_order_relaxed);
		atomic_fetch_sub(&f->pf_pending, fault_req_claimed(r));
	} else {
		atomic_fetch_add_explicit(&f->c.ra_installed, installed, memory_order_relaxed);
	}
}

static void fault_complete(struct fault_worker *w, struct fault_req *r, int res)
{
	if (r->demand)
		fault_demand_done(w, r, res);
	else
		fault_ra_done(w, r, res);
	r->used = false;
	w->inflight--;
}

/* Every completion that is there. */
static void fault_reap(struct fault_worker *w)
{
	struct io_uring_cqe *cqe;

	while (w->ring_ok && io_uring_peek_cqe(&w->ring, &cqe) == 0) {
		struct fault_req *r = io_uring_cqe_get_data(cqe);
		int res = cqe->res;

		io_uring_cqe_seen(&w->ring, cqe);
		fault_complete(w, r, res);
	}
}

/*
 * Give up on the reads in flight (the VM stops, the storage may never
 * answer): each ends as failed with -ESHUTDOWN (faulting pages get zero
 * pages), and their buffers and the ring are left as they are: the kernel
 * may still use them.
 */
static void fault_abandon(struct fault_worker *w)
{
	if (w->ring_ok)
		memset(&w->ring, 0, sizeof(w->ring));  /* never exited, never used again */
	w->ring_ok = false;
	w->abandoned = true;
	for (unsigned k = 0; k < FAULT_REQS; k++) {
		if (!w->req[k].used)
			continue;
		fault_complete(w, &w->req[k], -ESHUTDOWN);
		w->req[k].used = true;  /* its buffer may still be written: never again */
	}
}

/*
 * Wait for one completion and finish it (the storage may hang: swap_wait
 * gives up once the VM stops, and then so do we).  0, or -ESHUTDOWN.
 */
static int fault_reap_wait(struct fault_worker *w)
{
	struct io_uring_cqe *cqe;
	int ret = swap_wait(w->f->swap, &w->ring, &cqe);

	if (!ret) {
		struct fault_req *r = io_uring_cqe_get_data(cqe);
		int res = cqe->res;

		io_uring_cqe_seen(&w->ring, cqe);
		fault_complete(w, r, res);
		return 0;
	}
	fault_abandon(w);
	return -ESHUTDOWN;
}

static void fault_submit(struct fault_worker *w)
{
	uint64_t now = mmu_now_ns();

	if (!w->ring_ok)
		return;
	for (unsigned k = 0; k < FAULT_REQS; k++)
		if (w->req[k].used && !w->req[k].t_submit)
			w->req[k].t_submit = now;
	io_uring_submit(&w->ring);
}

/*
 * Claim and queue the read of @pl's pages that are in the swap file and
 * idle, as much of it as there is room for.  The pages stay BUSY until
 * fault_ra_done.
 */
static void fault_readahead(struct fault_worker *w, const struct ra_plan *pl)
{
	struct fault *f = w->f;
	struct pages *p = f->pages;
	uint64_t mark[RA_MAX / 64 + 1] = { 0 }, lo = UINT64_MAX, hi = 0, got, want = 0;
	bool down = pl->marker != RA_NONE && pl->marker == pl->first + pl->n - 1;
	struct fault_req *r;

	if (!pl->n || !w->ring_ok || pl->n > RA_MAX)
		return;
	for (uint32_t k = 0; k < pl->n; k++) {
		uint64_t i = pl->first + k;
		uint32_t st;

		if (page_kind(pages_get(p, i)) != PAGE_SWAPPED)
			continue;
		pages_lock(p, i);
		st = pages_get(p, i);
		if (page_kind(st) == PAGE_SWAPPED && !(st & PAGE_BUSY)) {
			pages_set(p, i, st | PAGE_BUSY);
			mark[k / 64] |= 1ull << (k % 64);
			want++;
		}
		pages_unlock(p, i);
	}
	got = want ? pages_try_reserve(p, want, FAULT_RA_KEEP) : 0;
	/* short of room: keep the pages nearest the stream, give the rest back */
	for (uint32_t q = 0; q < pl->n && want > got; q++) {
		uint32_t k = down ? q : pl->n - 1 - q;

		if (!((mark[k / 64] >> (k % 64)) & 1))
			continue;
		mark[k / 64] &= ~(1ull << (k % 64));
		pages_lock(p, pl->first + k);
		fault_publish(f, pl->first + k, pages_get(p, pl->first + k));
		want--;
	}
	for (uint32_t k = 0; k < pl->n; k++) {
		if ((mark[k / 64] >> (k % 64)) & 1) {
			lo = lo < pl->first + k ? lo : pl->first + k;
			hi = pl->first + k;
		}
	}
	if (!got)
		return;
	r = fault_req_get(w);
	if (!r || swap_queue_read(f->swap, &w->ring, r->buf + 0, lo, (uint32_t)(hi - lo + 1), r)) {
		if (r)
			r->used = false;
		for (uint64_t i = lo; i <= hi; i++)
			if ((mark[(i - pl->first) / 64] >> ((i - pl->first) % 64)) & 1)
				fault_unclaim(f, i);
		return;
	}
	r->demand = false;
	r->stream = pl->stream;
	r->first = lo;
	r->n = (uint32_t)(hi - lo + 1);
	r->marker = pl->marker >= lo && pl->marker <= hi &&
		    ((mark[(pl->marker - pl->first) / 64] >> ((pl->marker - pl->first) % 64)) & 1) ?
		    pl->marker : RA_NONE;
	r->t_event = mmu_now_ns();
	r->t_submit = 0;
	for (uint64_t i = lo; i <= hi; i++)
		if ((mark[(i - pl->first) / 64] >> ((i - pl->first) % 64)) & 1)
			r->claimed[(i - lo) / 64] |= 1ull << ((i - lo) % 64);
	w->inflight++;
	readahead_issued(f->ra, (uint32_t)got);
}

/*
 * Room under the limit for one page a fault installs.  While this thread's
 * own reads are in flight, their pages (BUSY, not evictable) may be what
 * fills the limit: finish one of them before waiting for reclaim.
 */
static void fault_room(struct fault_worker *w)
{
	while (pages_try_reserve(w->f->pages, 1, 0) != 1) {
		if (!w->inflight || !w->ring_ok || fault_reap_wait(w)) {
			pages_reserve(w->f->pages);
			return;
		}
	}
}

/*
 * A fault on a swapped-out page (lock held; released here): claim it, queue
 * its read and the read-ahead window's, and go on.  Without a ring (or once
 * it was given up), the read is done here and now.
 */
static void fault_swap_in(struct fault_worker *w, uint64_t i, uint32_t st, bool write,
			  uint64_t t0)
{
	struct fault *f = w->f;
	struct ra_plan pl;
	struct fault_req *r;
	int ret;

	atomic_fetch_add_explicit(&f->c.missing, 1, memory_order_relaxed);
	pages_set(f->pages, i, st | PAGE_BUSY);
	pages_unlock(f->pages, i);
	pl = readahead_fault(f->ra, i);
	fault_room(w);
	while (w->ring_ok && !(r = fault_req_get(w)))
		if (fault_reap_wait(w))
			break;
	if (!w->ring_ok) {
		/* no ring: a synchronous read into the worker's first buffer */
		r = &w->req[0];
		r->first = i;
		r->write = write;
		r->t_event = t0;
		r->t_submit = mmu_now_ns();
		ret = r->buf && !w->abandoned ? swap_read(f->swap, NULL, r->buf, i) : -ESHUTDOWN;
		fault_demand_done(w, r, ret ? ret : (int)PAGE_SIZE_4K);
		return;
	}
	*r = (struct fault_req){ .used = true, .demand = true, .write = write, .n = 1, .first = i,
				 .marker = RA_NONE, .t_event = t0, .buf = r->buf };
	ret = swap_queue_read(f->swap, &w->ring, r->buf, i, 1, r);
	w->inflight++;
	if (ret) {
		fault_complete(w, r, ret);
		return;
	}
	fault_readahead(w, &pl);
	fault_submit(w);
}

/* A never-touched page (lock held; released here): a zero page. */
static void fault_zero(struct fault_worker *w, uint64_t i, uint32_t st, uint64_t t0)
{
	struct fault *f = w->f;
	int ret;

	atomic_fetch_add_explicit(&f->c.missing, 1, memory_order_relaxed);
	pages_set(f->pages, i, st | PAGE_BUSY);
	pages_unlock(f->pages, i);
	fault_room(w);
	ret = uffd_zero(f->uffd, fault_addr(f, i));
	if (ret < 0)
		mmu_fatal(f->fatal, "installing gpa 0x%llx: %s",
			       (unsigned long long)(i << PAGE_SHIFT_4K), strerror(-ret));
	pages_lock(f->pages, i);
	fault_installed(f, i, false, 0, false, false);
	atomic_fetch_add_explicit(&f->c.zero_fill, 1, memory_order_relaxed);
	lathist_add(&f->c.lat_zero, mmu_now_ns() - t0);
}

/*
 * The stream reached its marker @i: credit the pages it passed, and read
 * its next window.
 */
static void fault_marker(struct fault_worker *w, int stream, uint64_t i)
{
	struct fault *f = w->f;
	struct pages *p = f->pages;
	struct ra_plan pl = readahead_marker(f->ra, stream, i);
	uint32_t used = 0;

	for (uint64_t j = pl.used_first; j < pl.used_first + pl.used_n && j < p->nr; j++) {
		uint32_t st = pages_get(p, j);

		if (!(st & PAGE_RA) || page_ra_stream(st) != stream)
			continue;
		pages_lock(p, j);
		st = pages_get(p, j);
		if ((st & PAGE_RA) && page_ra_stream(st) == stream && !(st & PAGE_BUSY)) {
			pages_set(p, j, st & ~(PAGE_RA | PAGE_RA_STREAM));
			used++;
		}
		pages_unlock(p, j);
	}
	readahead_hit(f->ra, -1, used);
	fault_readahead(w, &pl);
	fault_submit(w);
}

/*
 * MINOR fault-around: map the present but unmapped pages of @i's aligned
 * block too, so that a touch of them costs no fault.  Nothing saw them
 * touched, so they are not referenced: they keep their age, and under
 * CLOCK are marked AROUND, so the hand watches them again (zaps them)
 * before it may take them -- a touch the mapping hid is seen after all.
 */
static void fault_around(struct fault_worker *w, uint64_t i)
{
	struct fault *f = w->f;
	struct pages *p = f->pages;
	uint64_t base = i & ~(uint64_t)(FAULT_AROUND - 1);

	for (uint64_t j = base; j < base + FAULT_AROUND && j < p->nr; j++) {
		uint32_t st = pages_get(p, j);

		if (j == i || !(st & PAGE_UNMAPPED))
			continue;
		pages_lock(p, j);
		st = pages_get(p, j);
		if (page_kind(st) == PAGE_RESIDENT && (st & PAGE_UNMAPPED) &&
		    !(st & (PAGE_BUSY | PAGE_MARKER)) &&
		    uffd_continue(f->uffd, fault_addr(f, j), PAGE_SIZE_4K,
				  !(st & PAGE_DIRTY)) >= 0) {
			st &= ~PAGE_UNMAPPED;
			if (f->clock)
				st |= PAGE_AROUND;
			pages_set(p, j, st);
			atomic_fetch_add_explicit(&f->c.fault_around, 1, memory_order_relaxed);
		}
		pages_unlock(p, j);
	}
}

/*
 * A fault on a page in the memfd (lock held; released here): referenced;
 * map it again.  Counted as a minor fault when this CONTINUE mapped it; one
 * already mapped by the time it is served (EEXIST: another thread, or
 * reclaim mapping back a page it kept) only counts in eexist.
 */
static void fault_minor(struct fault_worker *w, uint64_t i, uint32_t st, bool write, uint64_t t0)
{
	struct fault *f = w->f;
	int stream = (st & PAGE_RA) ? page_ra_stream(st) : -1;
	bool marker = st & PAGE_MARKER;
	int ret;

	if (st & PAGE_PREFAULT)
		atomic_fetch_add_explicit(&f->c.pf_hit, 1, memory_order_relaxed);
	st &= ~(PAGE_RA | PAGE_RA_STREAM | PAGE_MARKER | PAGE_UNMAPPED | PAGE_AROUND |
		PAGE_PREFAULT);
	if (f->clock)
		st = page_rereferenced(st);
	/* a write fault on a resident page will dirty it: map it writable at once */
	if (write && page_kind(st) == PAGE_RESIDENT)
		st |= PAGE_DIRTY;
	pages_set(f->pages, i, st);
	/* one being written back, and a clean one, stay write-protected: writes show */
	ret = uffd_continue(f->uffd, fault_addr(f, i), PAGE_SIZE_4K,
			    page_kind(st) == PAGE_EVICTING || !(st & PAGE_DIRTY));
	pages_unlock(f->pages, i);
	if (ret < 0)
		mmu_fatal(f->fatal, "UFFDIO_CONTINUE at gpa 0x%llx: %s",
			       (unsigned long long)(i << PAGE_SHIFT_4K), strerror(-ret));
	if (stream >= 0)
		readahead_hit(f->ra, stream, 1);
	if (ret)
		return;
	if (marker) {
		/* not aging's: a read-ahead stream's touch, counted as its own */
		atomic_fetch_add_explicit(&f->c.ra_marker, 1, memory_order_relaxed);
		fault_marker(w, stream, i);
	} else {
		atomic_fetch_add_explicit(&f->c.minor, 1, memory_order_relaxed);
		lathist_add(&f->c.lat_minor, mmu_now_ns() - t0);
	}
	fault_around(w, i);
}

/*
 * Give back prefault's claim of pages [@first, @first + @n), and their room
 * under the limit when it was @reserved already.
 */
static void fault_pf_unclaim(struct fault *f, uint64_t first, uint64_t n, bool reserved)
{
	for (uint64_t i = first; i < first + n; i++) {
		pages_lock(f->pages, i);
		fault_publish(f, i, pages_get(f->pages, i));
	}
	if (reserved)
		pages_release(f->pages, n);
	atomic_fetch_sub(&f->pf_pending, n);
	atomic_fetch_add_explicit(&f->c.pf_dropped, n, memory_order_relaxed);
}

/* Queue a claimed run for worker 0, or give it back when the queue is full. */
static bool fault_pf_push(struct fault *f, uint64_t first, uint64_t n)
{
	bool queued = false;

	if (!n)
		return false;
	pthread_mutex_lock(&f->pf_mu);
	if (f->pf_len < FAULT_PF_QUEUE) {
		f->pf_q[(f->pf_head + f->pf_len) % FAULT_PF_QUEUE] = (struct fault_pf_run){ first, n };
		f->pf_len++;
		queued = true;
	}
	pthread_mutex_unlock(&f->pf_mu);
	if (!queued)
		fault_pf_unclaim(f, first, n, false);
	return queued;
}

uint64_t fault_prefault(struct fault *f, uint64_t first, uint64_t n)
{
	struct pages *p = f->pages;
	uint64_t cap = p->limit / 4 ? p->limit / 4 : 1, claimed = 0, run = 0, run_n = 0, one = 1;
	bool queued = false;

	if (!f->w || atomic_load(&f->swap->abort))
		return 0;
	for (uint64_t i = first; i < first + n && i < p->nr; i++) {
		uint32_t st = pages_get(p, i);
		bool ok;

		ok = (page_kind(st) == PAGE_SWAPPED || page_kind(st) == PAGE_ABSENT) &&
		     !(st & PAGE_BUSY);
		if (ok && atomic_load(&f->pf_pending) >= cap)
			break;
		if (ok) {
			pages_lock(p, i);
			st = pages_get(p, i);
			ok = (page_kind(st) == PAGE_SWAPPED || page_kind(st) == PAGE_ABSENT) &&
			     !(st & PAGE_BUSY);
			if (ok)
				pages_set(p, i, st | PAGE_BUSY);
			pages_unlock(p, i);
		}
		if (!ok)
			continue;
		atomic_fetch_add(&f->pf_pending, 1);
		claimed++;
		if (run_n && run + run_n == i) {
			run_n++;
			continue;
		}
		queued |= fault_pf_push(f, run, run_n);
		run = i;
		run_n = 1;
	}
	queued |= fault_pf_push(f, run, run_n);
	if (claimed)
		atomic_fetch_add_explicit(&f->c.pf_batches, 1, memory_order_relaxed);
	if (queued && write(f->pf_efd, &one, sizeof(one)) < 0)
		fprintf(stderr, "vmm: eventfd write: %s\n", strerror(errno));
	return claimed;
}

/*
 * Room for @n pages prefault installs: what is free now, then one page at a
 * time, waiting for reclaim (finishing this thread's own reads first: their
 * pages may be what fills the limit).
 */
static void fault_pf_room(struct fault_worker *w, uint64_t n)
{
	uint64_t got = 0;

	while (got < n) {
		got += pages_try_reserve(w->f->pages, n - got, 0);
		if (got == n)
			break;
		if (w->inflight && w->ring_ok && !fault_reap_wait(w))
			continue;
		pages_reserve(w->f->pages);
		got++;
	}
}

/* Never-touched pages [@first, @first + @n), claimed and with room: zero pages, mapped. */
static void fault_pf_zero(struct fault *f, uint64_t first, uint64_t n)
{
	int ret = uffd_zero_range(f->uffd, fault_addr(f, first), n << PAGE_SHIFT_4K);

	for (uint64_t i = first; ret == 1 && i < first + n; i++)
		uffd_zero(f->uffd, fault_addr(f, i));   /* a part was mapped: the rest page by page */
	if (ret < 0) {
		fault_pf_unclaim(f, first, n, true);
		return;
	}
	for (uint64_t i = first; i < first + n; i++) {
		pages_lock(f->pages, i);
		fault_installed(f, i, false, fault_pf_bits(f, i), false, false);
	}
	atomic_fetch_add_explicit(&f->c.pf_installed, n, memory_order_relaxed);
	atomic_fetch_sub(&f->pf_pending, n);
}

/* Swapped-out pages [@first, @first + @n) (n <= RA_MAX), claimed and with room: queue their read. */
static void fault_pf_read(struct fault_worker *w, uint64_t first, uint32_t n)
{
	struct fault *f = w->f;
	struct fault_req *r = NULL;

	while (w->ring_ok && !(r = fault_req_get(w)))
		if (fault_reap_wait(w))
			break;
	if (!r || !w->ring_ok || swap_queue_read(f->swap, &w->ring, r->buf, first, n, r)) {
		if (r)
			r->used = false;
		fault_pf_unclaim(f, first, n, true);
		return;
	}
	r->demand = false;
	r->prefault = true;
	r->stream = -1;
	r->first = first;
	r->n = n;
	r->marker = RA_NONE;
	r->t_event = mmu_now_ns();
	r->t_submit = 0;
	for (uint32_t k = 0; k < n; k++)
		r->claimed[k / 64] |= 1ull << (k % 64);
	w->inflight++;
	fault_submit(w);
}

/*
 * Worker 0: serve the queued prefault runs, each in stretches of one kind
 * (pages claimed BUSY keep their kind: nobody else changes a BUSY page).
 */
static void fault_pf_serve(struct fault_worker *w)
{
	struct fault *f = w->f;

	for (;;) {
		struct fault_pf_run run;

		pthread_mutex_lock(&f->pf_mu);
		if (!f->pf_len) {
			pthread_mutex_unlock(&f->pf_mu);
			return;
		}
		run = f->pf_q[f->pf_head];
		f->pf_head = (f->pf_head + 1) % FAULT_PF_QUEUE;
		f->pf_len--;
		pthread_mutex_unlock(&f->pf_mu);
		for (uint64_t k = 0, m, reads = 0; k < run.n; k += m) {
			enum page_kind kind = page_kind(pages_get(f->pages, run.first + k));
			/* the first read short: the guest starts on the run's first pages sooner */
			uint64_t max = kind != PAGE_SWAPPED ? run.n : reads++ ? RA_MAX : FAULT_PF_HEAD;

			m = 1;
			while (k + m < run.n && m < max &&
			       page_kind(pages_get(f->pages, run.first + k + m)) == kind)
				m++;
			if (atomic_load(&f->swap->abort)) {
				fault_pf_unclaim(f, run.first + k, m, false);
				continue;
			}
			fault_pf_room(w, m);
			if (kind == PAGE_SWAPPED)
				fault_pf_read(w, run.first + k, (uint32_t)m);
			else
				fault_pf_zero(f, run.first + k, m);
		}
	}
}

void fault_serve(struct fault_worker *w, uint64_t addr, uint64_t flags, uint64_t t0)
{
	struct fault *f = w->f;
	bool write = (flags & UFFD_PAGEFAULT_FLAG_WRITE) != 0;
	uint64_t i;
	uint32_t st;

	addr &= ~(PAGE_SIZE_4K - 1);
	if (addr < f->uffd->base || addr - f->uffd->base >= f->uffd->len)
		return;
	i = (addr - f->uffd->base) >> PAGE_SHIFT_4K;

	/* served by the page's state, not by the event's kind: see mmu/fault.h */
	pages_lock(f->pages, i);
	st = pages_get(f->pages, i);
	if (st & PAGE_BUSY) {
		/* being installed: its installer wakes this fault */
		pages_set(f->pages, i, st | PAGE_WAITED);
		pages_unlock(f->pages, i);
		atomic_fetch_add_explicit(&f->c.busy, 1, memory_order_relaxed);
		return;
	}
	switch (page_kind(st)) {
	case PAGE_RESIDENT:
	case PAGE_EVICTING:
		fault_minor(w, i, st, write, t0);
		break;
	case PAGE_SWAPPED:
		fault_swap_in(w, i, st, write, t0);
		break;
	default:
		fault_zero(w, i, st, t0);
		break;
	}
}

/*
 * Spin for FAULT_SPIN_US after the last fault served, reading the
 * (non-blocking) uffd and reaping completions -- faults come in bursts,
 * and a thread woken from poll() on this nested host takes ~15 us longer
 * to resolve one (docs/ARCHITECTURE.md) -- then sleep in poll() on the
 * uffd, the ring's eventfd and the stop eventfd.
 */
static void *fault_thread(void *arg)
{
	struct fault_worker *w = arg;
	struct fault *f = w->f;
	struct uffd_msg msg[FAULT_MSGS];
	bool pf = w == &f->w[0];
	struct pollfd pfd[4] = {
		{ .fd = f->uffd->stop_fd, .events = POLLIN },
		{ .fd = f->uffd->fd, .events = POLLIN },
		{ .fd = pf ? f->pf_efd : -1, .events = POLLIN },
		{ .fd = w->ring_efd, .events = POLLIN },
	};
	uint64_t last = 0, junk;

	for (;;) {
		ssize_t n;

		fault_reap(w);
		if (pf && __atomic_load_n(&f->pf_len, __ATOMIC_RELAXED)) {
			fault_pf_serve(w);
			last = mmu_now_ns();
		}
		n = read(f->uffd->fd, msg, sizeof(msg));
		if (n > 0) {
			uint64_t t0 = mmu_now_ns();

			for (size_t k = 0; k < (size_t)n / sizeof(msg[0]); k++)
				if (msg[k].event == UFFD_EVENT_PAGEFAULT)
					fault_serve(w, msg[k].arg.pagefault.address,
						    msg[k].arg.pagefault.flags, t0);
			last = mmu_now_ns();
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			fprintf(stderr, "vmm: reading userfaultfd: %s\n", strerror(errno));
			break;
		}
		if (w->inflight && atomic_load(&f->swap->abort)) {
			fault_abandon(w);       /* stopping, and the storage may never answer */
			continue;
		}
		if (mmu_now_ns() - last < FAULT_SPIN_US * 1000ull)
			continue;
		/* with reads in flight, look at swap_abort() every tick */
		/* poll ignores the entries whose fd is -1 */
		if (poll(pfd, 4, w->inflight ? SWAP_TICK_MS : -1) < 0 && errno != EINTR)
			break;
		if (pfd[0].revents)
			break;
		if ((pfd[2].revents & POLLIN) && read(f->pf_efd, &junk, sizeof(junk)) < 0 &&
		    errno != EAGAIN)
			break;
		if ((pfd[3].revents & POLLIN) && read(w->ring_efd, &junk, sizeof(junk)) < 0 &&
		    errno != EAGAIN)
			break;
	}
	/* the reads in flight end first: a vCPU may still wait on one */
	while (w->inflight && w->ring_ok)
		if (fault_reap_wait(w))
			break;
	atomic_store(&w->done, true);
	return NULL;
}

int fault_start(struct fault *f, unsigned nr)
{
	int ret;

	pthread_mutex_init(&f->pf_mu, NULL);
	f->pf_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (f->pf_efd < 0) {
		ret = -errno;
		fprintf(stderr, "vmm: eventfd: %s\n", strerror(errno));
		return ret;
	}
	f->w = calloc(nr, sizeof(*f->w));
	if (!f->w)
		return -ENOMEM;
	f->nr = nr;
	for (unsigned k = 0; k < nr; k++) {
		struct fault_worker *w = &f->w[k];

		w->f = f;
		w->ring_efd = -1;
		/* without a ring, reads are synchronous and nothing is read ahead */
		w->ring_ok = io_uring_queue_init(2 * FAULT_REQS, &w->ring, 0) == 0;
		if (w->ring_ok) {
			w->ring_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
			if (w->ring_efd < 0 || io_uring_register_eventfd(&w->ring, w->ring_efd)) {
				io_uring_queue_exit(&w->ring);
				w->ring_ok = false;
			}
		}
		if (!fault_req_get(w))
			return -ENOMEM;
		w->req[0].used = false;         /* mapped now: the synchronous path's buffer */
		ret = mmu_thread(&w->thread, fault_thread, w, "fault");
		if (ret)
			return ret;
		w->started = true;
	}
	return 0;
}

void fault_stop(struct fault *f)
{
	uint64_t one = 1;

	if (!f->w)
		return;
	if (f->uffd->stop_fd >= 0 && write(f->uffd->stop_fd, &one, sizeof(one)) < 0)
		fprintf(stderr, "vmm: eventfd write: %s\n", strerror(errno));
	for (unsigned k = 0; k < f->nr; k++) {
		struct fault_worker *w = &f->w[k];

		if (w->started)
			mmu_thread_end(w->thread, &w->done,
				       w->abandoned || atomic_load(&f->swap->abort));
		if (w->abandoned)
			continue;       /* the kernel may still use its ring and buffers */
		if (w->ring_ok)
			io_uring_queue_exit(&w->ring);
		if (w->ring_efd >= 0)
			close(w->ring_efd);
		for (unsigned q = 0; q < FAULT_REQS; q++)
			if (w->req[q].buf)
				munmap(w->req[q].buf, FAULT_BUF_PAGES * PAGE_SIZE_4K);
	}
	free(f->w);
	f->w = NULL;
	f->nr = 0;
	/* runs still queued: their pages go back as they were (no vCPU runs now) */
	while (f->pf_len) {
		struct fault_pf_run run = f->pf_q[f->pf_head];

		f->pf_head = (f->pf_head + 1) % FAULT_PF_QUEUE;
		f->pf_len--;
		fault_pf_unclaim(f, run.first, run.n, false);
	}
	close(f->pf_efd);
	f->pf_efd = -1;
	pthread_mutex_destroy(&f->pf_mu);
}
