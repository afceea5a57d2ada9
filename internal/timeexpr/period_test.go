package timeexpr

import (
	"fmt"
	"testing"
	"time"
)

func TestParsePeriod(t *testing.T) {
	// Thursday 2026-11-26 15:04:05, in ISO week 2026-W48.
	pinned := civil{2026, time.November, 26, 15, 4, 5, 0}
	day := func(y int, m time.Month, d int) civil { return civil{y, m, d, 0, 0, 0, 0} }
	tests := []struct {
		in           string
		now          civil
		name         string
		since, until civil
	}{
		{"today", pinned, "2026-11-26", day(2026, 11, 26), day(2026, 11, 27)},
		{" TODAY ", pinned, "2026-11-26", day(2026, 11, 26), day(2026, 11, 27)},
		{"yesterday", pinned, "2026-11-25", day(2026, 11, 25), day(2026, 11, 26)},
		{"this-week", pinned, "2026-W48", day(2026, 11, 23), day(2026, 11, 30)},
		{"last-week", pinned, "2026-W47", day(2026, 11, 16), day(2026, 11, 23)},
		{"this-month", pinned, "2026-11", day(2026, 11, 1), day(2026, 12, 1)},
		{"last-month", pinned, "2026-10", day(2026, 10, 1), day(2026, 11, 1)},
		{"this-year", pinned, "2026", day(2026, 1, 1), day(2027, 1, 1)},
		{"last-year", pinned, "2025", day(2025, 1, 1), day(2026, 1, 1)},
		{"2024", pinned, "2024", day(2024, 1, 1), day(2025, 1, 1)},
		{"2026-11", pinned, "2026-11", day(2026, 11, 1), day(2026, 12, 1)},
		{"2026-12", pinned, "2026-12", day(2026, 12, 1), day(2027, 1, 1)},
		{"2026-02", pinned, "2026-02", day(2026, 2, 1), day(2026, 3, 1)},
		{"2026-W47", pinned, "2026-W47", day(2026, 11, 16), day(2026, 11, 23)},
		{"2026-w47", pinned, "2026-W47", day(2026, 11, 16), day(2026, 11, 23)},
		{"2026-11-20", pinned, "2026-11-20", day(2026, 11, 20), day(2026, 11, 21)},
		{"2024-02-29", pinned, "2024-02-29", day(2024, 2, 29), day(2024, 3, 1)},
		{"9999-12", pinned, "9999-12", day(9999, 12, 1), day(10000, 1, 1)},

		// On Monday 2026-11-23 00:30, last week has just ended.
		{"last-week", civil{2026, 11, 23, 0, 30, 0, 0}, "2026-W47", day(2026, 11, 16), day(2026, 11, 23)},
		{"this-week", civil{2026, 11, 23, 0, 30, 0, 0}, "2026-W48", day(2026, 11, 23), day(2026, 11, 30)},
		// On Sunday 2026-11-29 23:59, this week is still W48.
		{"this-week", civil{2026, 11, 29, 23, 59, 0, 0}, "2026-W48", day(2026, 11, 23), day(2026, 11, 30)},

		// Around New Year. 2026 starts on a Thursday, so it has 53 ISO weeks.
		{"2026-W01", pinned, "2026-W01", day(2025, 12, 29), day(2026, 1, 5)},
		{"2026-W53", pinned, "2026-W53", day(2026, 12, 28), day(2027, 1, 4)},
		{"2027-W01", pinned, "2027-W01", day(2027, 1, 4), day(2027, 1, 11)},
		{"2025-W01", pinned, "2025-W01", day(2024, 12, 30), day(2025, 1, 6)},
		{"2025-W52", pinned, "2025-W52", day(2025, 12, 22), day(2025, 12, 29)},
		{"2020-W53", pinned, "2020-W53", day(2020, 12, 28), day(2021, 1, 4)},
		{"this-week", civil{2027, 1, 1, 12, 0, 0, 0}, "2026-W53", day(2026, 12, 28), day(2027, 1, 4)},
		{"last-week", civil{2027, 1, 1, 12, 0, 0, 0}, "2026-W52", day(2026, 12, 21), day(2026, 12, 28)},
		{"this-week", civil{2025, 12, 31, 12, 0, 0, 0}, "2026-W01", day(2025, 12, 29), day(2026, 1, 5)},
		{"yesterday", civil{2027, 1, 1, 12, 0, 0, 0}, "2026-12-31", day(2026, 12, 31), day(2027, 1, 1)},
		{"last-month", civil{2027, 1, 15, 12, 0, 0, 0}, "2026-12", day(2026, 12, 1), day(2027, 1, 1)},
		{"yesterday", civil{2026, 3, 1, 12, 0, 0, 0}, "2026-02-28", day(2026, 2, 28), day(2026, 3, 1)},
		{"last-month", civil{2026, 3, 31, 12, 0, 0, 0}, "2026-02", day(2026, 2, 1), day(2026, 3, 1)},
	}
	for _, zoneName := range []string{"Europe/Berlin", "America/New_York", "UTC"} {
		loc := zone(t, zoneName)
		for _, tt := range tests {
			now := tt.now.in(loc)
			t.Run(fmt.Sprintf("%s/%s/%s", zoneName, tt.in, now.Format("2006-01-02T15:04")), func(t *testing.T) {
				got, err := ParsePeriod(tt.in, now, loc)
				if err != nil {
					t.Fatalf("ParsePeriod(%q): %v", tt.in, err)
				}
				want := Period{Name: tt.name, Since: tt.since.in(loc), Until: tt.until.in(loc)}
				if got.Name != want.Name || !got.Since.Equal(want.Since) || !got.Until.Equal(want.Until) {
					t.Errorf("ParsePeriod(%q) = %v, want %v", tt.in, got, want)
				}
				if got.Since.Location() != loc || got.Until.Location() != loc {
					t.Errorf("ParsePeriod(%q) locations = %v, %v, want %v",
						tt.in, got.Since.Location(), got.Until.Location(), loc)
				}
			})
		}
	}
}

