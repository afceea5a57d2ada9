package timeexpr

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the zones below, also where the system has no zoneinfo
)

// zone loads a named location or stops the test.
func zone(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("LoadLocation(%q): %v", name, err)
	}
	return loc
}

// civil is a wall-clock time whose location each test supplies.
type civil struct {
	y                 int
	m                 time.Month
	d, hh, mm, ss, ns int
}

func (c civil) in(loc *time.Location) time.Time {
	return time.Date(c.y, c.m, c.d, c.hh, c.mm, c.ss, c.ns, loc)
}

func TestParse(t *testing.T) {
	// Thursday 2026-11-26 15:04:05, in ISO week 2026-W48.
	pinned := civil{2026, time.November, 26, 15, 4, 5, 0}
	tests := []struct {
		in   string
		want civil
	}{
		{"now", pinned},
		{"NOW", pinned},
		{"  now\t", pinned},
		{"0s", pinned},
		{"90s", civil{2026, time.November, 26, 15, 2, 35, 0}},
		{"15m", civil{2026, time.November, 26, 14, 49, 5, 0}},
		{"15M", civil{2026, time.November, 26, 14, 49, 5, 0}},
		{"24h", civil{2026, time.November, 25, 15, 4, 5, 0}},
		{"7d", civil{2026, time.November, 19, 15, 4, 5, 0}},
		{"007d", civil{2026, time.November, 19, 15, 4, 5, 0}},
		{"2w", civil{2026, time.November, 12, 15, 4, 5, 0}},
		{"today", civil{2026, time.November, 26, 0, 0, 0, 0}},
		{"Today", civil{2026, time.November, 26, 0, 0, 0, 0}},
		{"yesterday", civil{2026, time.November, 25, 0, 0, 0, 0}},
		{"this-week", civil{2026, time.November, 23, 0, 0, 0, 0}},
		{"last-week", civil{2026, time.November, 16, 0, 0, 0, 0}},
		{"this-month", civil{2026, time.November, 1, 0, 0, 0, 0}},
		{"last-month", civil{2026, time.October, 1, 0, 0, 0, 0}},
		{"this-year", civil{2026, time.January, 1, 0, 0, 0, 0}},
		{"last-year", civil{2025, time.January, 1, 0, 0, 0, 0}},
		{"2026-11-20", civil{2026, time.November, 20, 0, 0, 0, 0}},
		{"2026-11-20 14:00", civil{2026, time.November, 20, 14, 0, 0, 0}},
		{"2026-11-20 14:00:05", civil{2026, time.November, 20, 14, 0, 5, 0}},
		{"2026-11-20T14:00", civil{2026, time.November, 20, 14, 0, 0, 0}},
		{"2026-11-20t14:00", civil{2026, time.November, 20, 14, 0, 0, 0}},
		{"2026-11-20T14:00:05", civil{2026, time.November, 20, 14, 0, 5, 0}},
		{"2026-11-20T14:00:05.123", civil{2026, time.November, 20, 14, 0, 5, 123_000_000}},
		{"2026-11-20 14:00:05.123456789", civil{2026, time.November, 20, 14, 0, 5, 123_456_789}},
		{"2026-03-29 02:30", civil{2026, time.March, 29, 2, 30, 0, 0}}, // a gap in Berlin; see TestParseDST
		{"2026-02-28", civil{2026, time.February, 28, 0, 0, 0, 0}},
		{"2024-02-29", civil{2024, time.February, 29, 0, 0, 0, 0}},
		// journalctl's forms.
		{"-7d", civil{2026, time.November, 19, 15, 4, 5, 0}},
		{"-90s", civil{2026, time.November, 26, 15, 2, 35, 0}},
		{"+1h", civil{2026, time.November, 26, 16, 4, 5, 0}},
		{"+2w", civil{2026, time.December, 10, 15, 4, 5, 0}},
		{"2 days ago", civil{2026, time.November, 24, 15, 4, 5, 0}},
		{"1 hour ago", civil{2026, time.November, 26, 14, 4, 5, 0}},
		{"15 min ago", civil{2026, time.November, 26, 14, 49, 5, 0}},
		{"3  Weeks  Ago", civil{2026, time.November, 5, 15, 4, 5, 0}},
		{"7d ago", civil{2026, time.November, 19, 15, 4, 5, 0}},
		{"tomorrow", civil{2026, time.November, 27, 0, 0, 0, 0}},
	}
	for _, name := range []string{"Europe/Berlin", "America/New_York", "UTC"} {
		loc := zone(t, name)
		now := pinned.in(loc)
		for _, tt := range tests {
			t.Run(name+"/"+tt.in, func(t *testing.T) {
				got, err := Parse(tt.in, now, loc)
				if err != nil {
					t.Fatalf("Parse(%q): %v", tt.in, err)
				}
				want := tt.want.in(loc)
				if !got.Equal(want) {
					t.Errorf("Parse(%q) = %v, want %v", tt.in, got, want)
				}
				if got.Location() != loc {
					t.Errorf("Parse(%q) location = %v, want %v", tt.in, got.Location(), loc)
				}
			})
		}
	}
}

