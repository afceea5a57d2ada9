package postgres

import (
	"context"
	"errors"
	"iter"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/audit-cli/audit/internal/audit"
)

// notifyChannel is the channel writers notify at commit, with the payload
// "SCHEMA SEQ" (the schema of the store and its new head).
const notifyChannel = "audit_events"

// followPage is how many events Follow reads per query.
const followPage = 1000

// safetyInterval is how often a Follow that waits for notifications looks
// at the head anyway, in case a notification went astray (a writer that
// found no pg_notify, a pooler between us and the server).
const safetyInterval = 2 * time.Second

// maxBackoff bounds the wait between retries after transient errors.
const maxBackoff = 5 * time.Second

// Follow streams the events matching f with seq > f.After in ascending
// order, then waits for new ones and streams them as they are committed,
// until ctx is done (which ends the stream without an error) or the caller
// stops iterating. f.Limit and f.Order are ignored.
//
// Writers NOTIFY at commit; one connection per Store LISTENs and wakes
// every Follow of the Store, which then asks the head row for the newest
// seq and queries the events after the last one it yielded (a catch-up by
// seq, so nothing is lost between notifications, and a notification's
// payload need not be trusted). Because seqs are commit-ordered, every
// event up to the head it read is visible to that query. Where the server
// cannot LISTEN (CockroachDB), or with Options.PollOnly, Follow polls the
// head every PollInterval instead.
//
// Errors: transient ones (the server unreachable or restarting, no schema
// yet) are not yielded; Follow retries with a backoff of up to maxBackoff
// and resumes after the last event it yielded. Others (the Store closed, a
// query the server refuses) are yielded once and end the stream.
func (s *Store) Follow(ctx context.Context, f audit.Filter) iter.Seq2[audit.Event, error] {
	return func(yield func(audit.Event, error) bool) {
		var l *listener
		if !s.opts.PollOnly {
			l = s.startListener()
		}
		last := max(f.After, 0)
		delay := s.opts.PollInterval
		for {
			var wake <-chan struct{}
			listening := false
			if l != nil {
				wake, listening = l.state()
			}
			err := s.drain(ctx, f, &last, yield)
			switch {
			case errors.Is(err, errStopped), ctx.Err() != nil:
				return
			case err == nil:
				delay = s.opts.PollInterval
				if listening {
					delay = safetyInterval
				}
			case transient(err):
				delay = min(2*max(delay, s.opts.PollInterval), maxBackoff)
			default:
				yield(audit.Event{}, err)
				return
			}
			t := time.NewTimer(delay)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-wake:
			case <-t.C:
			}
			t.Stop()
		}
	}
}

// errStopped means the consumer stopped iterating.
var errStopped = errors.New("consumer stopped")

// drain yields the events matching f after *last up to the head, a page at
// a time.
func (s *Store) drain(ctx context.Context, f audit.Filter, last *int64, yield func(audit.Event, error) bool) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	var head int64
	if err := s.pool.QueryRow(ctx, "SELECT seq FROM audit_head").Scan(&head); err != nil {
		return s.followErr(err)
	}
	if *last >= head {
		return nil
	}
	// Looked up after the head was read: the values of every event up to
	// it are in audit_values by now, committed with the events.
	globs, err := resolveGlobs(ctx, s.pool, &f)
	if err != nil {
		return s.followErr(err)
	}
	for *last < head {
		g := f
		g.After = *last
		if g.Before == 0 || g.Before > head+1 {
			g.Before = head + 1
		}
		q, args := selectSQL(&g, globs, audit.Ascending, followPage)
		n, err := s.page(ctx, q, args, last, yield)
		if err != nil {
			return err
		}
		if n < followPage {
			*last = head // the rest up to head does not match
		}
	}
	return nil
}

