/* SPDX-License-Identifier: MIT */
/* The swap file: unnamed and private, the slot allocator, reads, writes and checksums. */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mmu/swap.h"
#include "testutil.h"

static char dir[64];

static void make_dir(void)
{
	testutil_mkdtemp(dir, "swap");
}

static void remove_dir(void)
{
	testutil_rm_rf(dir);
}

static void path_in_dir(char *out, size_t len, const char *name)
{
	snprintf(out, len, "%s/%s", dir, name);
}

/* The swap file has no name, is ours alone, and leaves nothing behind. */
START_TEST(unnamed_private)
{
	struct stat st;
	struct swap s;

	make_dir();
	ck_assert_int_eq(swap_open(&s, dir, 100, true), 0);
	ck_assert_int_eq(fstat(s.fd, &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	ck_assert_uint_eq(st.st_mode & 0777, 0600);
	ck_assert_uint_eq(st.st_nlink, 0);
	ck_assert_uint_eq(st.st_uid, geteuid());
	ck_assert_int_eq(testutil_dir_entries(dir), 0);
	swap_close(&s);
	swap_close(&s);                                 /* idempotent */
	ck_assert_int_eq(testutil_dir_entries(dir), 0);
	remove_dir();
}
END_TEST

/*
 * What lies at or in the --swap path is never opened, written or removed:
 * a file someone made in advance (another user's, mode 0666), a link to a
 * file, a file given instead of a directory.
 */
START_TEST(never_touches_names)
{
	char path[128], link[128], buf[64];
	struct swap_io io;
	struct stat st;
	uint8_t *page;
	struct swap s;
	int fd;

	make_dir();
	path_in_dir(path, sizeof(path), "g.swap");
	fd = open(path, O_CREAT | O_WRONLY, 0666);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fchmod(fd, 0666), 0);
	ck_assert_int_eq(fchown(fd, 65534, 65534), 0);  /* nobody's */
	close(fd);
	path_in_dir(link, sizeof(link), "link.swap");
	ck_assert_int_eq(symlink(path, link), 0);

	ck_assert_int_eq(posix_memalign((void **)&page, 4096, 4096), 0);
	memset(page, 'g', 4096);
	io = (struct swap_io){ .buf = page, .first = 3, .n = 1 };
	ck_assert_int_eq(swap_open(&s, dir, 8, true), 0);
	ck_assert_uint_eq(swap_write_batch(&s, NULL, &io, 1), 0);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_size, 0);                /* the planted file got nothing */
	swap_close(&s);

	/* a file, a link to one, a device: not directories; refused, untouched */
	ck_assert_int_eq(swap_open(&s, path, 8, true), -ENOTDIR);
	ck_assert_int_eq(swap_open(&s, link, 8, true), -ENOTDIR);
	ck_assert_int_eq(swap_open(&s, "/dev/null", 8, true), -ENOTDIR);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_size, 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0666);
	ck_assert_int_eq(lstat(link, &st), 0);
	ck_assert(S_ISLNK(st.st_mode));
	ck_assert_int_eq(testutil_slurp(path, buf, sizeof(buf)), 0);
	path_in_dir(path, sizeof(path), "no/such/dir");
	ck_assert_int_eq(swap_open(&s, path, 8, true), -ENOENT);
	free(page);
	remove_dir();
}
END_TEST

/* Slot i is page i's: only counted. */
START_TEST(slots)
{
	struct swap s;

	make_dir();
	ck_assert_int_eq(swap_open(&s, dir, 130, true), 0);
	for (uint64_t k = 0; k < 130; k++)
		swap_slot_take(&s, k);
	ck_assert_uint_eq(atomic_load(&s.used), 130);
	swap_slot_drop(&s, 70);
	swap_slot_drop(&s, 3);
	ck_assert_uint_eq(atomic_load(&s.used), 128);
	ck_assert_uint_eq(swap_slot_offset(70), 70 * 4096);
	swap_close(&s);
	remove_dir();
}
END_TEST

