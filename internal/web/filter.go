package web

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/filterflags"
)

// Ranges are the choices of the Time Range menu: the value in the query
// string (range=) and its label. "" is any time; custom reads since= and
// until=.
var Ranges = []struct{ Value, Label string }{
	{"", "Any time"},
	{"today", "Today"},
	{"7d", "Last 7 days"},
	{"30d", "Last 30 days"},
	{"this-month", "This month"},
	{"last-month", "Last month"},
	{"custom", "Custom"},
}

// viewParams are the query parameters of a view that are not filters.
var viewParams = []string{"range", "tz", "before", "after", "live"}

// filterParams are the CLI's filter flags, by the same names, and the
// seed page's short name for the search box (q).
var filterParams = []string{"user", "type", "action", "resource", "resource-type", "ip", "outcome",
	"source", "failed", "since", "until", "period", "search", "q"}

// view is what a URL asks to see: the filter, parsed by the code that
// parses the CLI's flags, and how to show it.
type view struct {
	Query  url.Values // the filter parameters as given, paging left out
	Filter audit.Filter
	Range  string
	Loc    *time.Location
	Now    time.Time
	Before int64
	After  int64
	Live   bool
}

// parseView reads the query string q. Errors name the parameter and what
// it accepts, as the CLI's do for its flags.
func (c *Console) parseView(q url.Values) (view, error) {
	v := view{Query: url.Values{}, Now: c.opts.Now(), Loc: c.opts.Location}
	for k, vals := range q {
		if !slices.Contains(filterParams, k) && !slices.Contains(viewParams, k) {
			return v, fmt.Errorf("unknown parameter %q (accepted: %s)", k, strings.Join(append(slices.Clone(filterParams), viewParams...), ", "))
		}
		for _, s := range vals {
			if s = strings.TrimSpace(s); s != "" && slices.Contains(filterParams, k) {
				v.Query.Add(k, s)
			}
		}
	}
	if tz := q.Get("tz"); tz != "" {
		loc, err := time.LoadLocation(tz)
		if err != nil {
			return v, fmt.Errorf("invalid tz %q: want a zone name such as UTC or Europe/Berlin", tz)
		}
		v.Loc = loc
		v.Query.Set("tz", tz)
	}
	ff := filterflags.Flags{
		Users: v.Query["user"], Types: v.Query["type"], Actions: v.Query["action"],
		Resources: v.Query["resource"], ResourceTypes: v.Query["resource-type"], IPs: v.Query["ip"],
		Outcome: v.Query.Get("outcome"), Sources: v.Query["source"],
		Since: v.Query.Get("since"), Until: v.Query.Get("until"), Period: v.Query.Get("period"),
		Search: v.Query.Get("search"),
	}
	if ff.Search == "" {
		ff.Search = v.Query.Get("q")
	}
	switch f := v.Query.Get("failed"); f {
	case "", "0", "false", "off":
	case "1", "true", "on", "yes":
		ff.Failed = true
	default:
		return v, fmt.Errorf("invalid failed %q (accepted: 1, 0)", f)
	}
	v.Range = q.Get("range")
	switch v.Range {
	case "", "custom":
	case "today", "this-month", "last-month":
		if ff.Period == "" && ff.Since == "" && ff.Until == "" {
			ff.Period = v.Range
		}
	case "7d", "30d":
		if ff.Period == "" && ff.Since == "" && ff.Until == "" {
			ff.Since = v.Range
		}
	default:
		var names []string
		for _, r := range Ranges[1:] {
			names = append(names, r.Value)
		}
		return v, fmt.Errorf("invalid range %q (accepted: %s)", v.Range, strings.Join(names, ", "))
	}
	if v.Range != "" {
		v.Query.Set("range", v.Range)
	}
	if v.Range == "" && (ff.Since != "" || ff.Until != "") {
		v.Range = "custom"
	}
	f, _, err := ff.Filter(v.Now, v.Loc)
	if err != nil {
		return v, err
	}
	v.Filter = f
	for _, p := range []struct {
		name string
		dst  *int64
	}{{"before", &v.Before}, {"after", &v.After}} {
		if s := q.Get(p.name); s != "" {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil || n < 0 {
				return v, fmt.Errorf("invalid %s %q: want a seq, a number >= 0", p.name, s)
			}
			*p.dst = n
		}
	}
	v.Live = q.Get("live") == "1"
	return v, nil
}

// url returns path with the view's filters and the extra parameters.
func (v *view) url(path string, extra ...string) string {
	q := url.Values{}
	for k, vals := range v.Query {
		q[k] = vals
	}
	for i := 0; i+1 < len(extra); i += 2 {
		if extra[i+1] == "" {
			q.Del(extra[i])
		} else {
			q.Set(extra[i], extra[i+1])
		}
	}
	if len(q) == 0 {
		return path
	}
	return path + "?" + q.Encode()
}

// has reports whether the filter parameter k holds value s.
func (v *view) has(k, s string) bool { return slices.Contains(v.Query[k], s) }

// window names the view's time window for a file name:
// "2026-11-01_2026-11-30", "since-2026-11-19", "until-…" or "all".
func (v *view) window() string {
	const day = "2006-01-02"
	s, u := v.Filter.Since, v.Filter.Until
	switch {
	case !s.IsZero() && !u.IsZero():
		return s.In(v.Loc).Format(day) + "_" + u.Add(-time.Nanosecond).In(v.Loc).Format(day)
	case !s.IsZero():
		return "since-" + s.In(v.Loc).Format(day)
	case !u.IsZero():
		return "until-" + u.Add(-time.Nanosecond).In(v.Loc).Format(day)
	}
	return "all"
}
