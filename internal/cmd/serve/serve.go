// Package serve implements `audit serve`.
package serve

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/audit-cli/audit/internal/alert"
	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/cmdutil"
	"github.com/audit-cli/audit/internal/config"
	"github.com/audit-cli/audit/internal/cursor"
	"github.com/audit-cli/audit/internal/iostreams"
	"github.com/audit-cli/audit/internal/server"
	"github.com/audit-cli/audit/internal/store"
)

// DefaultListen is where serve listens unless --listen says otherwise:
// this machine only.
const DefaultListen = "127.0.0.1:8787"

// ServeOptions holds what a serve run needs.
type ServeOptions struct {
	IO    *iostreams.IOStreams
	Store func() (audit.Store, error)
	// ReadStore is what reads go to (--read-store); Store's when none.
	ReadStore func() (audit.Store, error)
	Config    func() (*config.Config, error)
	Now       func() time.Time
	// Location is the zone the web console shows times in.
	Location func() *time.Location

	Listen            string
	TLSCert, TLSKey   string
	MaxBody           string // a size: 32MiB, 1MB, 1048576
	MaxWatchers       int
	MaxPage           int
	MaxQueries        int
	MaxConns          int
	MaxInFlight       int
	BodyTimeout       time.Duration
	AllowFuture       bool
	ReadHeaderTimeout time.Duration
	ShutdownTimeout   time.Duration
	InsecureNoAuth    bool
	URLFile           string
	Alerts            bool

	// Ready, if set, is called with the server's base URL once it
	// listens; tests use it.
	Ready func(url string)
}

