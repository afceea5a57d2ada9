package sqlite

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/store/storetest"
)

// A newest-first page without an upper time bound is read in two steps (the
// newest seqs by seq alone, then the indexes below them): it must return
// exactly what one query would, across the window's edge, with paging
// bounds on either side of it and filters that match only old events.
func TestRecentFirstWindow(t *testing.T) {
	ctx := context.Background()
	s := openTemp(t)
	events := storetest.Events(recentWindow+3000, 7)
	events[100].User = "only-old"
	events[2500].User = "only-old"
	if _, err := s.Append(ctx, events); err != nil {
		t.Fatal(err)
	}
	all := make([]audit.Event, 0, len(events))
	for e, err := range s.Query(ctx, audit.Filter{}) {
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, e)
	}
	top := all[len(all)-1].Seq
	for _, f := range []audit.Filter{
		{Limit: 50},
		{Types: []audit.Type{audit.TypeSecurity}, Limit: 200},
		{Types: []audit.Type{audit.TypeSecurity}, Limit: 5000},
		{Users: []string{"only-old"}, Limit: 50},
		{Users: []string{"only-old"}, Limit: 1},
		{Users: []string{"only-old"}, Before: 2000, Limit: 50},
		{Types: []audit.Type{audit.TypeLogin}, Before: top - recentWindow + 10, Limit: 30},
		{Types: []audit.Type{audit.TypeLogin}, After: top - 100, Limit: 500},
		{Types: []audit.Type{audit.TypeLogin}, After: top - recentWindow - 500, Limit: 5000},
		{Search: "e", Outcome: audit.OutcomeFailure, Limit: 3000},
		// A lower time bound, as list --since 30d has: some of the page in
		// the window, the rest below it, or none at all.
		{Types: []audit.Type{audit.TypeSecurity}, Since: all[len(all)-recentWindow-1000].Time, Limit: 5000},
		{Users: []string{"only-old"}, Since: all[50].Time, Limit: 50},
		{Since: all[len(all)-10].Time, Limit: 50},
		{Since: all[len(all)-1].Time.Add(1), Limit: 50},
	} {
		f.Order = audit.Descending
		var want []int64
		for i := len(all) - 1; i >= 0 && len(want) < f.Limit; i-- {
			e := all[i]
			if f.Match(&e) && (f.Before == 0 || e.Seq < f.Before) && e.Seq > f.After {
				want = append(want, e.Seq)
			}
		}
		var got []int64
		for e, err := range s.Query(ctx, f) {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, e.Seq)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%+v: %d events %v…, want %d %v…", f, len(got), head(got), len(want), head(want))
		}
	}
}

func head(s []int64) string { return fmt.Sprint(s[:min(len(s), 5)]) }
