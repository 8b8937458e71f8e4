/* SPDX-License-Identifier: MIT */
/*
 * pagevisor guest <-> VMM ABI.
 *
 * Self-contained C99, shared by the VMM (host) and the guest kernel.  Every
 * struct has a fixed size checked at compile time.  Guest pointers are gpa
 * values (pv_gpa_t): the host never dereferences them directly, it translates
 * them through its one checked gpa -> hva helper.
 *
 * Hypercalls are 32-bit port writes (outl).  The value written is either a
 * plain argument (exit code) or the guest-physical address of an argument
 * struct, which must lie below 4 GiB and inside guest RAM.  Structs carry an
 * IN part (filled by the guest) and an OUT part (filled by the VMM before the
 * guest resumes).
 */
#ifndef PAGEVISOR_ABI_H
#define PAGEVISOR_ABI_H

#include <stdint.h>

#define PV_ABI_VERSION 2u      /* 2: PV_MMU_RELEASE, the balloon, meminfo */

typedef uint64_t pv_gpa_t;

/* ---- guest-physical layout at entry (all below 1 MiB) ------------------
 *
 *   0x00000000  +----------------------------+
 *               | unused (null page)         |
 *   0x00001000  | boot GDT (flat, 64-bit)    |
 *   0x00002000  | boot PML4                  |
 *   0x00003000  | boot PDPT                  |
 *   0x00004000  | boot PDs, one per GiB of   |
 *               | RAM, 2 MiB identity pages  |
 *   0x00080000  | boot stack (grows down     |
 *               | from PV_BOOT_STACK_TOP)    |
 *   0x00090000  | FDT (at most 64 KiB)       |
 *   0x000a0000  | unused                     |
 *   0x00100000  +----------------------------+
 *               | guest kernel image (ELF    |
 *               | PT_LOAD at p_paddr)        |
 *               | free RAM ...               |
 *   RAM end     +----------------------------+
 */
#define PV_BOOT_GDT_GPA      0x1000u
#define PV_BOOT_PML4_GPA     0x2000u
#define PV_BOOT_PDPT_GPA     0x3000u
#define PV_BOOT_PD_GPA       0x4000u
#define PV_BOOT_PD_MAX       64u        /* PDs between 0x4000 and 0x44000 */
#define PV_BOOT_STACK_TOP    0x90000u
#define PV_BOOT_FDT_GPA      0x90000u
#define PV_BOOT_FDT_MAX      0x10000u
#define PV_IMAGE_MIN_GPA     0x100000u  /* PT_LOAD segments start here or above */

#define PV_RAM_ALIGN         (2u << 20)           /* RAM is a multiple of 2 MiB */
#define PV_RAM_MIN           (4ull << 20)
#define PV_RAM_MAX           ((uint64_t)PV_BOOT_PD_MAX << 30)

/*
 * Entry state: 64-bit mode, paging on with the identity map above (covering
 * all of RAM), CR0 = PE|MP|ET|NE|WP|PG, CR4 = PAE, EFER = LME|LMA|NXE, flat
 * GDT (code 0x08, data 0x10), no IDT, interrupts off, RIP = ELF entry,
 * RDI = PV_BOOT_FDT_GPA, RSP = PV_BOOT_STACK_TOP.  SSE is the guest's to
 * enable (CR0.EM is clear; CR4.OSFXSR is not set).
 */
#define PV_BOOT_CS           0x08u
#define PV_BOOT_DS           0x10u

/* ---- ports ------------------------------------------------------------- */
#define PV_PORT_COM1         0x3f8u     /* 16550 UART, 8 registers */
#define PV_PORT_DEBUG_EXIT   0xf4u      /* QEMU isa-debug-exit: status (v << 1) | 1 */

