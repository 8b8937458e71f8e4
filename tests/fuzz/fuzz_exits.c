/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the exit path as a hostile guest drives it, KVM left
 * out (as in tests/unit/test_exit.c): a struct vm from vm_init(), vCPUs whose
 * kvm_run is ordinary memory, and vcpu_handle_exit() fed made-up exits.  The
 * input is a sequence of exits (port or MMIO, direction, size, count, data,
 * or another exit reason; or bursts of them) and of stores into guest RAM,
 * so that the structs the hypercalls point at (pv_report, pv_assert,
 * pv_puts, pv_mmu_setup, a PV MMU ring) hold fuzzed bytes.  Then the JSON
 * report and the table are written, as main() does at the end of a run.
 *
 * Oracle: the JSON is one valid JSON text in valid UTF-8 with no repeated
 * member name (fuzz_json_check); the table, the console and the failure
 * message hold only printable ASCII, newline and tab (guest text reaches a
 * terminal through them).
 */
#include <linux/kvm.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzzutil.h"
#include "pagevisor/abi.h"
#include "pagevisor/pvmmu.h"
#include "vmm/stats.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"

#define FX_RAM          PV_RAM_MIN
#define FX_RUN_SIZE     (3 * 4096)      /* what KVM_GET_VCPU_MMAP_SIZE says on x86 */
#define FX_PIO_OFFSET   4096            /* KVM_PIO_PAGE_OFFSET pages into kvm_run */
#define FX_VCPUS        2
#define FX_MAX_OPS      256
#define FX_SLOTS        0x100000ull     /* structs go in 16 pages from here */

struct fx {
	struct vm_config cfg;
	struct vm vm;
	struct vcpu vcpus[FX_VCPUS];
	char *console;
	size_t console_len;
	FILE *console_f;
};

static const char *const fx_pv_mmu[] = { "auto", "off", "immediate", "batched" };

/*
 * The 1 MiB port tables of struct vcpu_stats (stats_init) come from a pool
 * kept across inputs; the build links this target with --wrap=calloc and
 * --wrap=free.  Each report merges the vCPUs' counters into a new table,
 * and new memory costs ~10 us per 4 KiB page touched on a nested host (page
 * and ASan shadow faults): 3 ms per report, most of an input's time.  The
 * pool's tables are ASan allocations that stay allocated, so an overflow
 * still hits their redzones; a use after free goes unnoticed, and a table
 * not freed by the end of an input is reported here instead of by LSan.
 */
#define FX_POOL 8

static struct {
	void *p;
	bool used;
} fx_pool[FX_POOL];

void *__real_calloc(size_t n, size_t size);
void __real_free(void *p);

void *__wrap_calloc(size_t n, size_t size)
{
	if (n != STATS_NR_PORTS || size != sizeof(struct stats_io))
		return __real_calloc(n, size);
	for (int i = 0; i < FX_POOL; i++) {
		if (fx_pool[i].used)
			continue;
		if (fx_pool[i].p)
			fuzz_zero(fx_pool[i].p, n * size);
		else
			fx_pool[i].p = __real_calloc(n, size);
		fx_pool[i].used = fx_pool[i].p != NULL;
		return fx_pool[i].p;
	}
	return __real_calloc(n, size);
}

void __wrap_free(void *p)
{
	for (int i = 0; p && i < FX_POOL; i++) {
		if (fx_pool[i].p == p) {
			FUZZ_CHECK(fx_pool[i].used, "port table %p freed twice", p);
			fx_pool[i].used = false;
			return;
		}
	}
	__real_free(p);
}

static void fx_pool_check(void)
{
	for (int i = 0; i < FX_POOL; i++)
		FUZZ_CHECK(!fx_pool[i].used, "a port table was not freed (stats_destroy)");
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_json_selftest();
	return 0;
}

/* ---- decoding the input -------------------------------------------------- */

