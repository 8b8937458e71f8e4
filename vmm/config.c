/* SPDX-License-Identifier: MIT */
#include "vmm/config.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pagevisor/abi.h"
#include "pv_version.h"

enum { OPT_CMDLINE = 0x100, OPT_STATS, OPT_PV_MMU, OPT_VERSION, OPT_SWAP, OPT_RESIDENT,
       OPT_AGING, OPT_FAULT_THREADS, OPT_ANON_RAM, OPT_READAHEAD, OPT_PREFAULT, OPT_BALLOON,
       OPT_PREALLOC, OPT_HUGEPAGES };

/* --pv-mmu values: advice passed to the guest in the FDT (PV_FDT_PV_MMU). */
static const char *const config_pv_mmu_modes[] = {
	CONFIG_DEFAULT_PV_MMU, "off", "immediate", "batched",
};

static const struct option config_options[] = {
	{ "memory",  required_argument, NULL, 'm' },
	{ "cpus",    required_argument, NULL, 'c' },
	{ "cmdline", required_argument, NULL, OPT_CMDLINE },
	{ "stats",   required_argument, NULL, OPT_STATS },
	{ "pv-mmu",  required_argument, NULL, OPT_PV_MMU },
	{ "swap",    required_argument, NULL, OPT_SWAP },
	{ "resident", required_argument, NULL, OPT_RESIDENT },
	{ "aging",   required_argument, NULL, OPT_AGING },
	{ "fault-threads", required_argument, NULL, OPT_FAULT_THREADS },
	{ "anon-ram", no_argument,      NULL, OPT_ANON_RAM },
	{ "prealloc", no_argument,      NULL, OPT_PREALLOC },
	{ "hugepages", no_argument,     NULL, OPT_HUGEPAGES },
	{ "readahead", required_argument, NULL, OPT_READAHEAD },
	{ "prefault", required_argument, NULL, OPT_PREFAULT },
	{ "balloon", required_argument, NULL, OPT_BALLOON },
	{ "quiet",   no_argument,       NULL, 'q' },
	{ "help",    no_argument,       NULL, 'h' },
	{ "version", no_argument,       NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

static void config_usage(FILE *f)
{
	fprintf(f,
		"usage: vmm [options] IMAGE [options] [-- GUEST ARGS...]\n"
		"Boot IMAGE (an x86-64 ELF64 kernel) in a KVM virtual machine.\n"
		"\n"
		"  -m, --memory SIZE   guest RAM, a multiple of 2M (K/M/G suffix; default 256M)\n"
		"  -c, --cpus N        number of vCPUs (default 1; only 1 is supported)\n"
		"      --cmdline STR   guest command line (or give it after --)\n"
		"      --stats FILE    write counters as JSON to FILE at exit ('-': stdout)\n"
		"      --pv-mmu MODE   page-table updates through the VMM: auto, off,\n"
		"                      immediate or batched (default auto; told to the guest)\n"
		"      --swap DIR      userfaultfd swap mode: cold guest pages go to a swap file\n"
		"                      made in directory DIR, unnamed (no one else can open it;\n"
		"                      it is gone when vmm ends, however it ends)\n"
		"      --resident SIZE with --swap: guest RAM kept resident, below --memory\n"
		"      --aging MODE    with --swap: clock (reference bits; default) or off (FIFO)\n"
		"      --fault-threads N  with --swap: userfaultfd service threads, 1 to %d (default 1)\n"
		"      --readahead MODE  with --swap: auto (streams sized by their hit rate; default),\n"
		"                      off, or N (a fixed window of N pages, 1 to %d)\n"
		"      --prefault MODE on (default) brings in the pages the guest maps through\n"
		"                      the PV MMU channel before it touches them (swap mode: from\n"
		"                      swap; else host memory and KVM's stage-2 tables); off\n"
		"      --balloon SIZE  the balloon target: guest RAM (a multiple of 2M, below\n"
		"                      --memory) the guest gives back to the host at boot\n"
		"      --anon-ram      guest RAM as private anonymous memory (not with --swap)\n"
		"      --prealloc      all guest RAM allocated in host memory, and given KVM's\n"
		"                      stage-2 entries where KVM can, before the guest runs\n"
		"                      (not with --swap)\n"
		"      --hugepages     guest RAM in 2 MiB host huge pages (hugetlb), all reserved\n"
		"                      from the host's pool at start (not with --swap or --anon-ram)\n"
		"  -q, --quiet         no counters table at exit\n"
		"  -h, --help          this text\n"
		"      --version       print the version\n"
		"\n"
		"Exit status: the guest's own exit code; %d for bad usage or input;\n"
		"%d when the VM failed (guest assertion or exception, triple fault,\n"
		"KVM error); %d when the --stats report could not be written.\n",
		CONFIG_FAULT_THREADS_MAX, CONFIG_READAHEAD_MAX, PV_STATUS_USAGE, PV_STATUS_VM_FAILED,
		PV_STATUS_REPORT);
}

int config_parse_size(const char *s, uint64_t *out)
{
	uint64_t v = 0, mult = 1;
	const char *p = s;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (__builtin_mul_overflow(v, 10, &v) ||
		    __builtin_add_overflow(v, (uint64_t)(*p - '0'), &v))
			return -ERANGE;
	}
	switch (*p) {
	case 'k': case 'K': mult = 1ull << 10; p++; break;
	case 'm': case 'M': mult = 1ull << 20; p++; break;
	case 'g': case 'G': mult = 1ull << 30; p++; break;
	case 't': case 'T': mult = 1ull << 40; p++; break;
	default: break;
	}
	if (mult > 1 && *p == 'i' && p[1] == 'B')
		p += 2;
	else if (*p == 'B' || *p == 'b')
		p++;
	if (*p)
		return -EINVAL;
	if (__builtin_mul_overflow(v, mult, &v))
		return -ERANGE;
	if (v == 0)
		return -EINVAL;
	*out = v;
	return 0;
}

int64_t config_host_hugepages(void)
{
	static const char dir[] = "/sys/kernel/mm/hugepages/hugepages-2048kB/";
	long v[2] = { 0, 0 };
	const char *name[2] = { "free_hugepages", "resv_hugepages" };

	for (int i = 0; i < 2; i++) {
		char path[96];
		FILE *f;

		snprintf(path, sizeof(path), "%s%s", dir, name[i]);
		if (!(f = fopen(path, "r")))
			return -1;
		if (fscanf(f, "%ld", &v[i]) != 1)
			v[i] = 0;
		fclose(f);
	}
	/* reserved pages are counted free until faulted in, but are someone else's */
	return v[0] > v[1] ? v[0] - v[1] : 0;
}

int config_check_hugepages(uint64_t size, int64_t host_free, FILE *err)
{
	uint64_t need = size / (2ull << 20);

	if (host_free < 0) {
		fprintf(err, "vmm: --hugepages: this host has no 2M hugetlb pages "
			"(/sys/kernel/mm/hugepages/hugepages-2048kB is missing)\n");
		return -ENOENT;
	}
	if ((uint64_t)host_free < need) {
		fprintf(err, "vmm: --hugepages: %lluM of guest RAM needs %llu free 2M huge pages; "
			"the host has %lld (raise /proc/sys/vm/nr_hugepages)\n",
			(unsigned long long)(size >> 20), (unsigned long long)need,
			(long long)host_free);
		return -ENOMEM;
	}
	return 0;
}

uint64_t config_host_memory(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);

	if (pages <= 0 || psz <= 0)
		return UINT64_MAX;
	return (uint64_t)pages * (uint64_t)psz;
}

