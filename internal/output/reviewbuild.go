package output

import (
	"context"
	"slices"
	"time"

	"github.com/audit-cli/audit/internal/audit"
)

// Span is the time range a chart or a fill of empty buckets covers: the
// filter's ends, where open the first event's time and the later of now
// and the last event's (totals, when given, save asking the store for
// them). Both are zero when no event matches an open range.
func Span(ctx context.Context, st audit.Statser, filter audit.Filter, now time.Time, totals *audit.StatsResult) (since, until time.Time, err error) {
	since, until = filter.Since, filter.Until
	if since.IsZero() || until.IsZero() {
		if totals == nil {
			res, err := st.Stats(ctx, audit.StatsQuery{Filter: filter})
			if err != nil {
				return since, until, err
			}
			totals = &res
		}
		if totals.Total == 0 {
			return time.Time{}, time.Time{}, nil
		}
		if since.IsZero() {
			since = totals.First
		}
		if until.IsZero() {
			until = later(now, totals.Last.Add(time.Nanosecond))
		}
	}
	return since, until, nil
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// chartUnit picks the chart's buckets for a range: hours for a day (of 25
// hours at most), days up to three months, else weeks.
func chartUnit(since, until time.Time) audit.Dimension {
	switch d := until.Sub(since); {
	case d <= 25*time.Hour:
		return audit.DimHour
	case d <= 92*24*time.Hour:
		return audit.DimDay
	}
	return audit.DimWeek
}

// changeTypes are the types whose resources the review calls changed.
var changeTypes = []audit.Type{audit.TypeCreate, audit.TypeUpdate, audit.TypeDelete}

// BuildReview computes the review of the events filter selects (lists
// of top entries each) with two Stats calls run side by side: the
// lists and the chart (whose rows, bucket by type, also give the totals by
// type), and the changed resources. An open range (no --period, or only
// one of --since and --until) first asks for the totals, whose first and
// last event tell the chart's span and so its zone.
func BuildReview(ctx context.Context, st audit.Statser, filter audit.Filter, top int, now time.Time, loc *time.Location) (*Review, error) {
	r := &Review{Since: filter.Since, Until: filter.Until}
	closed := !filter.Since.IsZero() && !filter.Until.IsZero()
	since, until := filter.Since, filter.Until
	var first audit.StatsResult
	if !closed {
		var err error
		if first, err = st.Stats(ctx, audit.StatsQuery{Filter: filter}); err != nil {
			return nil, err
		}
		if first.Total == 0 {
			return r, nil
		}
		if since, until, err = Span(ctx, st, filter, now, &first); err != nil {
			return nil, err
		}
	}
	unit := chartUnit(since, until)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var changes audit.StatsResult
	var changesErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		types := intersectTypes(filter.Types, changeTypes)
		if len(types) == 0 {
			return
		}
		cf := filter
		cf.Types = types
		changes, changesErr = st.Stats(ctx, audit.StatsQuery{Filter: cf, Tables: []audit.StatsTable{
			{By: []audit.Dimension{audit.DimResourceType, audit.DimResource}, Top: top},
		}})
		if changesErr != nil {
			cancel()
		}
	}()
	res, err := st.Stats(ctx, audit.StatsQuery{Filter: filter, Zone: audit.ZoneIn(loc, since, until),
		Tables: []audit.StatsTable{
			{By: []audit.Dimension{unit, audit.DimType}},
			{By: []audit.Dimension{audit.DimUser}, Top: top},
			{By: []audit.Dimension{audit.DimIP}, Top: top},
		}})
	if err != nil {
		cancel()
	}
	<-done
	if err != nil {
		return nil, err
	}
	if changesErr != nil {
		return nil, changesErr
	}

	r.Total, r.Failed = res.Total, res.Failed
	chart := res.Tables[0].Rows
	byType := map[string]*audit.StatsRow{}
	for _, row := range chart {
		t := byType[row.Keys[1]]
		if t == nil {
			t = &audit.StatsRow{Keys: []string{row.Keys[1]}}
			byType[row.Keys[1]] = t
		}
		t.Events += row.Events
		t.Failed += row.Failed
	}
	for _, typ := range audit.Types {
		if t := byType[string(typ)]; t != nil {
			r.Types = append(r.Types, *t)
		}
	}
	r.Users = ReviewList{Rows: res.Tables[1].Rows, Groups: res.Tables[1].Groups, Total: res.Total, Failed: res.Failed}
	r.IPs = ReviewList{Rows: res.Tables[2].Rows, Groups: res.Tables[2].Groups, Total: res.Total, Failed: res.Failed}
	if len(changes.Tables) > 0 {
		t := changes.Tables[0]
		r.Resources = ReviewList{Rows: t.Rows, Groups: t.Groups, Total: changes.Total, Failed: changes.Failed}
	}
	if res.Total == 0 {
		return r, nil
	}
	// A closed range that ends in the future is charted up to now, or up
	// to its last event if that is later.
	end := until
	if closed {
		end = earlier(until, later(now, res.Last.Add(time.Nanosecond)))
		if !end.After(since) {
			end = until
		}
	}
	r.Activity = activity(unit, since, end, loc, chart)
	return r, nil
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// intersectTypes is want restricted to the filter's types (all when the
// filter names none).
func intersectTypes(filter, want []audit.Type) []audit.Type {
	if len(filter) == 0 {
		return want
	}
	var out []audit.Type
	for _, t := range want {
		if slices.Contains(filter, t) {
			out = append(out, t)
		}
	}
	return out
}

// activity lays the counts by (bucket, type) onto every bucket of the
// range, empty ones included.
func activity(unit audit.Dimension, since, until time.Time, loc *time.Location, rows []audit.StatsRow) Activity {
	buckets := audit.TimeBuckets(unit, since, until, loc)
	a := Activity{Unit: unit, Buckets: make([]ActivityBucket, len(buckets))}
	index := map[string]int{}
	for i, b := range buckets {
		a.Buckets[i] = ActivityBucket{Key: b.Key, Start: b.Start, ByType: make([]int64, len(audit.Types))}
		index[b.Key] = i
	}
	for _, r := range rows {
		i, ok := index[r.Keys[0]]
		if !ok {
			continue // outside the charted range: not drawn, still counted above
		}
		b := &a.Buckets[i]
		b.Events += r.Events
		b.Failed += r.Failed
		if ti := slices.Index(audit.Types, audit.Type(r.Keys[1])); ti >= 0 {
			b.ByType[ti] += r.Events
		}
	}
	return a
}
