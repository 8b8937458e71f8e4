/* SPDX-License-Identifier: MIT */
/* Exit counters, histograms, their JSON, and guest metric reports. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pagevisor/abi.h"
#include "testutil.h"
#include "vmm/json.h"
#include "vmm/report.h"
#include "vmm/stats.h"

START_TEST(buckets)
{
	ck_assert_uint_eq(stats_bucket(0), 0);
	ck_assert_uint_eq(stats_bucket(1), 0);
	ck_assert_uint_eq(stats_bucket(2), 1);
	ck_assert_uint_eq(stats_bucket(3), 1);
	ck_assert_uint_eq(stats_bucket(1024), 10);
	ck_assert_uint_eq(stats_bucket(11000), 13);
	ck_assert_uint_eq(stats_bucket(UINT64_MAX), STATS_HIST_BUCKETS - 1);
}
END_TEST

START_TEST(counting_and_merge)
{
	struct vcpu_stats a, b;

	ck_assert_int_eq(stats_init(&a), 0);
	ck_assert_int_eq(stats_init(&b), 0);
	for (int i = 0; i < 10; i++)
		stats_exit(&a, KVM_EXIT_IO, 100);
	stats_exit(&a, KVM_EXIT_HLT, 5000);
	stats_exit(&b, KVM_EXIT_IO, 3000);
	stats_exit(&b, 1000, 1);                /* beyond the named reasons */
	stats_port(&a, 0x3f8, 100);
	stats_port(&b, 0x3f8, 50);
	stats_port(&b, 0xffff, 1);
	stats_mmio(&a, 0xfee00000, 7);
	stats_mmio(&b, 0xfee00000, 3);
	stats_merge(&a, &b);
	ck_assert_uint_eq(a.total, 13);
	ck_assert_uint_eq(a.reason[KVM_EXIT_IO].count, 11);
	ck_assert_uint_eq(a.reason[KVM_EXIT_IO].ns_total, 4000);
	ck_assert_uint_eq(a.reason[KVM_EXIT_IO].hist[6], 10);  /* 100 ns: [64,128) */
	ck_assert_uint_eq(a.reason[KVM_EXIT_IO].hist[11], 1);  /* 3000 ns: [2048,4096) */
	ck_assert_uint_eq(a.reason_other.count, 1);
	ck_assert_uint_eq(a.port[0x3f8].count, 2);
	ck_assert_uint_eq(a.port[0x3f8].ns_total, 150);
	ck_assert_uint_eq(a.port[0xffff].count, 1);
	ck_assert_uint_eq(a.mmio_used, 1);
	stats_destroy(&a);
	stats_destroy(&b);
}
END_TEST

START_TEST(mmio_table_overflow)
{
	struct vcpu_stats s;
	uint64_t sum = 0;

	ck_assert_int_eq(stats_init(&s), 0);
	for (uint64_t i = 0; i < STATS_MMIO_SLOTS + 10; i++)
		stats_mmio(&s, 0xd0000000 + i * 4096, 1);
	ck_assert_uint_eq(s.mmio_used, STATS_MMIO_SLOTS);
	ck_assert_uint_eq(s.mmio_other.count, 10);
	for (int i = 0; i < STATS_MMIO_SLOTS; i++)
		sum += s.mmio[i].io.count;
	ck_assert_uint_eq(sum, STATS_MMIO_SLOTS);
	/* known addresses still land in their own slot when the table is full */
	stats_mmio(&s, 0xd0000000, 1);
	ck_assert_uint_eq(s.mmio_other.count, 10);
	stats_destroy(&s);
}
END_TEST

START_TEST(percentiles)
{
	uint64_t hist[STATS_HIST_BUCKETS] = { 0 };

	ck_assert_uint_eq(stats_hist_percentile(hist, STATS_HIST_BUCKETS, 50), 0);
	hist[10] = 98;  /* [1024, 2048) */
	hist[20] = 2;   /* [1 Mi, 2 Mi) */
	ck_assert_uint_eq(stats_hist_percentile(hist, STATS_HIST_BUCKETS, 50), 2047);
	ck_assert_uint_eq(stats_hist_percentile(hist, STATS_HIST_BUCKETS, 98), 2047);
	ck_assert_uint_eq(stats_hist_percentile(hist, STATS_HIST_BUCKETS, 99), (2u << 20) - 1);
}
END_TEST

