/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the ELF loader (vmm/elf.c) on arbitrary bytes, into a
 * fresh 4 MiB guest RAM per input.
 *
 * Oracle: a refused image wrote nothing to guest RAM (the memfd still has
 * no data page) and says why in one printable line; a loaded one has a
 * consistent elf_image (entry inside [lo, hi), lo at or above
 * PV_IMAGE_MIN_GPA, hi inside RAM), and its last PT_LOAD segment, which no
 * later copy can overwrite, holds the file's bytes then zeros.
 */
#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzzutil.h"
#include "mmu/guestmem.h"
#include "pagevisor/abi.h"
#include "vmm/elf.h"

#define FE_RAM  PV_RAM_MIN

/* The last PT_LOAD with bytes to copy, as the loader sees it. */
static bool fe_last_load(const uint8_t *data, size_t size, Elf64_Phdr *last)
{
	Elf64_Ehdr eh;
	bool found = false;

	memcpy(&eh, data, sizeof(eh));
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;

		memcpy(&ph, data + eh.e_phoff + (uint64_t)i * sizeof(ph), sizeof(ph));
		if (ph.p_type == PT_LOAD && ph.p_memsz) {
			*last = ph;
			found = true;
		}
	}
	return found;
}

static void fe_check_loaded(const uint8_t *data, size_t size, const struct guestmem *gm,
			    const struct elf_image *img)
{
	const uint8_t *dst;
	Elf64_Phdr ph;

	FUZZ_CHECK(img->lo >= PV_IMAGE_MIN_GPA && img->lo < img->hi && img->hi <= gm->size,
		   "loaded [0x%llx, 0x%llx) in %llu bytes of RAM", (unsigned long long)img->lo,
		   (unsigned long long)img->hi, (unsigned long long)gm->size);
	FUZZ_CHECK(img->entry >= img->lo && img->entry < img->hi, "entry 0x%llx outside the image",
		   (unsigned long long)img->entry);
	FUZZ_CHECK(img->nr_segments >= 1, "loaded without a segment");
	FUZZ_CHECK(fe_last_load(data, size, &ph), "loaded, but no PT_LOAD has bytes");
	dst = guestmem_hva(gm, ph.p_paddr, ph.p_memsz);
	FUZZ_CHECK(dst, "segment [0x%llx, +0x%llx) outside RAM", (unsigned long long)ph.p_paddr,
		   (unsigned long long)ph.p_memsz);
	FUZZ_CHECK(!memcmp(dst, data + ph.p_offset, ph.p_filesz), "segment bytes differ from the file");
	for (uint64_t k = ph.p_filesz; k < ph.p_memsz; k++)
		FUZZ_CHECK(dst[k] == 0, "segment tail byte 0x%llx not zeroed", (unsigned long long)k);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct elf_image img = { 0 };
	struct guestmem gm;
	char err[256];
	size_t at;
	int ret;

	if (guestmem_init(&gm, FE_RAM))
		abort();        /* out of memfds: not the input's fault */
	memset(err, 0x5a, sizeof(err));
	ret = elf_load(data, size, &gm, &img, err, sizeof(err));
	if (ret == 0) {
		fe_check_loaded(data, size, &gm, &img);
	} else {
		FUZZ_CHECK(ret == -ENOEXEC || ret == -ERANGE || ret == -E2BIG, "elf_load returned %d",
			   ret);
		/* a fresh memfd has no data page until something writes to RAM */
		FUZZ_CHECK(lseek(gm.memfd, 0, SEEK_DATA) < 0 && errno == ENXIO,
			   "refused image (%d) wrote to guest RAM", ret);
		FUZZ_CHECK(memchr(err, '\0', sizeof(err)) && err[0], "no reason given for %d", ret);
		FUZZ_CHECK(fuzz_text_check(err, strlen(err), &at) == 0 && !strchr(err, '\n') &&
			   !strchr(err, '\t'), "reason is not one printable line: byte %zu", at);
	}
	guestmem_destroy(&gm);
	return 0;
}
