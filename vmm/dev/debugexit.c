/* SPDX-License-Identifier: MIT */
/* QEMU's isa-debug-exit: writing v makes the VMM exit with (v << 1) | 1. */
#include "vmm/dev/devices.h"

#include <string.h>

#include "pagevisor/abi.h"
#include "vmm/vm.h"

static void debugexit_io(struct vcpu *vcpu, void *opaque, uint64_t off, uint8_t *data,
			 uint32_t len, bool is_write)
{
	struct vm *vm = opaque;
	uint32_t v = 0;

	if (!is_write)
		return;
	memcpy(&v, data, len < sizeof(v) ? len : sizeof(v));
	vm_end(vm, VM_END_GUEST, (int)(((v << 1) | 1) & 0xff),
	       "guest wrote 0x%x to isa-debug-exit", v);
}

int debugexit_register(struct vm *vm)
{
	return iobus_register(&vm->bus, IOBUS_PIO, PV_PORT_DEBUG_EXIT, 4, debugexit_io, vm,
			      "isa-debug-exit");
}
