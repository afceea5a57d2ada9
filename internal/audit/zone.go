package audit

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ZoneOffset is a time zone's offset from UTC from Since on.
type ZoneOffset struct {
	// Since is the instant the offset takes effect; zero for the first
	// offset of a Zone, which holds since ever.
	Since time.Time `json:"since,omitzero"`
	// Offset is in seconds east of UTC: 3600 for CET, -18000 for EST,
	// 19800 for IST.
	Offset int `json:"offset"`
}

// Zone is a time zone reduced to its offsets from UTC over the time a query
// covers: the first from since ever, each later one from its Since on, the
// last for ever. An empty Zone is UTC.
//
// Why not a zone name: the client knows its zone (config timezone, --utc,
// the local zone, which often has no IANA name a server could look up), a
// server may have other tzdata or none, and SQLite has no time zones at
// all. With the offsets in the query, every store computes the exact local
// day, hour and week of an event, daylight saving and zones offset by 30
// or 45 minutes included, as plain integer arithmetic over the time
// column: local = time + offset, with the offset picked by a CASE over a
// handful of transitions (two a year where clocks change). Grouping by UTC
// hour and folding hours into local days on the client would be wrong for
// half-hour zones and would return 24 times the rows of a day chart.
type Zone []ZoneOffset

// ZoneIn returns loc's offsets over [since, until): the offset in effect at
// since, then one for each change before until. A zero until means only the
// offset at since; a zero since, the offset at until; both zero, the offset
// now. A nil loc is UTC.
func ZoneIn(loc *time.Location, since, until time.Time) Zone {
	if loc == nil || loc == time.UTC {
		return nil
	}
	if since.IsZero() {
		since = until
	}
	if since.IsZero() {
		since = time.Now()
	}
	t := since.In(loc)
	_, off := t.Zone()
	z := Zone{{Offset: off}}
	for !until.IsZero() && len(z) < MaxZoneOffsets {
		_, end := t.ZoneBounds()
		if end.IsZero() || !end.Before(until) {
			break
		}
		t = end
		if _, o := t.Zone(); o != z[len(z)-1].Offset {
			z = append(z, ZoneOffset{Since: end.UTC(), Offset: o})
		}
	}
	if len(z) == 1 && z[0].Offset == 0 {
		return nil
	}
	return z
}

// OffsetAt returns the offset in seconds east of UTC that z has at t.
func (z Zone) OffsetAt(t time.Time) int {
	off := 0
	for i, o := range z {
		if i > 0 && t.Before(o.Since) {
			break
		}
		off = o.Offset
	}
	return off
}

// Validate checks that z is well formed: the first offset since ever, the
// others in increasing order of Since, whole seconds, offsets under a day,
// at most MaxZoneOffsets. Errors wrap ErrInvalid.
func (z Zone) Validate() error {
	if len(z) > MaxZoneOffsets {
		return fmt.Errorf("%w: zone has %d offsets (at most %d)", ErrInvalid, len(z), MaxZoneOffsets)
	}
	for i, o := range z {
		switch {
		case o.Offset <= -secondsPerDay || o.Offset >= secondsPerDay:
			return fmt.Errorf("%w: zone offset %d s is not under a day", ErrInvalid, o.Offset)
		case i == 0 && !o.Since.IsZero():
			return fmt.Errorf("%w: the first zone offset must hold since ever (no since)", ErrInvalid)
		case i > 0 && (o.Since.IsZero() || o.Since.Nanosecond() != 0 || (i > 1 && !o.Since.After(z[i-1].Since))):
			return fmt.Errorf("%w: zone offsets must change at whole seconds, in increasing order", ErrInvalid)
		}
	}
	return nil
}