/* A gpa as a hypercall argument: one of the struct slots, near RAM's end, or raw. */
static uint64_t fx_gpa(struct fuzz_in *in)
{
	uint8_t s = fuzz_u8(in);

	if (s < 0x80)
		return FX_SLOTS + (s & 0xf) * 0x1000ull + ((s >> 4) & 7) * 0x100ull;
	if (s < 0xff)
		return FX_RAM - (s & 0x7f) * 8ull;
	return fuzz_u32(in);
}

static uint16_t fx_port(struct fuzz_in *in)
{
	static const uint16_t edges[8] = {
		PV_PORT_HC_BASE - 1, PV_PORT_HC_BASE + PV_PORT_HC_COUNT, PV_PORT_COM1 - 1,
		PV_PORT_COM1 + 8, PV_PORT_DEBUG_EXIT - 1, PV_PORT_DEBUG_EXIT + 4, 0, 0xffff,
	};
	uint8_t s = fuzz_u8(in);

	if (s < 0x40)
		return PV_PORT_HC_BASE + (s & 0xf);
	if (s < 0x60)
		return PV_PORT_COM1 + (s & 7);
	if (s < 0x68)
		return PV_PORT_DEBUG_EXIT + (s & 3);
	if (s < 0x70)
		return PV_PORT_UNUSED;
	if (s < 0x78)
		return edges[s & 7];
	return fuzz_u16(in);
}

static struct vcpu *fx_vcpu(struct fx *x, uint8_t b)
{
	return &x->vcpus[b % x->vm.nr_vcpus];
}

/* Store @len bytes at @gpa, as much of them as lies inside RAM. */
static void fx_store(struct fx *x, uint64_t gpa, const void *src, size_t len)
{
	uint8_t *dst;

	if (gpa >= x->vm.mem.size)
		return;
	if (len > x->vm.mem.size - gpa)
		len = x->vm.mem.size - gpa;
	dst = guestmem_hva(&x->vm.mem, gpa, len);
	if (dst)
		memcpy(dst, src, len);
}

/* Bytes of a metric key: from the key alphabet (mostly) or raw. */
static void fx_key(struct fuzz_in *in, char *key)
{
	static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789_";
	uint8_t b = fuzz_u8(in);
	size_t n = (b & 0x3f) % (PV_METRIC_KEY_MAX + 1);

	fuzz_bytes(in, key, n);
	if (!(b & 0x80))
		for (size_t i = 0; i < n; i++)
			key[i] = alphabet[(uint8_t)key[i] % (sizeof(alphabet) - 1)];
}

/* ---- operations ---------------------------------------------------------- */

/* A struct a hypercall will read, mostly well-formed so that its contents get used. */
static void fx_op_store(struct fx *x, struct fuzz_in *in)
{
	uint64_t gpa = fx_gpa(in);
	uint8_t kind = fuzz_u8(in);
	uint32_t version = (kind & 0x80) ? fuzz_u32(in) : PV_ABI_VERSION;
	union {
		uint8_t raw[256];
		struct pv_report report;
		struct pv_assert a;
		struct pv_puts puts;
		struct pv_mmu_setup setup;
	} un, *u = &un;
	size_t len;

	memset(u, 0, sizeof(*u));
	switch (kind % 5) {
	case 0:
		len = fuzz_bytes(in, u->raw, fuzz_u8(in));
		break;
	case 1:
		u->report.version = version;
		u->report.count = fuzz_u8(in) % (PV_REPORT_MAX + 2);
		for (unsigned i = 0; i < u->report.count && i < PV_REPORT_MAX; i++) {
			fx_key(in, u->report.metric[i].key);
			u->report.metric[i].value = (int64_t)fuzz_u64(in);
			u->report.metric[i].decimals = fuzz_u8(in) % 12;
		}
		u->report.status = -1;
		len = sizeof(u->report);
		break;
	case 2:
		u->a.version = version;
		u->a.line = fuzz_u32(in);
		fuzz_bytes(in, u->a.file, fuzz_u8(in) % (PV_ASSERT_FILE_MAX + 1));
		fuzz_bytes(in, u->a.msg, fuzz_u8(in) % (PV_ASSERT_MSG_MAX + 1));
		len = sizeof(u->a);
		break;
	case 3:
		u->puts.version = version;
		u->puts.len = fuzz_u8(in);
		if (u->puts.len == 0xff)
			u->puts.len = fuzz_u32(in);
		fuzz_bytes(in, u->puts.data, u->puts.len < PV_PUTS_MAX ? u->puts.len : PV_PUTS_MAX);
		u->puts.status = -1;
		len = sizeof(u->puts);
		break;
	default:
		u->setup.version = version;
		u->setup.nr_records = fuzz_u16(in) % (PV_MMU_RING_MAX + 2);
		u->setup.ring_gpa = fx_gpa(in) & ~0xfffull;
		u->setup.status = -1;
		len = sizeof(u->setup);
		break;
	}
	fx_store(x, gpa, u->raw, len);
}

