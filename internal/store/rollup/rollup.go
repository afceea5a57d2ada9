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
	"cmp"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/audit-cli/audit/internal/audit"
)

// Hour and Day are the rollups' units, in seconds: a bucket is the Unix
// seconds of its events divided by its unit. Seconds, not nanoseconds,
// so that times up to the year 9999 have buckets.
const (
	Hour = int64(3600)
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

// Columns returns the columns a query of the rollup groups by for st: the
// bucket column (hour or day, as the store names it) when st counts by
// time, then the columns of st's other dimensions, in their order.
func (t Table) Columns(st audit.StatsTable, bucket string) []string {
	var cols []string
	if slices.ContainsFunc(st.By, audit.Dimension.IsTime) {
		cols = append(cols, bucket)
	}
	for _, c := range t.Cols {
		if c != "" {
			cols = append(cols, c)
		}
	}
	return cols
}

// Dest returns the scan destinations of a row of a query grouped by cols
// (Columns): the bucket into *bucket when byTime, then the text keys,
// returned for Keys. The caller appends those of its counts.
func Dest(cols []string, byTime bool, bucket *int64) (texts []string, dest []any) {
	if byTime {
		dest = append(dest, bucket)
	}
	texts = make([]string, len(cols)-len(dest))
	for i := range texts {
		dest = append(dest, &texts[i])
	}
	return texts, dest
}

// Unit is the length of the table's buckets, in seconds.
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

// offsetAt is z's offset in seconds at the start of UTC hour h.
func offsetAt(z audit.Zone, h int64) int {
	t := time.Unix(h*Hour, 0)
	for i := len(z) - 1; i > 0; i-- {
		if !t.Before(z[i].Since) {
			return z[i].Offset
		}
	}
	if len(z) == 0 {
		return 0
	}
	return z[0].Offset
}

// Span is the buckets [Lo, Hi) of a unit (Hour or Day) that lie wholly
// within a time range; Hi is math.MaxInt64 for a range without an end.
type Span struct {
	Lo, Hi, Unit int64
}

// Window is the part of f's time range that whole units cover. The
// events outside it, in the partial units at the ends, are counted from
// the events table.
func Window(f *audit.Filter, unit int64) Span {
	w := Span{0, math.MaxInt64, unit}
	epoch := time.Unix(0, 0)
	if !f.Since.IsZero() && f.Since.After(epoch) {
		s := f.Since.Unix()
		w.Lo = s / unit
		if s%unit != 0 || f.Since.Nanosecond() != 0 {
			w.Lo++
		}
	}
	if !f.Until.IsZero() {
		if !f.Until.After(epoch) {
			return Span{0, 0, unit}
		}
		w.Hi = f.Until.Unix() / unit
	}
	w.Hi = max(w.Hi, w.Lo)
	return w
}

// Part is a part of the events of a query that the rollups do not count
// for a window: f's events in a narrower time range, and, where Past is
// set, only those past the seq up to which the rollups count.
type Part struct {
	Filter audit.Filter
	Past   bool
}

// Rest is what the rollups leave of f's events for the window w: those
// before it, those after it, and those in it past the rollups. The parts
// are disjoint, and each has one time range, within f's own.
func Rest(f audit.Filter, w Span) []Part {
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
	bound := func(b int64) time.Time {
		if b <= 0 || b == math.MaxInt64 {
			return time.Time{}
		}
		return time.Unix(b*w.Unit, 0)
	}
	if w.Lo > 0 {
		part(time.Time{}, bound(w.Lo), false)
	}
	if w.Hi < math.MaxInt64 {
		part(bound(w.Hi), time.Time{}, false)
	}
	if w.Hi > w.Lo {
		part(bound(w.Lo), bound(w.Hi), true)
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
		off := offsetAt(zone, bucket)
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

// Tables computes the tables of q under plan: for each, the counts its
// rollup holds over the whole units of its window (read by rows), and
// those of the rest of the window, each part of it (rest) counted from
// the events by counted.
func Tables[P any](q *audit.StatsQuery, plan Plan,
	rows func(t audit.StatsTable, rt Table, span Span, add func([]string, int64, int64)) error,
	rest func(Span) []P, counted func(t audit.StatsTable, part P) (audit.StatsTableResult, error)) ([]audit.StatsTableResult, error) {
	out := make([]audit.StatsTableResult, len(q.Tables))
	for i, t := range q.Tables {
		rt := plan.Tables[i]
		span := Window(&q.Filter, rt.Unit())
		sum := Sum{}
		if err := rows(t, rt, span, sum.Add); err != nil {
			return nil, err
		}
		all := audit.StatsTable{By: t.By}
		for _, part := range rest(span) {
			tr, err := counted(all, part)
			if err != nil {
				return nil, err
			}
			for _, r := range tr.Rows {
				sum.Add(r.Keys, r.Events, r.Failed)
			}
		}
		out[i] = sum.Result(t)
	}
	return out, nil
}

// HourRow is one count of the hours rollup.
type HourRow struct {
	Hour          int64
	Type, Outcome string
	Events        int64
}

// DayRow is one count of the days rollup.
type DayRow struct {
	Day           int64
	Dim           byte
	Key1, Key2    string
	Type, Outcome string
	Events        int64
}

type hourKey struct {
	hour         int64
	typ, outcome string
}

type dayKey struct {
	day          int64
	dim          byte
	key1, key2   string
	typ, outcome string
}

// Counts are the counts of the events a writer has inserted (or deletes)
// and not yet added to the rollups.
type Counts struct {
	hours map[hourKey]*int64
	days  map[dayKey]*int64
}

// maxCounts bounds the counts a writer holds before it adds them to the
// rollups (a large import's memory: about 100 bytes a count).
const maxCounts = 1 << 18

// NewCounts returns empty counts.
func NewCounts() *Counts {
	return &Counts{hours: map[hourKey]*int64{}, days: map[dayKey]*int64{}}
}

// Add counts e (n = 1) or uncounts it (n = -1). A new count's key holds
// copies of e's strings, which may share the memory of a whole decoded
// batch.
func (c *Counts) Add(e *audit.Event, n int64) {
	t := e.Time.Unix()
	h, d := t/Hour, t/Day
	typ, out := string(e.Type), string(e.Outcome)
	hk := hourKey{h, typ, out}
	p := c.hours[hk]
	if p == nil {
		p = new(int64)
		hk.typ, hk.outcome = strings.Clone(typ), strings.Clone(out)
		c.hours[hk] = p
	}
	*p += n
	c.addDay(dayKey{d, 'u', e.User, "", typ, out}, n)
	c.addDay(dayKey{d, 'i', e.IP, "", typ, out}, n)
	c.addDay(dayKey{d, 'r', e.ResourceType, e.Resource, typ, out}, n)
}

func (c *Counts) addDay(k dayKey, n int64) {
	p := c.days[k]
	if p == nil {
		p = new(int64)
		k.key1, k.key2 = strings.Clone(k.key1), strings.Clone(k.key2)
		k.typ, k.outcome = strings.Clone(k.typ), strings.Clone(k.outcome)
		c.days[k] = p
	}
	*p += n
}

// Merge adds o's counts to c.
func (c *Counts) Merge(o *Counts) {
	for k, n := range o.hours {
		if p := c.hours[k]; p != nil {
			*p += *n
		} else {
			c.hours[k] = n
		}
	}
	for k, n := range o.days {
		if p := c.days[k]; p != nil {
			*p += *n
		} else {
			c.days[k] = n
		}
	}
}

// Full reports whether the writer should add the counts to the rollups
// now rather than hold more.
func (c *Counts) Full() bool { return len(c.days) >= maxCounts }

// Rows are the counts that are not zero, in the order of the rollups'
// keys: in that order the rows go into the tables' B-trees one page after
// the other, a third of the time of random order.
func (c *Counts) Rows() ([]HourRow, []DayRow) {
	hours := make([]HourRow, 0, len(c.hours))
	for k, n := range c.hours {
		if *n != 0 {
			hours = append(hours, HourRow{k.hour, k.typ, k.outcome, *n})
		}
	}
	days := make([]DayRow, 0, len(c.days))
	for k, n := range c.days {
		if *n != 0 {
			days = append(days, DayRow{k.day, k.dim, k.key1, k.key2, k.typ, k.outcome, *n})
		}
	}
	slices.SortFunc(hours, func(a, b HourRow) int {
		return cmp.Or(cmp.Compare(a.Hour, b.Hour), strings.Compare(a.Type, b.Type), strings.Compare(a.Outcome, b.Outcome))
	})
	slices.SortFunc(days, func(a, b DayRow) int {
		return cmp.Or(cmp.Compare(a.Day, b.Day), cmp.Compare(a.Dim, b.Dim), strings.Compare(a.Key1, b.Key1),
			strings.Compare(a.Key2, b.Key2), strings.Compare(a.Type, b.Type), strings.Compare(a.Outcome, b.Outcome))
	})
	return hours, days
}

// Reset forgets the counts.
func (c *Counts) Reset() {
	clear(c.hours)
	clear(c.days)
}
