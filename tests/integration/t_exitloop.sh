# exitloop: every write to the unused port is one IO exit, counted per port.
source "$(dirname "$0")/lib.sh" "$@"
need_kvm

J=$TMP/exitloop.json
run_vmm -q --stats "$J" "$GUEST" -- workload=exitloop n=100000
expect_status 0 "exitloop n=100000"
expect_json "$J" '.exits.by_port["0x7f0"].count >= 100000' "100000 exits on port 0x7f0"
expect_json "$J" '.exits.by_reason.IO.count >= 100000' "IO exits"
expect_json "$J" '.exits.unknown_port >= 100000' "unused port counted as unknown"
expect_json "$J" '.guest.exits == 100000' "guest counted its exits"
expect_json "$J" '.guest.ns_per_exit > 0' "guest timed its exits"

run_vmm -q --stats "$J" "$GUEST" -- workload=exitloop n=2000 cpl=3
expect_status 0 "exitloop from ring 3"
expect_json "$J" '.exits.by_port["0x7f0"].count == 2000 and .guest.exits == 2000' "ring-3 exits"

run_vmm -q "$GUEST" -- workload=exitloop n=10 cpl=1
expect_status 1 "exitloop cpl=1 refused"
run_vmm -q "$GUEST" -- workload=exitloop n=zero
expect_status 1 "exitloop n=zero refused"
finish
