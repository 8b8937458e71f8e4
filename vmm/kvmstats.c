/* SPDX-License-Identifier: MIT */
#include "vmm/kvmstats.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "vmm/json.h"

int kvmstats_open(int fd)
{
	int r = ioctl(fd, KVM_GET_STATS_FD, NULL);

	if (r < 0) {
		r = -errno;
		fprintf(stderr, "vmm: KVM_GET_STATS_FD: %s\n", strerror(errno));
	}
	return r;
}

static int kvmstats_pread(int fd, void *buf, size_t len, off_t off)
{
	ssize_t n = pread(fd, buf, len, off);

	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

int kvmstats_json(struct json *j, int stats_fd)
{
	struct kvm_stats_header hdr;
	size_t desc_size;
	char *descs = NULL;
	uint64_t *vals = NULL;
	int ret;

	ret = kvmstats_pread(stats_fd, &hdr, sizeof(hdr), 0);
	if (ret)
		goto out;
	if (hdr.name_size == 0 || hdr.name_size > 4096 || hdr.num_desc > 65536) {
		ret = -EPROTO;
		goto out;
	}
	desc_size = sizeof(struct kvm_stats_desc) + hdr.name_size;
	descs = calloc(hdr.num_desc, desc_size);
	if (!descs && hdr.num_desc) {
		ret = -ENOMEM;
		goto out;
	}
	ret = kvmstats_pread(stats_fd, descs, hdr.num_desc * desc_size, hdr.desc_offset);
	if (ret)
		goto out;
	for (uint32_t i = 0; i < hdr.num_desc; i++) {
		struct kvm_stats_desc *d = (void *)(descs + i * desc_size);
		uint64_t *tmp;

		if (d->size == 0 || d->size > 4096)
			continue;
		tmp = realloc(vals, d->size * sizeof(*vals));
		if (!tmp) {
			ret = -ENOMEM;
			goto out;
		}
		vals = tmp;
		ret = kvmstats_pread(stats_fd, vals, d->size * sizeof(*vals),
				     hdr.data_offset + d->offset);
		if (ret)
			goto out;
		d->name[hdr.name_size - 1] = '\0';
		if (d->size == 1) {
			json_u64(j, d->name, vals[0]);
			continue;
		}
		json_arr_begin(j, d->name);
		for (uint32_t k = 0; k < d->size; k++)
			json_u64(j, NULL, vals[k]);
		json_arr_end(j);
	}
out:
	if (ret)
		fprintf(stderr, "vmm: reading KVM binary stats: %s\n", strerror(-ret));
	free(vals);
	free(descs);
	return ret;
}
