// Package storetest is the conformance suite of audit.Store: every backend
// (SQLite, PostgreSQL, the remote store) runs Run against itself, so that
// all of them agree with each other and with audit.Filter.Match, the
// reference semantics of the filters.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/audit-cli/audit/internal/audit"
)

// Run runs the conformance suite. Each subtest calls open for a new store
// of its own: it must exist (a backend whose stores are created lazily, by
// the first write, creates it first) and be empty. Run closes it when the
// subtest ends. Follow tests wait for events up to a few seconds, so a
// backend should poll well under a second.
func Run(t *testing.T, open func(t *testing.T) audit.Store) {
	o := func(t *testing.T) audit.Store {
		t.Helper()
		s := open(t)
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return s
	}
	t.Run("EmptyStore", func(t *testing.T) { testEmpty(t, o(t)) })
	t.Run("AppendAssignsSeqAndHash", func(t *testing.T) { testAppend(t, o(t)) })
	t.Run("AppendIsIdempotent", func(t *testing.T) { testIdempotent(t, o(t)) })
	t.Run("AppendDuplicateInBatch", func(t *testing.T) { testDuplicateInBatch(t, o(t)) })
	t.Run("AppendConflict", func(t *testing.T) { testConflict(t, o(t)) })
	t.Run("AppendInvalidBatch", func(t *testing.T) { testInvalidBatch(t, o(t)) })
	t.Run("AppendEmptyBatch", func(t *testing.T) { testEmptyBatch(t, o(t)) })
	t.Run("AppendConcurrent", func(t *testing.T) { testConcurrent(t, o(t)) })
	t.Run("Filters", func(t *testing.T) { testFilters(t, o(t)) })
	t.Run("Paging", func(t *testing.T) { testPaging(t, o(t)) })
	t.Run("RoundTrip", func(t *testing.T) { testRoundTrip(t, o(t)) })
	t.Run("Get", func(t *testing.T) { testGet(t, o(t)) })
	t.Run("QueryEarlyBreak", func(t *testing.T) { testQueryBreak(t, o(t)) })
	t.Run("Follow", func(t *testing.T) { testFollow(t, o(t)) })
	t.Run("FollowAfter", func(t *testing.T) { testFollowAfter(t, o(t)) })
	t.Run("FollowEarlyBreak", func(t *testing.T) { testFollowBreak(t, o(t)) })
	t.Run("Close", func(t *testing.T) { testClose(t, open(t)) })
}

// testClose closes s (twice: the second does nothing) and checks that it
// then refuses to write or read.
func testClose(t *testing.T, s audit.Store) {
	ctx := context.Background()
	appendOK(t, s, Events(1, 1))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := s.Append(ctx, Events(1, 2)); err == nil {
		t.Fatal("Append after Close succeeded")
	}
	for _, err := range s.Query(ctx, audit.Filter{}) {
		if err == nil {
			t.Fatal("Query after Close yielded an event")
		}
	}
}

// timeout bounds every wait of the suite.
const timeout = 10 * time.Second

func testEmpty(t *testing.T, s audit.Store) {
	ctx := context.Background()
	got := query(t, s, audit.Filter{})
	if len(got) != 0 {
		t.Fatalf("Query on an empty store returned %d events", len(got))
	}
	got = query(t, s, audit.Filter{Users: []string{"jdavis"}, Order: audit.Descending, Limit: 5})
	if len(got) != 0 {
		t.Fatalf("filtered Query on an empty store returned %d events", len(got))
	}
	if _, err := s.Get(ctx, "nope"); !errors.Is(err, audit.ErrNotFound) {
		t.Fatalf("Get on an empty store: err = %v, want ErrNotFound", err)
	}
}

func testAppend(t *testing.T, s audit.Store) {
	var last int64
	seen := map[string]bool{}
	for b := range 3 {
		batch := Events(20, int64(100+b))
		res := appendOK(t, s, batch)
		if res.Added != 20 || res.Existing != 0 {
			t.Fatalf("batch %d: result %+v, want 20 added", b, res)
		}
		for i, e := range batch {
			if e.Seq <= last {
				t.Fatalf("batch %d event %d: seq %d not greater than previous %d", b, i, e.Seq, last)
			}
			last = e.Seq
			if e.Hash == "" {
				t.Fatalf("batch %d event %d: no hash", b, i)
			}
			if seen[e.Hash] {
				t.Fatalf("batch %d event %d: hash %s repeats", b, i, e.Hash)
			}
			seen[e.Hash] = true
		}
	}
	got := query(t, s, audit.Filter{})
	if len(got) != 60 {
		t.Fatalf("stored %d events, want 60", len(got))
	}
	for i := 1; i < len(got); i++ {
		if got[i].Seq <= got[i-1].Seq {
			t.Fatalf("Query order: seq %d after %d", got[i].Seq, got[i-1].Seq)
		}
	}
}

