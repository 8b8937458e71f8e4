/*
 * Console: line-buffered output.  A line goes out in ONE exit when it ends
 * ('\n'), fills the buffer, or console_flush() is called.  The default path
 * is the PV_HC_PUTS hypercall; the 16550 path writes one port per byte and
 * exists as a fallback (bootarg console=serial).
 */
#ifndef GK_CONSOLE_H
#define GK_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Append one character; a '\n' or a full buffer flushes the line. */
void console_putc(char c);

/* Append n characters (console_putc semantics). */
void console_write(const char *s, size_t n);

/* Send what is buffered, even without a '\n'. */
void console_flush(void);

/* Route output to the 16550 at serial_port (true) or to PV_HC_PUTS (false). */
void console_use_serial(bool on);

/* 16550 UART: program 115200 8N1 at port; then polled writes of one byte. */
void serial_init(uint16_t port);
void serial_putc(uint16_t port, char c);

#endif
