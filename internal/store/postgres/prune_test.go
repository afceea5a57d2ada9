package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/store/postgres"
	"github.com/audit-cli/audit/internal/store/storetest"
)

// pruneKey is the integrity key of the prune and tamper tests' stores.
var pruneKey = []byte("prune test key, 32 bytes long!!!")

// monthly returns n events, ids unique to seed, one a day from the first
// of month (UTC) on, in time order: about 30 to a month's partition.
func monthly(n int, seed int64, month time.Time) []audit.Event {
	events := storetest.Events(n, seed)
	for i := range events {
		events[i].Time = month.AddDate(0, 0, i).Add(time.Duration(i) * time.Minute)
	}
	return events
}

// pruneThrough prunes the events up to and including stored[i] of a store
// never pruned before.
func pruneThrough(t *testing.T, s *postgres.Store, stored []audit.Event, i int) audit.Checkpoint {
	t.Helper()
	cut := stored[i]
	cp, err := s.Prune(context.Background(), audit.PruneRequest{Through: cut.Seq, Hash: cut.Hash, Events: int64(i + 1),
		Before: cut.Time.Add(time.Nanosecond)})
	if err != nil {
		t.Fatalf("Prune through seq %d: %v", cut.Seq, err)
	}
	return cp
}

// count runs a query that counts, as an administrator would in psql.
func count(t *testing.T, dsn, sql string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := connect(t, dsn).QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// TestPruneWholeMonths: the months whose events all go are emptied with
// TRUNCATE and their partitions then detached and dropped, the month the
// cut falls in loses its pruned rows, and the ids of the pruned events go
// with them: the chain verifies from the checkpoint, and the store takes
// events of every month again, from this process and from another that
// knew the dropped partitions.
func TestPruneWholeMonths(t *testing.T) {
	defer postgres.SetTruncateMin(5)()
	ctx := context.Background()
	dsn := freshSchema(t)
	opts := testOptions
	opts.ChainKey = pruneKey
	s := open(t, dsn, opts)
	other := open(t, dsn, opts) // another process, which wrote the months too
	jan := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := other.Append(ctx, monthly(100, 1, jan)); err != nil { // January to mid-April
		t.Fatal(err)
	}
	stored := collect(t, s, audit.Filter{})
	files := relfilenodes(t, dsn)
	cut := 69 // March 11th: January and February go whole, March in part
	cp := pruneThrough(t, s, stored, cut)
	if cp.Seq != stored[cut].Seq || cp.Events != int64(cut+1) || cp.Seal != audit.CheckpointSeal(pruneKey, cp) {
		t.Fatalf("checkpoint %+v", cp)
	}

	for _, c := range []struct {
		table string
		want  int64
	}{{"audit_events_2026_03", 31 - 11}, {"audit_events_2026_04", 10},
		{"audit_events", 30}, {"audit_event_ids", 30}} {
		if n := count(t, dsn, "SELECT count(*) FROM "+c.table); n != c.want {
			t.Errorf("%s holds %d rows after the prune, want %d", c.table, n, c.want)
		}
	}
	// January and February, emptied, are no partitions any more, nor
	// tables; March lost its rows by DELETE and kept its files.
	after := relfilenodes(t, dsn)
	for _, month := range []string{"01", "02"} {
		name := "audit_events_2026_" + month
		if _, ok := after[name]; ok {
			t.Errorf("%s is still a partition after the prune", name)
		}
		if n := count(t, dsn, "SELECT count(*) FROM pg_class WHERE relname = $1", name); n != 0 {
			t.Errorf("table %s is still there after the prune", name)
		}
	}
	if name := "audit_events_2026_03"; after[name] != files[name] {
		t.Errorf("%s: files %d before the prune, %d after; want the same (rows deleted)", name, files[name], after[name])
	}
	if n := count(t, dsn, "SELECT count(*) FROM audit_event_ids WHERE seq <= $1", cp.Seq); n != 0 {
		t.Errorf("%d ids of pruned events are left", n)
	}
	if _, err := s.Get(ctx, stored[0].ID); !errors.Is(err, audit.ErrNotFound) {
		t.Errorf("Get of a pruned event: err = %v, want ErrNotFound", err)
	}
	if e, err := s.Get(ctx, stored[cut+1].ID); err != nil || e.Seq != stored[cut+1].Seq {
		t.Errorf("Get of the first kept event = %+v, %v", e, err)
	}
	equalEvents(t, collect(t, s, audit.Filter{}), stored[cut+1:])
	res, err := audit.Verify(ctx, s, audit.VerifyOptions{Key: pruneKey})
	if err != nil || res.Start != audit.StartCheckpoint || res.Events != 30 {
		t.Fatalf("Verify after the prune = %+v, %v; want 30 events from the checkpoint", res, err)
	}

	// Events of the dropped months are stored again, by both processes,
	// and by an import of the one that knew them.
	if _, err := other.Append(ctx, monthly(3, 2, jan)); err != nil {
		t.Fatalf("Append to January from the process that knew its partition: %v", err)
	}
	if _, err := s.Append(ctx, monthly(3, 3, jan.AddDate(0, 1, 0))); err != nil {
		t.Fatal(err)
	}
	if n := count(t, dsn, "SELECT count(*) FROM audit_events_2026_01"); n != 3 {
		t.Errorf("January holds %d events once made again, want 3", n)
	}
	if _, err := audit.Verify(ctx, s, audit.VerifyOptions{Key: pruneKey}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Checkpoints(ctx); err != nil || len(got) != 1 || got[0] != cp {
		t.Fatalf("Checkpoints = %+v, %v; want [%+v]", got, err, cp)
	}

	// A prune of a few events of many finds their ids by id.
	admin(t, dsn, "ANALYZE audit_event_ids")
	next := stored[cut+1]
	if _, err := s.Prune(ctx, audit.PruneRequest{Through: next.Seq, Hash: next.Hash, Events: 1}); err != nil {
		t.Fatal(err)
	}
	if n, ids := count(t, dsn, "SELECT count(*) FROM audit_events"), count(t, dsn, "SELECT count(*) FROM audit_event_ids"); n != 35 || ids != n {
		t.Errorf("%d events and %d ids after the second prune, want 35 of each", n, ids)
	}
	if _, err := audit.Verify(ctx, s, audit.VerifyOptions{Key: pruneKey}); err != nil {
		t.Fatal(err)
	}
}

// TestPruneLockedMonth: a month that a reader holds is not waited for:
// its rows are deleted instead of truncated, the prune is as complete, and
// its partition, which cannot be dropped then, is dropped by the next
// prune.
func TestPruneLockedMonth(t *testing.T) {
	defer postgres.SetTruncateMin(5)()
	ctx := context.Background()
	dsn := freshSchema(t)
	opts := testOptions
	opts.ChainKey = pruneKey
	s := open(t, dsn, opts)
	if _, err := s.Append(ctx, monthly(100, 1, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))); err != nil {
		t.Fatal(err)
	}
	stored := collect(t, s, audit.Filter{})
	reader := connect(t, dsn)
	tx, err := reader.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "SELECT count(*) FROM audit_events_2026_01"); err != nil {
		t.Fatal(err)
	}
	files := relfilenodes(t, dsn)
	start := time.Now()
	pruneThrough(t, s, stored, 69)
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the prune took %v", d)
	}
	after := relfilenodes(t, dsn)
	jan, feb := "audit_events_2026_01", "audit_events_2026_02"
	if after[jan] != files[jan] {
		t.Errorf("January, which a reader holds, was truncated")
	}
	if _, ok := after[feb]; ok {
		t.Errorf("February, emptied, is still a partition")
	}
	if n := count(t, dsn, "SELECT count(*) FROM audit_events"); n != 30 {
		t.Errorf("%d events after the prune, want 30", n)
	}
	if _, err := audit.Verify(ctx, s, audit.VerifyOptions{Key: pruneKey}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	next := stored[70]
	if _, err := s.Prune(ctx, audit.PruneRequest{Through: next.Seq, Hash: next.Hash, Events: 1}); err != nil {
		t.Fatal(err)
	}
	if _, ok := relfilenodes(t, dsn)[jan]; ok {
		t.Errorf("January, emptied and no longer read, is still a partition after the next prune")
	}
	if _, err := audit.Verify(ctx, s, audit.VerifyOptions{Key: pruneKey}); err != nil {
		t.Fatal(err)
	}
}

