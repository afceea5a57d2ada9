package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/store/storetest"
)

// cloudTrailEvents are n events imported from CloudTrail: the records of
// AWS's own examples in testdata, each given its own id, time and address.
func cloudTrailEvents(t *testing.T, from, n int) []audit.Event {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "testdata", "ingest", "cloudtrail-records.json"))
	if err != nil {
		t.Fatal(err)
	}
	var file struct{ Records []map[string]any }
	if err := json.Unmarshal(b, &file); err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	events := make([]audit.Event, n)
	for i := range events {
		k := from + i
		rec := file.Records[k%len(file.Records)]
		id := fmt.Sprintf("%08x-4f2a-4c1e-9a7b-%012x", k*7919, k)
		at := start.Add(time.Duration(k) * 17 * time.Second)
		ip := fmt.Sprintf("198.51.100.%d", k%250+1)
		rec["eventID"], rec["eventTime"], rec["sourceIPAddress"] = id, at.Format(time.RFC3339), ip
		raw, err := json.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		events[i] = audit.Event{ID: id, Time: at, User: "Mary_Major", UserName: "arn:aws:iam::111122223333:user/Mary_Major",
			Type: audit.TypeSecurity, Action: fmt.Sprint(rec["eventName"]), ResourceType: "aws", Resource: fmt.Sprint(rec["eventSource"]),
			IP: ip, Outcome: audit.OutcomeSuccess, Source: audit.SourceCloudTrail, Raw: raw}
	}
	return events
}

