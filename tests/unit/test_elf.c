/* SPDX-License-Identifier: MIT */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mmu/guestmem.h"
#include "pagevisor/abi.h"
#include "testutil.h"
#include "vmm/elf.h"

#define RAM		(16ull << 20)
#define IMG_LEN		0x3000
#define TEXT_GPA	0x100000ull
#define DATA_GPA	0x200000ull
#define POISON		0x5a

/*
 * A good image: [0] text R|X at 1 MiB, [1] data R|W at 2 MiB with a bss
 * tail, [2] a PT_NOTE the loader must skip.  Malformed cases mutate it.
 */
struct img {
	_Alignas(8) uint8_t b[IMG_LEN];
	size_t len;
};

static Elf64_Ehdr *ehdr(struct img *im)
{
	return (Elf64_Ehdr *)im->b;
}

static Elf64_Phdr *phdr(struct img *im, unsigned i)
{
	return (Elf64_Phdr *)(im->b + sizeof(Elf64_Ehdr)) + i;
}

static void img_good(struct img *im)
{
	Elf64_Ehdr *eh = ehdr(im);

	memset(im, 0, sizeof(*im));
	im->len = IMG_LEN;
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_type = ET_EXEC;
	eh->e_machine = EM_X86_64;
	eh->e_version = EV_CURRENT;
	eh->e_entry = TEXT_GPA + 0x10;
	eh->e_phoff = sizeof(Elf64_Ehdr);
	eh->e_ehsize = sizeof(Elf64_Ehdr);
	eh->e_phentsize = sizeof(Elf64_Phdr);
	eh->e_phnum = 3;

	*phdr(im, 0) = (Elf64_Phdr){ .p_type = PT_LOAD, .p_flags = PF_R | PF_X,
		.p_offset = 0x1000, .p_vaddr = TEXT_GPA, .p_paddr = TEXT_GPA,
		.p_filesz = 0x100, .p_memsz = 0x100, .p_align = 0x1000 };
	*phdr(im, 1) = (Elf64_Phdr){ .p_type = PT_LOAD, .p_flags = PF_R | PF_W,
		.p_offset = 0x2000, .p_vaddr = DATA_GPA, .p_paddr = DATA_GPA,
		.p_filesz = 0x80, .p_memsz = 0x3000, .p_align = 0x1000 };
	*phdr(im, 2) = (Elf64_Phdr){ .p_type = PT_NOTE, .p_offset = 0x2800,
		.p_filesz = 0x10, .p_memsz = 0x10 };
	memset(im->b + 0x1000, 0xab, 0x100);
	memset(im->b + 0x2000, 0xcd, 0x80);
}

static struct guestmem gm;

static void setup(void)
{
	ck_assert_int_eq(guestmem_init(&gm, RAM), 0);
	memset(gm.alias, POISON, RAM);
}

static void teardown(void)
{
	guestmem_destroy(&gm);
}

static bool ram_untouched(void)
{
	for (uint64_t i = 0; i < RAM; i++)
		if (gm.alias[i] != POISON)
			return false;
	return true;
}

START_TEST(good_image_loads)
{
	struct elf_image ei = { 0 };
	char err[256] = "";
	struct img im;
	uint8_t *p;

	img_good(&im);
	ck_assert_int_eq(elf_load(im.b, im.len, &gm, &ei, err, sizeof(err)), 0);
	ck_assert_uint_eq(ei.entry, TEXT_GPA + 0x10);
	ck_assert_uint_eq(ei.lo, TEXT_GPA);
	ck_assert_uint_eq(ei.hi, DATA_GPA + 0x3000);
	ck_assert_uint_eq(ei.nr_segments, 2);

	p = guestmem_hva(&gm, TEXT_GPA, 0x100);
	for (int i = 0; i < 0x100; i++)
		ck_assert_uint_eq(p[i], 0xab);
	ck_assert_uint_eq(p[0x100], POISON);
	ck_assert_uint_eq(p[-1], POISON);
	p = guestmem_hva(&gm, DATA_GPA, 0x3000);
	for (int i = 0; i < 0x80; i++)
		ck_assert_uint_eq(p[i], 0xcd);
	for (int i = 0x80; i < 0x3000; i++)
		ck_assert_uint_eq(p[i], 0);
	ck_assert_uint_eq(p[0x3000], POISON);
}
END_TEST