func TestParseZoned(t *testing.T) {
	berlin := zone(t, "Europe/Berlin")
	now := time.Date(2026, time.November, 26, 15, 4, 5, 0, berlin)
	tests := []struct {
		in   string
		want time.Time
	}{
		{"2026-11-20T14:00:05Z", time.Date(2026, time.November, 20, 14, 0, 5, 0, time.UTC)},
		{"2026-11-20t14:00:05z", time.Date(2026, time.November, 20, 14, 0, 5, 0, time.UTC)},
		{"2026-11-20T14:00:05.5Z", time.Date(2026, time.November, 20, 14, 0, 5, 500_000_000, time.UTC)},
		{"2026-11-20T14:00:05+01:00", time.Date(2026, time.November, 20, 13, 0, 5, 0, time.UTC)},
		{"2026-11-20T14:00:05-05:00", time.Date(2026, time.November, 20, 19, 0, 5, 0, time.UTC)},
		{"2026-11-20 14:00:05+01:00", time.Date(2026, time.November, 20, 13, 0, 5, 0, time.UTC)},
		{"2026-11-20T14:00Z", time.Date(2026, time.November, 20, 14, 0, 0, 0, time.UTC)},
		{" 2026-11-20T14:00:05Z ", time.Date(2026, time.November, 20, 14, 0, 5, 0, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in, now, berlin)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if !got.Equal(tt.want) {
				t.Errorf("Parse(%q) = %v, want %v", tt.in, got, tt.want)
			}
			if got.Location() != berlin {
				t.Errorf("Parse(%q) location = %v, want Europe/Berlin", tt.in, got.Location())
			}
		})
	}
}

func TestParseDST(t *testing.T) {
	berlin := zone(t, "Europe/Berlin")
	newYork := zone(t, "America/New_York")
	havana := zone(t, "America/Havana")
	tests := []struct {
		name string
		in   string
		now  time.Time
		want time.Time
	}{
		// Berlin springs forward on Sunday 2026-03-29 at 02:00.
		{"1d is a calendar day", "1d", time.Date(2026, time.March, 29, 12, 0, 0, 0, berlin),
			time.Date(2026, time.March, 28, 12, 0, 0, 0, berlin)},
		{"24h is exact", "24h", time.Date(2026, time.March, 29, 12, 0, 0, 0, berlin),
			time.Date(2026, time.March, 28, 11, 0, 0, 0, berlin)},
		{"1w across spring", "1w", time.Date(2026, time.April, 1, 12, 0, 0, 0, berlin),
			time.Date(2026, time.March, 25, 12, 0, 0, 0, berlin)},
		{"168h across spring", "168h", time.Date(2026, time.April, 1, 12, 0, 0, 0, berlin),
			time.Date(2026, time.March, 25, 11, 0, 0, 0, berlin)},
		{"yesterday across spring", "yesterday", time.Date(2026, time.March, 30, 0, 30, 0, 0, berlin),
			time.Date(2026, time.March, 29, 0, 0, 0, 0, berlin)},
		{"this-week across spring", "this-week", time.Date(2026, time.March, 29, 23, 0, 0, 0, berlin),
			time.Date(2026, time.March, 23, 0, 0, 0, 0, berlin)},
		// New York falls back on Sunday 2026-11-01 at 02:00.
		{"1d across fall", "1d", time.Date(2026, time.November, 1, 12, 0, 0, 0, newYork),
			time.Date(2026, time.October, 31, 12, 0, 0, 0, newYork)},
		{"24h across fall", "24h", time.Date(2026, time.November, 1, 12, 0, 0, 0, newYork),
			time.Date(2026, time.October, 31, 13, 0, 0, 0, newYork)},
		// Havana skipped 2015-03-08 00:00: the day began at 01:00 CDT.
		{"today without a midnight", "today", time.Date(2015, time.March, 8, 12, 0, 0, 0, havana),
			time.Date(2015, time.March, 8, 5, 0, 0, 0, time.UTC)},
		{"date without a midnight", "2015-03-08", time.Date(2015, time.March, 8, 12, 0, 0, 0, havana),
			time.Date(2015, time.March, 8, 5, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.in, tt.now, tt.now.Location())
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if !got.Equal(tt.want) {
				t.Errorf("Parse(%q, %v) = %v, want %v", tt.in, tt.now, got, tt.want)
			}
		})
	}
}

