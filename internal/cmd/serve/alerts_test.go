package serve_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/audit-cli/audit/internal/alert"
)

// serve --alerts runs the config file's rules inside the server: an event
// posted through the API reaches the rule's webhook, signed, and the
// rule's cursor and status show it.
func TestServeAlerts(t *testing.T) {
	dir := setup(t)
	t.Setenv("XDG_STATE_HOME", filepath.Join(dir, "state"))
	var mu sync.Mutex
	var got []alert.Alert
	var sigOK bool
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var a alert.Alert
		json.Unmarshal(body, &a)
		mu.Lock()
		got = append(got, a)
		sigOK = r.Header.Get(alert.SignatureHeader) == alert.Sign([]byte("hunter2"), body)
		mu.Unlock()
	}))
	defer hook.Close()
	secret := filepath.Join(dir, "secret")
	os.WriteFile(secret, []byte("hunter2\n"), 0o600)
	os.MkdirAll(filepath.Join(dir, "config", "audit"), 0o755)
	os.WriteFile(filepath.Join(dir, "config", "audit", "config.yaml"), []byte(`alerts:
  - name: mfa-off
    type: security
    search: MFA Disabled
    webhook: `+hook.URL+`
    webhook-secret-file: `+secret+`
`), 0o600)
	store := filepath.Join(dir, "audit.db")
	token := createToken(t, store, "app", "write")
	srv := startServe(t, dir, store, "--alerts")
	post := func(body string) {
		req, _ := http.NewRequest("POST", srv.url+"/v1/events", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/x-ndjson")
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("post: %v %v", err, resp)
		}
		resp.Body.Close()
	}
	// The rule starts after the newest event: wait for its cursor.
	cur := filepath.Join(dir, "state", "audit", "alerts", "mfa-off.cursor")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(cur); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no cursor %s", cur)
		}
	}
	post(`{"id":"a1","time":"2026-11-26T14:59:00Z","user":"jdavis","type":"security","action":"MFA Disabled"}
{"id":"a2","time":"2026-11-26T14:59:01Z","user":"jdavis","type":"security","action":"MFA Enabled"}
`)
	// Delivered: the webhook has it and the rule's cursor moved past it
	// (a stop before that would send it again after a restart).
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		b, _ := os.ReadFile(cur)
		if n > 0 && strings.TrimSpace(string(b)) == "2" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no alert delivered (%d at the webhook, cursor %q); server log:\n%s", n, b, srv.stop(t))
		}
	}
	log := srv.stop(t)
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || got[0].Rule != "mfa-off" || got[0].Events[0].ID != "a1" || !sigOK {
		t.Errorf("alerts %+v (signature ok: %v)", got, sigOK)
	}
	if !strings.Contains(log, `msg="alert delivered" rule=mfa-off kind=event seq=2`) {
		t.Errorf("server log:\n%s", log)
	}
	out, _, code := run(t, context.Background(), "", "--store", store, "alerts", "status")
	if code != 0 || !strings.Contains(out, "mfa-off  2       0       0") {
		t.Errorf("status (exit %d):\n%s", code, out)
	}
}
