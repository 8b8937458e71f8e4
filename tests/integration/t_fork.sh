# Fork with copy-on-write (issue 12 steps 2 and 3), in both fork modes
# (eager: every leaf shared at fork; shared: the page tables shared, copied
# at their first change) and every PV MMU mode: workload forkbench (one
# process writes S, forks K children one after another; each child's
# first write is a copy-on-write fault, its writes stay private, the
# parent's data stays its own; every frame comes back, every table a child
# pinned is unpinned), the generations and full-table checks of workload
# procs, and fork= values that do not exist refused.
source "$(dirname "$0")/lib.sh" "$@"
need_kvm

K=4
SIZE=4M
PAGES=1024
# shared: the page tables under the data (1024 pages from a 2 MiB boundary)
# and the stack's; eager shares none
declare -A TABLES=([eager]=0 [shared]=3)
for fork in eager shared; do
	for mode in off immediate batched; do
		# the control: the same process without children (what stays pinned anyway)
		J0=$TMP/fork0.$fork.$mode.json
		run_vmm -q --pv-mmu $mode --stats "$J0" "$GUEST" -- workload=forkbench size=$SIZE children=0 fork=$fork
		expect_status 0 "forkbench children=0 fork=$fork mode=$mode"
		expect_json "$J0" '.guest.errors == 0 and .guest.children == 0 and .guest.cow_faults == 0 and .guest.privatized == 0' "forkbench children=0 fork=$fork mode=$mode: no fork, no cow"

		J=$TMP/fork.$fork.$mode.json
		run_vmm -q --pv-mmu $mode --stats "$J" "$GUEST" -- workload=forkbench size=$SIZE children=$K fork=$fork
		what="forkbench size=$SIZE children=$K fork=$fork mode=$mode"
		expect_status 0 "$what"
		expect_out "forkbench: $PAGES pages, $K children, medians .*, 0 errors" "$what summary"
		expect_json "$J" ".guest.errors == 0 and .guest.children == $K and .guest.pages == $PAGES" "$what: every child verified its parent's data, the parent its own"
		# each child's first write copies; the parent's later writes fault too
		expect_json "$J" ".guest.cow_faults > 0 and .guest.cow_copies >= $K" "$what: copy-on-write faults"
		expect_json "$J" '.guest.frames_free_before == .guest.frames_free_after' "$what: every frame back"
		expect_json "$J" '.guest.fork_ns > 0 and .guest.first_write_ns > 0 and .guest.exit_ns > 0' "$what: timings"
		expect_json "$J" '.run.exit_status == 0 and .hypercalls.bad == 0' "$what run"
		expect_json "$J" ".guest.shared_tables == ${TABLES[$fork]}" "$what: tables shared at the last fork (${TABLES[$fork]})"
		if [ $fork = shared ]; then
			# every child writes its stack and the data: at least one table copied each
			expect_json "$J" ".guest.privatized >= $K" "$what: shared tables copied at their first write"
		else
			expect_json "$J" '.guest.privatized == 0' "$what: no table copied"
		fi
		if [ $mode != off ]; then
			d0=$(jq '.pvmmu.pins - .pvmmu.unpins' "$J0")
			expect_json "$J" ".pvmmu.rejected == 0 and .pvmmu.pins > 0 and .pvmmu.pins - .pvmmu.unpins == $d0" "$what: every table a child pinned is unpinned (as many left pinned as without children: $d0)"
		fi
	done

	# generations (4 levels, a 4 KiB and a 2 MiB page each: each sees its
	# own writes and its ancestors' from before its fork, none of its
	# children's) and fork into a full table
	for mode in off immediate batched; do
		J=$TMP/procs.$fork.$mode.json
		run_vmm -q --pv-mmu $mode --stats "$J" "$GUEST" -- workload=procs n=2 cycles=1 fork=$fork
		what="procs n=2 fork=$fork mode=$mode"
		expect_status 0 "$what"
		expect_json "$J" '.guest.forks_ok == 1 and .guest.errors == 0' "$what: generations and a full table"
		# 3 forks for the generations, then at least one per free slot
		expect_json "$J" '.guest.forks >= 4 and .guest.cow_copies > 0' "$what: forks and copies counted"
		expect_json "$J" '.guest.frames_free_before == .guest.frames_free_after' "$what: every frame back"
		if [ $fork = shared ]; then
			expect_json "$J" '.guest.privatized > 0' "$what: shared tables copied"
			expect_json "$J" '.guest.unlinked >= 1' "$what: a shared table unmapped whole is unlinked, not copied"
		else
			expect_json "$J" '.guest.privatized == 0 and .guest.unlinked == 0' "$what: no table copied or unlinked"
		fi
		# the workers' last munmap takes whole split units: their own tables go
		expect_json "$J" '.guest.tables_freed >= 2' "$what: tables of spans unmapped whole freed"
	done
done

# a mode that does not exist is refused with one line, not run as eager
run_vmm -q "$GUEST" -- workload=forkbench fork=bogus
expect_status 1 "fork=bogus"
expect_out "^guest: bad value fork=bogus " "fork=bogus: says why"
n=$(grep -c . "$OUT")
if [ "$n" -eq 1 ]; then ok; else fail "fork=bogus: $n lines of output, expected 1"; fi
for v in eager shared; do
	run_vmm -q "$GUEST" -- workload=forkbench fork=$v size=64K children=1
	expect_status 0 "fork=$v"
done
finish
