package postgres_test

import (
	"context"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/store/storetest"
)

// TestQueryPlans proves that an index can serve each filter of docs/design.md
// §2: with sequential scans priced out (enable_seqscan = off), and plain
// index scans too (enable_indexscan = off: else the planner may rightly
// prefer walking the seq index and filtering, which proves nothing), the
// plan of each filter's query uses that filter's index, found by the name
// PostgreSQL gives it on a month's partition (audit_events_2026_11_…_idx).
// The seq cursors keep index scans. bench/postgres measures the plans the
// planner really chooses on a million events.
// Search and '*' globs that do not start with a literal are left out: a
// btree cannot serve a substring, and no store indexes them (the other
// filters narrow them).
func TestQueryPlans(t *testing.T) {
	ctx := context.Background()
	dsn := freshSchema(t)
	s := open(t, dsn, testOptions)
	if _, err := s.Append(ctx, storetest.Events(20_000, 1)); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "ANALYZE audit_events"); err != nil {
		t.Fatal(err)
	}
	since := storetest.Epoch.Add(24 * time.Hour)
	cases := []struct {
		name string
		f    audit.Filter
		want []string // an index of one of these columns serves it
	}{
		{"list --user U --type security --since 30d -n 50",
			audit.Filter{Users: []string{"jdavis"}, Types: []audit.Type{audit.TypeSecurity}, Since: since.Add(7 * 24 * time.Hour), Order: audit.Descending, Limit: 50},
			[]string{"array", "time"}},
		{"user", audit.Filter{Users: []string{"jdavis"}}, []string{"array"}},
		{"user display name", audit.Filter{Users: []string{"John Davis"}}, []string{"array"}},
		{"users", audit.Filter{Users: []string{"John Davis", "smiller"}}, []string{"array"}},
		{"user glob", audit.Filter{Users: []string{"j*"}}, []string{"array"}},
		{"user unicode glob", audit.Filter{Users: []string{"Zoë*"}}, []string{"array"}},
		{"type", audit.Filter{Types: []audit.Type{audit.TypeSecurity}}, []string{"array"}},
		{"types", audit.Filter{Types: []audit.Type{audit.TypeCreate, audit.TypeDelete}}, []string{"array"}},
		{"ip CIDR", audit.Filter{IPs: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}, []string{"ip"}},
		{"ip v6 and single", audit.Filter{IPs: []netip.Prefix{netip.MustParsePrefix("2001:db8::/32"), netip.MustParsePrefix("8.8.8.8/32")}}, []string{"ip"}},
		{"since until", audit.Filter{Since: since, Until: since.Add(time.Hour)}, []string{"time"}},
		{"since until nanoseconds", audit.Filter{Since: since.Add(1), Until: since.Add(time.Hour + 1)}, []string{"time"}},
		{"after seq", audit.Filter{After: 19_000}, []string{"seq"}},
		{"before seq", audit.Filter{Before: 100, Order: audit.Descending, Limit: 50}, []string{"seq"}},
		{"resource", audit.Filter{Resources: []string{"bbb-node-1"}}, []string{"array"}},
		{"resource glob", audit.Filter{Resources: []string{"bbb-*"}}, []string{"array"}},
		{"resource percent", audit.Filter{Resources: []string{"disk > 90%*"}}, []string{"array"}},
		{"resource type", audit.Filter{ResourceTypes: []string{"API_KEY"}}, []string{"array"}},
		{"action", audit.Filter{Actions: []string{"Portal Access"}}, []string{"array"}},
		{"outcome", audit.Filter{Outcome: audit.OutcomeFailure}, []string{"array"}},
		{"user suffix glob", audit.Filter{Users: []string{"*son"}}, []string{"array"}},
		{"resource infix glob", audit.Filter{Resources: []string{"*node*"}}, []string{"array"}},
		{"outcome since", audit.Filter{Outcome: audit.OutcomeFailure, Since: since}, []string{"array", "time"}},
		{"type outcome action", audit.Filter{Types: []audit.Type{audit.TypeLogin}, Outcome: audit.OutcomeFailure, Actions: []string{"Portal Access"}}, []string{"array"}},
	}
	for _, c := range cases {
		q, args, err := s.SelectSQL(ctx, c.f)
		if err != nil {
			t.Fatal(err)
		}
		plan := explain(t, conn, q, args, slices.Contains(c.want, "seq"))
		t.Logf("%s:\n%s\n%s", c.name, q, plan)
		if strings.Contains(plan, "Seq Scan") {
			t.Errorf("%s: a sequential scan in the plan", c.name)
		}
		used := false
		for _, col := range c.want {
			re := regexp.MustCompile(`audit_events_\d{4}_\d{2}_` + col + `_idx\b`)
			used = used || re.MatchString(plan)
		}
		if !used {
			t.Errorf("%s: no index of %v in the plan", c.name, c.want)
		}
	}
}

// explain returns the plan of q with sequential scans, and unless scan
// also index scans, priced out.
func explain(t *testing.T, conn *pgx.Conn, q string, args []any, scan bool) string {
	t.Helper()
	ctx := context.Background()
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "SET LOCAL enable_seqscan = off"); err != nil {
		t.Fatal(err)
	}
	if !scan {
		if _, err := tx.Exec(ctx, "SET LOCAL enable_indexscan = off"); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := tx.Query(ctx, "EXPLAIN "+q, args...)
	if err != nil {
		t.Fatal(err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n")
}
