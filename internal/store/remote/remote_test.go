package remote_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/cli"
	"github.com/audit-cli/audit/internal/server"
	"github.com/audit-cli/audit/internal/store/remote"
	"github.com/audit-cli/audit/internal/store/sqlite"
	"github.com/audit-cli/audit/internal/store/storetest"
	"github.com/audit-cli/audit/internal/testutil"
)

// testServer is an `audit serve` on 127.0.0.1 over a SQLite store of its
// own, with one admin token.
type testServer struct {
	t     *testing.T
	store *sqlite.Store
	path  string // the store's file
	key   []byte // its chain key
	token string
	opts  server.Options
	log   *testutil.SyncBuffer

	addr   string
	cancel context.CancelFunc
	done   chan error
	srv    *server.Server
}

// startServer starts a server; opts may adjust its Options.
func startServer(t *testing.T, opts ...func(*server.Options)) *testServer {
	t.Helper()
	return startKeyedServer(t, nil, opts...)
}

// startKeyedServer starts a server whose store's hash chain uses key (nil:
// plain SHA-256), as `audit serve` does with integrity.key-file set.
func startKeyedServer(t *testing.T, key []byte, opts ...func(*server.Options)) *testServer {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.db")
	st, err := sqlite.Open(path, sqlite.Options{ChainKey: key, PollInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	token := createToken(t, st, "test-admin", audit.RoleAdmin, time.Time{})
	ts := &testServer{t: t, store: st, path: path, key: key, token: token, log: &testutil.SyncBuffer{}}
	ts.opts = server.Options{Store: st, Tokens: st, ChainKey: key, KeepAlive: 200 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(ts.log, nil))}
	for _, o := range opts {
		o(&ts.opts)
	}
	ts.start("127.0.0.1:0")
	t.Cleanup(func() {
		ts.stop()
		st.Close()
		if strings.Contains(ts.log.String(), token) {
			t.Errorf("the server's log holds the token:\n%s", ts.log)
		}
	})
	return ts
}

func createToken(t *testing.T, st audit.TokenStore, name string, role audit.Role, expires time.Time) string {
	t.Helper()
	secret, err := server.NewTokenSecret()
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateToken(context.Background(), audit.Token{Name: name, Role: role,
		Hash: server.HashToken(secret), Created: time.Now(), Expires: expires}); err != nil {
		t.Fatal(err)
	}
	return secret
}

// start serves on addr ("127.0.0.1:0" for any port).
func (ts *testServer) start(addr string) {
	ts.t.Helper()
	var ln net.Listener
	var err error
	for range 50 { // the port of a server just stopped may take a moment
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		ts.t.Fatal(err)
	}
	ts.addr = ln.Addr().String()
	ts.srv, err = server.New(ts.opts)
	if err != nil {
		ts.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ts.cancel, ts.done = cancel, make(chan error, 1)
	go func() { ts.done <- ts.srv.Serve(ctx, ln) }()
}

// stop shuts the server down gracefully.
func (ts *testServer) stop() {
	if ts.cancel == nil {
		return
	}
	ts.cancel()
	if err := <-ts.done; err != nil {
		ts.t.Errorf("Serve: %v", err)
	}
	ts.srv.Close()
	ts.cancel = nil
}

func (ts *testServer) url() string { return "http://" + ts.addr }

// client opens a remote store on the server with token.
func (ts *testServer) client(token string, opts ...func(*remote.Options)) *remote.Store {
	ts.t.Helper()
	o := remote.Options{Token: token}
	for _, f := range opts {
		f(&o)
	}
	s, err := remote.Open(ts.url(), o)
	if err != nil {
		ts.t.Fatal(err)
	}
	ts.t.Cleanup(func() { s.Close() })
	return s
}

// TestConformance runs the store conformance suite through a real server.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) audit.Store {
		ts := startServer(t)
		return ts.client(ts.token)
	})
}

// TestConformanceSmallPages runs the suite with a page size so small that
// most queries take several requests.
func TestConformanceSmallPages(t *testing.T) {
	storetest.Run(t, func(t *testing.T) audit.Store {
		ts := startServer(t, func(o *server.Options) { o.MaxPage = 7 })
		return ts.client(ts.token)
	})
}