#define PV_PORT_HC_BASE      0x510u     /* our hypercall range */
#define PV_PORT_HC_COUNT     0x10u
#define PV_HC_EXIT           (PV_PORT_HC_BASE + 0x0) /* outl code: VM exits, status = code & 0xff */
#define PV_HC_REPORT         (PV_PORT_HC_BASE + 0x1) /* outl gpa of struct pv_report */
#define PV_HC_ASSERT         (PV_PORT_HC_BASE + 0x2) /* outl gpa of struct pv_assert: VM fails */
#define PV_HC_PUTS           (PV_PORT_HC_BASE + 0x3) /* outl gpa of struct pv_puts */
/* 0x4, 0x5: the PV MMU channel (pagevisor/pvmmu.h) */
#define PV_HC_BALLOON        (PV_PORT_HC_BASE + 0x6) /* outl gpa of struct pv_balloon */
#define PV_HC_MEMINFO        (PV_PORT_HC_BASE + 0x7) /* outl gpa of struct pv_meminfo */
/*
 * Never registered by the VMM: writes there are counted as unknown-port
 * exits and otherwise ignored.  The exitloop workload uses it to measure the
 * bare cost of an exit.
 */
#define PV_PORT_UNUSED       0x7f0u

/* ---- hypercall argument structs ---------------------------------------- */

/* Status values the VMM writes into OUT fields. */
#define PV_OK                0
#define PV_EINVAL            1  /* malformed struct (bad count, key, length) */
#define PV_EFAULT            2  /* gpa not inside guest RAM */
#define PV_EVERSION          3  /* unknown ABI version */
#define PV_EBUSY             4  /* the memory is in use (pinned tables, a ring) or in the
				   wrong state (inflating an inflated unit, deflating one
				   that is not) */

#define PV_METRIC_KEY_MAX    48
#define PV_REPORT_MAX        16

/*
 * One metric: key is NUL-terminated, [a-z0-9_] only.  The VMM's JSON shows it
 * as guest.<key> = value / 10^decimals (decimals 0..9).
 */
struct pv_metric {
	char key[PV_METRIC_KEY_MAX];
	int64_t value;
	uint32_t decimals;
	uint32_t reserved;
};
_Static_assert(sizeof(struct pv_metric) == 64, "pv_metric ABI");

struct pv_report {
	/* IN */
	uint32_t version;               /* PV_ABI_VERSION */
	uint32_t count;                 /* 1..PV_REPORT_MAX */
	struct pv_metric metric[PV_REPORT_MAX];
	/* OUT */
	int32_t status;                 /* PV_OK, or the first error */
	uint32_t accepted;              /* metrics stored */
};
_Static_assert(sizeof(struct pv_report) == 8 + 64 * PV_REPORT_MAX + 8, "pv_report ABI");

#define PV_ASSERT_FILE_MAX   64
#define PV_ASSERT_MSG_MAX    184

/* A guest assertion or an unhandled exception: the VM fails with it. */
struct pv_assert {
	/* IN */
	uint32_t version;
	uint32_t line;
	char file[PV_ASSERT_FILE_MAX];  /* NUL-terminated */
	char msg[PV_ASSERT_MSG_MAX];    /* NUL-terminated */
};
_Static_assert(sizeof(struct pv_assert) == 256, "pv_assert ABI");

#define PV_PUTS_MAX          240

/* Console output in one exit: the VMM writes len bytes to its stdout. */
struct pv_puts {
	/* IN */
	uint32_t version;
	uint32_t len;                   /* 0..PV_PUTS_MAX */
	char data[PV_PUTS_MAX];
	/* OUT */
	int32_t status;
	uint32_t reserved;
};
_Static_assert(sizeof(struct pv_puts) == 256, "pv_puts ABI");

/*
 * The balloon: the guest gives RAM back to the host and takes it again, in
 * aligned 2 MiB units (a host huge page stays whole).  The VMM sets a target
 * (`vmm --balloon SIZE`) that QUERY returns; the guest follows it.
 *
 * INFLATE: the ranges' contents are dead; the VMM drops them from host memory
 * and from swap, and the balloon holds them.  DEFLATE: the balloon lets them
 * go; they read as zeros.  A request is validated whole before anything
 * changes: each range 2 MiB-aligned with a nonzero size that is a multiple
 * of 2 MiB (PV_EINVAL), inside RAM (PV_EFAULT), no two ranges overlapping
 * (PV_EINVAL), no pinned page table or PV MMU ring inside, every unit not
 * yet inflated (INFLATE) or inflated (DEFLATE) (PV_EBUSY).  Touching
 * inflated memory is allowed: the host backs it again (it stays counted in
 * the balloon until deflated).
 */
