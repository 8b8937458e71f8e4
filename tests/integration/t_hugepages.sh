# --hugepages: guest RAM in 2 MiB hugetlb pages.  Refusals first (they need
# no KVM: the pool is checked before /dev/kvm is opened); then, with 40
# free huge pages (reserved here for the test when there are too few, and
# given back at the end), the guest boots and checks its own data, KVM maps
# RAM with 2 MiB entries, releases and the balloon give whole huge pages
# back (a release inside a huge page, zeroed in place: test_guestmem).
# hugebench: 2 MiB mmap falls back to 4 KiB pages per unit when memory is
# fragmented (fragment=1 keep=K); a partial munmap or mprotect and
# copy-on-write after fork split a 2 MiB page into 4 KiB ones (ops=1).
source "$(dirname "$0")/lib.sh" "$@"
source "$(dirname "$0")/../hugepool.sh"
MIB=1048576
NEED=40         # 64M of guest RAM and some to spare

refused "--hugepages and --swap do not go together" "--hugepages with --swap" -m 64M --hugepages \
	--swap "$TMP" --resident 8M "$GUEST"
refused "--hugepages and --anon-ram do not go together" "--hugepages with --anon-ram" -m 64M \
	--hugepages --anon-ram "$GUEST"
if [ -d $HUGEPOOL ]; then
	avail=$(hugepool_avail)
	mb=$(( (avail + 1) * 2 ))
	[ $mb -lt 64 ] && mb=64
	if [ $mb -le 4096 ]; then
		refused "${mb}M of guest RAM needs $((mb / 2)) free 2M huge pages; the host has $avail" \
			"--hugepages beyond the pool" -m ${mb}M --hugepages "$GUEST"
	fi
fi

need_kvm
trap 'hugepool_restore; rm -rf "$TMP"' EXIT
hugepool_reserve $NEED || { echo "SKIP: $HUGEPOOL_WHY"; exit 77; }

J=$TMP/hello.json
run_vmm -q -m 64M --hugepages --stats "$J" "$GUEST" -- workload=hello
expect_status 0 "hello --hugepages"
expect_json "$J" '.run.memory_backing == "hugetlb" and .run.memory_page_bytes == 2097152' \
	"hello: the JSON says hugetlb"
expect_json "$J" '.kvm.vm.pages_2m > 0' "hello: KVM maps RAM with 2 MiB entries"

for mode in off batched; do
	what="mapwalk 16M release=1 --hugepages --pv-mmu $mode"
	J=$TMP/mw-$mode.json
	run_vmm -q -m 64M --hugepages --pv-mmu $mode --stats "$J" "$GUEST" -- workload=mapwalk \
		size=16M passes=2
	expect_status 0 "$what"
	expect_json "$J" '.guest.errors == 0 and .guest.pages == 4096' "$what: every page verified"
	expect_json "$J" ".released.pages == 4096 and .guest.release_alloc_drop_bytes >= 16 * $MIB" \
		"$what: the released 16M went back in whole huge pages"
done

what="balloon 16M --hugepages"
J=$TMP/balloon.json
run_vmm -q -m 64M --hugepages --stats "$J" "$GUEST" -- workload=balloon size=16M
expect_status 0 "$what"
expect_json "$J" ".balloon.inflated_bytes == 16 * $MIB and .guest.errors == 0" "$what: inflated, deflated"
expect_json "$J" ".guest.alloc_drop_bytes >= 16 * $MIB" "$what: 8 huge pages went back"

# processes: their 4 KiB frames are released a page at a time (zeroed in place)
what="procs --hugepages"
J=$TMP/procs.json
run_vmm -q -m 64M --hugepages --stats "$J" "$GUEST" -- workload=procs n=4 cycles=2
expect_status 0 "$what"
expect_json "$J" '.guest.errors == 0 and .guest.frames_free_before == .guest.frames_free_after' \
	"$what: every process checked, every frame back"

what="faultbench 4M faultaround=16 --hugepages"
J=$TMP/fb.json
run_vmm -q -m 64M --hugepages --pv-mmu batched --stats "$J" "$GUEST" -- workload=faultbench \
	size=4M pattern=seq faultaround=16
expect_status 0 "$what"
expect_json "$J" '.guest.errors == 0 and .guest.fault_pages == 1024' "$what: every page verified"

# hugebench: a 2 MiB mapping on huge-page RAM against 4 KiB pages everywhere, same touches
J2=$TMP/hb-2m.json
run_vmm -q -m 64M --hugepages --stats "$J2" "$GUEST" -- workload=hugebench size=32M map=2m
expect_status 0 "hugebench map=2m --hugepages"
expect_json "$J2" '.guest.errors == 0 and .guest.huge_mappings == 16 and .guest.small_mappings == 0' \
	"hugebench map=2m: 16 units mapped with 2 MiB entries, data intact"
J4=$TMP/hb-4k.json
run_vmm -q -m 64M --stats "$J4" "$GUEST" -- workload=hugebench size=32M map=4k
expect_status 0 "hugebench map=4k, 4 KiB memfd RAM"
expect_json "$J4" '.guest.errors == 0 and .guest.huge_mappings == 0 and .guest.small_mappings == 16' \
	"hugebench map=4k: 16 units of 4 KiB pages, data intact"
