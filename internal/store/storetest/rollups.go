package storetest

import (
	"context"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/store/rollup"
)

// SpreadEvents returns n events spread over days days from
// Epoch, some on the very start of an hour or a day, so that
// windows cut through hours and days on both sides of their bounds.
func SpreadEvents(n int, seed int64, days int) []audit.Event {
	r := rand.New(rand.NewPCG(uint64(seed), 7))
	events := Events(n, seed)
	for i := range events {
		t := Epoch.Add(time.Duration(r.Int64N(int64(days) * int64(24*time.Hour))))
		switch r.IntN(8) {
		case 0:
			t = t.Truncate(time.Hour)
		case 1:
			t = t.Truncate(24 * time.Hour)
		}
		events[i].Time = t
	}
	return events
}

var rollupTables = [][]audit.StatsTable{
	{{By: []audit.Dimension{audit.DimDay, audit.DimType}}, {By: []audit.Dimension{audit.DimUser}, Top: 5}, {By: []audit.Dimension{audit.DimIP}, Top: 3}},
	{{By: []audit.Dimension{audit.DimResourceType, audit.DimResource}, Top: 5}},
	{{By: []audit.Dimension{audit.DimHour}}},
	{{By: []audit.Dimension{audit.DimWeek, audit.DimOutcome}}},
	{{By: []audit.Dimension{audit.DimType}}, {By: []audit.Dimension{audit.DimOutcome}}},
	{{By: []audit.Dimension{audit.DimUser, audit.DimType}, Top: 7}},
	{{By: []audit.Dimension{audit.DimResource}}},
	nil, // the totals alone
}

// randomQuery is a query of the kind the review and `stats --by` make:
// a window whose ends fall anywhere (on a whole hour or day, or not,
// open or not), types, an outcome, a zone.
func randomQuery(r *rand.Rand, zones []*time.Location) audit.StatsQuery {
	var q audit.StatsQuery
	span := int64(45 * 24 * time.Hour)
	at := func() time.Time {
		t := Epoch.Add(time.Duration(r.Int64N(span)) - 24*time.Hour)
		switch r.IntN(3) {
		case 0:
			t = t.Truncate(time.Hour)
		case 1:
			t = t.Truncate(24 * time.Hour)
		}
		return t
	}
	if r.IntN(5) > 0 {
		q.Filter.Since = at()
	}
	if r.IntN(5) > 0 {
		q.Filter.Until = at()
	}
	if !q.Filter.Since.IsZero() && q.Filter.Until.Before(q.Filter.Since) {
		q.Filter.Since, q.Filter.Until = q.Filter.Until, q.Filter.Since
	}
	for _, typ := range audit.Types {
		if r.IntN(4) == 0 {
			q.Filter.Types = append(q.Filter.Types, typ)
		}
	}
	switch r.IntN(4) {
	case 0:
		q.Filter.Outcome = audit.OutcomeFailure
	case 1:
		q.Filter.Outcome = audit.OutcomeSuccess
	}
	q.Tables = rollupTables[r.IntN(len(rollupTables))]
	q.Zone = audit.ZoneIn(zones[r.IntN(len(zones))], q.Filter.Since, q.Filter.Until)
	return q
}

// LoadZones are UTC and zones whose offsets or changes are not whole
// hours (India, Lord Howe) beside two that are; it skips the test where
// the system has no zone database.
func LoadZones(t *testing.T) []*time.Location {
	t.Helper()
	zones := []*time.Location{time.UTC}
	for _, name := range []string{"Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"} {
		loc, err := time.LoadLocation(name)
		if err != nil {
			t.Skipf("no zone database: %v", err)
		}
		zones = append(zones, loc)
	}
	return zones
}

// CompareRollups runs n random queries of the kind the review and
// `stats --by` make on the store that reads its rollups and on one that
// counts the events, and fails on the first answer that differs. It
// returns how many of them the rollups answered (rollup.PlanQuery).
func CompareRollups(t *testing.T, rolled, counted audit.Statser, r *rand.Rand, zones []*time.Location, n int, when string) (fromRollups int) {
	t.Helper()
	ctx := context.Background()
	for i := range n {
		q := randomQuery(r, zones)
		want, err := counted.Stats(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		got, err := rolled.Stats(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s, query %d (%+v):\nrollups: %+v\nevents:  %+v", when, i, q, got, want)
		}
		if rollup.PlanQuery(&q).Why == "" {
			fromRollups++
		}
	}
	return fromRollups
}
