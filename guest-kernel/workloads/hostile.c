/*
 * hostile seed=X n=N final=exit|assert: a guest that attacks its VMM.
 *
 * N times (default 2000) one action picked by a seeded PRNG, each at most a
 * few exits, all from ring 3:
 *   - PV_HC_REPORT, PV_HC_PUTS, PV_HC_MMU_SETUP with random and extreme
 *     structs (counts 0, max, max + 1, 0xffffffff, bad versions, keys with
 *     bad bytes or no NUL, lengths over the maximum, ...) at random gpas: in
 *     an arena, at 0, just below, across, at and above the end of RAM, up to
 *     0xffffffff, unaligned;
 *   - PV MMU doorbells on whatever ring the vCPU has, with random header
 *     counts and random records, RELEASE among them (hostile_mmu.c models
 *     the rules);
 *   - PV_HC_BALLOON and PV_HC_MEMINFO: requests breaking each documented
 *     rule, and valid INFLATE / DEFLATE / QUERY of a unit of its own
 *     (hostile_balloon.c models the rules);
 *   - every hypercall port with every width, reads too (never a 32-bit
 *     write to PV_HC_EXIT or PV_HC_ASSERT: they end the VM by design);
 *   - COM1's eight registers at every width (only printable bytes reach
 *     THR), the unused port, random ports (never isa-debug-exit's);
 *   - MMIO reads and writes of 1, 2, 4 and 8 bytes above RAM, at its end,
 *     and across it (mapped through the never-pinned scratch table).
 *
 * Every answer is checked against the documentation (README, abi.h,
 * pvmmu.h, docs/ARCHITECTURE.md): the OUT fields' values, and that nothing
 * else changed, byte for byte, around each struct (a struct outside RAM
 * gets no write at all, even to its part inside RAM).  All memory the
 * workload owns holds a seeded pattern whenever the VMM is not looking at
 * it, and is verified whole at the end, with a checksum of the kernel's
 * text and read-only data.
 *
 * Metrics: hostile_calls, hostile_checks, errors, and what the VMM's JSON
 * counters must show (see hostile.h): hostile_hc_bad, hostile_port_unknown,
 * hostile_port_edge, hostile_mmio, hostile_mmio_split, hostile_doorbells,
 * hostile_records, hostile_rejected, hostile_rej_<reason> per
 * pvmmu.rejected_by_reason.<reason>, hostile_released_records,
 * hostile_released_pages, hostile_release_rejected (RELEASE records applied,
 * their frames, rejected), hostile_balloon_requests (struct inside RAM;
 * the kernel's own included), hostile_balloon_rejected (refused with a
 * status), hostile_balloon_outside (struct outside RAM: only in
 * hostile_hc_bad), hostile_balloon_inflated_bytes,
 * hostile_balloon_deflated_bytes.  Exit 0 iff errors == 0.
 *
 * final=assert: after all that, terminal escapes, control bytes, bytes
 * 0x80-0xff and invalid UTF-8 through PV_HC_PUTS and COM1, then a
 * PV_HC_ASSERT whose file and message carry them: the VM fails (status 3)
 * by design, and the VMM must keep its outputs printable.
 */
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <pagevisor/abi.h>
#include <pagevisor/pvmmu.h>
#include <gk/arch.h>
#include <gk/assert.h>
#include <gk/balloon.h>
#include <gk/console.h>
#include <gk/hypercall.h>
#include <gk/mm.h>
#include <gk/mmapi.h>
#include <gk/printf.h>
#include <gk/probe.h>
#include <gk/pvmmu.h>
#include <gk/report.h>
#include <gk/workload.h>
#include <gk/x86.h>

#include "hostile.h"

#define HS_GUARD        64              /* bytes checked on each side of a struct */
#define HS_ARENA_USE    (1u << 20)      /* structs go in the arena's first MiB */
#define HS_ERRORS_SHOWN 16
#define HS_CANARY32     0xa5c3e1f7u     /* in OUT fields: the VMM must overwrite it */
#define HS_MMIO_SLOTS   10              /* scratch PTEs 1..10: slot 0 is RAM's last page */
#define HS_NULL_COPY    (256u << 10)    /* offsets in the scratch chunk */
#define HS_UART_LCR     3
#define HS_UART_LSR     5

/* Valid metric keys: few, so the VMM's store of keys never fills. */
#define HS_KEY_LONG     "hostile_echo_0123456789_abcdefghijklmnopqrstuvw"
_Static_assert(sizeof(HS_KEY_LONG) == PV_METRIC_KEY_MAX, "47 characters and the NUL");

struct hs_mem hs_mem;
struct hs_counts hs_n;

static struct {
	uint64_t seed, n, rng, pat;
	bool final_assert;
	uint64_t kernel_sum;
	uint8_t *null_copy;             /* the null page as the workload found it */
	uint8_t *snap;
	uint64_t snap_lo, snap_hi;
	unsigned mmio_n;                /* scratch slots mapped */
	bool mmio_split;                /* slots 0 and 1 are RAM's last page and the next */
	uint8_t lcr;                    /* COM1's line control as last written */
	bool lcr_known;
} hs;

extern const char __kernel_start[], __extable_end[];

uint64_t hs_rand(void)                  /* xorshift64* */
{
	hs.rng ^= hs.rng >> 12;
	hs.rng ^= hs.rng << 25;
	hs.rng ^= hs.rng >> 27;
	return hs.rng * 0x2545f4914f6cdd1dull;
}

bool hs_check(bool ok, const char *fmt, ...)
{
	va_list ap;

	hs_n.checks++;
	if (ok)
		return true;
	if (++hs_n.errors <= HS_ERRORS_SHOWN) {
		printf("hostile: error: ");
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
		printf("\n");
	} else if (hs_n.errors == HS_ERRORS_SHOWN + 1) {
		printf("hostile: more errors not shown\n");
	}
	return false;
}

