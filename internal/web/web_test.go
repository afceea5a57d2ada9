package web_test

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/server"
	"github.com/audit-cli/audit/internal/store/sqlite"
	"github.com/audit-cli/audit/internal/testutil"
	"github.com/audit-cli/audit/internal/web"
)

// now is the server's clock in these tests: "Today" is 2026-11-26 (UTC).
var now = time.Date(2026, 11, 26, 15, 0, 0, 0, time.UTC)

// env is a real `audit serve` (server.New) on 127.0.0.1 over a real
// SQLite store, with a token of each role.
type env struct {
	t           *testing.T
	store       *sqlite.Store
	srv         *server.Server
	base        string
	log         *testutil.SyncBuffer
	stop        func()
	admin, read string
}

const loginDelay = 150 * time.Millisecond

func newEnv(t *testing.T, opts ...func(*server.Options)) *env {
	t.Helper()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "audit.db"), sqlite.Options{PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, store: st, log: &testutil.SyncBuffer{}}
	e.admin = e.token("admin", audit.RoleAdmin)
	e.read = e.token("reader", audit.RoleRead)
	o := server.Options{Store: st, Tokens: st, Logger: slog.New(slog.NewTextHandler(e.log, nil)),
		Now: func() time.Time { return now }, Location: time.UTC, LoginDelay: loginDelay}
	for _, f := range opts {
		f(&o)
	}
	if e.srv, err = server.New(o); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.base = "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.srv.Serve(ctx, ln) }()
	stopped := false
	e.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		e.srv.Close()
	}
	t.Cleanup(func() {
		e.stop()
		st.Close()
		for _, tok := range []string{e.admin, e.read} {
			if strings.Contains(e.log.String(), tok) {
				t.Errorf("the server's log holds a token:\n%s", e.log)
			}
		}
	})
	return e
}

func (e *env) token(name string, role audit.Role) string {
	e.t.Helper()
	secret, err := server.NewTokenSecret()
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.store.CreateToken(context.Background(), audit.Token{Name: name, Role: role,
		Hash: server.HashToken(secret), Created: time.Now()}); err != nil {
		e.t.Fatal(err)
	}
	return secret
}

func (e *env) add(events ...audit.Event) {
	e.t.Helper()
	if _, err := e.store.Append(context.Background(), events); err != nil {
		e.t.Fatal(err)
	}
}

// seed stores n events, one a minute back from an hour before now,
// alternating users and types.
func (e *env) seed(n int) {
	e.t.Helper()
	e.add(sampleEvents(n)...)
}

func sampleEvents(n int) []audit.Event {
	users := []struct{ login, name string }{{"jdavis", "John Davis"}, {"smiller", "Sarah Miller"}, {"system", ""}}
	var evs []audit.Event
	for i := range n {
		u := users[i%len(users)]
		evs = append(evs, audit.Event{ID: fmt.Sprintf("ev-%03d", i), Time: now.Add(-time.Hour - time.Duration(n-i)*time.Minute),
			User: u.login, UserName: u.name, Type: audit.Types[i%len(audit.Types)], Action: "Updated",
			ResourceType: "server", Resource: fmt.Sprintf("bbb-node-%d", i), IP: "192.168.1.100",
			Details: fmt.Sprintf("change %d", i)})
	}
	return evs
}

// stored is an option of newEnv: the store holds n sample events before
// the server starts (and counts the users of its User menu).
func stored(n int) func(*server.Options) {
	return func(o *server.Options) {
		if _, err := o.Store.Append(context.Background(), sampleEvents(n)); err != nil {
			panic(err)
		}
	}
}

type response struct {
	*http.Response
	body string
}

// get sends a request with the bearer token (none if "") and the cookies,
// never following redirects.
func (e *env) request(method, path, token string, body io.Reader, header ...string) response {
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
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return response{resp, string(b)}
}

func (e *env) get(path, token string) response { return e.request("GET", path, token, nil) }

var seqRE = regexp.MustCompile(`<tr data-seq="(\d+)">`)

func seqs(body string) []string {
	var out []string
	for _, m := range seqRE.FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	return out
}

