package reliability

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// holdWriteLock makes another process (Python's sqlite3) take the write
// lock of the store at path and keep it for d, as a long import would.
// It returns once the lock is held; wait ends with the process.
func holdWriteLock(t *testing.T, path string, d time.Duration) (wait func() error) {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("!!! python3 is not installed: the writer-lock test is SKIPPED (apt-get install python3) !!!")
	}
	script := fmt.Sprintf(`import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(%f)
c.execute("COMMIT")
`, d.Seconds())
	cmd := exec.Command(py, "-c", script, path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "locked\n" {
		t.Fatalf("python3 could not lock %s: %q %v\n%s", path, line, err, stderr.String())
	}
	return func() error {
		io.Copy(io.Discard, out)
		if err := cmd.Wait(); err != nil {
			return fmt.Errorf("%v: %s", err, stderr.String())
		}
		return nil
	}
}

// TestWritersWaitOutALongLock holds the store's write lock from another
// process for longer than SQLite's busy timeout, as a long import does.
// Meanwhile `audit record` waits and succeeds, a POST to serve answers 503
// with Retry-After (never 500), `audit record` through the remote store
// retries until it is stored, and `audit import` waits and stores its
// file. Afterwards every event is there once and verify passes.
func TestWritersWaitOutALongLock(t *testing.T) {
	h := newHarness(t)
	h.must(nil, "import", seedFile(t))
	srv := h.startServe()
	release := holdWriteLock(t, h.store, 12*time.Second)

	var wg sync.WaitGroup
	results := make(chan string, 8)
	run := func(name string, f func() string) {
		wg.Go(func() {
			if msg := f(); msg != "" {
				results <- name + ": " + msg
			}
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	run("record", func() string {
		r := h.run(nil, "record", "--id", "busy-rec-1", "--user", "jdavis", "--type", "update", "--action", "Updated")
		if r.code != 0 || strings.TrimSpace(r.stdout) != "busy-rec-1" {
			return r.String()
		}
		return ""
	})
	run("remote record", func() string {
		args := []string{"--store", srv.url, "record", "--id", "busy-rec-2", "--user", "smiller", "--type", "create", "--action", "Created"}
		r := runCmd(t, h.command(ctx, args...), nil, args)
		if r.code != 0 || strings.TrimSpace(r.stdout) != "busy-rec-2" {
			return r.String()
		}
		return ""
	})
	run("import", func() string {
		var buf bytes.Buffer
		writeEvents(&buf, "busy-imp-", 300, time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC))
		r := h.run(&buf, "import", "-")
		if r.code != 0 {
			return r.String()
		}
		return ""
	})
	run("POST", func() string {
		var buf bytes.Buffer
		writeEvents(&buf, "busy-post-", 20, time.Date(2026, 10, 2, 0, 0, 0, 0, time.UTC))
		resp, err := httpClient.Post(srv.url+"/v1/events", "application/x-ndjson", &buf)
		if err != nil {
			return err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		switch resp.StatusCode {
		case http.StatusOK:
			return "" // the lock went in time
		case http.StatusServiceUnavailable:
			if resp.Header.Get("Retry-After") == "" {
				return "503 without Retry-After"
			}
			if strings.Contains(string(b), "locked") || strings.Contains(string(b), "sql") {
				return fmt.Sprintf("503 body tells of the database: %s", b)
			}
			return ""
		}
		return fmt.Sprintf("status %d, want 503 with Retry-After: %s", resp.StatusCode, b)
	})
	wg.Wait()
	close(results)
	for msg := range results {
		t.Error(msg)
	}
	if err := release(); err != nil {
		t.Fatalf("the lock holder failed: %v", err)
	}
	if err := srv.stop(); err != nil {
		t.Errorf("audit serve: %v", err)
	}
	for _, l := range strings.Split(srv.stderr.String(), "\n") {
		if strings.Contains(l, "status=500") {
			t.Errorf("audit serve answered 500: %s", l)
		}
	}
	ids := storedIDs(t, h.store)
	for _, id := range []string{"busy-rec-1", "busy-rec-2", "busy-imp-0000000", "busy-imp-0000299"} {
		if ids[id] != 1 {
			t.Errorf("event %s stored %d times, want once", id, ids[id])
		}
	}
	h.verify()
}
