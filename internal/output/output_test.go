package output

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mattn/go-runewidth"

	"github.com/audit-cli/audit/internal/audit"
)

func TestMain(m *testing.M) {
	// Widths must not depend on the locale of the machine running tests.
	runewidth.DefaultCondition.EastAsianWidth = false
	os.Exit(m.Run())
}

// render prints events with opts (Now and Location pinned) and returns the
// output.
func render(t *testing.T, opts Options, events []audit.Event) string {
	t.Helper()
	var b bytes.Buffer
	opts.Now, opts.Location = testNow, testLoc
	p, err := New(&b, opts)
	if err != nil {
		t.Fatalf("New(%+v): %v", opts, err)
	}
	for i := range events {
		if err := p.Print(&events[i]); err != nil {
			t.Fatalf("Print: %v", err)
		}
	}
	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return b.String()
}

var ansiRE = regexp.MustCompile("\x1b\\[[0-9;]*m")

func stripANSI(s string) string { return ansiRE.ReplaceAllString(s, "") }

func assertOutput(t *testing.T, got, want string) {
	t.Helper()
	if got != want {
		t.Errorf("output mismatch\n--- got:\n%s\n--- want:\n%s\n--- got (quoted): %q", got, want, got)
	}
}

// assertFits checks that no line of out is wider than width display cells
// (colors not counted).
func assertFits(t *testing.T, out string, width int) {
	t.Helper()
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if w := runewidth.StringWidth(stripANSI(line)); w > width {
			t.Errorf("line is %d cells wide, more than %d: %q", w, width, line)
		}
	}
}

const seedTableWide = `USER          ACTION                                             RESOURCE                    IP ADDRESS     TIME
John Davis    Updated — Changed load_multiplier from 1.0 to 1.5  Server: bbb-node-1          192.168.1.100  Today, 2:34 PM
Sarah Miller  Created — Threshold: CPU > 80%, Severity: Warning  Alert Rule: High CPU Usage  10.0.0.55      Today, 11:22 AM
John Davis    MFA Enabled — Two-factor authentication activated                              192.168.1.100  Today, 10:15 AM
Mike Johnson  Portal Access — Successful login via password                                  203.45.67.89   Today, 9:45 AM
System        Deleted — Auto-expired after 365 days              API Key: old-integration                   Yesterday, 12:00 AM
John Davis    Session Ended — Manual logout                                                  192.168.1.100  Nov 27, 5:30 PM
`

func TestTableTTY(t *testing.T) {
	got := render(t, Options{Format: "table", TTY: true, Width: 200}, seedEvents())
	assertOutput(t, got, seedTableWide)

	// The default format is the table.
	assertOutput(t, render(t, Options{TTY: true, Width: 200}, seedEvents()), seedTableWide)
}

func TestTableTTYWidth80(t *testing.T) {
	got := render(t, Options{Format: "table", TTY: true, Width: 80}, seedEvents())
	want := `USER    ACTION            RESOURCE            IP ADDRESS     TIME
John …  Updated — Chang…  Server: bbb-node-1  192.168.1.100  Today, 2:34 PM
Sarah…  Created — Thres…  Alert Rule: High …  10.0.0.55      Today, 11:22 AM
John …  MFA Enabled — T…                      192.168.1.100  Today, 10:15 AM
Mike …  Portal Access —…                      203.45.67.89   Today, 9:45 AM
System  Deleted — Auto-…  API Key: old-inte…                 Yesterday, 12:00 AM
John …  Session Ended —…                      192.168.1.100  Nov 27, 5:30 PM
`
	assertOutput(t, got, want)
	assertFits(t, got, 80)
}

func TestTableTTYColor(t *testing.T) {
	got := render(t, Options{Format: "table", TTY: true, Color: true, Width: 200}, seedEvents())
	for _, want := range []string{
		"\x1b[1mUSER",               // bold header
		"\x1b[33mUpdated — Changed", // update: yellow
		"\x1b[32mCreated — ",        // create: green
		"\x1b[35mMFA Enabled",       // security: magenta
		"\x1b[36mPortal Access",     // login: cyan
		"\x1b[31mDeleted — ",        // delete: red
		"\x1b[34mSession Ended",     // logout: blue
		"\x1b[2m192.168.1.100",      // IP: faint
	} {
		if !strings.Contains(got, want) {
			t.Errorf("colored table lacks %q:\n%q", want, got)
		}
	}
	// Colors change nothing else: same text, same alignment.
	assertOutput(t, stripANSI(got), seedTableWide)
}

