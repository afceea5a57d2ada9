// Package timeexpr parses the time expressions of --since and --until and the
// calendar periods of --period (docs/design.md §2 and §3).
//
// Every result is in the location the caller passes (the local zone, UTC
// under --utc, or the configured timezone); forms without a zone are read in
// that location. Midnights are built with time.Date from calendar dates, never
// by subtracting 24 hours, so days and weeks that contain a daylight saving
// change keep their true length.
package timeexpr

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/audit-cli/audit/internal/suggest"
)

// The values of Error.Kind.
const (
	kindTime   = "time expression"
	kindPeriod = "period"
)

// The accepted forms, listed in error messages: short, one line.
const (
	timeForms = "accepted: 90s, 15m, 24h, 7d, 2w (ago), -2d, +1h, \"2 days ago\", @1764000000; " +
		"now, today, yesterday, tomorrow, this-week, last-week, this-month, last-month, this-year, last-year; " +
		"2026-11-20, \"2026-11-20 14:00\", RFC 3339 (audit help time)"
	periodForms = "accepted: today, yesterday, this-week, last-week, this-month, last-month, " +
		"this-year, last-year, a year 2026, a month 2026-11, a week 2026-W47, a day 2026-11-20"
)

// keywords are the named periods, for suggestions.
var keywords = []string{"now", "today", "yesterday", "tomorrow", "this-week", "last-week", "this-month", "last-month", "this-year", "last-year"}

// maxDays bounds the "d" and "w" durations: it reaches past the whole range of
// four-digit years from any present time, and keeps time.AddDate's arithmetic
// far from overflowing.
const maxDays = 4_000_000

// Error is returned for an expression that Parse or ParsePeriod cannot read.
// Its message names the bad value and lists the accepted forms, on one line,
// so the command line can print it as a usage error (exit code 2).
type Error struct {
	// Value is the expression exactly as given.
	Value string
	// Kind is what was expected: "time expression" or "period".
	Kind string
}

// Error returns the one-line message, e.g.
// invalid period "x": want today, yesterday, ….
func (e *Error) Error() string {
	kind, forms := kindTime, timeForms
	if e.Kind == kindPeriod {
		kind, forms = kindPeriod, periodForms
	}
	if hint := suggest.Hint(strings.TrimSpace(e.Value), keywords); hint != "" {
		return fmt.Sprintf("invalid %s %q: %s (%s)", kind, e.Value, hint, forms)
	}
	return fmt.Sprintf("invalid %s %q (%s)", kind, e.Value, forms)
}

// Parse parses a time expression for --since/--until relative to now, in loc
// for zone-less forms. It accepts
//
//   - a duration ago: an integer and a unit s, m, h, d or w (90s, 15m, 24h,
//     7d, 2w); s, m and h are exact durations, d and w are calendar days in
//     loc, so 1d across a daylight saving change is 23 or 25 hours;
//   - journalctl's forms: -2d (ago), +1h (ahead of now), "2 days ago",
//     "15 min ago", @SECONDS since 1970 with an optional fraction, and the
//     keyword tomorrow;
//   - a keyword, the start of that period in loc: now, today, yesterday,
//     this-week, last-week, this-month, last-month, this-year, last-year
//     (weeks start on Monday, ISO 8601);
//   - a date, 2026-11-20, meaning its midnight in loc;
//   - a date and time in loc: 2026-11-20 14:00, 2026-11-20 14:00:05,
//     2026-11-20T14:00, 2026-11-20T14:00:05, with an optional fraction of a
//     second (.123);
//   - RFC 3339 with a zone: 2026-11-20T14:00:05Z, 2026-11-20T14:00:05.5+01:00.
//
// Keywords and units are case-insensitive and surrounding spaces are ignored.
// The result is always in loc; a nil loc means UTC. Results outside the years
// 0001 to 9999, and the zero time.Time (which callers use for "no bound"),
// are refused. Any failure is an *Error.
func Parse(s string, now time.Time, loc *time.Location) (time.Time, error) {
	if loc == nil {
		loc = time.UTC
	}
	t, ok := parseTime(strings.TrimSpace(s), now.In(loc), loc)
	if !ok || !inRange(t) {
		return time.Time{}, &Error{Value: s, Kind: kindTime}
	}
	return t, nil
}

// parseTime reads a trimmed time expression; now is already in loc.
func parseTime(v string, now time.Time, loc *time.Location) (time.Time, bool) {
	if v == "" {
		return time.Time{}, false
	}
	key := lowerASCII(v)
	switch key {
	case "now":
		return now, true
	case "tomorrow":
		y, m, d := now.Date()
		return dayPeriod(y, m, d+1, loc).Since, true
	}
	if p, ok := keywordPeriod(key, now, loc); ok {
		return p.Since, true
	}
	switch key[0] {
	case '-': // journalctl's -2d
		return offset(key[1:], now, -1)
	case '+': // and +1h, ahead of now
		return offset(key[1:], now, +1)
	case '@': // seconds since 1970
		if t, ok := parseEpoch(key[1:]); ok {
			return t.In(loc), true
		}
		return time.Time{}, false
	}
	if t, ok := parseAgo(key, now); ok {
		return t, true
	}
	if t, ok := parseWordsAgo(key, now); ok {
		return t, true
	}
	return parseDate(v, loc)
}

// parseAgo reads a duration ago such as 90s or 7d; key is lower case.
func parseAgo(key string, now time.Time) (time.Time, bool) {
	return offset(key, now, -1)
}