/* ---- the workload's memory: pattern, restore, snapshots ---------------- */

static inline uint64_t hs_pattern_word(uint64_t a8)
{
	uint64_t x = (a8 ^ hs.pat) * 0x9e3779b97f4a7c15ull;

	return x ^ (x >> 29);
}

/* [lo, hi) := the pattern. */
static void hs_pattern_fill(uint64_t lo, uint64_t hi)
{
	for (; lo < hi && (lo & 7); lo++)
		*(uint8_t *)(uintptr_t)lo = (uint8_t)(hs_pattern_word(lo & ~7ull) >> (lo & 7) * 8);
	for (; lo + 8 <= hi; lo += 8)
		*(uint64_t *)(uintptr_t)lo = hs_pattern_word(lo);
	for (; lo < hi; lo++)
		*(uint8_t *)(uintptr_t)lo = (uint8_t)(hs_pattern_word(lo & ~7ull) >> (lo & 7) * 8);
}

uint64_t hs_pattern_find(uint64_t lo, uint64_t hi)
{
	for (; lo < hi; lo += 8)
		if (*(const uint64_t *)(uintptr_t)lo != hs_pattern_word(lo))
			return lo;
	return hi;
}

/* The owned region holding a, in [*lo, *hi); false when a is not the workload's. */
static bool hs_region(uint64_t a, uint64_t *lo, uint64_t *hi)
{
	const uint64_t base[] = { hs_mem.arena, hs_mem.mmu, hs_mem.end, hs_mem.witness };

	if (a < 4096) {
		*lo = 0;
		*hi = 4096;
		return true;
	}
	for (unsigned i = 0; i < 4; i++) {
		if (a >= base[i] && a - base[i] < PAGE_SIZE_2M) {
			*lo = base[i];
			*hi = base[i] + PAGE_SIZE_2M;
			return true;
		}
	}
	return false;
}

void hs_restore(uint64_t lo, uint64_t hi)
{
	uint64_t rlo, rhi, univ_end = hs_mem.mmu + HM_UNIV * PAGE_SIZE_4K;

	while (lo < hi) {
		if (!hs_region(lo, &rlo, &rhi)) {
			lo = (lo | 4095) + 1;   /* not ours (the kernel's ring): left as it is */
			continue;
		}
		uint64_t e = hi < rhi ? hi : rhi;

		if (rlo == 0)
			memcpy((void *)(uintptr_t)lo, hs.null_copy + lo, e - lo);
		else if (rlo == hs_mem.mmu && lo < univ_end)
			e = e < univ_end ? e : univ_end;        /* the universe is the model's */
		else
			hs_pattern_fill(lo, e);
		lo = e;
	}
}

void hs_snap(uint64_t lo, uint64_t hi)
{
	GUEST_ASSERT(hi >= lo && hi - lo <= HS_SNAP_MAX);
	memcpy(hs.snap, (const void *)(uintptr_t)lo, hi - lo);
	hs.snap_lo = lo;
	hs.snap_hi = hi;
}

void *hs_snap_at(uint64_t a)
{
	return hs.snap + (a - hs.snap_lo);
}

void hs_snap_accept(uint64_t a, uint64_t len)
{
	for (; len; a++, len--)
		if (a >= hs.snap_lo && a < hs.snap_hi)
			hs.snap[a - hs.snap_lo] = *(const uint8_t *)(uintptr_t)a;
}

uint64_t hs_snap_diff(void)
{
	const uint8_t *p = (const uint8_t *)(uintptr_t)hs.snap_lo;
	uint64_t len = hs.snap_hi - hs.snap_lo;

	if (!memcmp(p, hs.snap, len))
		return HS_SAME;
	for (uint64_t i = 0; i < len; i++)
		if (p[i] != hs.snap[i])
			return hs.snap_lo + i;
	return HS_SAME;
}

/* ---- hypercall structs ------------------------------------------------- */

/*
 * A gpa for a struct of size bytes (a 32-bit hypercall argument) and the
 * workload's bytes around it, [*lo, *hi) (empty above RAM).
 */
static uint64_t hs_place(uint32_t size, uint64_t *lo, uint64_t *hi)
{
	uint64_t end = hs_mem.ram_end, gpa, rlo, rhi;
	unsigned k = hs_below(100);

	if (!hs_mem.end_ok)
		k %= 60;
	if (k < 55) {
		gpa = hs_mem.arena + HS_GUARD + hs_below(HS_ARENA_USE - 2 * HS_GUARD - size);
	} else if (k < 60) {
		gpa = 0;
	} else if (k < 67) {
		gpa = end - size;                       /* the last bytes of RAM */
	} else if (k < 77) {
		/* across the end; half of the time with only the last bytes (OUT fields) outside */
		gpa = end - (hs_pct(50) ? size - 1 - hs_below(8) : 1 + hs_below(size - 1));
	} else if (k < 82) {
		gpa = end;
	} else if (k < 92) {
		gpa = end + hs_below((1ull << 32) - end);
	} else {
		gpa = HS_PICK(0xffffffffull, 0x100000000ull - size, 0xfffffff0ull, 0xfffff000ull,
			      0x80000000ull);
		if (gpa < end)
			gpa = end;
	}
	*lo = *hi = 0;
	if (gpa < end && hs_region(gpa, &rlo, &rhi)) {
		*lo = gpa - rlo >= HS_GUARD ? gpa - HS_GUARD : rlo;
		*hi = rhi - gpa >= size + HS_GUARD ? gpa + size + HS_GUARD : rhi;
	} else if (gpa >= end && gpa - end < HS_GUARD) {
		*lo = end - HS_GUARD;           /* just above RAM: its last bytes are the guard */
		*hi = end;
	}
	return gpa;
}