// TestParseNowInOtherZone checks that keywords use the calendar of loc, not
// of now's own location.
func TestParseNowInOtherZone(t *testing.T) {
	berlin := zone(t, "Europe/Berlin")
	newYork := zone(t, "America/New_York")
	// Thursday 01:00 in Berlin is still Wednesday 19:00 in New York.
	now := time.Date(2026, time.November, 26, 1, 0, 0, 0, berlin)
	got, err := Parse("today", now, newYork)
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, time.November, 25, 0, 0, 0, 0, newYork); !got.Equal(want) {
		t.Errorf("Parse(today) = %v, want %v", got, want)
	}
	got, err = Parse("2026-11-20 14:00", now, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, time.November, 20, 14, 0, 0, 0, time.UTC); !got.Equal(want) || got.Location() != time.UTC {
		t.Errorf("Parse with nil loc = %v, want %v", got, want)
	}
}

func TestParseErrors(t *testing.T) {
	berlin := zone(t, "Europe/Berlin")
	now := time.Date(2026, time.November, 26, 15, 4, 5, 0, berlin)
	tests := []string{
		"",
		"   ",
		"yesterdayy",
		"this week",
		"this_week",
		"7",
		"d",
		"7 d",
		"7x",
		"7ms",
		"1.5h",
		"1h30m",
		"99999999999999999999s", // overflows int64
		"- 7d",
		"+-7d",
		"--7d",
		"2 days",
		"2 fortnights ago",
		"days ago",
		"@",
		"@-5",
		"@1.",
		"@1.1234567891",
		"@253402300800", // year 10000
		"@0x10",
		"9223372036854775807s",          // overflows time.Duration
		"9223372036854775807d",          // absurd
		"9223372036854775807w",          // absurd, and 7n overflows
		"4000001d",                      // past maxDays
		"3000000d",                      // before year 1
		"2026-13-01",                    // no month 13
		"2026-02-30",                    // no February 30
		"2026-02-29",                    // not a leap year
		"2026-11-20 24:00",              // no hour 24
		"2026-11-20 14:60",              // no minute 60
		"2026-11-20 14",                 // an hour alone
		"2026-11-20 14:00.5",            // a fraction needs seconds
		"2026-11-20 14:00:05.",          // a dot needs digits
		"2026-11-20T14:00:05+01",        // RFC 3339 wants minutes in the offset
		"2026-11-20T14:00:05 Z",         // a space before the zone
		"2026-11-20T14:00:05Z trailing", // text after
		"2026-11",                       // a period, not a time
		"2026-W47",                      // a period, not a time
		"26-11-20",                      // a short year
		"-001-11-20",                    // a signed year
		"+2026-11-20",                   // a signed year
		"0000-01-01",                    // before the zero time
		"0001-01-01T00:00:00Z",          // the zero time itself
		"9999-12-31T23:00:00-05:00",     // year 10000 in Berlin
		"2026/11/20",                    // slashes
		"20 Nov 2026",                   // words
		"1764165845",                    // a Unix time
		"now\x00",                       // a NUL
		"last-wee\u212a",                // a Kelvin sign is not a k
		"tod\xffay",                     // invalid UTF-8
	}
	for _, in := range tests {
		t.Run(fmt.Sprintf("%q", in), func(t *testing.T) {
			got, err := Parse(in, now, berlin)
			if err == nil {
				t.Fatalf("Parse(%q) = %v, want an error", in, got)
			}
			if !got.IsZero() {
				t.Errorf("Parse(%q) returned %v with its error, want the zero time", in, got)
			}
			checkError(t, err, in, "time expression")
		})
	}
}

