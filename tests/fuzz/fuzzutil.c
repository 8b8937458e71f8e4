/* SPDX-License-Identifier: MIT */
#include "fuzzutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sanitizer/common_interface_defs.h>

/* Nothing here is under test: no coverage (see FUZZ_ORACLE). */
#pragma clang attribute push(FUZZ_ORACLE, apply_to = function)

size_t fuzz_bytes(struct fuzz_in *in, void *dst, size_t len)
{
	size_t n = len < in->left ? len : in->left;

	if (n)
		memcpy(dst, in->p, n);
	memset((uint8_t *)dst + n, 0, len - n);
	in->p += n;
	in->left -= n;
	return n;
}

uint8_t fuzz_u8(struct fuzz_in *in)
{
	uint8_t v;

	fuzz_bytes(in, &v, sizeof(v));
	return v;
}

uint16_t fuzz_u16(struct fuzz_in *in)
{
	uint16_t v;

	fuzz_bytes(in, &v, sizeof(v));
	return v;
}

uint32_t fuzz_u32(struct fuzz_in *in)
{
	uint32_t v;

	fuzz_bytes(in, &v, sizeof(v));
	return v;
}

uint64_t fuzz_u64(struct fuzz_in *in)
{
	uint64_t v;

	fuzz_bytes(in, &v, sizeof(v));
	return v;
}

void fuzz_zero(void *a, size_t len)
{
	static const uint8_t zero[4096];
	uint8_t *b = a;

	for (size_t off = 0; off < len; off += sizeof(zero)) {
		size_t n = len - off < sizeof(zero) ? len - off : sizeof(zero);

		if (memcmp(b + off, zero, n))
			memset(b + off, 0, n);
	}
}

/* The real stderr while fd 2 may point at /dev/null; -1 until first needed. */
static int fuzz_err_fd = -1;
static int fuzz_null_fd = -1;

static int fuzz_err_setup(void)
{
	if (fuzz_err_fd >= 0 && fuzz_null_fd >= 0)
		return 0;
	if (fuzz_err_fd < 0)
		fuzz_err_fd = fcntl(2, F_DUPFD_CLOEXEC, 3);
	if (fuzz_null_fd < 0)
		fuzz_null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (fuzz_err_fd < 0 || fuzz_null_fd < 0)
		return -errno;
	/* a crash inside a quiet stretch must still be reported */
	__sanitizer_set_report_fd((void *)(intptr_t)fuzz_err_fd);
	return 0;
}

void fuzz_quiet_begin(void)
{
	fflush(stderr);
	if (fuzz_err_setup() == 0)
		dup2(fuzz_null_fd, 2);
}

void fuzz_quiet_end(void)
{
	fflush(stderr);
	if (fuzz_err_fd >= 0)
		dup2(fuzz_err_fd, 2);
}

void fuzz_fail(const char *fmt, ...)
{
	int fd = fuzz_err_fd >= 0 ? fuzz_err_fd : 2;
	va_list ap;

	dprintf(fd, "\n==FUZZ ORACLE== ");
	va_start(ap, fmt);
	vdprintf(fd, fmt, ap);
	va_end(ap);
	dprintf(fd, "\n");
	abort();
}

void fuzz_show(const char *what, const char *s, size_t len, size_t at)
{
	int fd = fuzz_err_fd >= 0 ? fuzz_err_fd : 2;
	size_t from = at > 80 ? at - 80 : 0, to = len - at > 80 ? at + 80 : len;

	dprintf(fd, "%s (%zu bytes), offset %zu marked by >>><<<:\n", what, len, at);
	for (size_t i = from; i < to; i++) {
		unsigned char c = (unsigned char)s[i];

		if (i == at)
			dprintf(fd, ">>>");
		if (c >= 0x20 && c < 0x7f && c != '\\')
			dprintf(fd, "%c", c);
		else if (c == '\n')
			dprintf(fd, "\\n\n");
		else
			dprintf(fd, "\\x%02x", c);
		if (i == at)
			dprintf(fd, "<<<");
	}
	dprintf(fd, at == len ? ">>><<< (the end)\n" : "\n");
}

int fuzz_text_check(const char *s, size_t len, size_t *at)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c < 0x20 || c > 0x7e) && c != '\n' && c != '\t') {
			*at = i;
			return -EINVAL;
		}
	}
	return 0;
}

