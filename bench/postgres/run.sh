#!/usr/bin/env bash
# The PostgreSQL store beside the SQLite one, on the same data, in one run:
#
#   import   N generated events (default 1,000,000 over 365 days)
#   list     audit list --user U --type security --since 30d -n 50
#   export   audit export -o FILE.csv of every event, and for PostgreSQL
#            the baseline psql -c "\copy (SELECT …) TO FILE CSV"
#
# PostgreSQL runs as a throwaway cluster (.ci/postgres.sh) with durable
# settings (fsync, synchronous_commit and full_page_writes on, as in
# production), 1 GB of shared_buffers, room for the WAL of an import, and
# wal_buffers of 64 MB (the default is 16 MB at most: an import writes
# about 830 MB of WAL per million events and waits for buffer space;
# PG_SETTINGS overrides, e.g. PG_SETTINGS="-c wal_buffers=16MB").
# Wall times are of the whole command, process start and connection
# included; the server's CPU for the import is summed from
# log_statement_stats. Results go to stdout as a Markdown table; the data
# and both stores stay in $BENCH_DIR (default /tmp/audit-bench) for a look
# afterwards, the cluster is stopped.
#
#   bench/postgres/run.sh            # N=1000000
#   N=200000 bench/postgres/run.sh   # quicker
set -euo pipefail
cd "$(dirname "$0")/../.."

N=${N:-1000000}
DAYS=${DAYS:-365}
RUNS=${RUNS:-15}
USER_FILTER=${USER_FILTER:-jdavis}
dir=${BENCH_DIR:-/tmp/audit-bench}
mkdir -p "$dir"
chmod 0755 "$dir"

log() { echo "bench: $*" >&2; }

# seconds prints the wall seconds of a command (its output discarded).
seconds() {
	local start end
	start=$(date +%s.%N)
	"$@" >/dev/null
	end=$(date +%s.%N)
	echo "$end - $start" | bc
}

# cpu_seconds prints the wall, user and system seconds of a command.
cpu_seconds() {
	local TIMEFORMAT='%R %U %S'
	{ time "$@" >/dev/null 2>/dev/null; } 2>&1
}

# median prints the median and the 90th percentile of numbers on stdin.
median() {
	sort -n | awk '{v[NR]=$1} END {m=v[int((NR+1)/2)]; p=v[int(NR*0.9+0.5)]; printf "%.1f ms (p90 %.1f ms)", m*1000, p*1000}'
}

log "building audit"
go build -o "$dir/audit" ./cmd/audit
audit=$dir/audit

data=$dir/sample-$N-$DAYS.jsonl
if [ ! -s "$data" ]; then
	log "generating $N events over $DAYS days"
	go run ./cmd/gen-sample -n "$N" -days "$DAYS" >"$data.tmp"
	mv "$data.tmp" "$data"
fi
events=$(wc -l <"$data")

# The cluster.
export AUDIT_PG_STATE=$dir/pg.env AUDIT_PG_PORT=${AUDIT_PG_PORT:-55450}
export AUDIT_PG_SETTINGS="-c fsync=on -c synchronous_commit=on -c full_page_writes=on \
-c shared_buffers=1GB -c max_wal_size=8GB -c checkpoint_timeout=15min -c wal_buffers=64MB ${PG_SETTINGS:-}"
.ci/postgres.sh stop >/dev/null 2>&1 || true
eval "$(.ci/postgres.sh start)"
trap '.ci/postgres.sh stop' EXIT
# shellcheck disable=SC1090
. "$AUDIT_PG_STATE"
admin=$AUDIT_TEST_POSTGRES
psql -qX "$admin" -c "CREATE DATABASE bench" >/dev/null
pg="${admin%%/postgres\?*}/bench?sslmode=disable"
sqlite=$dir/bench.db
rm -f "$sqlite" "$sqlite-wal" "$sqlite-shm"

