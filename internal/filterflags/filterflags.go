// Package filterflags reads the filter flags of docs/design.md §2 (list,
// export, watch, stats), as given on a command line or, by the same names,
// in the web console's query string, into an audit.Filter.
package filterflags

import (
	"strconv"
	"strings"
	"time"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/output"
	"github.com/audit-cli/audit/internal/timeexpr"
	"github.com/audit-cli/audit/internal/usage"
)

// Flags are the values of the filter flags, as given.
type Flags struct {
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

// Filter turns the flags into an audit.Filter. Time expressions are read
// relative to now in loc. The period, when given, is returned too. Errors
// are usage errors naming the bad value and what is accepted.
func (ff *Flags) Filter(now time.Time, loc *time.Location) (audit.Filter, *timeexpr.Period, error) {
	var f audit.Filter
	for _, u := range ff.Users {
		if strings.TrimSpace(u) == "" {
			return f, nil, usage.Errorf("invalid --user \"\": want a login or display name")
		}
	}
	f.Users = ff.Users
	for _, s := range ff.Types {
		t, err := audit.ParseType(s)
		if err != nil {
			return f, nil, usage.Errorf("invalid --type: %v", err)
		}
		f.Types = append(f.Types, t)
	}
	f.Actions, f.Resources, f.ResourceTypes = ff.Actions, ff.Resources, ff.ResourceTypes
	for _, s := range ff.Sources {
		src, err := audit.ParseSource(s)
		if err != nil {
			return f, nil, usage.Errorf("invalid --source: %v", err)
		}
		f.Sources = append(f.Sources, src)
	}
	for _, s := range ff.IPs {
		p, err := audit.ParsePrefix(s)
		if err != nil {
			return f, nil, usage.Errorf("invalid --ip: %v", err)
		}
		f.IPs = append(f.IPs, p)
	}
	if ff.Outcome != "" {
		o, err := audit.ParseOutcome(ff.Outcome)
		if err != nil {
			return f, nil, usage.Errorf("invalid --outcome: %v", err)
		}
		f.Outcome = o
	}
	if ff.Failed {
		if f.Outcome == audit.OutcomeSuccess {
			return f, nil, usage.Errorf("--failed contradicts --outcome success")
		}
		f.Outcome = audit.OutcomeFailure
	}
	var period *timeexpr.Period
	if ff.Period != "" {
		if ff.Since != "" || ff.Until != "" {
			return f, nil, usage.Errorf("--period sets both ends; do not combine it with --since or --until")
		}
		p, err := timeexpr.ParsePeriod(ff.Period, now, loc)
		if err != nil {
			return f, nil, usage.Wrap(err)
		}
		period = &p
		f.Since, f.Until = p.Since, p.Until
	}
	if ff.Since != "" {
		t, err := timeexpr.Parse(ff.Since, now, loc)
		if err != nil {
			return f, nil, usage.Errorf("--since: %v", err)
		}
		f.Since = t
	}
	if ff.Until != "" {
		t, err := timeexpr.Parse(ff.Until, now, loc)
		if err != nil {
			return f, nil, usage.Errorf("--until: %v", err)
		}
		f.Until = t
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		return f, nil, usage.Errorf("--since %q is not before --until %q", ff.Since, ff.Until)
	}
	f.Search = ff.Search
	if ff.After < 0 {
		return f, nil, usage.Errorf("invalid --after %d: want a seq >= 0", ff.After)
	}
	f.After = ff.After
	return f, period, nil
}

// Describe returns the active filters as the flags that set them, e.g.
// `--user jdavis --type security`, or "" when nothing filters.
func (ff *Flags) Describe() string {
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
