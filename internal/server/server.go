// Package server is the HTTP API of `audit serve` (docs/design.md §7): it puts
// an audit.Store (SQLite or PostgreSQL) on the network for the remote store
// of internal/store/remote and for any HTTP client.
//
// Endpoints:
//
//	GET  /healthz             200 {"status":"ok"}; no token needed
//	GET  /v1/events           the §2 filters as query parameters (audit.Filter.Values);
//	                          NDJSON in seq order, at most MaxPage events a request
//	                          (header Audit-Page-Limit); page on with after/before
//	GET  /v1/events/{id}      one event as JSON
//	GET  /v1/events/watch     Server-Sent Events: id = seq, data = the event;
//	                          resumes after Last-Event-ID (or after=)
//	POST /v1/events           JSON array, NDJSON or CSV; idempotent by id;
//	                          all-or-nothing per request
//	GET  /v1/stats            grouped counts: the parameters of
//	                          audit.StatsQuery.Values; a JSON audit.StatsResult
//	GET  /v1/stats/logins     failed-login bursts: the parameters of
//	                          audit.BurstQuery.Values; a JSON array of audit.Burst
//	GET  /v1/chain/head       the newest event's seq and hash (audit.ChainPoint)
//	GET  /v1/chain/checkpoint the checkpoint of the latest prune (audit.Checkpoint)
//	POST /v1/verify           audit.Verify with the server's ChainKey: the JSON
//	                          audit.VerifyOptions in, audit.VerifyResult out, or
//	                          409 {"error", "integrity": audit.IntegrityError};
//	                          also GET /v1/verify?from_seq=&to_seq=&since=&expect=
//	POST /v1/prune            admin: a JSON audit.PruneRequest in, the
//	                          audit.Checkpoint out
//
// Every /v1 request needs "Authorization: Bearer TOKEN". Tokens are kept
// hashed (SHA-256) in the store's audit.TokenStore and carry a role: read
// for the GETs and verify, write for POST /v1/events, admin for prune.
// Errors are JSON {"error": "..."}: 400 for bad parameters (named), 401
// and 403 for tokens, 409 for a chain that does not verify, 501 when the
// store lacks what the endpoint needs (statistics, a hash chain, prune).
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/web"
)

// Defaults of Options.
const (
	DefaultMaxBody           = 32 << 20
	DefaultMaxPage           = 10_000
	DefaultMaxWatchers       = 100
	DefaultKeepAlive         = 15 * time.Second
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultIdleTimeout       = 2 * time.Minute
	DefaultWriteTimeout      = time.Minute
	DefaultBodyTimeout       = 30 * time.Second
	DefaultMaxConns          = 1024
	DefaultMaxInFlight       = 256
	DefaultShutdownTimeout   = 30 * time.Second
	DefaultFailureInterval   = 10 * time.Second
	DefaultTouchInterval     = time.Minute
)

