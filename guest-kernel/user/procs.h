/* Shared by workloads/procs.c (init) and user/procs.c (the processes). */
#ifndef USER_PROCS_H
#define USER_PROCS_H

#define PROCS_BYTES        (16 * 1024)
#define PROCS_STATUS(pid)  ((int)(((pid) * 37 + 11) & 0x7f))   /* never PROCS_STATUS_BAD */
#define PROCS_STATUS_BAD   0xff

long procs_worker(long index);
long procs_unmapped(long arg);
long procs_readonly(long arg);
long procs_readonly_part(long arg);
long procs_peek(long pa);
long procs_ud(long arg);
long procs_gp(long arg);
long procs_forks(long arg);

#endif
