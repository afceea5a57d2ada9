package reliability

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/audit-cli/audit/internal/testutil"
)

// TestCrashImportSIGKILL kills `audit import` with SIGKILL at random points
// of a large import, again and again, on one store that keeps growing.
// An import is one transaction for the whole file, so after each kill the
// store must hold either none or all of the file's events, the events of
// earlier imports untouched; `audit verify` must pass; the seqs must have no
// gap (a killed transaction leaves no hole in the chain); and running the
// same import again must complete the set, with nothing stored twice.
//
// Default: 30,000 events, 5 kills. AUDIT_RELIABILITY_FULL=1: 200,000
// events, 20 kills.
func TestCrashImportSIGKILL(t *testing.T) {
	h := newHarness(t)
	rng := newRand(t)
	events := scaled(30_000, 200_000)
	kills := scaled(5, 20)

	// Round 0 is not killed: it gives the store a history to protect and
	// measures how long an import of this size takes.
	file0 := h.eventFile("round-00.jsonl", "r00-", events)
	r := h.must(nil, "import", file0)
	calib := r.elapsed
	first := calib
	t.Logf("uninterrupted import of %d events: %v (%s)", events, calib.Round(time.Millisecond), strings.TrimSpace(r.stdout))
	if got := h.verify(); got != events {
		t.Fatalf("verify counted %d events after the first import, want %d", got, events)
	}

	var none, all int
	var killedAt []string
	start := time.Now()
	for k := 1; k <= kills; k++ {
		prefix := fmt.Sprintf("r%02d-", k)
		file := h.eventFile(fmt.Sprintf("round-%02d.jsonl", k), prefix, events)
		before := h.stats()

		// Stratified random kill points: kill k falls somewhere in the
		// k-th of `kills` equal slices of 1.1× the import time last
		// measured, so the kills cover the whole import, from opening the
		// store through the inserts to the commit, and a little after it.
		span := time.Duration(float64(calib) * 1.1)
		delay := time.Duration((float64(k-1) + rng.Float64()) / float64(kills) * float64(span))
		ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
		cmd := h.command(ctx, "import", file)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			cancel()
			t.Fatal(err)
		}
		time.Sleep(delay)
		killErr := cmd.Process.Signal(syscall.SIGKILL)
		waitErr := cmd.Wait()
		cancel()
		exitedFirst := killErr != nil || cmd.ProcessState.Success()
		if cmd.ProcessState.Exited() && !cmd.ProcessState.Success() {
			t.Fatalf("kill %d: import failed on its own before the kill: %v\n%s", k, waitErr, stderr.String())
		}
		checkNoLock(t, "audit import", stderr.String())

		// The store opens, verifies, and holds none or all of the file.
		db := openStore(t, h.store)
		got := countPrefix(t, db, prefix)
		db.Close()
		after := h.stats()
		state := ""
		switch got {
		case 0:
			none++
			state = "none"
		case events:
			all++
			state = "all"
		default:
			t.Fatalf("kill %d at %v: the store holds %d of the file's %d events: a partial import (wait: %v)",
				k, delay, got, events, waitErr)
		}
		if exitedFirst && got != events {
			t.Fatalf("kill %d: import exited 0 before the kill, yet the store lacks its events", k)
		}
		killedAt = append(killedAt, fmt.Sprintf("%v→%s", delay.Round(time.Millisecond), state))
		if after.rows != before.rows+got {
			t.Fatalf("kill %d: %d events stored, want %d before + %d of this import", k, after.rows, before.rows, got)
		}
		if after.distinct != after.rows || after.maxSeq-after.minSeq+1 != int64(after.rows) {
			t.Fatalf("kill %d: %+v: duplicate ids or a gap in the seqs", k, after)
		}
		if n := h.verify(); n != after.rows {
			t.Fatalf("kill %d: verify counted %d events, the store holds %d", k, n, after.rows)
		}

		// Importing again completes the set, without duplicates.
		r := h.must(nil, "import", file)
		if got == 0 {
			// An import takes longer as the store grows: the kill points of
			// the next round follow this one's real duration.
			calib = r.elapsed
		}
		want := fmt.Sprintf("%d read, %d added, %d duplicates, 0 read-only skipped", events, events-got, got)
		if strings.TrimSpace(r.stderr) != want {
			t.Fatalf("kill %d: re-import said %q, want %q", k, strings.TrimSpace(r.stderr), want)
		}
		final := h.stats()
		if final.rows != before.rows+events || final.distinct != final.rows ||
			final.maxSeq-final.minSeq+1 != int64(final.rows) {
			t.Fatalf("kill %d: after the re-import %+v, want %d events, distinct, no gap", k, final, before.rows+events)
		}
	}
	total := h.verify()
	if total != (kills+1)*events {
		t.Fatalf("verify counted %d events at the end, want %d", total, (kills+1)*events)
	}
	t.Logf("%d SIGKILLs of a %d-event import (uninterrupted: %v into an empty store, %v into the last): %d left none of the file, %d all of it, 0 partial; "+
		"verify passed after each; re-imports completed every set; %d events, no duplicates, no seq gaps; %v",
		kills, events, first.Round(time.Millisecond), calib.Round(time.Millisecond), none, all, total, time.Since(start).Round(time.Second))
	t.Logf("kill points: %s", strings.Join(killedAt, ", "))
}

