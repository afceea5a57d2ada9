package storetest

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the zones of the suite must not depend on the machine

	"github.com/audit-cli/audit/internal/audit"
)

// RunStats runs the conformance suite of audit.Statser: exact counts on a
// store built with known numbers, the canonical keys of every dimension,
// time zones with daylight saving and half-hour offsets, agreement with
// audit.StatsOf over varied events and filters, Top and its ties, and
// failed-login bursts against audit.DetectBursts. open is as for Run: a new,
// existing, empty store per subtest, which RunStats closes. The store must
// implement audit.Statser.
//
// A backend calls it next to Run:
//
//	func TestStats(t *testing.T) { storetest.RunStats(t, openTestStore) }
func RunStats(t *testing.T, open func(t *testing.T) audit.Store) {
	o := func(t *testing.T) (audit.Store, audit.Statser) {
		t.Helper()
		s := open(t)
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		st, ok := s.(audit.Statser)
		if !ok {
			t.Fatalf("%T does not implement audit.Statser", s)
		}
		return s, st
	}
	t.Run("StatsEmpty", func(t *testing.T) { testStatsEmpty(t, o) })
	t.Run("StatsKnownCounts", func(t *testing.T) { testStatsKnown(t, o) })
	t.Run("StatsZones", func(t *testing.T) { testStatsZones(t, o) })
	t.Run("StatsReference", func(t *testing.T) { testStatsReference(t, o) })
	t.Run("StatsTopTies", func(t *testing.T) { testStatsTop(t, o) })
	t.Run("StatsInvalid", func(t *testing.T) { testStatsInvalid(t, o) })
	t.Run("Bursts", func(t *testing.T) { testBursts(t, o) })
	t.Run("BurstsReference", func(t *testing.T) { testBurstsReference(t, o) })
	t.Run("BurstsInvalid", func(t *testing.T) { testBurstsInvalid(t, o) })
}

type statsOpener func(t *testing.T) (audit.Store, audit.Statser)

func stats(t *testing.T, st audit.Statser, q audit.StatsQuery) audit.StatsResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	res, err := st.Stats(ctx, q)
	if err != nil {
		t.Fatalf("Stats(%+v): %v", q, err)
	}
	return res
}

func bursts(t *testing.T, st audit.Statser, q audit.BurstQuery) []audit.Burst {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	res, err := st.Bursts(ctx, q)
	if err != nil {
		t.Fatalf("Bursts(%+v): %v", q, err)
	}
	return res
}

// tables is shorthand for StatsTables: each argument is the dimensions
// joined by commas, with ":N" for a Top.
func tables(specs ...string) []audit.StatsTable {
	var out []audit.StatsTable
	for _, s := range specs {
		dims, top, _ := strings.Cut(s, ":")
		var t audit.StatsTable
		for _, d := range strings.Split(dims, ",") {
			t.By = append(t.By, audit.Dimension(d))
		}
		if top != "" {
			fmt.Sscan(top, &t.Top)
		}
		out = append(out, t)
	}
	return out
}

// rows parses "key|key=events/failed" lines into StatsRows.
func rows(specs ...string) []audit.StatsRow {
	out := []audit.StatsRow{}
	for _, s := range specs {
		i := strings.LastIndex(s, "=")
		var r audit.StatsRow
		r.Keys = strings.Split(s[:i], "|")
		if _, err := fmt.Sscanf(s[i+1:], "%d/%d", &r.Events, &r.Failed); err != nil {
			panic(s)
		}
		out = append(out, r)
	}
	return out
}

// equalTable fails unless got has the groups count and rows of want
// (nil and empty rows alike).
func equalTable(t *testing.T, what string, got audit.StatsTableResult, groups int64, want []audit.StatsRow) {
	t.Helper()
	if got.Groups != groups || !equalRows(got.Rows, want) {
		t.Errorf("%s: %d groups, rows\n  %s\nwant %d groups, rows\n  %s", what, got.Groups, fmtRows(got.Rows), groups, fmtRows(want))
	}
}

func equalRows(a, b []audit.StatsRow) bool {
	return len(a) == len(b) && (len(a) == 0 || reflect.DeepEqual(a, b))
}

