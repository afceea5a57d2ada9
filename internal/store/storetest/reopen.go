package storetest

import (
	"context"
	"testing"

	"github.com/audit-cli/audit/internal/audit"
)

// Reopener reaches the one store of a test from new handles, as separate
// processes would.
type Reopener struct {
	// Open opens the store (a new handle at each call) with the chain
	// key; the suite closes it.
	Open func(t *testing.T, key []byte) audit.Store
	// DeleteAbove deletes the events with a seq above seq behind the
	// store's back (as someone with the database's own tools would), or
	// is nil where that cannot be done.
	DeleteAbove func(t *testing.T, seq int64)
}

// RunReopen runs the tests of a store that outlives its handles: each
// subtest calls fresh for a new, empty store and reopens it.
func RunReopen(t *testing.T, fresh func(t *testing.T) Reopener) {
	t.Run("ReopenContinues", func(t *testing.T) { testReopenContinues(t, fresh(t)) })
	t.Run("SeqNeverReused", func(t *testing.T) {
		r := fresh(t)
		if r.DeleteAbove == nil {
			t.Skip("this backend cannot delete rows behind the store's back")
		}
		testSeqNeverReused(t, r)
	})
}

// testReopenContinues: three handles one after another append to one
// store; the seqs run on without a gap, Head follows, and the chain
// verifies across the handles.
func testReopenContinues(t *testing.T, r Reopener) {
	ctx := context.Background()
	key := []byte("chain key")
	var all []audit.Event
	for round := range 3 {
		s := r.Open(t, key)
		batch := Events(10, int64(round))
		if _, err := s.Append(ctx, batch); err != nil {
			t.Fatal(err)
		}
		all = append(all, batch...)
		if cs, ok := s.(audit.ChainStore); ok {
			seq, hash, err := cs.Head(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if want := int64(10 * (round + 1)); seq != want || hash != batch[9].Hash {
				t.Fatalf("Head = %d %s, want %d %s", seq, hash, want, batch[9].Hash)
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	s := r.Open(t, key)
	defer s.Close()
	stored := query(t, s, audit.Filter{})
	if len(stored) != 30 {
		t.Fatalf("%d events, want 30", len(stored))
	}
	for i, e := range stored {
		if e.Seq != int64(i+1) || e.ID != all[i].ID {
			t.Fatalf("event %d: seq %d id %s, want %d %s", i, e.Seq, e.ID, i+1, all[i].ID)
		}
	}
	res, err := audit.Verify(ctx, s, audit.VerifyOptions{Key: key})
	if err != nil || res.Events != 30 {
		t.Fatalf("verify across handles: %+v, %v", res, err)
	}
}

// testSeqNeverReused: after the newest rows are deleted behind the
// store's back, the next event still gets a seq never given before.
func testSeqNeverReused(t *testing.T, r Reopener) {
	ctx := context.Background()
	s := r.Open(t, nil)
	defer s.Close()
	if _, err := s.Append(ctx, Events(5, 1)); err != nil {
		t.Fatal(err)
	}
	r.DeleteAbove(t, 3)
	batch := Events(1, 2)
	if _, err := s.Append(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if batch[0].Seq != 6 {
		t.Fatalf("seq after deleting the newest rows = %d, want 6", batch[0].Seq)
	}
}
