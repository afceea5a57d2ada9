package audit_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"iter"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/store/storetest"
)

// memStore is an audit.Store in a slice, with the chain computed as the
// real stores compute it, which tests may then tamper with directly. With
// canonical set it is also an audit.CanonicalReader, so both of Verify's
// paths run over the same data.
type memStore struct {
	events    []audit.Event
	cp        audit.Checkpoint
	canonical bool
}

func newMemStore(n int, key []byte) *memStore {
	s := &memStore{}
	events := storetest.Events(n, 42)
	if err := audit.ValidateBatch(events); err != nil {
		panic(err)
	}
	chain := audit.NewChain(key)
	prev := ""
	for i := range events {
		events[i].Seq = int64(i + 1)
		prev, _ = chain.NextHex(prev, &events[i])
		events[i].Hash = prev
	}
	s.events = events
	return s
}

func (s *memStore) Append(context.Context, []audit.Event) (audit.AppendResult, error) {
	return audit.AppendResult{}, errors.New("read-only")
}

func (s *memStore) Query(ctx context.Context, f audit.Filter) iter.Seq2[audit.Event, error] {
	return func(yield func(audit.Event, error) bool) {
		n := 0
		emit := func(e audit.Event) bool {
			if !f.Match(&e) {
				return true
			}
			n++
			return yield(e, nil) && (f.Limit == 0 || n < f.Limit)
		}
		if f.Order == audit.Descending {
			for i := len(s.events) - 1; i >= 0; i-- {
				if !emit(s.events[i]) {
					return
				}
			}
			return
		}
		for _, e := range s.events {
			if !emit(e) {
				return
			}
		}
	}
}

func (s *memStore) Get(context.Context, string) (audit.Event, error) {
	return audit.Event{}, audit.ErrNotFound
}

func (s *memStore) Follow(context.Context, audit.Filter) iter.Seq2[audit.Event, error] {
	return func(func(audit.Event, error) bool) {}
}

func (s *memStore) Close() error { return nil }

func (s *memStore) Head(context.Context) (int64, string, error) {
	if len(s.events) == 0 {
		return 0, "", nil
	}
	e := s.events[len(s.events)-1]
	return e.Seq, e.Hash, nil
}

func (s *memStore) Checkpoint(context.Context) (audit.Checkpoint, error) { return s.cp, nil }

// withCanonical adds the fast path of audit.CanonicalReader.
type withCanonical struct{ *memStore }

func (s withCanonical) ReadCanonical(ctx context.Context, after, before int64, fn func(int64, []byte, []byte) error) error {
	for _, e := range s.events {
		if e.Seq > after && (before <= 0 || e.Seq < before) {
			if err := fn(e.Seq, e.Canonical(), []byte(e.Hash)); err != nil {
				return err
			}
		}
	}
	return nil
}

// both runs f with the store as a plain ChainStore and as a
// CanonicalReader.
func both(t *testing.T, s *memStore, f func(t *testing.T, st audit.Store)) {
	t.Run("Query", func(t *testing.T) { f(t, s) })
	t.Run("ReadCanonical", func(t *testing.T) { f(t, withCanonical{s}) })
}

var testKey = []byte("0123456789abcdef0123456789abcdef")

func TestVerifyOK(t *testing.T) {
	for _, key := range [][]byte{nil, testKey} {
		s := newMemStore(500, key)
		both(t, s, func(t *testing.T, st audit.Store) {
			res, err := audit.Verify(context.Background(), st, audit.VerifyOptions{Key: key})
			if err != nil {
				t.Fatal(err)
			}
			want := audit.VerifyResult{Events: 500, First: point(s.events[0]), Last: point(s.events[499]),
				Start: audit.StartGenesis, StartPoint: audit.ChainPoint{Seq: 0, Hash: audit.GenesisHex}}
			if res != want {
				t.Fatalf("Verify = %+v, want %+v", res, want)
			}
		})
	}
}

func point(e audit.Event) audit.ChainPoint { return audit.ChainPoint{Seq: e.Seq, Hash: e.Hash} }

