package sqlite

import (
	"context"
	"errors"
	"iter"
	"path/filepath"
	"testing"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/store/storetest"
)

func stream(events []audit.Event, tail error) iter.Seq2[audit.Event, error] {
	return func(yield func(audit.Event, error) bool) {
		for _, e := range events {
			if !yield(e, nil) {
				return
			}
		}
		if tail != nil {
			yield(audit.Event{}, tail)
		}
	}
}

func count(t *testing.T, s *Store) int {
	t.Helper()
	n := 0
	for _, err := range s.Query(context.Background(), audit.Filter{}) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	return n
}

// An import is one transaction however long it is: a bad record or a
// failing stream at the very end leaves the store as it was.
func TestImportAllOrNothing(t *testing.T) {
	ctx := context.Background()
	s, err := Open(filepath.Join(t.TempDir(), "audit.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Append(ctx, storetest.Events(10, 1)); err != nil {
		t.Fatal(err)
	}

	events := storetest.Events(12000, 2)
	bad := append([]audit.Event(nil), events...)
	bad[11998].Type = "hack"
	_, err = s.Import(ctx, stream(bad, nil))
	var rec *audit.RecordError
	if !errors.As(err, &rec) || rec.Index != 11998 {
		t.Fatalf("Import with a bad record = %v, want a RecordError at index 11998", err)
	}
	if n := count(t, s); n != 10 {
		t.Fatalf("after the failed import the store has %d events, want the 10 it had", n)
	}

	streamErr := errors.New("line 12001: invalid JSON")
	if _, err = s.Import(ctx, stream(events, streamErr)); !errors.Is(err, streamErr) {
		t.Fatalf("Import with a failing stream = %v, want %v", err, streamErr)
	}
	if n := count(t, s); n != 10 {
		t.Fatalf("after the failed stream the store has %d events, want 10", n)
	}

	res, err := s.Import(ctx, stream(events, nil))
	if err != nil || res.Added != 12000 || res.Existing != 0 {
		t.Fatalf("Import = %+v, %v; want 12000 added", res, err)
	}
	res, err = s.Import(ctx, stream(events, nil))
	if err != nil || res.Added != 0 || res.Existing != 12000 {
		t.Fatalf("second Import = %+v, %v; want 12000 existing", res, err)
	}
	seq, _, err := s.Head(ctx)
	if err != nil || seq != 12010 {
		t.Fatalf("head seq = %d, %v; want 12010 (no seq consumed by failed imports)", seq, err)
	}
}
