/*
 * Exceptions: a process's system call (usys_trap) goes to proc_syscall; a
 * #PF at CPL3 in a process's lazy region maps the page (proc_page_fault); an
 * exception at CPL3 in a process kills that process (proc_kill_current);
 * every other one that reaches C (CPL0, or init: the library OS) is fatal
 * and reported to the VMM.
 */
#include <gk/arch.h>
#include <gk/assert.h>
#include <gk/proc.h>
#include <gk/x86.h>

static const char *const traps_names[TRAP_VECTORS] = {
	"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM",
	"#DF", "CSO", "#TS", "#NP", "#SS", "#GP", "#PF", "#15",
	"#MF", "#AC", "#MC", "#XM", "#VE", "#CP", "#22", "#23",
	"#24", "#25", "#26", "#27", "#HV", "#VC", "#SX", "#31",
};

static int traps_depth;

void traps_handle(struct trap_frame *f)
{
	unsigned v = (unsigned)f->vector;

	if (v == TRAP_SYSCALL) {
		proc_syscall(f);
		return;
	}
	if (v == 14 && (f->cs & 3) == 3 && proc_page_fault(f))
		return;
	if ((f->cs & 3) == 3 && proc_kill_current(f))
		return;
	if (traps_depth++) /* faulted while reporting a fault: give up quietly */
		x86_halt_forever();
	kassert_fail(__FILE__, __LINE__,
		     "exception %u (%s) err=0x%lx rip=0x%lx cr2=0x%lx cpl=%lu rsp=0x%lx",
		     v, v < TRAP_VECTORS ? traps_names[v] : "?",
		     (unsigned long)f->error, (unsigned long)f->rip,
		     (unsigned long)read_cr2(), (unsigned long)(f->cs & 3),
		     (unsigned long)f->rsp);
}