func collect(t *testing.T, s audit.Store, f audit.Filter) []audit.Event {
	t.Helper()
	var out []audit.Event
	for e, err := range s.Query(context.Background(), f) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

// TestLargeQueryPages: a query larger than the server's page size arrives
// whole, in order, in both directions and with limits across pages.
func TestLargeQueryPages(t *testing.T) {
	ts := startServer(t, func(o *server.Options) { o.MaxPage = 100 })
	s := ts.client(ts.token)
	if _, err := s.Append(context.Background(), storetest.Events(1050, 1)); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		f    audit.Filter
		want int
	}{
		{audit.Filter{}, 1050},
		{audit.Filter{Order: audit.Descending}, 1050},
		{audit.Filter{Limit: 250}, 250},
		{audit.Filter{Limit: 200, Order: audit.Descending}, 200},
		{audit.Filter{After: 1000}, 50},
		{audit.Filter{Before: 501, Order: audit.Descending}, 500},
	} {
		got := collect(t, s, c.f)
		if len(got) != c.want {
			t.Fatalf("%+v: %d events, want %d", c.f, len(got), c.want)
		}
		for i := 1; i < len(got); i++ {
			if (c.f.Order == audit.Ascending) != (got[i].Seq > got[i-1].Seq) {
				t.Fatalf("%+v: seq %d after %d", c.f, got[i].Seq, got[i-1].Seq)
			}
		}
	}
}

// TestImportBatches: Import sends batches that are each all-or-nothing,
// and reports what it stored.
func TestImportBatches(t *testing.T) {
	ts := startServer(t)
	s := ts.client(ts.token, func(o *remote.Options) { o.BatchEvents = 100 })
	events := storetest.Events(450, 2)
	res, err := s.Import(context.Background(), seqOf(events, nil))
	if err != nil || res.Added != 450 {
		t.Fatalf("Import = %+v, %v; want 450 added", res, err)
	}
	res, err = s.Import(context.Background(), seqOf(events, nil))
	if err != nil || res.Existing != 450 || res.Added != 0 {
		t.Fatalf("second Import = %+v, %v; want 450 existing", res, err)
	}
	if got := collect(t, s, audit.Filter{}); len(got) != 450 {
		t.Fatalf("%d events stored, want 450", len(got))
	}
	// A stream failing in its third batch: two batches are stored.
	more := storetest.Events(250, 3)
	_, err = s.Import(context.Background(), seqOf(more, errors.New("disk on fire")))
	if err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("Import of a failing stream: err = %v", err)
	}
	if got := collect(t, s, audit.Filter{}); len(got) != 650 {
		t.Fatalf("%d events stored, want 650", len(got))
	}
	// An invalid event (bad time for SQLite) fails its batch only, and
	// is named by its position in the whole stream.
	late := storetest.Events(150, 4)
	late[120].Time = time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)
	_, err = s.Import(context.Background(), seqOf(late, nil))
	var re *audit.RecordError
	if !errors.As(err, &re) || re.Index != 120 || !errors.Is(err, audit.ErrInvalid) {
		t.Fatalf("Import with a bad event: err = %v, want a RecordError of record 121", err)
	}
	var partial *audit.PartialError
	if !errors.As(err, &partial) || partial.Stored != 100 || !strings.Contains(err.Error(), "100 events of earlier batches were stored") {
		t.Fatalf("Import error %q does not say what was stored", err)
	}
	if got := collect(t, s, audit.Filter{}); len(got) != 750 {
		t.Fatalf("%d events stored, want 750", len(got))
	}
}

// seqOf yields events, then err if not nil.
func seqOf(events []audit.Event, err error) func(func(audit.Event, error) bool) {
	return func(yield func(audit.Event, error) bool) {
		for _, e := range events {
			if !yield(e, nil) {
				return
			}
		}
		if err != nil {
			yield(audit.Event{}, err)
		}
	}
}

// TestAwkwardIDs: ids the router could mistake for something else reach
// the event.
func TestAwkwardIDs(t *testing.T) {
	ts := startServer(t)
	s := ts.client(ts.token)
	ids := []string{"watch", ".", "..", "a/b", "../watch", "%2F", "?x=1", "#frag", "ünï", "a;b", "~user", "%77atch"}
	events := storetest.Events(len(ids), 5)
	for i := range events {
		events[i].ID = ids[i]
	}
	if _, err := s.Append(context.Background(), events); err != nil {
		t.Fatal(err)
	}
	for _, want := range events {
		got, err := s.Get(context.Background(), want.ID)
		if err != nil {
			t.Fatalf("Get(%q): %v", want.ID, err)
		}
		if got.ID != want.ID || got.Seq != want.Seq {
			t.Fatalf("Get(%q) = %s (seq %d), want seq %d", want.ID, got.ID, got.Seq, want.Seq)
		}
	}
}

