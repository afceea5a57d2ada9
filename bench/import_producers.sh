#!/usr/bin/env bash
# Import speed of the producers' logs beside audit's own format, in one run:
#   1. audit's own JSONL (N events), the reference;
#   2. N CloudTrail records as gzip-compressed log files ({"Records": [...]}
#      objects of 1,000 records, as `zcat` of a trail's S3 prefix gives);
#   3. N Kubernetes audit events (the API server's log, ResponseComplete).
# Each into a new store. Rates count records read per second (CloudTrail's
# read-only calls are read, then skipped). Floor: each producer at least
# half the own-format rate.
# Usage: bench/import_producers.sh            (BENCH_N=200000 for a quicker run)
source "$(dirname "$0")/common.sh"
gen
CT="$DATA/cloudtrail-$N.json.gz"
K8S="$DATA/kubernetes-$N.log"
if [ ! -s "$CT" ]; then
	(cd "$ROOT" && go run ./cmd/gen-sample -n "$N" -days 365 -with-seed=false -format cloudtrail) | gzip -6 >"$CT"
fi
if [ ! -s "$K8S" ]; then
	(cd "$ROOT" && go run ./cmd/gen-sample -n "$N" -days 365 -with-seed=false -format kubernetes) >"$K8S"
fi

# one NAME FILE: import FILE into a new store, print the line and the rate.
one() {
	local name=$1 file=$2 db="$DATA/import-bench.db" a b ms
	rm -f "$db" "$db-wal" "$db-shm"
	a=$(now_ms)
	"$AUDIT" --store "$db" import "$file" 2>"$DATA/import-summary.txt"
	b=$(now_ms)
	ms=$((b - a))
	printf '%-26s %6d ms  %7d records/s  (%s)\n' "$name" "$ms" $((N * 1000 / ms)) "$(cat "$DATA/import-summary.txt")" >&2
	echo $((N * 1000 / ms))
	rm -f "$db" "$db-wal" "$db-shm"
}

own=$(one "audit JSONL" "$DATA/events-$N.jsonl")
ct=$(one "CloudTrail (gzip)" "$CT")
k8s=$(one "Kubernetes" "$K8S")
awk -v o="$own" -v c="$ct" -v k="$k8s" 'BEGIN {
	printf "CloudTrail %.2fx and Kubernetes %.2fx of the own-format rate (floor 0.50x)\n", c/o, k/o }'
