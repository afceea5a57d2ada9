package audit

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"runtime"
	"sync"
	"time"
)

// Tamper evidence: the verification of the hash chain (see chain.go and
// docs/integrity.md) and the retention that prunes its oldest part.
//
// Verification is generic. Any store that tells where its chain starts
// (its Checkpoint) and ends (its Head) is verified by Verify through its
// ordinary Query, so every backend gets `audit verify` for free; a store
// that is better placed to verify itself (the remote store, whose server
// holds the key) implements Verifier instead.

// ChainStore is implemented by stores that keep the hash chain: where it
// ends (Head) and where it starts once older events have been pruned
// (Checkpoint). Together with Query it is all Verify needs.
type ChainStore interface {
	// Head returns the seq and hash of the newest event, 0 and "" when the
	// store is empty: where the chain continues.
	Head(ctx context.Context) (seq int64, hash string, err error)
	// Checkpoint returns the checkpoint of the latest prune, or the zero
	// Checkpoint when the store was never pruned.
	Checkpoint(ctx context.Context) (Checkpoint, error)
}

// Verifier is implemented by stores that verify their chain themselves,
// such as a remote store whose server holds the integrity key. Verify
// prefers it to reading the events.
type Verifier interface {
	Verify(ctx context.Context, opts VerifyOptions) (VerifyResult, error)
}

// VerifyOptions selects what Verify checks.
type VerifyOptions struct {
	// Key is the chain's HMAC key; nil for plain SHA-256. A Verifier store
	// uses its own key instead.
	Key []byte `json:"-"`
	// FromSeq starts the verification at the first event with seq >=
	// FromSeq, trusting the stored hash of the event before it. Since does
	// the same from the first event (by seq) at or after a time. Zero
	// values verify from the start: the checkpoint, or Genesis.
	FromSeq int64     `json:"from_seq,omitempty"`
	Since   time.Time `json:"since,omitzero"`
	// ToSeq ends the verification with the event at or before it; 0 means
	// the head.
	ToSeq int64 `json:"to_seq,omitempty"`
	// Expect, when set, must be a position of the verified chain: the
	// event at Expect.Seq exists and its hash is Expect.Hash. It proves
	// the history up to a published head unchanged and catches a
	// truncated tail.
	Expect *ChainPoint `json:"expect,omitempty"`
	// AllowGaps accepts missing seqs between events that link. Every
	// store assigns seqs contiguously, so by default a gap is reported as
	// deleted events even where the chain links across it (which happens
	// when the tail was deleted and new events were appended since).
	AllowGaps bool `json:"allow_gaps,omitempty"`
	// Progress, when set, is called with the number of events verified
	// since its previous call, every few thousand events.
	Progress func(n int) `json:"-"`
}

// Where a verification starts, in VerifyResult.Start.
const (
	StartGenesis    = "genesis"    // the first event ever, linked to Genesis
	StartCheckpoint = "checkpoint" // the first kept event after a prune
	StartTrusted    = "trusted"    // FromSeq/Since: the stored hash of the event before
)

// VerifyResult tells what a successful Verify checked.
type VerifyResult struct {
	Events     int64      `json:"events"`      // events verified
	First      ChainPoint `json:"first"`       // the first event verified; zero when none
	Last       ChainPoint `json:"last"`        // the last event verified: the head unless ToSeq
	Start      string     `json:"start"`       // StartGenesis, StartCheckpoint or StartTrusted
	StartPoint ChainPoint `json:"start_point"` // what the first event links to
	Checkpoint Checkpoint `json:"checkpoint"`  // the store's checkpoint; zero when never pruned
	Expected   bool       `json:"expected"`    // Expect was given and matched
	Gaps       int64      `json:"gaps"`        // seqs missing between linked events (AllowGaps)
}

// Problem names what an IntegrityError found.
type Problem string

// The problems Verify reports.
const (
	ProblemChanged    Problem = "changed"    // an event's fields or hash were changed
	ProblemDeleted    Problem = "deleted"    // events are missing
	ProblemInserted   Problem = "inserted"   // an event that does not belong was added
	ProblemReordered  Problem = "reordered"  // events were moved to other seqs
	ProblemTruncated  Problem = "truncated"  // the newest events were deleted
	ProblemRewritten  Problem = "rewritten"  // the chain verifies but differs from an expected head
	ProblemCheckpoint Problem = "checkpoint" // the checkpoint was changed
	ProblemKey        Problem = "key"        // nothing verifies: another integrity key, or none
	ProblemPruned     Problem = "pruned"     // the expected head lies in the pruned part
)

