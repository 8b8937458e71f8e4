/* SPDX-License-Identifier: MIT */
#include "vmm/report.h"

#include <errno.h>
#include <string.h>

#include "vmm/json.h"

void report_init(struct report_store *rs)
{
	memset(rs, 0, sizeof(*rs));
	pthread_mutex_init(&rs->lock, NULL);
}

void report_destroy(struct report_store *rs)
{
	pthread_mutex_destroy(&rs->lock);
}

int report_metric_valid(const struct pv_metric *m)
{
	size_t n = strnlen(m->key, sizeof(m->key));

	if (n == 0 || n == sizeof(m->key) || m->decimals > 9)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = m->key[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
			return 0;
	}
	return 1;
}

static struct report_entry *report_slot(struct report_store *rs, const char *key)
{
	for (unsigned i = 0; i < rs->nr; i++)
		if (strcmp(rs->e[i].key, key) == 0)
			return &rs->e[i];
	if (rs->nr == REPORT_MAX_KEYS)
		return NULL;
	return &rs->e[rs->nr++];
}

int report_apply(struct report_store *rs, const struct pv_report *r, uint32_t *accepted)
{
	int status = PV_OK;

	*accepted = 0;
	if (r->version != PV_ABI_VERSION)
		return PV_EVERSION;
	if (r->count == 0 || r->count > PV_REPORT_MAX)
		return PV_EINVAL;
	for (uint32_t i = 0; i < r->count; i++)
		if (!report_metric_valid(&r->metric[i]))
			return PV_EINVAL;

	pthread_mutex_lock(&rs->lock);
	for (uint32_t i = 0; i < r->count; i++) {
		const struct pv_metric *m = &r->metric[i];
		struct report_entry *e = report_slot(rs, m->key);

		if (!e) {
			status = PV_EINVAL;     /* store full: keep what fitted */
			break;
		}
		memcpy(e->key, m->key, sizeof(e->key));
		e->value = m->value;
		e->decimals = m->decimals;
		(*accepted)++;
	}
	pthread_mutex_unlock(&rs->lock);
	return status;
}

int report_get(struct report_store *rs, const char *key, struct report_entry *out)
{
	int ret = -ENOENT;

	pthread_mutex_lock(&rs->lock);
	for (unsigned i = 0; i < rs->nr; i++) {
		if (strcmp(rs->e[i].key, key) == 0) {
			*out = rs->e[i];
			ret = 0;
			break;
		}
	}
	pthread_mutex_unlock(&rs->lock);
	return ret;
}

void report_json(struct json *j, struct report_store *rs)
{
	pthread_mutex_lock(&rs->lock);
	json_obj_begin(j, "guest");
	for (unsigned i = 0; i < rs->nr; i++)
		json_fixed(j, rs->e[i].key, rs->e[i].value, rs->e[i].decimals);
	json_obj_end(j);
	pthread_mutex_unlock(&rs->lock);
}
