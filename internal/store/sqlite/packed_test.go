package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/store/storetest"
)

// Rows are read packed into one string; a row whose field holds a NUL
// byte (written behind the store's back: Normalize refuses them) is read
// again column by column, so Query, Get and Follow agree on it.
func TestPackedRowWithNUL(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	if _, err := s.Append(ctx, storetest.Events(5, 1)); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite3", s.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("UPDATE events SET details = 'a' || char(0) || 'b' WHERE seq = 3"); err != nil {
		t.Fatal(err)
	}
	want, err := s.Get(ctx, mustID(t, s, 3))
	if err != nil {
		t.Fatal(err)
	}
	if want.Details != "a\x00b" {
		t.Fatalf("details %q", want.Details)
	}
	var got []audit.Event
	for e, err := range s.Query(ctx, audit.Filter{}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, e)
	}
	if len(got) != 5 || got[2].Details != "a\x00b" || got[2].ID != want.ID || got[3].Seq != 4 {
		t.Fatalf("query read %d events, the third %+v", len(got), got[2])
	}
	// Newest first with a limit (the recent window), and a limit that
	// ends at the row read alone.
	for _, c := range []struct {
		f    audit.Filter
		seqs string
	}{
		{audit.Filter{Order: audit.Descending, Limit: 4}, "[5 4 3 2]"},
		{audit.Filter{Order: audit.Descending, Limit: 3}, "[5 4 3]"},
		{audit.Filter{Limit: 3}, "[1 2 3]"},
		{audit.Filter{After: 1, Limit: 2}, "[2 3]"},
	} {
		var seqs []int64
		for e, err := range s.Query(ctx, c.f) {
			if err != nil {
				t.Fatal(err)
			}
			seqs = append(seqs, e.Seq)
		}
		if fmt.Sprint(seqs) != c.seqs {
			t.Errorf("%+v: %v, want %s", c.f, seqs, c.seqs)
		}
	}
	fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	n := 0
	for e, err := range s.Follow(fctx, audit.Filter{}) {
		if err != nil {
			t.Fatal(err)
		}
		if e.Seq == 3 && e.Details != "a\x00b" {
			t.Fatalf("follow read %q", e.Details)
		}
		if n++; n == 5 {
			break
		}
	}
	if n != 5 {
		t.Fatalf("follow yielded %d events, want 5", n)
	}
}

func mustID(t *testing.T, s *Store, seq int64) string {
	t.Helper()
	for e, err := range s.Query(context.Background(), audit.Filter{After: seq - 1, Limit: 1}) {
		if err != nil {
			t.Fatal(err)
		}
		return e.ID
	}
	t.Fatalf("no seq %d", seq)
	return ""
}
