/* SPDX-License-Identifier: MIT */
/*
 * What the swap file's integrity check costs per swap-in: checksum_page()
 * over pages that are not in the CPU cache (a buffer larger than the
 * caches, walked once per round), beside a 4 KiB O_DIRECT read of the same
 * kind a swap-in makes, timed in the same run.  Prints ns per page for both
 * and the checksum's share of a swap-in.
 *
 *   build/bench/swap_checksum [DIR [MiB]]   (DIR: where the read file goes; default /var/tmp)
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mmu/checksum.h"

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "/var/tmp";
	size_t mib = argc > 2 ? strtoul(argv[2], NULL, 10) : 256, pages = mib << 8;
	uint64_t key = checksum_key(), sink = 0, t0, sum_ns, reads[512];
	char path[4096];
	uint8_t *buf, *page;
	int fd;

	buf = aligned_alloc(4096, pages * 4096);
	page = aligned_alloc(4096, 4096);
	if (!buf || !page || !pages)
		return 1;
	for (size_t i = 0; i < pages * 4096 / 8; i++)
		((uint64_t *)buf)[i] = i * 0x9e3779b97f4a7c15ull;
	t0 = now_ns();
	for (int round = 0; round < 4; round++)
		for (size_t p = 0; p < pages; p++)
			sink ^= checksum_page(buf + p * 4096, key);
	sum_ns = (now_ns() - t0) / (4 * pages);

	snprintf(path, sizeof(path), "%s/pv-checksum-bench.XXXXXX", dir);
	fd = mkstemp(path);
	if (fd < 0 || pwrite(fd, buf, 512 * 4096, 0) != 512 * 4096 || fsync(fd)) {
		perror("swap_checksum: the read file");
		return 1;
	}
	unlink(path);
	if (fcntl(fd, F_SETFL, O_DIRECT)) {
		perror("swap_checksum: O_DIRECT");
		return 1;
	}
	for (int k = 0; k < 512; k++) {
		off_t off = (off_t)((k * 197) % 512) * 4096;    /* scattered, as swap-ins are */

		t0 = now_ns();
		if (pread(fd, page, 4096, off) != 4096)
			return 1;
		reads[k] = now_ns() - t0;
	}
	close(fd);
	qsort(reads, 512, sizeof(reads[0]), cmp_u64);
	printf("checksum_page %zu MiB x 4: %llu ns/page (%.2f GB/s)\n", mib,
	       (unsigned long long)sum_ns, 4096.0 / (double)sum_ns);
	printf("4 KiB O_DIRECT read p50:   %llu ns\n", (unsigned long long)reads[256]);
	printf("checksum / read:           %.3f%%   (sink %llx)\n",
	       100.0 * (double)sum_ns / (double)reads[256], (unsigned long long)(sink & 0xf));
	free(buf);
	free(page);
	return 0;
}
