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
	// DESIGN.md §2 without a full scan.
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
	// Indexes: each filter column gets one; those that are often combined
	// with a time range carry time as their second column. An index on a
	// single column implicitly ends in seq (the rowid), which also serves
	// ORDER BY seq for equality lookups.
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
CREATE INDEX events_action ON events (action);
CREATE INDEX events_resource ON events (resource);
CREATE INDEX events_resource_type ON events (resource_type);
CREATE INDEX events_outcome_time ON events (outcome, time);`,
}

// schemaVersion is the version this code writes and reads.
var schemaVersion = len(migrations)

// checkSchema returns the schema version of the file behind db: 0 for an
// empty file, which is no store yet. A file that is not a SQLite database,
// a database of something else, or a store of a newer schema is an error
// wrapping audit.ErrUnavailable.
func checkSchema(ctx context.Context, db *sql.DB, path string) (int, error) {
	var v int
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return 0, schemaErr(path, err)
	}
	if v > schemaVersion {
		return 0, fmt.Errorf("%w: %s has schema version %d, newer than this audit understands (%d): upgrade audit",
			audit.ErrUnavailable, path, v, schemaVersion)
	}
	if v == 0 {
		var n int
		if err := db.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema").Scan(&n); err != nil {
			return 0, schemaErr(path, err)
		}
		if n > 0 {
			return 0, fmt.Errorf("%w: %s is a SQLite database but not an audit store", audit.ErrUnavailable, path)
		}
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