func testIdempotent(t *testing.T, s audit.Store) {
	first := Events(30, 7)
	appendOK(t, s, first)
	want := query(t, s, audit.Filter{})

	again := Events(30, 7)
	res := appendOK(t, s, again)
	if res.Added != 0 || res.Existing != 30 {
		t.Fatalf("re-append: result %+v, want 0 added and 30 existing", res)
	}
	for i, e := range again {
		if e.Seq != 0 {
			t.Fatalf("re-appended event %d got seq %d, want 0 (not added)", i, e.Seq)
		}
	}
	equalEvents(t, "after re-append", query(t, s, audit.Filter{}), want)

	// Half old, half new: only the new ones are added, after the old ones.
	mixed := append(Events(30, 7)[15:], Events(15, 8)...)
	res = appendOK(t, s, mixed)
	if res.Added != 15 || res.Existing != 15 {
		t.Fatalf("mixed re-append: result %+v, want 15 added and 15 existing", res)
	}
	last := want[len(want)-1].Seq
	for i, e := range mixed {
		switch {
		case i < 15 && e.Seq != 0:
			t.Fatalf("mixed event %d (old) got seq %d", i, e.Seq)
		case i >= 15 && e.Seq <= last:
			t.Fatalf("mixed event %d (new) got seq %d, not after %d", i, e.Seq, last)
		}
	}
	if got := query(t, s, audit.Filter{}); len(got) != 45 {
		t.Fatalf("stored %d events, want 45", len(got))
	}
}

func testDuplicateInBatch(t *testing.T, s audit.Store) {
	// The same event twice in one batch is stored once.
	batch := Events(3, 9)
	batch = append(batch, batch[0])
	res := appendOK(t, s, batch)
	if res.Added != 3 || res.Existing != 1 {
		t.Fatalf("result %+v, want 3 added and 1 existing", res)
	}
	if batch[3].Seq != 0 {
		t.Fatalf("duplicate got seq %d, want 0", batch[3].Seq)
	}

	// Another event under an id used earlier in the batch is a conflict,
	// and the batch stores nothing.
	batch = Events(3, 10)
	dup := batch[0]
	dup.Details = "a different body under the same id"
	batch = append(batch, dup)
	checkConflict(t, s, batch, 3, dup.ID, "details")
	if got := query(t, s, audit.Filter{}); len(got) != 3 {
		t.Fatalf("a conflicting batch stored events: %d in the store, want 3", len(got))
	}
}

// testConflict appends an event under an id that is stored already with
// other content: that is refused with a *audit.ConflictError naming the id,
// the record and the field, and nothing of its batch is stored.
func testConflict(t *testing.T, s audit.Store) {
	stored := Events(5, 12)
	appendOK(t, s, stored)
	for field, change := range map[string]func(e *audit.Event){
		"time":    func(e *audit.Event) { e.Time = e.Time.Add(time.Second) },
		"user":    func(e *audit.Event) { e.User = "mallory" },
		"details": func(e *audit.Event) { e.Details += " (altered)" },
		"ip":      func(e *audit.Event) { e.IP = "203.0.113.9" },
		"outcome": func(e *audit.Event) { e.Outcome = audit.OutcomeFailure },
	} {
		batch := Events(3, 13)
		e := stored[2]
		e.Seq, e.Hash = 0, ""
		if field == "outcome" && e.Outcome == audit.OutcomeFailure {
			e.Outcome = audit.OutcomeSuccess
		} else {
			change(&e)
		}
		batch = append(batch, e)
		checkConflict(t, s, batch, 3, e.ID, field)
	}
	if got := query(t, s, audit.Filter{}); len(got) != 5 {
		t.Fatalf("conflicting batches stored events: %d in the store, want 5", len(got))
	}
	// The same content again stays a quiet duplicate.
	again := Events(5, 12)
	if res := appendOK(t, s, again); res.Existing != 5 || res.Added != 0 {
		t.Fatalf("re-append: %+v, want 5 existing", res)
	}
}

func checkConflict(t *testing.T, s audit.Store, batch []audit.Event, index int, id, field string) {
	t.Helper()
	_, err := s.Append(context.Background(), batch)
	var ce *audit.ConflictError
	if !errors.As(err, &ce) || !errors.Is(err, audit.ErrConflict) {
		t.Fatalf("%s changed: err = %v, want a *audit.ConflictError", field, err)
	}
	if ce.ID != id || ce.Index != index || ce.Field != field {
		t.Fatalf("%s changed: conflict %+v, want id %s, index %d, field %s", field, *ce, id, index, field)
	}
	for i := range batch {
		if batch[i].Seq != 0 {
			t.Fatalf("%s changed: event %d of a refused batch got seq %d", field, i, batch[i].Seq)
		}
	}
}

