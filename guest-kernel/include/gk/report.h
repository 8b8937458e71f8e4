/*
 * Metrics for the VMM's JSON (guest.<key> = value / 10^decimals).  Batched:
 * up to PV_REPORT_MAX metrics leave in one PV_HC_REPORT exit.  CPL0 and CPL3.
 */
#ifndef GK_REPORT_H
#define GK_REPORT_H

#include <stdint.h>

/* Queue key ([a-z0-9_], < PV_METRIC_KEY_MAX chars) = value / 10^decimals. */
void report(const char *key, int64_t value, unsigned decimals);

/* Send queued metrics now (kexit does this too). */
void report_flush(void);

#endif
