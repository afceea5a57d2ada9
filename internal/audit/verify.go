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
	"strconv"
	"strings"
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

// Pruner is implemented by stores that can delete the oldest part of
// their chain, leaving a Checkpoint from which the rest still verifies.
type Pruner interface {
	// Prune deletes every event with seq <= req.Through in one transaction
	// and records the checkpoint (req.Through and its hash), sealed with
	// the store's chain key. It fails, deleting nothing, unless the stored
	// hash of req.Through is req.Hash, exactly req.Events events are
	// deleted, and a newer event remains: the newest event is never pruned,
	// because the next append continues the chain from it.
	Prune(ctx context.Context, req PruneRequest) (Checkpoint, error)
}

// PruneRequest says what a Prune deletes and what it records. Through,
// Hash and Events come from the archive the caller wrote first, so that
// the store deletes exactly what was archived.
type PruneRequest struct {
	Through       int64     `json:"through"`        // delete every event with seq <= Through
	Hash          string    `json:"hash"`           // the stored hash of event Through
	Events        int64     `json:"events"`         // how many events that deletes
	Before        time.Time `json:"before"`         // the cutoff that chose Through
	Archive       string    `json:"archive"`        // base name of the archive file, "" for none
	ArchiveSHA256 string    `json:"archive_sha256"` // lowercase hex SHA-256 of the archive file
}

// Check is what every Pruner verifies, inside its transaction, before it
// deletes anything: that event Through is still stored (found) with the
// archived hash, that the store holds exactly the archived number of
// events up to it, and that a newer event remains (prune keeps the newest,
// from which the chain continues).
func (r PruneRequest) Check(found bool, hash string, events int64, newer bool) error {
	switch {
	case !found:
		return fmt.Errorf("event seq %d, the last to prune, is not in the store (any more); nothing was pruned", r.Through)
	case hash != r.Hash:
		return fmt.Errorf("%w: the stored hash of seq %d is not the one archived — it changed since it was read; nothing was pruned",
			ErrIntegrity, r.Through)
	case events != r.Events:
		return fmt.Errorf("the store holds %d events up to seq %d, but %d were archived: it changed since; nothing was pruned",
			events, r.Through, r.Events)
	case !newer:
		return fmt.Errorf("%w: seq %d is the newest event, which prune always keeps: the chain continues from it", ErrInvalid, r.Through)
	}
	return nil
}

// Checkpoint is where the hash chain resumes after a prune: the seq and
// hash of the last pruned event, which the first kept event links to, with
// what the prune recorded about itself. Seal binds the fields together
// under the chain key (see CheckpointSeal), so a checkpoint changed by hand
// is detected. The zero Checkpoint means the store was never pruned and
// the chain starts at Genesis.
type Checkpoint struct {
	Seq           int64     `json:"seq"`
	Hash          string    `json:"hash"`
	Events        int64     `json:"events"` // events this prune deleted
	Before        time.Time `json:"before"` // the cutoff of the prune
	Created       time.Time `json:"created"`
	Archive       string    `json:"archive"`
	ArchiveSHA256 string    `json:"archive_sha256"`
	Seal          string    `json:"seal"`
}

// IsZero reports whether c is the zero Checkpoint: nothing was pruned.
func (c Checkpoint) IsZero() bool { return c.Seq == 0 && c.Hash == "" }