/* Nothing at all may change when the struct is not inside RAM (contract: hostile.h). */
bool hs_struct_call(uint16_t port, void *img, uint32_t size, const struct hs_allow *out,
		    unsigned nout, const char *what)
{
	uint64_t lo, hi, gpa = hs_place(size, &lo, &hi), diff;
	bool in_ram = hs_in_ram(gpa, size);
	uint64_t s = gpa > lo ? gpa : lo, e = gpa + size < hi ? gpa + size : hi;

	if (s < e)
		memcpy((void *)(uintptr_t)s, (const uint8_t *)img + (s - gpa), e - s);
	if (lo < hi)
		hs_snap(lo, hi);
	outl(port, (uint32_t)gpa);
	hs_n.calls++;
	for (unsigned i = 0; in_ram && i < nout; i++) {
		memcpy((uint8_t *)img + out[i].off, (const void *)(uintptr_t)(gpa + out[i].off),
		       out[i].len);
		hs_snap_accept(gpa + out[i].off, out[i].len);
	}
	if (lo < hi) {
		diff = hs_snap_diff();
		hs_check(diff == HS_SAME, "%s at gpa 0x%lx (%u bytes, RAM ends at 0x%lx): the VMM "
			 "changed 0x%lx, %s", what, (unsigned long)gpa, size,
			 (unsigned long)hs_mem.ram_end, (unsigned long)diff,
			 in_ram ? "not an OUT field" : "but the struct is not inside RAM");
		hs_restore(lo, hi);
	}
	if (!in_ram)
		hs_n.hc_bad++;
	return in_ram;
}

/* A byte the console must never show: control, DEL or >= 0x80. */
static uint8_t hs_nasty(void)
{
	uint8_t b = (uint8_t)hs_rand();

	return b >= 0x20 && b < 0x7f ? b ^ 0x80 : b;
}

static char hs_printable(void)
{
	return (char)(0x20 + hs_below(0x7f - 0x20));
}

uint32_t hs_bad_version(void)
{
	return (uint32_t)HS_PICK(0, PV_ABI_VERSION + 1, 0xffffffffull, 0x80000001ull,
				 hs_rand() | 2);
}

/* A random metric, valid or not (as asked). */
static void hs_metric(struct pv_metric *m, bool valid)
{
	static const char *const keys[] = { "hostile_echo_a", "hostile_echo_b", HS_KEY_LONG };
	static const char bad[] = "AZ- .\"\\/{\x01\x1b\x7f\x80\xc3\xff";
	const char *key = keys[hs_below(3)];
	unsigned k = hs_below(100);
	size_t len = strlen(key);

	for (unsigned i = 0; i < sizeof(*m); i++)
		((uint8_t *)m)[i] = (uint8_t)hs_rand();         /* bytes after the NUL: junk */
	memcpy(m->key, key, len + 1);
	m->value = (int64_t)HS_PICK(0, 1, ~0ull, 1ull << 63, ~0ull >> 1, hs_rand(), hs_below(1000));
	m->decimals = hs_below(10);
	if (valid)
		return;
	if (k < 20) {
		m->key[0] = '\0';
	} else if (k < 40) {
		for (unsigned i = 0; i < PV_METRIC_KEY_MAX; i++)       /* no NUL */
			m->key[i] = "abcdefghijklmnopqrstuvwxyz0123456789_"[hs_below(37)];
	} else if (k < 80) {
		m->key[hs_below(len)] = bad[hs_below(sizeof(bad) - 1)];
	} else {
		m->decimals = (uint32_t)HS_PICK(10, 11, 0xffffffffull, 0x80000000ull,
						10 + hs_below(1000));
	}
}

static void hs_report_call(void)
{
	static struct pv_report r;
	static const struct hs_allow out[] = {
		{ offsetof(struct pv_report, status), 4 },
		{ offsetof(struct pv_report, accepted), 4 },
	};
	uint32_t expect = 0, first_bad = PV_REPORT_MAX, one;
	unsigned k = hs_below(100), faults = hs_below(100);
	bool shape_ok;

	r.version = hs_pct(88) ? PV_ABI_VERSION : hs_bad_version();
	r.count = k < 75 ? 1 + hs_below(PV_REPORT_MAX) : k < 80 ? PV_REPORT_MAX :
		  (uint32_t)HS_PICK(0, PV_REPORT_MAX + 1, 0xffffffffull, 0x80000000ull, 1000);
	/* all valid, one bad metric (each rule alone), or bad ones anywhere */
	one = faults >= 55 && faults < 85 ?
	      hs_below(r.count < PV_REPORT_MAX ? r.count + 1 : PV_REPORT_MAX) : PV_REPORT_MAX;
	for (uint32_t i = 0; i < PV_REPORT_MAX; i++) {
		bool valid = faults < 85 ? i != one : hs_pct(70);

		hs_metric(&r.metric[i], valid);
		if (!valid && i < r.count && first_bad == PV_REPORT_MAX)
			first_bad = i;
	}
	r.status = (int32_t)HS_CANARY32;
	r.accepted = HS_CANARY32;
	shape_ok = r.version == PV_ABI_VERSION && r.count >= 1 && r.count <= PV_REPORT_MAX;
	if (r.version != PV_ABI_VERSION)
		expect |= HS_STATUS_BIT(PV_EVERSION);
	if (r.count == 0 || r.count > PV_REPORT_MAX || first_bad < r.count)
		expect |= HS_STATUS_BIT(PV_EINVAL);
	if (!hs_struct_call(hc_port(PV_HC_REPORT), &r, sizeof(r), out, 2, "report"))
		return;
	if (!expect)
		hs_check(r.status == PV_OK && r.accepted == r.count,
			 "report of %u valid metrics: status %d, accepted %u", r.count, r.status,
			 r.accepted);
	else
		hs_check(r.status > 0 && r.status < 32 && (expect & HS_STATUS_BIT(r.status)) &&
			 r.accepted <= (shape_ok ? first_bad : 0),
			 "report version %u count %u (first bad metric %u): status %d accepted %u, "
			 "expected a status of mask 0x%x", r.version, r.count, first_bad, r.status,
			 r.accepted, expect);
	if (r.status != PV_OK)
		hs_n.hc_bad++;
}

