package alert_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/audit-cli/audit/internal/alert"
	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/cursor"
	"github.com/audit-cli/audit/internal/store/sqlite"
)

var t0 = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)

func openStore(t *testing.T) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "audit.db"), sqlite.Options{PollInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func appendEvents(t *testing.T, st audit.Store, evs ...audit.Event) {
	t.Helper()
	if _, err := st.Append(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
}

// receiver is a webhook on 127.0.0.1 that answers 503 to its first
// failures calls, then 200, and keeps the bodies it accepted.
type receiver struct {
	*httptest.Server
	secret []byte

	mu       sync.Mutex
	calls    int
	failures int
	accepted []alert.Alert
	badSig   int
	got      chan struct{}
}

func newReceiver(t *testing.T, secret string, failures int) *receiver {
	rv := &receiver{secret: []byte(secret), failures: failures, got: make(chan struct{}, 1000)}
	rv.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rv.mu.Lock()
		defer rv.mu.Unlock()
		rv.calls++
		if rv.calls <= rv.failures {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		if r.Header.Get(alert.SignatureHeader) != alert.Sign(rv.secret, body) {
			rv.badSig++
		}
		var a alert.Alert
		if err := json.Unmarshal(body, &a); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		rv.accepted = append(rv.accepted, a)
		rv.got <- struct{}{}
	}))
	t.Cleanup(rv.Close)
	return rv
}

func (rv *receiver) wait(t *testing.T, n int) []alert.Alert {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		rv.mu.Lock()
		got := len(rv.accepted)
		rv.mu.Unlock()
		if got >= n {
			break
		}
		select {
		case <-rv.got:
		case <-deadline:
			t.Fatalf("the webhook got %d alerts, want %d", got, n)
		}
	}
	rv.mu.Lock()
	defer rv.mu.Unlock()
	return append([]alert.Alert(nil), rv.accepted...)
}

// waitCursor waits until the cursor file holds seq: the runner is done
// with the events up to it.
func waitCursor(t *testing.T, path string, seq int64) {
	t.Helper()
	want := fmt.Sprint(seq)
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if b, _ := os.ReadFile(path); strings.TrimSpace(string(b)) == want {
			return
		}
	}
	b, _ := os.ReadFile(path)
	t.Fatalf("the cursor holds %q, want %s", b, want)
}

func run(t *testing.T, r *alert.Runner) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
}

// A webhook that fails its first three calls gets every matching event
// in seq order, signed, and the cursor ends at the last event.
func TestWebhookAtLeastOnce(t *testing.T) {
	st := openStore(t)
	appendEvents(t, st, audit.Event{ID: "before", Time: t0, User: "jdavis", Type: audit.TypeSecurity, Action: "old"})
	rv := newReceiver(t, "s3cret", 3)
	cur := filepath.Join(t.TempDir(), "alerts.cursor")
	r := &alert.Runner{Store: st, After: -1, Cursor: cursor.New(cur, 0),
		Rules:   []*alert.Rule{{Name: "security", Filter: audit.Filter{Types: []audit.Type{audit.TypeSecurity}}}},
		Targets: []alert.Target{&alert.Webhook{URL: rv.URL, Secret: []byte("s3cret")}}, RetryFirst: 5 * time.Millisecond, RetryMax: 20 * time.Millisecond}
	stop := run(t, r)
	waitCursor(t, cur, 1) // the runner starts after the newest event, and saves where
	var evs []audit.Event
	for i := range 30 {
		typ := audit.TypeLogin
		if i%3 == 0 {
			typ = audit.TypeSecurity
		}
		evs = append(evs, audit.Event{ID: fmt.Sprintf("e%02d", i), Time: t0.Add(time.Duration(i) * time.Second), User: "jdavis", Type: typ, Action: "MFA Enabled"})
	}
	appendEvents(t, st, evs...)
	got := rv.wait(t, 10)
	waitCursor(t, cur, 29) // e27, the last security event
	stop()
	var ids []string
	for _, a := range got {
		if a.Kind != alert.KindEvent || len(a.Events) != 1 || !strings.HasPrefix(a.Text, "[security] security: jdavis MFA Enabled") {
			t.Errorf("alert %+v", a)
		}
		ids = append(ids, a.Events[0].ID)
	}
	want := "e00 e03 e06 e09 e12 e15 e18 e21 e24 e27"
	if strings.Join(ids, " ") != want {
		t.Errorf("delivered %v, want %s in order", ids, want)
	}
	if rv.calls != 13 || rv.badSig != 0 {
		t.Errorf("%d calls (want 3 failed + 10), %d bad signatures", rv.calls, rv.badSig)
	}
}