START_TEST(exits_json)
{
	struct vcpu_stats s;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct json j;

	ck_assert_int_eq(stats_init(&s), 0);
	stats_exit(&s, KVM_EXIT_IO, 9000);
	stats_port(&s, 0x3f8, 9000);
	stats_exit(&s, KVM_EXIT_HLT, 1);
	json_init(&j, f);
	json_obj_begin(&j, NULL);
	stats_json(&j, &s);
	json_obj_end(&j);
	ck_assert_int_eq(json_finish(&j), 0);
	fclose(f);
	ck_assert_ptr_nonnull(strstr(buf, "\"exits\": {"));
	ck_assert_ptr_nonnull(strstr(buf, "\"total\": 2"));
	ck_assert_ptr_nonnull(strstr(buf, "\"IO\": {"));
	ck_assert_ptr_nonnull(strstr(buf, "\"HLT\": {"));
	ck_assert_ptr_nonnull(strstr(buf, "\"0x3f8\": {"));
	ck_assert_ptr_nonnull(strstr(buf, "\"hist_log2_ns\": ["));
	ck_assert_ptr_null(strstr(buf, "\"MMIO\""));    /* reasons never seen are left out */
	free(buf);
	stats_destroy(&s);
}
END_TEST

static struct pv_report make_report(unsigned n)
{
	struct pv_report r;

	memset(&r, 0, sizeof(r));
	r.version = PV_ABI_VERSION;
	r.count = n;
	for (unsigned i = 0; i < n; i++) {
		snprintf(r.metric[i].key, sizeof(r.metric[i].key), "key_%u", i);
		r.metric[i].value = 100 + i;
	}
	return r;
}

START_TEST(report_validation)
{
	struct report_store rs;
	struct report_entry e;
	struct pv_report r;
	uint32_t acc;

	report_init(&rs);
	r = make_report(3);
	r.metric[1].decimals = 3;
	ck_assert_int_eq(report_apply(&rs, &r, &acc), PV_OK);
	ck_assert_uint_eq(acc, 3);
	ck_assert_int_eq(report_get(&rs, "key_1", &e), 0);
	ck_assert_int_eq(e.value, 101);
	ck_assert_uint_eq(e.decimals, 3);

	r.metric[1].value = 7;          /* a key reported again is updated */
	ck_assert_int_eq(report_apply(&rs, &r, &acc), PV_OK);
	ck_assert_int_eq(report_get(&rs, "key_1", &e), 0);
	ck_assert_int_eq(e.value, 7);
	ck_assert_uint_eq(rs.nr, 3);

	r = make_report(2);
	r.version = 99;
	ck_assert_int_eq(report_apply(&rs, &r, &acc), PV_EVERSION);
	r = make_report(0);
	ck_assert_int_eq(report_apply(&rs, &r, &acc), PV_EINVAL);
	r = make_report(2);
	r.count = PV_REPORT_MAX + 1;
	ck_assert_int_eq(report_apply(&rs, &r, &acc), PV_EINVAL);
	r.count = 0xffffffffu;
	ck_assert_int_eq(report_apply(&rs, &r, &acc), PV_EINVAL);

	/* one bad metric rejects the whole report */
	r = make_report(2);
	memset(r.metric[1].key, 'a', sizeof(r.metric[1].key));  /* no NUL */
	ck_assert_int_eq(report_apply(&rs, &r, &acc), PV_EINVAL);
	ck_assert_uint_eq(acc, 0);
	r = make_report(2);
	strcpy(r.metric[0].key, "Bad-Key");
	ck_assert_int_eq(report_apply(&rs, &r, &acc), PV_EINVAL);
	r = make_report(2);
	r.metric[0].key[0] = '\0';
	ck_assert_int_eq(report_apply(&rs, &r, &acc), PV_EINVAL);
	r = make_report(2);
	r.metric[0].decimals = 10;
	ck_assert_int_eq(report_apply(&rs, &r, &acc), PV_EINVAL);
	ck_assert_uint_eq(rs.nr, 3);
	report_destroy(&rs);
}
END_TEST

START_TEST(report_store_full)
{
	struct report_store rs;
	uint32_t acc;

	report_init(&rs);
	for (unsigned i = 0; i < REPORT_MAX_KEYS / PV_REPORT_MAX; i++) {
		struct pv_report r = make_report(PV_REPORT_MAX);

		for (unsigned k = 0; k < PV_REPORT_MAX; k++)
			snprintf(r.metric[k].key, sizeof(r.metric[k].key), "k%u_%u", i, k);
		ck_assert_int_eq(report_apply(&rs, &r, &acc), PV_OK);
	}
	struct pv_report r = make_report(1);
	ck_assert_int_eq(report_apply(&rs, &r, &acc), PV_EINVAL);
	ck_assert_uint_eq(acc, 0);
	ck_assert_uint_eq(rs.nr, REPORT_MAX_KEYS);
	report_destroy(&rs);
}
END_TEST

static Suite *stats_suite(void)
{
	Suite *s = suite_create("stats");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, buckets);
	tcase_add_test(tc, counting_and_merge);
	tcase_add_test(tc, mmio_table_overflow);
	tcase_add_test(tc, percentiles);
	tcase_add_test(tc, exits_json);
	tcase_add_test(tc, report_validation);
	tcase_add_test(tc, report_store_full);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return testutil_run(stats_suite());
}
