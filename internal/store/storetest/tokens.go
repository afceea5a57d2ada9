package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/audit-cli/audit/internal/audit"
)

// RunTokens is the conformance suite of audit.TokenStore: creating, listing,
// finding by hash, touching and revoking tokens, with unique names and
// hashes. open returns a fresh, existing, empty store.
func RunTokens(t *testing.T, open func(t *testing.T) audit.Store) {
	ctx := context.Background()
	st := open(t)
	s, ok := st.(audit.TokenStore)
	if !ok {
		t.Fatalf("%T is not an audit.TokenStore", st)
	}
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