// TestCrashBulkImportSIGKILL kills an import that is large next to its
// store, the kind that drops the secondary indexes inside its transaction
// and builds them again before its commit, at random points of its run.
// Wherever the kill lands — inserting, building the indexes, committing —
// the store must come back with none or all of the file, every index of
// its schema, a sound file (PRAGMA integrity_check) and a chain that
// verifies. Each kill hits a fresh copy of a small store.
//
// Default: 30,000 events, 4 kills. AUDIT_RELIABILITY_FULL=1: 200,000
// events, 12 kills.
func TestCrashBulkImportSIGKILL(t *testing.T) {
	h := newHarness(t)
	rng := newRand(t)
	const history = 100
	events := scaled(30_000, 200_000)
	kills := scaled(4, 12)
	h.must(nil, "import", h.eventFile("history.jsonl", "h-", history))
	base := h.store
	wantIndexes := indexes(t, base)
	file := h.eventFile("bulk.jsonl", "b-", events)
	h.store = copyStore(t, base, filepath.Join(h.dir, "calibrate.db"))
	calib := h.must(nil, "import", file).elapsed

	var states []string
	for k := 1; k <= kills; k++ {
		h.store = copyStore(t, base, filepath.Join(h.dir, fmt.Sprintf("kill-%02d.db", k)))
		span := time.Duration(float64(calib) * 1.1)
		delay := time.Duration((float64(k-1) + rng.Float64()) / float64(kills) * float64(span))
		ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
		cmd := h.command(ctx, "import", file)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			cancel()
			t.Fatal(err)
		}
		time.Sleep(delay)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		cancel()
		if cmd.ProcessState.Exited() && !cmd.ProcessState.Success() {
			t.Fatalf("kill %d: import failed on its own before the kill:\n%s", k, stderr.String())
		}

		db := openStore(t, h.store)
		got := countPrefix(t, db, "b-")
		var check string
		if err := db.QueryRow("PRAGMA integrity_check").Scan(&check); err != nil {
			t.Fatalf("kill %d: integrity_check: %v", k, err)
		}
		db.Close()
		if got != 0 && got != events {
			t.Fatalf("kill %d at %v: the store holds %d of the file's %d events: a partial import", k, delay, got, events)
		}
		if check != "ok" {
			t.Fatalf("kill %d at %v: PRAGMA integrity_check says %q", k, delay, check)
		}
		if got := indexes(t, h.store); !slices.Equal(got, wantIndexes) {
			t.Fatalf("kill %d at %v: the indexes are\n%s\nwant\n%s", k, delay, strings.Join(got, "\n"), strings.Join(wantIndexes, "\n"))
		}
		if n := h.verify(); n != history+got {
			t.Fatalf("kill %d: verify counted %d events, want %d", k, n, history+got)
		}
		states = append(states, fmt.Sprintf("%v→%d", delay.Round(time.Millisecond), got))
	}
	t.Logf("%d SIGKILLs of a %d-event import into a %d-event store (uninterrupted: %v): none partial, indexes and file sound, verify passed; kill points → events of the file stored: %s",
		kills, events, history, calib.Round(time.Millisecond), strings.Join(states, ", "))
}

