/*
 * Reading the VMM's FDT with libfdt.  Runs once at boot, in ring 3 (at CPL0
 * libfdt's tree walks took 20-40 ms of emulated instructions; natively, us).
 */
#include <libfdt.h>
#include <string.h>
#include <pagevisor/abi.h>
#include <pagevisor/pvmmu.h>
#include <gk/assert.h>
#include <gk/bootinfo.h>
#include <gk/mmapi.h>

/* Offset of the node at path; fails the VM if it is missing. */
static int fdt_node(const void *fdt, const char *path)
{
	int off = fdt_path_offset(fdt, path);

	GUEST_ASSERTF(off >= 0, "fdt: no %s node: %s", path, fdt_strerror(off));
	return off;
}

/* u32 property name of node off, or def when absent. */
static uint32_t fdt_u32(const void *fdt, int off, const char *name, uint32_t def)
{
	int len;
	const fdt32_t *p = fdt_getprop(fdt, off, name, &len);

	if (!p)
		return def;
	GUEST_ASSERTF(len == 4, "fdt: %s: length %d, want 4", name, len);
	return fdt32_to_cpu(*p);
}

static void fdt_read_memory(const void *fdt, struct bootinfo *bi)
{
	int off = fdt_node(fdt, "/memory"), len;
	const fdt64_t *reg = fdt_getprop(fdt, off, "reg", &len);

	GUEST_ASSERTF(reg && len > 0 && len % 16 == 0,
		      "fdt: /memory reg: want (2+2 cells) * n, got %d bytes", len);
	bi->nmem = 0;
	bi->ram_end = 0;
	for (int i = 0; i < len / 16 && bi->nmem < BOOTINFO_MEM_MAX; i++) {
		struct mem_range r = { fdt64_to_cpu(reg[2 * i]), fdt64_to_cpu(reg[2 * i + 1]) };

		if (!r.size)
			continue;
		GUEST_ASSERTF(r.base + r.size > r.base && r.base + r.size <= PV_RAM_MAX,
			      "fdt: /memory range 0x%lx+0x%lx out of bounds",
			      (unsigned long)r.base, (unsigned long)r.size);
		bi->mem[bi->nmem++] = r;
		if (r.base + r.size > bi->ram_end)
			bi->ram_end = r.base + r.size;
	}
	GUEST_ASSERTF(bi->nmem > 0, "fdt: /memory has no RAM");
}

/* /pagevisor pv-mmu: "auto" (also when absent), "off", "immediate" or "batched". */
static int fdt_pv_mmu(const void *fdt, int off)
{
	static const char *const names[] = {
		[MM_MODE_OFF] = "off", [MM_MODE_IMMEDIATE] = "immediate",
		[MM_MODE_BATCHED] = "batched", [MM_MODE_AUTO] = "auto",
	};
	int len;
	const char *s = fdt_getprop(fdt, off, PV_FDT_PV_MMU, &len);

	if (!s)
		return MM_MODE_AUTO;
	for (int m = 0; m < (int)(sizeof(names) / sizeof(names[0])); m++)
		if (len == (int)strlen(names[m]) + 1 && !memcmp(s, names[m], (size_t)len))
			return m;
	kpanic("fdt: %s/%s: unknown mode '%.*s'", PV_FDT_NODE, PV_FDT_PV_MMU,
	       len > 0 && len < 32 ? len : 0, s);
}

void bootinfo_parse(const void *fdt, struct bootinfo *bi)
{
	int err = fdt_check_header(fdt), off, len;
	const char *args;

	GUEST_ASSERTF(err == 0, "fdt at %p: %s", fdt, fdt_strerror(err));
	bi->fdt = fdt;
	bi->fdt_size = fdt_totalsize(fdt);
	GUEST_ASSERTF(bi->fdt_size <= PV_BOOT_FDT_MAX, "fdt: %u bytes, max %u",
		      bi->fdt_size, PV_BOOT_FDT_MAX);

	fdt_read_memory(fdt, bi);

	off = fdt_path_offset(fdt, "/chosen");
	args = off >= 0 ? fdt_getprop(fdt, off, "bootargs", &len) : NULL;
	bi->bootargs = args && len > 0 && args[len - 1] == '\0' ? args : "";

	off = fdt_node(fdt, PV_FDT_NODE);
	err = (int)fdt_u32(fdt, off, PV_FDT_ABI_VERSION, PV_ABI_VERSION);
	GUEST_ASSERTF(err == PV_ABI_VERSION, "fdt: abi-version %d, guest speaks %u",
		      err, PV_ABI_VERSION);
	bi->tsc_khz = fdt_u32(fdt, off, PV_FDT_TSC_KHZ, 0);
	GUEST_ASSERTF(bi->tsc_khz, "fdt: %s/%s missing or 0", PV_FDT_NODE, PV_FDT_TSC_KHZ);
	bi->ports = (struct hc_ports){
		.console = (uint16_t)fdt_u32(fdt, off, PV_FDT_PORT_CONSOLE, PV_PORT_COM1),
		.debug_exit = (uint16_t)fdt_u32(fdt, off, PV_FDT_PORT_DEBUG_EXIT,
						PV_PORT_DEBUG_EXIT),
		.hc_base = (uint16_t)fdt_u32(fdt, off, PV_FDT_PORT_HC_BASE, PV_PORT_HC_BASE),
		.unused = (uint16_t)fdt_u32(fdt, off, PV_FDT_PORT_UNUSED, PV_PORT_UNUSED),
	};
	bi->pv_mmu = fdt_pv_mmu(fdt, off);
}