pf2=$(jq '.kvm.vcpu[0].pf_taken' "$J2")
pf4=$(jq '.kvm.vcpu[0].pf_taken' "$J4")
expect_json "$J4" ".kvm.vcpu[0].pf_taken >= 50 * $pf2" \
	"KVM page faults: 4 KiB everywhere $pf4, 2 MiB end to end $pf2 (want 50x fewer)"
# fragment=1: no whole 2 MiB frame left, so every unit of the 2 MiB mmap falls back to 4 KiB
for hp in --hugepages ""; do
	what="hugebench size=32M fragment=1 ${hp:-(memfd RAM)}"
	J=$TMP/hb-frag.json
	run_vmm -q -m 64M $hp --stats "$J" "$GUEST" -- workload=hugebench size=32M fragment=1
	expect_status 0 "$what"
	expect_json "$J" '.guest.errors == 0 and .guest.huge_mappings == 0 and .guest.small_mappings == 16' \
		"$what: 16 units of 4 KiB pages, data intact"
	expect_json "$J" '.guest.mmap_huge_units == 0 and .guest.mmap_small_units == 16' \
		"$what: the kernel counted 16 units fallen back"
	expect_json "$J" '.guest.fragment_frames > 0 and .guest.frames_free_before == .guest.frames_free_after' \
		"$what: every frame back after unfragmenting"
done

# a mixed mapping (keep=3: units 0-2 with 2 MiB pages, 3-7 fallen back) and munmap, mprotect
# and fork over it (ops=1), in both fork modes: unit 0 split by a 4 KiB mprotect, unit 1 by a
# 4 KiB munmap, unit 2 (shared by three processes) by copy-on-write, data intact throughout
# the control for the tables left pinned: the same mapping without the ops
J0=$TMP/hb-mixed0.json
run_vmm -q -m 64M --hugepages --pv-mmu batched --stats "$J0" "$GUEST" -- workload=hugebench \
	size=16M fragment=1 keep=3
expect_status 0 "hugebench size=16M fragment=1 keep=3 (no ops)"
d0=$(jq '.pvmmu.pins - .pvmmu.unpins' "$J0")
for fork in eager shared; do
	for mode in off batched; do
		what="hugebench size=16M fragment=1 keep=3 ops=1 fork=$fork --pv-mmu $mode"
		J=$TMP/hb-mixed.json
		run_vmm -q -m 64M --hugepages --pv-mmu $mode --stats "$J" "$GUEST" -- workload=hugebench \
			size=16M fragment=1 keep=3 ops=1 fork=$fork
		expect_status 0 "$what"
		expect_json "$J" '.guest.errors == 0 and .guest.huge_mappings == 3 and .guest.small_mappings == 5' \
			"$what: 3 huge units, 5 small, data intact through munmap, mprotect and fork"
		expect_json "$J" '.guest.mmap_huge_units == 3 and .guest.mmap_small_units == 5' \
			"$what: the kernel counted 3 huge units and 5 fallen back"
		expect_json "$J" '.guest.split_mprotect == 1 and .guest.split_munmap == 1 and .guest.split_cow == 1' \
			"$what: one 2 MiB page split by each of mprotect, munmap and copy-on-write"
		expect_json "$J" '.guest.huge_after_ops == 0 and .guest.small_after_ops == 8' \
			"$what: every unit in 4 KiB pages after the splits"
		expect_json "$J" '.guest.frames_free_before == .guest.frames_free_after' "$what: every frame back"
		if [ $mode = batched ]; then
			expect_json "$J" ".pvmmu.rejected == 0 and .pvmmu.pins - .pvmmu.unpins == $d0" \
				"$what: every table the splits and forks pinned is unpinned ($d0 left, as without ops)"
		fi
	done
done
# all huge (units 0, 3, 6 split by mprotect, 1 by munmap, the other four by copy-on-write), and
# all small (nothing to split)
for args in "" "fragment=1"; do
	what="hugebench size=16M ops=1 ${args:-(no fragmenting)}"
	J=$TMP/hb-ops.json
	run_vmm -q -m 64M --hugepages --stats "$J" "$GUEST" -- workload=hugebench size=16M ops=1 $args
	expect_status 0 "$what"
	if [ -n "$args" ]; then n2m=0; s=0,0,0; else n2m=8; s=3,1,4; fi
	expect_json "$J" ".guest.errors == 0 and .guest.huge_mappings == $n2m and .guest.huge_mappings + .guest.small_mappings == 8 and .guest.huge_after_ops == 0" \
		"$what: $n2m of 8 units huge, none after the ops, data intact"
	expect_json "$J" "[.guest.split_mprotect, .guest.split_munmap, .guest.split_cow] == [$s]" \
		"$what: splits by mprotect, munmap, copy-on-write: $s"
	expect_json "$J" '.guest.frames_free_before == .guest.frames_free_after' "$what: every frame back"
done

what="memtest --hugepages"
run_vmm -q -m 64M --hugepages "$GUEST" -- workload=memtest size=16M
expect_status 0 "$what"

hugepool_restore
finish
