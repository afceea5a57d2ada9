#!/usr/bin/env bash
# How every cost grows with the store, beside the tools a user would reach
# for instead, measured in one run: for each size (100k and 1M events by
# default; BENCH_10M=1 adds 10M, which takes about 15 minutes and 10 GB of
# disk here), on the same generated events:
#
#   import     audit import of the JSONL    vs sqlite3 .import of the same rows as CSV
#                                              into a table with audit's indexes, and
#                                              into one with indexes on id, time,
#                                              (user, time), (type, time) only
#   list       audit list --user jdavis --type security --since 30d -n 50
#                                            vs jq over the JSONL
#   export     audit export -o all.csv      vs sqlite3 -csv of audit's own table,
#                                              the same columns and rows
#   stats      audit stats --period last-month (the review)
#   verify     audit verify
#   size       bytes per event of the store beside the JSONL, its gzip and
#              the sqlite3 reference table
#   rss        peak RSS of audit list -n 0 -o jsonl (every event)
#   duckdb     where node and npm can install @duckdb/node-api: DuckDB's load
#              of the JSONL, the same filtered query, the CSV export and the
#              month's counts by type, each timed inside the Node process
#
# Times are of the whole command (process start included): the median of
# RUNS runs for list and stats, one run for the rest. The table goes to
# stdout as Markdown; the figures to $BENCH_DATA/run.tsv, and a chart of
# time against size to $BENCH_DATA/growth.svg (BENCH_CHART=FILE elsewhere).
#
#   bench/run.sh                    # 100k and 1M
#   BENCH_10M=1 bench/run.sh        # and 10M
#   SIZES="10000 100000" bench/run.sh
source "$(dirname "$0")/common.sh"
SIZES=${SIZES:-100000 1000000}
if [ "${BENCH_10M:-}" = 1 ]; then SIZES="$SIZES 10000000"; fi
RUNS=${RUNS:-5}
TSV=$DATA/run.tsv
command -v sqlite3 >/dev/null || { echo "bench: needs the sqlite3 shell (apt-get install sqlite3)" >&2; exit 1; }
have_jq=1
command -v jq >/dev/null || have_jq=0
have_duck=1
duckdb_ready || have_duck=0
duck_rows=

ms() { # ms CMD…: wall milliseconds of CMD, its output discarded
	local a b
	a=$(now_ms)
	"$@" >/dev/null 2>&1
	b=$(now_ms)
	echo $((b - a))
}
median() { # median MS…
	printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'
}
runs() { # runs CMD…: the median of RUNS runs
	local out=() i
	"$@" >/dev/null 2>&1 # warm
	for i in $(seq "$RUNS"); do out+=("$(ms "$@")"); done
	median "${out[@]}"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "–" }'; }
per() { awk -v a="$1" -v n="$2" 'BEGIN { printf "%.0f", a / n }'; }