func TestTableTTYTruncate(t *testing.T) {
	got := render(t, Options{Format: "table", TTY: true, Width: 60}, seedEvents())
	want := `USER    ACTION         …  IP ADDRESS     TIME
John …  Updated — Ch…  …  192.168.1.100  Today, 2:34 PM
Sarah…  Created — Th…  …  10.0.0.55      Today, 11:22 AM
John …  MFA Enabled …     192.168.1.100  Today, 10:15 AM
Mike …  Portal Acces…     203.45.67.89   Today, 9:45 AM
System  Deleted — Au…  …                 Yesterday, 12:00 AM
John …  Session Ende…     192.168.1.100  Nov 27, 5:30 PM
`
	assertOutput(t, got, want)
	for _, width := range []int{30, 45, 50, 60, 70, 80, 100, 120} {
		for _, c := range []bool{false, true} {
			out := render(t, Options{Format: "table", TTY: true, Color: c, Width: width}, seedEvents())
			if width >= 50 { // below that not even IP and TIME fit
				assertFits(t, out, width)
			}
			if n := strings.Count(out, "\n"); n != 7 {
				t.Errorf("width %d: %d lines, want 7 (no row wraps)", width, n)
			}
		}
	}
}

func TestTableTTYWideCharacters(t *testing.T) {
	e := seedEvents()[:1]
	e[0].UserName = "山田太郎"
	e[0].Details = "設定を変更しました（負荷係数 1.0 → 1.5）"
	for _, width := range []int{80, 81, 82, 90} {
		out := render(t, Options{Format: "table", TTY: true, Width: width}, e)
		assertFits(t, out, width)
		if !strings.Contains(out, "山田太郎") || !strings.Contains(out, "…") {
			t.Errorf("width %d: %q", width, out)
		}
	}
}

func failedLogin() audit.Event {
	return audit.Event{ID: "evt-0007", Seq: 7, Time: at(time.December, 1, 14, 38), User: "jdavis",
		UserName: "John Davis", Type: audit.TypeLogin, Action: "Portal Access", ResourceType: "session",
		Details: "Wrong password", IP: "198.51.100.7", Outcome: audit.OutcomeFailure}
}

func TestTableTTYFailure(t *testing.T) {
	events := []audit.Event{failedLogin()}
	got := render(t, Options{Format: "table", TTY: true, Width: 100}, events)
	want := `USER        ACTION                                   RESOURCE  IP ADDRESS    TIME
John Davis  Portal Access — Wrong password ✗ FAILED            198.51.100.7  Today, 2:38 PM
`
	assertOutput(t, got, want)

	colored := render(t, Options{Format: "table", TTY: true, Color: true, Width: 100}, events)
	// The action keeps its type's color (login: cyan), the mark is red bold.
	if !strings.Contains(colored, "\x1b[36mPortal Access — Wrong password\x1b[0m\x1b[31;1m ✗ FAILED\x1b[") {
		t.Errorf("failure not marked red bold beside a login-colored action: %q", colored)
	}

	// Truncation keeps the failure visible.
	narrow := render(t, Options{Format: "table", TTY: true, Width: 60}, events)
	assertFits(t, narrow, 60)
	if !strings.Contains(narrow, "… ✗ FAILED") {
		t.Errorf("truncated failure lost its mark: %q", narrow)
	}

	plain := render(t, Options{Format: "table"}, events)
	assertOutput(t, plain, "USER\tACTION\tRESOURCE\tIP ADDRESS\tTIME\n"+
		"jdavis\tPortal Access — Wrong password (failed)\t\t198.51.100.7\t2026-12-01T19:38:00Z\n")
}