static void hs_puts_call(void)
{
	static struct pv_puts p;
	static const struct hs_allow out[] = {
		{ offsetof(struct pv_puts, status), 4 }, { offsetof(struct pv_puts, reserved), 4 },
	};
	uint32_t expect = 0;
	unsigned k = hs_below(100);

	p.version = hs_pct(88) ? PV_ABI_VERSION : hs_bad_version();
	for (unsigned i = 0; i < PV_PUTS_MAX; i++)
		p.data[i] = (char)hs_nasty();   /* shown only if the VMM prints what it must not */
	if (k < 45) {
		p.len = 0;
	} else if (k < 78) {
		p.len = k < 70 ? 16 + hs_below(40) : PV_PUTS_MAX;
		if (p.version == PV_ABI_VERSION) {
			memcpy(p.data, "hostile: puts ", 14);
			for (unsigned i = 14; i < p.len - 1; i++)
				p.data[i] = hs_printable();
			p.data[p.len - 1] = '\n';
		}
	} else {
		p.len = (uint32_t)HS_PICK(PV_PUTS_MAX + 1, 256, 0xffffffffull, 0x80000000ull,
					  PV_PUTS_MAX + 1 + hs_below(10000));
	}
	p.status = (int32_t)HS_CANARY32;
	p.reserved = HS_CANARY32;
	if (p.version != PV_ABI_VERSION)
		expect |= HS_STATUS_BIT(PV_EVERSION);
	if (p.len > PV_PUTS_MAX)
		expect |= HS_STATUS_BIT(PV_EINVAL);
	if (!hs_struct_call(hc_port(PV_HC_PUTS), &p, sizeof(p), out, 2, "puts"))
		return;
	if (!expect)
		hs_check(p.status == PV_OK, "puts of %u bytes: status %d", p.len, p.status);
	else
		hs_check(p.status > 0 && p.status < 32 && (expect & HS_STATUS_BIT(p.status)),
			 "puts version %u len %u: status %d, expected a status of mask 0x%x",
			 p.version, p.len, p.status, expect);
	if (p.status != PV_OK)
		hs_n.hc_bad++;
}

static void hs_setup_call(void)
{
	static struct pv_mmu_setup s;
	static const struct hs_allow out[] = {
		{ offsetof(struct pv_mmu_setup, status), 4 },
		{ offsetof(struct pv_mmu_setup, reserved), 4 },
	};
	uint32_t expect;
	bool in_ram;

	hm_setup_fill(&s, &expect);
	s.status = (int32_t)HS_CANARY32;
	s.reserved = HS_CANARY32;
	in_ram = hs_struct_call(hc_port(PV_HC_MMU_SETUP), &s, sizeof(s), out, 2, "mmu setup");
	if (in_ram) {
		if (!expect)
			hs_check(s.status == PV_OK, "mmu setup ring 0x%lx nr %u: status %d",
				 (unsigned long)s.ring_gpa, s.nr_records, s.status);
		else
			hs_check(s.status > 0 && s.status < 32 && (expect & HS_STATUS_BIT(s.status)),
				 "mmu setup version %u ring 0x%lx nr %u: status %d, expected a status "
				 "of mask 0x%x", s.version, (unsigned long)s.ring_gpa, s.nr_records,
				 s.status, expect);
		if (s.status != PV_OK)
			hs_n.hc_bad++;
	}
	hm_setup_done(&s, in_ram, s.status);
}

/* ---- ports -------------------------------------------------------------- */

static uint32_t hs_in(uint16_t port, unsigned w)
{
	hs_n.calls++;
	return w == 1 ? inb(port) : w == 2 ? inw(port) : inl(port);
}

static void hs_out(uint16_t port, unsigned w, uint32_t v)
{
	hs_n.calls++;
	if (w == 1)
		outb(port, (uint8_t)v);
	else if (w == 2)
		outw(port, (uint16_t)v);
	else
		outl(port, v);
}

static bool hs_overlap(uint32_t a, uint32_t alen, uint32_t b, uint32_t blen)
{
	return a < b + blen && b < a + alen;
}

