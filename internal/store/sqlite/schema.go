package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/audit-cli/audit/internal/audit"
	sqlite3 "github.com/mattn/go-sqlite3"
)

// migrations brings a file from schema version i to i+1 with migrations[i].
// The version lives in PRAGMA user_version. Append only: a released
// migration never changes, a new one goes at the end.
var migrations = []string{
	// 1: the events table and the indexes that serve the filters of
	// docs/design.md §2 without a full scan.
	//
	// seq is AUTOINCREMENT so that a seq is never reused, even after rows
	// are deleted behind our back. time is Unix nanoseconds UTC, which
	// keeps ordering and range scans integer-cheap (and limits times to
	// before the year 2262). The text columns users filter on compare
	// case-insensitively (NOCASE), so '=' and prefix LIKE use their
	// indexes. ip_bin is the address as a family byte (4 or 6) and its 4 or
	// 16 bytes, NULL without an address, so a CIDR is one BETWEEN range
	// that never mixes the families. hash is the chain value (lowercase
	// hex) of the event.
	//
	// Indexes: each costs about a tenth of the import speed (measured: 1M
	// events, batches of 10,000), so only filters that select a small part
	// of the log get one. The time range, user (login or display name:
	// both), type, IP, resource and resource type have one; those often
	// combined with a time range carry time second. Outcome has only the
	// rare failures indexed (a partial index, nearly free). Action has
	// none: a verb selects a large share of the log, so SQLite walks seq
	// (which list's ORDER BY seq DESC LIMIT n wants anyway) or uses the
	// index of another filter given with it.
	`CREATE TABLE events (
	seq           INTEGER PRIMARY KEY AUTOINCREMENT,
	id            TEXT    NOT NULL UNIQUE,
	time          INTEGER NOT NULL,
	user          TEXT    NOT NULL COLLATE NOCASE,
	user_name     TEXT    NOT NULL DEFAULT '' COLLATE NOCASE,
	type          TEXT    NOT NULL,
	action        TEXT    NOT NULL DEFAULT '' COLLATE NOCASE,
	resource_type TEXT    NOT NULL DEFAULT '' COLLATE NOCASE,
	resource      TEXT    NOT NULL DEFAULT '' COLLATE NOCASE,
	details       TEXT    NOT NULL DEFAULT '',
	ip            TEXT    NOT NULL DEFAULT '',
	ip_bin        BLOB,
	outcome       TEXT    NOT NULL DEFAULT 'success',
	hash          TEXT    NOT NULL
);
CREATE INDEX events_time ON events (time);
CREATE INDEX events_user_time ON events (user, time);
CREATE INDEX events_user_name_time ON events (user_name, time);
CREATE INDEX events_type_time ON events (type, time);
CREATE INDEX events_ip ON events (ip_bin);
CREATE INDEX events_resource ON events (resource);
CREATE INDEX events_resource_type ON events (resource_type);
CREATE INDEX events_failures ON events (outcome, time) WHERE outcome = 'failure';`,

	// 2: the API tokens of the `audit serve` in front of the file
	// (audit.TokenStore, tokens.go). Only the SHA-256 of a secret is kept,
	// as lowercase hex, unique so that a lookup by it is one index probe.
	// Times are Unix nanoseconds UTC; expires and last_used are NULL for
	// never.
	`CREATE TABLE tokens (
	name      TEXT    PRIMARY KEY,
	role      TEXT    NOT NULL,
	hash      TEXT    NOT NULL UNIQUE,
	created   INTEGER NOT NULL,
	expires   INTEGER,
	last_used INTEGER
);`,

	// 3: the checkpoints `audit prune` leaves (audit.Checkpoint, prune.go),
	// one row a prune, so the history of prunes stays visible. The latest,
	// the largest seq, is where the hash chain resumes: seq and hash are
	// those of the last pruned event, which the first kept event links to.
	// seal binds the row's fields under the chain key. Times are Unix
	// nanoseconds UTC; before is NULL when no cutoff was given.
	`CREATE TABLE checkpoints (
	seq            INTEGER PRIMARY KEY,
	hash           TEXT    NOT NULL,
	events         INTEGER NOT NULL,
	before         INTEGER,
	created        INTEGER NOT NULL,
	archive        TEXT    NOT NULL DEFAULT '',
	archive_sha256 TEXT    NOT NULL DEFAULT '',
	seal           TEXT    NOT NULL
);`,

	// 4: where an event came from (audit.Sources) and the producer's
	// original record as compact JSON, NULL for events recorded directly.
	// Imported logs are the minority of most stores, so only they are
	// indexed for --source (a partial index: own events cost nothing).
	`ALTER TABLE events ADD COLUMN source TEXT NOT NULL DEFAULT 'audit';
ALTER TABLE events ADD COLUMN raw TEXT;
CREATE INDEX events_source_time ON events (source, time) WHERE source <> 'audit';`,

	// 5: the original records move to a table of their own, keyed by seq:
	// at hundreds of bytes each they made the events table three times
	// wider, and every scan and index build of it pay for its width. A
	// deleted event (prune) takes its record with it.
	`CREATE TABLE event_raw (
	seq INTEGER PRIMARY KEY,
	raw TEXT    NOT NULL
);
INSERT INTO event_raw (seq, raw) SELECT seq, raw FROM events WHERE raw IS NOT NULL;
ALTER TABLE events DROP COLUMN raw;
CREATE TRIGGER events_delete_raw AFTER DELETE ON events BEGIN
	DELETE FROM event_raw WHERE seq = old.seq;
END;`,

	// 6: the rollups of the statistics (rollup.go), counted from the
	// events stored so far.
	rollupSchemaSQL,

	// 7: the dictionaries the original records are compressed with, one
	// per source (rawcodec.go); the records stored so far stay text.
	`CREATE TABLE raw_dicts (
	id     INTEGER PRIMARY KEY,
	source TEXT    NOT NULL UNIQUE,
	dict   BLOB    NOT NULL
);`,
}

