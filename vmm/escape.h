/* SPDX-License-Identifier: MIT */
/*
 * Guest-controlled text made safe for a terminal.  A guest can put any byte
 * in its console output and its assertion messages; raw, an ESC starts a
 * terminal control sequence on the user's terminal, and bytes 0x80-0x9f are
 * C1 controls (0x9b is CSI) on some terminals.  So only printable ASCII
 * (0x20-0x7e) passes, with newline and tab where a caller allows them; every
 * other byte is written as \xNN.
 */
#ifndef PV_VMM_ESCAPE_H
#define PV_VMM_ESCAPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* The most bytes one input byte becomes ("\xNN"). */
#define ESCAPE_MAX_PER_BYTE 4u

/*
 * Escape @len bytes of @src into @dst (@cap bytes, NUL-terminated, cut at a
 * whole escape when full).  @lines: newline and tab pass.  Returns the length
 * written.
 */
size_t escape_text(char *dst, size_t cap, const void *src, size_t len, bool lines);

/* Escape @len bytes of @src onto @f, newline and tab passing. */
void escape_fwrite(FILE *f, const void *src, size_t len);

#endif