func TestTablePlain(t *testing.T) {
	got := render(t, Options{Format: "table"}, seedEvents())
	want := "USER\tACTION\tRESOURCE\tIP ADDRESS\tTIME\n" +
		"jdavis\tUpdated — Changed load_multiplier from 1.0 to 1.5\tServer: bbb-node-1\t192.168.1.100\t2026-12-01T19:34:00Z\n" +
		"smiller\tCreated — Threshold: CPU > 80%, Severity: Warning\tAlert Rule: High CPU Usage\t10.0.0.55\t2026-12-01T16:22:00Z\n" +
		"jdavis\tMFA Enabled — Two-factor authentication activated\t\t192.168.1.100\t2026-12-01T15:15:00Z\n" +
		"mjohnson\tPortal Access — Successful login via password\t\t203.45.67.89\t2026-12-01T14:45:00Z\n" +
		"system\tDeleted — Auto-expired after 365 days\tAPI Key: old-integration\t\t2026-11-30T05:00:00Z\n" +
		"jdavis\tSession Ended — Manual logout\t\t192.168.1.100\t2026-11-27T22:30:00Z\n"
	assertOutput(t, got, want)

	// Not a terminal: no colors even when asked, no truncation.
	assertOutput(t, render(t, Options{Format: "table", Color: true, Width: 20}, seedEvents()), want)

	noHeaders := render(t, Options{Format: "table", NoHeaders: true}, seedEvents())
	assertOutput(t, noHeaders, strings.SplitN(want, "\n", 2)[1])
}

func TestTableEmpty(t *testing.T) {
	for _, opts := range []Options{{Format: "table"}, {Format: "table", TTY: true, Width: 80}, {Format: "wide", TTY: true}} {
		if got := render(t, opts, nil); got != "" {
			t.Errorf("%+v: empty result printed %q", opts, got)
		}
	}
}

func TestWideTTY(t *testing.T) {
	// wide is never truncated, whatever the width.
	got := render(t, Options{Format: "wide", TTY: true, Width: 80}, append(seedEvents()[:2], failedLogin()))
	want := `ID        USER          TYPE    ACTION                                             RESOURCE                    IP ADDRESS     OUTCOME  TIME
evt-0006  John Davis    update  Updated — Changed load_multiplier from 1.0 to 1.5  Server: bbb-node-1          192.168.1.100  success  Today, 2:34 PM
evt-0005  Sarah Miller  create  Created — Threshold: CPU > 80%, Severity: Warning  Alert Rule: High CPU Usage  10.0.0.55      success  Today, 11:22 AM
evt-0007  John Davis    login   Portal Access — Wrong password                                                 198.51.100.7   failure  Today, 2:38 PM
`
	assertOutput(t, got, want)

	colored := render(t, Options{Format: "wide", TTY: true, Color: true}, []audit.Event{failedLogin()})
	for _, s := range []string{"\x1b[36mlogin", "\x1b[36mPortal Access", "\x1b[31;1mfailure"} {
		if !strings.Contains(colored, s) {
			t.Errorf("colored wide lacks %q: %q", s, colored)
		}
	}
}

func TestWidePlain(t *testing.T) {
	got := render(t, Options{Format: "wide"}, append(seedEvents()[4:], failedLogin()))
	want := "ID\tUSER\tTYPE\tACTION\tRESOURCE\tIP ADDRESS\tOUTCOME\tTIME\n" +
		"evt-0002\tsystem\tdelete\tDeleted — Auto-expired after 365 days\tAPI Key: old-integration\t\tsuccess\t2026-11-30T05:00:00Z\n" +
		"evt-0001\tjdavis\tlogout\tSession Ended — Manual logout\t\t192.168.1.100\tsuccess\t2026-11-27T22:30:00Z\n" +
		"evt-0007\tjdavis\tlogin\tPortal Access — Wrong password\t\t198.51.100.7\tfailure\t2026-12-01T19:38:00Z\n"
	assertOutput(t, got, want)
}

