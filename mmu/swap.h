/* SPDX-License-Identifier: MIT */
/*
 * The swap file: a 4 KiB header (a magic, so that we never overwrite a file
 * that holds something else), then 4 KiB slots.  A bitmap allocator hands
 * out the lowest free slot; the file grows as slots are written.  Reads and
 * writes go through io_uring (the callers own their rings), or pread for
 * the VMM's synchronous swap-ins.
 *
 * FILE is created (0600) when missing, or reused when it is empty or an old
 * pagevisor swap file (a crashed run's), is truncated to its header at
 * start, locked (flock) against a second vmm, and removed at exit.
 * Anything else is refused: not a regular file, or non-empty without our
 * magic.
 */
#ifndef PV_MMU_SWAP_H
#define PV_MMU_SWAP_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct io_uring;

#define SWAP_MAGIC       "PAGEVISOR-SWAP1\n"    /* 16 bytes at offset 0 */
#define SWAP_MAGIC_LEN   16u
#define SWAP_HEADER      4096ull
#define SWAP_SLOT_SIZE   4096ull

struct swap {
	int fd;
	char *path;
	bool direct;                    /* opened with O_DIRECT */
	uint64_t nr_slots;              /* capacity: one per guest page */
	uint64_t *bitmap;               /* bit set: slot in use */
	uint64_t hint;                  /* no free slot below this word */
	atomic_uint_fast64_t used;
	pthread_mutex_t mu;             /* the bitmap */
	atomic_bool failing;            /* the last write failed */
	atomic_bool reported;           /* the one stderr line was printed */
};

/*
 * Whether the first @len bytes of an existing file allow us to take it:
 * empty, or starting with our magic.  A pure function of the bytes.
 */
bool swap_header_ok(const void *buf, size_t len);

/*
 * Open (create, or take over) @path for @nr_slots slots, with O_DIRECT when
 * @direct and the file system has it (s->direct says).  On refusal or
 * failure prints one line ("vmm: --swap PATH: why") and returns -errno:
 * -EEXIST (holds something else), -EINVAL (not a regular file), -EBUSY (in
 * use), or what open/flock/ftruncate/write said.
 */
int swap_open(struct swap *s, const char *path, uint64_t nr_slots, bool direct);

/* Close and remove the file.  Safe on a zeroed struct (fd 0 is never ours: -1 marks none). */
void swap_close(struct swap *s);

/* The lowest free slot, now in use; -ENOSPC when all are. */
int64_t swap_slot_alloc(struct swap *s);
void swap_slot_free(struct swap *s, uint64_t slot);

static inline uint64_t swap_slot_offset(uint64_t slot)
{
	return SWAP_HEADER + slot * SWAP_SLOT_SIZE;
}

/* One write of a batch: @buf (4 KiB, page-aligned) to @slot; res: 0 or -errno. */
struct swap_io {
	const void *buf;
	uint64_t slot;
	int res;
};

/*
 * Write @n pages through @ring (at least @n entries) and wait for all of
 * them; each io's res is set.  Returns the number that failed.
 */
unsigned swap_write_batch(struct swap *s, struct io_uring *ring, struct swap_io *io, unsigned n);

/*
 * Read @slot into @buf (4 KiB, page-aligned): through @ring, or pread when
 * @ring is NULL.  Retries short reads and EINTR/EAGAIN; returns 0 or -errno.
 */
int swap_read(struct swap *s, struct io_uring *ring, void *buf, uint64_t slot);

/*
 * A write or read failed with @err: print "vmm: swap PATH: OP failed: why;
 * WHAT" once per run (later failures are only counted by the caller).
 */
void swap_report(struct swap *s, const char *op, int err, const char *what);

#endif
