package output

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	_ "time/tzdata"

	"github.com/audit-cli/audit/internal/audit"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/name, or writes it there with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/output -run %s -update to create it)", err, t.Name())
	}
	if got != string(want) {
		t.Errorf("%s differs (go test ./internal/output -run %s -update rewrites it)\n--- got:\n%s\n--- want:\n%s", path, t.Name(), got, want)
	}
}

// statsNow is the pinned clock of the stats tests: Thursday 26 November
// 2026, 15:00 UTC.
var statsNow = time.Date(2026, 11, 26, 15, 0, 0, 0, time.UTC)

func row(events, failed int64, keys ...string) audit.StatsRow {
	return audit.StatsRow{Keys: keys, Events: events, Failed: failed}
}

// testReview is a week's review with counts in the thousands, a resource
// name too long for 80 columns, an IPv6 address and events without one.
func testReview() *Review {
	monday := time.Date(2026, 11, 16, 0, 0, 0, 0, time.UTC)
	types := []audit.StatsRow{row(4210, 298, "login"), row(3900, 0, "logout"), row(812, 3, "create"),
		row(2755, 0, "update"), row(410, 0, "delete"), row(258, 20, "security")}
	r := &Review{
		Title: "Last week", Since: monday, Until: monday.AddDate(0, 0, 7),
		Total: 12345, Failed: 321,
		Types: types,
		Users: ReviewList{Groups: 12, Total: 12345, Failed: 321, Rows: []audit.StatsRow{
			row(3120, 41, "jdavis"), row(2544, 12, "smiller"), row(1890, 188, "mjohnson"),
			row(1200, 5, "agarcia"), row(1001, 0, "lchen")}},
		Resources: ReviewList{Groups: 57, Total: 3977, Failed: 3, Rows: []audit.StatsRow{
			row(640, 0, "server", "bbb-node-1"), row(122, 3, "alert_rule", "High CPU Usage"),
			row(40, 0, "api_key", "integration-token-for-the-billing-system-and-reporting"),
			row(12, 0, "recording", "rec-000123")}},
		IPs: ReviewList{Groups: 20, Total: 12345, Failed: 321, Rows: []audit.StatsRow{
			row(2544, 12, "10.0.0.55"), row(2100, 20, "192.168.1.100"), row(1500, 0, "2001:db8:4::17"),
			row(410, 0, ""), row(180, 180, "185.220.101.4")}},
		Activity: Activity{Unit: audit.DimDay},
	}
	// The types spread over the days, the weekend quieter; the rest of
	// each type on Sunday.
	weights := []int64{18, 17, 16, 17, 15, 9, 8}
	for d := range 7 {
		start := monday.AddDate(0, 0, d)
		b := ActivityBucket{Key: start.Format(time.DateOnly), Start: start, ByType: make([]int64, len(audit.Types))}
		for i, tr := range types {
			n := tr.Events * weights[d] / 100
			if d == 6 {
				n = tr.Events
				for _, w := range weights[:6] {
					n -= tr.Events * w / 100
				}
			}
			b.ByType[i] = n
			b.Events += n
		}
		b.Failed = b.ByType[0] * 298 / 4210
		r.Activity.Buckets = append(r.Activity.Buckets, b)
	}
	return r
}

