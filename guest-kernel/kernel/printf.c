/* Formatted output: one formatting core, sinks for buffers and the console. */
#include <stdbool.h>
#include <stdint.h>
#include <gk/console.h>
#include <gk/printf.h>

struct fmt_spec {
	bool left;              /* '-' */
	bool zero;              /* '0' */
	bool alt;               /* '#': 0x prefix for nonzero hex */
	int width;
	int prec;               /* -1: none */
};

/* Emit s[0..len) padded to spec->width; zero padding goes after the sign. */
static int fmt_emit(struct fmt_sink *sink, const struct fmt_spec *spec,
		    const char *sign, const char *s, int len)
{
	int slen = sign ? 1 : 0;
	int pad = spec->width - len - slen;
	int n = 0;

	if (pad < 0)
		pad = 0;
	if (!spec->left && !spec->zero)
		for (; pad > 0; pad--, n++)
			sink->put(sink, ' ');
	if (sign)
		sink->put(sink, *sign), n++;
	if (!spec->left && spec->zero)
		for (; pad > 0; pad--, n++)
			sink->put(sink, '0');
	for (int i = 0; i < len; i++, n++)
		sink->put(sink, s[i]);
	for (; pad > 0; pad--, n++)
		sink->put(sink, ' ');
	return n;
}

/* Format v in base (8, 10, 16); upper selects A-F. */
static int fmt_number(struct fmt_sink *sink, const struct fmt_spec *spec,
		      uint64_t v, bool neg, unsigned base, bool upper,
		      const char *prefix)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char tmp[24 + 2];
	int i = sizeof(tmp);

	do {
		tmp[--i] = digits[v % base];
		v /= base;
	} while (v);
	while (spec->prec > (int)sizeof(tmp) - i && i > 2)
		tmp[--i] = '0';
	for (int p = prefix ? 1 : -1; p >= 0; p--)
		tmp[--i] = prefix[p];
	return fmt_emit(sink, spec, neg ? "-" : NULL, tmp + i,
			(int)sizeof(tmp) - i);
}

/* Read the integer argument for length modifier lm (0 int, 1 long, 2 long long...). */
static uint64_t fmt_arg(va_list *ap, int lm, bool is_signed, bool *neg)
{
	int64_t s;

	*neg = false;
	if (!is_signed) {
		switch (lm) {
		case -2: return (unsigned char)va_arg(*ap, unsigned int);
		case -1: return (unsigned short)va_arg(*ap, unsigned int);
		case 0: return va_arg(*ap, unsigned int);
		default: return va_arg(*ap, unsigned long long);
		}
	}
	switch (lm) {
	case -2: s = (signed char)va_arg(*ap, int); break;
	case -1: s = (short)va_arg(*ap, int); break;
	case 0: s = va_arg(*ap, int); break;
	default: s = va_arg(*ap, long long); break;
	}
	if (s < 0) {
		*neg = true;
		return -(uint64_t)s;
	}
	return (uint64_t)s;
}

int fmt_vformat(struct fmt_sink *sink, const char *fmt, va_list ap_in)
{
	va_list ap;
	int n = 0;

	va_copy(ap, ap_in);
	for (; *fmt; fmt++) {
		struct fmt_spec spec = { .prec = -1 };
		int lm = 0;
		bool neg;
		uint64_t v;

		if (*fmt != '%') {
			sink->put(sink, *fmt);
			n++;
			continue;
		}
		for (fmt++;; fmt++) {
			if (*fmt == '-')
				spec.left = true;
			else if (*fmt == '0')
				spec.zero = true;
			else if (*fmt == '#')
				spec.alt = true;
			else if (*fmt != ' ' && *fmt != '+')
				break;
		}
		if (*fmt == '*') {
			spec.width = va_arg(ap, int);
			fmt++;
		}
		for (; *fmt >= '0' && *fmt <= '9'; fmt++)
			spec.width = spec.width * 10 + (*fmt - '0');
		if (*fmt == '.') {
			spec.prec = 0;
			for (fmt++; *fmt >= '0' && *fmt <= '9'; fmt++)
				spec.prec = spec.prec * 10 + (*fmt - '0');
		}
		for (;; fmt++) {
			if (*fmt == 'h')
				lm--;
			else if (*fmt == 'l' || *fmt == 'z' || *fmt == 'j' || *fmt == 't')
				lm++;
			else
				break;
		}
		switch (*fmt) {
		case 'd':
		case 'i':
			v = fmt_arg(&ap, lm, true, &neg);
			n += fmt_number(sink, &spec, v, neg, 10, false, NULL);
			break;
		case 'u':
		case 'x':
		case 'X':
		case 'o':
			v = fmt_arg(&ap, lm, false, &neg);
			n += fmt_number(sink, &spec, v, false,
					*fmt == 'u' ? 10 : *fmt == 'o' ? 8 : 16,
					*fmt == 'X',
					spec.alt && v && *fmt == 'x' ? "0x" :
					spec.alt && v && *fmt == 'X' ? "0X" : NULL);
			break;
		case 'p':
			v = (uintptr_t)va_arg(ap, void *);
			n += fmt_number(sink, &spec, v, false, 16, false, "0x");
			break;
		case 'c': {
			char c = (char)va_arg(ap, int);

			n += fmt_emit(sink, &spec, NULL, &c, 1);
			break;
		}
		case 's': {
			const char *s = va_arg(ap, const char *);
			int len = 0;

			if (!s)
				s = "(null)";
			while (s[len] && (spec.prec < 0 || len < spec.prec))
				len++;
			spec.zero = false;
			n += fmt_emit(sink, &spec, NULL, s, len);
			break;
		}
		case '%':
			sink->put(sink, '%');
			n++;
			break;
		case '\0':
			fmt--;  /* a lone '%' at the end: stop */
			break;
		default:        /* unknown conversion: show it verbatim */
			sink->put(sink, '%');
			sink->put(sink, *fmt);
			n += 2;
			break;
		}
	}
	va_end(ap);
	return n;
}

struct buf_sink {
	struct fmt_sink sink;
	char *buf;
	size_t size;
	size_t len;
};

static void buf_put(struct fmt_sink *sink, char c)
{
	struct buf_sink *b = (struct buf_sink *)sink;

	if (b->len + 1 < b->size)
		b->buf[b->len] = c;
	b->len++;
}

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct buf_sink b = { { buf_put }, buf, size, 0 };
	int n = fmt_vformat(&b.sink, fmt, ap);

	if (size)
		buf[b.len < size ? b.len : size - 1] = '\0';
	return n;
}

int snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

static void console_sink_put(struct fmt_sink *sink, char c)
{
	(void)sink;
	console_putc(c);
}

int vprintf(const char *fmt, va_list ap)
{
	struct fmt_sink sink = { console_sink_put };

	return fmt_vformat(&sink, fmt, ap);
}

int printf(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vprintf(fmt, ap);
	va_end(ap);
	return n;
}