// A restart resumes after the cursor: an event recorded while no runner
// ran is delivered, none twice, and a burst whose alert went out before
// the restart does not fire again for the events after it.
func TestRestartResumes(t *testing.T) {
	st := openStore(t)
	rv := newReceiver(t, "", 0)
	cur := filepath.Join(t.TempDir(), "c")
	newRunner := func() *alert.Runner {
		return &alert.Runner{Store: st, After: -1, Cursor: cursor.New(cur, 0),
			Rules: []*alert.Rule{{Name: "brute", Filter: audit.Filter{Types: []audit.Type{audit.TypeLogin}, Outcome: audit.OutcomeFailure},
				Burst: &alert.Burst{Count: 3, Window: 10 * time.Minute, GroupBy: "ip"}}},
			Targets: []alert.Target{&alert.Webhook{URL: rv.URL}}, RetryFirst: 5 * time.Millisecond}
	}
	fail := func(i int, ip string) audit.Event {
		return audit.Event{ID: fmt.Sprintf("f%02d", i), Time: t0.Add(time.Duration(i) * time.Second), User: "root",
			Type: audit.TypeLogin, Action: "SSH Login", IP: ip, Outcome: audit.OutcomeFailure}
	}
	stop := run(t, newRunner())
	waitCursor(t, cur, 0) // started, after the newest event (none)
	appendEvents(t, st, fail(1, "203.0.113.9"), fail(2, "203.0.113.9"), fail(3, "203.0.113.9"))
	rv.wait(t, 1)
	waitCursor(t, cur, 3)
	stop()
	// While stopped: more failures from the same address (within the
	// cooldown) and a burst from another.
	appendEvents(t, st, fail(4, "203.0.113.9"), fail(5, "198.51.100.7"), fail(6, "198.51.100.7"), fail(7, "198.51.100.7"))
	stop = run(t, newRunner())
	rv.wait(t, 2)
	waitCursor(t, cur, 7)
	stop()
	got := rv.wait(t, 2)
	if len(got) != 2 || got[0].Group != "203.0.113.9" || got[1].Group != "198.51.100.7" || got[1].Count != 3 {
		t.Errorf("alerts %+v", got)
	}
}

// The brute-force simulation of the seed's advice: 50 failed logins from
// one address within a minute among 10,000 ordinary events fire exactly
// one burst alert.
func TestBruteForceOneAlert(t *testing.T) {
	st := openStore(t)
	var evs []audit.Event
	for i := range 10_000 {
		e := audit.Event{ID: fmt.Sprintf("n%05d", i), Time: t0.Add(time.Duration(i) * 200 * time.Millisecond),
			User: fmt.Sprintf("user%d", i%40), Type: audit.Types[i%len(audit.Types)], Action: "Portal Access", IP: fmt.Sprintf("10.0.%d.%d", i%7, i%200)}
		if i%97 == 0 {
			e.Type, e.Outcome = audit.TypeLogin, audit.OutcomeFailure // the odd mistyped password
		}
		evs = append(evs, e)
		if i >= 5000 && i < 5050 {
			evs = append(evs, audit.Event{ID: fmt.Sprintf("bf%02d", i-5000), Time: e.Time.Add(time.Millisecond), User: "admin",
				Type: audit.TypeLogin, Action: "Portal Access", IP: "203.0.113.66", Outcome: audit.OutcomeFailure})
		}
	}
	appendEvents(t, st, evs...)
	rule := &alert.Rule{Name: "brute-force", Filter: audit.Filter{Types: []audit.Type{audit.TypeLogin}, Outcome: audit.OutcomeFailure},
		Burst: &alert.Burst{Count: 5, Window: 10 * time.Minute, GroupBy: "ip"}}
	got, err := alert.Replay(st.Query(context.Background(), audit.Filter{}), []*alert.Rule{rule})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Group != "203.0.113.66" || got[0].Count != 5 || got[0].Events[0].ID != "bf00" {
		t.Fatalf("alerts %+v", got)
	}
	if !strings.Contains(got[0].Text, "burst for ip 203.0.113.66: 5 failed login events within 10m0s") {
		t.Errorf("text %q", got[0].Text)
	}
}

