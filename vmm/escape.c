/* SPDX-License-Identifier: MIT */
#include "vmm/escape.h"

static bool escape_passes(unsigned char c, bool lines)
{
	return (c >= 0x20 && c <= 0x7e) || (lines && (c == '\n' || c == '\t'));
}

/* The escaped form of @c into @out (at least ESCAPE_MAX_PER_BYTE bytes); its length. */
static size_t escape_byte(unsigned char c, bool lines, char *out)
{
	static const char hex[] = "0123456789abcdef";

	if (escape_passes(c, lines)) {
		out[0] = (char)c;
		return 1;
	}
	out[0] = '\\';
	out[1] = 'x';
	out[2] = hex[c >> 4];
	out[3] = hex[c & 0xf];
	return 4;
}

size_t escape_text(char *dst, size_t cap, const void *src, size_t len, bool lines)
{
	const unsigned char *s = src;
	size_t n = 0;

	if (!cap)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char e[ESCAPE_MAX_PER_BYTE];
		size_t k = escape_byte(s[i], lines, e);

		if (n + k >= cap)
			break;
		for (size_t m = 0; m < k; m++)
			dst[n++] = e[m];
	}
	dst[n] = '\0';
	return n;
}

void escape_fwrite(FILE *f, const void *src, size_t len)
{
	const unsigned char *s = src;
	size_t from = 0;

	for (size_t i = 0; i < len; i++) {
		char e[ESCAPE_MAX_PER_BYTE];
		size_t k;

		if (escape_passes(s[i], true))
			continue;
		fwrite(s + from, 1, i - from, f);       /* the run that passes, in one call */
		k = escape_byte(s[i], true, e);
		fwrite(e, 1, k, f);
		from = i + 1;
	}
	fwrite(s + from, 1, len - from, f);
}
