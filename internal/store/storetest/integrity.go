package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/audit-cli/audit/internal/audit"
)

// RunIntegrity runs the conformance suite of the hash chain (see
// docs/integrity.md) against a backend: the chain it computes on append is
// the documented one, its seqs are contiguous, it tells its head and
// checkpoint (audit.ChainStore) or verifies itself (audit.Verifier), and
// audit.Verify accepts it, its ranges and expected heads, and refuses a
// wrong key. A backend that implements audit.Pruner is also checked to
// prune exactly what it is asked to, leaving a sealed checkpoint, or
// nothing at all.
//
// open returns a new, existing and empty store whose chain uses key (nil
// for plain SHA-256); RunIntegrity closes it when the subtest ends.
// Tampering is backend-specific (SQL on a file, say), so each backend
// tests it on its own.
func RunIntegrity(t *testing.T, open func(t *testing.T, key []byte) audit.Store) {
	key := []byte("storetest integrity key, 32 byte")
	o := func(t *testing.T, key []byte) audit.Store {
		t.Helper()
		s := open(t, key)
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		if _, ok := s.(audit.ChainStore); !ok {
			if _, ok := s.(audit.Verifier); !ok {
				t.Fatalf("%T is neither an audit.ChainStore nor an audit.Verifier", s)
			}
		}
		return s
	}
	for _, k := range []struct {
		name string
		key  []byte
	}{{"SHA256", nil}, {"HMAC", key}} {
		t.Run("ChainIsDocumented/"+k.name, func(t *testing.T) { testChainDocumented(t, o(t, k.key), k.key) })
	}
	t.Run("HeadAndCheckpoint", func(t *testing.T) { testHead(t, o(t, key)) })
	t.Run("VerifyEmpty", func(t *testing.T) { testVerifyEmpty(t, o(t, key), key) })
	t.Run("VerifyWhole", func(t *testing.T) { testVerifyWhole(t, o(t, key), key) })
	t.Run("VerifyRanges", func(t *testing.T) { testVerifyRanges(t, o(t, key), key) })
	t.Run("ExpectHead", func(t *testing.T) { testExpectHead(t, o(t, key), key) })
	t.Run("WrongKey", func(t *testing.T) { testWrongKey(t, o(t, key), o(t, nil), key) })
	t.Run("Prune", func(t *testing.T) { testPrune(t, o(t, key), key) })
	t.Run("PruneRefuses", func(t *testing.T) { testPruneRefuses(t, o(t, key), key) })
}

// chainOf appends batches of generated events and returns them as stored.
func chainOf(t *testing.T, s audit.Store, batches, size int) []audit.Event {
	t.Helper()
	for b := range batches {
		appendOK(t, s, Events(size, int64(500+b)))
	}
	return query(t, s, audit.Filter{})
}

func verifyOK(t *testing.T, s audit.Store, opts audit.VerifyOptions) audit.VerifyResult {
	t.Helper()
	res, err := audit.Verify(context.Background(), s, opts)
	if err != nil {
		t.Fatalf("Verify(%+v): %v", opts, err)
	}
	return res
}

// verifyFails checks that Verify fails with an *audit.IntegrityError of
// the problem, matching audit.ErrIntegrity.
func verifyFails(t *testing.T, s audit.Store, opts audit.VerifyOptions, problem audit.Problem) *audit.IntegrityError {
	t.Helper()
	_, err := audit.Verify(context.Background(), s, opts)
	var ie *audit.IntegrityError
	if !errors.As(err, &ie) || !errors.Is(err, audit.ErrIntegrity) {
		t.Fatalf("Verify(%+v): err = %v, want an *audit.IntegrityError", opts, err)
	}
	if ie.Problem != problem {
		t.Fatalf("Verify(%+v): problem %q (%v), want %q", opts, ie.Problem, err, problem)
	}
	return ie
}

