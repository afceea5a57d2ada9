package output

import (
	"fmt"
	"strings"
	"time"
)

// StatsFormats lists the -o values of `audit stats`; the first is the
// default. Stats are tables of numbers: wide and template do not apply.
var StatsFormats = []string{"table", "csv", "tsv", "json", "jsonl"}

func statsDefaults(opts Options) Options {
	opts.Format = strings.ToLower(strings.TrimSpace(opts.Format))
	if opts.Format == "" {
		opts.Format = "table"
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	if opts.Location == nil {
		opts.Location = time.Local
	}
	return opts
}

func statsFormatError(format string) error {
	return fmt.Errorf("unknown stats output format %q (accepted: %s)", format, strings.Join(StatsFormats, ", "))
}

// RangeText describes [since, until) in loc for a title: whole days as
// "Mon Nov 16 – Sun Nov 22, 2026" or "Thu Nov 26, 2026", other times
// with the clock, an open end as "Since …" or "Until …", both open as
// "All events".
func RangeText(since, until time.Time, loc *time.Location) string {
	if loc == nil {
		loc = time.Local
	}
	const long = "Mon Jan 2 2006, 3:04 PM"
	switch {
	case since.IsZero() && until.IsZero():
		return "All events"
	case until.IsZero():
		return "Since " + since.In(loc).Format(long)
	case since.IsZero():
		return "Until " + until.In(loc).Format(long)
	}
	s, u := since.In(loc), until.In(loc)
	if !isMidnight(s) || !isMidnight(u) {
		return s.Format(long) + " – " + u.Format(long)
	}
	last := u.Add(-time.Nanosecond)
	switch {
	case s.Year() == last.Year() && s.YearDay() == last.YearDay():
		return s.Format("Mon Jan 2, 2006")
	case s.Year() == last.Year():
		return s.Format("Mon Jan 2") + " – " + last.Format("Mon Jan 2, 2006")
	}
	return s.Format("Mon Jan 2, 2006") + " – " + last.Format("Mon Jan 2, 2006")
}

func isMidnight(t time.Time) bool {
	h, m, s := t.Clock()
	return h == 0 && m == 0 && s == 0 && t.Nanosecond() == 0
}

// zoneName names loc for a title: its IANA name, or for the local zone
// (which has none in Go) its abbreviations over the range, "CET/CEST".
func zoneName(since, until time.Time, loc *time.Location) string {
	if loc == nil {
		loc = time.Local
	}
	if loc.String() != "Local" {
		return loc.String()
	}
	at := since
	if at.IsZero() {
		at = until
	}
	if at.IsZero() {
		at = time.Now()
	}
	a, _ := at.In(loc).Zone()
	if !until.IsZero() {
		if b, _ := until.In(loc).Zone(); b != a {
			return a + "/" + b
		}
	}
	return a
}
