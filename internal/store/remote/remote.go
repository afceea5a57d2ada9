// Package remote is the audit.Store of a remote `audit serve`, spoken to
// over its HTTP API (docs/design.md §7, internal/server).
//
// Query pages through GET /v1/events by seq, so results of any size stream
// in constant memory; Append and Import POST NDJSON; Follow reads the
// Server-Sent Events of GET /v1/events/watch and reconnects, resuming with
// Last-Event-ID, when the stream breaks.
//
// Stats and Bursts ask GET /v1/stats and /v1/stats/logins; Head and
// Checkpoint GET /v1/chain/…; Verify has the server verify the chain with
// its integrity key (POST /v1/verify), Prune POSTs /v1/prune, which needs
// an admin token.
//
// Errors map to the exit codes of docs/design.md §5: a server that cannot be
// reached (or answers 502, 503, 504) wraps audit.ErrUnavailable; 401
// audit.ErrUnauthorized and 403 audit.ErrForbidden; 400 audit.ErrInvalid
// with the server's message; 404 of an event audit.ErrNotFound; 409 (a
// chain that does not verify) audit.ErrIntegrity, as the
// *audit.IntegrityError the server found. The token never appears in an
// error.
package remote

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/retry"
)

// Defaults of Options.
const (
	DefaultBatchEvents      = 10_000
	DefaultBatchBytes       = 8 << 20
	DefaultReconnectTimeout = 15 * time.Second
	DefaultIdleTimeout      = 45 * time.Second
	DefaultRetryFor         = 2 * time.Minute
)

// Options configures a Store.
type Options struct {
	// Token is the bearer token sent with every request.
	Token string
	// Client makes the requests; nil means one with sane timeouts.
	Client *http.Client
	// BatchEvents and BatchBytes bound one POST of Import: it sends a
	// request once either is reached.
	BatchEvents int
	BatchBytes  int
	// ReconnectTimeout is how long Follow tries to reconnect after its
	// stream broke before it gives up and yields the error.
	ReconnectTimeout time.Duration
	// IdleTimeout is how long Follow waits for a byte (an event or the
	// server's keep-alive comment) before it takes the connection for
	// dead and reconnects.
	IdleTimeout time.Duration
	// RetryFor is how long a POST of events is tried again while the
	// server answers 502, 503 or 504 (its store busy with another writer,
	// or a proxy in front of it restarting). Events are idempotent by id,
	// so a retry never stores one twice. 0 means DefaultRetryFor; a
	// negative value turns retries off.
	RetryFor time.Duration
}

// Store is an audit.Store backed by a remote `audit serve`. It is safe for
// concurrent use.
type Store struct {
	base   *url.URL // scheme, host and path prefix; no trailing slash
	opts   Options
	client *http.Client
	closed atomic.Bool
}

// errClosed is what a closed store answers.
var errClosed = errors.New("store is closed")

var (
	_ audit.Store    = (*Store)(nil)
	_ audit.Importer = (*Store)(nil)
)

// Open returns the store served at address, an http:// or https:// URL,
// optionally with a path prefix (https://example.com/audit). It makes no
// request: a server that cannot be reached fails the first call.
func Open(address string, opts Options) (*Store, error) {
	u, err := url.Parse(address)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: invalid remote store address %q (want http://HOST[:PORT] or https://HOST[:PORT])", audit.ErrInvalid, redactURL(address))
	}
	if u.User != nil {
		return nil, fmt.Errorf("%w: remote store address %s: give the token with --token, AUDIT_TOKEN or the config's token, not in the URL", audit.ErrInvalid, u.Redacted())
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%w: remote store address %s: no query or fragment allowed", audit.ErrInvalid, u.Redacted())
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	if opts.BatchEvents <= 0 {
		opts.BatchEvents = DefaultBatchEvents
	}
	if opts.BatchBytes <= 0 {
		opts.BatchBytes = DefaultBatchBytes
	}
	if opts.ReconnectTimeout <= 0 {
		opts.ReconnectTimeout = DefaultReconnectTimeout
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = DefaultIdleTimeout
	}
	if opts.RetryFor == 0 {
		opts.RetryFor = DefaultRetryFor
	}
	c := opts.Client
	if c == nil {
		c = newClient()
	}
	return &Store{base: u, opts: opts, client: c}, nil
}

// newClient is an http.Client for the API: no overall timeout, since
// queries and watch streams may run long, but bounded connection set-up.
func newClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	t.TLSHandshakeTimeout = 10 * time.Second
	t.ResponseHeaderTimeout = 2 * time.Minute
	t.MaxIdleConnsPerHost = 8
	return &http.Client{Transport: t}
}