/* Account an exit as the run loop does (vcpu_account), with a made-up duration. */
static void fx_account(struct vcpu *v, uint64_t ns)
{
	struct kvm_run *run = v->run;

	v->stats.run_ns += ns;
	stats_exit(&v->stats, run->exit_reason, ns);
	if (run->exit_reason == KVM_EXIT_IO)
		stats_port(&v->stats, run->io.port, ns);
	else if (run->exit_reason == KVM_EXIT_MMIO)
		stats_mmio(&v->stats, run->mmio.phys_addr, ns);
}

/* A port exit whose data is in place at @off. */
static void fx_exit_io(struct vcpu *v, uint16_t port, bool out, uint32_t size, uint32_t count,
		       uint32_t off, uint64_t ns)
{
	struct kvm_run *run = v->run;

	run->exit_reason = KVM_EXIT_IO;
	run->io.direction = out ? KVM_EXIT_IO_OUT : KVM_EXIT_IO_IN;
	run->io.size = (uint8_t)size;
	run->io.port = port;
	run->io.count = count;
	run->io.data_offset = off;
	vcpu_handle_exit(v);
	fx_account(v, ns);
}

static void fx_op_io(struct fx *x, struct fuzz_in *in)
{
	struct vcpu *v = fx_vcpu(x, fuzz_u8(in));
	struct kvm_run *run = v->run;
	uint8_t shape = fuzz_u8(in);
	uint16_t port = fx_port(in);
	uint32_t size = (shape & 0x80) ? fuzz_u8(in) : 1u << (shape % 3);
	uint32_t count = (shape & 0x40) ? fuzz_u8(in) : 1;
	uint32_t off = (shape & 0x20) ? fuzz_u32(in) : FX_PIO_OFFSET;
	bool out = shape & 0x10;
	uint8_t *data = (uint8_t *)run + FX_PIO_OFFSET;

	memset(data, 0, FX_RUN_SIZE - FX_PIO_OFFSET);
	if (out && size == 4 && port >= PV_PORT_HC_BASE &&
	    port < PV_PORT_HC_BASE + PV_PORT_HC_COUNT) {
		uint32_t gpa = (uint32_t)fx_gpa(in);

		memcpy(data, &gpa, 4);
	} else if (out) {
		fuzz_bytes(in, data, (size_t)(size < 8 ? size : 8) * (count < 8 ? count : 8));
	}
	fx_exit_io(v, port, out, size, count, off, fuzz_u16(in));
}

static void fx_op_mmio(struct fx *x, struct fuzz_in *in)
{
	struct vcpu *v = fx_vcpu(x, fuzz_u8(in));
	struct kvm_run *run = v->run;
	uint8_t s = fuzz_u8(in), len = fuzz_u8(in);

	run->exit_reason = KVM_EXIT_MMIO;
	/* more distinct addresses than the stats have slots */
	run->mmio.phys_addr = s < 0xc0 ? 0xfee00000ull + s * 0x10ull : fuzz_u64(in);
	run->mmio.len = len & 0x80 ? len : len % 9;
	run->mmio.is_write = len & 0x40;
	fuzz_bytes(in, run->mmio.data, sizeof(run->mmio.data));
	vcpu_handle_exit(v);
	fx_account(v, fuzz_u16(in));
}

