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

# A second signal while the VMM stops is absorbed: the report still comes
# out whole.  In swap mode too.
for mode in plain swap; do
	OUT=$TMP/out.2$mode; ERR=$TMP/err.2$mode; J=$TMP/twice.$mode.json
	args=(-m 6G)
	[ $mode = swap ] && { mkdir -p "$TMP/sw"; args=(-m 1G --swap "$TMP/sw" --resident 64M); }
	"$VMM" "${args[@]}" --stats "$J" "$GUEST" -- workload=memtest size=900M >"$OUT" 2>"$ERR" &
	pid=$!
	sleep 1
	kill -TERM $pid; kill -TERM $pid; sleep 0.05; kill -INT $pid 2>/dev/null
	wait $pid
	STATUS=$?
	expect_status 143 "two SIGTERMs ($mode)"
	expect_json "$J" '.run.end == "signal" and .run.exit_status == 143' "two SIGTERMs ($mode): JSON whole"
done

# SIGTERM stops a swap-mode VM whose swap storage hangs.  A frozen file
# system (ext4 on a loop device, fsfreeze) blocks reclaim's writes, so the
# guest's faults wait for room.  The VM must stop and write its report within
# a bound while the storage is still frozen; the process itself can only end
# once the kernel completes its I/O (after the thaw).
FRZ=$TMP/frozen
if mkdir -p "$FRZ" && truncate -s 256M "$TMP/frz.img" && mkfs.ext4 -q "$TMP/frz.img" 2>/dev/null &&
   mount -o loop "$TMP/frz.img" "$FRZ" 2>/dev/null; then
	OUT=$TMP/out.frz; ERR=$TMP/err.frz; J=$TMP/frozen.json
	"$VMM" -q -m 128M --swap "$FRZ" --resident 8M --stats "$J" "$GUEST" -- \
		workload=memtouch size=96M pattern=seq passes=50 >"$OUT" 2>"$ERR" &
	pid=$!
	sleep 2
	fsfreeze -f "$FRZ"
	sleep 2                         # reclaim is stuck now, and the guest with it
	kill -TERM $pid
	for i in $(seq 1 100); do [ -s "$J" ] && break; sleep 0.1; done
	if [ -s "$J" ]; then ok; else
		fail "SIGTERM with frozen swap storage: no report within 10 s"
		for t in /proc/$pid/task/*; do   # where each thread waits
			echo "  thread $(cat "$t/comm" 2>/dev/null): $(cat "$t/wchan" 2>/dev/null) $(head -c 40 "$t/syscall" 2>/dev/null)"
			sed 's/^/    /' "$t/stack" 2>/dev/null | head -8
		done
	fi
	fsfreeze -u "$FRZ"
	wait $pid
	STATUS=$?
	expect_status 143 "SIGTERM with frozen swap storage"
	expect_json "$J" '.run.end == "signal" and .uffd.swap_out > 0' "frozen storage: report of a swapping VM"
	umount "$FRZ"
else
	echo "note: cannot mount an ext4 loop device here: the frozen-storage case is not run"
fi
finish
