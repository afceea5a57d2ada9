package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/store/storetest"
)

func TestTokensConformance(t *testing.T) {
	storetest.RunTokens(t, func(t *testing.T) audit.Store {
		s := open(t, freshSchema(t), testOptions)
		if err := s.Init(context.Background()); err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// TestTokens: two stores on one database stand for two `audit serve`
// replicas, which share their tokens.
func TestTokens(t *testing.T) {
	ctx := context.Background()
	dsn := freshSchema(t)
	s := open(t, dsn, testOptions)
	replica := open(t, dsn, testOptions)
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
	list, err := replica.Tokens(ctx)
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
		if err := replica.CreateToken(ctx, dup); !errors.Is(err, audit.ErrInvalid) {
			t.Errorf("CreateToken(%+v): err = %v, want ErrInvalid", dup, err)
		}
	}

	got, err := replica.TokenByHash(ctx, "aa")
	if err != nil || got.Name != "cron-exporter" {
		t.Fatalf("TokenByHash(aa) = %+v, %v", got, err)
	}
	for _, h := range []string{"zz", "", "'; DROP TABLE audit_tokens; --", "%"} {
		if _, err := s.TokenByHash(ctx, h); !errors.Is(err, audit.ErrNotFound) {
			t.Fatalf("TokenByHash(%q): err = %v, want ErrNotFound", h, err)
		}
	}

	used := created.Add(time.Hour)
	if err := s.TouchToken(ctx, "cron-exporter", used); err != nil {
		t.Fatal(err)
	}
	// An older use does not move last_used back.
	if err := replica.TouchToken(ctx, "cron-exporter", created); err != nil {
		t.Fatal(err)
	}
	if got, _ := replica.TokenByHash(ctx, "aa"); !got.LastUsed.Equal(used) {
		t.Fatalf("last used %v, want %v", got.LastUsed, used)
	}
	if err := s.TouchToken(ctx, "nobody", used); err != nil {
		t.Fatalf("TouchToken of a revoked token: %v", err)
	}

	if err := replica.RevokeToken(ctx, "cron-exporter"); err != nil {
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

// TestTokensMissingStore: reading tokens of a database without the schema
// finds none and creates nothing.
func TestTokensMissingStore(t *testing.T) {
	ctx := context.Background()
	dsn := freshSchema(t)
	s := open(t, dsn, testOptions)
	if list, err := s.Tokens(ctx); err != nil || len(list) != 0 {
		t.Fatalf("Tokens = %v, %v; want none", list, err)
	}
	if _, err := s.TokenByHash(ctx, "aa"); !errors.Is(err, audit.ErrNotFound) {
		t.Fatalf("TokenByHash: err = %v, want ErrNotFound", err)
	}
	if err := s.RevokeToken(ctx, "x"); !errors.Is(err, audit.ErrNotFound) {
		t.Fatalf("RevokeToken: err = %v, want ErrNotFound", err)
	}
	if n := countTables(t, dsn); n != 0 {
		t.Fatalf("reading tokens created %d tables", n)
	}
	// Creating one creates the store, which holds events as usual.
	if err := s.CreateToken(ctx, audit.Token{Name: "a", Role: audit.RoleRead, Hash: "aa"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, storetest.Events(2, 1)); err != nil {
		t.Fatal(err)
	}
}
