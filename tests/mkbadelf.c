/* SPDX-License-Identifier: MIT */
/*
 * mkbadelf KIND OUT: write a malformed guest image for the integration tests
 * (and valid ones that end the VM in a known way: "ok" exits 42 through
 * PV_HC_EXIT, "debugexit" writes 0x10 to isa-debug-exit, "hlt" halts, "triple"
 * executes ud2 with no IDT).  Each bad KIND breaks exactly one thing of an
 * otherwise valid image.
 */
#include <elf.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "pagevisor/abi.h"

#define CODE_OFF	0x1000
#define CODE_GPA	0x100000ull

struct image {
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	uint8_t pad[CODE_OFF - sizeof(Elf64_Ehdr) - sizeof(Elf64_Phdr)];
	uint8_t code[16];
};

/* mov $PV_HC_EXIT, %dx; mov $42, %eax; out %eax, (%dx); 1: hlt; jmp 1b */
static const uint8_t code[] = {
	0x66, 0xba, PV_HC_EXIT & 0xff, PV_HC_EXIT >> 8,
	0xb8, 42, 0, 0, 0,
	0xef,
	0xf4, 0xeb, 0xfd,
};

/* mov $0xf4, %dx; mov $0x10, %al; out %al, (%dx); 1: hlt; jmp 1b */
static const uint8_t code_debugexit[] = {
	0x66, 0xba, PV_PORT_DEBUG_EXIT, 0, 0xb0, 0x10, 0xee, 0xf4, 0xeb, 0xfd,
};
static const uint8_t code_hlt[] = { 0xf4, 0xeb, 0xfd };        /* 1: hlt; jmp 1b */
static const uint8_t code_triple[] = { 0x0f, 0x0b };            /* ud2 */

static void image_ok(struct image *im)
{
	memset(im, 0, sizeof(*im));
	memcpy(im->eh.e_ident, ELFMAG, SELFMAG);
	im->eh.e_ident[EI_CLASS] = ELFCLASS64;
	im->eh.e_ident[EI_DATA] = ELFDATA2LSB;
	im->eh.e_ident[EI_VERSION] = EV_CURRENT;
	im->eh.e_type = ET_EXEC;
	im->eh.e_machine = EM_X86_64;
	im->eh.e_version = EV_CURRENT;
	im->eh.e_entry = CODE_GPA;
	im->eh.e_phoff = offsetof(struct image, ph);
	im->eh.e_ehsize = sizeof(Elf64_Ehdr);
	im->eh.e_phentsize = sizeof(Elf64_Phdr);
	im->eh.e_phnum = 1;
	im->ph.p_type = PT_LOAD;
	im->ph.p_flags = PF_R | PF_X;
	im->ph.p_offset = CODE_OFF;
	im->ph.p_vaddr = CODE_GPA;
	im->ph.p_paddr = CODE_GPA;
	im->ph.p_filesz = sizeof(im->code);
	im->ph.p_memsz = 0x1000;
	im->ph.p_align = 0x1000;
	memcpy(im->code, code, sizeof(code));
}

static const char *const kinds[] = {
	"ok", "notelf", "truncated", "elf32", "aarch64", "notexec", "phoff",
	"segoob", "seglow", "filesz", "memsz", "huge", "noload", "entry",
	"debugexit", "hlt", "triple",
};

/* Returns the number of bytes of @im to write, or 0 for an unknown @kind. */
static size_t make(const char *kind, struct image *im)
{
	size_t len = sizeof(*im);

	image_ok(im);
	if (!strcmp(kind, "notelf")) {
		len = snprintf((char *)im, sizeof(*im),
			       "This is not an ELF file, just some text.\n");
	} else if (!strcmp(kind, "truncated")) {
		len = 0x30;
	} else if (!strcmp(kind, "elf32")) {
		im->eh.e_ident[EI_CLASS] = ELFCLASS32;
	} else if (!strcmp(kind, "aarch64")) {
		im->eh.e_machine = EM_AARCH64;
	} else if (!strcmp(kind, "notexec")) {
		im->eh.e_type = ET_REL;
	} else if (!strcmp(kind, "phoff")) {
		im->eh.e_phoff = sizeof(*im) + 0x100;
	} else if (!strcmp(kind, "segoob")) {
		im->ph.p_paddr = 1ull << 32;
		im->eh.e_entry = im->ph.p_paddr;
	} else if (!strcmp(kind, "seglow")) {
		im->ph.p_paddr = 0x80000;
		im->eh.e_entry = im->ph.p_paddr;
	} else if (!strcmp(kind, "filesz")) {
		im->ph.p_filesz = 0x10000;
		im->ph.p_memsz = 0x10000;
	} else if (!strcmp(kind, "memsz")) {
		im->ph.p_memsz = 8;
	} else if (!strcmp(kind, "huge")) {
		im->ph.p_memsz = 512ull << 20;
	} else if (!strcmp(kind, "noload")) {
		im->ph.p_type = PT_NOTE;
	} else if (!strcmp(kind, "entry")) {
		im->eh.e_entry = 0x800000;
	} else if (!strcmp(kind, "debugexit")) {
		memcpy(im->code, code_debugexit, sizeof(code_debugexit));
	} else if (!strcmp(kind, "hlt")) {
		memcpy(im->code, code_hlt, sizeof(code_hlt));
	} else if (!strcmp(kind, "triple")) {
		memcpy(im->code, code_triple, sizeof(code_triple));
	} else if (strcmp(kind, "ok")) {
		return 0;
	}
	return len;
}

static int usage(void)
{
	size_t i;

	fprintf(stderr, "usage: mkbadelf KIND OUT\nKIND:");
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		fprintf(stderr, " %s", kinds[i]);
	fprintf(stderr, "\n");
	return 2;
}

int main(int argc, char **argv)
{
	static struct image im;
	size_t len;
	bool ok;
	FILE *f;

	if (argc != 3)
		return usage();
	len = make(argv[1], &im);
	if (!len)
		return usage();
	f = fopen(argv[2], "wb");
	if (!f) {
		perror(argv[2]);
		return 1;
	}
	ok = fwrite(&im, 1, len, f) == len;
	if (fclose(f) || !ok) {
		perror(argv[2]);
		return 1;
	}
	return 0;
}