// Every page carries the security headers, the error pages too.
func TestSecurityHeaders(t *testing.T) {
	e := newEnv(t)
	e.seed(3)
	for _, p := range []struct {
		path, token string
		status      int
	}{
		{"/", e.read, 200}, {"/login", "", 200}, {"/stats", e.read, 200}, {"/verify", e.admin, 200},
		{"/events/ev-001", e.read, 200}, {"/nowhere", e.read, 404}, {"/v2/events", "", 404},
		{"/events/missing", e.read, 404}, {"/?type=bogus", e.read, 400}, {"/", "audit_wrong", 401},
	} {
		r := e.get(p.path, p.token)
		if r.StatusCode != p.status {
			t.Errorf("GET %s: %d, want %d: %s", p.path, r.StatusCode, p.status, r.body)
		}
		h := r.Header
		csp := h.Get("Content-Security-Policy")
		if !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") ||
			strings.Contains(csp, "unsafe-inline") || h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("GET %s: headers %v", p.path, h)
		}
		if ct := h.Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Errorf("GET %s: Content-Type %q", p.path, ct)
		}
		if strings.Contains(r.body, "<script>") || strings.Contains(r.body, " style=") || strings.Contains(r.body, "<style") {
			t.Errorf("GET %s: inline script or style:\n%s", p.path, r.body)
		}
	}
	css := e.get("/static/app.css", "")
	if css.StatusCode != 200 || !strings.HasPrefix(css.Header.Get("Content-Type"), "text/css") {
		t.Errorf("app.css: %d %q", css.StatusCode, css.Header.Get("Content-Type"))
	}
	// The API keeps its JSON errors.
	if r := e.get("/v1/nothing", e.read); r.StatusCode != 404 || r.Header.Get("Content-Type") != "application/json" {
		t.Errorf("GET /v1/nothing: %d %q", r.StatusCode, r.Header.Get("Content-Type"))
	}
}

