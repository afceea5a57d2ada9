package server_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/audit-cli/audit/internal/server"
	"github.com/audit-cli/audit/internal/store/sqlite"
	"github.com/audit-cli/audit/internal/store/storetest"
)

// fuzzPaths are the GET endpoints whose query parameters FuzzQuery sends.
var fuzzPaths = []string{"/v1/events", "/v1/stats", "/v1/stats/logins", "/v1/verify",
	"/v1/chain/head", "/v1/chain/checkpoint", "/v1/events/watch", "/v1/events/"}

// FuzzQuery sends arbitrary query strings (and, for /v1/events/{id},
// arbitrary ids) to the handlers of `audit serve` over a SQLite store with
// a hundred events. No handler may panic or answer 500; a refusal is 400
// (or 404 for an unknown id) with a JSON {"error": …}; an event list is
// NDJSON, a line an event.
//
//	go test ./internal/server -run '^$' -fuzz '^FuzzQuery$' -fuzztime 10s
func FuzzQuery(f *testing.F) {
	for i := range fuzzPaths {
		for _, q := range []string{"", "user=jdavis&type=login,logout&limit=5&order=desc",
			"ip=10.0.0.0/8&since=2026-11-20T00:00:00Z&until=2026-11-21T00:00:00Z&outcome=failure",
			"search=%25_%5C&after=3&before=90", "by=user,type&zone=Europe/Berlin&table=hour",
			"threshold=3&window=10m", "from_seq=2&to_seq=50&expect=5:abc", "since=x", "limit=-1",
			"ip=fe80::1%25eth0", "since=0000-01-01T00:00:00%2B01:00", "seed-1", "%00", "x=%zz"} {
			f.Add(uint8(i), q)
		}
	}
	st, err := sqlite.Open(filepath.Join(f.TempDir(), "audit.db"), sqlite.Options{PollInterval: 5 * time.Millisecond})
	if err != nil {
		f.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Append(context.Background(), storetest.Events(100, 1)); err != nil {
		f.Fatal(err)
	}
	srv, err := server.New(server.Options{Store: st, InsecureNoAuth: true, MaxPage: 50, KeepAlive: time.Millisecond})
	if err != nil {
		f.Fatal(err)
	}
	defer srv.Close()
	h := srv.Handler()

	f.Fuzz(func(t *testing.T, which uint8, query string) {
		path := fuzzPaths[int(which)%len(fuzzPaths)]
		target := "http://audit.test" + path + "?" + query
		if path == "/v1/events/" {
			target = "http://audit.test" + path + query
		}
		timeout := 10 * time.Second
		if path == "/v1/events/watch" {
			timeout = 20 * time.Millisecond // a stream that would never end
		}
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
		if err != nil {
			return // not a URL a client could send
		}
		rec := httptest.NewRecorder()
		began := time.Now()
		h.ServeHTTP(rec, req)
		if d := time.Since(began); d > 5*time.Second && path != "/v1/events/watch" {
			t.Fatalf("SLOW GET %s: %v", target, d)
		}
		body := rec.Body.Bytes()
		switch status := rec.Code; {
		case status == http.StatusOK:
			if path == "/v1/events" {
				sc := bufio.NewScanner(bytes.NewReader(body))
				sc.Buffer(nil, 1<<20)
				for sc.Scan() {
					var e map[string]any
					if err := json.Unmarshal(sc.Bytes(), &e); err != nil || e["error"] != nil {
						t.Fatalf("GET %s: line %q of the event list", target, sc.Text())
					}
				}
			}
		case status == http.StatusBadRequest, status == http.StatusNotFound, status == http.StatusMethodNotAllowed,
			status == http.StatusNotImplemented, status == http.StatusConflict:
			var e struct {
				Error string `json:"error"`
			}
			if err := json.Unmarshal(body, &e); err != nil || e.Error == "" {
				t.Fatalf("GET %s: status %d with body %q, want a JSON error", target, status, body)
			}
			if strings.Contains(e.Error, "internal") {
				t.Fatalf("GET %s: %d %q", target, status, e.Error)
			}
		case status == http.StatusMovedPermanently, status == http.StatusTemporaryRedirect, status == http.StatusPermanentRedirect:
			// the mux cleans paths such as /v1/events/. and /v1/events/../x
		default:
			t.Fatalf("GET %s: status %d: %s", target, status, body)
		}
	})
}
