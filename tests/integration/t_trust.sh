# Trust: the swap file is this VMM's alone and nothing else in the swap
# directory is ever used; a slot altered behind the VMM's back stops the VM;
# a report already there survives every refused, failed or killed run.
source "$(dirname "$0")/lib.sh" "$@"
SW=$TMP/swapdir
mkdir -p "$SW"
REPORT=$TMP/report.json
OLD='{"an": "earlier report"}'

report_intact() {
	if [ "$(cat "$REPORT")" = "$OLD" ]; then ok; else fail "$1: the earlier report was changed"; fi
}

# --- no /dev/kvm needed: all refused before it -----------------------------
echo "$OLD" >"$REPORT"
run_vmm --stats "$REPORT" "$TMP/missing.elf"
expect_status 2 "refused image with --stats"
report_intact "refused image"
run_vmm -m 64M --swap "$TMP/nodir" --resident 8M --stats "$REPORT" "$GUEST"
expect_status 2 "refused --swap with --stats"
report_intact "refused --swap"
run_vmm -m 64M --swap "$SW" --resident 8M --stats "$SW" "$GUEST"
expect_status 2 "--stats naming the --swap path"
expect_err_lines 1 "--stats naming the --swap path"
expect_err "name the same path" "--stats naming the --swap path"
run_vmm --stats "$TMP" "$GUEST"
expect_status 2 "--stats naming a directory"
expect_err "Is a directory" "--stats naming a directory"

# a link to a file as --swap: refused, the link and its target as they were
: >"$TMP/target"
ln -s "$TMP/target" "$TMP/link"
run_vmm -m 64M --swap "$TMP/link" --resident 8M "$GUEST"
expect_status 2 "--swap naming a link to a file"
expect_err "not a directory" "--swap naming a link to a file"
if [ -L "$TMP/link" ] && [ ! -s "$TMP/target" ]; then ok; else fail "the link or its target changed"; fi

need_kvm

# --- a run in swap mode, watched from outside -------------------------------
# planted in the swap directory beforehand: another user's world-writable
# file and a link to a file; the VMM must use neither
: >"$SW/g.swap"
chown 65534:65534 "$SW/g.swap"
chmod 0666 "$SW/g.swap"
: >"$TMP/victim"
ln -s "$TMP/victim" "$SW/s.swap"
OUT=$TMP/out.bg; ERR=$TMP/err.bg
"$VMM" -q -m 64M --swap "$SW" --resident 8M --stats "$TMP/bg.json" "$GUEST" -- \
	workload=memtouch size=32M pattern=seq passes=6 >"$OUT" 2>"$ERR" &
pid=$!
sleep 2
# the VMM's swap file: an open descriptor of a file with no name in $SW
swapfd=""
for fd in /proc/$pid/fd/*; do
	case "$(readlink "$fd" 2>/dev/null)" in "$SW/"*"(deleted)") swapfd=$fd ;; esac
done
if [ -n "$swapfd" ]; then
	ok
	st=$(stat -L -c '%a %u %h %F' "$swapfd")
	if [ "$st" = "600 $(id -u) 0 regular file" ] || [ "$st" = "600 $(id -u) 0 regular empty file" ]; then
		ok
	else
		fail "the swap file is not private: mode, owner, links, type = $st"
	fi
else
	fail "no unnamed swap file open in $SW: $(ls -l /proc/$pid/fd | tail -n +2)"
fi
wait $pid
STATUS=$?
J=$TMP/bg.json
expect_status 0 "swap run beside planted files"
expect_json "$J" '.guest.errors == 0 and .uffd.swap_out > 0' "swap run beside planted files: swapped, verified"
if [ ! -s "$SW/g.swap" ] && [ "$(stat -c '%a %u' "$SW/g.swap")" = "666 65534" ]; then ok; else
	fail "the planted file was used"; fi
if [ -L "$SW/s.swap" ] && [ ! -s "$TMP/victim" ]; then ok; else fail "the planted link was followed"; fi
if [ "$(ls -A "$SW" | sort | tr '\n' ' ')" = "g.swap s.swap " ]; then ok; else
	fail "the swap directory holds more than what was planted: $(ls -A "$SW")"; fi
rm -f "$SW/g.swap" "$SW/s.swap"

# --- killed: nothing left behind, the report as it was ---------------------
echo "$OLD" >"$REPORT"
"$VMM" -q -m 64M --swap "$SW" --resident 8M --stats "$REPORT" "$GUEST" -- \
	workload=memtouch size=32M pattern=seq passes=20 >/dev/null 2>&1 &
pid=$!
sleep 2
kill -KILL $pid
wait $pid 2>/dev/null
report_intact "SIGKILL"
if [ -z "$(ls -A "$SW")" ] && [ "$(ls -A "$TMP" | grep -c '^\.report')" = 0 ]; then ok; else
	fail "SIGKILL left files: $(ls -A "$SW" "$TMP")"; fi

# --- a slot altered behind the VMM's back stops the VM, naming the page ----
OUT=$TMP/out.evil; ERR=$TMP/err.evil
"$VMM" -q -m 64M --swap "$SW" --resident 8M --stats "$TMP/evil.json" "$GUEST" -- \
	workload=memtouch size=32M pattern=seq passes=50 >"$OUT" 2>"$ERR" &
pid=$!
# the swap file is opened as the VMM starts: wait for it (a slow host takes longer)
for i in $(seq 1 600); do
	ls -l /proc/$pid/fd 2>/dev/null | grep -q "$SW/.*(deleted)" && break
	sleep 0.1
done
for fd in /proc/$pid/fd/*; do
	case "$(readlink "$fd" 2>/dev/null)" in
	"$SW/"*"(deleted)")
		# once 8M of slots are written (blocks allocated: a slow host takes
		# longer), every slot written so far gets other bytes, as a hostile
		# writer would
		for i in $(seq 1 1200); do
			alloc=$(stat -L -c '%b %B' "$fd" 2>/dev/null) || break
			[ $(( ${alloc% *} * ${alloc#* } )) -ge 8388608 ] && break
			sleep 0.1
		done
		size=$(stat -L -c %s "$fd")
		head -c "$size" /dev/urandom | dd of="$fd" conv=notrunc status=none ;;
	esac
done
wait $pid
STATUS=$?
expect_status 3 "altered swap slots"
expect_err "swap-in of gpa 0x[0-9a-f]+ from slot [0-9]+( for the VMM)?: checksum mismatch" "altered slot named"
expect_json "$TMP/evil.json" '.run.end == "failed" and (.run.message | test("checksum mismatch"))' \
	"altered slot in the JSON"

# --- a report that cannot be written: status 4, one line --------------------
run_vmm -q --stats /dev/full "$GUEST"
expect_status 4 "--stats /dev/full"
expect_err_lines 1 "--stats /dev/full"
expect_err "--stats /dev/full: cannot write the report: No space left on device" "--stats /dev/full"

# a failed guest still writes its report over the earlier one, whole
echo "$OLD" >"$REPORT"
run_vmm -q --stats "$REPORT" "$GUEST" -- workload=fault vector=6
expect_status 3 "failed guest with --stats"
expect_json "$REPORT" '.run.end == "failed"' "failed guest: report replaced"
finish
