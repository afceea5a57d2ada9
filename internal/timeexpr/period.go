package timeexpr

import (
	"fmt"
	"strings"
	"time"
)

// Period is a closed calendar period: a day, an ISO 8601 week, a month or a
// year, as selected by --period.
type Period struct {
	// Name is the canonical name, used in file names: "2026-11-25" (a day),
	// "2026-W47" (an ISO week), "2026-11" (a month) or "2026" (a year).
	Name string
	// Since is the inclusive start: the first midnight of the period, in loc.
	Since time.Time
	// Until is the exclusive end: the start of the next period, in loc.
	Until time.Time
}

// ParsePeriod parses --period relative to now, in loc: today, yesterday,
// this-week, last-week, this-month, last-month, this-year, last-year, a year
// (2026), a month (2026-11), an ISO week (2026-W47, also 2026-w47) or a day
// (2026-11-20). Keywords are
// case-insensitive and surrounding spaces are ignored; a nil loc means UTC.
//
// Since and Until are midnights in loc, so a day or week that contains a
// daylight saving change is an hour shorter or longer. Weeks start on Monday;
// a week's Name carries its ISO year, which differs from the calendar year
// around New Year (Monday 2024-12-30 starts 2025-W01). Week 53 of a year that
// has only 52, and invalid months and days, are refused. Any failure is an
// *Error.
func ParsePeriod(s string, now time.Time, loc *time.Location) (Period, error) {
	if loc == nil {
		loc = time.UTC
	}
	key := lowerASCII(strings.TrimSpace(s))
	p, ok := keywordPeriod(key, now.In(loc), loc)
	if !ok {
		p, ok = namedPeriod(key, loc)
	}
	if !ok || !inRange(p.Since) {
		return Period{}, &Error{Value: s, Kind: kindPeriod}
	}
	return p, nil
}

// keywordPeriod returns the period a keyword names; key is lower case and now
// is in loc. It also serves Parse, which takes the period's start.
func keywordPeriod(key string, now time.Time, loc *time.Location) (Period, bool) {
	y, m, d := now.Date()
	switch key {
	case "today":
		return dayPeriod(y, m, d, loc), true
	case "yesterday":
		return dayPeriod(y, m, d-1, loc), true
	case "this-week":
		return weekPeriod(y, m, d-sinceMonday(now.Weekday()), loc), true
	case "last-week":
		return weekPeriod(y, m, d-sinceMonday(now.Weekday())-7, loc), true
	case "this-month":
		return monthPeriod(y, m, loc), true
	case "last-month":
		return monthPeriod(y, m-1, loc), true
	case "this-year":
		return yearPeriod(y, loc), true
	case "last-year":
		return yearPeriod(y-1, loc), true
	}
	return Period{}, false
}

// namedPeriod reads 2026-11, 2026-w47 or 2026-11-20; key is lower case.
func namedPeriod(key string, loc *time.Location) (Period, bool) {
	if len(key) == 4 { // 2026
		y, ok := number(key)
		if !ok || y < 1 {
			return Period{}, false
		}
		return yearPeriod(int(y), loc), true
	}
	if len(key) < 7 || key[4] != '-' {
		return Period{}, false
	}
	year, ok := number(key[:4])
	if !ok {
		return Period{}, false
	}
	y := int(year)
	switch {
	case len(key) == 7: // 2026-11
		m, ok := number(key[5:7])
		if !ok || m < 1 || m > 12 {
			return Period{}, false
		}
		return monthPeriod(y, time.Month(m), loc), true
	case len(key) == 8 && key[5] == 'w': // 2026-w47
		w, ok := number(key[6:8])
		if !ok || w < 1 || w > 53 {
			return Period{}, false
		}
		monday := time.Date(y, time.January, 4, 0, 0, 0, 0, time.UTC) // always in week 1
		monday = monday.AddDate(0, 0, -sinceMonday(monday.Weekday())+7*int(w-1))
		if isoYear, isoWeek := monday.ISOWeek(); isoYear != y || isoWeek != int(w) {
			return Period{}, false // week 53 of a 52-week year
		}
		return weekPeriod(monday.Year(), monday.Month(), monday.Day(), loc), true
	case len(key) == 10 && key[7] == '-': // 2026-11-20
		m, okm := number(key[5:7])
		d, okd := number(key[8:10])
		if !okm || !okd || m < 1 || m > 12 || d < 1 {
			return Period{}, false
		}
		date := time.Date(y, time.Month(m), int(d), 0, 0, 0, 0, time.UTC)
		if date.Month() != time.Month(m) { // 2026-02-30 rolled into March
			return Period{}, false
		}
		return dayPeriod(y, time.Month(m), int(d), loc), true
	}
	return Period{}, false
}

// The period constructors take a calendar date that may be out of range
// (day 0, month 13) and normalize it in UTC, where no daylight saving can
// move it, before placing its midnights in loc.

// dayPeriod returns the day of the date y-m-d.
func dayPeriod(y int, m time.Month, d int, loc *time.Location) Period {
	day := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	next := day.AddDate(0, 0, 1)
	return Period{
		Name:  day.Format("2006-01-02"),
		Since: midnight(day.Year(), day.Month(), day.Day(), loc),
		Until: midnight(next.Year(), next.Month(), next.Day(), loc),
	}
}

// weekPeriod returns the ISO week that starts on the Monday y-m-d.
func weekPeriod(y int, m time.Month, d int, loc *time.Location) Period {
	monday := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	next := monday.AddDate(0, 0, 7)
	isoYear, isoWeek := monday.ISOWeek()
	return Period{
		Name:  fmt.Sprintf("%04d-W%02d", isoYear, isoWeek),
		Since: midnight(monday.Year(), monday.Month(), monday.Day(), loc),
		Until: midnight(next.Year(), next.Month(), next.Day(), loc),
	}
}

// yearPeriod returns the calendar year y.
func yearPeriod(y int, loc *time.Location) Period {
	return Period{
		Name:  fmt.Sprintf("%04d", y),
		Since: midnight(y, time.January, 1, loc),
		Until: midnight(y+1, time.January, 1, loc),
	}
}

// monthPeriod returns the month y-m.
func monthPeriod(y int, m time.Month, loc *time.Location) Period {
	first := time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
	next := first.AddDate(0, 1, 0)
	return Period{
		Name:  first.Format("2006-01"),
		Since: midnight(first.Year(), first.Month(), 1, loc),
		Until: midnight(next.Year(), next.Month(), 1, loc),
	}
}

// midnight returns the first instant of the calendar day y-m-d in loc; the
// date must be normalized. Where clocks jump forward at midnight (Havana,
// Santiago, São Paulo) that day has no 00:00, and time.Date may answer with
// 23:00 of the day before; the day then starts when the jump happens.
func midnight(y int, m time.Month, d int, loc *time.Location) time.Time {
	t := time.Date(y, m, d, 0, 0, 0, 0, loc)
	if _, _, td := t.Date(); td != d {
		if _, end := t.ZoneBounds(); !end.IsZero() {
			if _, _, ed := end.Date(); ed == d {
				return end
			}
		}
	}
	return t
}

// sinceMonday returns how many days wd is after the Monday that starts its
// ISO week: 0 for Monday, 6 for Sunday.
func sinceMonday(wd time.Weekday) int {
	return (int(wd) + 6) % 7
}
