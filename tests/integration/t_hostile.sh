# A hostile guest (workload hostile): seeded random and extreme values to
# every hypercall port at every width (reads too), to the PV MMU setup and
# doorbell, COM1, unknown ports and MMIO above RAM.  The guest checks every
# answer against the documentation itself (guest.errors); here its tallies
# must match the VMM's counters, in normal and in swap mode.  Then
# final=assert: terminal escapes, control bytes, bytes >= 0x80 and invalid
# UTF-8 through PV_HC_PUTS, COM1 and an assertion: stdout and stderr stay
# printable and the report stays valid UTF-8 JSON.
source "$(dirname "$0")/lib.sh" "$@"
need_kvm
SW=$TMP/swapdir
mkdir -p "$SW"

# only_printable FILE: nothing but printable ASCII, newline and tab
only_printable() {
	[ "$(LC_ALL=C tr -d '\t\n\040-\176' <"$1" | wc -c)" -eq 0 ]
}

# hostile_run WHAT VMM-ARGS... -- GUEST-ARGS...: one run, JSON in $J, every check
hostile_run() {
	local what=$1 vargs=()
	shift
	while [ "$1" != "--" ]; do vargs+=("$1"); shift; done
	shift
	J=$TMP/$CHECKS.json
	run_vmm -q "${vargs[@]}" --stats "$J" "$GUEST" -- workload=hostile "$@"
	if [ "$STATUS" -ne 0 ] || [ ! -s "$J" ]; then
		fail "$what: exit status $STATUS, expected 0 and a report"
		return 1
	fi
	ok
	expect_json "$J" '.guest.errors == 0 and .guest.hostile_checks > 1000 and .guest.hostile_calls > 500' \
		"$what: every answer as documented"
	expect_json "$J" '.hypercalls.bad >= .guest.hostile_hc_bad and .exits.unknown_port >= .guest.hostile_port_unknown
		and (.hypercalls.bad - .guest.hostile_hc_bad) + (.exits.unknown_port - .guest.hostile_port_unknown)
		    <= .guest.hostile_port_edge' "$what: refused hypercalls and unknown ports counted"
	expect_json "$J" '.exits.unknown_mmio >= .guest.hostile_mmio
		and .exits.unknown_mmio <= .guest.hostile_mmio + 2 * .guest.hostile_mmio_split' \
		"$what: MMIO above RAM counted"
	expect_json "$J" '.guest as $g | .pvmmu.rejected == $g.hostile_rejected
		and (.pvmmu.rejected_by_reason | to_entries | all(.value == $g["hostile_rej_" + .key]))' \
		"$what: every rejected record and refused doorbell counted by reason"
	expect_json "$J" '.pvmmu.doorbells >= .guest.hostile_doorbells and .pvmmu.records >= .guest.hostile_records' \
		"$what: doorbells and records counted"
	expect_json "$J" '.guest as $g | .released.requests == $g.hostile_released_records
		and .released.pages == $g.hostile_released_pages' "$what: applied releases counted"
	expect_json "$J" '.guest as $g | .balloon.requests == $g.hostile_balloon_requests
		and .balloon.rejected == $g.hostile_balloon_rejected
		and .balloon.inflated_bytes == $g.hostile_balloon_inflated_bytes
		and .balloon.deflated_bytes == $g.hostile_balloon_deflated_bytes
		and .balloon.current_bytes == 0' "$what: balloon requests counted, refused ones by status"
	expect_json "$J" '.released.requests > 0 and .balloon.rejected > 0 and .guest.hostile_release_rejected > 0' \
		"$what: it did attack releases and the balloon"
	expect_json "$J" '.hypercalls.bad > 0 and .exits.unknown_port > 0 and .exits.unknown_mmio > 0
		and .pvmmu.rejected > 0 and .pvmmu.applied > 0 and .pvmmu.rejected_by_reason.bad_ring > 0' \
		"$what: it did attack"
	expect_json "$J" '.guest | keys | all(test("^[a-z0-9_]+$"))' "$what: only valid metric keys stored"
	if only_printable "$OUT"; then ok; else fail "$what: stdout holds bytes no valid request printed"; fi
}

for s in 1 2; do
	hostile_run "hostile seed=$s" -- seed=$s
done
# no ring at boot: the first doorbell finds none
hostile_run "hostile seed=3 --pv-mmu off" --pv-mmu off -- seed=3 &&
	expect_json "$J" '.pvmmu.rejected_by_reason.no_ring > 0' \
		"hostile seed=3 --pv-mmu off: doorbells without a ring"

# swap mode: the VMM's struct and ring accesses meet pages that went out
for s in 4 5; do
	what="hostile seed=$s in swap mode"
	hostile_run "$what" -m 32M --swap "$SW" --resident 4M -- seed=$s n=1000 &&
		expect_json "$J" '.uffd.swap_out > 0 and .uffd.swap_errors == 0 and
			.mem.resident_peak_pages <= .mem.limit_pages' "$what: pages went out, the limit held"
	if [ -z "$(ls -A "$SW")" ]; then ok; else fail "$what: left in the swap directory: $(ls -A "$SW")"; fi
done

# final=assert: the guest's raw bytes reach stdout, stderr and the JSON only escaped
J=$TMP/assert.json
run_vmm -q --stats "$J" "$GUEST" -- workload=hostile seed=6 n=300 final=assert
what="hostile final=assert"
expect_status 3 "$what"
if only_printable "$OUT"; then ok; else fail "$what: stdout holds raw control or non-ASCII bytes"; fi
if only_printable "$ERR"; then ok; else fail "$what: stderr holds raw control or non-ASCII bytes"; fi
if grep -qF 'hostile: raw bytes: \x1b[2J\x1b]0;hostile-title\x07' "$OUT"; then ok
else fail "$what: the console's escape sequence is not shown as \\xNN"; fi
expect_err "guest assertion failed: hostile\.c.*hostile: final assertion \(by design\)" "$what: stderr names it"
if python3 -c 'import json,sys; json.load(open(sys.argv[1], encoding="utf-8"))' "$J" 2>"$TMP/py.err"; then ok
else fail "$what: the report is not strict UTF-8 JSON: $(tail -1 "$TMP/py.err")"; fi
if only_printable "$J"; then ok; else fail "$what: the report holds raw control or non-ASCII bytes"; fi
expect_json "$J" '.run.message | test("guest assertion failed: hostile\\.c.*hostile: final assertion \\(by design\\)")' \
	"$what: run.message names the assertion"
expect_json "$J" '.run.message | contains("hostile.c\\x1b[2J")' "$what: run.message shows ESC as \\x1b"
expect_json "$J" '.run.exit_status == 3 and .guest.errors == 0 and .guest.hostile_checks > 0' \
	"$what: the checks before it held"
finish
