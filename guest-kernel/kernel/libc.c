/*
 * The C library subset the kernel and libfdt need.  Bulk copies use string
 * instructions: native speed at CPL3.  At CPL0 the emulator costs about one
 * instruction per iteration, so they move 8 bytes per iteration and finish
 * the tail bytewise.  Built with -fno-tree-loop-distribute-patterns so gcc
 * does not turn the loops below into calls to these functions.
 */
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void *memcpy(void *dst, const void *src, size_t n)
{
	void *d = dst;
	size_t q = n / 8, r = n % 8;

	__asm__ volatile("rep movsq" : "+D"(d), "+S"(src), "+c"(q) : : "memory");
	__asm__ volatile("rep movsb" : "+D"(d), "+S"(src), "+c"(r) : : "memory");
	return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
	if ((uintptr_t)dst - (uintptr_t)src >= n)
		return memcpy(dst, src, n);     /* no harmful overlap */
	/* dst overlaps the tail of src: copy backwards. */
	char *d = (char *)dst + n - 1;
	const char *s = (const char *)src + n - 1;

	__asm__ volatile("std; rep movsb; cld"
			 : "+D"(d), "+S"(s), "+c"(n) : : "memory");
	return dst;
}

void *memset(void *dst, int c, size_t n)
{
	void *d = dst;
	size_t q = n / 8, r = n % 8;
	uint64_t v = (uint8_t)c * 0x0101010101010101ull;

	__asm__ volatile("rep stosq" : "+D"(d), "+c"(q) : "a"(v) : "memory");
	__asm__ volatile("rep stosb" : "+D"(d), "+c"(r) : "a"(v) : "memory");
	return dst;
}

void *memset64(uint64_t *dst, uint64_t v, size_t n)
{
	void *d = dst;

	__asm__ volatile("rep stosq" : "+D"(d), "+c"(n) : "a"(v) : "memory");
	return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;

	for (size_t i = 0; i < n; i++)
		if (x[i] != y[i])
			return x[i] - y[i];
	return 0;
}

void *memchr(const void *s, int c, size_t n)
{
	const unsigned char *p = s;

	for (size_t i = 0; i < n; i++)
		if (p[i] == (unsigned char)c)
			return (void *)(p + i);
	return NULL;
}

size_t strlen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

size_t strnlen(const char *s, size_t max)
{
	size_t n = 0;

	while (n < max && s[n])
		n++;
	return n;
}

char *strchr(const char *s, int c)
{
	for (;; s++) {
		if (*s == (char)c)
			return (char *)s;
		if (!*s)
			return NULL;
	}
}

char *strrchr(const char *s, int c)
{
	const char *last = NULL;

	for (;; s++) {
		if (*s == (char)c)
			last = s;
		if (!*s)
			return (char *)last;
	}
}

int strcmp(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return (unsigned char)*a - (unsigned char)*b;
}

int strncmp(const char *a, const char *b, size_t n)
{
	for (; n; n--, a++, b++) {
		if (*a != *b)
			return (unsigned char)*a - (unsigned char)*b;
		if (!*a)
			return 0;
	}
	return 0;
}

static int libc_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'Z')
		return c - 'A' + 10;
	return 99;
}

/*
 * C semantics for bases 0 and 2..36: leading space, sign, 0x prefix (base 0
 * or 16), octal for base 0 with a leading 0; saturates at ULONG_MAX on
 * overflow; *endptr = s when no digits were read.
 */
unsigned long strtoul(const char *s, char **endptr, int base)
{
	const char *p = s;
	unsigned long v = 0;
	bool neg = false, any = false, ovf = false;

	while (*p == ' ' || (*p >= '\t' && *p <= '\r'))
		p++;
	if (*p == '+' || *p == '-')
		neg = *p++ == '-';
	if ((base == 0 || base == 16) && p[0] == '0' &&
	    (p[1] == 'x' || p[1] == 'X') && libc_digit(p[2]) < 16) {
		p += 2;
		base = 16;
	} else if (base == 0) {
		base = p[0] == '0' ? 8 : 10;
	}
	if (base < 2 || base > 36) {
		if (endptr)
			*endptr = (char *)s;
		return 0;
	}
	for (int d; (d = libc_digit(*p)) < base; p++) {
		any = true;
		if (v > (ULONG_MAX - (unsigned long)d) / (unsigned long)base)
			ovf = true;
		v = v * (unsigned long)base + (unsigned long)d;
	}
	if (endptr)
		*endptr = (char *)(any ? p : s);
	if (ovf)
		return ULONG_MAX;
	return neg ? -v : v;
}
