package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/store/postgres"
	"github.com/audit-cli/audit/internal/store/storetest"
)

// testOptions polls fast so that the tests of the polling fallback are
// quick.
var testOptions = postgres.Options{PollInterval: 20 * time.Millisecond}

// serverDSN is the test server's address, from AUDIT_TEST_POSTGRES; the
// test is skipped without one.
func serverDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv("AUDIT_TEST_POSTGRES")
	if dsn == "" {
		t.Skip("AUDIT_TEST_POSTGRES is not set: skipping the PostgreSQL store tests " +
			"(`make test` starts a throwaway server with .ci/postgres.sh when PostgreSQL is installed)")
	}
	return dsn
}

// freshSchema creates a schema for the test alone, dropped at its end, and
// returns the address of the test server with that schema as search_path:
// each test starts from an empty database, without the cost of creating
// one.
func freshSchema(t testing.TB) string {
	t.Helper()
	dsn := serverDSN(t)
	b := make([]byte, 6)
	rand.Read(b)
	name := "audit_test_" + hex.EncodeToString(b)
	admin(t, dsn, "CREATE SCHEMA "+name)
	t.Cleanup(func() { admin(t, dsn, "DROP SCHEMA "+name+" CASCADE") })
	return withParam(t, dsn, "search_path", name)
}

