package server_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/server"
	"github.com/audit-cli/audit/internal/store/sqlite"
	"github.com/audit-cli/audit/internal/store/storetest"
	"github.com/audit-cli/audit/internal/testutil"
)

// env is a server on 127.0.0.1 over a fresh SQLite store, with a token of
// each role.
type env struct {
	t      *testing.T
	store  *sqlite.Store
	srv    *server.Server
	base   string
	log    *testutil.SyncBuffer
	cancel context.CancelFunc
	done   chan error

	admin, write, read string
}

func newEnv(t *testing.T, opts ...func(*server.Options)) *env {
	t.Helper()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "audit.db"), sqlite.Options{PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, store: st, log: &testutil.SyncBuffer{}}
	e.admin = e.token("admin", audit.RoleAdmin, time.Time{})
	e.write = e.token("writer", audit.RoleWrite, time.Time{})
	e.read = e.token("reader", audit.RoleRead, time.Time{})
	o := server.Options{Store: st, Tokens: st, Logger: slog.New(slog.NewTextHandler(e.log, nil)),
		KeepAlive: 100 * time.Millisecond}
	for _, f := range opts {
		f(&o)
	}
	e.srv, err = server.New(o)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.base = "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel, e.done = cancel, make(chan error, 1)
	go func() { e.done <- e.srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		e.shutdown()
		st.Close()
		for _, tok := range []string{e.admin, e.write, e.read} {
			if strings.Contains(e.log.String(), tok) {
				t.Errorf("the log holds a token:\n%s", e.log)
			}
		}
	})
	return e
}

func (e *env) shutdown() {
	if e.cancel == nil {
		return
	}
	e.cancel()
	if err := <-e.done; err != nil {
		e.t.Errorf("Serve: %v", err)
	}
	e.srv.Close()
	e.cancel = nil
}

func (e *env) token(name string, role audit.Role, expires time.Time) string {
	e.t.Helper()
	secret, err := server.NewTokenSecret()
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.store.CreateToken(context.Background(), audit.Token{Name: name, Role: role,
		Hash: server.HashToken(secret), Created: time.Now(), Expires: expires}); err != nil {
		e.t.Fatal(err)
	}
	return secret
}

// do sends a request and returns the response with its body read.
func (e *env) do(method, path, token string, body io.Reader, header ...string) (*http.Response, string) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.base+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp, string(b)
}

// errorOf returns the "error" of a JSON error body, failing the test when
// the body is no such thing.
func errorOf(t *testing.T, resp *http.Response, body string) string {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("error response of type %q: %s", ct, body)
	}
	var eb struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal([]byte(body), &eb); err != nil || eb.Error == "" {
		t.Fatalf("error body %q is not {\"error\": ...}", body)
	}
	return eb.Error
}

func (e *env) seed(n int) []audit.Event {
	e.t.Helper()
	events := storetest.Events(n, 1)
	if _, err := e.store.Append(context.Background(), events); err != nil {
		e.t.Fatal(err)
	}
	return events
}

func TestHealthz(t *testing.T) {
	e := newEnv(t)
	resp, body := e.do("GET", "/healthz", "", nil)
	if resp.StatusCode != 200 || strings.TrimSpace(body) != `{"status":"ok"}` {
		t.Fatalf("healthz: %d %s", resp.StatusCode, body)
	}
}

