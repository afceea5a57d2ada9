package server_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/server"
	"github.com/audit-cli/audit/internal/store/sqlite"
	"github.com/audit-cli/audit/internal/store/storetest"
)

// decode unmarshals a JSON answer, failing the test when it is none.
func decode(t *testing.T, body string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("answer %q: %v", body, err)
	}
}

// TestStats: GET /v1/stats and /v1/stats/logins answer what the store
// computes; bad parameters get 400 naming them.
func TestStats(t *testing.T) {
	e := newEnv(t)
	if _, err := e.store.Append(context.Background(), storetest.KnownWeek()); err != nil {
		t.Fatal(err)
	}
	q := audit.StatsQuery{Filter: audit.Filter{Users: []string{"jdavis"}},
		Tables: []audit.StatsTable{{By: []audit.Dimension{audit.DimType}}, {By: []audit.Dimension{audit.DimDay, audit.DimOutcome}, Top: 3}},
		Zone:   audit.ZoneIn(time.FixedZone("", 5*3600+1800), time.Time{}, time.Time{})}
	want, err := e.store.Stats(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	resp, body := e.do("GET", "/v1/stats?"+q.Values().Encode(), e.read, nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("stats: %d %s", resp.StatusCode, body)
	}
	var got audit.StatsResult
	decode(t, body, &got)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("stats:\n%+v\nwant\n%+v", got, want)
	}
	// No tables: the totals, and an empty list of tables.
	resp, body = e.do("GET", "/v1/stats", e.read, nil)
	if resp.StatusCode != 200 || !strings.Contains(body, `"tables":[]`) || !strings.Contains(body, `"total":52`) {
		t.Fatalf("stats without tables: %d %s", resp.StatusCode, body)
	}

	bq := audit.BurstQuery{Threshold: 3, Window: 5 * time.Minute}
	resp, body = e.do("GET", "/v1/stats/logins?"+bq.Values().Encode(), e.read, nil)
	var bursts []audit.Burst
	decode(t, body, &bursts)
	if resp.StatusCode != 200 || len(bursts) != 2 || bursts[0].Key != "mjohnson" || bursts[1].Key != "203.45.67.89" {
		t.Fatalf("logins: %d %s", resp.StatusCode, body)
	}
	bq.Threshold = 10
	if resp, body = e.do("GET", "/v1/stats/logins?"+bq.Values().Encode(), e.read, nil); resp.StatusCode != 200 || body != "[]\n" {
		t.Fatalf("logins without a burst: %d %q, want []", resp.StatusCode, body)
	}

	for _, c := range []struct{ path, param string }{
		{"/v1/stats?table=nope", "parameter table"},
		{"/v1/stats?table=user:-1", "parameter table"},
		{"/v1/stats?zone=abc", "parameter zone"},
		{"/v1/stats?ip=300.1.2.3", "parameter ip"},
		{"/v1/stats?colour=red", "parameter colour"},
		{"/v1/stats?table=user,user", "user twice"},
		{"/v1/stats/logins?window=10m", "parameter threshold"},
		{"/v1/stats/logins?threshold=5&window=soon", "parameter window"},
		{"/v1/stats/logins?threshold=1&window=10m", "threshold 1"},
	} {
		resp, body := e.do("GET", c.path, e.read, nil)
		if msg := errorOf(t, resp, body); resp.StatusCode != 400 || !strings.Contains(msg, c.param) {
			t.Errorf("%s: %d %q, want 400 naming %q", c.path, resp.StatusCode, msg, c.param)
		}
	}
	// The stats parameters are logged, not redacted.
	if log := e.log.String(); !strings.Contains(log, `path=/v1/stats query="table=type&table=day,outcome:3&user=jdavis&zone=19800"`) {
		t.Errorf("the log lacks the stats query:\n%s", log)
	}
}