func testChainDocumented(t *testing.T, s audit.Store, key []byte) {
	events := chainOf(t, s, 3, 40)
	if len(events) != 120 {
		t.Fatalf("stored %d events, want 120", len(events))
	}
	chain := audit.NewChain(key)
	prev := ""
	for i, e := range events {
		if i > 0 && e.Seq != events[i-1].Seq+1 {
			t.Fatalf("seq %d follows seq %d: seqs must be contiguous", e.Seq, events[i-1].Seq)
		}
		want, err := chain.NextHex(prev, &e)
		if err != nil {
			t.Fatal(err)
		}
		if e.Hash != want {
			t.Fatalf("seq %d: hash %s, want %s = H(hash of seq %d || Canonical(event))", e.Seq, e.Hash, want, e.Seq-1)
		}
		prev = e.Hash
	}
	if events[0].Seq != 1 {
		t.Fatalf("the first seq is %d, want 1", events[0].Seq)
	}
}

func testHead(t *testing.T, s audit.Store) {
	cs, ok := s.(audit.ChainStore)
	if !ok {
		t.Skip("a Verifier store need not tell its head")
	}
	ctx := context.Background()
	seq, h, err := cs.Head(ctx)
	if err != nil || seq != 0 || h != "" {
		t.Fatalf("Head of an empty store = %d, %q, %v; want 0, \"\", nil", seq, h, err)
	}
	cp, err := cs.Checkpoint(ctx)
	if err != nil || !cp.IsZero() {
		t.Fatalf("Checkpoint of an empty store = %+v, %v; want zero", cp, err)
	}
	events := chainOf(t, s, 2, 10)
	last := events[len(events)-1]
	seq, h, err = cs.Head(ctx)
	if err != nil || seq != last.Seq || h != last.Hash {
		t.Fatalf("Head = %d, %q, %v; want %d, %q", seq, h, err, last.Seq, last.Hash)
	}
	if cp, err := cs.Checkpoint(ctx); err != nil || !cp.IsZero() {
		t.Fatalf("Checkpoint of a store never pruned = %+v, %v; want zero", cp, err)
	}
}

func testVerifyEmpty(t *testing.T, s audit.Store, key []byte) {
	res := verifyOK(t, s, audit.VerifyOptions{Key: key})
	if res.Events != 0 || res.Start != audit.StartGenesis {
		t.Fatalf("Verify of an empty store: %+v, want 0 events from the genesis", res)
	}
	verifyFails(t, s, audit.VerifyOptions{Key: key, Expect: &audit.ChainPoint{Seq: 1, Hash: audit.GenesisHex}}, audit.ProblemTruncated)
}

func testVerifyWhole(t *testing.T, s audit.Store, key []byte) {
	events := chainOf(t, s, 3, 50)
	res := verifyOK(t, s, audit.VerifyOptions{Key: key})
	first, last := events[0], events[len(events)-1]
	if res.Events != int64(len(events)) || res.First != (audit.ChainPoint{Seq: first.Seq, Hash: first.Hash}) ||
		res.Last != (audit.ChainPoint{Seq: last.Seq, Hash: last.Hash}) || res.Start != audit.StartGenesis {
		t.Fatalf("Verify = %+v, want %d events from seq %d to %d", res, len(events), first.Seq, last.Seq)
	}
	var progress int
	verifyOK(t, s, audit.VerifyOptions{Key: key, Progress: func(n int) { progress += n }})
	if progress != len(events) {
		t.Fatalf("Progress counted %d events, want %d", progress, len(events))
	}
}

