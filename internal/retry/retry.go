// Package retry runs an operation again, with exponential backoff and
// jitter, while it fails with an error that says "try again later": a
// store busy with another writer, a server answering 503.
package retry

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"
)

// Policy says how long to keep trying.
type Policy struct {
	// For is the longest time from the first try to the start of the last.
	For time.Duration
	// First is the first wait; each wait doubles up to Max.
	First, Max time.Duration
	// Retryable reports whether err is worth another try.
	Retryable func(error) bool
	// OnRetry, when set, is told of each failed try that will be retried,
	// with the wait before the next.
	OnRetry func(err error, wait time.Duration)
}

// After is an error that asks for a wait of its own before the next try,
// as an HTTP Retry-After header does.
type After interface {
	RetryAfter() time.Duration
}

// Do runs f until it succeeds, fails with an error that is not retryable,
// p.For has passed or ctx ends. It returns f's last error (ctx's error
// when ctx ended during a wait).
func Do(ctx context.Context, p Policy, f func() error) error {
	if p.First <= 0 {
		p.First = 50 * time.Millisecond
	}
	if p.Max <= 0 {
		p.Max = 2 * time.Second
	}
	deadline := time.Now().Add(p.For)
	wait := p.First
	for {
		err := f()
		if err == nil || p.Retryable == nil || !p.Retryable(err) || ctx.Err() != nil {
			return err
		}
		// Full jitter around the backoff: writers that collided once do
		// not collide again in step.
		d := wait/2 + rand.N(wait/2+1)
		var ra After
		if errors.As(err, &ra) && ra.RetryAfter() > 0 {
			d = ra.RetryAfter()
		}
		if time.Now().Add(d).After(deadline) {
			return err
		}
		if p.OnRetry != nil {
			p.OnRetry(err, d)
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, p.Max)
	}
}
