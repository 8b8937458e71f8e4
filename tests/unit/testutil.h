/* SPDX-License-Identifier: MIT */
/* Shared helpers for the Check unit tests. */
#ifndef PV_TESTUTIL_H
#define PV_TESTUTIL_H

#include <check.h>
#include <sys/types.h>

/* Run @s with Check's default runner; returns main()'s exit status. */
int testutil_run(Suite *s);

/* A fresh directory /tmp/pv-test-@name-XXXXXX in @buf (at least 64 bytes). */
void testutil_mkdtemp(char *buf, const char *name);

/* The number of entries in directory @path other than . and .. (-1: unreadable). */
int testutil_dir_entries(const char *path);

/* @path's whole content (at most @len - 1 bytes), NUL-terminated, in @buf; its length or -1. */
ssize_t testutil_slurp(const char *path, char *buf, size_t len);

/* rm -rf @path. */
void testutil_rm_rf(const char *path);

#endif