// TestAuth is the security table: each case a request and the answer it
// must get.
func TestAuth(t *testing.T) {
	e := newEnv(t)
	e.seed(3)
	expired := e.token("expired", audit.RoleAdmin, time.Now().Add(-time.Minute))
	revoked := e.token("revoked", audit.RoleAdmin, time.Time{})
	if err := e.store.RevokeToken(context.Background(), "revoked"); err != nil {
		t.Fatal(err)
	}
	future := e.token("future", audit.RoleRead, time.Now().Add(time.Hour))
	post := `{"id":"p-%s","time":"2026-11-20T14:00:00Z","user":"jdavis","type":"login"}`
	cases := []struct {
		name   string
		method string
		path   string
		header string // the whole Authorization header
		body   string
		status int
		msg    string
	}{
		{"no token", "GET", "/v1/events", "", "", 401, "authentication required"},
		{"no token watch", "GET", "/v1/events/watch", "", "", 401, "authentication required"},
		{"no token get", "GET", "/v1/events/x", "", "", 401, "authentication required"},
		{"no token post", "POST", "/v1/events", "", fmt.Sprintf(post, "a"), 401, "authentication required"},
		{"basic auth", "GET", "/v1/events", "Basic " + e.admin, "", 401, "authentication required"},
		{"empty bearer", "GET", "/v1/events", "Bearer ", "", 401, "authentication required"},
		{"wrong token", "GET", "/v1/events", "Bearer audit_guess", "", 401, "invalid token"},
		{"token with suffix", "GET", "/v1/events", "Bearer " + e.admin + "x", "", 401, "invalid token"},
		{"token prefix", "GET", "/v1/events", "Bearer " + e.admin[:20], "", 401, "invalid token"},
		{"expired token", "GET", "/v1/events", "Bearer " + expired, "", 401, "token expired"},
		{"revoked token", "GET", "/v1/events", "Bearer " + revoked, "", 401, "invalid token"},
		{"read token records", "POST", "/v1/events", "Bearer " + e.read, fmt.Sprintf(post, "b"), 403, `token "reader" has role read; this request needs write`},
		{"read token lists", "GET", "/v1/events", "Bearer " + e.read, "", 200, ""},
		{"read token gets", "GET", "/v1/events/" + url.PathEscape(storetest.Events(1, 1)[0].ID), "Bearer " + e.read, "", 200, ""},
		{"bearer case-insensitive", "GET", "/v1/events", "bearer " + e.read, "", 200, ""},
		{"unexpired token", "GET", "/v1/events", "Bearer " + future, "", 200, ""},
		{"write token records", "POST", "/v1/events", "Bearer " + e.write, fmt.Sprintf(post, "c"), 200, ""},
		{"admin token records", "POST", "/v1/events", "Bearer " + e.admin, fmt.Sprintf(post, "d"), 200, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var header []string
			if c.header != "" {
				header = []string{"Authorization", c.header}
			}
			var body io.Reader
			if c.body != "" {
				body = strings.NewReader(c.body)
				header = append(header, "Content-Type", "application/x-ndjson")
			}
			resp, got := e.do(c.method, c.path, "", body, header...)
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, c.status, got)
			}
			if c.status >= 400 {
				if msg := errorOf(t, resp, got); !strings.Contains(msg, c.msg) {
					t.Fatalf("error %q, want it to say %q", msg, c.msg)
				}
				for _, tok := range []string{e.admin, e.read, expired, revoked} {
					if strings.Contains(got, tok) {
						t.Fatalf("the answer holds a token: %s", got)
					}
				}
			}
			if c.status == 401 && resp.Header.Get("WWW-Authenticate") != `Bearer realm="audit"` {
				t.Fatalf("401 without WWW-Authenticate")
			}
		})
	}
}

