package ingest

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"slices"
	"strings"
	"unicode/utf8"

	gojson "github.com/goccy/go-json"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/eventio"
)

// Options tune how producers' records become events.
type Options struct {
	// IncludeReadOnly keeps the calls that change nothing (CloudTrail
	// Get*/List*/Describe*, Kubernetes get/list/watch, GitHub access),
	// which are skipped and counted by default.
	IncludeReadOnly bool
	// Users names the numeric user ids of auditd records, as read from a
	// passwd file given by the user; never from the importing host.
	Users map[string]string
}

// Counts tell what a decode did with the records it read.
type Counts struct {
	Read      int // records read (for auditd, events: records grouped by serial)
	ReadOnly  int // read-only calls skipped
	Unmatched int // records no mapping rule matched, skipped
	Stages    int // Kubernetes stages other than the final one of a request, skipped
}

// Format is one producer's log format.
type Format struct {
	// Name is the --format value, also the events' source.
	Name string
	// Title names the producer in messages, e.g. "CloudTrail".
	Title string
	// Detect reports whether first, the first non-blank line of an input
	// (at most maxDetect bytes of it), is this format's.
	Detect func(first []byte) bool
	// Decode reads the records of br as events. Every event has its
	// producer's id, Source and Raw set; Decode counts what it skipped.
	Decode func(br *bufio.Reader, opts Options, c *Counts) iter.Seq2[audit.Event, error]
}

var formats []Format

// Register adds a producer's format; each producer package calls it from
// init.
func Register(f Format) { formats = append(formats, f) }

// Names lists the --format values: audit (with its sub-formats jsonl, json
// and csv) and every registered producer.
func Names() []string {
	names := []string{audit.SourceAudit}
	for _, f := range formats {
		names = append(names, f.Name)
	}
	return names
}

// maxDetect bounds how much of the first line detection looks at.
const maxDetect = 1 << 20

// DetectError says the format could not be told from the content.
type DetectError struct{ Reason string }

func (e *DetectError) Error() string { return e.Reason }

// Is makes a DetectError match audit.ErrInvalid.
func (e *DetectError) Is(target error) bool { return target == audit.ErrInvalid }

// Decode returns the events of r (already decompressed) in format: "auto"
// (or "") detects it from the content, "audit" is audit's own JSON Lines,
// JSON array or CSV (also given as "jsonl", "json" or "csv"), any other
// name a registered producer's. Iteration stops after the first error.
func Decode(r io.Reader, format string, opts Options, c *Counts) iter.Seq2[audit.Event, error] {
	return func(yield func(audit.Event, error) bool) {
		br := bufio.NewReaderSize(r, 1<<16)
		if format == "" || format == "auto" {
			f, err := detect(br)
			if err != nil {
				yield(audit.Event{}, err)
				return
			}
			format = f
		}
		var seq iter.Seq2[audit.Event, error]
		switch format {
		case audit.SourceAudit, "jsonl", "json", "csv":
			sub := format
			if sub == audit.SourceAudit {
				sub = "auto"
			}
			seq = countRead(eventio.Decode(br, sub), c)
		default:
			i := slices.IndexFunc(formats, func(f Format) bool { return f.Name == format })
			if i < 0 {
				yield(audit.Event{}, fmt.Errorf("%w: unknown format %q (accepted: auto, %s)", audit.ErrInvalid, format, strings.Join(Names(), ", ")))
				return
			}
			seq = formats[i].Decode(br, opts, c)
		}
		for e, err := range seq {
			if !yield(e, err) || err != nil {
				return
			}
		}
	}
}

func countRead(events iter.Seq2[audit.Event, error], c *Counts) iter.Seq2[audit.Event, error] {
	return func(yield func(audit.Event, error) bool) {
		for e, err := range events {
			if err == nil {
				c.Read++
			}
			if !yield(e, err) || err != nil {
				return
			}
		}
	}
}

// DetectFormat names the format of r's content, as Decode with "auto"
// would read it.
func DetectFormat(r io.Reader) (string, error) {
	return detect(bufio.NewReaderSize(r, 1<<16))
}