func testInvalidBatch(t *testing.T, s audit.Store) {
	bad := map[string]func(e *audit.Event){
		"type":    func(e *audit.Event) { e.Type = "bogus" },
		"ip":      func(e *audit.Event) { e.IP = "300.1.2.3" },
		"id":      func(e *audit.Event) { e.ID = "" },
		"time":    func(e *audit.Event) { e.Time = time.Time{} },
		"outcome": func(e *audit.Event) { e.Outcome = "maybe" },
	}
	for field, spoil := range bad {
		batch := Events(5, 11)
		spoil(&batch[3])
		res, err := s.Append(context.Background(), batch)
		var re *audit.RecordError
		if !errors.As(err, &re) {
			t.Fatalf("%s: err = %v, want a *audit.RecordError", field, err)
		}
		if re.Index != 3 {
			t.Fatalf("%s: RecordError.Index = %d, want 3", field, re.Index)
		}
		if !errors.Is(err, audit.ErrInvalid) {
			t.Fatalf("%s: err = %v, want it to wrap ErrInvalid", field, err)
		}
		var fe *audit.FieldError
		if !errors.As(err, &fe) || fe.Field != field {
			t.Fatalf("%s: err = %v, want a FieldError on %s", field, err, field)
		}
		if res.Added != 0 {
			t.Fatalf("%s: result %+v, want nothing added", field, res)
		}
		if got := query(t, s, audit.Filter{}); len(got) != 0 {
			t.Fatalf("%s: %d events stored from a failed batch", field, len(got))
		}
	}
	// The store still works after failed batches.
	if res := appendOK(t, s, Events(5, 11)); res.Added != 5 {
		t.Fatalf("after failed batches: result %+v, want 5 added", res)
	}
}

func testEmptyBatch(t *testing.T, s audit.Store) {
	res, err := s.Append(context.Background(), nil)
	if err != nil || res != (audit.AppendResult{}) {
		t.Fatalf("Append(nil) = %+v, %v; want zero result, no error", res, err)
	}
	if got := query(t, s, audit.Filter{}); len(got) != 0 {
		t.Fatalf("%d events after an empty batch", len(got))
	}
}

