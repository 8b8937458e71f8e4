/* SPDX-License-Identifier: MIT */
/* Guest text made safe for a terminal: printable ASCII only, \xNN for the rest. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "vmm/escape.h"

START_TEST(text)
{
	char out[64];

	ck_assert_uint_eq(escape_text(out, sizeof(out), "ok \x1b[2J\n\t\x80\xff~", 12, false), 27);
	ck_assert_str_eq(out, "ok \\x1b[2J\\x0a\\x09\\x80\\xff~");
	escape_text(out, sizeof(out), "a\nb\tc\r", 6, true);
	ck_assert_str_eq(out, "a\nb\tc\\x0d");
	/* a NUL in the middle is a byte like another */
	escape_text(out, sizeof(out), "a\0b", 3, false);
	ck_assert_str_eq(out, "a\\x00b");
}
END_TEST

/* Full: cut before an escape that does not fit whole, always terminated. */
START_TEST(truncation)
{
	char out[8];

	ck_assert_uint_eq(escape_text(out, sizeof(out), "abcd\x1b" "ef", 7, false), 4);
	ck_assert_str_eq(out, "abcd");
	ck_assert_uint_eq(escape_text(out, sizeof(out), "abcdefghij", 10, false), 7);
	ck_assert_str_eq(out, "abcdefg");
	ck_assert_uint_eq(escape_text(out, 1, "abc", 3, false), 0);
	ck_assert_str_eq(out, "");
}
END_TEST

START_TEST(stream)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	escape_fwrite(f, "hi\x07 there\n\x9b" "1m", 13);
	fclose(f);
	ck_assert_str_eq(buf, "hi\\x07 there\n\\x9b1m");
	free(buf);
}
END_TEST

static Suite *escape_suite(void)
{
	Suite *s = suite_create("escape");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, text);
	tcase_add_test(tc, truncation);
	tcase_add_test(tc, stream);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return testutil_run(escape_suite());
}