/* ---- strict JSON ----------------------------------------------------- */

#define FUZZ_JSON_MAX_DEPTH 64

struct fuzz_json {
	const unsigned char *s;
	size_t n, i;
	const char *why;
};

/* A member name: its raw text inside the quotes, escapes undecoded. */
struct fuzz_json_key {
	const unsigned char *p;
	size_t len;
};

static int fuzz_json_fail(struct fuzz_json *j, const char *why)
{
	if (!j->why)
		j->why = why;
	return -EINVAL;
}

static int fuzz_json_peek(const struct fuzz_json *j)
{
	return j->i < j->n ? j->s[j->i] : -1;
}

static void fuzz_json_ws(struct fuzz_json *j)
{
	while (j->i < j->n && (j->s[j->i] == ' ' || j->s[j->i] == '\t' ||
			       j->s[j->i] == '\n' || j->s[j->i] == '\r'))
		j->i++;
}

static int fuzz_json_lit(struct fuzz_json *j, const char *lit)
{
	size_t len = strlen(lit);

	if (j->n - j->i < len || memcmp(j->s + j->i, lit, len))
		return fuzz_json_fail(j, "bad literal");
	j->i += len;
	return 0;
}

/*
 * One UTF-8 sequence of two bytes or more starting at j->i (Unicode table
 * 3-7: the second byte's range excludes overlongs, surrogates and code points
 * above U+10FFFF).
 */
static int fuzz_json_utf8(struct fuzz_json *j)
{
	unsigned char c = j->s[j->i], lo = 0x80, hi = 0xbf;
	size_t more;

	if (c >= 0xc2 && c <= 0xdf)
		more = 1;
	else if (c >= 0xe0 && c <= 0xef)
		more = 2;
	else if (c >= 0xf0 && c <= 0xf4)
		more = 3;
	else
		return fuzz_json_fail(j, "invalid UTF-8 lead byte");
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (j->n - j->i <= more)
		return fuzz_json_fail(j, "truncated UTF-8 sequence");
	for (size_t k = 1; k <= more; k++) {
		unsigned char t = j->s[j->i + k];

		if (t < lo || t > hi)
			return fuzz_json_fail(j, k == 1 ? "overlong, surrogate or out-of-range UTF-8" :
					      "invalid UTF-8 continuation byte");
		lo = 0x80;
		hi = 0xbf;
	}
	j->i += more + 1;
	return 0;
}

/* Four hex digits after "\u": their value, or -1. */
static long fuzz_json_hex4(struct fuzz_json *j)
{
	long v = 0;

	if (j->n - j->i < 4)
		return -1;
	for (int k = 0; k < 4; k++) {
		int c = j->s[j->i + k], d;

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return -1;
		v = v * 16 + d;
	}
	j->i += 4;
	return v;
}

static int fuzz_json_string(struct fuzz_json *j, struct fuzz_json_key *key)
{
	size_t start;

	if (fuzz_json_peek(j) != '"')
		return fuzz_json_fail(j, "expected a string");
	start = ++j->i;
	for (;;) {
		int c = fuzz_json_peek(j);
		long u;

		if (c < 0)
			return fuzz_json_fail(j, "unterminated string");
		if (c == '"')
			break;
		if (c < 0x20)
			return fuzz_json_fail(j, "raw control byte in a string");
		if (c >= 0x80) {
			if (fuzz_json_utf8(j))
				return -EINVAL;
			continue;
		}
		j->i++;
		if (c != '\\')
			continue;
		c = fuzz_json_peek(j);
		if (c < 0 || !strchr("\"\\/bfnrtu", c))
			return fuzz_json_fail(j, "bad escape");
		j->i++;
		if (c != 'u')
			continue;
		u = fuzz_json_hex4(j);
		if (u < 0)
			return fuzz_json_fail(j, "bad \\u escape");
		if (u >= 0xdc00 && u <= 0xdfff)
			return fuzz_json_fail(j, "lone low surrogate escape");
		if (u >= 0xd800 && u <= 0xdbff) {
			if (j->n - j->i < 2 || j->s[j->i] != '\\' || j->s[j->i + 1] != 'u')
				return fuzz_json_fail(j, "high surrogate escape without its pair");
			j->i += 2;
			u = fuzz_json_hex4(j);
			if (u < 0xdc00 || u > 0xdfff)
				return fuzz_json_fail(j, "high surrogate escape without its pair");
		}
	}
	if (key) {
		key->p = j->s + start;
		key->len = j->i - start;
	}
	j->i++;
	return 0;
}

