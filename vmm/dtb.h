/* SPDX-License-Identifier: MIT */
/* The flattened device tree the guest boots with (built with libfdt). */
#ifndef PV_VMM_DTB_H
#define PV_VMM_DTB_H

#include <stddef.h>
#include <stdint.h>

struct dtb_params {
	uint64_t mem_size;      /* /memory reg = <0 mem_size> */
	const char *bootargs;   /* /chosen/bootargs ("" when none) */
	unsigned cpus;          /* /cpus/cpu@0 .. cpu@N-1 */
	uint32_t tsc_khz;       /* /pagevisor tsc-khz */
	const char *pv_mmu;     /* /pagevisor pv-mmu ("auto" when NULL) */
};

/*
 * Build the FDT into @buf (at most @size bytes): /memory, /chosen/bootargs,
 * /cpus, and /pagevisor (compatible, abi-version, tsc-khz, port numbers from
 * pagevisor/abi.h, pv-mmu from pagevisor/pvmmu.h).  Returns the blob's total
 * size, or -ENOSPC when it does not fit (a long command line), -EINVAL on
 * bad params.
 */
int dtb_build(void *buf, size_t size, const struct dtb_params *p);

#endif
