/* Hypercall wrappers: fill a static argument struct, write its gpa to a port. */
#include <string.h>
#include <gk/assert.h>
#include <gk/hypercall.h>
#include <gk/x86.h>

struct hc_ports hc_ports = {
	.console = PV_PORT_COM1,
	.debug_exit = PV_PORT_DEBUG_EXIT,
	.hc_base = PV_PORT_HC_BASE,
	.unused = PV_PORT_UNUSED,
};

static struct pv_puts hc_puts_buf __attribute__((aligned(64)));
static struct pv_assert hc_assert_buf __attribute__((aligned(64)));
static struct pv_balloon hc_balloon_buf __attribute__((aligned(64)));
static struct pv_meminfo hc_meminfo_buf __attribute__((aligned(64)));

#define HC_PORT(hc) ((uint16_t)(hc_ports.hc_base + ((hc) - PV_PORT_HC_BASE)))

/* Identity map: a kernel static's address is its gpa, and it lies below 4 GiB. */
static uint32_t hc_gpa(const void *p)
{
	return (uint32_t)(uintptr_t)p;
}

void hc_set_ports(const struct hc_ports *p)
{
	hc_ports = *p;
}

void hc_puts(const char *s, size_t len)
{
	while (len) {
		size_t n = len < PV_PUTS_MAX ? len : PV_PUTS_MAX;

		hc_puts_buf.version = PV_ABI_VERSION;
		hc_puts_buf.len = (uint32_t)n;
		memcpy(hc_puts_buf.data, s, n);
		outl(HC_PORT(PV_HC_PUTS), hc_gpa(&hc_puts_buf));
		s += n;
		len -= n;
	}
}

int hc_report(struct pv_report *r)
{
	r->version = PV_ABI_VERSION;
	r->status = -1;
	r->accepted = 0;
	outl(HC_PORT(PV_HC_REPORT), hc_gpa(r));
	return r->status;
}

int hc_balloon(uint32_t op, const struct pv_balloon_range *ranges, uint32_t count,
	       struct pv_balloon *out)
{
	struct pv_balloon *b = &hc_balloon_buf;

	GUEST_ASSERTF(count <= PV_BALLOON_RANGES, "hc_balloon: %u ranges", count);
	b->version = PV_ABI_VERSION;
	b->op = op;
	b->count = count;
	b->reserved = 0;
	if (count)
		memcpy(b->range, ranges, count * sizeof(*ranges));
	b->status = -1;
	outl(HC_PORT(PV_HC_BALLOON), hc_gpa(b));
	if (out)
		*out = *b;
	return b->status;
}

int hc_meminfo(struct pv_meminfo *out)
{
	struct pv_meminfo *m = &hc_meminfo_buf;

	m->version = PV_ABI_VERSION;
	m->reserved = 0;
	m->status = -1;
	outl(HC_PORT(PV_HC_MEMINFO), hc_gpa(m));
	*out = *m;
	return m->status;
}

static void hc_copy_str(char *dst, const char *src, size_t cap)
{
	size_t n = strnlen(src, cap - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

void hc_assert(const char *file, unsigned line, const char *msg)
{
	hc_assert_buf.version = PV_ABI_VERSION;
	hc_assert_buf.line = line;
	hc_copy_str(hc_assert_buf.file, file, sizeof(hc_assert_buf.file));
	hc_copy_str(hc_assert_buf.msg, msg, sizeof(hc_assert_buf.msg));
	outl(HC_PORT(PV_HC_ASSERT), hc_gpa(&hc_assert_buf));
	/* The VMM stops the VM; should it resume us, a halt also fails it. */
	x86_halt_forever();
}

void hc_exit(uint32_t code)
{
	outl(HC_PORT(PV_HC_EXIT), code);
	x86_halt_forever();
}