// A browser without a session goes to the login form; a pasted token
// starts a session held in an opaque, HttpOnly, SameSite=Strict cookie;
// logout ends it; a wrong token is refused, slowed down and recorded.
func TestLoginSession(t *testing.T) {
	e := newEnv(t)
	e.seed(5)
	r := e.get("/stats?range=today", "")
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/login?next=%2Fstats%3Frange%3Dtoday" {
		t.Fatalf("no session: %d to %q", r.StatusCode, r.Header.Get("Location"))
	}
	// The form carries a token that must match its cookie.
	formPage := e.get("/login?next=%2F", "")
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(formPage.body)
	var csrfCookie *http.Cookie
	for _, c := range formPage.Cookies() {
		if c.Name == web.CSRFCookie {
			csrfCookie = c
		}
	}
	if csrf == nil || csrfCookie == nil || csrfCookie.Value != csrf[1] || !csrfCookie.HttpOnly || csrfCookie.SameSite != http.SameSiteStrictMode {
		t.Fatalf("login form without its token: %v\n%s", formPage.Cookies(), formPage.body)
	}
	form := func(token, next, csrfValue string) io.Reader {
		return strings.NewReader(url.Values{"token": {token}, "next": {next}, "csrf": {csrfValue}}.Encode())
	}
	ctype := "application/x-www-form-urlencoded"
	cookie := csrfCookie.Name + "=" + csrfCookie.Value
	// Under Referrer-Policy no-referrer a browser sends Origin: null.
	post := func(token, next, csrfValue, origin string) response {
		return e.request("POST", "/login", "", form(token, next, csrfValue), "Content-Type", ctype, "Origin", origin, "Cookie", cookie)
	}

	start := time.Now()
	bad := post("audit_not-a-token", "/", csrf[1], "null")
	if bad.StatusCode != 401 || !strings.Contains(bad.body, "That token does not work: invalid token.") || strings.Contains(bad.Header.Get("Set-Cookie"), web.SessionCookie) {
		t.Errorf("wrong token: %d %q\n%s", bad.StatusCode, bad.Header.Get("Set-Cookie"), bad.body)
	}
	if took := time.Since(start); took < loginDelay {
		t.Errorf("a failed login answered in %v, before the delay of %v", took, loginDelay)
	}
	for _, c := range []struct{ what, csrf, origin string }{
		{"cross-site", csrf[1], "http://evil.example"},
		{"no form token", "", "null"},
		{"another form token", "forged", e.base},
	} {
		r := post(e.read, "/", c.csrf, c.origin)
		if r.StatusCode != 403 || strings.Contains(r.Header.Get("Set-Cookie"), web.SessionCookie+"=") {
			t.Errorf("%s login: %d %q", c.what, r.StatusCode, r.Header.Get("Set-Cookie"))
		}
	}

	ok := post(e.read, "/stats?range=today", csrf[1], e.base)
	if ok.StatusCode != http.StatusSeeOther || ok.Header.Get("Location") != "/stats?range=today" {
		t.Fatalf("login: %d to %q\n%s", ok.StatusCode, ok.Header.Get("Location"), ok.body)
	}
	var ck *http.Cookie
	for _, c := range ok.Cookies() {
		if c.Name == web.SessionCookie {
			ck = c
		}
	}
	if ck == nil {
		t.Fatalf("no session cookie: %v", ok.Cookies())
	}
	if ck.Name != web.SessionCookie || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/" || ck.Secure ||
		strings.Contains(ck.Value, e.read) || len(ck.Value) < 40 {
		t.Errorf("session cookie %+v", ck)
	}
	withCookie := func(path string) response {
		return e.request("GET", path, "", nil, "Cookie", ck.Name+"="+ck.Value)
	}
	if page := withCookie("/?user=jdavis"); page.StatusCode != 200 || len(seqs(page.body)) != 2 || !strings.Contains(page.body, "reader · read") {
		t.Errorf("with the session: %d, %d rows", page.StatusCode, len(seqs(page.body)))
	}
	if v := withCookie("/verify"); v.StatusCode != 403 || !strings.Contains(v.body, "has the role read; this page needs admin") {
		t.Errorf("verify with a read token: %d\n%s", v.StatusCode, v.body)
	}
	page := withCookie("/")
	logoutCSRF := regexp.MustCompile(`action="/logout"><input type="hidden" name="csrf" value="([^"]+)"`).FindStringSubmatch(page.body)
	if logoutCSRF == nil {
		t.Fatalf("no Sign out form:\n%s", page.body)
	}
	logout := func(csrf string) response {
		return e.request("POST", "/logout", "", strings.NewReader("csrf="+csrf), "Content-Type", ctype, "Cookie", ck.Name+"="+ck.Value, "Origin", "null")
	}
	if forged := logout("forged"); forged.StatusCode != 403 {
		t.Errorf("logout without the form's token: %d", forged.StatusCode)
	}
	if lo := logout(logoutCSRF[1]); lo.StatusCode != http.StatusSeeOther {
		t.Errorf("logout: %d", lo.StatusCode)
	}
	if after := withCookie("/"); after.StatusCode != http.StatusSeeOther || !strings.HasPrefix(after.Header.Get("Location"), "/login?") {
		t.Errorf("after logout: %d to %q", after.StatusCode, after.Header.Get("Location"))
	}
	// Never a redirect to another site.
	ev := post(e.read, "//evil.example/x", csrf[1], e.base)
	if ev.Header.Get("Location") != "/" {
		t.Errorf("next=//evil.example: redirected to %q", ev.Header.Get("Location"))
	}

	e.stop() // writes the pending security events
	var failed []audit.Event
	for ev, err := range e.store.Query(context.Background(), audit.Filter{Types: []audit.Type{audit.TypeSecurity}, Outcome: audit.OutcomeFailure}) {
		if err != nil {
			t.Fatal(err)
		}
		failed = append(failed, ev)
	}
	if len(failed) == 0 || failed[0].Action != "API Authentication Failed" || failed[0].Resource != "/login" || failed[0].IP != "127.0.0.1" {
		t.Errorf("the failed login is not recorded as a security event: %+v", failed)
	}
}

