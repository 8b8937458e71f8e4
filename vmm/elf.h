/* SPDX-License-Identifier: MIT */
/* ELF64 image loader: PT_LOAD segments at their physical addresses. */
#ifndef PV_VMM_ELF_H
#define PV_VMM_ELF_H

#include <stddef.h>
#include <stdint.h>

struct guestmem;

struct elf_image {
	uint64_t entry;         /* e_entry (identity-mapped: a gpa) */
	uint64_t lo, hi;        /* lowest and highest+1 gpa loaded */
	unsigned nr_segments;   /* PT_LOAD segments loaded */
};

/*
 * Read the whole file at @path into a malloc'd buffer.  Returns 0, or -errno
 * with a one-line reason in @err ("cannot open: No such file or directory").
 */
int elf_read_file(const char *path, void **buf, size_t *len, char *err, size_t errlen);

/*
 * Validate @file as an x86-64 ELF64 executable and copy its PT_LOAD segments
 * into guest RAM at p_paddr (zero-filling p_memsz beyond p_filesz).  Every
 * segment must lie in [PV_IMAGE_MIN_GPA, RAM size); offsets and sizes are
 * overflow-checked against @len.  Nothing is written to guest RAM unless the
 * whole image validates.  Returns 0, or -ENOEXEC (not ELF / wrong class,
 * machine or type / truncated / malformed), -ERANGE (segment outside RAM or
 * below PV_IMAGE_MIN_GPA), -E2BIG (image larger than RAM), with a one-line
 * reason in @err.
 */
int elf_load(const void *file, size_t len, struct guestmem *gm,
	     struct elf_image *img, char *err, size_t errlen);

#endif