/* Any width at any hypercall port; 32-bit writes of the struct ports become struct calls. */
static void hs_hc_port(void)
{
	unsigned off = hs_below(PV_PORT_HC_COUNT), w = 1u << hs_below(3);
	uint16_t port = (uint16_t)(hc_ports.hc_base + off), hc = (uint16_t)(PV_PORT_HC_BASE + off);
	bool edge = off + w > PV_PORT_HC_COUNT;
	uint32_t v;

	if (hs_pct(35)) {
		(void)hs_in(port, w);   /* what a read returns is not documented */
		hs_n.port_edge++;
		return;
	}
	if (w == 4 && !edge) {
		switch (hc) {
		case PV_HC_EXIT:
		case PV_HC_ASSERT:
			return;         /* they end the VM by design */
		case PV_HC_REPORT:
			hs_report_call();
			return;
		case PV_HC_PUTS:
			hs_puts_call();
			return;
		case PV_HC_MMU_SETUP:
			hs_setup_call();
			return;
		case PV_HC_MMU_FLUSH:
			hm_doorbell();
			return;
		case PV_HC_BALLOON:
			hb_balloon_call();
			return;
		case PV_HC_MEMINFO:
			hb_meminfo_call();
			return;
		}
	}
	/* a wrong width (or a port past the range): refused, nothing read or written */
	v = hc <= PV_HC_MMU_SETUP || hc == PV_HC_BALLOON || hc == PV_HC_MEMINFO ?
	    (uint32_t)hs_below(4096) : (uint32_t)hs_rand();
	hm_quiet_arm();
	hs_out(port, w, v);
	if (edge)
		hs_n.port_edge++;
	else
		hs_n.hc_bad++;
	hm_quiet_check("a refused hypercall write");     /* first: the ring may be at gpa 0 */
	hs_check(!memcmp(hs_null(), hs.null_copy, 4096),
		 "out%c 0x%x to port 0x%x changed the null page it pointed to",
		 w == 1 ? 'b' : w == 2 ? 'w' : 'l', v, port);
}

/*
 * COM1: any register, any width.  Only printable bytes go to THR.  Checked
 * (vmm/dev/serial.c): LSR says the transmitter is empty, LCR reads back.
 */
static void hs_com1(void)
{
	unsigned reg = hs_below(8), w = 1u << hs_below(3);
	uint16_t base = hc_ports.console;
	bool edge = reg + w > 8;
	uint32_t v;

	if (hs_pct(50)) {
		v = hs_in((uint16_t)(base + reg), w);
		if (edge) {
			hs_n.port_edge++;
			return;
		}
		if (w == 1 && reg == HS_UART_LSR)
			hs_check((v & 0x60) == 0x60, "COM1 LSR reads 0x%x: transmitter busy", v);
		if (w == 1 && reg == HS_UART_LCR && hs.lcr_known)
			hs_check(v == hs.lcr, "COM1 LCR reads 0x%x, 0x%x was written", v, hs.lcr);
		return;
	}
	if (reg == 0 && hs_pct(85))
		reg = 1 + hs_below(7);          /* THR output sparingly: it lands on stdout */
	edge = reg + w > 8;
	v = (uint32_t)hs_rand();
	if (reg == 0)
		for (unsigned i = 0; i < 4; i++)
			v = v << 8 | (uint8_t)hs_printable();
	hs_out((uint16_t)(base + reg), w, v);
	if (edge)
		hs_n.port_edge++;
	if (reg <= HS_UART_LCR && reg + w > HS_UART_LCR) {
		hs.lcr = (uint8_t)(v >> (HS_UART_LCR - reg) * 8);
		hs.lcr_known = w == 1;
	}
	if (!hs.lcr_known || (hs.lcr & 0x80)) {
		if (hs.lcr_known && hs_pct(50))         /* DLAB: THR is the divisor now */
			hs_out(base, 1, (uint8_t)hs_printable());
		hs_out((uint16_t)(base + HS_UART_LCR), 1, 0x03);        /* 8N1 for the console */
		hs.lcr = 0x03;
		hs.lcr_known = true;
	}
}

/* The unused port, extreme ports, random ports: nothing is there (reads all-ones). */
static void hs_port_other(void)
{
	unsigned w = 1u << hs_below(3), k = hs_below(100);
	uint32_t port, v, ones = w == 4 ? 0xffffffffu : (1u << 8 * w) - 1;

	for (;;) {
		port = k < 30 ? hc_ports.unused :
		       k < 40 ? (uint32_t)HS_PICK(0, 1, 0xffff, 0xfffe, 0xfffd, 0xfffc, 0x7f1) :
				(uint32_t)(uint16_t)hs_rand();
		if (!hs_overlap(port, w, hc_ports.debug_exit, 4) &&
		    !hs_overlap(port, w, hc_ports.console, 8) &&
		    !hs_overlap(port, w, hc_ports.hc_base, PV_PORT_HC_COUNT) &&
		    !hs_overlap(port, w, 0x80, 1))     /* some hosts pass the POST port through */
			break;
		k = 100;
	}
	hs_n.port_unknown++;
	if (hs_pct(50)) {
		hs_out((uint16_t)port, w, (uint32_t)hs_rand());
		return;
	}
	v = hs_in((uint16_t)port, w);
	hs_check(v == ones, "in%c from unknown port 0x%x: 0x%x, not all-ones",
		 w == 1 ? 'b' : w == 2 ? 'w' : 'l', port, v);
}

/* ---- MMIO --------------------------------------------------------------- */

static inline uint64_t hs_slot_va(unsigned slot)
{
	return MM_SCRATCH_VA + (1 + slot) * PAGE_SIZE_4K;
}

/*
 * Map the slots: 0 the last page of RAM, 1 the page at its end, then pages
 * above RAM (below MAXPHYADDR: a PTE beyond it would fault).  Fresh entries
 * in the never-pinned scratch table need no TLB flush.
 */
