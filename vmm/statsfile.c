/* SPDX-License-Identifier: MIT */
#include "vmm/statsfile.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

static int statsfile_fail(const struct statsfile *sf, const char *what, int err)
{
	fprintf(stderr, "vmm: --stats %s: %s: %s\n", sf->path, what, strerror(err));
	return -err;
}

/* The absolute path @path names, its last link resolved when it exists. */
static char *statsfile_resolve(const char *path)
{
	char *copy, *dir, *base, *rdir, *out = NULL;

	out = realpath(path, NULL);
	if (out || errno != ENOENT)
		return out;
	/* not there yet: resolve its directory, keep its name */
	copy = strdup(path);
	if (!copy)
		return NULL;
	dir = dirname(copy);
	rdir = realpath(dir, NULL);
	if (rdir) {
		base = strrchr(path, '/') ? strrchr(path, '/') + 1 : (char *)path;
		if (asprintf(&out, "%s/%s", strcmp(rdir, "/") ? rdir : "", base) < 0)
			out = NULL;
		free(rdir);
	}
	free(copy);
	return out;
}

int statsfile_open(struct statsfile *sf, const char *path)
{
	struct stat st;
	char *copy;

	*sf = (struct statsfile){ .path = path, .tmp_fd = -1 };
	if (strcmp(path, "-") == 0) {
		sf->direct = stdout;
		return 0;
	}
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return statsfile_fail(sf, "cannot write the report", EISDIR);
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		sf->direct = fopen(path, "w");
		return sf->direct ? 0 : statsfile_fail(sf, "cannot open for writing", errno);
	}
	sf->target = statsfile_resolve(path);
	if (!sf->target)
		return statsfile_fail(sf, "cannot open for writing", errno);
	copy = strdup(sf->target);
	sf->dir = copy ? strdup(dirname(copy)) : NULL;
	free(copy);
	if (!sf->dir)
		return statsfile_fail(sf, "cannot open for writing", ENOMEM);
	sf->tmp_fd = open(sf->dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0666);
	if (sf->tmp_fd >= 0)
		return 0;
	/* EISDIR: a kernel without O_TMPFILE; EOPNOTSUPP: a file system without it */
	if (errno != EOPNOTSUPP && errno != EISDIR)
		return statsfile_fail(sf, "cannot open for writing", errno);
	if (access(sf->dir, W_OK | X_OK))
		return statsfile_fail(sf, "cannot open for writing", errno);
	return 0;
}

/* A fresh name ".BASE.XXXXXX" beside the target in @buf (PATH_MAX). */
static void statsfile_tmpname(const struct statsfile *sf, char *buf, size_t len)
{
	const char *base = strrchr(sf->target, '/') + 1;
	uint64_t r = 0;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
		r = (uint64_t)getpid() * 0x9e3779b97f4a7c15ull ^ (uint64_t)(uintptr_t)buf;
	snprintf(buf, len, "%s/.%s.%012llx", sf->dir, base, (unsigned long long)(r & 0xffffffffffffull));
}

/* Run @write into @fd (taken over), then flush and sync.  0 or -errno. */
static int statsfile_fill(int fd, int (*write)(FILE *, void *), void *arg)
{
	FILE *f = fdopen(fd, "w");
	int ret;

	if (!f) {
		ret = -errno;
		close(fd);
		return ret;
	}
	ret = write(f, arg);
	if (!ret && fflush(f))
		ret = -errno;
	if (!ret && ferror(f))
		ret = -EIO;
	if (!ret && fsync(fileno(f)))
		ret = -errno;
	if (fclose(f) && !ret)
		ret = -errno;
	return ret;
}

/* Give the complete unnamed file a temporary name in @name. */
static int statsfile_link(struct statsfile *sf, char *name, size_t len)
{
	char proc[64];

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", sf->tmp_fd);
	for (int tries = 0; tries < 8; tries++) {
		statsfile_tmpname(sf, name, len);
		if (linkat(AT_FDCWD, proc, AT_FDCWD, name, AT_SYMLINK_FOLLOW) == 0)
			return 0;
		if (errno != EEXIST)
			break;
	}
	return -errno;
}

int statsfile_write(struct statsfile *sf, int (*write)(FILE *f, void *arg), void *arg)
{
	char name[4096];
	int ret, fd;

	if (sf->direct) {
		ret = write(sf->direct, arg);
		if (!ret && fflush(sf->direct))
			ret = -errno;
		if (!ret && ferror(sf->direct))
			ret = -EIO;
		return ret ? statsfile_fail(sf, "cannot write the report", -ret) : 0;
	}
	if (sf->tmp_fd >= 0) {
		fd = dup(sf->tmp_fd);           /* the unnamed file stays open to be linked */
		ret = fd < 0 ? -errno : statsfile_fill(fd, write, arg);
		if (ret)
			return statsfile_fail(sf, "cannot write the report", -ret);
		ret = statsfile_link(sf, name, sizeof(name));
	} else {
		ret = -ENOENT;
	}
	if (ret) {
		/* no O_TMPFILE, or no /proc to link it through: a named temporary file */
		statsfile_tmpname(sf, name, sizeof(name));
		fd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
		ret = fd < 0 ? -errno : statsfile_fill(fd, write, arg);
		if (ret) {
			if (fd >= 0)
				unlink(name);
			return statsfile_fail(sf, "cannot write the report", -ret);
		}
	}
	if (rename(name, sf->target)) {
		ret = errno;
		unlink(name);
		return statsfile_fail(sf, "cannot put the report in place", ret);
	}
	return 0;
}

void statsfile_close(struct statsfile *sf)
{
	if (sf->direct && sf->direct != stdout)
		fclose(sf->direct);
	if (sf->tmp_fd >= 0)
		close(sf->tmp_fd);
	free(sf->target);
	free(sf->dir);
	sf->direct = NULL;
	sf->tmp_fd = -1;
	sf->target = sf->dir = NULL;
}
