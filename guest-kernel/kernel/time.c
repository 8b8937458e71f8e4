/* TSC time: ns = cycles * 1e6 / khz, split so nothing overflows 64 bits. */
#include <gk/assert.h>
#include <gk/time.h>
#include <gk/x86.h>

static uint64_t time_tsc_khz;

void time_init(uint32_t tsc_khz)
{
	GUEST_ASSERT(tsc_khz);
	time_tsc_khz = tsc_khz;
}

uint64_t time_cycles_to_ns(uint64_t cycles)
{
	uint64_t q = cycles / time_tsc_khz, r = cycles % time_tsc_khz;

	/* r < khz < 2^32, so r * 1e6 < 2^52. */
	return q * 1000000 + r * 1000000 / time_tsc_khz;
}

uint64_t time_ns_to_cycles_ceil(uint64_t ns)
{
	uint64_t q = ns / 1000000, r = ns % 1000000;

	/* r < 1e6 and khz < 2^32, so r * khz < 2^52. */
	return q * time_tsc_khz + (r * time_tsc_khz + 999999) / 1000000;
}

uint64_t time_now_ns(void)
{
	return time_cycles_to_ns(rdtsc());
}
