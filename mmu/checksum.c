/* SPDX-License-Identifier: MIT */
/*
 * Four independent lanes of multiply-rotate rounds over the page's 64-bit
 * words, merged and mixed at the end (the shape of XXH64, with the key as
 * its seed): the lanes let the CPU overlap the multiplies.
 */
#include "mmu/checksum.h"

#include <string.h>
#include <sys/random.h>
#include <time.h>

#define CK_P1 0x9e3779b185ebca87ull
#define CK_P2 0xc2b2ae3d27d4eb4full
#define CK_P3 0x165667b19e3779f9ull
#define CK_P4 0x85ebca77c2b2ae63ull

static inline uint64_t ck_rotl(uint64_t x, unsigned r)
{
	return (x << r) | (x >> (64 - r));
}

static inline uint64_t ck_round(uint64_t acc, uint64_t w)
{
	return ck_rotl(acc + w * CK_P2, 31) * CK_P1;
}

static inline uint64_t ck_merge(uint64_t h, uint64_t lane)
{
	return (h ^ ck_round(0, lane)) * CK_P1 + CK_P4;
}

/* A word of the page: memcpy, because the page's bytes have no uint64_t type. */
static inline uint64_t ck_word(const unsigned char *p, unsigned i)
{
	uint64_t v;

	memcpy(&v, p + 8 * i, sizeof(v));
	return v;
}

uint64_t checksum_page(const void *page, uint64_t key)
{
	const unsigned char *w = page;
	uint64_t a = key + CK_P1 + CK_P2, b = key + CK_P2, c = key, d = key - CK_P1, h;

	for (unsigned i = 0; i < CHECKSUM_PAGE_SIZE / 8; i += 4) {
		a = ck_round(a, ck_word(w, i));
		b = ck_round(b, ck_word(w, i + 1));
		c = ck_round(c, ck_word(w, i + 2));
		d = ck_round(d, ck_word(w, i + 3));
	}
	h = ck_rotl(a, 1) + ck_rotl(b, 7) + ck_rotl(c, 12) + ck_rotl(d, 18);
	h = ck_merge(ck_merge(ck_merge(ck_merge(h, a), b), c), d);
	h += CHECKSUM_PAGE_SIZE;
	h ^= h >> 33;
	h *= CK_P2;
	h ^= h >> 29;
	h *= CK_P3;
	return h ^ (h >> 32);
}

uint64_t checksum_key(void)
{
	struct timespec ts;
	uint64_t k;

	if (getrandom(&k, sizeof(k), GRND_NONBLOCK) == (ssize_t)sizeof(k))
		return k;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_nsec * CK_P1 ^ (uint64_t)ts.tv_sec;
}