static void hs_mmio_map(void)
{
	uint32_t a, b, c, d;
	unsigned bits = 36;
	uint64_t end = hs_mem.ram_end, top, pa[HS_MMIO_SLOTS];

	cpuid(0x80000000, &a, &b, &c, &d);
	if (a >= 0x80000008) {
		cpuid(0x80000008, &a, &b, &c, &d);
		bits = a & 0xff;
	}
	top = 1ull << (bits < 48 ? bits : 48);
	if (end >= top)
		return;
	pa[0] = end - PAGE_SIZE_4K;
	pa[1] = end;
	pa[2] = end + PAGE_SIZE_4K * (1 + hs_below(255));
	pa[3] = 0xfee00000;
	pa[4] = 0xfffff000;
	pa[5] = 1ull << 32;
	pa[6] = top - PAGE_SIZE_4K;
	for (unsigned i = 7; i < HS_MMIO_SLOTS; i++)
		pa[i] = end + (hs_below(top - end) & ~(PAGE_SIZE_4K - 1));
	for (unsigned i = 0; i < HS_MMIO_SLOTS; i++) {
		uint64_t *pte = &mm_scratch_pt[1 + i];

		if (i >= 2 && (pa[i] < end || pa[i] >= top))
			pa[i] = pa[2] + i * PAGE_SIZE_4K;
		if (*pte || pa[i] >= top)
			break;
		pt_write(pte, pa[i] | PTE_P | PTE_W | PTE_U | (1ull << 3) | (1ull << 4) | PTE_NX,
			 hs_slot_va(i));
		hs.mmio_n = i + 1;
	}
	hs.mmio_split = hs.mmio_n >= 2;
}

/* CPL0: drop the slots (present entries: invlpg). */
static void hs_mmio_unmap(void)
{
	for (unsigned i = 0; i < hs.mmio_n; i++)
		pt_write(&mm_scratch_pt[1 + i], 0, hs_slot_va(i));
	hs.mmio_n = 0;
}

static uint64_t hs_mmio_read(uint64_t va, unsigned w)
{
	uint64_t v;

	uint8_t b;
	uint16_t h;
	uint32_t l;

	/* one instruction of exactly this width: the exit's length is what is tested */
	switch (w) {
	case 1:
		__asm__ volatile("movb (%1), %0" : "=q"(b) : "r"(va) : "memory");
		v = b;
		break;
	case 2:
		__asm__ volatile("movw (%1), %0" : "=r"(h) : "r"(va) : "memory");
		v = h;
		break;
	case 4:
		__asm__ volatile("movl (%1), %0" : "=r"(l) : "r"(va) : "memory");
		v = l;
		break;
	default:
		__asm__ volatile("movq (%1), %0" : "=r"(v) : "r"(va) : "memory");
		break;
	}
	hs_n.calls++;
	return v;
}

static void hs_mmio_write(uint64_t va, unsigned w, uint64_t v)
{
	switch (w) {
	case 1:
		__asm__ volatile("movb %0, (%1)" : : "q"((uint8_t)v), "r"(va) : "memory");
		break;
	case 2:
		__asm__ volatile("movw %0, (%1)" : : "r"((uint16_t)v), "r"(va) : "memory");
		break;
	case 4:
		__asm__ volatile("movl %0, (%1)" : : "r"((uint32_t)v), "r"(va) : "memory");
		break;
	default:
		__asm__ volatile("movq %0, (%1)" : : "r"(v), "r"(va) : "memory");
		break;
	}
	hs_n.calls++;
}

/* One MMIO access above RAM, or across its end (RAM's part is the guest's own). */
static void hs_mmio(void)
{
	unsigned w = 1u << hs_below(4), k = 0, slot;
	uint64_t va, off, v, expect = w == 8 ? ~0ull : (1ull << 8 * w) - 1;
	bool split = hs.mmio_split && w > 1 && hs_pct(12), rd = hs_pct(50);

	if (hs.mmio_n < 2)
		return;
	if (split) {
		k = 1 + hs_below(w - 1);                /* bytes below the end of RAM */
		va = hs_slot_va(0) + PAGE_SIZE_4K - k;
		expect = 0;
		for (unsigned i = 0; i < w; i++)
			expect |= (uint64_t)(i < k ? *(const uint8_t *)(uintptr_t)(hs_mem.ram_end - k + i) :
					     0xff) << 8 * i;
	} else {
		slot = 1 + hs_below(hs.mmio_n - 1);
		off = hs_pct(30) ? (hs_pct(50) ? 0 : PAGE_SIZE_4K - w) :
				   hs_below(PAGE_SIZE_4K - w + 1);
		va = hs_slot_va(slot) + off;
	}
	if (rd) {
		v = hs_mmio_read(va, w);
		hs_check(v == expect, "MMIO read of %u bytes at va 0x%lx%s: 0x%lx, expected 0x%lx", w,
			 (unsigned long)va, split ? " (across the end of RAM)" : "", (unsigned long)v,
			 (unsigned long)expect);
	} else {
		hs_mmio_write(va, w, hs_rand());
		if (split)
			hs_restore(hs_mem.ram_end - k, hs_mem.ram_end);
	}
	if (split)
		hs_n.mmio_split++;
	else
		hs_n.mmio++;
}

/* ---- set-up, the run, the end ------------------------------------------- */

static uint64_t hs_kernel_sum(void)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (const char *p = __kernel_start; p < __extable_end; p++)
		h = (h ^ (uint8_t)*p) * 0x100000001b3ull;
	return h;
}

