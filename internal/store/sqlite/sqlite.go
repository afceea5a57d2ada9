// Package sqlite is the embedded audit.Store: one SQLite file in WAL mode,
// the default store of the command line (docs/design.md §6).
//
// The file is created on the first write, never by a read: Query, Get,
// Follow and Head on a path where no store exists yet fail with an error
// wrapping audit.ErrUnavailable that tells the user how to create one.
//
// Each Store keeps two connection pools on the file: a writer with a single
// connection, whose transactions start with BEGIN IMMEDIATE so that
// concurrent writers (other processes included) queue on the busy timeout
// instead of failing with "database is locked", and a pool of query-only
// readers, which WAL lets run while a write is in progress.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/retry"
	sqlite3 "github.com/mattn/go-sqlite3"
)

// Options configures a Store.
type Options struct {
	// ChainKey is the HMAC key of the hash chain; nil means plain SHA-256.
	ChainKey []byte

	// PollInterval is how often Follow looks for new events; 0 means
	// DefaultPollInterval. Tests shorten it.
	PollInterval time.Duration

	// NoRollups makes Stats count every event instead of reading the
	// rollups (rollup.go): the reference the rollups are tested against.
	NoRollups bool
}

// DefaultPollInterval is how often Follow checks the file for new commits.
const DefaultPollInterval = 100 * time.Millisecond

// busyTimeout is how long a connection waits for another writer's lock
// before giving up. Batches of an import commit in well under a second, so
// ten seconds only runs out when something holds the file for far too long.
const busyTimeout = 10 * time.Second

// Store is an audit.Store on one SQLite file. It is safe for concurrent use.
type Store struct {
	path string // as the caller gave it, for messages
	dsn  string // the file as a URI path for the driver, query string excluded
	opts Options

	mu     sync.Mutex
	closed bool
	rdb    *sql.DB // readers; nil until the store is known to exist
	wdb    *sql.DB // the single writer; nil until the first write

	raw *rawCodec // the compression of the original records
}

// Open returns the store at path. A missing file is not an error: it is
// created, with its parent directories, by the first Append or Init. An
// existing file is checked now, so that a path naming something that is not
// an audit store, or a store written by a newer version of audit, fails
// here with an error wrapping audit.ErrUnavailable.
func Open(path string, opts Options) (*Store, error) {
	if path == "" {
		return nil, fmt.Errorf("%w: no path given for the SQLite store", audit.ErrInvalid)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", audit.ErrUnavailable, path, err)
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = DefaultPollInterval
	}
	s := &Store{path: path, dsn: "file:" + escapeURIPath(abs), opts: opts}
	s.raw = newRawCodec(func(ctx context.Context) ([]rawDict, error) {
		db, err := s.readers(ctx)
		if err != nil {
			return nil, err
		}
		return loadDicts(ctx, db)
	})
	if _, err := s.readers(context.Background()); err != nil && !errors.Is(err, errMissing) {
		return nil, err
	}
	return s, nil
}

// Path returns the file of the store as it was given to Open.
func (s *Store) Path() string { return s.path }

// Init creates the store's file and schema if they do not exist yet, as the
// first Append would. Reading commands never call it; tests and `audit
// import` of an empty file may.
func (s *Store) Init(ctx context.Context) error {
	_, err := s.writer(ctx)
	return err
}

// Close releases the store's connections. Iterators still running fail on
// their next step.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	var errs []error
	if s.wdb != nil {
		// Lets SQLite refresh the statistics its planner uses, cheaply, as
		// its documentation recommends before closing a writer.
		_, _ = s.wdb.Exec("PRAGMA optimize")
		errs = append(errs, s.wdb.Close())
	}
	if s.rdb != nil {
		errs = append(errs, s.rdb.Close())
	}
	s.rdb, s.wdb = nil, nil
	return errors.Join(errs...)
}

// errMissing marks "there is no store at this path yet"; it wraps
// audit.ErrUnavailable and is what reads on a new path return.
var errMissing = errors.New("no audit store")

