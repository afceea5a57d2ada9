package remote_test

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/cli"
	"github.com/audit-cli/audit/internal/server"
	"github.com/audit-cli/audit/internal/store/remote"
	"github.com/audit-cli/audit/internal/store/sqlite"
	"github.com/audit-cli/audit/internal/store/storetest"
)

var testKey = []byte("remote integrity test key, 32 by")

// TestStatsConformance runs the statistics suite through a real server.
func TestStatsConformance(t *testing.T) {
	storetest.RunStats(t, func(t *testing.T) audit.Store {
		ts := startServer(t)
		return ts.client(ts.token)
	})
}

// TestIntegrityConformance runs the hash-chain suite through a real
// server whose store, and whose verifications, use the suite's key. The
// remote store verifies on the server, so the suite's wrong-key case
// (which needs the client's key to matter) is skipped there and tested by
// TestVerifyServerKey instead.
func TestIntegrityConformance(t *testing.T) {
	storetest.RunIntegrity(t, func(t *testing.T, key []byte) audit.Store {
		ts := startKeyedServer(t, key)
		return ts.client(ts.token)
	})
}

// localStore opens the server's file directly, with its key: what `audit
// verify` on the server's own machine would see.
func (ts *testServer) localStore() *sqlite.Store {
	ts.t.Helper()
	st, err := sqlite.Open(ts.path, sqlite.Options{ChainKey: ts.key})
	if err != nil {
		ts.t.Fatal(err)
	}
	ts.t.Cleanup(func() { st.Close() })
	return st
}

// tamper changes the server's file behind its back, as an intruder with
// write access to the database would.
func (ts *testServer) tamper(stmts ...string) {
	ts.t.Helper()
	db, err := sql.Open("sqlite3", ts.path)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer db.Close()
	for _, q := range stmts {
		if _, err := db.Exec(q); err != nil {
			ts.t.Fatalf("%s: %v", q, err)
		}
	}
}

// sameVerify verifies through the server and on the file directly, and
// checks that both agree: the same result, or the same integrity error.
func sameVerify(t *testing.T, ts *testServer, s *remote.Store, opts audit.VerifyOptions) (audit.VerifyResult, error) {
	t.Helper()
	ctx := context.Background()
	local := opts
	local.Key = ts.key
	want, wantErr := audit.Verify(ctx, ts.localStore(), local)
	got, err := audit.Verify(ctx, s, opts)
	if (err == nil) != (wantErr == nil) {
		t.Fatalf("Verify(%+v): remote err %v, local err %v", opts, err, wantErr)
	}
	if err != nil {
		var ie, wantIE *audit.IntegrityError
		if !errors.As(wantErr, &wantIE) {
			t.Fatalf("local Verify: %v is no *audit.IntegrityError", wantErr)
		}
		if !errors.As(err, &ie) || !errors.Is(err, audit.ErrIntegrity) || cli.ExitCode(err) != 5 {
			t.Fatalf("remote Verify: %v (%T, exit %d), want an *audit.IntegrityError, exit 5", err, err, cli.ExitCode(err))
		}
		if err.Error() != wantErr.Error() || ie.Seq != wantIE.Seq || ie.Problem != wantIE.Problem ||
			!ie.Time.Equal(wantIE.Time) || ie.User != wantIE.User || ie.Type != wantIE.Type || ie.Detail != wantIE.Detail {
			t.Fatalf("remote Verify:\n  %q %+v\nlocal:\n  %q %+v", err, ie, wantErr, wantIE)
		}
		return got, err
	}
	got.Checkpoint.Created, want.Checkpoint.Created = got.Checkpoint.Created.UTC(), want.Checkpoint.Created.UTC()
	got.Checkpoint.Before, want.Checkpoint.Before = got.Checkpoint.Before.UTC(), want.Checkpoint.Before.UTC()
	if got != want {
		t.Fatalf("Verify(%+v):\nremote %+v\nlocal  %+v", opts, got, want)
	}
	return got, nil
}

