# Shared by the integration tests: sourced, never run.
# Usage in a test: source lib.sh "$@"   (args: VMM GUEST_ELF BUILD_DIR)
set -uo pipefail

VMM=${1:?vmm path}
GUEST=${2:?guest.elf path}
BUILD=${3:?build dir}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/pv-test.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
FAILS=0
CHECKS=0

# need_kvm: the rest of the test boots a guest.  Without /dev/kvm it is
# skipped -- unless checks that need no KVM already ran before it and one
# failed: that is a failure, never hidden in a skip.
need_kvm() {
	if [ ! -c /dev/kvm ] || ! [ -r /dev/kvm -a -w /dev/kvm ]; then
		[ "$FAILS" -eq 0 ] || finish
		echo "SKIP: /dev/kvm is not available (after $CHECKS checks that need no KVM passed)"
		exit 77
	fi
}

# run_vmm ARGS...: runs the VMM; sets STATUS, OUT (stdout file), ERR (stderr file).
run_vmm() {
	OUT=$TMP/out.$CHECKS
	ERR=$TMP/err.$CHECKS
	timeout 120 "$VMM" "$@" >"$OUT" 2>"$ERR"
	STATUS=$?
}

fail() {
	echo "FAIL: $*"
	echo "  --- stdout ---"; sed 's/^/  /' "$OUT" 2>/dev/null | tail -20
	echo "  --- stderr ---"; sed 's/^/  /' "$ERR" 2>/dev/null | tail -20
	FAILS=$((FAILS + 1))
}

ok() { CHECKS=$((CHECKS + 1)); }

expect_status() {
	if [ "$STATUS" -eq "$1" ]; then ok; else fail "$2: exit status $STATUS, expected $1"; fi
}

expect_out() {  # grep -E pattern in stdout
	if grep -qE -- "$1" "$OUT"; then ok; else fail "$2: stdout lacks /$1/"; fi
}

expect_err() {  # grep -E pattern in stderr
	if grep -qE -- "$1" "$ERR"; then ok; else fail "$2: stderr lacks /$1/"; fi
}

expect_err_lines() {
	local n
	n=$(wc -l <"$ERR")
	if [ "$n" -eq "$1" ]; then ok; else fail "$2: stderr has $n lines, expected $1"; fi
}

# expect_json FILE JQ-EXPR WHAT: the jq expression must yield true.
expect_json() {
	local v
	v=$(jq -e "$2" "$1" 2>&1)
	if [ "$v" = "true" ]; then ok; else fail "$3: jq '$2' gave '$v'"; fi
}

# refused PATTERN WHAT VMM-ARGS...: a bad command line: status 2, one line on
# stderr matching PATTERN (refused before /dev/kvm is opened: no KVM needed)
refused() {
	local pat=$1 what=$2
	shift 2
	run_vmm "$@"
	expect_status 2 "$what"
	expect_err_lines 1 "$what"
	expect_err "$pat" "$what"
}

finish() {
	echo "$CHECKS passed, $FAILS failed"
	[ "$FAILS" -eq 0 ]
	exit $?
}
