/* SPDX-License-Identifier: MIT */
#include "vmm/elf.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mmu/guestmem.h"
#include "pagevisor/abi.h"

/* Far above any guest kernel we build; keeps a mistaken path from eating RAM. */
#define ELF_FILE_MAX	(1ull << 30)

static int fail(char *err, size_t errlen, int ret, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return ret;
}

int elf_read_file(const char *path, void **buf, size_t *len, char *err, size_t errlen)
{
	struct stat st;
	size_t done = 0;
	char *data;
	ssize_t n;
	int fd, ret;

	/* O_NONBLOCK: opening a FIFO must not hang before fstat refuses it. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return fail(err, errlen, -errno, "cannot open: %s", strerror(errno));
	if (fstat(fd, &st) < 0) {
		ret = fail(err, errlen, -errno, "cannot stat: %s", strerror(errno));
		goto out_close;
	}
	if (S_ISDIR(st.st_mode)) {
		ret = fail(err, errlen, -EISDIR, "is a directory");
		goto out_close;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = fail(err, errlen, -EINVAL, "not a regular file");
		goto out_close;
	}
	if (st.st_size == 0) {
		ret = fail(err, errlen, -ENOEXEC, "empty file");
		goto out_close;
	}
	if ((uint64_t)st.st_size > ELF_FILE_MAX) {
		ret = fail(err, errlen, -EFBIG, "file too large (0x%llx bytes)",
			   (unsigned long long)st.st_size);
		goto out_close;
	}
	data = malloc(st.st_size);
	if (!data) {
		ret = fail(err, errlen, -ENOMEM, "out of memory");
		goto out_close;
	}
	while (done < (size_t)st.st_size) {
		n = read(fd, data + done, st.st_size - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = fail(err, errlen, -errno, "cannot read: %s", strerror(errno));
			goto out_free;
		}
		if (n == 0) {
			ret = fail(err, errlen, -EIO, "file shrank while reading");
			goto out_free;
		}
		done += n;
	}
	close(fd);
	*buf = data;
	*len = done;
	return 0;

out_free:
	free(data);
out_close:
	close(fd);
	return ret;
}

static const char *machine_name(unsigned m)
{
	switch (m) {
	case EM_386:		return "i386";
	case EM_ARM:		return "arm";
	case EM_AARCH64:	return "aarch64";
	case EM_RISCV:		return "riscv";
	case EM_PPC64:		return "ppc64";
	default:		return "unknown";
	}
}

static int check_ehdr(const void *file, size_t len, Elf64_Ehdr *eh, char *err, size_t errlen)
{
	const unsigned char *id = file;
	uint64_t phsize, phend;

	if (len < SELFMAG || memcmp(id, ELFMAG, SELFMAG))
		return fail(err, errlen, -ENOEXEC, "not an ELF file");
	if (len < EI_NIDENT)
		return fail(err, errlen, -ENOEXEC, "truncated: ELF identification cut short");
	if (id[EI_CLASS] != ELFCLASS64)
		return fail(err, errlen, -ENOEXEC, "ELF class %u, need 64-bit",
			    id[EI_CLASS] == ELFCLASS32 ? 32 : id[EI_CLASS]);
	if (id[EI_DATA] != ELFDATA2LSB)
		return fail(err, errlen, -ENOEXEC, "ELF data encoding %u, need little-endian",
			    id[EI_DATA]);
	if (id[EI_VERSION] != EV_CURRENT)
		return fail(err, errlen, -ENOEXEC, "ELF version %u, need %u",
			    id[EI_VERSION], EV_CURRENT);
	if (len < sizeof(*eh))
		return fail(err, errlen, -ENOEXEC,
			    "truncated: ELF header needs 0x%zx bytes, file size is 0x%zx",
			    sizeof(*eh), len);
	memcpy(eh, file, sizeof(*eh));
	if (eh->e_machine != EM_X86_64)
		return fail(err, errlen, -ENOEXEC, "machine %u (%s), need x86-64",
			    eh->e_machine, machine_name(eh->e_machine));
	if (eh->e_type != ET_EXEC)
		return fail(err, errlen, -ENOEXEC, "ELF type %u, need an executable (ET_EXEC)",
			    eh->e_type);
	if (eh->e_version != EV_CURRENT)
		return fail(err, errlen, -ENOEXEC, "ELF version %u, need %u",
			    eh->e_version, EV_CURRENT);
	if (eh->e_phnum == 0)
		return fail(err, errlen, -ENOEXEC, "no loadable segments");
	if (eh->e_phentsize != sizeof(Elf64_Phdr))
		return fail(err, errlen, -ENOEXEC, "program header size %u, need %zu",
			    eh->e_phentsize, sizeof(Elf64_Phdr));
	if (__builtin_mul_overflow((uint64_t)eh->e_phnum, sizeof(Elf64_Phdr), &phsize) ||
	    __builtin_add_overflow(eh->e_phoff, phsize, &phend))
		return fail(err, errlen, -ENOEXEC, "truncated: program headers overflow");
	if (phend > len)
		return fail(err, errlen, -ENOEXEC,
			    "truncated: program headers end at 0x%llx beyond file size 0x%zx",
			    (unsigned long long)phend, len);
	return 0;
}

static void get_phdr(const void *file, const Elf64_Ehdr *eh, unsigned i, Elf64_Phdr *ph)
{
	memcpy(ph, (const char *)file + eh->e_phoff + (uint64_t)i * sizeof(*ph), sizeof(*ph));
}

/* One PT_LOAD: inside the file, inside [PV_IMAGE_MIN_GPA, RAM size). */
static int check_load(const Elf64_Phdr *ph, unsigned i, size_t len, uint64_t ram,
		      char *err, size_t errlen)
{
	uint64_t fend, mend;

	if (ph->p_filesz > ph->p_memsz)
		return fail(err, errlen, -ENOEXEC,
			    "segment %u: file size 0x%llx exceeds memory size 0x%llx", i,
			    (unsigned long long)ph->p_filesz, (unsigned long long)ph->p_memsz);
	if (__builtin_add_overflow(ph->p_offset, ph->p_filesz, &fend) || fend > len)
		return fail(err, errlen, -ENOEXEC,
			    "truncated: segment %u data [0x%llx,+0x%llx) beyond file size 0x%zx",
			    i, (unsigned long long)ph->p_offset,
			    (unsigned long long)ph->p_filesz, len);
	if (ram > PV_IMAGE_MIN_GPA && ph->p_memsz > ram - PV_IMAGE_MIN_GPA)
		return fail(err, errlen, -E2BIG, "image needs 0x%llx bytes, guest RAM is only 0x%llx",
			    (unsigned long long)ph->p_memsz, (unsigned long long)ram);
	if (__builtin_add_overflow(ph->p_paddr, ph->p_memsz, &mend))
		return fail(err, errlen, -ERANGE, "segment %u [0x%llx,+0x%llx) wraps around",
			    i, (unsigned long long)ph->p_paddr, (unsigned long long)ph->p_memsz);
	if (ph->p_paddr < PV_IMAGE_MIN_GPA || mend > ram)
		return fail(err, errlen, -ERANGE,
			    "segment %u [0x%llx,0x%llx) outside guest RAM [0x%x,0x%llx)", i,
			    (unsigned long long)ph->p_paddr, (unsigned long long)mend,
			    PV_IMAGE_MIN_GPA, (unsigned long long)ram);
	return 0;
}

int elf_load(const void *file, size_t len, struct guestmem *gm,
	     struct elf_image *img, char *err, size_t errlen)
{
	uint64_t lo = UINT64_MAX, hi = 0;
	bool entry_ok = false;
	unsigned i, nr = 0;
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	uint8_t *dst;
	int ret;

	ret = check_ehdr(file, len, &eh, err, errlen);
	if (ret)
		return ret;

	for (i = 0; i < eh.e_phnum; i++) {
		get_phdr(file, &eh, i, &ph);
		if (ph.p_type != PT_LOAD)
			continue;
		ret = check_load(&ph, i, len, gm->size, err, errlen);
		if (ret)
			return ret;
		nr++;
		if (ph.p_memsz == 0)
			continue;
		/* Checked here so that the copy loop below cannot fail halfway. */
		if (!guestmem_hva(gm, ph.p_paddr, ph.p_memsz))
			return fail(err, errlen, -ERANGE, "segment %u: no host mapping", i);
		if (ph.p_paddr < lo)
			lo = ph.p_paddr;
		if (ph.p_paddr + ph.p_memsz > hi)
			hi = ph.p_paddr + ph.p_memsz;
		if ((ph.p_flags & PF_X) && eh.e_entry >= ph.p_paddr &&
		    eh.e_entry - ph.p_paddr < ph.p_memsz)
			entry_ok = true;
	}
	if (!nr)
		return fail(err, errlen, -ENOEXEC, "no loadable segments");
	if (!entry_ok)
		return fail(err, errlen, -ENOEXEC,
			    "entry point 0x%llx is not inside a loaded executable segment",
			    (unsigned long long)eh.e_entry);

	for (i = 0; i < eh.e_phnum; i++) {
		get_phdr(file, &eh, i, &ph);
		if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
			continue;
		dst = guestmem_hva(gm, ph.p_paddr, ph.p_memsz);
		memcpy(dst, (const char *)file + ph.p_offset, ph.p_filesz);
		memset(dst + ph.p_filesz, 0, ph.p_memsz - ph.p_filesz);
	}

	img->entry = eh.e_entry;
	img->lo = lo;
	img->hi = hi;
	img->nr_segments = nr;
	return 0;
}
