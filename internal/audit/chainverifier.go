package audit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"strings"
)

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
