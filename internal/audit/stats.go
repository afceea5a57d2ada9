package audit

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"iter"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Statser is implemented by stores that compute statistics themselves: the
// grouped counts of `audit stats` (SQL GROUP BY over the indexes, or
// GET /v1/stats of a remote store) and the failed-login bursts of `audit
// stats logins`. Neither ever loads all matching events into the caller.
// Commands check for it with a type assertion and fail with an error
// wrapping ErrNoStats when a store lacks it.
//
// Every backend passes storetest.RunStats, which holds it to StatsOf and
// DetectBursts, the reference semantics.
type Statser interface {
	// Stats counts the events matching q.Filter: in total, and grouped as
	// each of q.Tables asks. Time dimensions (day, hour, week) are read in
	// q.Zone. Invalid queries fail with an error wrapping ErrInvalid.
	Stats(ctx context.Context, q StatsQuery) (StatsResult, error)

	// Bursts finds the bursts of failed logins among the events that
	// q.EventFilter selects, per user and per source IP, as DetectBursts
	// defines them, sorted as DetectBursts sorts them. It reads the events
	// in time order with memory bounded by the window, not by their
	// number. Invalid queries fail with an error wrapping ErrInvalid.
	Bursts(ctx context.Context, q BurstQuery) ([]Burst, error)
}

// ErrNoStats means the store cannot compute statistics (it is not a
// Statser). It is a runtime failure: the command line exits 1.
var ErrNoStats = errors.New("this store cannot compute statistics")

// Dimension is what events are grouped by. Each has a canonical text form
// of its values, the key, which every store produces exactly:
//
//   - user, type, action, resource_type, resource, ip, outcome: the stored
//     value itself, compared byte for byte (logins "jdavis" and "JDavis"
//     are two groups, whatever a store's collation); ip is "" for events
//     without an address.
//   - day: the calendar date in the query's Zone, "2026-11-20".
//   - week: the ISO 8601 week of that date, "2026-W47" (weeks start on
//     Monday, and the year is the ISO year), the form --period takes.
//   - hour: the start of the hour in the query's Zone, as RFC 3339 with
//     the offset in effect, "2026-11-20T14:00:00+01:00" ("Z" for UTC). The
//     offset tells apart the two 02:00 hours of a night when clocks go
//     back, and hours of zones offset by 30 or 45 minutes start on the
//     half or three-quarter UTC hour.
type Dimension string

// The dimensions of StatsTable.By, as `audit stats --by` names them.
const (
	DimUser         Dimension = "user"
	DimType         Dimension = "type"
	DimAction       Dimension = "action"
	DimResourceType Dimension = "resource_type"
	DimResource     Dimension = "resource"
	DimIP           Dimension = "ip"
	DimOutcome      Dimension = "outcome"
	DimDay          Dimension = "day"
	DimHour         Dimension = "hour"
	DimWeek         Dimension = "week"
)

// Dimensions lists every Dimension in the order `audit stats --help` gives.
var Dimensions = []Dimension{DimUser, DimType, DimAction, DimResourceType, DimResource,
	DimIP, DimOutcome, DimDay, DimHour, DimWeek}

// ParseDimension returns the Dimension named by s (case-insensitive;
// "resource-type" is accepted for resource_type, as the flag is spelled).
func ParseDimension(s string) (Dimension, error) {
	d := Dimension(strings.ReplaceAll(strings.ToLower(strings.TrimSpace(s)), "-", "_"))
	if slices.Contains(Dimensions, d) {
		return d, nil
	}
	names := make([]string, len(Dimensions))
	for i, d := range Dimensions {
		names[i] = string(d)
	}
	return "", fmt.Errorf("unknown dimension %q (accepted: %s)", s, strings.Join(names, ", "))
}

// IsTime reports whether d is a time bucket (day, hour or week), read in a
// zone.
func (d Dimension) IsTime() bool { return d == DimDay || d == DimHour || d == DimWeek }

