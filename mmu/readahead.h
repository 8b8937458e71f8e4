/* SPDX-License-Identifier: MIT */
/*
 * Swap readahead: which swapped-out neighbours of a fault to read with it.
 * Pure decisions, no I/O: the fault path asks, reads, and reports back what
 * became of the pages it read ahead.
 *
 * Streams.  Faults are grouped into streams by guest-physical position: a
 * fault within reach of a stream's last fault (its window, at least
 * RA_REACH pages) continues that stream, in the direction of the move; any
 * other fault starts a new one (the least recently used of RA_STREAMS slots
 * goes).  Per region of RAM rather than per vCPU: one vCPU walking two
 * arrays is two streams, and KVM's own accesses to guest page tables, which
 * come from no vCPU's program order, do not break a program's stream.
 *
 * Windows.  A stream with a direction reads the next window ahead of its
 * fault, and its first page is the stream's marker: the fault path leaves
 * it unmapped, so the guest's touch of it is a fault that reads the window
 * after (async readahead, as Linux's PG_readahead): a sequential stream is
 * read one window ahead and stops faulting on data.  The window doubles
 * while the stream's read-ahead pages are used (the Linux VMA rule:
 * hits + 2 rounded up to a power of two, never less than half the last
 * window) up to RA_MAX; a stream whose pages are dropped unused shrinks.
 * A fault that starts a stream reads the aligned block of RA_NEW_MAX pages
 * around it only as far as the measured hit rate of such blocks says: 8
 * pages at a rate of 1/2 or more, 4 at 1/4, 2 at 1/8, none below -- but
 * every RA_PROBE-th new stream still reads 2, so the rate stays measured.
 * Those blocks' pages carry RA_NEW_ID: their outcomes make that rate.
 *
 * --readahead N (RA_FIXED): every window N pages, and a fault that starts
 * a stream reads the N pages after it, as a stream going up.
 *
 * Evidence.  A read-ahead page is a hit when the guest is seen to use it:
 * a fault on it, a write to it (reclaim sees the written bit), or its
 * stream having gone past it (a marker or fault of the stream beyond it);
 * it is wasted when it leaves memory without any of these.  A page only read, out of its stream's order,
 * counts as wasted: the rates err low.
 */
#ifndef PV_MMU_READAHEAD_H
#define PV_MMU_READAHEAD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define RA_STREAMS      7u      /* stream ids 0..6; with RA_NEW_ID they fit 3 bits */
#define RA_NEW_ID       7       /* the id of pages read around a new stream's first fault */
#define RA_MAX          256u    /* pages: 1 MiB, one read */
#define RA_REACH        16u     /* pages: a fault this close continues a stream */
#define RA_NEW_MAX      8u      /* pages read around a fault that starts a stream */
#define RA_PROBE        16u
#define RA_NONE         UINT64_MAX

enum ra_mode { RA_OFF, RA_AUTO, RA_FIXED };

struct ra_stream {
	uint64_t start;         /* the page it started at */
	uint64_t last;          /* the last fault's page */
	uint64_t first;         /* the window read last: its first page in the stream's */
	uint64_t next;          /* direction, and the first page after it */
	uint64_t used;          /* LRU tick */
	uint32_t window;        /* pages of the window read last */
	uint32_t hits;          /* since the last window was sized */
	int dir;                /* +1 up, -1 down, 0 not known yet */
	bool valid;
};

struct readahead {
	enum ra_mode mode;
	uint32_t fixed;         /* RA_FIXED: the window, in pages */
	uint64_t nr;            /* pages of RAM */
	uint32_t max;           /* the largest window: RA_MAX, or less for a small limit */
	pthread_mutex_t mu;
	struct ra_stream s[RA_STREAMS];
	uint64_t tick;
	uint64_t new_streams;
	/* outcomes of RA_NEW_ID pages since the rate was last halved (a moving window) */
	uint64_t new_hit, new_wasted;
	atomic_uint_fast64_t issued, hit, wasted;
};

/*
 * A plan: read pages [first, first + n) besides the fault and tag them with
 * @stream; leave @marker (RA_NONE, or one of them) unmapped.  Pages
 * [used_first, used_first + used_n) of @stream were passed by it: hits.
 */
struct ra_plan {
	uint64_t first;
	uint32_t n;
	int stream;
	uint64_t marker;
	uint64_t used_first;
	uint32_t used_n;
};

/*
 * @limit: the resident limit in pages.  Two windows of a stream are in
 * memory at once (the one being used, the one read ahead of it), and
 * reclaim's aging must not reach a window before its stream does: a window
 * is at most an eighth of the limit (a power of two, at least 8 pages).
 */
void readahead_init(struct readahead *ra, enum ra_mode mode, uint32_t fixed, uint64_t nr_pages,
		    uint64_t limit);
void readahead_destroy(struct readahead *ra);

/*
 * A fault at page @p that needs a read: the neighbours to read with it (n
 * may be 0).  The plan stays inside RAM; a new stream's block may include
 * @p itself (the caller skips what it reads anyway).
 */
struct ra_plan readahead_fault(struct readahead *ra, uint64_t p);

/*
 * The guest touched page @p, the marker of @stream: the stream's next
 * window, and (used_*) the pages of its last window that the stream has
 * passed.  The stream has counted those already: the caller credits the
 * ones still tagged with @stream with readahead_hit(ra, -1, n).
 */
struct ra_plan readahead_marker(struct readahead *ra, int stream, uint64_t p);

/*
 * The caller read @n pages of @plan (some of the plan may have been
 * resident or busy already): counted as issued.
 */
void readahead_issued(struct readahead *ra, uint32_t n);

/*
 * @n read-ahead pages of @stream were used, or left memory unused.  Stream
 * -1: counted in the totals only.
 */
void readahead_hit(struct readahead *ra, int stream, uint32_t n);
void readahead_wasted(struct readahead *ra, int stream, uint32_t n);

/*
 * Whether @stream has gone past page @i (from where it started to its last
 * fault): a read-ahead page of it there was used.
 */
bool readahead_passed(struct readahead *ra, int stream, uint64_t i);

/* The window a new stream reads now, from the measured rate (RA_AUTO). */
uint32_t readahead_new_window(const struct readahead *ra);

#endif