// securityEvents waits until the store holds n failed security events and
// returns them.
func (e *env) securityEvents(n int) []audit.Event {
	e.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var got []audit.Event
		for ev, err := range e.store.Query(context.Background(), audit.Filter{Types: []audit.Type{audit.TypeSecurity}, Outcome: audit.OutcomeFailure}) {
			if err != nil {
				e.t.Fatal(err)
			}
			got = append(got, ev)
		}
		if len(got) >= n || time.Now().After(deadline) {
			if len(got) != n {
				e.t.Fatalf("%d failed security events, want %d: %+v", len(got), n, got)
			}
			return got
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestFailedAuthRecorded: failed authentications become security events
// with outcome failure and the client's address, at most one per address
// and interval; the others are counted.
func TestFailedAuthRecorded(t *testing.T) {
	e := newEnv(t, func(o *server.Options) { o.FailureInterval = 400 * time.Millisecond })
	for range 20 {
		if resp, _ := e.do("GET", "/v1/events?type=login", "audit_guess", nil); resp.StatusCode != 401 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	got := e.securityEvents(1)[0]
	if got.IP != "127.0.0.1" || got.User != "anonymous" || got.Action != "API Authentication Failed" ||
		!strings.Contains(got.Details, "unknown or revoked bearer token for GET /v1/events") {
		t.Fatalf("security event %+v", got)
	}
	// Once the interval is over, a summary counts the suppressed ones.
	summary := e.securityEvents(2)[1]
	if !strings.Contains(summary.Details, "19 more failed requests from 127.0.0.1") || summary.IP != "127.0.0.1" {
		t.Fatalf("summary event %+v", summary)
	}
	// A quiet address gets its next failure recorded at once.
	time.Sleep(500 * time.Millisecond)
	e.do("GET", "/v1/events", "", nil)
	if got := e.securityEvents(3)[2]; !strings.Contains(got.Details, "missing bearer token") {
		t.Fatalf("third event %+v", got)
	}
	// They are found as the issue promises.
	resp, body := e.do("GET", "/v1/events?type=security&outcome=failure", e.read, nil)
	if resp.StatusCode != 200 || strings.Count(body, "\n") != 3 {
		t.Fatalf("list of failed security events: %d\n%s", resp.StatusCode, body)
	}
}

func TestForbiddenRecorded(t *testing.T) {
	e := newEnv(t)
	resp, _ := e.do("POST", "/v1/events", e.read, strings.NewReader("[]"), "Content-Type", "application/json")
	if resp.StatusCode != 403 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	got := e.securityEvents(1)[0]
	if got.User != "reader" || got.Action != "API Permission Denied" || got.IP != "127.0.0.1" {
		t.Fatalf("security event %+v", got)
	}
}

func TestExpiredRecorded(t *testing.T) {
	e := newEnv(t)
	expired := e.token("old", audit.RoleRead, time.Now().Add(-time.Hour))
	e.do("GET", "/v1/events", expired, nil)
	got := e.securityEvents(1)[0]
	if got.User != "old" || !strings.Contains(got.Details, `token "old" expired at`) {
		t.Fatalf("security event %+v", got)
	}
}

// TestBadFilters: a filter the server cannot read is a 400 naming the
// parameter.
func TestBadFilters(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct{ query, param string }{
		{"type=bogus", "parameter type"},
		{"type=login,bogus", "parameter type"},
		{"limit=-1", "parameter limit"},
		{"limit=ten", "parameter limit"},
		{"since=yesterday", "parameter since"},
		{"until=2026-13-01T00:00:00Z", "parameter until"},
		{"ip=300.1.2.3", "parameter ip"},
		{"ip=10.0.0.0/33", "parameter ip"},
		{"outcome=maybe", "parameter outcome"},
		{"order=sideways", "parameter order"},
		{"after=x", "parameter after"},
		{"before=-5", "parameter before"},
		{"token=secret", "parameter token"},
	} {
		for _, path := range []string{"/v1/events?", "/v1/events/watch?"} {
			resp, body := e.do("GET", path+c.query, e.read, nil)
			if resp.StatusCode != 400 {
				t.Fatalf("%s%s: status %d, want 400", path, c.query, resp.StatusCode)
			}
			if msg := errorOf(t, resp, body); !strings.Contains(msg, c.param) {
				t.Fatalf("%s%s: error %q does not name %q", path, c.query, msg, c.param)
			}
		}
	}
	resp, body := e.do("GET", "/v1/events/watch", e.read, nil, "Last-Event-ID", "abc")
	if resp.StatusCode != 400 || !strings.Contains(errorOf(t, resp, body), "Last-Event-ID") {
		t.Fatalf("bad Last-Event-ID: %d %s", resp.StatusCode, body)
	}
	// The secret-looking parameter is logged by name only.
	if strings.Contains(e.log.String(), "token=secret") {
		t.Fatalf("the log holds a query value that is not a filter:\n%s", e.log)
	}
}

// TestBodyTooLarge: a body over the limit is refused with 413, whether
// its length is announced or not, and nothing of it is stored.
func TestBodyTooLarge(t *testing.T) {
	e := newEnv(t, func(o *server.Options) { o.MaxBody = 4096 })
	var ndjson, array bytes.Buffer
	array.WriteString("[")
	for i, ev := range storetest.Events(40, 1) {
		b, _ := json.Marshal(ev)
		ndjson.Write(append(b, '\n'))
		if i > 0 {
			array.WriteString(",")
		}
		array.Write(b)
	}
	array.WriteString("]")
	for _, c := range []struct {
		name, ctype string
		body        []byte
		chunked     bool
	}{
		{"ndjson", "application/x-ndjson", ndjson.Bytes(), false},
		{"ndjson chunked", "application/x-ndjson", ndjson.Bytes(), true},
		{"array chunked", "application/json", array.Bytes(), true},
	} {
		var body io.Reader = bytes.NewReader(c.body)
		if c.chunked {
			body = io.MultiReader(body) // hides the length
		}
		resp, got := e.do("POST", "/v1/events", e.write, body, "Content-Type", c.ctype)
		if resp.StatusCode != 413 {
			t.Fatalf("%s: status %d, want 413: %s", c.name, resp.StatusCode, got)
		}
		if msg := errorOf(t, resp, got); !strings.Contains(msg, "limit of 4096 bytes") {
			t.Fatalf("%s: error %q", c.name, msg)
		}
	}
	if resp, body := e.do("GET", "/v1/events", e.read, nil); resp.StatusCode != 200 || body != "" {
		t.Fatalf("after refused bodies the store holds: %s", body)
	}
}

// TestPost: the body formats, idempotency, the answer, and validation
// errors naming the record and field.
func TestPost(t *testing.T) {
	e := newEnv(t)
	post := func(ctype, body string) (int, map[string]any) {
		t.Helper()
		resp, got := e.do("POST", "/v1/events", e.write, strings.NewReader(body), "Content-Type", ctype)
		var m map[string]any
		if err := json.Unmarshal([]byte(got), &m); err != nil {
			t.Fatalf("answer %q: %v", got, err)
		}
		return resp.StatusCode, m
	}
	ndjson := `{"id":"a","time":"2026-11-20T14:00:00Z","user":"jdavis","type":"login"}
{"id":"b","time":"2026-11-20T14:01:00Z","user":"jdavis","type":"logout"}
`
	status, m := post("application/x-ndjson", ndjson)
	if status != 200 || m["added"] != 2.0 || m["existing"] != 0.0 {
		t.Fatalf("POST: %d %v", status, m)
	}
	if a := m["assigned"].([]any); len(a) != 2 || a[0].(map[string]any)["seq"] != 1.0 || a[1].(map[string]any)["hash"] == "" {
		t.Fatalf("assigned %v", m["assigned"])
	}
	status, m = post("application/json", `[{"id":"a","time":"2026-11-20T14:00:00Z","user":"jdavis","type":"login"},
 {"time":"2026-11-20T14:02:00Z","user":"smiller","type":"create","action":"Created"}]`)
	if status != 200 || m["added"] != 1.0 || m["existing"] != 1.0 {
		t.Fatalf("POST array: %d %v", status, m)
	}
	status, m = post("text/csv; charset=utf-8", "time,user,type\n2026-11-20T14:03:00Z,system,delete\n")
	if status != 200 || m["added"] != 1.0 {
		t.Fatalf("POST csv: %d %v", status, m)
	}
	status, m = post("application/json", "")
	if status != 200 || m["added"] != 0.0 {
		t.Fatalf("POST empty: %d %v", status, m)
	}
	// One bad record fails the whole request.
	status, m = post("application/x-ndjson", `{"id":"c","time":"2026-11-20T14:00:00Z","user":"jdavis","type":"login"}

{"id":"d","time":"2026-11-20T14:00:00Z","user":"jdavis","type":"hack"}
`)
	if status != 400 || m["record"] != 2.0 || m["field"] != "type" || !strings.Contains(m["error"].(string), `line 3: type: unknown type "hack"`) {
		t.Fatalf("POST bad record: %d %v", status, m)
	}
	status, m = post("application/x-ndjson", `{"id":"e","time":"2026-11-20T14:00:00Z","user":"jdavis","type":"login","extra":1}`)
	if status != 400 || !strings.Contains(m["error"].(string), "unknown field") {
		t.Fatalf("POST unknown field: %d %v", status, m)
	}
	status, m = post("application/xml", "<event/>")
	if status != 415 {
		t.Fatalf("POST xml: %d %v", status, m)
	}
	resp, body := e.do("GET", "/v1/events", e.read, nil)
	if resp.StatusCode != 200 || strings.Count(body, "\n") != 4 {
		t.Fatalf("stored after the posts:\n%s", body)
	}
}

// TestSQLMetacharacters: filter values full of SQL syntax match what
// audit.Filter.Match says, and harm nothing.
func TestSQLMetacharacters(t *testing.T) {
	e := newEnv(t)
	events := storetest.Events(60, 1)
	nasty := []string{`' OR '1'='1`, `"; DROP TABLE events; --`, `%`, `_`, `\`, `'); DELETE FROM tokens; --`, `1 UNION SELECT * FROM tokens`, `*' OR 1=1 --*`}
	for i, v := range nasty {
		events[i].User, events[i].Resource, events[i].Details = v, v, "details "+v
	}
	if _, err := e.store.Append(context.Background(), events); err != nil {
		t.Fatal(err)
	}
	var stored []audit.Event
	for ev, err := range e.store.Query(context.Background(), audit.Filter{}) {
		if err != nil {
			t.Fatal(err)
		}
		stored = append(stored, ev)
	}
	for _, v := range append(nasty, "*", "*'*", `*"*`, "*%*", "*_*") {
		for _, param := range []string{"user", "resource", "action", "resource_type", "search"} {
			q := url.Values{param: {v}}
			f, err := audit.ParseValues(q)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, ev := range stored {
				if f.Match(&ev) {
					want = append(want, ev.ID)
				}
			}
			resp, body := e.do("GET", "/v1/events?"+q.Encode(), e.read, nil)
			if resp.StatusCode != 200 {
				t.Fatalf("%s=%q: status %d %s", param, v, resp.StatusCode, body)
			}
			var got []string
			for line := range strings.Lines(body) {
				var ev audit.Event
				if err := json.Unmarshal([]byte(line), &ev); err != nil {
					t.Fatal(err)
				}
				got = append(got, ev.ID)
			}
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Fatalf("%s=%q: got %v, want %v", param, v, got, want)
			}
		}
	}
	if tokens, err := e.store.Tokens(context.Background()); err != nil || len(tokens) != 3 {
		t.Fatalf("tokens after the queries: %d, %v", len(tokens), err)
	}
	resp, body := e.do("GET", "/v1/events", e.read, nil)
	if resp.StatusCode != 200 || strings.Count(body, "\n") != 60 {
		t.Fatalf("events after the queries: %d", strings.Count(body, "\n"))
	}
}

// TestSlowHeaders: a client that never finishes its request headers is
// dropped after ReadHeaderTimeout.
func TestSlowHeaders(t *testing.T) {
	e := newEnv(t, func(o *server.Options) { o.ReadHeaderTimeout = 200 * time.Millisecond })
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n", e.read)
	start := time.Now()
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(conn) // returns once the server hangs up
	if err != nil {
		t.Fatalf("the server kept the connection: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("dropped after %v", d)
	}
	if strings.Contains(string(b), "200 OK") {
		t.Fatalf("answered an unfinished request: %s", b)
	}
}

// watch opens a watch stream and returns a reader of its lines.
func (e *env) watch(query, lastID string) (*http.Response, *bufio.Scanner, context.CancelFunc) {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", e.base+"/v1/events/watch?"+query, nil)
	req.Header.Set("Authorization", "Bearer "+e.read)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { cancel(); resp.Body.Close() })
	return resp, bufio.NewScanner(resp.Body), cancel
}

// TestWatchSSE: the stream format, resumption from Last-Event-ID, and
// keep-alive comments.
func TestWatchSSE(t *testing.T) {
	e := newEnv(t)
	events := e.seed(5)
	resp, sc, _ := e.watch("type="+string(events[3].Type), strings.TrimSpace(fmt.Sprint(events[2].Seq)))
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("watch: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var lines []string
	keepAlive := false
	for sc.Scan() && !keepAlive {
		lines = append(lines, sc.Text())
		keepAlive = sc.Text() == ": keep-alive"
	}
	text := strings.Join(lines, "\n")
	var want []string
	for _, ev := range events[3:] {
		if ev.Type == events[3].Type {
			b, _ := json.Marshal(ev)
			want = append(want, fmt.Sprintf("id: %d\ndata: %s\n", ev.Seq, b))
		}
	}
	if !strings.HasPrefix(text, "retry: 1000\n\n"+strings.Join(want, "\n")) {
		t.Fatalf("stream:\n%s\nwant the events:\n%s", text, strings.Join(want, "\n"))
	}
}

// TestMaxWatchers: watchers beyond the cap get 503.
func TestMaxWatchers(t *testing.T) {
	e := newEnv(t, func(o *server.Options) { o.MaxWatchers = 2 })
	_, sc1, cancel1 := e.watch("", "")
	sc1.Scan()
	_, sc2, _ := e.watch("", "")
	sc2.Scan()
	resp, body := e.do("GET", "/v1/events/watch", e.read, nil)
	if resp.StatusCode != 503 || !strings.Contains(errorOf(t, resp, body), "too many watchers") || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("third watcher: %d %s", resp.StatusCode, body)
	}
	cancel1()
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, sc, cancel := e.watch("", "")
		if resp.StatusCode == 200 {
			sc.Scan()
			cancel()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no watcher allowed after one left")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestGracefulShutdown: on shutdown, a request in flight completes, and
// watch streams end.
func TestGracefulShutdown(t *testing.T) {
	e := newEnv(t)
	_, sc, _ := e.watch("", "")
	sc.Scan()

	pr, pw := io.Pipe()
	result := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest("POST", e.base+"/v1/events", pr)
		req.Header.Set("Authorization", "Bearer "+e.write)
		req.Header.Set("Content-Type", "application/x-ndjson")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Errorf("POST in flight: %v", err)
			result <- 0
			return
		}
		resp.Body.Close()
		result <- resp.StatusCode
	}()
	fmt.Fprintln(pw, `{"id":"in-flight-1","time":"2026-11-20T14:00:00Z","user":"jdavis","type":"login"}`)
	time.Sleep(100 * time.Millisecond) // the request is being served

	stopped := make(chan struct{})
	go func() { e.shutdown(); close(stopped) }()
	time.Sleep(100 * time.Millisecond)
	// The stream ended.
	for sc.Scan() {
	}
	fmt.Fprintln(pw, `{"id":"in-flight-2","time":"2026-11-20T14:00:01Z","user":"jdavis","type":"logout"}`)
	pw.Close()
	if status := <-result; status != 200 {
		t.Fatalf("the request in flight got %d", status)
	}
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("shutdown did not finish")
	}
	if _, err := e.store.Get(context.Background(), "in-flight-2"); err != nil {
		t.Fatalf("the request in flight was not stored: %v", err)
	}
	if _, err := net.Dial("tcp", strings.TrimPrefix(e.base, "http://")); err == nil {
		t.Fatal("still accepting after shutdown")
	}
}

func TestNotFoundAndMethods(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/v1/nothing", 404},
		{"GET", "/v1/", 404},
		{"DELETE", "/v1/events", 405},
		{"PUT", "/v1/events/x", 405},
		{"POST", "/healthz", 405},
		{"GET", "/v1/events/missing", 404},
	} {
		resp, body := e.do(c.method, c.path, e.admin, nil)
		if resp.StatusCode != c.status {
			t.Fatalf("%s %s: %d, want %d", c.method, c.path, resp.StatusCode, c.status)
		}
		errorOf(t, resp, body)
	}
}

