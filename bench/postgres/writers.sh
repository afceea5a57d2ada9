#!/usr/bin/env bash
# Many writers on one PostgreSQL store: N generated events (default
# 400,000) imported by one `audit import`, then, into a new database, the
# same events split into W files (default 4) imported by W processes at
# once. Writers take turns on the store's head row, so the chain stays one
# sequence with no gap: the figures say what the turns cost. Both stores
# are verified. The cluster has durable settings (fsync and
# synchronous_commit on), as bench/postgres/run.sh's.
#
#   bench/postgres/writers.sh
#   N=100000 W=8 bench/postgres/writers.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

N=${N:-400000}
W=${W:-4}
dir=${BENCH_DIR:-/tmp/audit-bench-writers}
mkdir -p "$dir"
chmod 0755 "$dir"
log() { echo "bench: $*" >&2; }

log "building audit"
go build -o "$dir/audit" ./cmd/audit
audit=$dir/audit
data=$dir/sample-$N.jsonl
if [ ! -s "$data" ]; then
	log "generating $N events"
	go run ./cmd/gen-sample -n "$N" -days 365 -with-seed=false >"$data.tmp"
	mv "$data.tmp" "$data"
fi
rm -f "$dir"/part-*
split -n "l/$W" -d "$data" "$dir/part-"

export AUDIT_PG_STATE=$dir/pg.env AUDIT_PG_PORT=${AUDIT_PG_PORT:-55460}
export AUDIT_PG_SETTINGS="-c fsync=on -c synchronous_commit=on -c full_page_writes=on \
-c shared_buffers=1GB -c max_wal_size=8GB -c checkpoint_timeout=15min -c wal_buffers=64MB ${PG_SETTINGS:-}"
.ci/postgres.sh stop >/dev/null 2>&1 || true
eval "$(.ci/postgres.sh start)"
trap '.ci/postgres.sh stop' EXIT
admin=$AUDIT_TEST_POSTGRES
base=${admin%%/postgres\?*}
psql -qX "$admin" -c "CREATE DATABASE one" -c "CREATE DATABASE many" >/dev/null

wall() {
	local start end
	start=$(date +%s.%N)
	"$@"
	end=$(date +%s.%N)
	echo "$end - $start" | bc
}

log "1 importer, $N events"
sync
one=$(wall "$audit" --store "$base/one?sslmode=disable" import "$data" 2>/dev/null)
sync
log "$W importers at once, $((N / W)) events each"
many_run() {
	local pids=() f
	for f in "$dir"/part-*; do
		"$audit" --store "$base/many?sslmode=disable" import "$f" 2>/dev/null &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p"; done
}
many=$(wall many_run)

check() {
	local url=$base/$1?sslmode=disable
	local n gaps
	n=$(psql -qXAt "$url" -c "SELECT count(*) FROM audit_events")
	gaps=$(psql -qXAt "$url" -c "SELECT count(*) - (max(seq) - min(seq) + 1) FROM audit_events")
	"$audit" --store "$url" verify >/dev/null
	psql -qX "$url" -c "VACUUM ANALYZE" >/dev/null
	bytes=$(psql -qXAt "$url" -c "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relname LIKE 'audit%' AND c.relkind IN ('r', 'p')")
	echo "$n events, seq gaps $gaps, verify OK, $((bytes / n)) bytes/event on disk"
}
echo "| writers | events | wall | events/s | store |"
echo "|---|---|---|---|---|"
printf '| 1 `audit import` | %d | %.1f s | %.0f | %s |\n' "$N" "$one" "$(echo "$N / $one" | bc -l)" "$(check one)"
printf '| %d `audit import` at once | %d | %.1f s | %.0f | %s |\n' "$W" "$N" "$many" "$(echo "$N / $many" | bc -l)" "$(check many)"