// IntegrityError names the first place where the chain does not verify:
// the seq and, when the event exists, its time, user and type, and what
// happened. It matches ErrIntegrity (exit 5).
type IntegrityError struct {
	Seq     int64     `json:"seq"`
	Time    time.Time `json:"time,omitzero"`
	User    string    `json:"user,omitempty"`
	Type    Type      `json:"type,omitempty"`
	Problem Problem   `json:"problem"`
	Detail  string    `json:"detail"` // e.g. "hash mismatch — the event was changed"
}

func (e *IntegrityError) Error() string {
	if e.Time.IsZero() && e.User == "" {
		return fmt.Sprintf("seq %d: %s", e.Seq, e.Detail)
	}
	return fmt.Sprintf("seq %d (%s, %s %s): %s", e.Seq, FormatTime(e.Time), e.User, e.Type, e.Detail)
}

// Is makes every IntegrityError match ErrIntegrity.
func (e *IntegrityError) Is(target error) bool { return target == ErrIntegrity }

func integrityAt(e *Event, p Problem, detail string, args ...any) *IntegrityError {
	return &IntegrityError{Seq: e.Seq, Time: e.Time, User: e.User, Type: e.Type, Problem: p, Detail: fmt.Sprintf(detail, args...)}
}

// Verify checks the hash chain of st: that every event links to the one
// before it, from the checkpoint (or Genesis) to the head, or over the
// range opts selects. It returns an *IntegrityError (matching ErrIntegrity)
// naming the first event that does not fit. A store that implements
// Verifier verifies itself; otherwise st must be a ChainStore, and the
// events are streamed through Query in constant memory.
func Verify(ctx context.Context, st Store, opts VerifyOptions) (VerifyResult, error) {
	if v, ok := st.(Verifier); ok {
		return v.Verify(ctx, opts)
	}
	cs, ok := st.(ChainStore)
	if !ok {
		return VerifyResult{}, fmt.Errorf("this store does not keep a hash chain that audit can verify")
	}
	res, cp, err := verify(ctx, st, cs, opts)
	var ie *IntegrityError
	if errors.As(err, &ie) && ie.Problem != ProblemCheckpoint {
		// A prune that committed while we read may have moved the start;
		// then the failure is ours, not the log's: verify again.
		if now, cerr := cs.Checkpoint(ctx); cerr == nil && (now.Seq != cp.Seq || now.Hash != cp.Hash) {
			res, _, err = verify(ctx, st, cs, opts)
		}
	}
	return res, err
}

