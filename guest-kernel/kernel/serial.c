/* 16550 UART driver (COM1): polled transmit only.  The fallback console. */
#include <gk/console.h>
#include <gk/x86.h>

#define UART_THR 0      /* transmit holding (DLAB=0) */
#define UART_DLL 0      /* divisor latch low (DLAB=1) */
#define UART_IER 1
#define UART_DLM 1
#define UART_FCR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_LSR_THRE 0x20

#define UART_POLL_MAX 100000

void serial_init(uint16_t port)
{
	outb(port + UART_IER, 0x00);    /* no interrupts */
	outb(port + UART_LCR, 0x80);    /* DLAB: set the divisor */
	outb(port + UART_DLL, 0x01);    /* 115200 baud */
	outb(port + UART_DLM, 0x00);
	outb(port + UART_LCR, 0x03);    /* 8N1 */
	outb(port + UART_FCR, 0x07);    /* FIFO on, cleared */
	outb(port + UART_MCR, 0x03);    /* DTR, RTS */
}

void serial_putc(uint16_t port, char c)
{
	/* Bounded wait: a UART that never drains must not hang the guest. */
	for (int i = 0; i < UART_POLL_MAX; i++)
		if (inb(port + UART_LSR) & UART_LSR_THRE)
			break;
	outb(port + UART_THR, (uint8_t)c);
}
