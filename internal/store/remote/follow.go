package remote

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"iter"
	"net/http"
	"strconv"
	"time"

	"github.com/audit-cli/audit/internal/audit"
)

// Reconnect delays of Follow: the first wait after a broken stream,
// doubled on each failure in a row up to the last.
const (
	retryMin = 100 * time.Millisecond
	retryMax = 2 * time.Second
)

// Follow streams the events matching f with seq > f.After from the
// server's GET /v1/events/watch, until ctx is done (which ends the stream
// without an error) or the caller stops iterating. f.Limit and f.Order are
// ignored.
//
// When the stream breaks (the server restarts, a proxy drops an idle
// connection, nothing arrives for IdleTimeout although the server sends a
// keep-alive every 15 s) Follow reconnects with a growing delay and
// resumes after the last event it yielded (Last-Event-ID), so nothing is
// lost or repeated. If it cannot reconnect within ReconnectTimeout it
// yields the error, which wraps audit.ErrUnavailable, and ends; callers
// such as `audit watch` report it and follow again later. Errors retrying
// cannot fix (401, 403, 400, a failure of the server's store) are yielded
// at once and end the stream.
func (s *Store) Follow(ctx context.Context, f audit.Filter) iter.Seq2[audit.Event, error] {
	return func(yield func(audit.Event, error) bool) {
		last := max(f.After, 0)
		delay := retryMin
		var brokenSince time.Time
		for {
			progressed, err := s.followOnce(ctx, f, &last, yield)
			switch {
			case ctx.Err() != nil, errors.Is(err, errStopped):
				return
			case !transient(err):
				yield(audit.Event{}, err)
				return
			}
			now := time.Now()
			if progressed || brokenSince.IsZero() {
				brokenSince, delay = now, retryMin
			} else if now.Sub(brokenSince) >= s.opts.ReconnectTimeout {
				yield(audit.Event{}, err)
				return
			}
			t := time.NewTimer(delay)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			delay = min(2*delay, retryMax)
		}
	}
}

// transient reports whether reconnecting may help after err; a nil err is
// a stream the server ended (its shutdown).
func transient(err error) bool {
	return err == nil || errors.Is(err, audit.ErrUnavailable)
}

// followOnce reads one watch stream. It reports whether the connection
// was made, and why the stream ended.
func (s *Store) followOnce(ctx context.Context, f audit.Filter, last *int64, yield func(audit.Event, error) bool) (bool, error) {
	q := f
	q.Limit, q.Order = 0, audit.Ascending
	header := http.Header{"Accept": {"text/event-stream"}, "Cache-Control": {"no-cache"}}
	if *last > 0 {
		header.Set("Last-Event-ID", strconv.FormatInt(*last, 10))
	}
	// The watchdog cancels the request when the stream goes silent.
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	idle := time.AfterFunc(s.opts.IdleTimeout, cancel)
	defer idle.Stop()
	resp, err := s.do(cctx, http.MethodGet, s.endpoint("/v1/events/watch", q.Values()), nil, header)
	if err != nil {
		if ctx.Err() == nil && cctx.Err() != nil {
			err = &Error{Base: audit.ErrUnavailable, Server: s.base.Redacted(), Msg: "the server did not answer the watch request"}
		}
		return false, err
	}
	defer resp.Body.Close()

	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var id, event string
	var data []byte
	for sc.Scan() {
		idle.Reset(s.opts.IdleTimeout)
		line := sc.Bytes()
		if len(line) == 0 {
			// A blank line dispatches the event gathered so far.
			if len(data) > 0 {
				if err := s.dispatch(event, id, data, last, yield); err != nil {
					return true, err
				}
			}
			id, event, data = "", "", data[:0]
			continue
		}
		if line[0] == ':' {
			continue // a comment: keep-alive
		}
		name, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimPrefix(value, []byte(" "))
		switch string(name) {
		case "id":
			id = string(value)
		case "event":
			event = string(value)
		case "data":
			if len(data) > 0 {
				data = append(data, '\n')
			}
			data = append(data, value...)
		}
	}
	err = sc.Err()
	switch {
	case ctx.Err() != nil:
		return true, ctx.Err()
	case err != nil && cctx.Err() != nil:
		return true, &Error{Base: audit.ErrUnavailable, Server: s.base.Redacted(),
			Msg: "the watch stream went silent for " + s.opts.IdleTimeout.String()}
	case err != nil:
		return true, &Error{Base: audit.ErrUnavailable, Server: s.base.Redacted(), Msg: "watch stream broken: " + err.Error()}
	}
	return true, nil // the server ended the stream
}

// dispatch yields one event of the stream, or returns the error the
// server sent.
func (s *Store) dispatch(event, id string, data []byte, last *int64, yield func(audit.Event, error) bool) error {
	switch event {
	case "", "message":
	case "error":
		var body struct {
			Error string `json:"error"`
		}
		json.Unmarshal(data, &body)
		if body.Error == "" {
			body.Error = "the watch stream failed"
		}
		return &Error{Server: s.base.Redacted(), Msg: body.Error}
	default:
		return nil // an event type of a newer server
	}
	var e audit.Event
	if err := json.Unmarshal(data, &e); err != nil {
		return &Error{Server: s.base.Redacted(), Msg: "unreadable event in the watch stream: " + err.Error()}
	}
	if e.Seq <= *last {
		return nil // seen before a reconnect
	}
	*last = e.Seq
	if !yield(e, nil) {
		return errStopped
	}
	return nil
}
