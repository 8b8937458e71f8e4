/* SPDX-License-Identifier: MIT */
#include "vmm/prefault.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "vmm/kvm.h"
#include "vmm/vcpu.h"

void prefault_init(struct prefault *pf, const struct guestmem *mem, bool on)
{
	memset(pf, 0, sizeof(*pf));
	pf->mem = mem;
	pf->on = on;
	atomic_init(&pf->populate, on);
	atomic_init(&pf->kvm, false);
}

void prefault_use_kvm(struct prefault *pf)
{
	atomic_store(&pf->kvm, pf->on);
}

/* The pager's hook: the doorbell runs on its vCPU's thread, whose fd KVM needs. */
static void prefault_hook(void *ctx, uint64_t first, uint64_t n)
{
	prefault_run(ctx, vcpu_current_fd(), first, n);
}

struct guestmem_pager prefault_pager(struct prefault *pf)
{
	return (struct guestmem_pager){ .prefault = prefault_hook, .ctx = pf };
}

/* A method the host refuses is dropped once, with one line; the rest go on. */
static void prefault_drop(atomic_bool *method, const char *what, int err)
{
	if (atomic_exchange(method, false))
		fprintf(stderr, "vmm: %s: %s: prefault goes on without it\n", what, strerror(err));
}

/* KVM_PRE_FAULT_MEMORY over [gpa, gpa + len) on this vCPU; a signal ends it early. */
static int prefault_stage2(int vcpu_fd, uint64_t gpa, uint64_t len)
{
	struct kvm_pre_fault_memory r = { .gpa = gpa, .size = len };

	while (r.size) {
		uint64_t before = r.size;

		if (ioctl(vcpu_fd, KVM_PRE_FAULT_MEMORY, &r) < 0)
			return errno == EINTR || errno == EAGAIN ? 0 : -errno;
		if (r.size >= before)
			return -EPROTO;         /* success must make progress */
	}
	return 0;
}

void prefault_run(struct prefault *pf, int vcpu_fd, uint64_t first, uint64_t n)
{
	uint64_t ram = pf->mem->size >> 12, gpa, len;
	int ret;

	if (!pf->on || !n)
		return;
	if (first >= ram) {
		atomic_fetch_add(&pf->errors, 1);
		return;
	}
	/* a large leaf (2 MiB, 1 GiB) may reach past the end of RAM: only RAM is brought in */
	if (n > ram - first)
		n = ram - first;
	gpa = first << 12;
	len = n << 12;
	atomic_fetch_add(&pf->runs, 1);
	atomic_fetch_add(&pf->pages, n);
	if (atomic_load(&pf->populate) && (ret = guestmem_populate(pf->mem, gpa, len))) {
		atomic_fetch_add(&pf->errors, 1);
		if (ret == -EINVAL)     /* a kernel before 5.14 */
			prefault_drop(&pf->populate, "madvise(MADV_POPULATE_WRITE) of guest RAM", -ret);
	}
	if (vcpu_fd >= 0 && atomic_load(&pf->kvm) && (ret = prefault_stage2(vcpu_fd, gpa, len))) {
		atomic_fetch_add(&pf->errors, 1);
		if (ret != -ENOMEM && ret != -EFAULT && ret != -EHWPOISON)
			prefault_drop(&pf->kvm, "KVM_PRE_FAULT_MEMORY", -ret);
	}
}

int prefault_all(struct prefault *pf, int vcpu_fd, bool kvm)
{
	uint64_t len = pf->mem->size;
	int ret = guestmem_populate(pf->mem, 0, len);

	if (ret) {
		fprintf(stderr, "vmm: --prealloc: madvise(MADV_POPULATE_WRITE) of %llu bytes of guest "
			"RAM: %s\n", (unsigned long long)len, strerror(-ret));
		return ret;
	}
	if (kvm && vcpu_fd >= 0 && (ret = prefault_stage2(vcpu_fd, 0, len)))
		fprintf(stderr, "vmm: --prealloc: KVM_PRE_FAULT_MEMORY: %s (the guest's touches "
			"build stage 2)\n", strerror(-ret));
	pf->all = true;
	return 0;
}

static const char *prefault_method(const struct prefault *pf)
{
	bool pop = atomic_load(&pf->populate), kvm = atomic_load(&pf->kvm);

	return kvm ? (pop ? "populate+kvm" : "kvm") : pop ? "populate" : "none";
}

unsigned prefault_metrics(const struct prefault *pf, struct metric *m, unsigned max)
{
	struct metric all[PREFAULT_METRICS] = {
		METRIC_STR_AT("prefault", "mode", pf->on ? "on" : "off"),
		METRIC_STR_AT("prefault", "method", prefault_method(pf)),
		METRIC_STR_AT("prefault", "prealloc", pf->all ? "on" : "off"),
		METRIC_U64_AT("prefault", "runs", atomic_load(&pf->runs)),
		METRIC_U64_AT("prefault", "pages", atomic_load(&pf->pages)),
		METRIC_U64_AT("prefault", "errors", atomic_load(&pf->errors)),
	};
	unsigned k = max < PREFAULT_METRICS ? max : PREFAULT_METRICS;

	memcpy(m, all, k * sizeof(*m));
	return PREFAULT_METRICS;
}