// detect names the format of br from its first non-blank line, which it
// leaves unread.
func detect(br *bufio.Reader) (string, error) {
	first, err := firstLine(br)
	if err != nil {
		return "", err
	}
	if len(first) == 0 {
		return audit.SourceAudit, nil // empty input: nothing to import
	}
	var found []string
	for _, f := range formats {
		if f.Detect(first) {
			found = append(found, f.Name)
		}
	}
	if len(found) == 1 {
		return found[0], nil
	}
	if len(found) == 0 && mayBeAuditFormat(first) {
		// audit's own reader says what is wrong with it, line and field.
		return audit.SourceAudit, nil
	}
	what := "none of the known formats"
	if len(found) > 1 {
		what = "more than one format (" + strings.Join(found, ", ") + ")"
	}
	return "", &DetectError{fmt.Sprintf("cannot tell the format of the input: its first line looks like %s; give --format (%s)",
		what, strings.Join(Names(), ", "))}
}

// firstLine peeks at the first non-blank line of br, without its line
// end, at most maxDetect bytes of it.
func firstLine(br *bufio.Reader) ([]byte, error) {
	for n := 4096; ; n *= 2 {
		b, err := br.Peek(n)
		if len(b) == 0 && err != nil {
			if err == io.EOF {
				return nil, nil
			}
			return nil, err
		}
		b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
		t := bytes.TrimLeft(b, " \t\r\n")
		if len(t) > 0 && t[0] == '[' && err == nil && n < maxDetect {
			// A JSON array, maybe pretty-printed: its first element, over
			// as many lines as it takes.
			if first := bytes.TrimLeft(t[1:], " \t\r\n"); len(first) == 0 || first[0] == ']' ||
				(first[0] == '{' && !objectEnds(first)) {
				continue
			}
			return t, nil
		}
		if len(t) > 0 && t[0] == '[' {
			return t, nil
		}
		if i := bytes.IndexByte(t, '\n'); i >= 0 {
			return bytes.TrimRight(t[:i], "\r"), nil
		}
		if err != nil || n >= maxDetect {
			// The whole input, or a first line longer than maxDetect.
			if len(t) == 0 && err == io.EOF {
				return nil, nil
			}
			return t, nil
		}
	}
}

// objectEnds reports whether the JSON object at the start of b is whole.
func objectEnds(b []byte) bool {
	var v json.RawMessage
	return json.NewDecoder(bytes.NewReader(b)).Decode(&v) == nil
}

// mayBeAuditFormat reports whether first may be audit's own format: a
// JSON object (or an array) with at least one of the event's field names
// or none that can be read, or a CSV header (a line with a comma).
func mayBeAuditFormat(first []byte) bool {
	switch {
	case len(first) > 0 && first[0] == '{':
		return hasAuditKey(first)
	case len(first) > 0 && first[0] == '[':
		t := bytes.TrimLeft(first[1:], " \t\r\n")
		return len(t) == 0 || t[0] != '{' || hasAuditKey(t)
	}
	return bytes.IndexByte(first, ',') >= 0
}

// hasAuditKey reports whether the JSON object at the start of b has one of
// the keys of an event, or no key that can be read (broken JSON, an id
// too long to look past: the reader of audit's format explains).
func hasAuditKey(b []byte) bool {
	keys := TopKeys(b)
	if len(keys) == 0 {
		return true
	}
	for _, k := range keys {
		if slices.Contains(audit.Fields, strings.ToLower(k)) || k == "raw" {
			return true
		}
	}
	return false
}

// TopKeys returns the keys of the JSON object at the start of b, as far as
// b goes; nothing when b does not start with one.
func TopKeys(b []byte) []string {
	dec := json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil
	}
	var keys []string
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			break
		}
		k, ok := t.(string)
		if !ok {
			break
		}
		keys = append(keys, k)
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			break
		}
	}
	return keys
}

// HasKeys reports whether the JSON object at the start of first has all
// of the keys.
func HasKeys(first []byte, keys ...string) bool {
	top := TopKeys(first)
	for _, k := range keys {
		if !slices.Contains(top, k) {
			return false
		}
	}
	return true
}

// Clean makes s fit a text field of at most max bytes: invalid UTF-8 and
// NUL bytes replaced, cut at a character boundary with "…" when longer.
// Producers' records are taken as they are, never refused for a long or
// odd value; control characters are kept, and escaped where printed.
func Clean(s string, max int) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	s = strings.ReplaceAll(s, "\x00", "\uFFFD")
	if len(s) <= max {
		return s
	}
	cut := max - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// Finish fills e's fields as every producer does: the id made one audit
