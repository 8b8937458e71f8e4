/* SPDX-License-Identifier: MIT */
/*
 * Exit handling fed with made-up exits: a VM with RAM and devices but no
 * KVM, and a kvm_run page in ordinary memory.  Covers the devices and the
 * hypercalls as a hostile guest would drive them.
 */
#include <stdlib.h>
#include <string.h>

#include "pagevisor/abi.h"
#include "pagevisor/pvmmu.h"
#include "testutil.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"

#define RUN_SIZE 4096

static struct vm_config cfg = { .mem_size = 8 << 20, .cpus = 1, .cmdline = "" };
static struct vm vm;
static struct vcpu v;
static struct vcpu *cur = &v;   /* the vCPU io() exits from */
static char console[4096];
static FILE *console_f;

static void setup(void)
{
	memset(console, 0, sizeof(console));
	console_f = fmemopen(console, sizeof(console), "w");
	ck_assert_int_eq(vm_init(&vm, &cfg, console_f), 0);
	memset(&v, 0, sizeof(v));
	v.vm = &vm;
	v.fd = -1;
	v.run_size = RUN_SIZE;
	v.run = calloc(1, RUN_SIZE);
	ck_assert_int_eq(stats_init(&v.stats), 0);
	cur = &v;
}

static void teardown(void)
{
	free(v.run);
	stats_destroy(&v.stats);
	vm_destroy(&vm);
	fclose(console_f);
}

/* Feed one port exit: @count elements of @size bytes from @data. */
static enum vcpu_action io(uint16_t port, bool out, uint32_t size, uint32_t count,
			   const void *data)
{
	cur->run->exit_reason = KVM_EXIT_IO;
	cur->run->io.direction = out ? KVM_EXIT_IO_OUT : KVM_EXIT_IO_IN;
	cur->run->io.size = size;
	cur->run->io.port = port;
	cur->run->io.count = count;
	cur->run->io.data_offset = 1024;
	if (data)
		memcpy((uint8_t *)cur->run + 1024, data, (size_t)size * count);
	return vcpu_handle_exit(cur);
}

static enum vcpu_action outl(uint16_t port, uint32_t val)
{
	return io(port, true, 4, 1, &val);
}

static void *gpa(uint64_t a, uint64_t len)
{
	void *p = guestmem_hva(&vm.mem, a, len);

	ck_assert_ptr_nonnull(p);
	return p;
}

START_TEST(serial_output)
{
	const char *s = "hi\n";
	uint8_t lsr = 0;

	for (const char *p = s; *p; p++)
		ck_assert_int_eq(io(PV_PORT_COM1, true, 1, 1, p), VCPU_CONTINUE);
	ck_assert_str_eq(console, "hi\n");
	io(PV_PORT_COM1 + 5, false, 1, 1, NULL);
	memcpy(&lsr, (uint8_t *)v.run + 1024, 1);
	ck_assert_uint_eq(lsr & 0x60, 0x60);
	/* DLAB set: writes to offset 0 are the divisor, not output */
	uint8_t lcr = 0x80, div = 'X';
	io(PV_PORT_COM1 + 3, true, 1, 1, &lcr);
	io(PV_PORT_COM1, true, 1, 1, &div);
	ck_assert_str_eq(console, "hi\n");
	/* rep outsb: several bytes in one exit */
	lcr = 0x03;
	io(PV_PORT_COM1 + 3, true, 1, 1, &lcr);
	io(PV_PORT_COM1, true, 1, 4, "abc\n");
	ck_assert_str_eq(console, "hi\nabc\n");
	ck_assert(!vm_ended(&vm));
}
END_TEST

START_TEST(unknown_port)
{
	uint32_t val = 0;

	ck_assert_int_eq(io(PV_PORT_UNUSED, true, 1, 1, "x"), VCPU_CONTINUE);
	ck_assert_int_eq(io(0x1234, false, 4, 1, NULL), VCPU_CONTINUE);
	memcpy(&val, (uint8_t *)v.run + 1024, 4);
	ck_assert_uint_eq(val, 0xffffffffu);
	ck_assert_uint_eq(v.stats.unknown_port, 2);
	/* malformed exits from a confused kernel are counted, not trusted */
	ck_assert_int_eq(io(PV_PORT_COM1, true, 3, 1, "abc"), VCPU_CONTINUE);
	v.run->io.data_offset = RUN_SIZE - 2;
	v.run->io.size = 4;
	ck_assert_int_eq(vcpu_handle_exit(&v), VCPU_CONTINUE);
	ck_assert_uint_eq(v.stats.unknown_port, 4);
}
END_TEST