// String is the query-string form of z: offsets in seconds, each but the
// first with "@" and the RFC 3339 instant it takes effect, separated by
// commas: "3600,7200@2026-03-29T01:00:00Z,3600@2026-10-25T01:00:00Z".
// UTC is "0".
func (z Zone) String() string {
	if len(z) == 0 {
		return "0"
	}
	parts := make([]string, len(z))
	for i, o := range z {
		parts[i] = strconv.Itoa(o.Offset)
		if i > 0 {
			parts[i] += "@" + FormatTime(o.Since)
		}
	}
	return strings.Join(parts, ",")
}

// ParseZone reads the String form of a Zone. Errors wrap ErrInvalid.
func ParseZone(s string) (Zone, error) {
	bad := fmt.Errorf("%w: invalid zone %q (want e.g. 3600,7200@2026-03-29T01:00:00Z)", ErrInvalid, s)
	var z Zone
	for i, part := range strings.Split(s, ",") {
		offText, sinceText, hasSince := strings.Cut(part, "@")
		off, err := strconv.Atoi(offText)
		if err != nil || hasSince != (i > 0) {
			return nil, bad
		}
		o := ZoneOffset{Offset: off}
		if hasSince {
			if o.Since, err = time.Parse(time.RFC3339Nano, sinceText); err != nil {
				return nil, bad
			}
			o.Since = o.Since.UTC()
		}
		z = append(z, o)
	}
	if err := z.Validate(); err != nil {
		return nil, err
	}
	if len(z) == 1 && z[0].Offset == 0 {
		return nil, nil
	}
	return z, nil
}

// TimeBucket is one bucket of a time dimension in a zone: its key and the
// instants it spans, [Start, End).
type TimeBucket struct {
	Key        string
	Start, End time.Time
}

// TimeBuckets lists the buckets of the time dimension d (day, hour or
// week) in loc that [since, until) overlaps, in order: what a chart shows,
// empty buckets included, with the keys a Statser returns for a Zone made
// by ZoneIn(loc, since, until). Days and weeks start at local midnight
// (or when it is skipped, as soon as the day begins), so they last 23 or
// 25 hours across a daylight saving change; hours are the local clock's,
// so such a day has 23 or 25 of them. A nil loc is UTC.
func TimeBuckets(d Dimension, since, until time.Time, loc *time.Location) []TimeBucket {
	if loc == nil {
		loc = time.UTC
	}
	if !d.IsTime() || !since.Before(until) {
		return nil
	}
	var out []TimeBucket
	switch d {
	case DimHour:
		for t := hourStart(since, loc); t.Before(until); {
			next := hourStart(t.Add(time.Hour), loc)
			_, off := t.In(loc).Zone()
			out = append(out, TimeBucket{Key: HourKey(floorDiv(t.Unix()+int64(off), 3600), off), Start: t, End: next})
			t = next
		}
	default:
		l := since.In(loc)
		date := time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, time.UTC)
		step := 1
		if d == DimWeek {
			date = date.AddDate(0, 0, -(int(date.Weekday())+6)%7)
			step = 7
		}
		for {
			start := localMidnight(date, loc)
			if !start.Before(until) {
				break
			}
			next := date.AddDate(0, 0, step)
			days := floorDiv(date.Unix(), secondsPerDay)
			key := DayKey(days)
			if d == DimWeek {
				key = WeekKey(days)
			}
			out = append(out, TimeBucket{Key: key, Start: start, End: localMidnight(next, loc)})
			date = next
		}
	}
	return out
}

// hourStart is the start of the local hour of loc that holds t.
func hourStart(t time.Time, loc *time.Location) time.Time {
	_, off := t.In(loc).Zone()
	return time.Unix(floorDiv(t.Unix()+int64(off), 3600)*3600-int64(off), 0).In(loc)
}

// localMidnight is the first instant of the calendar date of d (a UTC
// midnight) in loc. Where the clock jumps over midnight, the day starts
// when the jump lands.
func localMidnight(d time.Time, loc *time.Location) time.Time {
	t := time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, loc)
	if t.Day() != d.Day() {
		if _, end := t.ZoneBounds(); !end.IsZero() && end.In(loc).Day() == d.Day() {
			return end
		}
	}
	return t
}