// Address returns the base URL of the server.
func (s *Store) Address() string { return s.base.String() }

// Close releases idle connections; the store then refuses every call.
func (s *Store) Close() error {
	s.closed.Store(true)
	s.client.CloseIdleConnections()
	return nil
}

// endpoint returns the URL of rawPath (escaped, starting with "/") under
// the base, with query q.
func (s *Store) endpoint(rawPath string, q url.Values) string {
	u := *s.base
	u.RawPath = s.base.EscapedPath() + rawPath
	if p, err := url.PathUnescape(u.RawPath); err == nil {
		u.Path = p
	}
	if q != nil {
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// eventPath is the path of one event: its id percent-encoded as one
// segment, with the ids the router would take for something else (".",
// "..", "watch") encoded in full.
func eventPath(id string) string {
	seg := url.PathEscape(id)
	switch seg {
	case ".", "..", "watch":
		var b strings.Builder
		for i := 0; i < len(id); i++ {
			fmt.Fprintf(&b, "%%%02X", id[i])
		}
		seg = b.String()
	}
	return "/v1/events/" + seg
}

// do sends a request and returns the response of a 2xx status; other
// statuses become errors (see the package doc), with the body closed.
func (s *Store) do(ctx context.Context, method, target string, body io.Reader, header http.Header) (*http.Response, error) {
	if s.closed.Load() {
		return nil, fmt.Errorf("remote store %s: %w", s.base.Redacted(), errClosed)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", audit.ErrInvalid, s.base.Redacted(), err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if s.opts.Token != "" {
		req.Header.Set("Authorization", "Bearer "+s.opts.Token)
	}
	req.Header.Set("User-Agent", "audit-remote-store")
	resp, err := s.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, s.unavailable(err)
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	return nil, s.statusError(resp)
}

// unavailable wraps a transport error. The URL of a *url.Error is ours,
// without the token, which travels in a header.
func (s *Store) unavailable(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return &Error{Base: audit.ErrUnavailable, Server: s.base.Redacted(), Msg: "cannot reach the server: " + err.Error()}
}

// Error is an error of the remote store: Base is the audit error it
// matches (errors.Is), Msg what the server or the network said.
type Error struct {
	Base   error
	Server string
	Status int // HTTP status; 0 for a network error
	Msg    string
	// Record, Field and Reason name the event of a POST that failed
	// validation on the server.
	Record int
	Field  string
	Reason string

	// noEndpoint: the server is an audit serve without the endpoint (an
	// older version).
	noEndpoint bool
	// retryAfter is the server's Retry-After, 0 without one.
	retryAfter time.Duration
}

// RetryAfter is the wait the server asked for before the next try.
func (e *Error) RetryAfter() time.Duration { return e.retryAfter }

// temporary reports whether err is an answer that asks to try again: the
// server's store was busy, or a gateway in front of it failed.
func temporary(err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.Status {
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s: %s", e.Server, e.Msg)
}

// Is matches e's Base.
func (e *Error) Is(target error) bool { return e.Base != nil && target == e.Base }

// wireError is the JSON of an error answer of the server (server.errorBody),
// also the last line of a stream that failed.
type wireError struct {
	Error     string                `json:"error"`
	Status    int                   `json:"status"`
	Record    int                   `json:"record"`
	Field     string                `json:"field"`
	Reason    string                `json:"reason"`
	Integrity *audit.IntegrityError `json:"integrity"`
	Conflict  string                `json:"conflict"`
}

// statusError turns a non-2xx response into an error (see apiError).
func (s *Store) statusError(resp *http.Response) error {
	var body wireError
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	isJSON := strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") && json.Unmarshal(data, &body) == nil && body.Error != ""
	err := s.apiError(resp.StatusCode, resp.Status, body, isJSON)
	var e *Error
	if errors.As(err, &e) {
		if n, perr := strconv.Atoi(resp.Header.Get("Retry-After")); perr == nil && n > 0 && n <= 60 {
			e.retryAfter = time.Duration(n) * time.Second
		}
	}
	return err
}

// apiError is the error of an answer with status code (status is its
// text, "404 Not Found") and, when isJSON, the error body: an *Error, or
// for a hash chain that does not verify (409 with the integrity fields)
// the *audit.IntegrityError itself, so that it reads as a verification of
// the store on its own machine would.
func (s *Store) apiError(code int, status string, body wireError, isJSON bool) error {
	msg := body.Error
	if !isJSON {
		msg = status
	}
	if code == http.StatusConflict && isJSON && body.Integrity != nil {
		return body.Integrity
	}
	if code == http.StatusConflict && isJSON && body.Conflict != "" {
		return &audit.ConflictError{Index: body.Record - 1, ID: body.Conflict, Field: body.Field}
	}
	e := &Error{Server: s.base.Redacted(), Status: code, Msg: msg,
		Record: body.Record, Field: body.Field, Reason: body.Reason}
	switch {
	case code == http.StatusUnauthorized:
		e.Base = audit.ErrUnauthorized
		e.Msg = "authentication failed: " + msg + " (give a token with --token, AUDIT_TOKEN or the config file's token)"
	case code == http.StatusForbidden:
		e.Base = audit.ErrForbidden
	case code == http.StatusBadRequest, code == http.StatusRequestEntityTooLarge, code == http.StatusUnsupportedMediaType:
		e.Base = audit.ErrInvalid
	case code == http.StatusConflict:
		e.Base = audit.ErrIntegrity
	case code == http.StatusNotFound && isJSON && !strings.HasPrefix(msg, "no such endpoint"):
		e.Base = audit.ErrNotFound
	case code == http.StatusNotFound:
		e.Base = audit.ErrUnavailable
		e.noEndpoint = isJSON
		e.Msg = "no audit API here (" + status + "): is this the address of an audit serve?"
	case code == http.StatusBadGateway, code == http.StatusServiceUnavailable, code == http.StatusGatewayTimeout:
		e.Base = audit.ErrUnavailable
	}
	// Others, 501 (the server's store cannot do it) and 500 among them,
	// are runtime failures.
	return e
}

// wireLine is a line of a GET /v1/events response: an event, or the error
// that ended the stream.
type wireLine struct {
	audit.Event
	Error string `json:"error"`
}

// Query streams the events matching f. It asks for pages of up to
// f.Limit events; the server caps each at its page size, and Query asks
// for the next page, after (or, descending, before) the last seq it got,
// while pages come full.
func (s *Store) Query(ctx context.Context, f audit.Filter) iter.Seq2[audit.Event, error] {
	return func(yield func(audit.Event, error) bool) {
		remaining := f.Limit
		page := f
		for {
			page.Limit = remaining
			n, pageLimit, last, err := s.queryPage(ctx, page, yield)
			if errors.Is(err, errStopped) {
				return
			}
			if err != nil {
				yield(audit.Event{}, err)
				return
			}
			if remaining > 0 {
				if remaining -= n; remaining <= 0 {
					return
				}
			}
			if pageLimit <= 0 || n < pageLimit {
				return
			}
			if f.Order == audit.Descending {
				page.Before = last
			} else {
				page.After = last
			}
		}
	}
}

// errStopped means the consumer stopped iterating.
var errStopped = errors.New("consumer stopped")

// queryPage yields one page and returns how many events it held, the
// server's page limit, and the last seq.
func (s *Store) queryPage(ctx context.Context, f audit.Filter, yield func(audit.Event, error) bool) (n, pageLimit int, last int64, err error) {
	resp, err := s.do(ctx, http.MethodGet, s.endpoint("/v1/events", f.Values()), nil, nil)
	if err != nil {
		return 0, 0, 0, err
	}
	defer resp.Body.Close()
	pageLimit, _ = strconv.Atoi(resp.Header.Get("Audit-Page-Limit"))
	dec := json.NewDecoder(bufio.NewReaderSize(resp.Body, 64<<10))
	for {
		var l wireLine
		err := dec.Decode(&l)
		if err == io.EOF {
			return n, pageLimit, last, nil
		}
		if err != nil {
			if ctx.Err() != nil {
				return n, pageLimit, last, ctx.Err()
			}
			return n, pageLimit, last, s.streamError(err)
		}
		if l.Error != "" {
			return n, pageLimit, last, &Error{Server: s.base.Redacted(), Status: resp.StatusCode, Msg: l.Error}
		}
		n++
		last = l.Seq
		if !yield(l.Event, nil) {
			return n, pageLimit, last, errStopped
		}
	}
}

// streamError wraps an error met while reading a response: a broken
// connection is unavailability, anything else a bad answer.
func (s *Store) streamError(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	if errors.As(err, &se) || errors.As(err, &te) {
		return &Error{Server: s.base.Redacted(), Msg: "unreadable answer: " + err.Error()}
	}
	return &Error{Base: audit.ErrUnavailable, Server: s.base.Redacted(), Msg: "connection lost: " + err.Error()}
}

// Get returns the event with the given id.
func (s *Store) Get(ctx context.Context, id string) (audit.Event, error) {
	resp, err := s.do(ctx, http.MethodGet, s.endpoint(eventPath(id), nil), nil, nil)
	if errors.Is(err, audit.ErrNotFound) {
		return audit.Event{}, fmt.Errorf("event %q: %w", id, audit.ErrNotFound)
	}
	if err != nil {
		return audit.Event{}, err
	}
	defer resp.Body.Close()
	var e audit.Event
	if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
		return audit.Event{}, s.streamError(err)
	}
	return e, nil
}

// Append validates the events, sends them in one POST, which the server
// stores all-or-nothing, and writes back the seq and hash each got.
func (s *Store) Append(ctx context.Context, events []audit.Event) (audit.AppendResult, error) {
	if err := audit.ValidateBatch(events); err != nil {
		return audit.AppendResult{}, err
	}
	if len(events) == 0 {
		return audit.AppendResult{}, nil
	}
	var buf bytes.Buffer
	enc := newEncoder(&buf)
	for i := range events {
		if err := enc.Encode(&events[i]); err != nil {
			return audit.AppendResult{}, &audit.RecordError{Index: i, Err: err}
		}
	}
	res, err := s.post(ctx, &buf, len(events))
	if err != nil {
		return audit.AppendResult{}, err
	}
	for i := range events {
		events[i].Seq, events[i].Hash = res.Assigned[i].Seq, res.Assigned[i].Hash
	}
	return res.AppendResult, nil
}

func newEncoder(w io.Writer) *json.Encoder {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc
}

// postResult is the answer to POST /v1/events (server.PostResult).
type postResult struct {
	audit.AppendResult
	Assigned []struct {
		Seq  int64  `json:"seq"`
		Hash string `json:"hash"`
	} `json:"assigned"`
}

// post sends one NDJSON body of n events.
func (s *Store) post(ctx context.Context, body *bytes.Buffer, n int) (postResult, error) {
	var res postResult
	var resp *http.Response
	err := retry.Do(ctx, retry.Policy{For: s.opts.RetryFor, First: 200 * time.Millisecond, Max: 5 * time.Second, Retryable: temporary}, func() error {
		var err error
		resp, err = s.do(ctx, http.MethodPost, s.endpoint("/v1/events", nil), bytes.NewReader(body.Bytes()),
			http.Header{"Content-Type": {"application/x-ndjson"}})
		return err
	})
	if err != nil {
		var re *Error
		if errors.As(err, &re) && re.Record > 0 && re.Field != "" {
			return res, &audit.RecordError{Index: re.Record - 1, Err: &audit.FieldError{Field: re.Field, Reason: re.Reason}}
		}
		return res, err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
		return res, s.streamError(err)
	}
	if len(res.Assigned) != n {
		return res, &Error{Server: s.base.Redacted(), Msg: fmt.Sprintf("the server answered for %d events, not the %d sent", len(res.Assigned), n)}
	}
	return res, nil
}

// Import sends a stream of events in POSTs of at most BatchEvents events
// (10,000) or BatchBytes bytes (8 MiB). Each POST is all-or-nothing, the
// import as a whole is not: when one fails, the batches before it stay
// stored, and the error says how many events that is. Importing again is
// safe: events are stored once by id.
//
// The next batch is read and encoded while the server stores the last
// one; the POSTs go one after the other, so the events are stored in the
// order of the stream.
func (s *Store) Import(ctx context.Context, events iter.Seq2[audit.Event, error]) (audit.AppendResult, error) {
	type batch struct {
		buf   *bytes.Buffer
		n     int
		first int // the index of its first event in the stream
	}
	free := make(chan *bytes.Buffer, 2)
	free <- new(bytes.Buffer)
	free <- new(bytes.Buffer)
	full := make(chan batch)
	failed := make(chan struct{})
	done := make(chan struct{})
	var total audit.AppendResult
	var sendErr error
	go func() {
		defer close(done)
		for b := range full {
			res, err := s.post(ctx, b.buf, b.n)
			if err != nil {
				var re *audit.RecordError
				var ce *audit.ConflictError
				if errors.As(err, &re) {
					re.Index += b.first
				} else if errors.As(err, &ce) {
					ce.Index += b.first
				}
				if stored := total.Added + total.Existing; stored > 0 {
					err = &audit.PartialError{Stored: stored, Err: err}
				}
				sendErr = err
				close(failed)
				for range full {
				}
				return
			}
			total.Added += res.Added
			total.Existing += res.Existing
			b.buf.Reset()
			free <- b.buf
		}
	}()
	// finish waits for the POST in flight, whose error comes first.
	finish := func(err error) (audit.AppendResult, error) {
		close(full)
		<-done
		if sendErr != nil {
			return total, sendErr
		}
		return total, err
	}

	buf := <-free
	enc := newEncoder(buf)
	n, index := 0, 0
	send := func() bool {
		select {
		case full <- batch{buf, n, index - n}:
		case <-failed:
			return false
		}
		select {
		case buf = <-free:
		case <-failed:
			return false
		}
		enc, n = newEncoder(buf), 0
		return true
	}
	for e, err := range events {
		if err != nil {
			return finish(err)
		}
		if err := e.Normalize(); err != nil {
			return finish(&audit.RecordError{Index: index, Err: err})
		}
		if err := enc.Encode(&e); err != nil {
			return finish(&audit.RecordError{Index: index, Err: err})
		}
		n++
		index++
		if n >= s.opts.BatchEvents || buf.Len() >= s.opts.BatchBytes {
			if !send() {
				return finish(nil)
			}
		}
	}
	if n > 0 {
		send()
	}
	return finish(nil)
}

// redactURL hides the password of a URL that did not parse as one.
func redactURL(s string) string {
	if u, err := url.Parse(s); err == nil {
		return u.Redacted()
	}
	return s
}