func verify(ctx context.Context, st Store, cs ChainStore, opts VerifyOptions) (VerifyResult, Checkpoint, error) {
	var res VerifyResult
	cp, err := cs.Checkpoint(ctx)
	if err != nil {
		return res, cp, err
	}
	res.Checkpoint = cp
	if !cp.IsZero() {
		if _, ok := decodeHash(cp.Hash); !ok || !hmac.Equal([]byte(cp.Seal), []byte(CheckpointSeal(opts.Key, cp))) {
			return res, cp, &IntegrityError{Seq: cp.Seq, Problem: ProblemCheckpoint,
				Detail: fmt.Sprintf("checkpoint seal mismatch — the checkpoint of the prune before %s was changed (or the integrity key is not the one it was sealed with)",
					FormatTime(cp.Before))}
		}
	}
	headSeq, _, err := cs.Head(ctx)
	if err != nil {
		return res, cp, err
	}

	// Where to start: the checkpoint or Genesis, unless a range starts later.
	res.Start, res.StartPoint = StartGenesis, ChainPoint{Seq: 0, Hash: GenesisHex}
	if !cp.IsZero() {
		res.Start, res.StartPoint = StartCheckpoint, ChainPoint{Seq: cp.Seq, Hash: cp.Hash}
	}
	from := opts.FromSeq
	if !opts.Since.IsZero() {
		e, ok, err := first(ctx, st, Filter{Since: opts.Since, Limit: 1, Order: Ascending})
		if err != nil {
			return res, cp, err
		}
		if !ok {
			if opts.Expect != nil {
				return res, cp, fmt.Errorf("%w: no event since %s to verify up to the expected head", ErrInvalid, FormatTime(opts.Since))
			}
			return res, cp, nil
		}
		from = max(from, e.Seq)
	}
	if from > res.StartPoint.Seq+1 {
		e, ok, err := first(ctx, st, Filter{Before: from, Limit: 1, Order: Descending})
		if err != nil {
			return res, cp, err
		}
		if ok && e.Seq > res.StartPoint.Seq {
			res.Start, res.StartPoint = StartTrusted, ChainPoint{Seq: e.Seq, Hash: e.Hash}
		}
	}
	end := headSeq
	if opts.ToSeq > 0 {
		end = min(opts.ToSeq, headSeq)
	}

	// An expected head at or before the start is checked against it.
	expect := opts.Expect
	if expect != nil {
		switch {
		case opts.ToSeq > 0 && expect.Seq > opts.ToSeq:
			return res, cp, fmt.Errorf("%w: the expected head seq %d lies after the end of the range (seq %d)", ErrInvalid, expect.Seq, opts.ToSeq)
		case res.Start == StartTrusted && expect.Seq <= res.StartPoint.Seq:
			return res, cp, fmt.Errorf("%w: the expected head seq %d lies before the verified range, which starts after seq %d",
				ErrInvalid, expect.Seq, res.StartPoint.Seq)
		case expect.Seq < res.StartPoint.Seq:
			return res, cp, &IntegrityError{Seq: expect.Seq, Problem: ProblemPruned,
				Detail: fmt.Sprintf("the expected head was pruned (the log now starts after the checkpoint at seq %d): check it against the archive %s",
					cp.Seq, orNone(cp.Archive))}
		case expect.Seq == res.StartPoint.Seq:
			if expect.Hash != res.StartPoint.Hash {
				return res, cp, &IntegrityError{Seq: expect.Seq, Problem: ProblemRewritten,
					Detail: fmt.Sprintf("the %s hash %s differs from the expected %s — the history up to it was rewritten",
						res.Start, ShortHash(res.StartPoint.Hash), ShortHash(expect.Hash))}
			}
			res.Expected, expect = true, nil
		}
	}

	v := NewChainVerifier(opts.Key, res.StartPoint)
	v.AllowGaps = opts.AllowGaps
	if expect != nil {
		v.ExpectHead(*expect)
	}
	if res.Start != StartTrusted {
		v.anchor = res.Start
	}
	const every = 4096
	pending := 0
	after := res.StartPoint.Seq
	if cr, ok := st.(CanonicalReader); ok && end > after {
		done, err := readFast(ctx, st, cr, v, end, opts.Progress)
		if err != nil {
			return res, cp, err
		}
		if !done {
			// A link failed somewhere: go through it in order, so that
			// Query can explain the first one.
			err := cr.ReadCanonical(ctx, after, end+1, func(seq int64, canonical, hash []byte) error {
				if !v.AddCanonical(seq, canonical, hash) {
					return errFallBack
				}
				if pending++; pending == every {
					if err := ctx.Err(); err != nil {
						return err
					}
					pending = 0
				}
				return nil
			})
			if err != nil && err != errFallBack {
				return res, cp, err
			}
			pending = 0
		}
		after = v.prevSeq
	}
	if end > after {
		f := Filter{After: after, Before: end + 1, Order: Ascending}
		for e, err := range st.Query(ctx, f) {
			if err != nil {
				return res, cp, err
			}
			if err := v.Add(&e); err != nil {
				return res, cp, err
			}
			if pending++; pending == every {
				if err := ctx.Err(); err != nil {
					return res, cp, err
				}
				if opts.Progress != nil {
					opts.Progress(pending)
				}
				pending = 0
			}
		}
	}
	if opts.Progress != nil && pending > 0 {
		opts.Progress(pending)
	}
	if err := v.Close(); err != nil {
		return res, cp, err
	}
	res.Events, res.First, res.Last, res.Gaps = v.Events(), v.First(), v.Last(), v.Gaps()
	if expect != nil {
		res.Expected = true
	}
	if headSeq == 0 && !cp.IsZero() {
		// A prune always keeps the newest event.
		return res, cp, &IntegrityError{Seq: cp.Seq + 1, Problem: ProblemTruncated,
			Detail: fmt.Sprintf("no event follows the checkpoint at seq %d, though a prune keeps the newest — the events after it were deleted", cp.Seq)}
	}
	if opts.ToSeq == 0 && headSeq > 0 && v.prevSeq != headSeq {
		// Head and Query disagree: the newest events went while we read.
		return res, cp, &IntegrityError{Seq: headSeq, Problem: ProblemTruncated,
			Detail: fmt.Sprintf("the head event is missing; the log ends at seq %d — events were deleted from the end", v.prevSeq)}
	}
	return res, cp, nil
}