func TestControlCharactersInTable(t *testing.T) {
	e := seedEvents()[:1]
	e[0].UserName = "Eve\x1b]0;pwned\x07"
	e[0].Details = "\x1b[2J\rok\tthen\nmore \u009b31m \u202egnp.exe \\ end"
	for _, opts := range []Options{
		{Format: "table", TTY: true, Width: 300},
		{Format: "table", TTY: true, Width: 300, Color: true},
		{Format: "wide", TTY: true, Color: true},
		{Format: "table"},
		{Format: "wide"},
		{Format: "table", TTY: true, Width: 300, Stream: true},
	} {
		got := stripANSI(render(t, opts, e))
		for _, bad := range []string{"\x1b", "\r", "\x07", "\u009b", "\u202e"} {
			if strings.Contains(got, bad) {
				t.Errorf("%+v: output contains %q: %q", opts, bad, got)
			}
		}
		if n := strings.Count(got, "\n"); n != 2 {
			t.Errorf("%+v: %d lines, want 2: %q", opts, n, got)
		}
		want := `\x1b[2J\rok\tthen\nmore \u009b31m \u202egnp.exe \ end`
		user := `Eve\x1b]0;pwned`
		if !opts.TTY {
			want = strings.Replace(want, `\ end`, `\\ end`, 1)
			user = "jdavis"
		}
		if !strings.Contains(got, want) || !strings.Contains(got, user) {
			t.Errorf("%+v: escapes not visible: %q", opts, got)
		}
	}

	// CSV and JSON keep the data exact.
	var records [][]string
	records, err := csv.NewReader(strings.NewReader(render(t, Options{Format: "csv"}, e))).ReadAll()
	if err != nil || records[1][9] != e[0].Details {
		t.Errorf("csv changed the details: %q, %v", records, err)
	}
	var back []audit.Event
	if err := json.Unmarshal([]byte(render(t, Options{Format: "json"}, e)), &back); err != nil || back[0].Details != e[0].Details {
		t.Errorf("json changed the details: %+v, %v", back, err)
	}
}