// rawStats counts the stored original records by how they are stored.
func rawStats(t *testing.T, path string) (text, packed, storedBytes, dicts int) {
	t.Helper()
	db, err := sql.Open(driverName, "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.QueryRow(`SELECT
	(SELECT count(*) FROM event_raw WHERE typeof(raw) = 'text'),
	(SELECT count(*) FROM event_raw WHERE typeof(raw) = 'blob'),
	(SELECT coalesce(sum(length(CAST(raw AS BLOB))), 0) FROM event_raw),
	(SELECT count(*) FROM raw_dicts)`).Scan(&text, &packed, &storedBytes, &dicts)
	if err != nil {
		t.Fatal(err)
	}
	return text, packed, storedBytes, dicts
}

// checkRecords reads every event back, through Query and Get, and
// compares its original record and fields with what was written; and
// verifies the chain.
func checkRecords(t *testing.T, s *Store, want []audit.Event) {
	t.Helper()
	ctx := context.Background()
	byID := map[string]audit.Event{}
	for _, e := range want {
		byID[e.ID] = e
	}
	n := 0
	for e, err := range s.Query(ctx, audit.Filter{Order: audit.Ascending}) {
		if err != nil {
			t.Fatal(err)
		}
		w, ok := byID[e.ID]
		if !ok {
			t.Fatalf("seq %d: an event never written: %s", e.Seq, e.ID)
		}
		if !bytes.Equal(e.Raw, w.Raw) || e.Action != w.Action || e.IP != w.IP || e.Source != w.Source {
			t.Fatalf("seq %d read back as\n%s %s %s\n%s\nwritten as\n%s %s %s\n%s", e.Seq, e.Action, e.IP, e.Source, e.Raw, w.Action, w.IP, w.Source, w.Raw)
		}
		n++
	}
	if n != len(want) {
		t.Fatalf("read %d events, wrote %d", n, len(want))
	}
	for _, i := range []int{0, len(want) / 2, len(want) - 1} {
		e, err := s.Get(ctx, want[i].ID)
		if err != nil || !bytes.Equal(e.Raw, want[i].Raw) {
			t.Fatalf("Get %s: %v, raw\n%s\nwant\n%s", want[i].ID, err, e.Raw, want[i].Raw)
		}
	}
	res, err := audit.Verify(ctx, s, audit.VerifyOptions{})
	if err != nil || res.Events != int64(len(want)) {
		t.Fatalf("Verify: %+v, %v", res, err)
	}
}

// TestRawCompressed: past a source's first rawTrainRecords records, the
// original records of Append and of Import are stored compressed with the
// dictionary trained on those, in a fraction of their size, and read back
// and verify as they were written.
func TestRawCompressed(t *testing.T) {
	ctx := context.Background()
	events := cloudTrailEvents(t, 0, 3000)
	total := 0
	for _, e := range events {
		total += len(e.Raw)
	}
	for _, how := range []string{"append", "import"} {
		t.Run(how, func(t *testing.T) {
			s := openTemp(t)
			path := s.path
			if how == "append" {
				for b := range slices.Chunk(events, 400) {
					if _, err := s.Append(ctx, slices.Clone(b)); err != nil {
						t.Fatal(err)
					}
				}
			} else {
				if _, err := s.Import(ctx, storetest.Stream(events)); err != nil {
					t.Fatal(err)
				}
			}
			// The record that completes the sample is the first
			// compressed.
			text, packed, stored, dicts := rawStats(t, path)
			if text != rawTrainRecords-1 || packed != len(events)-text || dicts != 1 {
				t.Fatalf("%d records stored as text, %d compressed, %d dictionaries; want %d, %d, 1",
					text, packed, dicts, rawTrainRecords-1, len(events)-rawTrainRecords+1)
			}
			if stored > total/2 {
				t.Fatalf("the original records take %d bytes stored, of %d", stored, total)
			}
			checkRecords(t, s, events)
		})
	}
}

// TestRawCompressedTwoWriters: a second process on the store reads the
// records the first compressed with a dictionary it had not seen, and,
// when it has records of the same source to store, takes that dictionary
// instead of training one of its own.
func TestRawCompressedTwoWriters(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "audit.db")
	events := cloudTrailEvents(t, 0, 2800)
	a, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	// b has written, and so read the dictionaries (none), before a trains one.
	if _, err := b.Append(ctx, slices.Clone(events[:1])); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Append(ctx, slices.Clone(events[1:1600])); err != nil {
		t.Fatal(err)
	}
	checkRecords(t, b, events[:1600])
	// A third store value has read nothing: its first write samples its
	// records until it finds a's dictionary.
	c, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := b.Append(ctx, slices.Clone(events[1600:2000])); err != nil {
		t.Fatal(err)
	}
	for chunk := range slices.Chunk(events[2000:], 100) {
		if _, err := c.Append(ctx, slices.Clone(chunk)); err != nil {
			t.Fatal(err)
		}
	}
	text, packed, _, dicts := rawStats(t, path)
	if dicts != 1 || packed == 0 {
		t.Fatalf("%d dictionaries, %d records compressed, %d text; want one dictionary", dicts, packed, text)
	}
	checkRecords(t, a, events)
	checkRecords(t, c, events)
}

// TestRawDictRollback: a write that trained a dictionary and then failed
// leaves neither the dictionary nor records that need it, and the next
// write trains again.
func TestRawDictRollback(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	path := s.path
	first := cloudTrailEvents(t, 0, 1)
	if _, err := s.Append(ctx, slices.Clone(first)); err != nil {
		t.Fatal(err)
	}
	bad := cloudTrailEvents(t, 1, 1500)
	changed := first[0]
	changed.Action = "DeleteTrail"
	bad = append(bad, changed) // the same id with another action: the batch fails
	var ce *audit.ConflictError
	if _, err := s.Append(ctx, bad); !errors.As(err, &ce) {
		t.Fatalf("Append of a conflicting batch: %v", err)
	}
	if text, packed, _, dicts := rawStats(t, path); text != 1 || packed != 0 || dicts != 0 {
		t.Fatalf("after the failed write: %d text, %d compressed, %d dictionaries", text, packed, dicts)
	}
	good := cloudTrailEvents(t, 1, 1500)
	if _, err := s.Append(ctx, slices.Clone(good)); err != nil {
		t.Fatal(err)
	}
	if _, packed, _, dicts := rawStats(t, path); packed == 0 || dicts != 1 {
		t.Fatalf("after the next write: %d compressed, %d dictionaries", packed, dicts)
	}
	checkRecords(t, s, append(first, good...))
}

// TestRawCompressedChanged: a compressed record changed behind the
// store's back fails verify at its event.
func TestRawCompressedChanged(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	path := s.path
	events := cloudTrailEvents(t, 0, 1200)
	if _, err := s.Append(ctx, events); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open(driverName, "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var seq int64
	var blob []byte
	if err := db.QueryRow(`SELECT seq, raw FROM event_raw WHERE typeof(raw) = 'blob' ORDER BY seq LIMIT 1 OFFSET 100`).Scan(&seq, &blob); err != nil {
		t.Fatal(err)
	}
	for _, at := range []int{len(blob) / 2, len(blob) - 1} {
		changed := slices.Clone(blob)
		changed[at] ^= 0x20
		if _, err := db.Exec(`UPDATE event_raw SET raw = ? WHERE seq = ?`, changed, seq); err != nil {
			t.Fatal(err)
		}
		_, err = audit.Verify(ctx, s, audit.VerifyOptions{})
		var ie *audit.IntegrityError
		if !errors.As(err, &ie) || ie.Seq != seq || ie.Problem != audit.ProblemChanged {
			t.Fatalf("Verify with byte %d of the record of seq %d changed: %v", at, seq, err)
		}
	}
}
