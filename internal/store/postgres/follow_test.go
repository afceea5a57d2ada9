package postgres_test

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/store/postgres"
	"github.com/audit-cli/audit/internal/store/storetest"
)

// follower runs Follow in a goroutine and hands over what it yields.
func follower(t *testing.T, s audit.Store, f audit.Filter) <-chan audit.Event {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan audit.Event, 100)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for e, err := range s.Follow(ctx, f) {
			if err != nil {
				t.Errorf("Follow: %v", err)
				return
			}
			ch <- e
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return ch
}

// latency appends an event and returns how long the follower takes to
// yield it.
func latency(t *testing.T, w audit.Store, ch <-chan audit.Event, seed int64) time.Duration {
	t.Helper()
	e := storetest.Events(1, seed)
	start := time.Now()
	if _, err := w.Append(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-ch:
		if got.ID != e[0].ID {
			t.Fatalf("followed %s, want %s", got.ID, e[0].ID)
		}
		return time.Since(start)
	case <-time.After(10 * time.Second):
		t.Fatal("the event did not arrive within 10s")
	}
	return 0
}

// TestFollowNotified: with LISTEN/NOTIFY, new events arrive well within
// half a second (DESIGN: `watch` shows them that fast), although the
// follower looks at the database by itself only every 2s.
func TestFollowNotified(t *testing.T) {
	dsn := freshSchema(t)
	w := open(t, dsn, testOptions)
	if err := w.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	r := open(t, dsn, postgres.Options{PollInterval: time.Minute})
	ch := follower(t, r, audit.Filter{})
	time.Sleep(300 * time.Millisecond) // listening
	for i := range 5 {
		// Wait out half the safety interval so that polling cannot be
		// what delivers.
		time.Sleep(700 * time.Millisecond)
		if d := latency(t, w, ch, int64(i)); d > 500*time.Millisecond {
			t.Errorf("event %d arrived after %v, want < 500ms", i, d)
		} else {
			t.Logf("event %d arrived after %v", i, d)
		}
	}
}

// TestFollowPolling: where the server cannot LISTEN, Follow polls every
// 250ms, so events still arrive within half a second.
func TestFollowPolling(t *testing.T) {
	dsn := freshSchema(t)
	w := open(t, dsn, testOptions)
	if err := w.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	r := open(t, dsn, postgres.Options{PollOnly: true})
	ch := follower(t, r, audit.Filter{})
	for i := range 5 {
		time.Sleep(100 * time.Millisecond)
		if d := latency(t, w, ch, int64(i)); d > 500*time.Millisecond {
			t.Errorf("event %d arrived after %v, want < 500ms", i, d)
		}
	}
}

// TestFollowListenerReconnects: when the listening connection is killed,
// the listener reconnects and the follower misses nothing.
func TestFollowListenerReconnects(t *testing.T) {
	dsn := freshSchema(t)
	w := open(t, dsn, testOptions)
	if err := w.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	r := open(t, dsn, postgres.Options{PollInterval: time.Minute})
	ch := follower(t, r, audit.Filter{})
	latency(t, w, ch, 1)
	admin(t, dsn, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'audit (follow)'")
	if _, err := w.Append(context.Background(), storetest.Events(3, 2)); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
			t.Fatal("events written while the listener was down did not arrive")
		}
	}
	time.Sleep(500 * time.Millisecond) // listening again
	if d := latency(t, w, ch, 3); d > 500*time.Millisecond {
		t.Errorf("after the reconnect an event arrived after %v, want < 500ms", d)
	}
}

// TestFollowWaitsForSchema: a Follow begun before the store exists waits
// for it, quietly.
func TestFollowWaitsForSchema(t *testing.T) {
	dsn := freshSchema(t)
	ch := follower(t, open(t, dsn, testOptions), audit.Filter{})
	time.Sleep(200 * time.Millisecond)
	if n := countTables(t, dsn); n != 0 {
		t.Fatalf("Follow created %d tables", n)
	}
	latency(t, open(t, dsn, testOptions), ch, 1)
}

// TestFollowIdleCPU checks that waiting for events is no busy loop: an
// idle Follow uses well under 1% of a core.
func TestFollowIdleCPU(t *testing.T) {
	if testing.Short() {
		t.Skip("takes 3s")
	}
	dsn := freshSchema(t)
	s := open(t, dsn, postgres.Options{})
	if _, err := s.Append(context.Background(), storetest.Events(100, 1)); err != nil {
		t.Fatal(err)
	}
	ch := follower(t, s, audit.Filter{})
	for range 100 {
		<-ch
	}
	time.Sleep(300 * time.Millisecond)
	before, start := cpuTime(t), time.Now()
	time.Sleep(3 * time.Second)
	used, elapsed := cpuTime(t)-before, time.Since(start)
	share := float64(used) / float64(elapsed)
	t.Logf("idle Follow: %v CPU in %v (%.3f%% of a core)", used, elapsed.Round(time.Millisecond), 100*share)
	// The CPU clock is the whole test process's (the runtime, the GC, other
	// packages' processes competing for two cores), so the bound is one a
	// busy loop, which takes a core, cannot meet and an idle poll always
	// does; the figure itself is in docs/benchmarks.md (bench/watch).
	if share > 0.10 {
		t.Errorf("idle Follow uses %.2f%% of a core, want < 10%%: a busy loop?", 100*share)
	}
}

func cpuTime(t *testing.T) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