func TestStreamTable(t *testing.T) {
	var under bytes.Buffer
	w := bufio.NewWriter(&under) // a caller's buffer must be flushed per event too
	p, err := New(w, Options{Format: "table", TTY: true, Width: 80, Stream: true, Now: testNow, Location: testLoc})
	if err != nil {
		t.Fatal(err)
	}
	header := "USER          ACTION            RESOURCE    IP ADDRESS       TIME\n"
	assertOutput(t, under.String(), header)

	events := seedEvents()
	six := events[5]
	v6 := events[0]
	v6.IP = "2001:db8:85a3::8a2e:370:7334"
	for _, e := range []audit.Event{events[0], six, v6} {
		before := under.Len()
		if err := p.Print(&e); err != nil {
			t.Fatal(err)
		}
		if under.Len() == before {
			t.Fatalf("row of %s not flushed", e.ID)
		}
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	want := header +
		"John Davis    Updated — Chang…  Server: b…  192.168.1.100    Today, 2:34 PM\n" +
		"John Davis    Session Ended —…              192.168.1.100    Nov 27, 5:30 PM\n" +
		"John Davis    Updated — Chang…  S…  2001:db8:85a3::8a2e:370:7334  Today, 2:34 PM\n"
	assertOutput(t, under.String(), want)
	assertFits(t, under.String(), 80)
}

func TestStreamPlainHeaderAtOnce(t *testing.T) {
	var b bytes.Buffer
	p, err := New(&b, Options{Format: "table", Stream: true})
	if err != nil {
		t.Fatal(err)
	}
	assertOutput(t, b.String(), "USER\tACTION\tRESOURCE\tIP ADDRESS\tTIME\n")
	e := seedEvents()[0]
	if err := p.Print(&e); err != nil {
		t.Fatal(err)
	}
	if strings.Count(b.String(), "\n") != 2 {
		t.Errorf("row not flushed: %q", b.String())
	}
	p.Close()
}

func TestTableBufferIsBounded(t *testing.T) {
	var b bytes.Buffer
	p, err := New(&b, Options{Format: "table", TTY: true, Width: 70, Now: testNow, Location: testLoc})
	if err != nil {
		t.Fatal(err)
	}
	tp := p.(*tablePrinter)
	events := seedEvents()
	long := events[1]
	long.Details = strings.Repeat("very long details ", 20)
	long.IP = "2001:db8:85a3::8a2e:370:7334"
	n := tableBufferRows + 10
	for i := range n {
		e := events[i%len(events)]
		if i == tableBufferRows+5 {
			e = long // wider than the columns measured from the first rows
		}
		if err := p.Print(&e); err != nil {
			t.Fatal(err)
		}
		if len(tp.pending) >= tableBufferRows {
			t.Fatalf("holds %d rows", len(tp.pending))
		}
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(b.String(), "\n"); got != n+1 {
		t.Errorf("%d lines, want %d", got, n+1)
	}
	assertFits(t, b.String(), 70)
}

func TestCSV(t *testing.T) {
	events := seedEvents()
	out := render(t, Options{Format: "csv"}, events)
	records, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(records) != len(events)+1 {
		t.Fatalf("%d records, want %d", len(records), len(events)+1)
	}
	if strings.Join(records[0], ",") != strings.Join(audit.Fields, ",") {
		t.Errorf("header %q, want %q", records[0], audit.Fields)
	}
	for i, e := range events {
		if got, want := records[i+1], e.Values(); strings.Join(got, "\x00") != strings.Join(want, "\x00") {
			t.Errorf("record %d = %q, want %q", i+1, got, want)
		}
	}
	if !strings.Contains(out, `,"Threshold: CPU > 80%, Severity: Warning",`) {
		t.Errorf("comma not quoted: %s", out)
	}

	noHeaders := render(t, Options{Format: "csv", NoHeaders: true}, events[:1])
	assertOutput(t, noHeaders, "evt-0006,6,2026-12-01T19:34:00Z,jdavis,John Davis,update,Updated,server,bbb-node-1,"+
		"Changed load_multiplier from 1.0 to 1.5,192.168.1.100,success,,audit\n")

	// No events: the header alone.
	assertOutput(t, render(t, Options{Format: "csv"}, nil), strings.Join(audit.Fields, ",")+"\n")
}

func TestCSVNeutralize(t *testing.T) {
	e := audit.Event{ID: "=cmd|' /C calc'!A0", Seq: 9, Time: at(time.December, 1, 8, 0), User: "@user",
		UserName: "-1", Type: audit.TypeCreate, Action: "+1", ResourceType: "\tkey",
		Resource: "@SUM(1)", Details: `=HYPERLINK("x")`, IP: "10.0.0.1", Outcome: audit.OutcomeSuccess,
		Hash: "\r=1+1"}
	read := func(opts Options) []string {
		t.Helper()
		records, err := csv.NewReader(strings.NewReader(render(t, opts, []audit.Event{e}))).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		return records[1]
	}
	got := read(Options{Format: "csv", Neutralize: true})
	want := []string{`'=cmd|' /C calc'!A0`, "9", "2026-12-01T13:00:00Z", "'@user", "'-1", "create", "'+1",
		"'\tkey", "'@SUM(1)", `'=HYPERLINK("x")`, "10.0.0.1", "success", "'\r=1+1", "audit"}
	if strings.Join(got, "\x00") != strings.Join(want, "\x00") {
		t.Errorf("neutralized\n got %q\nwant %q", got, want)
	}
	// Without Neutralize the data is exact.
	raw := read(Options{Format: "csv"})
	if strings.Join(raw, "\x00") != strings.Join(e.Values(), "\x00") {
		t.Errorf("raw\n got %q\nwant %q", raw, e.Values())
	}
	// Safe cells are untouched.
	for _, s := range []string{"", "plain", "1-2", "a=b", "2001:db8::1", " =x"} {
		if got := NeutralizeCell(s); got != s {
			t.Errorf("NeutralizeCell(%q) = %q", s, got)
		}
	}
}

func TestTSV(t *testing.T) {
	e := seedEvents()[0]
	e.Details = "a\tb\nc\rd\\e"
	got := render(t, Options{Format: "tsv"}, []audit.Event{e})
	want := strings.Join(audit.Fields, "\t") + "\n" +
		"evt-0006\t6\t2026-12-01T19:34:00Z\tjdavis\tJohn Davis\tupdate\tUpdated\tserver\tbbb-node-1\t" +
		`a\tb\nc\rd\\e` + "\t192.168.1.100\tsuccess\t\taudit\n"
	assertOutput(t, got, want)

	all := render(t, Options{Format: "tsv", NoHeaders: true}, seedEvents())
	lines := strings.Split(strings.TrimSuffix(all, "\n"), "\n")
	if len(lines) != 6 {
		t.Fatalf("%d lines, want 6", len(lines))
	}
	for _, l := range lines {
		if n := strings.Count(l, "\t"); n != len(audit.Fields)-1 {
			t.Errorf("%d tabs in %q", n, l)
		}
	}
}

func TestJSON(t *testing.T) {
	events := seedEvents()
	out := render(t, Options{Format: "json"}, events)
	var back []audit.Event
	if err := json.Unmarshal([]byte(out), &back); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	assertEvents(t, back, events)

	if !strings.HasPrefix(out, `[{"id":"evt-0006","seq":6,"time":"2026-12-01T19:34:00Z","user":"jdavis",`+
		`"user_name":"John Davis","type":"update","action":"Updated","resource_type":"server",`+
		`"resource":"bbb-node-1","details":"Changed load_multiplier from 1.0 to 1.5","ip":"192.168.1.100",`+
		`"outcome":"success","hash":"","source":"audit"},`+"\n"+`{"id":"evt-0005",`) {
		t.Errorf("unexpected layout:\n%s", out)
	}
	if !strings.HasSuffix(out, `"}]`+"\n") || strings.Count(out, "\n") != len(events) {
		t.Errorf("unexpected ending:\n%s", out)
	}
	if !strings.Contains(out, `"details":"Threshold: CPU > 80%, Severity: Warning"`) {
		t.Errorf("HTML characters escaped:\n%s", out)
	}

	// Times are UTC, with a fraction where present.
	e := events[0]
	e.Time = time.Date(2026, 12, 1, 14, 34, 5, 120000000, testLoc)
	if out := render(t, Options{Format: "json"}, []audit.Event{e}); !strings.Contains(out, `"time":"2026-12-01T19:34:05.12Z"`) {
		t.Errorf("time not RFC 3339 UTC: %s", out)
	}
}

func TestJSONEmpty(t *testing.T) {
	assertOutput(t, render(t, Options{Format: "json"}, nil), "[]\n")
}

func TestJSONL(t *testing.T) {
	events := seedEvents()
	out := render(t, Options{Format: "jsonl"}, events)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != len(events) {
		t.Fatalf("%d lines, want %d", len(lines), len(events))
	}
	var back []audit.Event
	for _, l := range lines {
		var e audit.Event
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("%v: %s", err, l)
		}
		back = append(back, e)
	}
	assertEvents(t, back, events)
	if lines[1] != `{"id":"evt-0005","seq":5,"time":"2026-12-01T16:22:00Z","user":"smiller","user_name":"Sarah Miller",`+
		`"type":"create","action":"Created","resource_type":"alert_rule","resource":"High CPU Usage",`+
		`"details":"Threshold: CPU > 80%, Severity: Warning","ip":"10.0.0.55","outcome":"success","hash":"","source":"audit"}` {
		t.Errorf("line 2 = %s", lines[1])
	}
	assertOutput(t, render(t, Options{Format: "jsonl"}, nil), "")
}

func assertEvents(t *testing.T, got, want []audit.Event) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d events, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if !g.Time.Equal(w.Time) {
			t.Errorf("event %d: time %v, want %v", i, g.Time, w.Time)
		}
		g.Time, w.Time = time.Time{}, time.Time{}
		if g.ID != w.ID || g.Seq != w.Seq || g.Hash != w.Hash || audit.DiffField(&g, &w) != "" {
			t.Errorf("event %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
}

func TestTemplate(t *testing.T) {
	events := seedEvents()
	got := render(t, Options{Format: "template", Template: `{{.Seq}} {{time .Time}} {{.User}} {{json .Details}} {{action .}}`}, events[:2])
	want := `6 2026-12-01T19:34:00Z jdavis "Changed load_multiplier from 1.0 to 1.5" Updated Server: bbb-node-1 — Changed load_multiplier from 1.0 to 1.5
5 2026-12-01T16:22:00Z smiller "Threshold: CPU > 80%, Severity: Warning" Created Alert Rule: High CPU Usage — Threshold: CPU > 80%, Severity: Warning
`
	assertOutput(t, got, want)

	// Output ending in a newline gets no second one, however the template
	// writes it; an event the template prints nothing for has no line.
	assertOutput(t, render(t, Options{Format: "template", Template: "{{.IP}}\n"}, events[:1]), "192.168.1.100\n")
	assertOutput(t, render(t, Options{Format: "template", Template: `{{.IP}}{{"\n"}}`}, events[:1]), "192.168.1.100\n")
	assertOutput(t, render(t, Options{Format: "template", Template: `{{with .IP}}{{.}}{{end}}`}, events),
		"192.168.1.100\n10.0.0.55\n192.168.1.100\n203.45.67.89\n192.168.1.100\n")

	// {{json .}} is the event as in the json format.
	one := render(t, Options{Format: "template", Template: "{{json .}}"}, events[:1])
	assertOutput(t, one, render(t, Options{Format: "jsonl"}, events[:1]))

	// An unknown field in a branch the trial run does not take fails the
	// event that takes it, printing nothing of it.
	var b bytes.Buffer
	p, err := New(&b, Options{Format: "template", Template: `{{if eq .User "jdavis"}}{{.Nope}}{{end}}`})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Print(&events[0]); err == nil || !strings.Contains(err.Error(), "Nope") {
		t.Errorf("unknown field: err = %v", err)
	}
	p.Close()
	if b.Len() != 0 {
		t.Errorf("printed %q", b.String())
	}
}

func TestNewErrors(t *testing.T) {
	for _, tc := range []struct {
		opts Options
		want string
	}{
		{Options{Format: "xml"}, `unknown output format "xml" (accepted: table, wide, csv, tsv, json, jsonl, template)`},
		{Options{Format: "template"}, "the template output format needs a template (--template)"},
		{Options{Format: "template", Template: "{{.User"}, "--template: line 1: unclosed action"},
		{Options{Format: "template", Template: "{{.Usr}}"}, "--template: unknown field .Usr: did you mean .User? (fields: .ID, .Seq, .Time, .User, .UserName,"},
		{Options{Format: "template", Template: "{{.Nothing}}"}, "--template: unknown field .Nothing (fields: .ID,"},
		{Options{Format: "template", Template: "{{time .User}}"}, "--template: line 1: wrong type for value; expected time.Time; got string"},
	} {
		_, err := New(&bytes.Buffer{}, tc.opts)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("New(%+v) error = %v, want %q", tc.opts, err, tc.want)
		}
	}
	for _, f := range Formats {
		opts := Options{Format: f, Template: "{{.ID}}"}
		if _, err := New(&bytes.Buffer{}, opts); err != nil {
			t.Errorf("format %q: %v", f, err)
		}
	}
}

func TestPrintAfterClose(t *testing.T) {
	for _, f := range Formats {
		p, err := New(&bytes.Buffer{}, Options{Format: f, Template: "x"})
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Close(); err != nil {
			t.Fatal(err)
		}
		if err := p.Close(); err != nil {
			t.Errorf("%s: second Close: %v", f, err)
		}
		e := seedEvents()[0]
		if err := p.Print(&e); err == nil {
			t.Errorf("%s: Print after Close succeeded", f)
		}
	}
}

func TestCloseFlushesWriter(t *testing.T) {
	var under bytes.Buffer
	w := bufio.NewWriterSize(&under, 1<<16)
	p, err := New(w, Options{Format: "jsonl"})
	if err != nil {
		t.Fatal(err)
	}
	e := seedEvents()[0]
	p.Print(&e)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if under.Len() == 0 {
		t.Error("Close did not flush the caller's bufio.Writer")
	}
}

func TestFormatDisplayTime(t *testing.T) {
	now := testNow // Tue Dec 1 2026, 2:40 PM UTC-5
	for _, tc := range []struct {
		t    time.Time
		want string
	}{
		{time.Date(2026, 12, 1, 14, 34, 0, 0, testLoc), "Today, 2:34 PM"},
		{time.Date(2026, 12, 1, 0, 0, 0, 0, testLoc), "Today, 12:00 AM"},
		{time.Date(2026, 12, 1, 12, 5, 0, 0, testLoc), "Today, 12:05 PM"},
		{time.Date(2026, 11, 30, 0, 0, 0, 0, testLoc), "Yesterday, 12:00 AM"},
		{time.Date(2026, 11, 30, 23, 59, 0, 0, testLoc), "Yesterday, 11:59 PM"},
		{time.Date(2026, 11, 29, 23, 59, 0, 0, testLoc), "Nov 29, 11:59 PM"},
		{time.Date(2026, 11, 27, 17, 30, 0, 0, testLoc), "Nov 27, 5:30 PM"},
		{time.Date(2026, 1, 1, 9, 0, 0, 0, testLoc), "Jan 1, 9:00 AM"},
		{time.Date(2026, 12, 2, 9, 0, 0, 0, testLoc), "Dec 2, 9:00 AM"}, // clock skew: tomorrow
		{time.Date(2025, 11, 27, 17, 30, 0, 0, testLoc), "Nov 27 2025, 5:30 PM"},
		// 3:00 UTC on Dec 1 is still Nov 30 in UTC-5.
		{time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC), "Yesterday, 10:00 PM"},
		{time.Time{}, ""},
	} {
		if got := FormatDisplayTime(tc.t, now, testLoc); got != tc.want {
			t.Errorf("FormatDisplayTime(%v) = %q, want %q", tc.t, got, tc.want)
		}
	}
	// Yesterday across a month and a year boundary.
	ny := time.Date(2027, 1, 1, 8, 0, 0, 0, time.UTC)
	if got := FormatDisplayTime(time.Date(2026, 12, 31, 18, 0, 0, 0, time.UTC), ny, time.UTC); got != "Yesterday, 6:00 PM" {
		t.Errorf("new year's day: %q", got)
	}
}

