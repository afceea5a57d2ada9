package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/retry"
)

// maxTrackedAddrs bounds the client addresses the failure rate limit
// remembers; beyond it, new addresses share one allowance.
const maxTrackedAddrs = 10_000

// securityLog records failed requests (bad or missing tokens, too weak a
// role) in the store as security events with outcome failure and the
// client's address, so that `audit list --type security --failed` shows
// someone guessing tokens. A flood of them must not flood the log: per
// client address it records at most one event per interval and counts the
// others, which the next event of that address (or a summary event once
// the interval is over) reports. Events are written in the background;
// the request that failed does not wait for the store.
type securityLog struct {
	store    audit.Store
	interval time.Duration
	now      func() time.Time
	log      *slog.Logger

	mu     sync.Mutex
	closed bool
	addrs  map[string]*addrFailures
	ch     chan audit.Event
	stop   chan struct{}
	wg     sync.WaitGroup

	dropped atomic.Int64 // events that could not be recorded
}

// addrFailures is the rate-limit state of one client address.
type addrFailures struct {
	last       time.Time   // when the last event of it was recorded (the real clock)
	since      time.Time   // that event's Time (the server's clock)
	suppressed int         // failures since then not recorded
	latest     audit.Event // the latest of them
}

// sharedAddr is the key all addresses share once maxTrackedAddrs are
// tracked.
const sharedAddr = "*"

func newSecurityLog(store audit.Store, interval time.Duration, now func() time.Time, log *slog.Logger) *securityLog {
	l := &securityLog{store: store, interval: interval, now: now, log: log,
		addrs: map[string]*addrFailures{}, ch: make(chan audit.Event, 256), stop: make(chan struct{})}
	l.wg.Add(2)
	go l.write()
	go l.sweep()
	return l
}

// failure records e, a failed request, unless its client's allowance is
// used up. It fills in what all such events share.
func (l *securityLog) failure(r *http.Request, e audit.Event) {
	// The allowance runs on the real clock; the events carry the
	// server's, which tests may pin.
	now := time.Now()
	e.ID = audit.NewID()
	e.Time = l.now()
	e.Type = audit.TypeSecurity
	e.Outcome = audit.OutcomeFailure
	e.ResourceType = "api"
	e.Resource = r.URL.Path
	e.IP = clientIP(r)

	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	key := e.IP
	if _, ok := l.addrs[key]; !ok && len(l.addrs) >= maxTrackedAddrs {
		key = sharedAddr
	}
	st := l.addrs[key]
	if st != nil && now.Sub(st.last) < l.interval {
		st.suppressed++
		st.latest = e
		return
	}
	if st == nil {
		st = &addrFailures{}
		l.addrs[key] = st
	}
	if st.suppressed > 0 {
		e.Details += fmt.Sprintf(" (and %s from %s since %s, not recorded one by one)",
			moreFailures(st.suppressed), addrName(key), audit.FormatTime(st.since))
		st.suppressed = 0
	}
	st.last, st.since = now, e.Time
	l.enqueue(e)
}

func moreFailures(n int) string {
	if n == 1 {
		return "1 more failed request"
	}
	return fmt.Sprintf("%d more failed requests", n)
}

func addrName(key string) string {
	switch key {
	case sharedAddr:
		return "other addresses"
	case "":
		return "an unknown address"
	}
	return key
}

// enqueue hands e to the writer; l.mu is held.
func (l *securityLog) enqueue(e audit.Event) {
	select {
	case l.ch <- e:
	default:
		l.drop(1, errors.New("the writer is behind: its queue is full"))
	}
}

// sweep reports the failures suppressed in intervals that are over and
// forgets quiet addresses.
func (l *securityLog) sweep() {
	defer l.wg.Done()
	t := time.NewTicker(l.interval)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			l.mu.Lock()
			l.flushLocked(false)
			l.mu.Unlock()
		}
	}
}

// flushLocked writes a summary event for every address with suppressed
// failures whose interval is over (all of them when final).
func (l *securityLog) flushLocked(final bool) {
	now, at := time.Now(), l.now()
	for key, st := range l.addrs {
		if !final && now.Sub(st.last) < l.interval {
			continue
		}
		if st.suppressed == 0 {
			delete(l.addrs, key)
			continue
		}
		ip := key
		if key == sharedAddr {
			ip = ""
		}
		l.enqueue(audit.Event{
			ID: audit.NewID(), Time: at, User: st.latest.User, UserName: st.latest.UserName,
			Type: audit.TypeSecurity, Action: st.latest.Action, ResourceType: "api", Resource: st.latest.Resource,
			Details: fmt.Sprintf("%s from %s since %s, not recorded one by one (at most one event per address every %s)",
				moreFailures(st.suppressed), addrName(key), audit.FormatTime(st.since), l.interval),
			IP: ip, Outcome: audit.OutcomeFailure,
		})
		st.suppressed = 0
		st.last, st.since = now, at
	}
}

// write appends the queued events, in batches when they come fast.
func (l *securityLog) write() {
	defer l.wg.Done()
	for e := range l.ch {
		batch := []audit.Event{e}
	more:
		for len(batch) < 100 {
			select {
			case e, ok := <-l.ch:
				if !ok {
					break more
				}
				batch = append(batch, e)
			default:
				break more
			}
		}
		// A store busy with a long import, or briefly unreachable, is waited
		// for: these events are the trace of someone guessing tokens.
		ctx, cancel := context.WithTimeout(context.Background(), securityWriteFor+time.Minute)
		err := retry.Do(ctx, retry.Policy{For: securityWriteFor, First: 100 * time.Millisecond, Max: 5 * time.Second,
			Retryable: func(err error) bool { return errors.Is(err, audit.ErrUnavailable) },
			OnRetry: func(err error, wait time.Duration) {
				l.log.Warn("security events not recorded yet; retrying", "events", len(batch), "wait", wait, "err", err)
			}}, func() error {
			_, err := l.store.Append(ctx, batch)
			return err
		})
		cancel()
		if err != nil {
			l.drop(len(batch), err)
		}
	}
}

// securityWriteFor is how long the writer keeps trying to store a batch of
// security events before it counts them as dropped.
const securityWriteFor = 2 * time.Minute

// drop counts n security events that could not be recorded and logs it.
func (l *securityLog) drop(n int, err error) {
	total := l.dropped.Add(int64(n))
	l.log.Error("security events dropped", "events", n, "dropped_total", total, "err", err)
}

// Dropped is how many security events could not be recorded so far.
func (l *securityLog) Dropped() int64 { return l.dropped.Load() }

// close writes the pending summaries and events and stops.
func (l *securityLog) close() {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.flushLocked(true)
	l.closed = true
	close(l.stop)
	close(l.ch)
	l.mu.Unlock()
	l.wg.Wait()
}