// TestListPage: the NDJSON answer, its page header, and the cap.
func TestListPage(t *testing.T) {
	e := newEnv(t, func(o *server.Options) { o.MaxPage = 4 })
	events := e.seed(10)
	resp, body := e.do("GET", "/v1/events?order=desc", e.read, nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-ndjson" || resp.Header.Get(server.PageLimitHeader) != "4" {
		t.Fatalf("list: %d %v", resp.StatusCode, resp.Header)
	}
	var want strings.Builder
	for i := 9; i >= 6; i-- {
		b, _ := json.Marshal(events[i])
		want.Write(append(b, '\n'))
	}
	if body != want.String() {
		t.Fatalf("list:\n%s\nwant:\n%s", body, want.String())
	}
	resp, _ = e.do("GET", "/v1/events?limit=2", e.read, nil)
	if resp.Header.Get(server.PageLimitHeader) != "2" {
		t.Fatalf("limit 2: page limit %s", resp.Header.Get(server.PageLimitHeader))
	}
}

// TestAccessLog: one line per request with the token's name, never its
// secret.
func TestAccessLog(t *testing.T) {
	e := newEnv(t)
	e.do("GET", "/v1/events?user=jdavis&type=login", e.read, nil)
	e.do("GET", "/v1/events", "audit_not-a-real-token", nil)
	log := e.log.String()
	for _, want := range []string{
		`msg=request method=GET path=/v1/events query="type=login&user=jdavis" status=200`,
		`ip=127.0.0.1 token=reader`,
		`status=401`,
	} {
		if !strings.Contains(log, want) {
			t.Errorf("the log lacks %q:\n%s", want, log)
		}
	}
	if strings.Contains(log, "audit_not-a-real-token") {
		t.Errorf("the log holds a presented token:\n%s", log)
	}
}

