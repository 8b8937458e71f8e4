/* SPDX-License-Identifier: MIT */
/*
 * One registry for port I/O and MMIO.  A device registers [base, base+len)
 * in one space; overlapping ranges are refused.  Handlers see the offset
 * into their range, never the absolute address.
 */
#ifndef PV_VMM_IOBUS_H
#define PV_VMM_IOBUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum iobus_space { IOBUS_PIO, IOBUS_MMIO, IOBUS_NR_SPACES };

struct vcpu;

/*
 * @vcpu accesses @len bytes at @offset of the device's range.  On a write,
 * @data holds the value; on a read the handler fills it (it arrives zeroed).
 */
typedef void (*iobus_fn)(struct vcpu *vcpu, void *opaque, uint64_t offset, uint8_t *data,
			 uint32_t len, bool is_write);

struct iobus_range {
	uint64_t base, len;
	iobus_fn fn;
	void *opaque;
	const char *name;
};

struct iobus {
	struct iobus_range *ranges[IOBUS_NR_SPACES];  /* sorted by base */
	size_t nr[IOBUS_NR_SPACES];
};

/* Register a range.  Returns 0, -EINVAL (len 0, wraps, or beyond the 64 KiB
 * port space), -EEXIST (overlaps a registered range), -ENOMEM. */
int iobus_register(struct iobus *bus, enum iobus_space space, uint64_t base,
		   uint64_t len, iobus_fn fn, void *opaque, const char *name);

/* The range holding all of [addr, addr+len), or NULL. */
const struct iobus_range *iobus_find(const struct iobus *bus, enum iobus_space space,
				     uint64_t addr, uint32_t len);

/* Free the registry.  Safe on a zeroed struct. */
void iobus_destroy(struct iobus *bus);

#endif