func testVerifyRanges(t *testing.T, s audit.Store, key []byte) {
	events := chainOf(t, s, 2, 50)
	mid := events[40]
	res := verifyOK(t, s, audit.VerifyOptions{Key: key, FromSeq: mid.Seq})
	if res.Start != audit.StartTrusted || res.StartPoint.Seq != events[39].Seq || res.First.Seq != mid.Seq || res.Events != int64(len(events)-40) {
		t.Fatalf("Verify --from-seq %d = %+v", mid.Seq, res)
	}
	res = verifyOK(t, s, audit.VerifyOptions{Key: key, ToSeq: mid.Seq})
	if res.Last.Seq != mid.Seq || res.Events != 41 {
		t.Fatalf("Verify --to-seq %d = %+v", mid.Seq, res)
	}
	res = verifyOK(t, s, audit.VerifyOptions{Key: key, FromSeq: events[10].Seq, ToSeq: events[20].Seq})
	if res.First.Seq != events[10].Seq || res.Last.Seq != events[20].Seq || res.Events != 11 {
		t.Fatalf("Verify --from-seq --to-seq = %+v", res)
	}
	// --since starts at the first event, by seq, at or after the time.
	since := events[70].Time
	firstSince := events[0]
	for _, e := range events {
		if !e.Time.Before(since) {
			firstSince = e
			break
		}
	}
	res = verifyOK(t, s, audit.VerifyOptions{Key: key, Since: since})
	if res.First.Seq != firstSince.Seq || res.Last.Seq != events[len(events)-1].Seq {
		t.Fatalf("Verify --since %s = %+v, want from seq %d", since, res, firstSince.Seq)
	}
}

func testExpectHead(t *testing.T, s audit.Store, key []byte) {
	events := chainOf(t, s, 2, 30)
	last := events[len(events)-1]
	for _, e := range []audit.Event{events[0], events[17], last} {
		res := verifyOK(t, s, audit.VerifyOptions{Key: key, Expect: &audit.ChainPoint{Seq: e.Seq, Hash: e.Hash}})
		if !res.Expected {
			t.Fatalf("Verify --expect-head %d: Expected is false", e.Seq)
		}
	}
	other := events[16].Hash
	verifyFails(t, s, audit.VerifyOptions{Key: key, Expect: &audit.ChainPoint{Seq: events[17].Seq, Hash: other}}, audit.ProblemRewritten)
	ie := verifyFails(t, s, audit.VerifyOptions{Key: key, Expect: &audit.ChainPoint{Seq: last.Seq + 5, Hash: last.Hash}}, audit.ProblemTruncated)
	if ie.Seq != last.Seq+5 {
		t.Fatalf("truncation reported at seq %d, want %d", ie.Seq, last.Seq+5)
	}
}

func testWrongKey(t *testing.T, keyed, plain audit.Store, key []byte) {
	if _, ok := keyed.(audit.Verifier); ok {
		t.Skip("a Verifier store verifies with its own key")
	}
	chainOf(t, keyed, 1, 20)
	chainOf(t, plain, 1, 20)
	verifyFails(t, keyed, audit.VerifyOptions{Key: []byte("not the key the log was written with")}, audit.ProblemKey)
	verifyFails(t, keyed, audit.VerifyOptions{}, audit.ProblemKey)
	verifyFails(t, plain, audit.VerifyOptions{Key: key}, audit.ProblemKey)
}