// Options configures a Server. Zero values mean the defaults above.
type Options struct {
	// Store is where events are written, and read unless ReadStore is
	// set.
	Store audit.Store
	// ReadStore is a read-only copy of Store (a streaming standby) that
	// GET /v1/events, /v1/events/{id}, /v1/stats and the web console's
	// pages read; nil means Store. Watch, the chain, verify and prune use
	// Store.
	ReadStore audit.Store
	// Tokens authenticates requests; required unless InsecureNoAuth.
	Tokens audit.TokenStore
	// InsecureNoAuth serves every request without a token, as admin. For
	// local tests only.
	InsecureNoAuth bool
	// ChainKey is the integrity key (integrity.key-file) the store's hash
	// chain is written with, the key Store was opened with: /v1/verify
	// verifies with it, so that clients need not hold it. nil means plain
	// SHA-256.
	ChainKey []byte

	// MaxBody bounds a POST body in bytes; larger ones get 413.
	MaxBody int64
	// MaxConns bounds the open client connections; one more is answered
	// 503 and closed. Less than 0: no bound.
	MaxConns int
	// MaxInFlight bounds the requests being answered at once, watch
	// streams aside (MaxWatchers bounds those); more get 503 with
	// Retry-After. Less than 0: no bound.
	MaxInFlight int
	// AllowFuture accepts posted events more than audit.FutureSlack after
	// the server's clock.
	AllowFuture bool
	// MaxPage bounds the events of one GET /v1/events response.
	MaxPage int
	// MaxWatchers bounds the concurrent /v1/events/watch streams; more get
	// 503.
	MaxWatchers int
	// MaxQueries bounds the queries (GET /v1/events, GET /v1/events/{id},
	// the stats and verifications) that run at once; more wait for their
	// turn. It keeps a crowd of readers from starving writers of CPU: a
	// burst of queries is queued instead of run all at once. 0 means twice the CPUs Go uses; less
	// than 0, no bound.
	MaxQueries int
	// KeepAlive is the interval of the SSE comment lines that keep an idle
	// watch stream (and the proxies on its way) alive.
	KeepAlive time.Duration
	// ReadHeaderTimeout drops a client that does not finish its request
	// headers in time.
	ReadHeaderTimeout time.Duration
	// IdleTimeout closes keep-alive connections idle for that long.
	IdleTimeout time.Duration
	// WriteTimeout bounds each write of a response: a client that stops
	// reading is dropped after it.
	WriteTimeout time.Duration
	// BodyTimeout bounds the reading of a POST body.
	BodyTimeout time.Duration
	// ShutdownTimeout is how long Serve waits for requests in flight once
	// its context is done, before it closes their connections.
	ShutdownTimeout time.Duration
	// FailureInterval is the rate limit of the security events recorded
	// for failed requests: at most one per client address per interval.
	FailureInterval time.Duration
	// TouchInterval is how often, at most, a token's last use is written.
	TouchInterval time.Duration

	// Location is the zone the web console shows times in when its URL
	// names none; nil means time.Local.
	Location *time.Location
	// LoginDelay slows down every failed login of the web console;
	// 0 means web.DefaultLoginDelay.
	LoginDelay time.Duration

	// Logger receives the access log and errors; nil discards them.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Server serves the HTTP API over one store. Create it with New, serve
// with Serve (or mount Handler), and Close it when done.
type Server struct {
	opts     Options
	log      *slog.Logger
	handler  http.Handler
	security *securityLog
	toucher  *toucher
	console  *web.Console

	watchers atomic.Int64
	queries  chan struct{} // a slot per query running; nil: no bound
	inFlight chan struct{} // a slot per request being answered; nil: no bound
	// closing is closed when shutdown begins, which ends watch streams:
	// http.Server.Shutdown waits for handlers, and those never end alone.
	closing   chan struct{}
	closeOnce sync.Once
}

// New returns a Server for opts. It starts the background writers of
// security events and token uses, which Close stops.
func New(opts Options) (*Server, error) {
	if opts.Store == nil {
		return nil, errors.New("server: no store")
	}
	if opts.ReadStore == nil {
		opts.ReadStore = opts.Store
	}
	if opts.Tokens == nil && !opts.InsecureNoAuth {
		return nil, errors.New("server: the store keeps no API tokens (a token store is needed unless authentication is disabled)")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if opts.MaxBody <= 0 {
		opts.MaxBody = DefaultMaxBody
	}
	if opts.MaxPage <= 0 {
		opts.MaxPage = DefaultMaxPage
	}
	if opts.MaxWatchers <= 0 {
		opts.MaxWatchers = DefaultMaxWatchers
	}
	def(&opts.KeepAlive, DefaultKeepAlive)
	def(&opts.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	def(&opts.IdleTimeout, DefaultIdleTimeout)
	def(&opts.WriteTimeout, DefaultWriteTimeout)
	def(&opts.BodyTimeout, DefaultBodyTimeout)
	def(&opts.ShutdownTimeout, DefaultShutdownTimeout)
	def(&opts.FailureInterval, DefaultFailureInterval)
	def(&opts.TouchInterval, DefaultTouchInterval)
	if opts.Now == nil {
		opts.Now = time.Now
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &Server{opts: opts, log: log, closing: make(chan struct{})}
	if opts.MaxQueries == 0 {
		opts.MaxQueries = 2 * runtime.GOMAXPROCS(0)
	}
	if opts.MaxQueries > 0 {
		s.queries = make(chan struct{}, opts.MaxQueries)
	}
	if opts.MaxConns == 0 {
		opts.MaxConns = DefaultMaxConns
	}
	if opts.MaxInFlight == 0 {
		opts.MaxInFlight = DefaultMaxInFlight
	}
	if opts.MaxInFlight > 0 {
		s.inFlight = make(chan struct{}, opts.MaxInFlight)
	}
	s.opts = opts
	s.security = newSecurityLog(opts.Store, opts.FailureInterval, opts.Now, log)
	if opts.Tokens != nil {
		s.toucher = newToucher(opts.Tokens, opts.TouchInterval, opts.Now, log)
	}
	console, err := web.New(web.Options{Store: opts.ReadStore, Primary: opts.Store, InsecureNoAuth: opts.InsecureNoAuth,
		Authenticate: s.checkToken, Denied: s.denied, ChainKey: opts.ChainKey, Location: opts.Location,
		Now: opts.Now, LoginDelay: opts.LoginDelay, QuerySlot: s.querySlot, Closing: s.closing, Logger: log})
	if err != nil {
		return nil, err
	}
	s.console = console
	s.handler = s.accessLog(s.limitInFlight(s.routes(console)))
	return s, nil
}

// routes builds the API and mounts the web console at /: every endpoint
// is registered here.
func (s *Server) routes(console http.Handler) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.Handle("GET /v1/events", s.authorize(audit.RoleRead, s.listEvents))
	mux.Handle("POST /v1/events", s.authorize(audit.RoleWrite, s.postEvents))
	mux.Handle("GET /v1/events/watch", s.authorize(audit.RoleRead, s.watchEvents))
	mux.Handle("GET /v1/events/{id}", s.authorize(audit.RoleRead, s.getEvent))
	mux.Handle("GET /v1/stats", s.authorize(audit.RoleRead, s.stats))
	mux.Handle("GET /v1/stats/logins", s.authorize(audit.RoleRead, s.logins))
	mux.Handle("GET /v1/chain/head", s.authorize(audit.RoleRead, s.chainHead))
	mux.Handle("GET /v1/chain/checkpoint", s.authorize(audit.RoleRead, s.chainCheckpoint))
	// Verifying changes nothing, so a read token may; POST carries the
	// options as JSON, GET as query parameters for curl.
	mux.Handle("POST /v1/verify", s.authorize(audit.RoleRead, s.verify))
	mux.Handle("GET /v1/verify", s.authorize(audit.RoleRead, s.verify))
	mux.Handle("POST /v1/prune", s.authorize(audit.RoleAdmin, s.prune))

	// JSON answers for what matches no endpoint, instead of the mux's
	// plain-text ones.
	mux.HandleFunc("/v1/events", methodNotAllowed("GET, POST"))
	mux.HandleFunc("/v1/events/{id}", methodNotAllowed("GET"))
	mux.HandleFunc("/v1/stats", methodNotAllowed("GET"))
	mux.HandleFunc("/v1/stats/logins", methodNotAllowed("GET"))
	mux.HandleFunc("/v1/chain/head", methodNotAllowed("GET"))
	mux.HandleFunc("/v1/chain/checkpoint", methodNotAllowed("GET"))
	mux.HandleFunc("/v1/verify", methodNotAllowed("GET, POST"))
	mux.HandleFunc("/v1/prune", methodNotAllowed("POST"))
	mux.HandleFunc("/healthz", methodNotAllowed("GET"))
	mux.HandleFunc("/v1/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such endpoint: "+r.URL.Path)
	})
	mux.Handle("/", console)
	return mux
}

// Handler returns the API as an http.Handler, access log included.
func (s *Server) Handler() http.Handler { return s.handler }

// Serve answers requests on ln until ctx is done, then shuts down
// gracefully: it stops accepting, ends the watch streams, and waits up to
// ShutdownTimeout for the requests in flight before closing their
// connections. It returns nil after a shutdown brought about by ctx.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := s.httpServer()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(s.limitConns(ln, false)) }()
	return s.wait(ctx, srv, errc)
}

