// Package eventio reads audit events from JSON Lines, JSON arrays and CSV,
// the formats `audit import` and the HTTP API accept, with errors that name
// the line and the field.
package eventio

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/output"
)

// Formats accepted by NewDecoder besides "auto".
var Formats = []string{"jsonl", "json", "csv"}

// DecodeError names the line (or, in a JSON array, the record) that could
// not be read or failed validation. It matches audit.ErrInvalid.
type DecodeError struct {
	Line   int // 1-based line, 0 when unknown
	Record int // 1-based record in a JSON array, 0 otherwise
	Err    error
}

func (e *DecodeError) Error() string {
	switch {
	case e.Line > 0:
		return fmt.Sprintf("line %d: %v", e.Line, e.Err)
	case e.Record > 0:
		return fmt.Sprintf("record %d: %v", e.Record, e.Err)
	}
	return e.Err.Error()
}

// Unwrap returns the cause.
func (e *DecodeError) Unwrap() error { return e.Err }

// Is makes every DecodeError match audit.ErrInvalid.
func (e *DecodeError) Is(target error) bool { return target == audit.ErrInvalid }

// Decode returns the events of r in format ("auto", "jsonl", "json" or
// "csv"), each normalized and validated. An event without an id gets one
// derived from its content (ContentID), so importing the same file twice
// stores it once. Iteration stops after the first error.
func Decode(r io.Reader, format string) iter.Seq2[audit.Event, error] {
	return func(yield func(audit.Event, error) bool) {
		br := bufio.NewReaderSize(r, 1<<16)
		skipped := 0 // lines before the first non-space byte, for error messages
		if format == "" || format == "auto" {
			var err error
			if format, skipped, err = sniff(br); err != nil {
				yield(audit.Event{}, err)
				return
			}
		}
		var seq iter.Seq2[audit.Event, error]
		switch format {
		case "jsonl":
			seq = decodeJSONL(br, skipped)
		case "json":
			seq = decodeJSONArray(br)
		case "csv":
			seq = decodeCSV(br, skipped)
		default:
			yield(audit.Event{}, fmt.Errorf("%w: unknown input format %q (accepted: auto, jsonl, json, csv)", audit.ErrInvalid, format))
			return
		}
		for e, err := range seq {
			if !yield(e, err) || err != nil {
				return
			}
		}
	}
}

// sniff picks the format from the first non-space byte: '[' is a JSON
// array, '{' JSON Lines, anything else CSV with a header. It consumes the
// space before that byte and returns how many lines it held.
func sniff(br *bufio.Reader) (string, int, error) {
	lines := 0
	for {
		b, err := br.Peek(1)
		if err == io.EOF {
			return "jsonl", lines, nil // empty input: nothing to import
		}
		if err != nil {
			return "", lines, err
		}
		switch b[0] {
		case ' ', '\t', '\r', '\n':
			if b[0] == '\n' {
				lines++
			}
			br.ReadByte()
			continue
		case 0xEF: // UTF-8 byte order mark
			if bom, _ := br.Peek(3); bytes.Equal(bom, []byte{0xEF, 0xBB, 0xBF}) {
				br.Discard(3)
				continue
			}
		case '[':
			return "json", lines, nil
		case '{':
			return "jsonl", lines, nil
		}
		return "csv", lines, nil
	}
}

// wireEvent is an Event as it may arrive: seq and hash are accepted (an
// export can be re-imported) but the store assigns its own.
type wireEvent struct {
	audit.Event
}

// decodeOne decodes and validates one JSON object.
func decodeOne(data []byte) (audit.Event, error) {
	e, ok := decodeFast(data)
	if !ok {
		var err error
		if e, err = decodeJSON(data); err != nil {
			return audit.Event{}, err
		}
	}
	return finish(e)
}

// decodeJSON decodes one JSON object with encoding/json, unvalidated.
func decodeJSON(data []byte) (audit.Event, error) {
	var w wireEvent
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return audit.Event{}, jsonError(err)
	}
	if dec.More() {
		return audit.Event{}, errors.New("more than one JSON value on the line")
	}
	if err := checkText(data, &w.Event); err != nil {
		return audit.Event{}, err
	}
	return w.Event, nil
}