// TestChain: head and checkpoint, empty and after a prune.
func TestChain(t *testing.T) {
	e := newEnv(t)
	resp, body := e.do("GET", "/v1/chain/head", e.read, nil)
	if resp.StatusCode != 200 || body != `{"seq":0,"hash":""}`+"\n" {
		t.Fatalf("head of an empty store: %d %s", resp.StatusCode, body)
	}
	resp, body = e.do("GET", "/v1/chain/checkpoint", e.read, nil)
	var cp audit.Checkpoint
	decode(t, body, &cp)
	if resp.StatusCode != 200 || !cp.IsZero() {
		t.Fatalf("checkpoint of a store never pruned: %d %s", resp.StatusCode, body)
	}
	events := e.seed(10)
	var head audit.ChainPoint
	_, body = e.do("GET", "/v1/chain/head", e.read, nil)
	decode(t, body, &head)
	if head.Seq != events[9].Seq || head.Hash != events[9].Hash {
		t.Fatalf("head = %s, want %d:%s", body, events[9].Seq, events[9].Hash)
	}
	req := `{"through":4,"hash":"` + events[3].Hash + `","events":4,"before":"2026-11-20T00:00:00Z","archive":"a.jsonl","archive_sha256":""}`
	resp, body = e.do("POST", "/v1/prune", e.admin, strings.NewReader(req), "Content-Type", "application/json")
	var pruned audit.Checkpoint
	decode(t, body, &pruned)
	if resp.StatusCode != 200 || pruned.Seq != 4 || pruned.Seal != audit.CheckpointSeal(nil, pruned) {
		t.Fatalf("prune: %d %s", resp.StatusCode, body)
	}
	_, body = e.do("GET", "/v1/chain/checkpoint", e.read, nil)
	decode(t, body, &cp)
	if cp.Seq != 4 || cp.Seal != pruned.Seal || cp.Archive != "a.jsonl" {
		t.Fatalf("checkpoint after prune: %s", body)
	}
}

// TestPruneRole: only an admin token may prune; others get 403 before
// their body is read, and nothing is pruned.
func TestPruneRole(t *testing.T) {
	e := newEnv(t)
	events := e.seed(10)
	req := `{"through":4,"hash":"` + events[3].Hash + `","events":4}`
	for _, tok := range []string{e.read, e.write} {
		resp, body := e.do("POST", "/v1/prune", tok, strings.NewReader(req), "Content-Type", "application/json")
		if msg := errorOf(t, resp, body); resp.StatusCode != 403 || !strings.Contains(msg, "needs admin") {
			t.Fatalf("prune without admin: %d %q", resp.StatusCode, msg)
		}
	}
	if resp, _ := e.do("POST", "/v1/prune", "", strings.NewReader(req)); resp.StatusCode != 401 {
		t.Fatalf("prune without a token: %d", resp.StatusCode)
	}
	if cp, err := e.store.Checkpoint(context.Background()); err != nil || !cp.IsZero() {
		t.Fatalf("a refused prune pruned: %+v %v", cp, err)
	}

	// Requests the store refuses. (A fresh store: the refusals above
	// were recorded as events, which moved the head.)
	e = newEnv(t)
	events = e.seed(10)
	req = `{"through":4,"hash":"` + events[3].Hash + `","events":4}`
	for _, c := range []struct {
		body, ctype string
		status      int
		msg         string
	}{
		{"", "application/json", 400, "body is empty"},
		{`{"through":4,"hash":"x","events":4,"colour":1}`, "application/json", 400, `unknown field "colour"`},
		{`{"through":"4"}`, "application/json", 400, "through"},
		{req + req, "application/json", 400, "more than one JSON value"},
		{req, "text/plain", 415, "application/json"},
		{`{"through":4,"hash":"` + events[2].Hash + `","events":4}`, "application/json", 409, "not the one archived"},
		{`{"through":10,"hash":"` + events[9].Hash + `","events":10}`, "application/json", 400, "newest event"},
	} {
		resp, body := e.do("POST", "/v1/prune", e.admin, strings.NewReader(c.body), "Content-Type", c.ctype)
		if msg := errorOf(t, resp, body); resp.StatusCode != c.status || !strings.Contains(msg, c.msg) {
			t.Errorf("prune %s: %d %q, want %d and %q", c.body, resp.StatusCode, msg, c.status, c.msg)
		}
	}
}

