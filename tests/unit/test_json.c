/* SPDX-License-Identifier: MIT */
/* The JSON writer: structure, commas, escaping, fixed-point numbers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "vmm/json.h"
#include "vmm/metrics.h"

/* Squeeze out the writer's newlines and indentation for comparison. */
static void squeeze(char *s)
{
	char *d = s;
	int in_str = 0;

	for (; *s; s++) {
		if (*s == '"' && (s == d || s[-1] != '\\'))
			in_str = !in_str;
		if (!in_str && (*s == '\n' || *s == ' '))
			continue;
		*d++ = *s;
	}
	*d = '\0';
}

START_TEST(structure)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct json j;

	json_init(&j, f);
	json_obj_begin(&j, NULL);
	json_u64(&j, "a", 1);
	json_obj_begin(&j, "o");
	json_obj_end(&j);
	json_arr_begin(&j, "arr");
	json_u64(&j, NULL, 18446744073709551615ull);
	json_i64(&j, NULL, -5);
	json_obj_begin(&j, NULL);
	json_str(&j, "k", "v");
	json_obj_end(&j);
	json_arr_end(&j);
	json_arr_begin(&j, "empty");
	json_arr_end(&j);
	json_obj_end(&j);
	ck_assert_int_eq(json_finish(&j), 0);
	fclose(f);
	squeeze(buf);
	ck_assert_str_eq(buf, "{\"a\":1,\"o\":{},\"arr\":[18446744073709551615,-5,{\"k\":\"v\"}],"
			 "\"empty\":[]}");
	free(buf);
}
END_TEST

START_TEST(escaping)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	json_write_string(f, "q\"b\\n\nt\t\x01\x7f" "é");
	fclose(f);
	/* non-ASCII bytes too: the output is ASCII, so valid UTF-8 whatever came in */
	ck_assert_str_eq(buf, "\"q\\\"b\\\\n\\nt\\t\\u0001\\u007f\\u00c3\\u00a9\"");
	free(buf);
}
END_TEST

/* Bytes that are not UTF-8 (a lone continuation, an overlong, 0xff) are escaped each. */
START_TEST(escaping_invalid_utf8)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	json_write_string(f, "\x80\xc0\xaf\xff\x1b[2J");
	fclose(f);
	ck_assert_str_eq(buf, "\"\\u0080\\u00c0\\u00af\\u00ff\\u001b[2J\"");
	for (size_t i = 0; i < len; i++)
		ck_assert_msg((unsigned char)buf[i] >= 0x20 && (unsigned char)buf[i] < 0x7f,
			      "byte %zu is 0x%02x", i, (unsigned char)buf[i]);
	free(buf);
}
END_TEST

/* mmu/'s metric lists: objects opened and closed by path, the table one line per path. */
START_TEST(metric_lists)
{
	static struct lathist h;
	struct metric m[] = {
		METRIC_U64_AT("uffd", "a", 1),
		METRIC_STR_AT("uffd", "mode", "x\x1b"),
		METRIC_LAT_AT("uffd.latency", "swap_in", &h),
		METRIC_U64_AT("uffd.latency.deep", "d", 4),
		METRIC_U64_AT("mem", "b", 2),
		METRIC_MILLI_AT("mem", "r", 1042),
	};
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct json j;

	lathist_add(&h, 1000);
	json_init(&j, f);
	json_obj_begin(&j, NULL);
	metrics_json(&j, m, 6);
	json_obj_end(&j);
	ck_assert_int_eq(json_finish(&j), 0);
	fclose(f);
	ck_assert_str_eq(buf, "{\n  \"uffd\": {\n    \"a\": 1,\n    \"mode\": \"x\\u001b\",\n"
			 "    \"latency\": {\n      \"swap_in\": {\n        \"count\": 1,\n"
			 "        \"ns_total\": 1000,\n        \"p50_ns\": 1008,\n"
			 "        \"p99_ns\": 1008,\n        \"hist_log2_ns\": [\n"
			 "          0,\n          0,\n          0,\n          0,\n          0,\n"
			 "          0,\n          0,\n          0,\n          0,\n          1\n"
			 "        ]\n      },\n      \"deep\": {\n        \"d\": 4\n      }\n"
			 "    }\n  },\n  \"mem\": {\n    \"b\": 2,\n    \"r\": 1.042\n  }\n}\n");
	free(buf);

	f = open_memstream(&buf, &len);
	metrics_print(f, m, 6);
	fclose(f);
	ck_assert_str_eq(buf, "uffd: a 1, mode x\x1b\nuffd.latency: swap_in p50/p99 1008/1008 ns (1)\n"
			 "uffd.latency.deep: d 4\nmem: b 2, r 1.042\n");
	free(buf);
}
END_TEST

START_TEST(fixed_point)
{
	static const struct { int64_t v; unsigned d; const char *want; } cases[] = {
		{ 11288600, 3, "11288.600" }, { 5, 3, "0.005" }, { -1234, 2, "-12.34" },
		{ 0, 1, "0.0" }, { 42, 0, "42" }, { INT64_MIN, 1, "-922337203685477580.8" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *buf = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&buf, &len);
		struct json j;

		json_init(&j, f);
		json_arr_begin(&j, NULL);
		json_fixed(&j, NULL, cases[i].v, cases[i].d);
		json_arr_end(&j);
		ck_assert_int_eq(json_finish(&j), 0);
		fclose(f);
		squeeze(buf);
		buf[strlen(buf) - 1] = '\0';
		ck_assert_str_eq(buf + 1, cases[i].want);
		free(buf);
	}
}
END_TEST

START_TEST(misuse_reported)
{
	FILE *f = fopen("/dev/null", "w");
	struct json j;

	json_init(&j, f);
	json_obj_begin(&j, NULL);
	ck_assert_int_ne(json_finish(&j), 0);   /* unclosed */
	json_init(&j, f);
	json_obj_end(&j);
	ck_assert_int_ne(json_finish(&j), 0);   /* closed too often */
	fclose(f);
}
END_TEST

static Suite *json_suite(void)
{
	Suite *s = suite_create("json");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, structure);
	tcase_add_test(tc, escaping);
	tcase_add_test(tc, escaping_invalid_utf8);
	tcase_add_test(tc, metric_lists);
	tcase_add_test(tc, fixed_point);
	tcase_add_test(tc, misuse_reported);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return testutil_run(json_suite());
}