func testConcurrent(t *testing.T, s audit.Store) {
	const writers, batches, size = 4, 10, 10
	var wg sync.WaitGroup
	errs := make(chan error, writers*batches)
	assigned := make(chan audit.Event, writers*batches*size)
	for w := range writers {
		wg.Go(func() {
			for b := range batches {
				batch := Events(size, int64(1000+w*batches+b))
				if _, err := s.Append(context.Background(), batch); err != nil {
					errs <- err
					return
				}
				for _, e := range batch {
					assigned <- e
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	close(assigned)
	for err := range errs {
		t.Fatalf("concurrent Append: %v", err)
	}
	got := query(t, s, audit.Filter{})
	if len(got) != writers*batches*size {
		t.Fatalf("stored %d events, want %d", len(got), writers*batches*size)
	}
	bySeq := map[int64]string{}
	for _, e := range got {
		bySeq[e.Seq] = e.ID
	}
	for e := range assigned {
		if bySeq[e.Seq] != e.ID {
			t.Fatalf("Append reported seq %d for %s, the store has %q there", e.Seq, e.ID, bySeq[e.Seq])
		}
	}
}

// filterCase is one filter of testFilters; empty says the reference
// result is empty on purpose (otherwise an empty one fails the fixture).
type filterCase struct {
	name  string
	f     audit.Filter
	empty bool
}

func testFilters(t *testing.T, s audit.Store) {
	events := Events(300, 1)
	// Three events a nanosecond apart, for the time boundaries.
	edge := Epoch.Add(90 * time.Minute).Add(123456789)
	for i, d := range []time.Duration{-1, 0, 1} {
		e := Events(1, int64(50+i))[0]
		e.ID = fmt.Sprintf("edge-%d", i)
		e.Time = edge.Add(d)
		events = append(events, e)
	}
	appendOK(t, s, events)
	stored := query(t, s, audit.Filter{})
	if len(stored) != len(events) {
		t.Fatalf("stored %d events, want %d", len(stored), len(events))
	}
	mid := stored[len(stored)/2]

	cidr := func(ss ...string) []netip.Prefix {
		var ps []netip.Prefix
		for _, s := range ss {
			p, err := audit.ParsePrefix(s)
			if err != nil {
				t.Fatal(err)
			}
			ps = append(ps, p)
		}
		return ps
	}
	cases := []filterCase{
		{name: "all", f: audit.Filter{}},
		{name: "user login", f: audit.Filter{Users: []string{"jdavis"}}},
		{name: "user upper case", f: audit.Filter{Users: []string{"JDAVIS"}}},
		{name: "user display name", f: audit.Filter{Users: []string{"john davis"}}},
		{name: "user display name exact case", f: audit.Filter{Users: []string{"Sarah Miller"}}},
		{name: "user glob prefix", f: audit.Filter{Users: []string{"j*"}}},
		{name: "user glob suffix", f: audit.Filter{Users: []string{"*son"}}},
		{name: "user glob infix", f: audit.Filter{Users: []string{"*o*n*"}}},
		{name: "user glob all", f: audit.Filter{Users: []string{"*"}}},
		{name: "users OR", f: audit.Filter{Users: []string{"jdavis", "Sarah*", "lilei"}}},
		{name: "user unicode name", f: audit.Filter{Users: []string{"Zoë Šťastná"}}},
		{name: "user unicode case folding", f: audit.Filter{Users: []string{"ZOË ŠŤASTNÁ"}}},
		{name: "user unicode glob", f: audit.Filter{Users: []string{"zoë*"}}},
		{name: "user unicode glob inside", f: audit.Filter{Users: []string{"*ŠŤ*"}}},
		{name: "user CJK", f: audit.Filter{Users: []string{"李雷"}}},
		{name: "user emoji glob", f: audit.Filter{Users: []string{"*🚀*"}}},
		{name: "user quote", f: audit.Filter{Users: []string{"pat o'brien"}}},
		{name: "user underscore literal", f: audit.Filter{Users: []string{"json_bot"}}},
		{name: "user underscore glob literal", f: audit.Filter{Users: []string{"json_*"}}},
		{name: "user percent literal", f: audit.Filter{Users: []string{"*100%*"}}},
		{name: "user SQL", f: audit.Filter{Users: []string{"robert'); DROP TABLE events;--"}}},
		{name: "user none", f: audit.Filter{Users: []string{"nobody"}}, empty: true},
		{name: "user percent is not a wildcard", f: audit.Filter{Users: []string{"%"}}, empty: true},
		{name: "user underscore is not a wildcard", f: audit.Filter{Users: []string{"jdavi_"}}, empty: true},
		{name: "type", f: audit.Filter{Types: []audit.Type{audit.TypeLogin}}},
		{name: "types OR", f: audit.Filter{Types: []audit.Type{audit.TypeCreate, audit.TypeDelete}}},
		{name: "all types", f: audit.Filter{Types: audit.Types}},
		{name: "action", f: audit.Filter{Actions: []string{"updated"}}},
		{name: "action glob", f: audit.Filter{Actions: []string{"*enabled", "portal*"}}},
		{name: "resource", f: audit.Filter{Resources: []string{"HIGH CPU USAGE"}}},
		{name: "resource glob", f: audit.Filter{Resources: []string{"bbb-node-*"}}},
		{name: "resource percent", f: audit.Filter{Resources: []string{"disk > 90%"}}},
		{name: "resource underscore", f: audit.Filter{Resources: []string{"old_integration"}}},
		{name: "resource underscore glob", f: audit.Filter{Resources: []string{"old_*"}}},
		{name: "resource SQL", f: audit.Filter{Resources: []string{"'; DROP TABLE events; --"}}},
		{name: "resource SQL glob", f: audit.Filter{Resources: []string{"'; drop*"}}},
		{name: "resource quote glob", f: audit.Filter{Resources: []string{"*'s alert"}}},
		{name: "resource CJK", f: audit.Filter{Resources: []string{"李雷的账户"}}},
		{name: "resource non-ASCII case", f: audit.Filter{Resources: []string{"TEAM-ω"}}},
		{name: "resource type", f: audit.Filter{ResourceTypes: []string{"API_KEY"}}},
		{name: "resource type glob", f: audit.Filter{ResourceTypes: []string{"*_*"}}},
		{name: "ip v4 CIDR", f: audit.Filter{IPs: cidr("10.0.0.0/8")}},
		{name: "ip v4 /24", f: audit.Filter{IPs: cidr("192.168.1.0/24")}},
		{name: "ip v4 single", f: audit.Filter{IPs: cidr("203.45.67.89")}},
		{name: "ip v4 all", f: audit.Filter{IPs: cidr("0.0.0.0/0")}},
		{name: "ip v6 CIDR", f: audit.Filter{IPs: cidr("2001:db8::/32")}},
		{name: "ip v6 single", f: audit.Filter{IPs: cidr("::1")}},
		{name: "ip v6 all", f: audit.Filter{IPs: cidr("::/0")}},
		{name: "ip v4 and v6", f: audit.Filter{IPs: cidr("10.0.0.55", "fe80::/10")}},
		{name: "ip v4-mapped prefix", f: audit.Filter{IPs: cidr("::ffff:10.0.0.0/104")}, empty: true},
		{name: "outcome failure", f: audit.Filter{Outcome: audit.OutcomeFailure}},
		{name: "outcome success", f: audit.Filter{Outcome: audit.OutcomeSuccess}},
		{name: "since", f: audit.Filter{Since: mid.Time}},
		{name: "until", f: audit.Filter{Until: mid.Time}},
		{name: "since until", f: audit.Filter{Since: Epoch.Add(time.Hour), Until: Epoch.Add(3 * time.Hour)}},
		{name: "since nanosecond edge", f: audit.Filter{Since: edge}},
		{name: "until nanosecond edge", f: audit.Filter{Until: edge}},
		{name: "exactly one nanosecond", f: audit.Filter{Since: edge, Until: edge.Add(1)}},
		{name: "empty time range", f: audit.Filter{Since: edge, Until: edge}, empty: true},
		{name: "since before 1970", f: audit.Filter{Since: time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)}},
		{name: "until far future", f: audit.Filter{Until: time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)}},
		{name: "since far future", f: audit.Filter{Since: time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)}, empty: true},
		{name: "since in another zone", f: audit.Filter{Since: mid.Time.In(time.FixedZone("X", -5*3600))}},
		{name: "search", f: audit.Filter{Search: "cpu"}},
		{name: "search upper case", f: audit.Filter{Search: "CPU"}},
		{name: "search percent", f: audit.Filter{Search: "%"}},
		{name: "search percent underscore", f: audit.Filter{Search: "100%_"}},
		{name: "search underscore", f: audit.Filter{Search: "_"}},
		{name: "search backslash", f: audit.Filter{Search: `\data`}},
		{name: "search phrase", f: audit.Filter{Search: "load_multiplier from 1.0 to"}},
		{name: "search non-ASCII", f: audit.Filter{Search: "→ 2.0"}},
		{name: "search non-ASCII case", f: audit.Filter{Search: "ZOË'S"}},
		{name: "search emoji", f: audit.Filter{Search: "🔐"}},
		{name: "search SQL", f: audit.Filter{Search: "'; drop table"}},
		{name: "search quote", f: audit.Filter{Search: `"old"`}},
		{name: "search none", f: audit.Filter{Search: "no such text"}, empty: true},
		{name: "search LIKE wildcard literal", f: audit.Filter{Search: "1_0"}, empty: true},
		{name: "after", f: audit.Filter{After: mid.Seq}},
		{name: "before", f: audit.Filter{Before: mid.Seq}},
		{name: "after before", f: audit.Filter{After: stored[10].Seq, Before: stored[20].Seq}},
		{name: "user type since", f: audit.Filter{Users: []string{"jdavis", "*miller"}, Types: []audit.Type{audit.TypeLogin, audit.TypeUpdate}, Since: Epoch.Add(2 * time.Hour)}},
		{name: "type ip outcome", f: audit.Filter{Types: []audit.Type{audit.TypeLogin}, IPs: cidr("192.168.0.0/16", "2001:db8::/32"), Outcome: audit.OutcomeSuccess}},
		{name: "resource type search until", f: audit.Filter{ResourceTypes: []string{"server"}, Search: "load", Until: mid.Time}},
		{name: "action resource user", f: audit.Filter{Actions: []string{"created"}, Resources: []string{"*%*"}, Users: []string{"*a*"}}},
		{name: "everything", f: audit.Filter{Users: []string{"*"}, Types: audit.Types, Actions: []string{"*"}, Resources: []string{"*"},
			ResourceTypes: []string{"*"}, IPs: cidr("0.0.0.0/0", "::/0"), Outcome: audit.OutcomeSuccess, Since: Epoch.Add(-24 * time.Hour),
			Until: Epoch.Add(240 * time.Hour), Search: "e", After: stored[5].Seq, Before: stored[290].Seq}},
		{name: "contradiction", f: audit.Filter{Users: []string{"system"}, IPs: cidr("0.0.0.0/0")}, empty: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want := reference(stored, c.f)
			if len(want) == 0 && !c.empty {
				t.Fatalf("fixture: nothing matches %+v", c.f)
			}
			for _, order := range []audit.Order{audit.Ascending, audit.Descending} {
				for _, limit := range []int{0, 1, 5} {
					f := c.f
					f.Order, f.Limit = order, limit
					w := want
					if order == audit.Descending {
						w = slices.Clone(w)
						slices.Reverse(w)
					}
					if limit > 0 && len(w) > limit {
						w = w[:limit]
					}
					equalEvents(t, fmt.Sprintf("order %d limit %d", order, limit), query(t, s, f), w)
				}
			}
		})
	}
	// The SQL in values did no harm.
	if got := query(t, s, audit.Filter{}); len(got) != len(stored) {
		t.Fatalf("after the filters %d events are stored, want %d", len(got), len(stored))
	}
}

// reference filters events (in ascending seq order) with Match.
func reference(events []audit.Event, f audit.Filter) []audit.Event {
	var out []audit.Event
	for _, e := range events {
		if f.Match(&e) {
			out = append(out, e)
		}
	}
	return out
}

func testPaging(t *testing.T, s audit.Store) {
	appendOK(t, s, Events(103, 3))
	for _, f := range []audit.Filter{{}, {Types: []audit.Type{audit.TypeLogin, audit.TypeSecurity}}, {Users: []string{"j*"}, Search: "e"}} {
		all := query(t, s, f)
		if len(all) == 0 {
			t.Fatalf("fixture: nothing matches %+v", f)
		}
		// Ascending: resume after the last seq of each page.
		var pages []audit.Event
		for cursor := int64(0); ; {
			p := f
			p.After, p.Limit = cursor, 7
			page := query(t, s, p)
			pages = append(pages, page...)
			if len(page) < 7 {
				break
			}
			cursor = page[len(page)-1].Seq
		}
		equalEvents(t, fmt.Sprintf("ascending pages of %+v", f), pages, all)

		// Descending: resume before the last seq of each page.
		pages = nil
		for cursor := int64(0); ; {
			p := f
			p.Before, p.Limit, p.Order = cursor, 7, audit.Descending
			page := query(t, s, p)
			pages = append(pages, page...)
			if len(page) < 7 {
				break
			}
			cursor = page[len(page)-1].Seq
		}
		slices.Reverse(pages)
		equalEvents(t, fmt.Sprintf("descending pages of %+v", f), pages, all)
	}
}

func testRoundTrip(t *testing.T, s audit.Store) {
	at := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	events := []audit.Event{
		{ID: "rt-nanos", Time: at("2026-11-20T14:00:05.123456789Z"), User: "zstastna", UserName: "Zoë Šťastná",
			Type: audit.TypeUpdate, Action: "Přejmenováno", ResourceType: "účet", Resource: "Žluťoučký kůň",
			Details: "úpěl ďábelské ódy", IP: "2001:db8::1"},
		{ID: "rt-millis", Time: at("2026-11-20T14:00:05.1Z"), User: "lilei", UserName: "李雷",
			Type: audit.TypeLogin, Action: "登录", ResourceType: "会话", Resource: "门户", Details: "成功 ✅", IP: "10.0.0.55"},
		{ID: "rt-seconds", Time: at("2026-11-20T14:00:05Z"), User: "devops", UserName: "Dev 🚀 Ops",
			Type: audit.TypeSecurity, Action: "🔐 Key Rotated", ResourceType: "api_key", Resource: "🔑-prod",
			Details: "emoji 👩‍💻 with ZWJ, tab\tand newline\nand quote ' \" and backslash \\", Outcome: audit.OutcomeFailure},
		{ID: "rt-zone", Time: at("2026-11-20T09:00:05.000000001-05:00"), User: "system", UserName: "System",
			Type: audit.TypeDelete, Action: "Deleted", ResourceType: "api_key", Resource: "old-integration",
			Details: "Auto-expired after 365 days"},
		{ID: "rt-epoch", Time: at("1970-01-01T00:00:00.000000001Z"), User: "jdavis", UserName: "John Davis",
			Type: audit.TypeLogout, Action: "Logout", IP: "::ffff:192.168.1.100"},
		{ID: "rt-long", Time: at("2026-11-20T14:00:05Z"), User: strings.Repeat("u", audit.MaxShortLen),
			UserName: strings.Repeat("é", audit.MaxShortLen/2), Type: audit.TypeCreate, Action: strings.Repeat("a", audit.MaxShortLen),
			ResourceType: strings.Repeat("t", audit.MaxShortLen), Resource: strings.Repeat("r", audit.MaxResource),
			Details: strings.Repeat("d", audit.MaxDetailsLen), IP: "255.255.255.255"},
		// Imported from other producers: source and the original record,
		// whose key order and spacing are kept as compacted on ingest.
		{ID: "rt-cloudtrail", Time: at("2026-11-20T14:00:06Z"), User: "Mary_Major", Type: audit.TypeSecurity,
			Action: "StartLogging", Source: audit.SourceCloudTrail,
			Raw: []byte(`{ "eventVersion": "1.05", "zeta": 1, "alpha": {"b": [1, 2], "a": null}, "text": "é \u00e9 \n" }`)},
		{ID: "rt-auditd", Time: at("2026-11-20T14:00:07.243Z"), User: "1000", Type: audit.TypeUpdate,
			Action: "SYSCALL", Source: audit.SourceAuditd,
			Raw: []byte(`"type=SYSCALL msg=audit(1364481363.243:24287): key=\"sshd_config\"\ntype=CWD msg=audit(1364481363.243:24287): cwd=\"/home\""`)},
		{ID: "rt-source-only", Time: at("2026-11-20T14:00:08Z"), User: "hubot", Type: audit.TypeCreate,
			Action: "repo.create", Source: audit.SourceGitHub},
	}
	appendOK(t, s, events)
	if got := string(events[6].Raw); got != `{"eventVersion":"1.05","zeta":1,"alpha":{"b":[1,2],"a":null},"text":"é \u00e9 \n"}` {
		t.Fatalf("raw not compacted on ingest: %s", got)
	}
	var producers []audit.Event
	for _, e := range query(t, s, audit.Filter{Sources: []string{audit.SourceCloudTrail, audit.SourceAuditd}}) {
		producers = append(producers, e)
	}
	equalEvents(t, "Query by source", producers, events[6:8])
	if own := query(t, s, audit.Filter{Sources: []string{audit.SourceAudit}}); len(own) != 6 {
		t.Fatalf("Query source audit: %d events, want 6", len(own))
	}
	// The chain covers source and raw, and verifies as stored.
	if _, err := audit.Verify(context.Background(), s, audit.VerifyOptions{}); err != nil {
		t.Fatalf("Verify after producer events: %v", err)
	}
	// Normalization happened in place: UTC times, default outcome, unmapped IP.
	if events[4].IP != "192.168.1.100" || events[3].Time.Location() != time.UTC || events[0].Outcome != audit.OutcomeSuccess {
		t.Fatalf("Append did not normalize the events in place: %+v", events)
	}
	equalEvents(t, "Query", query(t, s, audit.Filter{}), events)
	for _, want := range events {
		got, err := s.Get(context.Background(), want.ID)
		if err != nil {
			t.Fatalf("Get(%q): %v", want.ID, err)
		}
		equalEvents(t, "Get", []audit.Event{got}, []audit.Event{want})
		if audit.FormatTime(got.Time) != audit.FormatTime(want.Time) {
			t.Fatalf("Get(%q): time %s, want %s", want.ID, audit.FormatTime(got.Time), audit.FormatTime(want.Time))
		}
	}
}

func testGet(t *testing.T, s audit.Store) {
	ctx := context.Background()
	events := Events(10, 4)
	appendOK(t, s, events)
	for _, want := range events {
		got, err := s.Get(ctx, want.ID)
		if err != nil {
			t.Fatalf("Get(%q): %v", want.ID, err)
		}
		equalEvents(t, "Get", []audit.Event{got}, []audit.Event{want})
	}
	for _, id := range []string{"missing", strings.ToUpper(events[0].ID), events[0].ID + "x", "'; DROP TABLE events; --", "%"} {
		_, err := s.Get(ctx, id)
		if !errors.Is(err, audit.ErrNotFound) {
			t.Fatalf("Get(%q): err = %v, want ErrNotFound", id, err)
		}
		if !strings.Contains(err.Error(), id) {
			t.Fatalf("Get(%q): error %q does not name the id", id, err)
		}
	}
}

func testQueryBreak(t *testing.T, s audit.Store) {
	ctx := context.Background()
	appendOK(t, s, Events(50, 5))
	// Stop early many times: a store that leaked what an iteration holds
	// (rows, connections) would run out or lock up here.
	for range 50 {
		n := 0
		for _, err := range s.Query(ctx, audit.Filter{}) {
			if err != nil {
				t.Fatal(err)
			}
			if n++; n == 3 {
				break
			}
		}
	}
	if res := appendOK(t, s, Events(5, 6)); res.Added != 5 {
		t.Fatalf("Append after early breaks: %+v", res)
	}
	if got := query(t, s, audit.Filter{}); len(got) != 55 {
		t.Fatalf("after early breaks: %d events, want 55", len(got))
	}
}

// follower runs Follow in a goroutine and hands over what it yields.
type follower struct {
	t      *testing.T
	cancel context.CancelFunc
	events chan audit.Event
	errs   chan error
	done   chan struct{}
}

func follow(t *testing.T, s audit.Store, f audit.Filter) *follower {
	ctx, cancel := context.WithCancel(context.Background())
	fw := &follower{t: t, cancel: cancel, events: make(chan audit.Event, 1000), errs: make(chan error, 10), done: make(chan struct{})}
	go func() {
		defer close(fw.done)
		for e, err := range s.Follow(ctx, f) {
			if err != nil {
				fw.errs <- err
				continue
			}
			fw.events <- e
		}
	}()
	t.Cleanup(fw.stop)
	return fw
}

// next waits for the next n events.
func (fw *follower) next(n int) []audit.Event {
	fw.t.Helper()
	var got []audit.Event
	deadline := time.After(timeout)
	for len(got) < n {
		select {
		case e := <-fw.events:
			got = append(got, e)
		case err := <-fw.errs:
			fw.t.Fatalf("Follow yielded error: %v", err)
		case <-deadline:
			fw.t.Fatalf("Follow: got %d events within %v, want %d", len(got), timeout, n)
		}
	}
	return got
}

// stop cancels the follow and checks that it ends promptly and quietly.
func (fw *follower) stop() {
	fw.t.Helper()
	fw.cancel()
	select {
	case <-fw.done:
	case <-time.After(2 * time.Second):
		fw.t.Fatalf("Follow did not end within 2s of the cancellation")
	}
	select {
	case err := <-fw.errs:
		fw.t.Fatalf("Follow yielded error: %v", err)
	default:
	}
}

func testFollow(t *testing.T, s audit.Store) {
	match := func(e audit.Event) bool { return e.Type == audit.TypeLogin || e.Type == audit.TypeSecurity }
	f := audit.Filter{Types: []audit.Type{audit.TypeLogin, audit.TypeSecurity}}

	backlog := appended(t, s, Events(40, 20))
	fw := follow(t, s, f)
	wantBacklog := filterEvents(backlog, match)
	equalEvents(t, "backlog", fw.next(len(wantBacklog)), wantBacklog)

	// New events arrive in seq order, filtered, batch after batch.
	for b := range 3 {
		batch := appended(t, s, Events(15, int64(21+b)))
		want := filterEvents(batch, match)
		equalEvents(t, fmt.Sprintf("batch %d", b), fw.next(len(want)), want)
	}
	// Nothing else arrived in between: the next event is this one.
	sentinel := Events(1, 30)[0]
	sentinel.ID, sentinel.Type = "sentinel", audit.TypeSecurity
	want := appended(t, s, []audit.Event{sentinel})
	equalEvents(t, "sentinel", fw.next(1), want)

	start := time.Now()
	fw.stop()
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Follow took %v to end after cancellation", d)
	}
}

