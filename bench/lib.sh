# Shared by the bench scripts: sourced, never run.

# bench_median: the median of the numbers on stdin, one per line.
bench_median() {
	sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

# bench_hugepages NEED: at least NEED free 2 MiB huge pages for this run,
# reserved if there are fewer (root), the pool put back as it was when the
# script exits (which also removes the caller's $tmp).  Returns 1 with the
# reason on stderr when they cannot be had.
BENCH_HP=/sys/kernel/mm/hugepages/hugepages-2048kB
bench_hugepages_avail() {
	echo $(( $(cat $BENCH_HP/free_hugepages) - $(cat $BENCH_HP/resv_hugepages) ))
}
bench_hugepages() {
	local need=$1 avail

	[ -d $BENCH_HP ] || { echo "no 2 MiB hugetlb pool on this host" >&2; return 1; }
	BENCH_HP_ORIG=$(cat $BENCH_HP/nr_hugepages)
	trap 'echo "$BENCH_HP_ORIG" > $BENCH_HP/nr_hugepages 2>/dev/null; rm -rf "$tmp"' EXIT
	avail=$(bench_hugepages_avail)
	[ "$avail" -ge "$need" ] && return 0
	echo $(( BENCH_HP_ORIG + need - avail )) > $BENCH_HP/nr_hugepages 2>/dev/null
	avail=$(bench_hugepages_avail)
	[ "$avail" -ge "$need" ] ||
		{ echo "$need free 2 MiB huge pages could not be reserved (have $avail)" >&2; return 1; }
}
