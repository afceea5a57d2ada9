package audit

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"reflect"
	"slices"
	"testing"
	"time"
	_ "time/tzdata" // zones must not depend on the machine running tests
)

func mustLoad(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

func TestParseDimension(t *testing.T) {
	for in, want := range map[string]Dimension{"user": DimUser, " Type ": DimType, "resource-type": DimResourceType,
		"RESOURCE_TYPE": DimResourceType, "week": DimWeek} {
		got, err := ParseDimension(in)
		if err != nil || got != want {
			t.Errorf("ParseDimension(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	_, err := ParseDimension("month")
	want := `unknown dimension "month" (accepted: user, type, action, resource_type, resource, ip, outcome, day, hour, week)`
	if err == nil || err.Error() != want {
		t.Errorf("ParseDimension(month) error = %v, want %s", err, want)
	}
}

func TestZoneIn(t *testing.T) {
	berlin := mustLoad(t, "Europe/Berlin")
	year := ZoneIn(berlin, time.Date(2026, 1, 1, 0, 0, 0, 0, berlin), time.Date(2027, 1, 1, 0, 0, 0, 0, berlin))
	want := Zone{{Offset: 3600}, {Since: utc("2026-03-29T01:00:00Z"), Offset: 7200}, {Since: utc("2026-10-25T01:00:00Z"), Offset: 3600}}
	if !reflect.DeepEqual(year, want) {
		t.Fatalf("ZoneIn(Berlin, 2026) = %v, want %v", year, want)
	}
	if s := year.String(); s != "3600,7200@2026-03-29T01:00:00Z,3600@2026-10-25T01:00:00Z" {
		t.Errorf("String = %q", s)
	}
	back, err := ParseZone(year.String())
	if err != nil || !reflect.DeepEqual(back, year) {
		t.Errorf("ParseZone(String) = %v, %v", back, err)
	}
	// A week without a change is one offset; UTC is the empty zone.
	week := ZoneIn(berlin, utc("2026-11-16T00:00:00Z"), utc("2026-11-23T00:00:00Z"))
	if !reflect.DeepEqual(week, Zone{{Offset: 3600}}) {
		t.Errorf("ZoneIn(Berlin, a November week) = %v", week)
	}
	if z := ZoneIn(time.UTC, utc("2026-01-01T00:00:00Z"), utc("2027-01-01T00:00:00Z")); z != nil {
		t.Errorf("ZoneIn(UTC) = %v, want nil", z)
	}
	if z := ZoneIn(mustLoad(t, "Asia/Kolkata"), utc("2026-01-01T00:00:00Z"), utc("2027-01-01T00:00:00Z")); !reflect.DeepEqual(z, Zone{{Offset: 19800}}) {
		t.Errorf("ZoneIn(Kolkata) = %v", z)
	}
	for _, bad := range []string{"", "x", "3600@2026-01-01T00:00:00Z", "3600,7200", "3600,7200@2026-10-25T01:00:00Z,3600@2026-03-29T01:00:00Z", "90000"} {
		if _, err := ParseZone(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseZone(%q) error = %v, want ErrInvalid", bad, err)
		}
	}
	if z, err := ParseZone("0"); err != nil || z != nil {
		t.Errorf("ParseZone(0) = %v, %v; want UTC (nil)", z, err)
	}
}

// TestStatsKeyDST reads the night Berlin's clocks go back (2026-10-25,
// 03:00 CEST becomes 02:00 CET) and a half-hour zone.
func TestStatsKeyDST(t *testing.T) {
	berlin := mustLoad(t, "Europe/Berlin")
	z := ZoneIn(berlin, utc("2026-10-19T00:00:00Z"), utc("2026-10-27T00:00:00Z"))
	cases := []struct {
		at                string
		day, hour, weekID string
	}{
		{"2026-10-24T21:59:59Z", "2026-10-24", "2026-10-24T23:00:00+02:00", "2026-W43"},
		{"2026-10-24T22:00:00Z", "2026-10-25", "2026-10-25T00:00:00+02:00", "2026-W43"},
		{"2026-10-25T00:30:00Z", "2026-10-25", "2026-10-25T02:00:00+02:00", "2026-W43"},
		{"2026-10-25T01:30:00Z", "2026-10-25", "2026-10-25T02:00:00+01:00", "2026-W43"},
		{"2026-10-25T22:59:59Z", "2026-10-25", "2026-10-25T23:00:00+01:00", "2026-W43"},
		{"2026-10-25T23:00:00Z", "2026-10-26", "2026-10-26T00:00:00+01:00", "2026-W44"},
	}
	for _, c := range cases {
		e := Event{Time: utc(c.at)}
		if got := StatsKey(DimDay, &e, z); got != c.day {
			t.Errorf("%s: day %s, want %s", c.at, got, c.day)
		}
		if got := StatsKey(DimHour, &e, z); got != c.hour {
			t.Errorf("%s: hour %s, want %s", c.at, got, c.hour)
		}
		if got := StatsKey(DimWeek, &e, z); got != c.weekID {
			t.Errorf("%s: week %s, want %s", c.at, got, c.weekID)
		}
	}
	kolkata := ZoneIn(mustLoad(t, "Asia/Kolkata"), utc("2026-11-20T00:00:00Z"), utc("2026-11-21T00:00:00Z"))
	e := Event{Time: utc("2026-11-20T18:29:59Z")} // 23:59:59 IST
	if d, h := StatsKey(DimDay, &e, kolkata), StatsKey(DimHour, &e, kolkata); d != "2026-11-20" || h != "2026-11-20T23:00:00+05:30" {
		t.Errorf("Kolkata 23:59:59: day %s hour %s", d, h)
	}
	e.Time = utc("2026-11-20T18:30:00Z") // midnight IST
	if d := StatsKey(DimDay, &e, kolkata); d != "2026-11-21" {
		t.Errorf("Kolkata midnight: day %s", d)
	}
	// UTC: an empty zone; hours end in Z. ISO years differ at New Year.
	e.Time = utc("2026-12-31T23:10:00Z")
	if h, w := StatsKey(DimHour, &e, nil), StatsKey(DimWeek, &e, nil); h != "2026-12-31T23:00:00Z" || w != "2026-W53" {
		t.Errorf("UTC: hour %s week %s", h, w)
	}
	e.Time = utc("2024-12-30T10:00:00Z")
	if w := StatsKey(DimWeek, &e, nil); w != "2025-W01" {
		t.Errorf("Monday 2024-12-30: week %s, want 2025-W01", w)
	}
}

func TestTimeBuckets(t *testing.T) {
	berlin := mustLoad(t, "Europe/Berlin")
	day := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, berlin) }
	// The day clocks go back has 25 hours; the 02:00 hour comes twice.
	hours := TimeBuckets(DimHour, day(2026, 10, 25), day(2026, 10, 26), berlin)
	if len(hours) != 25 {
		t.Fatalf("%d hours on 2026-10-25 in Berlin, want 25", len(hours))
	}
	if hours[2].Key != "2026-10-25T02:00:00+02:00" || hours[3].Key != "2026-10-25T02:00:00+01:00" {
		t.Errorf("hours 2 and 3: %s, %s", hours[2].Key, hours[3].Key)
	}
	// The day clocks go forward has 23, without 02:00.
	if hours := TimeBuckets(DimHour, day(2026, 3, 29), day(2026, 3, 30), berlin); len(hours) != 23 || hours[2].Key != "2026-03-29T03:00:00+02:00" {
		t.Errorf("2026-03-29 in Berlin: %d hours, the third %s", len(hours), hours[2].Key)
	}
	// Days of a DST week: seven, each from local midnight to local midnight.
	days := TimeBuckets(DimDay, day(2026, 10, 19), day(2026, 10, 26), berlin)
	var keys []string
	for _, b := range days {
		keys = append(keys, b.Key)
	}
	if want := []string{"2026-10-19", "2026-10-20", "2026-10-21", "2026-10-22", "2026-10-23", "2026-10-24", "2026-10-25"}; !slices.Equal(keys, want) {
		t.Errorf("days %v", keys)
	}
	if d := days[6].End.Sub(days[6].Start); d != 25*time.Hour {
		t.Errorf("2026-10-25 lasts %s, want 25h", d)
	}
	// Weeks start on Monday, also when the range does not.
	weeks := TimeBuckets(DimWeek, day(2026, 11, 1), day(2026, 12, 1), berlin)
	keys = keys[:0]
	for _, b := range weeks {
		keys = append(keys, b.Key)
	}
	if want := []string{"2026-W44", "2026-W45", "2026-W46", "2026-W47", "2026-W48", "2026-W49"}; !slices.Equal(keys, want) {
		t.Errorf("weeks of November 2026: %v", keys)
	}
	if !weeks[0].Start.Equal(day(2026, 10, 26)) {
		t.Errorf("first week starts %s", weeks[0].Start)
	}
	// A bucket's key is the key of the events in it.
	z := ZoneIn(berlin, day(2026, 10, 19), day(2026, 10, 26))
	for _, d := range []Dimension{DimHour, DimDay, DimWeek} {
		for _, b := range TimeBuckets(d, day(2026, 10, 19), day(2026, 10, 26), berlin) {
			for _, at := range []time.Time{b.Start, b.End.Add(-time.Second)} {
				e := Event{Time: at}
				if k := StatsKey(d, &e, z); k != b.Key {
					t.Errorf("%s bucket %s holds %s of key %s", d, b.Key, at, k)
				}
			}
		}
	}
}

func TestStatsQueryValues(t *testing.T) {
	berlin := mustLoad(t, "Europe/Berlin")
	q := StatsQuery{
		Filter: Filter{Users: []string{"jdavis", "s*"}, Types: []Type{TypeLogin}, Outcome: OutcomeFailure,
			IPs: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, Since: utc("2026-01-01T00:00:00Z"), Until: utc("2027-01-01T00:00:00Z")},
		Zone:   ZoneIn(berlin, utc("2026-01-01T00:00:00Z"), utc("2027-01-01T00:00:00Z")),
		Tables: []StatsTable{{By: []Dimension{DimUser}, Top: 5}, {By: []Dimension{DimDay, DimType}}},
	}
	v := q.Values()
	if got := v["table"]; !slices.Equal(got, []string{"user:5", "day,type"}) {
		t.Errorf("table parameters %q", got)
	}
	back, err := ParseStatsValues(v)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, q) {
		t.Errorf("round trip:\n got %+v\nwant %+v", back, q)
	}
	for _, bad := range []string{"table=month", "table=user:-1", "table=user,user", "zone=abc", "nope=1", "table="} {
		v, _ := url.ParseQuery(bad)
		if _, err := ParseStatsValues(v); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseStatsValues(%s) error = %v, want ErrInvalid", bad, err)
		}
	}
	bq := BurstQuery{Filter: Filter{Users: []string{"jdavis"}}, Threshold: 5, Window: 10 * time.Minute}
	bv := bq.Values()
	if bv.Get("window") != "10m0s" || bv.Get("threshold") != "5" {
		t.Errorf("burst values %v", bv)
	}
	if back, err := ParseBurstValues(bv); err != nil || !reflect.DeepEqual(back, bq) {
		t.Errorf("burst round trip: %+v, %v", back, err)
	}
	for _, bad := range []string{"threshold=1&window=10m", "threshold=5&window=0s", "threshold=x&window=1m", "threshold=5&window=10"} {
		v, _ := url.ParseQuery(bad)
		if _, err := ParseBurstValues(v); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseBurstValues(%s) error = %v, want ErrInvalid", bad, err)
		}
	}
}

