// Package web is the web console of `audit serve`: the audit-log page
// people know from their manager's console, server-rendered over the same
// store, filters and tokens as the CLI and the HTTP API.
//
// Pages (GET; every view is a bookmarkable URL):
//
//	/               the audit log: the CLI's filter names in the query
//	                string, newest first, 50 a page by seq (before=, after=)
//	/events/{id}    one event: every field, its hash and the original record
//	/export.csv     the current filter as `audit export` writes it (also
//	/export.jsonl   .jsonl), as a download
//	/live           Server-Sent Events: the rows of new events, for the
//	                page's Live mode
//	/stats          the numbers of `audit stats` as bar charts
//	/verify         the chain verification (admin)
//	/login, /logout a token pasted into a form starts a session (a cookie)
//	/static/…       the stylesheet and script, embedded
//
// The package holds no store code: it reads through audit.Store and the
// optional audit.Statser, and asks its caller to check tokens.
package web

import (
	"context"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/audit-cli/audit/internal/audit"
)

// PageSize is how many events a page of the audit log shows.
const PageSize = 50

// Defaults of Options.
const (
	DefaultSessionTTL = 12 * time.Hour
	DefaultLoginDelay = time.Second
)

// TokenError is what Options.Authenticate returns for a secret that is
// not a valid token; Reason is shown to the person who pasted it.
type TokenError struct{ Reason string }

func (e *TokenError) Error() string { return e.Reason }

// Options configures a Console.
type Options struct {
	// Store is read for every page.
	Store audit.Store
	// Primary is the store that Store is a read-only copy of (a
	// streaming standby), where live mode follows new events and the
	// integrity page verifies; nil means Store.
	Primary audit.Store
	// Authenticate returns the token whose secret was pasted or sent as a
	// bearer header, or a *TokenError (which it has recorded as a failed
	// login); other errors are the store's. Required unless InsecureNoAuth.
	Authenticate func(r *http.Request, secret string) (audit.Token, error)
	// Denied records a valid token refused for its role.
	Denied func(r *http.Request, tok audit.Token, need audit.Role)
	// InsecureNoAuth serves every page without a token, as admin.
	InsecureNoAuth bool
	// ChainKey is the key the store's chain is written with, for /verify.
	ChainKey []byte
	// Location is the zone times are shown in when the URL has no tz=;
	// nil means time.Local.
	Location *time.Location
	// Now is the clock ("Today", the time ranges); nil means time.Now.
	Now func() time.Time
	// SessionTTL is how long a login lasts.
	SessionTTL time.Duration
	// LoginDelay slows down every failed login by that much.
	LoginDelay time.Duration
	// QuerySlot waits for a turn to query the store, as the API's queries
	// do; nil means no bound.
	QuerySlot func(r *http.Request) (release func(), ok bool)
	// Closing ends the live streams when closed (the server's shutdown).
	Closing <-chan struct{}
	// Logger gets what goes wrong; nil means slog.Default().
	Logger *slog.Logger
}