// StatsQuery asks a Statser for counts. It is JSON-friendly, and Values and
// ParseStatsValues give its query-string form (GET /v1/stats).
type StatsQuery struct {
	// Filter selects the events counted: the §2 filters. Limit and Order
	// are ignored.
	Filter Filter `json:"filter"`
	// Zone is the time zone day, hour and week are read in; empty means
	// UTC. See ZoneIn.
	Zone Zone `json:"zone,omitempty"`
	// Tables are the groupings to count, each answered by one
	// StatsTableResult in the same order. None: the totals alone.
	Tables []StatsTable `json:"tables,omitempty"`
}

// StatsTable is one grouping: the events counted per distinct combination
// of the By dimensions, like SQL GROUP BY.
type StatsTable struct {
	// By are the dimensions, at least one, none twice.
	By []Dimension `json:"by"`
	// Top keeps only the first Top rows in the order of StatsTableResult.Rows
	// (the largest groups); 0 keeps all.
	Top int `json:"top,omitempty"`
}

// MaxStatsTables and MaxZoneOffsets bound a StatsQuery, so that a remote
// request cannot ask for unbounded work in one go.
const (
	MaxStatsTables = 16
	MaxZoneOffsets = 1000
)

// StatsResult answers a StatsQuery.
type StatsResult struct {
	// Total counts the matching events, Failed those of them whose outcome
	// is failure.
	Total  int64 `json:"total"`
	Failed int64 `json:"failed"`
	// First and Last are the earliest and latest time of a matching
	// event, zero when none matches.
	First time.Time `json:"first,omitzero"`
	Last  time.Time `json:"last,omitzero"`
	// Tables answer the query's Tables, in order.
	Tables []StatsTableResult `json:"tables"`
}

// StatsTableResult is the answer to one StatsTable.
type StatsTableResult struct {
	By []Dimension `json:"by"`
	// Groups counts the distinct groups, also those that Top left out.
	Groups int64 `json:"groups"`
	// Rows are the groups, never empty ones, ordered by Events descending,
	// then by Keys ascending (compared one key after the other, byte for
	// byte), and cut to Top. The order is exact, so that every store
	// returns the same rows; callers re-sort for display.
	Rows []StatsRow `json:"rows"`
}

// StatsRow is one group: its keys (one per dimension of By, in the
// canonical text forms of Dimension) and its counts.
type StatsRow struct {
	Keys   []string `json:"keys"`
	Events int64    `json:"events"`
	Failed int64    `json:"failed"`
}

// CompareRows orders rows as StatsTableResult.Rows are ordered.
func CompareRows(a, b StatsRow) int {
	if c := cmp.Compare(b.Events, a.Events); c != 0 {
		return c
	}
	return slices.Compare(a.Keys, b.Keys)
}

// Validate checks q, returning an error wrapping ErrInvalid that names what
// is wrong. Stores call it first.
func (q *StatsQuery) Validate() error {
	if len(q.Tables) > MaxStatsTables {
		return fmt.Errorf("%w: %d tables in one stats query (at most %d)", ErrInvalid, len(q.Tables), MaxStatsTables)
	}
	for i, t := range q.Tables {
		if len(t.By) == 0 {
			return fmt.Errorf("%w: stats table %d groups by nothing", ErrInvalid, i+1)
		}
		for j, d := range t.By {
			if !slices.Contains(Dimensions, d) {
				return fmt.Errorf("%w: stats table %d: unknown dimension %q", ErrInvalid, i+1, d)
			}
			if slices.Contains(t.By[:j], d) {
				return fmt.Errorf("%w: stats table %d groups by %s twice", ErrInvalid, i+1, d)
			}
		}
		if t.Top < 0 {
			return fmt.Errorf("%w: stats table %d: top %d is negative", ErrInvalid, i+1, t.Top)
		}
	}
	return q.Zone.Validate()
}

