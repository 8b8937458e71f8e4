# Userfaultfd swap mode: the guest gets more RAM than the host keeps
# resident.  memtouch verifies every page on every touch, so a lost, stale
# or misplaced page fails the run; the VMM's JSON shows the resident peak
# against the limit and what the fault and reclaim threads did.
source "$(dirname "$0")/lib.sh" "$@"
SW=$TMP/swapdir         # --swap DIR: the swap file is made there, unnamed
mkdir -p "$SW"

# bad combinations: one line, status 2, nothing started
refused "resident" "--swap without --resident" -m 64M --swap "$SW" "$GUEST"
refused "swap" "--resident without --swap" -m 64M --resident 8M "$GUEST"
refused "resident" "--resident 0" -m 64M --swap "$SW" --resident 0 "$GUEST"
refused "resident" "--resident equal to RAM" -m 64M --swap "$SW" --resident 64M "$GUEST"
refused "resident" "--resident above RAM" -m 64M --swap "$SW" --resident 1G "$GUEST"
refused "aging" "--aging bogus" -m 64M --swap "$SW" --resident 8M --aging lru "$GUEST"
refused "$TMP/no/dir: cannot make a swap file there: No such file" "a missing swap directory" -m 64M --swap "$TMP/no/dir" --resident 8M "$GUEST"
echo "precious data" >"$TMP/precious.txt"
refused "precious.txt: not a directory" "a file as --swap" -m 64M --swap "$TMP/precious.txt" --resident 8M "$GUEST"
if [ "$(cat "$TMP/precious.txt")" = "precious data" ]; then ok; else fail "a refused --swap file was changed"; fi

# an unwritable place (a read-only tmpfs): refused before the guest starts
if mkdir -p "$TMP/ro" && mount -t tmpfs -o ro,size=64k tmpfs "$TMP/ro" 2>/dev/null; then
	refused "Read-only file system" "swap file on a read-only file system" -m 64M --swap "$TMP/ro" --resident 8M "$GUEST"
	umount "$TMP/ro"
else
	echo "note: cannot mount a tmpfs here (not root?): read-only case not run"
fi

need_kvm

# swap_run NAME RESIDENT MEMTOUCH-ARGS...: one run in swap mode, JSON in $TMP/NAME.json
# (RA: the --readahead mode, default auto; MEM: the guest's RAM, default 64M)
RA=auto
swap_run() {
	local name=$1 res=$2
	shift 2
	J=$TMP/$name.json
	run_vmm -q -m "${MEM:-64M}" --swap "$SW" --resident "$res" --readahead "$RA" --stats "$J" \
		"$GUEST" -- workload=memtouch "$@"
}

# the run completed, nothing lost, the limit held, nothing left in the swap directory
swap_ok() {
	expect_status 0 "$1"
	expect_json "$J" '.guest.errors == 0 and .guest.touches > 0' "$1: every page verified"
	expect_json "$J" '.mem.resident_peak_pages <= .mem.limit_pages' "$1: resident peak within the limit"
	expect_json "$J" '.uffd.swap_errors == 0' "$1: no swap errors"
	if [ -z "$(ls -A "$SW")" ]; then ok; else fail "$1: left in the swap directory: $(ls -A "$SW")"; fi
}

# 4 times the limit: 32M of pages in 8M resident, seq and random, writing and reading
for pat in seq random; do
	for w in 1 0; do
		what="memtouch 32M pattern=$pat write=$w in 8M"
		swap_run $pat.$w 8M size=32M pattern=$pat passes=3 write=$w
		swap_ok "$what"
		expect_json "$J" '.mem.limit_pages == 2048' "$what: limit in pages"
		expect_json "$J" '.uffd.swap_out > 0 and .uffd.swap_in > 0' "$what: pages went out and came back"
		expect_json "$J" '.uffd.missing >= .uffd.swap_in and .uffd.zero_fill > 0' "$what: MISSING faults served"
		expect_json "$J" '.uffd.latency.swap_in.count == .uffd.swap_in and .uffd.latency.swap_in.p99_ns >= .uffd.latency.swap_in.p50_ns' \
			"$what: swap-in latency recorded"
		expect_json "$J" '(.uffd.latency.swap_in.hist_log2_ns | add) == .uffd.latency.swap_in.count' \
			"$what: latency histogram complete"
		if [ $w = 0 ]; then
			# a page read back but not written since its swap copy is not written again
			expect_json "$J" '.uffd.swap_out_skipped_clean > 0' "$what: clean pages not rewritten"
		fi
	done
done

# the same 4x overcommit with read-ahead off and with a fixed window
for RA in off 32; do
	for pw in "seq 1" "random 0"; do
		set -- $pw
		what="memtouch 32M pattern=$1 write=$2 in 8M, --readahead $RA"
		swap_run $1.$2.$RA 8M size=32M pattern=$1 passes=3 write=$2
		swap_ok "$what"
		expect_json "$J" ".readahead.mode == \"$([ $RA = off ] && echo off || echo fixed)\"" "$what: mode"
		[ $RA = off ] && expect_json "$J" '.readahead.issued == 0' "$what: nothing read ahead"
	done