START_TEST(header_fields_need_not_be_aligned)
{
	static uint8_t buf[IMG_LEN + 1];
	struct elf_image ei;
	struct img im;

	img_good(&im);
	memcpy(buf + 1, im.b, im.len);
	ck_assert_int_eq(elf_load(buf + 1, im.len, &gm, &ei, NULL, 0), 0);
	ck_assert_uint_eq(ei.entry, TEXT_GPA + 0x10);
}
END_TEST

struct bad_case {
	const char *name;
	void (*mutate)(struct img *im);
	int err;
	const char *msg;        /* substring of the reason, or NULL */
};

static void m_notelf(struct img *im) { memcpy(im->b, "#!/bin/sh\n", 10); }
static void m_tiny(struct img *im) { im->len = 3; }
static void m_ident_only(struct img *im) { im->len = 12; }
static void m_short_ehdr(struct img *im) { im->len = 0x30; }
static void m_elf32(struct img *im) { im->b[EI_CLASS] = ELFCLASS32; }
static void m_msb(struct img *im) { im->b[EI_DATA] = ELFDATA2MSB; }
static void m_version(struct img *im) { im->b[EI_VERSION] = 2; }
static void m_aarch64(struct img *im) { ehdr(im)->e_machine = EM_AARCH64; }
static void m_rel(struct img *im) { ehdr(im)->e_type = ET_REL; }
static void m_dyn(struct img *im) { ehdr(im)->e_type = ET_DYN; }
static void m_phentsize(struct img *im) { ehdr(im)->e_phentsize = 32; }
static void m_phoff(struct img *im) { ehdr(im)->e_phoff = IMG_LEN - 0x20; }
static void m_phoff_wrap(struct img *im) { ehdr(im)->e_phoff = UINT64_MAX - 0x40; }
static void m_phnum(struct img *im) { ehdr(im)->e_phnum = 0xffff; }
static void m_phnum0(struct img *im) { ehdr(im)->e_phnum = 0; }

static void m_noload(struct img *im)
{
	phdr(im, 0)->p_type = PT_NOTE;
	phdr(im, 1)->p_type = PT_GNU_STACK;
}

static void m_filesz(struct img *im) { phdr(im, 1)->p_filesz = 0x1001; }
static void m_offset(struct img *im) { phdr(im, 1)->p_offset = IMG_LEN; }
static void m_offset_wrap(struct img *im) { phdr(im, 1)->p_offset = UINT64_MAX - 0x10; }
static void m_memsz(struct img *im) { phdr(im, 1)->p_memsz = 0x7f; }
static void m_seglow(struct img *im) { phdr(im, 1)->p_paddr = 0x80000; }
static void m_seg_at_0(struct img *im) { phdr(im, 1)->p_paddr = 0; }
static void m_segoob(struct img *im) { phdr(im, 1)->p_paddr = 1ull << 32; }
static void m_seg_end(struct img *im) { phdr(im, 1)->p_paddr = RAM - 0x1000; }
static void m_paddr_wrap(struct img *im) { phdr(im, 1)->p_paddr = UINT64_MAX - 0xfff; }
static void m_huge(struct img *im) { phdr(im, 1)->p_memsz = 512ull << 20; }

static void m_memsz_wrap(struct img *im)
{
	phdr(im, 1)->p_memsz = UINT64_MAX - 0x1000;
}

