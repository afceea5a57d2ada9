package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"testing"
	"time"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/store/storetest"
)

// stream yields events as an importer's decoder would.
func stream(events []audit.Event) iter.Seq2[audit.Event, error] {
	return func(yield func(audit.Event, error) bool) {
		for _, e := range events {
			if !yield(e, nil) {
				return
			}
		}
	}
}

// spread returns n events over many months, ids unique to seed.
func spread(n int, seed int64) []audit.Event {
	events := storetest.Events(n, seed)
	for i := range events {
		events[i].Time = events[i].Time.AddDate(0, -(i % 14), 0)
	}
	return events
}

func TestImport(t *testing.T) {
	ctx := context.Background()
	key := []byte("k")
	opts := testOptions
	opts.ChainKey = key
	s := open(t, freshSchema(t), opts)
	first := storetest.Events(100, 1)
	if _, err := s.Append(ctx, first); err != nil {
		t.Fatal(err)
	}
	// More than one read-back range (copyBatch), over 14 months; with the
	// 100 events stored already, and some repeated within the stream
	// across ranges.
	events := spread(20_000, 2)
	in := slices.Concat(first[:50], events, events[:10], events[9000:9010])
	res, err := audit.Import(ctx, s, stream(in))
	if err != nil {
		t.Fatal(err)
	}
	if res.Added != len(events) || res.Existing != 70 {
		t.Fatalf("Import: %+v, want %d added, 70 existing", res, len(events))
	}
	stored := collect(t, s, audit.Filter{})
	if len(stored) != 100+len(events) {
		t.Fatalf("%d stored, want %d", len(stored), 100+len(events))
	}
	for i, e := range stored[100:] {
		if e.ID != events[i].ID || e.Seq != int64(101+i) {
			t.Fatalf("imported event %d: %s seq %d, want %s seq %d", i, e.ID, e.Seq, events[i].ID, 101+i)
		}
	}
	verifyChain(t, stored, key)

	// Again: all of it is stored already.
	res, err = audit.Import(ctx, s, stream(in))
	if err != nil || res.Added != 0 || res.Existing != len(in) {
		t.Fatalf("second Import: %+v, %v; want all %d existing", res, err, len(in))
	}
}

func TestImportAllOrNothing(t *testing.T) {
	ctx := context.Background()
	s := open(t, freshSchema(t), testOptions)
	if _, err := s.Append(ctx, storetest.Events(5, 1)); err != nil {
		t.Fatal(err)
	}
	// An invalid event deep in the stream.
	events := spread(12_000, 2)
	events[11_000].Type = "bogus"
	_, err := audit.Import(ctx, s, stream(events))
	var re *audit.RecordError
	if !errors.As(err, &re) || re.Index != 11_000 || !errors.Is(err, audit.ErrInvalid) {
		t.Fatalf("err = %v, want a RecordError for record 11001", err)
	}
	// A stream that fails.
	failing := func(yield func(audit.Event, error) bool) {
		for i, e := range spread(3000, 3) {
			if i == 2500 {
				yield(audit.Event{}, errors.New("line 2501: unexpected EOF"))
				return
			}
			if !yield(e, nil) {
				return
			}
		}
	}
	if _, err := audit.Import(ctx, s, failing); err == nil || err.Error() != "line 2501: unexpected EOF" {
		t.Fatalf("err = %v, want the stream's error as it is", err)
	}
	if n := len(collect(t, s, audit.Filter{})); n != 5 {
		t.Fatalf("%d events after failed imports, want the 5 of before", n)
	}
	seq, _, err := s.Head(ctx)
	if err != nil || seq != 5 {
		t.Fatalf("Head = %d, %v; want 5", seq, err)
	}
	// The store still works.
	if res, err := audit.Import(ctx, s, stream(storetest.Events(3, 4))); err != nil || res.Added != 3 {
		t.Fatalf("Import after failures: %+v, %v", res, err)
	}
}

// TestImportSlowProducer: while an import's stream is still being read,
// other writers are not held up (the stream is staged before the import
// takes the head), and what they write comes before the import's events.
func TestImportSlowProducer(t *testing.T) {
	ctx := context.Background()
	dsn := freshSchema(t)
	s := open(t, dsn, testOptions)
	if err := s.Init(ctx); err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	slow := func(yield func(audit.Event, error) bool) {
		for i, e := range storetest.Events(10, 1) {
			if i == 5 {
				<-release
			}
			if !yield(e, nil) {
				return
			}
		}
	}
	done := make(chan error, 1)
	go func() {
		_, err := audit.Import(ctx, s, slow)
		done <- err
	}()
	time.Sleep(200 * time.Millisecond)
	other := open(t, dsn, testOptions)
	actx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	batch := storetest.Events(3, 2)
	if _, err := other.Append(actx, batch); err != nil {
		t.Fatalf("Append while an import reads its stream: %v", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	stored := collect(t, s, audit.Filter{})
	if len(stored) != 13 || stored[0].ID != batch[0].ID {
		t.Fatalf("stored %d events starting with %s, want 13 starting with the appended %s", len(stored), stored[0].ID, batch[0].ID)
	}
	verifyChain(t, stored, nil)
}

func TestImportEmpty(t *testing.T) {
	s := open(t, freshSchema(t), testOptions)
	res, err := audit.Import(context.Background(), s, stream(nil))
	if err != nil || res != (audit.AppendResult{}) {
		t.Fatalf("Import of nothing = %+v, %v", res, err)
	}
	if n := len(collect(t, s, audit.Filter{})); n != 0 {
		t.Fatalf("%d events", n)
	}
}

// TestPartitions: events land in the partition of their month, and the
// partitions exist for exactly the months written (and this month and the
// next).
func TestPartitions(t *testing.T) {
	ctx := context.Background()
	dsn := freshSchema(t)
	s := open(t, dsn, testOptions)
	var events []audit.Event
	for i, ts := range []string{"2024-02-29T23:59:59.999999999Z", "2024-03-01T00:00:00Z", "1970-01-01T00:00:00Z"} {
		e := storetest.Events(1, int64(i))[0]
		e.ID = fmt.Sprint("p", i)
		e.Time, _ = time.Parse(time.RFC3339Nano, ts)
		events = append(events, e)
	}
	if _, err := s.Append(ctx, events); err != nil {
		t.Fatal(err)
	}
	conn := connect(t, dsn)
	var got []string
	rows, err := conn.Query(ctx, "SELECT tableoid::regclass::text FROM audit_events ORDER BY seq")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		got = append(got, name)
	}
	if want := []string{"audit_events_2024_02", "audit_events_2024_03", "audit_events_1970_01"}; !slices.Equal(got, want) {
		t.Fatalf("events in %v, want %v", got, want)
	}
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_inherits WHERE inhparent = 'audit_events'::regclass").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 5 {
		t.Fatalf("%d partitions, want 5 (3 written, this month and the next)", n)
	}
}
