# Processes: workload procs in every PV MMU mode.  K workers map private
# memory at the same user address, fill, yield, verify, munmap and mprotect
# parts of regions and exit with a status of their pid (memory mapped
# lazily, on fault); six processes that fault (unmapped, read-only, the
# read-only middle page of a region, another's frame through the identity
# map, ud2, #GP) are killed and reported while the others finish; bad
# system-call arguments get errors.
source "$(dirname "$0")/lib.sh" "$@"
need_kvm

K=4
for mode in off immediate batched; do
	J=$TMP/procs.$mode.json
	run_vmm -q --pv-mmu $mode --stats "$J" "$GUEST" -- workload=procs n=$K
	what="procs n=$K mode=$mode"
	expect_status 0 "$what"
	expect_out "procs: $K exited as expected, 6 killed as expected, 0 errors" "$what summary"
	expect_out "proc: pid [0-9]+ killed: exception 14 \(#PF\)" "$what: #PF kill reported"
	expect_out "proc: pid [0-9]+ killed: exception 14 \(#PF\) err=0x7 rip=0x[0-9a-f]+ cr2=0x20000001000" "$what: a write to the read-only middle page killed"
	expect_out "proc: pid [0-9]+ killed: exception 6 \(#UD\)" "$what: #UD kill reported"
	expect_out "proc: pid [0-9]+ killed: exception 13 \(#GP\)" "$what: #GP kill reported"
	expect_json "$J" ".guest.procs == $K and .guest.exited_ok == $K and .guest.killed == 6" "$what statuses"
	expect_json "$J" ".guest.errors == 0 and .guest.isolated == $K" "$what isolation"
	expect_json "$J" ".guest.user_report == 42" "$what: report from a process"
	expect_json "$J" ".guest.bad_args >= $K * 28" "$what: bad arguments refused"
	expect_json "$J" '.guest.switches > 0 and .guest.syscalls > .guest.switches' "$what switches"
	expect_json "$J" ".guest.faults >= $K * 4" "$what: lazy mmap, pages mapped on fault"
	expect_json "$J" '.guest.cycles == 8 and .guest.frames_free_before == .guest.frames_free_after' "$what: every frame back after create/exit cycles"
	expect_json "$J" ".guest.pvmmu_mode == $([ $mode = off ] && echo 0 || ([ $mode = immediate ] && echo 1 || echo 2))" "$what mode"
	expect_json "$J" '.run.exit_status == 0 and .hypercalls.bad == 0' "$what run"
	if [ $mode != off ]; then
		expect_json "$J" '.pvmmu.rejected == 0 and .pvmmu.pins > 0 and .pvmmu.unpins > 0' "$what: channel"
	fi
done

# with fault-around the faulting processes are still killed, every frame comes back
for fa in 16 auto; do
	J=$TMP/procs.fa$fa.json
	run_vmm -q --pv-mmu batched --stats "$J" "$GUEST" -- workload=procs n=$K faultaround=$fa
	what="procs n=$K faultaround=$fa"
	expect_status 0 "$what"
	expect_out "procs: $K exited as expected, 6 killed as expected, 0 errors" "$what summary"
	expect_json "$J" ".guest.killed == 6 and .guest.errors == 0 and .guest.isolated == $K" "$what statuses"
	expect_json "$J" '.guest.frames_free_before == .guest.frames_free_after' "$what: every frame back"
done

# the bound on K, refused with one line
run_vmm -q "$GUEST" -- workload=procs n=11
expect_status 1 "procs n=11"
finish