// offset reads a count and a unit (s, m, h, d, w) and returns now moved
// by it, back for sign -1 and ahead for +1; d and w are calendar days.
func offset(key string, now time.Time, sign int64) (time.Time, bool) {
	if len(key) < 2 {
		return time.Time{}, false
	}
	digits, unit := key[:len(key)-1], key[len(key)-1]
	n, ok := number(digits)
	if !ok {
		return time.Time{}, false
	}
	switch unit {
	case 's':
		return before(now, n, time.Duration(-sign)*time.Second)
	case 'm':
		return before(now, n, time.Duration(-sign)*time.Minute)
	case 'h':
		return before(now, n, time.Duration(-sign)*time.Hour)
	case 'd':
		if n > maxDays {
			return time.Time{}, false
		}
		return now.AddDate(0, 0, int(sign*n)), true
	case 'w':
		if n > maxDays/7 {
			return time.Time{}, false
		}
		return now.AddDate(0, 0, int(sign*7*n)), true
	}
	return time.Time{}, false
}

// unitWords are the units journalctl and people spell out, by the letter
// offset takes.
var unitWords = map[string]byte{
	"s": 's', "sec": 's', "secs": 's', "second": 's', "seconds": 's',
	"m": 'm', "min": 'm', "mins": 'm', "minute": 'm', "minutes": 'm',
	"h": 'h', "hour": 'h', "hours": 'h',
	"d": 'd', "day": 'd', "days": 'd',
	"w": 'w', "week": 'w', "weeks": 'w',
}

// parseWordsAgo reads "2 days ago", "1 hour ago" and "2d ago"; key is
// lower case.
func parseWordsAgo(key string, now time.Time) (time.Time, bool) {
	words := strings.Fields(key)
	switch {
	case len(words) == 2 && words[1] == "ago":
		return offset(words[0], now, -1)
	case len(words) == 3 && words[2] == "ago":
		unit, ok := unitWords[words[1]]
		if !ok {
			return time.Time{}, false
		}
		return offset(words[0]+string(unit), now, -1)
	}
	return time.Time{}, false
}

// parseEpoch reads @SECONDS, with an optional fraction: 1764000000,
// 1764000000.25.
func parseEpoch(key string) (time.Time, bool) {
	whole, frac, hasFrac := strings.Cut(key, ".")
	secs, ok := number(whole)
	if !ok || (hasFrac && (frac == "" || len(frac) > 9)) || secs > maxEpoch {
		return time.Time{}, false
	}
	var nanos int64
	if hasFrac {
		f, ok := number(frac)
		if !ok {
			return time.Time{}, false
		}
		nanos = f * int64(math.Pow10(9-len(frac)))
	}
	return time.Unix(secs, nanos), true
}

// maxEpoch is the last second of the year 9999.
const maxEpoch = 253402300799

// before returns now less n units (ahead of now for a negative unit), or
// false when that overflows a time.Duration.
func before(now time.Time, n int64, unit time.Duration) (time.Time, bool) {
	if n > math.MaxInt64/max(int64(unit), -int64(unit)) {
		return time.Time{}, false
	}
	return now.Add(-time.Duration(n) * unit), true
}

// Layouts of dates with times and without a zone, read in the caller's location.
// time.Parse also takes a fraction of a second after the seconds field.
var zonelessLayouts = []string{
	"2006-01-02 15:04",
	"2006-01-02 15:04:05",
	"2006-01-02T15:04",
	"2006-01-02T15:04:05",
}

// Layouts with a zone: RFC 3339, its space-separated variant (RFC 3339 §5.6
// allows it) and the ISO 8601 form without seconds.
var zonedLayouts = []string{
	time.RFC3339,
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02T15:04Z07:00",
	"2006-01-02 15:04Z07:00",
}

// parseDate reads the date and time forms; v is trimmed.
func parseDate(v string, loc *time.Location) (time.Time, bool) {
	// time.Parse would take a signed or short year; a date starts YYYY-.
	if len(v) < 5 || v[4] != '-' {
		return time.Time{}, false
	}
	if _, ok := number(v[:4]); !ok {
		return time.Time{}, false
	}
	// RFC 3339 allows a lower-case t and z; time.Parse wants them upper case.
	v = upperASCII(v)
	if day, err := time.Parse(time.DateOnly, v); err == nil {
		// A bare date is the start of that day, also where midnight
		// falls in a daylight saving gap; read in UTC, its calendar
		// date cannot shift.
		return midnight(day.Year(), day.Month(), day.Day(), loc), true
	}
	for _, layout := range zonelessLayouts {
		if t, err := time.ParseInLocation(layout, v, loc); err == nil {
			return t, true
		}
	}
	for _, layout := range zonedLayouts {
		if t, err := time.Parse(layout, v); err == nil {
			return t.In(loc), true
		}
	}
	return time.Time{}, false
}

// inRange reports whether t is after the zero time and within four-digit
// years, the range Parse and ParsePeriod accept.
func inRange(t time.Time) bool {
	return t.After(time.Time{}) && t.Year() <= 9999
}

// number parses a non-empty run of ASCII digits, with no sign, that fits an
// int64.
func number(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// lowerASCII lower-cases ASCII letters only, so that no other character
// (such as the Kelvin sign) folds into a keyword.
func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// upperASCII upper-cases ASCII letters only.
func upperASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - ('a' - 'A')
		}
	}
	return string(b)
}
