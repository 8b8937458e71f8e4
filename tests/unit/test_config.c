/* SPDX-License-Identifier: MIT */
/* Option and size parsing. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pagevisor/abi.h"
#include "testutil.h"
#include "vmm/config.h"

/* Parse a NULL-terminated argv; the message written to err lands in @msg. */
static int parse(struct vm_config *cfg, char *msg, size_t msglen, ...)
{
	char *argv[32];
	int argc = 0;
	va_list ap;
	FILE *out = fopen("/dev/null", "w");
	FILE *err = fmemopen(msg, msglen, "w");
	int ret;

	va_start(ap, msglen);
	argv[argc++] = "vmm";
	for (char *a; (a = va_arg(ap, char *)) != NULL;)
		argv[argc++] = a;
	va_end(ap);
	argv[argc] = NULL;
	memset(msg, 0, msglen);
	ret = config_parse(cfg, argc, argv, out, err);
	fclose(err);
	fclose(out);
	return ret;
}

START_TEST(size_suffixes)
{
	uint64_t v;

	ck_assert_int_eq(config_parse_size("4096", &v), 0);
	ck_assert_uint_eq(v, 4096);
	ck_assert_int_eq(config_parse_size("64K", &v), 0);
	ck_assert_uint_eq(v, 64 << 10);
	ck_assert_int_eq(config_parse_size("256M", &v), 0);
	ck_assert_uint_eq(v, 256ull << 20);
	ck_assert_int_eq(config_parse_size("2g", &v), 0);
	ck_assert_uint_eq(v, 2ull << 30);
	ck_assert_int_eq(config_parse_size("1GiB", &v), 0);
	ck_assert_uint_eq(v, 1ull << 30);
	ck_assert_int_eq(config_parse_size("3T", &v), 0);
	ck_assert_uint_eq(v, 3ull << 40);
}
END_TEST

START_TEST(size_malformed)
{
	uint64_t v = 7;

	ck_assert_int_eq(config_parse_size("", &v), -EINVAL);
	ck_assert_int_eq(config_parse_size("M", &v), -EINVAL);
	ck_assert_int_eq(config_parse_size("-1M", &v), -EINVAL);
	ck_assert_int_eq(config_parse_size("1.5G", &v), -EINVAL);
	ck_assert_int_eq(config_parse_size("12X", &v), -EINVAL);
	ck_assert_int_eq(config_parse_size("12MM", &v), -EINVAL);
	ck_assert_int_eq(config_parse_size(" 12M", &v), -EINVAL);
	ck_assert_int_eq(config_parse_size("0", &v), -EINVAL);
	ck_assert_int_eq(config_parse_size("0M", &v), -EINVAL);
	ck_assert_uint_eq(v, 7);        /* untouched on error */
}
END_TEST

START_TEST(size_overflow)
{
	uint64_t v;

	ck_assert_int_eq(config_parse_size("18446744073709551615", &v), 0);
	ck_assert_uint_eq(v, UINT64_MAX);
	ck_assert_int_eq(config_parse_size("18446744073709551616", &v), -ERANGE);
	ck_assert_int_eq(config_parse_size("99999999999999999999999", &v), -ERANGE);
	ck_assert_int_eq(config_parse_size("17179869184G", &v), -ERANGE); /* 2^34 * 2^30 */
	ck_assert_int_eq(config_parse_size("16777216T", &v), -ERANGE);    /* 2^24 * 2^40 */
}
END_TEST

START_TEST(memory_rules)
{
	char msg[256];
	FILE *err = fmemopen(msg, sizeof(msg), "w");

	ck_assert_int_eq(config_check_memory(256ull << 20, 1ull << 40, err), 0);
	ck_assert_int_eq(config_check_memory(PV_RAM_MIN, 1ull << 40, err), 0);
	ck_assert_int_eq(config_check_memory((256ull << 20) + 4096, 1ull << 40, err), -EINVAL);
	ck_assert_int_eq(config_check_memory(2ull << 20, 1ull << 40, err), -EINVAL);
	ck_assert_int_eq(config_check_memory(PV_RAM_MAX + (2ull << 20), 1ull << 40, err), -E2BIG);
	ck_assert_int_eq(config_check_memory(8ull << 30, 4ull << 30, err), -E2BIG);
	fclose(err);
}
END_TEST

