package sqlite

import (
	"context"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/store/storetest"
)

// TestQueryPlans proves that the filters are served by an index: SQLite
// reports a SEARCH through one, never a SCAN of the whole table.
//
// It runs on a store written by Append, and on one filled by a bulk import,
// whose indexes are built at commit. (Both without the statistics SQLite
// gathers when a writer closes: with them, on this small data set where
// two users are a fifth of the events, it rightly prefers a scan for some
// filters.)
func TestQueryPlans(t *testing.T) {
	ctx := context.Background()
	t.Run("appended", func(t *testing.T) {
		s := openTemp(t)
		if _, err := s.Append(ctx, storetest.Events(2000, 1)); err != nil {
			t.Fatal(err)
		}
		checkPlans(t, s)
	})
	t.Run("bulk imported", func(t *testing.T) {
		s := openTemp(t)
		if _, err := s.Import(ctx, stream(storetest.Events(deferIndexesMin+5000, 1), nil)); err != nil {
			t.Fatal(err)
		}
		checkPlans(t, s)
	})
}

func checkPlans(t *testing.T, s *Store) {
	since := storetest.Epoch.Add(time.Hour)
	cases := map[string]audit.Filter{
		"user type since":  {Users: []string{"jdavis"}, Types: []audit.Type{audit.TypeLogin}, Since: since},
		"type":             {Types: []audit.Type{audit.TypeSecurity}},
		"types":            {Types: []audit.Type{audit.TypeCreate, audit.TypeDelete}},
		"ip CIDR":          {IPs: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}},
		"ip v6 and single": {IPs: []netip.Prefix{netip.MustParsePrefix("2001:db8::/32"), netip.MustParsePrefix("8.8.8.8/32")}},
		"since until":      {Since: since, Until: since.Add(time.Hour)},
		"after seq":        {After: 1500},
		"before seq":       {Before: 100, Order: audit.Descending, Limit: 50},
		"resource":         {Resources: []string{"bbb-node-1"}},
		"resource glob":    {Resources: []string{"bbb-*"}},
		"resource percent": {Resources: []string{"disk > 90%*"}},
		"resource type":    {ResourceTypes: []string{"api_key"}},
		"action and type":  {Actions: []string{"Portal Access"}, Types: []audit.Type{audit.TypeLogin}},
		"user glob":        {Users: []string{"j*"}},
		"user names":       {Users: []string{"John Davis", "smiller"}},
		"user unicode":     {Users: []string{"Zoë*"}},
		"failures":         {Outcome: audit.OutcomeFailure},
		"failures since":   {Outcome: audit.OutcomeFailure, Since: since, Order: audit.Descending, Limit: 50},
	}
	// Not in the list: a bare since with ORDER BY seq DESC LIMIT n (`audit
	// list --since 7d`), for which SQLite rightly prefers walking seq
	// backwards from the newest event and stopping after n matches to
	// sorting every event of the period; an action alone, which has no
	// index (see the schema); outcome success, nearly every event.
	for name, f := range cases {
		q, plan := planOf(t, s, f)
		t.Logf("%s: %s\n  %s", name, q, strings.Join(plan, "\n  "))
		searched := false
		for _, line := range plan {
			if strings.HasPrefix(line, "SCAN events") {
				t.Errorf("%s: full scan %q", name, line)
			}
			searched = searched || strings.HasPrefix(line, "SEARCH events USING")
		}
		if !searched {
			t.Errorf("%s: no index search in the plan %q", name, plan)
		}
	}
}

