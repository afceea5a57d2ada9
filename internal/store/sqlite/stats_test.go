package sqlite

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/store/storetest"
)

func TestStatsConformance(t *testing.T) {
	storetest.RunStats(t, func(t *testing.T) audit.Store {
		s, err := Open(filepath.Join(t.TempDir(), "audit.db"), Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Init(context.Background()); err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestStatsMissingStore(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "none", "audit.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if _, err := s.Stats(ctx, audit.StatsQuery{}); !errors.Is(err, audit.ErrUnavailable) {
		t.Errorf("Stats of a missing store: err = %v, want ErrUnavailable", err)
	}
	q := audit.BurstQuery{Threshold: 5, Window: time.Minute}
	if _, err := s.Bursts(ctx, q); !errors.Is(err, audit.ErrUnavailable) {
		t.Errorf("Bursts of a missing store: err = %v, want ErrUnavailable", err)
	}
	q.Filter.Types = []audit.Type{audit.TypeLogout}
	if _, err := s.Bursts(ctx, q); !errors.Is(err, audit.ErrUnavailable) {
		t.Errorf("Bursts (nothing to match) of a missing store: err = %v, want ErrUnavailable", err)
	}
}

// TestStatsPlans proves that the aggregates and the burst scan read the
// events of a time range through an index, never by scanning the table,
// and that the failures come in time order from the index, not a sort.
func TestStatsPlans(t *testing.T) {
	ctx := context.Background()
	s, err := Open(filepath.Join(t.TempDir(), "audit.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Append(ctx, storetest.Events(2000, 1)); err != nil {
		t.Fatal(err)
	}
	db, err := s.readers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	since := storetest.Epoch.Add(time.Hour)
	f := audit.Filter{Since: since, Until: since.Add(24 * time.Hour)}
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	zone := audit.ZoneIn(berlin, time.Date(2026, 1, 1, 0, 0, 0, 0, berlin), time.Date(2027, 1, 1, 0, 0, 0, 0, berlin))
	where, args := whereSQL(&f)
	plan := func(q string, args []any) []string {
		rows, err := db.QueryContext(ctx, "EXPLAIN QUERY PLAN "+q, args...)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		defer rows.Close()
		var lines []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			lines = append(lines, detail)
		}
		return lines
	}
	check := func(name, q string, args []any, noSort bool) {
		t.Helper()
		lines := plan(q, args)
		t.Logf("%s: %s\n  %s", name, q, strings.Join(lines, "\n  "))
		searched := false
		for _, l := range lines {
			if strings.HasPrefix(l, "SCAN events") {
				t.Errorf("%s: full scan %q", name, l)
			}
			if noSort && strings.Contains(l, "TEMP B-TREE") {
				t.Errorf("%s: sorts %q", name, l)
			}
			searched = searched || strings.HasPrefix(l, "SEARCH events USING")
		}
		if !searched {
			t.Errorf("%s: no index search in %q", name, lines)
		}
	}
	for _, by := range [][]audit.Dimension{{audit.DimUser}, {audit.DimType, audit.DimOutcome},
		{audit.DimDay, audit.DimType}, {audit.DimHour}, {audit.DimResourceType, audit.DimResource}} {
		q, qargs, _ := statsSQL(audit.StatsTable{By: by, Top: 5}, zone, " WHERE "+where, args)
		var names []string
		for _, d := range by {
			names = append(names, string(d))
		}
		check("by "+strings.Join(names, ","), q, qargs, false)
	}
	bq := audit.BurstQuery{Filter: f, Threshold: 5, Window: time.Minute}
	bf, _ := bq.EventFilter()
	q, bargs := burstSQL(&bf)
	check("bursts", q, bargs, true)
}