func fmtRows(rs []audit.StatsRow) string {
	var parts []string
	for _, r := range rs {
		parts = append(parts, fmt.Sprintf("%s=%d/%d", strings.Join(r.Keys, "|"), r.Events, r.Failed))
	}
	return strings.Join(parts, "\n  ")
}

func testStatsEmpty(t *testing.T, o statsOpener) {
	_, st := o(t)
	res := stats(t, st, audit.StatsQuery{Tables: tables("user", "day,type:3", "hour")})
	if res.Total != 0 || res.Failed != 0 || !res.First.IsZero() || !res.Last.IsZero() {
		t.Errorf("empty store: totals %+v", res)
	}
	if len(res.Tables) != 3 {
		t.Fatalf("empty store: %d tables, want 3", len(res.Tables))
	}
	for i, tr := range res.Tables {
		if tr.Groups != 0 || len(tr.Rows) != 0 || !slices.Equal(tr.By, tables("user", "day,type:3", "hour")[i].By) {
			t.Errorf("empty store: table %d = %+v", i, tr)
		}
	}
	if res := stats(t, st, audit.StatsQuery{}); res.Total != 0 || len(res.Tables) != 0 {
		t.Errorf("no tables: %+v", res)
	}
}

// KnownWeek returns 52 events of the week of Monday 2026-11-16 (UTC) with
// counts known by construction, for exact expectations:
//
//	jdavis   login   success 192.168.1.100  day i of the week: i+1 (28)
//	jdavis   logout  success 192.168.1.100  one a day, 17:00 (7)
//	smiller  update  success 10.0.0.55      server bbb-node-1, two a weekday (10)
//	smiller  create  success 10.0.0.55      alert_rule High CPU Usage, Monday (1)
//	mjohnson login   failure 203.45.67.89   Wednesday 21:00-21:02 (3)
//	system   delete  success (no IP)        api_key old-integration, Tuesday 00:00 (1)
//	jdavis   security success 192.168.1.100 account jdavis, Thursday (1)
//	JDavis   update  success 192.168.1.100  server bbb-node-2, Saturday (1)
//
// They are returned in no particular time order. Other packages' tests use
// them too.
func KnownWeek() []audit.Event {
	monday := time.Date(2026, 11, 16, 0, 0, 0, 0, time.UTC)
	var events []audit.Event
	add := func(day int, at string, e audit.Event) {
		var h, m int
		fmt.Sscanf(at, "%d:%d", &h, &m)
		e.Time = monday.AddDate(0, 0, day).Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute)
		e.ID = fmt.Sprintf("known-%03d", len(events)+1)
		if e.Outcome == "" {
			e.Outcome = audit.OutcomeSuccess
		}
		events = append(events, e)
	}
	jd := audit.Event{User: "jdavis", UserName: "John Davis", IP: "192.168.1.100"}
	sm := audit.Event{User: "smiller", UserName: "Sarah Miller", IP: "10.0.0.55"}
	with := func(base audit.Event, typ audit.Type, action, rtype, res string) audit.Event {
		base.Type, base.Action, base.ResourceType, base.Resource = typ, action, rtype, res
		return base
	}
	for day := 6; day >= 0; day-- {
		add(day, "17:00", with(jd, audit.TypeLogout, "Session Ended", "session", ""))
		for j := 0; j <= day; j++ {
			add(day, fmt.Sprintf("08:%02d", j), with(jd, audit.TypeLogin, "Portal Access", "session", ""))
		}
		if day <= 4 {
			add(day, "10:00", with(sm, audit.TypeUpdate, "Updated", "server", "bbb-node-1"))
			add(day, "10:30", with(sm, audit.TypeUpdate, "Updated", "server", "bbb-node-1"))
		}
	}
	add(0, "11:22", with(sm, audit.TypeCreate, "Created", "alert_rule", "High CPU Usage"))
	for j := range 3 {
		e := audit.Event{User: "mjohnson", UserName: "Mike Johnson", IP: "203.45.67.89", Outcome: audit.OutcomeFailure}
		add(2, fmt.Sprintf("21:%02d", j), with(e, audit.TypeLogin, "Portal Access", "session", ""))
	}
	add(1, "00:00", with(audit.Event{User: "system", UserName: "System"}, audit.TypeDelete, "Deleted", "api_key", "old-integration"))
	add(3, "10:15", with(jd, audit.TypeSecurity, "MFA Enabled", "account", "jdavis"))
	jd2 := jd
	jd2.User = "JDavis"
	add(5, "12:00", with(jd2, audit.TypeUpdate, "Updated", "server", "bbb-node-2"))
	return events
}