int config_check_memory(uint64_t size, uint64_t host_bytes, FILE *err)
{
	if (size % PV_RAM_ALIGN) {
		fprintf(err, "vmm: --memory %llu bytes is not a multiple of 2M\n",
			(unsigned long long)size);
		return -EINVAL;
	}
	if (size < PV_RAM_MIN) {
		fprintf(err, "vmm: --memory %lluK is too small: the guest needs at least %lluM\n",
			(unsigned long long)(size >> 10),
			(unsigned long long)(PV_RAM_MIN >> 20));
		return -EINVAL;
	}
	if (size > PV_RAM_MAX) {
		fprintf(err, "vmm: --memory %lluM is more than the %lluG the boot map covers\n",
			(unsigned long long)(size >> 20),
			(unsigned long long)(PV_RAM_MAX >> 30));
		return -E2BIG;
	}
	if (size > host_bytes) {
		fprintf(err, "vmm: --memory %lluM is more than this host's %lluM of RAM\n",
			(unsigned long long)(size >> 20),
			(unsigned long long)(host_bytes >> 20));
		return -E2BIG;
	}
	return 0;
}

/* A whole number from 1 to @max for option --@opt; one line to @err (when not NULL) if not. */
static int config_parse_count(const char *opt, const char *s, unsigned long max, unsigned *out,
			      FILE *err)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (*s < '0' || *s > '9' || *end || errno || v == 0 || v > max) {
		if (err)
			fprintf(err, "vmm: --%s '%s': expected a number from 1 to %lu\n", opt, s, max);
		return -EINVAL;
	}
	*out = (unsigned)v;
	return 0;
}

