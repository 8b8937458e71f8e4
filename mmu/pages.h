/* SPDX-License-Identifier: MIT */
/*
 * Per-page state of guest RAM in swap mode, the page locks, and the resident
 * accounting against the limit.
 *
 * One 32-bit word per 4 KiB page: a kind, flags and a pin count.
 *
 *   ABSENT    never touched: a hole in the memfd, no swap copy
 *   RESIDENT  in the memfd (REF: touched since the hand last passed; AGE: see
 *             PAGE_AGE_SHIFT; DIRTY: its content may differ from its swap
 *             slot, or it has none)
 *   EVICTING  chosen by reclaim: write-protected, write-back in flight; the
 *             guest may still read it; the memfd still holds it
 *   SWAPPED   data only in its slot, a hole in the memfd (always with COPY)
 *
 * BUSY marks a page a thread is installing (zero-fill or swap-in) with its
 * lock dropped: everyone else waits on the page's stripe.  PINS count VMM
 * users (guestmem_get) holding it resident.  COPY: the page's slot in the
 * swap file (slot i for page i) holds a copy of it -- the content, unless
 * DIRTY says the page changed since.  RA, MARKER and the stream id: a page
 * read ahead and not yet seen used (mmu/readahead.h).  PREFAULT: brought in
 * because the guest mapped it (a PV MMU batch), not yet seen used.
 * RELEASED: ABSENT because the guest said its content is dead.  UNMAPPED: resident
 * but zapped (aging, or a marker): its next touch is a MINOR fault.
 * WAITED: a fault thread met it BUSY and left the fault to whoever installs
 * it (fault threads never wait on a page).
 *
 * Kind and flags change only under the page lock (a striped mutex);
 * the word is atomic so that the reclaim hand can skip pages without it.
 * Resident pages are those occupying memfd memory: RESIDENT + EVICTING.
 */
#ifndef PV_MMU_PAGES_H
#define PV_MMU_PAGES_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define PAGE_SHIFT_4K   12
#define PAGE_SIZE_4K    4096ull

enum page_kind { PAGE_ABSENT = 0, PAGE_RESIDENT = 1, PAGE_EVICTING = 2, PAGE_SWAPPED = 3 };

#define PAGE_KIND_MASK  0x3u
#define PAGE_REF        0x4u
#define PAGE_DIRTY      0x8u
#define PAGE_BUSY       0x10u
#define PAGE_COPY       0x80u
#define PAGE_RA         0x100u  /* read ahead, no sign of use yet: its stream in PAGE_RA_STREAM */
#define PAGE_MARKER     0x200u  /* a read-ahead stream's marker (mmu/readahead.h) */
#define PAGE_UNMAPPED   0x400u  /* in the memfd with no PTE in the guest mapping: a touch faults */
#define PAGE_WAITED     0x800u  /* a fault found it BUSY: whoever clears BUSY wakes its waiters */
#define PAGE_AROUND     0x8000u /* mapped by MINOR fault-around: touches since unseen (CLOCK) */
#define PAGE_PREFAULT   0x10000u /* brought in by prefault (a PV MMU map), no sign of use yet */
#define PAGE_RELEASED   0x20000u /* ABSENT because the guest released it; untouched since */
#define PAGE_RA_SHIFT   12
#define PAGE_RA_STREAM  (7u << PAGE_RA_SHIFT)
/*
 * CLOCK age (2 bits).  The guest's accesses are invisible while a page is
 * mapped; the hand learns of one only by zapping the page (watching it) and
 * taking the MINOR fault the next touch makes, which costs the guest an exit.
 * So the hand watches a page only when it matters:
 *   - a fresh page (installed: REF, age 0) is zapped at the hand's first
 *     pass and goes at the next unless touched (probation);
 *   - a touch of a watched page (MINOR) sets REF and PAGE_AGE_MAX: the hand
 *     clears REF and leaves the page mapped, then takes one off the age per
 *     turn, and zaps it when the age falls from PAGE_AGE_WATCH; a page not
 *     touched during the next PAGE_AGE_WATCH turns goes.
 * A page the guest keeps using costs one MINOR fault every PAGE_AGE_MAX
 * turns or more instead of one per turn (the zap-every-turn CLOCK took
 * 2.4 times more MINOR faults on memtouch hotcold, for the same swap-ins
 * with a looped hot set and 13% fewer with a random one).
 */