START_TEST(exit_hypercall)
{
	ck_assert_int_eq(outl(PV_HC_EXIT, 0x107), VCPU_STOP);
	ck_assert_int_eq(atomic_load(&vm.end), VM_END_GUEST);
	ck_assert_int_eq(vm.exit_status, 7);
	/* the first end wins */
	outl(PV_HC_EXIT, 1);
	ck_assert_int_eq(vm.exit_status, 7);
}
END_TEST

START_TEST(debug_exit)
{
	uint8_t b = 0x10;

	ck_assert_int_eq(io(PV_PORT_DEBUG_EXIT, true, 1, 1, &b), VCPU_STOP);
	ck_assert_int_eq(vm.exit_status, 0x21);
}
END_TEST

START_TEST(report_hypercall)
{
	struct pv_report *r = gpa(0x200000, sizeof(*r));
	struct report_entry e;

	memset(r, 0, sizeof(*r));
	r->version = PV_ABI_VERSION;
	r->count = 2;
	strcpy(r->metric[0].key, "exits");
	r->metric[0].value = 100000;
	strcpy(r->metric[1].key, "ns_per_exit");
	r->metric[1].value = 11288600;
	r->metric[1].decimals = 3;
	r->status = -1;
	ck_assert_int_eq(outl(PV_HC_REPORT, 0x200000), VCPU_CONTINUE);
	ck_assert_int_eq(r->status, PV_OK);
	ck_assert_uint_eq(r->accepted, 2);
	ck_assert_int_eq(report_get(&vm.reports, "ns_per_exit", &e), 0);
	ck_assert_int_eq(e.value, 11288600);

	r->count = 1000;
	ck_assert_int_eq(outl(PV_HC_REPORT, 0x200000), VCPU_CONTINUE);
	ck_assert_int_eq(r->status, PV_EINVAL);
	ck_assert_uint_eq(atomic_load(&vm.hc.bad), 1);
	ck_assert(!vm_ended(&vm));
}
END_TEST

START_TEST(hostile_addresses)
{
	/* a struct that starts inside RAM and runs past its end */
	uint32_t last = (uint32_t)(cfg.mem_size - 16);

	ck_assert_int_eq(outl(PV_HC_REPORT, last), VCPU_CONTINUE);
	ck_assert_int_eq(outl(PV_HC_PUTS, last), VCPU_CONTINUE);
	ck_assert_int_eq(outl(PV_HC_REPORT, 0xfffffff0u), VCPU_CONTINUE);
	ck_assert_int_eq(outl(PV_HC_PUTS, 0xffffffffu), VCPU_CONTINUE);
	/* wrong access sizes and unassigned hypercall ports */
	ck_assert_int_eq(io(PV_HC_REPORT, true, 1, 1, "\0"), VCPU_CONTINUE);
	ck_assert_int_eq(outl(PV_PORT_HC_BASE + 0xc, 0), VCPU_CONTINUE);
	ck_assert_uint_eq(atomic_load(&vm.hc.bad), 6);
	ck_assert(!vm_ended(&vm));
	ck_assert_str_eq(console, "");
}
END_TEST

START_TEST(puts_hypercall)
{
	struct pv_puts *p = gpa(0x300000, sizeof(*p));

	memset(p, 0, sizeof(*p));
	p->version = PV_ABI_VERSION;
	p->len = 6;
	memcpy(p->data, "hello\n", 6);
	ck_assert_int_eq(outl(PV_HC_PUTS, 0x300000), VCPU_CONTINUE);
	ck_assert_int_eq(p->status, PV_OK);
	ck_assert_str_eq(console, "hello\n");
	p->len = PV_PUTS_MAX + 1;
	outl(PV_HC_PUTS, 0x300000);
	ck_assert_int_eq(p->status, PV_EINVAL);
	p->len = 0xffffffffu;
	outl(PV_HC_PUTS, 0x300000);
	ck_assert_int_eq(p->status, PV_EINVAL);
	ck_assert_str_eq(console, "hello\n");
}
END_TEST

START_TEST(assert_hypercall)
{
	struct pv_assert *a = gpa(0x100000, sizeof(*a));

	memset(a, 'A', sizeof(*a));     /* unterminated strings must stay in bounds */
	a->version = PV_ABI_VERSION;
	a->line = 42;
	ck_assert_int_eq(outl(PV_HC_ASSERT, 0x100000), VCPU_STOP);
	ck_assert_int_eq(atomic_load(&vm.end), VM_END_FAILED);
	ck_assert_int_eq(vm.exit_status, PV_STATUS_VM_FAILED);
	ck_assert_ptr_nonnull(strstr(vm.fail_msg, "guest assertion failed"));
	ck_assert_ptr_nonnull(strstr(vm.fail_msg, ":42:"));
}
END_TEST