func (s *Store) page(ctx context.Context, q string, args []any, last *int64, yield func(audit.Event, error) bool) (int, error) {
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return 0, s.followErr(err)
	}
	defer rows.Close()
	binary := binaryRows(rows.FieldDescriptions())
	n := 0
	for rows.Next() {
		e, err := scanRows(rows, binary)
		if err != nil {
			return n, s.followErr(err)
		}
		n++
		*last = e.Seq
		if !yield(e, nil) {
			return n, errStopped
		}
	}
	if err := rows.Err(); err != nil {
		return n, s.followErr(err)
	}
	return n, nil
}

// transientError marks an error Follow retries after rather than yields.
type transientError struct{ err error }

func (e *transientError) Error() string { return e.err.Error() }
func (e *transientError) Unwrap() error { return e.err }

func transient(err error) bool {
	var te *transientError
	return errors.As(err, &te)
}

// followErr wraps err, marking as transient what waiting may cure: no
// schema yet, a server that cannot be reached or is restarting.
func (s *Store) followErr(err error) error {
	w := s.wrapErr("follow", err)
	var me *missingError
	if errors.As(w, &me) || (errors.Is(w, audit.ErrUnavailable) && connectionProblem(err)) {
		return &transientError{w}
	}
	return w
}

// connectionProblem reports whether err is about reaching the server
// rather than about the request.
func connectionProblem(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return strings.HasPrefix(pe.Code, "08") || strings.HasPrefix(pe.Code, "57P") || pe.Code == "53300"
	}
	return !errors.Is(err, errClosed)
}

// listener holds the connection that LISTENs for the writers'
// notifications, and wakes the Follows of its Store on each.
type listener struct {
	s      *Store
	cancel context.CancelFunc
	done   chan struct{}

	mu          sync.Mutex
	wake        chan struct{} // closed (and replaced) to wake the followers
	listening   bool          // LISTEN is in force now
	unsupported bool          // the server cannot LISTEN: followers poll
}

// startListener returns the Store's listener, starting it on first use;
// nil once the Store is closed.
func (s *Store) startListener() *listener {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	if s.listener == nil {
		ctx, cancel := context.WithCancel(context.Background())
		l := &listener{s: s, cancel: cancel, done: make(chan struct{}), wake: make(chan struct{})}
		s.listener = l
		go l.run(ctx)
	}
	return s.listener
}

// state returns the channel that the next notification closes, and whether
// notifications are coming.
func (l *listener) state() (<-chan struct{}, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.wake, l.listening && !l.unsupported
}

func (l *listener) broadcast(listening bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.listening = listening
	close(l.wake)
	l.wake = make(chan struct{})
}

func (l *listener) stop() {
	l.cancel()
	<-l.done
}

// run keeps a connection LISTENing, reconnecting with a backoff when it
// breaks. Every (re)start of listening wakes the followers too, so that
// they catch up with what was committed while nobody listened. A server
// that refuses LISTEN (CockroachDB) ends it: the followers poll.
func (l *listener) run(ctx context.Context) {
	defer close(l.done)
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := l.listen(ctx)
		if ctx.Err() != nil {
			return
		}
		var pe *pgconn.PgError
		if errors.As(err, &pe) && !strings.HasPrefix(pe.Code, "08") && !strings.HasPrefix(pe.Code, "57P") && pe.Code != "53300" {
			// LISTEN itself was refused: feature_not_supported,
			// syntax error, … Polling is all there is.
			l.mu.Lock()
			l.unsupported = true
			l.mu.Unlock()
			l.broadcast(false)
			return
		}
		l.broadcast(false)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// listen connects, LISTENs and wakes the followers on each notification
// for this store's schema, until the connection breaks or ctx is done.
func (l *listener) listen(ctx context.Context) error {
	cfg := l.s.cfg.ConnConfig.Copy()
	cfg.RuntimeParams["application_name"] += " (follow)"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+notifyChannel); err != nil {
		return err
	}
	var schema string
	if err := conn.QueryRow(ctx, "SELECT coalesce(current_schema(), '')").Scan(&schema); err != nil {
		return err
	}
	l.broadcast(true)
	prefix := schema + " "
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		if strings.HasPrefix(n.Payload, prefix) {
			l.broadcast(true)
		}
	}
}