// TestErrors maps what the server says to the audit errors that give the
// exit codes.
func TestErrors(t *testing.T) {
	ctx := context.Background()
	ts := startServer(t)
	readToken := createToken(t, ts.store, "reader", audit.RoleRead, time.Time{})
	admin := ts.client(ts.token)
	if _, err := admin.Append(ctx, storetest.Events(3, 1)); err != nil {
		t.Fatal(err)
	}
	queryErr := func(s audit.Store, f audit.Filter) error {
		for _, err := range s.Query(ctx, f) {
			if err != nil {
				return err
			}
		}
		return nil
	}

	// No token, a wrong one: ErrUnauthorized, exit 4.
	for _, token := range []string{"", "audit_wrong", ts.token + "x"} {
		err := queryErr(ts.client(token), audit.Filter{})
		if !errors.Is(err, audit.ErrUnauthorized) || cli.ExitCode(err) != 4 {
			t.Errorf("token %q: err = %v (exit %d), want ErrUnauthorized, exit 4", token, err, cli.ExitCode(err))
		}
	}
	// A read token writing: ErrForbidden.
	_, err := ts.client(readToken).Append(ctx, storetest.Events(1, 9))
	if !errors.Is(err, audit.ErrForbidden) || !strings.Contains(err.Error(), `token "reader" has role read`) || cli.ExitCode(err) != 4 {
		t.Errorf("read token Append: err = %v, want ErrForbidden naming the role, exit 4", err)
	}
	// A filter the server cannot read: ErrInvalid with its message.
	err = queryErr(admin, audit.Filter{IPs: []netip.Prefix{{}}})
	if !errors.Is(err, audit.ErrInvalid) || !strings.Contains(err.Error(), "parameter ip") || cli.ExitCode(err) != 2 {
		t.Errorf("bad filter: err = %v, want ErrInvalid naming the parameter, exit 2", err)
	}
	// A missing event: ErrNotFound naming it.
	if _, err := admin.Get(ctx, "nope"); !errors.Is(err, audit.ErrNotFound) || !strings.Contains(err.Error(), "nope") {
		t.Errorf("Get(nope): err = %v", err)
	}
	// Nobody listening: ErrUnavailable.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	s, err := remote.Open(dead, remote.Options{Token: ts.token})
	if err != nil {
		t.Fatal(err)
	}
	if err := queryErr(s, audit.Filter{}); !errors.Is(err, audit.ErrUnavailable) || cli.ExitCode(err) != 3 {
		t.Errorf("no server: err = %v, want ErrUnavailable, exit 3", err)
	} else if strings.Contains(err.Error(), ts.token) {
		t.Errorf("error %q holds the token", err)
	}
	if _, err := s.Get(ctx, "x"); !errors.Is(err, audit.ErrUnavailable) {
		t.Errorf("no server: Get err = %v, want ErrUnavailable", err)
	}
	// Something that is not an audit server: ErrUnavailable.
	other, _ := remote.Open(ts.url()+"/elsewhere", remote.Options{Token: ts.token})
	if _, err := other.Get(ctx, "x"); !errors.Is(err, audit.ErrUnavailable) {
		t.Errorf("wrong path: Get err = %v, want ErrUnavailable", err)
	}
	// A body over the server's limit: ErrInvalid, exit 2.
	small := startServer(t, func(o *server.Options) { o.MaxBody = 2048 })
	_, err = small.client(small.token).Append(ctx, storetest.Events(20, 3))
	if !errors.Is(err, audit.ErrInvalid) || !strings.Contains(err.Error(), "limit of 2048 bytes") || cli.ExitCode(err) != 2 {
		t.Errorf("too large a batch: err = %v", err)
	}
}

func TestOpenAddresses(t *testing.T) {
	for _, bad := range []string{"http://", "ftp://x", "http://user:secret@host", "http://host/?q=1", "https://host#x"} {
		_, err := remote.Open(bad, remote.Options{})
		if !errors.Is(err, audit.ErrInvalid) {
			t.Errorf("Open(%q): err = %v, want ErrInvalid", bad, err)
		} else if strings.Contains(err.Error(), "secret") {
			t.Errorf("Open(%q): error %q shows the password", bad, err)
		}
	}
	s, err := remote.Open("https://audit.example.com/prefix/", remote.Options{})
	if err != nil || s.Address() != "https://audit.example.com/prefix" {
		t.Fatalf("Open with a prefix: %v, %v", s, err)
	}
}