START_TEST(hugepage_pool)
{
	char msg[512];
	FILE *err = fmemopen(msg, sizeof(msg), "w");

	setvbuf(err, NULL, _IONBF, 0);
	ck_assert_int_eq(config_check_hugepages(256ull << 20, 128, err), 0);
	ck_assert_int_eq(config_check_hugepages(256ull << 20, 500, err), 0);
	ck_assert_int_eq(ftell(err), 0);
	ck_assert_int_eq(config_check_hugepages(256ull << 20, 127, err), -ENOMEM);
	ck_assert_ptr_nonnull(strstr(msg, "256M of guest RAM needs 128 free 2M huge pages; the "
				     "host has 127"));
	rewind(err);
	ck_assert_int_eq(config_check_hugepages(64ull << 20, -1, err), -ENOENT);
	ck_assert_ptr_nonnull(strstr(msg, "no 2M hugetlb pages"));
	fclose(err);
}
END_TEST

START_TEST(defaults_and_image)
{
	struct vm_config cfg;
	char msg[256];

	ck_assert_int_eq(parse(&cfg, msg, sizeof(msg), "guest.elf", NULL), CONFIG_RUN);
	ck_assert_str_eq(cfg.image, "guest.elf");
	ck_assert_uint_eq(cfg.mem_size, 256ull << 20);
	ck_assert_uint_eq(cfg.cpus, 1);
	ck_assert_str_eq(cfg.cmdline, "");
	ck_assert_ptr_null(cfg.stats_path);
	ck_assert_str_eq(cfg.pv_mmu, "auto");
	ck_assert(!cfg.quiet);
	ck_assert_ptr_null(cfg.swap_dir);
	ck_assert_uint_eq(cfg.resident, 0);
	ck_assert(cfg.aging_clock);
	ck_assert_uint_eq(cfg.fault_threads, 1);
	ck_assert(!cfg.anon_ram);
	ck_assert(!cfg.prealloc);
	ck_assert(!cfg.hugepages);
	ck_assert_int_eq(cfg.readahead, -1);    /* auto */
	ck_assert(cfg.prefault);
	ck_assert_uint_eq(cfg.balloon, 0);
	config_free(&cfg);
}
END_TEST

START_TEST(swap_options)
{
	struct vm_config cfg;
	char msg[256];

	ck_assert_int_eq(parse(&cfg, msg, sizeof(msg), "-m", "256M", "--swap", "/tmp",
			       "--resident", "64M", "img", NULL), CONFIG_RUN);
	ck_assert_str_eq(cfg.swap_dir, "/tmp");
	ck_assert_uint_eq(cfg.resident, 64ull << 20);
	ck_assert(cfg.aging_clock);
	ck_assert_uint_eq(cfg.fault_threads, 1);
	config_free(&cfg);

	/* --memory may come after --resident; aging off; threads */
	ck_assert_int_eq(parse(&cfg, msg, sizeof(msg), "--resident=1M", "--swap=s", "--aging", "off",
			       "--fault-threads", "8", "img", "-m", "4M", NULL), CONFIG_RUN);
	ck_assert_uint_eq(cfg.resident, 1ull << 20);
	ck_assert(!cfg.aging_clock);
	ck_assert_uint_eq(cfg.fault_threads, 8);
	config_free(&cfg);

	ck_assert_int_eq(parse(&cfg, msg, sizeof(msg), "--swap", "s", "--resident", "255M",
			       "--aging=clock", "img", NULL), CONFIG_RUN);
	ck_assert(cfg.aging_clock);
	config_free(&cfg);

	ck_assert_int_eq(parse(&cfg, msg, sizeof(msg), "--swap", "s", "--resident", "8M",
			       "--readahead", "off", "img", NULL), CONFIG_RUN);
	ck_assert_int_eq(cfg.readahead, 0);
	config_free(&cfg);
	ck_assert_int_eq(parse(&cfg, msg, sizeof(msg), "--swap", "s", "--resident", "8M",
			       "--readahead=64", "img", NULL), CONFIG_RUN);
	ck_assert_int_eq(cfg.readahead, 64);
	config_free(&cfg);
	ck_assert_int_eq(parse(&cfg, msg, sizeof(msg), "--swap", "s", "--resident", "8M",
			       "--prefault", "off", "img", NULL), CONFIG_RUN);
	ck_assert(!cfg.prefault);
	config_free(&cfg);
	ck_assert_int_eq(parse(&cfg, msg, sizeof(msg), "--swap", "s", "--resident", "8M",
			       "--prefault=on", "img", NULL), CONFIG_RUN);
	ck_assert(cfg.prefault);
	config_free(&cfg);
	ck_assert_int_eq(parse(&cfg, msg, sizeof(msg), "--prealloc", "img", NULL), CONFIG_RUN);
	ck_assert(cfg.prealloc);
	config_free(&cfg);
	ck_assert_int_eq(parse(&cfg, msg, sizeof(msg), "--hugepages", "img", NULL), CONFIG_RUN);
	ck_assert(cfg.hugepages);
	config_free(&cfg);
	/* without --swap it prefaults host memory and stage 2 */
	ck_assert_int_eq(parse(&cfg, msg, sizeof(msg), "--prefault", "off", "img", NULL),
			 CONFIG_RUN);
	ck_assert(!cfg.prefault);
	config_free(&cfg);
	ck_assert_int_eq(parse(&cfg, msg, sizeof(msg), "-m", "64M", "--balloon", "62M", "img",
			       NULL), CONFIG_RUN);
	ck_assert_uint_eq(cfg.balloon, 62ull << 20);
	config_free(&cfg);

	ck_assert_int_eq(parse(&cfg, msg, sizeof(msg), "--anon-ram", "img", NULL), CONFIG_RUN);
	ck_assert(cfg.anon_ram);
	config_free(&cfg);
}
END_TEST

