// Package postgres is the audit.Store on a PostgreSQL server: the path past
// one machine (docs/design.md §6). Several `audit` processes and `audit serve`
// replicas may use one database at once; docs/scaling.md tells how.
//
// The schema is created by the first write, never by a read: Query, Get
// and Head on a database without it fail with an error wrapping
// audit.ErrUnavailable that tells the user how to create one, as the SQLite
// store does for a missing file, and Follow waits for it. Schema changes are versioned migrations
// recorded in audit_schema_migrations and applied under an advisory lock,
// so concurrent first writers take turns.
//
// Events live in audit_events, partitioned by month of their time, with
// partitions created as writes need them, and four indexes per month, one
// of them a GIN over the filterable values (see schema.go and query.go). Idempotency by id
// is kept by audit_event_ids, an unpartitioned table whose primary key is
// the id. Writers serialize on the single row of audit_head, which holds
// the last seq and hash: seqs are assigned, and the hash chain continued,
// under that row lock, which is held until commit, so that writers commit in
// seq order (see append.go). Follow wakes up on NOTIFY (see follow.go).
// Statistics are GROUP BY queries under Query's WHERE clause (stats.go);
// Prune deletes the oldest events, emptying whole months with TRUNCATE
// and then dropping their partitions, and leaves a sealed checkpoint in
// audit_checkpoints (prune.go).
package postgres

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/audit-cli/audit/internal/audit"
)

// Options configures a Store.
type Options struct {
	// ChainKey is the HMAC key of the hash chain; nil means plain SHA-256.
	ChainKey []byte

	// PollInterval is how often Follow looks for new events when the
	// server cannot LISTEN (CockroachDB, or PollOnly); 0 means
	// DefaultPollInterval.
	PollInterval time.Duration

	// PollOnly makes Follow poll instead of waiting for notifications, as
	// it does by itself on engines without LISTEN/NOTIFY. Tests use it.
	PollOnly bool

	// NoRollups makes Stats count every event instead of reading the
	// rollups (rollup.go): tests compare the two.
	NoRollups bool
}

// DefaultPollInterval is how often Follow polls where it cannot LISTEN.
const DefaultPollInterval = 250 * time.Millisecond

// defaultConnectTimeout bounds connecting when the address sets no
// connect_timeout, so that an unreachable server fails in seconds rather
// than after the operating system's TCP timeout.
const defaultConnectTimeout = 10 * time.Second

// Store is an audit.Store on a PostgreSQL database. It is safe for
// concurrent use.
type Store struct {
	pool  *pgxpool.Pool
	opts  Options
	where string // the address without secrets, for messages

	cfg *pgxpool.Config

	mu       sync.Mutex
	closed   bool
	ready    bool                    // the schema is known to be at schemaVersion
	months   map[int]bool            // partitions known to exist, by monthIndex
	known    map[facetValue]struct{} // values known to be in audit_values
	epoch    int64                   // the values_epoch of audit_head that known holds for
	notify   notifySupport           // whether pg_notify exists on the server
	listener *listener               // shared by the Follows; nil until the first
	schema   string                  // current_schema() of the connections
}

var (
	_ audit.Store      = (*Store)(nil)
	_ audit.Importer   = (*Store)(nil)
	_ audit.TokenStore = (*Store)(nil)
	_ audit.ChainStore = (*Store)(nil)
)

type notifySupport int

const (
	notifyUnknown notifySupport = iota
	notifyYes
	notifyNo
)

// Open connects to the database at dsn, a postgres:// URL or a libpq
// keyword/value string. The tables go into the first schema of the
// search_path (set it with ?search_path=NAME in the URL). Open checks that
// the server answers and that the database holds no schema newer than this
// audit understands; a database without the schema is fine: the first
// write creates it. Errors wrap audit.ErrUnavailable when the server cannot
// be reached or used, audit.ErrInvalid when dsn is malformed.
func Open(dsn string, opts Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgconn's message leaves the password out.
		return nil, fmt.Errorf("%w: PostgreSQL address: %v", audit.ErrInvalid, err)
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = defaultConnectTimeout
	}
	if cfg.ConnConfig.RuntimeParams["application_name"] == "" {
		// So that pg_stat_activity tells our connections apart.
		cfg.ConnConfig.RuntimeParams["application_name"] = "audit"
	}
	// Import holds one connection while ensurePartitions uses another.
	cfg.MaxConns = max(cfg.MaxConns, 2)
	if opts.PollInterval <= 0 {
		opts.PollInterval = DefaultPollInterval
	}
	// Our queries differ in their filters, not just in the values, and a
	// generic plan could neither prune partitions at plan time nor turn a
	// LIKE prefix or a CIDR into an index range: plan every execution with
	// its values. Engines that lack the setting (CockroachDB) plan that way
	// anyway, so an error is ignored.
	cfg.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
		_, _ = c.Exec(ctx, "SET plan_cache_mode = force_custom_plan")
		return nil
	}
	s := &Store{opts: opts, where: redact(cfg), months: map[int]bool{}, known: map[facetValue]struct{}{}, cfg: cfg}
	s.pool, err = pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", audit.ErrUnavailable, s.where, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.ConnConfig.ConnectTimeout+5*time.Second)
	defer cancel()
	if err := s.inspect(ctx); err != nil {
		s.pool.Close()
		return nil, err
	}
	return s, nil
}

// Address returns the store's address without its password, as messages
// name it.
func (s *Store) Address() string { return s.where }

