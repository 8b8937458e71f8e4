# Shared by the bench scripts: sourced, never run.

# bench_median: the median of the numbers on stdin, one per line.
bench_median() {
	sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

source "$(dirname "${BASH_SOURCE[0]}")/../tests/hugepool.sh"

# bench_hugepages NEED: at least NEED free 2 MiB huge pages for this run
# (hugepool_reserve), the pool put back as it was when the script exits
# (which also removes the caller's $tmp).  Returns 1 with the reason on
# stderr when they cannot be had.
bench_hugepages() {
	trap 'hugepool_restore; rm -rf "$tmp"' EXIT
	hugepool_reserve "$1" || { echo "$HUGEPOOL_WHY" >&2; return 1; }
}