#define PAGE_AGE_SHIFT  5
#define PAGE_AGE_MASK   (3u << PAGE_AGE_SHIFT)
#define PAGE_AGE_MAX    3u
#define PAGE_AGE_WATCH  2u
#define PAGE_PIN_SHIFT  18
#define PAGE_PIN_ONE    (1u << PAGE_PIN_SHIFT)
#define PAGE_PIN_MAX    0x3fffu

#define PAGES_STRIPES   1024u   /* page i is guarded by stripe i % PAGES_STRIPES */

static inline enum page_kind page_kind(uint32_t st)
{
	return (enum page_kind)(st & PAGE_KIND_MASK);
}

static inline uint32_t page_pins(uint32_t st)
{
	return st >> PAGE_PIN_SHIFT;
}

static inline uint32_t page_with_kind(uint32_t st, enum page_kind k)
{
	return (st & ~PAGE_KIND_MASK) | (uint32_t)k;
}

/* Whether reclaim may pick it now: resident, not being installed, not pinned. */
static inline bool page_evictable(uint32_t st)
{
	return page_kind(st) == PAGE_RESIDENT && !(st & PAGE_BUSY) && page_pins(st) == 0;
}

/*
 * The transitions, as pure functions of the state word (the caller holds the
 * page lock and stores the result).
 */

/*
 * Installed by a fault or a VMM access: resident, referenced under CLOCK
 * (a fresh page gets one pass of the hand), dirty unless its content came
 * from its swap slot.  Pins are kept; BUSY is cleared.
 */
static inline uint32_t page_installed(uint32_t st, bool from_slot, bool clock)
{
	st = page_with_kind(st & ~(PAGE_BUSY | PAGE_REF | PAGE_DIRTY | PAGE_AGE_MASK | PAGE_RA |
				   PAGE_MARKER | PAGE_UNMAPPED | PAGE_WAITED | PAGE_RA_STREAM |
				   PAGE_AROUND | PAGE_PREFAULT | PAGE_RELEASED),
			    PAGE_RESIDENT);
	return st | (clock ? PAGE_REF : 0) | (from_slot ? 0 : PAGE_DIRTY);
}

/* Tag a page read ahead for @stream (0..7). */
static inline uint32_t page_with_ra(uint32_t st, int stream)
{
	return (st & ~PAGE_RA_STREAM) | PAGE_RA | ((uint32_t)stream << PAGE_RA_SHIFT);
}

static inline int page_ra_stream(uint32_t st)
{
	return (int)((st & PAGE_RA_STREAM) >> PAGE_RA_SHIFT);
}

static inline uint32_t page_age(uint32_t st)
{
	return (st & PAGE_AGE_MASK) >> PAGE_AGE_SHIFT;
}

static inline uint32_t page_with_age(uint32_t st, uint32_t age)
{
	return (st & ~PAGE_AGE_MASK) | (age << PAGE_AGE_SHIFT);
}

/* A touch the hand can see (a MINOR fault after a zap): referenced, and out of probation. */
static inline uint32_t page_rereferenced(uint32_t st)
{
	return page_with_age(st | PAGE_REF, PAGE_AGE_MAX);
}

/* A VMM access takes a pin; a write makes the swap copy stale. */
static inline uint32_t page_pinned(uint32_t st, bool write, bool clock)
{
	return (st + PAGE_PIN_ONE) | (write ? PAGE_DIRTY : 0) | (clock ? PAGE_REF : 0);
}

static inline uint32_t page_unpinned(uint32_t st)
{
	return page_pins(st) ? st - PAGE_PIN_ONE : st;
}

/*
 * At the end of a write-back (or of a clean eviction), before looking at the
 * PTE: whether the page may still go.  Not if anything touched it that
 * reclaim can see without zapping: a pin (a VMM user), DIRTY (a VMM write,
 * or a failed write-back), or under CLOCK a reference (a MINOR fault).
 */
static inline bool page_may_punch(uint32_t st, bool clock)
{
	return page_kind(st) == PAGE_EVICTING && page_pins(st) == 0 && !(st & PAGE_DIRTY) &&
	       !(clock && (st & PAGE_REF));
}

/* An eviction given up: resident again; @stale: the swap copy is not its content. */
static inline uint32_t page_kept(uint32_t st, bool stale)
{
	return page_with_kind(st, PAGE_RESIDENT) | (stale ? PAGE_DIRTY : 0);
}

struct pages_stripe {
	pthread_mutex_t mu;
	pthread_cond_t cv;      /* BUSY cleared on one of its pages */
} __attribute__((aligned(64)));

