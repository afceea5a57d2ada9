// Package store opens the audit store named by an address (DESIGN.md §6):
// a SQLite path (the default), postgres://… or http(s)://….
package store

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/store/sqlite"
)

// Options configures how a store is opened.
type Options struct {
	// ChainKey is the HMAC key of the hash chain; nil means SHA-256.
	ChainKey []byte
	// Token is the bearer token of a remote store.
	Token string
}

// Open opens the store at address; "" means DefaultPath().
func Open(address string, opts Options) (audit.Store, error) {
	switch {
	case address == "":
		return sqlite.Open(DefaultPath(), sqlite.Options{ChainKey: opts.ChainKey})
	case strings.HasPrefix(address, "postgres://"), strings.HasPrefix(address, "postgresql://"):
		return nil, fmt.Errorf("%w: PostgreSQL stores are not supported by this build of audit", audit.ErrUnavailable)
	case strings.HasPrefix(address, "http://"), strings.HasPrefix(address, "https://"):
		return nil, fmt.Errorf("%w: remote stores are not supported by this build of audit", audit.ErrUnavailable)
	}
	path := address
	for _, p := range []string{"sqlite://", "sqlite:", "file:"} {
		if strings.HasPrefix(path, p) {
			path = strings.TrimPrefix(path, p)
			break
		}
	}
	if path == "" {
		return nil, fmt.Errorf("%w: store address %q names no file", audit.ErrInvalid, address)
	}
	return sqlite.Open(path, sqlite.Options{ChainKey: opts.ChainKey})
}

// DefaultPath returns $XDG_DATA_HOME/audit/audit.db, or
// ~/.local/share/audit/audit.db.
func DefaultPath() string {
	dir := os.Getenv("XDG_DATA_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			home = "."
		}
		dir = filepath.Join(home, ".local", "share")
	}
	return filepath.Join(dir, "audit", "audit.db")
}
