/* printf family: %d %i %u %x %X %o %p %s %c %%, flags '-' '0', width, .prec, hh h l ll z j t. */
#ifndef GK_PRINTF_H
#define GK_PRINTF_H

#include <stdarg.h>
#include <stddef.h>

/* Where formatted characters go: put() is called once per character. */
struct fmt_sink {
	void (*put)(struct fmt_sink *sink, char c);
};

/* Format into sink; returns the number of characters produced. */
int fmt_vformat(struct fmt_sink *sink, const char *fmt, va_list ap);

/* C semantics: writes at most size-1 chars plus NUL; returns the full length. */
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int snprintf(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* To the console (line-buffered, see gk/console.h). */
int vprintf(const char *fmt, va_list ap);
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
