/* SPDX-License-Identifier: MIT */
#include "vmm/iobus.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define IOBUS_PIO_LIMIT 0x10000ull

int iobus_register(struct iobus *bus, enum iobus_space space, uint64_t base,
		   uint64_t len, iobus_fn fn, void *opaque, const char *name)
{
	struct iobus_range *r;
	uint64_t end;
	size_t n, pos;

	if (space >= IOBUS_NR_SPACES || len == 0 || !fn ||
	    __builtin_add_overflow(base, len, &end))
		return -EINVAL;
	if (space == IOBUS_PIO && end > IOBUS_PIO_LIMIT)
		return -EINVAL;

	n = bus->nr[space];
	r = bus->ranges[space];
	for (pos = 0; pos < n && r[pos].base < base; pos++)
		;
	/* sorted and disjoint: only the neighbours can overlap */
	if (pos > 0 && r[pos - 1].base + r[pos - 1].len > base)
		return -EEXIST;
	if (pos < n && r[pos].base < end)
		return -EEXIST;

	r = realloc(r, (n + 1) * sizeof(*r));
	if (!r)
		return -ENOMEM;
	memmove(&r[pos + 1], &r[pos], (n - pos) * sizeof(*r));
	r[pos] = (struct iobus_range){ base, len, fn, opaque, name };
	bus->ranges[space] = r;
	bus->nr[space] = n + 1;
	return 0;
}

const struct iobus_range *iobus_find(const struct iobus *bus, enum iobus_space space,
				     uint64_t addr, uint32_t len)
{
	const struct iobus_range *r;
	size_t lo = 0, hi;
	uint64_t end;

	if (space >= IOBUS_NR_SPACES || __builtin_add_overflow(addr, (uint64_t)len, &end))
		return NULL;
	r = bus->ranges[space];
	hi = bus->nr[space];
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (addr < r[mid].base)
			hi = mid;
		else if (addr - r[mid].base >= r[mid].len)
			lo = mid + 1;
		else
			return end - r[mid].base <= r[mid].len ? &r[mid] : NULL;
	}
	return NULL;
}

void iobus_destroy(struct iobus *bus)
{
	for (int s = 0; s < IOBUS_NR_SPACES; s++) {
		free(bus->ranges[s]);
		bus->ranges[s] = NULL;
		bus->nr[s] = 0;
	}
}
