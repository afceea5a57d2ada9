package watch_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/audit-cli/audit/internal/testutil"
)

// These tests run the real binary, built from this tree, as separate
// processes: one watching, others recording into the same SQLite file.
// AUDIT_TEST_BIN names a prebuilt binary instead.

// TestMain removes the binary built for the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	testutil.RemoveAuditBinary()
	os.Exit(code)
}

type env struct {
	t     *testing.T
	bin   string
	store string
	dir   string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test of the audit binary skipped in -short mode")
	}
	bin, err := testutil.AuditBinary()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	return &env{t: t, bin: bin, dir: dir, store: filepath.Join(dir, "audit.db")}
}

func (e *env) command(args ...string) *exec.Cmd {
	cmd := exec.Command(e.bin, args...)
	cmd.Dir = e.dir
	cmd.Env = append(os.Environ(),
		"AUDIT_STORE="+e.store,
		"XDG_CONFIG_HOME="+filepath.Join(e.dir, "config"),
		"NO_COLOR=1", "CLICOLOR_FORCE=")
	return cmd
}

// record stores n events with ids prefix-1 … prefix-n, one process after
// another: one `audit record` per event when batch is 1, otherwise one
// `audit import -` per batch of that many events.
func (e *env) record(prefix string, n, batch int) error {
	for i := 1; i <= n; i += batch {
		if batch <= 1 {
			out, err := e.command("record", "--id", fmt.Sprintf("%s-%d", prefix, i), "--user", prefix,
				"--type", "update", "--action", "Updated", "--resource-type", "server",
				"--resource", "bbb-node-1", "--details", fmt.Sprintf("change %d", i)).CombinedOutput()
			if err != nil {
				return fmt.Errorf("audit record %s-%d: %v\n%s", prefix, i, err, out)
			}
			continue
		}
		var in strings.Builder
		for j := i; j < i+batch && j <= n; j++ {
			fmt.Fprintf(&in, `{"id":"%s-%d","time":"%s","user":"%s","type":"update","action":"Updated","resource_type":"server","resource":"bbb-node-1","details":"change %d"}`+"\n",
				prefix, j, time.Now().UTC().Format(time.RFC3339Nano), prefix, j)
		}
		cmd := e.command("import", "-")
		cmd.Stdin = strings.NewReader(in.String())
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("audit import of %s-%d…: %v\n%s", prefix, i, err, out)
		}
	}
	return nil
}

// watchProc is a running `audit watch -o jsonl`.
type watchProc struct {
	cmd    *exec.Cmd
	lines  chan line
	stderr strings.Builder
	done   chan error
}

type line struct {
	ID  string `json:"id"`
	Seq int64  `json:"seq"`
}

func (e *env) startWatch(args ...string) *watchProc {
	e.t.Helper()
	w := &watchProc{cmd: e.command(append([]string{"watch", "-o", "jsonl"}, args...)...),
		lines: make(chan line, 100000), done: make(chan error, 1)}
	stdout, err := w.cmd.StdoutPipe()
	if err != nil {
		e.t.Fatal(err)
	}
	w.cmd.Stderr = &w.stderr
	if err := w.cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var l line
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				l.ID = "BAD: " + sc.Text()
			}
			w.lines <- l
		}
		io.Copy(io.Discard, stdout)
		close(w.lines)
		w.done <- w.cmd.Wait()
	}()
	e.t.Cleanup(func() { w.cmd.Process.Kill() })
	return w
}

// read returns the next n lines, failing after timeout.
func (w *watchProc) read(t *testing.T, n int, timeout time.Duration) []line {
	t.Helper()
	var got []line
	deadline := time.After(timeout)
	for len(got) < n {
		select {
		case l, ok := <-w.lines:
			if !ok {
				t.Fatalf("watch ended after %d of %d lines: %v", len(got), n, w.stderr.String())
			}
			got = append(got, l)
		case <-deadline:
			t.Fatalf("timed out after %d of %d lines; stderr: %s", len(got), n, w.stderr.String())
		}
	}
	return got
}

// rest returns the lines left once watch has ended.
func (w *watchProc) rest() []line {
	var got []line
	for l := range w.lines {
		got = append(got, l)
	}
	return got
}

func (w *watchProc) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-w.done:
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("watch did not end")
		return nil
	}
}

