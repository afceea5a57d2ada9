// Package reliability proves, with the real binary, that audit loses and
// alters no event under crashes (SIGKILL of import and serve), concurrent
// writers on one SQLite file, full disks and failing writes, and bad input.
// docs/reliability.md lists each scenario, its test and its figures.
//
// The tests build cmd/audit once per test process and drive it with
// os/exec, as a sysadmin's shell would. They are skipped with -short. By
// default they run at a reduced scale that fits `go test ./...` on a small
// shared machine; AUDIT_RELIABILITY_FULL=1 runs the figures of the issue
// (200,000-event imports killed 20 times, a minute of concurrent writers).
// AUDIT_RELIABILITY_SEED fixes the random kill points; each test logs the
// seed it used. AUDIT_TEST_BIN names a prebuilt binary instead.
package reliability

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3" // to look into the store file as SQLite itself sees it

	"github.com/audit-cli/audit/internal/testutil"
)

// fullScale reports whether AUDIT_RELIABILITY_FULL asks for the figures of
// the issue rather than the reduced default scale.
func fullScale() bool {
	v := os.Getenv("AUDIT_RELIABILITY_FULL")
	return v != "" && v != "0" && v != "false"
}

// scaled returns small by default and full with AUDIT_RELIABILITY_FULL.
func scaled(small, full int) int {
	if fullScale() {
		return full
	}
	return small
}

// newRand returns the test's random source and logs its seed, so that a
// failure can be replayed with AUDIT_RELIABILITY_SEED.
func newRand(t *testing.T) *rand.Rand {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("AUDIT_RELIABILITY_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("AUDIT_RELIABILITY_SEED=%q: %v", s, err)
		}
		seed = n
	}
	t.Logf("random seed %d (replay with AUDIT_RELIABILITY_SEED=%d)", seed, seed)
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// TestMain removes the binary built for the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	testutil.RemoveAuditBinary()
	os.Exit(code)
}

// harness runs the audit binary against one SQLite store in a temporary
// directory.
type harness struct {
	t     *testing.T
	bin   string
	dir   string
	store string
}

// commandTimeout bounds every single run of the binary: no test hangs.
const commandTimeout = 3 * time.Minute

func newHarness(t *testing.T) *harness {
	t.Helper()
	if testing.Short() {
		t.Skip("reliability tests run the audit binary: skipped in -short mode")
	}
	bin, err := testutil.AuditBinary()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	return &harness{t: t, bin: bin, dir: dir, store: filepath.Join(dir, "audit.db")}
}

// env is the environment of every run: the store, no user config, no
// colors, a fixed terminal width.
func (h *harness) env(store string) []string {
	env := []string{}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AUDIT_") {
			env = append(env, kv)
		}
	}
	return append(env,
		"AUDIT_STORE="+store,
		"XDG_CONFIG_HOME="+filepath.Join(h.dir, "config"),
		"XDG_DATA_HOME="+filepath.Join(h.dir, "data"),
		"NO_COLOR=1", "CLICOLOR_FORCE=", "COLUMNS=120",
		"AUDIT_PAGER=") // no pager unless a test asks for one
}

// command returns audit ARGS on the harness's store, ended by ctx.
func (h *harness) command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, h.bin, args...)
	cmd.Dir = h.dir
	cmd.Env = h.env(h.store)
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// result is what one run of the binary did.
type result struct {
	args           []string
	stdout, stderr string
	code           int
	elapsed        time.Duration
}

func (r result) String() string {
	return fmt.Sprintf("audit %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(r.args, " "),
		r.code, truncate(r.stdout, 2000), truncate(r.stderr, 2000))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + fmt.Sprintf("… (%d bytes)", len(s))
}

// run runs audit ARGS to its end, with stdin from in (nil: none).
func (h *harness) run(in io.Reader, args ...string) result {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	return runCmd(h.t, h.command(ctx, args...), in, args)
}

func runCmd(t *testing.T, cmd *exec.Cmd, in io.Reader, args []string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = in, &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	r := result{args: args, stdout: stdout.String(), stderr: stderr.String(), elapsed: time.Since(start)}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee) && ee.Exited():
		r.code = ee.ExitCode()
	default:
		t.Fatalf("audit %s: %v\nstderr: %s", strings.Join(args, " "), err, r.stderr)
	}
	return r
}

// must runs audit ARGS and fails the test unless it exits 0.
func (h *harness) must(in io.Reader, args ...string) result {
	h.t.Helper()
	r := h.run(in, args...)
	if r.code != 0 {
		h.t.Fatalf("want exit 0\n%s", r)
	}
	return r
}

// verify runs `audit verify` on the store and fails unless the chain
// verifies; it returns the number of events it reports.
func (h *harness) verify() int {
	h.t.Helper()
	r := h.must(nil, "verify")
	// OK: 200,006 events, seq 1–200006, head 68409533a142…
	f := strings.Fields(r.stdout)
	if len(f) < 3 || f[0] != "OK:" {
		h.t.Fatalf("audit verify: unexpected output %q", r.stdout)
	}
	n, err := strconv.Atoi(strings.ReplaceAll(f[1], ",", ""))
	if err != nil {
		h.t.Fatalf("audit verify: unexpected output %q", r.stdout)
	}
	return n
}

// storeStats is what the store file holds, read with SQLite itself.
type storeStats struct {
	rows, distinct int
	minSeq, maxSeq int64
}

// openStore opens the store file for inspection, read-only.
func openStore(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro&_busy_timeout=10000")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db
}

