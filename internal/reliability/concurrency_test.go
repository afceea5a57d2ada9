package reliability

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/audit-cli/audit/internal/testutil"
)

// TestConcurrentWritersOneSQLiteFile runs, on one SQLite file and at once,
// `audit serve` taking POSTs, two loops of `audit import`, a loop of `audit
// record` and an `audit watch`, for 10 seconds (a minute with
// AUDIT_RELIABILITY_FULL=1). No process may tell its user that the database
// was locked (every stderr is checked), every write must succeed, every
// event must be stored exactly once, and watch must print every one of
// them, once, in seq order.
func TestConcurrentWritersOneSQLiteFile(t *testing.T) {
	h := newHarness(t)
	duration := time.Duration(scaled(10, 60)) * time.Second
	const importChunk = 2000
	const postChunk = 100

	// The store exists, with the seed events, before the run.
	h.must(nil, "import", seedFile(t))
	seed := h.stats().rows

	ctx, cancel := context.WithTimeout(context.Background(), duration+5*time.Minute)
	defer cancel()

	// watch: everything after the seed, as JSON Lines.
	watch := h.command(ctx, "watch", "--after", fmt.Sprint(seed), "-o", "jsonl")
	watchOut, err := watch.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	watchErr := &testutil.SyncBuffer{}
	watch.Stderr = watchErr
	if err := watch.Start(); err != nil {
		t.Fatal(err)
	}
	defer watch.Process.Kill()
	type seen struct {
		ID  string `json:"id"`
		Seq int64  `json:"seq"`
	}
	var watchMu sync.Mutex
	var watched []seen
	watchDone := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(watchOut)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var s seen
			if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
				watchDone <- fmt.Errorf("watch printed %q: %v", sc.Text(), err)
				return
			}
			watchMu.Lock()
			watched = append(watched, s)
			watchMu.Unlock()
		}
		watchDone <- sc.Err()
	}()

	srv := h.startServe()

	w := newWriterLoops(t, duration)
	deadline, loop, expect := w.deadline, w.loop, w.expect

	// Two import loops, each importing new files of importChunk events.
	for _, name := range []string{"impA", "impB"} {
		loop("import "+name, func(i int) error {
			prefix := fmt.Sprintf("%s%04d-", name, i)
			var buf bytes.Buffer
			writeEvents(&buf, prefix, importChunk, time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC))
			r := runCmd(t, h.command(ctx, "import", "-"), &buf, []string{"import", "-"})
			checkNoLock(t, "audit import", r.stderr)
			if r.code != 0 || strings.TrimSpace(r.stderr) != fmt.Sprintf("%d read, %d added, 0 duplicates, 0 read-only skipped", importChunk, importChunk) {
				return fmt.Errorf("%s", r)
			}
			ids := make([]string, importChunk)
			for j := range ids {
				ids[j] = fmt.Sprintf("%s%07d", prefix, j)
			}
			expect(ids...)
			return nil
		})
	}
	// A record loop, one process per event.
	loop("record", func(i int) error {
		id := fmt.Sprintf("rec-%06d", i)
		args := []string{"record", "--id", id, "--user", "jdavis", "--user-name", "John Davis", "--type", "update",
			"--action", "Updated", "--resource-type", "server", "--resource", "bbb-node-1",
			"--details", fmt.Sprintf("record loop %d", i), "--ip", "192.168.1.100"}
		r := runCmd(t, h.command(ctx, args...), nil, args)
		checkNoLock(t, "audit record", r.stderr)
		if r.code != 0 || strings.TrimSpace(r.stdout) != id {
			return fmt.Errorf("%s", r)
		}
		expect(id)
		return nil
	})
	// POSTs to serve, batches of postChunk.
	loop("POST", func(i int) error {
		prefix := fmt.Sprintf("post%05d-", i)
		var buf bytes.Buffer
		writeEvents(&buf, prefix, postChunk, time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC))
		res, status, err := post(srv.url, buf.Bytes())
		if err != nil || status != http.StatusOK || res.Added != postChunk {
			return fmt.Errorf("POST: status %d, %+v, %v", status, res, err)
		}
		checkNoLock(t, "POST /v1/events", res.Error)
		ids := make([]string, postChunk)
		for j := range ids {
			ids[j] = fmt.Sprintf("%s%07d", prefix, j)
		}
		expect(ids...)
		return nil
	})
	w.wait()
	stored, counts := w.stored, w.counts
	writeTime := time.Since(deadline.Add(-duration))

	// watch must catch up with everything stored.
	want := len(stored)
	catchUp := time.Now()
	for {
		watchMu.Lock()
		n := len(watched)
		watchMu.Unlock()
		if n >= want {
			break
		}
		if time.Since(catchUp) > 2*time.Minute {
			t.Fatalf("watch printed %d of %d events within 2 minutes\nstderr: %s", n, want, watchErr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	lag := time.Since(catchUp)
	watch.Process.Signal(syscall.SIGINT)
	if err := <-watchDone; err != nil {
		t.Error(err)
	}
	if err := watch.Wait(); err != nil {
		t.Errorf("audit watch on SIGINT: %v\nstderr: %s", err, watchErr.String())
	}
	if err := srv.stop(); err != nil {
		t.Errorf("audit serve on SIGTERM: %v", err)
	}
	checkNoLock(t, "audit watch", watchErr.String())
	checkNoLock(t, "audit serve", srv.stderr.String())
	if s := strings.TrimSpace(watchErr.String()); s != "" {
		t.Errorf("audit watch wrote on stderr:\n%s", truncate(s, 4000))
	}
	for _, l := range strings.Split(srv.stderr.String(), "\n") {
		if strings.Contains(l, "level=ERROR") || (strings.Contains(l, "status=") && !strings.Contains(l, "status=200")) {
			t.Errorf("audit serve: %s", l)
		}
	}

	// Every event stored once, nothing else.
	ids := storedIDs(t, h.store)
	if len(ids) != want+seed {
		t.Errorf("%d events stored, want %d written + %d seed", len(ids), want, seed)
	}
	for id := range stored {
		if ids[id] != 1 {
			t.Errorf("event %s reported stored is stored %d times", id, ids[id])
		}
	}
	// watch printed each once, in seq order.
	printed := map[string]int{}
	var last int64
	for _, s := range watched {
		printed[s.ID]++
		if s.Seq <= last {
			t.Errorf("watch printed seq %d after %d", s.Seq, last)
		}
		last = s.Seq
	}
	for id := range stored {
		if printed[id] != 1 {
			t.Errorf("watch printed %s %d times", id, printed[id])
		}
	}
	if len(watched) != want {
		t.Errorf("watch printed %d events, want %d", len(watched), want)
	}
	if n := h.verify(); n != want+seed {
		t.Errorf("verify counted %d events, want %d", n, want+seed)
	}
	t.Logf("%v of concurrent writers on one SQLite file: %d imports (A) + %d imports (B) of %d events, %d records, "+
		"%d POSTs of %d events; %d events stored once each, watch printed all %d in seq order (caught up %v after the writers stopped); "+
		"no \"database is locked\" on any stderr; verify OK",
		writeTime.Round(100*time.Millisecond), counts["import impA"], counts["import impB"], importChunk, counts["record"],
		counts["POST"], postChunk, want, len(watched), lag.Round(time.Millisecond))
}
