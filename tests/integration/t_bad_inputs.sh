# Every bad input gets status 2 and one line on stderr naming what was wrong.
# None of these needs /dev/kvm: the VMM refuses them before touching it.
source "$(dirname "$0")/lib.sh" "$@"
MKBAD=$BUILD/tests/mkbadelf

# bad ARGS... -- PATTERN WHAT
bad() {
	local args=() pat what
	while [ "$1" != "--" ]; do args+=("$1"); shift; done
	shift; pat=$1; what=$2
	run_vmm "${args[@]}"
	expect_status 2 "$what"
	expect_err_lines 1 "$what"
	expect_err "$pat" "$what"
}

# images
bad "$TMP/missing.elf" -- "missing.elf: cannot open: No such file or directory" "missing image"
bad "$TMP" -- "is a directory" "directory as image"
: >"$TMP/empty.elf"
bad "$TMP/empty.elf" -- "empty file" "empty image"
for kind in notelf truncated elf32 aarch64 notexec phoff segoob seglow filesz memsz noload entry; do
	"$MKBAD" "$kind" "$TMP/$kind.elf" || { fail "mkbadelf $kind"; continue; }
done
bad "$TMP/notelf.elf" -- "not an ELF file" "non-ELF image"
bad "$TMP/truncated.elf" -- "truncated" "truncated image"
bad "$TMP/elf32.elf" -- "64-bit" "32-bit ELF"
bad "$TMP/aarch64.elf" -- "x86-64" "wrong architecture"
bad "$TMP/notexec.elf" -- "executable" "relocatable object"
bad "$TMP/phoff.elf" -- "program headers" "program headers beyond the file"
bad "$TMP/segoob.elf" -- "outside guest RAM" "segment outside RAM"
bad "$TMP/seglow.elf" -- "segment 0 \[0x80000,.* outside guest RAM \[0x100000," "segment below the image area"
bad "$TMP/filesz.elf" -- "beyond file" "segment data beyond the file"
bad "$TMP/memsz.elf" -- "file size 0x[0-9a-f]+ exceeds memory size" "filesz larger than memsz"
bad "$TMP/noload.elf" -- "no loadable segments" "no loadable segment"
bad "$TMP/entry.elf" -- "entry" "entry outside the image"
"$MKBAD" huge "$TMP/huge.elf" || fail "mkbadelf huge"
bad -m 256M "$TMP/huge.elf" -- "guest RAM" "image larger than RAM"
# unreadable: root reads anything, so as root check it as nobody
cp "$GUEST" "$TMP/noperm.elf"; chmod 000 "$TMP/noperm.elf"; chmod 755 "$TMP"
as_user=()
[ "$(id -u)" -eq 0 ] && as_user=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
if "${as_user[@]}" "$VMM" --version >/dev/null 2>&1; then
	OUT=$TMP/out.np; ERR=$TMP/err.np
	"${as_user[@]}" "$VMM" "$TMP/noperm.elf" >"$OUT" 2>"$ERR"
	STATUS=$?
	expect_status 2 "unreadable image"
	expect_err "noperm.elf: cannot open: Permission denied" "unreadable image"
else
	echo "note: user nobody cannot run $VMM here; unreadable image not checked"
fi

# sizes
bad -m 0 "$GUEST" -- "--memory '0'" "zero memory"
bad -m 12X "$GUEST" -- "--memory '12X'" "bad suffix"
bad -m 1.5G "$GUEST" -- "--memory '1.5G'" "fractional size"
bad -m 99999999999999999999 "$GUEST" -- "too large" "size overflow"
bad -m 3M "$GUEST" -- "multiple of 2M" "not a multiple of 2M"
bad -m 2M "$GUEST" -- "too small" "below the minimum"
bad -m 128G "$GUEST" -- "boot map" "beyond the boot map"
host_mb=$(awk '/MemTotal/ { print int($2 / 1024) }' /proc/meminfo)
if [ "$host_mb" -lt 63000 ]; then
	bad -m 64G "$GUEST" -- "more than this host" "more than the host has"
fi

# options
bad --bogus "$GUEST" -- "unknown option '--bogus'" "unknown long option"
bad -x "$GUEST" -- "unknown option '-x'" "unknown short option"
bad -- "no guest image" "no image"
bad -c 2 "$GUEST" -- "only 1 vCPU" "more than one vCPU"
bad -c 0 "$GUEST" -- "--cpus '0'" "zero vCPUs"
bad --stats "$TMP/no/such/dir/x.json" "$GUEST" -- "cannot open for writing" "unwritable stats file"
bad "$GUEST" extra -- "unexpected argument 'extra'" "stray argument"
long=$(head -c 70000 /dev/zero | tr '\0' 'a')
if [ -c /dev/kvm ]; then
	bad --cmdline "workload=hello x=$long" "$GUEST" -- "command line" "command line too long"
fi

# --help and --version are not errors
run_vmm --help
expect_status 0 "--help"
expect_out "usage: vmm" "--help text"
run_vmm --version
expect_status 0 "--version"
expect_out "pagevisor" "--version text"
finish
