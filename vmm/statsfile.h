/* SPDX-License-Identifier: MIT */
/*
 * The --stats destination, written so that a run never damages a report
 * that is already there.  A regular file (or a name not there yet) gets the
 * JSON in an unnamed file of the same directory (O_TMPFILE, made at start,
 * so an unwritable directory is refused before the guest runs), which is
 * given a temporary name and renamed onto FILE only once it is complete
 * and synced.  A refused, failed or killed run leaves FILE as it was.  A
 * link is resolved first: its target is replaced, the link stays.  "-" is
 * stdout; a device or FIFO is written as it is (there is nothing to
 * replace); a directory is refused.
 */
#ifndef PV_VMM_STATSFILE_H
#define PV_VMM_STATSFILE_H

#include <stdio.h>

struct statsfile {
	const char *path;       /* as given, for messages */
	char *target;           /* the file to replace; NULL when written directly */
	char *dir;              /* target's directory */
	int tmp_fd;             /* the unnamed file, or -1 (none yet: made at the end) */
	FILE *direct;           /* stdout, or a non-regular file */
};

/*
 * Check @path and prepare its writing.  0, or -errno after one line on
 * stderr ("vmm: --stats PATH: why").
 */
int statsfile_open(struct statsfile *sf, const char *path);

/*
 * Write the report with @write(f, @arg) (0 or -errno) and put it in place.
 * 0, or -errno after one line on stderr; FILE is untouched then.
 */
int statsfile_write(struct statsfile *sf, int (*write)(FILE *f, void *arg), void *arg);

/* Release what open made.  Safe after a failed open and twice. */
void statsfile_close(struct statsfile *sf);

#endif
