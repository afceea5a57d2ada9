package postgres_test

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/store/postgres"
	"github.com/audit-cli/audit/internal/store/storetest"
)

// TestRollupsMatchEvents: statistics read from the rollups are those of
// a GROUP BY over the events, for random windows, types, outcomes, tables
// and zones: after appends and an import, after a prune (which truncates
// a whole month), with events written past the rollups by a foreign
// client, and after a rebuild.
func TestRollupsMatchEvents(t *testing.T) {
	zones := storetest.LoadZones(t)
	ctx := context.Background()
	dsn := freshSchema(t)
	rolled := open(t, dsn, postgres.Options{})
	counted := open(t, dsn, postgres.Options{NoRollups: true})

	events := storetest.SpreadEvents(6000, 1, 40)
	for i := 0; i < 3000; i += 500 {
		if _, err := rolled.Append(ctx, events[i:i+500]); err != nil {
			t.Fatal(err)
		}
	}
	// Some of the import is stored already: those are not counted twice.
	if _, err := rolled.Import(ctx, storetest.Stream(events[2900:])); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(42, 42))
	if n := storetest.CompareRollups(t, rolled, counted, r, zones, 300, "after appends and an import"); n < 100 {
		t.Fatalf("only %d of 300 queries were answered from the rollups", n)
	}

	stored := collect(t, counted, audit.Filter{})
	cut := stored[3999]
	if _, err := rolled.Prune(ctx, audit.PruneRequest{Through: cut.Seq, Hash: cut.Hash, Events: 4000}); err != nil {
		t.Fatal(err)
	}
	storetest.CompareRollups(t, rolled, counted, r, zones, 200, "after a prune")

	// A foreign client copies events behind audit's back, past the head:
	// they are not in the rollups, and still counted.
	admin(t, dsn, `INSERT INTO audit_events SELECT seq + 100000, 'foreign-' || id, time, time_ns, "user", user_name, type, action,
	resource_type, resource, details, ip, 'failure', hash, user_lc, user_name_lc, action_lc, resource_type_lc, resource_lc, details_lc,
	source, raw FROM audit_events WHERE seq % 7 = 0`)
	storetest.CompareRollups(t, rolled, counted, r, zones, 200, "with events past the rollups")

	if err := rolled.RebuildRollups(ctx); err != nil {
		t.Fatal(err)
	}
	storetest.CompareRollups(t, rolled, counted, r, zones, 100, "after a rebuild")
	admin(t, dsn, "DELETE FROM audit_events WHERE id LIKE 'foreign-%'")
	if err := rolled.RebuildRollups(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := rolled.Append(ctx, storetest.SpreadEvents(100, 9, 10)); err != nil {
		t.Fatal(err)
	}
	var upTo, head int64
	c := connect(t, dsn)
	if err := c.QueryRow(ctx, "SELECT (SELECT seq FROM audit_rollup_state), (SELECT seq FROM audit_head)").Scan(&upTo, &head); err != nil || upTo != head {
		t.Fatalf("after a rebuild and a write the rollups count up to seq %d, the head is %d (%v)", upTo, head, err)
	}
	storetest.CompareRollups(t, rolled, counted, r, zones, 100, "after a rebuild and a write")
}
