package stats

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/cmdutil"
	"github.com/audit-cli/audit/internal/config"
	"github.com/audit-cli/audit/internal/iostreams"
	"github.com/audit-cli/audit/internal/store/sqlite"
	"github.com/audit-cli/audit/internal/store/storetest"
)

// now is the pinned clock: Thursday 26 November 2026, 15:00 UTC.
var now = time.Date(2026, 11, 26, 15, 0, 0, 0, time.UTC)

// knownStore holds storetest.KnownWeek, the week of Monday 16 November
// (last week for now), with exactly known counts.
func knownStore(t *testing.T, more ...audit.Event) audit.Store {
	t.Helper()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "audit.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.Append(context.Background(), append(storetest.KnownWeek(), more...)); err != nil {
		t.Fatal(err)
	}
	return st
}

func runStats(t *testing.T, st audit.Store, tty bool, configure func(*StatsOptions)) (string, string, error) {
	t.Helper()
	ios, _, stdout, stderr := iostreams.Test()
	ios.SetStdoutTTY(tty)
	ios.SetTerminalWidth(80)
	opts := &StatsOptions{
		IO:       ios,
		Store:    func() (audit.Store, error) { return st, nil },
		Now:      func() time.Time { return now },
		Location: time.UTC,
		Output:   "table",
	}
	if configure != nil {
		configure(opts)
	}
	err := statsRun(context.Background(), opts)
	return stdout.String(), stderr.String(), err
}

func assertEqual(t *testing.T, what, got, want string) {
	t.Helper()
	if got != want {
		t.Errorf("%s:\n--- got:\n%s\n--- want:\n%s\n--- got (quoted): %q", what, got, want, got)
	}
}

func TestReviewPiped(t *testing.T) {
	out, errOut, err := runStats(t, knownStore(t), false, func(o *StatsOptions) { o.Filter.Period = "last-week" })
	if err != nil {
		t.Fatal(err)
	}
	want := "section\tkey\tevents\tfailed\n" +
		"total\t\t52\t3\n" +
		"type\tlogin\t31\t3\n" +
		"type\tlogout\t7\t0\n" +
		"type\tcreate\t1\t0\n" +
		"type\tupdate\t11\t0\n" +
		"type\tdelete\t1\t0\n" +
		"type\tsecurity\t1\t0\n" +
		"user\tjdavis\t36\t0\n" +
		"user\tsmiller\t11\t0\n" +
		"user\tmjohnson\t3\t3\n" +
		"user\tJDavis\t1\t0\n" +
		"user\tsystem\t1\t0\n" +
		"resource\tserver:bbb-node-1\t10\t0\n" +
		"resource\talert_rule:High CPU Usage\t1\t0\n" +
		"resource\tapi_key:old-integration\t1\t0\n" +
		"resource\tserver:bbb-node-2\t1\t0\n" +
		"ip\t192.168.1.100\t37\t0\n" +
		"ip\t10.0.0.55\t11\t0\n" +
		"ip\t203.45.67.89\t3\t3\n" +
		"ip\t\t1\t0\n" +
		"day\t2026-11-16\t5\t0\n" +
		"day\t2026-11-17\t6\t0\n" +
		"day\t2026-11-18\t9\t3\n" +
		"day\t2026-11-19\t8\t0\n" +
		"day\t2026-11-20\t8\t0\n" +
		"day\t2026-11-21\t8\t0\n" +
		"day\t2026-11-22\t8\t0\n"
	assertEqual(t, "piped review", out, want)
	if errOut != "" {
		t.Errorf("stderr = %q", errOut)
	}
}

