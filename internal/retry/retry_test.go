package retry

import (
	"context"
	"errors"
	"testing"
	"time"
)

var errBusy = errors.New("busy")

func isBusy(err error) bool { return errors.Is(err, errBusy) }

func TestDoRetriesUntilSuccess(t *testing.T) {
	tries := 0
	err := Do(context.Background(), Policy{For: time.Minute, First: time.Millisecond, Retryable: isBusy}, func() error {
		tries++
		if tries < 4 {
			return errBusy
		}
		return nil
	})
	if err != nil || tries != 4 {
		t.Fatalf("err %v after %d tries, want success on the 4th", err, tries)
	}
}

func TestDoStopsOnOtherErrors(t *testing.T) {
	other := errors.New("disk full")
	tries := 0
	err := Do(context.Background(), Policy{For: time.Minute, First: time.Millisecond, Retryable: isBusy}, func() error {
		tries++
		return other
	})
	if !errors.Is(err, other) || tries != 1 {
		t.Fatalf("err %v after %d tries, want disk full after 1", err, tries)
	}
}

func TestDoGivesUpAfterFor(t *testing.T) {
	start := time.Now()
	err := Do(context.Background(), Policy{For: 100 * time.Millisecond, First: 10 * time.Millisecond, Max: 20 * time.Millisecond, Retryable: isBusy},
		func() error { return errBusy })
	if !errors.Is(err, errBusy) {
		t.Fatalf("err %v, want the last busy error", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("gave up after %v, want about 100ms", d)
	}
}

func TestDoEndsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	tries := 0
	err := Do(ctx, Policy{For: time.Hour, First: time.Millisecond, Retryable: isBusy}, func() error {
		tries++
		if tries == 3 {
			cancel()
		}
		return errBusy
	})
	if tries != 3 || (err != errBusy && !errors.Is(err, context.Canceled)) {
		t.Fatalf("err %v after %d tries", err, tries)
	}
}
