package postgres

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/audit-cli/audit/internal/audit"
)

// migration brings the schema from one version to the next.
type migration struct {
	description string
	sql         string
}

// migrations[i] brings a database from schema version i to i+1. The
// applied versions are rows of audit_schema_migrations. Append only: a
// released migration never changes, a new one goes at the end. Every
// table's name starts with audit_ so that the store can share a schema
// with other applications (schema_migrations, events and tokens are
// common names).
var migrations = []migration{{
	description: "events partitioned by month, event ids, the head of the chain, tokens",
	sql: `
-- The head: the seq and hash of the last event written. Writers lock this
-- one row (SELECT … FOR UPDATE) to assign seqs and continue the chain, and
-- hold it until they commit: so writers commit in seq order, and a seq is
-- never reused, even after the newest events are deleted.
CREATE TABLE audit_head (
	one  boolean PRIMARY KEY DEFAULT true CHECK (one),
	seq  bigint  NOT NULL,
	hash text    NOT NULL
);
INSERT INTO audit_head (seq, hash) VALUES (0, '');

-- The events, one partition per month of their time (created as writes
-- need them, see ensurePartitions). time holds the microseconds that
-- timestamptz keeps and time_ns the nanoseconds beyond them, so that times
-- round-trip exactly while psql and partition bounds show real dates.
-- The *_lc columns are the filterable texts lowercased by Go's
-- strings.ToLower, which is what audit.Filter.Match compares: case
-- folding then agrees with the reference for every script, whatever the
-- database's locale, and the C collation lets a btree serve both = and a
-- LIKE prefix. ip is NULL for events without an address; a CIDR filter is
-- ip <<= prefix, which a btree on inet serves as a range.
CREATE TABLE audit_events (
	seq              bigint      NOT NULL,
	id               text        NOT NULL,
	time             timestamptz NOT NULL,
	time_ns          smallint    NOT NULL DEFAULT 0 CHECK (time_ns BETWEEN 0 AND 999),
	"user"           text        NOT NULL,
	user_name        text        NOT NULL DEFAULT '',
	type             text COLLATE "C" NOT NULL,
	action           text        NOT NULL DEFAULT '',
	resource_type    text        NOT NULL DEFAULT '',
	resource         text        NOT NULL DEFAULT '',
	details          text        NOT NULL DEFAULT '',
	ip               inet,
	outcome          text COLLATE "C" NOT NULL DEFAULT 'success',
	hash             text        NOT NULL,
	user_lc          text COLLATE "C" NOT NULL,
	user_name_lc     text COLLATE "C" NOT NULL,
	action_lc        text COLLATE "C" NOT NULL,
	resource_type_lc text COLLATE "C" NOT NULL,
	resource_lc      text COLLATE "C" NOT NULL,
	details_lc       text COLLATE "C" NOT NULL
) PARTITION BY RANGE (time);

-- Indexes, made on every partition. Each costs a second or more of
-- server CPU per million events written (see bench/postgres), so there
-- are four, each serving as much as it can:
--   seq     ORDER BY seq, the --after/--before cursors (keyset paging)
--   time    BRIN: since/until within a month (the partitions prune whole
--           months); times arrive roughly in order, so block ranges
--           summarize them tightly at next to no cost (autovacuum
--           summarizes new ranges; until then they are always read)
--   ip      CIDR ranges
--   facets  GIN over "t:type", "o:outcome", "u:login", "n:display name",
--           "a:action", "k:resource type" and "r:resource" (lowercased):
--           one index serves any exact value of any of these filters,
--           alone or combined, and '*' globs too, which are first
--           resolved against audit_values, the distinct values written
--           (see query.go)
CREATE INDEX audit_events_seq    ON audit_events (seq);
CREATE INDEX audit_events_time   ON audit_events USING brin (time) WITH (pages_per_range = 32);
CREATE INDEX audit_events_ip     ON audit_events (ip);
CREATE INDEX audit_events_facets ON audit_events USING gin ((` + facetsExpr + `));

-- Every distinct lowercased login, display name, action, resource type
-- and resource ever written, by facet kind (u, n, a, k, r): globs are
-- matched against these few values, and the events then found through
-- the facets index. Writers add the values of their events in the same
-- transaction, so the values of every committed event are here.
CREATE TABLE audit_values (
	kind  text COLLATE "C" NOT NULL,
	value text COLLATE "C" NOT NULL,
	PRIMARY KEY (kind, value)
);

-- Idempotency by id. A unique index on a partitioned table must contain
-- the partition key, which would make the same id at two times two
-- events; this unpartitioned table keeps every id once, and where its
-- event is, for Get. Writers, holding the head row, look their ids up
-- here and add the new ones (see writer.write).
CREATE TABLE audit_event_ids (
	id   text COLLATE "C" PRIMARY KEY,
	seq  bigint      NOT NULL,
	time timestamptz NOT NULL
);

-- The API tokens of audit serve, shared by its replicas; only the SHA-256
-- of each secret. Times are Unix nanoseconds (as in the SQLite store, so
-- that they round-trip exactly), NULL for never.
CREATE TABLE audit_tokens (
	name      text COLLATE "C" PRIMARY KEY,
	role      text   NOT NULL,
	hash      text COLLATE "C" NOT NULL UNIQUE,
	created   bigint NOT NULL,
	expires   bigint,
	last_used bigint
);
`,
}, {
	description: "checkpoints of prunes; the generation of audit_values",
	sql: `
-- The checkpoints audit prune leaves (audit.Checkpoint, prune.go), one row
-- a prune, so that the history of prunes stays visible. The latest, the
-- largest seq, is where the hash chain resumes: seq and hash are those of
-- the last pruned event, which the first kept event links to. seal binds
-- the row's fields under the chain key. before is the cutoff of the prune
-- (NULL for none), with before_ns the nanoseconds beyond its microseconds,
-- as time and time_ns of an event; created is to the microsecond.
CREATE TABLE audit_checkpoints (
	seq            bigint      PRIMARY KEY,
	hash           text        NOT NULL,
	events         bigint      NOT NULL,
	before         timestamptz,
	before_ns      smallint    NOT NULL DEFAULT 0 CHECK (before_ns BETWEEN 0 AND 999),
	created        timestamptz NOT NULL,
	archive        text        NOT NULL DEFAULT '',
	archive_sha256 text        NOT NULL DEFAULT '',
	seal           text        NOT NULL
);

-- A prune deletes from audit_values the values that only pruned events
-- had, and then counts values_epoch up. Writers read it with the head and
-- forget the values they remember as stored when it has changed (see
-- lockHead), so that they write such a value again when an event brings it
-- back.
ALTER TABLE audit_head ADD COLUMN values_epoch bigint NOT NULL DEFAULT 0;
`,
}, {
	description: "the source of an event and the producer's original record",
	sql: `
-- Where an event came from (audit.Sources) and the producer's original
-- record as compact JSON text (NULL for events recorded directly). text,
-- not jsonb: the hash chain covers these bytes, and jsonb would reorder
-- the keys.
ALTER TABLE audit_events ADD COLUMN source text COLLATE "C" NOT NULL DEFAULT 'audit';
ALTER TABLE audit_events ADD COLUMN raw text;
`,
}, {
	description: "a month's partition made by a function, for writers that may not create tables",
	sql: `
-- audit_make_partition(m) makes the partition of month m (monthIndex:
-- year*12 + month-1) unless it exists, as createPartition did itself
-- before: a table LIKE audit_events, attached for the month's bounds,
-- under the advisory lock of schema changes. It runs with the rights of
-- the store's owner (SECURITY DEFINER, on a fixed search_path), so that a
-- collector role granted EXECUTE on it, and INSERT on the tables, can
-- write an event of a new month without the right to create or change
-- tables (docs/postgres.md). It makes the name and the bounds from m
-- alone: its caller chooses neither. Nobody else may call it.
DO $do$
BEGIN
	EXECUTE format($f$
CREATE FUNCTION %1$I.audit_make_partition(m integer) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = %1$I, pg_temp AS $body$
DECLARE
	name text := format('audit_events_%%s_%%s', lpad((m / 12)::text, 4, '0'), lpad((m %% 12 + 1)::text, 2, '0'));
	lo timestamptz := make_timestamptz(m / 12, m %% 12 + 1, 1, 0, 0, 0, 'UTC');
BEGIN
	PERFORM pg_advisory_xact_lock(%2$s, hashtext(current_schema()));
	IF to_regclass(name) IS NOT NULL THEN
		RETURN;
	END IF;
	EXECUTE format('CREATE TABLE %%I (LIKE audit_events INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', name);
	EXECUTE format('ALTER TABLE audit_events ATTACH PARTITION %%I FOR VALUES FROM (%%L) TO (%%L)', name, lo, lo + interval '1 month');
END
$body$$f$, current_schema(), ` + strconv.Itoa(lockClass) + `);
	EXECUTE format('REVOKE ALL ON FUNCTION %I.audit_make_partition(integer) FROM PUBLIC', current_schema());
END
$do$;
`,
}, {
	description: "counts of the events per hour and per day, for statistics",
	sql:         rollupSchemaSQL,
}}

