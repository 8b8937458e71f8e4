# The paravirtual MMU channel end to end: ptebench gives the same checked
# results in every mode, for every op and for contiguous and scattered
# frames; batched mode sends few doorbells; auto picks by measured cost;
# pvmmu_attack's hostile records are each rejected with the right status
# and counter while the VM keeps running.
source "$(dirname "$0")/lib.sh" "$@"
need_kvm

P=1024; R=2      # 2 page tables, 2048 updates per run: small enough to check every page
for op in protect unmap map; do
	for frames in contig scattered; do
		ref=""
		for mode in off immediate batched; do
			J=$TMP/$op.$frames.$mode.json
			run_vmm -q --pv-mmu $mode --stats "$J" "$GUEST" -- workload=ptebench \
				pages=$P rounds=$R op=$op frames=$frames check=all
			what="ptebench op=$op frames=$frames mode=$mode"
			expect_status 0 "$what"
			expect_json "$J" ".guest.errors == 0 and .guest.updates == $((P * R))" "$what checked"
			expect_json "$J" '.guest.checks > 0' "$what did checks"
			expect_json "$J" '.pvmmu.rejected == 0' "$what: nothing rejected"
			expect_json "$J" '.guest.doorbells_total == .pvmmu.doorbells and .guest.records_total == .pvmmu.records' \
				"$what: guest and VMM agree on doorbells and records"
			checks=$(jq .guest.checks "$J")
			if [ -z "$ref" ]; then ref=$checks
			elif [ "$checks" = "$ref" ]; then ok
			else fail "$what: $checks checks, off mode did $ref"; fi
		done
		expect_json "$TMP/$op.$frames.off.json" '.pvmmu.doorbells == 0 and .guest.pvmmu_mode == 0' \
			"op=$op frames=$frames: off mode never rings"
		expect_json "$TMP/$op.$frames.immediate.json" '.guest.doorbells == .guest.updates' \
			"op=$op frames=$frames: immediate rings once per update"
	done
done

# batched: one doorbell per 1000 updates at most, in the timed part and overall
J=$TMP/big.json
run_vmm -q --pv-mmu batched --stats "$J" "$GUEST" -- workload=ptebench pages=4096 rounds=2 op=protect check=sample
expect_status 0 "batched 8192 updates"
expect_json "$J" '.guest.doorbells * 1000 <= .guest.updates' "at most 1 doorbell per 1000 updates (timed)"
expect_json "$J" '.pvmmu.doorbells * 1000 <= .guest.updates' "at most 1 doorbell per 1000 updates (whole run)"
expect_json "$J" '.pvmmu.records < .guest.updates / 100' "range records: far fewer records than updates"
expect_json "$J" '.pvmmu.applied == .pvmmu.records and .pvmmu.ptes_written >= .guest.updates' "VMM applied it all"
expect_json "$J" '.pvmmu.flushes >= 2 and .pvmmu.pins >= 3' "TLB flushes and pins went through the ring"

# auto: batched where a direct PTE write costs more than a batched update, else off
J=$TMP/auto.json
run_vmm -q --stats "$J" "$GUEST" -- workload=ptebench pages=512 rounds=1 op=protect
expect_status 0 "auto mode"
expect_json "$J" '.pvmmu.mode == "auto"' "auto is the default"
expect_json "$J" '.guest.auto_direct_ns > 0 and .guest.auto_batched_ns > 0' "auto measured both"
expect_json "$J" 'if (.guest.auto_direct_ns - .guest.auto_invlpg_ns) > .guest.auto_batched_ns
	then .guest.pvmmu_mode == 2 else .guest.pvmmu_mode == 0 end' "auto chose by the measured costs"

# hostile guest: every attack rejected with its status; counters match; VM runs on
for mode in off batched; do
	J=$TMP/attack.$mode.json
	run_vmm -q --pv-mmu $mode --stats "$J" "$GUEST" -- workload=pvmmu_attack
	expect_status 0 "pvmmu_attack ($mode)"
	expect_json "$J" '.guest.errors == 0' "pvmmu_attack: every status as expected ($mode)"
	for reason in out_of_range unaligned not_pinned bad_frame bad_flags writable_pt writable_ring \
		      bad_op bad_level bad_count not_table busy bad_ring; do
		expect_json "$J" ".guest.attack_$reason >= 1 and .guest.attack_$reason == .pvmmu.rejected_by_reason.$reason" \
			"attack $reason rejected and counted ($mode)"
	done
	expect_json "$J" '.pvmmu.rejected == (.pvmmu.rejected_by_reason | to_entries
		| map(select(.key != "bad_ring" and .key != "no_ring") | .value) | add)' \
		"rejected is the sum of the record reasons ($mode)"
	expect_json "$J" '.pvmmu.applied > 0' "valid records still applied after the attacks ($mode)"
done

# a bad mode is a usage error
run_vmm -q --pv-mmu fast "$GUEST"
expect_status 2 "--pv-mmu fast refused"
expect_err "pv-mmu" "--pv-mmu named"
finish