func TestNew(t *testing.T) {
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "audit.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := server.New(server.Options{Store: st}); err == nil {
		t.Fatal("New without tokens succeeded")
	}
	s, err := server.New(server.Options{Store: st, InsecureNoAuth: true})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := server.New(server.Options{}); err == nil || errors.Is(err, nil) {
		t.Fatal("New without a store succeeded")
	}
}

func TestTokenSecrets(t *testing.T) {
	a, _ := server.NewTokenSecret()
	b, _ := server.NewTokenSecret()
	if a == b || !strings.HasPrefix(a, server.TokenPrefix) || len(a) != len(server.TokenPrefix)+43 {
		t.Fatalf("secrets %q %q", a, b)
	}
	if h := server.HashToken("x"); h != "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881" {
		t.Fatalf("HashToken(x) = %s", h)
	}
}

// blockingStore holds its first Query until release is closed.
type blockingStore struct {
	*sqlite.Store
	queries atomic.Int32
	release chan struct{}
}

func (b *blockingStore) Query(ctx context.Context, f audit.Filter) iter.Seq2[audit.Event, error] {
	if b.queries.Add(1) == 1 {
		<-b.release
	}
	return b.Store.Query(ctx, f)
}

// TestMaxQueries: queries beyond the bound wait their turn; writes do not
// wait for queries.
func TestMaxQueries(t *testing.T) {
	var bs *blockingStore
	e := newEnv(t, func(o *server.Options) {
		bs = &blockingStore{Store: o.Store.(*sqlite.Store), release: make(chan struct{})}
		o.Store, o.MaxQueries = bs, 1
	})
	e.seed(3)
	results := make(chan int, 2)
	for range 2 {
		go func() {
			resp, _ := e.do("GET", "/v1/events", e.read, nil)
			results <- resp.StatusCode
		}()
	}
	time.Sleep(200 * time.Millisecond)
	if n := bs.queries.Load(); n != 1 {
		t.Fatalf("%d queries reached the store, want 1 (the bound)", n)
	}
	resp, body := e.do("POST", "/v1/events", e.write, strings.NewReader(`{"id":"w","time":"2026-11-20T14:00:00Z","user":"u","type":"login"}`), "Content-Type", "application/x-ndjson")
	if resp.StatusCode != 200 {
		t.Fatalf("a write while queries wait: %d %s", resp.StatusCode, body)
	}
	close(bs.release)
	for range 2 {
		if status := <-results; status != 200 {
			t.Fatalf("query: %d", status)
		}
	}
	if n := bs.queries.Load(); n != 2 {
		t.Fatalf("%d queries, want 2", n)
	}
}
