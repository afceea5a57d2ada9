package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

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
	ctx := context.Background()
	s := openTokens(t, filepath.Join(t.TempDir(), "audit.db"))
	created := time.Date(2026, 11, 20, 14, 0, 0, 123, time.UTC)
	expires := created.Add(90 * 24 * time.Hour)
	for _, tok := range []audit.Token{
		{Name: "cron-exporter", Role: audit.RoleRead, Hash: "aa", Created: created, Expires: expires},
		{Name: "admin", Role: audit.RoleAdmin, Hash: "bb", Created: created},
		{Name: "ingest", Role: audit.RoleWrite, Hash: "cc", Created: created},
	} {
		if err := s.CreateToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	list, err := s.Tokens(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tok := range list {
		names = append(names, tok.Name)
	}
	if len(names) != 3 || names[0] != "admin" || names[1] != "cron-exporter" || names[2] != "ingest" {
		t.Fatalf("Tokens = %v, want admin, cron-exporter, ingest", names)
	}
	if got := list[1]; got.Role != audit.RoleRead || !got.Created.Equal(created) || !got.Expires.Equal(expires) || !got.LastUsed.IsZero() || got.Hash != "aa" {
		t.Fatalf("cron-exporter = %+v", got)
	}
	if !list[0].Expires.IsZero() {
		t.Fatalf("admin expires %v, want never", list[0].Expires)
	}

	// Names and hashes are unique.
	for _, dup := range []audit.Token{
		{Name: "admin", Role: audit.RoleRead, Hash: "dd"},
		{Name: "other", Role: audit.RoleRead, Hash: "aa"},
		{Name: "", Role: audit.RoleRead, Hash: "ee"},
		{Name: "bad-role", Role: "root", Hash: "ff"},
	} {
		if err := s.CreateToken(ctx, dup); !errors.Is(err, audit.ErrInvalid) {
			t.Errorf("CreateToken(%+v): err = %v, want ErrInvalid", dup, err)
		}
	}

	got, err := s.TokenByHash(ctx, "aa")
	if err != nil || got.Name != "cron-exporter" {
		t.Fatalf("TokenByHash(aa) = %+v, %v", got, err)
	}
	for _, h := range []string{"zz", "", "'; DROP TABLE tokens; --", "%"} {
		if _, err := s.TokenByHash(ctx, h); !errors.Is(err, audit.ErrNotFound) {
			t.Fatalf("TokenByHash(%q): err = %v, want ErrNotFound", h, err)
		}
	}

	used := created.Add(time.Hour)
	if err := s.TouchToken(ctx, "cron-exporter", used); err != nil {
		t.Fatal(err)
	}
	// An older use does not move last_used back.
	if err := s.TouchToken(ctx, "cron-exporter", created); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.TokenByHash(ctx, "aa"); !got.LastUsed.Equal(used) {
		t.Fatalf("last used %v, want %v", got.LastUsed, used)
	}
	if err := s.TouchToken(ctx, "nobody", used); err != nil {
		t.Fatalf("TouchToken of a revoked token: %v", err)
	}

	if err := s.RevokeToken(ctx, "cron-exporter"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TokenByHash(ctx, "aa"); !errors.Is(err, audit.ErrNotFound) {
		t.Fatalf("revoked token still found: %v", err)
	}
	if err := s.RevokeToken(ctx, "cron-exporter"); !errors.Is(err, audit.ErrNotFound) {
		t.Fatalf("second revoke: err = %v, want ErrNotFound", err)
	}
	if list, _ := s.Tokens(ctx); len(list) != 2 {
		t.Fatalf("%d tokens after a revoke, want 2", len(list))
	}
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
