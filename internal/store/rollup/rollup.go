// Package rollup holds what the stores' rollups share: which statistics
// they can answer, the window of whole hours or days they answer it for,
// the parts of the events they leave to be counted from the events table,
// and the adding up of both into a table's result.
//
// A store keeps two rollups beside its events:
//
//	hours (hour, type, outcome)                  → events
//	days  (day, dim, key1, key2, type, outcome)  → events
//
// hour and day are UTC hours and days since 1970; dim is 'u' (key1 the
// login), 'i' (key1 the address, "" for none) or 'r' (key1 the resource
// type, key2 the resource). The counts change in the transactions that
// write and prune the events, and the store remembers the seq up to which
// they count every event.
package rollup

import (
	"math"
	"slices"
	"strings"
	"time"

	"github.com/audit-cli/audit/internal/audit"
)

// Hour and Day are the rollups' units, in nanoseconds.
const (
	Hour = int64(time.Hour)
	Day  = 24 * Hour
)

// Plan is how the rollups answer a query: which rollup each of its
// tables reads, or why none can.
type Plan struct {
	Tables []Table
	Why    string // why the rollups cannot answer; "" when they can
}

// Table is the rollup one table of a query reads.
type Table struct {
	Days bool // the days rollup (else the hours')
	Dim  byte // the days rollup's dim
	// Cols are the rollup's columns of the table's dimensions, in their
	// order: type, outcome, key1, key2, or "" for a time dimension.
	Cols []string
}

// Unit is the length of the table's buckets, in nanoseconds.
func (t Table) Unit() int64 {
	if t.Days {
		return Day
	}
	return Hour
}

// PlanQuery decides whether the rollups answer q: its filter selects by
// time, type and outcome only, and every table groups by time buckets,
// type and outcome (the hours, with a zone whose offsets and changes fall
// on whole hours) or by one of login, address or resource, with type and
// outcome (the days).
func PlanQuery(q *audit.StatsQuery) Plan {
	f := &q.Filter
	switch {
	case len(f.Users) > 0:
		return Plan{Why: "--user"}
	case len(f.Actions) > 0:
		return Plan{Why: "--action"}
	case len(f.Resources) > 0:
		return Plan{Why: "--resource"}
	case len(f.ResourceTypes) > 0:
		return Plan{Why: "--resource-type"}
	case len(f.IPs) > 0:
		return Plan{Why: "--ip"}
	case len(f.Sources) > 0:
		return Plan{Why: "--source"}
	case f.Search != "":
		return Plan{Why: "--search"}
	case f.After != 0 || f.Before != 0:
		return Plan{Why: "a seq range"}
	}
	var plan Plan
	for _, t := range q.Tables {
		var rt Table
		hasTime := false
		for _, d := range t.By {
			var dim byte
			col := ""
			switch d {
			case audit.DimType:
				col = "type"
			case audit.DimOutcome:
				col = "outcome"
			case audit.DimDay, audit.DimHour, audit.DimWeek:
				hasTime = true
			case audit.DimUser:
				dim, col = 'u', "key1"
			case audit.DimIP:
				dim, col = 'i', "key1"
			case audit.DimResourceType:
				dim, col = 'r', "key1"
			case audit.DimResource:
				dim, col = 'r', "key2"
			default:
				return Plan{Why: "a table by " + string(d)}
			}
			if dim != 0 {
				if rt.Dim != 0 && rt.Dim != dim {
					return Plan{Why: "a table by two of login, address and resource"}
				}
				rt.Dim, rt.Days = dim, true
			}
			rt.Cols = append(rt.Cols, col)
		}
		if hasTime && rt.Days {
			return Plan{Why: "a table by time and login, address or resource"}
		}
		if hasTime && !wholeHours(q.Zone) {
			return Plan{Why: "a time zone whose offset is not a whole number of hours"}
		}
		plan.Tables = append(plan.Tables, rt)
	}
	return plan
}

// wholeHours reports whether every offset of z, and every change of it,
// falls on a whole hour, so that all events of a UTC hour share one local
// hour.
func wholeHours(z audit.Zone) bool {
	for i, o := range z {
		if o.Offset%3600 != 0 || i > 0 && o.Since.UnixNano()%Hour != 0 {
			return false
		}
	}
	return true
}

// Nanos is t in Unix nanoseconds, clamped to the range of an int64.
func Nanos(t time.Time) int64 {
	switch {
	case t.Before(time.Unix(0, math.MinInt64)):
		return math.MinInt64
	case t.After(time.Unix(0, math.MaxInt64)):
		return math.MaxInt64
	}
	return t.UnixNano()
}

