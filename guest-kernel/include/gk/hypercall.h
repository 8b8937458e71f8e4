/*
 * Hypercalls to the VMM: one 32-bit port write each (see pagevisor/abi.h).
 * Every call works at CPL0 and at CPL3 (IOPL 3 and an all-zero TSS I/O
 * bitmap let ring 3 reach the ports).  Argument structs are kernel statics:
 * the kernel image is identity-mapped below 4 GiB, so gva == gpa.
 */
#ifndef GK_HYPERCALL_H
#define GK_HYPERCALL_H

#include <stddef.h>
#include <stdint.h>
#include <pagevisor/abi.h>

/* Port numbers; ABI defaults until hc_set_ports() adopts the FDT's. */
struct hc_ports {
	uint16_t console;       /* COM1 base */
	uint16_t debug_exit;
	uint16_t hc_base;       /* PV_HC_* are hc_base + offset */
	uint16_t unused;        /* never registered: a bare exit */
};
extern struct hc_ports hc_ports;

/* The port of hypercall hc (a PV_HC_* constant) under the current base. */
static inline uint16_t hc_port(uint16_t hc)
{
	return (uint16_t)(hc_ports.hc_base + (hc - PV_PORT_HC_BASE));
}

/* Replace the port numbers (from the FDT's /pagevisor node). */
void hc_set_ports(const struct hc_ports *p);

/* Write len bytes (split into PV_PUTS_MAX pieces) to the VMM's stdout. */
void hc_puts(const char *s, size_t len);

/* Hand a filled report to the VMM; returns its status (PV_OK or PV_E*). */
int hc_report(struct pv_report *r);

/* Fail the VM with file:line: msg.  Never returns. */
void __attribute__((noreturn)) hc_assert(const char *file, unsigned line,
					 const char *msg);

/*
 * PV_HC_BALLOON: op (enum pv_balloon_op) on count ranges (0 for QUERY, at
 * most PV_BALLOON_RANGES).  The VMM's status (PV_OK or PV_E*; -1 if it did
 * not answer); the whole reply (target_bytes, current_bytes) in *out unless
 * out is NULL.  The VMM validates the request whole: on an error nothing
 * changed.
 */
int hc_balloon(uint32_t op, const struct pv_balloon_range *ranges, uint32_t count,
	       struct pv_balloon *out);

/* PV_HC_MEMINFO: what guest RAM costs the host now, in *out; the status (as hc_balloon). */
int hc_meminfo(struct pv_meminfo *out);

/* End the VM with status code & 0xff.  Never returns. */
void __attribute__((noreturn)) hc_exit(uint32_t code);

#endif