func TestVerifyTampered(t *testing.T) {
	tests := []struct {
		name    string
		tamper  func(s *memStore)
		seq     int64
		problem audit.Problem
		detail  string
	}{
		{"changed", func(s *memStore) { s.events[99].Details = "x" }, 100, audit.ProblemChanged, "hash mismatch — the event was changed"},
		{"changed newest", func(s *memStore) { s.events[299].Action = "x" }, 300, audit.ProblemChanged, "the newest event was changed, or forged and appended"},
		{"deleted", func(s *memStore) { s.events = append(s.events[:99], s.events[100:]...) }, 101, audit.ProblemDeleted,
			"does not link to the event before it: seq 100 is missing — 1 event was deleted"},
		{"deleted first", func(s *memStore) { s.events = s.events[1:] }, 2, audit.ProblemDeleted,
			"does not link to the genesis hash: seq 1 is missing — 1 event was deleted"},
		{"swapped", func(s *memStore) {
			s.events[99], s.events[100] = s.events[100], s.events[99]
			s.events[99].Seq, s.events[100].Seq = 100, 101
		}, 100, audit.ProblemReordered, "out of order"},
		{"inserted", func(s *memStore) {
			forged := s.events[50]
			forged.ID, forged.User, forged.Seq = "forged", "eve", 0
			s.events = append(s.events[:100], append([]audit.Event{forged}, s.events[100:]...)...)
			for i := range s.events {
				s.events[i].Seq = int64(i + 1)
			}
		}, 101, audit.ProblemInserted, "a forged event was inserted"},
		{"inserted into a gap", func(s *memStore) {
			forged := s.events[50]
			forged.ID, forged.Seq = "forged", 101
			s.events[100] = forged
		}, 101, audit.ProblemChanged, "the event was changed"},
		{"gap with links", func(s *memStore) {
			s.events = s.events[:200]
			e := s.events[199]
			next := storetest.Events(1, 7)[0]
			audit.ValidateBatch([]audit.Event{next})
			next.Seq = 210
			next.Hash, _ = audit.NewChain(nil).NextHex(e.Hash, &next)
			s.events = append(s.events, next)
		}, 210, audit.ProblemDeleted, "seq 201–209 are missing though the chain links across"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newMemStore(300, nil)
			tt.tamper(s)
			both(t, s, func(t *testing.T, st audit.Store) {
				_, err := audit.Verify(context.Background(), st, audit.VerifyOptions{})
				var ie *audit.IntegrityError
				if !errors.As(err, &ie) || !errors.Is(err, audit.ErrIntegrity) {
					t.Fatalf("Verify: %v, want an IntegrityError", err)
				}
				if ie.Seq != tt.seq || ie.Problem != tt.problem || !strings.Contains(err.Error(), tt.detail) {
					t.Fatalf("Verify: %v (%s); want seq %d, %s, with %q", err, ie.Problem, tt.seq, tt.problem, tt.detail)
				}
			})
		})
	}
}

func TestIntegrityErrorMessage(t *testing.T) {
	e := &audit.IntegrityError{Seq: 48211, Time: time.Date(2026, 11, 20, 14, 2, 11, 0, time.UTC), User: "jdavis",
		Type: audit.TypeUpdate, Problem: audit.ProblemChanged, Detail: "hash mismatch — the event was changed"}
	want := "seq 48211 (2026-11-20T14:02:11Z, jdavis update): hash mismatch — the event was changed"
	if e.Error() != want || !errors.Is(fmt.Errorf("wrapped: %w", e), audit.ErrIntegrity) {
		t.Fatalf("Error() = %q, want %q, matching ErrIntegrity", e.Error(), want)
	}
	e = &audit.IntegrityError{Seq: 7, Problem: audit.ProblemTruncated, Detail: "gone"}
	if e.Error() != "seq 7: gone" {
		t.Fatalf("Error() = %q", e.Error())
	}
}

