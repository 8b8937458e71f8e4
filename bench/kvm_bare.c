/* SPDX-License-Identifier: MIT */
/*
 * kvm_bare: the floor for an IO exit round trip.  A minimal KVM user: one
 * memslot, hand-built 64-bit state, a guest that is nothing but
 *     1: out %al,(%dx); dec %ecx; jnz 1b; hlt
 * and a run loop that does nothing on an exit but count it.  bench/exit_cost
 * compares vmm's exitloop workload against this, in the same run.
 *
 * usage: kvm_bare [-n N] [-c 0|3]     prints "ns_per_exit=<float> exits=<n>"
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define MEM_SIZE   (4UL << 20)
#define PML4_GPA   0x1000UL
#define PDPT_GPA   0x2000UL
#define PD_GPA     0x3000UL
#define CODE_GPA   0x10000UL
#define BENCH_PORT 0x7f0

static int xioctl(int fd, unsigned long req, void *arg, const char *name)
{
	int r = ioctl(fd, req, arg);

	if (r < 0)
		fprintf(stderr, "kvm_bare: %s: %s\n", name, strerror(errno));
	return r;
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void set_seg(struct kvm_segment *s, uint16_t sel, int code, int dpl)
{
	memset(s, 0, sizeof(*s));
	s->selector = sel | dpl;
	s->limit = 0xffffffff;
	s->present = 1;
	s->s = 1;
	s->dpl = dpl;
	s->g = 1;
	s->type = code ? 0xb : 0x3;
	s->l = code;
	s->db = !code;
}

int main(int argc, char **argv)
{
	unsigned long n = 100000;
	int cpl = 0, opt;

	while ((opt = getopt(argc, argv, "n:c:")) != -1) {
		if (opt == 'n')
			n = strtoul(optarg, NULL, 0);
		else if (opt == 'c')
			cpl = atoi(optarg);
		else {
			fprintf(stderr, "usage: kvm_bare [-n N] [-c 0|3]\n");
			return 2;
		}
	}
	if (n == 0 || n > 0xffffffffUL || (cpl != 0 && cpl != 3)) {
		fprintf(stderr, "kvm_bare: -n must be 1..2^32-1 and -c 0 or 3\n");
		return 2;
	}

	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0) {
		fprintf(stderr, "kvm_bare: open /dev/kvm: %s\n", strerror(errno));
		return 1;
	}
	int vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0) {
		fprintf(stderr, "kvm_bare: KVM_CREATE_VM: %s\n", strerror(errno));
		return 1;
	}
	uint8_t *mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return 1;
	struct kvm_userspace_memory_region slot = {
		.slot = 0, .guest_phys_addr = 0, .memory_size = MEM_SIZE,
		.userspace_addr = (uintptr_t)mem,
	};
	if (xioctl(vm, KVM_SET_USER_MEMORY_REGION, &slot, "KVM_SET_USER_MEMORY_REGION"))
		return 1;

	/* identity map of the first 2 MiB, user-accessible */
	uint64_t *pml4 = (uint64_t *)(mem + PML4_GPA);
	uint64_t *pdpt = (uint64_t *)(mem + PDPT_GPA);
	uint64_t *pd = (uint64_t *)(mem + PD_GPA);
	pml4[0] = PDPT_GPA | 7;
	pdpt[0] = PD_GPA | 7;
	pd[0] = 0 | 0x87;

	static const uint8_t code[] = {
		0xee,             /* out %al,(%dx) */
		0xff, 0xc9,       /* dec %ecx */
		0x75, 0xfb,       /* jnz -5 */
		0xf4,             /* hlt (at CPL3: #GP, which also ends the run) */
	};
	memcpy(mem + CODE_GPA, code, sizeof(code));

	int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	if (vcpu < 0) {
		fprintf(stderr, "kvm_bare: KVM_CREATE_VCPU: %s\n", strerror(errno));
		return 1;
	}
	int run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	struct kvm_run *run = mmap(NULL, run_size, PROT_READ | PROT_WRITE,
				   MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED)
		return 1;

	struct kvm_sregs sregs;
	if (xioctl(vcpu, KVM_GET_SREGS, &sregs, "KVM_GET_SREGS"))
		return 1;
	set_seg(&sregs.cs, 0x8, 1, cpl);
	set_seg(&sregs.ds, 0x10, 0, cpl);
	sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
	sregs.cr3 = PML4_GPA;
	sregs.cr4 = 1u << 5;                   /* PAE */
	sregs.cr0 = 0x80000001u | (1u << 16);  /* PG, PE, WP */
	sregs.efer = (1u << 8) | (1u << 10);   /* LME, LMA */
	if (xioctl(vcpu, KVM_SET_SREGS, &sregs, "KVM_SET_SREGS"))
		return 1;
	struct kvm_regs regs = {
		.rip = CODE_GPA, .rcx = n, .rdx = BENCH_PORT, .rsp = 0x8000,
		.rflags = 0x2 | (3u << 12),         /* IOPL 3 */
	};
	if (xioctl(vcpu, KVM_SET_REGS, &regs, "KVM_SET_REGS"))
		return 1;

	unsigned long exits = 0;
	double t0 = now_ns();
	for (;;) {
		if (ioctl(vcpu, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			fprintf(stderr, "kvm_bare: KVM_RUN: %s\n", strerror(errno));
			return 1;
		}
		if (run->exit_reason != KVM_EXIT_IO)
			break;
		exits++;
		if (exits == n)
			break;
	}
	double t1 = now_ns();
	if (exits != n) {
		fprintf(stderr, "kvm_bare: unexpected exit reason %u after %lu exits\n",
			run->exit_reason, exits);
		return 1;
	}
	printf("ns_per_exit=%.1f exits=%lu cpl=%d\n", (t1 - t0) / exits, exits, cpl);
	return 0;
}
