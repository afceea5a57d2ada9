package store

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/store/sqlite"
)

func TestOpenSQLiteAddresses(t *testing.T) {
	dir := t.TempDir()
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_DATA_HOME", filepath.Join(dir, "data"))
	for address, want := range map[string]string{
		"":                                       filepath.Join(dir, "data", "audit", "audit.db"),
		filepath.Join(dir, "a.db"):               filepath.Join(dir, "a.db"),
		"sqlite:" + filepath.Join(dir, "b.db"):   filepath.Join(dir, "b.db"),
		"sqlite://" + filepath.Join(dir, "c.db"): filepath.Join(dir, "c.db"),
		"SQLite:" + filepath.Join(dir, "d.db"):   filepath.Join(dir, "d.db"),
		"file:" + filepath.Join(dir, "e.db"):     filepath.Join(dir, "e.db"),
		"file://" + filepath.Join(dir, "f.db"):   filepath.Join(dir, "f.db"),
		"sqlite:relative.db":                     "relative.db",
		"sqlite://relative.db":                   "relative.db",
		"~/audit.db":                             filepath.Join(home, "audit.db"),
		"sqlite:~/audit.db":                      filepath.Join(home, "audit.db"),
		"notes:2026.db":                          "notes:2026.db",
	} {
		s, err := Open(address, Options{})
		if err != nil {
			t.Errorf("Open(%q): %v", address, err)
			continue
		}
		if got := s.(*sqlite.Store).Path(); got != want {
			t.Errorf("Open(%q) opened %s, want %s", address, got, want)
		}
		s.Close()
	}
}

func TestOpenBadAddresses(t *testing.T) {
	for _, c := range []struct {
		address string
		secret  string
	}{
		{"mysql://root:s3cret@db/audit", "s3cret"},
		{"sqlite:", ""},
		{"sqlite://", ""},
	} {
		_, err := Open(c.address, Options{})
		if !errors.Is(err, audit.ErrInvalid) {
			t.Errorf("Open(%q): err = %v, want ErrInvalid", c.address, err)
			continue
		}
		if c.secret != "" && strings.Contains(err.Error(), c.secret) {
			t.Errorf("Open(%q): error %q shows the password", c.address, err)
		}
	}
}

func TestDefaultPath(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	for xdg, want := range map[string]string{
		"/srv/data": "/srv/data/audit/audit.db",
		"":          filepath.Join(home, ".local", "share", "audit", "audit.db"),
		"relative":  filepath.Join(home, ".local", "share", "audit", "audit.db"),
	} {
		t.Setenv("XDG_DATA_HOME", xdg)
		if got := DefaultPath(); got != want {
			t.Errorf("XDG_DATA_HOME=%q: DefaultPath() = %s, want %s", xdg, got, want)
		}
	}
}
