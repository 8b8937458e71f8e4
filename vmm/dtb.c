/* SPDX-License-Identifier: MIT */
#include "vmm/dtb.h"

#include <errno.h>
#include <libfdt.h>
#include <limits.h>
#include <stdio.h>

#include "pagevisor/abi.h"
#include "pagevisor/pvmmu.h"

/* Far above what KVM gives one VM; keeps the node loop bounded. */
#define DTB_CPUS_MAX	4096u

static int dtb_errno(int fdt_err)
{
	return fdt_err == -FDT_ERR_NOSPACE ? -ENOSPC : -EINVAL;
}

static int dtb_memory(void *fdt, uint64_t size)
{
	uint64_t reg[2] = { cpu_to_fdt64(0), cpu_to_fdt64(size) };
	int ret;

	ret = fdt_begin_node(fdt, "memory@0");
	ret = ret ?: fdt_property_string(fdt, "device_type", "memory");
	ret = ret ?: fdt_property(fdt, "reg", reg, sizeof(reg));
	return ret ?: fdt_end_node(fdt);
}

static int dtb_cpus(void *fdt, unsigned cpus)
{
	char name[32];
	unsigned i;
	int ret;

	ret = fdt_begin_node(fdt, "cpus");
	ret = ret ?: fdt_property_u32(fdt, "#address-cells", 1);
	ret = ret ?: fdt_property_u32(fdt, "#size-cells", 0);
	for (i = 0; !ret && i < cpus; i++) {
		snprintf(name, sizeof(name), "cpu@%u", i);
		ret = fdt_begin_node(fdt, name);
		ret = ret ?: fdt_property_string(fdt, "device_type", "cpu");
		ret = ret ?: fdt_property_u32(fdt, "reg", i);
		ret = ret ?: fdt_end_node(fdt);
	}
	return ret ?: fdt_end_node(fdt);
}

static int dtb_pagevisor(void *fdt, uint32_t tsc_khz, const char *pv_mmu)
{
	int ret;

	ret = fdt_begin_node(fdt, PV_FDT_NODE + 1);
	ret = ret ?: fdt_property_string(fdt, "compatible", PV_FDT_COMPATIBLE);
	ret = ret ?: fdt_property_u32(fdt, PV_FDT_ABI_VERSION, PV_ABI_VERSION);
	ret = ret ?: fdt_property_u32(fdt, PV_FDT_TSC_KHZ, tsc_khz);
	ret = ret ?: fdt_property_u32(fdt, PV_FDT_PORT_CONSOLE, PV_PORT_COM1);
	ret = ret ?: fdt_property_u32(fdt, PV_FDT_PORT_DEBUG_EXIT, PV_PORT_DEBUG_EXIT);
	ret = ret ?: fdt_property_u32(fdt, PV_FDT_PORT_HC_BASE, PV_PORT_HC_BASE);
	ret = ret ?: fdt_property_u32(fdt, PV_FDT_PORT_UNUSED, PV_PORT_UNUSED);
	ret = ret ?: fdt_property_string(fdt, PV_FDT_PV_MMU, pv_mmu ? pv_mmu : "auto");
	return ret ?: fdt_end_node(fdt);
}

int dtb_build(void *buf, size_t size, const struct dtb_params *p)
{
	int ret;

	if (!buf || !p || !p->mem_size || !p->cpus || p->cpus > DTB_CPUS_MAX)
		return -EINVAL;
	if (size > INT_MAX)
		size = INT_MAX;

	ret = fdt_create(buf, size);
	ret = ret ?: fdt_finish_reservemap(buf);
	ret = ret ?: fdt_begin_node(buf, "");
	ret = ret ?: fdt_property_u32(buf, "#address-cells", 2);
	ret = ret ?: fdt_property_u32(buf, "#size-cells", 2);
	ret = ret ?: fdt_property_string(buf, "compatible", "pagevisor,virt");
	ret = ret ?: fdt_property_string(buf, "model", "pagevisor");
	ret = ret ?: dtb_memory(buf, p->mem_size);
	ret = ret ?: fdt_begin_node(buf, "chosen");
	ret = ret ?: fdt_property_string(buf, "bootargs", p->bootargs ? p->bootargs : "");
	ret = ret ?: fdt_end_node(buf);
	ret = ret ?: dtb_cpus(buf, p->cpus);
	ret = ret ?: dtb_pagevisor(buf, p->tsc_khz, p->pv_mmu);
	ret = ret ?: fdt_end_node(buf);
	ret = ret ?: fdt_finish(buf);
	if (ret)
		return dtb_errno(ret);
	return fdt_totalsize(buf);
}
