package sqlite

import (
	"context"
	"errors"
	"iter"
	"maps"
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

// openTemp opens a store in a new temporary directory, closed at the end
// of the test.
func openTemp(t *testing.T) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "audit.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
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
	s := openTemp(t)
	if _, err := s.Append(ctx, storetest.Events(10, 1)); err != nil {
		t.Fatal(err)
	}

	events := storetest.Events(12000, 2)
	bad := append([]audit.Event(nil), events...)
	bad[11998].Type = "hack"
	_, err := s.Import(ctx, stream(bad, nil))
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

// Storing events that are stored already leaves no gap in the seqs: SQLite
// raises its AUTOINCREMENT counter even for an insert skipped on conflict,
// and a gap after the next write made verify report deleted events.
func TestReimportLeavesNoSeqGap(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	events := storetest.Events(5, 1)
	if _, err := s.Append(ctx, events); err != nil {
		t.Fatal(err)
	}
	// Again, through Import and through Append (a retried POST), then a
	// batch that is half old, half new.
	if res, err := s.Import(ctx, stream(storetest.Events(5, 1), nil)); err != nil || res.Existing != 5 {
		t.Fatalf("re-import: %+v, %v", res, err)
	}
	if res, err := s.Append(ctx, storetest.Events(5, 1)); err != nil || res.Existing != 5 {
		t.Fatalf("re-append: %+v, %v", res, err)
	}
	mixed := append(storetest.Events(7, 1)[5:], storetest.Events(5, 1)[4])
	if res, err := s.Append(ctx, mixed); err != nil || res.Added != 2 || res.Existing != 1 {
		t.Fatalf("mixed append: %+v, %v", res, err)
	}
	var want int64 = 1
	for e, err := range s.Query(ctx, audit.Filter{}) {
		if err != nil {
			t.Fatal(err)
		}
		if e.Seq != want {
			t.Fatalf("seq %d follows %d: a gap", e.Seq, want-1)
		}
		want++
	}
	if want != 8 {
		t.Fatalf("%d events stored, want 7", want-1)
	}
	if _, err := audit.Verify(ctx, s, audit.VerifyOptions{}); err != nil {
		t.Fatalf("verify after re-imports: %v", err)
	}
}

// indexes returns the CREATE INDEX statements of the events table.
func indexes(t *testing.T, s *Store) map[string]string {
	t.Helper()
	db, err := s.writer(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	rows, err := db.Query(`SELECT name, coalesce(sql, '') FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'events'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	m := map[string]string{}
	for rows.Next() {
		var name, def string
		if err := rows.Scan(&name, &def); err != nil {
			t.Fatal(err)
		}
		m[name] = def
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return m
}

// A large import drops the secondary indexes and builds them again at
// commit (chainWriter.deferIndexes); the store must end with the indexes
// of its schema, whether the import commits or fails, and the writer's
// connection with its usual settings.
func TestBulkImportRebuildsIndexes(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	if _, err := s.Append(ctx, storetest.Events(1, 1)); err != nil {
		t.Fatal(err)
	}
	want := indexes(t, s)
	if len(want) < 8 {
		t.Fatalf("a new store has %d indexes on events: %v", len(want), want)
	}
	n := 3*1 + deferIndexesMin + 2*importBatch
	events := storetest.Events(n, 2)
	bad := append([]audit.Event(nil), events...)
	bad[n-1].Type = "hack"
	if _, err := s.Import(ctx, stream(bad, nil)); err == nil {
		t.Fatal("import with a bad last record succeeded")
	}
	if got := indexes(t, s); !maps.Equal(got, want) {
		t.Fatalf("after a failed bulk import the indexes are\n%v\nwant\n%v", got, want)
	}
	if res, err := s.Import(ctx, stream(events, nil)); err != nil || res.Added != n {
		t.Fatalf("Import = %+v, %v; want %d added", res, err, n)
	}
	if got := indexes(t, s); !maps.Equal(got, want) {
		t.Fatalf("after a bulk import the indexes are\n%v\nwant\n%v", got, want)
	}
	db, _ := s.writer(ctx)
	var cache, threads int
	if err := db.QueryRow("PRAGMA cache_size").Scan(&cache); err != nil || cache != writerCacheKiB {
		t.Errorf("writer cache_size after the import = %d, %v; want %d", cache, err, writerCacheKiB)
	}
	if err := db.QueryRow("PRAGMA threads").Scan(&threads); err != nil || threads != 0 {
		t.Errorf("writer threads after the import = %d, %v; want 0", threads, err)
	}
	// The rebuilt indexes hold every event: each user's count through the
	// user index matches a full scan.
	for _, user := range []string{"jdavis", "zstastna"} {
		var byIndex, byScan int
		db.QueryRow("SELECT count(*) FROM events INDEXED BY events_user_time WHERE user = ?", user).Scan(&byIndex)
		db.QueryRow("SELECT count(*) FROM events NOT INDEXED WHERE user = ?", user).Scan(&byScan)
		if byIndex != byScan || byScan == 0 {
			t.Errorf("user %s: %d events through the index, %d in the table", user, byIndex, byScan)
		}
	}
	if _, err := audit.Verify(ctx, s, audit.VerifyOptions{}); err != nil {
		t.Fatalf("verify after the bulk import: %v", err)
	}
}

// Cancelling a bulk import after it dropped the indexes (Ctrl-C) stores
// nothing and leaves the indexes in place.
func TestCancelledBulkImport(t *testing.T) {
	s := openTemp(t)
	if _, err := s.Append(context.Background(), storetest.Events(1, 1)); err != nil {
		t.Fatal(err)
	}
	want := indexes(t, s)
	events := storetest.Events(deferIndexesMin+6*importBatch, 2)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cancelling := func(yield func(audit.Event, error) bool) {
		for i, e := range events {
			if i == deferIndexesMin+4*importBatch {
				cancel()
			}
			if !yield(e, nil) {
				return
			}
		}
	}
	if _, err := s.Import(ctx, cancelling); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Import = %v, want context.Canceled", err)
	}
	if n := count(t, s); n != 1 {
		t.Fatalf("after the cancelled import the store has %d events, want 1", n)
	}
	if got := indexes(t, s); !maps.Equal(got, want) {
		t.Fatalf("after a cancelled bulk import the indexes are\n%v\nwant\n%v", got, want)
	}
}