// --exec gets the alert as valid JSON on stdin and its fields in the
// environment; a command that fails is retried, then dead-lettered.
func TestExecAndDeadLetter(t *testing.T) {
	st := openStore(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "alerts.jsonl")
	dead := filepath.Join(dir, "dead.jsonl")
	r := &alert.Runner{Store: st, After: 0, DeadLetter: dead,
		Rules: []*alert.Rule{{Name: "any", Filter: audit.Filter{}}},
		Targets: []alert.Target{
			&alert.Exec{Command: `cat >> ` + out + ` && echo "$AUDIT_ALERT_RULE $AUDIT_EVENT_USER $AUDIT_EVENT_IP" >> ` + out + `.env`},
			&alert.Exec{Command: `echo no pager here >&2; exit 3`},
		},
		RetryFor: 30 * time.Millisecond, RetryFirst: 5 * time.Millisecond, RetryMax: 10 * time.Millisecond}
	delivered := make(chan error, 10)
	r.Sent = func(a *alert.Alert, err error) { delivered <- err }
	appendEvents(t, st, audit.Event{ID: "x1", Time: t0, User: "jdavis", Type: audit.TypeDelete, Action: "Deleted", IP: "10.0.0.55",
		Details: "quote \" and newline \n inside"})
	stop := run(t, r)
	err := <-delivered
	stop()
	if err == nil || !strings.Contains(err.Error(), "exit status 3: no pager here") {
		t.Errorf("delivery error %v", err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var a alert.Alert
	if err := json.Unmarshal(b, &a); err != nil || a.Rule != "any" || a.Events[0].Details != "quote \" and newline \n inside" {
		t.Errorf("stdin of the command: %v %q", err, b)
	}
	if env, _ := os.ReadFile(out + ".env"); string(env) != "any jdavis 10.0.0.55\n" {
		t.Errorf("environment %q", env)
	}
	letters, err := alert.ReadDeadLetters(dead)
	if err != nil || len(letters) != 1 || letters[0].Target != "exec echo no pager here >&2; exit 3" || letters[0].Alert.Seq != 1 {
		t.Errorf("dead letters %+v, %v", letters, err)
	}
}

// A webhook that answers 404 is not tried again: its alert goes to the
// dead letters at once and the runner goes on.
func TestPermanentFailure(t *testing.T) {
	st := openStore(t)
	var calls int
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		mu.Unlock()
		http.NotFound(w, r)
	}))
	defer srv.Close()
	dead := filepath.Join(t.TempDir(), "dead.jsonl")
	r := &alert.Runner{Store: st, After: 0, DeadLetter: dead, Rules: []*alert.Rule{{Name: "any"}},
		Targets: []alert.Target{&alert.Webhook{URL: srv.URL + "/hooks/secret-path"}}, RetryFirst: time.Millisecond}
	sent := make(chan error, 4)
	r.Sent = func(a *alert.Alert, err error) { sent <- err }
	appendEvents(t, st, audit.Event{ID: "a", Time: t0, User: "u", Type: audit.TypeLogin}, audit.Event{ID: "b", Time: t0, User: "u", Type: audit.TypeLogin})
	stop := run(t, r)
	e1, e2 := <-sent, <-sent
	stop()
	if !errors.Is(e1, alert.ErrPermanent) || !errors.Is(e2, alert.ErrPermanent) || calls != 2 {
		t.Errorf("errors %v, %v after %d calls", e1, e2, calls)
	}
	letters, _ := alert.ReadDeadLetters(dead)
	if len(letters) != 2 || strings.Contains(letters[0].Target, "secret-path") {
		t.Errorf("dead letters %+v", letters)
	}
}