type missingError struct{ path string }

func (e *missingError) Error() string {
	return fmt.Sprintf("no audit store at %s: record an event (audit record …) or import some (audit import FILE) first", e.path)
}

func (e *missingError) Is(target error) bool {
	return target == errMissing || target == audit.ErrUnavailable
}

var errClosed = errors.New("store is closed")

// readers returns the reader pool, opening it when the file exists. It
// fails with a *missingError when the file does not exist or holds no
// schema yet, and never creates the file.
func (s *Store) readers(ctx context.Context) (*sql.DB, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, fmt.Errorf("sqlite store %s: %w", s.path, errClosed)
	}
	if s.rdb != nil {
		return s.rdb, nil
	}
	return s.openReadersLocked(ctx)
}

func (s *Store) openReadersLocked(ctx context.Context) (*sql.DB, error) {
	fi, err := os.Stat(s.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, &missingError{s.path}
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", audit.ErrUnavailable, err)
	}
	if fi.IsDir() {
		return nil, fmt.Errorf("%w: %s is a directory, not an audit store", audit.ErrUnavailable, s.path)
	}
	db, err := sql.Open(driverName, s.readerDSN())
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", audit.ErrUnavailable, s.path, err)
	}
	db.SetMaxOpenConns(4)
	db.SetMaxIdleConns(4)
	v, err := checkSchema(ctx, db, s.path)
	if err == nil && v < schemaVersion {
		// Older (or empty) file: writing brings it up to date; reading an
		// empty one reports it missing.
		if v == 0 {
			err = &missingError{s.path}
		} else if _, err = s.openWriterLocked(ctx); err == nil {
			_, err = checkSchema(ctx, db, s.path)
		}
	}
	if err != nil {
		db.Close()
		return nil, err
	}
	s.rdb = db
	return db, nil
}

// writer returns the writer pool, creating the file, its directories and
// the schema as needed.
func (s *Store) writer(ctx context.Context) (*sql.DB, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, fmt.Errorf("sqlite store %s: %w", s.path, errClosed)
	}
	if s.wdb != nil {
		return s.wdb, nil
	}
	if err := createFile(s.path); err != nil {
		return nil, err
	}
	if err := s.setPageSize(ctx); err != nil {
		return nil, fmt.Errorf("%w: create the audit store %s: %v", audit.ErrUnavailable, s.path, err)
	}
	if _, err := s.openWriterLocked(ctx); err != nil {
		return nil, err
	}
	if s.rdb == nil {
		if _, err := s.openReadersLocked(ctx); err != nil {
			return nil, err
		}
	}
	return s.wdb, nil
}

func (s *Store) openWriterLocked(ctx context.Context) (*sql.DB, error) {
	if s.wdb != nil {
		return s.wdb, nil
	}
	db, err := sql.Open(driverName, s.writerDSN())
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", audit.ErrUnavailable, s.path, err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	if err := retryBusy(ctx, func() error { return migrate(ctx, db, s.path) }); err != nil {
		db.Close()
		return nil, err
	}
	s.wdb = db
	return db, nil
}

// pageSize is the page size of new files. Larger pages than SQLite's
// 4 KiB default make index maintenance cheaper: a large import takes about
// 8% less CPU.
const pageSize = 8192

// setPageSize gives a new, empty file its page size. That must happen
// before anything is written, and the writer pool's first connection
// writes at once (it switches the file to WAL), so a connection of its own
// does it first.
func (s *Store) setPageSize(ctx context.Context) error {
	if fi, err := os.Stat(s.path); err != nil || fi.Size() > 0 {
		return nil
	}
	db, err := sql.Open(driverName, s.dsn+fmt.Sprintf("?mode=rw&_busy_timeout=%d", busyTimeout.Milliseconds()))
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	return retryBusy(ctx, func() error {
		_, err := db.ExecContext(ctx, fmt.Sprintf("PRAGMA page_size = %d; PRAGMA journal_mode = WAL", pageSize))
		return err
	})
}