// redact returns the address of cfg without secrets.
func redact(cfg *pgxpool.Config) string {
	c := cfg.ConnConfig
	host := c.Host
	if strings.HasPrefix(host, "/") {
		host = "[" + host + "]"
	} else if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	a := "postgres://"
	if c.User != "" {
		a += c.User + "@"
	}
	a += host
	if c.Port != 0 && c.Port != 5432 {
		a += ":" + strconv.Itoa(int(c.Port))
	}
	a += "/" + c.Database
	if sp := c.RuntimeParams["search_path"]; sp != "" {
		a += "?search_path=" + sp
	}
	return a
}

// inspect finds the schema the tables live in and checks the version of
// the store there, if any.
func (s *Store) inspect(ctx context.Context) error {
	var schema *string
	var exists bool
	err := s.pool.QueryRow(ctx, `SELECT current_schema(), to_regclass('audit_schema_migrations') IS NOT NULL`).Scan(&schema, &exists)
	if err != nil {
		return s.wrapErr("connect to", err)
	}
	if schema != nil {
		s.schema = *schema
	}
	if !exists {
		return nil
	}
	var v int
	if err := s.pool.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM audit_schema_migrations`).Scan(&v); err != nil {
		return s.wrapErr("read the schema version of", err)
	}
	if v > schemaVersion {
		return newerError(s.where, v)
	}
	if v < schemaVersion {
		// An older store: the queries of this version read its new
		// columns, so it is brought up to date now, as the SQLite store is.
		return s.ensureSchema(ctx)
	}
	s.mu.Lock()
	s.ready = true
	s.mu.Unlock()
	return nil
}

func newerError(where string, v int) error {
	return fmt.Errorf("%w: %s has schema version %d, newer than this audit understands (%d): upgrade audit",
		audit.ErrUnavailable, where, v, schemaVersion)
}

// Init creates the store's schema if it does not exist yet, as the first
// Append would. Reading commands never call it; tests do.
func (s *Store) Init(ctx context.Context) error {
	return s.ensureSchema(ctx)
}

// Close releases the store's connections. Iterators still running fail or
// end on their next step. Close is idempotent.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	l := s.listener
	s.mu.Unlock()
	if l != nil {
		l.stop()
	}
	s.pool.Close()
	return nil
}

var errClosed = errors.New("store is closed")

func (s *Store) checkOpen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("postgres store %s: %w", s.where, errClosed)
	}
	return nil
}

// missingError is what reads of a database without the schema return; it
// wraps audit.ErrUnavailable, with the advice of the SQLite store.
type missingError struct{ where string }

func (e *missingError) Error() string {
	return fmt.Sprintf("no audit store at %s: record an event (audit record …) or import some (audit import FILE) first", e.where)
}

func (e *missingError) Is(target error) bool { return target == audit.ErrUnavailable }

// wrapErr puts the operation and the address into err, and maps what the
// server or the network said to the errors of the audit package: a
// database without our tables is missing, an unreachable or unusable
// server is unavailable, refused credentials are unauthorized.
func (s *Store) wrapErr(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, audit.ErrUnavailable) || errors.Is(err, audit.ErrInvalid) ||
		errors.Is(err, audit.ErrNotFound) || errors.Is(err, errClosed) {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "42P01": // undefined_table
			return &missingError{s.where}
		case pe.Code == "3D000": // invalid_catalog_name
			return fmt.Errorf("%w: %s %s: %s", audit.ErrUnavailable, op, s.where, pe.Message)
		case strings.HasPrefix(pe.Code, "28"): // invalid authorization
			return fmt.Errorf("%w: %s %s: %s", audit.ErrUnauthorized, op, s.where, pe.Message)
		case pe.Code == "25006": // read_only_sql_transaction
			return fmt.Errorf("%w: %s %s: the server is read-only (a standby?): write to the primary", audit.ErrUnavailable, op, s.where)
		case pe.Code == "42501": // insufficient_privilege
			return fmt.Errorf("%w: %s %s: %s", audit.ErrForbidden, op, s.where, pe.Message)
		case strings.HasPrefix(pe.Code, "08"), strings.HasPrefix(pe.Code, "57P"), // connection, shutdown
			pe.Code == "53300": // too_many_connections
			return fmt.Errorf("%w: %s %s: %s", audit.ErrUnavailable, op, s.where, pe.Message)
		}
		return fmt.Errorf("%s %s: %w", op, s.where, err)
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	if errors.As(err, &ce) || errors.As(err, &ne) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || pgconn.Timeout(err) || isClosedConn(err) {
		// The innermost network error says it best; pgconn's own message
		// repeats it for every address and TLS mode it tried.
		var oe *net.OpError
		var de *net.DNSError
		var ve *tls.CertificateVerificationError
		if errors.As(err, &ve) {
			return fmt.Errorf("%w: cannot reach PostgreSQL at %s: its TLS certificate does not verify (sslmode, sslrootcert): %v",
				audit.ErrUnavailable, s.where, ve.Err)
		}
		if errors.As(err, &de) {
			return fmt.Errorf("%w: cannot reach PostgreSQL at %s: cannot resolve the host %q: %s", audit.ErrUnavailable, s.where, de.Name, de.Err)
		}
		if errors.As(err, &oe) {
			return fmt.Errorf("%w: cannot reach PostgreSQL at %s: %v", audit.ErrUnavailable, s.where, oe)
		}
		return fmt.Errorf("%w: cannot reach PostgreSQL at %s: %v", audit.ErrUnavailable, s.where, err)
	}
	return fmt.Errorf("%s %s: %w", op, s.where, err)
}

// isClosedConn recognises pgx's errors for a connection that broke or a
// pool that was closed.
func isClosedConn(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "conn closed") || strings.Contains(msg, "closed pool")
}
