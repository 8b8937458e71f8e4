# The host's 2 MiB hugetlb pool, for the scripts that run guests with
# --hugepages (tests/integration/t_hugepages.sh, bench/lib.sh): sourced,
# never run.  Growing the pool needs root.
HUGEPOOL=/sys/kernel/mm/hugepages/hugepages-2048kB

# hugepool_avail: free minus reserved 2 MiB huge pages, what a new hugetlb
# mapping can still get (the VMM's own check, config_host_hugepages).
hugepool_avail() {
	echo $(( $(cat $HUGEPOOL/free_hugepages) - $(cat $HUGEPOOL/resv_hugepages) ))
}

# hugepool_reserve NEED: at least NEED of them for this run, the pool grown
# if there are fewer; hugepool_restore (call it at exit) puts the pool back
# as it was.  Returns 1, the reason in HUGEPOOL_WHY, when they cannot be had.
hugepool_reserve() {
	local need=$1 avail

	if [ ! -d $HUGEPOOL ]; then
		HUGEPOOL_WHY="no 2 MiB hugetlb pool on this host"
		return 1
	fi
	HUGEPOOL_ORIG=${HUGEPOOL_ORIG:-$(cat $HUGEPOOL/nr_hugepages)}
	avail=$(hugepool_avail)
	[ "$avail" -ge "$need" ] && return 0
	echo $(( $(cat $HUGEPOOL/nr_hugepages) + need - avail )) > $HUGEPOOL/nr_hugepages 2>/dev/null
	avail=$(hugepool_avail)
	[ "$avail" -ge "$need" ] && return 0
	HUGEPOOL_WHY="$need free 2 MiB huge pages could not be reserved (have $avail)"
	return 1
}

hugepool_restore() {
	[ -n "${HUGEPOOL_ORIG:-}" ] || return 0
	[ "$(cat $HUGEPOOL/nr_hugepages)" = "$HUGEPOOL_ORIG" ] ||
		echo "$HUGEPOOL_ORIG" > $HUGEPOOL/nr_hugepages 2>/dev/null
	return 0
}
