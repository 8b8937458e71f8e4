# SIGINT and SIGTERM stop a running guest; the counters still come out and
# the status is 128 + the signal, as a shell would show it.
source "$(dirname "$0")/lib.sh" "$@"
need_kvm

for sig in INT TERM; do
	OUT=$TMP/out.$sig; ERR=$TMP/err.$sig
	# a long run: 4G of first touches takes ~30 s here; we stop it after 1 s
	"$VMM" -m 6G --stats "$TMP/$sig.json" "$GUEST" -- workload=memtest size=4G >"$OUT" 2>"$ERR" &
	pid=$!
	sleep 1
	kill -$sig $pid
	wait $pid
	STATUS=$?
	want=130; [ $sig = TERM ] && want=143
	expect_status $want "SIG$sig"
	expect_err "stopped by SIG$sig" "SIG$sig named in the table"
	expect_json "$TMP/$sig.json" ".run.end == \"signal\" and .run.exit_status == $want" "SIG$sig in JSON"
	expect_json "$TMP/$sig.json" '.exits.total >= 1' "counters written after SIG$sig"
done
finish
