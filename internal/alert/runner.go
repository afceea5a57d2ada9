package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"os"
	"path/filepath"
	"time"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/cursor"
	"github.com/audit-cli/audit/internal/retry"
)

// Defaults of a Runner.
const (
	DefaultRetryFor   = 10 * time.Minute
	DefaultRetryFirst = time.Second
	DefaultRetryMax   = time.Minute
)

// Runner delivers the alerts of rules over a store's events, at least
// once: it follows the store after the cursor, and moves the cursor past
// an event only when every alert the event fired was delivered to every
// target, or, after RetryFor of failures, written to the dead letters. A
// restart resumes after the cursor, with the burst state rebuilt from the
// events before it (without sending again), so nothing is missed and no
// burst fires twice. Delivery reads the log; it never holds up writers.
type Runner struct {
	Store   audit.Store
	Rules   []*Rule
	Targets []Target
	// Cursor is where the runner resumes and what it moves; nil keeps the
	// position in memory only (starting at the newest event, or After).
	Cursor *cursor.File
	// After is where to start when there is no saved cursor: the events
	// with a larger seq; -1 means after the newest event.
	After int64
	// DeadLetter is the file (JSON Lines, appended) of the alerts that
	// could not be delivered; "" keeps them in the log only.
	DeadLetter string
	// RetryFor, RetryFirst and RetryMax shape the retries of a delivery:
	// backoff with jitter from RetryFirst doubling to RetryMax, for at
	// most RetryFor.
	RetryFor, RetryFirst, RetryMax time.Duration
	// Sent, when set, is told of every alert after its delivery, with the
	// error of the targets that failed (nil when all succeeded).
	Sent func(a *Alert, err error)
	// Problem, when set, is told of a failure that is being retried (a
	// target, the store).
	Problem func(err error)
	// Now is the clock of the per-minute summaries; nil means time.Now.
	Now func() time.Time
}

// DeadLetter is one line of a dead-letter file.
type DeadLetter struct {
	Time   time.Time `json:"time"`
	Target string    `json:"target"`
	Error  string    `json:"error"`
	Alert  Alert     `json:"alert"`
}

// filter is what the runner follows: the events any rule may match.
func (r *Runner) filter() audit.Filter {
	if len(r.Rules) == 1 {
		return r.Rules[0].Filter
	}
	return audit.Filter{}
}

// Run delivers until ctx is done (nil) or the cursor cannot be saved.
func (r *Runner) Run(ctx context.Context) error {
	if r.Now == nil {
		r.Now = time.Now
	}
	if r.RetryFor <= 0 {
		r.RetryFor = DefaultRetryFor
	}
	if r.RetryFirst <= 0 {
		r.RetryFirst = DefaultRetryFirst
	}
	if r.RetryMax <= 0 {
		r.RetryMax = DefaultRetryMax
	}
	for _, rule := range r.Rules {
		if err := rule.Validate(); err != nil {
			return err
		}
	}
	engine := NewEngine(r.Rules...)
	last, err := r.start(ctx, engine)
	if err != nil {
		return err
	}
	wait := r.RetryFirst
	for ctx.Err() == nil {
		next, err := r.follow(ctx, engine, last)
		if next > last {
			last, wait = next, r.RetryFirst
		}
		if ctx.Err() != nil {
			return nil
		}
		var ce *cursorError
		if errors.As(err, &ce) {
			return ce.err
		}
		if errors.Is(err, audit.ErrInvalid) || errors.Is(err, audit.ErrUnauthorized) || errors.Is(err, audit.ErrForbidden) {
			return err // trying again cannot help
		}
		if err != nil && r.Problem != nil {
			r.Problem(fmt.Errorf("following the store: %w (retrying in %s)", err, wait))
		}
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
		wait = min(2*wait, r.RetryMax)
	}
	return nil
}

type cursorError struct{ err error }

func (e *cursorError) Error() string { return e.err.Error() }

// start finds where to resume and rebuilds the burst state from the
// events before it.
func (r *Runner) start(ctx context.Context, engine *Engine) (int64, error) {
	last, ok := int64(0), false
	if r.Cursor != nil {
		var err error
		if last, ok, err = r.Cursor.Load(); err != nil {
			return 0, err
		}
	}
	for !ok {
		var err error
		last, err = r.head(ctx)
		if err == nil {
			break
		}
		if r.Problem != nil {
			r.Problem(fmt.Errorf("waiting for the store: %w", err))
		}
		select {
		case <-ctx.Done():
			return 0, nil
		case <-time.After(r.RetryFirst):
		}
	}
	if r.Cursor != nil && !ok {
		if err := r.Cursor.Save(last); err != nil {
			return 0, err
		}
	}
	if w := engine.Window(); w > 0 && last > 0 {
		r.prime(ctx, engine, last, w)
	}
	return last, nil
}