// offsetAt is z's offset in seconds at t (Unix nanoseconds).
func offsetAt(z audit.Zone, t int64) int {
	for i := len(z) - 1; i > 0; i-- {
		if t >= Nanos(z[i].Since) {
			return z[i].Offset
		}
	}
	if len(z) == 0 {
		return 0
	}
	return z[0].Offset
}

// Window is the part of f's time range that whole units (hours, days)
// cover, in Unix nanoseconds: [lo, hi). The events outside it, in the
// partial units at the ends, are counted from the events table.
func Window(f *audit.Filter, unit int64) (lo, hi int64) {
	lo, hi = 0, math.MaxInt64
	if !f.Since.IsZero() {
		s := max(Nanos(f.Since), 0)
		lo = (s + unit - 1) / unit * unit
	}
	if !f.Until.IsZero() {
		u := Nanos(f.Until)
		if u <= 0 {
			return 0, 0
		}
		hi = u / unit * unit
	}
	if hi < lo {
		hi = lo
	}
	return lo, hi
}

// Part is a part of the events of a query that the rollups do not count
// for a window: f's events in a narrower time range, and, where Past is
// set, only those past the seq up to which the rollups count.
type Part struct {
	Filter audit.Filter
	Past   bool
}

// Rest is what the rollups leave of f's events for the window [lo, hi):
// those before lo, those from hi on, and those in it past the rollups.
// The parts are disjoint, and each has one time range, within f's own.
func Rest(f audit.Filter, lo, hi int64) []Part {
	var parts []Part
	part := func(since, until time.Time, past bool) {
		g := f
		if !since.IsZero() && (g.Since.IsZero() || since.After(g.Since)) {
			g.Since = since
		}
		if !until.IsZero() && (g.Until.IsZero() || until.Before(g.Until)) {
			g.Until = until
		}
		if !g.Since.IsZero() && !g.Until.IsZero() && !g.Since.Before(g.Until) {
			return // empty
		}
		parts = append(parts, Part{g, past})
	}
	bound := func(ns int64) time.Time {
		if ns <= 0 || ns == math.MaxInt64 {
			return time.Time{}
		}
		return time.Unix(0, ns)
	}
	if lo > 0 {
		part(time.Time{}, bound(lo), false)
	}
	if hi < math.MaxInt64 {
		part(bound(hi), time.Time{}, false)
	}
	if hi > lo {
		part(bound(lo), bound(hi), true)
	}
	return parts
}

// Keys are the keys of a rollup row of a table by the dimensions by: the
// texts of its non-time columns, in order, and, for the time dimensions,
// the local hour, day or week of the UTC hour bucket in zone.
func Keys(by []audit.Dimension, zone audit.Zone, bucket int64, texts []string) []string {
	keys := make([]string, len(by))
	c := 0
	for i, d := range by {
		if !d.IsTime() {
			keys[i] = texts[c]
			c++
			continue
		}
		off := offsetAt(zone, bucket*Hour)
		local := bucket + int64(off/3600) // the local hour
		day := floorDiv(local, 24)
		switch d {
		case audit.DimHour:
			keys[i] = audit.HourKey(local, off)
		case audit.DimDay:
			keys[i] = audit.DayKey(day)
		case audit.DimWeek:
			keys[i] = audit.WeekKey(7*floorDiv(day+3, 7) - 3)
		}
	}
	return keys
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// Sum adds up the rows of one table, from the rollups and from the
// events, by their keys.
type Sum map[string]*audit.StatsRow

// Add adds the counts of a group.
func (s Sum) Add(keys []string, events, failed int64) {
	k := strings.Join(keys, "\x00")
	r := s[k]
	if r == nil {
		r = &audit.StatsRow{Keys: keys}
		s[k] = r
	}
	r.Events += events
	r.Failed += failed
}

// Result is the table t's result: the groups with events, ordered as the
// stores order them, cut to t.Top.
func (s Sum) Result(t audit.StatsTable) audit.StatsTableResult {
	out := audit.StatsTableResult{By: slices.Clone(t.By), Rows: make([]audit.StatsRow, 0, len(s))}
	for _, r := range s {
		if r.Events > 0 {
			out.Rows = append(out.Rows, *r)
		}
	}
	out.Groups = int64(len(out.Rows))
	slices.SortFunc(out.Rows, audit.CompareRows)
	if t.Top > 0 && len(out.Rows) > t.Top {
		out.Rows = out.Rows[:t.Top]
	}
	return out
}
