package audit

import (
	"context"
	"fmt"
	"time"
)

// CatchUp waits until replica, a read-only copy of primary (a streaming
// standby), holds every event primary had committed when CatchUp was
// called: until its head seq is at least primary's. A replica still behind
// after wait is an error wrapping ErrUnavailable that says how far behind
// it is; so a read of a closed period from the replica reads all of it, as
// the primary would. Stores that cannot tell their head (no ChainStore)
// are not waited for.
func CatchUp(ctx context.Context, primary, replica Store, wait time.Duration) error {
	p, ok1 := primary.(ChainStore)
	r, ok2 := replica.(ChainStore)
	if !ok1 || !ok2 {
		return nil
	}
	want, _, err := p.Head(ctx)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(wait)
	for delay := 10 * time.Millisecond; ; delay = min(2*delay, 250*time.Millisecond) {
		got, _, err := r.Head(ctx)
		if err != nil {
			return err
		}
		if got >= want {
			return nil
		}
		if !time.Now().Before(deadline) {
			return fmt.Errorf("%w: the read store has events up to seq %d, the store up to seq %d, and it did not catch up within %s: "+
				"reading it would miss events (wait longer with --replica-wait, or read the store itself without --read-store)",
				ErrUnavailable, got, want, wait)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
	}
}
