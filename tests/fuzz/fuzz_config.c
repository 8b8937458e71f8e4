/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the command line (vmm/config.c).  The input is argv[1..]
 * as NUL-separated words; help and version go to /dev/null, errors to a
 * memory stream.
 *
 * Oracle: a refusal is -EINVAL (or -ENOMEM) with exactly one line on the
 * error stream; success prints nothing there and gives a config that
 * config_parse's own rules allow (an image that is one of the words, a
 * nonzero RAM size, a command line, the swap options only together).  Every
 * size word that config_parse_size() takes is nonzero.  LeakSanitizer checks
 * config_free().
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzzutil.h"
#include "pagevisor/abi.h"
#include "vmm/config.h"

#define FC_MAX_ARGS 64

static FILE *fc_null;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fc_null = fopen("/dev/null", "w");
	return fc_null ? 0 : -1;
}

static bool fc_is_word(char **argv, int argc, const char *s)
{
	for (int i = 1; i < argc; i++)
		if (argv[i] == s)
			return true;
	return false;
}

static void fc_check_ok(const struct vm_config *cfg, char **words, int argc)
{
	FUZZ_CHECK(cfg->image && fc_is_word(words, argc, cfg->image), "image is not an argument");
	FUZZ_CHECK(cfg->mem_size > 0 && cfg->cpus >= 1 && cfg->cmdline && cfg->pv_mmu,
		   "accepted config lacks a field");
	FUZZ_CHECK(cfg->fault_threads >= 1 && cfg->fault_threads <= CONFIG_FAULT_THREADS_MAX,
		   "fault threads %u", cfg->fault_threads);
	if (cfg->swap_dir) {
		FUZZ_CHECK(!cfg->anon_ram && cfg->resident >= CONFIG_RESIDENT_MIN &&
			   cfg->resident < cfg->mem_size && cfg->resident % 4096 == 0,
			   "swap mode with resident %llu of %llu", (unsigned long long)cfg->resident,
			   (unsigned long long)cfg->mem_size);
	} else {
		FUZZ_CHECK(!cfg->resident, "--resident without --swap accepted");
	}
}

/*
 * One line on @msg: a newline at the end and nowhere else, unless a word
 * itself holds one (the message quotes the offending word as given).
 */
static void fc_check_line(const char *what, const char *msg, size_t len, bool word_nl)
{
	FUZZ_CHECK(len > 0 && msg[len - 1] == '\n', "%s: no line ending in \"%s\"", what,
		   msg ? msg : "");
	FUZZ_CHECK(word_nl || memchr(msg, '\n', len) == msg + len - 1,
		   "%s: more than one line in \"%s\"", what, msg);
}

/* What main() does next with an accepted config: the RAM size rules. */
static void fc_check_memory(const struct vm_config *cfg)
{
	char *msg = NULL;
	size_t len = 0;
	FILE *err = open_memstream(&msg, &len);
	int ret;

	if (!err)
		abort();
	ret = config_check_memory(cfg->mem_size, config_host_memory(), err);
	fclose(err);
	if (ret == 0) {
		FUZZ_CHECK(len == 0 && cfg->mem_size % PV_RAM_ALIGN == 0 &&
			   cfg->mem_size >= PV_RAM_MIN && cfg->mem_size <= PV_RAM_MAX,
			   "RAM size %llu accepted", (unsigned long long)cfg->mem_size);
	} else {
		FUZZ_CHECK(ret == -EINVAL || ret == -E2BIG, "config_check_memory returned %d", ret);
		fc_check_line("config_check_memory", msg, len, false);
	}
	free(msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf, *argv[FC_MAX_ARGS + 2], *words[FC_MAX_ARGS + 2], *msg = NULL;
	bool word_nl = memchr(data, '\n', size) != NULL;
	struct vm_config cfg;
	size_t msglen = 0;
	int argc = 0, ret;
	FILE *err;

	/* the words, NUL-terminated, in a buffer of their own: ASan sees overreads */
	buf = malloc(size + 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	argv[argc++] = "vmm";
	for (size_t i = 0; i < size + 1 && argc <= FC_MAX_ARGS; i += strlen(buf + i) + 1)
		argv[argc++] = buf + i;
	argv[argc] = NULL;
	/* getopt permutes argv: keep the words as they came for the checks */
	memcpy(words, argv, sizeof(argv[0]) * (argc + 1));

	err = open_memstream(&msg, &msglen);
	if (!err)
		abort();
	ret = config_parse(&cfg, argc, argv, fc_null, err);
	fclose(err);

	if (ret == CONFIG_RUN) {
		FUZZ_CHECK(msglen == 0, "accepted, but said: %s", msg);
		fc_check_ok(&cfg, words, argc);
		fc_check_memory(&cfg);
	} else if (ret == CONFIG_DONE) {
		FUZZ_CHECK(msglen == 0, "help or version, but said: %s", msg);
	} else {
		FUZZ_CHECK(ret == -EINVAL || ret == -ENOMEM, "config_parse returned %d", ret);
		fc_check_line("config_parse", msg, msglen, word_nl);
	}
	config_free(&cfg);

	/* every word as a size too */
	for (int i = 1; i < argc; i++) {
		uint64_t v = 0;

		if (config_parse_size(words[i], &v) == 0)
			FUZZ_CHECK(v > 0, "size \"%s\" parsed as 0", words[i]);
	}
	free(msg);
	free(buf);
	return 0;
}