// facetsExpr is the expression of the facets index; queries repeat it
// exactly so that the planner matches them to the index.
const facetsExpr = `ARRAY['t:' || type, 'o:' || outcome, 'u:' || user_lc, 'n:' || user_name_lc, ` +
	`'a:' || action_lc, 'k:' || resource_type_lc, 'r:' || resource_lc]`

// schemaVersion is the version this code writes and reads.
var schemaVersion = len(migrations)

// lockClass is the first key of the advisory locks this package takes; the
// second is a hash of the schema the tables are in, so that stores in
// different schemas of one database do not wait for each other.
const lockClass = 0x61756474 // "audt"

// ensureSchema brings the database up to schemaVersion, once per Store.
func (s *Store) ensureSchema(ctx context.Context) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	s.mu.Lock()
	ready := s.ready
	s.mu.Unlock()
	if !ready {
		if err := s.migrate(ctx); err != nil {
			return err
		}
		s.mu.Lock()
		s.ready = true
		s.mu.Unlock()
	}
	return s.probeNotify(ctx)
}

// migrate applies the missing migrations in one transaction, under an
// advisory lock that makes concurrent first writers (other processes
// included) take turns: the second finds the work done.
func (s *Store) migrate(ctx context.Context) error {
	if s.schema == "" {
		// Look again: the schema may have been created since Open.
		if err := s.inspect(ctx); err != nil {
			return err
		}
		if s.schema == "" {
			return fmt.Errorf("%w: %s: no schema to create the audit tables in: the search_path names none that exists",
				audit.ErrUnavailable, s.where)
		}
	}
	// Up to date, as it is but once: nothing to lock or create (which a
	// role that may only write events could not).
	var v int
	err := s.pool.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM audit_schema_migrations").Scan(&v)
	if err == nil && v == schemaVersion {
		return nil
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1, hashtext(current_schema()))", lockClass); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS audit_schema_migrations (
	version     integer     PRIMARY KEY,
	description text        NOT NULL,
	applied_at  timestamptz NOT NULL DEFAULT now()
)`); err != nil {
			return err
		}
		var v int
		if err := tx.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM audit_schema_migrations").Scan(&v); err != nil {
			return err
		}
		if v > schemaVersion {
			return newerError(s.where, v)
		}
		for i := v; i < schemaVersion; i++ {
			if _, err := tx.Exec(ctx, migrations[i].sql); err != nil {
				return fmt.Errorf("migrate to schema version %d: %w", i+1, err)
			}
			if _, err := tx.Exec(ctx, "INSERT INTO audit_schema_migrations (version, description) VALUES ($1, $2)",
				i+1, migrations[i].description); err != nil {
				return err
			}
		}
		return nil
	})
	return s.wrapErr("create the audit schema in", err)
}

// probeNotify finds out whether the server has pg_notify, which writers
// call to wake followers. CockroachDB, for one, has not.
func (s *Store) probeNotify(ctx context.Context) error {
	s.mu.Lock()
	known := s.notify != notifyUnknown
	s.mu.Unlock()
	if known {
		return nil
	}
	support := notifyYes
	if _, err := s.pool.Exec(ctx, "SELECT pg_notify($1, '')", notifyChannel+"_probe"); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		support = notifyNo
	}
	s.mu.Lock()
	s.notify = support
	s.mu.Unlock()
	return nil
}

// monthIndex numbers the month of t (UTC): year*12 + month-1.
func monthIndex(t time.Time) int {
	t = t.UTC()
	return t.Year()*12 + int(t.Month()) - 1
}

func monthStart(m int) time.Time {
	return time.Date(m/12, time.Month(m%12+1), 1, 0, 0, 0, 0, time.UTC)
}

// partitionName is the table that holds the events of month m.
func partitionName(m int) string {
	return fmt.Sprintf("audit_events_%04d_%02d", m/12, m%12+1)
}

// partitionRE matches the names partitionName makes.
var partitionRE = regexp.MustCompile(`^audit_events_[0-9]{4,}_[0-9]{2}$`)

// ensurePartitions makes sure that the partitions of the given months
// exist, and those of this month and the next (so that live writes at a
// month's turn find theirs made). Each is created in a short transaction of
// its own, before the write that needs it:
//
//	CREATE TABLE … (LIKE audit_events …); ALTER TABLE audit_events ATTACH PARTITION …
//
// ATTACH PARTITION takes a SHARE UPDATE EXCLUSIVE lock on audit_events,
// which conflicts with neither readers nor writers, where CREATE TABLE …
// PARTITION OF would take an ACCESS EXCLUSIVE one that waits for every
// running query and blocks every new one meanwhile. That is also why there
// is no default partition: attaching a partition next to one locks it
// ACCESS EXCLUSIVE and scans it. A write therefore never lands anywhere but
// in its month, and a month whose partition cannot be made fails the write
// (after lock_timeout), rather than silently piling up in a default.
func (s *Store) ensurePartitions(ctx context.Context, months map[int]bool) error {
	now := monthIndex(time.Now())
	want := []int{now, now + 1}
	for m := range months {
		want = append(want, m)
	}
	s.mu.Lock()
	var missing []int
	for _, m := range want {
		if !s.months[m] && !slices.Contains(missing, m) {
			missing = append(missing, m)
		}
	}
	s.mu.Unlock()
	if len(missing) == 0 {
		return nil
	}
	// Learn the partitions that exist, made by this or another process.
	rows, err := s.pool.Query(ctx, `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = 'audit_events'::regclass`)
	if err != nil {
		return s.wrapErr("list the partitions of", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return s.wrapErr("list the partitions of", err)
	}
	exists := map[string]bool{}
	for _, n := range names {
		exists[n] = true
	}
	slices.Sort(missing)
	for _, m := range missing {
		if !exists[partitionName(m)] {
			if err := s.createPartition(ctx, m); err != nil {
				return err
			}
		}
		s.mu.Lock()
		s.months[m] = true
		s.mu.Unlock()
	}
	return nil
}

// partitionLockTimeout bounds how long creating a partition waits for the
// lock on audit_events, which only other schema changes (and VACUUM or
// ANALYZE of the parent table) hold.
const partitionLockTimeout = "10s"

func (s *Store) createPartition(ctx context.Context, m int) error {
	name := partitionName(m)
	from := monthStart(m)
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SET LOCAL lock_timeout = '"+partitionLockTimeout+"'"); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "SELECT audit_make_partition($1)", m)
		return err
	})
	if err != nil {
		return s.wrapErr(fmt.Sprintf("create partition %s (events of %s) in", name, from.Format("2006-01")), err)
	}
	return nil
}