// TestFollowSurvivesRestart: a Follow through the server resumes across a
// restart of the server without a gap or a duplicate, also for events
// stored while the server was down.
func TestFollowSurvivesRestart(t *testing.T) {
	ts := startServer(t)
	s := ts.client(ts.token)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan audit.Event, 1000)
	errs := make(chan error, 10)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for e, err := range s.Follow(ctx, audit.Filter{}) {
			if err != nil {
				errs <- err
				continue
			}
			got <- e
		}
	}()
	var want []audit.Event
	add := func(st audit.Store, n int, batch int64) {
		events := storetest.Events(n, batch)
		if _, err := st.Append(context.Background(), events); err != nil {
			t.Fatal(err)
		}
		want = append(want, events...)
	}
	receive := func(n int) {
		t.Helper()
		for range n {
			select {
			case e := <-got:
				w := want[0]
				want = want[1:]
				if e.Seq != w.Seq || e.ID != w.ID {
					t.Fatalf("followed seq %d %s, want seq %d %s", e.Seq, e.ID, w.Seq, w.ID)
				}
			case err := <-errs:
				t.Fatalf("Follow yielded %v", err)
			case <-time.After(10 * time.Second):
				t.Fatalf("Follow: %d events missing", n)
			}
		}
	}
	add(s, 20, 1)
	receive(20)

	// Restart with events written directly to the store in between.
	for round := range 3 {
		ts.stop()
		add(ts.store, 15, int64(10+round))
		time.Sleep(150 * time.Millisecond) // the client retries meanwhile
		ts.start(ts.addr)
		add(s, 5, int64(20+round))
		receive(20)
	}
	select {
	case e := <-got:
		t.Fatalf("an extra event: seq %d", e.Seq)
	case <-time.After(300 * time.Millisecond):
	}
	cancel()
	<-done
}

// TestFollowGivesUp: with the server gone for longer than
// ReconnectTimeout, Follow yields ErrUnavailable and ends.
func TestFollowGivesUp(t *testing.T) {
	ts := startServer(t)
	s := ts.client(ts.token, func(o *remote.Options) { o.ReconnectTimeout = 500 * time.Millisecond })
	if _, err := s.Append(context.Background(), storetest.Events(2, 1)); err != nil {
		t.Fatal(err)
	}
	var n int
	var last error
	start := time.Now()
	for e, err := range s.Follow(context.Background(), audit.Filter{}) {
		if err != nil {
			last = err
			continue
		}
		n++
		if e.Seq == 2 {
			ts.stop()
		}
	}
	if n != 2 || !errors.Is(last, audit.ErrUnavailable) {
		t.Fatalf("Follow: %d events, error %v; want 2 and ErrUnavailable", n, last)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Follow gave up after %v", d)
	}
}

// TestFollowIdleReconnect: a stream that goes silent (no keep-alive) is
// dropped and reopened.
func TestFollowIdleReconnect(t *testing.T) {
	ts := startServer(t, func(o *server.Options) { o.KeepAlive = time.Hour })
	s := ts.client(ts.token, func(o *remote.Options) { o.IdleTimeout = 300 * time.Millisecond })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan audit.Event, 10)
	go func() {
		for e, err := range s.Follow(ctx, audit.Filter{}) {
			if err != nil {
				t.Errorf("Follow: %v", err)
				return
			}
			got <- e
		}
	}()
	time.Sleep(time.Second) // a few idle reconnects
	events := storetest.Events(3, 1)
	if _, err := s.Append(context.Background(), events); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		select {
		case e := <-got:
			if e.ID != events[i].ID {
				t.Fatalf("got %s, want %s", e.ID, events[i].ID)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no event after idle reconnects")
		}
	}
	if n := strings.Count(ts.log.String(), "path=/v1/events/watch"); n < 2 {
		t.Errorf("%d watch requests, want reconnects", n)
	}
}

func Example() {
	s, err := remote.Open("https://audit.example.com", remote.Options{Token: "audit_…"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	for e, err := range s.Query(context.Background(), audit.Filter{Types: []audit.Type{audit.TypeSecurity}, Limit: 10}) {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(e.User, e.Action)
	}
}