START_TEST(all_options)
{
	struct vm_config cfg;
	char msg[256];

	ck_assert_int_eq(parse(&cfg, msg, sizeof(msg), "-m", "1G", "--cpus", "1", "--stats", "-",
			       "-q", "--cmdline", "workload=hello", "img", NULL), CONFIG_RUN);
	ck_assert_uint_eq(cfg.mem_size, 1ull << 30);
	ck_assert_str_eq(cfg.stats_path, "-");
	ck_assert(cfg.quiet);
	ck_assert_str_eq(cfg.cmdline, "workload=hello");
	ck_assert_str_eq(cfg.image, "img");
	config_free(&cfg);

	static const char *const modes[] = { "auto", "off", "immediate", "batched" };

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		ck_assert_int_eq(parse(&cfg, msg, sizeof(msg), "--pv-mmu", modes[i], "img", NULL),
				 CONFIG_RUN);
		ck_assert_str_eq(cfg.pv_mmu, modes[i]);
		config_free(&cfg);
	}
	ck_assert_int_eq(parse(&cfg, msg, sizeof(msg), "img", "--pv-mmu=off", NULL), CONFIG_RUN);
	ck_assert_str_eq(cfg.pv_mmu, "off");
	config_free(&cfg);

	ck_assert_int_eq(parse(&cfg, msg, sizeof(msg), "--memory=64M", "img", "--",
			       "workload=exitloop", "n=5", NULL), CONFIG_RUN);
	ck_assert_uint_eq(cfg.mem_size, 64ull << 20);
	ck_assert_str_eq(cfg.cmdline, "workload=exitloop n=5");
	config_free(&cfg);

	/* options after the image; "--" guest words that look like options */
	ck_assert_int_eq(parse(&cfg, msg, sizeof(msg), "img", "-q", "--stats", "s.json", "--",
			       "-m", "x", NULL), CONFIG_RUN);
	ck_assert_str_eq(cfg.image, "img");
	ck_assert(cfg.quiet);
	ck_assert_str_eq(cfg.stats_path, "s.json");
	ck_assert_uint_eq(cfg.mem_size, 256ull << 20);
	ck_assert_str_eq(cfg.cmdline, "-m x");
	config_free(&cfg);
}
END_TEST

START_TEST(help_and_version)
{
	struct vm_config cfg;
	char msg[256];

	ck_assert_int_eq(parse(&cfg, msg, sizeof(msg), "--help", NULL), CONFIG_DONE);
	config_free(&cfg);
	ck_assert_int_eq(parse(&cfg, msg, sizeof(msg), "--version", NULL), CONFIG_DONE);
	config_free(&cfg);
}
END_TEST

