#!/usr/bin/env bash
# audit export speed and memory, side by side in one run:
#   1. `audit export --format csv -o FILE` of every event vs sqlite3 -csv
#      writing the same columns ordered by seq;
#   2. peak RSS of that export for N and for 5N events (it must not grow).
# Usage: bench/export.sh            (BENCH_N=200000 for a quicker run)
source "$(dirname "$0")/common.sh"
store
S="$DATA/store-$N.db"
OUT="$DATA/export.csv"

rm -f "$OUT" "$DATA/sqlite3.csv"
a=$(now_ms)
sqlite3 -csv -header "$S" "SELECT id, seq, strftime('%Y-%m-%dT%H:%M:%fZ', time / 1e9, 'unixepoch'), user, user_name, type, action, resource_type, resource, details, ip, outcome, hash FROM events ORDER BY seq" >"$DATA/sqlite3.csv"
b=$(now_ms)
rss=$(peak_rss_kb "$AUDIT" --store "$S" export --format csv -o "$OUT" --force)
c=$(now_ms)
sq=$((b - a)); au=$((c - b))
rows=$(($(wc -l <"$DATA/sqlite3.csv") - 1))
printf 'export %d rows: sqlite3 -csv %d ms (%d rows/s); audit export %d ms (%d rows/s); ratio %s; audit peak RSS %d KiB\n' \
	"$rows" "$sq" $((rows * 1000 / sq)) "$au" $((rows * 1000 / au)) "$(awk -v a=$au -v b=$sq 'BEGIN{printf "%.2fx", a/b}')" "$rss"

# 5N events: the same store five times over (ids made distinct), then the export's RSS.
BIG="$DATA/store-5x$N.db"
if [ ! -s "$BIG" ]; then
	for k in 1 2 3 4 5; do
		sed "s/\"id\":\"gen-/\"id\":\"x$k-gen-/" "$DATA/events-$N.jsonl"
	done | "$AUDIT" --store "$BIG" import - >/dev/null
fi
rss5=$(peak_rss_kb "$AUDIT" --store "$BIG" export --format csv -o "$OUT" --force)
printf 'export %d rows: audit peak RSS %d KiB (vs %d KiB for %d rows)\n' $((5 * N)) "$rss5" "$rss" "$N"
rm -f "$OUT"
