/*
 * hostile, the balloon and meminfo part: PV_HC_BALLOON requests checked
 * against a model of the rules in pagevisor/abi.h, and PV_HC_MEMINFO.
 *
 * The model knows the 2 MiB units of the workload's chunks: its balloon
 * unit U (inflated or not: the only memory a request may change), the
 * others (never inflated, nothing pinned unless the PV MMU model says so),
 * the chunk holding the vCPU's ring, the kernel's chunk (its pinned
 * workload PDPT in modes immediate and batched), and what lies outside
 * RAM.  A request may get any status of the rules it breaks (no order is
 * documented), PV_OK when it breaks none; one that might be applied to a
 * unit other than U is never sent.  Accepted requests move U's state; a
 * refused one must leave everything as it was (validated whole): the next
 * requests on U and QUERY's current_bytes show it, the pattern in the
 * other chunks is verified at the end, and U reads zeros after a DEFLATE
 * even when it was written while inflated.
 */
#include <stddef.h>
#include <string.h>
#include <pagevisor/abi.h>
#include <gk/balloon.h>
#include <gk/hypercall.h>
#include <gk/mm.h>
#include <gk/mmapi.h>

#include "hostile.h"

#define B(s)            HS_STATUS_BIT(s)
#define HB_UNIT         PV_BALLOON_UNIT
#define HB_CANARY       0xa5c3e1f7a5c3e1f7ull
#define HB_SCAN_MAX     64      /* units of one range the model looks at */

enum hb_kind { HB_UNKNOWN, HB_OURS, HB_PLAIN, HB_BUSY };

static struct {
	bool inflated;          /* U is in the balloon */
} hb;

/* What the model knows of the unit at u. */
static enum hb_kind hb_kind(uint64_t u)
{
	const uint64_t plain[] = { hs_mem.arena, hs_mem.mmu, hs_mem.end, hs_mem.witness,
				   hs_mem.scratch, 0 };

	if (u == hs_mem.unit)
		return HB_OURS;
	if (hm_ring_in(u, HB_UNIT) || hm_pinned_in(u, HB_UNIT) ||
	    (u == 0 && mm_mode != MM_MODE_OFF))
		return HB_BUSY;
	/* The kernel's chunk in mode off: no pinned table, never in the balloon. */
	for (unsigned i = 0; i < sizeof(plain) / sizeof(plain[0]); i++)
		if (u == plain[i])
			return HB_PLAIN;
	return HB_UNKNOWN;
}

/*
 * Every status request b may get (0: it must be accepted).  *others: a
 * range names a unit other than U; *unsure: a rule depends on a unit the
 * model does not know (then PV_EBUSY is allowed, and so might be PV_OK).
 */
static uint32_t hb_expect(const struct pv_balloon *b, bool *others, bool *unsure)
{
	uint32_t e = 0;

	*others = *unsure = false;
	if (b->version != PV_ABI_VERSION)
		e |= B(PV_EVERSION);
	if (b->op > PV_BALLOON_DEFLATE)
		return e | B(PV_EINVAL);
	if (b->op == PV_BALLOON_QUERY)
		return b->count ? e | B(PV_EINVAL) : e;
	if (b->count == 0 || b->count > PV_BALLOON_RANGES)
		return e | B(PV_EINVAL);
	for (uint32_t i = 0; i < b->count; i++) {
		uint64_t g = b->range[i].gpa, sz = b->range[i].size, end, n = 0;

		if (g % HB_UNIT || !sz || sz % HB_UNIT)
			e |= B(PV_EINVAL);
		if (__builtin_add_overflow(g, sz, &end)) {
			e |= B(PV_EFAULT) | B(PV_EINVAL);       /* wraps: outside RAM, or malformed */
			*others = true;
			continue;
		}
		if (end > hs_mem.ram_end)
			e |= B(PV_EFAULT);
		for (uint32_t j = 0; j < i; j++) {
			uint64_t h = b->range[j].gpa, hsz = b->range[j].size, hend;

			if (sz && hsz && !__builtin_add_overflow(h, hsz, &hend) && g < hend && h < end)
				e |= B(PV_EINVAL);
		}
		for (uint64_t u = g & ~(HB_UNIT - 1); u < end && u < hs_mem.ram_end; u += HB_UNIT) {
			enum hb_kind k = hb_kind(u);

			*others |= k != HB_OURS;
			if (++n > HB_SCAN_MAX) {
				*unsure = true;
				break;
			}
			if (k == HB_BUSY || (k == HB_OURS && hb.inflated == (b->op == PV_BALLOON_INFLATE)) ||
			    (k == HB_PLAIN && b->op == PV_BALLOON_DEFLATE))
				e |= B(PV_EBUSY);
			else if (k == HB_UNKNOWN)
				*unsure = true;
		}
		*others |= end > hs_mem.ram_end;
	}
	return *unsure ? e | B(PV_EBUSY) : e;
}

