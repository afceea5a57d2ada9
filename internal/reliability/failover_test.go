package reliability

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/audit-cli/audit/internal/store/postgres/pgtest"
)

// TestFailoverSIGKILL: two `audit serve` on one PostgreSQL store, a
// primary with a synchronous streaming standby, both named in the
// servers' address (host=a,b with target_session_attrs=read-write). Two
// collectors post batches to them, retrying every batch they get no 2xx
// for. The primary is killed with SIGKILL mid-way and the standby
// promoted; the servers find it by themselves. In the end every batch a
// collector got a 2xx for is stored, each event exactly once, every batch
// is stored whole, and `audit verify` passes on the new primary.
func TestFailoverSIGKILL(t *testing.T) {
	h := newHarness(t)
	primary := pgtest.Start(t, pgtest.Config{Settings: []string{
		"synchronous_standby_names = 'standby'",
		"synchronous_commit = on",
	}})
	standby := primary.Standby(pgtest.Config{})
	h.store = fmt.Sprintf("postgres://postgres@127.0.0.1:%d,127.0.0.1:%d/postgres?sslmode=disable&target_session_attrs=read-write&connect_timeout=2",
		primary.Port, standby.Port)
	// The schema exists before the servers start: both would make it.
	h.must(nil, "record", "--user", "setup", "--type", "create", "--action", "Created the store", "--time", "2026-10-01T00:00:00Z")
	servers := []*serveProc{h.startServe(), h.startServe()}

	const size, batches = 100, 30 // per collector
	var acked atomic.Int64        // batches acknowledged, both collectors
	var failures atomic.Int64     // answers that were no 2xx, and lost answers
	var mu sync.Mutex
	stored := map[string]int{} // batch → events the acknowledgment said were added or existing
	killAt := int64(batches / 2)
	killed := make(chan struct{})
	var wg sync.WaitGroup
	for c := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			srv := servers[c]
			for b := range batches {
				var body bytes.Buffer
				writeEvents(&body, fmt.Sprintf("c%d-b%03d-", c, b), size, time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(b)*time.Hour))
				deadline := time.Now().Add(2 * time.Minute)
				for {
					res, status, err := post(srv.url, body.Bytes())
					if err == nil && status == http.StatusOK {
						mu.Lock()
						stored[fmt.Sprintf("c%d-b%03d", c, b)] = res.Added + res.Existing
						mu.Unlock()
						break
					}
					failures.Add(1)
					if time.Now().After(deadline) {
						t.Errorf("collector %d, batch %d: no 2xx within 2 minutes: status %d, %+v, %v", c, b, status, res, err)
						return
					}
					time.Sleep(100 * time.Millisecond)
				}
				if acked.Add(1) == killAt {
					close(killed)
				}
			}
		}()
	}

	<-killed
	primary.Kill()
	time.Sleep(500 * time.Millisecond) // the collectors see the failure
	standby.Promote()
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	if f := failures.Load(); f == 0 {
		t.Errorf("no post failed: the primary was killed after every batch was sent")
	}
	t.Logf("%d posts failed or went unanswered while the primary was down", failures.Load())
	for _, s := range servers {
		if err := s.stop(); err != nil {
			t.Errorf("serve: %v\n%s", err, s.stderr.String())
		}
	}

	// Every acknowledged batch whole, every event once, on the new primary.
	h.store = standby.DSN("sslmode=disable")
	out := h.must(nil, "export", "--format", "jsonl").stdout
	count := map[string]int{}
	perBatch := map[string]int{}
	for _, line := range lines(out) {
		var e struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatal(err)
		}
		count[e.ID]++
		if len(e.ID) > 8 && e.ID[0] == 'c' {
			perBatch[e.ID[:7]]++
		}
	}
	for id, n := range count {
		if n != 1 {
			t.Errorf("event %s stored %d times", id, n)
		}
	}
	if len(stored) != 2*batches {
		t.Fatalf("%d batches acknowledged, want %d", len(stored), 2*batches)
	}
	for b, n := range stored {
		if n != size || perBatch[b] != size {
			t.Errorf("batch %s: acknowledged %d events, %d stored, want %d", b, n, perBatch[b], size)
		}
	}
	if n := h.verify(); n != 2*batches*size+1 {
		t.Errorf("verify counts %d events, want %d", n, 2*batches*size+1)
	}
}
