package audit

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
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

// RollupRebuilder is a store that keeps counts beside its events for
// Stats (the SQLite store's rollups) and can count them all again, as
// `audit stats --rebuild` asks after the events were changed by another
// program.
type RollupRebuilder interface {
	RebuildRollups(ctx context.Context) error
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