func TestParsePeriodDST(t *testing.T) {
	berlin := zone(t, "Europe/Berlin")
	newYork := zone(t, "America/New_York")
	havana := zone(t, "America/Havana")
	now := time.Date(2026, time.November, 26, 15, 4, 5, 0, berlin)
	tests := []struct {
		in   string
		loc  *time.Location
		want time.Duration
	}{
		// Berlin springs forward on Sunday 2026-03-29, in W13 (Mar 23–30),
		// and falls back on Sunday 2026-10-25, in W43 (Oct 19–26).
		{"2026-W13", berlin, 167 * time.Hour},
		{"2026-W43", berlin, 169 * time.Hour},
		{"2026-W44", berlin, 168 * time.Hour},
		{"2026-03-29", berlin, 23 * time.Hour},
		{"2026-10-25", berlin, 25 * time.Hour},
		{"2026-03", berlin, 31*24*time.Hour - time.Hour},
		{"2026-10", berlin, 31*24*time.Hour + time.Hour},
		// New York springs forward on Sunday 2026-03-08, in W10, and falls
		// back on Sunday 2026-11-01, in W44 (Oct 26–Nov 2).
		{"2026-W10", newYork, 167 * time.Hour},
		{"2026-W44", newYork, 169 * time.Hour},
		{"2026-W43", newYork, 168 * time.Hour},
		{"2026-11-01", newYork, 25 * time.Hour},
		// Havana skipped 2015-03-08 00:00: the day lasted 23 hours, from 01:00.
		{"2015-03-08", havana, 23 * time.Hour},
		{"2015-03-07", havana, 24 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.loc.String()+"/"+tt.in, func(t *testing.T) {
			got, err := ParsePeriod(tt.in, now, tt.loc)
			if err != nil {
				t.Fatalf("ParsePeriod(%q): %v", tt.in, err)
			}
			if d := got.Until.Sub(got.Since); d != tt.want {
				t.Errorf("ParsePeriod(%q) = %v .. %v, %v long, want %v", tt.in, got.Since, got.Until, d, tt.want)
			}
			if got.Name != tt.in {
				t.Errorf("ParsePeriod(%q).Name = %q", tt.in, got.Name)
			}
		})
	}
}

func TestParsePeriodErrors(t *testing.T) {
	berlin := zone(t, "Europe/Berlin")
	now := time.Date(2026, time.November, 26, 15, 4, 5, 0, berlin)
	tests := []string{
		"",
		" ",
		"x",
		"now", // a time, not a period
		"7d",
		"2026-13",
		"2026-00",
		"2026-1",
		"2026-011",
		"2026-02-30",
		"2026-02-29",
		"2026-11-31",
		"2026-11-00",
		"2026-11-20 14:00",
		"2026-11-20T14:00:05Z",
		"2025-W53", // 2025 has 52 ISO weeks
		"2027-W53",
		"2026-W54",
		"2026-W00",
		"2026-W7",
		"2026-W047",
		"2026-W+7",
		"2026W47",
		"2026-X47",
		"+026-11",
		"0000-01", // before the zero time
		"0001-01", // the zero time itself in UTC, before it in Berlin
		"0000-W01",
		"yesterdayy",
	}
	for _, in := range tests {
		t.Run(fmt.Sprintf("%q", in), func(t *testing.T) {
			got, err := ParsePeriod(in, now, berlin)
			if err == nil {
				t.Fatalf("ParsePeriod(%q) = %v, want an error", in, got)
			}
			if got != (Period{}) {
				t.Errorf("ParsePeriod(%q) returned %v with its error", in, got)
			}
			checkError(t, err, in, "period")
		})
	}
}

func FuzzParsePeriod(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	berlin := zone(f, "Europe/Berlin")
	now := time.Date(2026, time.November, 26, 15, 4, 5, 0, berlin)
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParsePeriod(s, now, berlin)
		if err != nil {
			if got != (Period{}) {
				t.Errorf("ParsePeriod(%q) returned %v with its error", s, got)
			}
			checkError(t, err, s, "period")
			return
		}
		if got.Since.IsZero() || got.Until.IsZero() {
			t.Fatalf("ParsePeriod(%q) = %v, a zero time without an error", s, got)
		}
		// Old local mean times shift midnights by minutes; a year is at
		// most 366 days and an hour.
		if d := got.Until.Sub(got.Since); d < 22*time.Hour || d > 367*24*time.Hour {
			t.Errorf("ParsePeriod(%q) = %v .. %v, %v long", s, got.Since, got.Until, d)
		}
		// The canonical name reads back as the same period.
		again, err := ParsePeriod(got.Name, now, berlin)
		if err != nil || again.Name != got.Name || !again.Since.Equal(got.Since) || !again.Until.Equal(got.Until) {
			t.Errorf("ParsePeriod(%q).Name = %q, which reads back as %v, %v", s, got.Name, again, err)
		}
	})
}