// retryBusy runs f again while it fails with SQLITE_BUSY or SQLITE_LOCKED,
// for up to busyTimeout. SQLite's busy handler covers most waits, but not
// all: switching a new file to WAL, which every first writer of a new
// store tries at once, fails at once with SQLITE_BUSY when another process
// does the same.
func retryBusy(ctx context.Context, f func() error) error {
	return retry.Do(ctx, retry.Policy{For: busyTimeout, First: time.Millisecond, Max: 50 * time.Millisecond, Retryable: isBusy}, f)
}

// busy reports whether err, from SQLite or from the store, says that
// another writer held the lock.
func busy(err error) bool { return isBusy(err) || errors.Is(err, audit.ErrBusy) }

// isBusy reports whether err is SQLite's "database is locked" or "database
// table is locked".
func isBusy(err error) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && (se.Code == sqlite3.ErrBusy || se.Code == sqlite3.ErrLocked)
}

// createFile creates path (mode 0600) and its missing parent directories
// (mode 0700) unless it exists: audit logs are nobody else's business.
// SQLite creates its -wal and -shm files with the mode of this one.
//
// An existing file is never opened here. Closing any descriptor of the
// database file releases every POSIX lock this process holds on it,
// including those of open SQLite connections (the SQLite page "How To
// Corrupt An SQLite Database File", §2.2); another client then believes it
// is the last one, checkpoints and deletes the live WAL, and commits made
// after that are lost. O_EXCL creates a new inode or fails: it never
// touches the one the connections hold.
func createFile(path string) error {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("%w: create the directory of the audit store: %v", audit.ErrUnavailable, err)
		}
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w: create the audit store: %v", audit.ErrUnavailable, err)
	}
	return f.Close()
}

// The connection parameters. synchronous=FULL makes a commit durable
// across an OS crash in WAL mode (NORMAL would only survive an application
// crash); mode=rw keeps readers from ever creating the file.
func (s *Store) writerDSN() string {
	return s.dsn + fmt.Sprintf("?mode=rwc&_journal_mode=WAL&_synchronous=FULL&_busy_timeout=%d&_txlock=immediate&_cache_size=%d",
		busyTimeout.Milliseconds(), writerCacheKiB)
}

func (s *Store) readerDSN() string {
	return s.dsn + fmt.Sprintf("?mode=rw&_busy_timeout=%d&_query_only=1", busyTimeout.Milliseconds())
}

// writerCacheKiB is the writer's page cache as SQLite's negative
// cache_size (KiB). The default 2 MiB makes index maintenance of large
// imports spill to disk, and each spill rewrites hot index pages into the
// WAL again; 128 MiB keeps them in memory for imports of millions of events.
const writerCacheKiB = -131072

// escapeURIPath makes a file path safe inside a "file:" URI, which SQLite
// decodes: only '%', '?' and '#' have a meaning there.
func escapeURIPath(p string) string {
	return strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(filepath.ToSlash(p))
}

// wrapErr puts the operation and the file into err. Errors that mean the
// store cannot be used at all (not a database, corrupt, unreadable) also
// wrap audit.ErrUnavailable, so that the command line exits with 3.
func (s *Store) wrapErr(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, audit.ErrUnavailable) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if isBusy(err) {
		return fmt.Errorf("%w: %s %s: another process held the write lock for more than %s", audit.ErrBusy, op, s.path, busyTimeout)
	}
	var se sqlite3.Error
	if errors.As(err, &se) {
		switch se.Code {
		case sqlite3.ErrNotADB, sqlite3.ErrCorrupt, sqlite3.ErrCantOpen, sqlite3.ErrPerm, sqlite3.ErrAuth:
			return fmt.Errorf("%w: %s %s: %v", audit.ErrUnavailable, op, s.path, err)
		}
	}
	return fmt.Errorf("%s %s: %w", op, s.path, err)
}