struct pages {
	uint64_t nr;                    /* 4 KiB pages of guest RAM */
	_Atomic uint32_t *st;           /* [nr] */
	struct pages_stripe *stripe;    /* [PAGES_STRIPES] */

	uint64_t limit, high, low;      /* pages: hard limit and reclaim watermarks */
	atomic_uint_fast64_t resident, peak;
	atomic_uint_fast64_t gave_way;  /* installs admitted over the limit */
	atomic_uint_fast64_t room_waits;        /* installs that had to wait for room */
	pthread_mutex_t mu;             /* for the two condition variables */
	pthread_cond_t room;            /* resident fell: waiters for room retry */
	pthread_cond_t work;            /* reclaim: resident passed high, or someone waits */
	atomic_uint waiting;            /* threads waiting for room */
	atomic_bool give_way;           /* reclaim cannot free (swap failing): admit over the limit */
	atomic_bool stop;
};

/*
 * Watermarks for a limit of @limit pages: reclaim wakes at @high and evicts
 * down to @low, so that faults find room without waiting and a read-ahead
 * window (up to PAGES_HEADROOM_MAX / 2 pages) fits.  The headroom h =
 * limit/4 clamped to [32, PAGES_HEADROOM_MAX]: high = limit - h/2, low =
 * limit - h, when the limit is large enough for those margins; tiny limits
 * get high = limit - limit/4 and low = limit/2.  Always 1 <= low <= high <=
 * limit (for a limit of at least 1).
 */
#define PAGES_HEADROOM_MAX 512u
void pages_watermarks(uint64_t limit, uint64_t *high, uint64_t *low);

/* Allocate state for @nr pages (all ABSENT) with a limit of @limit pages. */
int pages_init(struct pages *p, uint64_t nr, uint64_t limit);
void pages_destroy(struct pages *p);

static inline pthread_mutex_t *pages_mutex(struct pages *p, uint64_t i)
{
	return &p->stripe[i % PAGES_STRIPES].mu;
}

static inline void pages_lock(struct pages *p, uint64_t i)
{
	pthread_mutex_lock(pages_mutex(p, i));
}

static inline void pages_unlock(struct pages *p, uint64_t i)
{
	pthread_mutex_unlock(pages_mutex(p, i));
}

static inline uint32_t pages_get(struct pages *p, uint64_t i)
{
	return atomic_load_explicit(&p->st[i], memory_order_acquire);
}

/* Store a new state word (page lock held). */
static inline void pages_set(struct pages *p, uint64_t i, uint32_t st)
{
	atomic_store_explicit(&p->st[i], st, memory_order_release);
}

/* With the page lock held: wait until the page is not BUSY; its state. */
uint32_t pages_wait_idle(struct pages *p, uint64_t i);

/*
 * With the page lock held: store @st (BUSY and WAITED cleared) and wake the
 * threads waiting on its stripe.  Returns whether a fault thread met the
 * page BUSY meanwhile (WAITED): the caller then wakes the page's faults
 * (uffd_wake) once it has mapped it, or so that they fault again.
 */
bool pages_set_idle(struct pages *p, uint64_t i, uint32_t st);

/*
 * Count one more resident page, waiting while that would pass the limit,
 * unless reclaim says it cannot free (give_way) or stop is set: then the
 * page is admitted anyway and counted in gave_way.  Returns true when it
 * went over the limit.  Call without any page lock.
 */
bool pages_reserve(struct pages *p);

/*
 * Count up to @n more resident pages without waiting, keeping @keep pages
 * of room under the limit free (for faults that must wait otherwise):
 * returns how many were granted (0 to @n).  Wakes reclaim above high.
 */
uint64_t pages_try_reserve(struct pages *p, uint64_t n, uint64_t keep);

/* Count @n fewer resident pages and wake those waiting for room. */
void pages_release(struct pages *p, uint64_t n);

/* Account @n resident pages without waiting (pages present before the run). */
void pages_account(struct pages *p, uint64_t n);

/* Wake reclaim, and everyone waiting for room (used at stop, and when give_way flips). */
void pages_kick(struct pages *p);

/*
 * Reclaim's wait: until resident >= high, someone waits for room, stop, or
 * @timeout_ms.  Returns true when there is work.
 */
bool pages_wait_work(struct pages *p, unsigned timeout_ms);

/* Whether reclaim should keep evicting: above low, or someone waits for room. */
static inline bool pages_need_reclaim(struct pages *p)
{
	return atomic_load(&p->resident) > p->low || atomic_load(&p->waiting) > 0;
}

#endif