/* Nothing the guest puts in an assertion reaches stderr or the JSON raw. */
static void assert_printable(const char *s)
{
	for (const char *p = s; *p; p++)
		ck_assert_msg((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f,
			      "byte 0x%02x at %zu of \"%s\"", (unsigned char)*p, (size_t)(p - s), s);
}

START_TEST(assert_escaped)
{
	struct pv_assert *a = gpa(0x100000, sizeof(*a));

	memset(a, 0, sizeof(*a));
	a->version = PV_ABI_VERSION;
	a->line = 7;
	strcpy(a->file, "f\x1b]0;pwned\x07.c");
	strcpy(a->msg, "\x1b[2J\x9b\xff\xc3\nend");
	ck_assert_int_eq(outl(PV_HC_ASSERT, 0x100000), VCPU_STOP);
	assert_printable(vm.fail_msg);
	ck_assert_ptr_nonnull(strstr(vm.fail_msg, "f\\x1b]0;pwned\\x07.c:7: "
				     "\\x1b[2J\\x9b\\xff\\xc3\\x0aend"));
}
END_TEST

START_TEST(console_escaped)
{
	struct pv_puts *p = gpa(0x300000, sizeof(*p));
	uint8_t esc = 0x1b;

	memset(p, 0, sizeof(*p));
	p->version = PV_ABI_VERSION;
	p->len = 8;
	memcpy(p->data, "a\x1b[2J\tb\n", 8);
	outl(PV_HC_PUTS, 0x300000);
	io(PV_PORT_COM1, true, 1, 1, &esc);
	fflush(console_f);
	ck_assert_str_eq(console, "a\\x1b[2J\tb\n\\x1b");
}
END_TEST

START_TEST(fatal_exits)
{
	static const uint32_t reasons[] = { KVM_EXIT_HLT, KVM_EXIT_SHUTDOWN, KVM_EXIT_FAIL_ENTRY,
					    KVM_EXIT_INTERNAL_ERROR, KVM_EXIT_DEBUG };
	static const char *needles[] = { "HLT", "triple fault", "entry failed", "internal error",
					 "KVM_EXIT_DEBUG" };

	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
		atomic_store(&vm.end, VM_RUNNING);
		vm.fail_msg[0] = '\0';
		v.run->exit_reason = reasons[i];
		ck_assert_int_eq(vcpu_handle_exit(&v), VCPU_STOP);
		ck_assert_int_eq(atomic_load(&vm.end), VM_END_FAILED);
		ck_assert_int_eq(vm.exit_status, PV_STATUS_VM_FAILED);
		ck_assert_msg(strstr(vm.fail_msg, needles[i]), "'%s' lacks '%s'", vm.fail_msg,
			      needles[i]);
	}
}
END_TEST

START_TEST(mmio_unknown)
{
	v.run->exit_reason = KVM_EXIT_MMIO;
	v.run->mmio.phys_addr = 0xfee00000;
	v.run->mmio.len = 4;
	v.run->mmio.is_write = 0;
	ck_assert_int_eq(vcpu_handle_exit(&v), VCPU_CONTINUE);
	ck_assert_uint_eq(v.run->mmio.data[0], 0xff);
	v.run->mmio.len = 200;
	ck_assert_int_eq(vcpu_handle_exit(&v), VCPU_CONTINUE);
	ck_assert_uint_eq(v.stats.unknown_mmio, 2);
}
END_TEST

