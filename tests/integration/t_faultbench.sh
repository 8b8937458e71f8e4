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
			expect_json "$J" '.prefault.mode == "on" and .prefault.errors == 0 and
				(.prefault.method | IN("populate+kvm", "populate"))' "$what: prefault on, no errors"
			# batched: every page the faults mapped went to the host in a run
			[ $mode = batched ] && expect_json "$J" ".prefault.pages >= $PAGES and
				.prefault.runs > 0 and .prefault.runs <= .pvmmu.doorbells" "$what: maps prefaulted"
		done
	done
done

# --prefault off: the same pages, nothing prefaulted
J=$TMP/fb.nopf.json
run_vmm -q --pv-mmu batched --prefault off --stats "$J" "$GUEST" -- workload=faultbench \
	size=$SIZE pattern=seq faultaround=16
expect_status 0 "faultbench --prefault off"
expect_json "$J" ".guest.errors == 0 and .guest.fault_pages == $PAGES" "--prefault off: every page verified"
expect_json "$J" '.prefault.mode == "off" and .prefault.method == "none" and .prefault.runs == 0 and
	.prefault.pages == 0' "--prefault off: nothing prefaulted"
# the control for --prealloc's stage-2 count below: untouched RAM has no entry
if jq -e '.kvm.vm | has("pages_4k")' "$J" >/dev/null; then
	expect_json "$J" '(.kvm.vm.pages_4k + 512 * .kvm.vm.pages_2m) < 65536' \
		"without --prealloc, not all of the 256M is in KVM's stage 2"
fi

# --prealloc: all of RAM in host memory (and stage 2) before the guest runs
J=$TMP/fb.prealloc.json
run_vmm -q -m 64M --pv-mmu batched --prealloc --stats "$J" "$GUEST" -- workload=faultbench \
	size=$SIZE pattern=seq faultaround=16
expect_status 0 "faultbench --prealloc"
expect_json "$J" ".guest.errors == 0 and .guest.fault_pages == $PAGES" "--prealloc: every page verified"
expect_json "$J" '.prefault.prealloc == "on" and .prefault.errors == 0' "--prealloc: reported"
# where KVM prefaults stage 2, every 4 KiB page of the 64M has its entry (KVM's own count)
if jq -e '.prefault.method | test("kvm")' "$J" >/dev/null; then
	expect_json "$J" '(.kvm.vm.pages_4k + 512 * .kvm.vm.pages_2m) >= 16384' \
		"--prealloc: all of RAM in KVM's stage 2"
fi
refused "--prealloc and --swap do not go together" "--prealloc with --swap" -m 64M --prealloc \
	--swap "$TMP" --resident 8M "$GUEST"

# bad values, refused with one line
run_vmm -q "$GUEST" -- workload=faultbench faultaround=3
expect_status 1 "faultaround=3"
run_vmm -q "$GUEST" -- workload=faultbench pattern=zigzag
expect_status 1 "pattern=zigzag"
finish