// TestVerify: POST and GET /v1/verify answer the VerifyResult, bad
// options 400 naming them, and a tampered chain 409 with the
// IntegrityError's fields.
func TestVerify(t *testing.T) {
	e := newEnv(t)
	events := e.seed(40)
	want, err := audit.Verify(context.Background(), e.store, audit.VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		method, query, body string
		accept              string
	}{
		{"POST", "", "", ""},
		{"POST", "", "{}", ""},
		{"POST", "", "{}", server.VerifyStreamType}, // quick: the plain answer
		{"GET", "", "", ""},
	} {
		resp, body := e.do(c.method, "/v1/verify"+c.query, e.read, strings.NewReader(c.body), "Accept", c.accept)
		var got audit.VerifyResult
		decode(t, body, &got)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" || got.Events != want.Events || got.Last != want.Last {
			t.Fatalf("%s /v1/verify %q: %d %s", c.method, c.body, resp.StatusCode, body)
		}
	}
	mid := events[19]
	resp, body := e.do("GET", "/v1/verify?"+url.Values{"from_seq": {"5"}, "to_seq": {"30"},
		"expect": {audit.ChainPoint{Seq: mid.Seq, Hash: mid.Hash}.String()}}.Encode(), e.read, nil)
	var got audit.VerifyResult
	decode(t, body, &got)
	if resp.StatusCode != 200 || got.Events != 26 || !got.Expected || got.Start != audit.StartTrusted {
		t.Fatalf("GET /v1/verify with a range: %d %s", resp.StatusCode, body)
	}
	resp, body = e.do("POST", "/v1/verify", e.read, strings.NewReader(`{"to_seq":10,"expect":{"seq":10,"hash":"`+events[9].Hash+`"}}`))
	decode(t, body, &got)
	if resp.StatusCode != 200 || got.Events != 10 || !got.Expected {
		t.Fatalf("POST /v1/verify with a range: %d %s", resp.StatusCode, body)
	}

	for _, c := range []struct {
		method, path, body string
		status             int
		msg                string
	}{
		{"GET", "/v1/verify?from_seq=-1", "", 400, "parameter from_seq"},
		{"GET", "/v1/verify?expect=12", "", 400, "parameter expect"},
		{"GET", "/v1/verify?since=yesterday", "", 400, "parameter since"},
		{"GET", "/v1/verify?allow_gaps=perhaps", "", 400, "parameter allow_gaps"},
		{"GET", "/v1/verify?key=secret", "", 400, "parameter key"},
		{"GET", "/v1/verify?from_seq=9&to_seq=3", "", 400, "from_seq 9 is after to_seq 3"},
		{"POST", "/v1/verify", `{"key":"c2VjcmV0"}`, 400, `unknown field "key"`},
		{"POST", "/v1/verify", `{"from_seq":-2}`, 400, "from_seq -2"},
		{"POST", "/v1/verify", `{"expect":{"seq":3,"hash":"zz"}}`, 400, "expect"},
		{"POST", "/v1/verify?from_seq=3", "", 400, "JSON body"},
		{"POST", "/v1/verify", `{"to_seq":5,"expect":{"seq":9,"hash":"` + events[8].Hash + `"}}`, 400, "after the end of the range"},
	} {
		resp, body := e.do(c.method, c.path, e.read, strings.NewReader(c.body))
		if msg := errorOf(t, resp, body); resp.StatusCode != c.status || !strings.Contains(msg, c.msg) {
			t.Errorf("%s %s %s: %d %q, want %d and %q", c.method, c.path, c.body, resp.StatusCode, msg, c.status, c.msg)
		}
	}
	if strings.Contains(e.log.String(), "secret") {
		t.Errorf("the log holds an unknown parameter's value:\n%s", e.log)
	}

	// Tampered: 409, the IntegrityError in full.
	db, err := sql.Open("sqlite3", e.store.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("UPDATE events SET details = 'nothing to see' WHERE seq = 17"); err != nil {
		t.Fatal(err)
	}
	_, wantErr := audit.Verify(context.Background(), e.store, audit.VerifyOptions{})
	resp, body = e.do("POST", "/v1/verify", e.read, nil)
	var eb struct {
		Error     string                `json:"error"`
		Integrity *audit.IntegrityError `json:"integrity"`
	}
	decode(t, body, &eb)
	if resp.StatusCode != 409 || eb.Error != wantErr.Error() || eb.Integrity == nil || eb.Integrity.Seq != 17 ||
		eb.Integrity.Problem != audit.ProblemChanged || eb.Integrity.User != events[16].User || eb.Integrity.Type != events[16].Type ||
		!eb.Integrity.Time.Equal(events[16].Time) || eb.Integrity.Detail == "" {
		t.Fatalf("verify of a tampered chain: %d %s; want 409 with %v", resp.StatusCode, body, wantErr)
	}
}