// keeps, texts cleaned to their limits, the source, and raw, the producer's record (dropped, with a note
// in the details, when it is larger than the event may keep).
func Finish(e *audit.Event, source string, raw []byte) {
	e.Source = source
	if audit.CheckID(e.ID) != nil {
		// The producer's id is missing or not one audit can keep (a
		// space, too long): a digest of it, or of the record, stands in,
		// the same on every import.
		key := []byte(e.ID)
		if e.ID == "" {
			key = raw
		}
		sum := sha256.Sum256(key)
		e.ID = source + ":" + hex.EncodeToString(sum[:20])
	}
	e.User = Clean(e.User, audit.MaxShortLen)
	if e.User == "" {
		e.User = "unknown"
	}
	e.UserName = Clean(e.UserName, audit.MaxShortLen)
	e.Action = Clean(e.Action, audit.MaxShortLen)
	e.ResourceType = Clean(e.ResourceType, audit.MaxShortLen)
	e.Resource = Clean(e.Resource, audit.MaxResource)
	e.Details = Clean(e.Details, audit.MaxDetailsLen)
	if len(raw) > audit.MaxRawLen {
		e.Details = Clean(e.Details+" (original record of "+fmt.Sprint(len(raw))+" bytes not kept)", audit.MaxDetailsLen)
		raw = nil
	}
	if len(raw) > 0 {
		// raw is what the producer's reader parsed, so JSON; invalid UTF-8
		// can only be inside its strings. The store compacts it.
		if utf8.Valid(raw) {
			e.Raw = bytes.Clone(raw)
		} else {
			e.Raw = bytes.ToValidUTF8(raw, []byte("\uFFFD"))
		}
	}
}

// LineError names the line (or record) of a producer's input that could
// not be read. It matches audit.ErrInvalid.
type LineError = eventio.DecodeError

// Unmarshal parses the producer's record data into v, or says why it is
// not what (e.g. "a CloudTrail record"). Records are checked to be JSON in
// one fast pass and then parsed with goccy/go-json, several times faster
// than encoding/json on them; on an error, encoding/json words it.
func Unmarshal(what string, data []byte, v any) error {
	if _, err := audit.CompactJSON(data); err == nil && gojson.Unmarshal(data, v) == nil {
		return nil
	}
	if err := json.Unmarshal(data, v); err != nil {
		return NotRecord(what, err)
	}
	return nil // encoding/json reads it after all
}

// NotRecord words why data is not a record of the producer named by
// what (e.g. "a CloudTrail record"): a JSON error in a user's terms,
// never a Go type.
func NotRecord(what string, err error) error {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te) && te.Field != "":
		return fmt.Errorf("not %s (%s is a JSON %s)", what, te.Field, te.Value)
	case errors.As(err, &te):
		return fmt.Errorf("not %s (a JSON %s, not an object)", what, te.Value)
	case errors.As(err, &se):
		return fmt.Errorf("not %s (invalid JSON: %v)", what, se)
	case strings.Contains(err.Error(), "parsing time"):
		return fmt.Errorf("not %s (a time is not RFC 3339)", what)
	}
	return fmt.Errorf("not %s (%v)", what, strings.TrimPrefix(err.Error(), "json: "))
}

// Line is one line of input: its 1-based number and its text, trimmed.
// Text is valid until the next line is read.
type Line struct {
	N    int
	Text []byte
}

// Lines yields the lines of br; blank lines are skipped. A line longer
// than maxLine is an error.
func Lines(br *bufio.Reader, maxLine int) iter.Seq2[Line, error] {
	return func(yield func(Line, error) bool) {
		n := 0
		for {
			data, err := br.ReadSlice('\n')
			if err == bufio.ErrBufferFull {
				buf := append([]byte(nil), data...)
				for err == bufio.ErrBufferFull {
					data, err = br.ReadSlice('\n')
					buf = append(buf, data...)
					if len(buf) > maxLine {
						yield(Line{}, &LineError{Line: n + 1, Err: fmt.Errorf("line longer than %d bytes", maxLine)})
						return
					}
				}
				data = buf
			}
			if err != nil && err != io.EOF {
				yield(Line{}, &LineError{Line: n + 1, Err: err})
				return
			}
			if len(data) > 0 {
				n++
				if t := bytes.TrimSpace(data); len(t) > 0 {
					if !yield(Line{N: n, Text: t}, nil) {
						return
					}
				}
			}
			if err != nil {
				return
			}
		}
	}
}