// Console serves the web pages.
type Console struct {
	opts     Options
	log      *slog.Logger
	pages    map[string]*template.Template
	sessions *sessions
	users    *userCache
	mux      *http.ServeMux
	ctx      context.Context
	cancel   context.CancelFunc
}

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// New returns the console.
func New(opts Options) (*Console, error) {
	if opts.Primary == nil {
		opts.Primary = opts.Store
	}
	if opts.Store == nil {
		return nil, errors.New("web: no store")
	}
	if opts.Authenticate == nil && !opts.InsecureNoAuth {
		return nil, errors.New("web: no way to check tokens")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Location == nil {
		opts.Location = time.Local
	}
	if opts.SessionTTL <= 0 {
		opts.SessionTTL = DefaultSessionTTL
	}
	if opts.LoginDelay == 0 {
		opts.LoginDelay = DefaultLoginDelay
	}
	if opts.QuerySlot == nil {
		opts.QuerySlot = func(*http.Request) (func(), bool) { return func() {}, true }
	}
	if opts.Denied == nil {
		opts.Denied = func(*http.Request, audit.Token, audit.Role) {}
	}
	c := &Console{opts: opts, log: opts.Logger, sessions: newSessions(opts.SessionTTL)}
	if c.log == nil {
		c.log = slog.Default()
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	c.pages = pages
	c.mux = c.routes()
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.users = newUserCache(c.ctx, opts.Store, time.Minute, c.log)
	return c, nil
}

// Close stops the console's background work (the count of the User
// menu); close it before the store.
func (c *Console) Close() error {
	c.cancel()
	c.users.wait()
	return nil
}

func (c *Console) routes() *http.ServeMux {
	mux := http.NewServeMux()
	static, _ := fs.Sub(staticFS, "static")
	files := http.StripPrefix("/static/", http.FileServerFS(static))
	mux.Handle("GET /static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		files.ServeHTTP(w, r)
	}))
	mux.HandleFunc("GET /login", c.loginPage)
	mux.HandleFunc("POST /login", c.login)
	mux.HandleFunc("POST /logout", c.logout)
	mux.Handle("GET /{$}", c.require(audit.RoleRead, c.logsPage))
	mux.Handle("GET /events/{id}", c.require(audit.RoleRead, c.eventPage))
	mux.Handle("GET /export.csv", c.require(audit.RoleRead, c.export("csv")))
	mux.Handle("GET /export.jsonl", c.require(audit.RoleRead, c.export("jsonl")))
	mux.Handle("GET /live", c.require(audit.RoleRead, c.live))
	mux.Handle("GET /stats", c.require(audit.RoleRead, c.statsPage))
	mux.Handle("GET /verify", c.require(audit.RoleAdmin, c.verifyPage))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		c.fail(w, r, http.StatusNotFound, "No such page: "+r.URL.Path)
	})
	return mux
}

// ServeHTTP answers a request for a page, with the security headers
// every page carries.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	c.mux.ServeHTTP(w, r)
}

// ContentSecurityPolicy is sent with every page: nothing inline, nothing
// from another origin, never in a frame.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// viewer is who asks for a page.
type viewer struct {
	Name   string
	Role   audit.Role
	Admin  bool
	NoAuth bool
	CSRF   string // the session's form token; "" without a session
}

type viewerKey struct{}

func viewerFrom(ctx context.Context) viewer {
	v, _ := ctx.Value(viewerKey{}).(viewer)
	return v
}

// page is what the layout template needs besides a page's own data.
type page struct {
	Title  string
	Nav    string // "logs", "stats", "verify"
	Viewer viewer
	Error  string
	Data   any
}

// render writes the page named name with status.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, name, title string, data any) {
	c.renderPage(w, status, name, page{Title: title, Nav: name, Viewer: viewerFrom(r.Context()), Data: data})
}

func (c *Console) renderPage(w http.ResponseWriter, status int, name string, p page) {
	t := c.pages[name]
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	buf := getBuffer()
	defer putBuffer(buf)
	if err := t.ExecuteTemplate(buf, "layout", p); err != nil {
		c.log.Error("rendering a page", "page", name, "err", err)
		http.Error(w, "internal error rendering the page", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// fail shows an error page.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, status int, msg string) {
	c.renderPage(w, status, "error", page{Title: http.StatusText(status), Viewer: viewerFrom(r.Context()), Error: msg})
}

// viewAndSlot reads the view of r's query string (a bad one is a 400
// page) and waits for a turn to query the store; ok is false when the
// request is answered or gone. Call release when done.
func (c *Console) viewAndSlot(w http.ResponseWriter, r *http.Request) (v view, release func(), ok bool) {
	v, err := c.parseView(r.URL.Query())
	if err != nil {
		c.fail(w, r, http.StatusBadRequest, err.Error())
		return v, nil, false
	}
	release, ok = c.opts.QuerySlot(r)
	return v, release, ok
}

// storeFailed shows what went wrong with the store: a bad request is the
// visitor's, anything else the server's (logged, not shown in detail).
func (c *Console) storeFailed(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, audit.ErrNotFound):
		c.fail(w, r, http.StatusNotFound, err.Error())
	case errors.Is(err, audit.ErrInvalid):
		c.fail(w, r, http.StatusBadRequest, err.Error())
	case errors.Is(err, context.Canceled):
	default:
		c.log.Error("web console: the store failed", "path", r.URL.Path, "err", err)
		c.fail(w, r, http.StatusInternalServerError, "The store failed: the server's log has the details.")
	}
}
