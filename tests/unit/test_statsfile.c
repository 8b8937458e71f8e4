/* SPDX-License-Identifier: MIT */
/* The --stats destination: a report already there survives every failure. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
#include "vmm/statsfile.h"

static char dir[64];

static int write_ok(FILE *f, void *arg)
{
	fputs(arg, f);
	return 0;
}

static int write_fails(FILE *f, void *arg)
{
	fputs("partial", f);
	return -EIO;
}

static void put(const char *path, const char *s)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs(s, f);
	ck_assert_int_eq(fclose(f), 0);
}

START_TEST(replaced_when_complete)
{
	char path[128], buf[64];
	struct statsfile sf;

	testutil_mkdtemp(dir, "statsfile");
	snprintf(path, sizeof(path), "%s/r.json", dir);
	put(path, "old report\n");
	ck_assert_int_eq(statsfile_open(&sf, path), 0);
	ck_assert_int_eq(testutil_slurp(path, buf, sizeof(buf)), 11);     /* untouched while the run runs */
	ck_assert_int_eq(statsfile_write(&sf, write_ok, "new report\n"), 0);
	statsfile_close(&sf);
	ck_assert_int_eq(testutil_slurp(path, buf, sizeof(buf)), 11);
	ck_assert_str_eq(buf, "new report\n");
	ck_assert_int_eq(testutil_dir_entries(dir), 1);         /* no temporary left */

	/* a name not there yet */
	snprintf(path, sizeof(path), "%s/new.json", dir);
	ck_assert_int_eq(statsfile_open(&sf, path), 0);
	ck_assert_int_eq(access(path, F_OK), -1);
	ck_assert_int_eq(statsfile_write(&sf, write_ok, "x\n"), 0);
	statsfile_close(&sf);
	ck_assert_int_eq(testutil_slurp(path, buf, sizeof(buf)), 2);
	testutil_rm_rf(dir);
}
END_TEST

/* A refused run (opened, never written) or a failed write leaves FILE as it was. */
START_TEST(survives_failures)
{
	char path[128], buf[64];
	struct statsfile sf;

	testutil_mkdtemp(dir, "statsfile");
	snprintf(path, sizeof(path), "%s/r.json", dir);
	put(path, "old report\n");
	ck_assert_int_eq(statsfile_open(&sf, path), 0);
	statsfile_close(&sf);
	ck_assert_int_eq(testutil_slurp(path, buf, sizeof(buf)), 11);
	ck_assert_str_eq(buf, "old report\n");
	ck_assert_int_eq(statsfile_open(&sf, path), 0);
	ck_assert_int_eq(statsfile_write(&sf, write_fails, NULL), -EIO);
	statsfile_close(&sf);
	ck_assert_int_eq(testutil_slurp(path, buf, sizeof(buf)), 11);
	ck_assert_str_eq(buf, "old report\n");
	ck_assert_int_eq(testutil_dir_entries(dir), 1);
	testutil_rm_rf(dir);
}
END_TEST

/* A link's target gets the report; the link stays a link. */
START_TEST(through_a_link)
{
	char path[128], link[128], buf[64];
	struct statsfile sf;
	struct stat st;

	testutil_mkdtemp(dir, "statsfile");
	snprintf(path, sizeof(path), "%s/r.json", dir);
	snprintf(link, sizeof(link), "%s/l.json", dir);
	put(path, "old\n");
	ck_assert_int_eq(symlink("r.json", link), 0);
	ck_assert_int_eq(statsfile_open(&sf, link), 0);
	ck_assert_int_eq(statsfile_write(&sf, write_ok, "new\n"), 0);
	statsfile_close(&sf);
	ck_assert_int_eq(lstat(link, &st), 0);
	ck_assert(S_ISLNK(st.st_mode));
	ck_assert_int_eq(testutil_slurp(path, buf, sizeof(buf)), 4);
	ck_assert_str_eq(buf, "new\n");
	testutil_rm_rf(dir);
}
END_TEST

START_TEST(refusals)
{
	char path[128];
	struct statsfile sf;

	testutil_mkdtemp(dir, "statsfile");
	ck_assert_int_eq(statsfile_open(&sf, dir), -EISDIR);
	statsfile_close(&sf);
	snprintf(path, sizeof(path), "%s/no/such/r.json", dir);
	ck_assert_int_eq(statsfile_open(&sf, path), -ENOENT);
	statsfile_close(&sf);
	/* a device is written as it is, and its write error comes back */
	ck_assert_int_eq(statsfile_open(&sf, "/dev/full"), 0);
	ck_assert_int_eq(statsfile_write(&sf, write_ok, "x\n"), -ENOSPC);
	statsfile_close(&sf);
	statsfile_close(&sf);                           /* twice: fine */
	testutil_rm_rf(dir);
}
END_TEST

static Suite *statsfile_suite(void)
{
	Suite *s = suite_create("statsfile");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, replaced_when_complete);
	tcase_add_test(tc, survives_failures);
	tcase_add_test(tc, through_a_link);
	tcase_add_test(tc, refusals);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return testutil_run(statsfile_suite());
}
