/* SPDX-License-Identifier: MIT */
/*
 * Our hypercall ports.  Each takes a 32-bit write: an exit code, or the gpa
 * of an argument struct.  The struct is copied out of guest RAM once (the
 * guest may change it behind our back), validated, and its OUT fields are
 * written back through the same checked access (guestmem_get/put: in swap
 * mode the struct may have been swapped out).  A bad request is
 * counted in hc.bad and otherwise ignored: never a crash, never a write
 * outside guest RAM.
 */
#include "vmm/dev/devices.h"

#include <stdio.h>
#include <string.h>

#include "pagevisor/abi.h"
#include "pagevisor/pvmmu.h"
#include "vmm/escape.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"

/* Copy @len bytes at @gpa into @dst; false (and counted) when outside RAM. */
static bool hc_copy_in(struct vm *vm, void *dst, uint64_t gpa, size_t len)
{
	const void *src = guestmem_get(&vm->mem, gpa, len, false);

	if (!src) {
		atomic_fetch_add(&vm->hc.bad, 1);
		return false;
	}
	memcpy(dst, src, len);
	guestmem_put(&vm->mem, gpa, len);
	return true;
}

/* Write an OUT field back at @gpa + @off. */
static void hc_copy_out(struct vm *vm, uint64_t gpa, size_t off, const void *src, size_t len)
{
	void *dst = guestmem_get(&vm->mem, gpa + off, len, true);

	if (dst) {
		memcpy(dst, src, len);
		guestmem_put(&vm->mem, gpa + off, len);
	}
}

static void hc_report(struct vm *vm, uint64_t gpa)
{
	struct pv_report r;
	int32_t status;
	uint32_t accepted;

	atomic_fetch_add(&vm->hc.report, 1);
	if (!hc_copy_in(vm, &r, gpa, sizeof(r)))
		return;
	status = report_apply(&vm->reports, &r, &accepted);
	if (status != PV_OK)
		atomic_fetch_add(&vm->hc.bad, 1);
	hc_copy_out(vm, gpa, offsetof(struct pv_report, status), &status, sizeof(status));
	hc_copy_out(vm, gpa, offsetof(struct pv_report, accepted), &accepted, sizeof(accepted));
}

static void hc_assert(struct vm *vm, uint64_t gpa)
{
	char file[PV_ASSERT_FILE_MAX * ESCAPE_MAX_PER_BYTE];
	char msg[PV_ASSERT_MSG_MAX * ESCAPE_MAX_PER_BYTE];
	struct pv_assert a;

	atomic_fetch_add(&vm->hc.assert_fail, 1);
	if (!hc_copy_in(vm, &a, gpa, sizeof(a))) {
		vm_end(vm, VM_END_FAILED, PV_STATUS_VM_FAILED,
		       "guest assertion failed (its report at gpa 0x%llx is outside RAM)",
		       (unsigned long long)gpa);
		return;
	}
	/* the guest's bytes reach stderr and the JSON: printable ASCII only */
	escape_text(file, sizeof(file), a.file, strnlen(a.file, sizeof(a.file)), false);
	escape_text(msg, sizeof(msg), a.msg, strnlen(a.msg, sizeof(a.msg)), false);
	vm_end(vm, VM_END_FAILED, PV_STATUS_VM_FAILED, "guest assertion failed: %s:%u: %s",
	       file, a.line, msg);
}

static void hc_puts(struct vm *vm, uint64_t gpa)
{
	struct pv_puts p;
	int32_t status = PV_OK;

	atomic_fetch_add(&vm->hc.puts, 1);
	if (!hc_copy_in(vm, &p, gpa, sizeof(p)))
		return;
	if (p.version != PV_ABI_VERSION)
		status = PV_EVERSION;
	else if (p.len > PV_PUTS_MAX)
		status = PV_EINVAL;
	else
		vm_console_write(vm, p.data, p.len);
	if (status != PV_OK)
		atomic_fetch_add(&vm->hc.bad, 1);
	hc_copy_out(vm, gpa, offsetof(struct pv_puts, status), &status, sizeof(status));
}