# Import. Each starts once the kernel has written back what came before
# (sync): otherwise the second one pays for the first one's writeback.
log "importing $events events into SQLite"
sync
read -r s_wall s_user s_sys < <(cpu_seconds "$audit" --store "$sqlite" import "$data")
sync
log "importing $events events into PostgreSQL"
psql -qX "$admin" -c "ALTER SYSTEM SET log_statement_stats = on" -c "SELECT pg_reload_conf()" >/dev/null
mark=$(wc -l <"$PG_DIR/server.log")
read -r p_wall p_user p_sys < <(cpu_seconds "$audit" --store "$pg" import "$data")
psql -qX "$admin" -c "ALTER SYSTEM RESET log_statement_stats" -c "SELECT pg_reload_conf()" >/dev/null
p_server=$(tail -n +"$mark" "$PG_DIR/server.log" | grep -o '![[:space:]]*[0-9.]* s user, [0-9.]* s system' |
	awk '{u += $2; s += $5} END {printf "%.1f", u + s}')
stored=$(psql -qXAt "$pg" -c "SELECT count(*) FROM audit_events")

# List.
list() { "$audit" --store "$1" list --user "$USER_FILTER" --type security --since 30d -n 50; }
log "list, $RUNS runs each"
list "$sqlite" >/dev/null 2>&1
list "$pg" >/dev/null 2>&1
s_list=$(for _ in $(seq "$RUNS"); do seconds list "$sqlite" 2>/dev/null; done | median)
p_list=$(for _ in $(seq "$RUNS"); do seconds list "$pg" 2>/dev/null; done | median)
log "VACUUM ANALYZE (what autovacuum does after an import), then list again"
psql -qX "$pg" -c "VACUUM ANALYZE" >/dev/null
p_list2=$(for _ in $(seq "$RUNS"); do seconds list "$pg" 2>/dev/null; done | median)
matches=$(list "$pg" 2>/dev/null | wc -l)

# Export.
log "export"
rm -f "$dir"/export-*.csv
s_export=$(seconds "$audit" --store "$sqlite" export -o "$dir/export-sqlite.csv")
p_export=$(seconds "$audit" --store "$pg" export -o "$dir/export-pg.csv")
columns='id, seq, time, "user", user_name, type, action, resource_type, resource, details, host(ip), outcome, hash'
p_copy=$(seconds psql -qX "$pg" -c "\\copy (SELECT $columns FROM audit_events ORDER BY seq) TO '$dir/export-psql.csv' CSV HEADER")
rows=$(($(wc -l <"$dir/export-pg.csv") - 1))

rate() { echo "$1 / $2" | bc; }
ms() { printf "%.0f ms" "$(echo "$1 * 1000" | bc)"; }
cat <<EOF

## audit on PostgreSQL and SQLite: $events events over $DAYS days ($(nproc) cores, $(date -u +%Y-%m-%d))

| | SQLite | PostgreSQL |
|---|---|---|
| import (wall) | ${s_wall} s, $(rate "$events" "$s_wall") events/s | ${p_wall} s, $(rate "$events" "$p_wall") events/s |
| import CPU: client (user+sys) | $(printf %.2f "$(echo "$s_user + $s_sys" | bc)") s | $(printf %.2f "$(echo "$p_user + $p_sys" | bc)") s |
| import CPU: server | – | ${p_server} s |
| \`list --user $USER_FILTER --type security --since 30d -n 50\` ($RUNS runs, median) | $s_list | $p_list right after the import; $p_list2 after VACUUM ANALYZE |
| \`export -o FILE.csv\` ($rows rows) | $(ms "$s_export") | $(ms "$p_export") |
| \`psql \\copy (SELECT …) TO FILE CSV\` | – | $(ms "$p_copy") (export/psql: $(printf %.2f "$(echo "scale=3; $p_export / $p_copy" | bc)")x) |

Stored in PostgreSQL: $stored events; the list printed $matches lines.
Machine load when done: $(cut -d' ' -f1-3 /proc/loadavg).
EOF
