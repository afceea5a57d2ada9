// Package store opens the audit store named by an address (docs/design.md §6):
// a SQLite path (the default), postgres://… or http(s)://….
package store

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/store/postgres"
	"github.com/audit-cli/audit/internal/store/remote"
	"github.com/audit-cli/audit/internal/store/sqlite"
)

// Options configures how a store is opened.
type Options struct {
	// ChainKey is the HMAC key of the hash chain; nil means SHA-256.
	ChainKey []byte
	// Token is the bearer token of a remote store.
	Token string
}

// backend opens the store of an address whose scheme it was registered
// under; rest is the address without "scheme:".
type backend func(address, rest string, opts Options) (audit.Store, error)

// backends maps address schemes to the code that opens them. A new backend
// is one line here.
var backends = map[string]backend{
	"sqlite":     openSQLite,
	"file":       openSQLite,
	"postgres":   openPostgres,
	"postgresql": openPostgres,
	"http":       openRemote,
	"https":      openRemote,
}

// Open opens the store at address: a file path, sqlite:PATH (also
// sqlite://PATH and file:PATH), postgres://… or http(s)://…; "" means
// DefaultPath(). A SQLite file that does not exist yet is no error: it is
// created by the first write.
func Open(address string, opts Options) (audit.Store, error) {
	if address == "" {
		address = DefaultPath()
	}
	scheme, rest, ok := strings.Cut(address, ":")
	if open := backends[strings.ToLower(scheme)]; ok && open != nil {
		return open(address, rest, opts)
	}
	if ok && strings.HasPrefix(rest, "//") && isScheme(scheme) {
		return nil, fmt.Errorf("%w: unknown store address %q (accepted: a file path, sqlite:PATH, postgres://…, http://…, https://…)",
			audit.ErrInvalid, redact(address))
	}
	return openSQLite(address, address, opts) // a plain path, colons and all
}

func openSQLite(address, path string, opts Options) (audit.Store, error) {
	// sqlite:///abs/path and sqlite://rel/path, as in URLs; sqlite:PATH as is.
	path = strings.TrimPrefix(path, "//")
	if path == "" {
		return nil, fmt.Errorf("%w: store address %q names no file", audit.ErrInvalid, address)
	}
	if rest, ok := strings.CutPrefix(path, "~/"); ok {
		if home, err := os.UserHomeDir(); err == nil {
			path = filepath.Join(home, rest)
		}
	}
	return sqlite.Open(path, sqlite.Options{ChainKey: opts.ChainKey})
}

func openPostgres(address, _ string, opts Options) (audit.Store, error) {
	s, err := postgres.Open(address, postgres.Options{ChainKey: opts.ChainKey})
	if err != nil {
		return nil, err // not a nil *postgres.Store in a non-nil audit.Store
	}
	return s, nil
}

func openRemote(address, _ string, opts Options) (audit.Store, error) {
	s, err := remote.Open(address, remote.Options{Token: opts.Token})
	if err != nil {
		return nil, err // not a nil *remote.Store in a non-nil audit.Store
	}
	return s, nil
}

// isScheme reports whether s has the form of a URL scheme.
func isScheme(s string) bool {
	if s == "" || !('a' <= s[0] && s[0] <= 'z' || 'A' <= s[0] && s[0] <= 'Z') {
		return false
	}
	for _, c := range s {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '+' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// redact hides the password of a URL address in messages.
func redact(address string) string {
	if u, err := url.Parse(address); err == nil && u.User != nil {
		return u.Redacted()
	}
	return address
}

// DefaultPath returns $XDG_DATA_HOME/audit/audit.db, or
// ~/.local/share/audit/audit.db when XDG_DATA_HOME is unset or, as the XDG
// specification says to treat it, not absolute.
func DefaultPath() string {
	dir := os.Getenv("XDG_DATA_HOME")
	if !filepath.IsAbs(dir) {
		home, err := os.UserHomeDir()
		if err != nil {
			home = "."
		}
		dir = filepath.Join(home, ".local", "share")
	}
	return filepath.Join(dir, "audit", "audit.db")
}