/* A unit certainly refused with PV_EBUSY (a pinned table or the ring inside), or ~0. */
static uint64_t hb_busy_unit(void)
{
	uint64_t c[3], ring = hm_ring_at();
	unsigned n = 0;

	if (ring != ~0ull)
		c[n++] = ring & ~(HB_UNIT - 1);
	if (hm_pinned_in(hs_mem.mmu, HB_UNIT))
		c[n++] = hs_mem.mmu;
	if (mm_mode != MM_MODE_OFF)
		c[n++] = 0;
	return n ? c[hs_below(n)] : ~0ull;
}

/*
 * A request: valid ones on U (QUERY, INFLATE, DEFLATE: accepted or busy by
 * U's state), and ones breaking a rule: version, op, count, alignment,
 * size, outside RAM or wrapping, overlapping, a pinned table or the ring
 * beside U, deflating units never inflated.  Ranges past count are junk.
 */
static void hb_gen(struct pv_balloon *b)
{
	uint64_t u = hs_mem.unit, end = hs_mem.ram_end, busy;
	unsigned k = hs_below(100), i;

	for (i = 0; i < PV_BALLOON_RANGES; i++) {
		b->range[i].gpa = hs_pct(50) ? hs_rand() : u;
		b->range[i].size = hs_pct(50) ? hs_rand() : HB_UNIT;
	}
	b->version = hs_pct(90) ? PV_ABI_VERSION : hs_bad_version();
	b->reserved = 0;
	b->op = hs_pct(50) ? PV_BALLOON_INFLATE : PV_BALLOON_DEFLATE;
	b->count = 1;
	b->range[0].gpa = u;
	b->range[0].size = HB_UNIT;
	if (k < 12) {
		b->op = PV_BALLOON_QUERY;
		b->count = 0;
	} else if (k < 40) {
		/* U alone */
	} else if (k < 46) {
		b->op = (uint32_t)HS_PICK(3, 4, 0xff, 0xffffffffull, 0x80000001ull, 3 + hs_below(1000));
	} else if (k < 52) {
		b->count = (uint32_t)HS_PICK(0, PV_BALLOON_RANGES + 1, 0xffffffffull, 0x80000000ull,
					     PV_BALLOON_RANGES + 1 + hs_below(100));
	} else if (k < 58) {
		b->range[0].gpa = u + HS_PICK(PAGE_SIZE_4K, 1, 1u << 20, HB_UNIT - PAGE_SIZE_4K);
	} else if (k < 64) {
		b->range[0].size = HS_PICK(0, PAGE_SIZE_4K, HB_UNIT + PAGE_SIZE_4K, HB_UNIT - 1,
					   1u << 20, 3u << 20);
	} else if (k < 72) {
		i = hs_below(2);
		b->count = 2;
		b->range[1].gpa = u;
		b->range[1].size = HB_UNIT;
		b->range[i].gpa = HS_PICK(end, end + HB_UNIT * (1 + hs_below(64)), 1ull << 40,
					  1ull << 63, ~(HB_UNIT - 1), end - HB_UNIT);
		b->range[i].size = b->range[i].gpa == end - HB_UNIT ? 2 * HB_UNIT :
				   HS_PICK(HB_UNIT, 2 * HB_UNIT, ~(HB_UNIT - 1));
	} else if (k < 78) {
		b->count = 2 + hs_below(PV_BALLOON_RANGES - 1);
		for (i = 0; i < b->count; i++) {
			b->range[i].gpa = u;
			b->range[i].size = HB_UNIT;
		}
	} else if (k < 88 && (busy = hb_busy_unit()) != ~0ull) {
		i = hs_below(2);
		b->count = 2;
		b->range[1 - i].gpa = u;
		b->range[1 - i].size = HB_UNIT;
		b->range[i].gpa = busy;
		b->range[i].size = HB_UNIT;
	} else {
		b->op = PV_BALLOON_DEFLATE;
		b->count = 1 + hs_below(2);
		b->range[b->count - 1].gpa = HS_PICK(hs_mem.arena, hs_mem.end, hs_mem.mmu);
		b->range[b->count - 1].size = HB_UNIT;
	}
}

/* U reads zeros (after an accepted DEFLATE). */
static void hb_check_zero(const char *when)
{
	const uint64_t *p = (const uint64_t *)(uintptr_t)hs_mem.unit;
	uint64_t bad = 0;

	for (uint64_t i = 0; i < HB_UNIT / 8; i++)
		bad |= p[i];
	hs_check(!bad, "balloon unit 0x%lx %s: not all zeros", (unsigned long)hs_mem.unit, when);
}