/* The other exit reasons: most end the VM and dump registers (to stderr: quieted). */
static void fx_op_other(struct fx *x, struct fuzz_in *in)
{
	static const uint32_t reasons[] = {
		KVM_EXIT_INTR, KVM_EXIT_HLT, KVM_EXIT_SHUTDOWN, KVM_EXIT_FAIL_ENTRY,
		KVM_EXIT_INTERNAL_ERROR, KVM_EXIT_SYSTEM_EVENT, KVM_EXIT_DEBUG,
	};
	struct vcpu *v = fx_vcpu(x, fuzz_u8(in));
	struct kvm_run *run = v->run;
	uint8_t s = fuzz_u8(in);

	run->exit_reason = s < 0xf0 ? reasons[s % 7] : fuzz_u32(in);
	run->fail_entry.hardware_entry_failure_reason = 0;
	switch (run->exit_reason) {
	case KVM_EXIT_FAIL_ENTRY:
		run->fail_entry.hardware_entry_failure_reason = fuzz_u64(in);
		break;
	case KVM_EXIT_INTERNAL_ERROR:
		run->internal.suberror = fuzz_u32(in);
		break;
	case KVM_EXIT_SYSTEM_EVENT:
		run->system_event.type = fuzz_u8(in) % 6;
		break;
	}
	fuzz_quiet_begin();
	vcpu_handle_exit(v);
	fuzz_quiet_end();
	fx_account(v, fuzz_u16(in));
}

/*
 * Many exits from a few bytes, for states that one exit per op rarely
 * reaches: more distinct MMIO addresses than the stats have slots, or
 * enough reported metrics to fill the store of guest keys.
 */
static void fx_op_burst(struct fx *x, struct fuzz_in *in)
{
	struct vcpu *v = fx_vcpu(x, fuzz_u8(in));
	uint8_t kind = fuzz_u8(in), n = fuzz_u8(in);
	uint16_t seed = fuzz_u16(in);
	uint32_t gpa = FX_SLOTS + 0xf000;
	struct pv_report r;

	if (kind & 1) {
		for (unsigned i = 0; i < n; i++) {
			v->run->exit_reason = KVM_EXIT_MMIO;
			v->run->mmio.phys_addr = 0xfe000000ull + ((uint64_t)seed << 12) + 8ull * i;
			v->run->mmio.len = 4;
			v->run->mmio.is_write = i & 1;
			vcpu_handle_exit(v);
			fx_account(v, i);
		}
		return;
	}
	/* each report a hypercall of PV_REPORT_MAX new keys, at most 20 of them */
	for (unsigned i = 0; i < n % 21; i++) {
		memset(&r, 0, sizeof(r));
		r.version = PV_ABI_VERSION;
		r.count = PV_REPORT_MAX;
		for (unsigned k = 0; k < PV_REPORT_MAX; k++) {
			snprintf(r.metric[k].key, sizeof(r.metric[k].key), "b%u_%u", seed,
				 i * PV_REPORT_MAX + k);
			r.metric[k].value = (int64_t)seed * 1000 - (int64_t)k;
			r.metric[k].decimals = k % 10;
		}
		fx_store(x, gpa, &r, sizeof(r));
		memcpy((uint8_t *)v->run + FX_PIO_OFFSET, &gpa, 4);
		fx_exit_io(v, PV_HC_REPORT, true, 4, 1, FX_PIO_OFFSET, 1000);
	}
}

/* ---- set-up, the reports, the oracle ------------------------------------ */

