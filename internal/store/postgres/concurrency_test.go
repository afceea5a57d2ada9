package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/store/postgres"
	"github.com/audit-cli/audit/internal/store/storetest"
)

// TestCommitOrderedSeq is the proof that seq is commit-ordered: 8 writers,
// each with a store of its own (as 8 processes would have), append 5,000
// events each in batches while a Follow and a pager (a loop of Query with
// After = the last seq it saw, as `watch` and `list --after` work) read
// concurrently. If a writer could commit seq N+1 while seq N was still
// uncommitted, a reader would see N+1, move past N and never find it: the
// readers would miss events. They must get every event exactly once, in
// seq order, and the seqs must be 1…40,000 without a gap.
func TestCommitOrderedSeq(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 40,000 events")
	}
	const writers, perWriter, batch = 8, 5000, 100
	const total = writers * perWriter
	ctx := context.Background()
	dsn := freshSchema(t)
	reader := open(t, dsn, testOptions)
	if err := reader.Init(ctx); err != nil {
		t.Fatal(err)
	}

	// The follower.
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	followed := make(chan []int64, 1)
	go func() {
		var seqs []int64
		for e, err := range reader.Follow(fctx, audit.Filter{}) {
			if err != nil {
				t.Errorf("Follow: %v", err)
				break
			}
			seqs = append(seqs, e.Seq)
			if e.Seq >= total {
				break
			}
		}
		followed <- seqs
	}()

	// The pager: small pages, as fast as it can, so that it often reads
	// while commits are in flight.
	paged := make(chan []int64, 1)
	go func() {
		var seqs []int64
		deadline := time.Now().Add(2 * time.Minute)
		for (len(seqs) == 0 || seqs[len(seqs)-1] < total) && time.Now().Before(deadline) {
			f := audit.Filter{Limit: 50}
			if len(seqs) > 0 {
				f.After = seqs[len(seqs)-1]
			}
			for e, err := range reader.Query(ctx, f) {
				if err != nil {
					t.Errorf("Query: %v", err)
					paged <- seqs
					return
				}
				seqs = append(seqs, e.Seq)
			}
		}
		paged <- seqs
	}()

	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			s, err := postgres.Open(dsn, testOptions)
			if err != nil {
				errs <- err
				return
			}
			defer s.Close()
			for b := range perWriter / batch {
				events := storetest.Events(batch, int64(10_000+w*1000+b))
				if _, err := s.Append(ctx, events); err != nil {
					errs <- fmt.Errorf("writer %d batch %d: %w", w, b, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	// Each reader stops at the last seq: one that skipped an event has
	// fewer, with a gap.
	check := func(who string, seqs []int64) {
		t.Helper()
		for i, seq := range seqs {
			if seq != int64(i+1) {
				t.Fatalf("%s: event %d has seq %d, want %d (a gap, a repeat or out of order)", who, i, seq, i+1)
			}
		}
		if len(seqs) != total {
			t.Fatalf("%s got %d events, want %d", who, len(seqs), total)
		}
	}
	select {
	case seqs := <-followed:
		check("Follow", seqs)
	case <-time.After(time.Minute):
		t.Fatal("Follow did not get every event within a minute")
	}
	check("the pager", <-paged)

	stored := collect(t, reader, audit.Filter{})
	check("the final Query", func() []int64 {
		s := make([]int64, len(stored))
		for i, e := range stored {
			s[i] = e.Seq
		}
		return s
	}())
	verifyChain(t, stored, nil)
}
