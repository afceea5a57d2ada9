package server_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/audit-cli/audit/internal/server"
)

// A client that sends its POST body slowly is cut off after BodyTimeout,
// and nothing of it is stored.
func TestSlowBodyIsCut(t *testing.T) {
	e := newEnv(t, func(o *server.Options) { o.BodyTimeout = 300 * time.Millisecond })
	c, err := net.Dial("tcp", strings.TrimPrefix(e.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/x-ndjson\r\nContent-Length: 100000\r\n\r\n", e.write)
	fmt.Fprint(c, `{"id":"slow-1","time":"2026-11-20T10:00:00Z","user":"jdavis","type":"login"}`+"\n")
	start := time.Now()
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	// The server answers or closes well before the body could ever end.
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err == nil {
		io.Copy(io.Discard, resp.Body)
		if resp.StatusCode < 400 {
			t.Fatalf("a slow body got %s", resp.Status)
		}
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("the slow body was read for %v", d)
	}
	if _, err := e.store.Get(t.Context(), "slow-1"); err == nil {
		t.Fatal("an event of the cut body was stored")
	}
}

// Beyond MaxConns open connections, a new one reads a 503 and is closed.
func TestConnectionCap(t *testing.T) {
	e := newEnv(t, func(o *server.Options) { o.MaxConns = 2 })
	addr := strings.TrimPrefix(e.base, "http://")
	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for range 2 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
		// A request and its answer prove the server accepted c.
		fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("connection %d: %v %v", len(held), resp, err)
		}
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("the third connection read no answer: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(b), "try again") {
		t.Fatalf("third connection: %s %q, want 503 with Retry-After", resp.Status, b)
	}
	held[0].Close()
	for range 100 {
		if resp, _ := e.do("GET", "/healthz", "", nil); resp.StatusCode == http.StatusOK {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("no connection accepted after one was closed")
}

// An event more than five minutes ahead of the server's clock is refused
// with 400 naming the record and the time field, unless AllowFuture.
func TestFutureEventsRefused(t *testing.T) {
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	body := func(id string, at time.Time) io.Reader {
		return strings.NewReader(`{"id":"ok-1","time":"2026-11-20T11:00:00Z","user":"jdavis","type":"login"}` + "\n" +
			fmt.Sprintf(`{"id":%q,"time":%q,"user":"jdavis","type":"login"}`, id, at.Format(time.RFC3339)) + "\n")
	}
	e := newEnv(t, func(o *server.Options) { o.Now = func() time.Time { return now } })
	resp, b := e.do("POST", "/v1/events", e.write, body("future-1", now.Add(6*time.Minute)), "Content-Type", "application/x-ndjson")
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(b, `"record":2`) || !strings.Contains(b, `"field":"time"`) ||
		!strings.Contains(b, "in the future") {
		t.Fatalf("future event: %s %s", resp.Status, b)
	}
	if _, err := e.store.Get(t.Context(), "ok-1"); err == nil {
		t.Fatal("the batch of a refused event was stored in part")
	}
	resp, b = e.do("POST", "/v1/events", e.write, body("soon-1", now.Add(4*time.Minute)), "Content-Type", "application/x-ndjson")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("an event 4 minutes ahead: %s %s", resp.Status, b)
	}

	f := newEnv(t, func(o *server.Options) { o.Now = func() time.Time { return now }; o.AllowFuture = true })
	resp, b = f.do("POST", "/v1/events", f.write, body("future-2", now.Add(48*time.Hour)), "Content-Type", "application/x-ndjson")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("future event with AllowFuture: %s %s", resp.Status, b)
	}
}
