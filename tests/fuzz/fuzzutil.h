/* SPDX-License-Identifier: MIT */
/*
 * Shared by the libFuzzer targets: reading the fuzz input as a stream of
 * fields, failing an oracle loudly, quieting stderr around code that writes
 * diagnostics we do not want in the fuzzer's log, and the output checks (a
 * strict JSON + UTF-8 validator, printable text).
 */
#ifndef PV_FUZZUTIL_H
#define PV_FUZZUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * For the oracle's own loops: no coverage counters or comparison tracing.
 * They are not what we fuzz, tracing them cost most of the run time, and
 * their comparisons would steer the mutator towards nothing.
 */
#define FUZZ_ORACLE __attribute__((no_sanitize("coverage")))

/* The input, consumed front to back; reads past its end give zeros. */
struct fuzz_in {
	const uint8_t *p;
	size_t left;
};

static inline void fuzz_in_init(struct fuzz_in *in, const uint8_t *data, size_t len)
{
	in->p = data;
	in->left = len;
}

static inline bool fuzz_in_done(const struct fuzz_in *in)
{
	return in->left == 0;
}

/* Copy up to @len bytes into @dst, zero-filling what the input lacks; returns bytes read. */
size_t fuzz_bytes(struct fuzz_in *in, void *dst, size_t len);
uint8_t fuzz_u8(struct fuzz_in *in);
uint16_t fuzz_u16(struct fuzz_in *in);
uint32_t fuzz_u32(struct fuzz_in *in);
uint64_t fuzz_u64(struct fuzz_in *in);

/*
 * Zero @len bytes at @a, writing only the 4 KiB pages that are not zero
 * already: resets state kept across inputs without touching its untouched
 * pages.
 */
void fuzz_zero(void *a, size_t len);

/* An oracle failed: print why (to the real stderr, even while quiet) and abort(). */
void fuzz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#define FUZZ_CHECK(cond, ...)                                                   \
	do {                                                                    \
		if (!(cond))                                                    \
			fuzz_fail(__VA_ARGS__);                                 \
	} while (0)

/*
 * Send fd 2 to /dev/null until fuzz_quiet_end(), for code under test that
 * prints diagnostics on paths we drive on purpose.  Sanitizer reports and
 * fuzz_fail() still reach the real stderr.
 */
void fuzz_quiet_begin(void);
void fuzz_quiet_end(void);

/*
 * @s[0..len) is exactly one JSON text (RFC 8259: one value with optional
 * whitespace around it), every string is well-formed UTF-8 (no overlongs,
 * surrogates or code points above U+10FFFF), every \u escape names a
 * character (surrogates only as a high-low pair), no raw NUL, and no object
 * repeats a member name.  Returns 0, or -EINVAL with the offending offset in
 * @at and a reason in @why.
 */
int fuzz_json_check(const char *s, size_t len, size_t *at, const char **why);

/* Check fuzz_json_check() against known documents; fuzz_fail() on a wrong verdict. */
void fuzz_json_selftest(void);

/* Every byte is printable ASCII, newline or tab.  Returns 0, or -EINVAL with the offset in @at. */
int fuzz_text_check(const char *s, size_t len, size_t *at);

/* Show @len bytes of @s around @at on stderr, escaped, for a failure report. */
void fuzz_show(const char *what, const char *s, size_t len, size_t at);

#endif
