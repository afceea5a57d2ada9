package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/store/storetest"
)

// These tests are inside the package: the migration test builds a file of
// schema version 1 from migrations[0].

func openTokens(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestTokens(t *testing.T) {
	storetest.RunTokens(t, func(t *testing.T) audit.Store {
		s := openTokens(t, filepath.Join(t.TempDir(), "audit.db"))
		if err := s.Init(context.Background()); err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// TestTokensMissingStore: reading tokens of a store not created yet finds
// none and creates nothing.
func TestTokensMissingStore(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "audit.db")
	s := openTokens(t, path)
	if list, err := s.Tokens(ctx); err != nil || len(list) != 0 {
		t.Fatalf("Tokens = %v, %v; want none", list, err)
	}
	if _, err := s.TokenByHash(ctx, "aa"); !errors.Is(err, audit.ErrNotFound) {
		t.Fatalf("TokenByHash: err = %v, want ErrNotFound", err)
	}
	if err := s.RevokeToken(ctx, "x"); !errors.Is(err, audit.ErrNotFound) {
		t.Fatalf("RevokeToken: err = %v, want ErrNotFound", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("reading tokens created the store")
	}
}

// TestTokensMigration: a store of schema version 1, from before tokens,
// gets the tokens table when opened and keeps its events.
func TestTokensMigration(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "audit.db")
	db, err := sql.Open(driverName, "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(migrations[0] + "; PRAGMA user_version = 1"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO events (id, time, user, type, hash) VALUES ('old', 0, 'jdavis', 'login', '00')`); err != nil {
		t.Fatal(err)
	}
	db.Close()

	s := openTokens(t, path)
	if _, err := s.Get(ctx, "old"); err != nil {
		t.Fatalf("the event of the old store: %v", err)
	}
	if err := s.CreateToken(ctx, audit.Token{Name: "a", Role: audit.RoleRead, Hash: "aa"}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.TokenByHash(ctx, "aa"); err != nil || got.Name != "a" {
		t.Fatalf("TokenByHash = %+v, %v", got, err)
	}
	if _, err := s.Append(ctx, storetest.Events(2, 1)); err != nil {
		t.Fatal(err)
	}
}
