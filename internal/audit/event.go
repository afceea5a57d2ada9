// Package audit holds the domain of the audit log: the Event, its Type and
// Outcome, the Filter that selects events, the Store interface every backend
// implements, and the errors callers map to exit codes. It knows nothing of
// SQL, HTTP or the command line.
package audit

import (
	"encoding/json"
	"fmt"
	"iter"
	"net/netip"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/audit-cli/audit/internal/suggest"
)

// Type is the category of an audited action.
type Type string

// The six action types of the audit log.
const (
	TypeLogin    Type = "login"
	TypeLogout   Type = "logout"
	TypeCreate   Type = "create"
	TypeUpdate   Type = "update"
	TypeDelete   Type = "delete"
	TypeSecurity Type = "security"
)

// Types lists every valid Type in display order.
var Types = []Type{TypeLogin, TypeLogout, TypeCreate, TypeUpdate, TypeDelete, TypeSecurity}

// ParseType returns the Type named by s (case-insensitive).
func ParseType(s string) (Type, error) {
	t := Type(strings.ToLower(strings.TrimSpace(s)))
	for _, v := range Types {
		if v == t {
			return t, nil
		}
	}
	names := make([]string, len(Types))
	for i, v := range Types {
		names[i] = string(v)
	}
	if hint := suggest.Hint(s, names); hint != "" {
		return "", fmt.Errorf("unknown type %q: %s (accepted: %s)", s, hint, typeNames())
	}
	return "", fmt.Errorf("unknown type %q (accepted: %s)", s, typeNames())
}

func typeNames() string {
	names := make([]string, len(Types))
	for i, t := range Types {
		names[i] = string(t)
	}
	return strings.Join(names, ", ")
}

// Outcome tells whether the audited action succeeded.
type Outcome string

// The two outcomes; an event without one is a success.
const (
	OutcomeSuccess Outcome = "success"
	OutcomeFailure Outcome = "failure"
)

// ParseOutcome returns the Outcome named by s (case-insensitive).
func ParseOutcome(s string) (Outcome, error) {
	switch o := Outcome(strings.ToLower(strings.TrimSpace(s))); o {
	case OutcomeSuccess, OutcomeFailure:
		return o, nil
	}
	return "", fmt.Errorf("unknown outcome %q (accepted: success, failure)", s)
}

// Event is one audit log entry: who did what, to which resource, from which
// IP, and when. Field order and JSON names are the ones of the CSV header.
type Event struct {
	ID           string    `json:"id"`
	Seq          int64     `json:"seq"`
	Time         time.Time `json:"time"`
	User         string    `json:"user"`
	UserName     string    `json:"user_name"`
	Type         Type      `json:"type"`
	Action       string    `json:"action"`
	ResourceType string    `json:"resource_type"`
	Resource     string    `json:"resource"`
	Details      string    `json:"details"`
	IP           string    `json:"ip"`
	Outcome      Outcome   `json:"outcome"`
	Hash         string    `json:"hash"`
	// Source is the producer format the event was imported from (Sources);
	// SourceAudit for events recorded or imported in audit's own format.
	Source string `json:"source"`
	// Raw is the producer's original record as compact JSON (an object, or
	// for auditd a string of its lines), kept by the importers; empty for
	// events recorded directly. It is covered by the hash chain.
	Raw json.RawMessage `json:"raw,omitempty"`
}

// The producer formats events are imported from.
const (
	SourceAudit      = "audit"
	SourceCloudTrail = "cloudtrail"
	SourceKubernetes = "kubernetes"
	SourceGitHub     = "github"
	SourceAuditd     = "auditd"
	SourceJournald   = "journald"
)

// Sources lists every valid Source.
var Sources = []string{SourceAudit, SourceCloudTrail, SourceKubernetes, SourceGitHub, SourceAuditd, SourceJournald}

// ParseSource returns the Source named by s (case-insensitive).
func ParseSource(s string) (string, error) {
	src := strings.ToLower(strings.TrimSpace(s))
	if !slices.Contains(Sources, src) {
		return "", fmt.Errorf("unknown source %q (accepted: %s)", s, strings.Join(Sources, ", "))
	}
	return src, nil
}

// MaxRawLen bounds the original record an event keeps, in bytes: large
// enough for a CloudTrail record or a Kubernetes event with its request
// object, small enough that one record cannot bloat the store.
const MaxRawLen = 256 << 10

// Fields lists the event's field names in their canonical order: the JSON
// names and the CSV header. raw, never in CSV, is not among them.
var Fields = []string{"id", "seq", "time", "user", "user_name", "type", "action",
	"resource_type", "resource", "details", "ip", "outcome", "hash", "source"}

// Size limits of the text fields, in bytes. Larger values are rejected on
// ingest so that one bad producer cannot bloat the store.
const (
	MaxIDLen      = 128
	MaxShortLen   = 256  // user, user_name, action, resource_type
	MaxResource   = 1024 // resource
	MaxDetailsLen = 8192 // details
)

// Values returns the event's fields as strings in the order of Fields, times
// in RFC 3339 UTC. It is what CSV and TSV writers print.
func (e *Event) Values() []string {
	seq := ""
	if e.Seq != 0 {
		seq = fmt.Sprint(e.Seq)
	}
	return []string{e.ID, seq, FormatTime(e.Time), e.User, e.UserName, string(e.Type),
		e.Action, e.ResourceType, e.Resource, e.Details, e.IP, string(e.Outcome), e.Hash, e.SourceName()}
}

// SourceName is e.Source, or SourceAudit when it is not set.
func (e *Event) SourceName() string {
	if e.Source == "" {
		return SourceAudit
	}
	return e.Source
}

// FormatTime renders t as RFC 3339 in UTC, with a fraction only where t has one.
func FormatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// FieldError names the field of an event that failed validation.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