printf 'size\tmeasure\taudit_ms\treference_ms\treference\n' >"$TSV"
echo "machine: $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), load $(cut -d' ' -f1-3 /proc/loadavg); $(sqlite3 --version | cut -d' ' -f1) for the reference"
echo
echo "| events | import (audit / sqlite3 .import into the same indexes; into 4) | list (audit / jq) | export CSV (audit / sqlite3 -csv) | stats last-month | verify | bytes/event (store / sqlite3 table, same indexes / JSONL / gzip) | peak RSS, list all |"
echo "|---|---|---|---|---|---|---|---|"
for N in $SIZES; do
	export N
	gen >&2
	J=$DATA/events-$N.jsonl
	C=$DATA/events-$N.csv
	S=$DATA/run-$N.db
	R=$DATA/run-sqlite3-$N.db
	rm -f "$S" "$S-wal" "$S-shm" "$R" "$R.same"
	sync
	ref_import_ms=$(ms ref_import "$R" "$C")
	sync
	ref_same_ms=$(ms ref_import "$R.same" "$C" same)
	ref_same_b=$(stat -c %s "$R.same")
	rm -f "$R.same"
	sync
	imp=$(ms "$AUDIT" --store "$S" import "$J")
	list=$(runs "$AUDIT" --store "$S" list --user jdavis --type security --since 30d -n 50)
	jqms=–
	since=$(date -u -d '30 days ago' +%Y-%m-%dT%H:%M:%SZ)
	if [ $have_jq = 1 ]; then
		jqms=$(ms sh -c "jq -c --arg since '$since' 'select(.user==\"jdavis\" and .type==\"security\" and .time >= \$since)' '$J' | tail -n 50")
	fi
	rm -f "$DATA/run.csv" "$DATA/run-sqlite3.csv"
	ref_export=$(ms sqlite3 -csv -header "$S" "SELECT id, seq, strftime('%Y-%m-%dT%H:%M:%fZ', time / 1e9, 'unixepoch'), user, user_name, type, action, resource_type, resource, details, ip, outcome, hash FROM events ORDER BY seq")
	export_ms=$(ms "$AUDIT" --store "$S" export -o "$DATA/run.csv" --force)
	stats=$(runs "$AUDIT" --store "$S" stats --period last-month)
	verify=$(ms "$AUDIT" --store "$S" verify)
	rss=$(peak_rss_kb "$AUDIT" --store "$S" list -n 0 -o jsonl)
	store_b=$(($(stat -c %s "$S") + $(stat -c %s "$S-wal" 2>/dev/null || echo 0)))
	ref_b=$(stat -c %s "$R")
	json_b=$(stat -c %s "$J")
	gz_b=$(gzip -c "$J" | wc -c)
	rm -f "$DATA/run.csv"
	if [ $have_duck = 1 ]; then
		D=$DATA/run-duckdb-$N.db
		rm -f "$D" "$D.wal"
		sync
		d_load=$(duckdb load "$D" "$J")
		duckdb list "$D" "$since" >/dev/null # warm
		d_list=$(duckdb list "$D" "$since")
		d_export=$(duckdb export "$D" "$DATA/run-duckdb.csv")
		from=$(date -u -d "$(date -u +%Y-%m-01) -1 month" +%Y-%m-%dT00:00:00Z)
		to=$(date -u +%Y-%m-01T00:00:00Z)
		d_stats=$(duckdb stats "$D" "$from" "$to")
		stats_type=$(runs "$AUDIT" --store "$S" stats --by type --period last-month)
		duck_rows+=$(printf '| %s | %s ms / %s ms = **%s** | %s ms / %s ms | %s ms / %s ms = **%s** | %s ms / %s ms | %s / %s |' \
			"$N" "$imp" "$d_load" "$(ratio "$imp" "$d_load")" "$list" "$d_list" "$export_ms" "$d_export" "$(ratio "$export_ms" "$d_export")" \
			"$stats_type" "$d_stats" "$(per "$store_b" "$N")" "$(per "$(stat -c %s "$D")" "$N")")$'\n'
		printf '%s\timport\t\t%s\tDuckDB read_json\n%s\texport\t\t%s\tDuckDB COPY\n' "$N" "$d_load" "$N" "$d_export" >>"$TSV"
		rm -f "$D" "$D.wal" "$DATA/run-duckdb.csv"
	fi
	printf '%s\timport\t%s\t%s\tsqlite3 .import\n%s\tlist\t%s\t%s\tjq\n%s\texport\t%s\t%s\tsqlite3 -csv\n%s\tstats\t%s\t\t\n%s\tverify\t%s\t\t\n' \
		"$N" "$imp" "$ref_same_ms" "$N" "$list" "$jqms" "$N" "$export_ms" "$ref_export" "$N" "$stats" "$N" "$verify" >>"$TSV"
	printf '| %s | %s ms / %s ms = **%s**; %s ms = %s | %s ms / %s ms | %s ms / %s ms = **%s** | %s ms | %s ms (%s events/s) | %s / %s / %s / %s (store %s the table) | %s MiB |\n' \
		"$N" "$imp" "$ref_same_ms" "$(ratio "$imp" "$ref_same_ms")" "$ref_import_ms" "$(ratio "$imp" "$ref_import_ms")" "$list" "$jqms" "$export_ms" "$ref_export" "$(ratio "$export_ms" "$ref_export")" \
		"$stats" "$verify" "$(per $((N * 1000)) "$verify")" \
		"$(per "$store_b" "$N")" "$(per "$ref_same_b" "$N")" "$(per "$json_b" "$N")" "$(per "$gz_b" "$N")" "$(ratio "$store_b" "$ref_same_b")" $((rss / 1024))
	rm -f "$R"
done
if [ -n "$duck_rows" ]; then
	echo
	echo "DuckDB $(duckdb version 2>/dev/null || true) (times inside the Node process; audit's are whole commands):"
	echo
	echo "| events | load (audit import / DuckDB read_json) | filtered list (audit / DuckDB) | export CSV (audit / DuckDB COPY) | the month by type (audit stats --by type / DuckDB GROUP BY) | bytes/event (store / DuckDB file) |"
	echo "|---|---|---|---|---|---|"
	printf '%s' "$duck_rows"
fi
chart=${BENCH_CHART:-$DATA/growth.svg}
(cd "$ROOT" && go run ./bench/chart -in "$TSV" -out "$chart")
echo
echo "figures: $TSV; chart: $chart"