/* The PV MMU ports: setup and doorbell, per vCPU, with their counters. */
START_TEST(balloon_meminfo_hypercalls)
{
	struct pv_meminfo *mi = gpa(0x200000, sizeof(*mi));
	struct pv_balloon *b = gpa(0x300000, sizeof(*b));

	memset(gpa(0x400000, 4 << 20), 0x5a, 4 << 20);
	memset(b, 0, sizeof(*b));       /* its page is allocated before the first meminfo */
	*mi = (struct pv_meminfo){ .version = PV_ABI_VERSION, .status = -1, .swap_bytes = 7 };
	ck_assert_int_eq(outl(PV_HC_MEMINFO, 0x200000), VCPU_CONTINUE);
	ck_assert_int_eq(mi->status, PV_OK);
	ck_assert_uint_eq(mi->ram_bytes, cfg.mem_size);
	ck_assert_uint_ge(mi->allocated_bytes, 4 << 20);
	ck_assert_uint_eq(mi->resident_bytes, mi->allocated_bytes);
	ck_assert_uint_eq(mi->swap_bytes, 0);

	/* inflate [4M, 8M): the host's memory drops by 4M */
	*b = (struct pv_balloon){ .version = PV_ABI_VERSION, .op = PV_BALLOON_INFLATE, .count = 1,
				  .range = { { 0x400000, 4 << 20 } }, .status = -1 };
	ck_assert_int_eq(outl(PV_HC_BALLOON, 0x300000), VCPU_CONTINUE);
	ck_assert_int_eq(b->status, PV_OK);
	ck_assert_uint_eq(b->current_bytes, 4 << 20);
	{
		uint64_t before = mi->allocated_bytes;

		ck_assert_int_eq(outl(PV_HC_MEMINFO, 0x200000), VCPU_CONTINUE);
		ck_assert_uint_le(mi->allocated_bytes + (4 << 20), before);
	}
	ck_assert_uint_eq(atomic_load(&vm.hc.bad), 0);

	/* refused: counted once each, OUT fields only */
	mi->version = PV_ABI_VERSION + 1;
	ck_assert_int_eq(outl(PV_HC_MEMINFO, 0x200000), VCPU_CONTINUE);
	ck_assert_int_eq(mi->status, PV_EVERSION);
	ck_assert_uint_eq(mi->ram_bytes, 0);
	ck_assert_uint_eq(atomic_load(&vm.hc.bad), 1);
	b->op = PV_BALLOON_INFLATE;             /* again: the unit is held */
	ck_assert_int_eq(outl(PV_HC_BALLOON, 0x300000), VCPU_CONTINUE);
	ck_assert_int_eq(b->status, PV_EBUSY);
	ck_assert_uint_eq(b->current_bytes, 4 << 20);
	ck_assert_uint_eq(atomic_load(&vm.hc.bad), 2);
	ck_assert_uint_eq(vm.balloon.c.rejected, 1);
	ck_assert_int_eq(outl(PV_HC_BALLOON, (uint32_t)cfg.mem_size - 8), VCPU_CONTINUE);
	ck_assert_int_eq(outl(PV_HC_MEMINFO, 0xfffffff8u), VCPU_CONTINUE);
	ck_assert_uint_eq(atomic_load(&vm.hc.bad), 4);
	ck_assert_uint_eq(vm.balloon.c.requests, 2);    /* a struct outside RAM is no request */
	ck_assert_uint_eq(atomic_load(&vm.hc.balloon), 3);
	ck_assert_uint_eq(atomic_load(&vm.hc.meminfo), 4);
	ck_assert(!vm_ended(&vm));
}
END_TEST

