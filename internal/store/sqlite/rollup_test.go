package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/store/rollup"
	"github.com/audit-cli/audit/internal/store/storetest"
)

// TestRollupsMatchEvents: statistics read from the rollups are those of
// a GROUP BY over the events, for random windows, types, outcomes, tables
// and zones: after appends and an import, after a prune, with events
// written past the rollups by a foreign client, and after a rebuild.
func TestRollupsMatchEvents(t *testing.T) {
	zones := storetest.LoadZones(t)
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

	events := storetest.SpreadEvents(6000, 1, 40)
	for i := 0; i < 3000; i += 500 {
		if _, err := rolled.Append(ctx, events[i:i+500]); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := rolled.Import(ctx, storetest.Stream(events[3000:])); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(42, 42))
	if n := storetest.CompareRollups(t, rolled, counted, r, zones, 300, "after appends and an import"); n < 100 {
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
	storetest.CompareRollups(t, rolled, counted, r, zones, 200, "after a prune")

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
	storetest.CompareRollups(t, rolled, counted, r, zones, 200, "with events past the rollups")
	if err := rolled.RebuildRollups(ctx); err != nil {
		t.Fatal(err)
	}
	var upTo, head int64
	if err := db.QueryRow("SELECT (SELECT seq FROM rollup_state), (SELECT max(seq) FROM events)").Scan(&upTo, &head); err != nil || upTo != head {
		t.Fatalf("after the rebuild the rollups count up to seq %d, the head is %d (%v)", upTo, head, err)
	}
	storetest.CompareRollups(t, rolled, counted, r, zones, 200, "after a rebuild")

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
	if _, err := rolled.Append(ctx, storetest.SpreadEvents(100, 9, 10)); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow("SELECT (SELECT seq FROM rollup_state), (SELECT max(seq) FROM events)").Scan(&upTo, &head); err != nil || upTo != head {
		t.Fatalf("after a write the rollups count up to seq %d, the head is %d (%v)", upTo, head, err)
	}
	storetest.CompareRollups(t, rolled, counted, r, zones, 100, "after deletes by hand, a rebuild and a write")
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
