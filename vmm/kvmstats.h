/* SPDX-License-Identifier: MIT */
/* KVM's binary statistics (KVM_GET_STATS_FD), read at exit into the JSON. */
#ifndef PV_VMM_KVMSTATS_H
#define PV_VMM_KVMSTATS_H

struct json;

/* KVM_GET_STATS_FD on a VM or vCPU fd: the stats fd, or -errno. */
int kvmstats_open(int fd);

/*
 * Read every stat from @stats_fd and write them as members of the current
 * JSON object: name -> number (or array, for stats of several values).
 * Returns 0 or -errno (the JSON stays well-formed either way).
 */
int kvmstats_json(struct json *j, int stats_fd);

#endif