// schemaVersion is the version this code writes and reads.
var schemaVersion = len(migrations)

// checkSchema returns the schema version of the file behind db: 0 for an
// empty file, which is no store yet. A file that is not a SQLite database,
// a database of something else, or a store of a newer schema is an error
// wrapping audit.ErrUnavailable.
func checkSchema(ctx context.Context, db *sql.DB, path string) (int, error) {
	// One statement reads one snapshot: a first writer committing its
	// migration between two separate reads would otherwise show a version
	// of 0 next to a schema full of tables.
	var v, n int
	err := db.QueryRowContext(ctx,
		"SELECT (SELECT user_version FROM pragma_user_version), (SELECT count(*) FROM sqlite_schema)").Scan(&v, &n)
	if err != nil {
		return 0, schemaErr(path, err)
	}
	if v > schemaVersion {
		return 0, fmt.Errorf("%w: %s has schema version %d, newer than this audit understands (%d): upgrade audit",
			audit.ErrUnavailable, path, v, schemaVersion)
	}
	if v == 0 && n > 0 {
		return 0, fmt.Errorf("%w: %s is a SQLite database but not an audit store", audit.ErrUnavailable, path)
	}
	return v, nil
}

// migrate brings the file behind the writer pool db up to schemaVersion in
// one transaction. BEGIN IMMEDIATE makes concurrent first writers take
// turns: the second one finds the schema done.
func migrate(ctx context.Context, db *sql.DB, path string) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return schemaErr(path, err)
	}
	defer tx.Rollback()
	var v int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return schemaErr(path, err)
	}
	if v == schemaVersion {
		return nil
	}
	if v > schemaVersion {
		return fmt.Errorf("%w: %s has schema version %d, newer than this audit understands (%d): upgrade audit",
			audit.ErrUnavailable, path, v, schemaVersion)
	}
	if v == 0 {
		var n int
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema").Scan(&n); err != nil {
			return schemaErr(path, err)
		}
		if n > 0 {
			return fmt.Errorf("%w: %s is a SQLite database but not an audit store", audit.ErrUnavailable, path)
		}
	}
	for i := v; i < schemaVersion; i++ {
		if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
			return fmt.Errorf("migrate %s to schema version %d: %w", path, i+1, err)
		}
	}
	// PRAGMA takes no bound parameters; the value is our own integer.
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", schemaVersion)); err != nil {
		return fmt.Errorf("migrate %s: %w", path, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate %s: %w", path, err)
	}
	return nil
}

// schemaErr explains an error met while looking at a file's schema.
func schemaErr(path string, err error) error {
	if isBusy(err) {
		return fmt.Errorf("%w: open %s: another process held the write lock for more than %s", audit.ErrBusy, path, busyTimeout)
	}
	var se sqlite3.Error
	if errors.As(err, &se) {
		switch se.Code {
		case sqlite3.ErrNotADB:
			return fmt.Errorf("%w: %s is not an audit store (not a SQLite database)", audit.ErrUnavailable, path)
		case sqlite3.ErrCorrupt:
			return fmt.Errorf("%w: %s is corrupt: %w", audit.ErrUnavailable, path, err)
		case sqlite3.ErrCantOpen, sqlite3.ErrPerm, sqlite3.ErrReadonly, sqlite3.ErrIoErr:
			return fmt.Errorf("%w: open %s: %w", audit.ErrUnavailable, path, err)
		}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("%w: open %s: %w", audit.ErrUnavailable, path, err)
}
