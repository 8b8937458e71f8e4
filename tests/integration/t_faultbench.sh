# Demand paging and fault-around: workload faultbench (one process maps S
# lazily and writes a word in every page, then verifies) with
# faultaround=0, 16 and auto, sequential and random, in every PV MMU mode.
source "$(dirname "$0")/lib.sh" "$@"
need_kvm

SIZE=4M
PAGES=1024
for mode in off immediate batched; do
	for pat in seq random; do
		for fa in 0 16 auto; do
			J=$TMP/fb.$mode.$pat.$fa.json
			run_vmm -q --pv-mmu $mode --stats "$J" "$GUEST" -- workload=faultbench \
				size=$SIZE pattern=$pat faultaround=$fa
			what="faultbench $pat faultaround=$fa mode=$mode"
			expect_status 0 "$what"
			expect_json "$J" ".guest.errors == 0 and .guest.pages == $PAGES and .guest.fault_pages == $PAGES" "$what: every page mapped once, verified"
			expect_json "$J" '.run.exit_status == 0 and .hypercalls.bad == 0' "$what run"
			case $fa in
			0) expect_json "$J" ".guest.faults == $PAGES" "$what: one fault per page" ;;
			16) [ $pat = seq ] && expect_json "$J" ".guest.faults * 8 <= $PAGES" "$what: at most 1/8 of the pages fault" ;;
			esac
			if [ $mode != off ]; then
				expect_json "$J" '.pvmmu.rejected == 0' "$what: channel"
			fi
		done
	done
done

# bad values, refused with one line
run_vmm -q "$GUEST" -- workload=faultbench faultaround=3
expect_status 1 "faultaround=3"
run_vmm -q "$GUEST" -- workload=faultbench pattern=zigzag
expect_status 1 "pattern=zigzag"
finish