func TestStatsOf(t *testing.T) {
	base := utc("2026-11-16T08:00:00Z")
	var events []Event
	add := func(n int, user string, typ Type, outcome Outcome, ip string, at time.Duration) {
		for range n {
			events = append(events, Event{Time: base.Add(at), User: user, Type: typ, Outcome: outcome, IP: ip})
		}
	}
	add(3, "jdavis", TypeLogin, OutcomeSuccess, "10.0.0.1", 0)
	add(2, "jdavis", TypeLogin, OutcomeFailure, "10.0.0.1", time.Hour)
	add(3, "smiller", TypeUpdate, OutcomeSuccess, "10.0.0.2", 25*time.Hour)
	add(1, "system", TypeDelete, OutcomeSuccess, "", 49*time.Hour)
	seq := func(yield func(Event, error) bool) {
		for _, e := range events {
			if !yield(e, nil) {
				return
			}
		}
	}
	res, err := StatsOf(seq, StatsQuery{Tables: []StatsTable{
		{By: []Dimension{DimUser}, Top: 1},
		{By: []Dimension{DimDay, DimOutcome}},
		{By: []Dimension{DimIP}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := StatsResult{
		Total: 9, Failed: 2, First: base, Last: base.Add(49 * time.Hour),
		Tables: []StatsTableResult{
			{By: []Dimension{DimUser}, Groups: 3, Rows: []StatsRow{{Keys: []string{"jdavis"}, Events: 5, Failed: 2}}},
			{By: []Dimension{DimDay, DimOutcome}, Groups: 4, Rows: []StatsRow{
				{Keys: []string{"2026-11-16", "success"}, Events: 3},
				{Keys: []string{"2026-11-17", "success"}, Events: 3},
				{Keys: []string{"2026-11-16", "failure"}, Events: 2, Failed: 2},
				{Keys: []string{"2026-11-18", "success"}, Events: 1},
			}},
			{By: []Dimension{DimIP}, Groups: 3, Rows: []StatsRow{
				{Keys: []string{"10.0.0.1"}, Events: 5, Failed: 2},
				{Keys: []string{"10.0.0.2"}, Events: 3},
				{Keys: []string{""}, Events: 1},
			}},
		},
	}
	if !reflect.DeepEqual(res, want) {
		t.Errorf("StatsOf:\n got %+v\nwant %+v", res, want)
	}
	if _, err := StatsOf(seq, StatsQuery{Tables: []StatsTable{{}}}); !errors.Is(err, ErrInvalid) {
		t.Errorf("empty By: err = %v, want ErrInvalid", err)
	}
}

// failure is one failed login.
type failure struct {
	at       time.Time
	user, ip string
}

func detect(t *testing.T, threshold int, window time.Duration, fs []failure) []Burst {
	t.Helper()
	d, err := NewBurstDetector(threshold, window)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fs {
		if err := d.Add(f.at, f.user, f.ip); err != nil {
			t.Fatal(err)
		}
	}
	return d.Bursts()
}

func TestDetectBursts(t *testing.T) {
	t0 := utc("2026-11-18T03:04:00Z")
	// 20 failures from one address against two accounts in 3 minutes,
	// amid a slow trickle of one failure every 15 minutes from elsewhere.
	var fs []failure
	for i := range 20 {
		user := "jdavis"
		if i%4 == 3 {
			user = "smiller"
		}
		fs = append(fs, failure{t0.Add(time.Duration(i) * 9 * time.Second), user, "185.220.101.4"})
	}
	for i := range 96 {
		fs = append(fs, failure{t0.Add(-12*time.Hour + time.Duration(i)*15*time.Minute), "mjohnson", "203.45.67.89"})
	}
	slices.SortStableFunc(fs, func(a, b failure) int { return a.at.Compare(b.at) })
	got := detect(t, 5, 10*time.Minute, fs)
	want := []Burst{
		{By: DimUser, Key: "jdavis", First: t0, Last: t0.Add(18 * 9 * time.Second), Count: 15, IPs: []string{"185.220.101.4"}},
		{By: DimIP, Key: "185.220.101.4", First: t0, Last: t0.Add(19 * 9 * time.Second), Count: 20, Users: []string{"jdavis", "smiller"}},
		{By: DimUser, Key: "smiller", First: t0.Add(3 * 9 * time.Second), Last: t0.Add(19 * 9 * time.Second), Count: 5, IPs: []string{"185.220.101.4"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("bursts:\n got %+v\nwant %+v", got, want)
	}
	// The trickle alone is no burst, even at a threshold of 2.
	if got := detect(t, 2, 10*time.Minute, fs[:0:0]); len(got) != 0 {
		t.Errorf("no failures: %v", got)
	}
	var trickle []failure
	for _, f := range fs {
		if f.user == "mjohnson" {
			trickle = append(trickle, f)
		}
	}
	if got := detect(t, 2, 10*time.Minute, trickle); len(got) != 0 {
		t.Errorf("trickle: %v", got)
	}
	// At exactly the window apart, the failures are one burst.
	if got := detect(t, 2, 15*time.Minute, trickle); len(got) != 2 || got[0].Count != 96 {
		t.Errorf("trickle at a 15m window: %+v", got)
	}
}

// TestDetectBurstsMerge: runs that share a failure are one burst; runs
// that do not are two, even when close.
func TestDetectBurstsMerge(t *testing.T) {
	t0 := utc("2026-11-18T00:00:00Z")
	at := func(mins ...int) []failure {
		var fs []failure
		for _, m := range mins {
			fs = append(fs, failure{t0.Add(time.Duration(m) * time.Minute), "u", ""})
		}
		return fs
	}
	cases := []struct {
		mins []int
		want [][2]int // first, last minute of each burst
		cnt  []int
	}{
		{[]int{0, 1, 2}, [][2]int{{0, 2}}, []int{3}},
		{[]int{0, 1}, nil, nil},
		{[]int{0, 10, 20}, [][2]int{{0, 20}}, []int{3}}, // with a 20m window: both ends included
		{[]int{0, 1, 2, 11, 12}, [][2]int{{0, 12}}, []int{5}},
		{[]int{0, 1, 2, 13, 14, 15}, [][2]int{{0, 2}, {13, 15}}, []int{3, 3}},
		{[]int{0, 5, 9, 14, 18, 23, 27}, [][2]int{{0, 27}}, []int{7}},
	}
	for _, c := range cases {
		window := 10 * time.Minute
		if c.mins[1] == 10 {
			window = 20 * time.Minute
		}
		got := detect(t, 3, window, at(c.mins...))
		var spans [][2]int
		var counts []int
		for _, b := range got {
			spans = append(spans, [2]int{int(b.First.Sub(t0).Minutes()), int(b.Last.Sub(t0).Minutes())})
			counts = append(counts, b.Count)
			if len(b.IPs) != 0 || b.Users != nil {
				t.Errorf("%v: IPs %#v, users %#v; want none", c.mins, b.IPs, b.Users)
			}
		}
		if !reflect.DeepEqual(spans, c.want) || !slices.Equal(counts, c.cnt) {
			t.Errorf("minutes %v (window %s): bursts %v counts %v, want %v %v", c.mins, window, spans, counts, c.want, c.cnt)
		}
	}
}

func TestBurstDetectorOrderAndMemory(t *testing.T) {
	d, err := NewBurstDetector(3, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	t0 := utc("2026-11-18T00:00:00Z")
	// 100,000 addresses, one failure each: idle keys are swept.
	for i := range 100_000 {
		if err := d.Add(t0.Add(time.Duration(i)*time.Second), fmt.Sprintf("u%d", i), fmt.Sprintf("10.%d.%d.%d", i>>16, (i>>8)&255, i&255)); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(d.ips.keys); n > 2048 {
		t.Errorf("%d address keys held, want them swept", n)
	}
	if err := d.Add(t0, "x", ""); err == nil {
		t.Error("a failure out of time order was taken")
	}
	if len(d.Bursts()) != 0 {
		t.Error("bursts from single failures")
	}
	for _, c := range []struct {
		n int
		w time.Duration
	}{{1, time.Minute}, {5, 0}} {
		if _, err := NewBurstDetector(c.n, c.w); !errors.Is(err, ErrInvalid) {
			t.Errorf("NewBurstDetector(%d, %s) error = %v, want ErrInvalid", c.n, c.w, err)
		}
	}
}

func TestBurstEventFilter(t *testing.T) {
	q := BurstQuery{Filter: Filter{Users: []string{"jdavis"}, Limit: 3}}
	f, ok := q.EventFilter()
	if !ok || !slices.Equal(f.Types, []Type{TypeLogin}) || f.Outcome != OutcomeFailure || f.Limit != 0 || f.Users[0] != "jdavis" {
		t.Errorf("EventFilter = %+v, %v", f, ok)
	}
	q.Filter.Types = []Type{TypeLogout, TypeLogin}
	if f, ok := q.EventFilter(); !ok || !slices.Equal(f.Types, []Type{TypeLogin}) {
		t.Errorf("with types logout,login: %+v, %v", f, ok)
	}
	q.Filter.Types = []Type{TypeLogout}
	if _, ok := q.EventFilter(); ok {
		t.Error("type logout alone selects failed logins")
	}
	q.Filter.Types, q.Filter.Outcome = nil, OutcomeSuccess
	if _, ok := q.EventFilter(); ok {
		t.Error("outcome success selects failed logins")
	}
}