// StatsOf counts events as a Statser must: it is the reference semantics
// of Stats, which the conformance suite compares stores with, not a way to
// compute statistics of a store (it reads every event it is given). The
// events need not be sorted; those not matching q.Filter are skipped.
func StatsOf(events iter.Seq2[Event, error], q StatsQuery) (StatsResult, error) {
	if err := q.Validate(); err != nil {
		return StatsResult{}, err
	}
	type counts struct{ events, failed int64 }
	tables := make([]map[string]*counts, len(q.Tables))
	keysOf := make([]map[string][]string, len(q.Tables))
	for i := range tables {
		tables[i], keysOf[i] = map[string]*counts{}, map[string][]string{}
	}
	var res StatsResult
	for e, err := range events {
		if err != nil {
			return StatsResult{}, err
		}
		if !q.Filter.Match(&e) {
			continue
		}
		failed := int64(0)
		if e.Outcome == OutcomeFailure {
			failed = 1
		}
		res.Total++
		res.Failed += failed
		if res.First.IsZero() || e.Time.Before(res.First) {
			res.First = e.Time
		}
		if e.Time.After(res.Last) {
			res.Last = e.Time
		}
		for i, t := range q.Tables {
			keys := make([]string, len(t.By))
			for j, d := range t.By {
				keys[j] = StatsKey(d, &e, q.Zone)
			}
			id := strings.Join(keys, "\x00")
			c := tables[i][id]
			if c == nil {
				c = &counts{}
				tables[i][id], keysOf[i][id] = c, keys
			}
			c.events++
			c.failed += failed
		}
	}
	res.First, res.Last = res.First.UTC(), res.Last.UTC()
	res.Tables = make([]StatsTableResult, len(q.Tables))
	for i, t := range q.Tables {
		rows := make([]StatsRow, 0, len(tables[i]))
		for id, c := range tables[i] {
			rows = append(rows, StatsRow{Keys: keysOf[i][id], Events: c.events, Failed: c.failed})
		}
		slices.SortFunc(rows, CompareRows)
		if t.Top > 0 && len(rows) > t.Top {
			rows = rows[:t.Top]
		}
		res.Tables[i] = StatsTableResult{By: slices.Clone(t.By), Groups: int64(len(tables[i])), Rows: rows}
	}
	return res, nil
}

// StatsKey is the key of e in dimension d, time dimensions read in z (see
// Dimension).
func StatsKey(d Dimension, e *Event, z Zone) string {
	switch d {
	case DimUser:
		return e.User
	case DimType:
		return string(e.Type)
	case DimAction:
		return e.Action
	case DimResourceType:
		return e.ResourceType
	case DimResource:
		return e.Resource
	case DimIP:
		return e.IP
	case DimOutcome:
		if e.Outcome == "" {
			return string(OutcomeSuccess)
		}
		return string(e.Outcome)
	case DimDay, DimWeek:
		off := z.OffsetAt(e.Time)
		day := floorDiv(e.Time.Unix()+int64(off), secondsPerDay)
		if d == DimDay {
			return DayKey(day)
		}
		return WeekKey(day)
	case DimHour:
		off := z.OffsetAt(e.Time)
		return HourKey(floorDiv(e.Time.Unix()+int64(off), 3600), off)
	}
	return ""
}

const secondsPerDay = 86400

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// DayKey is the day key of the local date that is days after 1970-01-01:
// for a time t read at offset off (seconds east of UTC), days is
// floor((unix(t) + off) / 86400). Stores that compute that number in SQL
// format it with DayKey.
func DayKey(days int64) string {
	return time.Unix(days*secondsPerDay, 0).UTC().Format(time.DateOnly)
}

// WeekKey is the week key of the local date that is days after 1970-01-01
// (see DayKey).
func WeekKey(days int64) string {
	y, w := time.Unix(days*secondsPerDay, 0).UTC().ISOWeek()
	return fmt.Sprintf("%04d-W%02d", y, w)
}

// HourKey is the hour key of the local hour that is hours after
// 1970-01-01T00:00 local time, read at offset off (seconds east of UTC):
// for a time t, hours is floor((unix(t) + off) / 3600).
func HourKey(hours int64, off int) string {
	return time.Unix(hours*3600-int64(off), 0).In(time.FixedZone("", off)).Format(time.RFC3339)
}

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