static int config_parse_cpus(const char *s, unsigned *out, FILE *err)
{
	if (config_parse_count("cpus", s, 256, out, err))
		return -EINVAL;
	if (*out > 1) {
		fprintf(err, "vmm: --cpus %u: only 1 vCPU is supported so far\n", *out);
		return -EINVAL;
	}
	return 0;
}

static int config_parse_pv_mmu(const char *s, const char **out, FILE *err)
{
	for (size_t i = 0; i < sizeof(config_pv_mmu_modes) / sizeof(config_pv_mmu_modes[0]); i++) {
		if (strcmp(s, config_pv_mmu_modes[i]) == 0) {
			*out = config_pv_mmu_modes[i];
			return 0;
		}
	}
	fprintf(err, "vmm: --pv-mmu '%s': expected auto, off, immediate or batched\n", s);
	return -EINVAL;
}

static int config_parse_resident(const char *s, uint64_t *out, FILE *err)
{
	int ret = config_parse_size(s, out);

	if (ret) {
		fprintf(err, "vmm: --resident '%s': %s\n", s, ret == -ERANGE ? "too large" :
			"expected a size above zero such as 64M");
		return -EINVAL;
	}
	if (*out % 4096) {
		fprintf(err, "vmm: --resident %llu bytes is not a multiple of 4K\n",
			(unsigned long long)*out);
		return -EINVAL;
	}
	return 0;
}

/* The swap options go together, and only with memfd RAM. */
static int config_check_swap(const struct vm_config *cfg, bool aging, bool threads, bool ra,
			     FILE *err)
{
	const char *alone = cfg->resident ? "--resident" : aging ? "--aging" :
			    threads ? "--fault-threads" : ra ? "--readahead" : NULL;

	if (!cfg->swap_dir) {
		if (alone) {
			fprintf(err, "vmm: %s needs --swap DIR (userfaultfd swap mode)\n", alone);
			return -EINVAL;
		}
		return 0;
	}
	if (cfg->anon_ram) {
		fprintf(err, "vmm: --anon-ram and --swap do not go together: swap mode needs "
			"memfd-backed RAM\n");
		return -EINVAL;
	}
	if (cfg->hugepages) {
		fprintf(err, "vmm: --hugepages and --swap do not go together: swap mode pages guest "
			"RAM in 4K pages\n");
		return -EINVAL;
	}
	if (cfg->prealloc) {
		fprintf(err, "vmm: --prealloc and --swap do not go together: swap mode keeps only "
			"--resident in memory\n");
		return -EINVAL;
	}
	if (!cfg->resident) {
		fprintf(err, "vmm: --swap needs --resident SIZE (how much guest RAM stays resident)\n");
		return -EINVAL;
	}
	if (cfg->resident >= cfg->mem_size) {
		fprintf(err, "vmm: --resident %lluK is not below --memory %lluK: swap mode needs "
			"less resident than guest RAM\n", (unsigned long long)(cfg->resident >> 10),
			(unsigned long long)(cfg->mem_size >> 10));
		return -EINVAL;
	}
	if (cfg->resident < CONFIG_RESIDENT_MIN) {
		fprintf(err, "vmm: --resident %lluK is below the %lluK minimum (the guest kernel's "
			"own working set)\n", (unsigned long long)(cfg->resident >> 10),
			(unsigned long long)(CONFIG_RESIDENT_MIN >> 10));
		return -EINVAL;
	}
	return 0;
}