done
RA=auto

# read-ahead on a sequential stream: far fewer demand reads than pages read back,
# the windows' pages used; pages rewritten by the guest as their windows land
J=$TMP/seq.1.json
expect_json "$J" '.readahead.issued > 0 and .readahead.hit > 0' "auto seq: pages read ahead and used"
expect_json "$J" '.readahead.accuracy >= 0.5 and .uffd.swap_in * 4 < .readahead.hit' \
	"auto seq: read-ahead, not demand reads, brought most pages back"
# read-ahead pages evicted before their first touch: random touches with a
# fixed window in a small limit read far more than they use; nothing is lost
RA=32
swap_run ra_waste 4M size=24M pattern=random passes=2 write=1
swap_ok "memtouch random, --readahead 32 in 4M"
expect_json "$J" '.readahead.wasted > 0' "fixed window on random touches: unused read-ahead evicted"

# read ahead past the end of RAM: the guest hands out RAM from the bottom up,
# so memtouch size=max ends a few pages short of the end of RAM, and a
# stream walking it up asks for windows beyond the end
for RA in 64 auto; do
	MEM=32M swap_run ra_end.$RA 8M size=max pattern=seq passes=3 write=1
	swap_ok "memtouch size=max in 32M RAM, --readahead $RA"
	expect_json "$J" '.guest.pages >= 7000' "memtouch size=max in 32M: nearly all of RAM"
	expect_json "$J" '.readahead.issued > 0 and .readahead.hit > 0' \
		"to the end of RAM, --readahead $RA: windows read and used"
done
RA=auto

# size equal to the limit (the guest kernel's own pages push it over a little)
swap_run equal 16M size=16M pattern=random passes=2
swap_ok "memtouch 16M in 16M"

# aging: a hot set of 4M (a loop over it: hotwalk=cycle) below a 6M limit
# (reclaim evicts down to its low watermark, 4.5M: the hot set must fit
# under that), ten hot touches per touch of a 16M cold set.  CLOCK keeps the
# hot set and misses on cold touches only; FIFO evicts hot pages as they
# come to the head and refaults them.  final=0: memtouch's last full read
# would add the same swap-ins to both.  bench/swap_aging measures the gap.
aging_run() {
	# --readahead off: aging alone decides what comes back
	run_vmm -q -m 64M --swap "$SW" --resident 6M --aging "$1" --readahead off --stats "$2" "$GUEST" -- \
		workload=memtouch size=20M pattern=hotcold hot=4M hotwalk=cycle passes=12 final=0
}
J=$TMP/clock.json
aging_run clock "$J"
swap_ok "hotcold with --aging clock"
expect_json "$J" '.uffd.minor > 0 and .uffd.zap > 0' "clock: watched pages zapped and caught by MINOR faults"
J2=$TMP/fifo.json
aging_run off "$J2"
J=$J2 swap_ok "hotcold with --aging off"
clock_in=$(jq .uffd.swap_in "$TMP/clock.json"); fifo_in=$(jq .uffd.swap_in "$J2")
echo "aging: swap-ins clock=$clock_in fifo=$fifo_in"
if [ "$clock_in" -gt 0 ] && [ $((clock_in * 3)) -le "$fifo_in" ]; then ok; else
	fail "aging pays: clock $clock_in swap-ins, fifo $fifo_in (want 3x fewer)"; fi
expect_json "$J2" '.uffd.zap == 0 and .uffd.minor == 0' "fifo: no reference bits, no zaps"

# PV MMU and the swap layer together: page tables and the ring get evicted too
J=$TMP/pte.json
run_vmm -q -m 64M --swap "$SW" --resident 8M --pv-mmu batched --stats "$J" "$GUEST" -- \
	workload=ptebench pages=2048 rounds=2 op=map check=all
expect_status 0 "ptebench in swap mode"
expect_json "$J" '.guest.errors == 0 and .pvmmu.rejected == 0' "ptebench in swap mode checked"
expect_json "$J" '.mem.resident_peak_pages <= .mem.limit_pages' "ptebench: limit held"

# a full swap file (a tiny tmpfs): the page stays resident, one message, nothing lost
if mkdir -p "$TMP/tiny" && mount -t tmpfs -o size=256k tmpfs "$TMP/tiny" 2>/dev/null; then
	J=$TMP/enospc.json
	run_vmm -q -m 64M --swap "$TMP/tiny" --resident 8M --stats "$J" "$GUEST" -- \
		workload=memtouch size=24M pattern=seq passes=2
	expect_status 0 "swap on a full tmpfs: the run goes on"
	expect_json "$J" '.guest.errors == 0' "swap on a full tmpfs: no data lost"
	expect_json "$J" '.uffd.swap_errors > 0' "swap on a full tmpfs: failures counted"
	n=$(grep -c "No space left on device" "$ERR")
	if [ "$n" -eq 1 ]; then ok; else fail "ENOSPC reported $n times on stderr, want once"; fi
	umount "$TMP/tiny"
else
	echo "note: cannot mount a tmpfs here (not root?): ENOSPC case not run"
fi
finish