func printReview(t *testing.T, r *Review, opts Options) string {
	t.Helper()
	var b bytes.Buffer
	opts.Now, opts.Location = statsNow, time.UTC
	if err := PrintReview(&b, r, opts); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// assertPlain checks output meant for pipes: no ANSI, no box drawing, no
// blocks or shapes.
func assertPlain(t *testing.T, out string) {
	t.Helper()
	if strings.Contains(out, "\x1b") {
		t.Errorf("ANSI escape in piped output: %q", out)
	}
	for _, r := range out {
		if r >= 0x2500 && r <= 0x25ff {
			t.Errorf("box drawing, block or shape %q in piped output", r)
			return
		}
	}
}

func TestReviewTTY(t *testing.T) {
	for _, c := range []struct {
		name  string
		width int
		color bool
	}{{"stats-review-80.golden", 80, true}, {"stats-review-120.golden", 120, true}, {"stats-review-80-nocolor.golden", 80, false}} {
		t.Run(c.name, func(t *testing.T) {
			out := printReview(t, testReview(), Options{Format: "table", TTY: true, Color: c.color, Width: c.width})
			golden(t, c.name, out)
			assertFits(t, out, c.width)
			if !c.color && strings.Contains(out, "\x1b") {
				t.Error("ANSI escape without color")
			}
		})
	}
}

func TestReviewNarrow(t *testing.T) {
	out := printReview(t, testReview(), Options{Format: "table", TTY: true, Width: 50})
	assertFits(t, out, 50)
	if !strings.Contains(out, "\nCHANGED RESOURCE") || !strings.Contains(out, "\nSOURCE IP") {
		t.Errorf("narrow review does not stack its panels:\n%s", out)
	}
}

func TestReviewPiped(t *testing.T) {
	out := printReview(t, testReview(), Options{Format: "table"})
	golden(t, "stats-review-piped.golden", out)
	assertPlain(t, out)
	for i, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if n := strings.Count(line, "\t"); n != 3 {
			t.Errorf("line %d has %d tabs, want 3 (4 columns): %q", i+1, n, line)
		}
	}
	csv := printReview(t, testReview(), Options{Format: "csv", NoHeaders: true})
	if !strings.HasPrefix(csv, "total,,12345,321\ntype,login,4210,298\n") || !strings.Contains(csv, "\nresource,api_key:integration-token-for-the-billing-system-and-reporting,40,0\n") {
		t.Errorf("csv review:\n%s", csv)
	}
	jsonl := printReview(t, testReview(), Options{Format: "jsonl"})
	if !strings.HasPrefix(jsonl, `{"section":"total","key":"","events":12345,"failed":321}`+"\n") {
		t.Errorf("jsonl review:\n%s", jsonl)
	}
}