// head is where a runner without a cursor starts. A store file not
// created yet holds no events: every event it will get is new.
func (r *Runner) head(ctx context.Context) (int64, error) {
	if r.After >= 0 {
		return r.After, nil
	}
	if p, ok := r.Store.(interface{ Path() string }); ok {
		if _, err := os.Stat(p.Path()); errors.Is(err, os.ErrNotExist) {
			return 0, nil
		}
	}
	for e, err := range r.Store.Query(ctx, audit.Filter{Order: audit.Descending, Limit: 1}) {
		return e.Seq, err
	}
	return 0, nil
}

// prime feeds the engine the events up to last within the longest window,
// dropping what they fire: it was delivered before the restart.
func (r *Runner) prime(ctx context.Context, engine *Engine, last int64, window time.Duration) {
	f := r.filter()
	f.Before, f.Order = last+1, audit.Descending
	var back []audit.Event
	var newest time.Time
	for e, err := range r.Store.Query(ctx, f) {
		if err != nil {
			return
		}
		if newest.IsZero() {
			newest = e.Time
		}
		if newest.Sub(e.Time) > window {
			break
		}
		back = append(back, e)
	}
	var discard []Alert
	for i := len(back) - 1; i >= 0; i-- {
		discard = engine.Feed(&back[i], discard[:0])
	}
}

// follow delivers the alerts of the events after last until the store
// fails or ctx ends, and returns the last seq it handled.
func (r *Runner) follow(ctx context.Context, engine *Engine, last int64) (int64, error) {
	f := r.filter()
	f.After = last
	items, stop := audit.FollowChan(ctx, r.Store, f, 256)
	defer stop()
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	var alerts []Alert
	for {
		select {
		case <-ctx.Done():
			return last, nil
		case <-tick.C:
			for _, a := range engine.Flush(r.Now(), alerts[:0]) {
				r.deliver(ctx, &a)
			}
		case it, ok := <-items:
			if !ok {
				return last, ctx.Err()
			}
			if it.Err != nil {
				return last, it.Err
			}
			alerts = engine.Feed(&it.Event, alerts[:0])
			for i := range alerts {
				if !r.deliver(ctx, &alerts[i]) {
					return last, nil // interrupted mid-delivery: resend after a restart
				}
			}
			last = it.Event.Seq
			if r.Cursor != nil {
				if err := r.Cursor.Save(last); err != nil {
					return last, &cursorError{err}
				}
			}
		}
	}
}

// deliver sends a to every target, retrying each for RetryFor, and
// writes a dead letter for each that still fails. It returns false when
// ctx ended before the alert was handled.
func (r *Runner) deliver(ctx context.Context, a *Alert) bool {
	var failed []error
	for _, t := range r.Targets {
		err := retry.Do(ctx, retry.Policy{For: r.RetryFor, First: r.RetryFirst, Max: r.RetryMax,
			Retryable: func(err error) bool { return !errors.Is(err, ErrPermanent) },
			OnRetry: func(err error, wait time.Duration) {
				if r.Problem != nil {
					r.Problem(fmt.Errorf("%s: %v (trying again in %s)", t.Name(), err, wait.Round(time.Millisecond)))
				}
			}},
			func() error { return t.Send(ctx, a) })
		if ctx.Err() != nil {
			return false
		}
		if err != nil {
			failed = append(failed, fmt.Errorf("%s: %w", t.Name(), err))
			r.deadLetter(t, a, err)
		}
	}
	if r.Sent != nil {
		r.Sent(a, errors.Join(failed...))
	}
	return true
}

func (r *Runner) deadLetter(t Target, a *Alert, err error) {
	if r.DeadLetter == "" {
		return
	}
	line, merr := json.Marshal(DeadLetter{Time: r.Now().UTC(), Target: t.Name(), Error: err.Error(), Alert: *a})
	if merr == nil {
		merr = appendLine(r.DeadLetter, line)
	}
	if merr != nil && r.Problem != nil {
		r.Problem(fmt.Errorf("writing the dead letter to %s: %w", r.DeadLetter, merr))
	}
}

func appendLine(path string, line []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(append(line, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// ReadDeadLetters reads a dead-letter file; a missing file has none.
func ReadDeadLetters(path string) ([]DeadLetter, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []DeadLetter
	for i, line := range bytes.Split(b, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var d DeadLetter
		if err := json.Unmarshal(line, &d); err != nil {
			return out, fmt.Errorf("%s: line %d: %v", path, i+1, err)
		}
		out = append(out, d)
	}
	return out, nil
}

// Replay runs rules over events as the live runner would, and returns
// what they fire, summaries included, without sending anything.
func Replay(events iter.Seq2[audit.Event, error], rules []*Rule) ([]Alert, error) {
	engine := NewEngine(rules...)
	var out []Alert
	var lastTime time.Time
	for e, err := range events {
		if err != nil {
			return out, err
		}
		out = engine.Feed(&e, out)
		lastTime = e.Time
	}
	return engine.Flush(lastTime.Add(time.Hour), out), nil
}
