package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/store/postgres"
	"github.com/audit-cli/audit/internal/store/storetest"
)

func TestStatsConformance(t *testing.T) {
	storetest.RunStats(t, func(t *testing.T) audit.Store {
		s, err := postgres.Open(freshSchema(t), testOptions)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Init(context.Background()); err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestStatsMissingStore(t *testing.T) {
	s := open(t, freshSchema(t), testOptions)
	ctx := context.Background()
	if _, err := s.Stats(ctx, audit.StatsQuery{}); !errors.Is(err, audit.ErrUnavailable) {
		t.Errorf("Stats of a missing store: err = %v, want ErrUnavailable", err)
	}
	if _, err := s.Stats(ctx, audit.StatsQuery{Tables: []audit.StatsTable{{By: []audit.Dimension{audit.DimDay}}}}); !errors.Is(err, audit.ErrUnavailable) {
		t.Errorf("Stats by day of a missing store: err = %v, want ErrUnavailable", err)
	}
	q := audit.BurstQuery{Threshold: 5, Window: time.Minute}
	if _, err := s.Bursts(ctx, q); !errors.Is(err, audit.ErrUnavailable) {
		t.Errorf("Bursts of a missing store: err = %v, want ErrUnavailable", err)
	}
	q.Filter.Types = []audit.Type{audit.TypeLogout}
	if _, err := s.Bursts(ctx, q); !errors.Is(err, audit.ErrUnavailable) {
		t.Errorf("Bursts (nothing to match) of a missing store: err = %v, want ErrUnavailable", err)
	}
}

// TestIPKey: the address keys of stats, made in SQL, are the texts Go
// gives the addresses, for the addresses whose spelling has choices (runs
// of zero groups, embedded IPv4, ::/96) and for random ones.
func TestIPKey(t *testing.T) {
	c := connect(t, serverDSN(t))
	addrs := []string{"0.0.0.0", "1.2.3.4", "255.255.255.255", "::", "::1", "::2", "::ffff", "::1:0", "::1:2",
		"::102:304", "::ffff:0", "::ffff:1.2.3.4", "::ffff:0:0", "::1:ffff:1.2.3.4", "1::", "1::1", "1:0:0:1::1",
		"1::1:0:0:1", "1:0:1:0:1:0:1:0", "2001:db8::1", "2001:db8:0:0:1::1", "2001:db8::1:0:0:1", "fe80::1",
		"64:ff9b::1.2.3.4", "0:0:0:1::", "0:1::", "::1:0:0:0", "abcd:ef01:2345:6789:abcd:ef01:2345:6789"}
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		var b [16]byte
		for i := 0; i < 16; i += 2 {
			if r.IntN(3) > 0 { // many zero groups
				b[i], b[i+1] = byte(r.IntN(256)), byte(r.IntN(256))
				if r.IntN(2) == 0 {
					b[i] = 0
				}
			}
		}
		if r.IntN(4) == 0 {
			clear(b[:12]) // ::/96
		}
		addrs = append(addrs, netip.AddrFrom16(b).String())
	}
	var prefixes []netip.Prefix
	var want []string
	for _, a := range addrs {
		addr := netip.MustParseAddr(a)
		prefixes = append(prefixes, netip.PrefixFrom(addr, addr.BitLen()))
		want = append(want, addr.String())
	}
	prefixes = append(prefixes, netip.Prefix{})
	want = append(want, "")
	rows, err := c.Query(context.Background(), "SELECT "+postgres.IPKeySQL+" FROM unnest($1::inet[]) AS t(ip)", prefixes)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	i := 0
	for rows.Next() {
		var got string
		if err := rows.Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want[i] {
			t.Errorf("key of %s is %q, want %q", want[i], got, want[i])
		}
		i++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if i != len(want) {
		t.Fatalf("%d keys, want %d", i, len(want))
	}
}

// TestStatsExtremeTimes: the day, hour and week of events a nanosecond
// either side of a second, a day and a year, from 1970 to 9999, where the
// store computes the epoch seconds as a float and where exactly, agree
// with audit.StatsOf, in UTC and in zones east and west.
func TestStatsExtremeTimes(t *testing.T) {
	ctx := context.Background()
	s := open(t, freshSchema(t), testOptions)
	var events []audit.Event
	for i, ts := range []string{"1970-01-01T00:00:00Z", "1970-01-01T00:00:00.999999999Z", "2026-12-31T23:59:59.999999Z",
		"2027-01-01T00:00:00Z", "2106-02-07T06:28:15.999999Z", "2199-12-31T23:59:59.999999999Z", "2200-01-01T00:00:00Z",
		"2241-12-31T23:59:59.999999Z", "2262-04-11T23:47:16.854775807Z", "5000-06-30T23:59:59.999999Z",
		"9999-12-31T23:59:59.999999999Z", "9999-12-31T00:00:00Z"} {
		e := storetest.Events(1, int64(i))[0]
		e.ID = fmt.Sprintf("t%d", i)
		e.Time, _ = time.Parse(time.RFC3339Nano, ts)
		events = append(events, e)
	}
	if _, err := s.Append(ctx, events); err != nil {
		t.Fatal(err)
	}
	all := collect(t, s, audit.Filter{})
	for _, z := range []audit.Zone{nil, {{Offset: 19800}}, {{Offset: -12600}}, {{Offset: 3600}, {Since: events[3].Time, Offset: -3600}}} {
		q := audit.StatsQuery{Zone: z, Tables: []audit.StatsTable{{By: []audit.Dimension{audit.DimDay}},
			{By: []audit.Dimension{audit.DimHour}}, {By: []audit.Dimension{audit.DimWeek}},
			{By: []audit.Dimension{audit.DimDay}, Top: 4}, {By: []audit.Dimension{audit.DimWeek}, Top: 4},
			{By: []audit.Dimension{audit.DimHour}, Top: 4}}}
		want, err := audit.StatsOf(func(yield func(audit.Event, error) bool) {
			for _, e := range all {
				if !yield(e, nil) {
					return
				}
			}
		}, q)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.Stats(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if !got.First.Equal(want.First) || !got.Last.Equal(want.Last) || got.Total != want.Total {
			t.Errorf("zone %v: totals %d %s %s, want %d %s %s", z, got.Total, got.First, got.Last, want.Total, want.First, want.Last)
		}
		for i := range want.Tables {
			if !reflect.DeepEqual(got.Tables[i].Rows, want.Tables[i].Rows) {
				t.Errorf("zone %v, by %v:\n got %v\nwant %v", z, want.Tables[i].By, got.Tables[i].Rows, want.Tables[i].Rows)
			}
		}
	}
}