func waitForFile(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not appear", path)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// checkOrder fails unless seqs strictly increase.
func checkOrder(t *testing.T, what string, lines []line) {
	t.Helper()
	for i := 1; i < len(lines); i++ {
		if lines[i].Seq <= lines[i-1].Seq {
			t.Fatalf("%s: seq %d (%s) after seq %d (%s)", what, lines[i].Seq, lines[i].ID, lines[i-1].Seq, lines[i-1].ID)
		}
	}
}

// checkOnce fails unless every id of want appears exactly once in got.
func checkOnce(t *testing.T, got []line, want map[string]bool) {
	t.Helper()
	seen := map[string]int{}
	for _, l := range got {
		seen[l.ID]++
	}
	var missing, dup, extra []string
	for id := range want {
		if seen[id] == 0 {
			missing = append(missing, id)
		}
	}
	for id, n := range seen {
		switch {
		case !want[id]:
			extra = append(extra, id)
		case n > 1:
			dup = append(dup, fmt.Sprintf("%s ×%d", id, n))
		}
	}
	if len(missing)+len(dup)+len(extra) > 0 {
		t.Fatalf("%d events printed: %d missing %.10v, %d repeated %.10v, %d unexpected %.10v",
			len(got), len(missing), missing, len(dup), dup, len(extra), extra)
	}
}

func ids(prefixes []string, n int) map[string]bool {
	want := map[string]bool{}
	for _, p := range prefixes {
		for i := 1; i <= n; i++ {
			want[fmt.Sprintf("%s-%d", p, i)] = true
		}
	}
	return want
}

// recordAll runs one recording process loop per prefix, in parallel.
func (e *env) recordAll(prefixes []string, n, batch int) chan error {
	errs := make(chan error, len(prefixes))
	for _, p := range prefixes {
		go func() { errs <- e.record(p, n, batch) }()
	}
	return errs
}

func waitRecorders(t *testing.T, errs chan error, n int) {
	t.Helper()
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// TestWatchConcurrentWriters: four processes record 2,000 events each
// while watch follows; watch prints all 8,000 exactly once, in strictly
// increasing seq order, and Ctrl-C ends it with status 0.
//
// The writers commit batches of 50 events with `audit import -`, which
// takes about 5 s; AUDIT_E2E_BATCH=1 makes them run one `audit record` per
// event instead (8,000 processes, about 70 s).
func TestWatchConcurrentWriters(t *testing.T) {
	e := newEnv(t)
	perWriter, batch := 2000, 50
	if s := os.Getenv("AUDIT_E2E_BATCH"); s != "" {
		batch, _ = strconv.Atoi(s)
	}
	if err := e.record("init", 1, 1); err != nil {
		t.Fatal(err)
	}
	// The cursor file appears once watch has taken its starting point.
	cursor := filepath.Join(e.dir, "start.cursor")
	w := e.startWatch("-n", "0", "--cursor-file", cursor)
	waitForFile(t, cursor)

	writers := []string{"w1", "w2", "w3", "w4"}
	start := time.Now()
	errs := e.recordAll(writers, perWriter, batch)
	got := w.read(t, len(writers)*perWriter, 10*time.Minute)
	waitRecorders(t, errs, len(writers))
	t.Logf("%d events recorded by %d processes (batches of %d) and watched in %v", len(got), len(writers), batch, time.Since(start).Round(time.Millisecond))

	if err := w.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := w.wait(t); err != nil {
		t.Fatalf("watch after Ctrl-C: %v (want status 0); stderr: %s", err, w.stderr.String())
	}
	got = append(got, w.rest()...)
	checkOrder(t, "watch", got)
	checkOnce(t, got, ids(writers, perWriter))
	if b, _ := os.ReadFile(cursor); strings.TrimSpace(string(b)) != strconv.FormatInt(got[len(got)-1].Seq, 10) {
		t.Errorf("cursor %q, last printed seq %d", b, got[len(got)-1].Seq)
	}
}

// TestWatchResumesFromCursor stops watch mid-stream, with SIGTERM and
// then with SIGKILL, while two processes keep recording (batches of 5
// events, so that commits come often), and starts it
// again with the same cursor file. Together the runs print every event,
// in seq order. After SIGTERM nothing repeats; after SIGKILL only the
// last event the killed watch printed may be printed again, when the kill
// fell between printing it and saving the cursor.
func TestWatchResumesFromCursor(t *testing.T) {
	e := newEnv(t)
	perWriter := 1000
	if err := e.record("init", 1, 1); err != nil {
		t.Fatal(err)
	}
	cursor := filepath.Join(e.dir, "alerts.cursor")
	writers := []string{"r1", "r2"}
	total := len(writers) * perWriter

	// No cursor yet: watch starts after init-1, the head, and saves that.
	w := e.startWatch("--cursor-file", cursor)
	waitForFile(t, cursor)
	errs := e.recordAll(writers, perWriter, 5)

	var runs [][]line
	for _, sig := range []os.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		got := w.read(t, total/3, 5*time.Minute)
		if err := w.cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
		err := w.wait(t)
		got = append(got, w.rest()...)
		if sig == syscall.SIGTERM && err != nil {
			t.Fatalf("watch after SIGTERM: %v (want status 0); stderr: %s", err, w.stderr.String())
		}
		runs = append(runs, got)
		w = e.startWatch("--cursor-file", cursor)
	}
	done := 0
	for _, r := range runs {
		done += len(r)
	}
	last := w.read(t, total-done, 5*time.Minute)
	waitRecorders(t, errs, len(writers))
	// Let a wrongly repeated event show up before ending.
	time.Sleep(300 * time.Millisecond)
	if err := w.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := w.wait(t); err != nil {
		t.Fatalf("watch: %v; stderr: %s", err, w.stderr.String())
	}
	runs = append(runs, append(last, w.rest()...))

	// The run after SIGTERM starts right after the last line before it;
	// the run after SIGKILL at or right after it.
	var all []line
	for i, r := range runs {
		checkOrder(t, fmt.Sprintf("run %d", i+1), r)
		if i > 0 && len(r) > 0 && len(runs[i-1]) > 0 {
			prev, first := runs[i-1][len(runs[i-1])-1], r[0]
			if i == 2 && first == prev {
				t.Logf("SIGKILL fell between printing seq %d and saving the cursor: it is printed again", prev.Seq)
				r = r[1:]
			}
		}
		all = append(all, r...)
	}
	checkOrder(t, "all runs", all)
	checkOnce(t, all, ids(writers, perWriter))
	t.Logf("runs printed %d, %d and %d events", len(runs[0]), len(runs[1]), len(runs[2]))
}