// TestPruneValues: audit_values loses the values only pruned events had,
// keeps those of kept events, and a writer that remembered a lost value as
// stored writes it again when an event brings it back, so that globs
// still find every event.
func TestPruneValues(t *testing.T) {
	ctx := context.Background()
	dsn := freshSchema(t)
	s := open(t, dsn, testOptions)
	other := open(t, dsn, testOptions)
	events := storetest.Events(20, 1)
	for i := range events {
		events[i].Resource = fmt.Sprintf("res-%02d", i)
		events[i].User = "keeper"
		if i < 10 {
			events[i].User = fmt.Sprintf("gone-%02d", i)
		}
	}
	if _, err := other.Append(ctx, events); err != nil {
		t.Fatal(err)
	}
	stored := collect(t, s, audit.Filter{})
	pruneThrough(t, s, stored, 9)
	values := func(kind string) []string {
		rows, err := connect(t, dsn).Query(ctx, "SELECT value FROM audit_values WHERE kind = $1 ORDER BY value", kind)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var v string
			if err := rows.Scan(&v); err != nil {
				t.Fatal(err)
			}
			out = append(out, v)
		}
		return out
	}
	if got := values("u"); !slices.Equal(got, []string{"keeper"}) {
		t.Errorf("logins in audit_values after the prune: %q, want only keeper", got)
	}
	if got := values("r"); len(got) != 10 || got[0] != "res-10" {
		t.Errorf("resources in audit_values after the prune: %q, want res-10 to res-19", got)
	}
	// The other process remembers gone-03 as stored; it must write it again.
	back := storetest.Events(1, 2)
	back[0].User, back[0].Resource = "gone-03", "res-03"
	if _, err := other.Append(ctx, back); err != nil {
		t.Fatal(err)
	}
	for _, f := range []audit.Filter{{Users: []string{"gone-0*"}}, {Resources: []string{"res-0*"}}} {
		if got := collect(t, s, f); len(got) != 1 || got[0].ID != back[0].ID {
			t.Errorf("%+v after the prune and a new event: %d events, want the new one", f, len(got))
		}
	}
}