static int fuzz_json_digits(struct fuzz_json *j)
{
	size_t from = j->i;

	while (j->i < j->n && j->s[j->i] >= '0' && j->s[j->i] <= '9')
		j->i++;
	return j->i > from ? 0 : fuzz_json_fail(j, "expected a digit");
}

/* number = [ minus ] int [ frac ] [ exp ]; int = zero / ( digit1-9 *DIGIT ) */
static int fuzz_json_number(struct fuzz_json *j)
{
	if (fuzz_json_peek(j) == '-')
		j->i++;
	if (fuzz_json_peek(j) == '0')
		j->i++;
	else if (fuzz_json_digits(j))
		return -EINVAL;
	if (fuzz_json_peek(j) == '.') {
		j->i++;
		if (fuzz_json_digits(j))
			return -EINVAL;
	}
	if (fuzz_json_peek(j) == 'e' || fuzz_json_peek(j) == 'E') {
		j->i++;
		if (fuzz_json_peek(j) == '+' || fuzz_json_peek(j) == '-')
			j->i++;
		if (fuzz_json_digits(j))
			return -EINVAL;
	}
	return 0;
}

static int fuzz_json_key_cmp(const void *a, const void *b)
{
	const struct fuzz_json_key *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->p, y->p, n);

	return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* Names compared in their raw form: the writer escapes each byte one way only. */
static int fuzz_json_unique(struct fuzz_json *j, struct fuzz_json_key *keys, size_t nr)
{
	qsort(keys, nr, sizeof(*keys), fuzz_json_key_cmp);
	for (size_t k = 1; k < nr; k++) {
		if (fuzz_json_key_cmp(&keys[k - 1], &keys[k]) == 0) {
			j->i = (size_t)(keys[k].p - j->s);
			return fuzz_json_fail(j, "duplicate member name");
		}
	}
	return 0;
}

static int fuzz_json_value(struct fuzz_json *j, int depth);

static int fuzz_json_object(struct fuzz_json *j, int depth)
{
	struct fuzz_json_key *keys = NULL, *grown;
	size_t nr = 0, cap = 0;
	int ret = -EINVAL;

	j->i++;
	fuzz_json_ws(j);
	if (fuzz_json_peek(j) == '}') {
		j->i++;
		return 0;
	}
	for (;;) {
		if (nr == cap) {
			cap = cap ? 2 * cap : 16;
			grown = realloc(keys, cap * sizeof(*keys));
			if (!grown)
				abort();
			keys = grown;
		}
		fuzz_json_ws(j);
		if (fuzz_json_string(j, &keys[nr++]))
			goto out;
		fuzz_json_ws(j);
		if (fuzz_json_peek(j) != ':') {
			fuzz_json_fail(j, "expected ':'");
			goto out;
		}
		j->i++;
		if (fuzz_json_value(j, depth + 1))
			goto out;
		if (fuzz_json_peek(j) == ',') {
			j->i++;
			continue;
		}
		if (fuzz_json_peek(j) == '}')
			break;
		fuzz_json_fail(j, "expected ',' or '}'");
		goto out;
	}
	ret = fuzz_json_unique(j, keys, nr);
	if (!ret)
		j->i++;
out:
	free(keys);
	return ret;
}

static int fuzz_json_array(struct fuzz_json *j, int depth)
{
	j->i++;
	fuzz_json_ws(j);
	if (fuzz_json_peek(j) == ']') {
		j->i++;
		return 0;
	}
	for (;;) {
		if (fuzz_json_value(j, depth + 1))
			return -EINVAL;
		if (fuzz_json_peek(j) == ',') {
			j->i++;
			continue;
		}
		if (fuzz_json_peek(j) == ']') {
			j->i++;
			return 0;
		}
		return fuzz_json_fail(j, "expected ',' or ']'");
	}
}

