# Shared by the benchmark scripts: build the binary, make the data set once.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DATA=${BENCH_DATA:-$ROOT/bench/data}
N=${BENCH_N:-1000000}
mkdir -p "$DATA"
AUDIT=$DATA/audit
(cd "$ROOT" && go build -o "$AUDIT" ./cmd/audit)

# now_ms prints the wall clock in milliseconds.
now_ms() { date +%s%3N; }

# gen makes $DATA/events-$N.{jsonl,csv} once: N realistic events over a year.
gen() {
	if [ ! -s "$DATA/events-$N.jsonl" ]; then
		(cd "$ROOT" && go run ./cmd/gen-sample -n "$N" -days 365 -with-seed=false -format jsonl) > "$DATA/events-$N.jsonl"
	fi
	if [ ! -s "$DATA/events-$N.csv" ]; then
		(cd "$ROOT" && go run ./cmd/gen-sample -n "$N" -days 365 -with-seed=false -format csv) > "$DATA/events-$N.csv"
	fi
}

# store makes $DATA/store-$N.db once by importing the JSONL.
store() {
	gen
	if [ ! -s "$DATA/store-$N.db" ]; then
		"$AUDIT" --store "$DATA/store-$N.db" import "$DATA/events-$N.jsonl" >/dev/null
	fi
}

# peak_rss_kb CMD… runs CMD with stdout to /dev/null and prints its peak RSS in KiB.
peak_rss_kb() {
	/usr/bin/time -f '%M' -o "$DATA/rss.txt" "$@" >/dev/null
	cat "$DATA/rss.txt"
}

# ref_import DB CSV [same] loads CSV into DB with the sqlite3 shell: the
# reference an import is held to, a table of the same columns with indexes
# on id (unique), time, (user, time) and (type, time); with "same", the
# indexes of audit's own table as well (display name, address, resource,
# resource type, failures), so that both sides build the same indexes.
ref_import() {
	local more=
	if [ "${3:-}" = same ]; then
		more="CREATE INDEX events_user_name_time ON events(user_name, time);
CREATE INDEX events_ip ON events(ip);
CREATE INDEX events_resource ON events(resource);
CREATE INDEX events_resource_type ON events(resource_type);
CREATE INDEX events_failures ON events(outcome, time) WHERE outcome = 'failure';"
	fi
	sqlite3 "$1" <<SQL
CREATE TABLE events(id TEXT, seq INTEGER, time TEXT, user TEXT, user_name TEXT, type TEXT,
  action TEXT, resource_type TEXT, resource TEXT, details TEXT, ip TEXT, outcome TEXT, hash TEXT);
CREATE UNIQUE INDEX events_id ON events(id);
CREATE INDEX events_time ON events(time);
CREATE INDEX events_user_time ON events(user, time);
CREATE INDEX events_type_time ON events(type, time);
$more
.mode csv
.import --skip 1 $2 events
SQL
}

# duckdb_ready installs DuckDB's Node binding under $DATA/duckdb once and
# says whether it is there; duckdb JOB ARG… runs bench/duckdb.mjs with it
# and prints the job's milliseconds inside the process.
duckdb_ready() {
	command -v node >/dev/null && command -v npm >/dev/null || return 1
	mkdir -p "$DATA/duckdb"
	cp "$ROOT/bench/duckdb.mjs" "$DATA/duckdb/"
	[ -d "$DATA/duckdb/node_modules/@duckdb/node-api" ] ||
		(cd "$DATA/duckdb" && npm install --silent --no-audit --no-fund @duckdb/node-api >/dev/null 2>&1) || return 1
}
duckdb() { node "$DATA/duckdb/duckdb.mjs" "$@"; }
