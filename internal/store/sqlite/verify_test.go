package sqlite_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	osexec "os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/output"
	"github.com/audit-cli/audit/internal/store/sqlite"
	"github.com/audit-cli/audit/internal/store/storetest"
)

func TestIntegrityConformance(t *testing.T) {
	storetest.RunIntegrity(t, func(t *testing.T, key []byte) audit.Store {
		s, err := sqlite.Open(filepath.Join(t.TempDir(), "audit.db"), sqlite.Options{ChainKey: key, PollInterval: 20 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Init(context.Background()); err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// tamperKey is the integrity key of the tamper tests' stores.
var tamperKey = []byte("tamper test key, 32 bytes long!!")

// tamperStore makes a store file of 3 batches of 20 events (seq 1–60)
// under tamperKey and returns its path and events.
func tamperStore(t *testing.T) (string, []audit.Event) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.db")
	s, err := sqlite.Open(path, sqlite.Options{ChainKey: tamperKey})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for b := range 3 {
		if _, err := s.Append(context.Background(), storetest.Events(20, int64(70+b))); err != nil {
			t.Fatal(err)
		}
	}
	var events []audit.Event
	for e, err := range s.Query(context.Background(), audit.Filter{}) {
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, e)
	}
	return path, events
}

// sqlExec changes the file as an intruder would: SQL straight on it,
// with the plain driver, past the store.
func sqlExec(t *testing.T, path string, stmts ...string) {
	t.Helper()
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range stmts {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// verifyFile opens the file with key and verifies it.
func verifyFile(t *testing.T, path string, key []byte, opts audit.VerifyOptions) (audit.VerifyResult, error) {
	t.Helper()
	s, err := sqlite.Open(path, sqlite.Options{ChainKey: key})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	opts.Key = key
	return audit.Verify(context.Background(), s, opts)
}

// messageRE is the form of every report about an event: seq, time, user,
// type, then what happened.
var messageRE = regexp.MustCompile(`^seq \d+ \(\d{4}-\d\d-\d\dT[0-9:.]+Z, .+ \S+\): .+ — .+$`)

func TestTamper(t *testing.T) {
	hash0 := strings.Repeat("0", 64)
	tests := []struct {
		name    string
		sql     func(ev []audit.Event) []string
		opts    func(ev []audit.Event) audit.VerifyOptions
		seq     int64
		problem audit.Problem
		message string // a part of the message
	}{
		{name: "changed details", seq: 30, problem: audit.ProblemChanged, message: "hash mismatch — the event was changed",
			sql: func([]audit.Event) []string {
				return []string{"UPDATE events SET details = 'nothing to see' WHERE seq = 30"}
			}},
		{name: "changed time by 1ns", seq: 12, problem: audit.ProblemChanged, message: "the event was changed",
			sql: func([]audit.Event) []string { return []string{"UPDATE events SET time = time + 1 WHERE seq = 12"} }},
		{name: "changed first event", seq: 1, problem: audit.ProblemChanged, message: "the event was changed",
			sql: func([]audit.Event) []string { return []string{"UPDATE events SET user = 'nobody' WHERE seq = 1"} }},
		{name: "changed newest event", seq: 60, problem: audit.ProblemChanged, message: "the newest event was changed, or forged and appended",
			sql: func([]audit.Event) []string {
				return []string{"UPDATE events SET outcome = 'success', details = 'ok' WHERE seq = 60"}
			}},
		{name: "changed hash column", seq: 30, problem: audit.ProblemChanged, message: "hash mismatch",
			sql: func(ev []audit.Event) []string {
				return []string{"UPDATE events SET hash = '" + ev[10].Hash + "' WHERE seq = 30"}
			}},
		{name: "changed ip_bin alone", seq: 20, problem: audit.ProblemChanged, message: "ip_bin, the indexed copy of ip",
			sql: func([]audit.Event) []string {
				return []string{"UPDATE events SET ip_bin = x'040a000001' WHERE seq = 20"}
			}},
		{name: "cleared ip_bin", seq: 20, problem: audit.ProblemChanged, message: "IP filters would miss this event",
			sql: func([]audit.Event) []string { return []string{"UPDATE events SET ip_bin = NULL WHERE seq = 20"} }},
		{name: "malformed hash", seq: 30, problem: audit.ProblemChanged, message: "not 64 hex digits",
			sql: func([]audit.Event) []string { return []string{"UPDATE events SET hash = 'abc' WHERE seq = 30"} }},
		{name: "deleted middle row", seq: 31, problem: audit.ProblemDeleted, message: "seq 30 is missing — 1 event was deleted",
			sql: func([]audit.Event) []string { return []string{"DELETE FROM events WHERE seq = 30"} }},
		{name: "deleted rows", seq: 33, problem: audit.ProblemDeleted, message: "seq 30–32 are missing — 3 events were deleted",
			sql: func([]audit.Event) []string { return []string{"DELETE FROM events WHERE seq BETWEEN 30 AND 32"} }},
		{name: "deleted oldest rows", seq: 6, problem: audit.ProblemDeleted, message: "does not link to the genesis hash: seq 1–5 are missing",
			sql: func([]audit.Event) []string { return []string{"DELETE FROM events WHERE seq <= 5"} }},
		{name: "swapped seqs", seq: 30, problem: audit.ProblemReordered, message: "events were reordered",
			sql: func([]audit.Event) []string {
				return []string{"UPDATE events SET seq = -30 WHERE seq = 30", "UPDATE events SET seq = 30 WHERE seq = 31", "UPDATE events SET seq = 31 WHERE seq = -30"}
			}},
		{name: "forged row appended", seq: 61, problem: audit.ProblemChanged, message: "forged and appended",
			sql: func([]audit.Event) []string {
				return []string{"INSERT INTO events (seq, id, time, user, type, hash) VALUES (61, 'forged', 1795000000000000000, 'eve', 'login', '" + hash0 + "')"}
			}},
		{name: "forged row inserted", seq: 30, problem: audit.ProblemInserted, message: "a forged event was inserted",
			sql: func([]audit.Event) []string {
				return []string{"UPDATE events SET seq = seq + 1000 WHERE seq >= 30", "UPDATE events SET seq = seq - 999 WHERE seq >= 1000",
					"INSERT INTO events (seq, id, time, user, type, hash) VALUES (30, 'forged', 1795000000000000000, 'eve', 'login', '" + hash0 + "')"}
			}},
		{name: "truncated tail with expected head", seq: 60, problem: audit.ProblemTruncated, message: "the log ends at seq 50 — events were deleted from the end",
			sql: func([]audit.Event) []string { return []string{"DELETE FROM events WHERE seq > 50"} },
			opts: func(ev []audit.Event) audit.VerifyOptions {
				return audit.VerifyOptions{Expect: &audit.ChainPoint{Seq: ev[59].Seq, Hash: ev[59].Hash}}
			}},
		{name: "rewritten before expected head", seq: 40, problem: audit.ProblemRewritten, message: "the history up to it was rewritten",
			sql: func([]audit.Event) []string { return nil },
			opts: func(ev []audit.Event) audit.VerifyOptions {
				return audit.VerifyOptions{Expect: &audit.ChainPoint{Seq: 40, Hash: ev[38].Hash}}
			}},
		{name: "changed inside a range", seq: 45, problem: audit.ProblemChanged, message: "the event was changed",
			sql:  func([]audit.Event) []string { return []string{"UPDATE events SET ip = '10.9.9.9' WHERE seq = 45"} },
			opts: func([]audit.Event) audit.VerifyOptions { return audit.VerifyOptions{FromSeq: 40} }},
	}
	for _, col := range []string{"id", "user_name", "type", "action", "resource_type", "resource", "ip"} {
		tests = append(tests, struct {
			name    string
			sql     func(ev []audit.Event) []string
			opts    func(ev []audit.Event) audit.VerifyOptions
			seq     int64
			problem audit.Problem
			message string
		}{name: "changed " + col, seq: 20, problem: audit.ProblemChanged, message: "the event was changed",
			sql: func([]audit.Event) []string {
				return []string{fmt.Sprintf("UPDATE events SET %s = %s || 'x' WHERE seq = 20", col, col)}
			}})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, events := tamperStore(t)
			sqlExec(t, path, tt.sql(events)...)
			var opts audit.VerifyOptions
			if tt.opts != nil {
				opts = tt.opts(events)
			}
			_, err := verifyFile(t, path, tamperKey, opts)
			var ie *audit.IntegrityError
			if !errors.As(err, &ie) || !errors.Is(err, audit.ErrIntegrity) {
				t.Fatalf("Verify: err = %v, want an *audit.IntegrityError", err)
			}
			if ie.Seq != tt.seq || ie.Problem != tt.problem || !strings.Contains(err.Error(), tt.message) {
				t.Fatalf("Verify: %v (seq %d, %s); want seq %d, %s, with %q", err, ie.Seq, ie.Problem, tt.seq, tt.problem, tt.message)
			}
			if ie.User != "" && !messageRE.MatchString(err.Error()) {
				t.Fatalf("message %q does not name seq, time, user and type", err)
			}
		})
	}
}

func TestTruncatedTailVerifiesWithoutExpectedHead(t *testing.T) {
	path, _ := tamperStore(t)
	sqlExec(t, path, "DELETE FROM events WHERE seq > 50")
	res, err := verifyFile(t, path, tamperKey, audit.VerifyOptions{})
	if err != nil || res.Last.Seq != 50 {
		t.Fatalf("Verify of a truncated log = %+v, %v; want OK up to seq 50 (only --expect-head catches it)", res, err)
	}
}

// A truncated tail followed by new appends leaves a gap the chain links
// across: Append continues from the newest row, but seq from
// sqlite_sequence.
func TestTruncatedThenAppended(t *testing.T) {
	path, _ := tamperStore(t)
	sqlExec(t, path, "DELETE FROM events WHERE seq > 50")
	s, err := sqlite.Open(path, sqlite.Options{ChainKey: tamperKey})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Append(context.Background(), storetest.Events(5, 99)); err != nil {
		t.Fatal(err)
	}
	_, err = audit.Verify(context.Background(), s, audit.VerifyOptions{Key: tamperKey})
	var ie *audit.IntegrityError
	if !errors.As(err, &ie) || ie.Seq != 61 || ie.Problem != audit.ProblemDeleted || !strings.Contains(err.Error(), "seq 51–60 are missing though the chain links across") {
		t.Fatalf("Verify = %v, want seq 61 naming the missing seq 51–60", err)
	}
	res, err := audit.Verify(context.Background(), s, audit.VerifyOptions{Key: tamperKey, AllowGaps: true})
	if err != nil || res.Gaps != 10 {
		t.Fatalf("Verify with AllowGaps = %+v, %v; want OK with 10 seqs missing", res, err)
	}
}

func TestWrongKey(t *testing.T) {
	path, _ := tamperStore(t)
	for _, key := range [][]byte{[]byte("another key of thirty-two bytes!"), nil} {
		_, err := verifyFile(t, path, key, audit.VerifyOptions{})
		var ie *audit.IntegrityError
		if !errors.As(err, &ie) || ie.Seq != 1 || ie.Problem != audit.ProblemKey || !strings.Contains(err.Error(), "integrity key") {
			t.Fatalf("Verify with key %q: %v, want a key problem at seq 1", key, err)
		}
	}
}

// Without a key the chain is plain SHA-256: someone who can write the file
// can recompute it. This is the documented limit, not a wish.
func TestForgedWithoutKeyIsUndetectable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.db")
	s, err := sqlite.Open(path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	batch := storetest.Events(10, 5)
	if _, err := s.Append(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	forged := audit.Event{ID: "forged", Seq: 11, Time: time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC), User: "eve",
		Type: audit.TypeLogin, Outcome: audit.OutcomeSuccess}
	h, _ := audit.NewChain(nil).NextHex(batch[9].Hash, &forged)
	sqlExec(t, path, fmt.Sprintf("INSERT INTO events (seq, id, time, user, type, outcome, hash) VALUES (11, 'forged', %d, 'eve', 'login', 'success', '%s')",
		forged.Time.UnixNano(), h))
	if _, err := audit.Verify(context.Background(), s, audit.VerifyOptions{}); err != nil {
		t.Fatalf("a forger who recomputes SHA-256 is caught: %v (then the docs are too modest)", err)
	}
	// With a key, the same forgery (by someone without the key) is caught.
	path, events := tamperStore(t)
	forged.Seq = 61
	h, _ = audit.NewChain(nil).NextHex(events[59].Hash, &forged)
	sqlExec(t, path, fmt.Sprintf("INSERT INTO events (seq, id, time, user, type, outcome, hash) VALUES (61, 'forged', %d, 'eve', 'login', 'success', '%s')",
		forged.Time.UnixNano(), h))
	if _, err := verifyFile(t, path, tamperKey, audit.VerifyOptions{}); !errors.Is(err, audit.ErrIntegrity) {
		t.Fatalf("Verify of a forged event under a key: %v, want ErrIntegrity", err)
	}
}

// pruneFile prunes the events through seq through of the store at path.
func pruneFile(t *testing.T, path string, events []audit.Event, through int) audit.Checkpoint {
	t.Helper()
	s, err := sqlite.Open(path, sqlite.Options{ChainKey: tamperKey})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	e := events[through-1]
	cp, err := s.Prune(context.Background(), audit.PruneRequest{Through: e.Seq, Hash: e.Hash, Events: int64(through), Before: e.Time.Add(time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	return cp
}

func TestPruneThenTamper(t *testing.T) {
	tests := []struct {
		name    string
		sql     []string
		seq     int64
		problem audit.Problem
		message string
	}{
		{"checkpoint hash", []string{"UPDATE checkpoints SET hash = '" + strings.Repeat("1", 64) + "'"}, 20, audit.ProblemCheckpoint, "checkpoint seal mismatch"},
		{"checkpoint seq", []string{"UPDATE checkpoints SET seq = 10"}, 10, audit.ProblemCheckpoint, "checkpoint seal mismatch"},
		{"checkpoint seal", []string{"UPDATE checkpoints SET seal = '" + strings.Repeat("2", 64) + "'"}, 20, audit.ProblemCheckpoint, "was changed"},
		{"checkpoint deleted", []string{"DELETE FROM checkpoints"}, 21, audit.ProblemDeleted, "does not link to the genesis hash: seq 1–20 are missing"},
		{"first kept event changed", []string{"UPDATE events SET details = 'x' WHERE seq = 21"}, 21, audit.ProblemChanged, "the first kept event was changed"},
		{"first kept event deleted", []string{"DELETE FROM events WHERE seq = 21"}, 22, audit.ProblemDeleted, "does not link to the checkpoint at seq 20: seq 21 is missing"},
		{"everything deleted", []string{"DELETE FROM events"}, 21, audit.ProblemTruncated, "no event follows the checkpoint at seq 20"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, events := tamperStore(t)
			pruneFile(t, path, events, 20)
			res, err := verifyFile(t, path, tamperKey, audit.VerifyOptions{})
			if err != nil || res.Start != audit.StartCheckpoint || res.Events != 40 {
				t.Fatalf("Verify after prune = %+v, %v; want 40 events from the checkpoint", res, err)
			}
			sqlExec(t, path, tt.sql...)
			_, err = verifyFile(t, path, tamperKey, audit.VerifyOptions{})
			var ie *audit.IntegrityError
			if !errors.As(err, &ie) || ie.Seq != tt.seq || ie.Problem != tt.problem || !strings.Contains(err.Error(), tt.message) {
				t.Fatalf("Verify = %v; want seq %d, %s, with %q", err, tt.seq, tt.problem, tt.message)
			}
		})
	}
}

func TestPruneWrongKeySeal(t *testing.T) {
	path, events := tamperStore(t)
	pruneFile(t, path, events, 20)
	_, err := verifyFile(t, path, []byte("another key of thirty-two bytes!"), audit.VerifyOptions{})
	var ie *audit.IntegrityError
	if !errors.As(err, &ie) || ie.Problem != audit.ProblemCheckpoint || !strings.Contains(err.Error(), "integrity key") {
		t.Fatalf("Verify with another key after prune = %v, want a checkpoint problem that mentions the key", err)
	}
}

func TestCheckpoints(t *testing.T) {
	path, events := tamperStore(t)
	first := pruneFile(t, path, events, 10)
	pruneFile(t, path, events[10:], 15)
	s, err := sqlite.Open(path, sqlite.Options{ChainKey: tamperKey})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	all, err := s.Checkpoints(context.Background())
	if err != nil || len(all) != 2 || all[0].Seq != first.Seq || all[1].Seq != 10+15 {
		t.Fatalf("Checkpoints = %+v, %v", all, err)
	}
}

// ReadCanonical must encode exactly as audit.Event.Canonical, whatever the
// text holds.
func TestReadCanonicalAgrees(t *testing.T) {
	path, events := tamperStore(t)
	odd := []audit.Event{{ID: "odd-1", Time: time.Date(2026, 1, 2, 3, 4, 5, 600, time.UTC), User: "zoë",
		UserName: "Zoë \"Ž\" 李雷 🚀", Type: audit.TypeUpdate, Action: "a\nb", ResourceType: "x\ty",
		Resource: "'; DROP TABLE events; --", Details: strings.Repeat("é", 2000), IP: "2001:db8::1"},
		{ID: "odd-2", Time: time.Unix(0, 0).UTC().AddDate(1, 0, 0), User: "system", Type: audit.TypeDelete}}
	s, err := sqlite.Open(path, sqlite.Options{ChainKey: tamperKey})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Append(context.Background(), odd); err != nil {
		t.Fatal(err)
	}
	events = append(events, odd...)
	i := 0
	err = s.ReadCanonical(context.Background(), 0, 0, func(seq int64, canonical, hash []byte) error {
		e := events[i]
		if seq != e.Seq || !bytes.Equal(canonical, e.Canonical()) || string(hash) != e.Hash {
			t.Fatalf("seq %d: ReadCanonical gave\n%q %s\nwant\n%q %s", e.Seq, canonical, hash, e.Canonical(), e.Hash)
		}
		i++
		return nil
	})
	if err != nil || i != len(events) {
		t.Fatalf("ReadCanonical read %d of %d events: %v", i, len(events), err)
	}
	// A row made by hand that it cannot take apart ends the read early
	// without an error: Verify's Query takes over there.
	sqlExec(t, path, "UPDATE events SET details = 'a' || char(0) || 'b' WHERE seq = 5")
	i = 0
	err = s.ReadCanonical(context.Background(), 0, 0, func(int64, []byte, []byte) error { i++; return nil })
	if err != nil || i != 4 {
		t.Fatalf("ReadCanonical over a NUL read %d events, %v; want 4 and no error", i, err)
	}
	_, err = audit.Verify(context.Background(), s, audit.VerifyOptions{Key: tamperKey})
	var ie *audit.IntegrityError
	if !errors.As(err, &ie) || ie.Seq != 5 || ie.Problem != audit.ProblemChanged {
		t.Fatalf("Verify = %v, want seq 5 changed", err)
	}
}

// A log large enough to be verified in parallel ranges.
func TestVerifyLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("a large store")
	}
	path := filepath.Join(t.TempDir(), "audit.db")
	s, err := sqlite.Open(path, sqlite.Options{ChainKey: tamperKey})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const n = 120_000
	for b := range n / 10_000 {
		if _, err := s.Append(context.Background(), storetest.Events(10_000, int64(1000+b))); err != nil {
			t.Fatal(err)
		}
	}
	res, err := audit.Verify(context.Background(), s, audit.VerifyOptions{Key: tamperKey})
	if err != nil || res.Events != n || res.First.Seq != 1 || res.Last.Seq != n {
		t.Fatalf("Verify = %+v, %v", res, err)
	}
	for _, seq := range []int{60_000, 60_001, 119_999, 2} {
		t.Run(fmt.Sprint(seq), func(t *testing.T) {
			sqlExec(t, path, fmt.Sprintf("UPDATE events SET details = details || '!' WHERE seq = %d", seq))
			defer sqlExec(t, path, fmt.Sprintf("UPDATE events SET details = substr(details, 1, length(details) - 1) WHERE seq = %d", seq))
			_, err := audit.Verify(context.Background(), s, audit.VerifyOptions{Key: tamperKey})
			var ie *audit.IntegrityError
			if !errors.As(err, &ie) || ie.Seq != int64(seq) || ie.Problem != audit.ProblemChanged {
				t.Fatalf("Verify = %v, want seq %d changed", err, seq)
			}
		})
	}
	_, err = audit.Verify(context.Background(), s, audit.VerifyOptions{Key: tamperKey, Expect: &audit.ChainPoint{Seq: 70_000, Hash: strings.Repeat("a", 64)}})
	var ie *audit.IntegrityError
	if !errors.As(err, &ie) || ie.Seq != 70_000 || ie.Problem != audit.ProblemRewritten {
		t.Fatalf("Verify with a wrong expected head = %v, want seq 70000 rewritten", err)
	}
}

// TestIndependentScript runs docs/verify_export.py, the stand-alone
// verifier docs/integrity.md shows, over JSON Lines written as `audit
// export --format jsonl` writes them: it agrees with Verify, with and
// without a key, across a prune, and catches a change.
func TestIndependentScript(t *testing.T) {
	python, err := osexec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed")
	}
	script, err := filepath.Abs("../../../docs/verify_export.py")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key")
	if err := os.WriteFile(keyFile, tamperKey, 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, error) {
		out, err := osexec.Command(python, append([]string{script}, args...)...).CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	writeJSONL := func(name string, events []audit.Event) string {
		var buf bytes.Buffer
		p, err := output.New(&buf, output.Options{Format: "jsonl", Location: time.UTC})
		if err != nil {
			t.Fatal(err)
		}
		for i := range events {
			if err := p.Print(&events[i]); err != nil {
				t.Fatal(err)
			}
		}
		if err := p.Close(); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}

	path, events := tamperStore(t)
	// Awkward text too: the script must encode exactly as Go does.
	s, err := sqlite.Open(path, sqlite.Options{ChainKey: tamperKey})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	odd := []audit.Event{{ID: "odd", Time: time.Date(2026, 1, 2, 3, 4, 5, 600, time.UTC), User: "zoë",
		UserName: "Zoë \"Ž\" <李雷> 🚀 \u2028", Type: audit.TypeUpdate, Action: "a\nb", Details: `C:\x & "y"`, IP: "2001:db8::1"}}
	if _, err := s.Append(context.Background(), odd); err != nil {
		t.Fatal(err)
	}
	events = append(events, odd...)
	last := events[len(events)-1]
	all := writeJSONL("all.jsonl", events)
	out, err := run("--key-file", keyFile, "--expect-head", fmt.Sprintf("%d:%s", last.Seq, last.Hash), all)
	want := fmt.Sprintf("OK: 61 events, seq 1-61, head %s", last.Hash)
	if err != nil || out != want {
		t.Fatalf("verify_export.py = %q, %v; want %q", out, err, want)
	}
	if out, err := run(all); err == nil || !strings.Contains(out, "FAILED: seq 1 ") {
		t.Fatalf("verify_export.py without the key = %q, %v; want FAILED at seq 1", out, err)
	}

	// A changed event.
	changed := append([]audit.Event(nil), events...)
	changed[29].Details = "nothing to see"
	out, err = run("--key-file", keyFile, writeJSONL("changed.jsonl", changed))
	if err == nil || !strings.HasPrefix(out, "FAILED: seq 30 (") {
		t.Fatalf("verify_export.py of a changed export = %q, %v; want FAILED at seq 30", out, err)
	}
	// A deleted one.
	deleted := append(append([]audit.Event(nil), events[:29]...), events[30:]...)
	out, err = run("--key-file", keyFile, writeJSONL("deleted.jsonl", deleted))
	if err == nil || !strings.Contains(out, "seq 30-30 missing") {
		t.Fatalf("verify_export.py of an export with a gap = %q, %v", out, err)
	}

	// After a prune: the archive, then what is left, from the genesis; or
	// what is left alone, from the checkpoint.
	cp := pruneFile(t, path, events, 20)
	archive := writeJSONL("archive.jsonl", events[:20])
	rest := writeJSONL("rest.jsonl", events[20:])
	if out, err := run("--key-file", keyFile, archive, rest); err != nil || !strings.HasPrefix(out, "OK: 61 events") {
		t.Fatalf("verify_export.py archive rest = %q, %v", out, err)
	}
	if out, err := run("--key-file", keyFile, "--prev", cp.Hash, rest); err != nil || !strings.HasPrefix(out, "OK: 41 events, seq 21-61") {
		t.Fatalf("verify_export.py --prev CHECKPOINT rest = %q, %v", out, err)
	}

	// Without a key: plain SHA-256.
	plain := filepath.Join(t.TempDir(), "plain.db")
	ps, err := sqlite.Open(plain, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ps.Close()
	batch := storetest.Events(25, 3)
	if _, err := ps.Append(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	if out, err := run(writeJSONL("plain.jsonl", batch)); err != nil || !strings.HasPrefix(out, "OK: 25 events, seq 1-25, head "+batch[24].Hash) {
		t.Fatalf("verify_export.py of a keyless export = %q, %v", out, err)
	}
}

// BenchmarkVerify verifies a store of 100,000 events; events/s is the
// figure bench/verify.sh checks at a million.
func BenchmarkVerify(b *testing.B) {
	path := filepath.Join(b.TempDir(), "audit.db")
	s, err := sqlite.Open(path, sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const n = 100_000
	for i := range n / 10_000 {
		if _, err := s.Append(context.Background(), storetest.Events(10_000, int64(i))); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		res, err := audit.Verify(context.Background(), s, audit.VerifyOptions{})
		if err != nil || res.Events != n {
			b.Fatal(res, err)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkChainCost compares what the chain costs an import with what
// the import costs: Append of 10,000-event batches (as a large POST does),
// and the chain's share, computing the same hashes as Append on their own.
// The chain cannot be switched off in Append, so chain/(append-chain) is
// its overhead: how much faster an import without it would be.
func BenchmarkChainCost(b *testing.B) {
	const size = 10_000
	batches := make([][]audit.Event, 20)
	for i := range batches {
		batches[i] = storetest.Events(size, int64(i))
		if err := audit.ValidateBatch(batches[i]); err != nil {
			b.Fatal(err)
		}
	}
	for _, key := range []struct {
		name string
		key  []byte
	}{{"sha256", nil}, {"hmac", tamperKey}} {
		b.Run("append/"+key.name, func(b *testing.B) {
			s, err := sqlite.Open(filepath.Join(b.TempDir(), "audit.db"), sqlite.Options{ChainKey: key.key})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			i := 0
			for b.Loop() {
				b.StopTimer()
				batch := append([]audit.Event(nil), batches[i%len(batches)]...)
				for j := range batch {
					batch[j].ID = fmt.Sprintf("%s-%d", batch[j].ID, i)
				}
				i++
				b.StartTimer()
				if _, err := s.Append(context.Background(), batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*size), "ns/event")
		})
		b.Run("chain/"+key.name, func(b *testing.B) {
			// What Append computes per event: the hash after the previous
			// one (raw), and its hex for the column.
			chain := audit.NewChain(key.key)
			prev := audit.Genesis
			var seq int64
			var h string
			for b.Loop() {
				for _, e := range batches[0] {
					seq++
					e.Seq = seq
					prev = chain.Next(prev, &e)
					h = hex.EncodeToString(prev)
				}
			}
			_ = h
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*size), "ns/event")
		})
	}
}
