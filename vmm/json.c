/* SPDX-License-Identifier: MIT */
#include "vmm/json.h"

#include <errno.h>
#include <inttypes.h>

void json_init(struct json *j, FILE *f)
{
	*j = (struct json){ .f = f };
}

void json_write_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"':  fputs("\\\"", f); break;
		case '\\': fputs("\\\\", f); break;
		case '\n': fputs("\\n", f); break;
		case '\r': fputs("\\r", f); break;
		case '\t': fputs("\\t", f); break;
		default:
			/* control bytes, and every byte >= 0x80: the output is ASCII, so valid UTF-8 */
			if (*p < 0x20 || *p >= 0x7f)
				fprintf(f, "\\u%04x", *p);
			else
				fputc(*p, f);
		}
	}
	fputc('"', f);
}

/* Comma, newline and indent before an item; then "key": when keyed. */
static void json_item(struct json *j, const char *key)
{
	if (j->depth > 0) {
		if (j->has_items[j->depth])
			fputc(',', j->f);
		fprintf(j->f, "\n%*s", 2 * j->depth, "");
	}
	j->has_items[j->depth] = true;
	if (key) {
		json_write_string(j->f, key);
		fputs(": ", j->f);
	}
}

static void json_open(struct json *j, const char *key, char c)
{
	json_item(j, key);
	fputc(c, j->f);
	if (j->depth >= JSON_MAX_DEPTH) {
		j->broken = true;
		return;
	}
	j->has_items[++j->depth] = false;
}

static void json_close(struct json *j, char c)
{
	if (j->depth <= 0) {
		j->broken = true;
		return;
	}
	if (j->has_items[j->depth])
		fprintf(j->f, "\n%*s", 2 * (j->depth - 1), "");
	j->depth--;
	fputc(c, j->f);
}

void json_obj_begin(struct json *j, const char *key) { json_open(j, key, '{'); }
void json_obj_end(struct json *j) { json_close(j, '}'); }
void json_arr_begin(struct json *j, const char *key) { json_open(j, key, '['); }
void json_arr_end(struct json *j) { json_close(j, ']'); }

void json_u64(struct json *j, const char *key, uint64_t v)
{
	json_item(j, key);
	fprintf(j->f, "%" PRIu64, v);
}

void json_i64(struct json *j, const char *key, int64_t v)
{
	json_item(j, key);
	fprintf(j->f, "%" PRId64, v);
}

void json_fixed(struct json *j, const char *key, int64_t v, unsigned decimals)
{
	uint64_t mag, scale = 1;

	if (decimals == 0 || decimals > 18) {
		json_i64(j, key, v);
		return;
	}
	for (unsigned i = 0; i < decimals; i++)
		scale *= 10;
	json_item(j, key);
	mag = v < 0 ? -(uint64_t)v : (uint64_t)v;
	fprintf(j->f, "%s%" PRIu64 ".%0*" PRIu64, v < 0 ? "-" : "", mag / scale,
		(int)decimals, mag % scale);
}

void json_str(struct json *j, const char *key, const char *s)
{
	json_item(j, key);
	json_write_string(j->f, s);
}

int json_finish(struct json *j)
{
	fputc('\n', j->f);
	if (fflush(j->f))
		return errno ? -errno : -EIO;   /* what the write said: ENOSPC, EPIPE, ... */
	if (ferror(j->f) || j->broken || j->depth != 0)
		return -EIO;
	return 0;
}