// TestCheckpointOfSchemaVersion1: a store made before checkpoints existed
// is brought up to date when opened, reads as never pruned, and prunes.
func TestCheckpointOfSchemaVersion1(t *testing.T) {
	ctx := context.Background()
	dsn := freshSchema(t)
	s := open(t, dsn, testOptions)
	if _, err := s.Append(ctx, storetest.Events(20, 1)); err != nil {
		t.Fatal(err)
	}
	admin(t, dsn, `DROP TABLE audit_checkpoints; ALTER TABLE audit_head DROP COLUMN values_epoch;
ALTER TABLE audit_events DROP COLUMN source, DROP COLUMN raw; DROP FUNCTION audit_make_partition(integer);
DROP TABLE audit_rollup_hours, audit_rollup_days, audit_rollup_state;
DELETE FROM audit_schema_migrations WHERE version > 1`)
	old := open(t, dsn, testOptions)
	if cp, err := old.Checkpoint(ctx); err != nil || !cp.IsZero() {
		t.Fatalf("Checkpoint of a version 1 store = %+v, %v; want zero", cp, err)
	}
	if _, err := audit.Verify(ctx, old, audit.VerifyOptions{}); err != nil {
		t.Fatal(err)
	}
	stored := collect(t, old, audit.Filter{})
	pruneThrough(t, old, stored, 4)
	if n := count(t, dsn, "SELECT max(version) FROM audit_schema_migrations"); n != int64(postgres.SchemaVersion) {
		t.Fatalf("schema version %d after the prune, want %d", n, postgres.SchemaVersion)
	}
	if _, err := audit.Verify(ctx, old, audit.VerifyOptions{}); err != nil {
		t.Fatal(err)
	}
	missing := open(t, freshSchema(t), testOptions)
	if _, err := missing.Checkpoint(ctx); !errors.Is(err, audit.ErrUnavailable) {
		t.Fatalf("Checkpoint of no store: err = %v, want ErrUnavailable", err)
	}
	if _, err := missing.Prune(ctx, audit.PruneRequest{Through: 1, Hash: strings.Repeat("0", 64), Events: 1}); !errors.Is(err, audit.ErrUnavailable) {
		t.Fatalf("Prune of no store: err = %v, want ErrUnavailable", err)
	}
	if n := countTables(t, dsn); n == 0 {
		t.Fatal("the tables are gone")
	}
}

// relfilenodes returns the file number of each partition of audit_events,
// which TRUNCATE changes.
func relfilenodes(t *testing.T, dsn string) map[string]int64 {
	t.Helper()
	rows, err := connect(t, dsn).Query(context.Background(), `SELECT c.relname, c.relfilenode::bigint
FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'audit_events'::regclass`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var name string
		var n int64
		if err := rows.Scan(&name, &n); err != nil {
			t.Fatal(err)
		}
		out[name] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func equalEvents(t *testing.T, got, want []audit.Event) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d events, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].Seq != want[i].Seq || got[i].ID != want[i].ID || got[i].Hash != want[i].Hash {
			t.Fatalf("event %d: seq %d id %s, want seq %d id %s", i, got[i].Seq, got[i].ID, want[i].Seq, want[i].ID)
		}
	}
}
