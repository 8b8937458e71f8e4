/* SPDX-License-Identifier: MIT */
/*
 * Just enough of a 16550 for a console: bytes written to THR go to the VMM's
 * stdout (escaped: vmm/escape.h), LSR always says the transmitter is empty,
 * LCR is kept so divisor latch writes (DLAB) are not mistaken for output, IER
 * and SCR read back what was written.  Other registers read 0.
 */
#include "vmm/dev/devices.h"

#include "pagevisor/abi.h"
#include "vmm/vm.h"

#define UART_THR 0
#define UART_IER 1
#define UART_LCR 3
#define UART_LSR 5
#define UART_SCR 7
#define UART_LCR_DLAB 0x80
#define UART_LSR_THRE 0x20
#define UART_LSR_TEMT 0x40

static void serial_io(struct vcpu *vcpu, void *opaque, uint64_t off, uint8_t *data,
		      uint32_t len, bool is_write)
{
	struct vm *vm = opaque;
	struct serial_state *s = &vm->serial;
	bool dlab = s->lcr & UART_LCR_DLAB;

	if (is_write) {
		switch (off) {
		case UART_THR:
			if (!dlab)
				vm_console_write(vm, data, 1);
			break;
		case UART_IER:
			if (!dlab)
				s->ier = data[0] & 0x0f;
			break;
		case UART_LCR:
			s->lcr = data[0];
			break;
		case UART_SCR:
			s->scr = data[0];
			break;
		}
		return;
	}
	switch (off) {
	case UART_IER:
		data[0] = dlab ? 0 : s->ier;
		break;
	case UART_LCR:
		data[0] = s->lcr;
		break;
	case UART_LSR:
		data[0] = UART_LSR_THRE | UART_LSR_TEMT;
		break;
	case UART_SCR:
		data[0] = s->scr;
		break;
	}
}

int serial_register(struct vm *vm)
{
	return iobus_register(&vm->bus, IOBUS_PIO, PV_PORT_COM1, 8, serial_io, vm, "com1");
}
