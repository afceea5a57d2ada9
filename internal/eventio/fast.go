package eventio

import (
	"bytes"
	"strconv"
	"unicode/utf8"

	"github.com/audit-cli/audit/internal/audit"
)

// decodeFast decodes the shape nearly every JSON Lines record has — one
// flat object whose keys are the lowercase field names and whose values are
// strings without escape sequences, seq a plain whole number — several
// times faster than encoding/json, with one allocation that every field
// shares. For anything else it reports false and the caller takes the
// general path, which also words the errors. Where decodeFast says yes, it
// returns what the general path does (FuzzDecodeFast checks that).
func decodeFast(data []byte) (audit.Event, bool) {
	var e audit.Event
	// encoding/json replaces invalid UTF-8 and checkText looks closer at
	// U+FFFD: both are the general path's business.
	if !utf8.Valid(data) || bytes.Contains(data, []byte(string(utf8.RuneError))) {
		return e, false
	}
	s := string(data)
	i := skipSpace(s, 0)
	if i == len(s) || s[i] != '{' {
		return e, false
	}
	i = skipSpace(s, i+1)
	if i < len(s) && s[i] == '}' {
		return e, skipSpace(s, i+1) == len(s)
	}
	for {
		key, j, ok := plainString(s, i)
		if !ok {
			return e, false
		}
		i = skipSpace(s, j)
		if i == len(s) || s[i] != ':' {
			return e, false
		}
		i = skipSpace(s, i+1)
		if key == "seq" {
			j = i
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			if j == i || (s[i] == '0' && j-i > 1) {
				return e, false
			}
			n, err := strconv.ParseInt(s[i:j], 10, 64)
			if err != nil {
				return e, false
			}
			e.Seq = n
		} else {
			var v string
			if v, j, ok = plainString(s, i); !ok {
				return e, false
			}
			switch key {
			case "id":
				e.ID = v
			case "time":
				if e.Time.UnmarshalJSON(data[i:j]) != nil {
					return e, false
				}
			case "user":
				e.User = v
			case "user_name":
				e.UserName = v
			case "type":
				e.Type = audit.Type(v)
			case "action":
				e.Action = v
			case "resource_type":
				e.ResourceType = v
			case "resource":
				e.Resource = v
			case "details":
				e.Details = v
			case "ip":
				e.IP = v
			case "outcome":
				e.Outcome = audit.Outcome(v)
			case "hash":
				e.Hash = v
			case "source":
				e.Source = v
			default:
				return e, false
			}
		}
		i = skipSpace(s, j)
		if i == len(s) {
			return e, false
		}
		switch s[i] {
		case ',':
			i = skipSpace(s, i+1)
			continue
		case '}':
			return e, skipSpace(s, i+1) == len(s)
		}
		return e, false
	}
}

// plainString reads the JSON string at s[i] when it has no escape
// sequence, returning its text and the index after its closing quote.
func plainString(s string, i int) (string, int, bool) {
	if i == len(s) || s[i] != '"' {
		return "", 0, false
	}
	for j := i + 1; j < len(s); j++ {
		switch c := s[j]; {
		case c == '"':
			return s[i+1 : j], j + 1, true
		case c == '\\' || c < 0x20:
			return "", 0, false
		}
	}
	return "", 0, false
}

// skipSpace returns the index of the first byte at or after i that is not
// JSON white space.
func skipSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}
