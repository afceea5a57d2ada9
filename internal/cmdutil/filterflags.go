package cmdutil

import (
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/output"
	"github.com/audit-cli/audit/internal/timeexpr"
)

// FilterFlags are the filter flags of docs/design.md §2, shared by list, export,
// watch and stats.
type FilterFlags struct {
	Users         []string
	Types         []string
	Actions       []string
	Resources     []string
	ResourceTypes []string
	IPs           []string
	Outcome       string
	Sources       []string
	Failed        bool
	Since         string
	Until         string
	Period        string
	Search        string
	After         int64
}

// AddFilterFlags registers the filter flags on cmd.
func AddFilterFlags(cmd *cobra.Command, ff *FilterFlags) {
	fl := cmd.Flags()
	fl.StringArrayVarP(&ff.Users, "user", "u", nil, "actor's login or display name, case-insensitive, * globs (repeatable: OR)")
	fl.StringSliceVarP(&ff.Types, "type", "t", nil, "action type: login, logout, create, update, delete, security (comma list or repeatable: OR)")
	fl.StringArrayVar(&ff.Actions, "action", nil, "action, case-insensitive, * globs")
	fl.StringArrayVar(&ff.Resources, "resource", nil, "resource name, case-insensitive, * globs")
	fl.StringArrayVar(&ff.ResourceTypes, "resource-type", nil, "resource type, case-insensitive, * globs")
	fl.StringArrayVar(&ff.IPs, "ip", nil, "client `address` or CIDR, e.g. 10.0.0.55, 10.0.0.0/8, 2001:db8::/32")
	fl.StringVar(&ff.Outcome, "outcome", "", "success or failure")
	fl.StringSliceVar(&ff.Sources, "source", nil, "where events were imported from: "+strings.Join(audit.Sources, ", ")+" (comma list or repeatable: OR)")
	fl.BoolVar(&ff.Failed, "failed", false, "only failed actions (same as --outcome failure)")
	fl.StringVar(&ff.Since, "since", "", "events at or after this `time` (7d, yesterday, 2026-11-20 14:00, RFC 3339)")
	fl.StringVar(&ff.Until, "until", "", "events before this `time`")
	fl.StringVar(&ff.Period, "period", "", "a calendar `period`: today, yesterday, this-week, last-week, this-month, last-month, this-year, last-year, 2026, 2026-11, 2026-W47, 2026-11-20")
	fl.StringVarP(&ff.Search, "search", "s", "", "text search over action, resource and details")
	fl.Int64Var(&ff.After, "after", 0, "only events with a seq greater than `SEQ` (resume)")
}

// Filter turns the flags into an audit.Filter. Time expressions are read
// relative to now in loc. The period, when given, is returned too. Errors
// are FlagErrors naming the bad value and what is accepted.
func (ff *FilterFlags) Filter(now time.Time, loc *time.Location) (audit.Filter, *timeexpr.Period, error) {
	var f audit.Filter
	for _, u := range ff.Users {
		if strings.TrimSpace(u) == "" {
			return f, nil, FlagErrorf("invalid --user \"\": want a login or display name")
		}
	}
	f.Users = ff.Users
	for _, s := range ff.Types {
		t, err := audit.ParseType(s)
		if err != nil {
			return f, nil, FlagErrorf("invalid --type: %v", err)
		}
		f.Types = append(f.Types, t)
	}
	f.Actions, f.Resources, f.ResourceTypes = ff.Actions, ff.Resources, ff.ResourceTypes
	for _, s := range ff.Sources {
		src, err := audit.ParseSource(s)
		if err != nil {
			return f, nil, FlagErrorf("invalid --source: %v", err)
		}
		f.Sources = append(f.Sources, src)
	}
	for _, s := range ff.IPs {
		p, err := audit.ParsePrefix(s)
		if err != nil {
			return f, nil, FlagErrorf("invalid --ip: %v", err)
		}
		f.IPs = append(f.IPs, p)
	}
	if ff.Outcome != "" {
		o, err := audit.ParseOutcome(ff.Outcome)
		if err != nil {
			return f, nil, FlagErrorf("invalid --outcome: %v", err)
		}
		f.Outcome = o
	}
	if ff.Failed {
		if f.Outcome == audit.OutcomeSuccess {
			return f, nil, FlagErrorf("--failed contradicts --outcome success")
		}
		f.Outcome = audit.OutcomeFailure
	}
	var period *timeexpr.Period
	if ff.Period != "" {
		if ff.Since != "" || ff.Until != "" {
			return f, nil, FlagErrorf("--period sets both ends; do not combine it with --since or --until")
		}
		p, err := timeexpr.ParsePeriod(ff.Period, now, loc)
		if err != nil {
			return f, nil, FlagErrorWrap(err)
		}
		period = &p
		f.Since, f.Until = p.Since, p.Until
	}
	if ff.Since != "" {
		t, err := timeexpr.Parse(ff.Since, now, loc)
		if err != nil {
			return f, nil, FlagErrorf("--since: %v", err)
		}
		f.Since = t
	}
	if ff.Until != "" {
		t, err := timeexpr.Parse(ff.Until, now, loc)
		if err != nil {
			return f, nil, FlagErrorf("--until: %v", err)
		}
		f.Until = t
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		return f, nil, FlagErrorf("--since %q is not before --until %q", ff.Since, ff.Until)
	}
	f.Search = ff.Search
	if ff.After < 0 {
		return f, nil, FlagErrorf("invalid --after %d: want a seq >= 0", ff.After)
	}
	f.After = ff.After
	return f, period, nil
}

// Describe returns the active filters as the flags that set them, e.g.
// `--user jdavis --type security`, or "" when nothing filters.
func (ff *FilterFlags) Describe() string {
	var parts []string
	add := func(flag string, values ...string) {
		for _, v := range values {
			if strings.ContainsAny(v, " \t\"'") || v == "" {
				v = strconv.Quote(v)
			}
			parts = append(parts, "--"+flag+" "+v)
		}
	}
	add("user", ff.Users...)
	add("type", ff.Types...)
	add("action", ff.Actions...)
	add("resource", ff.Resources...)
	add("resource-type", ff.ResourceTypes...)
	add("ip", ff.IPs...)
	add("source", ff.Sources...)
	if ff.Outcome != "" {
		add("outcome", ff.Outcome)
	}
	if ff.Failed {
		parts = append(parts, "--failed")
	}
	for _, f := range []struct{ flag, v string }{{"since", ff.Since}, {"until", ff.Until}, {"period", ff.Period}, {"search", ff.Search}} {
		if f.v != "" {
			add(f.flag, f.v)
		}
	}
	if ff.After != 0 {
		add("after", strconv.FormatInt(ff.After, 10))
	}
	return output.Sanitize(strings.Join(parts, " "))
}
