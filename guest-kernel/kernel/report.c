/* Metric batching: fill a static struct pv_report, one exit per 16 metrics. */
#include <string.h>
#include <pagevisor/abi.h>
#include <gk/assert.h>
#include <gk/hypercall.h>
#include <gk/report.h>

/* A kernel static: identity-mapped, so its gpa is below 4 GiB. */
static struct pv_report report_buf __attribute__((aligned(64)));

void report_flush(void)
{
	uint32_t n = report_buf.count;
	int st;

	if (!n)
		return;
	st = hc_report(&report_buf);
	report_buf.count = 0;
	GUEST_ASSERTF(st == PV_OK && report_buf.accepted == n,
		      "report: VMM status %d, accepted %u of %u (first key '%s')",
		      st, report_buf.accepted, n, report_buf.metric[0].key);
}

void report(const char *key, int64_t value, unsigned decimals)
{
	struct pv_metric *m;
	size_t len = strnlen(key, PV_METRIC_KEY_MAX);

	GUEST_ASSERTF(len > 0 && len < PV_METRIC_KEY_MAX && decimals <= 9,
		      "report: bad key '%.20s' or decimals %u", key, decimals);
	if (report_buf.count == PV_REPORT_MAX)
		report_flush();
	m = &report_buf.metric[report_buf.count++];
	memset(m, 0, sizeof(*m));
	memcpy(m->key, key, len);
	m->value = value;
	m->decimals = decimals;
}