// NewCmdServe returns the serve command. runF replaces serveRun in tests.
func NewCmdServe(f *cmdutil.Factory, runF func(context.Context, *ServeOptions) error) *cobra.Command {
	// Config is read through f at run time: the root command sets it up
	// once the flags are parsed.
	opts := &ServeOptions{IO: f.IOStreams, Store: f.Store, ReadStore: f.Reader(), Now: f.Now, Location: f.Location,
		Config: func() (*config.Config, error) { return f.Config() }}
	cmd := &cobra.Command{
		Use:   "serve [flags]",
		Short: "Serve the store over HTTP for other machines' audit commands",
		Long: `Serve the store given by --store (a SQLite file or a PostgreSQL server)
over HTTP, so that every other machine can use it with the same commands:
"audit --store https://audit.example.com list", export, watch, record,
import and show, with the same output as on the store itself.

Every request needs a token ("Authorization: Bearer TOKEN"); create them
on this machine with "audit token create", against the same --store.
serve refuses to start while the store has none. A read token may list,
show, export and watch; a write token may also record and import. The
clients give theirs with --token, AUDIT_TOKEN or the config file.

Failed authentications are recorded in the store as security events with
outcome failure and the client's address (at most one per address every
10 seconds; the rest are counted), so that
"audit list --type security --failed" shows someone guessing tokens.

Each request is logged on stderr (method, path, filters, status, bytes,
duration, client address, token name; never a token). On SIGTERM or
SIGINT serve stops accepting, ends the watch streams (clients reconnect
and resume), finishes the requests in flight and exits 0.

A browser pointed at the server's URL gets the web console: the audit
log with the same filters (as the query string: ?type=security&user=jdavis),
Export as CSV or JSONL, one event with its original record, Statistics,
and Integrity (admin). Sign in by pasting a token; the session is a
cookie kept for 12 hours. Times are shown in the configured timezone (--utc,
the timezone setting, else local), or in the URL's tz=. See docs/web.md.

The API, described in docs/serve.md; any HTTP client may use it (role
needed in brackets):
  GET  /healthz                 liveness, no token
  GET  /v1/events               list, with the filters as query parameters (read)
  GET  /v1/events/{id}          one event (read)
  GET  /v1/events/watch         Server-Sent Events, resumable (read)
  POST /v1/events               record or import, JSON array or NDJSON (write)
  GET  /v1/stats                counts (read)
  GET  /v1/stats/logins         failed-login bursts (read)
  GET  /v1/chain/head           the chain's last hash (read)
  GET  /v1/chain/checkpoint     the prune checkpoint (read)
  GET|POST /v1/verify           verify the chain (read)
  POST /v1/prune                prune old events (admin)

Without --tls-cert and --tls-key serve speaks plain HTTP: keep it on
127.0.0.1 behind a TLS-terminating proxy, or give it a certificate.
--insecure-no-auth serves without tokens, on a loopback address only, for
local tests.`,
		Example: `  # First a token for each client, on the server, against the same store
  audit --store /var/lib/audit/audit.db token create --name cron-exporter --role read --expires 90d

  # Serve it on this machine only (behind a reverse proxy)
  audit serve --store /var/lib/audit/audit.db

  # Serve it with TLS on every interface
  audit serve --store /var/lib/audit/audit.db --listen :8443 \
    --tls-cert /etc/audit/tls.crt --tls-key /etc/audit/tls.key

  # Then, on any other machine
  audit --store https://audit.example.com:8443 --token "$AUDIT_TOKEN" list --since 1h`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if (opts.TLSCert == "") != (opts.TLSKey == "") {
				return cmdutil.FlagErrorf("--tls-cert and --tls-key go together: give both, or neither for plain HTTP")
			}
			if _, err := parseSize(opts.MaxBody); err != nil {
				return cmdutil.FlagErrorf("invalid --max-body: %v", err)
			}
			if opts.MaxWatchers < 1 {
				return cmdutil.FlagErrorf("invalid --max-watchers %d: want at least 1", opts.MaxWatchers)
			}
			if opts.MaxPage < 1 {
				return cmdutil.FlagErrorf("invalid --max-page %d: want at least 1", opts.MaxPage)
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return serveRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Listen, "listen", DefaultListen, "`address` to listen on: HOST:PORT, :PORT for every interface, port 0 for any free one")
	fl.StringVar(&opts.TLSCert, "tls-cert", "", "TLS certificate `file` (PEM, with its chain)")
	fl.StringVar(&opts.TLSKey, "tls-key", "", "TLS private key `file` (PEM)")
	fl.StringVar(&opts.MaxBody, "max-body", "32MiB", "largest request body accepted (`size`); larger posts get 413")
	fl.IntVar(&opts.MaxWatchers, "max-watchers", server.DefaultMaxWatchers, "most watch streams served at once; more get 503")
	fl.IntVar(&opts.MaxPage, "max-page", server.DefaultMaxPage, "most events in one GET /v1/events answer (clients page on)")
	fl.IntVar(&opts.MaxQueries, "max-queries", 0, "most queries run at once, others wait their turn (0: twice the CPUs; -1: no bound)")
	fl.IntVar(&opts.MaxConns, "max-conns", server.DefaultMaxConns, "most client connections open at once; more get 503 (-1: no bound)")
	fl.IntVar(&opts.MaxInFlight, "max-in-flight", server.DefaultMaxInFlight, "most requests answered at once, watch streams aside; more get 503 (-1: no bound)")
	fl.DurationVar(&opts.BodyTimeout, "body-timeout", server.DefaultBodyTimeout, "drop a POST whose body takes longer to arrive")
	fl.BoolVar(&opts.AllowFuture, "allow-future", false, "accept posted events more than 5 minutes ahead of this server's clock")
	fl.DurationVar(&opts.ReadHeaderTimeout, "read-header-timeout", server.DefaultReadHeaderTimeout, "drop clients that take longer to send their request headers")
	fl.DurationVar(&opts.ShutdownTimeout, "shutdown-timeout", server.DefaultShutdownTimeout, "on SIGTERM, how long to wait for requests in flight")
	fl.BoolVar(&opts.InsecureNoAuth, "insecure-no-auth", false, "serve without tokens (loopback addresses only; for local tests)")
	fl.StringVar(&opts.URLFile, "url-file", "", "write the server's URL to `file` once it listens (with port 0, for scripts)")
	fl.BoolVar(&opts.Alerts, "alerts", false, "also run the alert rules of the config file (alerts:), each from its cursor under $XDG_STATE_HOME/audit/alerts")
	return cmd
}

func serveRun(ctx context.Context, opts *ServeOptions) error {
	cfg, err := opts.Config()
	if err != nil {
		return err
	}
	address := cfg.Store
	if lower := strings.ToLower(address); strings.HasPrefix(lower, "http:") || strings.HasPrefix(lower, "https:") {
		return cmdutil.FlagErrorf("serve needs a local store (a SQLite file or postgres://…), not the remote %s: run serve where the database is", address)
	}
	if address == "" {
		address = store.DefaultPath()
	}
	maxBody, _ := parseSize(opts.MaxBody)
	if opts.InsecureNoAuth && !loopback(opts.Listen) {
		return cmdutil.FlagErrorf("--insecure-no-auth serves anyone who can connect: it is allowed on a loopback address only (e.g. --listen 127.0.0.1:8787), not %s", opts.Listen)
	}
	var cert tls.Certificate
	if opts.TLSCert != "" {
		if cert, err = tls.LoadX509KeyPair(opts.TLSCert, opts.TLSKey); err != nil {
			return cmdutil.FlagErrorf("--tls-cert/--tls-key: %v", err)
		}
	}

	st, err := opts.Store()
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(opts.IO.ErrOut, nil))
	// The server verifies and prunes with the same key the store chains with.
	key, err := cfg.ChainKey()
	if err != nil {
		return err
	}
	sopts := server.Options{Store: st, ChainKey: key, MaxBody: maxBody, MaxWatchers: opts.MaxWatchers, MaxPage: opts.MaxPage, MaxQueries: opts.MaxQueries,
		ReadHeaderTimeout: opts.ReadHeaderTimeout, ShutdownTimeout: opts.ShutdownTimeout,
		MaxConns: opts.MaxConns, MaxInFlight: opts.MaxInFlight, BodyTimeout: opts.BodyTimeout, AllowFuture: opts.AllowFuture,
		InsecureNoAuth: opts.InsecureNoAuth, Logger: log, Now: opts.Now}
	if opts.Location != nil {
		sopts.Location = opts.Location()
	}
	if opts.ReadStore != nil {
		if sopts.ReadStore, err = opts.ReadStore(); err != nil {
			return err
		}
	}
	ntokens := 0
	if !opts.InsecureNoAuth {
		ts, ok := st.(audit.TokenStore)
		if !ok {
			return fmt.Errorf("the store %s keeps no API tokens: serve it with a SQLite or PostgreSQL store", address)
		}
		tokens, err := ts.Tokens(ctx)
		if err != nil {
			return err
		}
		if len(tokens) == 0 {
			return fmt.Errorf("the store %s has no API tokens, so nobody could use the server: create one first, e.g.\n"+
				"  audit --store %s token create --name NAME --role read\n"+
				"(or, for a local test only, serve with --insecure-no-auth)", address, shellQuote(address))
		}
		sopts.Tokens, ntokens = ts, len(tokens)
	}
	// A store that does not exist yet is created now, so that reads
	// through the server find an empty store rather than none.
	if in, ok := st.(interface{ Init(context.Context) error }); ok {
		if err := in.Init(ctx); err != nil {
			return err
		}
	}

	var runners []*alert.Runner
	if opts.Alerts {
		if runners, err = alertRunners(cfg, opts, st, log); err != nil {
			return err
		}
	}

	ln, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", opts.Listen, err)
	}
	srv, err := server.New(sopts)
	if err != nil {
		ln.Close()
		return err
	}
	defer srv.Close()
	scheme := "http"
	if opts.TLSCert != "" {
		scheme = "https"
	}
	url := scheme + "://" + ln.Addr().String()
	if opts.InsecureNoAuth {
		log.Warn("AUTHENTICATION IS DISABLED (--insecure-no-auth): anyone who can connect may read and write the audit log")
	} else if scheme == "http" && !loopback(opts.Listen) {
		log.Warn("serving plain HTTP on a network address: tokens and events cross the network unencrypted; use --tls-cert/--tls-key or a TLS proxy")
	}
	log.Info("audit serve listening", "url", url, "console", url+"/", "store", address, "tokens", ntokens)
	if opts.URLFile != "" {
		if err := writeFileAtomic(opts.URLFile, url+"\n"); err != nil {
			ln.Close()
			return err
		}
	}
	if opts.Ready != nil {
		opts.Ready(url)
	}
	stopAlerts := startAlerts(ctx, runners, log)
	if scheme == "https" {
		err = srv.ServeTLS(ctx, ln, cert)
	} else {
		err = srv.Serve(ctx, ln)
	}
	stopAlerts()
	if err != nil {
		return err
	}
	log.Info("audit serve stopped")
	return nil
}

