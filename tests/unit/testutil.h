/* SPDX-License-Identifier: MIT */
/* Shared helpers for the Check unit tests. */
#ifndef PV_TESTUTIL_H
#define PV_TESTUTIL_H

#include <check.h>

/* Run @s with Check's default runner; returns main()'s exit status. */
int testutil_run(Suite *s);

/* A fresh directory /tmp/pv-test-@name-XXXXXX in @buf (at least 64 bytes). */
void testutil_mkdtemp(char *buf, const char *name);

/* The number of entries in directory @path other than . and .. (-1: unreadable). */
int testutil_dir_entries(const char *path);

/* rm -rf @path. */
void testutil_rm_rf(const char *path);

#endif
