#!/usr/bin/env bash
# The spine's speed targets, measured side by side in one run:
#   1. audit import of 1M events vs sqlite3 .import of the same rows as CSV
#      into a table with indexes on id (unique), time, (user,time), (type,time);
#   2. a filtered `audit list` (whole process) vs jq over the JSONL;
#   3. peak RSS of `audit list -n 0 -o jsonl` over all 1M events.
# Usage: bench/spine.sh            (BENCH_N=200000 for a quicker run)
source "$(dirname "$0")/common.sh"
gen
echo "events: $N"

# 1. Import
rm -f "$DATA/sqlite3.db" "$DATA/import.db"*
t0=$(now_ms)
ref_import "$DATA/sqlite3.db" "$DATA/events-$N.csv"
t1=$(now_ms)
"$AUDIT" --store "$DATA/import.db" import "$DATA/events-$N.jsonl"
t2=$(now_ms)
sq=$((t1 - t0)); au=$((t2 - t1))
printf 'import: sqlite3 .import %d ms (%d rows/s); audit import %d ms (%d events/s); ratio %.2fx\n' \
	"$sq" $((N * 1000 / sq)) "$au" $((N * 1000 / au)) "$(awk -v a=$au -v b=$sq "BEGIN{print a/b}")"

# 2. Filtered list vs jq
S="$DATA/import.db"
since=$(date -u -d '30 days ago' +%Y-%m-%dT%H:%M:%SZ)
best=999999
for i in 1 2 3 4 5 6 7 8 9 10; do
	a=$(now_ms)
	"$AUDIT" --store "$S" list --user jdavis --type security --since 30d -n 50 >/dev/null 2>&1
	b=$(now_ms)
	d=$((b - a)); [ "$d" -lt "$best" ] && best=$d
	total=$(( ${total:-0} + d ))
done
a=$(now_ms)
jq -c --arg since "$since" 'select(.user=="jdavis" and .type=="security" and .time >= $since)' "$DATA/events-$N.jsonl" | tail -n 50 >/dev/null
b=$(now_ms)
jqms=$((b - a))
printf 'filtered list: audit best %d ms, mean %d ms over 10 runs; jq %d ms; jq/audit %.0fx\n' \
	"$best" $((total / 10)) "$jqms" "$(awk -v a=$jqms -v b=$best "BEGIN{print a/b}")"

# 3. Memory of a full JSONL listing
rss=$(peak_rss_kb "$AUDIT" --store "$S" list -n 0 -o jsonl)
printf 'list -n 0 -o jsonl of %d events: peak RSS %d KiB (%.1f MiB)\n' "$N" "$rss" "$(awk -v a=$rss "BEGIN{print a/1024}")"
