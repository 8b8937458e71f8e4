/* SPDX-License-Identifier: MIT */
/*
 * Swap mode without a VM: mmu/ over fresh RAM, touched by this process's
 * own thread instead of a vCPU, so the fault path's behaviour (demand reads,
 * read-ahead, eviction) can be watched where /dev/kvm is missing and
 * without the cost of guest exits.  Every touch checks a stamp, as memtouch
 * does.  Prints ns per touch and swap mode's metrics table.
 *
 *   build/bench/mmu_drive PAGES LIMIT seq|random PASSES off|auto|N [write=0|1] [DIR]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mmu/guestmem.h"
#include "mmu/swapmode.h"
#include "vmm/metrics.h"

static uint64_t drive_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

int main(int argc, char **argv)
{
	struct swapmode_params p = { .clock = true, .fault_threads = 1 };
	struct metric m[SWAPMODE_METRICS_MAX];
	uint64_t pages, rng = 0x9e3779b97f4a7c15ull, t0, touches = 0, errors = 0;
	struct guestmem_pager pager;
	struct swapmode *sm;
	struct guestmem gm;
	bool seq, write;
	int passes;
	char tmpl[] = "/var/tmp/pv-drive-XXXXXX";

	if (argc < 6) {
		fprintf(stderr, "usage: mmu_drive PAGES LIMIT seq|random PASSES off|auto|N [write=0|1] [DIR]\n");
		return 2;
	}
	pages = strtoull(argv[1], NULL, 0);
	p.limit_pages = strtoull(argv[2], NULL, 0);
	seq = strcmp(argv[3], "seq") == 0;
	passes = atoi(argv[4]);
	p.readahead = !strcmp(argv[5], "off") ? RA_OFF : !strcmp(argv[5], "auto") ? RA_AUTO : RA_FIXED;
	p.readahead_pages = p.readahead == RA_FIXED ? (uint32_t)atoi(argv[5]) : 0;
	write = argc > 6 && strcmp(argv[6], "write=1") == 0;
	p.dir = argc > 7 ? argv[7] : mkdtemp(tmpl);
	if (!p.dir || guestmem_init(&gm, pages * 4096) || swapmode_create(&sm, &gm, &p) ||
	    swapmode_start(sm))
		return 3;
	pager = swapmode_pager(sm);
	guestmem_set_pager(&gm, &pager);
	for (uint64_t i = 0; i < pages; i++)
		*(uint64_t *)(gm.guest_map + i * 4096) = i << 8 | 1;
	t0 = mmu_now_ns();
	for (int pass = 0; pass < passes; pass++) {
		for (uint64_t k = 0; k < pages; k++) {
			uint64_t i = seq ? k : drive_rand(&rng) % pages;
			volatile uint64_t *w = (volatile uint64_t *)(gm.guest_map + i * 4096);
			uint64_t v = *w;

			errors += (v >> 8) != i;
			if (write)
				*w = i << 8 | ((v + 1) & 0xff);
			touches++;
		}
	}
	t0 = mmu_now_ns() - t0;
	swapmode_stop(sm);
	printf("%s %s pages %llu limit %llu passes %d write %d: %.0f ns/touch, errors %llu\n",
	       argv[3], argv[5], (unsigned long long)pages, (unsigned long long)p.limit_pages,
	       passes, write, (double)t0 / (double)touches, (unsigned long long)errors);
	metrics_print(stdout, m, swapmode_metrics(sm, m, SWAPMODE_METRICS_MAX));
	guestmem_set_pager(&gm, NULL);
	swapmode_destroy(sm);
	guestmem_destroy(&gm);
	if (argc <= 7)
		rmdir(p.dir);
	return errors ? 1 : 0;
}