// CheckpointSeal returns the seal of c (its Seal field aside) as lowercase
// hex: H("audit checkpoint\n" || fields), where H is HMAC-SHA-256 with key,
// or SHA-256 without, and the fields are seq, hash, events, before,
// created, archive and archive_sha256, each encoded as in Canonical (times
// in RFC 3339 UTC, "" when zero).
func CheckpointSeal(key []byte, c Checkpoint) string {
	var h hash.Hash
	if len(key) > 0 {
		h = hmac.New(sha256.New, key)
	} else {
		h = sha256.New()
	}
	b := []byte("audit checkpoint\n")
	for _, f := range []string{strconv.FormatInt(c.Seq, 10), c.Hash, strconv.FormatInt(c.Events, 10),
		FormatTime(c.Before), FormatTime(c.Created), c.Archive, c.ArchiveSHA256} {
		b = appendField(b, f)
	}
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

// ChainPoint is one position of the chain: a seq and the hash of the event
// there. An operator publishes the head as "SEQ:HASH" (ParseChainPoint).
type ChainPoint struct {
	Seq  int64  `json:"seq"`
	Hash string `json:"hash"`
}

// String returns "SEQ:HASH".
func (p ChainPoint) String() string { return strconv.FormatInt(p.Seq, 10) + ":" + p.Hash }

// ParseChainPoint parses "SEQ:HASH", as `audit verify --head` prints it:
// a seq of 0 or more and 64 hex digits.
func ParseChainPoint(s string) (ChainPoint, error) {
	seqText, h, ok := strings.Cut(strings.TrimSpace(s), ":")
	seq, err := strconv.ParseInt(seqText, 10, 64)
	if !ok || err != nil || seq < 0 {
		return ChainPoint{}, fmt.Errorf("invalid head %q: want SEQ:HASH as audit verify --head prints it, e.g. 1204331:9f2c…", s)
	}
	h = strings.ToLower(h)
	if _, ok := decodeHash(h); !ok {
		return ChainPoint{}, fmt.Errorf("invalid head %q: the hash must be 64 hex digits", s)
	}
	return ChainPoint{Seq: seq, Hash: h}, nil
}

// GenesisHex is Genesis as lowercase hex: 64 zeros.
var GenesisHex = hex.EncodeToString(Genesis)

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

// CanonicalReader is implemented by stores that can stream the
// canonical encoding of their events (Event.Canonical) faster than Query
// decodes whole events: Verify reads through it first and falls back to
// Query only to explain a link that fails.
type CanonicalReader interface {
	// ReadCanonical calls fn for every event with after < seq < before,
	// in ascending seq order, with its seq, its canonical encoding and its
	// stored hash (hex) as the store holds them. The slices are valid
	// during the call only. An error from fn ends the scan and is
	// returned.
	ReadCanonical(ctx context.Context, after, before int64, fn func(seq int64, canonical, hash []byte) error) error
}

// ChainVerifier checks a stream of events, in ascending seq order, against
// the hash chain, one Add at a time, without allocating per event. Verify
// uses it over a store's Query; prune and other readers of a stream may use
// it directly. A link that fails is judged with the event after it (what
// happened: changed, deleted, inserted or reordered), so Add reports it one
// event late, and Close reports one at the end of the stream.
type ChainVerifier struct {
	// AllowGaps accepts seqs that skip numbers where the chain links; see
	// VerifyOptions.AllowGaps.
	AllowGaps bool

	key    []byte
	h      hash.Hash
	alt    hash.Hash // SHA-256 when h is an HMAC: recognises a log written without the key
	buf    []byte    // canonical encoding scratch
	sum    [sha256.Size]byte
	anchor string // StartGenesis or StartCheckpoint when the start is one

	expect     *ChainPoint // the expected head, until it is met
	expectHash [sha256.Size]byte

	prev    [sha256.Size]byte // the hash the next event must link to
	prevSeq int64

	start    [sha256.Size]byte // where the stream started
	startSeq int64

	n     int64
	first ChainPoint
	gaps  int64

	bad     *Event // the event whose link failed, judged at the next Add
	badHash [sha256.Size]byte
	err     error
}

// NewChainVerifier returns a ChainVerifier for the chain of key (nil for
// SHA-256) whose next event links to start: Genesis (seq 0) or a
// checkpoint, or any verified or trusted position.
func NewChainVerifier(key []byte, start ChainPoint) *ChainVerifier {
	v := &ChainVerifier{key: key, buf: make([]byte, 0, 1024), prevSeq: start.Seq, startSeq: start.Seq, h: newHash(key)}
	if len(key) > 0 {
		v.alt = sha256.New()
	}
	if start.Hash != "" {
		v.prev, _ = decodeHash(start.Hash)
	}
	v.start = v.prev
	return v
}

// ExpectHead makes the stream prove p: the event at p.Seq must come and
// have the hash p.Hash (see VerifyOptions.Expect).
func (v *ChainVerifier) ExpectHead(p ChainPoint) {
	v.expect = &p
	v.expectHash, _ = decodeHash(p.Hash)
}

// Events returns the number of events verified so far.
func (v *ChainVerifier) Events() int64 { return v.n }

// First returns the first event verified; zero before one is.
func (v *ChainVerifier) First() ChainPoint { return v.first }

// Last returns the last event verified: the position the chain has
// reached; zero before one is.
func (v *ChainVerifier) Last() ChainPoint {
	if v.n == 0 {
		return ChainPoint{}
	}
	return ChainPoint{Seq: v.prevSeq, Hash: hex.EncodeToString(v.prev[:])}
}

// Gaps returns how many seqs were missing between linked events.
func (v *ChainVerifier) Gaps() int64 { return v.gaps }

// AddCanonical verifies the next event from its seq, canonical encoding
// and stored hash, as a CanonicalReader gives them. It returns false,
// changing nothing, when the event does not simply continue the chain (a
// broken link, a gap, the expected head, a malformed hash); the caller then
// hands that event and the rest of the stream to Add, which explains.
func (v *ChainVerifier) AddCanonical(seq int64, canonical, storedHex []byte) bool {
	if v.err != nil || v.bad != nil {
		return false
	}
	stored, ok := decodeHash(storedHex)
	if !ok || seq <= v.prevSeq || (seq != v.prevSeq+1 && !v.AllowGaps) {
		return false
	}
	if v.expect != nil && (v.expect.Seq < seq || v.expect.Seq == seq && stored != v.expectHash) {
		return false
	}
	v.h.Reset()
	v.h.Write(v.prev[:])
	v.h.Write(canonical)
	v.h.Sum(v.sum[:0])
	if v.sum != stored {
		return false
	}
	v.gaps += seq - v.prevSeq - 1
	if v.expect != nil && v.expect.Seq == seq {
		v.expect = nil
	}
	if v.n == 0 {
		v.first = ChainPoint{Seq: seq, Hash: hex.EncodeToString(stored[:])}
	}
	v.prev, v.prevSeq = stored, seq
	v.n++
	return true
}

// Add verifies e, the next event of the stream. It returns the first
// *IntegrityError found, possibly about the event before e; once it has,
// every later call returns it again.
func (v *ChainVerifier) Add(e *Event) error {
	if v.err != nil {
		return v.err
	}
	if v.bad != nil {
		v.err = v.judge(e)
		return v.err
	}
	stored, ok := decodeHash(e.Hash)
	if !ok {
		v.err = integrityAt(e, ProblemChanged, "the stored hash %q is not 64 hex digits — the hash was changed", ShortHash(e.Hash))
		return v.err
	}
	if e.Seq <= v.prevSeq {
		v.err = integrityAt(e, ProblemReordered, "seq is not greater than the seq %d before it — events were reordered", v.prevSeq)
		return v.err
	}
	if !v.links(v.h, &v.prev, e, e.Seq, &stored) {
		cp := *e
		v.bad, v.badHash = &cp, stored
		return nil
	}
	if gap := e.Seq - v.prevSeq - 1; gap > 0 {
		if !v.AllowGaps {
			v.err = integrityAt(e, ProblemDeleted, "%s missing though the chain links across — events were deleted from the end of the log and new ones appended since",
				seqRange(v.prevSeq+1, e.Seq-1))
			return v.err
		}
		v.gaps += gap
	}
	if v.expect != nil && v.expect.Seq < e.Seq {
		v.err = &IntegrityError{Seq: v.expect.Seq, Problem: ProblemDeleted,
			Detail: fmt.Sprintf("the expected head is missing; seq %d follows seq %d — it was deleted", e.Seq, v.prevSeq)}
		return v.err
	}
	if v.expect != nil && v.expect.Seq == e.Seq {
		if stored != v.expectHash {
			v.err = integrityAt(e, ProblemRewritten, "hash %s differs from the expected head %s — the history up to it was rewritten",
				ShortHash(e.Hash), ShortHash(v.expect.Hash))
			return v.err
		}
		v.expect = nil
	}
	if v.n == 0 {
		v.first = ChainPoint{Seq: e.Seq, Hash: strings.ToLower(e.Hash)}
	}
	v.prev, v.prevSeq = stored, e.Seq
	v.n++
	return nil
}

// Close ends the stream: it reports a failed link of the last event, and
// an expected head the stream did not reach.
func (v *ChainVerifier) Close() error {
	if v.err != nil {
		return v.err
	}
	if v.bad != nil {
		v.err = v.judge(nil)
		return v.err
	}
	if v.expect != nil {
		end := "the log is empty"
		if v.n > 0 || v.prevSeq > 0 {
			end = fmt.Sprintf("the log ends at seq %d", v.prevSeq)
		}
		v.err = &IntegrityError{Seq: v.expect.Seq, Problem: ProblemTruncated,
			Detail: fmt.Sprintf("the expected head is missing; %s — events were deleted from the end (truncated)", end)}
		return v.err
	}
	return nil
}

// judge explains why the link of v.bad failed, with next, the event after
// it (nil at the end), as the witness.
func (v *ChainVerifier) judge(next *Event) error {
	b := v.bad
	linkTo := "the event before it"
	switch {
	case v.n == 0 && v.anchor == StartGenesis:
		linkTo = "the genesis hash"
	case v.n == 0 && v.anchor == StartCheckpoint:
		linkTo = fmt.Sprintf("the checkpoint at seq %d", v.prevSeq)
	}
	gap := b.Seq > v.prevSeq+1
	var nextHash [sha256.Size]byte
	haveNext := false
	if next != nil {
		nextHash, haveNext = decodeHash(next.Hash)
	}
	if haveNext {
		switch {
		case v.links(v.h, &v.prev, next, next.Seq, &nextHash):
			return integrityAt(b, ProblemInserted, "does not belong to the chain — a forged event was inserted (seq %d links to %s)", next.Seq, linkTo)
		case v.links(v.h, &v.prev, next, b.Seq, &nextHash):
			if v.links(v.h, &nextHash, b, next.Seq, &v.badHash) {
				return integrityAt(b, ProblemReordered, "out of order — its hash belongs at seq %d, and that event's here: events were reordered (seqs swapped)", next.Seq)
			}
			return integrityAt(b, ProblemInserted, "does not belong to the chain — a forged event was inserted and the events after it renumbered (seq %d's event belongs here)", next.Seq)
		case v.links(v.h, &v.badHash, next, next.Seq, &nextHash):
			if gap {
				return integrityAt(b, ProblemDeleted, "does not link to %s: %s missing — %s deleted", linkTo,
					seqRange(v.prevSeq+1, b.Seq-1), countEvents(b.Seq-v.prevSeq-1, "was", "were"))
			}
			if v.n == 0 && v.anchor == StartCheckpoint {
				return integrityAt(b, ProblemChanged, "hash mismatch — the first kept event was changed, or the hash of the checkpoint at seq %d", v.prevSeq)
			}
			return integrityAt(b, ProblemChanged, "hash mismatch — the event was changed")
		}
	}
	if gap {
		return integrityAt(b, ProblemDeleted, "does not link to %s: %s missing — %s deleted", linkTo,
			seqRange(v.prevSeq+1, b.Seq-1), countEvents(b.Seq-v.prevSeq-1, "was", "were"))
	}
	if v.n == 0 && v.alt != nil && v.links(v.alt, &v.prev, b, b.Seq, &v.badHash) {
		return integrityAt(b, ProblemKey, "hash mismatch — the log was written without an integrity key, but integrity.key-file sets one")
	}
	if v.n == 0 && next != nil && haveNext {
		return integrityAt(b, ProblemKey, "hash mismatch, and the events after it do not link either — the integrity key (integrity.key-file) is not the one the log was written with, or the log was rewritten")
	}
	if next == nil {
		return integrityAt(b, ProblemChanged, "hash mismatch — the newest event was changed, or forged and appended")
	}
	return integrityAt(b, ProblemChanged, "hash mismatch — the event was changed (and the link after it is broken too)")
}

// links reports whether e, taken at seq, hashes with h after prev to want.
func (v *ChainVerifier) links(h hash.Hash, prev *[sha256.Size]byte, e *Event, seq int64, want *[sha256.Size]byte) bool {
	v.buf = appendCanonical(v.buf[:0], e, seq)
	h.Reset()
	h.Write(prev[:])
	h.Write(v.buf)
	h.Sum(v.sum[:0]) // fills v.sum: its capacity is the digest's size
	return v.sum == *want
}

func seqRange(a, b int64) string {
	if a == b {
		return fmt.Sprintf("seq %d is", a)
	}
	return fmt.Sprintf("seq %d–%d are", a, b)
}

func countEvents(n int64, one, many string) string {
	if n == 1 {
		return "1 event " + one
	}
	return fmt.Sprintf("%d events %s", n, many)
}

// appendCanonical appends Canonical(e) to b, with seq in place of e.Seq,
// without allocating.
func appendCanonical(b []byte, e *Event, seq int64) []byte {
	var num [20]byte
	b = appendFieldBytes(b, strconv.AppendInt(num[:0], seq, 10))
	return appendCanonicalTail(b, e)
}

// appendCanonicalTail appends CanonicalTail(e) to b without allocating.
func appendCanonicalTail(b []byte, e *Event) []byte {
	b = appendField(b, e.ID)
	if e.Time.IsZero() {
		b = appendField(b, "")
	} else {
		var ts [40]byte
		b = appendFieldBytes(b, e.Time.UTC().AppendFormat(ts[:0], time.RFC3339Nano))
	}
	b = appendField(b, e.User)
	b = appendField(b, e.UserName)
	b = appendField(b, string(e.Type))
	b = appendField(b, e.Action)
	b = appendField(b, e.ResourceType)
	b = appendField(b, e.Resource)
	b = appendField(b, e.Details)
	b = appendField(b, e.IP)
	b = appendField(b, string(e.Outcome))
	if e.HasProducer() {
		b = appendField(b, e.Source)
		b = appendFieldBytes(b, e.Raw)
	}
	return b
}

// HasProducer reports whether e came from another producer's log: its
// canonical encoding then has the source and raw fields.
func (e *Event) HasProducer() bool {
	return (e.Source != "" && e.Source != SourceAudit) || len(e.Raw) > 0
}

func appendField(b []byte, f string) []byte {
	b = strconv.AppendInt(b, int64(len(f)), 10)
	b = append(b, ':')
	b = append(b, f...)
	return append(b, '\n')
}

func appendFieldBytes(b []byte, f []byte) []byte {
	b = strconv.AppendInt(b, int64(len(f)), 10)
	b = append(b, ':')
	b = append(b, f...)
	return append(b, '\n')
}

// decodeHash decodes 64 lowercase or uppercase hex digits.
func decodeHash[T string | []byte](s T) (h [sha256.Size]byte, ok bool) {
	if len(s) != 2*sha256.Size {
		return h, false
	}
	for i := range h {
		hi, ok1 := unhex(s[2*i])
		lo, ok2 := unhex(s[2*i+1])
		if !ok1 || !ok2 {
			return h, false
		}
		h[i] = hi<<4 | lo
	}
	return h, true
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
