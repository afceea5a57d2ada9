#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests of the PostgreSQL store.
#
#   .ci/postgres.sh available   exit 0 when PostgreSQL server binaries exist
#   .ci/postgres.sh start       start the cluster (or find it running) and
#                               print `export AUDIT_TEST_POSTGRES=…` for eval
#   .ci/postgres.sh stop        stop it and delete its files
#   .ci/postgres.sh status      say whether it runs, and its DSN
#
# The cluster lives in a temporary directory, listens on 127.0.0.1 only (port
# 55432, or the next free one), trusts local connections and runs without
# fsync: it holds nothing worth keeping. initdb refuses to run as root, so as
# root the cluster runs as the `postgres` user (which Debian's packages
# create). `start` is idempotent: a second call finds the running cluster
# through a state file and prints the same DSN. Environment:
#   PG_BINDIR           where initdb, pg_ctl and postgres are (else searched)
#   AUDIT_PG_PORT       the first port to try (55432)
#   AUDIT_PG_STATE      the state file (${TMPDIR:-/tmp}/audit-test-postgres.env)
#   AUDIT_PG_SETTINGS   extra `-c name=value …` server options
set -euo pipefail

state=${AUDIT_PG_STATE:-${TMPDIR:-/tmp}/audit-test-postgres.env}

log() { echo "postgres.sh: $*" >&2; }

# bindir prints the directory holding initdb, pg_ctl and postgres.
bindir() {
	local d
	for d in ${PG_BINDIR:-} $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -V -r) \
		/usr/local/pgsql/bin "$(dirname "$(command -v initdb 2>/dev/null || echo /nonexistent/x)")"; do
		if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ]; then
			echo "$d"
			return 0
		fi
	done
	return 1
}

# as_owner runs a command as the cluster's owner: `postgres` when we are
# root, else ourselves.
as_owner() {
	if [ "$(id -u)" = 0 ]; then
		if command -v runuser >/dev/null; then
			runuser -u postgres -- "$@"
		else
			su postgres -s /bin/sh -c "$(printf '%q ' "$@")"
		fi
	else
		"$@"
	fi
}

port_free() {
	! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

running() {
	[ -f "$state" ] || return 1
	# shellcheck disable=SC1090
	. "$state"
	[ -n "${PGDATA_DIR:-}" ] && [ -d "$PGDATA_DIR" ] && as_owner "$BINDIR/pg_ctl" -D "$PGDATA_DIR" status >/dev/null 2>&1
}

print_env() {
	echo "export AUDIT_TEST_POSTGRES='$DSN'"
}

start() {
	if running; then
		log "already running: $DSN"
		print_env
		return 0
	fi
	rm -f "$state"
	local bin
	if ! bin=$(bindir); then
		log "no PostgreSQL server binaries (initdb, pg_ctl, postgres) found; install Debian's postgresql package"
		return 1
	fi
	if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
		log "running as root, but there is no postgres user to run the cluster as"
		return 1
	fi
	local port=${AUDIT_PG_PORT:-55432}
	local tries=0
	until port_free "$port"; do
		port=$((port + 1))
		tries=$((tries + 1))
		if [ $tries -ge 50 ]; then
			log "no free port from ${AUDIT_PG_PORT:-55432} on"
			return 1
		fi
	done
	local dir
	dir=$(mktemp -d "${TMPDIR:-/tmp}/audit-pg.XXXXXX")
	chmod 0755 "$dir"
	mkdir "$dir/data"
	if [ "$(id -u)" = 0 ]; then
		chown -R postgres: "$dir"
	fi
	log "initdb in $dir/data (PostgreSQL binaries in $bin)"
	as_owner "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C --no-sync >"$dir/initdb.log" 2>&1 || {
		cat "$dir/initdb.log" >&2
		return 1
	}
	# A throwaway cluster: no durability, sockets in its own directory.
	local opts="-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir"
	opts="$opts -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
	opts="$opts ${AUDIT_PG_SETTINGS:-}"
	as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -o "$opts" -w -t 60 start >/dev/null || {
		cat "$dir/server.log" >&2
		return 1
	}
	DSN="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
	{
		echo "PGDATA_DIR='$dir/data'"
		echo "PG_DIR='$dir'"
		echo "BINDIR='$bin'"
		echo "DSN='$DSN'"
	} >"$state"
	log "started on 127.0.0.1:$port"
	print_env
}

stop() {
	if [ ! -f "$state" ]; then
		log "not running"
		return 0
	fi
	# shellcheck disable=SC1090
	. "$state"
	as_owner "$BINDIR/pg_ctl" -D "$PGDATA_DIR" -m immediate -w stop >/dev/null 2>&1 || true
	case "$PG_DIR" in
	"${TMPDIR:-/tmp}"/audit-pg.*) rm -rf "$PG_DIR" ;;
	esac
	rm -f "$state"
	log "stopped"
}

case "${1:-}" in
available) bindir >/dev/null ;;
start) start ;;
stop) stop ;;
status)
	if running; then echo "running: $DSN"; else
		echo "not running"
		exit 1
	fi
	;;
*)
	echo "usage: $0 available|start|stop|status" >&2
	exit 2
	;;
esac