func testStatsKnown(t *testing.T, o statsOpener) {
	s, st := o(t)
	appendOK(t, s, KnownWeek())
	res := stats(t, st, audit.StatsQuery{Tables: tables("type", "user:3", "ip", "day", "outcome", "week", "action:2")})
	monday := time.Date(2026, 11, 16, 0, 0, 0, 0, time.UTC)
	if res.Total != 52 || res.Failed != 3 || !res.First.Equal(monday.Add(8*time.Hour)) || !res.Last.Equal(monday.AddDate(0, 0, 6).Add(17*time.Hour)) {
		t.Errorf("totals: %d events, %d failed, %s to %s; want 52, 3, 2026-11-16T08:00:00Z to 2026-11-22T17:00:00Z",
			res.Total, res.Failed, res.First.Format(time.RFC3339), res.Last.Format(time.RFC3339))
	}
	if len(res.Tables) != 7 {
		t.Fatalf("%d tables, want 7", len(res.Tables))
	}
	equalTable(t, "by type", res.Tables[0], 6, rows("login=31/3", "update=11/0", "logout=7/0", "create=1/0", "delete=1/0", "security=1/0"))
	// Logins are grouped exactly: JDavis is not jdavis.
	equalTable(t, "by user, top 3", res.Tables[1], 5, rows("jdavis=36/0", "smiller=11/0", "mjohnson=3/3"))
	equalTable(t, "by ip", res.Tables[2], 4, rows("192.168.1.100=37/0", "10.0.0.55=11/0", "203.45.67.89=3/3", "=1/0"))
	equalTable(t, "by day", res.Tables[3], 7, rows("2026-11-18=9/3", "2026-11-19=8/0", "2026-11-20=8/0",
		"2026-11-21=8/0", "2026-11-22=8/0", "2026-11-17=6/0", "2026-11-16=5/0"))
	equalTable(t, "by outcome", res.Tables[4], 2, rows("success=49/0", "failure=3/3"))
	equalTable(t, "by week", res.Tables[5], 1, rows("2026-W47=52/3"))
	equalTable(t, "by action, top 2", res.Tables[6], 6, rows("Portal Access=31/3", "Updated=11/0"))

	// Filters apply; ties order by keys, byte for byte.
	res = stats(t, st, audit.StatsQuery{
		Filter: audit.Filter{Types: []audit.Type{audit.TypeCreate, audit.TypeUpdate, audit.TypeDelete}},
		Tables: tables("resource_type,resource", "user,type"),
	})
	equalTable(t, "changed resources", res.Tables[0], 4, rows("server|bbb-node-1=10/0",
		"alert_rule|High CPU Usage=1/0", "api_key|old-integration=1/0", "server|bbb-node-2=1/0"))
	equalTable(t, "changes by user and type", res.Tables[1], 4, rows("smiller|update=10/0",
		"JDavis|update=1/0", "smiller|create=1/0", "system|delete=1/0"))

	res = stats(t, st, audit.StatsQuery{
		Filter: audit.Filter{Outcome: audit.OutcomeFailure, Since: monday.AddDate(0, 0, 2), Until: monday.AddDate(0, 0, 3)},
		Tables: tables("hour", "user,ip"),
	})
	if res.Total != 3 || res.Failed != 3 {
		t.Errorf("failures on Wednesday: %d events, %d failed; want 3, 3", res.Total, res.Failed)
	}
	equalTable(t, "failures by hour", res.Tables[0], 1, rows("2026-11-18T21:00:00Z=3/3"))
	equalTable(t, "failures by user and ip", res.Tables[1], 1, rows("mjohnson|203.45.67.89=3/3"))

	// The same week in New York (UTC-5 in November): Tuesday's midnight
	// expiry is Monday evening there.
	ny := mustZone(t, "America/New_York")
	res = stats(t, st, audit.StatsQuery{
		Zone:   audit.ZoneIn(ny, monday, monday.AddDate(0, 0, 7)),
		Tables: tables("day"),
	})
	equalTable(t, "by day in New York", res.Tables[0], 7, rows("2026-11-18=9/3", "2026-11-19=8/0", "2026-11-20=8/0",
		"2026-11-21=8/0", "2026-11-22=8/0", "2026-11-16=6/0", "2026-11-17=5/0"))
}

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// testStatsZones: days, hours and weeks across Berlin's end of summer time
// (2026-10-25, 03:00 CEST becomes 02:00 CET) and in a half-hour zone.
func testStatsZones(t *testing.T, o statsOpener) {
	s, st := o(t)
	at := func(id, ts string) audit.Event {
		e := Events(1, 77)[0]
		e.ID, e.Outcome = id, audit.OutcomeSuccess
		var err error
		if e.Time, err = time.Parse(time.RFC3339, ts); err != nil {
			t.Fatal(err)
		}
		return e
	}
	appendOK(t, s, []audit.Event{
		at("z1", "2026-10-24T21:30:00Z"), // Sat 23:30 CEST
		at("z2", "2026-10-24T22:30:00Z"), // Sun 00:30 CEST
		at("z3", "2026-10-25T00:30:00Z"), // Sun 02:30 CEST
		at("z4", "2026-10-25T01:30:00Z"), // Sun 02:30 CET
		at("z5", "2026-10-25T23:30:00Z"), // Mon 00:30 CET
		at("k1", "2026-11-20T18:29:59Z"), // Fri 23:59:59 IST
		at("k2", "2026-11-20T18:30:00Z"), // Sat 00:00 IST
	})
	berlin := mustZone(t, "Europe/Berlin")
	b0, b1 := time.Date(2026, 10, 19, 0, 0, 0, 0, berlin), time.Date(2026, 11, 2, 0, 0, 0, 0, berlin)
	res := stats(t, st, audit.StatsQuery{
		Filter: audit.Filter{Since: b0, Until: b1},
		Zone:   audit.ZoneIn(berlin, b0, b1),
		Tables: tables("day", "hour", "week"),
	})
	equalTable(t, "Berlin days", res.Tables[0], 3, rows("2026-10-25=3/0", "2026-10-24=1/0", "2026-10-26=1/0"))
	equalTable(t, "Berlin hours", res.Tables[1], 5, rows("2026-10-24T23:00:00+02:00=1/0", "2026-10-25T00:00:00+02:00=1/0",
		"2026-10-25T02:00:00+01:00=1/0", "2026-10-25T02:00:00+02:00=1/0", "2026-10-26T00:00:00+01:00=1/0"))
	equalTable(t, "Berlin weeks", res.Tables[2], 2, rows("2026-W43=4/0", "2026-W44=1/0"))

	kolkata := mustZone(t, "Asia/Kolkata")
	k0 := time.Date(2026, 11, 20, 0, 0, 0, 0, kolkata)
	res = stats(t, st, audit.StatsQuery{
		Filter: audit.Filter{Since: k0, Until: k0.AddDate(0, 0, 2)},
		Zone:   audit.ZoneIn(kolkata, k0, k0.AddDate(0, 0, 2)),
		Tables: tables("day", "hour"),
	})
	equalTable(t, "Kolkata days", res.Tables[0], 2, rows("2026-11-20=1/0", "2026-11-21=1/0"))
	equalTable(t, "Kolkata hours", res.Tables[1], 2, rows("2026-11-20T23:00:00+05:30=1/0", "2026-11-21T00:00:00+05:30=1/0"))
}

