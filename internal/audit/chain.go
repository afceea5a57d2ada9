package audit

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"strconv"
	"strings"
)

// Genesis is the hash that precedes the first event of a chain: 64 zeros.
var Genesis = make([]byte, sha256.Size)

// Canonical returns the canonical encoding of e that the hash chain covers:
// each of seq, id, time (RFC 3339 UTC), user, user_name, type, action,
// resource_type, resource, details, ip and outcome, in that order, written
// as its byte length in decimal, a colon, the bytes, and a newline. An
// event from another producer (source other than "audit", or a raw record)
// has two more fields: source and raw. Events recorded before those fields
// existed keep the hashes they had.
// docs/integrity.md documents it for independent verifiers.
func (e *Event) Canonical() []byte {
	return appendCanonical(make([]byte, 0, canonicalSize(e)), e, e.Seq)
}

// CanonicalTail is Canonical without its first field, seq: all of the
// encoding that is known before the event has its place in the store.
func (e *Event) CanonicalTail() []byte {
	return appendCanonicalTail(make([]byte, 0, canonicalSize(e)), e)
}

// canonicalSize is a little more than the size of e's canonical encoding.
func canonicalSize(e *Event) int {
	return 12*8 + 20 + 40 + len(e.ID) + len(e.User) + len(e.UserName) + len(e.Type) + len(e.Action) +
		len(e.ResourceType) + len(e.Resource) + len(e.Details) + len(e.IP) + len(e.Outcome) +
		len(e.Source) + len(e.Raw)
}

// Chain computes hash chains: hash_n = H(hash_{n-1} || Canonical(event_n)),
// where H is HMAC-SHA-256 with the key when one is set, else SHA-256.
type Chain struct {
	h hash.Hash
}

// NewChain returns a Chain; key may be nil for plain SHA-256.
func NewChain(key []byte) *Chain {
	if len(key) > 0 {
		return &Chain{h: hmac.New(sha256.New, key)}
	}
	return &Chain{h: sha256.New()}
}

// Next returns the hash of e following prev (raw bytes).
func (c *Chain) Next(prev []byte, e *Event) []byte {
	c.h.Reset()
	c.h.Write(prev)
	c.h.Write(e.Canonical())
	return c.h.Sum(nil)
}

// NextTail is Next for the event with the given seq and CanonicalTail.
func (c *Chain) NextTail(prev []byte, seq int64, tail []byte) []byte {
	var buf [32]byte
	var digits [20]byte
	c.h.Reset()
	c.h.Write(prev)
	c.h.Write(appendFieldBytes(buf[:0], strconv.AppendInt(digits[:0], seq, 10)))
	c.h.Write(tail)
	return c.h.Sum(nil)
}

// NextHex is Next on and to lowercase hex strings; an empty prev is Genesis.
func (c *Chain) NextHex(prevHex string, e *Event) (string, error) {
	prev := Genesis
	if prevHex != "" {
		var err error
		if prev, err = hex.DecodeString(prevHex); err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(c.Next(prev, e)), nil
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