#define PV_BALLOON_UNIT      (2ull << 20)
#define PV_BALLOON_RANGES    16u

enum pv_balloon_op {
	PV_BALLOON_QUERY = 0,   /* count 0: only the OUT part */
	PV_BALLOON_INFLATE = 1,
	PV_BALLOON_DEFLATE = 2,
};

struct pv_balloon_range {
	pv_gpa_t gpa;
	uint64_t size;
};

struct pv_balloon {
	/* IN */
	uint32_t version;
	uint32_t op;                    /* enum pv_balloon_op */
	uint32_t count;                 /* ranges: 0 for QUERY, else 1..PV_BALLOON_RANGES */
	uint32_t reserved;
	struct pv_balloon_range range[PV_BALLOON_RANGES];
	/* OUT */
	int32_t status;                 /* PV_OK, PV_EVERSION, PV_EINVAL, PV_EFAULT, PV_EBUSY */
	uint32_t reserved1;
	uint64_t target_bytes;          /* what the VMM asks the balloon to hold */
	uint64_t current_bytes;         /* what it holds, after this request */
};
_Static_assert(sizeof(struct pv_balloon) == 16 + 16 * PV_BALLOON_RANGES + 24, "pv_balloon ABI");

/*
 * What guest RAM costs the host now, for workloads that check that memory
 * they released or ballooned really went back.
 */
struct pv_meminfo {
	/* IN */
	uint32_t version;
	uint32_t reserved;
	/* OUT */
	int32_t status;                 /* PV_OK, PV_EVERSION */
	uint32_t reserved1;
	uint64_t ram_bytes;             /* guest RAM */
	uint64_t allocated_bytes;       /* host memory holding it (the memfd's st_blocks * 512;
					   --anon-ram: the mapping's resident pages) */
	uint64_t resident_bytes;        /* swap mode: pages in memory by its count; else allocated */
	uint64_t swap_bytes;            /* swap mode: slots holding a copy; else 0 */
};
_Static_assert(sizeof(struct pv_meminfo) == 48, "pv_meminfo ABI");

/* ---- FDT --------------------------------------------------------------- */
/*
 * /memory@0          device_type = "memory", reg = <addr size> (2 cells each)
 * /chosen            bootargs = the guest command line
 * /cpus/cpu@N        device_type = "cpu", reg = <N>
 * /pagevisor         compatible = "pagevisor,abi"; the u32 properties below
 */
#define PV_FDT_NODE          "/pagevisor"
#define PV_FDT_COMPATIBLE    "pagevisor,abi"
#define PV_FDT_ABI_VERSION   "abi-version"
#define PV_FDT_TSC_KHZ       "tsc-khz"
#define PV_FDT_PORT_CONSOLE  "port-console"
#define PV_FDT_PORT_DEBUG_EXIT "port-debug-exit"
#define PV_FDT_PORT_HC_BASE  "port-hypercall-base"
#define PV_FDT_PORT_UNUSED   "port-unused"

/* ---- VMM exit status --------------------------------------------------- */
/*
 * 0..255  the guest's own code (PV_HC_EXIT: code & 0xff; debug-exit: (v<<1)|1)
 * 2       bad usage or bad input file (the VMM never started the guest)
 * 3       the VM failed: guest assertion or exception, triple fault,
 *         KVM internal error, failed entry, halt without exit, KVM error
 * 4       the run ended but its report (--stats) could not be written
 * Guest workloads exit 0 when their checks hold and 1 when they do not.
 */
#define PV_STATUS_USAGE      2
#define PV_STATUS_VM_FAILED  3
#define PV_STATUS_REPORT     4

#endif /* PAGEVISOR_ABI_H */