// The filter bar's names are the CLI's, parsed by the same code: the
// rows are the ones the filter selects, and a bad value is a 400 page
// naming it and what is accepted.
func TestFilters(t *testing.T) {
	e := newEnv(t, stored(36))
	r := e.get("/?type=update&user=jdavis", e.read)
	if r.StatusCode != 200 {
		t.Fatalf("%d: %s", r.StatusCode, r.body)
	}
	var want []string
	for ev, err := range e.store.Query(context.Background(), audit.Filter{Types: []audit.Type{audit.TypeUpdate}, Users: []string{"jdavis"}, Order: audit.Descending}) {
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, fmt.Sprint(ev.Seq))
	}
	if got := seqs(r.body); len(want) == 0 || strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("type=update&user=jdavis: rows %v, want %v", got, want)
	}
	if !strings.Contains(r.body, `<option value="update" selected>`) || !strings.Contains(r.body, `<option value="jdavis" selected>`) {
		t.Errorf("the form does not show the filter")
	}
	// The form's empty fields and the pattern box (smiller and system).
	r = e.get("/?type=&user=&user=s*&range=&since=&until=&search=&failed=", e.read)
	if got := len(seqs(r.body)); r.StatusCode != 200 || got != 24 {
		t.Errorf("user=s* from the pattern box: %d, %d rows", r.StatusCode, got)
	}
	for _, c := range []struct{ query, want string }{
		{"type=bogus", `invalid --type: unknown type &#34;bogus&#34; (accepted: login, logout, create, update, delete, security)`},
		{"since=notatime", "--since: "},
		{"range=fortnight", "invalid range &#34;fortnight&#34; (accepted: today, 7d, 30d, this-month, last-month, custom)"},
		{"colour=red", "unknown parameter &#34;colour&#34;"},
		{"ip=10.0.0.300", "invalid --ip"},
		{"tz=Mars/Olympus", "invalid tz &#34;Mars/Olympus&#34;"},
		{"before=-1", "invalid before &#34;-1&#34;"},
	} {
		r := e.get("/?"+c.query, e.read)
		if r.StatusCode != 400 || !strings.Contains(r.body, c.want) {
			t.Errorf("?%s: %d, want 400 with %q:\n%s", c.query, r.StatusCode, c.want, r.body)
		}
	}
	// Time ranges read now in the page's zone.
	r = e.get("/?range=today", e.read)
	if got := len(seqs(r.body)); got != 36 || !strings.Contains(r.body, "Today, 1:59 PM") {
		t.Errorf("range=today: %d rows", got)
	}
	if got := len(seqs(e.get("/?range=last-month", e.read).body)); got != 0 {
		t.Errorf("range=last-month: %d rows, want none", got)
	}
	r = e.get("/?range=today&tz=America/New_York", e.read)
	if !strings.Contains(r.body, `datetime="2026-11-26T08:59:00-05:00"`) || !strings.Contains(r.body, "Today, 8:59 AM") {
		t.Errorf("tz=America/New_York: times not in New York")
	}
	// In Tokyo it is already tomorrow, so nothing happened today.
	if got := len(seqs(e.get("/?range=today&tz=Asia/Tokyo", e.read).body)); got != 0 {
		t.Errorf("range=today&tz=Asia/Tokyo: %d rows, want none", got)
	}
}

// Keyset paging: 50 rows a page by seq, Older and Newer, never a row
// twice or missed.
func TestPaging(t *testing.T) {
	e := newEnv(t)
	e.seed(120)
	link := regexp.MustCompile(`<a rel="(prev|next)" href="([^"]+)">`)
	links := func(body string) map[string]string {
		m := map[string]string{}
		for _, l := range link.FindAllStringSubmatch(body, -1) {
			m[l[1]] = strings.ReplaceAll(l[2], "&amp;", "&")
		}
		return m
	}
	var all []string
	path := "/"
	var pages [][]string
	for range 5 {
		r := e.get(path, e.read)
		rows := seqs(r.body)
		pages = append(pages, rows)
		all = append(all, rows...)
		next, ok := links(r.body)["next"]
		if !ok {
			break
		}
		path = next
	}
	if len(pages) != 3 || len(pages[0]) != 50 || len(pages[1]) != 50 || len(pages[2]) != 20 {
		t.Fatalf("pages of %v", pages)
	}
	for i, s := range all {
		if s != fmt.Sprint(120-i) {
			t.Fatalf("row %d is seq %s, want %d (rows %v)", i, s, 120-i, all)
		}
	}
	if _, ok := links(e.get("/", e.read).body)["prev"]; ok {
		t.Errorf("the first page has a Newer link")
	}
	r := e.get(path, e.read)
	newer := links(r.body)["prev"]
	back := e.get(newer, e.read)
	if got := seqs(back.body); strings.Join(got, ",") != strings.Join(pages[1], ",") {
		t.Errorf("Newer from the last page: %v, want %v", got, pages[1])
	}
	if !strings.Contains(newer, "after=") || strings.Contains(newer, "offset") {
		t.Errorf("Newer link %q", newer)
	}
}

