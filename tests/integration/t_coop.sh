# The guest cooperates with host paging: prefault on map, released frames
# dropped, a balloon in 2 MiB units.  mapwalk maps its memory a chunk at a
# time through the PV MMU channel and verifies every page on every pass;
# balloon gives memory back and takes it again.  Both check their own data;
# here the VMM's JSON shows what the host did.
source "$(dirname "$0")/lib.sh" "$@"
SW=$TMP/swapdir
mkdir -p "$SW"
MIB=1048576

# bad combinations: one line, status 2, nothing started
refused "--prefault 'maybe': expected on or off" "--prefault maybe without --swap" -m 64M --prefault maybe "$GUEST"
refused "--prefault 'yes': expected on or off" "--prefault yes" -m 64M --swap "$SW" --resident 8M --prefault yes "$GUEST"
refused "--balloon '3M': expected a size that is a multiple of 2M" "--balloon 3M" -m 64M --balloon 3M "$GUEST"
refused "--balloon 65536K is not below --memory 65536K" "--balloon as large as RAM" -m 64M --balloon 64M "$GUEST"

need_kvm

# released frames, without swap mode: the memfd gives back exactly what was released
for mode in off immediate batched; do
	what="mapwalk 16M release=1, --pv-mmu $mode"
	J=$TMP/mw-$mode.json
	run_vmm -q -m 64M --pv-mmu $mode --stats "$J" "$GUEST" -- workload=mapwalk size=16M passes=2
	expect_status 0 "$what"
	expect_json "$J" '.guest.errors == 0 and .guest.pages == 4096' "$what: every page verified"
	expect_json "$J" ".released.pages == 4096 and .released.requests >= 8 and .guest.released_bytes == 16 * $MIB" \
		"$what: released 16M"
	expect_json "$J" ".guest.release_alloc_drop_bytes >= 16 * $MIB - 256 * 1024" \
		"$what: the memfd's blocks dropped by the released size"
	expect_json "$J" '.pvmmu.rejected == 0' "$what: no record refused"
done

# swap mode, 4 times the limit: prefault on against off.  Prefault works on
# the maps the channel carries: --pv-mmu batched (auto may choose off, where
# the guest writes its PTEs itself, on a host with EPT/NPT)
for pf in off on; do
	what="mapwalk 32M in 8M resident, --prefault $pf"
	J=$TMP/pf-$pf.json
	run_vmm -q -m 64M --pv-mmu batched --swap "$SW" --resident 8M --prefault $pf --stats "$J" \
		"$GUEST" -- workload=mapwalk size=32M passes=3
	expect_status 0 "$what"
	expect_json "$J" '.guest.errors == 0 and .guest.pages == 8192' "$what: every page verified"
	expect_json "$J" '.mem.resident_peak_pages <= .mem.limit_pages and .uffd.swap_errors == 0' \
		"$what: limit held, no swap errors"
	expect_json "$J" ".prefault.mode == \"$pf\"" "$what: mode reported"
	expect_json "$J" '.uffd.swap_out > 0 and .released.pages == 8192' "$what: swapped, released"
	# no released page is written out; released pages left memory and swap
	expect_json "$J" '.released.swapped_out == 0' "$what: 0 swap-outs of released pages"
	expect_json "$J" '.released.resident_pages + .released.slots_freed >= 8192' \
		"$what: every released page was dropped from memory or swap"
	expect_json "$J" ".guest.release_alloc_drop_bytes + .guest.release_swap_drop_bytes >= 29 * $MIB" \
		"$what: memfd and swap gave back the released size"
	if [ -z "$(ls -A "$SW")" ]; then ok; else fail "$what: left in the swap directory"; fi
done
OFF=$TMP/pf-off.json ON=$TMP/pf-on.json
if jq -e -n --slurpfile a "$OFF" --slurpfile b "$ON" \
	'($a[0].uffd.missing + $a[0].uffd.busy) >= 10 * ($b[0].uffd.missing + $b[0].uffd.busy)' >/dev/null; then
	ok
else
	fail "prefault: faults off $(jq '.uffd.missing + .uffd.busy' "$OFF"), on $(jq '.uffd.missing + .uffd.busy' "$ON"): want 10x fewer"
fi
expect_json "$OFF" '.prefault.pages == 0 and .prefault.batches == 0' "--prefault off: nothing prefaulted"
expect_json "$ON" '.prefault.pages >= 8192 and .prefault.batches > 0' "--prefault on: the maps were prefaulted"

# the balloon: inflating S gives S back to the host; deflated memory is zeros and usable
what="balloon 16M"
J=$TMP/balloon.json
run_vmm -q -m 64M --stats "$J" "$GUEST" -- workload=balloon size=16M
expect_status 0 "$what"
expect_json "$J" ".balloon.inflated_bytes == 16 * $MIB and .balloon.deflated_bytes == 16 * $MIB and .balloon.current_bytes == 0" \
	"$what: inflated and deflated 16M"
expect_json "$J" ".guest.alloc_drop_bytes >= 16 * $MIB - 256 * 1024 and .guest.errors == 0" \
	"$what: the memfd gave back 16M"
expect_json "$J" '.balloon.rejected == 0 and .hypercalls.bad == 0' "$what: nothing refused"

what="balloon 8M in swap mode"
J=$TMP/balloon-swap.json
run_vmm -q -m 64M --swap "$SW" --resident 16M --stats "$J" "$GUEST" -- workload=balloon size=8M
expect_status 0 "$what"
expect_json "$J" ".balloon.inflated_bytes == 8 * $MIB and .guest.errors == 0" "$what: inflated 8M"
expect_json "$J" ".guest.alloc_drop_bytes >= 8 * $MIB - 256 * 1024" "$what: memory and swap gave back 8M"

# a target set at start: the guest's balloon driver follows it at boot
what="--balloon 16M"
J=$TMP/target.json
run_vmm -q -m 64M --balloon 16M --stats "$J" "$GUEST" -- workload=hello
expect_status 0 "$what"
expect_json "$J" ".balloon.target_bytes == 16 * $MIB and .balloon.current_bytes == 16 * $MIB" \
	"$what: the balloon holds the target"
expect_json "$J" ".guest.balloon_held_bytes == 16 * $MIB" "$what: the guest says so too"

finish