// withParam adds a parameter to a postgres:// address.
func withParam(t testing.TB, dsn, key, value string) string {
	t.Helper()
	if !strings.Contains(dsn, "://") {
		return dsn + " " + key + "=" + value
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set(key, value)
	u.RawQuery = q.Encode()
	return u.String()
}

// admin runs SQL on the server outside any store, as an administrator
// would with psql.
func admin(t testing.TB, dsn, sql string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func open(t testing.TB, dsn string, opts postgres.Options) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(dsn, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) audit.Store {
		s := open(t, freshSchema(t), testOptions)
		// The suite wants an existing store; a new one exists only after
		// its first write.
		if err := s.Init(context.Background()); err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// TestIntegrity runs the hash chain's conformance suite: the documented
// chain, contiguous seqs, Head, and audit.Verify over Query.
func TestIntegrity(t *testing.T) {
	storetest.RunIntegrity(t, func(t *testing.T, key []byte) audit.Store {
		opts := testOptions
		opts.ChainKey = key
		s := open(t, freshSchema(t), opts)
		if err := s.Init(context.Background()); err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// TestConformancePolling runs the suite with Follow polling, as it does on
// engines without LISTEN (CockroachDB).
func TestConformancePolling(t *testing.T) {
	opts := testOptions
	opts.PollOnly = true
	storetest.Run(t, func(t *testing.T) audit.Store {
		s := open(t, freshSchema(t), opts)
		if err := s.Init(context.Background()); err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestMissingStore(t *testing.T) {
	ctx := context.Background()
	dsn := freshSchema(t)
	s := open(t, dsn, testOptions)
	want := "no audit store at " + s.Address() + ": record an event (audit record …) or import some (audit import FILE) first"
	checkMissing := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, audit.ErrUnavailable) {
			t.Fatalf("%s: err = %v, want ErrUnavailable", what, err)
		}
		if err.Error() != want {
			t.Fatalf("%s: error %q, want %q", what, err, want)
		}
	}
	n := 0
	for _, err := range s.Query(ctx, audit.Filter{}) {
		checkMissing("Query", err)
		n++
	}
	if n != 1 {
		t.Fatalf("Query yielded %d times, want one error", n)
	}
	for _, err := range s.Query(ctx, audit.Filter{Users: []string{"jdavis"}, Order: audit.Descending, Limit: 5}) {
		checkMissing("filtered Query", err)
	}
	_, err := s.Get(ctx, "x")
	checkMissing("Get", err)
	_, _, err = s.Head(ctx)
	checkMissing("Head", err)
	if tables := countTables(t, dsn); tables != 0 {
		t.Fatalf("reading created %d tables", tables)
	}

	// The first write creates the schema.
	if _, err := s.Append(ctx, storetest.Events(3, 1)); err != nil {
		t.Fatal(err)
	}
	if n := len(collect(t, s, audit.Filter{})); n != 3 {
		t.Fatalf("%d events after the first Append, want 3", n)
	}
	// A store opened before the schema existed sees it too.
	if n := len(collect(t, open(t, dsn, testOptions), audit.Filter{})); n != 3 {
		t.Fatalf("%d events through another store, want 3", n)
	}
}

func countTables(t *testing.T, dsn string) int {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var n int
	if err := c.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestUnreachable(t *testing.T) {
	// A port nobody listens on: connection refused.
	start := time.Now()
	_, err := postgres.Open("postgres://audit:secret@127.0.0.1:1/audit?connect_timeout=5", testOptions)
	if !errors.Is(err, audit.ErrUnavailable) {
		t.Fatalf("Open of an unreachable server: err = %v, want ErrUnavailable", err)
	}
	if strings.Contains(err.Error(), "secret") {
		t.Fatalf("the error shows the password: %v", err)
	}
	if !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Fatalf("the error does not name the server: %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("took %v to fail", d)
	}
	t.Log(err)
}

func TestMissingDatabase(t *testing.T) {
	dsn := serverDSN(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/no_such_database"
	_, err = postgres.Open(u.String(), testOptions)
	if !errors.Is(err, audit.ErrUnavailable) || !strings.Contains(err.Error(), "no_such_database") {
		t.Fatalf("Open of a missing database: err = %v, want ErrUnavailable naming it", err)
	}
	t.Log(err)
}

func TestBadAddress(t *testing.T) {
	_, err := postgres.Open("postgres://audit:secret@db:notaport/audit", testOptions)
	if !errors.Is(err, audit.ErrInvalid) || strings.Contains(err.Error(), "secret") {
		t.Fatalf("err = %v, want ErrInvalid without the password", err)
	}
}

func TestNewerSchema(t *testing.T) {
	dsn := freshSchema(t)
	s := open(t, dsn, testOptions)
	if err := s.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	admin(t, dsn, "INSERT INTO audit_schema_migrations (version, description) VALUES (99, 'from the future')")
	_, err := postgres.Open(dsn, testOptions)
	if !errors.Is(err, audit.ErrUnavailable) || !strings.Contains(err.Error(), "schema version 99, newer than this audit understands") {
		t.Fatalf("err = %v, want ErrUnavailable about schema version 99", err)
	}
}

// TestConcurrentInit has several stores (separate pools, as separate
// processes would have) race to create the schema and write.
func TestConcurrentInit(t *testing.T) {
	dsn := freshSchema(t)
	const writers = 4
	errs := make(chan error, writers)
	for w := range writers {
		go func() {
			s, err := postgres.Open(dsn, testOptions)
			if err != nil {
				errs <- err
				return
			}
			defer s.Close()
			_, err = s.Append(context.Background(), storetest.Events(10, int64(w)))
			errs <- err
		}()
	}
	for range writers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	s := open(t, dsn, testOptions)
	stored := collect(t, s, audit.Filter{})
	if len(stored) != writers*10 {
		t.Fatalf("%d events, want %d", len(stored), writers*10)
	}
	verifyChain(t, stored, nil)
}

// TestReopen runs the suite of a store that outlives its handles: each
// handle its own pool, as separate processes would have.
func TestReopen(t *testing.T) {
	storetest.RunReopen(t, func(t *testing.T) storetest.Reopener {
		dsn := freshSchema(t)
		return storetest.Reopener{
			Open: func(t *testing.T, key []byte) audit.Store {
				opts := testOptions
				opts.ChainKey = key
				s, err := postgres.Open(dsn, opts)
				if err != nil {
					t.Fatal(err)
				}
				return s
			},
			DeleteAbove: func(t *testing.T, seq int64) {
				admin(t, dsn, "DELETE FROM audit_events WHERE seq > $1", seq)
			},
		}
	})
}

// TestTimes checks times the SQLite store cannot keep (past 2262) and the
// month partitions they need, and nanosecond filters across a month's end.
func TestTimes(t *testing.T) {
	ctx := context.Background()
	s := open(t, freshSchema(t), testOptions)
	times := []string{"1970-01-01T00:00:00Z", "1999-12-31T23:59:59.999999999Z", "2000-01-01T00:00:00Z",
		"2262-04-12T00:00:00.000000001Z", "9999-12-31T23:59:59.999999999Z"}
	var events []audit.Event
	for i, ts := range times {
		e := storetest.Events(1, int64(i))[0]
		e.ID = fmt.Sprintf("t%d", i)
		e.Time, _ = time.Parse(time.RFC3339Nano, ts)
		events = append(events, e)
	}
	if _, err := s.Append(ctx, events); err != nil {
		t.Fatal(err)
	}
	got := collect(t, s, audit.Filter{})
	for i := range events {
		if !got[i].Time.Equal(events[i].Time) {
			t.Fatalf("time %s came back as %s", times[i], audit.FormatTime(got[i].Time))
		}
	}
	boundary := events[2].Time
	for _, c := range []struct {
		f    audit.Filter
		want int
	}{
		{audit.Filter{Since: boundary.Add(-1)}, 4},
		{audit.Filter{Until: boundary.Add(-1)}, 1},
		{audit.Filter{Until: boundary}, 2},
		{audit.Filter{Since: boundary.Add(-1), Until: boundary}, 1},
		{audit.Filter{Since: events[4].Time}, 1},
		{audit.Filter{Since: events[4].Time.Add(1)}, 0},
	} {
		if n := len(collect(t, s, c.f)); n != c.want {
			t.Errorf("%+v: %d events, want %d", c.f, n, c.want)
		}
	}
}

// verifyChain recomputes the hash chain of events (all of a store, in seq
// order).
func verifyChain(t *testing.T, events []audit.Event, key []byte) {
	t.Helper()
	chain := audit.NewChain(key)
	prev := ""
	for _, e := range events {
		want, err := chain.NextHex(prev, &e)
		if err != nil {
			t.Fatal(err)
		}
		if e.Hash != want {
			t.Fatalf("seq %d: hash %s, want %s", e.Seq, e.Hash, want)
		}
		prev = e.Hash
	}
}

func collect(t testing.TB, s audit.Store, f audit.Filter) []audit.Event {
	t.Helper()
	var out []audit.Event
	for e, err := range s.Query(context.Background(), f) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

// connect opens a plain connection to dsn for the test.
func connect(t testing.TB, dsn string) *pgx.Conn {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(ctx) })
	return c
}

// TestCopyRoundTrip: events written with COPY (batches of 64 and more,
// encoded by this package) and with INSERT (smaller batches) come back
// exactly as they went in.
func TestCopyRoundTrip(t *testing.T) {
	ctx := context.Background()
	s := open(t, freshSchema(t), testOptions)
	extreme := []audit.Event{
		{ID: "x-epoch", Time: time.Unix(0, 1).UTC(), User: "zstastna", UserName: "Zoë Šťastná", Type: audit.TypeUpdate,
			Action: "Přejmenováno", ResourceType: "účet", Resource: "Žluťoučký kůň", Details: "tab\tnewline\nquote ' \" backslash \\ 👩‍💻", IP: "2001:db8::1"},
		{ID: "x-1999", Time: time.Date(1999, 12, 31, 23, 59, 59, 999_999_999, time.UTC), User: "system", UserName: "System",
			Type: audit.TypeDelete, Action: "Deleted", IP: "::ffff:192.168.1.100", Outcome: audit.OutcomeFailure},
		{ID: "x-long", Time: time.Date(2026, 11, 20, 14, 0, 5, 123_456_789, time.UTC), User: strings.Repeat("u", audit.MaxShortLen),
			UserName: strings.Repeat("é", audit.MaxShortLen/2), Type: audit.TypeCreate, Action: strings.Repeat("a", audit.MaxShortLen),
			ResourceType: strings.Repeat("t", audit.MaxShortLen), Resource: strings.Repeat("r", audit.MaxResource),
			Details: strings.Repeat("d", audit.MaxDetailsLen), IP: "255.255.255.255"},
		{ID: "x-v6", Time: time.Date(2262, 4, 12, 0, 0, 0, 1, time.UTC), User: "devops", Type: audit.TypeSecurity, IP: "fe80::1"},
	}
	for _, size := range []int{1, 10, 63, 64, 500} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			events := storetest.Events(size, int64(1000+size))
			for i := range extreme {
				if i < size {
					e := extreme[i]
					e.ID = fmt.Sprintf("%s-%d", e.ID, size)
					events[i] = e
				}
			}
			if _, err := s.Append(ctx, events); err != nil {
				t.Fatal(err)
			}
			first := events[0].Seq
			got := collect(t, s, audit.Filter{After: first - 1, Before: first + int64(size)})
			if len(got) != size {
				t.Fatalf("%d events back, want %d", len(got), size)
			}
			for i := range events {
				g, w := got[i], events[i]
				if !g.Time.Equal(w.Time) || g.Time.Location() != time.UTC {
					t.Fatalf("event %d: time %s, want %s", i, audit.FormatTime(g.Time), audit.FormatTime(w.Time))
				}
				g.Time, w.Time = time.Time{}, time.Time{}
				if g.ID != w.ID || g.Seq != w.Seq || g.Hash != w.Hash || audit.DiffField(&g, &w) != "" {
					t.Fatalf("event %d:\n got %+v\nwant %+v", i, g, w)
				}
			}
		})
	}
}

// A least-privilege reader: a role that may only SELECT (what docs/scaling.md
// grants the servers of read tokens) lists the store's events, and is
// refused, as forbidden (exit 4), when it tries to write one.
func TestReaderRoleCannotWrite(t *testing.T) {
	ctx := context.Background()
	dsn := freshSchema(t)
	owner := open(t, dsn, testOptions)
	if _, err := owner.Append(ctx, storetest.Events(3, 1)); err != nil {
		t.Fatal(err)
	}
	reader := open(t, withRole(t, dsn, "audit_reader_", []string{
		"GRANT USAGE ON SCHEMA SCHEMA TO ROLE",
		"GRANT SELECT ON ALL TABLES IN SCHEMA SCHEMA TO ROLE",
	}), testOptions)
	if got := collect(t, reader, audit.Filter{}); len(got) != 3 {
		t.Fatalf("the reader lists %d events, want 3", len(got))
	}
	_, err := reader.Append(ctx, storetest.Events(1, 2))
	if !errors.Is(err, audit.ErrForbidden) {
		t.Fatalf("a reader's append: %v, want ErrForbidden", err)
	}
	if got := collect(t, owner, audit.Filter{}); len(got) != 3 {
		t.Errorf("the store holds %d events after the refused write, want 3", len(got))
	}
}

// withRole creates a login role for the test, named prefix and random
// digits, gives it grants (the words SCHEMA and ROLE in them replaced by
// the test's schema and the role), and returns dsn as that role.
func withRole(t *testing.T, dsn, prefix string, grants []string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Skipf("the test server's address %q is not a URL", dsn)
	}
	schema := u.Query().Get("search_path")
	b := make([]byte, 4)
	rand.Read(b)
	role := prefix + hex.EncodeToString(b)
	admin(t, dsn, "CREATE ROLE "+role+" LOGIN PASSWORD 'role-secret'")
	t.Cleanup(func() {
		admin(t, dsn, "DROP OWNED BY "+role)
		admin(t, dsn, "DROP ROLE "+role)
	})
	for _, grant := range grants {
		admin(t, dsn, strings.NewReplacer("SCHEMA SCHEMA", "SCHEMA "+schema, "TO ROLE", "TO "+role).Replace(grant))
	}
	u.User = url.UserPassword(role, "role-secret")
	return u.String()
}

// collectorGrants are the grants of docs/postgres.md for a role that
// writes events and can neither change nor delete them.
var collectorGrants = []string{
	"GRANT USAGE ON SCHEMA SCHEMA TO ROLE",
	"GRANT SELECT ON audit_schema_migrations, audit_events, audit_event_ids, audit_values, audit_checkpoints TO ROLE",
	"GRANT INSERT ON audit_events, audit_event_ids, audit_values TO ROLE",
	"GRANT SELECT, UPDATE ON audit_head TO ROLE",
	"GRANT SELECT, INSERT, UPDATE ON audit_rollup_hours, audit_rollup_days, audit_rollup_state TO ROLE",
	"GRANT EXECUTE ON FUNCTION audit_make_partition(integer) TO ROLE",
}

// TestCollectorRole: a role with the collector grants appends and imports,
// events of a month that has no partition yet included (made by
// audit_make_partition with the owner's rights), and is refused every
// change to what is stored: UPDATE, DELETE, TRUNCATE, DROP, a prune;
// nothing it may not do happens, and the chain verifies.
func TestCollectorRole(t *testing.T) {
	ctx := context.Background()
	dsn := freshSchema(t)
	owner := open(t, dsn, testOptions)
	if _, err := owner.Append(ctx, storetest.Events(3, 1)); err != nil {
		t.Fatal(err)
	}
	collectorDSN := withRole(t, dsn, "audit_collector_", collectorGrants)
	collector := open(t, collectorDSN, testOptions)

	// A month long past, whose partition nobody made.
	old := storetest.Events(5, 2)
	for i := range old {
		old[i].Time = time.Date(2019, 3, 1+i, 12, 0, 0, 0, time.UTC)
	}
	if res, err := collector.Append(ctx, old); err != nil || res.Added != 5 {
		t.Fatalf("the collector's append to a new month: %+v, %v", res, err)
	}
	if n := count(t, dsn, "SELECT count(*) FROM audit_events_2019_03"); n != 5 {
		t.Fatalf("the new month's partition holds %d events, want 5", n)
	}
	more := storetest.Events(500, 3)
	res, err := collector.Import(ctx, func(yield func(audit.Event, error) bool) {
		for _, e := range more {
			if !yield(e, nil) {
				return
			}
		}
	})
	if err != nil || res.Added != 500 {
		t.Fatalf("the collector's import: %+v, %v", res, err)
	}
	again, err := collector.Append(ctx, old[:2])
	if err != nil || again.Existing != 2 {
		t.Fatalf("the collector's append of stored events: %+v, %v; want 2 existing", again, err)
	}

	c := connect(t, collectorDSN)
	for _, sql := range []string{
		"UPDATE audit_events SET details = 'changed'",
		"DELETE FROM audit_events",
		"DELETE FROM audit_event_ids",
		"TRUNCATE audit_events",
		"DROP TABLE audit_events_2019_03",
		"CREATE TABLE audit_events_2030_01 (LIKE audit_events)",
	} {
		_, err := c.Exec(ctx, sql)
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "42501" && pe.Code != "42P01" {
			t.Errorf("the collector ran %q: %v, want permission denied", sql, err)
		}
	}
	stored := collect(t, owner, audit.Filter{})
	last := stored[len(stored)-1]
	_, err = collector.Prune(ctx, audit.PruneRequest{Through: stored[0].Seq, Hash: stored[0].Hash, Events: 1})
	if !errors.Is(err, audit.ErrForbidden) {
		t.Errorf("the collector's prune: %v, want ErrForbidden", err)
	}
	if got := collect(t, owner, audit.Filter{}); len(got) != 508 || got[len(got)-1].Seq != last.Seq {
		t.Errorf("the store holds %d events after the refused changes, want 508", len(got))
	}
	if _, err := audit.Verify(ctx, owner, audit.VerifyOptions{}); err != nil {
		t.Fatal(err)
	}
}