func testFollowAfter(t *testing.T, s audit.Store) {
	backlog := appended(t, s, Events(10, 40))
	fw := follow(t, s, audit.Filter{After: backlog[6].Seq})
	equalEvents(t, "backlog after seq", fw.next(3), backlog[7:])
	more := appended(t, s, Events(4, 41))
	equalEvents(t, "new events", fw.next(4), more)
	fw.stop()
}

func testFollowBreak(t *testing.T, s audit.Store) {
	appendOK(t, s, Events(5, 50))
	done := make(chan int)
	go func() {
		n := 0
		for _, err := range s.Follow(context.Background(), audit.Filter{}) {
			if err != nil {
				t.Errorf("Follow: %v", err)
			}
			if n++; n == 2 {
				break
			}
		}
		done <- n
	}()
	select {
	case n := <-done:
		if n != 2 {
			t.Fatalf("got %d events before the break, want 2", n)
		}
	case <-time.After(timeout):
		t.Fatal("Follow did not end after the consumer stopped")
	}
	// A follow whose filter matches nothing yet, then a matching event.
	fw := follow(t, s, audit.Filter{Users: []string{"new*"}})
	e := Events(1, 51)[0]
	e.User = "newcomer"
	want := appended(t, s, []audit.Event{e})
	equalEvents(t, "new user", fw.next(1), want)
	fw.stop()
}