func TestParseChainPoint(t *testing.T) {
	h := strings.Repeat("ab", 32)
	for _, tt := range []struct {
		in   string
		want audit.ChainPoint
		ok   bool
	}{
		{"42:" + h, audit.ChainPoint{Seq: 42, Hash: h}, true},
		{" 42:" + strings.ToUpper(h) + "\n", audit.ChainPoint{Seq: 42, Hash: h}, true},
		{"0:" + audit.GenesisHex, audit.ChainPoint{Seq: 0, Hash: audit.GenesisHex}, true},
		{"42", audit.ChainPoint{}, false},
		{"42:abc", audit.ChainPoint{}, false},
		{"-1:" + h, audit.ChainPoint{}, false},
		{"x:" + h, audit.ChainPoint{}, false},
		{"42:" + h[:63] + "g", audit.ChainPoint{}, false},
	} {
		got, err := audit.ParseChainPoint(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseChainPoint(%q) = %v, %v; want %v, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
		if err == nil && got.String() != fmt.Sprintf("%d:%s", tt.want.Seq, tt.want.Hash) {
			t.Errorf("String() = %q", got.String())
		}
	}
}

func TestVerifyFromCheckpoint(t *testing.T) {
	s := newMemStore(100, testKey)
	last := s.events[39]
	s.cp = audit.Checkpoint{Seq: last.Seq, Hash: last.Hash, Events: 40, Created: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	s.cp.Seal = audit.CheckpointSeal(testKey, s.cp)
	s.events = s.events[40:]
	both(t, s, func(t *testing.T, st audit.Store) {
		res, err := audit.Verify(context.Background(), st, audit.VerifyOptions{Key: testKey})
		if err != nil || res.Start != audit.StartCheckpoint || res.Events != 60 || res.First.Seq != 41 {
			t.Fatalf("Verify = %+v, %v", res, err)
		}
		_, err = audit.Verify(context.Background(), st, audit.VerifyOptions{Key: testKey, Expect: &audit.ChainPoint{Seq: 3, Hash: audit.GenesisHex}})
		var ie *audit.IntegrityError
		if !errors.As(err, &ie) || ie.Problem != audit.ProblemPruned {
			t.Fatalf("an expected head before the checkpoint: %v", err)
		}
	})
	s.cp.Events = 41 // a field changed by hand
	_, err := audit.Verify(context.Background(), s, audit.VerifyOptions{Key: testKey})
	var ie *audit.IntegrityError
	if !errors.As(err, &ie) || ie.Problem != audit.ProblemCheckpoint || ie.Seq != 40 {
		t.Fatalf("Verify of a changed checkpoint: %v", err)
	}
}

// The seal and the chain are pinned: docs/integrity.md shows these values
// and independent verifiers compute them.
func TestKnownAnswers(t *testing.T) {
	e := audit.Event{Seq: 1, ID: "seed-1", Time: time.Date(2026, 11, 26, 14, 34, 0, 0, time.UTC), User: "jdavis",
		UserName: "John Davis", Type: audit.TypeUpdate, Action: "Updated", ResourceType: "server", Resource: "bbb-node-1",
		Details: "Changed load_multiplier from 1.0 to 1.5", IP: "192.168.1.100", Outcome: audit.OutcomeSuccess}
	wantCanonical := "1:1\n6:seed-1\n20:2026-11-26T14:34:00Z\n6:jdavis\n10:John Davis\n6:update\n7:Updated\n6:server\n10:bbb-node-1\n39:Changed load_multiplier from 1.0 to 1.5\n13:192.168.1.100\n7:success\n"
	if got := string(e.Canonical()); got != wantCanonical {
		t.Fatalf("Canonical = %q, want %q", got, wantCanonical)
	}
	for _, tt := range []struct {
		key  []byte
		want string
	}{
		{nil, knownSHA256},
		{[]byte("example key: 16+ bytes\n"), knownHMAC},
	} {
		got, _ := audit.NewChain(tt.key).NextHex("", &e)
		if got != tt.want {
			t.Errorf("hash with key %q = %s, want %s", tt.key, got, tt.want)
		}
	}
}

// The values of docs/integrity.md's worked example.
const (
	knownSHA256 = "bf91b740bcdeccd70a4d9873f78442c28e167d0560cd09042e4675531091ff52"
	knownHMAC   = "4d4d63db7f5aa41e2e1ab9fd2e8dda1a1561370bfd1f549b7fe696f4cc1c5efe"
)

func TestChainVerifierAllocations(t *testing.T) {
	s := newMemStore(2000, testKey)
	canon := make([][]byte, len(s.events))
	for i := range s.events {
		canon[i] = s.events[i].Canonical()
	}
	hashes := make([][]byte, len(s.events))
	for i := range s.events {
		hashes[i] = []byte(s.events[i].Hash)
	}
	v := audit.NewChainVerifier(testKey, audit.ChainPoint{Seq: 0, Hash: audit.GenesisHex})
	i := 0
	allocs := testing.AllocsPerRun(1000, func() {
		if i == 0 {
			// the first event records where the chain began
			v.AddCanonical(s.events[0].Seq, canon[0], hashes[0])
			i++
		}
		if !v.AddCanonical(s.events[i].Seq, canon[i], hashes[i]) {
			t.Fatalf("AddCanonical seq %d failed", s.events[i].Seq)
		}
		i++
	})
	if allocs != 0 {
		t.Fatalf("AddCanonical allocates %.1f times per event, want 0", allocs)
	}
	allocs = testing.AllocsPerRun(500, func() {
		if err := v.Add(&s.events[i]); err != nil {
			t.Fatal(err)
		}
		i++
	})
	if allocs != 0 {
		t.Fatalf("Add allocates %.1f times per event, want 0", allocs)
	}
	if err := v.Close(); err != nil || v.Events() != int64(i) || v.Last() != point(s.events[i-1]) {
		t.Fatalf("after %d events: Close %v, Events %d, Last %v", i, err, v.Events(), v.Last())
	}
}

func TestCanonicalBytes(t *testing.T) {
	// The encoding is unambiguous: moving bytes between fields changes it.
	a := audit.Event{Seq: 1, ID: "a", User: "ab", UserName: "c"}
	b := audit.Event{Seq: 1, ID: "a", User: "a", UserName: "bc"}
	if bytes.Equal(a.Canonical(), b.Canonical()) {
		t.Fatal("different events share a canonical encoding")
	}
}

// NextTail, which a bulk import uses to hash an event whose encoding was
// made before it had a seq, gives the hash Next does.
func TestNextTail(t *testing.T) {
	s := newMemStore(50, nil)
	for _, key := range [][]byte{nil, []byte("k")} {
		chain := audit.NewChain(key)
		prev := audit.Genesis
		for i := range s.events {
			e := s.events[i]
			e.Seq = int64(i*997 + 1) // one to five digits
			want := chain.Next(prev, &e)
			tail := e.CanonicalTail()
			e.Seq = 0
			if got := chain.NextTail(prev, int64(i*997+1), tail); !bytes.Equal(got, want) {
				t.Fatalf("key %q, event %d: NextTail = %x, Next = %x", key, i, got, want)
			}
			prev = want
		}
	}
}

func BenchmarkChainVerifier(b *testing.B) {
	s := newMemStore(10_000, nil)
	canon := make([][]byte, len(s.events))
	hashes := make([][]byte, len(s.events))
	for i := range s.events {
		canon[i], hashes[i] = s.events[i].Canonical(), []byte(s.events[i].Hash)
	}
	for b.Loop() {
		v := audit.NewChainVerifier(nil, audit.ChainPoint{})
		for i := range s.events {
			if !v.AddCanonical(s.events[i].Seq, canon[i], hashes[i]) {
				b.Fatal("broken")
			}
		}
	}
	b.ReportMetric(float64(b.N*len(s.events))/b.Elapsed().Seconds(), "events/s")
}

// docs/integrity.md shows docs/verify_export.py in full; the copy the
// tests run must be the one readers see.
func TestDocumentedScript(t *testing.T) {
	doc, err := os.ReadFile("../../docs/integrity.md")
	if err != nil {
		t.Fatal(err)
	}
	script, err := os.ReadFile("../../docs/verify_export.py")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := bytes.Cut(doc, []byte("```python\n"))
	shown, _, ok2 := bytes.Cut(rest, []byte("```\n"))
	if !ok || !ok2 || !bytes.Equal(shown, script) {
		t.Fatal("the script in docs/integrity.md differs from docs/verify_export.py")
	}
	for _, want := range []string{knownSHA256, knownHMAC} {
		if !bytes.Contains(doc, []byte(want)) {
			t.Errorf("docs/integrity.md does not show the known answer %s", want)
		}
	}
}

func TestVerifyRangeBeyondHead(t *testing.T) {
	s := newMemStore(10, nil)
	both(t, s, func(t *testing.T, st audit.Store) {
		res, err := audit.Verify(context.Background(), st, audit.VerifyOptions{FromSeq: 50})
		if err != nil || res.Events != 0 {
			t.Fatalf("Verify --from-seq past the head = %+v, %v; want OK with no events", res, err)
		}
		res, err = audit.Verify(context.Background(), st, audit.VerifyOptions{Since: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)})
		if err != nil || res.Events != 0 {
			t.Fatalf("Verify --since the future = %+v, %v; want OK with no events", res, err)
		}
		res, err = audit.Verify(context.Background(), st, audit.VerifyOptions{ToSeq: 50})
		if err != nil || res.Events != 10 {
			t.Fatalf("Verify --to-seq past the head = %+v, %v", res, err)
		}
	})
}