static int fx_init(struct fx *x, uint8_t conf)
{
	x->cfg = (struct vm_config){
		.mem_size = FX_RAM, .cpus = 1 + conf % FX_VCPUS, .cmdline = "",
		.pv_mmu = fx_pv_mmu[(conf >> 1) & 3], .aging_clock = true, .fault_threads = 1,
	};
	x->console = NULL;
	x->console_len = 0;
	x->console_f = open_memstream(&x->console, &x->console_len);
	if (!x->console_f || vm_init(&x->vm, &x->cfg, x->console_f))
		return -1;
	/* the vCPUs vm_create_kvm() would make, without KVM */
	memset(x->vcpus, 0, sizeof(x->vcpus));
	for (unsigned i = 0; i < x->cfg.cpus; i++) {
		struct vcpu *v = &x->vcpus[i];

		v->vm = &x->vm;
		v->id = (int)i;
		v->fd = v->stats_fd = -1;
		v->run_size = FX_RUN_SIZE;
		v->run = calloc(1, FX_RUN_SIZE);
		if (!v->run || stats_init(&v->stats))
			return -1;
	}
	x->vm.vcpus = x->vcpus;
	x->vm.nr_vcpus = x->cfg.cpus;
	return 0;
}

static void fx_destroy(struct fx *x)
{
	for (unsigned i = 0; i < FX_VCPUS; i++) {
		free(x->vcpus[i].run);
		stats_destroy(&x->vcpus[i].stats);
	}
	/* not vm_destroy's to free: vcpu_destroy() would munmap kvm_run */
	x->vm.vcpus = NULL;
	x->vm.nr_vcpus = 0;
	vm_destroy(&x->vm);
	fclose(x->console_f);
	free(x->console);
	fx_pool_check();
}

static void fx_check_text(const char *what, const char *s, size_t len)
{
	size_t at;

	if (fuzz_text_check(s, len, &at)) {
		fuzz_show(what, s, len, at);
		fuzz_fail("%s: byte 0x%02x at offset %zu is not printable ASCII, newline or tab",
			  what, (unsigned char)s[at], at);
	}
}

static void fx_reports(struct fx *x, uint64_t wall_ns)
{
	char *buf = NULL;
	const char *why;
	size_t len = 0, at;
	FILE *f;
	int ret;

	f = open_memstream(&buf, &len);
	if (!f)
		abort();
	ret = vm_write_json(&x->vm, f, wall_ns);
	fclose(f);
	FUZZ_CHECK(ret == 0, "vm_write_json returned %d", ret);
	if (fuzz_json_check(buf, len, &at, &why)) {
		fuzz_show("JSON report", buf, len, at);
		fuzz_fail("JSON report: %s at offset %zu", why, at);
	}
	free(buf);

	buf = NULL;
	f = open_memstream(&buf, &len);
	if (!f)
		abort();
	vm_print_table(&x->vm, f, wall_ns);
	fclose(f);
	fx_check_text("table", buf, len);
	free(buf);

	fflush(x->console_f);
	fx_check_text("console", x->console, x->console_len);
	fx_check_text("fail_msg", x->vm.fail_msg, strnlen(x->vm.fail_msg, sizeof(x->vm.fail_msg)));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in;
	static struct fx x;     /* struct vm is large: not on the stack */

	fuzz_in_init(&in, data, size);
	if (fx_init(&x, fuzz_u8(&in)))
		abort();        /* out of memory or memfds: not the input's fault */
	for (int k = 0; k < FX_MAX_OPS && !fuzz_in_done(&in); k++) {
		switch (fuzz_u8(&in) % 5) {
		case 0:
			fx_op_store(&x, &in);
			break;
		case 1:
			fx_op_io(&x, &in);
			break;
		case 2:
			fx_op_mmio(&x, &in);
			break;
		case 3:
			fx_op_other(&x, &in);
			break;
		default:
			fx_op_burst(&x, &in);
			break;
		}
	}
	fx_reports(&x, fuzz_u64(&in));
	fx_destroy(&x);
	return 0;
}