func TestReviewJSON(t *testing.T) {
	out := printReview(t, testReview(), Options{Format: "json"})
	var v struct {
		Title     string `json:"title"`
		Since     string `json:"since"`
		Total     int64  `json:"total"`
		Users     int64  `json:"users"`
		Types     []map[string]any
		TopUsers  []map[string]any `json:"top_users"`
		Resources []map[string]any `json:"top_resources"`
		Unit      string           `json:"unit"`
		Activity  []struct {
			Day    string           `json:"day"`
			Events int64            `json:"events"`
			Types  map[string]int64 `json:"types"`
		} `json:"activity"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if v.Title != "Last week" || v.Since != "2026-11-16T00:00:00Z" || v.Total != 12345 || v.Users != 12 || v.Unit != "day" ||
		len(v.Types) != 6 || v.TopUsers[2]["user"] != "mjohnson" || v.TopUsers[2]["failed"] != 188.0 ||
		v.Resources[1]["resource_type"] != "alert_rule" || len(v.Activity) != 7 || v.Activity[0].Day != "2026-11-16" ||
		v.Activity[0].Types["login"] != 757 {
		t.Errorf("json review: %+v\n%s", v, out)
	}
	if !strings.HasPrefix(out, `{"title":"Last week","since":"2026-11-16T00:00:00Z","until":"2026-11-23T00:00:00Z","total":12345,`) {
		t.Errorf("json review fields out of order: %s", out[:100])
	}
}

func TestReviewEmpty(t *testing.T) {
	r := &Review{Title: "Today", Since: statsNow.Truncate(24 * time.Hour), Until: statsNow.Truncate(24 * time.Hour).Add(24 * time.Hour)}
	got := printReview(t, r, Options{Format: "table", TTY: true, Width: 80})
	assertOutput(t, got, "Today: Thu Nov 26, 2026 (UTC)\n0 events\n")
}

// TestChartHoursDST: an hourly chart of the day Berlin's clocks go back
// has 25 bars, and names the zone where the clock shows 02:00 twice.
func TestChartHoursDST(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	day := time.Date(2026, 10, 25, 0, 0, 0, 0, berlin)
	a := Activity{Unit: audit.DimHour}
	for i, b := range audit.TimeBuckets(audit.DimHour, day, day.AddDate(0, 0, 1), berlin) {
		ab := ActivityBucket{Key: b.Key, Start: b.Start, ByType: make([]int64, len(audit.Types))}
		// Logins in the morning, changes in the afternoon, a burst of
		// failed logins at 03:00.
		switch {
		case i == 4:
			ab.ByType[0], ab.Failed = 60, 60
		case i >= 8 && i < 13:
			ab.ByType[0], ab.ByType[1], ab.ByType[3] = int64(10+i), int64(i), int64(2*i)
		case i >= 13 && i < 19:
			ab.ByType[2], ab.ByType[3], ab.ByType[5] = 3, int64(20-i), 1
		}
		for _, n := range ab.ByType {
			ab.Events += n
		}
		a.Buckets = append(a.Buckets, ab)
	}
	if len(a.Buckets) != 25 {
		t.Fatalf("%d hours", len(a.Buckets))
	}
	opts := statsDefaults(Options{Now: statsNow, Location: berlin})
	out := strings.Join(activityLines(&a, 80, opts, chartStyles(true)), "\n") + "\n"
	golden(t, "stats-chart-hour-80.golden", out)
	assertFits(t, out, 80)
	if !strings.Contains(out, "\n02:00 CEST ") || !strings.Contains(out, "\n02:00 CET  ") {
		t.Errorf("the two 02:00 hours are not told apart:\n%s", out)
	}
	plain := strings.Join(activityLines(&a, 120, opts, chartStyles(false)), "\n") + "\n"
	golden(t, "stats-chart-hour-120-nocolor.golden", plain)
	assertFits(t, plain, 120)
}

func TestBar(t *testing.T) {
	st := newStyles(false)
	for _, c := range []struct {
		n, max int64
		width  int
		want   string
	}{
		{0, 10, 10, ""},
		{10, 10, 10, "██████████"},
		{5, 10, 10, "█████"},
		{1, 1000, 10, "▏"}, // never invisible
		{3, 8, 1, "▍"},
		{7, 10, 4, "██▊"},
	} {
		if got := bar(c.n, c.max, c.width, nil, st); got != c.want {
			t.Errorf("bar(%d, %d, %d) = %q, want %q", c.n, c.max, c.width, got, c.want)
		}
	}
	// Stacked: cells take the color of the type at their middle.
	colored := bar(10, 10, 10, []int64{5, 0, 0, 3, 0, 2}, newStyles(true))
	if want := "\x1b[36m█████\x1b[0m\x1b[33m███\x1b[0m\x1b[35m██\x1b[0m"; colored != want {
		t.Errorf("stacked bar = %q, want %q", colored, want)
	}
}

func TestStatsTable(t *testing.T) {
	by := []audit.Dimension{audit.DimDay, audit.DimType}
	rows := []audit.StatsRow{row(1523, 40, "2026-11-16", "login"), row(212, 0, "2026-11-16", "update"),
		row(1610, 51, "2026-11-17", "login"), row(5, 0, "2026-11-17", "delete"), row(0, 0, "2026-11-18", "security")}
	var b bytes.Buffer
	opts := Options{Format: "table", TTY: true, Color: true, Width: 80, Now: statsNow, Location: time.UTC}
	if err := PrintStatsTable(&b, by, rows, opts); err != nil {
		t.Fatal(err)
	}
	golden(t, "stats-by-80.golden", b.String())
	assertFits(t, b.String(), 80)

	b.Reset()
	opts.TTY, opts.Color = false, false
	if err := PrintStatsTable(&b, by, rows[:2], opts); err != nil {
		t.Fatal(err)
	}
	assertOutput(t, b.String(), "DAY\tTYPE\tEVENTS\tFAILED\n2026-11-16\tlogin\t1523\t40\n2026-11-16\tupdate\t212\t0\n")

	for format, want := range map[string]string{
		"csv":   "day,type,events,failed\n2026-11-16,login,1523,40\n2026-11-16,update,212,0\n",
		"tsv":   "day\ttype\tevents\tfailed\n2026-11-16\tlogin\t1523\t40\n2026-11-16\tupdate\t212\t0\n",
		"json":  `[{"day":"2026-11-16","type":"login","events":1523,"failed":40},` + "\n" + `{"day":"2026-11-16","type":"update","events":212,"failed":0}]` + "\n",
		"jsonl": `{"day":"2026-11-16","type":"login","events":1523,"failed":40}` + "\n" + `{"day":"2026-11-16","type":"update","events":212,"failed":0}` + "\n",
	} {
		b.Reset()
		opts.Format = format
		if err := PrintStatsTable(&b, by, rows[:2], opts); err != nil {
			t.Fatal(err)
		}
		if b.String() != want {
			t.Errorf("%s:\n got %q\nwant %q", format, b.String(), want)
		}
	}
	b.Reset()
	opts.Format = "json"
	if err := PrintStatsTable(&b, by, nil, opts); err != nil || b.String() != "[]\n" {
		t.Errorf("no rows as json: %q, %v", b.String(), err)
	}
	// Data that would drive a terminal is escaped, also when piped.
	b.Reset()
	opts.Format = "table"
	if err := PrintStatsTable(&b, []audit.Dimension{audit.DimResource}, []audit.StatsRow{row(1, 0, "evil\x1b[2J\tname\n")}, opts); err != nil {
		t.Fatal(err)
	}
	assertOutput(t, b.String(), "RESOURCE\tEVENTS\tFAILED\nevil\\x1b[2J\\tname\\n\t1\t0\n")
	if err := PrintStatsTable(&b, by, rows, Options{Format: "wide"}); err == nil {
		t.Error("wide accepted for stats")
	}
}

func TestStatsTableHoursTTY(t *testing.T) {
	// Two rows of one wall-clock hour (clocks going back) show their offsets.
	rows := []audit.StatsRow{row(3, 0, "2026-10-25T01:00:00+02:00"), row(2, 0, "2026-10-25T02:00:00+02:00"),
		row(4, 1, "2026-10-25T02:00:00+01:00")}
	var b bytes.Buffer
	if err := PrintStatsTable(&b, []audit.Dimension{audit.DimHour}, rows, Options{Format: "table", TTY: true, Width: 60, Now: statsNow}); err != nil {
		t.Fatal(err)
	}
	want := "HOUR                     EVENTS  FAILED\n" +
		"2026-10-25 01:00              3       0  ██████████████▎\n" +
		"2026-10-25 02:00 +02:00       2       0  █████████▌\n" +
		"2026-10-25 02:00 +01:00       4       1  ███████████████████\n"
	assertOutput(t, b.String(), want)
}

func testBursts() []audit.Burst {
	t0 := time.Date(2026, 11, 26, 3, 4, 0, 0, time.UTC)
	return []audit.Burst{
		{By: audit.DimUser, Key: "jdavis", First: t0, Last: t0.Add(162 * time.Second), Count: 7, IPs: []string{"185.220.101.4"}},
		{By: audit.DimIP, Key: "185.220.101.4", First: t0, Last: t0.Add(171 * time.Second), Count: 20, Users: []string{"jdavis", "root", "smiller"}},
		{By: audit.DimUser, Key: "smiller", First: t0.Add(9 * time.Second), Last: t0.Add(171 * time.Second), Count: 7, IPs: []string{"185.220.101.4"}},
		{By: audit.DimIP, Key: "2001:db8:4::17", First: t0.Add(-26 * time.Hour), Last: t0.Add(-26*time.Hour + 5*time.Minute), Count: 1234,
			Users: []string{"agarcia", "emueller", "jdavis", "kbrown", "lchen", "mjohnson", "okoroma", "pnovak", "rsingh", "smiller", "tnguyen"}},
	}
}

func TestBursts(t *testing.T) {
	var b bytes.Buffer
	opts := Options{Format: "table", TTY: true, Color: true, Width: 80, Now: statsNow, Location: time.UTC}
	if err := PrintBursts(&b, testBursts(), opts); err != nil {
		t.Fatal(err)
	}
	golden(t, "stats-bursts-80.golden", b.String())
	assertFits(t, b.String(), 80)

	b.Reset()
	opts.TTY, opts.Color = false, false
	if err := PrintBursts(&b, testBursts()[:2], opts); err != nil {
		t.Fatal(err)
	}
	assertOutput(t, b.String(), "BY\tKEY\tCOUNT\tFIRST\tLAST\tIPS\tUSERS\n"+
		"user\tjdavis\t7\t2026-11-26T03:04:00Z\t2026-11-26T03:06:42Z\t185.220.101.4\t\n"+
		"ip\t185.220.101.4\t20\t2026-11-26T03:04:00Z\t2026-11-26T03:06:51Z\t\tjdavis,root,smiller\n")
	assertPlain(t, b.String())

	b.Reset()
	opts.Format = "csv"
	if err := PrintBursts(&b, testBursts()[1:2], opts); err != nil {
		t.Fatal(err)
	}
	assertOutput(t, b.String(), "by,key,count,first,last,ips,users\nip,185.220.101.4,20,2026-11-26T03:04:00Z,2026-11-26T03:06:51Z,,\"jdavis,root,smiller\"\n")

	b.Reset()
	opts.Format = "jsonl"
	if err := PrintBursts(&b, testBursts()[:1], opts); err != nil {
		t.Fatal(err)
	}
	assertOutput(t, b.String(), `{"by":"user","key":"jdavis","first":"2026-11-26T03:04:00Z","last":"2026-11-26T03:06:42Z","count":7,"ips":["185.220.101.4"]}`+"\n")

	for _, format := range []string{"table", "csv"} {
		b.Reset()
		opts.Format = format
		if err := PrintBursts(&b, nil, opts); err != nil || b.Len() != 0 {
			t.Errorf("no bursts as %s: %q, %v", format, b.String(), err)
		}
	}
	opts.Format = "json"
	if err := PrintBursts(&b, nil, opts); err != nil || b.String() != "[]\n" {
		t.Errorf("no bursts as json: %q, %v", b.String(), err)
	}
}

func TestRangeText(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	d := func(y int, m time.Month, day, h int) time.Time { return time.Date(y, m, day, h, 0, 0, 0, berlin) }
	for _, c := range []struct {
		since, until time.Time
		want         string
	}{
		{d(2026, 11, 16, 0), d(2026, 11, 23, 0), "Mon Nov 16 – Sun Nov 22, 2026"},
		{d(2026, 10, 25, 0), d(2026, 10, 26, 0), "Sun Oct 25, 2026"},
		{d(2026, 12, 28, 0), d(2027, 1, 4, 0), "Mon Dec 28, 2026 – Sun Jan 3, 2027"},
		{d(2026, 11, 19, 15), d(2026, 11, 26, 15), "Thu Nov 19 2026, 3:00 PM – Thu Nov 26 2026, 3:00 PM"},
		{d(2026, 11, 19, 15), time.Time{}, "Since Thu Nov 19 2026, 3:00 PM"},
		{time.Time{}, time.Time{}, "All events"},
	} {
		if got := RangeText(c.since, c.until, berlin); got != c.want {
			t.Errorf("RangeText(%s, %s) = %q, want %q", c.since, c.until, got, c.want)
		}
	}
	if got := GroupDigits(1234567); got != "1,234,567" {
		t.Errorf("GroupDigits = %q", got)
	}
}
