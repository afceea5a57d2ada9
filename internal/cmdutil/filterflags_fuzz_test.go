package cmdutil_test

import (
	"errors"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/cmdutil"
)

// FuzzFilterFlags feeds arbitrary flag values to the filter flags of list,
// export, watch and stats. It must not panic; a bad value must be a
// FlagError (exit 2) whose message is safe to print on a terminal; a
// filter it accepts must have since before until, and must pass through
// the HTTP API unchanged (Filter.Values, then audit.ParseValues on the
// server), since that is what the remote store sends.
//
//	go test ./internal/cmdutil -run '^$' -fuzz '^FuzzFilterFlags$' -fuzztime 10s
func FuzzFilterFlags(f *testing.F) {
	f.Add("jdavis", "login,logout", "10.0.0.0/8", "failure", "7d", "", "", "bbb", int64(0), false, "UTC")
	f.Add("S*", "security", "2001:db8::1", "", "2026-11-20 14:00", "2026-11-21", "", "", int64(5), true, "Europe/Berlin")
	f.Add("", "reboot", "fe80::1%eth0", "maybe", "yesterday", "today", "", "", int64(-1), false, "America/New_York")
	f.Add("x", "", "", "", "", "", "2026-W47", "", int64(0), false, "Australia/Lord_Howe")
	f.Add("x", "", "", "", "0001-01-02", "9999-12-31 23:59", "", "\x1b[2J", int64(0), false, "Pacific/Kiritimati")
	f.Add("x", "", "", "", "", "", "last-month", "", int64(0), false, "America/Sao_Paulo")
	now := time.Date(2026, 11, 25, 9, 30, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, user, types, ip, outcome, since, until, period, search string, after int64, failed bool, zone string) {
		loc, err := time.LoadLocation(zone)
		if err != nil || zone == "" || zone == "Local" {
			loc = time.UTC
		}
		ff := cmdutil.FilterFlags{Outcome: outcome, Failed: failed, Since: since, Until: until,
			Period: period, Search: search, After: after}
		if user != "" {
			ff.Users = []string{user}
		}
		if types != "" {
			ff.Types = []string{types}
		}
		if ip != "" {
			ff.IPs = []string{ip}
		}
		flt, _, err := ff.Filter(now, loc)
		if err != nil {
			var fe *cmdutil.FlagError
			if !errors.As(err, &fe) {
				t.Fatalf("error %q is not a FlagError (exit 2)", err)
			}
			msg := err.Error()
			if !utf8.ValidString(msg) {
				t.Fatalf("message is not UTF-8: %q", msg)
			}
			for _, r := range msg {
				if r < 0x20 && r != '\n' || r == 0x7f || r >= 0x80 && r <= 0x9f {
					t.Fatalf("message holds the control character %U: %q", r, msg)
				}
			}
			return
		}
		if !flt.Since.IsZero() && !flt.Until.IsZero() && !flt.Since.Before(flt.Until) {
			t.Fatalf("accepted since %v not before until %v", flt.Since, flt.Until)
		}
		back, err := audit.ParseValues(flt.Values())
		if err != nil {
			t.Fatalf("the server refuses a filter the command line accepts: %q: %v", flt.Values().Encode(), err)
		}
		if !back.Since.Equal(flt.Since) || !back.Until.Equal(flt.Until) || back.After != flt.After ||
			back.Outcome != flt.Outcome || back.Search != flt.Search || len(back.IPs) != len(flt.IPs) ||
			len(back.Types) != len(flt.Types) || len(back.Users) != len(flt.Users) {
			t.Fatalf("the HTTP API changes the filter:\n%+v\n%+v", flt, back)
		}
	})
}
