/* Freestanding <stdlib.h>: only strtoul (libfdt needs it). */
#ifndef GK_LIBC_STDLIB_H
#define GK_LIBC_STDLIB_H

#include <stddef.h>

unsigned long strtoul(const char *s, char **endptr, int base);

#endif