// Values encodes q as URL query parameters, the form GET /v1/stats takes:
// the filter's parameters (Filter.Values, without limit and order), one
// "table" per table as its dimensions joined by commas and, when Top is
// set, ":" and Top ("table=user:5", "table=day,type"), and "zone" (Zone's
// String) unless the zone is UTC. ParseStatsValues reverses it.
func (q *StatsQuery) Values() url.Values {
	f := q.Filter
	f.Limit, f.Order = 0, Ascending
	v := f.Values()
	for _, t := range q.Tables {
		by := make([]string, len(t.By))
		for i, d := range t.By {
			by[i] = string(d)
		}
		s := strings.Join(by, ",")
		if t.Top > 0 {
			s += ":" + strconv.Itoa(t.Top)
		}
		v.Add("table", s)
	}
	if len(q.Zone) > 0 {
		v.Set("zone", q.Zone.String())
	}
	return v
}

// ParseStatsValues decodes the query parameters of GET /v1/stats into a
// valid StatsQuery. Errors wrap ErrInvalid and name the parameter.
func ParseStatsValues(v url.Values) (StatsQuery, error) {
	rest := url.Values{}
	for k, vs := range v {
		if k != "table" && k != "zone" {
			rest[k] = vs
		}
	}
	var q StatsQuery
	var err error
	if q.Filter, err = ParseValues(rest); err != nil {
		return StatsQuery{}, err
	}
	q.Filter.Limit, q.Filter.Order = 0, Ascending
	for _, s := range v["table"] {
		dims, topText, hasTop := strings.Cut(s, ":")
		var t StatsTable
		if hasTop {
			if t.Top, err = strconv.Atoi(topText); err != nil || t.Top < 0 {
				return StatsQuery{}, fmt.Errorf("%w: parameter table: invalid top %q (want a number >= 0)", ErrInvalid, topText)
			}
		}
		for _, name := range strings.Split(dims, ",") {
			d, err := ParseDimension(name)
			if err != nil {
				return StatsQuery{}, fmt.Errorf("%w: parameter table: %v", ErrInvalid, err)
			}
			t.By = append(t.By, d)
		}
		q.Tables = append(q.Tables, t)
	}
	if s := v.Get("zone"); s != "" {
		if q.Zone, err = ParseZone(s); err != nil {
			return StatsQuery{}, fmt.Errorf("parameter zone: %w", err)
		}
	}
	if err := q.Validate(); err != nil {
		return StatsQuery{}, err
	}
	return q, nil
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

// BurstQuery asks for the bursts of failed logins. It is JSON-friendly,
// and Values and ParseBurstValues give its query-string form.
type BurstQuery struct {
	// Filter narrows the events looked at; EventFilter adds type login and
	// outcome failure to it. Limit and Order are ignored.
	Filter Filter `json:"filter"`
	// Threshold is how many failures make a burst, at least 2.
	Threshold int `json:"threshold"`
	// Window is the longest time from the first to the last of Threshold
	// failures that still makes them a burst; more than 0. (In JSON it is
	// in nanoseconds; the query string of Values takes "10m".)
	Window time.Duration `json:"window"`
}

// Validate checks q; errors wrap ErrInvalid.
func (q *BurstQuery) Validate() error {
	if q.Threshold < 2 {
		return fmt.Errorf("%w: burst threshold %d (want at least 2 failures)", ErrInvalid, q.Threshold)
	}
	if q.Window <= 0 {
		return fmt.Errorf("%w: burst window %s (want a positive duration, e.g. 10m)", ErrInvalid, q.Window)
	}
	return nil
}

// EventFilter is the filter of the events bursts are made of: q.Filter and
// type login and outcome failure. ok is false when q.Filter rules them out
// (it asks for other types only, or for successes), so that nothing
// matches.
func (q *BurstQuery) EventFilter() (f Filter, ok bool) {
	f = q.Filter
	f.Limit, f.Order = 0, Ascending
	if len(f.Types) > 0 && !slices.Contains(f.Types, TypeLogin) {
		return f, false
	}
	if f.Outcome == OutcomeSuccess {
		return f, false
	}
	f.Types, f.Outcome = []Type{TypeLogin}, OutcomeFailure
	return f, true
}

// Values encodes q as URL query parameters: the filter's (Filter.Values,
// without limit and order), "threshold" and "window" (a Go duration,
// "10m0s"). ParseBurstValues reverses it.
func (q *BurstQuery) Values() url.Values {
	f := q.Filter
	f.Limit, f.Order = 0, Ascending
	v := f.Values()
	v.Set("threshold", strconv.Itoa(q.Threshold))
	v.Set("window", q.Window.String())
	return v
}

// ParseBurstValues decodes query parameters into a valid BurstQuery.
// Errors wrap ErrInvalid and name the parameter.
func ParseBurstValues(v url.Values) (BurstQuery, error) {
	rest := url.Values{}
	for k, vs := range v {
		if k != "threshold" && k != "window" {
			rest[k] = vs
		}
	}
	var q BurstQuery
	var err error
	if q.Filter, err = ParseValues(rest); err != nil {
		return BurstQuery{}, err
	}
	q.Filter.Limit, q.Filter.Order = 0, Ascending
	if q.Threshold, err = strconv.Atoi(v.Get("threshold")); err != nil {
		return BurstQuery{}, fmt.Errorf("%w: parameter threshold: invalid number %q", ErrInvalid, v.Get("threshold"))
	}
	if q.Window, err = time.ParseDuration(v.Get("window")); err != nil {
		return BurstQuery{}, fmt.Errorf("%w: parameter window: invalid duration %q (want e.g. 10m)", ErrInvalid, v.Get("window"))
	}
	if err := q.Validate(); err != nil {
		return BurstQuery{}, err
	}
	return q, nil
}

// Burst is a run of failed logins of one user (By user, Key the login) or
// from one source IP (By ip, Key the address).
type Burst struct {
	By    Dimension `json:"by"`
	Key   string    `json:"key"`
	First time.Time `json:"first"`
	Last  time.Time `json:"last"`
	Count int       `json:"count"`
	// IPs are the distinct source addresses of a user's burst, Users the
	// distinct logins of an address's burst; sorted. The other is nil.
	IPs   []string `json:"ips,omitempty"`
	Users []string `json:"users,omitempty"`
}

// compareBursts orders bursts by first failure, user bursts before address
// bursts, then by key.
func compareBursts(a, b Burst) int {
	return cmp.Or(a.First.Compare(b.First), cmp.Compare(burstRank(a.By), burstRank(b.By)),
		cmp.Compare(a.Key, b.Key), a.Last.Compare(b.Last))
}

func burstRank(d Dimension) int {
	if d == DimUser {
		return 0
	}
	return 1
}

// DetectBursts finds the bursts of failed logins among events, which must
// come in time order (equal times in any order) and are taken as they are:
// callers select them with q.EventFilter. It is the reference semantics of
// Statser.Bursts, and what SQL stores feed their time-ordered rows to.
//
// Per user and per source IP (events without one count for their user
// only), Threshold failures whose first and last are at most Window apart
// make a burst; such runs that share a failure are one burst, so that a
// long attack is reported once, with its first and last failure and its
// full count. A slow trickle, fewer than Threshold failures in any Window,
// is none. The result is sorted by first failure, user bursts before
// address bursts, then by key.
func DetectBursts(events iter.Seq2[Event, error], q BurstQuery) ([]Burst, error) {
	d, err := NewBurstDetector(q.Threshold, q.Window)
	if err != nil {
		return nil, err
	}
	for e, err := range events {
		if err != nil {
			return nil, err
		}
		if err := d.Add(e.Time, e.User, e.IP); err != nil {
			return nil, err
		}
	}
	return d.Bursts(), nil
}

// BurstDetector is DetectBursts one failure at a time, for stores that read
// rows rather than Events. Its memory is bounded by the keys active within
// a window and Threshold failures per key, not by the number of failures.
type BurstDetector struct {
	users, ips *burstKeys
	last       time.Time
}

// NewBurstDetector returns a detector of threshold failures within window;
// a bad threshold or window is an error wrapping ErrInvalid.
func NewBurstDetector(threshold int, window time.Duration) (*BurstDetector, error) {
	q := BurstQuery{Threshold: threshold, Window: window}
	if err := q.Validate(); err != nil {
		return nil, err
	}
	return &BurstDetector{
		users: newBurstKeys(DimUser, threshold, window),
		ips:   newBurstKeys(DimIP, threshold, window),
	}, nil
}

// Add takes the next failed login: its time, login and source IP ("" for
// none). Times must not decrease; an earlier one than the last is an error.
func (d *BurstDetector) Add(t time.Time, user, ip string) error {
	if t.Before(d.last) {
		return fmt.Errorf("failed logins out of time order: %s after %s", FormatTime(t), FormatTime(d.last))
	}
	d.last = t
	d.users.add(t, user, ip)
	if ip != "" {
		d.ips.add(t, ip, user)
	}
	return nil
}

// Bursts ends the detection and returns the bursts, sorted.
func (d *BurstDetector) Bursts() []Burst {
	out := append(d.users.finish(), d.ips.finish()...)
	slices.SortFunc(out, compareBursts)
	return out
}

// burstKeys detects the bursts of one kind of key (users or addresses).
type burstKeys struct {
	by        Dimension
	threshold int
	window    time.Duration
	keys      map[string]*burstKey
	sweepAt   int // sweep idle keys when there are this many
	done      []Burst
}

// burstKey is the state of one key: a ring of its last threshold failures
// and the burst it is in, if any.
type burstKey struct {
	ring  []time.Time // the last failures, oldest at ring[next] once full
	other []string    // the other dimension of each, parallel to ring
	next  int         // where the next failure goes
	n     int         // failures seen
	last  time.Time
	open  *Burst
	openN int // n of the last failure in open
	set   map[string]bool
}

func newBurstKeys(by Dimension, threshold int, window time.Duration) *burstKeys {
	return &burstKeys{by: by, threshold: threshold, window: window, keys: map[string]*burstKey{}, sweepAt: 1024}
}

func (b *burstKeys) add(t time.Time, key, other string) {
	k := b.keys[key]
	if k == nil {
		k = &burstKey{ring: make([]time.Time, b.threshold), other: make([]string, b.threshold)}
		b.keys[key] = k
		if len(b.keys) >= b.sweepAt {
			b.sweep(t)
		}
	}
	k.ring[k.next], k.other[k.next] = t, other
	k.next = (k.next + 1) % b.threshold
	k.n++
	k.last = t
	from := t.Add(-b.window)
	if k.open != nil && k.open.Last.Before(from) {
		b.close(key, k) // no window can reach back to it any more
	}
	// The ring is full and its oldest failure within the window: the last
	// threshold failures are a burst.
	if k.n < b.threshold || k.ring[k.next].Before(from) {
		return
	}
	first := k.n - b.threshold + 1 // number of the oldest failure in the ring
	if k.open == nil {
		k.open = &Burst{By: b.by, Key: key, First: k.ring[k.next]}
		k.set = map[string]bool{}
		k.openN = first - 1
	}
	// Add the failures after the burst's last; they are all in the ring.
	for n := max(k.openN+1, first); n <= k.n; n++ {
		i := (k.next + n - first) % b.threshold
		k.open.Count++
		k.open.Last = k.ring[i]
		if k.other[i] != "" {
			k.set[k.other[i]] = true
		}
	}
	k.openN = k.n
}

// close moves the open burst of k to done.
func (b *burstKeys) close(key string, k *burstKey) {
	others := make([]string, 0, len(k.set))
	for o := range k.set {
		others = append(others, o)
	}
	slices.Sort(others)
	if b.by == DimUser {
		k.open.IPs = others
	} else {
		k.open.Users = others
	}
	b.done = append(b.done, *k.open)
	k.open, k.set = nil, nil
}

// sweep forgets the keys without a failure within the window before t,
// closing their bursts, and sets when to sweep next: memory follows the
// keys active within a window, not all keys ever seen.
func (b *burstKeys) sweep(t time.Time) {
	from := t.Add(-b.window)
	for key, k := range b.keys {
		if k.last.Before(from) {
			if k.open != nil {
				b.close(key, k)
			}
			delete(b.keys, key)
		}
	}
	b.sweepAt = max(1024, 2*len(b.keys))
}

func (b *burstKeys) finish() []Burst {
	for key, k := range b.keys {
		if k.open != nil {
			b.close(key, k)
		}
	}
	b.keys = map[string]*burstKey{}
	out := b.done
	b.done = nil
	return out
}