// planOf returns the lines of SQLite's plan for the query of f.
func planOf(t *testing.T, s *Store, f audit.Filter) (string, []string) {
	t.Helper()
	ctx := context.Background()
	db, err := s.readers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	q, args := selectSQL(&f, f.Order, f.Limit)
	rows, err := db.QueryContext(ctx, "EXPLAIN QUERY PLAN "+q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	return q, plan
}

// TestQueryPlansEveryCombination: every combination of the filters the
// command line builds (one value each; 2^11 of them, newest first with a
// limit as list asks, and oldest first as export does) is served by an
// index whenever it holds a filter that has one: the login or display
// name, type, resource, resource type, address, failures, source, or a
// window closed at both ends. Only combinations of the filters without
// an index (action, search, an open window, success) may read the table
// in seq order, which for list stops after its page.
func TestQueryPlansEveryCombination(t *testing.T) {
	s := openTemp(t)
	if _, err := s.Append(context.Background(), storetest.Events(2000, 1)); err != nil {
		t.Fatal(err)
	}
	since := storetest.Epoch.Add(time.Hour)
	filters := []struct {
		name    string
		indexed bool
		set     func(*audit.Filter)
	}{
		{"user", true, func(f *audit.Filter) { f.Users = []string{"jdavis"} }},
		{"type", true, func(f *audit.Filter) { f.Types = []audit.Type{audit.TypeSecurity} }},
		{"resource", true, func(f *audit.Filter) { f.Resources = []string{"bbb-node-1"} }},
		{"resource-type", true, func(f *audit.Filter) { f.ResourceTypes = []string{"server"} }},
		{"ip", true, func(f *audit.Filter) { f.IPs = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")} }},
		{"failed", true, func(f *audit.Filter) { f.Outcome = audit.OutcomeFailure }},
		{"source", true, func(f *audit.Filter) { f.Sources = []string{"cloudtrail"} }},
		{"action", false, func(f *audit.Filter) { f.Actions = []string{"Portal Access"} }},
		{"search", false, func(f *audit.Filter) { f.Search = "load" }},
		{"since", false, func(f *audit.Filter) { f.Since = since }},
		{"until", false, func(f *audit.Filter) { f.Until = since.Add(24 * time.Hour) }},
	}
	checked := 0
	for mask := range 1 << len(filters) {
		for _, order := range []audit.Order{audit.Descending, audit.Ascending} {
			f := audit.Filter{Order: order}
			if order == audit.Descending {
				f.Limit = 50
			}
			var names []string
			indexed := false
			for i, fl := range filters {
				if mask&(1<<i) != 0 {
					fl.set(&f)
					names = append(names, fl.name)
					indexed = indexed || fl.indexed
				}
			}
			indexed = indexed || !f.Since.IsZero() && !f.Until.IsZero()
			if !indexed {
				continue
			}
			q, plan := planOf(t, s, f)
			searched, scanned := false, false
			for _, line := range plan {
				scanned = scanned || strings.HasPrefix(line, "SCAN events")
				searched = searched || strings.HasPrefix(line, "SEARCH events USING")
			}
			if scanned || !searched {
				t.Errorf("%s (order %v): not served by an index:\n  %s\n  %s", strings.Join(names, " "), order, q, strings.Join(plan, "\n  "))
			}
			checked++
		}
	}
	if checked < 3000 {
		t.Fatalf("only %d combinations checked", checked)
	}
}

// TestConnectionSettings checks the durability and locking settings that
// the DSN asks for really are in force.
func TestConnectionSettings(t *testing.T) {
	ctx := context.Background()
	s, err := Open(filepath.Join(t.TempDir(), "audit.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	w, err := s.writer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.readers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		db     string
		pragma string
		want   string
	}{
		{"writer", "journal_mode", "wal"},
		{"writer", "synchronous", "2"}, // FULL
		{"writer", "page_size", fmt.Sprint(pageSize)},
		{"writer", "busy_timeout", "10000"},
		{"reader", "journal_mode", "wal"},
		{"reader", "busy_timeout", "10000"},
		{"reader", "query_only", "1"},
		{"writer", "user_version", fmt.Sprint(schemaVersion)},
	} {
		db := w
		if c.db == "reader" {
			db = r
		}
		var got string
		if err := db.QueryRowContext(ctx, "PRAGMA "+c.pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("%s: PRAGMA %s = %s, want %s", c.db, c.pragma, got, c.want)
		}
	}
}

func TestPrefixRange(t *testing.T) {
	for _, c := range []struct{ prefix, lo, hi string }{
		{"10.0.0.0/8", "040a000000", "040affffff"},
		{"192.168.1.100/32", "04c0a80164", "04c0a80164"},
		{"10.1.2.3/20", "040a010000", "040a010fff"},
		{"0.0.0.0/0", "0400000000", "04ffffffff"},
		{"2001:db8::/32", "0620010db8000000000000000000000000", "0620010db8ffffffffffffffffffffffff"},
		{"::/0", "0600000000000000000000000000000000", "06ffffffffffffffffffffffffffffffff"},
	} {
		lo, hi := prefixRange(netip.MustParsePrefix(c.prefix))
		if got := hexs(lo); got != c.lo {
			t.Errorf("%s: lo %s, want %s", c.prefix, got, c.lo)
		}
		if got := hexs(hi); got != c.hi {
			t.Errorf("%s: hi %s, want %s", c.prefix, got, c.hi)
		}
	}
}

func hexs(b []byte) string {
	const digits = "0123456789abcdef"
	var sb strings.Builder
	for _, c := range b {
		sb.WriteByte(digits[c>>4])
		sb.WriteByte(digits[c&15])
	}
	return sb.String()
}
