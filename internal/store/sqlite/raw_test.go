package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/audit-cli/audit/internal/audit"
)

// producerEvents are imported-looking events: a source and an original
// record each.
func producerEvents(n int) []audit.Event {
	events := make([]audit.Event, n)
	for i := range events {
		events[i] = audit.Event{
			ID: "ct-" + string(rune('a'+i)), Time: time.Date(2026, 11, 20, 9, i, 0, 0, time.UTC),
			User: "Mary_Major", UserName: "arn:aws:iam::111122223333:user/Mary_Major", Type: audit.TypeDelete,
			Action: "DeleteBucket", ResourceType: "s3", Resource: "amzn-s3-demo-bucket", IP: "203.0.113.77",
			Outcome: audit.OutcomeSuccess, Source: audit.SourceCloudTrail,
			Raw: json.RawMessage(`{"eventID":"ct-` + string(rune('a'+i)) + `","eventName":"DeleteBucket"}`),
		}
	}
	return events
}

// TestRawMigration: a store of schema version 4, whose original records
// are a column of events, opens as version 5 with them in event_raw, the
// same events read back, the chain still verifying, and a prune taking
// the records of the events it deletes.
func TestRawMigration(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "audit.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, producerEvents(4)); err != nil {
		t.Fatal(err)
	}
	s.Close()

	// Back to the layout of version 4.
	db, err := sql.Open(driverName, "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`ALTER TABLE events ADD COLUMN raw TEXT`,
		`UPDATE events SET raw = (SELECT raw FROM event_raw WHERE event_raw.seq = events.seq)`,
		`DROP TRIGGER events_delete_raw`,
		`DROP TABLE event_raw`,
		`DROP TABLE rollup_hours`, `DROP TABLE rollup_days`, `DROP TABLE rollup_state`, `DROP TABLE raw_dicts`,
		`PRAGMA user_version = 4`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()

	s, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	e, err := s.Get(ctx, "ct-b")
	if err != nil {
		t.Fatal(err)
	}
	if string(e.Raw) != `{"eventID":"ct-b","eventName":"DeleteBucket"}` || e.Source != audit.SourceCloudTrail {
		t.Fatalf("after the migration: source %q, raw %s", e.Source, e.Raw)
	}
	if res, err := audit.Verify(ctx, s, audit.VerifyOptions{}); err != nil || res.Events != 4 {
		t.Fatalf("Verify after the migration: %+v, %v", res, err)
	}
	db, err = sql.Open(driverName, "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var columns int
	if err := db.QueryRow(`SELECT count(*) FROM pragma_table_info('events') WHERE name = 'raw'`).Scan(&columns); err != nil || columns != 0 {
		t.Fatalf("events still has a raw column (%d, %v)", columns, err)
	}

	// Deleting events deletes their records.
	if _, err := db.Exec(`DELETE FROM events WHERE seq <= 2`); err != nil {
		t.Fatal(err)
	}
	var left int
	if err := db.QueryRow(`SELECT count(*) FROM event_raw`).Scan(&left); err != nil || left != 2 {
		t.Fatalf("%d original records left after deleting 2 of 4 events (%v)", left, err)
	}
}