/* Each bad command line is refused with one line naming the problem. */
START_TEST(bad_usage)
{
	static const struct {
		const char *argv[10];
		const char *needle;
	} cases[] = {
		{ { NULL }, "no guest image" },
		{ { "--bogus", "img", NULL }, "unknown option '--bogus'" },
		{ { "-z", "img", NULL }, "unknown option '-z'" },
		{ { "img", "-m", NULL }, "needs an argument" },
		{ { "a.elf", "b.elf", NULL }, "unexpected argument 'b.elf'" },
		{ { "-m", NULL }, "needs an argument" },
		{ { "-m", "12X", "img", NULL }, "--memory '12X'" },
		{ { "-m", "99999999999999999999G", "img", NULL }, "too large" },
		{ { "-c", "0", "img", NULL }, "--cpus '0'" },
		{ { "-c", "two", "img", NULL }, "--cpus 'two'" },
		{ { "-c", "2", "img", NULL }, "only 1 vCPU" },
		{ { "--stats=", "img", NULL }, "--stats needs a file" },
		{ { "--cmdline", "a", "img", "--", "b", NULL }, "not both" },
		{ { "img", "extra", NULL }, "unexpected argument 'extra'" },
		{ { "--pv-mmu", "on", "img", NULL }, "--pv-mmu 'on': expected auto, off" },
		{ { "--pv-mmu=", "img", NULL }, "--pv-mmu '': expected" },
		{ { "--pv-mmu", "Batched", "img", NULL }, "--pv-mmu 'Batched'" },
		{ { "img", "--pv-mmu", NULL }, "needs an argument" },
		{ { "--swap", "s", "img", NULL }, "--swap needs --resident" },
		{ { "--resident", "8M", "img", NULL }, "--resident needs --swap" },
		{ { "--aging", "off", "img", NULL }, "--aging needs --swap" },
		{ { "--fault-threads", "2", "img", NULL }, "--fault-threads needs --swap" },
		{ { "--swap", "s", "--resident", "0", "img", NULL }, "--resident '0'" },
		{ { "--swap", "s", "--resident", "5000", "img", NULL }, "not a multiple of 4K" },
		{ { "--swap", "s", "--resident", "256M", "img", NULL }, "not below --memory" },
		{ { "--swap", "s", "--resident", "1G", "img", NULL }, "not below --memory" },
		{ { "--swap", "s", "--resident", "512K", "img", NULL }, "below the 1024K minimum" },
		{ { "--swap", "s", "--resident", "8M", "--aging", "lru", "img", NULL },
		  "--aging 'lru': expected clock or off" },
		{ { "--swap", "s", "--resident", "8M", "--fault-threads", "9", "img", NULL },
		  "--fault-threads '9'" },
		{ { "--swap", "s", "--resident", "8M", "--fault-threads", "0", "img", NULL },
		  "--fault-threads '0'" },
		{ { "--swap=", "img", NULL }, "--swap needs a directory" },
		{ { "--readahead", "auto", "img", NULL }, "--readahead needs --swap" },
		{ { "--swap", "s", "--resident", "8M", "--readahead", "257", "img", NULL },
		  "--readahead '257': expected auto, off or a number of pages from 1 to 256" },
		{ { "--swap", "s", "--resident", "8M", "--readahead", "on", "img", NULL },
		  "--readahead 'on'" },
		{ { "--swap", "d", "--resident", "8M", "--stats", "d", "img", NULL },
		  "--stats and --swap name the same path 'd'" },
		{ { "--swap", "s", "--resident", "8M", "--anon-ram", "img", NULL },
		  "--anon-ram and --swap" },
		{ { "--prefault", "yes", "img", NULL }, "--prefault 'yes': expected on or off" },
		{ { "--swap", "s", "--resident", "8M", "--prealloc", "img", NULL },
		  "--prealloc and --swap do not go together" },
		{ { "--swap", "s", "--resident", "8M", "--hugepages", "img", NULL },
		  "--hugepages and --swap do not go together" },
		{ { "--anon-ram", "--hugepages", "img", NULL },
		  "--hugepages and --anon-ram do not go together" },
		{ { "--swap", "s", "--resident", "8M", "--prefault", "yes", "img", NULL },
		  "--prefault 'yes': expected on or off" },
		{ { "--balloon", "3M", "img", NULL }, "--balloon '3M': expected a size that is a "
		  "multiple of 2M" },
		{ { "--balloon", "x", "img", NULL }, "--balloon 'x'" },
		{ { "-m", "64M", "--balloon", "64M", "img", NULL }, "--balloon 65536K is not below "
		  "--memory 65536K" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *argv[12] = { "vmm" };
		int argc = 1;
		struct vm_config cfg;
		char msg[256] = "";
		FILE *err = fmemopen(msg, sizeof(msg), "w");
		FILE *out = fopen("/dev/null", "w");

		for (int k = 0; cases[i].argv[k]; k++)
			argv[argc++] = (char *)cases[i].argv[k];
		ck_assert_int_eq(config_parse(&cfg, argc, argv, out, err), -EINVAL);
		fclose(err);
		fclose(out);
		ck_assert_msg(strstr(msg, cases[i].needle), "case %zu: '%s' lacks '%s'", i, msg,
			      cases[i].needle);
		ck_assert_msg(strchr(msg, '\n') == msg + strlen(msg) - 1,
			      "case %zu: not exactly one line: '%s'", i, msg);
		config_free(&cfg);
	}
}
END_TEST

static Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, size_suffixes);
	tcase_add_test(tc, size_malformed);
	tcase_add_test(tc, size_overflow);
	tcase_add_test(tc, memory_rules);
	tcase_add_test(tc, hugepage_pool);
	tcase_add_test(tc, defaults_and_image);
	tcase_add_test(tc, all_options);
	tcase_add_test(tc, swap_options);
	tcase_add_test(tc, help_and_version);
	tcase_add_test(tc, bad_usage);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return testutil_run(config_suite());
}