// bareStore is a store with no capability beyond audit.Store.
type bareStore struct{ audit.Store }

// TestNotImplemented: a store without statistics, chain or prune gets 501
// on their endpoints.
func TestNotImplemented(t *testing.T) {
	e := newEnv(t, func(o *server.Options) { o.Store = bareStore{o.Store} })
	for _, c := range []struct{ method, path string }{
		{"GET", "/v1/stats"},
		{"GET", "/v1/stats/logins?threshold=3&window=1m"},
		{"GET", "/v1/chain/head"},
		{"GET", "/v1/chain/checkpoint"},
		{"POST", "/v1/verify"},
		{"GET", "/v1/verify"},
		{"POST", "/v1/prune"},
	} {
		resp, body := e.do(c.method, c.path, e.admin, strings.NewReader(`{"through":1,"events":1}`))
		if msg := errorOf(t, resp, body); resp.StatusCode != 501 || !strings.Contains(msg, "the server's store") {
			t.Errorf("%s %s: %d %q, want 501", c.method, c.path, resp.StatusCode, msg)
		}
	}
}

func TestNewEndpointMethods(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct{ method, path, allow string }{
		{"POST", "/v1/stats", "GET"},
		{"DELETE", "/v1/stats/logins", "GET"},
		{"POST", "/v1/chain/head", "GET"},
		{"PUT", "/v1/chain/checkpoint", "GET"},
		{"DELETE", "/v1/verify", "GET, POST"},
		{"GET", "/v1/prune", "POST"},
	} {
		resp, body := e.do(c.method, c.path, e.admin, nil)
		errorOf(t, resp, body)
		if resp.StatusCode != 405 || resp.Header.Get("Allow") != c.allow {
			t.Errorf("%s %s: %d, Allow %q; want 405, %q", c.method, c.path, resp.StatusCode, resp.Header.Get("Allow"), c.allow)
		}
	}
}

// slowStore makes every verification take a while.
type slowStore struct {
	*sqlite.Store
	delay time.Duration
}

func (s *slowStore) Checkpoint(ctx context.Context) (audit.Checkpoint, error) {
	time.Sleep(s.delay)
	return s.Store.Checkpoint(ctx)
}

// TestVerifyStream: a client accepting NDJSON gets a long verification as
// a stream of progress lines ending with the result, or with the error,
// its status and the IntegrityError.
func TestVerifyStream(t *testing.T) {
	e := newEnv(t, func(o *server.Options) {
		o.Store = &slowStore{Store: o.Store.(*sqlite.Store), delay: 300 * time.Millisecond}
		o.KeepAlive = 50 * time.Millisecond
	})
	events := e.seed(30)
	lines := func(body string) []map[string]json.RawMessage {
		var out []map[string]json.RawMessage
		for _, l := range strings.Split(strings.TrimSuffix(body, "\n"), "\n") {
			var m map[string]json.RawMessage
			decode(t, l, &m)
			out = append(out, m)
		}
		return out
	}
	resp, body := e.do("POST", "/v1/verify", e.read, nil, "Accept", server.VerifyStreamType)
	ls := lines(body)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != server.VerifyStreamType || len(ls) < 3 ||
		string(ls[0]["progress"]) != "0" || string(ls[len(ls)-2]["progress"]) != "30" || ls[len(ls)-1]["result"] == nil {
		t.Fatalf("streamed verify: %d %s", resp.StatusCode, body)
	}
	var res audit.VerifyResult
	decode(t, string(ls[len(ls)-1]["result"]), &res)
	if res.Events != 30 || res.Last.Hash != events[29].Hash {
		t.Fatalf("streamed result: %+v", res)
	}

	db, err := sql.Open("sqlite3", e.store.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("UPDATE events SET user = 'nobody' WHERE seq = 12"); err != nil {
		t.Fatal(err)
	}
	resp, body = e.do("GET", "/v1/verify", e.read, nil, "Accept", server.VerifyStreamType)
	ls = lines(body)
	last := ls[len(ls)-1]
	var ie audit.IntegrityError
	decode(t, string(last["integrity"]), &ie)
	if resp.StatusCode != 200 || string(last["status"]) != "409" || last["error"] == nil || ie.Seq != 12 || ie.User != "nobody" {
		t.Fatalf("streamed verify of a tampered chain: %d %s", resp.StatusCode, body)
	}
}
