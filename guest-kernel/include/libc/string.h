/* Freestanding <string.h>: the subset the guest kernel and libfdt use. */
#ifndef GK_LIBC_STRING_H
#define GK_LIBC_STRING_H

#include <stddef.h>
#include <stdint.h>

void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
/* Not ISO C (Linux's memset64): n 64-bit words at dst set to v, one rep stosq. */
void *memset64(uint64_t *dst, uint64_t v, size_t n);
int memcmp(const void *a, const void *b, size_t n);
void *memchr(const void *s, int c, size_t n);
size_t strlen(const char *s);
size_t strnlen(const char *s, size_t max);
char *strchr(const char *s, int c);
char *strrchr(const char *s, int c);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);

#endif