// checkText rejects text that encoding/json would silently alter: it
// replaces bytes that are not UTF-8, and escapes of lone UTF-16 surrogates
// (\ud800), with U+FFFD, so the event stored would not be the one sent.
// Only an event with a U+FFFD in it, or input that is not UTF-8, is looked
// at closely: a field holds more U+FFFD than its JSON text spells out.
func checkText(data []byte, e *audit.Event) error {
	if utf8.Valid(data) {
		replaced := false
		for _, v := range [...]string{e.ID, e.User, e.UserName, string(e.Type), e.Action, e.ResourceType,
			e.Resource, e.Details, e.IP, string(e.Outcome), e.Hash, e.Source} {
			replaced = replaced || strings.ContainsRune(v, utf8.RuneError)
		}
		if !replaced {
			return nil
		}
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return jsonError(err)
	}
	for _, name := range audit.Fields {
		for k, v := range raw {
			if !strings.EqualFold(k, name) || len(v) == 0 || v[0] != '"' {
				continue
			}
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return fmt.Errorf("%s: %v", name, err)
			}
			spelled := bytes.Count(bytes.ToLower(v), []byte(`\ufffd`)) + bytes.Count(v, []byte(string(utf8.RuneError)))
			if !utf8.Valid(v) || strings.Count(s, string(utf8.RuneError)) > spelled {
				return &audit.FieldError{Field: name, Reason: "not valid UTF-8 (or an escape of a lone UTF-16 surrogate)"}
			}
		}
	}
	if !utf8.Valid(data) {
		return errors.New("not valid UTF-8")
	}
	return nil
}

func jsonError(err error) error {
	var te *json.UnmarshalTypeError
	var pe *time.ParseError
	switch {
	case errors.As(err, &te):
		// Never a Go type name: a user knows JSON values, not our structs.
		var want string
		switch te.Type.Kind() {
		case reflect.String:
			want = "a string"
		case reflect.Int, reflect.Int64:
			want = "a whole number"
		case reflect.Struct, reflect.Map:
			want = "an object"
		case reflect.Slice, reflect.Array:
			want = "an array"
		default:
			want = "another JSON value"
		}
		field := strings.TrimPrefix(te.Field, "Event.")
		if field == "" {
			return fmt.Errorf("want an event (a JSON object), got a JSON %s", te.Value)
		}
		return fmt.Errorf("%s: want %s, got a JSON %s", field, want, te.Value)
	case strings.Contains(err.Error(), "Time.UnmarshalJSON"):
		return fmt.Errorf("time: want an RFC 3339 string, e.g. \"2026-11-20T14:02:11Z\"")
	case errors.As(err, &pe):
		return fmt.Errorf("time: invalid time %q (want RFC 3339, e.g. 2026-11-20T14:02:11Z)", pe.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		return fmt.Errorf("%s (accepted: %s, raw)", strings.TrimPrefix(err.Error(), "json: "), strings.Join(audit.Fields, ", "))
	}
	return fmt.Errorf("invalid JSON: %v", strings.TrimPrefix(err.Error(), "json: "))
}

// finish validates e and gives it a content id when it has none.
func finish(e audit.Event) (audit.Event, error) {
	e.Seq, e.Hash = 0, ""
	if e.ID == "" {
		e.ID = "x" // placeholder so validation reaches the other fields
		if err := e.Normalize(); err != nil {
			return e, err
		}
		e.ID = ContentID(&e)
		return e, nil
	}
	return e, e.Normalize()
}

// ContentID derives an id from an event's content: 32 hex digits of the
// SHA-256 of its canonical encoding without seq. Producers that give no id
// still import idempotently.
func ContentID(e *audit.Event) string {
	c := *e
	c.ID, c.Seq = "", 0
	sum := sha256.Sum256(c.Canonical())
	return hex.EncodeToString(sum[:16])
}

// decodeJSONL reads JSON Lines; skipped lines came before br.
func decodeJSONL(br *bufio.Reader, skipped int) iter.Seq2[audit.Event, error] {
	return func(yield func(audit.Event, error) bool) {
		line := skipped
		for {
			data, err := br.ReadSlice('\n')
			if err == bufio.ErrBufferFull {
				// A long line: collect it whole.
				buf := append([]byte(nil), data...)
				for err == bufio.ErrBufferFull {
					data, err = br.ReadSlice('\n')
					buf = append(buf, data...)
					if len(buf) > maxLine {
						line++
						yield(audit.Event{}, &DecodeError{Line: line, Err: fmt.Errorf("line longer than %d bytes", maxLine)})
						return
					}
				}
				data = buf
			}
			if err != nil && err != io.EOF {
				// A read error (a truncated gzip stream…) cut the line:
				// say so rather than report its half as bad JSON.
				yield(audit.Event{}, &DecodeError{Line: line + 1, Err: err})
				return
			}
			if len(data) > 0 {
				line++
				if t := bytes.TrimSpace(data); len(t) > 0 {
					e, derr := decodeOne(t)
					if derr != nil {
						yield(e, &DecodeError{Line: line, Err: derr})
						return
					}
					if !yield(e, nil) {
						return
					}
				}
			}
			if err != nil {
				return // io.EOF
			}
		}
	}
}

// maxLine bounds one JSON line: the largest valid event is far smaller.
const maxLine = 1 << 20

func decodeJSONArray(br *bufio.Reader) iter.Seq2[audit.Event, error] {
	return func(yield func(audit.Event, error) bool) {
		dec := json.NewDecoder(br)
		if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
			yield(audit.Event{}, &DecodeError{Err: errors.New("invalid JSON: want an array of events")})
			return
		}
		for n := 1; dec.More(); n++ {
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				yield(audit.Event{}, &DecodeError{Record: n, Err: jsonError(err)})
				return
			}
			e, err := decodeOne(raw)
			if err != nil {
				yield(e, &DecodeError{Record: n, Err: err})
				return
			}
			if !yield(e, nil) {
				return
			}
		}
		if tok, err := dec.Token(); err != nil || tok != json.Delim(']') {
			yield(audit.Event{}, &DecodeError{Err: errors.New("invalid JSON: the array is not closed")})
		}
	}
}

