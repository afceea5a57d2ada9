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
// replicas: a token made through one works, is touched and is revoked
// through the other.
func TestTokens(t *testing.T) {
	ctx := context.Background()
	dsn := freshSchema(t)
	s := open(t, dsn, testOptions)
	replica := open(t, dsn, testOptions)
	created := time.Date(2026, 11, 20, 14, 0, 0, 123, time.UTC)
	if err := s.CreateToken(ctx, audit.Token{Name: "cron-exporter", Role: audit.RoleRead, Hash: "aa", Created: created}); err != nil {
		t.Fatal(err)
	}
	if err := replica.CreateToken(ctx, audit.Token{Name: "cron-exporter", Role: audit.RoleRead, Hash: "dd"}); !errors.Is(err, audit.ErrInvalid) {
		t.Fatalf("the same name through the replica: err = %v, want ErrInvalid", err)
	}
	got, err := replica.TokenByHash(ctx, "aa")
	if err != nil || got.Name != "cron-exporter" || !got.Created.Equal(created) {
		t.Fatalf("replica TokenByHash(aa) = %+v, %v", got, err)
	}
	used := created.Add(time.Hour)
	if err := replica.TouchToken(ctx, "cron-exporter", used); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.TokenByHash(ctx, "aa"); !got.LastUsed.Equal(used) {
		t.Fatalf("last used seen by the first store %v, want %v", got.LastUsed, used)
	}
	if err := replica.RevokeToken(ctx, "cron-exporter"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TokenByHash(ctx, "aa"); !errors.Is(err, audit.ErrNotFound) {
		t.Fatalf("token revoked through the replica still found: %v", err)
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