// appendOK appends events, failing the test on an error.
func appendOK(t *testing.T, s audit.Store, events []audit.Event) audit.AppendResult {
	t.Helper()
	res, err := s.Append(context.Background(), events)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	return res
}

// appended appends new events and returns them with their seq and hash.
func appended(t *testing.T, s audit.Store, events []audit.Event) []audit.Event {
	t.Helper()
	if res := appendOK(t, s, events); res.Added != len(events) {
		t.Fatalf("Append: %+v, want %d added", res, len(events))
	}
	return events
}

// query collects the result of a Query, failing the test on an error.
func query(t *testing.T, s audit.Store, f audit.Filter) []audit.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out []audit.Event
	for e, err := range s.Query(ctx, f) {
		if err != nil {
			t.Fatalf("Query(%+v): %v", f, err)
		}
		out = append(out, e)
	}
	return out
}

func filterEvents(events []audit.Event, keep func(audit.Event) bool) []audit.Event {
	var out []audit.Event
	for _, e := range events {
		if keep(e) {
			out = append(out, e)
		}
	}
	return out
}

// equalEvents fails the test unless got and want hold the same events, field
// by field, in the same order, with times in UTC.
func equalEvents(t *testing.T, what string, got, want []audit.Event) {
	t.Helper()
	for i := range min(len(got), len(want)) {
		if d := diff(got[i], want[i]); d != "" {
			t.Fatalf("%s: event %d (%s): %s", what, i, want[i].ID, d)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%s: got %d events %v, want %d %v", what, len(got), seqs(got), len(want), seqs(want))
	}
}

func seqs(events []audit.Event) []int64 {
	s := make([]int64, len(events))
	for i, e := range events {
		s[i] = e.Seq
	}
	if len(s) > 20 {
		s = s[:20]
	}
	return s
}

func diff(got, want audit.Event) string {
	if !got.Time.Equal(want.Time) || got.Time.Location() != time.UTC {
		return fmt.Sprintf("time %s (%v), want %s", got.Time.Format(time.RFC3339Nano), got.Time.Location(), want.Time.Format(time.RFC3339Nano))
	}
	g, w := got, want
	g.Time, w.Time = time.Time{}, time.Time{}
	if g.ID != w.ID || g.Seq != w.Seq || g.Hash != w.Hash || audit.DiffField(&g, &w) != "" || !bytes.Equal(g.Raw, w.Raw) {
		return fmt.Sprintf("\n got %+v\nwant %+v", g, w)
	}
	return ""
}