static void m_entry(struct img *im) { ehdr(im)->e_entry = 0x400000; }
static void m_entry_end(struct img *im) { ehdr(im)->e_entry = TEXT_GPA + 0x100; }
static void m_entry_data(struct img *im) { ehdr(im)->e_entry = DATA_GPA; }

static const struct bad_case bad_cases[] = {
	{ "notelf", m_notelf, ENOEXEC, "not an ELF file" },
	{ "tiny", m_tiny, ENOEXEC, "not an ELF file" },
	{ "ident_only", m_ident_only, ENOEXEC, "truncated" },
	{ "short_ehdr", m_short_ehdr, ENOEXEC, "truncated" },
	{ "elf32", m_elf32, ENOEXEC, "ELF class 32, need 64-bit" },
	{ "msb", m_msb, ENOEXEC, "little-endian" },
	{ "version", m_version, ENOEXEC, "version" },
	{ "aarch64", m_aarch64, ENOEXEC, "machine 183 (aarch64), need x86-64" },
	{ "rel", m_rel, ENOEXEC, "ET_EXEC" },
	{ "dyn", m_dyn, ENOEXEC, "ET_EXEC" },
	{ "phentsize", m_phentsize, ENOEXEC, "program header size" },
	{ "phoff", m_phoff, ENOEXEC, "truncated: program headers end at 0x" },
	{ "phoff_wrap", m_phoff_wrap, ENOEXEC, "truncated" },
	{ "phnum", m_phnum, ENOEXEC, "truncated" },
	{ "phnum0", m_phnum0, ENOEXEC, "no loadable segments" },
	{ "noload", m_noload, ENOEXEC, "no loadable segments" },
	{ "filesz", m_filesz, ENOEXEC, "beyond file size" },
	{ "offset", m_offset, ENOEXEC, "beyond file size" },
	{ "offset_wrap", m_offset_wrap, ENOEXEC, "beyond file size" },
	{ "memsz", m_memsz, ENOEXEC, "exceeds memory size" },
	{ "seglow", m_seglow, ERANGE,
	  "segment 1 [0x80000,0x83000) outside guest RAM [0x100000,0x1000000)" },
	{ "seg_at_0", m_seg_at_0, ERANGE, "outside guest RAM" },
	{ "segoob", m_segoob, ERANGE,
	  "segment 1 [0x100000000,0x100003000) outside guest RAM" },
	{ "seg_end", m_seg_end, ERANGE, "outside guest RAM" },
	{ "paddr_wrap", m_paddr_wrap, ERANGE, "wraps" },
	{ "memsz_wrap", m_memsz_wrap, E2BIG, "image needs" },
	{ "huge", m_huge, E2BIG,
	  "image needs 0x20000000 bytes, guest RAM is only 0x1000000" },
	{ "entry", m_entry, ENOEXEC, "entry point 0x400000" },
	{ "entry_end", m_entry_end, ENOEXEC, "entry point" },
	{ "entry_data", m_entry_data, ENOEXEC, "executable" },
};

START_TEST(bad_image_rejected)
{
	const struct bad_case *c = &bad_cases[_i];
	struct elf_image ei = { .entry = 0x1234 };
	char err[256] = "";
	struct img im;
	int ret;

	img_good(&im);
	c->mutate(&im);
	ret = elf_load(im.b, im.len, &gm, &ei, err, sizeof(err));
	ck_assert_msg(ret == -c->err, "%s: got %d (%s), want %d", c->name, ret, err, -c->err);
	ck_assert_msg(err[0] && strchr(err, '\n') == NULL, "%s: bad reason '%s'", c->name, err);
	if (c->msg)
		ck_assert_msg(strstr(err, c->msg), "%s: reason '%s' lacks '%s'",
			      c->name, err, c->msg);
	ck_assert_msg(ram_untouched(), "%s: guest RAM written", c->name);
	ck_assert_uint_eq(ei.entry, 0x1234);
}
END_TEST