/* Join argv[from..argc) with single spaces into a malloc'd string. */
static char *config_join(int argc, char **argv, int from)
{
	size_t len = 1;
	char *s;

	for (int i = from; i < argc; i++)
		len += strlen(argv[i]) + 1;
	s = malloc(len);
	if (!s)
		return NULL;
	s[0] = '\0';
	for (int i = from; i < argc; i++) {
		if (i > from)
			strcat(s, " ");
		strcat(s, argv[i]);
	}
	return s;
}

int config_parse(struct vm_config *cfg, int argc, char **argv, FILE *out, FILE *err)
{
	const char *cmdline = NULL;
	bool aging = false, threads = false, ra = false;
	unsigned ra_pages;
	int opt, ret, dd;

	memset(cfg, 0, sizeof(*cfg));
	cfg->mem_size = CONFIG_DEFAULT_MEM;
	cfg->cpus = 1;
	cfg->pv_mmu = config_pv_mmu_modes[0];
	cfg->aging_clock = true;
	cfg->fault_threads = 1;
	cfg->readahead = -1;
	cfg->prefault = true;

	/*
	 * Options may come before or after IMAGE; everything after the first
	 * "--" belongs to the guest, so getopt only sees what comes before it.
	 */
	for (dd = 1; dd < argc && strcmp(argv[dd], "--") != 0; dd++)
		;
	optind = 0;     /* full reinitialisation of getopt: config_parse may run twice */
	opterr = 0;
	while ((opt = getopt_long(dd, argv, ":m:c:qh", config_options, NULL)) != -1) {
		switch (opt) {
		case 'm':
			ret = config_parse_size(optarg, &cfg->mem_size);
			if (ret) {
				fprintf(err, "vmm: --memory '%s': %s\n", optarg, ret == -ERANGE ?
					"too large" : "expected a size such as 256M or 1G");
				return -EINVAL;
			}
			break;
		case 'c':
			if (config_parse_cpus(optarg, &cfg->cpus, err))
				return -EINVAL;
			break;
		case OPT_CMDLINE:
			cmdline = optarg;
			break;
		case OPT_STATS:
			if (!*optarg) {
				fprintf(err, "vmm: --stats needs a file name ('-' for stdout)\n");
				return -EINVAL;
			}
			cfg->stats_path = optarg;
			break;
		case OPT_PV_MMU:
			if (config_parse_pv_mmu(optarg, &cfg->pv_mmu, err))
				return -EINVAL;
			break;
		case OPT_SWAP:
			if (!*optarg) {
				fprintf(err, "vmm: --swap needs a directory\n");
				return -EINVAL;
			}
			cfg->swap_dir = optarg;
			break;
		case OPT_RESIDENT:
			if (config_parse_resident(optarg, &cfg->resident, err))
				return -EINVAL;
			break;
		case OPT_AGING:
			if (strcmp(optarg, "clock") && strcmp(optarg, "off")) {
				fprintf(err, "vmm: --aging '%s': expected clock or off\n", optarg);
				return -EINVAL;
			}
			cfg->aging_clock = strcmp(optarg, "clock") == 0;
			aging = true;
			break;
		case OPT_FAULT_THREADS:
			if (config_parse_count("fault-threads", optarg, CONFIG_FAULT_THREADS_MAX,
					       &cfg->fault_threads, err))
				return -EINVAL;
			threads = true;
			break;
		case OPT_READAHEAD:
			ra = true;
			if (strcmp(optarg, "auto") == 0) {
				cfg->readahead = -1;
			} else if (strcmp(optarg, "off") == 0) {
				cfg->readahead = 0;
			} else if (config_parse_count("readahead", optarg, CONFIG_READAHEAD_MAX,
						      &ra_pages, NULL) == 0) {
				cfg->readahead = (int)ra_pages;
			} else {
				fprintf(err, "vmm: --readahead '%s': expected auto, off or a number of "
					"pages from 1 to %d\n", optarg, CONFIG_READAHEAD_MAX);
				return -EINVAL;
			}
			break;
		case OPT_PREFAULT:
			if (strcmp(optarg, "on") && strcmp(optarg, "off")) {
				fprintf(err, "vmm: --prefault '%s': expected on or off\n", optarg);
				return -EINVAL;
			}
			cfg->prefault = strcmp(optarg, "on") == 0;
			break;
		case OPT_BALLOON:
			ret = config_parse_size(optarg, &cfg->balloon);
			if (ret || cfg->balloon % (2ull << 20)) {
				fprintf(err, "vmm: --balloon '%s': expected a size that is a multiple "
					"of 2M, such as 64M\n", optarg);
				return -EINVAL;
			}
			break;
		case OPT_HUGEPAGES:
			cfg->hugepages = true;
			break;
		case OPT_PREALLOC:
			cfg->prealloc = true;
			break;
		case OPT_ANON_RAM:
			cfg->anon_ram = true;
			break;
		case 'q':
			cfg->quiet = true;
			break;
		case 'h':
			config_usage(out);
			return CONFIG_DONE;
		case OPT_VERSION:
			fprintf(out, "vmm (pagevisor) %s, guest ABI %u\n", PV_VERSION_STRING,
				PV_ABI_VERSION);
			return CONFIG_DONE;
		case ':':
			fprintf(err, "vmm: option '%s' needs an argument (see --help)\n",
				argv[optind - 1]);
			return -EINVAL;
		default:
			if (optopt && optopt < 0x100)
				fprintf(err, "vmm: unknown option '-%c' (see --help)\n", optopt);
			else
				fprintf(err, "vmm: unknown option '%s' (see --help)\n",
					argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (optind >= dd) {
		fprintf(err, "vmm: no guest image given (see --help)\n");
		return -EINVAL;
	}
	cfg->image = argv[optind++];
	if (optind < dd) {
		fprintf(err, "vmm: unexpected argument '%s' (one image; guest arguments go after --)\n",
			argv[optind]);
		return -EINVAL;
	}
	if (config_check_swap(cfg, aging, threads, ra, err))
		return -EINVAL;
	if (cfg->hugepages && cfg->anon_ram) {
		fprintf(err, "vmm: --hugepages and --anon-ram do not go together: huge pages come "
			"from a hugetlb memfd\n");
		return -EINVAL;
	}
	if (cfg->balloon >= cfg->mem_size) {
		fprintf(err, "vmm: --balloon %lluK is not below --memory %lluK: the guest needs "
			"some RAM of its own\n", (unsigned long long)(cfg->balloon >> 10),
			(unsigned long long)(cfg->mem_size >> 10));
		return -EINVAL;
	}
	if (cfg->swap_dir && cfg->stats_path && strcmp(cfg->swap_dir, cfg->stats_path) == 0) {
		fprintf(err, "vmm: --stats and --swap name the same path '%s'\n", cfg->stats_path);
		return -EINVAL;
	}
	if (cmdline && dd + 1 < argc) {
		fprintf(err, "vmm: give the guest command line either with --cmdline or after --, not both\n");
		return -EINVAL;
	}
	cfg->cmdline = cmdline ? strdup(cmdline) : config_join(argc, argv, dd + 1);
	if (!cfg->cmdline) {
		fprintf(err, "vmm: out of memory\n");
		return -ENOMEM;
	}
	return CONFIG_RUN;
}

void config_free(struct vm_config *cfg)
{
	free(cfg->cmdline);
	cfg->cmdline = NULL;
}
