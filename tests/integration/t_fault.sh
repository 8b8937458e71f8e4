# Guest exceptions reach the VMM through assert-fail: the run fails with
# status 3 and a message naming the vector; the registers are not needed.
source "$(dirname "$0")/lib.sh" "$@"
need_kvm

for v in 0 3 6 13 14; do
	run_vmm -q "$GUEST" -- workload=fault vector=$v
	expect_status 3 "fault vector=$v"
	expect_err "guest assertion failed: .*exception $v\b" "fault vector=$v named"
done
run_vmm -q "$GUEST" -- workload=fault vector=14
expect_err "cr2=0x" "page fault shows CR2"
run_vmm -q "$GUEST" -- workload=fault vector=99
expect_status 1 "unsupported vector refused"
finish