func testPrune(t *testing.T, s audit.Store, key []byte) {
	pr, ok := s.(audit.Pruner)
	if !ok {
		t.Skip("not an audit.Pruner")
	}
	ctx := context.Background()
	events := chainOf(t, s, 3, 20)
	cut := events[24]
	req := audit.PruneRequest{Through: cut.Seq, Hash: cut.Hash, Events: 25, Before: cut.Time,
		Archive: "pruned.jsonl", ArchiveSHA256: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}
	cp, err := pr.Prune(ctx, req)
	if err != nil {
		t.Fatalf("Prune(%+v): %v", req, err)
	}
	if cp.Seq != cut.Seq || cp.Hash != cut.Hash || cp.Events != 25 || !cp.Before.Equal(cut.Time) ||
		cp.Archive != req.Archive || cp.ArchiveSHA256 != req.ArchiveSHA256 || cp.Created.IsZero() {
		t.Fatalf("Prune returned checkpoint %+v for %+v", cp, req)
	}
	if cp.Seal != audit.CheckpointSeal(key, cp) {
		t.Fatalf("checkpoint seal %s, want CheckpointSeal = %s", cp.Seal, audit.CheckpointSeal(key, cp))
	}
	if cs, ok := s.(audit.ChainStore); ok {
		got, err := cs.Checkpoint(ctx)
		if err != nil || got.Seq != cp.Seq || got.Hash != cp.Hash || got.Seal != cp.Seal || !got.Created.Equal(cp.Created) {
			t.Fatalf("Checkpoint after Prune = %+v, %v; want %+v", got, err, cp)
		}
		if seq, h, err := cs.Head(ctx); err != nil || seq != events[59].Seq || h != events[59].Hash {
			t.Fatalf("Head after Prune = %d, %q, %v; want the newest event", seq, h, err)
		}
	}
	kept := query(t, s, audit.Filter{})
	equalEvents(t, "events after Prune", kept, events[25:])
	res := verifyOK(t, s, audit.VerifyOptions{Key: key})
	if res.Start != audit.StartCheckpoint || res.StartPoint.Seq != cut.Seq || res.Events != 35 || res.First.Seq != events[25].Seq {
		t.Fatalf("Verify after Prune = %+v, want 35 events from the checkpoint at seq %d", res, cut.Seq)
	}
	// The checkpoint itself is an expected head that still proves; one
	// before it was pruned.
	verifyOK(t, s, audit.VerifyOptions{Key: key, Expect: &audit.ChainPoint{Seq: cut.Seq, Hash: cut.Hash}})
	verifyFails(t, s, audit.VerifyOptions{Key: key, Expect: &audit.ChainPoint{Seq: events[3].Seq, Hash: events[3].Hash}}, audit.ProblemPruned)

	// The chain goes on from the head, and prunes stack.
	more := Events(10, 999)
	appendOK(t, s, more)
	verifyOK(t, s, audit.VerifyOptions{Key: key})
	cut2 := events[40]
	if _, err := pr.Prune(ctx, audit.PruneRequest{Through: cut2.Seq, Hash: cut2.Hash, Events: 16}); err != nil {
		t.Fatal(err)
	}
	res = verifyOK(t, s, audit.VerifyOptions{Key: key})
	if res.StartPoint.Seq != cut2.Seq || res.Events != 19+10 {
		t.Fatalf("Verify after a second Prune = %+v", res)
	}
}

func testPruneRefuses(t *testing.T, s audit.Store, key []byte) {
	pr, ok := s.(audit.Pruner)
	if !ok {
		t.Skip("not an audit.Pruner")
	}
	ctx := context.Background()
	events := chainOf(t, s, 1, 20)
	cut := events[9]
	for _, req := range []audit.PruneRequest{
		{Through: cut.Seq, Hash: events[8].Hash, Events: 10},         // not the archived hash
		{Through: cut.Seq, Hash: cut.Hash, Events: 9},                // not the archived count
		{Through: events[19].Seq, Hash: events[19].Hash, Events: 20}, // the newest stays
		{Through: events[19].Seq + 10, Hash: cut.Hash, Events: 30},   // no such event
		{Through: 0, Hash: cut.Hash, Events: 0},
	} {
		if _, err := pr.Prune(ctx, req); err == nil {
			t.Fatalf("Prune(%+v) succeeded", req)
		}
		if n := len(query(t, s, audit.Filter{})); n != 20 {
			t.Fatalf("a refused Prune(%+v) left %d of 20 events", req, n)
		}
	}
	if _, err := pr.Prune(ctx, audit.PruneRequest{Through: cut.Seq, Hash: cut.Hash, Events: 10}); err != nil {
		t.Fatal(err)
	}
	if _, err := pr.Prune(ctx, audit.PruneRequest{Through: cut.Seq, Hash: cut.Hash, Events: 10}); err == nil {
		t.Fatal("pruning the same events twice succeeded")
	}
	verifyOK(t, s, audit.VerifyOptions{Key: key})
}