func (h *harness) stats() storeStats {
	h.t.Helper()
	db := openStore(h.t, h.store)
	defer db.Close()
	var s storeStats
	err := db.QueryRow(`SELECT count(*), count(DISTINCT id), coalesce(min(seq), 0), coalesce(max(seq), 0) FROM events`).
		Scan(&s.rows, &s.distinct, &s.minSeq, &s.maxSeq)
	if err != nil {
		h.t.Fatalf("inspect %s: %v", h.store, err)
	}
	return s
}

// countPrefix counts the stored events whose id starts with prefix, which
// must end in '-': the range [prefix, prefix with '-' → '.') is one index
// range of the UNIQUE id column.
func countPrefix(t *testing.T, db *sql.DB, prefix string) int {
	t.Helper()
	if !strings.HasSuffix(prefix, "-") {
		t.Fatalf("countPrefix(%q): the prefix must end in '-'", prefix)
	}
	var n int
	hi := strings.TrimSuffix(prefix, "-") + "."
	if err := db.QueryRow(`SELECT count(*) FROM events WHERE id >= ? AND id < ?`, prefix, hi).Scan(&n); err != nil {
		t.Fatalf("count %s*: %v", prefix, err)
	}
	return n
}

// storedIDs returns every stored id with the number of times it occurs.
func storedIDs(t *testing.T, path string) map[string]int {
	t.Helper()
	db := openStore(t, path)
	defer db.Close()
	rows, err := db.Query(`SELECT id FROM events`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	ids := map[string]int{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids[id]++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return ids
}

// Sample values of the generated events: realistic, with non-ASCII text.
var (
	genUsers   = []string{"jdavis", "smiller", "mjohnson", "pnovak", "system", "ağca", "李雷"}
	genNames   = []string{"John Davis", "Sarah Miller", "Mike Johnson", "Petra Novák", "System", "Ayşe Ağca", "李雷"}
	genTypes   = []string{"login", "logout", "create", "update", "delete", "security"}
	genActions = []string{"Portal Access", "Session Ended", "Created", "Updated", "Deleted", "MFA Enabled"}
	genIPs     = []string{"192.168.1.100", "10.0.0.55", "203.45.67.89", "2001:db8::17", ""}
)

// writeEvents writes n events as JSON Lines with ids PREFIX-000000… and
// times a second apart from base; failures every seventh.
func writeEvents(w io.Writer, prefix string, n int, base time.Time) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	for i := range n {
		k := i % len(genUsers)
		outcome := "success"
		if i%7 == 3 {
			outcome = "failure"
		}
		fmt.Fprintf(bw, `{"id":"%s%07d","time":"%s","user":"%s","user_name":"%s","type":"%s","action":"%s","resource_type":"server","resource":"bbb-node-%d","details":"Changed load_multiplier from 1.%d to 1.%d — event %d","ip":"%s","outcome":"%s"}`+"\n",
			prefix, i, base.Add(time.Duration(i)*time.Second).UTC().Format(time.RFC3339Nano),
			genUsers[k], genNames[k], genTypes[i%len(genTypes)], genActions[i%len(genActions)],
			i%50, i%10, (i+1)%10, i, genIPs[i%len(genIPs)], outcome)
	}
	return bw.Flush()
}

// eventFile writes n generated events to a file in the harness's directory.
func (h *harness) eventFile(name, prefix string, n int) string {
	h.t.Helper()
	path := filepath.Join(h.dir, name)
	f, err := os.Create(path)
	if err != nil {
		h.t.Fatal(err)
	}
	if err := writeEvents(f, prefix, n, time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)); err != nil {
		h.t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		h.t.Fatal(err)
	}
	return path
}

// checkNoLock fails when a message meant for a user says the database was
// locked or busy: concurrent writers must queue, not fail.
func checkNoLock(t *testing.T, who, stderr string) {
	t.Helper()
	low := strings.ToLower(stderr)
	for _, bad := range []string{"database is locked", "database table is locked", "sqlite_busy", "busy"} {
		if strings.Contains(low, bad) {
			t.Errorf("%s told its user %q:\n%s", who, bad, truncate(stderr, 4000))
			return
		}
	}
}

// seedFile is the absolute path of testdata/seed.jsonl, the six example
// events.
func seedFile(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs("../../testdata/seed.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// writerLoops runs writers, each a step called again and again on its own
// goroutine until a deadline, and keeps the ids the writers were told were
// stored, and how many steps each completed. A failed step ends its loop
// and the test.
type writerLoops struct {
	t        *testing.T
	deadline time.Time
	wg       sync.WaitGroup

	mu     sync.Mutex
	stored map[string]bool // ids whose writer reported success
	counts map[string]int  // completed steps by loop name
}

func newWriterLoops(t *testing.T, duration time.Duration) *writerLoops {
	return &writerLoops{t: t, deadline: time.Now().Add(duration), stored: map[string]bool{}, counts: map[string]int{}}
}

// expect records ids as stored.
func (l *writerLoops) expect(ids ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, id := range ids {
		l.stored[id] = true
	}
}

// loop starts step(0), step(1), … until the deadline or an error.
func (l *writerLoops) loop(name string, step func(i int) error) {
	l.wg.Go(func() {
		for i := 0; time.Now().Before(l.deadline); i++ {
			if err := step(i); err != nil {
				l.t.Errorf("%s #%d: %v", name, i, err)
				return
			}
			l.mu.Lock()
			l.counts[name]++
			l.mu.Unlock()
		}
	})
}

// storedCount is how many ids were reported stored so far.
func (l *writerLoops) storedCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.stored)
}

// wait waits for every loop to end.
func (l *writerLoops) wait() { l.wg.Wait() }
