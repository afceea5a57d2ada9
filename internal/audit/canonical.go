package audit

import (
	"crypto/sha256"
	"strconv"
	"time"
)

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
