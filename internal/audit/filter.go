package audit

import (
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Order is the order in which a query returns events, by seq.
type Order int

const (
	// Ascending returns the oldest event (lowest seq) first.
	Ascending Order = iota
	// Descending returns the newest event (highest seq) first.
	Descending
)

// Filter selects events. Different fields AND together; the values of one
// slice field OR together. Zero values select everything. Text matches are
// case-insensitive and '*' in them matches any run of characters.
type Filter struct {
	Users         []string       // login or display name
	Types         []Type         // any of these types
	Actions       []string       // action
	Resources     []string       // resource
	ResourceTypes []string       // resource type
	IPs           []netip.Prefix // client address within any of these prefixes
	Outcome       Outcome        // "" for both
	Sources       []string       // any of these producer formats (Sources)
	Since         time.Time      // inclusive
	Until         time.Time      // exclusive
	Search        string         // substring of action, resource or details
	After         int64          // only seq > After
	Before        int64          // only seq < Before (0: no bound)
	Limit         int            // at most this many (0: all)
	Order         Order
}

// ParsePrefix parses an IP address or a CIDR prefix, as --ip accepts.
func ParsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("invalid IP or CIDR %q (want e.g. 10.0.0.55, 10.0.0.0/8, 2001:db8::/32)", s)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("invalid IP or CIDR %q (want e.g. 10.0.0.55, 10.0.0.0/8, 2001:db8::/32)", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// Match reports whether e passes every condition of f except Limit and Order.
// Stores push filters down to their query language; Match is the reference
// they must agree with, and what in-memory followers use.
func (f *Filter) Match(e *Event) bool {
	if len(f.Users) > 0 && !anyGlob(f.Users, e.User) && !anyGlob(f.Users, e.UserName) {
		return false
	}
	if len(f.Types) > 0 {
		ok := false
		for _, t := range f.Types {
			ok = ok || t == e.Type
		}
		if !ok {
			return false
		}
	}
	if len(f.Actions) > 0 && !anyGlob(f.Actions, e.Action) {
		return false
	}
	if len(f.Resources) > 0 && !anyGlob(f.Resources, e.Resource) {
		return false
	}
	if len(f.ResourceTypes) > 0 && !anyGlob(f.ResourceTypes, e.ResourceType) {
		return false
	}
	if len(f.IPs) > 0 {
		a, err := netip.ParseAddr(e.IP)
		if err != nil {
			return false
		}
		ok := false
		for _, p := range f.IPs {
			ok = ok || p.Contains(a.Unmap())
		}
		if !ok {
			return false
		}
	}
	if f.Outcome != "" && f.Outcome != e.Outcome {
		return false
	}
	if len(f.Sources) > 0 && !slices.Contains(f.Sources, e.SourceName()) {
		return false
	}
	if !f.Since.IsZero() && e.Time.Before(f.Since) {
		return false
	}
	if !f.Until.IsZero() && !e.Time.Before(f.Until) {
		return false
	}
	if f.Search != "" {
		s := strings.ToLower(f.Search)
		if !strings.Contains(strings.ToLower(e.Action), s) &&
			!strings.Contains(strings.ToLower(e.Resource), s) &&
			!strings.Contains(strings.ToLower(e.Details), s) {
			return false
		}
	}
	if f.After > 0 && e.Seq <= f.After {
		return false
	}
	if f.Before > 0 && e.Seq >= f.Before {
		return false
	}
	return true
}

func anyGlob(patterns []string, v string) bool {
	for _, p := range patterns {
		if Glob(p, v) {
			return true
		}
	}
	return false
}

// Glob reports whether v matches pattern case-insensitively, where '*' in
// pattern matches any run of characters and every other character is literal.
func Glob(pattern, v string) bool {
	pattern, v = strings.ToLower(pattern), strings.ToLower(v)
	if !strings.Contains(pattern, "*") {
		return pattern == v
	}
	parts := strings.Split(pattern, "*")
	if !strings.HasPrefix(v, parts[0]) {
		return false
	}
	v = v[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(v, p)
		if i < 0 {
			return false
		}
		v = v[i+len(p):]
	}
	return strings.HasSuffix(v, last) && len(v) >= len(last)
}

// Values encodes f as URL query parameters, the form the HTTP API takes
// (docs/design.md §7). ParseValues reverses it.
func (f *Filter) Values() url.Values {
	v := url.Values{}
	for _, u := range f.Users {
		v.Add("user", u)
	}
	for _, t := range f.Types {
		v.Add("type", string(t))
	}
	for _, a := range f.Actions {
		v.Add("action", a)
	}
	for _, r := range f.Resources {
		v.Add("resource", r)
	}
	for _, r := range f.ResourceTypes {
		v.Add("resource_type", r)
	}
	for _, p := range f.IPs {
		v.Add("ip", p.String())
	}
	if f.Outcome != "" {
		v.Set("outcome", string(f.Outcome))
	}
	for _, src := range f.Sources {
		v.Add("source", src)
	}
	if !f.Since.IsZero() {
		v.Set("since", FormatTime(f.Since))
	}
	if !f.Until.IsZero() {
		v.Set("until", FormatTime(f.Until))
	}
	if f.Search != "" {
		v.Set("search", f.Search)
	}
	if f.After > 0 {
		v.Set("after", strconv.FormatInt(f.After, 10))
	}
	if f.Before > 0 {
		v.Set("before", strconv.FormatInt(f.Before, 10))
	}
	if f.Limit > 0 {
		v.Set("limit", strconv.Itoa(f.Limit))
	}
	if f.Order == Descending {
		v.Set("order", "desc")
	}
	return v
}

// FilterParams are the query parameters of a Filter, as Values writes and
// ParseValues reads them: the one list of them.
var FilterParams = []string{"user", "type", "action", "resource", "resource_type", "ip", "outcome",
	"source", "since", "until", "search", "after", "before", "limit", "order"}

// ParseValues decodes URL query parameters into a Filter. Errors wrap
// ErrInvalid and name the parameter.
func ParseValues(v url.Values) (Filter, error) {
	var f Filter
	bad := func(name string, err error) (Filter, error) {
		return Filter{}, fmt.Errorf("%w: parameter %s: %v", ErrInvalid, name, err)
	}
	for k := range v {
		if !slices.Contains(FilterParams, k) {
			return bad(k, fmt.Errorf("unknown parameter"))
		}
	}
	f.Users = v["user"]
	for _, s := range v["type"] {
		for _, part := range strings.Split(s, ",") {
			t, err := ParseType(part)
			if err != nil {
				return bad("type", err)
			}
			f.Types = append(f.Types, t)
		}
	}
	f.Actions = v["action"]
	f.Resources = v["resource"]
	f.ResourceTypes = v["resource_type"]
	for _, s := range v["ip"] {
		p, err := ParsePrefix(s)
		if err != nil {
			return bad("ip", err)
		}
		f.IPs = append(f.IPs, p)
	}
	if s := v.Get("outcome"); s != "" {
		o, err := ParseOutcome(s)
		if err != nil {
			return bad("outcome", err)
		}
		f.Outcome = o
	}
	for _, s := range v["source"] {
		for _, part := range strings.Split(s, ",") {
			src, err := ParseSource(part)
			if err != nil {
				return bad("source", err)
			}
			f.Sources = append(f.Sources, src)
		}
	}
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		if s := v.Get(p.name); s != "" {
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				return bad(p.name, fmt.Errorf("invalid time %q (want RFC 3339)", s))
			}
			// An offset can carry 0000-01-01 or 9999-12-31 out of the years
			// RFC 3339 (and Values) can write in UTC.
			if y := t.UTC().Year(); y < 1 || y > 9999 {
				return bad(p.name, fmt.Errorf("time %q is out of range (years 0001-9999 in UTC)", s))
			}
			*p.dst = t.UTC()
		}
	}
	f.Search = v.Get("search")
	for _, p := range []struct {
		name string
		dst  *int64
	}{{"after", &f.After}, {"before", &f.Before}} {
		if s := v.Get(p.name); s != "" {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil || n < 0 {
				return bad(p.name, fmt.Errorf("invalid sequence number %q", s))
			}
			*p.dst = n
		}
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return bad("limit", fmt.Errorf("invalid limit %q (want a number >= 0)", s))
		}
		f.Limit = n
	}
	switch s := v.Get("order"); s {
	case "", "asc":
	case "desc":
		f.Order = Descending
	default:
		return bad("order", fmt.Errorf("invalid order %q (accepted: asc, desc)", s))
	}
	return f, nil
}