// Is makes every FieldError match ErrInvalid.
func (e *FieldError) Is(target error) bool { return target == ErrInvalid }

// Normalize fills defaults (outcome success, UTC time) and validates the
// event as an ingest would. It returns a *FieldError naming the first bad
// field. It does not assign an id; callers give one or use NewID.
func (e *Event) Normalize() error {
	if e.Outcome == "" {
		e.Outcome = OutcomeSuccess
	}
	src, err := ParseSource(e.SourceName())
	if err != nil {
		return &FieldError{"source", err.Error()}
	}
	e.Source = src
	if len(e.Raw) > 0 {
		if err := normalizeRaw(&e.Raw); err != nil {
			return err
		}
	}
	e.Time = e.Time.UTC()
	if err := validID(e.ID); err != nil {
		return err
	}
	if err := CheckTime("time", e.Time); err != nil {
		return err
	}
	if e.User == "" {
		return &FieldError{"user", "missing (use \"system\" for automated actions)"}
	}
	t, err := ParseType(string(e.Type))
	if err != nil {
		return &FieldError{"type", err.Error()}
	}
	e.Type = t
	o, err := ParseOutcome(string(e.Outcome))
	if err != nil {
		return &FieldError{"outcome", err.Error()}
	}
	e.Outcome = o
	texts := []struct {
		name string
		v    string
		max  int
	}{
		{"user", e.User, MaxShortLen},
		{"user_name", e.UserName, MaxShortLen},
		{"action", e.Action, MaxShortLen},
		{"resource_type", e.ResourceType, MaxShortLen},
		{"resource", e.Resource, MaxResource},
		{"details", e.Details, MaxDetailsLen},
	}
	for _, f := range texts {
		if err := validText(f.name, f.v, f.max); err != nil {
			return err
		}
	}
	if e.IP != "" {
		a, err := netip.ParseAddr(e.IP)
		if err != nil || a.Zone() != "" {
			return &FieldError{"ip", fmt.Sprintf("invalid IP address %q (want IPv4 or IPv6 without zone)", truncate(e.IP, 64))}
		}
		e.IP = a.Unmap().String()
	}
	return nil
}

// normalizeRaw checks that raw is one JSON value within MaxRawLen and
// compacts it, so that the chain covers its content, not its spacing.
func normalizeRaw(raw *json.RawMessage) error {
	if len(*raw) > MaxRawLen {
		return &FieldError{"raw", fmt.Sprintf("%d bytes is longer than the limit of %d", len(*raw), MaxRawLen)}
	}
	if !utf8.Valid(*raw) {
		return &FieldError{"raw", "not valid UTF-8"}
	}
	b, err := CompactJSON(*raw)
	if err != nil {
		return &FieldError{"raw", "not a JSON value"}
	}
	if string(b) == "null" {
		*raw = nil
		return nil
	}
	*raw = b
	return nil
}

// CheckTime returns a *FieldError on field (time, or a producer's name
// for it) when t is missing or outside the years every store keeps.
func CheckTime(field string, t time.Time) error {
	if t.IsZero() {
		return &FieldError{field, "missing"}
	}
	if y := t.UTC().Year(); y < 1970 || y > 9999 {
		return &FieldError{field, fmt.Sprintf("year %d out of range 1970-9999", y)}
	}
	return nil
}

// CheckID returns a *FieldError on id when it is not an id an event may
// have: missing, too long, not UTF-8, or holding a space or control
// character.
func CheckID(id string) error { return validID(id) }

func validID(id string) error {
	if id == "" {
		return &FieldError{"id", "missing"}
	}
	if len(id) > MaxIDLen {
		return &FieldError{"id", fmt.Sprintf("longer than %d bytes", MaxIDLen)}
	}
	if !utf8.ValidString(id) {
		return &FieldError{"id", "not valid UTF-8"}
	}
	for _, r := range id {
		if r <= ' ' || r == 0x7f {
			return &FieldError{"id", fmt.Sprintf("contains a space or control character (%q)", truncate(id, 64))}
		}
	}
	return nil
}

func validText(name, v string, max int) error {
	if len(v) > max {
		return &FieldError{name, fmt.Sprintf("%d bytes is longer than the limit of %d", len(v), max)}
	}
	if !utf8.ValidString(v) {
		return &FieldError{name, "not valid UTF-8"}
	}
	if strings.IndexByte(v, 0) >= 0 {
		return &FieldError{name, "contains a NUL byte"}
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// FutureSlack is how far ahead of the receiving clock an event's time may
// be: clocks drift, but an event from further ahead is a wrong clock or a
// typo (2062 for 2026), and would sort above everything real.
const FutureSlack = 5 * time.Minute

// CheckNotFuture returns a *FieldError on time when e happened more than
// FutureSlack after now.
func CheckNotFuture(e *Event, now time.Time) error {
	if e.Time.After(now.Add(FutureSlack)) {
		return &FieldError{"time", fmt.Sprintf("%s is more than %s in the future (the clock says %s); allow it with --allow-future",
			FormatTime(e.Time.UTC()), "5 minutes", FormatTime(now.UTC().Truncate(time.Second)))}
	}
	return nil
}

// RejectFuture passes events through, failing the stream with a
// *RecordError at the first event more than FutureSlack after now().
func RejectFuture(events iter.Seq2[Event, error], now func() time.Time) iter.Seq2[Event, error] {
	return func(yield func(Event, error) bool) {
		i := 0
		for e, err := range events {
			if err == nil {
				if ferr := CheckNotFuture(&e, now()); ferr != nil {
					err = &RecordError{Index: i, Err: ferr}
				}
			}
			if !yield(e, err) || err != nil {
				return
			}
			i++
		}
	}
}
