#!/usr/bin/env bash
# The speed target of `audit stats` (issue #8): the review of last month
# over a 1,000,000-event SQLite store in under a second, whole process
# (start, open, five GROUP BYs over the month's ~85,000 events, render).
# Also measured, for information: grouped counts, burst detection and the
# review of all events (no period: every event read, several passes).
# Usage: bench/stats.sh            (BENCH_N=200000 for a quicker run)
source "$(dirname "$0")/common.sh"
store
S="$DATA/store-$N.db"
echo "events: $N in $S"

# time_runs RUNS CMD…: best and mean wall time of CMD in ms, stdout to /dev/null.
time_runs() {
	local runs=$1 best=999999 total=0 a b d
	shift
	"$@" >/dev/null # warm the page cache once
	for _ in $(seq "$runs"); do
		a=$(now_ms)
		"$@" >/dev/null
		b=$(now_ms)
		d=$((b - a)); [ "$d" -lt "$best" ] && best=$d
		total=$((total + d))
	done
	echo "$best $((total / runs))"
}

report() {
	local label=$1 runs=$2
	shift 2
	read -r best mean < <(time_runs "$runs" "$@")
	printf '%-52s best %5d ms, mean %5d ms over %d runs\n' "$label" "$best" "$mean" "$runs"
	LAST_BEST=$best
}

report "stats --period last-month" 10 "$AUDIT" --store "$S" stats --period last-month
target=$LAST_BEST
report "stats --period last-month (terminal, 120 columns)" 5 env CLICOLOR_FORCE=1 COLUMNS=120 "$AUDIT" --store "$S" stats --period last-month
report "stats --period last-week" 5 "$AUDIT" --store "$S" stats --period last-week
report "stats --by user,type --period last-month -o csv" 5 "$AUDIT" --store "$S" stats --by user,type --period last-month -o csv
report "stats --by day --failed --period last-month" 5 "$AUDIT" --store "$S" stats --by day --failed --period last-month
report "stats logins --period last-month" 5 "$AUDIT" --store "$S" stats logins --period last-month
report "stats logins (all events)" 3 "$AUDIT" --store "$S" stats logins
report "stats (all events, no period)" 3 "$AUDIT" --store "$S" stats
rss=$(peak_rss_kb "$AUDIT" --store "$S" stats --period last-month)
printf 'stats --period last-month: peak RSS %d KiB (%.1f MiB)\n' "$rss" "$(echo "$rss / 1024" | bc -l)"

if [ "$target" -lt 1000 ]; then
	echo "target met: stats --period last-month in $target ms (< 1000 ms)"
else
	echo "target MISSED: stats --period last-month in $target ms (>= 1000 ms)"
	exit 1
fi