// Verify reads a CanonicalReader in this many seq ranges at once, each of
// at least parallelMin events, so that a large log verifies at the speed of
// several cores: reading rows costs more than hashing them.
const (
	parallelMax = 4
	parallelMin = 50_000
)

// readFast verifies the events after v's position up to seq end through
// cr, in parallel ranges when there are enough of them, and reports whether
// all of them link. When one does not, v is left as it was, for an ordered
// pass to find and explain the first failure. Each range starts from the
// stored hash of the event before it, and that is then checked to be the
// last hash its predecessor verified, so every link is verified once.
func readFast(ctx context.Context, st Store, cr CanonicalReader, v *ChainVerifier, end int64, progress func(int)) (bool, error) {
	after := v.prevSeq
	k := min(parallelMax, runtime.GOMAXPROCS(0), int((end-after)/parallelMin))
	if k < 1 {
		k = 1
	}
	var mu sync.Mutex
	report := func(n int) {
		if progress != nil {
			mu.Lock()
			progress(n)
			mu.Unlock()
		}
	}
	// Range i covers seqs (bounds[i], bounds[i+1]]; segs[i] verifies it,
	// starting from the last event at or before bounds[i].
	met := false // whether a range takes the expected head
	bounds := make([]int64, k+1)
	segs := make([]*ChainVerifier, k)
	for i := range bounds {
		bounds[i] = after + (end-after)*int64(i)/int64(k)
	}
	for i := range segs {
		start := ChainPoint{Seq: v.prevSeq, Hash: hex.EncodeToString(v.prev[:])}
		if i > 0 {
			e, ok, err := first(ctx, st, Filter{Before: bounds[i] + 1, Limit: 1, Order: Descending})
			if err != nil {
				return false, err
			}
			if ok && e.Seq > after {
				start = ChainPoint{Seq: e.Seq, Hash: e.Hash}
			}
		}
		seg := NewChainVerifier(v.key, start)
		seg.h = v.h
		if i > 0 {
			seg.h = newHash(v.key)
		}
		seg.AllowGaps = v.AllowGaps
		if x := v.expect; x != nil && x.Seq > bounds[i] && x.Seq <= bounds[i+1] {
			seg.ExpectHead(*x)
			met = true // unless the range says otherwise below
		}
		segs[i] = seg
	}
	errs := make([]error, k)
	var wg sync.WaitGroup
	for i, seg := range segs {
		wg.Go(func() {
			pending := 0
			errs[i] = cr.ReadCanonical(ctx, seg.prevSeq, bounds[i+1]+1, func(seq int64, canonical, hash []byte) error {
				if !seg.AddCanonical(seq, canonical, hash) {
					return errFallBack
				}
				if pending++; pending == 4096 {
					if err := ctx.Err(); err != nil {
						return err
					}
					report(pending)
					pending = 0
				}
				return nil
			})
			report(pending)
		})
	}
	wg.Wait()
	ok := true
	for i, err := range errs {
		switch {
		case err == errFallBack:
			ok = false
		case err != nil:
			return false, err
		case segs[i].expect != nil:
			ok = false
		case i > 0 && (segs[i-1].prevSeq != segs[i].startSeq || segs[i-1].prev != segs[i].start):
			ok = false // the ranges do not meet: let the ordered pass say why
		}
	}
	if !ok {
		return false, nil
	}
	for _, seg := range segs {
		if v.n == 0 && seg.n > 0 {
			v.first = seg.first
		}
		v.n += seg.n
		v.gaps += seg.gaps
	}
	last := segs[k-1]
	v.prev, v.prevSeq = last.prev, last.prevSeq
	if met {
		v.expect = nil
	}
	return true, nil
}

func newHash(key []byte) hash.Hash {
	if len(key) > 0 {
		return hmac.New(sha256.New, key)
	}
	return sha256.New()
}

// errFallBack ends the fast read of a CanonicalReader where Query takes over.
var errFallBack = errors.New("fall back to Query")

// first returns the first event of a query, if any.
func first(ctx context.Context, st Store, f Filter) (Event, bool, error) {
	for e, err := range st.Query(ctx, f) {
		return e, err == nil, err
	}
	return Event{}, false, nil
}

func orNone(s string) string {
	if s == "" {
		return "(none was written)"
	}
	return s
}

// ShortHash shortens a hash for messages: its first 12 hex digits and "…".
func ShortHash(h string) string {
	if len(h) > 12 {
		return h[:12] + "…"
	}
	return h
}