// decodeCSV reads CSV with a header row; skipped lines came before br.
func decodeCSV(br *bufio.Reader, skipped int) iter.Seq2[audit.Event, error] {
	return func(yield func(audit.Event, error) bool) {
		cr := csv.NewReader(br)
		cr.ReuseRecord = true
		header, err := cr.Read()
		if err != nil {
			yield(audit.Event{}, &DecodeError{Line: skipped + 1, Err: fmt.Errorf("reading CSV header: %v", err)})
			return
		}
		col := map[string]int{}
		for i, h := range header {
			name := strings.ToLower(strings.TrimSpace(h))
			if i == 0 {
				name = strings.TrimPrefix(name, "\ufeff")
			}
			if !isField(name) {
				yield(audit.Event{}, &DecodeError{Line: skipped + 1, Err: fmt.Errorf("unknown CSV column %q (accepted: %s)", h, strings.Join(audit.Fields, ", "))})
				return
			}
			col[name] = i
		}
		for _, req := range []string{"time", "user", "type"} {
			if _, ok := col[req]; !ok {
				yield(audit.Event{}, &DecodeError{Line: skipped + 1, Err: fmt.Errorf("CSV header lacks the %q column", req)})
				return
			}
		}
		for {
			rec, err := cr.Read()
			if err == io.EOF {
				return
			}
			if err != nil {
				line := 0
				var pe *csv.ParseError
				if errors.As(err, &pe) {
					line = skipped + pe.StartLine
					err = pe.Err
				}
				yield(audit.Event{}, &DecodeError{Line: line, Err: fmt.Errorf("invalid CSV: %v", err)})
				return
			}
			line, _ := cr.FieldPos(0)
			line += skipped
			// Cells of a formula-neutralized export (audit export without
			// --raw) read back as they were recorded.
			get := func(name string) string {
				if i, ok := col[name]; ok {
					return output.UnneutralizeCell(rec[i])
				}
				return ""
			}
			e := audit.Event{
				ID: get("id"), User: get("user"), UserName: get("user_name"),
				Type: audit.Type(get("type")), Action: get("action"),
				ResourceType: get("resource_type"), Resource: get("resource"),
				Details: get("details"), IP: get("ip"), Outcome: audit.Outcome(get("outcome")),
				Source: get("source"),
			}
			ts := get("time")
			if e.Time, err = time.Parse(time.RFC3339Nano, ts); err != nil {
				yield(e, &DecodeError{Line: line, Err: fmt.Errorf("time: invalid time %q (want RFC 3339, e.g. 2026-11-20T14:02:11Z)", ts)})
				return
			}
			if s := get("seq"); s != "" {
				if _, err := strconv.ParseInt(s, 10, 64); err != nil {
					yield(e, &DecodeError{Line: line, Err: fmt.Errorf("seq: invalid number %q", s)})
					return
				}
			}
			e, err = finish(e)
			if err != nil {
				yield(e, &DecodeError{Line: line, Err: err})
				return
			}
			if !yield(e, nil) {
				return
			}
		}
	}
}

func isField(name string) bool {
	for _, f := range audit.Fields {
		if f == name {
			return true
		}
	}
	return false
}