// checkError checks that err is an *Error for value of the kind, with a
// one-line message that quotes the value.
func checkError(t *testing.T, err error, value, kind string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v is a %T, want *Error", err, err)
	}
	if e.Value != value || e.Kind != kind {
		t.Errorf("Error = %+v, want Value %q and Kind %q", *e, value, kind)
	}
	msg := err.Error()
	if !strings.Contains(msg, fmt.Sprintf("%q", value)) {
		t.Errorf("message %q does not quote the value %q", msg, value)
	}
	if strings.ContainsAny(msg, "\n\r") {
		t.Errorf("message %q is not one line", msg)
	}
}

func TestErrorMessage(t *testing.T) {
	tests := []struct {
		err  *Error
		want string
	}{
		{&Error{Value: "yesterdayy", Kind: "time expression"},
			`invalid time expression "yesterdayy": did you mean yesterday? (accepted: 90s, 15m, 24h, 7d, 2w (ago), ` +
				`-2d, +1h, "2 days ago", @1764000000; now, today, yesterday, tomorrow, this-week, last-week, ` +
				`this-month, last-month, this-year, last-year; 2026-11-20, "2026-11-20 14:00", RFC 3339 (audit help time))`},
		{&Error{Value: "3 dayz", Kind: "time expression"},
			`invalid time expression "3 dayz" (accepted: 90s, 15m, 24h, 7d, 2w (ago), ` +
				`-2d, +1h, "2 days ago", @1764000000; now, today, yesterday, tomorrow, this-week, last-week, ` +
				`this-month, last-month, this-year, last-year; 2026-11-20, "2026-11-20 14:00", RFC 3339 (audit help time))`},
		{&Error{Value: "last-weak", Kind: "period"},
			`invalid period "last-weak": did you mean last-week? (accepted: today, yesterday, this-week, last-week, ` +
				`this-month, last-month, this-year, last-year, a year 2026, a month 2026-11, a week 2026-W47, a day 2026-11-20)`},
		{&Error{Value: "a\nb", Kind: "period"},
			`invalid period "a\nb" (accepted: today, yesterday, this-week, last-week, ` +
				`this-month, last-month, this-year, last-year, a year 2026, a month 2026-11, a week 2026-W47, a day 2026-11-20)`},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() =\n%s\nwant\n%s", got, tt.want)
		}
	}
}

// fuzzSeeds are the inputs both fuzz tests start from.
var fuzzSeeds = []string{
	"", "now", "today", "yesterday", "this-week", "last-week", "this-month", "last-month",
	"this-year", "90s", "15m", "24h", "7d", "2w", "-7d", "9223372036854775807s", "4000000d",
	"+1h", "2 days ago", "@1764000000", "@1764000000.25", "tomorrow", "-9223372036854775807s",
	"2026-11-20", "2026-11-20 14:00", "2026-11-20 14:00:05", "2026-11-20T14:00",
	"2026-11-20T14:00:05.123", "2026-11-20T14:00:05Z", "2026-11-20T14:00:05+01:00",
	"0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999999-23:59", "2026-02-30",
	"2026-11", "2026-W47", "2026-w53", "2025-W53", "0000-W01", "9999-12", "2026-13",
}

func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	berlin := zone(f, "Europe/Berlin")
	now := time.Date(2026, time.November, 26, 15, 4, 5, 0, berlin)
	f.Fuzz(func(t *testing.T, s string) {
		got, err := Parse(s, now, berlin)
		if err != nil {
			if !got.IsZero() {
				t.Errorf("Parse(%q) returned %v with its error", s, got)
			}
			checkError(t, err, s, "time expression")
			return
		}
		if got.IsZero() {
			t.Fatalf("Parse(%q) = the zero time without an error", s)
		}
		if got.Location() != berlin {
			t.Errorf("Parse(%q) location = %v, want Europe/Berlin", s, got.Location())
		}
		// Every result can be written as RFC 3339 and read back. In UTC,
		// since RFC 3339 offsets drop the seconds of old local mean times.
		text := got.UTC().Format(time.RFC3339Nano)
		again, err := Parse(text, now, berlin)
		if err != nil || !again.Equal(got) {
			t.Errorf("Parse(%q) = %s, which reads back as %v, %v", s, text, again, err)
		}
	})
}
