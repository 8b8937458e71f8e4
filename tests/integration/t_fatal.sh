# How a run ends: the guest's code passes through; isa-debug-exit follows
# QEMU; fatal exits fail the VM with status 3, a reason and the registers.
source "$(dirname "$0")/lib.sh" "$@"
need_kvm
MK=$BUILD/tests/mkbadelf
for k in ok debugexit hlt triple; do "$MK" $k "$TMP/$k.elf" || fail "mkbadelf $k"; done

run_vmm -q --stats "$TMP/ok.json" "$TMP/ok.elf"
expect_status 42 "guest exit code passes through"
expect_json "$TMP/ok.json" '.run.exit_status == 42 and .run.end == "guest_exit"' "JSON exit status"

run_vmm -q "$TMP/debugexit.elf"
expect_status 33 "isa-debug-exit 0x10 -> (0x10 << 1) | 1"

run_vmm -q --stats "$TMP/hlt.json" "$TMP/hlt.elf"
expect_status 3 "HLT without exit"
expect_err "guest halted \(HLT\)" "HLT named"
expect_err "^ rip 0000000000100001" "registers printed"
expect_json "$TMP/hlt.json" '.run.exit_status == 3 and .run.end == "failed"' "JSON failure"
expect_json "$TMP/hlt.json" '.exits.by_reason.HLT.count == 1' "HLT exit counted"

run_vmm -q "$TMP/triple.elf"
expect_status 3 "triple fault"
expect_err "triple fault \(KVM_EXIT_SHUTDOWN\)|KVM internal error" "fatal exit named"
# KVM on AMD SVM resets the vCPU at a shutdown: then the VMM must say so
expect_err "cr3 0000000000002000|the reset state: the host re-initialised the vCPU" \
	"control registers printed, or their loss explained"
finish
