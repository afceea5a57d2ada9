package postgres_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/store/postgres"
	"github.com/audit-cli/audit/internal/store/storetest"
)

// tamperStore makes a store of 3 batches of 20 events (seq 1–60) under
// pruneKey and returns its address and events.
func tamperStore(t *testing.T) (string, []audit.Event) {
	t.Helper()
	dsn := freshSchema(t)
	s := open(t, dsn, postgres.Options{ChainKey: pruneKey})
	for b := range 3 {
		if _, err := s.Append(context.Background(), storetest.Events(20, int64(70+b))); err != nil {
			t.Fatal(err)
		}
	}
	return dsn, collect(t, s, audit.Filter{})
}

// TestTamper changes the tables with SQL, past the store, as an intruder
// with the database's password would, and checks that Verify names the
// first event that does not fit, with an error that `audit verify` exits
// 5 for (audit.ErrIntegrity).
func TestTamper(t *testing.T) {
	tests := []struct {
		name    string
		sql     func(ev []audit.Event) string
		opts    func(ev []audit.Event) audit.VerifyOptions
		seq     int64
		problem audit.Problem
		message string // a part of the message
	}{
		{name: "changed details", seq: 30, problem: audit.ProblemChanged, message: "hash mismatch — the event was changed",
			sql: func([]audit.Event) string { return "UPDATE audit_events SET details = 'nothing to see' WHERE seq = 30" }},
		{name: "changed login", seq: 1, problem: audit.ProblemChanged, message: "the event was changed",
			sql: func([]audit.Event) string { return `UPDATE audit_events SET "user" = 'nobody' WHERE seq = 1` }},
		{name: "changed time by 1µs", seq: 12, problem: audit.ProblemChanged, message: "the event was changed",
			sql: func([]audit.Event) string {
				return "UPDATE audit_events SET time = time + interval '1 microsecond' WHERE seq = 12"
			}},
		{name: "moved to another month", seq: 12, problem: audit.ProblemChanged, message: "the event was changed",
			sql: func([]audit.Event) string {
				return `CREATE TABLE audit_events_2026_10 (LIKE audit_events INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
ALTER TABLE audit_events ATTACH PARTITION audit_events_2026_10 FOR VALUES FROM ('2026-10-01 00:00:00+00') TO ('2026-11-01 00:00:00+00');
UPDATE audit_events SET time = time - interval '1 month' WHERE seq = 12`
			}},
		{name: "changed nanoseconds", seq: 13, problem: audit.ProblemChanged, message: "the event was changed",
			sql: func([]audit.Event) string {
				return "UPDATE audit_events SET time_ns = (time_ns + 1) % 1000 WHERE seq = 13"
			}},
		{name: "changed address", seq: 45, problem: audit.ProblemChanged, message: "the event was changed",
			sql: func([]audit.Event) string { return "UPDATE audit_events SET ip = '10.9.9.9' WHERE seq = 45" }},
		{name: "changed hash column", seq: 30, problem: audit.ProblemChanged, message: "hash mismatch",
			sql: func(ev []audit.Event) string {
				return "UPDATE audit_events SET hash = '" + ev[10].Hash + "' WHERE seq = 30"
			}},
		{name: "deleted middle row", seq: 31, problem: audit.ProblemDeleted, message: "seq 30 is missing — 1 event was deleted",
			sql: func([]audit.Event) string { return "DELETE FROM audit_events WHERE seq = 30" }},
		{name: "deleted rows", seq: 33, problem: audit.ProblemDeleted, message: "seq 30–32 are missing — 3 events were deleted",
			sql: func([]audit.Event) string { return "DELETE FROM audit_events WHERE seq BETWEEN 30 AND 32" }},
		{name: "deleted oldest rows", seq: 6, problem: audit.ProblemDeleted, message: "does not link to the genesis hash: seq 1–5 are missing",
			sql: func([]audit.Event) string { return "DELETE FROM audit_events WHERE seq <= 5" }},
		// The head row remembers the newest seq, so a truncated tail is
		// found without an expected head.
		{name: "truncated tail", seq: 60, problem: audit.ProblemTruncated, message: "the log ends at seq 50 — events were deleted from the end",
			sql: func([]audit.Event) string { return "DELETE FROM audit_events WHERE seq > 50" }},
		{name: "swapped seqs", seq: 30, problem: audit.ProblemReordered, message: "events were reordered",
			sql: func([]audit.Event) string {
				return "UPDATE audit_events SET seq = CASE seq WHEN 30 THEN 31 ELSE 30 END WHERE seq IN (30, 31)"
			}},
		{name: "changed inside a range", seq: 45, problem: audit.ProblemChanged, message: "the event was changed",
			sql:  func([]audit.Event) string { return "UPDATE audit_events SET action = 'Viewed' WHERE seq = 45" },
			opts: func([]audit.Event) audit.VerifyOptions { return audit.VerifyOptions{FromSeq: 40} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dsn, events := tamperStore(t)
			admin(t, dsn, tt.sql(events))
			var opts audit.VerifyOptions
			if tt.opts != nil {
				opts = tt.opts(events)
			}
			opts.Key = pruneKey
			_, err := audit.Verify(context.Background(), open(t, dsn, postgres.Options{ChainKey: pruneKey}), opts)
			var ie *audit.IntegrityError
			if !errors.As(err, &ie) || !errors.Is(err, audit.ErrIntegrity) {
				t.Fatalf("Verify: err = %v, want an *audit.IntegrityError", err)
			}
			if ie.Seq != tt.seq || ie.Problem != tt.problem || !strings.Contains(err.Error(), tt.message) {
				t.Fatalf("Verify: %v (seq %d, %s); want seq %d, %s, with %q", err, ie.Seq, ie.Problem, tt.seq, tt.problem, tt.message)
			}
			t.Log(err)
		})
	}
}

// TestTamperCheckpoint: a checkpoint changed by hand, to hide events
// deleted after a prune, breaks its seal.
func TestTamperCheckpoint(t *testing.T) {
	ctx := context.Background()
	dsn, events := tamperStore(t)
	s := open(t, dsn, postgres.Options{ChainKey: pruneKey})
	pruneThrough(t, s, events, 19)
	if _, err := audit.Verify(ctx, s, audit.VerifyOptions{Key: pruneKey}); err != nil {
		t.Fatal(err)
	}
	// Delete ten more events and move the checkpoint over them.
	admin(t, dsn, "DELETE FROM audit_events WHERE seq <= 30")
	admin(t, dsn, "UPDATE audit_checkpoints SET seq = 30, hash = $1", events[29].Hash)
	_, err := audit.Verify(ctx, s, audit.VerifyOptions{Key: pruneKey})
	var ie *audit.IntegrityError
	if !errors.As(err, &ie) || ie.Problem != audit.ProblemCheckpoint || !errors.Is(err, audit.ErrIntegrity) {
		t.Fatalf("Verify: err = %v, want a checkpoint IntegrityError", err)
	}
	t.Log(err)
}
