/* SPDX-License-Identifier: MIT */
/* Devices on the I/O bus.  Each *_register() returns 0 or -errno. */
#ifndef PV_VMM_DEV_DEVICES_H
#define PV_VMM_DEV_DEVICES_H

#include <stdint.h>

struct vm;

/* COM1 16550: THR output, LSR always ready, LCR kept for DLAB; others read 0. */
struct serial_state {
	uint8_t lcr;
	uint8_t ier;
	uint8_t scr;
};
int serial_register(struct vm *vm);

/* QEMU isa-debug-exit at 0xf4: a write of v ends the VM with (v << 1) | 1. */
int debugexit_register(struct vm *vm);

/* Our hypercall ports: exit, report, assert-fail, puts, PV MMU setup and doorbell. */
int hypercall_register(struct vm *vm);

#endif