// testStatsReference compares Stats with audit.StatsOf over varied events,
// filters, groupings and zones.
func testStatsReference(t *testing.T, o statsOpener) {
	s, st := o(t)
	appendOK(t, s, Events(400, 3))
	appendOK(t, s, KnownWeek())
	all := query(t, s, audit.Filter{})
	seq := func(yield func(audit.Event, error) bool) {
		for _, e := range all {
			if !yield(e, nil) {
				return
			}
		}
	}
	mid := all[len(all)/2]
	filters := []audit.Filter{
		{},
		{Users: []string{"jdavis", "Zoë*"}},
		{Types: []audit.Type{audit.TypeLogin}, Outcome: audit.OutcomeFailure},
		{IPs: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32")}},
		{Since: mid.Time, Until: mid.Time.Add(3 * time.Hour)},
		{Search: "load_multiplier", Resources: []string{"bbb-*"}},
		{After: mid.Seq},
		{Users: []string{"nobody"}},
	}
	groupings := [][]audit.StatsTable{
		tables("user", "type,outcome", "ip:4", "resource_type,resource"),
		tables("action:3", "day,type", "hour:5", "week"),
		tables("user,day:7", "outcome,hour", "ip,user,type"),
	}
	zones := []*time.Location{time.UTC, mustZone(t, "Europe/Berlin"), mustZone(t, "Asia/Kolkata"), mustZone(t, "America/St_Johns")}
	for fi, f := range filters {
		for gi, g := range groupings {
			loc := zones[(fi+gi)%len(zones)]
			q := audit.StatsQuery{Filter: f, Tables: g,
				Zone: audit.ZoneIn(loc, time.Date(2026, 1, 1, 0, 0, 0, 0, loc), time.Date(2027, 1, 1, 0, 0, 0, 0, loc))}
			want, err := audit.StatsOf(seq, q)
			if err != nil {
				t.Fatal(err)
			}
			got := stats(t, st, q)
			what := fmt.Sprintf("filter %d %+v, grouping %d, zone %s", fi, f, gi, loc)
			if got.Total != want.Total || got.Failed != want.Failed || !got.First.Equal(want.First) || !got.Last.Equal(want.Last) {
				t.Errorf("%s: totals %d/%d %s %s, want %d/%d %s %s", what, got.Total, got.Failed, got.First, got.Last,
					want.Total, want.Failed, want.First, want.Last)
			}
			if len(got.Tables) != len(want.Tables) {
				t.Fatalf("%s: %d tables, want %d", what, len(got.Tables), len(want.Tables))
			}
			for i := range want.Tables {
				if !slices.Equal(got.Tables[i].By, want.Tables[i].By) {
					t.Errorf("%s: table %d by %v, want %v", what, i, got.Tables[i].By, want.Tables[i].By)
				}
				equalTable(t, fmt.Sprintf("%s, table %v", what, g[i]), got.Tables[i], want.Tables[i].Groups, want.Tables[i].Rows)
			}
		}
	}
}

// testStatsTop: Top keeps the largest groups; among equal counts the
// smaller keys, byte for byte (upper case before lower case, "" first).
func testStatsTop(t *testing.T, o statsOpener) {
	s, st := o(t)
	var events []audit.Event
	for i, user := range []string{"b", "a", "B", "c", "a", "é", "c", "A"} {
		e := Events(1, int64(200+i))[0]
		e.ID, e.User, e.UserName, e.Outcome = fmt.Sprintf("top-%d", i), user, "", audit.OutcomeSuccess
		events = append(events, e)
	}
	appendOK(t, s, events)
	res := stats(t, st, audit.StatsQuery{Tables: tables("user:4", "user", "user:100")})
	equalTable(t, "top 4 users", res.Tables[0], 6, rows("a=2/0", "c=2/0", "A=1/0", "B=1/0"))
	all := rows("a=2/0", "c=2/0", "A=1/0", "B=1/0", "b=1/0", "é=1/0")
	equalTable(t, "all users", res.Tables[1], 6, all)
	equalTable(t, "top 100 users", res.Tables[2], 6, all)
}

func testStatsInvalid(t *testing.T, o statsOpener) {
	_, st := o(t)
	ctx := context.Background()
	for name, q := range map[string]audit.StatsQuery{
		"unknown dimension": {Tables: []audit.StatsTable{{By: []audit.Dimension{"month"}}}},
		"no dimension":      {Tables: []audit.StatsTable{{}}},
		"twice":             {Tables: tables("user,user")},
		"negative top":      {Tables: []audit.StatsTable{{By: []audit.Dimension{audit.DimUser}, Top: -1}}},
		"bad zone":          {Zone: audit.Zone{{Offset: 90000}}, Tables: tables("day")},
		"unsorted zone": {Zone: audit.Zone{{Offset: 0}, {Since: Epoch, Offset: 3600}, {Since: Epoch.Add(-time.Hour), Offset: 0}},
			Tables: tables("day")},
	} {
		if _, err := st.Stats(ctx, q); !errors.Is(err, audit.ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
}

// burstEvents returns thousands of normal events (all successes) around
// Epoch, a planted brute-force burst (20 failures from one address in 3
// minutes against three accounts) and a slow trickle (one failure every 15
// minutes for a day from another address against one account), in three
// batches that are not in time order.
func burstEvents() (planted time.Time, batches [][]audit.Event) {
	normal := Events(3000, 11)
	for i := range normal {
		normal[i].Outcome = audit.OutcomeSuccess
	}
	planted = Epoch.Add(10*time.Hour + 7*time.Second)
	var burst, trickle []audit.Event
	for i := range 20 {
		e := Events(1, int64(1000+i))[0]
		e.ID = fmt.Sprintf("burst-%02d", i)
		e.Time = planted.Add(time.Duration(i) * 9 * time.Second)
		e.User = []string{"jdavis", "smiller", "root"}[i%3]
		e.UserName, e.Type, e.Action, e.ResourceType, e.Resource = "", audit.TypeLogin, "Portal Access", "session", ""
		e.Details, e.IP, e.Outcome = "Invalid password", "185.220.101.4", audit.OutcomeFailure
		burst = append(burst, e)
	}
	for i := range 96 {
		e := Events(1, int64(2000+i))[0]
		e.ID = fmt.Sprintf("trickle-%02d", i)
		e.Time = Epoch.Add(time.Duration(i) * 15 * time.Minute)
		e.User, e.UserName, e.Type, e.Action = "mjohnson", "Mike Johnson", audit.TypeLogin, "SSH Login"
		e.IP, e.Outcome = "203.0.113.9", audit.OutcomeFailure
		trickle = append(trickle, e)
	}
	return planted, [][]audit.Event{trickle, normal, burst}
}

func testBursts(t *testing.T, o statsOpener) {
	s, st := o(t)
	if got := bursts(t, st, audit.BurstQuery{Threshold: 5, Window: 10 * time.Minute}); len(got) != 0 {
		t.Errorf("empty store: %v", got)
	}
	t0, batches := burstEvents()
	for _, b := range batches {
		appendOK(t, s, b)
	}
	sec := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Second) }
	ip := "185.220.101.4"
	q := audit.BurstQuery{Threshold: 5, Window: 10 * time.Minute}
	want := []audit.Burst{
		{By: audit.DimUser, Key: "jdavis", First: sec(0), Last: sec(162), Count: 7, IPs: []string{ip}},
		{By: audit.DimIP, Key: ip, First: sec(0), Last: sec(171), Count: 20, Users: []string{"jdavis", "root", "smiller"}},
		{By: audit.DimUser, Key: "smiller", First: sec(9), Last: sec(171), Count: 7, IPs: []string{ip}},
		{By: audit.DimUser, Key: "root", First: sec(18), Last: sec(153), Count: 6, IPs: []string{ip}},
	}
	equalBursts(t, "planted burst", bursts(t, st, q), want)

	// The filters narrow the failures a burst is made of.
	q.Filter = audit.Filter{Users: []string{"JDAVIS"}}
	equalBursts(t, "user jdavis", bursts(t, st, q), []audit.Burst{
		want[0],
		{By: audit.DimIP, Key: ip, First: sec(0), Last: sec(162), Count: 7, Users: []string{"jdavis"}},
	})
	q.Filter = audit.Filter{Since: sec(90)}
	equalBursts(t, "since the 90th second", bursts(t, st, q), []audit.Burst{
		{By: audit.DimIP, Key: ip, First: sec(90), Last: sec(171), Count: 10, Users: []string{"jdavis", "root", "smiller"}},
	})
	q.Filter = audit.Filter{IPs: []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")}}
	equalBursts(t, "the trickle's address", bursts(t, st, q), nil)
	q.Filter = audit.Filter{Types: []audit.Type{audit.TypeLogout}}
	equalBursts(t, "type logout", bursts(t, st, q), nil)
	q.Filter = audit.Filter{Outcome: audit.OutcomeSuccess}
	equalBursts(t, "outcome success", bursts(t, st, q), nil)

	// The trickle is there: at a 15-minute window it is one long burst.
	q = audit.BurstQuery{Threshold: 2, Window: 15 * time.Minute, Filter: audit.Filter{Actions: []string{"ssh login"}}}
	equalBursts(t, "trickle at 15m", bursts(t, st, q), []audit.Burst{
		{By: audit.DimUser, Key: "mjohnson", First: Epoch, Last: Epoch.Add(95 * 15 * time.Minute), Count: 96, IPs: []string{"203.0.113.9"}},
		{By: audit.DimIP, Key: "203.0.113.9", First: Epoch, Last: Epoch.Add(95 * 15 * time.Minute), Count: 96, Users: []string{"mjohnson"}},
	})
}

func equalBursts(t *testing.T, what string, got, want []audit.Burst) {
	t.Helper()
	norm := func(bs []audit.Burst) []audit.Burst {
		out := make([]audit.Burst, len(bs))
		for i, b := range bs {
			b.First, b.Last = b.First.UTC(), b.Last.UTC()
			if len(b.IPs) == 0 {
				b.IPs = nil
			}
			if len(b.Users) == 0 {
				b.Users = nil
			}
			out[i] = b
		}
		return out
	}
	if g, w := norm(got), norm(want); !reflect.DeepEqual(g, w) {
		t.Errorf("%s: bursts\n  %s\nwant\n  %s", what, fmtBursts(g), fmtBursts(w))
	}
}

func fmtBursts(bs []audit.Burst) string {
	var parts []string
	for _, b := range bs {
		parts = append(parts, fmt.Sprintf("%s %s %d %s..%s ips=%v users=%v", b.By, b.Key, b.Count,
			b.First.Format(time.RFC3339Nano), b.Last.Format(time.RFC3339Nano), b.IPs, b.Users))
	}
	return strings.Join(parts, "\n  ")
}

// testBurstsReference compares Bursts with audit.DetectBursts over the
// store's own failed logins, sorted by time.
func testBurstsReference(t *testing.T, o statsOpener) {
	s, st := o(t)
	_, batches := burstEvents()
	for _, b := range batches {
		appendOK(t, s, b)
	}
	appendOK(t, s, Events(600, 12)) // with its own failures, times out of seq order
	for _, q := range []audit.BurstQuery{
		{Threshold: 2, Window: time.Hour},
		{Threshold: 3, Window: 20 * time.Minute},
		{Threshold: 5, Window: 10 * time.Minute, Filter: audit.Filter{Users: []string{"j*", "root"}}},
		{Threshold: 2, Window: 2 * time.Hour, Filter: audit.Filter{IPs: []netip.Prefix{netip.MustParsePrefix("2001:db8::/32")}}},
	} {
		f, _ := q.EventFilter()
		failures := query(t, s, f)
		slices.SortStableFunc(failures, func(a, b audit.Event) int { return a.Time.Compare(b.Time) })
		want, err := audit.DetectBursts(func(yield func(audit.Event, error) bool) {
			for _, e := range failures {
				if !yield(e, nil) {
					return
				}
			}
		}, q)
		if err != nil {
			t.Fatal(err)
		}
		equalBursts(t, fmt.Sprintf("%d within %s, filter %+v", q.Threshold, q.Window, q.Filter), bursts(t, st, q), want)
	}
}

func testBurstsInvalid(t *testing.T, o statsOpener) {
	_, st := o(t)
	for _, q := range []audit.BurstQuery{{Threshold: 1, Window: time.Minute}, {Threshold: 5}, {Threshold: 5, Window: -time.Second}} {
		if _, err := st.Bursts(context.Background(), q); !errors.Is(err, audit.ErrInvalid) {
			t.Errorf("Bursts(%+v): err = %v, want ErrInvalid", q, err)
		}
	}
}
