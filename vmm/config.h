/* SPDX-License-Identifier: MIT */
/* Command line -> struct vm_config, with one clear message per bad input. */
#ifndef PV_VMM_CONFIG_H
#define PV_VMM_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define CONFIG_DEFAULT_MEM (256ull << 20)
#define CONFIG_DEFAULT_PV_MMU "auto"
#define CONFIG_RESIDENT_MIN (1ull << 20)        /* --resident: the guest kernel's working set */
#define CONFIG_FAULT_THREADS_MAX 8
#define CONFIG_READAHEAD_MAX 256     /* pages: mmu/readahead.h's RA_MAX */

struct vm_config {
	const char *image;      /* path of the guest image */
	uint64_t mem_size;      /* bytes of guest RAM */
	unsigned cpus;
	char *cmdline;          /* guest command line, malloc'd ("" when none) */
	const char *stats_path; /* NULL: no JSON; "-": stdout */
	const char *pv_mmu;     /* --pv-mmu: "auto", "off", "immediate" or "batched" */
	bool quiet;
	const char *swap_dir;   /* --swap DIR: userfaultfd swap mode, its file made in DIR; NULL: off */
	uint64_t resident;      /* --resident bytes (swap mode's limit; 0 without) */
	bool aging_clock;       /* --aging clock (default) or off */
	unsigned fault_threads; /* --fault-threads, 1..CONFIG_FAULT_THREADS_MAX (default 1) */
	bool anon_ram;          /* --anon-ram: private anonymous RAM, no memfd */
	bool prealloc;          /* --prealloc: all RAM in host memory before the guest runs */
	bool hugepages;         /* --hugepages: RAM in 2 MiB hugetlb pages */
	int readahead;          /* --readahead: -1 auto (default), 0 off, N pages */
	bool prefault;          /* --prefault on (default) or off */
	uint64_t balloon;       /* --balloon bytes: the balloon's target (0: none) */
};

/* What config_parse() decided. */
enum config_action {
	CONFIG_RUN,             /* boot the guest */
	CONFIG_DONE,            /* --help or --version was printed */
};

/*
 * Parse argv (getopt_long; restarts getopt) into @cfg.  Returns a
 * config_action, or -EINVAL after printing one line naming the problem to
 * @err.  Help and version go to @out.
 */
int config_parse(struct vm_config *cfg, int argc, char **argv, FILE *out, FILE *err);

/* Free what config_parse() allocated. */
void config_free(struct vm_config *cfg);

/*
 * Parse a size: decimal digits with an optional K, M, G or T suffix (binary
 * units, either case, optional trailing "B" or "iB").  Returns 0, -EINVAL for
 * malformed text or zero, -ERANGE for values over 2^64-1.
 */
int config_parse_size(const char *s, uint64_t *out);

/*
 * Check a guest RAM size against the ABI (a multiple of 2 MiB, between
 * PV_RAM_MIN and PV_RAM_MAX) and the host's @host_bytes of RAM.  Returns 0,
 * or -EINVAL / -E2BIG after printing one line to @err.
 */
int config_check_memory(uint64_t size, uint64_t host_bytes, FILE *err);

/* Bytes of RAM on this host (sysconf). */
uint64_t config_host_memory(void);

/*
 * --hugepages: 2 MiB huge pages the host has free for us (free minus
 * reserved by others), or -1 when it has no 2 MiB hugetlb pool at all.
 */
int64_t config_host_hugepages(void);

/* Whether @host_free huge pages hold @size bytes of RAM: 0, or one line to @err and -errno. */
int config_check_hugepages(uint64_t size, int64_t host_free, FILE *err);

#endif
