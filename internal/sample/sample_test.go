package sample

import (
	"fmt"
	"testing"
	"time"

	"github.com/audit-cli/audit/internal/audit"
)

func TestSeedMatchesThePage(t *testing.T) {
	now := time.Date(2026, 11, 26, 15, 0, 0, 0, time.UTC)
	events := Seed(now, time.UTC)
	if len(events) != 6 {
		t.Fatalf("Seed gave %d events, want the page's 6", len(events))
	}
	want := []string{"2025-11-27T17:30:00Z", "2026-11-25T00:00:00Z", "2026-11-26T09:45:00Z",
		"2026-11-26T10:15:00Z", "2026-11-26T11:22:00Z", "2026-11-26T14:34:00Z"}
	for i, e := range events {
		if err := e.Normalize(); err != nil {
			t.Errorf("seed event %s: %v", e.ID, err)
		}
		if got := audit.FormatTime(e.Time); got != want[i] {
			t.Errorf("seed event %s at %s, want %s", e.ID, got, want[i])
		}
	}
}

func TestGenerate(t *testing.T) {
	now := time.Date(2026, 11, 26, 15, 0, 0, 0, time.UTC)
	const n, days = 20000, 60
	start := now.Add(-days * 24 * time.Hour)
	var prev time.Time
	ids := map[string]bool{}
	count, failed := 0, 0
	weekday, weekend := 0, 0
	for seed := int64(1); seed <= 5; seed++ {
		prev = time.Time{}
		for e := range Generate(n, days, now, seed) {
			if err := e.Normalize(); err != nil {
				t.Fatalf("event %d invalid: %v", count, err)
			}
			if e.Time.Before(prev) || e.Time.Before(start) || !e.Time.Before(now) {
				t.Fatalf("event %d at %s: out of order or outside [%s, %s)", count, e.Time, start, now)
			}
			if ids[e.ID] {
				t.Fatalf("duplicate id %s", e.ID)
			}
			ids[e.ID] = true
			prev = e.Time
			count++
			if e.Outcome == audit.OutcomeFailure {
				failed++
			}
			if wd := e.Time.Weekday(); wd == time.Saturday || wd == time.Sunday {
				weekend++
			} else {
				weekday++
			}
		}
	}
	if count != 5*n {
		t.Fatalf("Generate gave %d events in 5 runs, want %d", count, 5*n)
	}
	if failed == 0 {
		t.Error("no failed events: the sample should have failed logins to investigate")
	}
	// Two weekend days against five weekdays at a fifth of the activity.
	if weekend*5 > weekday {
		t.Errorf("weekend %d vs weekday %d events: weekends should be quiet", weekend, weekday)
	}
	// The events reach close to now: the last day is not empty.
	if now.Sub(prev) > 36*time.Hour {
		t.Errorf("the last event is at %s, more than 36h before now", prev)
	}
}

// TestGenerateSpread: a dense history is spread over its whole span as
// the activity curve says, not squeezed into its last hours; the brute
// force bursts, which last minutes, do not push the clock on so that the
// events run out of time.
func TestGenerateSpread(t *testing.T) {
	now := time.Date(2026, 11, 26, 15, 0, 0, 0, time.UTC)
	const n, days = 200_000, 10
	hours := map[int64]int{}
	var prev time.Time
	count := 0
	for e := range Generate(n, days, now, 1) {
		if e.Time.Before(prev) {
			t.Fatalf("event %d at %s, before the one before it (%s)", count, e.Time, prev)
		}
		if want := fmt.Sprintf("gen-1-%08d", count); e.ID != want {
			t.Fatalf("event %d has id %s, want %s", count, e.ID, want)
		}
		prev = e.Time
		hours[e.Time.Unix()/3600]++
		count++
	}
	if count != n {
		t.Fatalf("Generate gave %d events, want %d", count, n)
	}
	mean := n / (days * 24)
	for h, c := range hours {
		if c > 10*mean {
			t.Errorf("the hour of %s holds %d events, more than 10 times the mean of %d", time.Unix(h*3600, 0).UTC(), c, mean)
		}
	}
}