// Syslog gets the text with the priority of what fired, facility auth.
func TestSyslog(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "log")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Skip("no unix datagram sockets here:", err)
	}
	defer conn.Close()
	target := &alert.Syslog{Network: "unixgram", Addr: sock}
	burst := alert.Alert{Rule: "r", Kind: alert.KindBurst, Text: "[r] burst", Events: []audit.Event{{Type: audit.TypeLogin, Outcome: audit.OutcomeFailure}}}
	failed := alert.Alert{Rule: "r", Kind: alert.KindEvent, Text: "[r] failed", Events: []audit.Event{{Type: audit.TypeLogin, Outcome: audit.OutcomeFailure}}}
	for _, c := range []struct {
		a    alert.Alert
		want string
	}{{burst, "<33>"}, {failed, "<36>"}} {
		if err := target.Send(context.Background(), &c.a); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 1024)
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		if msg := string(buf[:n]); !strings.HasPrefix(msg, c.want) || !strings.Contains(msg, c.a.Text) || !strings.Contains(msg, "audit[") {
			t.Errorf("syslog got %q, want priority %s", msg, c.want)
		}
	}
}

// No flooding: a burst fires once per group per window and re-arms after
// its cooldown; beyond MaxPerMinute, alerts are one summary.
func TestNoFlooding(t *testing.T) {
	rule := &alert.Rule{Name: "b", Burst: &alert.Burst{Count: 2, Window: time.Minute, GroupBy: "user", Cooldown: 5 * time.Minute}}
	en := alert.NewEngine(rule)
	var got []alert.Alert
	for i := range 20 { // one event every 30 s for 10 minutes
		e := audit.Event{ID: fmt.Sprint(i), Seq: int64(i + 1), Time: t0.Add(time.Duration(i) * 30 * time.Second), User: "eve", Type: audit.TypeLogin}
		got = en.Feed(&e, got)
	}
	if len(got) != 2 || !got[0].Time.Equal(t0.Add(30*time.Second)) || !got[1].Time.Equal(t0.Add(5*time.Minute+30*time.Second)) {
		t.Errorf("bursts at %v", got)
	}

	flood := &alert.Rule{Name: "f", MaxPerMinute: 3}
	en = alert.NewEngine(flood)
	got = nil
	for i := range 10 {
		e := audit.Event{ID: fmt.Sprint(i), Seq: int64(i + 1), Time: t0.Add(time.Duration(i) * time.Second), User: "u", Type: audit.TypeUpdate}
		got = en.Feed(&e, got)
	}
	got = en.Flush(t0.Add(2*time.Minute), got)
	if len(got) != 4 || got[3].Kind != alert.KindSummary || got[3].Count != 7 || got[3].Seq != 10 {
		t.Errorf("flood: %+v", got)
	}
}

// BenchmarkEngine is the cost of evaluating 10 rules (per-event and
// burst ones, as a config might hold) per event.
func BenchmarkEngine(b *testing.B) {
	var rules []*alert.Rule
	for i := range 10 {
		r := &alert.Rule{Name: fmt.Sprint("r", i), MaxPerMinute: 20}
		switch i % 5 {
		case 0:
			r.Filter = audit.Filter{Types: []audit.Type{audit.TypeLogin}, Outcome: audit.OutcomeFailure}
			r.Burst = &alert.Burst{Count: 5, Window: 10 * time.Minute, GroupBy: "ip"}
		case 1:
			r.Filter = audit.Filter{Types: []audit.Type{audit.TypeSecurity}}
		case 2:
			r.Filter = audit.Filter{Users: []string{"root", "admin*"}}
		case 3:
			r.Filter = audit.Filter{ResourceTypes: []string{"api_key"}, Types: []audit.Type{audit.TypeDelete}}
		case 4:
			r.Filter = audit.Filter{Search: "load_multiplier"}
		}
		rules = append(rules, r)
	}
	events := make([]audit.Event, 4096)
	for i := range events {
		events[i] = audit.Event{ID: fmt.Sprint(i), Seq: int64(i), Time: t0.Add(time.Duration(i) * time.Second), User: fmt.Sprint("user", i%50),
			UserName: "Some Body", Type: audit.Types[i%6], Action: "Updated", ResourceType: "server", Resource: "bbb-node-1",
			Details: "Changed weight from 1.0 to 1.5", IP: fmt.Sprint("10.0.0.", i%250)}
		if i%13 == 0 {
			events[i].Outcome = audit.OutcomeFailure
		}
	}
	en := alert.NewEngine(rules...)
	var out []alert.Alert
	b.ResetTimer()
	n := 0
	for b.Loop() {
		e := &events[n%len(events)]
		e.Time = t0.Add(time.Duration(n) * time.Second)
		out = en.Feed(e, out[:0])
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}
