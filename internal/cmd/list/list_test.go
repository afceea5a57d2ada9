package list

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/cmdutil"
	"github.com/audit-cli/audit/internal/iostreams"
	"github.com/audit-cli/audit/internal/sample"
	"github.com/audit-cli/audit/internal/store/sqlite"
)

// now is the pinned clock: Thursday 26 November 2026, 15:00 UTC.
var now = time.Date(2026, 11, 26, 15, 0, 0, 0, time.UTC)

func seededStore(t *testing.T) audit.Store {
	t.Helper()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "audit.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.Append(context.Background(), sample.Seed(now, time.UTC)); err != nil {
		t.Fatal(err)
	}
	return st
}

func run(t *testing.T, st audit.Store, tty bool, configure func(*ListOptions)) (string, string, error) {
	t.Helper()
	ios, _, stdout, stderr := iostreams.Test()
	ios.SetStdoutTTY(tty)
	ios.SetTerminalWidth(100)
	opts := &ListOptions{
		IO:       ios,
		Store:    func() (audit.Store, error) { return st, nil },
		Now:      func() time.Time { return now },
		Location: time.UTC,
		Limit:    DefaultLimit,
		Output:   cmdutil.OutputFlags{Format: "table"},
	}
	if configure != nil {
		configure(opts)
	}
	err := listRun(context.Background(), opts)
	return stdout.String(), stderr.String(), err
}

func TestListTTY(t *testing.T) {
	out, errOut, err := run(t, seededStore(t), true, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := "" +
		"USER          ACTION                         RESOURCE            IP ADDRESS     TIME\n" +
		"John Davis    Updated — Changed load_multi…  Server: bbb-node-1  192.168.1.100  Today, 2:34 PM\n" +
		"Sarah Miller  Created — Threshold: CPU > 8…  Alert Rule: High …  10.0.0.55      Today, 11:22 AM\n" +
		"John Davis    MFA Enabled — Two-factor aut…                      192.168.1.100  Today, 10:15 AM\n" +
		"Mike Johnson  Portal Access — Successful l…                      203.45.67.89   Today, 9:45 AM\n" +
		"System        Deleted — Auto-expired after…  API Key: old-inte…                 Yesterday, 12:00 AM\n" +
		"John Davis    Session Ended — Manual logout                      192.168.1.100  Nov 27 2025, 5:30 PM\n"
	if out != want {
		t.Errorf("TTY table:\n got:\n%s\nwant:\n%s", out, want)
	}
	if errOut != "" {
		t.Errorf("stderr = %q, want nothing", errOut)
	}
}

func TestListNotTTY(t *testing.T) {
	out, _, err := run(t, seededStore(t), false, func(o *ListOptions) {
		o.Filter.Users = []string{"jdavis"}
		o.Filter.Types = []string{"security"}
		o.Filter.Since = "yesterday"
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "USER\tACTION\tRESOURCE\tIP ADDRESS\tTIME\n" +
		"jdavis\tMFA Enabled — Two-factor authentication activated\t\t192.168.1.100\t2026-11-26T10:15:00Z\n"
	if out != want {
		t.Errorf("piped table:\n got: %q\nwant: %q", out, want)
	}
}

func TestListLimitNote(t *testing.T) {
	out, errOut, err := run(t, seededStore(t), false, func(o *ListOptions) {
		o.Limit = 2
		o.Reverse = true
		o.Output.NoHeaders = true
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "jdavis\tSession Ended — Manual logout\t\t192.168.1.100\t2025-11-27T17:30:00Z\n" +
		"system\tDeleted — Auto-expired after 365 days\tAPI Key: old-integration\t\t2026-11-25T00:00:00Z\n"
	if out != want {
		t.Errorf("got %q, want %q", out, want)
	}
	if errOut != "Showing the oldest 2; more events match (-n N shows more, -n 0 all).\n" {
		t.Errorf("stderr = %q", errOut)
	}
}

func TestListExitStatus(t *testing.T) {
	_, _, err := run(t, seededStore(t), false, func(o *ListOptions) {
		o.Filter.Users = []string{"nobody"}
		o.ExitStatus = true
	})
	var exitErr *cmdutil.ExitError
	if !errors.As(err, &exitErr) || exitErr.Code != 1 {
		t.Fatalf("err = %v, want exit status 1", err)
	}
}

func TestListBadSince(t *testing.T) {
	_, _, err := run(t, seededStore(t), false, func(o *ListOptions) { o.Filter.Since = "last tuesday" })
	var flagErr *cmdutil.FlagError
	if !errors.As(err, &flagErr) {
		t.Fatalf("err = %v, want a FlagError", err)
	}
}

func TestListNoMatchIsSaidOnTerminal(t *testing.T) {
	filter := func(o *ListOptions) {
		o.Filter.Users = []string{"nobody"}
		o.Filter.Types = []string{"security"}
		o.Filter.Search = "two words"
	}
	out, errOut, err := run(t, seededStore(t), true, filter)
	if err != nil {
		t.Fatal(err)
	}
	if out != "" {
		t.Errorf("stdout = %q, want nothing", out)
	}
	if want := "No events match --user nobody --type security --search \"two words\".\n"; errOut != want {
		t.Errorf("stderr = %q, want %q", errOut, want)
	}

	// Piped, an empty answer is empty: scripts test for no output.
	out, errOut, err = run(t, seededStore(t), false, filter)
	if err != nil || out != "" || errOut != "" {
		t.Errorf("piped: stdout %q, stderr %q, err %v; want all empty", out, errOut, err)
	}

	// --exit-status still decides the status.
	_, _, err = run(t, seededStore(t), true, func(o *ListOptions) { filter(o); o.ExitStatus = true })
	var ee *cmdutil.ExitError
	if !errors.As(err, &ee) || ee.Code != 1 {
		t.Errorf("--exit-status: err = %v, want exit 1", err)
	}
}