static int hs_alloc(void)
{
	hs_mem.ram_end = mm_ram_end;
	hs_mem.arena = frame_alloc_2m();
	hs_mem.mmu = frame_alloc_2m();
	hs_mem.witness = frame_alloc_2m();
	hs_mem.scratch = frame_alloc_2m();
	hs_mem.unit = frame_alloc_2m();
	hs_mem.end = mm_ram_end - PAGE_SIZE_2M;
	if (!hs_mem.arena || !hs_mem.mmu || !hs_mem.witness || !hs_mem.scratch || !hs_mem.unit ||
	    !frame_take_2m(hs_mem.end)) {
		printf("guest: hostile: needs six free 2 MiB chunks, RAM's last among them\n");
		return -1;
	}
	if (hs_mem.arena + PAGE_SIZE_2M > (1ull << 32)) {
		printf("guest: hostile: the arena must lie below 4 GiB\n");
		return -1;
	}
	hs_mem.end_ok = hs_mem.ram_end < (1ull << 32);
	hs.snap = (uint8_t *)(uintptr_t)hs_mem.scratch;
	hs.null_copy = (uint8_t *)(uintptr_t)(hs_mem.scratch + HS_NULL_COPY);
	memcpy(hs.null_copy, hs_null(), 4096);
	hs_pattern_fill(hs_mem.arena, hs_mem.arena + PAGE_SIZE_2M);
	hs_pattern_fill(hs_mem.mmu, hs_mem.mmu + PAGE_SIZE_2M);
	hs_pattern_fill(hs_mem.end, hs_mem.ram_end);
	hs_pattern_fill(hs_mem.witness, hs_mem.witness + PAGE_SIZE_2M);
	return 0;
}

/* Everything the workload owns is as it left it. */
static void hs_verify_all(void)
{
	const struct { uint64_t lo, hi; const char *name; } r[] = {
		{ hs_mem.arena, hs_mem.arena + PAGE_SIZE_2M, "arena" },
		{ hs_mem.mmu + HM_UNIV * PAGE_SIZE_4K, hs_mem.mmu + PAGE_SIZE_2M, "PV MMU chunk" },
		{ hs_mem.end, hs_mem.ram_end, "last chunk of RAM" },
		{ hs_mem.witness, hs_mem.witness + PAGE_SIZE_2M, "witness chunk" },
	};

	for (unsigned i = 0; i < sizeof(r) / sizeof(r[0]); i++) {
		uint64_t a = hs_pattern_find(r[i].lo, r[i].hi);

		hs_check(a == r[i].hi, "%s: 0x%lx changed (0x%lx)", r[i].name, (unsigned long)a,
			 a < r[i].hi ? (unsigned long)*(const uint64_t *)(uintptr_t)a : 0ul);
	}
	hs_check(!memcmp(hs_null(), hs.null_copy, 4096), "the null page changed");
	hs_check(hs_kernel_sum() == hs.kernel_sum, "the kernel's text or read-only data changed");
	hm_verify_memory("at the end");
}

/* The mm API in the run's mode still maps, reads and unmaps after all that. */
static void hs_mm_still_works(void)
{
	uint64_t v = 0, pa = hs_mem.arena + HS_ARENA_USE;

	if (!hs_check(!mm_map_range(PT_LEVEL_4K, MM_WORKLOAD_BASE, 1, pa, PTE_U),
		      "mm_map_range failed after the attacks"))
		return;
	hs_check(!probe_read((void *)(uintptr_t)MM_WORKLOAD_BASE, &v) && v == hs_pattern_word(pa),
		 "a fresh mapping reads 0x%lx, not its frame's 0x%lx", (unsigned long)v,
		 (unsigned long)hs_pattern_word(pa));
	mm_clear_range(PT_LEVEL_4K, MM_WORKLOAD_BASE, 1);
	hs_check(probe_read((void *)(uintptr_t)MM_WORKLOAD_BASE, &v) == -EFAULT,
		 "a cleared mapping still reads");
}

static void hs_report_all(void)
{
	static const char *const reason[PV_MMU_NR_STATUS] = {
		[PV_MMU_E_OP] = "hostile_rej_bad_op", [PV_MMU_E_LEVEL] = "hostile_rej_bad_level",
		[PV_MMU_E_ALIGN] = "hostile_rej_unaligned",
		[PV_MMU_E_RANGE] = "hostile_rej_out_of_range",
		[PV_MMU_E_COUNT] = "hostile_rej_bad_count",
		[PV_MMU_E_NOTPINNED] = "hostile_rej_not_pinned",
		[PV_MMU_E_FRAME] = "hostile_rej_bad_frame", [PV_MMU_E_FLAGS] = "hostile_rej_bad_flags",
		[PV_MMU_E_WRPT] = "hostile_rej_writable_pt",
		[PV_MMU_E_WRRING] = "hostile_rej_writable_ring",
		[PV_MMU_E_NOTTABLE] = "hostile_rej_not_table", [PV_MMU_E_BUSY] = "hostile_rej_busy",
		[PV_MMU_E_RING] = "hostile_rej_bad_ring", [PV_MMU_E_NORING] = "hostile_rej_no_ring",
	};

	report("hostile_calls", (int64_t)hs_n.calls, 0);
	report("hostile_checks", (int64_t)hs_n.checks, 0);
	report("hostile_hc_bad", (int64_t)hs_n.hc_bad, 0);
	report("hostile_port_unknown", (int64_t)hs_n.port_unknown, 0);
	report("hostile_port_edge", (int64_t)hs_n.port_edge, 0);
	report("hostile_mmio", (int64_t)hs_n.mmio, 0);
	report("hostile_mmio_split", (int64_t)hs_n.mmio_split, 0);
	report("hostile_doorbells", (int64_t)hs_n.doorbells, 0);
	report("hostile_records", (int64_t)hs_n.records, 0);
	report("hostile_rejected", (int64_t)hs_n.rejected, 0);
	for (int s = 1; s < PV_MMU_NR_STATUS; s++)
		report(reason[s], (int64_t)hs_n.reason[s], 0);
	report("hostile_released_records", (int64_t)hs_n.released_recs, 0);
	report("hostile_released_pages", (int64_t)hs_n.released_pages, 0);
	report("hostile_release_rejected", (int64_t)hs_n.release_rejected, 0);
	/* The kernel's own balloon requests (the boot QUERY) count in the VMM's too. */
	report("hostile_balloon_requests",
	       (int64_t)(hs_n.balloon_requests + balloon_stats.requests), 0);
	report("hostile_balloon_rejected", (int64_t)hs_n.balloon_rejected, 0);
	report("hostile_balloon_outside", (int64_t)hs_n.balloon_outside, 0);
	report("hostile_balloon_inflated_bytes",
	       (int64_t)(hs_n.balloon_inflated + balloon_stats.inflated_bytes), 0);
	report("hostile_balloon_deflated_bytes",
	       (int64_t)(hs_n.balloon_deflated + balloon_stats.deflated_bytes), 0);
	report("errors", (int64_t)hs_n.errors, 0);
	report_flush();
}