// TestVerifyTampered: the server finds the tampering a verification on its
// own machine finds, and the remote store reports it the same way, with
// exit code 5.
func TestVerifyTampered(t *testing.T) {
	for _, c := range []struct {
		name    string
		stmts   []string
		problem audit.Problem
		expect  bool // verify with the head published before the tampering
	}{
		{"changed", []string{"UPDATE events SET details = 'nothing to see' WHERE seq = 30"}, audit.ProblemChanged, false},
		{"user", []string{"UPDATE events SET user = 'nobody' WHERE seq = 1"}, audit.ProblemChanged, false},
		{"deleted", []string{"DELETE FROM events WHERE seq BETWEEN 20 AND 22"}, audit.ProblemDeleted, false},
		{"truncated", []string{"DELETE FROM events WHERE seq > 55"}, audit.ProblemTruncated, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			ts := startKeyedServer(t, testKey)
			s := ts.client(ts.token)
			events := storetest.Events(60, 7)
			if _, err := s.Append(context.Background(), events); err != nil {
				t.Fatal(err)
			}
			head := &audit.ChainPoint{Seq: events[59].Seq, Hash: events[59].Hash}
			res, err := sameVerify(t, ts, s, audit.VerifyOptions{Expect: head})
			if err != nil || res.Events != 60 || !res.Expected {
				t.Fatalf("Verify before tampering: %+v, %v", res, err)
			}
			ts.tamper(c.stmts...)
			opts := audit.VerifyOptions{}
			if c.expect {
				opts.Expect = head
			}
			_, err = sameVerify(t, ts, s, opts)
			var ie *audit.IntegrityError
			if !errors.As(err, &ie) || ie.Problem != c.problem {
				t.Fatalf("Verify after tampering: %v, want problem %s", err, c.problem)
			}
		})
	}
}

// TestVerifyServerKey: the server verifies with its own key, whatever key
// the client has; a server given the wrong key finds nothing verifies.
func TestVerifyServerKey(t *testing.T) {
	ts := startKeyedServer(t, testKey)
	s := ts.client(ts.token)
	if _, err := s.Append(context.Background(), storetest.Events(20, 3)); err != nil {
		t.Fatal(err)
	}
	res, err := audit.Verify(context.Background(), s, audit.VerifyOptions{Key: []byte("the client's key is not used")})
	if err != nil || res.Events != 20 {
		t.Fatalf("Verify with another client key: %+v, %v", res, err)
	}
	wrong := startKeyedServer(t, testKey, func(o *server.Options) { o.ChainKey = nil })
	ws := wrong.client(wrong.token)
	if _, err := ws.Append(context.Background(), storetest.Events(20, 3)); err != nil {
		t.Fatal(err)
	}
	_, err = audit.Verify(context.Background(), ws, audit.VerifyOptions{})
	var ie *audit.IntegrityError
	if !errors.As(err, &ie) || ie.Problem != audit.ProblemKey {
		t.Fatalf("Verify by a server without the key: %v, want problem %s", err, audit.ProblemKey)
	}
}

// slowStore makes every verification take a while, long enough for the
// server to stream it.
type slowStore struct {
	*sqlite.Store
	delay time.Duration
}

func (s *slowStore) Checkpoint(ctx context.Context) (audit.Checkpoint, error) {
	time.Sleep(s.delay)
	return s.Store.Checkpoint(ctx)
}

// TestVerifyStreamed: a verification that takes longer than a progress
// interval is streamed; the result, the progress and a failure come
// through it as they do without.
func TestVerifyStreamed(t *testing.T) {
	ts := startKeyedServer(t, testKey, func(o *server.Options) {
		o.Store = &slowStore{Store: o.Store.(*sqlite.Store), delay: 400 * time.Millisecond}
		o.KeepAlive = 50 * time.Millisecond
	})
	s := ts.client(ts.token, func(o *remote.Options) { o.IdleTimeout = 2 * time.Second })
	if _, err := s.Append(context.Background(), storetest.Events(120, 4)); err != nil {
		t.Fatal(err)
	}
	var progress int
	res, err := audit.Verify(context.Background(), s, audit.VerifyOptions{Progress: func(n int) { progress += n }})
	if err != nil || res.Events != 120 || progress != 120 {
		t.Fatalf("streamed Verify: %+v, %v, progress %d; want 120 events", res, err, progress)
	}
	ts.tamper("UPDATE events SET details = 'x' WHERE seq = 77")
	sameVerify(t, ts, s, audit.VerifyOptions{})
	// Both answers were streams, status 200; without streaming the
	// failure would have been a 409. (The access log is written once the
	// handler is done, a moment after the client has its answer.)
	deadline := time.Now().Add(5 * time.Second)
	for strings.Count(ts.log.String(), "path=/v1/verify") < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if log := ts.log.String(); strings.Count(log, "path=/v1/verify status=200") != 2 {
		t.Fatalf("the verifications were not streamed:\n%s", log)
	}
}

