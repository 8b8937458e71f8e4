/* TSC-based time.  rdtsc() works at CPL3, so ring 3 times itself natively. */
#ifndef GK_TIME_H
#define GK_TIME_H

#include <stdint.h>

/* Set the TSC frequency (kHz, from the FDT's /pagevisor tsc-khz). */
void time_init(uint32_t tsc_khz);

/* Convert TSC cycles to nanoseconds without overflow for any uint64 input < 2^64 / 1e6 * khz. */
uint64_t time_cycles_to_ns(uint64_t cycles);

/*
 * The fewest cycles that last @ns nanoseconds or more: for any c,
 * c >= time_ns_to_cycles_ceil(ns) exactly when time_cycles_to_ns(c) >= ns.
 */
uint64_t time_ns_to_cycles_ceil(uint64_t ns);

/* Nanoseconds since the guest's TSC was 0 (about vCPU creation). */
uint64_t time_now_ns(void);

#endif
