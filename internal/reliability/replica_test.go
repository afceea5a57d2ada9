package reliability

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/audit-cli/audit/internal/store/postgres/pgtest"
)

// sqlExec runs statements on a cluster as its administrator.
func sqlExec(t *testing.T, dsn, sql string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// TestReadReplica: with a real primary and a real streaming standby made
// with pg_basebackup, --read-store sends list, export, stats and serve's
// reads to the standby while record writes to the primary. list shows the
// standby as it is (lag and all); export waits until the standby has
// replayed what the primary held when it began, or fails (exit 3, no file)
// after --replica-wait; a write to the standby itself is refused in one
// line.
func TestReadReplica(t *testing.T) {
	h := newHarness(t)
	primary := pgtest.Start(t, pgtest.Config{})
	standby := primary.Standby(pgtest.Config{})
	h.store = primary.DSN("sslmode=disable")
	replica := standby.DSN("sslmode=disable")

	var in bytes.Buffer
	if err := writeEvents(&in, "rep", 300, time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	h.must(&in, "import", "-")
	want := h.must(nil, "export", "--format", "jsonl").stdout
	if n := len(lines(want)); n != 300 {
		t.Fatalf("the primary exports %d events, want 300", n)
	}
	// The export from the standby waits for it, then is the same bytes.
	if got := h.must(nil, "--read-store", replica, "export", "--format", "jsonl").stdout; got != want {
		t.Fatalf("export through --read-store differs from the primary's: %d lines, want %d", len(lines(got)), 300)
	}

	// Replay stops on the standby: the primary goes on alone.
	sqlExec(t, replica, "SELECT pg_wal_replay_pause()")
	h.must(nil, "--read-store", replica, "record", "--user", "jdavis", "--type", "security", "--action", "Changed a role",
		"--time", "2026-11-20T10:00:00Z")
	if n := len(lines(h.must(nil, "list", "-o", "jsonl", "--limit", "0").stdout)); n != 301 {
		t.Fatalf("the primary lists %d events after a record, want 301", n)
	}
	lagging := h.must(nil, "--read-store", replica, "list", "-o", "jsonl", "--limit", "0")
	if n := len(lines(lagging.stdout)); n != 300 {
		t.Fatalf("list through --read-store shows %d events while the standby is paused, want its 300", n)
	}
	stats := h.must(nil, "--read-store", replica, "stats", "--since", "2026-11-01", "-o", "json")
	var sr struct {
		Total int `json:"total"`
	}
	if err := json.Unmarshal([]byte(stats.stdout), &sr); err != nil || sr.Total != 300 {
		t.Fatalf("stats through --read-store: total %d (%v), want the standby's 300\n%s", sr.Total, err, stats.stdout)
	}

	archive := filepath.Join(h.dir, "archive.jsonl")
	r := h.run(nil, "--read-store", replica, "export", "--replica-wait", "1s", "-o", archive)
	if r.code != 3 || !strings.Contains(r.stderr, "seq 300") || !strings.Contains(r.stderr, "seq 301") ||
		strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
		t.Fatalf("export from a standby that lags: want exit 3 and one line naming seqs 300 and 301\n%s", r)
	}
	t.Logf("export from a lagging standby: %s", r.stderr)
	if _, err := os.Stat(archive); !os.IsNotExist(err) {
		t.Fatalf("the failed export left %s (err %v)", archive, err)
	}

	// serve reads the standby, and watches the primary.
	srv := h.startServe("--read-store", replica)
	resp, err := http.Get(srv.url + "/v1/events?limit=1000")
	if err != nil {
		t.Fatal(err)
	}
	var page bytes.Buffer
	page.ReadFrom(resp.Body)
	resp.Body.Close()
	if n := len(lines(page.String())); n != 300 {
		t.Fatalf("serve --read-store: GET /v1/events gives %d events while the standby is paused, want 300", n)
	}

	// A write to the standby itself is refused, and says why.
	r = h.run(nil, "--store", replica, "record", "--user", "x", "--type", "login", "--action", "Logged in")
	if r.code != 3 || !strings.Contains(r.stderr, "read-only") || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
		t.Fatalf("record to the standby: want exit 3 and one line saying it is read-only\n%s", r)
	}

	t.Logf("record to the standby: %s", r.stderr)

	// Replay goes on while an export waits: it gets every event.
	done := make(chan result, 1)
	go func() {
		done <- h.run(nil, "--read-store", replica, "export", "--replica-wait", "1m", "-o", archive)
	}()
	time.Sleep(500 * time.Millisecond)
	sqlExec(t, replica, "SELECT pg_wal_replay_resume()")
	if r := <-done; r.code != 0 {
		t.Fatalf("export waiting for the standby: %s", r)
	}
	b, err := os.ReadFile(archive)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(lines(string(b))); n != 301 {
		t.Fatalf("the export that waited holds %d events, want 301", n)
	}
	h.verify()
	srv.stop()
}