START_TEST(null_err_buffer_is_fine)
{
	struct elf_image ei;
	struct img im;

	img_good(&im);
	m_elf32(&im);
	ck_assert_int_eq(elf_load(im.b, im.len, &gm, &ei, NULL, 0), -ENOEXEC);
}
END_TEST

START_TEST(segment_filling_ram_exactly)
{
	struct elf_image ei;
	char err[256] = "";
	struct img im;

	img_good(&im);
	phdr(&im, 1)->p_paddr = RAM - 0x3000;
	ck_assert_int_eq(elf_load(im.b, im.len, &gm, &ei, err, sizeof(err)), 0);
	ck_assert_uint_eq(ei.hi, RAM);
	ck_assert_uint_eq(gm.alias[RAM - 1], 0);
}
END_TEST

static char tmpdir[64];

static void files_setup(void)
{
	testutil_mkdtemp(tmpdir, "elf");
}

static void files_teardown(void)
{
	testutil_rm_rf(tmpdir);
}

static void write_file(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
}

static int read_path(const char *name, void **buf, size_t *len, char *err)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	err[0] = 0;
	return elf_read_file(path, buf, len, err, 256);
}

START_TEST(read_file_ok)
{
	char path[128], err[256];
	void *buf = NULL;
	struct img im;
	size_t len = 0;

	img_good(&im);
	snprintf(path, sizeof(path), "%s/guest.elf", tmpdir);
	write_file(path, im.b, im.len, 0644);
	ck_assert_int_eq(read_path("guest.elf", &buf, &len, err), 0);
	ck_assert_uint_eq(len, im.len);
	ck_assert_int_eq(memcmp(buf, im.b, len), 0);
	free(buf);
}
END_TEST

START_TEST(read_file_errors)
{
	char path[128], err[256];
	void *buf = NULL;
	size_t len = 0;

	ck_assert_int_eq(read_path("missing", &buf, &len, err), -ENOENT);
	ck_assert_str_eq(err, "cannot open: No such file or directory");

	ck_assert_int_eq(read_path("", &buf, &len, err), -EISDIR);
	ck_assert_str_eq(err, "is a directory");

	snprintf(path, sizeof(path), "%s/empty", tmpdir);
	write_file(path, "", 0, 0644);
	ck_assert_int_eq(read_path("empty", &buf, &len, err), -ENOEXEC);
	ck_assert_str_eq(err, "empty file");

	snprintf(path, sizeof(path), "%s/fifo", tmpdir);
	ck_assert_int_eq(mkfifo(path, 0644), 0);
	ck_assert_int_eq(read_path("fifo", &buf, &len, err), -EINVAL);
	ck_assert_str_eq(err, "not a regular file");

	/* root reads mode 000 files anyway */
	if (geteuid() != 0) {
		snprintf(path, sizeof(path), "%s/secret", tmpdir);
		write_file(path, "x", 1, 0);
		ck_assert_int_eq(read_path("secret", &buf, &len, err), -EACCES);
		ck_assert_str_eq(err, "cannot open: Permission denied");
	}
	ck_assert_ptr_null(buf);
}
END_TEST

static Suite *elf_suite(void)
{
	Suite *s = suite_create("elf");
	TCase *tc = tcase_create("load");
	TCase *tf = tcase_create("file");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, good_image_loads);
	tcase_add_test(tc, header_fields_need_not_be_aligned);
	tcase_add_loop_test(tc, bad_image_rejected, 0,
			    sizeof(bad_cases) / sizeof(bad_cases[0]));
	tcase_add_test(tc, null_err_buffer_is_fine);
	tcase_add_test(tc, segment_filling_ram_exactly);
	suite_add_tcase(s, tc);

	tcase_add_checked_fixture(tf, files_setup, files_teardown);
	tcase_add_test(tf, read_file_ok);
	tcase_add_test(tf, read_file_errors);
	suite_add_tcase(s, tf);
	return s;
}

int main(void)
{
	return testutil_run(elf_suite());
}
