package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"iter"
	"os"
	"time"

	"github.com/audit-cli/audit/internal/audit"
	sqlite3 "github.com/mattn/go-sqlite3"
)

// followPage is how many events Follow reads per query, so that a long
// backlog does not hold one read transaction (and the WAL) for its whole
// length.
const followPage = 1000

// maxBackoff bounds the wait between retries after transient errors.
const maxBackoff = 5 * time.Second

// Follow streams the events matching f with seq > f.After in ascending
// order, then waits for new ones and streams them as they are committed,
// until ctx is done (which ends the stream without an error) or the caller
// stops iterating. f.Limit and f.Order are ignored.
//
// It watches the file on a connection of its own: every PollInterval it
// asks SQLite whether another connection has committed since the last look
// (PRAGMA data_version, a cheap in-memory check, so an idle Follow costs
// next to no CPU) and only then queries for seq > the last seen. A file
// that does not exist yet, or has no schema yet, is waited for.
//
// Errors: transient ones (the file locked, I/O errors, a schema change) are
// yielded, wrapping audit.ErrUnavailable; a consumer that goes on iterating
// lets Follow drop its connection and retry with a backoff of up to
// maxBackoff, resuming after the last event it yielded.
// A file removed or replaced by another one (a new store, whose seqs start
// over) is followed anew from f.After. Permanent ones (the file is not an audit store, is corrupt, or
// has a newer schema; the Store was closed) are yielded once and end the
// stream.
func (s *Store) Follow(ctx context.Context, f audit.Filter) iter.Seq2[audit.Event, error] {
	return func(yield func(audit.Event, error) bool) {
		fw := &follower{s: s, f: f, last: max(f.After, 0)}
		defer fw.disconnect()
		fw.run(ctx, yield)
	}
}

type follower struct {
	s    *Store
	f    audit.Filter
	last int64 // every matching event up to this seq has been yielded

	db      *sql.DB
	conn    *sql.Conn   // data_version is per connection: always this one
	fi      os.FileInfo // the file conn is (or was last) on
	removed bool        // the file vanished since conn was open
	version int64       // data_version when last drained
}

// errStopped means the consumer stopped iterating.
var errStopped = errors.New("consumer stopped")

// errRead means a page stopped after a row read on its own (one that
// could not be read packed): the next page starts after it.
var errRead = errors.New("row read alone")

func (fw *follower) run(ctx context.Context, yield func(audit.Event, error) bool) {
	poll := fw.s.opts.PollInterval
	delay := poll
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		err := fw.step(ctx, yield)
		switch {
		case err == nil:
			delay = poll
		case errors.Is(err, errStopped), ctx.Err() != nil:
			return
		case transient(err):
			// Say so, so that a watcher can tell its user; a consumer that
			// goes on iterating gets the retries, with a growing backoff.
			fw.disconnect()
			if !yield(audit.Event{}, fmt.Errorf("%w: following %s: %v", audit.ErrUnavailable, fw.s.path, err)) {
				return
			}
			delay = min(2*delay, maxBackoff)
		default:
			yield(audit.Event{}, err)
			return
		}
		timer.Reset(delay)
	}
}

// step makes sure the follower is connected to the current file and, if
// anything was committed since the last look, yields what is new.
func (fw *follower) step(ctx context.Context, yield func(audit.Event, error) bool) error {
	if fw.s.isClosed() {
		return fmt.Errorf("sqlite store %s: %w", fw.s.path, errClosed)
	}
	fi, err := os.Stat(fw.s.path)
	if errors.Is(err, os.ErrNotExist) {
		if fw.conn != nil {
			fw.disconnect()
			fw.removed = true
		}
		return nil // not there yet (or removed): wait for it
	}
	if err != nil {
		return fmt.Errorf("%w: %v", audit.ErrUnavailable, err)
	}
	if fw.conn != nil && !os.SameFile(fi, fw.fi) {
		fw.disconnect()
		fw.removed = true
	}
	if fw.conn == nil {
		ok, err := fw.connect(ctx, fi)
		if err != nil || !ok {
			return err
		}
	}
	var v int64
	if err := fw.conn.QueryRowContext(ctx, "PRAGMA data_version").Scan(&v); err != nil {
		return err
	}
	if v == fw.version {
		return nil
	}
	if err := fw.drain(ctx, yield); err != nil {
		return err
	}
	fw.version = v
	return nil
}

