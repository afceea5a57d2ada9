#!/usr/bin/env bash
# The speed target of the web console (issue #15): a page of the audit log
# over a 1,000,000-event SQLite store rendered in under 50 ms server-side,
# and under 100 KB. Measured with curl on 127.0.0.1 against a real
# `audit serve`: the time to the last byte and the size of each page.
# Usage: bench/web.sh            (BENCH_N=200000 for a quicker run)
source "$(dirname "$0")/common.sh"
store
S="$DATA/store-$N.db"
echo "events: $N in $S"
command -v curl >/dev/null || { echo "bench/web.sh needs curl" >&2; exit 1; }

TOKEN=$("$AUDIT" --store "$S" token create --name "bench-web-$$" --role admin --expires 1h 2>&1 | grep -o 'audit_[A-Za-z0-9_-]*')
URLFILE=$(mktemp)
"$AUDIT" --store "$S" --utc serve --listen 127.0.0.1:0 --url-file "$URLFILE" 2>"$DATA/web-serve.log" &
SERVE=$!
trap 'kill $SERVE 2>/dev/null; wait $SERVE 2>/dev/null; "$AUDIT" --store "$S" token revoke "bench-web-$$" >/dev/null 2>&1 || true; rm -f "$URLFILE"' EXIT
for _ in $(seq 100); do [ -s "$URLFILE" ] && break; sleep 0.1; done
BASE=$(cat "$URLFILE")

# page LABEL PATH RUNS: best and mean time to the last byte, and the size.
page() {
	local label=$1 path=$2 runs=$3 best=999999 total=0 t size
	local out
	out=$(curl -s -o /dev/null -w '%{time_total} %{size_download} %{http_code}' -H "Authorization: Bearer $TOKEN" "$BASE$path")
	[ "${out##* }" = 200 ] || { echo "$path: HTTP ${out##* }" >&2; exit 1; }
	for _ in $(seq "$runs"); do
		out=$(curl -s -o /dev/null -w '%{time_total} %{size_download}' -H "Authorization: Bearer $TOKEN" "$BASE$path")
		t=$(awk -v s="${out% *}" 'BEGIN { printf "%d", s * 1000000 }')
		size=${out#* }
		[ "$t" -lt "$best" ] && best=$t
		total=$((total + t))
	done
	printf '%-58s best %6.1f ms, mean %6.1f ms, %6.1f KB\n' "$label" \
		"$(awk -v v="$best" 'BEGIN { print v / 1000 }')" "$(awk -v v="$((total / runs))" 'BEGIN { print v / 1000 }')" \
		"$(awk -v v="$size" 'BEGIN { print v / 1024 }')"
}

first=$(curl -s -o /dev/null -w '%{time_total}' -H "Authorization: Bearer $TOKEN" "$BASE/")
printf '%-58s %6.1f ms (it waits for the first count of the User menu)\n' "first page, just after the start" "$(awk -v s="$first" 'BEGIN { print s * 1000 }')"
page "first page (/)" "/" 20
page "filtered: type=security&user=jdavis" "/?type=security&user=jdavis" 20
page "filtered: type=login&failed=1&range=30d" "/?type=login&failed=1&range=30d" 20
page "filtered: a user with 2 events (user=root)" "/?user=root" 20
page "filtered: nothing matches (user=nobody&type=security)" "/?user=nobody&type=security" 20
page "a page in the middle (before=N/2)" "/?before=$((N / 2))" 20
page "one event (/events/{id})" "/events/$("$AUDIT" --store "$S" list -n 1 -o jsonl | sed 's/^{"id":"\([^"]*\)".*/\1/')" 20
page "search=load_multiplier (substring over every event)" "/?search=load_multiplier" 5
page "statistics, the last 7 days (/stats)" "/stats" 5