// indexes lists the indexes of the events table in a store file, each as
// its name and definition.
func indexes(t *testing.T, path string) []string {
	t.Helper()
	db := openStore(t, path)
	defer db.Close()
	rows, err := db.Query(`SELECT name || ': ' || coalesce(sql, '') FROM sqlite_schema
WHERE type = 'index' AND tbl_name = 'events' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var list []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		list = append(list, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(list) < 8 {
		t.Fatalf("%s has %d indexes on events: %v", path, len(list), list)
	}
	return list
}

// copyStore copies the store file at from, and its WAL if it has one, to
// the path to, and returns to. No process may have from open.
func copyStore(t *testing.T, from, to string) string {
	t.Helper()
	for _, suffix := range []string{"", "-wal"} {
		data, err := os.ReadFile(from + suffix)
		if suffix != "" && errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to+suffix, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return to
}

// serveProc is a running `audit serve`.
type serveProc struct {
	cmd    *exec.Cmd
	url    string
	stderr *testutil.SyncBuffer
	cancel context.CancelFunc
}

// startServe starts `audit serve` without tokens on a free loopback port
// and waits until it answers.
func (h *harness) startServe(extra ...string) *serveProc {
	h.t.Helper()
	urlFile := filepath.Join(h.dir, fmt.Sprintf("serve-%d.url", time.Now().UnixNano()))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	args := append([]string{"serve", "--insecure-no-auth", "--listen", "127.0.0.1:0", "--url-file", urlFile}, extra...)
	cmd := h.command(ctx, args...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGKILL) }
	s := &serveProc{cmd: cmd, stderr: &testutil.SyncBuffer{}, cancel: cancel}
	cmd.Stderr = s.stderr
	if err := cmd.Start(); err != nil {
		cancel()
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { s.kill() })
	deadline := time.Now().Add(30 * time.Second)
	for {
		if b, err := os.ReadFile(urlFile); err == nil && len(b) > 0 {
			s.url = strings.TrimSpace(string(b))
			break
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("audit serve did not start:\n%s", s.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return s
}

// kill ends serve with SIGKILL, as a crash or the OOM killer would.
func (s *serveProc) kill() {
	if s.cmd.ProcessState == nil {
		s.cmd.Process.Signal(syscall.SIGKILL)
		s.cmd.Wait()
	}
	s.cancel()
}

// stop ends serve with SIGTERM, as systemd does, and returns its exit status.
func (s *serveProc) stop() error {
	s.cmd.Process.Signal(syscall.SIGTERM)
	err := s.cmd.Wait()
	s.cancel()
	return err
}

// postResult is the answer to POST /v1/events.
type postResult struct {
	Added    int    `json:"added"`
	Existing int    `json:"existing"`
	Error    string `json:"error"`
}

var httpClient = &http.Client{Timeout: 60 * time.Second}

// post sends body as NDJSON to serve. A transport error (serve is gone) is
// returned as errGone: the outcome of that POST is unknown to the client.
func post(url string, body []byte) (postResult, int, error) {
	var res postResult
	resp, err := httpClient.Post(url+"/v1/events", "application/x-ndjson", bytes.NewReader(body))
	if err != nil {
		return res, 0, fmt.Errorf("%w: %v", errGone, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return res, resp.StatusCode, fmt.Errorf("%w: %v", errGone, err)
	}
	if err := json.Unmarshal(b, &res); err != nil {
		return res, resp.StatusCode, fmt.Errorf("status %d, body %q: %v", resp.StatusCode, truncate(string(b), 300), err)
	}
	return res, resp.StatusCode, nil
}

var errGone = errors.New("serve went away")

func isGone(err error) bool {
	var ne net.Error
	return errors.Is(err, errGone) || errors.As(err, &ne)
}

// TestCrashServeSIGKILL posts batches of events to `audit serve` from two
// clients and kills serve with SIGKILL at a random moment, again and
// again. After each kill every batch is wholly stored or wholly absent, the
// acknowledged ones all stored, and `audit verify` passes. The clients
// retry every batch they got no answer for against the restarted serve
// (while posting new ones), and a last serve, not killed, takes the
// remaining retries: in the end every batch is stored, each event once.
//
// Default: 5 kills, batches of 250 events. AUDIT_RELIABILITY_FULL=1: 20
// kills, batches of 500 events.
func TestCrashServeSIGKILL(t *testing.T) {
	h := newHarness(t)
	rng := newRand(t)
	kills := scaled(5, 20)
	size := scaled(250, 500)

	var mu sync.Mutex // guards what follows
	var bodies [][]byte
	var acked []bool
	var posts, unknown, retriedStored int
	body := func(i int) []byte {
		mu.Lock()
		defer mu.Unlock()
		for len(bodies) <= i {
			var b bytes.Buffer
			n := len(bodies)
			writeEvents(&b, fmt.Sprintf("b%05d-", n), size, time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(n)*time.Hour))
			bodies = append(bodies, b.Bytes())
			acked = append(acked, false)
		}
		return bodies[i]
	}

	// runRound posts, with two clients, the batches not acknowledged yet
	// and then, when fresh is set, new ones, until serve goes away or,
	// without fresh, every batch is acknowledged.
	runRound := func(s *serveProc, fresh bool) {
		next := make(chan int)
		var wg sync.WaitGroup
		gone := make(chan struct{})
		var goneOnce sync.Once
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range next {
					res, status, err := post(s.url, body(i))
					mu.Lock()
					posts++
					switch {
					case err != nil && isGone(err):
						unknown++
						mu.Unlock()
						goneOnce.Do(func() { close(gone) })
						continue
					case err != nil || status != http.StatusOK:
						mu.Unlock()
						t.Errorf("batch %d: status %d, %+v, %v", i, status, res, err)
						continue
					}
					if res.Added+res.Existing != size {
						t.Errorf("batch %d: %d added + %d existing, want %d", i, res.Added, res.Existing, size)
					}
					if res.Existing == size {
						retriedStored++ // committed before a kill, answer lost
					} else if res.Existing != 0 {
						t.Errorf("batch %d: retry found %d of %d events stored: a partial batch", i, res.Existing, size)
					}
					acked[i] = true
					mu.Unlock()
				}
			}()
		}
		send := func(i int) bool {
			select {
			case next <- i:
				return true
			case <-gone:
				return false
			}
		}
		mu.Lock()
		var retry []int
		for i, a := range acked {
			if !a {
				retry = append(retry, i)
			}
		}
		n := len(bodies)
		mu.Unlock()
	feed:
		for _, i := range retry {
			if !send(i) {
				break feed
			}
		}
		for i := n; fresh; i++ {
			if !send(i) {
				break
			}
		}
		close(next)
		wg.Wait()
	}

	// checkBatches asserts every batch is all-or-nothing and every
	// acknowledged one stored.
	checkBatches := func(round int) (present int) {
		db := openStore(t, h.store)
		defer db.Close()
		mu.Lock()
		defer mu.Unlock()
		for i := range bodies {
			n := countPrefix(t, db, fmt.Sprintf("b%05d-", i))
			switch {
			case n != 0 && n != size:
				t.Fatalf("round %d: batch %d has %d of its %d events: a partial POST", round, i, n, size)
			case acked[i] && n != size:
				t.Fatalf("round %d: batch %d was acknowledged but is not stored", round, i)
			}
			if n == size {
				present++
			}
		}
		return present
	}

	start := time.Now()
	for k := 1; k <= kills; k++ {
		s := h.startServe()
		// Kill at a random moment while the clients post.
		delay := time.Duration(50+rng.IntN(950)) * time.Millisecond
		killed := make(chan struct{})
		go func() {
			time.Sleep(delay)
			s.kill()
			close(killed)
		}()
		runRound(s, true)
		<-killed
		checkNoLock(t, "audit serve", s.stderr.String())
		present := checkBatches(k)
		st := h.stats()
		if st.rows != present*size || st.distinct != st.rows || (st.rows > 0 && st.maxSeq-st.minSeq+1 != int64(st.rows)) {
			t.Fatalf("round %d: %+v, want %d batches × %d events, distinct, no seq gap", k, st, present, size)
		}
		if st.rows > 0 {
			if n := h.verify(); n != st.rows {
				t.Fatalf("round %d: verify counted %d events, the store holds %d", k, n, st.rows)
			}
		}
		mu.Lock()
		nacked := 0
		for _, a := range acked {
			if a {
				nacked++
			}
		}
		t.Logf("kill %d after %v: %d batches sent so far, %d stored, %d acknowledged", k, delay, len(bodies), present, nacked)
		mu.Unlock()
	}

	// A last serve, not killed, takes the retries of everything left.
	s := h.startServe()
	runRound(s, false)
	if err := s.stop(); err != nil {
		t.Errorf("audit serve on SIGTERM: %v\n%s", err, s.stderr.String())
	}
	checkNoLock(t, "audit serve", s.stderr.String())
	nbatch := len(bodies)
	for i, a := range acked {
		if !a {
			t.Fatalf("batch %d was never acknowledged", i)
		}
	}
	if present := checkBatches(kills + 1); present != nbatch {
		t.Fatalf("%d of %d batches stored at the end", present, nbatch)
	}
	ids := storedIDs(t, h.store)
	if len(ids) != nbatch*size {
		t.Fatalf("%d distinct events stored, want %d", len(ids), nbatch*size)
	}
	for id, n := range ids {
		if n != 1 {
			t.Fatalf("event %s stored %d times", id, n)
		}
	}
	if n := h.verify(); n != nbatch*size {
		t.Fatalf("verify counted %d events, want %d", n, nbatch*size)
	}
	t.Logf("%d SIGKILLs of serve during POSTs: %d POSTs, %d without an answer (retried), %d retries found their batch "+
		"already committed; %d batches × %d events = %d stored once each, no partial batch, no seq gap, verify OK; %v",
		kills, posts, unknown, retriedStored, nbatch, size, nbatch*size, time.Since(start).Round(time.Second))
}

// lines splits output into its non-empty lines.
func lines(s string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			out = append(out, l)
		}
	}
	return out
}
