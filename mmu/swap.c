/* SPDX-License-Identifier: MIT */
#include "mmu/swap.h"

#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mmu/checksum.h"

/*
 * An unnamed file in @dir: O_TMPFILE with O_EXCL (it can never be given a
 * name), or, where the file system lacks O_TMPFILE, a fresh name made with
 * O_EXCL (never a link: mkostemp) and unlinked at once.
 */
static int swap_make_unnamed(const char *dir)
{
	char *tmpl;
	int fd = open(dir, O_TMPFILE | O_EXCL | O_RDWR | O_CLOEXEC, 0600);

	if (fd >= 0)
		return fd;
	/* EISDIR: a kernel without O_TMPFILE; EOPNOTSUPP: a file system without it */
	if (errno != EOPNOTSUPP && errno != EISDIR)
		return -errno;
	if (asprintf(&tmpl, "%s/.pagevisor-swap-XXXXXX", dir) < 0)
		return -ENOMEM;
	fd = mkostemp(tmpl, O_CLOEXEC);
	if (fd >= 0 && unlink(tmpl) < 0) {
		close(fd);
		fd = -1;
	}
	free(tmpl);
	return fd >= 0 ? fd : -errno;
}

/*
 * What we made must be ours alone: a regular file of this user, no access
 * for group or others, no name.  Checked on the descriptor, so it is the
 * file we use, whatever happened in the directory meanwhile.
 */
static int swap_check_private(int fd, const char *dir)
{
	struct stat st;

	if (fstat(fd, &st) < 0) {
		fprintf(stderr, "vmm: --swap %s: fstat: %s\n", dir, strerror(errno));
		return -errno;
	}
	if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077) ||
	    st.st_nlink != 0) {
		fprintf(stderr, "vmm: --swap %s: the swap file made there is not private "
			"(mode %04o, owner %u, %ju links); refusing it\n", dir,
			(unsigned)(st.st_mode & 07777), (unsigned)st.st_uid, (uintmax_t)st.st_nlink);
		return -EPERM;
	}
	return 0;
}

int swap_open(struct swap *s, const char *dir, uint64_t nr_slots, bool direct)
{
	int ret, fd, fl;

	memset(s, 0, sizeof(*s));
	s->fd = -1;
	fd = swap_make_unnamed(dir);
	if (fd < 0) {
		if (fd == -ENOTDIR)
			fprintf(stderr, "vmm: --swap %s: not a directory (swap mode makes an "
				"unnamed file in the directory given)\n", dir);
		else
			fprintf(stderr, "vmm: --swap %s: cannot make a swap file there: %s\n", dir,
				strerror(-fd));
		return fd;
	}
	ret = swap_check_private(fd, dir);
	if (ret)
		goto err_close;
	/* no page cache copy of swapped-out pages: O_DIRECT where the file system has it */
	fl = fcntl(fd, F_GETFL);
	s->direct = direct && fl >= 0 && fcntl(fd, F_SETFL, fl | O_DIRECT) == 0;

	s->sum = calloc(nr_slots, sizeof(uint64_t));
	s->path = strdup(dir);
	if (!s->sum || !s->path) {
		ret = -ENOMEM;
		fprintf(stderr, "vmm: --swap %s: out of memory for the slot map\n", dir);
		goto err_free;
	}
	s->key = checksum_key();
	s->nr_slots = nr_slots;
	s->fd = fd;
	return 0;

err_free:
	free(s->sum);
	free(s->path);
	s->sum = NULL;
	s->path = NULL;
err_close:
	close(fd);
	return ret;
}

void swap_close(struct swap *s)
{
	if (s->fd < 0 || !s->path)
		return;
	close(s->fd);
	free(s->sum);
	free(s->path);
	memset(s, 0, sizeof(*s));
	s->fd = -1;
}

void swap_slot_take(struct swap *s, uint64_t i)
{
	(void)i;
	atomic_fetch_add(&s->used, 1);
}

void swap_slot_drop(struct swap *s, uint64_t i)
{
	(void)i;
	atomic_fetch_sub(&s->used, 1);
}

/*
 * A ring whose submission failed may still hold our SQEs: drop them with the
 * ring (exit and init again), so a later submit never sends stale requests.
 */
static void swap_ring_reset(struct io_uring *ring)
{
	unsigned entries = ring->sq.ring_entries;

	io_uring_queue_exit(ring);
	if (io_uring_queue_init(entries, ring, 0) < 0)
		memset(ring, 0, sizeof(*ring));         /* dead: pread/pwrite from now on */
}

static bool swap_ring_alive(const struct io_uring *ring)
{
	return ring && ring->sq.ring_entries;
}

/*
 * A ring whose request was given up on while in flight: the kernel may still
 * read or write that request's buffer, so the ring is never exited (it goes
 * with the process) and never used again.
 */
static void swap_ring_abandon(struct io_uring *ring)
{
	memset(ring, 0, sizeof(*ring));
}

int swap_wait(struct swap *s, struct io_uring *ring, struct io_uring_cqe **cqe)
{
	struct __kernel_timespec tick = { .tv_nsec = SWAP_TICK_MS * 1000000ll };
	int ret;

	for (;;) {
		ret = io_uring_wait_cqe_timeout(ring, cqe, &tick);
		if (ret != -ETIME && ret != -EINTR)
			return ret;
		if (atomic_load(&s->abort)) {
			swap_ring_abandon(ring);
			return -ESHUTDOWN;
		}
	}
}