// ServeTLS is Serve over TLS with the given certificate.
func (s *Server) ServeTLS(ctx context.Context, ln net.Listener, cert tls.Certificate) error {
	srv := s.httpServer()
	srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	errc := make(chan error, 1)
	go func() { errc <- srv.ServeTLS(s.limitConns(ln, true), "", "") }()
	return s.wait(ctx, srv, errc)
}

func (s *Server) httpServer() *http.Server {
	return &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: s.opts.ReadHeaderTimeout,
		IdleTimeout:       s.opts.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
}

func (s *Server) wait(ctx context.Context, srv *http.Server, errc chan error) error {
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.log.Info("shutting down: finishing the requests in flight", "timeout", s.opts.ShutdownTimeout)
	s.beginShutdown()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.ShutdownTimeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	if err != nil {
		s.log.Warn("shutdown timed out: closing the remaining connections", "err", err)
		srv.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// beginShutdown ends the watch streams.
func (s *Server) beginShutdown() {
	s.closeOnce.Do(func() { close(s.closing) })
}

// Close ends the watch streams still open and stops the background
// writers, after they have written what is pending (the security events
// of failed requests). Close it before the store.
func (s *Server) Close() error {
	s.beginShutdown()
	s.console.Close()
	s.security.close()
	if s.toucher != nil {
		s.toucher.close()
	}
	return nil
}

// querySlot waits for a turn to query the store and returns its release,
// or false when the client gave up waiting.
func (s *Server) querySlot(r *http.Request) (func(), bool) {
	if s.queries == nil {
		return func() {}, true
	}
	select {
	case s.queries <- struct{}{}:
		return func() { <-s.queries }, true
	case <-r.Context().Done():
		return nil, false
	}
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func methodNotAllowed(allow string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed here (allowed: %s)", r.Method, allow))
	}
}