/* ws value ws */
static int fuzz_json_value(struct fuzz_json *j, int depth)
{
	int c, ret;

	if (depth > FUZZ_JSON_MAX_DEPTH)
		return fuzz_json_fail(j, "nested too deep");
	fuzz_json_ws(j);
	c = fuzz_json_peek(j);
	if (c == '{')
		ret = fuzz_json_object(j, depth);
	else if (c == '[')
		ret = fuzz_json_array(j, depth);
	else if (c == '"')
		ret = fuzz_json_string(j, NULL);
	else if (c == 't')
		ret = fuzz_json_lit(j, "true");
	else if (c == 'f')
		ret = fuzz_json_lit(j, "false");
	else if (c == 'n')
		ret = fuzz_json_lit(j, "null");
	else if (c == '-' || (c >= '0' && c <= '9'))
		ret = fuzz_json_number(j);
	else
		ret = fuzz_json_fail(j, c < 0 ? "unexpected end" : "expected a value");
	if (!ret)
		fuzz_json_ws(j);
	return ret;
}

int fuzz_json_check(const char *s, size_t len, size_t *at, const char **why)
{
	struct fuzz_json j = { .s = (const unsigned char *)s, .n = len };
	int ret = fuzz_json_value(&j, 0);

	if (!ret && j.i != j.n)
		ret = fuzz_json_fail(&j, "text after the value");
	*at = j.i;
	*why = j.why;
	return ret;
}

/* Documents the validator must take and refuse: the oracle checked once per run. */
static const struct {
	const char *doc;
	size_t len;             /* 0: strlen */
	bool ok;
} fuzz_json_cases[] = {
	{ "{}\n", 0, true },
	{ " [1, -0, 0.5e+3, -12E-1, true, false, null, \"\"] ", 0, true },
	{ "{\"a\": {\"b\": [\"\\u00e9\\ud83d\\ude00\\n\\/\"]}}", 0, true },
	{ "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf\"", 0, true },
	{ "\"\\u0000\"", 0, true },
	{ "", 0, false },
	{ "{} {}", 0, false },
	{ "{\"a\": 1,}", 0, false },
	{ "[1,]", 0, false },
	{ "{\"a\" 1}", 0, false },
	{ "{\"a\": 1, \"a\": 2}", 0, false },
	{ "01", 0, false },
	{ "1.", 0, false },
	{ "-", 0, false },
	{ "1e", 0, false },
	{ "+1", 0, false },
	{ "tru", 0, false },
	{ "\"a", 0, false },
	{ "\"\x01\"", 0, false },
	{ "\"\\x41\"", 0, false },
	{ "\"\\u12\"", 0, false },
	{ "\"\\ud800\"", 0, false },
	{ "\"\\udc00\"", 0, false },
	{ "\"\\ud800\\u0041\"", 0, false },
	{ "\"\xc0\xaf\"", 0, false },            /* overlong '/' */
	{ "\"\xe0\x80\xaf\"", 0, false },        /* overlong, 3 bytes */
	{ "\"\xf0\x80\x80\xaf\"", 0, false },    /* overlong, 4 bytes */
	{ "\"\xed\xa0\x80\"", 0, false },        /* surrogate U+D800 */
	{ "\"\xf4\x90\x80\x80\"", 0, false },    /* above U+10FFFF */
	{ "\"\x80\"", 0, false },                /* lone continuation byte */
	{ "\"\xc3\"", 0, false },                /* truncated */
	{ "\"\xff\"", 0, false },
	{ "\"a\x00\"", 4, false },
	{ "{\"a\": 1}\x00", 9, false },
};

void fuzz_json_selftest(void)
{
	for (size_t k = 0; k < sizeof(fuzz_json_cases) / sizeof(fuzz_json_cases[0]); k++) {
		const char *d = fuzz_json_cases[k].doc;
		size_t len = fuzz_json_cases[k].len ? fuzz_json_cases[k].len : strlen(d), at;
		const char *why;
		bool ok = fuzz_json_check(d, len, &at, &why) == 0;

		FUZZ_CHECK(ok == fuzz_json_cases[k].ok, "JSON validator self-test %zu: %s, want %s",
			   k, ok ? "accepted" : why, fuzz_json_cases[k].ok ? "valid" : "invalid");
	}
}

#pragma clang attribute pop
