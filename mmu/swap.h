/* SPDX-License-Identifier: MIT */
/*
 * The swap file: one 4 KiB slot per guest page, at the page's own index
 * (slot i at offset i * 4 KiB), so pages that are neighbours in guest RAM are
 * neighbours in the file: a run of them is one read or one write.  The file
 * is sparse and grows as slots are written.  Reads and writes go through
 * io_uring (the callers own their rings), or pread for the VMM's
 * synchronous swap-ins.
 *
 * The file has no name: it is made with O_TMPFILE (O_EXCL: it can never be
 * linked in) in the directory --swap names, mode 0600.  Nobody else can
 * open it, there is no link to follow and no path to remove at exit, and a
 * killed VMM leaves nothing behind: the kernel frees it with the last
 * descriptor.  Where the file system has no O_TMPFILE, a fresh name is
 * created exclusively (mkostemp: never a link) and unlinked at once.
 *
 * Integrity: each slot's checksum (mmu/checksum.h, a per-run key) is taken
 * as the slot is written and kept here, in VMM memory; a read that does not
 * match fails with -EBADMSG, as a failed read does.
 */
#ifndef PV_MMU_SWAP_H
#define PV_MMU_SWAP_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct io_uring;

#define SWAP_SLOT_SIZE   4096ull
#define SWAP_TICK_MS     50     /* I/O waits look at swap_abort() this often */

struct swap {
	int fd;
	char *path;                     /* the directory, for messages */
	bool direct;                    /* opened with O_DIRECT */
	uint64_t nr_slots;              /* one per guest page */
	uint64_t *sum;                  /* [nr_slots]: checksum of what the slot holds */
	uint64_t key;                   /* the checksums' key, this run's */
	atomic_uint_fast64_t used;      /* slots holding a page's copy (swap_slot_take/drop) */
	atomic_bool failing;            /* the last write failed */
	atomic_bool reported;           /* the one stderr line was printed */
	atomic_bool abort;              /* the VM is ending: give up on I/O waits */
};

/*
 * Make an unnamed swap file in directory @dir for @nr_slots slots, with
 * O_DIRECT when @direct and the file system has it (s->direct says).  On
 * refusal or failure prints one line ("vmm: --swap DIR: why") and returns
 * -errno: -ENOTDIR (not a directory), -EPERM (the file is not private:
 * someone else's, shared mode, or linked), or what open/mkostemp said.
 */
int swap_open(struct swap *s, const char *dir, uint64_t nr_slots, bool direct);

/* Close the file (which frees it).  Safe on a zeroed struct (fd 0 is never ours: -1 marks none). */
void swap_close(struct swap *s);

/*
 * Slot @i (page i's) now holds, or no longer holds, the page's copy: only
 * counted here; the page's state (PAGE_COPY, under the page lock) says which.
 */
void swap_slot_take(struct swap *s, uint64_t i);
void swap_slot_drop(struct swap *s, uint64_t i);

static inline uint64_t swap_slot_offset(uint64_t slot)
{
	return slot * SWAP_SLOT_SIZE;
}

/* One write of a batch: @n pages from @buf (page-aligned) to slots [@first, @first + @n); res: 0 or -errno. */
struct swap_io {
	const void *buf;
	uint64_t first;
	uint32_t n;
	int res;
};

/*
 * Write @n runs through @ring (at least @n entries), one request each, and
 * wait for all of them; each io's res is set (-ESHUTDOWN after
 * swap_abort()).  Each slot's checksum is taken from its buffer first: the
 * caller keeps a buffer unchanged until the write is done, or drops the
 * slot.  Returns the number of runs that failed.
 */
unsigned swap_write_batch(struct swap *s, struct io_uring *ring, struct swap_io *io, unsigned n);

/*
 * Read @slot into @buf (4 KiB, page-aligned): through @ring, or pread when
 * @ring is NULL.  Retries short reads and EINTR/EAGAIN; returns 0, -EBADMSG
 * when the data does not match the slot's checksum, -ESHUTDOWN after
 * swap_abort(), or -errno.
 */
int swap_read(struct swap *s, struct io_uring *ring, void *buf, uint64_t slot);

struct io_uring_cqe;

/*
 * Wait for a completion on @ring, looking at s->abort every SWAP_TICK_MS:
 * storage that never answers must not hold up a stop.  0 with *@cqe, -errno,
 * or -ESHUTDOWN once aborted (the ring is then abandoned: zeroed, never to
 * be exited or used again).
 */
int swap_wait(struct swap *s, struct io_uring *ring, struct io_uring_cqe **cqe);

/*
 * Queue (not submit) a read of slots [@first, @first + @n) into @buf
 * (page-aligned) on @ring, its completion tagged @data.  0, -EBUSY when the
 * ring has no free entry, -ESHUTDOWN after swap_abort().  The caller checks
 * the byte count and each page with swap_verify().
 */
int swap_queue_read(struct swap *s, struct io_uring *ring, void *buf, uint64_t first, uint32_t n,
		    void *data);

/* Whether @page holds what slot @i was written with: 0 or -EBADMSG. */
int swap_verify(const struct swap *s, const void *page, uint64_t i);

/*
 * A write or read failed with @err: print "vmm: swap PATH: OP failed: why;
 * WHAT" once per run (later failures are only counted by the caller).
 */
void swap_report(struct swap *s, const char *op, int err, const char *what);

/*
 * The VM is ending: from now on reads and writes fail with -ESHUTDOWN, and
 * a wait for one in flight gives up within SWAP_TICK_MS.  A ring whose
 * request was given up on is zeroed (ring_entries 0): its owner must not
 * exit it, nor free that request's buffer (the kernel may still use both).
 */
void swap_abort(struct swap *s);

/* What a read error means, for messages: -EBADMSG is a checksum mismatch. */
const char *swap_strerror(int err);

#endif