func TestHumanizeResourceType(t *testing.T) {
	for in, want := range map[string]string{
		"server":       "Server",
		"alert_rule":   "Alert Rule",
		"api_key":      "API Key",
		"mfa_device":   "MFA Device",
		"sso_provider": "SSO Provider",
		"ip_allowlist": "IP Allowlist",
		"webhook_url":  "Webhook URL",
		"tls_cert":     "TLS Cert",
		"team-member":  "Team Member",
		"API_KEY":      "API Key",
		"":             "",
		"__x__":        "X",
	} {
		if got := HumanizeResourceType(in); got != want {
			t.Errorf("HumanizeResourceType(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestActionText(t *testing.T) {
	events := seedEvents()
	for i, want := range []string{
		"Updated Server: bbb-node-1 — Changed load_multiplier from 1.0 to 1.5",
		"Created Alert Rule: High CPU Usage — Threshold: CPU > 80%, Severity: Warning",
		"MFA Enabled — Two-factor authentication activated",
		"Portal Access — Successful login via password",
		"Deleted API Key: old-integration — Auto-expired after 365 days",
		"Session Ended — Manual logout",
	} {
		if got := ActionText(&events[i]); got != want {
			t.Errorf("ActionText(%s) = %q, want %q", events[i].ID, got, want)
		}
	}
	for _, tc := range []struct {
		e    audit.Event
		want string
	}{
		{audit.Event{Action: "Updated", Resource: "x"}, "Updated x"},
		{audit.Event{Action: "Updated", ResourceType: "server", Resource: "x"}, "Updated Server: x"},
		{audit.Event{ResourceType: "server", Resource: "x", Details: "d"}, "Server: x — d"},
		{audit.Event{Details: "d"}, "d"},
		{audit.Event{Action: "Rebooted"}, "Rebooted"},
		{audit.Event{}, ""},
	} {
		if got := ActionText(&tc.e); got != tc.want {
			t.Errorf("ActionText(%+v) = %q, want %q", tc.e, got, tc.want)
		}
	}
}

func TestNeutralizeRoundTrip(t *testing.T) {
	for _, s := range []string{"", "plain", "=1+1", "'=1+1", "''@x", "'", "'plain", "-1", "\tx", "+", "a=b"} {
		n := NeutralizeCell(s)
		if got := UnneutralizeCell(n); got != s {
			t.Errorf("UnneutralizeCell(NeutralizeCell(%q)) = %q (neutralized %q)", s, got, n)
		}
		if f := strings.TrimLeft(n, "'"); f != "" && strings.ContainsRune("=+-@\t\r", rune(f[0])) && !strings.HasPrefix(n, "'") {
			t.Errorf("NeutralizeCell(%q) = %q still starts a formula", s, n)
		}
	}
}

func TestPrintGrid(t *testing.T) {
	var b bytes.Buffer
	err := PrintGrid(&b, []string{"CURRENT", "NAME", "STORE"}, [][]string{
		{"*", "prod", "https://audit.example.com"},
		{"", "lab", "/srv/lab\x1b[2J.db"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "CURRENT  NAME  STORE\n" +
		"*        prod  https://audit.example.com\n" +
		"         lab   /srv/lab\\x1b[2J.db\n"
	if b.String() != want {
		t.Errorf("grid:\n%q\nwant:\n%q", b.String(), want)
	}
}

// TestFieldsOnTerminal: --fields on a terminal is an aligned table of the
// chosen fields, times as the table shows them, control characters
// escaped.
func TestFieldsOnTerminal(t *testing.T) {
	events := seedEvents()[:2]
	events[1].User = "smi\x1b[2Jller"
	got := render(t, Options{Format: "table", TTY: true, Fields: []string{"user", "time", "type"}}, events)
	want := "USER            TIME             TYPE\n" +
		"jdavis          Today, 2:34 PM   update\n" +
		"smi\\x1b[2Jller  Today, 11:22 AM  create\n"
	assertOutput(t, got, want)
}