// TestPruneRoles: prune needs an admin token; a read or write token is
// refused with exit code 4 and nothing pruned. An admin's prune leaves a
// checkpoint from which the log verifies, through the server and on the
// file directly.
func TestPruneRoles(t *testing.T) {
	ctx := context.Background()
	ts := startKeyedServer(t, testKey)
	admin := ts.client(ts.token)
	events := storetest.Events(50, 5)
	if _, err := admin.Append(ctx, events); err != nil {
		t.Fatal(err)
	}
	cut := events[19]
	req := audit.PruneRequest{Through: cut.Seq, Hash: cut.Hash, Events: 20, Before: cut.Time.Add(time.Second),
		Archive: "pruned.jsonl", ArchiveSHA256: strings.Repeat("ab", 32)}
	for _, role := range []audit.Role{audit.RoleRead, audit.RoleWrite} {
		s := ts.client(createToken(t, ts.store, "a-"+string(role), role, time.Time{}))
		_, err := s.Prune(ctx, req)
		if !errors.Is(err, audit.ErrForbidden) || cli.ExitCode(err) != 4 || !strings.Contains(err.Error(), "needs admin") {
			t.Fatalf("Prune with a %s token: %v (exit %d), want ErrForbidden, exit 4", role, err, cli.ExitCode(err))
		}
		// Reading the chain is fine for it. (The head may be past the
		// events appended: the server records the refusal.)
		if seq, h, err := s.Head(ctx); err != nil || seq < events[49].Seq || len(h) != 64 {
			t.Fatalf("Head with a %s token: %d %q %v", role, seq, h, err)
		}
	}
	// Each refusal is recorded as a failed security event.
	deadline := time.Now().Add(5 * time.Second)
	for {
		denied := collect(t, admin, audit.Filter{Types: []audit.Type{audit.TypeSecurity}, Outcome: audit.OutcomeFailure,
			Resources: []string{"/v1/prune"}})
		// (At most one a client address every FailureInterval; the
		// rest are counted.)
		if len(denied) >= 1 && denied[0].Action == "API Permission Denied" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("refused prunes recorded as %+v, want security events", denied)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if cp, err := admin.Checkpoint(ctx); err != nil || !cp.IsZero() {
		t.Fatalf("a refused prune left a checkpoint: %+v, %v", cp, err)
	}
	if _, err := sameVerify(t, ts, admin, audit.VerifyOptions{}); err != nil {
		t.Fatal(err)
	}

	cp, err := admin.Prune(ctx, req)
	if err != nil {
		t.Fatalf("Prune with an admin token: %v", err)
	}
	if cp.Seq != cut.Seq || cp.Hash != cut.Hash || cp.Events != 20 || cp.Seal != audit.CheckpointSeal(testKey, cp) {
		t.Fatalf("Prune = %+v", cp)
	}
	got, err := admin.Checkpoint(ctx)
	if err != nil || got.Seq != cp.Seq || got.Seal != cp.Seal || !got.Created.Equal(cp.Created) {
		t.Fatalf("Checkpoint = %+v, %v; want %+v", got, err, cp)
	}
	res, err := sameVerify(t, ts, admin, audit.VerifyOptions{})
	if err != nil || res.Start != audit.StartCheckpoint || res.First.Seq != cut.Seq+1 || res.Events != res.Last.Seq-cut.Seq ||
		res.Last.Seq < events[49].Seq || res.StartPoint.Seq != cut.Seq {
		t.Fatalf("Verify after Prune: %+v, %v", res, err)
	}
	// The same request again: refused, as the store refuses it.
	if _, err := admin.Prune(ctx, req); !errors.Is(err, audit.ErrInvalid) || cli.ExitCode(err) != 2 {
		t.Fatalf("Prune twice: %v, want ErrInvalid", err)
	}
	// The checkpoint changed by hand: a checkpoint problem, as locally.
	ts.tamper("UPDATE checkpoints SET events = 21")
	if _, err := sameVerify(t, ts, admin, audit.VerifyOptions{}); err == nil {
		t.Fatal("Verify of a changed checkpoint succeeded")
	}
	// A hash that is not the stored one: ErrIntegrity, exit 5.
	late := events[29]
	_, err = admin.Prune(ctx, audit.PruneRequest{Through: late.Seq, Hash: events[28].Hash, Events: 10})
	if !errors.Is(err, audit.ErrIntegrity) || cli.ExitCode(err) != 5 {
		t.Fatalf("Prune with a wrong hash: %v (exit %d), want ErrIntegrity, exit 5", err, cli.ExitCode(err))
	}
}

// bareStore is a store with no capability beyond audit.Store.
type bareStore struct{ audit.Store }

// TestMissingCapabilities: a server whose store cannot compute statistics
// or keep a chain answers 501, a runtime failure (exit 1); stats wrap
// audit.ErrNoStats. An older server without the endpoints is reported as
// such.
func TestMissingCapabilities(t *testing.T) {
	ctx := context.Background()
	ts := startServer(t, func(o *server.Options) { o.Store = bareStore{o.Store} })
	older := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"error":"no such endpoint: ` + r.URL.Path + `"}` + "\n"))
	}))
	defer older.Close()
	old, err := remote.Open(older.URL, remote.Options{Token: "audit_x"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		s    *remote.Store
		want string
	}{{ts.client(ts.token), "the server's store"}, {old, "older audit serve"}} {
		s := c.s
		_, err := s.Stats(ctx, audit.StatsQuery{})
		if !errors.Is(err, audit.ErrNoStats) || cli.ExitCode(err) != 1 || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Stats: %v (exit %d), want ErrNoStats, exit 1", err, cli.ExitCode(err))
		}
		_, err = s.Bursts(ctx, audit.BurstQuery{Threshold: 3, Window: time.Minute})
		if !errors.Is(err, audit.ErrNoStats) || cli.ExitCode(err) != 1 {
			t.Errorf("Bursts: %v (exit %d), want ErrNoStats, exit 1", err, cli.ExitCode(err))
		}
		checks := map[string]error{}
		_, _, checks["Head"] = s.Head(ctx)
		_, checks["Checkpoint"] = s.Checkpoint(ctx)
		_, checks["Verify"] = s.Verify(ctx, audit.VerifyOptions{})
		_, checks["Prune"] = s.Prune(ctx, audit.PruneRequest{Through: 1, Events: 1})
		for name, err := range checks {
			if err == nil || cli.ExitCode(err) != 1 || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s: %v (exit %d), want a runtime failure, exit 1", name, err, cli.ExitCode(err))
			}
		}
	}
}

// TestStatsInvalid: bad queries fail before they are sent, as on a local
// store; what only the server can judge comes back as ErrInvalid naming
// the parameter.
func TestStatsInvalid(t *testing.T) {
	ctx := context.Background()
	ts := startServer(t)
	s := ts.client(ts.token)
	_, err := s.Stats(ctx, audit.StatsQuery{Tables: []audit.StatsTable{{By: []audit.Dimension{audit.DimUser}, Top: -1}}})
	if !errors.Is(err, audit.ErrInvalid) || cli.ExitCode(err) != 2 {
		t.Errorf("Stats with a negative top: %v", err)
	}
	_, err = s.Bursts(ctx, audit.BurstQuery{Threshold: 1, Window: time.Minute})
	if !errors.Is(err, audit.ErrInvalid) || !strings.Contains(err.Error(), "threshold") {
		t.Errorf("Bursts with threshold 1: %v", err)
	}
	_, err = s.Verify(ctx, audit.VerifyOptions{Since: time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC), Expect: &audit.ChainPoint{Seq: 1, Hash: audit.GenesisHex}})
	if !errors.Is(err, audit.ErrInvalid) || cli.ExitCode(err) != 2 {
		t.Errorf("Verify since a time without events, to an expected head: %v", err)
	}
}