/* Register the calling vCPU's ring of the paravirtual MMU channel. */
static void hc_mmu_setup(struct vm *vm, struct vcpu *vcpu, uint64_t gpa)
{
	struct pv_mmu_setup s;
	int32_t status;

	if (!hc_copy_in(vm, &s, gpa, sizeof(s)))
		return;
	status = pvmmu_setup(&vm->pvmmu, &vcpu->pvmmu_ring, &s);
	if (status != PV_OK)
		atomic_fetch_add(&vm->hc.bad, 1);
	hc_copy_out(vm, gpa, offsetof(struct pv_mmu_setup, status), &status, sizeof(status));
}

/* Give memory back to the host, or take it again, in 2 MiB units. */
static void hc_balloon(struct vm *vm, uint64_t gpa)
{
	struct pv_balloon b;
	size_t out = offsetof(struct pv_balloon, status);

	atomic_fetch_add(&vm->hc.balloon, 1);
	if (!hc_copy_in(vm, &b, gpa, sizeof(b)))
		return;
	if (balloon_request(&vm->balloon, &b) != PV_OK)
		atomic_fetch_add(&vm->hc.bad, 1);
	hc_copy_out(vm, gpa, out, (const uint8_t *)&b + out, sizeof(b) - out);
}

/* What guest RAM costs the host now. */
static void hc_meminfo(struct vm *vm, uint64_t gpa)
{
	struct pv_meminfo mi;
	struct guestmem_usage u;
	size_t out = offsetof(struct pv_meminfo, status);

	atomic_fetch_add(&vm->hc.meminfo, 1);
	if (!hc_copy_in(vm, &mi, gpa, sizeof(mi)))
		return;
	memset((uint8_t *)&mi + out, 0, sizeof(mi) - out);
	mi.status = PV_OK;
	if (mi.version != PV_ABI_VERSION)
		mi.status = PV_EVERSION;
	else if (guestmem_usage(&vm->mem, &u))
		mi.status = PV_EFAULT;
	if (mi.status != PV_OK) {
		atomic_fetch_add(&vm->hc.bad, 1);
	} else {
		mi.ram_bytes = vm->mem.size;
		mi.allocated_bytes = u.allocated;
		mi.resident_bytes = u.resident;
		mi.swap_bytes = u.swap;
	}
	hc_copy_out(vm, gpa, out, (const uint8_t *)&mi + out, sizeof(mi) - out);
}

static void hypercall_io(struct vcpu *vcpu, void *opaque, uint64_t off, uint8_t *data,
			 uint32_t len, bool is_write)
{
	struct vm *vm = opaque;
	uint32_t v;

	if (!is_write)
		return;         /* reads return 0 */
	if (len != 4) {
		atomic_fetch_add(&vm->hc.bad, 1);
		return;
	}
	memcpy(&v, data, 4);
	switch (PV_PORT_HC_BASE + off) {
	case PV_HC_EXIT:
		atomic_fetch_add(&vm->hc.exit, 1);
		vm_end(vm, VM_END_GUEST, (int)(v & 0xff), "guest exited with code %u", v);
		break;
	case PV_HC_REPORT:
		hc_report(vm, v);
		break;
	case PV_HC_ASSERT:
		hc_assert(vm, v);
		break;
	case PV_HC_PUTS:
		hc_puts(vm, v);
		break;
	case PV_HC_MMU_SETUP:
		hc_mmu_setup(vm, vcpu, v);
		break;
	case PV_HC_BALLOON:
		hc_balloon(vm, v);
		break;
	case PV_HC_MEMINFO:
		hc_meminfo(vm, v);
		break;
	case PV_HC_MMU_FLUSH:   /* the value is ignored: the ring is the vCPU's */
		if (pvmmu_doorbell(&vm->pvmmu, &vcpu->pvmmu_ring) != PV_MMU_OK)
			atomic_fetch_add(&vm->hc.bad, 1);
		break;
	default:
		atomic_fetch_add(&vm->hc.bad, 1);
		break;
	}
}

int hypercall_register(struct vm *vm)
{
	return iobus_register(&vm->bus, IOBUS_PIO, PV_PORT_HC_BASE, PV_PORT_HC_COUNT,
			      hypercall_io, vm, "hypercall");
}
