package watch_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/audit-cli/audit/internal/alert"
	"github.com/audit-cli/audit/internal/testutil"
)

// The at-least-once story with real processes: `audit watch --webhook`
// delivers to a receiver that fails its first three calls; the watcher is
// killed with SIGKILL while a delivery hangs, events keep arriving, and a
// new watcher with the same cursor file delivers every one of them, in
// seq order, signed.
func TestAlertWebhookSurvivesKill(t *testing.T) {
	e := newEnv(t)
	secretFile := filepath.Join(e.dir, "hook.secret")
	os.WriteFile(secretFile, []byte("correct horse\n"), 0o600)

	var mu sync.Mutex
	calls := 0
	var got []string // ids delivered, in order of acceptance
	badSig := 0
	hung := false
	hang := make(chan struct{})
	hanging := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var a alert.Alert
		json.Unmarshal(body, &a)
		mu.Lock()
		calls++
		n := calls
		if r.Header.Get(alert.SignatureHeader) != alert.Sign([]byte("correct horse"), body) {
			badSig++
		}
		first6 := !hung && len(a.Events) == 1 && a.Events[0].ID == "ev-6"
		if first6 {
			hung = true
		}
		mu.Unlock()
		switch {
		case n <= 3:
			w.WriteHeader(http.StatusBadGateway)
			return
		case first6:
			// The first delivery of ev-6 hangs until the test ends.
			hanging <- struct{}{}
			<-hang
			return
		}
		mu.Lock()
		got = append(got, a.Events[0].ID)
		mu.Unlock()
	}))
	defer srv.Close()
	defer close(hang)

	if err := e.record("seed", 1, 1); err != nil { // the store exists; watch starts after it
		t.Fatal(err)
	}
	cursor := filepath.Join(e.dir, "alerts.cursor")
	start := func() (*testutil.SyncBuffer, func(sig syscall.Signal)) {
		cmd := e.command("watch", "--type", "security", "--webhook", srv.URL+"/hook", "--webhook-secret-file", secretFile,
			"--cursor-file", cursor)
		var out testutil.SyncBuffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return &out, func(sig syscall.Signal) {
			cmd.Process.Signal(sig)
			cmd.Wait()
		}
	}
	security := func(from, to int) {
		t.Helper()
		var in strings.Builder
		for i := from; i <= to; i++ {
			fmt.Fprintf(&in, `{"id":"ev-%d","time":"%s","user":"jdavis","type":"security","action":"MFA Disabled"}`+"\n",
				i, time.Now().UTC().Format(time.RFC3339Nano))
			fmt.Fprintf(&in, `{"id":"noise-%d","time":"%s","user":"jdavis","type":"login","action":"Portal Access"}`+"\n",
				i, time.Now().UTC().Format(time.RFC3339Nano))
		}
		cmd := e.command("import", "-")
		cmd.Stdin = strings.NewReader(in.String())
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("import: %v\n%s", err, out)
		}
	}
	out, stop := start()
	waitFor(t, "the cursor file", func() bool { _, err := os.Stat(cursor); return err == nil })
	security(1, 8)
	select {
	case <-hanging:
	case <-time.After(30 * time.Second):
		t.Fatalf("no delivery of ev-6 began:\n%s", out)
	}
	stop(syscall.SIGKILL) // mid-delivery
	security(9, 12)
	out2, stop2 := start()
	waitFor(t, "every alert", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return slices.Contains(got, "ev-12")
	})
	stop2(syscall.SIGTERM)

	mu.Lock()
	defer mu.Unlock()
	// At least once, in order: ev-1 … ev-12, where a repeat may only be
	// of the event in flight at the kill.
	var uniq []string
	for _, id := range got {
		if len(uniq) == 0 || uniq[len(uniq)-1] != id {
			uniq = append(uniq, id)
		}
	}
	var want []string
	for i := 1; i <= 12; i++ {
		want = append(want, fmt.Sprintf("ev-%d", i))
	}
	if !slices.Equal(uniq, want) || badSig != 0 {
		t.Errorf("delivered %v (%d bad signatures), want %v\nfirst watcher:\n%s\nsecond:\n%s", got, badSig, want, out, out2)
	}
	if !strings.Contains(out.String(), "trying again in") || !strings.Contains(out.String(), "→ delivered") {
		t.Errorf("the first watcher did not report the retries and deliveries:\n%s", out)
	}
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if ok() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}
