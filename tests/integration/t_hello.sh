# The default workload boots, prints, exits 0, and the counters come out as
# a table on stderr and JSON with every documented key.
source "$(dirname "$0")/lib.sh" "$@"
need_kvm

run_vmm "$GUEST" --stats "$TMP/hello.json"
expect_status 0 "hello"
expect_out "hello from the pagevisor guest" "hello greeting"
expect_err "^exits: [0-9]+ total" "counters table"
expect_err "IO " "table lists IO exits"
J=$TMP/hello.json
expect_json "$J" '.exits.total > 0' "exits.total"
expect_json "$J" '.exits.by_reason.IO.count > 0' "by_reason.IO.count"
expect_json "$J" '.exits.by_reason.IO.ns_total > 0' "by_reason.IO.ns_total"
expect_json "$J" '(.exits.by_reason.IO.hist_log2_ns | add) == .exits.by_reason.IO.count' \
	"histogram sums to count"
expect_json "$J" '([.exits.by_reason[].count] | add) == .exits.total' "reasons sum to total"
expect_json "$J" '.exits.by_port | to_entries | all(.key | test("^0x[0-9a-f]+$"))' \
	"port keys are lower-case hex"
expect_json "$J" '.exits.by_port["0x513"].count > 0' "console hypercall port counted"
expect_json "$J" '(.kvm.vm | length) > 0' "KVM VM binary stats"
expect_json "$J" '(.kvm.vcpu | length) == 1 and (.kvm.vcpu[0] | length) > 0' "KVM vCPU binary stats"
expect_json "$J" '.kvm.vcpu[0].exits >= 1' "KVM's own exit counter"
expect_json "$J" '.guest.hello == 1' "guest metric"
expect_json "$J" '.run.exit_status == 0 and .run.wall_ns > 0 and .run.end == "guest_exit"' "run"
expect_json "$J" '.hypercalls.exit == 1 and .hypercalls.bad == 0' "hypercall counters"

# -q: no table; the guest's output stays
run_vmm -q "$GUEST"
expect_status 0 "hello -q"
expect_out "hello from the pagevisor guest" "hello -q greeting"
if grep -q "exits:" "$ERR"; then fail "-q still printed the table"; else ok; fi

# --stats -: the JSON document is the last thing on stdout
run_vmm -q --stats - "$GUEST"
expect_status 0 "stats to stdout"
sed -n '/^{/,$p' "$OUT" >"$TMP/stdout.json"
expect_json "$TMP/stdout.json" '.exits.total > 0 and .run.exit_status == 0' "JSON on stdout"

# the command line reaches the guest both ways
run_vmm -q "$GUEST" --cmdline "workload=hello"
expect_status 0 "--cmdline"
run_vmm -q "$GUEST" -- workload=nosuch
expect_status 1 "unknown workload"
expect_out "nosuch" "unknown workload named"
finish