START_TEST(pvmmu_hypercalls)
{
	struct pv_mmu_setup *s = gpa(0x200000, sizeof(*s));
	struct pv_mmu_ring *r = gpa(0x300000, 64 + 32 * 8);
	uint64_t *pt = gpa(0x13000, 4096);
	struct vcpu v2 = v;
	char buf[32768] = "";
	FILE *f;

	/* a doorbell before setup: nowhere to answer; counted */
	ck_assert_int_eq(outl(PV_HC_MMU_FLUSH, 0), VCPU_CONTINUE);
	ck_assert_uint_eq(vm.pvmmu.c.by_reason[PV_MMU_E_NORING], 1);
	ck_assert_uint_eq(atomic_load(&vm.hc.bad), 1);

	*s = (struct pv_mmu_setup){ .version = 99, .nr_records = 8, .ring_gpa = 0x300000,
				    .status = -1 };
	ck_assert_int_eq(outl(PV_HC_MMU_SETUP, 0x200000), VCPU_CONTINUE);
	ck_assert_int_eq(s->status, PV_EVERSION);
	s->version = PV_ABI_VERSION;
	ck_assert_int_eq(outl(PV_HC_MMU_SETUP, 0x200000), VCPU_CONTINUE);
	ck_assert_int_eq(s->status, PV_OK);
	ck_assert_uint_eq(v.pvmmu_ring.gpa, 0x300000);
	ck_assert_uint_eq(v.pvmmu_ring.nr, 8);
	ck_assert_uint_eq(atomic_load(&vm.hc.bad), 2);

	r->rec[0] = (struct pv_mmu_rec){ .op = PV_MMU_PIN, .level = 1, .ptep = 0x13000 };
	r->rec[1] = (struct pv_mmu_rec){ .op = PV_MMU_SET, .level = 1, .count = 1,
					 .ptep = 0x13000, .val = 0x100000 | PV_PTE_P | PV_PTE_W };
	r->rec[2] = (struct pv_mmu_rec){ .op = PV_MMU_SET, .level = 1, .count = 1,
					 .ptep = 0x13008, .val = 0x13000 | PV_PTE_P | PV_PTE_W };
	r->count = 3;
	ck_assert_int_eq(outl(PV_HC_MMU_FLUSH, 0), VCPU_CONTINUE);
	ck_assert_int_eq(r->status, PV_MMU_OK);
	ck_assert_uint_eq(r->processed, 3);
	ck_assert_uint_eq(r->rejected, 1);
	ck_assert_int_eq(r->rec[2].status, PV_MMU_E_WRPT);
	ck_assert_uint_eq(pt[0], 0x100000 | PV_PTE_P | PV_PTE_W);
	ck_assert_uint_eq(pt[1], 0);
	ck_assert_uint_eq(atomic_load(&vm.hc.bad), 2);  /* a refused record is not a bad call */

	/* the ring is the ringing vCPU's: another one has none */
	memset(&v2.pvmmu_ring, 0, sizeof(v2.pvmmu_ring));
	cur = &v2;
	ck_assert_int_eq(outl(PV_HC_MMU_FLUSH, 0), VCPU_CONTINUE);
	cur = &v;
	ck_assert_uint_eq(vm.pvmmu.c.by_reason[PV_MMU_E_NORING], 2);

	/* a count beyond the ring, a setup struct running off RAM */
	r->count = 9;
	ck_assert_int_eq(outl(PV_HC_MMU_FLUSH, 0), VCPU_CONTINUE);
	ck_assert_int_eq(r->status, PV_MMU_E_RING);
	ck_assert_uint_eq(r->processed, 0);
	ck_assert_int_eq(outl(PV_HC_MMU_SETUP, (uint32_t)cfg.mem_size - 8), VCPU_CONTINUE);
	ck_assert_uint_eq(atomic_load(&vm.hc.bad), 5);
	ck_assert(!vm_ended(&vm));

	f = fmemopen(buf, sizeof(buf) - 1, "w");
	ck_assert_int_eq(vm_write_json(&vm, f, 1000), 0);
	fclose(f);
	ck_assert_ptr_nonnull(strstr(buf, "\"pvmmu\": {"));
	ck_assert_ptr_nonnull(strstr(buf, "\"mode\": \"auto\""));
	ck_assert_ptr_nonnull(strstr(buf, "\"doorbells\": 4"));
	ck_assert_ptr_nonnull(strstr(buf, "\"applied\": 2"));
	ck_assert_ptr_nonnull(strstr(buf, "\"setups\": 2"));
	ck_assert_ptr_nonnull(strstr(buf, "\"no_ring\": 2"));
	ck_assert_ptr_nonnull(strstr(buf, "\"bad_ring\": 1"));
	ck_assert_ptr_nonnull(strstr(buf, "\"bad_op\": 0"));
	f = fmemopen(buf, sizeof(buf) - 1, "w");
	vm_print_table(&vm, f, 1000);
	fclose(f);
	ck_assert_ptr_nonnull(strstr(buf, "pvmmu (auto): doorbells 4, records 3, applied 2, "
				     "rejected 1"));
}
END_TEST

/* No pvmmu line in the table of a guest that never rang. */
START_TEST(pvmmu_table_quiet)
{
	char buf[8192] = "";
	FILE *f = fmemopen(buf, sizeof(buf) - 1, "w");

	vm_print_table(&vm, f, 1000);
	fclose(f);
	ck_assert_ptr_nonnull(strstr(buf, "hypercalls:"));
	ck_assert_ptr_null(strstr(buf, "pvmmu"));
}
END_TEST

static Suite *exit_suite(void)
{
	Suite *s = suite_create("exit");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, serial_output);
	tcase_add_test(tc, unknown_port);
	tcase_add_test(tc, exit_hypercall);
	tcase_add_test(tc, debug_exit);
	tcase_add_test(tc, report_hypercall);
	tcase_add_test(tc, hostile_addresses);
	tcase_add_test(tc, puts_hypercall);
	tcase_add_test(tc, assert_hypercall);
	tcase_add_test(tc, assert_escaped);
	tcase_add_test(tc, console_escaped);
	tcase_add_test(tc, fatal_exits);
	tcase_add_test(tc, mmio_unknown);
	tcase_add_test(tc, pvmmu_hypercalls);
	tcase_add_test(tc, balloon_meminfo_hypercalls);
	tcase_add_test(tc, pvmmu_table_quiet);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return testutil_run(exit_suite());
}
