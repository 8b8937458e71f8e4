# memtest: ring-3 pattern write and read-back over memory mapped up front.
source "$(dirname "$0")/lib.sh" "$@"
need_kvm

J=$TMP/memtest.json
run_vmm -q --stats "$J" "$GUEST" -- workload=memtest size=64M
expect_status 0 "memtest 64M"
expect_json "$J" '.guest.errors == 0' "no pattern errors"
expect_json "$J" '.guest.bytes == 67108864' "bytes tested"
expect_json "$J" '.guest.ns > 0' "timed"

run_vmm -q --stats "$J" -m 64M "$GUEST" -- workload=memtest size=30M
expect_status 0 "memtest with a 4K tail in a small VM"
expect_json "$J" '.guest.errors == 0 and .guest.bytes == 31457280' "30M checked"

run_vmm -q -m 64M "$GUEST" -- workload=memtest size=1G
expect_status 1 "memtest larger than RAM refused"
expect_out "memtest" "memtest says why"
finish
