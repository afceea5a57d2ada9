package audit

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"strconv"
)

// Genesis is the hash that precedes the first event of a chain: 64 zeros.
var Genesis = make([]byte, sha256.Size)

// Canonical returns the canonical encoding of e that the hash chain covers:
// each of seq, id, time (RFC 3339 UTC), user, user_name, type, action,
// resource_type, resource, details, ip and outcome, in that order, written
// as its byte length in decimal, a colon, the bytes, and a newline.
// docs/integrity.md documents it for independent verifiers.
func (e *Event) Canonical() []byte {
	fields := []string{strconv.FormatInt(e.Seq, 10), e.ID, FormatTime(e.Time), e.User,
		e.UserName, string(e.Type), e.Action, e.ResourceType, e.Resource, e.Details,
		e.IP, string(e.Outcome)}
	n := 0
	for _, f := range fields {
		n += len(f) + 8
	}
	b := make([]byte, 0, n)
	for _, f := range fields {
		b = strconv.AppendInt(b, int64(len(f)), 10)
		b = append(b, ':')
		b = append(b, f...)
		b = append(b, '\n')
	}
	return b
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
