/* SPDX-License-Identifier: MIT */
/*
 * A keyed 64-bit checksum of a 4 KiB page, for the swap file's integrity:
 * every slot's checksum is taken as it is written and kept in VMM memory,
 * and a page read back must match it.  The key is drawn at random per run,
 * so a slot cannot be forged by someone who knows only the algorithm and
 * the data.  Not a cryptographic MAC: it catches corruption and tampering
 * by whoever cannot read the VMM's memory, which is all the swap file's
 * permissions let near it.
 */
#ifndef PV_MMU_CHECKSUM_H
#define PV_MMU_CHECKSUM_H

#include <stdint.h>

#define CHECKSUM_PAGE_SIZE 4096u

/* A random key for this run (getrandom; the clock when that fails). */
uint64_t checksum_key(void);

/* The checksum of the 4096 bytes at @page under @key. */
uint64_t checksum_page(const void *page, uint64_t key);

#endif