/*
 * final=assert: bytes a terminal would act on, through every way the guest
 * has to the VMM's outputs, then an assertion carrying them: the VM fails
 * (status 3) with this message, by design.
 */
static void hs_final_assert(void)
{
	static const char seq[] = "\x1b[2J\x1b]0;hostile-title\x07\x1b[31m\r\b\x7f"
				  "\xc0\x80\xed\xa0\x80\xf8\x88\x80\x80\x80\xfe\xff\x80\xc3\x28\xe2\x82";
	static const char file[] = "hostile.c\x1b[2J\x1b]0;t\x07\xff\xfe\xc3\x28\x01\x7f";
	static const char msg[] = "hostile: final assertion (by design) ";
	static char line[512];
	static struct pv_assert a;
	size_t n;

	memcpy(line, "hostile: raw bytes: ", 20);
	n = 20;
	memcpy(line + n, seq, sizeof(seq) - 1);
	n += sizeof(seq) - 1;
	for (unsigned c = 0; c < 256; c++)
		if (c < 0x20 || c >= 0x7f)
			line[n++] = (char)c;
	line[n++] = '\n';
	console_flush();
	hc_puts(line, n);
	hs_out((uint16_t)(hc_ports.console + HS_UART_LCR), 1, 0x03);
	for (size_t i = 0; i < n; i++)
		hs_out(hc_ports.console, 1, (uint8_t)line[i]);

	a.version = PV_ABI_VERSION;
	a.line = 0xffffffffu;
	memset(a.file, 0x9b, sizeof(a.file));          /* CSI in 8 bits; no NUL at all */
	memcpy(a.file, file, sizeof(file) - 1);
	memcpy(a.msg, msg, sizeof(msg) - 1);
	n = sizeof(msg) - 1;
	memcpy(a.msg + n, seq, sizeof(seq) - 1);
	n += sizeof(seq) - 1;
	for (unsigned c = 0x80; n < sizeof(a.msg) - 1; c++)
		a.msg[n++] = (char)(c < 0x100 ? c : 1 + c % 31);
	a.msg[n] = '\0';
	report_flush();
	outl(hc_port(PV_HC_ASSERT), (uint32_t)(uintptr_t)&a);
}

static long hs_user(void *arg)
{
	(void)arg;
	if (hs_alloc())
		return 1;
	hs.kernel_sum = hs_kernel_sum();
	hs_out((uint16_t)(hc_ports.console + HS_UART_LCR), 1, 0x03);
	hs.lcr = 0x03;
	hs.lcr_known = true;
	hm_init();
	hs_mmio_map();
	hm_doorbell();          /* first: with --pv-mmu off the vCPU has no ring yet */

	for (uint64_t i = 0; i < hs.n; i++) {
		unsigned k = hs_below(100);

		if (k < 10)
			hs_report_call();
		else if (k < 16)
			hs_puts_call();
		else if (k < 22)
			hs_setup_call();
		else if (k < 40)
			hm_doorbell();
		else if (k < 44)
			hm_scribble();
		else if (k < 50)
			hb_balloon_call();
		else if (k < 52)
			hb_meminfo_call();
		else if (k < 62)
			hs_hc_port();
		else if (k < 70)
			hs_com1();
		else if (k < 80)
			hs_port_other();
		else
			hs_mmio();
	}

	hb_finish();
	if (!hm_finish())
		hs_mm_still_works();
	hs_verify_all();
	printf("hostile: seed %lu, %lu actions: %lu calls, %lu checks, %lu errors\n",
	       (unsigned long)hs.seed, (unsigned long)hs.n, (unsigned long)hs_n.calls,
	       (unsigned long)hs_n.checks, (unsigned long)hs_n.errors);
	hs_report_all();
	if (hs.final_assert)
		hs_final_assert();      /* the VMM ends the VM here */
	return hs_n.errors || hs.final_assert ? 1 : 0;
}

static int hs_setup(const struct wl_args *a)
{
	const char *fin = wl_arg(a, "final");

	if (wl_arg_u64(a, "hostile", "seed", 1, 0, ~0ull, false, &hs.seed) ||
	    wl_arg_u64(a, "hostile", "n", 2000, 0, 10000000, false, &hs.n))
		return -1;
	if (fin && strcmp(fin, "exit") && strcmp(fin, "assert")) {
		printf("guest: hostile: final=%s: want exit or assert\n", fin);
		return -1;
	}
	hs.final_assert = fin && !strcmp(fin, "assert");
	hs.rng = hs.seed * 0x9e3779b97f4a7c15ull | 1;
	hs.pat = hs_rand();
	return 0;
}

static int hs_main(void)
{
	int ret = (int)user_run(hs_user, NULL);

	hs_mmio_unmap();
	return ret;
}

static const char *const hs_params[] = { "seed", "n", "final", NULL };

const struct workload wl_hostile = {
	.name = "hostile",
	.usage = "seed=X n=N final=exit|assert",
	.params = hs_params,
	.setup = hs_setup,
	.main = hs_main,
};
