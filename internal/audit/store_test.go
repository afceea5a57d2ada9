package audit_test

import (
	"errors"
	"fmt"
	"iter"
	"testing"

	"github.com/audit-cli/audit/internal/audit"
)

// source yields n events, then err (if any), and tells when it ended.
func source(n int, err error, ended *bool) iter.Seq2[audit.Event, error] {
	return func(yield func(audit.Event, error) bool) {
		defer func() { *ended = true }()
		for i := range n {
			if !yield(audit.Event{Seq: int64(i + 1)}, nil) {
				return
			}
		}
		if err != nil {
			yield(audit.Event{}, err)
		}
	}
}

// Prefetch yields exactly what its source yields, in order, the error
// after the events before it; a caller that stops early stops the source
// before the loop ends (so a store may be closed right after).
func TestPrefetch(t *testing.T) {
	boom := errors.New("boom")
	for _, c := range []struct {
		n, batch int
		err      error
	}{{0, 4, nil}, {1, 4, nil}, {4, 4, nil}, {10, 4, nil}, {10, 4, boom}, {3, 1, boom}, {0, 3, boom}} {
		var ended bool
		var seqs []int64
		var got error
		for e, err := range audit.Prefetch(source(c.n, c.err, &ended), c.batch) {
			if err != nil {
				got = err
				continue
			}
			seqs = append(seqs, e.Seq)
		}
		want := make([]int64, c.n)
		for i := range want {
			want[i] = int64(i + 1)
		}
		if fmt.Sprint(seqs) != fmt.Sprint(want) || got != c.err || !ended {
			t.Errorf("%+v: seqs %v, err %v, source ended %v", c, seqs, got, ended)
		}
	}
	var ended bool
	n := 0
	for range audit.Prefetch(source(100_000, nil, &ended), 16) {
		if n++; n == 5 {
			break
		}
	}
	if !ended {
		t.Errorf("stopping early left the source running")
	}
}