func TestReviewTTY(t *testing.T) {
	out, _, err := runStats(t, knownStore(t), true, func(o *StatsOptions) {
		o.Filter.Period = "last-week"
		o.Top = 3
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `Last week: Mon Nov 16 – Sun Nov 22, 2026 (UTC)
52 events, 3 failed, by 5 users

TYPE                         EVENTS  FAILED    USER           EVENTS  FAILED
login                            31       3    jdavis             36       0
logout                            7       0    smiller            11       0
create                            1       0    mjohnson            3       3
update                           11       0    2 more              2       0
delete                            1       0
security                          1       0

CHANGED RESOURCE            CHANGES  FAILED    SOURCE IP      EVENTS  FAILED
Server: bbb-node-1               10       0    192.168.1.100      37       0
Alert Rule: High CPU Usage        1       0    10.0.0.55          11       0
API Key: old-integration          1       0    203.45.67.89        3       3
1 more                            1       0    1 more              1       0

ACTIVITY BY DAY
Mon Nov 16  5  ████████████████████████████████████▏
Tue Nov 17  6  ███████████████████████████████████████████▍
Wed Nov 18  9  █████████████████████████████████████████████████████████████████
Thu Nov 19  8  █████████████████████████████████████████████████████████▊
Fri Nov 20  8  █████████████████████████████████████████████████████████▊
Sat Nov 21  8  █████████████████████████████████████████████████████████▊
Sun Nov 22  8  █████████████████████████████████████████████████████████▊
`
	assertEqual(t, "TTY review", out, want)
}

// TestReviewZone: the same week read in New York (UTC-5): Tuesday's
// midnight expiry is Monday's, and the review's days are New York's.
func TestReviewZone(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	out, _, err := runStats(t, knownStore(t), false, func(o *StatsOptions) {
		o.Location = ny
		o.Filter.Since, o.Filter.Until = "2026-11-16", "2026-11-23"
		o.By = []audit.Dimension{audit.DimDay}
	})
	if err != nil {
		t.Fatal(err)
	}
	assertEqual(t, "days in New York", out, "DAY\tEVENTS\tFAILED\n2026-11-16\t6\t0\n2026-11-17\t5\t0\n2026-11-18\t9\t3\n"+
		"2026-11-19\t8\t0\n2026-11-20\t8\t0\n2026-11-21\t8\t0\n2026-11-22\t8\t0\n")
}

func TestReviewOpenRange(t *testing.T) {
	// No time filter: the review covers the last seven days, up to now
	// (Thursday 26), by day.
	out, _, err := runStats(t, knownStore(t), false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "total\t\t25\t0\n") || !strings.Contains(out, "\nday\t2026-11-19\t1\t0\n") ||
		!strings.HasSuffix(out, "day\t2026-11-22\t8\t0\nday\t2026-11-23\t0\t0\nday\t2026-11-24\t0\t0\nday\t2026-11-25\t0\t0\nday\t2026-11-26\t0\t0\n") {
		t.Errorf("default review:\n%s", out)
	}
	// An open range from a start: all events since, charted by week from
	// that start to now.
	out, _, err = runStats(t, knownStore(t), false, func(o *StatsOptions) { o.Filter.Since = "2026-01-01" })
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "total\t\t52\t3\n") || !strings.Contains(out, "\nweek\t2026-W47\t52\t3\n") {
		t.Errorf("review since January:\n%s", out)
	}
	// Nothing matches: a note-free, empty review.
	out, _, err = runStats(t, knownStore(t), true, func(o *StatsOptions) { o.Filter.Users = []string{"nobody"} })
	if err != nil || out != "Since Thu Nov 19 2026, 3:00 PM (UTC)\n0 events\n" {
		t.Errorf("empty review: %q, %v", out, err)
	}
}

func TestBy(t *testing.T) {
	st := knownStore(t)
	for _, c := range []struct {
		name      string
		configure func(*StatsOptions)
		want      string
	}{
		{"type csv", func(o *StatsOptions) { o.By, o.Output = []audit.Dimension{audit.DimType}, "csv" },
			"type,events,failed\nlogin,31,3\nupdate,11,0\nlogout,7,0\ncreate,1,0\ndelete,1,0\nsecurity,1,0\n"},
		{"user type, top 3", func(o *StatsOptions) {
			o.By, o.Top = []audit.Dimension{audit.DimUser, audit.DimType}, 3
		}, "USER\tTYPE\tEVENTS\tFAILED\njdavis\tlogin\t28\t0\nsmiller\tupdate\t10\t0\njdavis\tlogout\t7\t0\n"},
		{"user type by key", func(o *StatsOptions) {
			o.By, o.Sort, o.Filter.Users = []audit.Dimension{audit.DimUser, audit.DimType}, "key", []string{"jdavis"}
		}, "USER\tTYPE\tEVENTS\tFAILED\nJDavis\tupdate\t1\t0\njdavis\tlogin\t28\t0\njdavis\tlogout\t7\t0\njdavis\tsecurity\t1\t0\n"},
		{"failed per hour", func(o *StatsOptions) {
			o.By, o.Filter.Failed, o.Output = []audit.Dimension{audit.DimHour}, true, "jsonl"
			o.Filter.Since, o.Filter.Until = "2026-11-18 21:00", "2026-11-18 22:00"
		}, `{"hour":"2026-11-18T21:00:00Z","events":3,"failed":3}` + "\n"},
		{"days of last week, json", func(o *StatsOptions) {
			o.By, o.Filter.Period, o.Filter.Types, o.Output = []audit.Dimension{audit.DimDay}, "last-week", []string{"update"}, "json"
		}, `[{"day":"2026-11-16","events":2,"failed":0},` + "\n" + `{"day":"2026-11-17","events":2,"failed":0},` + "\n" +
			`{"day":"2026-11-18","events":2,"failed":0},` + "\n" + `{"day":"2026-11-19","events":2,"failed":0},` + "\n" +
			`{"day":"2026-11-20","events":2,"failed":0},` + "\n" + `{"day":"2026-11-21","events":1,"failed":0},` + "\n" +
			`{"day":"2026-11-22","events":0,"failed":0}]` + "\n"},
		{"week and outcome", func(o *StatsOptions) { o.By = []audit.Dimension{audit.DimWeek, audit.DimOutcome} },
			"WEEK\tOUTCOME\tEVENTS\tFAILED\n2026-W47\tsuccess\t49\t0\n2026-W47\tfailure\t3\t3\n"},
		{"nothing", func(o *StatsOptions) { o.By, o.Filter.Users = []audit.Dimension{audit.DimIP}, []string{"nobody"} }, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			// Over the whole known log, unless the case gives a window.
			out, _, err := runStats(t, st, false, func(o *StatsOptions) {
				c.configure(o)
				if o.Filter.Period == "" && o.Filter.Since == "" {
					o.Filter.Since = "2026-01-01"
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			assertEqual(t, c.name, out, c.want)
		})
	}
	// Without a window, --by covers the last seven days, as the review does.
	out, _, err := runStats(t, st, false, func(o *StatsOptions) { o.By, o.Output = []audit.Dimension{audit.DimType}, "csv" })
	if err != nil {
		t.Fatal(err)
	}
	assertEqual(t, "default window", out, "type,events,failed\nlogin,18,0\nlogout,4,0\nupdate,3,0\n")
	// … and a terminal is told so on stderr, since no header shows it.
	ios, _, stdout, stderr := iostreams.Test()
	ios.SetStderrTTY(true)
	opts := &StatsOptions{IO: ios, Store: func() (audit.Store, error) { return st, nil }, Now: func() time.Time { return now },
		Location: time.UTC, Output: "csv", By: []audit.Dimension{audit.DimType}}
	if err := statsRun(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	assertEqual(t, "default window, stdout", stdout.String(), out)
	assertEqual(t, "default window, stderr", stderr.String(),
		"The last 7 days: Since Thu Nov 19 2026, 3:00 PM (--since, --until or --period choose another window).\n")
}

func TestByTTY(t *testing.T) {
	out, _, err := runStats(t, knownStore(t), true, func(o *StatsOptions) {
		o.By, o.Filter.Since = []audit.Dimension{audit.DimIP}, "2026-01-01"
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "SOURCE IP      EVENTS  FAILED\n" +
		"192.168.1.100      37       0  █████████████████████████████████████████████████\n" +
		"10.0.0.55          11       0  ██████████████▋\n" +
		"203.45.67.89        3       3  ████\n" +
		"(none)              1       0  █▍\n"
	assertEqual(t, "--by ip on a terminal", out, want)
}

// noStats is a store without statistics.
type noStats struct{ audit.Store }

func TestNoStatser(t *testing.T) {
	st := noStats{knownStore(t)}
	_, _, err := runStats(t, st, false, nil)
	if !errors.Is(err, audit.ErrNoStats) {
		t.Fatalf("err = %v, want ErrNoStats", err)
	}
	if want := "this store cannot compute statistics: use a SQLite or PostgreSQL store, or an audit serve that answers GET /v1/stats"; err.Error() != want {
		t.Errorf("message %q", err)
	}
	_, _, err = runLogins(t, st, false, nil)
	if !errors.Is(err, audit.ErrNoStats) {
		t.Fatalf("logins: err = %v, want ErrNoStats", err)
	}
}

// burst returns 20 failed logins from one address in 3 minutes against
// three accounts, on Wednesday 25 November at 03:04, and a slow trickle:
// one failure every 15 minutes for a day from another.
func burst() []audit.Event {
	t0 := time.Date(2026, 11, 25, 3, 4, 0, 0, time.UTC)
	var out []audit.Event
	for i := range 20 {
		out = append(out, audit.Event{ID: fmt.Sprintf("burst-%d", i), Time: t0.Add(time.Duration(i) * 9 * time.Second),
			User: []string{"jdavis", "smiller", "root"}[i%3], Type: audit.TypeLogin, Action: "Portal Access",
			ResourceType: "session", Details: "Invalid password", IP: "185.220.101.4", Outcome: audit.OutcomeFailure})
	}
	for i := range 96 {
		out = append(out, audit.Event{ID: fmt.Sprintf("trickle-%d", i), Time: t0.Add(-12*time.Hour + time.Duration(i)*15*time.Minute),
			User: "mjohnson", Type: audit.TypeLogin, Action: "SSH Login", IP: "203.0.113.9", Outcome: audit.OutcomeFailure})
	}
	return out
}

func runLogins(t *testing.T, st audit.Store, tty bool, configure func(*LoginsOptions)) (string, string, error) {
	t.Helper()
	ios, _, stdout, stderr := iostreams.Test()
	ios.SetStdoutTTY(tty)
	ios.SetTerminalWidth(80)
	opts := &LoginsOptions{
		IO:        ios,
		Store:     func() (audit.Store, error) { return st, nil },
		Now:       func() time.Time { return now },
		Location:  time.UTC,
		Threshold: DefaultThreshold,
		Window:    DefaultWindow,
		Output:    "table",
	}
	if configure != nil {
		configure(opts)
	}
	err := loginsRun(context.Background(), opts)
	return stdout.String(), stderr.String(), err
}

func TestLogins(t *testing.T) {
	st := knownStore(t, burst()...)
	out, errOut, err := runLogins(t, st, true, func(o *LoginsOptions) { o.ExitStatus = true })
	var exit *cmdutil.ExitError
	if !errors.As(err, &exit) || exit.Code != 1 {
		t.Fatalf("err = %v, want exit status 1", err)
	}
	want := "USER     FAILURES  FIRST               LAST     SOURCE IPS\n" +
		"jdavis          7  Yesterday, 3:04 AM  3:06 AM  185.220.101.4\n" +
		"smiller         7  Yesterday, 3:04 AM  3:06 AM  185.220.101.4\n" +
		"root            6  Yesterday, 3:04 AM  3:06 AM  185.220.101.4\n" +
		"\n" +
		"SOURCE IP      FAILURES  FIRST               LAST     USERS\n" +
		"185.220.101.4        20  Yesterday, 3:04 AM  3:06 AM  jdavis, root, smiller\n"
	assertEqual(t, "bursts on a terminal", out, want)
	if errOut != "" {
		t.Errorf("stderr = %q", errOut)
	}

	out, _, err = runLogins(t, st, false, func(o *LoginsOptions) { o.By = []audit.Dimension{audit.DimIP} })
	if err != nil {
		t.Fatal(err)
	}
	assertEqual(t, "piped, per address", out, "BY\tKEY\tCOUNT\tFIRST\tLAST\tIPS\tUSERS\n"+
		"ip\t185.220.101.4\t20\t2026-11-25T03:04:00Z\t2026-11-25T03:06:51Z\t\tjdavis,root,smiller\n")

	// The trickle is no burst at the defaults, and the week before none
	// at all: exit 0, a note on a terminal only.
	out, errOut, err = runLogins(t, st, true, func(o *LoginsOptions) {
		o.Filter.IPs, o.ExitStatus = []string{"203.0.113.9"}, true
	})
	if err != nil || out != "" || errOut != "No bursts of 5 or more failed logins within 10m.\n" {
		t.Errorf("trickle: out %q, stderr %q, err %v", out, errOut, err)
	}
	out, errOut, err = runLogins(t, st, false, func(o *LoginsOptions) {
		o.Filter.Period, o.ExitStatus = "last-week", true
	})
	if err != nil || out != "" || errOut != "" {
		t.Errorf("last week: out %q, stderr %q, err %v", out, errOut, err)
	}
	// At a threshold of 2 within 15m, the trickle is one long burst, and
	// mjohnson's three failures of last Wednesday are one too.
	out, _, err = runLogins(t, st, false, func(o *LoginsOptions) {
		o.Filter.Users, o.Threshold, o.Window, o.Output, o.By = []string{"mjohnson"}, 2, 15*time.Minute, "csv", []audit.Dimension{audit.DimUser}
		o.Filter.Since = "2026-11-01"
	})
	if err != nil {
		t.Fatal(err)
	}
	assertEqual(t, "trickle at 15m", out, "by,key,count,first,last,ips,users\n"+
		"user,mjohnson,3,2026-11-18T21:00:00Z,2026-11-18T21:02:00Z,203.45.67.89,\n"+
		"user,mjohnson,96,2026-11-24T15:04:00Z,2026-11-25T14:49:00Z,203.0.113.9,\n")
}

func factory(ios *iostreams.IOStreams, output string) *cmdutil.Factory {
	return &cmdutil.Factory{
		IOStreams: ios,
		Config:    func() (*config.Config, error) { return &config.Config{Output: output}, nil },
		Store:     func() (audit.Store, error) { return nil, errors.New("no store in flag tests") },
		Now:       func() time.Time { return now },
		Location:  func() *time.Location { return time.UTC },
	}
}

func TestFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		err  string // "" for success
	}{
		{[]string{"--by", "user,type", "-o", "csv"}, ""},
		{[]string{"--by", "resource-type"}, ""},
		{[]string{"--by", "month"}, `invalid --by: unknown dimension "month" (accepted: user, type, action, resource_type, resource, ip, outcome, day, hour, week)`},
		{[]string{"--by", "user,user"}, "invalid --by: user given twice"},
		{[]string{"--top", "-1"}, "invalid --top -1: want a number >= 0"},
		{[]string{"--by", "user", "--sort", "size"}, `invalid --sort "size" (accepted: count, key)`},
		{[]string{"--sort", "key"}, "--sort orders the groups of --by; the review has its own order"},
		{[]string{"-o", "wide"}, `invalid --output "wide" for stats (accepted: table, csv, tsv, json, jsonl)`},
		{[]string{"extra"}, `unexpected argument "extra": "stats" takes no arguments`},
		{[]string{"logins", "--threshold", "1"}, "invalid --threshold 1: want at least 2 failures"},
		{[]string{"logins", "--window", "0s"}, "invalid --window 0s: want a positive duration, e.g. 10m or 1h"},
		{[]string{"logins", "--type", "logout"}, "invalid --type logout: stats logins looks at login events only"},
		{[]string{"logins", "--outcome", "success"}, "--outcome success contradicts stats logins, which looks at failures"},
		{[]string{"logins", "--by", "type"}, `invalid --by "type" (accepted: user, ip)`},
		{[]string{"logins", "--failed", "--type", "login", "--by", "ip", "--exit-status"}, ""},
	} {
		ios, _, _, _ := iostreams.Test()
		var ran *StatsOptions
		var ranLogins *LoginsOptions
		cmd := NewCmdStats(factory(ios, "wide"), func(o *StatsOptions) error { ran = o; return nil })
		for _, sub := range cmd.Commands() {
			if sub.Name() == "logins" {
				cmd.RemoveCommand(sub)
			}
		}
		cmd.AddCommand(NewCmdLogins(factory(ios, "wide"), func(o *LoginsOptions) error { ranLogins = o; return nil }))
		cmd.SetArgs(c.args)
		cmd.SetOut(ios.Out)
		cmd.SetErr(ios.ErrOut)
		err := cmd.Execute()
		if c.err == "" {
			if err != nil {
				t.Errorf("%v: %v", c.args, err)
			}
			if ran == nil && ranLogins == nil {
				t.Errorf("%v: did not run", c.args)
			}
			if ran != nil && ran.Output == "wide" {
				t.Errorf("%v: configured output wide taken for stats", c.args)
			}
			continue
		}
		var fe *cmdutil.FlagError
		if !errors.As(err, &fe) || err.Error() != c.err {
			t.Errorf("%v: err = %v (%T), want the usage error %q", c.args, err, err, c.err)
		}
	}
}

func TestFormatWindow(t *testing.T) {
	for d, want := range map[time.Duration]string{10 * time.Minute: "10m", time.Hour: "1h", 90 * time.Minute: "1h30m",
		45 * time.Second: "45s", 90 * time.Second: "1m30s", 1500 * time.Millisecond: "1.5s"} {
		if got := formatWindow(d); got != want {
			t.Errorf("formatWindow(%s) = %q, want %q", d, got, want)
		}
	}
}
