package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/store/rollup"
	"github.com/audit-cli/audit/internal/store/storetest"
)

// spreadEvents returns n events spread over days days from
// storetest.Epoch, some on the very start of an hour or a day, so that
// windows cut through hours and days on both sides of their bounds.
func spreadEvents(n int, seed int64, days int) []audit.Event {
	r := rand.New(rand.NewPCG(uint64(seed), 7))
	events := storetest.Events(n, seed)
	for i := range events {
		t := storetest.Epoch.Add(time.Duration(r.Int64N(int64(days) * int64(24*time.Hour))))
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
		t := storetest.Epoch.Add(time.Duration(r.Int64N(span)) - 24*time.Hour)
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

func loadZones(t *testing.T) []*time.Location {
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

// compareStats runs n random queries on the rollups and on the events,
// and fails on the first answer that differs.
func compareStats(t *testing.T, rolled, counted *Store, r *rand.Rand, zones []*time.Location, n int, when string) (fromRollups int) {
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

// TestRollupsMatchEvents: statistics read from the rollups are those of
// a GROUP BY over the events, for random windows, types, outcomes, tables
// and zones: after appends and an import, after a prune, with events
// written past the rollups by a foreign client, and after a rebuild.
func TestRollupsMatchEvents(t *testing.T) {
	zones := loadZones(t)
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "audit.db")
	rolled, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer rolled.Close()
	counted, err := Open(path, Options{NoRollups: true})
	if err != nil {
		t.Fatal(err)
	}
	defer counted.Close()

	events := spreadEvents(6000, 1, 40)
	for i := 0; i < 3000; i += 500 {
		if _, err := rolled.Append(ctx, events[i:i+500]); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := rolled.Import(ctx, func(yield func(audit.Event, error) bool) {
		for _, e := range events[3000:] {
			if !yield(e, nil) {
				return
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(42, 42))
	if n := compareStats(t, rolled, counted, r, zones, 300, "after appends and an import"); n < 100 {
		t.Fatalf("only %d of 300 queries were answered from the rollups", n)
	}

	var stored []audit.Event
	for e, err := range counted.Query(ctx, audit.Filter{}) {
		if err != nil {
			t.Fatal(err)
		}
		stored = append(stored, e)
	}
	cut := stored[1999]
	if _, err := rolled.Prune(ctx, audit.PruneRequest{Through: cut.Seq, Hash: cut.Hash, Events: 2000}); err != nil {
		t.Fatal(err)
	}
	compareStats(t, rolled, counted, r, zones, 200, "after a prune")

	// A foreign client writes behind audit's back: those events are not in
	// the rollups, and still counted.
	db, err := sql.Open(driverName, "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for i := range 50 {
		at := storetest.Epoch.Add(time.Duration(i) * 7 * time.Hour).UnixNano()
		if _, err := db.Exec(`INSERT INTO events (id, time, user, type, outcome, hash) VALUES (?, ?, 'foreign', 'security', 'failure', 'x')`,
			fmt.Sprintf("foreign-%d", i), at); err != nil {
			t.Fatal(err)
		}
	}
	compareStats(t, rolled, counted, r, zones, 200, "with events past the rollups")
	if err := rolled.RebuildRollups(ctx); err != nil {
		t.Fatal(err)
	}
	var upTo, head int64
	if err := db.QueryRow("SELECT (SELECT seq FROM rollup_state), (SELECT max(seq) FROM events)").Scan(&upTo, &head); err != nil || upTo != head {
		t.Fatalf("after the rebuild the rollups count up to seq %d, the head is %d (%v)", upTo, head, err)
	}
	compareStats(t, rolled, counted, r, zones, 200, "after a rebuild")

	// The newest events deleted by hand (the foreign ones, and five more)
	// leave the seq counter above the
	// newest seq: a rebuild counts up to the counter, so that the next
	// write moves the rollups on again rather than leave its events to be
	// counted from the table every time.
	if _, err := db.Exec("DELETE FROM events WHERE seq > (SELECT max(seq) - 55 FROM events)"); err != nil {
		t.Fatal(err)
	}
	if err := rolled.RebuildRollups(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := rolled.Append(ctx, spreadEvents(100, 9, 10)); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow("SELECT (SELECT seq FROM rollup_state), (SELECT max(seq) FROM events)").Scan(&upTo, &head); err != nil || upTo != head {
		t.Fatalf("after a write the rollups count up to seq %d, the head is %d (%v)", upTo, head, err)
	}
	compareStats(t, rolled, counted, r, zones, 100, "after deletes by hand, a rebuild and a write")
}

// TestRollupPlans: which queries the rollups answer, and why the others
// count the events (through the indexes, as TestStatsPlans shows).
func TestRollupPlans(t *testing.T) {
	kolkata, err := time.LoadLocation("Asia/Kolkata")
	if err != nil {
		t.Skip(err)
	}
	month := audit.Filter{Since: time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), Until: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}
	byDay := []audit.StatsTable{{By: []audit.Dimension{audit.DimDay, audit.DimType}}, {By: []audit.Dimension{audit.DimUser}, Top: 10}}
	for _, c := range []struct {
		name string
		q    audit.StatsQuery
		why  string
	}{
		{"the review of a month", audit.StatsQuery{Filter: month, Tables: byDay}, ""},
		{"failed logins", audit.StatsQuery{Filter: audit.Filter{Types: []audit.Type{audit.TypeLogin}, Outcome: audit.OutcomeFailure}, Tables: byDay}, ""},
		{"changed resources", audit.StatsQuery{Filter: month, Tables: []audit.StatsTable{{By: []audit.Dimension{audit.DimResourceType, audit.DimResource}}}}, ""},
		{"a user", audit.StatsQuery{Filter: audit.Filter{Users: []string{"jdavis"}}, Tables: byDay}, "--user"},
		{"an address", audit.StatsQuery{Filter: audit.Filter{IPs: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}, Tables: byDay}, "--ip"},
		{"a search", audit.StatsQuery{Filter: audit.Filter{Search: "bucket"}}, "--search"},
		{"a source", audit.StatsQuery{Filter: audit.Filter{Sources: []string{"cloudtrail"}}}, "--source"},
		{"days in India", audit.StatsQuery{Filter: month, Tables: byDay, Zone: audit.ZoneIn(kolkata, month.Since, month.Until)},
			"a time zone whose offset is not a whole number of hours"},
		{"users in India", audit.StatsQuery{Filter: month, Tables: byDay[1:], Zone: audit.ZoneIn(kolkata, month.Since, month.Until)}, ""},
		{"by action", audit.StatsQuery{Tables: []audit.StatsTable{{By: []audit.Dimension{audit.DimAction}}}}, "a table by action"},
		{"users by day", audit.StatsQuery{Tables: []audit.StatsTable{{By: []audit.Dimension{audit.DimDay, audit.DimUser}}}},
			"a table by time and login, address or resource"},
		{"users by address", audit.StatsQuery{Tables: []audit.StatsTable{{By: []audit.Dimension{audit.DimUser, audit.DimIP}}}},
			"a table by two of login, address and resource"},
	} {
		if got := rollup.PlanQuery(&c.q).Why; got != c.why {
			t.Errorf("%s: %q, want %q", c.name, got, c.why)
		}
	}
}
