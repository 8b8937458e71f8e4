/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <libfdt.h>
#include <stdlib.h>
#include <string.h>

#include "pagevisor/abi.h"
#include "pagevisor/pvmmu.h"
#include "testutil.h"
#include "vmm/dtb.h"

static _Alignas(8) uint8_t blob[PV_BOOT_FDT_MAX];

static int node(const char *path)
{
	int off = fdt_path_offset(blob, path);

	ck_assert_msg(off >= 0, "%s: %s", path, fdt_strerror(off));
	return off;
}

static const void *prop(const char *path, const char *name, int *len)
{
	const void *v = fdt_getprop(blob, node(path), name, len);

	ck_assert_msg(v, "%s:%s: %s", path, name, fdt_strerror(*len));
	return v;
}

static void prop_str(const char *path, const char *name, const char *want)
{
	int len;
	const char *v = prop(path, name, &len);

	ck_assert_int_eq(len, (int)strlen(want) + 1);
	ck_assert_str_eq(v, want);
}

static void prop_u32(const char *path, const char *name, uint32_t want)
{
	int len;
	const fdt32_t *v = prop(path, name, &len);

	ck_assert_int_eq(len, 4);
	ck_assert_uint_eq(fdt32_to_cpu(*v), want);
}

static int build(uint64_t mem, const char *bootargs, unsigned cpus, uint32_t tsc)
{
	struct dtb_params p = {
		.mem_size = mem, .bootargs = bootargs, .cpus = cpus, .tsc_khz = tsc,
		.pv_mmu = "batched",
	};

	memset(blob, 0xff, sizeof(blob));
	return dtb_build(blob, sizeof(blob), &p);
}

START_TEST(all_nodes_and_properties)
{
	const fdt32_t *reg;
	int size, len;

	size = build(0x123400000ull, "workload=exitloop iters=1000", 3, 2995200);
	ck_assert_int_gt(size, 0);
	ck_assert_int_le(size, PV_BOOT_FDT_MAX);
	ck_assert_int_eq(fdt_check_header(blob), 0);
	ck_assert_int_eq(fdt_totalsize(blob), size);

	prop_u32("/", "#address-cells", 2);
	prop_u32("/", "#size-cells", 2);
	prop_str("/", "compatible", "pagevisor,virt");

	node("/memory@0");
	ck_assert_int_eq(node("/memory"), node("/memory@0"));
	prop_str("/memory@0", "device_type", "memory");
	reg = prop("/memory@0", "reg", &len);
	ck_assert_int_eq(len, 16);
	ck_assert_uint_eq(fdt32_to_cpu(reg[0]), 0);
	ck_assert_uint_eq(fdt32_to_cpu(reg[1]), 0);
	ck_assert_uint_eq(fdt32_to_cpu(reg[2]), 0x1);
	ck_assert_uint_eq(fdt32_to_cpu(reg[3]), 0x23400000);

	prop_str("/chosen", "bootargs", "workload=exitloop iters=1000");

	prop_u32("/cpus", "#address-cells", 1);
	prop_u32("/cpus", "#size-cells", 0);
	prop_str("/cpus/cpu@0", "device_type", "cpu");
	prop_u32("/cpus/cpu@0", "reg", 0);
	prop_str("/cpus/cpu@2", "device_type", "cpu");
	prop_u32("/cpus/cpu@2", "reg", 2);
	ck_assert_int_eq(fdt_path_offset(blob, "/cpus/cpu@3"), -FDT_ERR_NOTFOUND);

	prop_str(PV_FDT_NODE, "compatible", PV_FDT_COMPATIBLE);
	ck_assert_int_eq(fdt_node_offset_by_compatible(blob, -1, PV_FDT_COMPATIBLE),
			 node(PV_FDT_NODE));
	prop_u32(PV_FDT_NODE, PV_FDT_ABI_VERSION, PV_ABI_VERSION);
	prop_u32(PV_FDT_NODE, PV_FDT_TSC_KHZ, 2995200);
	prop_u32(PV_FDT_NODE, PV_FDT_PORT_CONSOLE, PV_PORT_COM1);
	prop_u32(PV_FDT_NODE, PV_FDT_PORT_DEBUG_EXIT, PV_PORT_DEBUG_EXIT);
	prop_u32(PV_FDT_NODE, PV_FDT_PORT_HC_BASE, PV_PORT_HC_BASE);
	prop_u32(PV_FDT_NODE, PV_FDT_PORT_UNUSED, PV_PORT_UNUSED);
	prop_str(PV_FDT_NODE, PV_FDT_PV_MMU, "batched");
}
END_TEST

START_TEST(null_bootargs_is_empty)
{
	struct dtb_params p = { .mem_size = 4 << 20, .cpus = 1 };

	ck_assert_int_gt(dtb_build(blob, sizeof(blob), &p), 0);
	prop_str("/chosen", "bootargs", "");
	prop_str(PV_FDT_NODE, PV_FDT_PV_MMU, "auto");       /* no mode given */
	ck_assert_int_eq(fdt_path_offset(blob, "/cpus/cpu@1"), -FDT_ERR_NOTFOUND);
}
END_TEST

START_TEST(long_bootargs_nospace)
{
	struct dtb_params p = { .mem_size = 4 << 20, .cpus = 1 };
	static char big[PV_BOOT_FDT_MAX + 1];
	_Alignas(8) uint8_t small[512];

	memset(big, 'a', sizeof(big) - 1);
	p.bootargs = big;
	ck_assert_int_eq(dtb_build(blob, sizeof(blob), &p), -ENOSPC);

	big[300] = 0;
	ck_assert_int_eq(dtb_build(small, sizeof(small), &p), -ENOSPC);
	ck_assert_int_eq(dtb_build(small, 16, &p), -ENOSPC);
	ck_assert_int_gt(dtb_build(blob, sizeof(blob), &p), 0);
	prop_str("/chosen", "bootargs", big);
}
END_TEST

START_TEST(bad_params)
{
	struct dtb_params p = { .mem_size = 4 << 20, .cpus = 1, .bootargs = "" };

	ck_assert_int_eq(dtb_build(NULL, sizeof(blob), &p), -EINVAL);
	ck_assert_int_eq(dtb_build(blob, sizeof(blob), NULL), -EINVAL);
	p.cpus = 0;
	ck_assert_int_eq(dtb_build(blob, sizeof(blob), &p), -EINVAL);
	p.cpus = 1;
	p.mem_size = 0;
	ck_assert_int_eq(dtb_build(blob, sizeof(blob), &p), -EINVAL);
}
END_TEST

START_TEST(many_cpus_fit)
{
	int size = build(PV_RAM_MAX, "", 255, 1000000);

	ck_assert_int_gt(size, 0);
	ck_assert_int_le(size, PV_BOOT_FDT_MAX);
	prop_u32("/cpus/cpu@254", "reg", 254);
}
END_TEST

static Suite *dtb_suite(void)
{
	Suite *s = suite_create("dtb");
	TCase *tc = tcase_create("build");

	tcase_add_test(tc, all_nodes_and_properties);
	tcase_add_test(tc, null_bootargs_is_empty);
	tcase_add_test(tc, long_bootargs_nospace);
	tcase_add_test(tc, bad_params);
	tcase_add_test(tc, many_cpus_fit);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return testutil_run(dtb_suite());
}