// Export downloads exactly the filter, every page of it, as audit export
// writes CSV: the same header, neutralised formulas, oldest first.
func TestExport(t *testing.T) {
	e := newEnv(t)
	e.seed(130)
	e.add(audit.Event{ID: "formula", Time: now.Add(-time.Minute), User: "mallory", Type: audit.TypeLogin,
		Action: "=HYPERLINK(\"http://evil.example\")", Details: "+1"})
	r := e.get("/export.csv?type=login&range=today", e.read)
	if r.StatusCode != 200 || r.Header.Get("Content-Type") != "text/csv; charset=utf-8" ||
		r.Header.Get("Content-Disposition") != `attachment; filename="audit-2026-11-26_2026-11-26.csv"` {
		t.Fatalf("%d %v", r.StatusCode, r.Header)
	}
	lines := strings.Split(strings.TrimSuffix(r.body, "\n"), "\n")
	if lines[0] != "id,seq,time,user,user_name,type,action,resource_type,resource,details,ip,outcome,hash,source" {
		t.Errorf("header %q", lines[0])
	}
	if len(lines) != 1+22+1 {
		t.Errorf("%d lines, want the header and 23 logins", len(lines))
	}
	if !strings.HasPrefix(lines[1], "ev-000,1,") || !strings.Contains(lines[len(lines)-1], `"'=HYPERLINK(""http://evil.example"")"`) ||
		!strings.Contains(lines[len(lines)-1], ",'+1,") {
		t.Errorf("first %q, last %q", lines[1], lines[len(lines)-1])
	}
	j := e.get("/export.jsonl?user=mallory", e.read)
	if j.StatusCode != 200 || strings.Count(j.body, "\n") != 1 || !strings.Contains(j.body, `"id":"formula"`) ||
		j.Header.Get("Content-Disposition") != `attachment; filename="audit-all.jsonl"` {
		t.Errorf("jsonl: %d %q %s", j.StatusCode, j.Header.Get("Content-Disposition"), j.body)
	}
	if bad := e.get("/export.csv?type=bogus", e.read); bad.StatusCode != 400 || bad.Header.Get("Content-Disposition") != "" {
		t.Errorf("a bad filter exports: %d", bad.StatusCode)
	}
}

// Hostile event text is shown inert: escaped, terminal escapes made
// visible, long details cut in the table, no javascript: link.
func TestHostileText(t *testing.T) {
	e := newEnv(t)
	long := strings.Repeat("A", audit.MaxDetailsLen)
	e.add(audit.Event{ID: "evil<1>", Time: now.Add(-time.Minute), User: "eve", UserName: `<script>alert(1)</script>`,
		Type: audit.TypeSecurity, Action: "javascript:alert(1)", ResourceType: `"><img src=x onerror=alert(1)>`,
		Resource: "\x1b[2J\x1b]0;pwned\x07", Details: long, IP: "10.0.0.66",
		Raw: []byte(`{"payload":"</pre><script>alert(2)</script>"}`)})
	r := e.get("/", e.read)
	for _, bad := range []string{"<script>alert", "<img src=x", `href="javascript:`, "\x1b", long} {
		if strings.Contains(r.body, bad) {
			t.Errorf("the page holds %q", bad[:min(len(bad), 20)])
		}
	}
	for _, want := range []string{"&lt;script&gt;alert(1)&lt;/script&gt;", `\x1b[2J`, `href="/events/evil%3C1%3E"`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if len(r.body) > 100<<10 {
		t.Errorf("page of %d bytes", len(r.body))
	}
	ev := e.get("/events/evil%3C1%3E", e.read)
	if ev.StatusCode != 200 || strings.Contains(ev.body, "<script>alert") || !strings.Contains(ev.body, "&lt;/pre&gt;&lt;script&gt;alert(2)") ||
		!strings.Contains(ev.body, long) {
		t.Errorf("event page: %d", ev.StatusCode)
	}
}

// One event: every field, the hash, the original record pretty-printed.
func TestEventPage(t *testing.T) {
	e := newEnv(t)
	e.add(audit.Event{ID: "ct-1", Time: now.Add(-26 * time.Hour), User: "alice", UserName: "Alice Example", Type: audit.TypeCreate,
		Action: "CreateUser", ResourceType: "iam", Resource: "bob", Source: audit.SourceCloudTrail,
		Raw: []byte(`{"eventID":"ct-1","eventName":"CreateUser"}`)})
	got, err := e.store.Get(context.Background(), "ct-1")
	if err != nil {
		t.Fatal(err)
	}
	r := e.get("/events/ct-1", e.read)
	for _, want := range []string{got.Hash, "Yesterday, 1:00 PM", "cloudtrail", "Original record", "{\n  &#34;eventID&#34;: &#34;ct-1&#34;,\n  &#34;eventName&#34;: &#34;CreateUser&#34;\n}", "Alice Example"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("event page lacks %q:\n%s", want, r.body)
		}
	}
}