/* An accepted request: U follows, the reply shows the balloon as the model has it. */
static void hb_accepted(const struct pv_balloon *b)
{
	uint64_t want = balloon_held() + (hb.inflated ? HB_UNIT : 0);

	if (b->op == PV_BALLOON_INFLATE) {
		hb.inflated = true;
		hs_n.balloon_inflated += HB_UNIT;
		want += HB_UNIT;
		if (hs_pct(30))         /* allowed: the host backs it again until DEFLATE */
			for (uint64_t a = hs_mem.unit; a < hs_mem.unit + HB_UNIT; a += 64 * PAGE_SIZE_4K)
				*(volatile uint64_t *)(uintptr_t)a = hs_rand() | 1;
	} else if (b->op == PV_BALLOON_DEFLATE) {
		hb.inflated = false;
		hs_n.balloon_deflated += HB_UNIT;
		want -= HB_UNIT;
		hb_check_zero("after DEFLATE");
	}
	hs_check(b->target_bytes == balloon_target() && b->current_bytes == want,
		 "balloon op %u: target_bytes %lu current_bytes %lu, expected %lu and %lu", b->op,
		 (unsigned long)b->target_bytes, (unsigned long)b->current_bytes,
		 (unsigned long)balloon_target(), (unsigned long)want);
}

void hb_balloon_call(void)
{
	static struct pv_balloon b;
	static const struct hs_allow out[] = {
		{ offsetof(struct pv_balloon, status), sizeof(b) - offsetof(struct pv_balloon, status) },
	};
	bool others, unsure, in_ram;
	uint32_t expect;

	for (int tries = 0;; tries++) {
		hb_gen(&b);
		expect = hb_expect(&b, &others, &unsure);
		if (expect && !(expect == B(PV_EBUSY) && unsure))
			break;          /* refused for certain */
		if (!expect && !others && !unsure)
			break;          /* valid, and only U changes */
		if (tries == 8) {       /* could change memory that is not ours: ask instead */
			b.op = PV_BALLOON_QUERY;
			b.count = 0;
			expect = hb_expect(&b, &others, &unsure);
			break;
		}
	}
	b.status = (int32_t)(uint32_t)HB_CANARY;
	b.reserved1 = (uint32_t)HB_CANARY;
	b.target_bytes = b.current_bytes = HB_CANARY;
	in_ram = hs_struct_call(hc_port(PV_HC_BALLOON), &b, sizeof(b), out, 1, "balloon");
	if (!in_ram) {
		hs_n.balloon_outside++;         /* no status to refuse it with: hc_bad only */
		return;
	}
	hs_n.balloon_requests++;
	if (!expect)
		hs_check(b.status == PV_OK, "balloon op %u count %u on the unit: status %d", b.op,
			 b.count, b.status);
	else
		hs_check(b.status > 0 && b.status < 32 && (expect & B(b.status)),
			 "balloon version %u op %u count %u (range 0: 0x%lx, %lu bytes): status %d, "
			 "expected a status of mask 0x%x", b.version, b.op, b.count,
			 (unsigned long)b.range[0].gpa, (unsigned long)b.range[0].size, b.status,
			 expect);
	if (b.status == PV_OK) {
		hb_accepted(&b);
	} else {
		hs_n.balloon_rejected++;
		hs_n.hc_bad++;
	}
}

void hb_meminfo_call(void)
{
	static struct pv_meminfo m;
	static const struct hs_allow out[] = {
		{ offsetof(struct pv_meminfo, status), sizeof(m) - offsetof(struct pv_meminfo, status) },
	};
	uint64_t ram = hs_mem.ram_end;

	m.version = hs_pct(85) ? PV_ABI_VERSION : hs_bad_version();
	m.reserved = 0;
	m.status = (int32_t)(uint32_t)HB_CANARY;
	m.reserved1 = (uint32_t)HB_CANARY;
	m.ram_bytes = m.allocated_bytes = m.resident_bytes = m.swap_bytes = HB_CANARY;
	if (!hs_struct_call(hc_port(PV_HC_MEMINFO), &m, sizeof(m), out, 1, "meminfo"))
		return;
	if (m.version != PV_ABI_VERSION)
		hs_check(m.status == PV_EVERSION, "meminfo version %u: status %d, expected %d",
			 m.version, m.status, PV_EVERSION);
	else
		hs_check(m.status == PV_OK && m.ram_bytes == ram && m.allocated_bytes <= ram &&
			 m.resident_bytes <= ram && m.swap_bytes <= ram,
			 "meminfo: status %d ram %lu allocated %lu resident %lu swap %lu (RAM is %lu)",
			 m.status, (unsigned long)m.ram_bytes, (unsigned long)m.allocated_bytes,
			 (unsigned long)m.resident_bytes, (unsigned long)m.swap_bytes,
			 (unsigned long)ram);
	if (m.status != PV_OK)
		hs_n.hc_bad++;
}

void hb_finish(void)
{
	struct pv_balloon r;
	int st;

	if (!hb.inflated)
		return;
	st = balloon_frames(PV_BALLOON_DEFLATE, &hs_mem.unit, 1, &r);
	if (!hs_check(st == PV_OK, "deflating the unit at the end: status %d", st)) {
		hs_n.balloon_rejected++;
		hs_n.hc_bad++;
		return;
	}
	hb.inflated = false;
	hb_check_zero("after the last DEFLATE");
}
