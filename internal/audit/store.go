package audit

import (
	"bytes"
	"context"
	"fmt"
	"iter"
)

// Store is an audit log backend: an embedded SQLite file, a PostgreSQL
// server, or a remote `audit serve`. Every backend passes the conformance
// suite in internal/store/storetest.
type Store interface {
	// Append stores events in one all-or-nothing batch, assigning each new
	// event its seq and hash (written back into the slice). Events whose id
	// is already stored are skipped and counted as existing. Events are
	// validated first; a bad one fails the batch with a *RecordError.
	Append(ctx context.Context, events []Event) (AppendResult, error)

	// Query streams the events matching f in f.Order by seq, at most
	// f.Limit of them. Iteration holds store resources until it ends.
	Query(ctx context.Context, f Filter) iter.Seq2[Event, error]

	// Get returns the event with the given id, or an error wrapping
	// ErrNotFound.
	Get(ctx context.Context, id string) (Event, error)

	// Follow streams the events matching f with seq greater than f.After in
	// ascending seq order, then waits for new ones and streams them as they
	// are committed, until ctx is done (which ends the stream without an
	// error) or the caller stops iterating. f.Limit and f.Order are ignored.
	Follow(ctx context.Context, f Filter) iter.Seq2[Event, error]

	// Close releases the store.
	Close() error
}

// AppendResult counts what an Append did.
type AppendResult struct {
	Added    int `json:"added"`
	Existing int `json:"existing"`
}

// RecordError names the record of a batch that failed validation. Index is
// the 0-based position in the batch; importers translate it to a line.
type RecordError struct {
	Index int
	Err   error
}

func (e *RecordError) Error() string { return fmt.Sprintf("record %d: %v", e.Index+1, e.Err) }

// Unwrap returns the validation error.
func (e *RecordError) Unwrap() error { return e.Err }

// ValidateBatch normalizes every event of a batch, returning a *RecordError
// for the first invalid one. Stores call it before writing anything.
func ValidateBatch(events []Event) error {
	for i := range events {
		if err := events[i].Normalize(); err != nil {
			return &RecordError{Index: i, Err: err}
		}
	}
	return nil
}

// ConflictError is an event whose id is stored already (or appears earlier
// in the same batch) with other content. Ingest is idempotent by id only
// for the same event: a different one under a used id is refused, never
// counted as a duplicate. It matches ErrConflict.
type ConflictError struct {
	Index int    // the event's position in its batch or stream, from 0
	ID    string // the id both events carry
	Field string // the first field that differs
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("record %d: id %q is stored already with a different %s: give the event a new id", e.Index+1, e.ID, e.Field)
}

// Is makes a *ConflictError match ErrConflict.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// DiffField returns the name of the first event field (docs/design.md §1) in
// which a and b differ, "" when they describe the same event. Seq and
// hash, which the store assigns, are not compared.
func DiffField(a, b *Event) string {
	switch {
	case !a.Time.Equal(b.Time):
		return "time"
	case a.User != b.User:
		return "user"
	case a.UserName != b.UserName:
		return "user_name"
	case a.Type != b.Type:
		return "type"
	case a.Action != b.Action:
		return "action"
	case a.ResourceType != b.ResourceType:
		return "resource_type"
	case a.Resource != b.Resource:
		return "resource"
	case a.Details != b.Details:
		return "details"
	case a.IP != b.IP:
		return "ip"
	case a.Outcome != b.Outcome:
		return "outcome"
	case a.SourceName() != b.SourceName():
		return "source"
	case len(a.Raw) > 0 && len(b.Raw) > 0 && !bytes.Equal(a.Raw, b.Raw):
		// One without raw is the same event exported as CSV, which never
		// carries it.
		return "raw"
	}
	return ""
}

// FollowItem is one step of a Follow, handed over a channel.
type FollowItem struct {
	Event Event
	Err   error
}

// FollowChan runs st.Follow(ctx, f) in a goroutine and hands its steps
// over the returned channel (buffered by buffer), for callers that wait
// on other things too (a ticker, a shutdown). The channel closes after an
// error or when the follow ends. stop ends the follow and waits for the
// goroutine, so that the store may be closed after it; call it when done.
func FollowChan(ctx context.Context, st Store, f Filter, buffer int) (items <-chan FollowItem, stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	ch := make(chan FollowItem, buffer)
	go func() {
		defer close(ch)
		for e, err := range st.Follow(ctx, f) {
			select {
			case ch <- FollowItem{e, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return ch, func() {
		cancel()
		for range ch {
		}
	}
}

// Prefetch reads seq ahead, in a goroutine of its own, in batches of
// batch events, while the caller handles the ones before: reading the
// store and formatting the output then use two cores (export). It yields
// what seq yields, in order. Stopping early stops the reading and waits
// for it, so the store may be closed after the loop.
func Prefetch(seq iter.Seq2[Event, error], batch int) iter.Seq2[Event, error] {
	type chunk struct {
		events []Event
		err    error
	}
	return func(yield func(Event, error) bool) {
		ch := make(chan chunk, 4)
		done := make(chan struct{})
		finished := make(chan struct{})
		go func() {
			defer close(finished)
			defer close(ch)
			send := func(c chunk) bool {
				select {
				case ch <- c:
					return true
				case <-done:
					return false
				}
			}
			buf := make([]Event, 0, batch)
			for e, err := range seq {
				if err != nil {
					if len(buf) > 0 && !send(chunk{events: buf}) {
						return
					}
					send(chunk{err: err})
					return
				}
				buf = append(buf, e)
				if len(buf) == batch {
					if !send(chunk{events: buf}) {
						return
					}
					buf = make([]Event, 0, batch)
				}
			}
			if len(buf) > 0 {
				send(chunk{events: buf})
			}
		}()
		defer func() {
			close(done)
			for range ch {
			}
			<-finished
		}()
		for c := range ch {
			for i := range c.events {
				if !yield(c.events[i], nil) {
					return
				}
			}
			if c.err != nil {
				yield(Event{}, c.err)
				return
			}
		}
	}
}