// Statistics: the counts of audit stats for the window, as SVG bars, and
// the failed-login bursts with the advice.
func TestStatsPage(t *testing.T) {
	e := newEnv(t)
	e.seed(30)
	var fails []audit.Event
	for i := range 6 {
		fails = append(fails, audit.Event{ID: fmt.Sprintf("f-%d", i), Time: now.Add(-30*time.Minute + time.Duration(i)*time.Minute),
			User: "mjohnson", Type: audit.TypeLogin, Action: "Portal Access", IP: "203.45.67.89", Outcome: audit.OutcomeFailure})
	}
	e.add(fails...)
	r := e.get("/stats", e.read)
	if r.StatusCode != 200 {
		t.Fatalf("%d: %s", r.StatusCode, r.body)
	}
	for _, want := range []string{"<strong>36</strong> events, <strong>6</strong> failed", "<svg", "<title>login: 11 events, 6 failed</title>",
		"Investigate failed logins", `href="/?failed=1&amp;type=login&amp;user=mjohnson"`, "(the last 7 days)"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("stats page lacks %q:\n%s", want, r.body)
		}
	}
}

// Integrity runs the verification: OK on an intact chain, 409 on one
// that was changed behind the store's back.
func TestVerifyPage(t *testing.T) {
	e := newEnv(t)
	e.seed(10)
	if r := e.get("/verify", e.admin); r.StatusCode != 200 || !strings.Contains(r.body, "<strong>OK:</strong> 10 events verified") {
		t.Errorf("intact: %d\n%s", r.StatusCode, r.body)
	}
	db, err := sql.Open("sqlite3", e.store.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`UPDATE events SET details = 'nothing to see' WHERE id = 'ev-004'`); err != nil {
		t.Fatal(err)
	}
	if r := e.get("/verify", e.admin); r.StatusCode != 409 || !strings.Contains(r.body, "The chain does not verify") {
		t.Errorf("tampered: %d\n%s", r.StatusCode, r.body)
	}
}

// Live mode streams the rows of new events as Server-Sent Events.
func TestLive(t *testing.T) {
	e := newEnv(t)
	e.seed(2)
	page := e.get("/?live=1", e.read)
	if !strings.Contains(page.body, `data-live="/live?after=2"`) || !strings.Contains(page.body, `<noscript><meta http-equiv="refresh"`) {
		t.Fatalf("live page:\n%s", page.body)
	}
	req, _ := http.NewRequest("GET", e.base+"/live?after=2&type=security", nil)
	req.Header.Set("Authorization", "Bearer "+e.read)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("Content-Type %q", resp.Header.Get("Content-Type"))
	}
	e.add(audit.Event{ID: "new-login", Time: now, User: "jdavis", Type: audit.TypeLogin, Action: "Portal Access"},
		audit.Event{ID: "new-mfa", Time: now, User: "jdavis", UserName: "John Davis", Type: audit.TypeSecurity, Action: "MFA Enabled"})
	sc := bufio.NewScanner(resp.Body)
	var msg []string
	for sc.Scan() {
		if sc.Text() == "" && len(msg) > 0 && strings.HasPrefix(msg[len(msg)-1], "data: ") {
			break // the end of the first event
		}
		if sc.Text() != "" {
			msg = append(msg, sc.Text())
		}
	}
	text := strings.Join(msg, "\n")
	if !strings.Contains(text, "id: 4\n") || !strings.Contains(text, "data: <tr data-seq=\"4\">") || !strings.Contains(text, "MFA Enabled") ||
		strings.Contains(text, "Portal Access") {
		t.Errorf("stream:\n%s", text)
	}
}

// --insecure-no-auth: every page without a login.
func TestInsecureNoAuth(t *testing.T) {
	e := newEnv(t, func(o *server.Options) { o.InsecureNoAuth = true; o.Tokens = nil })
	e.seed(3)
	if r := e.get("/verify", ""); r.StatusCode != 200 || !strings.Contains(r.body, "No authentication") {
		t.Errorf("%d\n%s", r.StatusCode, r.body)
	}
}