// connect opens the follower's connection. It reports false, without an
// error, while the file holds no store yet.
func (fw *follower) connect(ctx context.Context, fi os.FileInfo) (bool, error) {
	db, err := sql.Open(driverName, fw.s.readerDSN())
	if err != nil {
		return false, err
	}
	db.SetMaxOpenConns(1)
	v, err := checkSchema(ctx, db, fw.s.path)
	if err == nil && v < schemaVersion {
		db.Close()
		return false, nil // being created or migrated by a writer
	}
	if err != nil {
		db.Close()
		return false, err
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		db.Close()
		return false, err
	}
	if fw.removed || (fw.fi != nil && !os.SameFile(fi, fw.fi)) {
		// Another file took the place of the one followed: a new store,
		// whose seqs start over. Follow it from the start, like a Follow
		// begun now.
		fw.last = max(fw.f.After, 0)
		fw.removed = false
	}
	fw.db, fw.conn, fw.fi, fw.version = db, conn, fi, -1
	return true, nil
}

func (fw *follower) disconnect() {
	if fw.conn != nil {
		fw.conn.Close()
	}
	if fw.db != nil {
		fw.db.Close()
	}
	fw.db, fw.conn = nil, nil
}

// drain yields the matching events after fw.last up to the newest one, a
// page at a time.
func (fw *follower) drain(ctx context.Context, yield func(audit.Event, error) bool) error {
	var head int64
	if err := fw.conn.QueryRowContext(ctx, "SELECT coalesce(max(seq), 0) FROM events").Scan(&head); err != nil {
		return err
	}
	for fw.last < head {
		g := fw.f
		g.After = fw.last
		if g.Before == 0 || g.Before > head+1 {
			g.Before = head + 1
		}
		q, args := selectSQL(&g, audit.Ascending, followPage)
		n, err := fw.page(ctx, q, args, yield)
		if errors.Is(err, errRead) {
			continue // a row was read on its own: the page goes on after it
		}
		if err != nil {
			return err
		}
		if n < followPage {
			fw.last = head // the rest up to head does not match
		}
	}
	return nil
}

func (fw *follower) page(ctx context.Context, q string, args []any, yield func(audit.Event, error) bool) (int, error) {
	rows, err := fw.conn.QueryContext(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		e, err := scanPacked(rows, fw.s.raw)
		var u *unpackable
		if errors.As(err, &u) {
			// conn is busy with rows: close them, read the row alone.
			rows.Close()
			e, err = scanEvent(fw.conn.QueryRowContext(ctx, "SELECT "+columns+" FROM events WHERE seq = ?", u.seq), fw.s.raw)
			if err != nil {
				return n, err
			}
			fw.last = e.Seq
			if !yield(e, nil) {
				return n + 1, errStopped
			}
			return n + 1, errRead
		}
		if err != nil {
			return n, err
		}
		n++
		fw.last = e.Seq
		if !yield(e, nil) {
			return n, errStopped
		}
	}
	return n, rows.Err()
}

// transient reports whether Follow should retry after err rather than
// report it.
func transient(err error) bool {
	if errors.Is(err, errMissing) {
		return true
	}
	var se sqlite3.Error
	if errors.As(err, &se) {
		switch se.Code {
		case sqlite3.ErrBusy, sqlite3.ErrLocked, sqlite3.ErrIoErr, sqlite3.ErrCantOpen,
			sqlite3.ErrProtocol, sqlite3.ErrSchema, sqlite3.ErrNomem:
			return true
		}
	}
	return false
}

func (s *Store) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}
