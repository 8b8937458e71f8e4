/*
 * Line-buffered console.  Each exit costs ~11 us from CPL0 and ~100 us from
 * CPL3 on the nested-KVM host, so output leaves in whole lines: one
 * PV_HC_PUTS per line instead of one port write per character.
 */
#include <gk/console.h>
#include <gk/hypercall.h>

static char console_line[PV_PUTS_MAX];
static size_t console_len;
static bool console_serial;

void console_flush(void)
{
	if (!console_len)
		return;
	if (console_serial) {
		for (size_t i = 0; i < console_len; i++)
			serial_putc(hc_ports.console, console_line[i]);
	} else {
		hc_puts(console_line, console_len);
	}
	console_len = 0;
}

void console_putc(char c)
{
	console_line[console_len++] = c;
	if (c == '\n' || console_len == sizeof(console_line))
		console_flush();
}

void console_write(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		console_putc(s[i]);
}

void console_use_serial(bool on)
{
	console_flush();
	if (on)
		serial_init(hc_ports.console);
	console_serial = on;
}
