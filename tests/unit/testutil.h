/* SPDX-License-Identifier: MIT */
/* Shared helpers for the Check unit tests. */
#ifndef PV_TESTUTIL_H
#define PV_TESTUTIL_H

#include <check.h>

/* Run @s with Check's default runner; returns main()'s exit status. */
int testutil_run(Suite *s);

#endif