// loopback reports whether the listen address is on a loopback interface
// only.
func loopback(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// parseSize reads a byte size: a number with an optional unit (B, KB, MB,
// GB in powers of 1000; KiB, MiB, GiB, K, M, G in powers of 1024).
func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	n, err := strconv.ParseInt(t[:i], 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q: want a positive size such as 32MiB, 500KB or 1048576", s)
	}
	units := map[string]int64{"": 1, "b": 1, "kb": 1e3, "mb": 1e6, "gb": 1e9,
		"k": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mib": 1 << 20, "g": 1 << 30, "gib": 1 << 30}
	mult, ok := units[strings.ToLower(strings.TrimSpace(t[i:]))]
	if !ok || n > (1<<62)/mult {
		return 0, fmt.Errorf("%q: want a positive size such as 32MiB, 500KB or 1048576", s)
	}
	return n * mult, nil
}

func shellQuote(s string) string {
	if strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-:@", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// writeFileAtomic writes data to path so that readers see all or nothing
// of it.
func writeFileAtomic(path, data string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".url-*")
	if err != nil {
		return fmt.Errorf("--url-file: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.WriteString(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("--url-file: %w", err)
	}
	return nil
}

// alertRunners builds a runner for each alert rule of the config file.
func alertRunners(cfg *config.Config, opts *ServeOptions, st audit.Store, log *slog.Logger) ([]*alert.Runner, error) {
	rules, err := cmdutil.ConfigAlerts(cfg)
	if err != nil {
		return nil, err
	}
	if len(rules) == 0 {
		return nil, cmdutil.FlagErrorf("--alerts: the config file %s has no alerts: list (see audit alerts --help)", cfg.File)
	}
	var loc *time.Location
	if opts.Location != nil {
		loc = opts.Location()
	}
	var runners []*alert.Runner
	for _, c := range rules {
		rule, err := c.Spec.Rule(c.Name, &c.Filter, opts.Now(), loc)
		if err != nil {
			return nil, fmt.Errorf("alert %s: %w", c.Name, err)
		}
		targets, err := c.Spec.Targets()
		if err != nil {
			return nil, fmt.Errorf("alert %s: %w", c.Name, err)
		}
		if err := os.MkdirAll(filepath.Dir(c.Cursor), 0o700); err != nil {
			return nil, fmt.Errorf("alert %s: %w", c.Name, err)
		}
		name := c.Name
		r := &alert.Runner{Store: st, Rules: []*alert.Rule{rule}, Targets: targets, After: -1,
			Cursor: cursor.New(c.Cursor, 0), DeadLetter: c.DeadLetter,
			Sent: func(a *alert.Alert, err error) {
				if err != nil {
					log.Error("alert not delivered: kept in the dead letters", "rule", name, "seq", a.Seq, "err", err)
					return
				}
				log.Info("alert delivered", "rule", name, "kind", a.Kind, "seq", a.Seq)
			},
			Problem: func(err error) { log.Warn("alert delivery", "rule", name, "err", err) }}
		runners = append(runners, r)
	}
	return runners, nil
}

// startAlerts runs the rules until ctx is done or the returned func is
// called, which waits for them (before the store is closed).
func startAlerts(ctx context.Context, runners []*alert.Runner, log *slog.Logger) func() {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, r := range runners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.Run(ctx); err != nil {
				log.Error("alert rule stopped", "rule", r.Rules[0].Name, "err", err)
			}
			r.Cursor.Close()
		}()
	}
	if len(runners) > 0 {
		log.Info("alert rules running", "rules", len(runners))
	}
	return func() {
		cancel()
		wg.Wait()
	}
}