START_TEST(write_and_read)
{
	struct swap_io io[3];
	struct io_uring ring;
	uint8_t *buf;
	struct swap s;

	make_dir();
	ck_assert_int_eq(swap_open(&s, dir, 16, true), 0);
	ck_assert_int_eq(posix_memalign((void **)&buf, 4096, 5 * 4096), 0);
	for (int k = 0; k < 3; k++) {
		memset(buf + k * 4096, 'a' + k, 4096);
		io[k] = (struct swap_io){ .buf = buf + k * 4096, .first = (uint64_t)(5 * k + 1), .n = 1 };
	}
	ck_assert_int_eq(io_uring_queue_init(4, &ring, 0), 0);
	ck_assert_uint_eq(swap_write_batch(&s, &ring, io, 3), 0);
	ck_assert_int_eq(io[2].res, 0);
	ck_assert_int_eq(lseek(s.fd, 0, SEEK_END), (off_t)swap_slot_offset(12));
	/* a run of pages is one write, each slot checked on its own */
	io[0] = (struct swap_io){ .buf = buf, .first = 12, .n = 2 };
	ck_assert_uint_eq(swap_write_batch(&s, &ring, io, 1), 0);
	ck_assert_int_eq(swap_read(&s, &ring, buf + 4 * 4096, 13), 0);
	ck_assert_uint_eq(buf[4 * 4096 + 7], 'b');
	io[0] = (struct swap_io){ .buf = buf, .first = 1, .n = 1 };
	/* through the ring and through pread */
	ck_assert_int_eq(swap_read(&s, &ring, buf + 3 * 4096, 6), 0);
	ck_assert_uint_eq(buf[3 * 4096], 'b');
	ck_assert_uint_eq(buf[4 * 4096 - 1], 'b');
	ck_assert_int_eq(swap_read(&s, NULL, buf + 3 * 4096, 11), 0);
	ck_assert_uint_eq(buf[3 * 4096 + 100], 'c');
	/* without a ring: pwrite */
	ck_assert_uint_eq(swap_write_batch(&s, NULL, io, 1), 0);
	/* past the end of the file: a short read is an error */
	ck_assert_int_eq(swap_read(&s, &ring, buf + 3 * 4096, 15), -EIO);
	io_uring_queue_exit(&ring);
	free(buf);
	swap_close(&s);
	remove_dir();
}
END_TEST

/* A slot changed behind our back reads as -EBADMSG, never as data. */
START_TEST(checksum_mismatch)
{
	char proc[64];
	struct swap_io io[2];
	uint8_t *buf;
	struct swap s;
	int fd;

	make_dir();
	ck_assert_int_eq(swap_open(&s, dir, 4, true), 0);
	ck_assert_int_eq(posix_memalign((void **)&buf, 4096, 3 * 4096), 0);
	memset(buf, 'x', 4096);
	memset(buf + 4096, 'y', 4096);
	io[0] = (struct swap_io){ .buf = buf, .first = 0, .n = 1 };
	io[1] = (struct swap_io){ .buf = buf + 4096, .first = 1, .n = 1 };
	ck_assert_uint_eq(swap_write_batch(&s, NULL, io, 2), 0);
	/* another open file of the same file, as /proc/PID/fd gives root */
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", s.fd);
	fd = open(proc, O_RDWR);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, "!", 1, (off_t)swap_slot_offset(1) + 100), 1);
	close(fd);
	ck_assert_int_eq(swap_read(&s, NULL, buf + 2 * 4096, 0), 0);
	ck_assert_uint_eq(buf[2 * 4096 + 4095], 'x');
	ck_assert_int_eq(swap_read(&s, NULL, buf + 2 * 4096, 1), -EBADMSG);
	ck_assert_ptr_nonnull(strstr(swap_strerror(-EBADMSG), "checksum mismatch"));
	/* a slot written again has the new data's checksum */
	ck_assert_uint_eq(swap_write_batch(&s, NULL, io + 1, 1), 0);
	ck_assert_int_eq(swap_read(&s, NULL, buf + 2 * 4096, 1), 0);
	ck_assert_uint_eq(buf[2 * 4096 + 100], 'y');
	free(buf);
	swap_close(&s);
	remove_dir();
}
END_TEST

static Suite *swap_suite(void)
{
	Suite *s = suite_create("swap");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, unnamed_private);
	tcase_add_test(tc, never_touches_names);
	tcase_add_test(tc, slots);
	tcase_add_test(tc, write_and_read);
	tcase_add_test(tc, checksum_mismatch);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return testutil_run(swap_suite());
}
