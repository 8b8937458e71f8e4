/* SPDX-License-Identifier: MIT */
/* A small streaming JSON writer: nesting, commas and escaping done here. */
#ifndef PV_VMM_JSON_H
#define PV_VMM_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define JSON_MAX_DEPTH 16

struct json {
	FILE *f;
	int depth;
	bool has_items[JSON_MAX_DEPTH + 1];
	bool broken;            /* nesting misuse: json_finish() reports it */
};

void json_init(struct json *j, FILE *f);

/* Members of an object take a @key; array elements and the root take NULL. */
void json_obj_begin(struct json *j, const char *key);
void json_obj_end(struct json *j);
void json_arr_begin(struct json *j, const char *key);
void json_arr_end(struct json *j);
void json_u64(struct json *j, const char *key, uint64_t v);
void json_i64(struct json *j, const char *key, int64_t v);
/* v / 10^decimals, printed exactly (decimals 0..18). */
void json_fixed(struct json *j, const char *key, int64_t v, unsigned decimals);
void json_str(struct json *j, const char *key, const char *s);

/* End the document with a newline; 0, or -errno on a write error (-EIO for misuse). */
int json_finish(struct json *j);

/*
 * Write @s as a JSON string literal (quotes included).  Control bytes and
 * every byte >= 0x7f come out as \u00XX (the byte read as Latin-1), so the
 * output is ASCII, valid UTF-8 whatever @s holds.
 */
void json_write_string(FILE *f, const char *s);

#endif
