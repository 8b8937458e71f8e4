/* SPDX-License-Identifier: MIT */
/* The swap file: header and refusal rules, the slot allocator, reads and writes. */
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

/* @path's whole content, NUL-terminated, in @buf. */
static ssize_t slurp(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return n;
}

START_TEST(header_rule)
{
	char ours[32] = SWAP_MAGIC "and slots";

	ck_assert(swap_header_ok("", 0));               /* empty: ours to take */
	ck_assert(swap_header_ok(ours, sizeof(ours)));
	ck_assert(swap_header_ok(SWAP_MAGIC, SWAP_MAGIC_LEN));
	ck_assert(!swap_header_ok(SWAP_MAGIC, SWAP_MAGIC_LEN - 1));
	ck_assert(!swap_header_ok("precious data\n", 14));
	ck_assert(!swap_header_ok("PAGEVISOR-SWAP2\n", 16));
}
END_TEST

START_TEST(create_use_remove)
{
	char path[128], buf[SWAP_HEADER + 1];
	struct stat st;
	struct swap s;

	make_dir();
	path_in_dir(path, sizeof(path), "g.swap");
	ck_assert_int_eq(swap_open(&s, path, 100, true), 0);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0600);
	ck_assert_int_eq(st.st_size, SWAP_HEADER);
	ck_assert_int_eq(slurp(path, buf, sizeof(buf)), SWAP_HEADER);
	ck_assert(swap_header_ok(buf, SWAP_HEADER));
	swap_close(&s);
	ck_assert_int_ne(stat(path, &st), 0);           /* removed at exit */
	swap_close(&s);                                 /* idempotent */
	remove_dir();
}
END_TEST

START_TEST(reuse_and_refuse)
{
	char path[128], buf[256];
	struct swap s, s2;
	int fd;

	make_dir();
	/* an empty file and an old swap file (a crashed run's) are taken and truncated */
	path_in_dir(path, sizeof(path), "empty");
	fd = open(path, O_CREAT | O_WRONLY, 0644);
	close(fd);
	ck_assert_int_eq(swap_open(&s, path, 8, true), 0);
	ck_assert_int_eq(swap_open(&s2, path, 8, true), -EBUSY);      /* in use by another vmm */
	swap_close(&s);

	path_in_dir(path, sizeof(path), "old.swap");
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	ck_assert_int_eq(write(fd, SWAP_MAGIC, SWAP_MAGIC_LEN), SWAP_MAGIC_LEN);
	ck_assert_int_eq(pwrite(fd, "x", 1, 1 << 20), 1);
	close(fd);
	ck_assert_int_eq(swap_open(&s, path, 8, true), 0);
	ck_assert_int_eq(lseek(s.fd, 0, SEEK_END), SWAP_HEADER);
	swap_close(&s);

	/* a file holding something else is refused and left exactly as it was */
	path_in_dir(path, sizeof(path), "precious.txt");
	fd = open(path, O_CREAT | O_WRONLY, 0644);
	ck_assert_int_eq(write(fd, "precious data\n", 14), 14);
	close(fd);
	ck_assert_int_eq(swap_open(&s, path, 8, true), -EEXIST);
	ck_assert_int_eq(slurp(path, buf, sizeof(buf)), 14);
	ck_assert_str_eq(buf, "precious data\n");

	/* not a regular file; a missing directory */
	ck_assert_int_eq(swap_open(&s, dir, 8, true), -EINVAL);
	ck_assert_int_eq(swap_open(&s, "/dev/null", 8, true), -EINVAL);
	path_in_dir(path, sizeof(path), "no/such/dir/g.swap");
	ck_assert_int_eq(swap_open(&s, path, 8, true), -ENOENT);
	remove_dir();
}
END_TEST

START_TEST(slots)
{
	char path[128];
	struct swap s;

	make_dir();
	path_in_dir(path, sizeof(path), "g.swap");
	ck_assert_int_eq(swap_open(&s, path, 130, true), 0);
	for (int64_t k = 0; k < 130; k++)
		ck_assert_int_eq(swap_slot_alloc(&s), k);      /* lowest free first */
	ck_assert_int_eq(swap_slot_alloc(&s), -ENOSPC);
	ck_assert_uint_eq(atomic_load(&s.used), 130);
	swap_slot_free(&s, 70);
	swap_slot_free(&s, 3);
	swap_slot_free(&s, 3);                          /* twice: once */
	swap_slot_free(&s, 1000);                       /* out of range: ignored */
	ck_assert_uint_eq(atomic_load(&s.used), 128);
	ck_assert_int_eq(swap_slot_alloc(&s), 3);
	ck_assert_int_eq(swap_slot_alloc(&s), 70);
	ck_assert_int_eq(swap_slot_alloc(&s), -ENOSPC);
	swap_close(&s);
	remove_dir();
}
END_TEST

START_TEST(write_and_read)
{
	struct swap_io io[3];
	struct io_uring ring;
	char path[128];
	uint8_t *buf;
	struct swap s;

	make_dir();
	path_in_dir(path, sizeof(path), "g.swap");
	ck_assert_int_eq(swap_open(&s, path, 16, true), 0);
	ck_assert_int_eq(posix_memalign((void **)&buf, 4096, 4 * 4096), 0);
	for (int k = 0; k < 3; k++) {
		memset(buf + k * 4096, 'a' + k, 4096);
		io[k] = (struct swap_io){ .buf = buf + k * 4096, .slot = (uint64_t)(5 * k + 1) };
	}
	ck_assert_int_eq(io_uring_queue_init(4, &ring, 0), 0);
	ck_assert_uint_eq(swap_write_batch(&s, &ring, io, 3), 0);
	ck_assert_int_eq(io[2].res, 0);
	ck_assert_int_eq(lseek(s.fd, 0, SEEK_END), (off_t)swap_slot_offset(12));
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

static Suite *swap_suite(void)
{
	Suite *s = suite_create("swap");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, header_rule);
	tcase_add_test(tc, create_use_remove);
	tcase_add_test(tc, reuse_and_refuse);
	tcase_add_test(tc, slots);
	tcase_add_test(tc, write_and_read);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return testutil_run(swap_suite());
}