static int swap_pwrite(struct swap *s, const struct swap_io *io)
{
	size_t len = (size_t)io->n * SWAP_SLOT_SIZE;
	ssize_t n;

	if (atomic_load(&s->abort))
		return -ESHUTDOWN;
	do
		n = pwrite(s->fd, io->buf, len, (off_t)swap_slot_offset(io->first));
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n == (ssize_t)len ? 0 : -ENOSPC;
}

unsigned swap_write_batch(struct swap *s, struct io_uring *ring, struct swap_io *io, unsigned n)
{
	unsigned queued = 0, failed = 0;
	struct io_uring_cqe *cqe;
	int ret = 0;

	for (unsigned i = 0; i < n; i++) {
		io[i].res = -EINPROGRESS;
		for (uint32_t k = 0; k < io[i].n; k++)
			s->sum[io[i].first + k] = checksum_page((const uint8_t *)io[i].buf +
								k * SWAP_SLOT_SIZE, s->key);
	}
	for (unsigned i = 0; swap_ring_alive(ring) && i < n; i++) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

		if (!sqe)
			break;          /* the rest goes through pwrite below */
		io_uring_prep_write(sqe, s->fd, io[i].buf, io[i].n * (unsigned)SWAP_SLOT_SIZE,
				    swap_slot_offset(io[i].first));
		io_uring_sqe_set_data(sqe, &io[i]);
		queued++;
	}
	if (queued) {
		ret = io_uring_submit(ring);
		if (ret != (int)queued) {
			/* requests the kernel took complete; the others are dropped with the ring */
			for (int k = 0; k < ret; k++) {
				if (io_uring_wait_cqe(ring, &cqe))
					break;
				((struct swap_io *)io_uring_cqe_get_data(cqe))->res = 0;
				io_uring_cqe_seen(ring, cqe);
			}
			swap_ring_reset(ring);
			queued = 0;     /* redo everything not done with pwrite */
		}
	}
	for (unsigned done = 0; done < queued;) {
		struct swap_io *d;

		ret = swap_wait(s, ring, &cqe);
		if (ret < 0)
			break;          /* the rest: pwrite below, or -ESHUTDOWN when aborted */
		d = io_uring_cqe_get_data(cqe);
		d->res = cqe->res == (int)(d->n * SWAP_SLOT_SIZE) ? 0 : cqe->res < 0 ? cqe->res : -ENOSPC;
		io_uring_cqe_seen(ring, cqe);
		done++;
	}
	for (unsigned i = 0; i < n; i++) {
		if (io[i].res == -EINPROGRESS)
			io[i].res = swap_pwrite(s, &io[i]);
		failed += io[i].res != 0;
	}
	return failed;
}

/* One read of @slot through @ring: the byte count or -errno; -ECANCELED: use pread. */
static int swap_read_ring(struct swap *s, struct io_uring *ring, void *buf, uint64_t slot)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	struct io_uring_cqe *cqe;
	int res;

	if (!sqe)
		return -ECANCELED;
	io_uring_prep_read(sqe, s->fd, buf, SWAP_SLOT_SIZE, swap_slot_offset(slot));
	if (io_uring_submit(ring) != 1) {
		swap_ring_reset(ring);
		return -ECANCELED;
	}
	res = swap_wait(s, ring, &cqe);
	if (res == -ESHUTDOWN)
		return res;
	if (res < 0) {
		swap_ring_reset(ring);
		return -ECANCELED;
	}
	res = cqe->res;
	io_uring_cqe_seen(ring, cqe);
	return res;
}

int swap_read(struct swap *s, struct io_uring *ring, void *buf, uint64_t slot)
{
	int tries = 0, res;

	for (;;) {
		if (atomic_load(&s->abort))
			return -ESHUTDOWN;
		res = swap_ring_alive(ring) ? swap_read_ring(s, ring, buf, slot) : -ECANCELED;
		if (res == -ECANCELED) {
			res = (int)pread(s->fd, buf, SWAP_SLOT_SIZE, (off_t)swap_slot_offset(slot));
			if (res < 0)
				res = -errno;
		}
		if (res == (int)SWAP_SLOT_SIZE)
			return swap_verify(s, buf, slot);
		if (res >= 0)
			res = -EIO;     /* short: the slot lies past the end of the file */
		if ((res != -EINTR && res != -EAGAIN) || ++tries > 100)
			return res;     /* -ESHUTDOWN among them */
	}
}

int swap_queue_read(struct swap *s, struct io_uring *ring, void *buf, uint64_t first, uint32_t n,
		    void *data)
{
	struct io_uring_sqe *sqe;

	if (atomic_load(&s->abort))
		return -ESHUTDOWN;
	sqe = io_uring_get_sqe(ring);
	if (!sqe)
		return -EBUSY;
	io_uring_prep_read(sqe, s->fd, buf, n * (unsigned)SWAP_SLOT_SIZE, swap_slot_offset(first));
	io_uring_sqe_set_data(sqe, data);
	return 0;
}

int swap_verify(const struct swap *s, const void *page, uint64_t i)
{
	return checksum_page(page, s->key) == s->sum[i] ? 0 : -EBADMSG;
}

void swap_report(struct swap *s, const char *op, int err, const char *what)
{
	bool expected = false;

	if (atomic_compare_exchange_strong(&s->reported, &expected, true))
		fprintf(stderr, "vmm: swap %s: %s failed: %s; %s\n", s->path, op, strerror(-err), what);
}

const char *swap_strerror(int err)
{
	if (err == -EBADMSG)
		return "checksum mismatch (the swap file's copy was altered or corrupted)";
	return strerror(-err);
}

void swap_abort(struct swap *s)
{
	atomic_store(&s->abort, true);
}
