package audit_test

import (
	"errors"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/audit-cli/audit/internal/audit"
)

// FuzzParseValues feeds arbitrary query strings to audit.ParseValues, the
// parser of the HTTP API's filters. It must not panic; an error must wrap
// audit.ErrInvalid (HTTP 400) and name the parameter; a filter it accepts
// must survive Filter.Values and ParseValues again unchanged (that is how
// the remote store sends it), and Match must run on it.
//
//	go test ./internal/audit -run '^$' -fuzz '^FuzzParseValues$' -fuzztime 10s
func FuzzParseValues(f *testing.F) {
	for _, s := range []string{
		"",
		"user=jdavis&user=S*&type=login,logout&type=security",
		"action=Up*&resource=bbb-*&resource_type=server",
		"ip=10.0.0.0/8&ip=2001:db8::/32&ip=::ffff:10.0.0.55&ip=192.168.1.100",
		"outcome=failure&since=2026-11-20T14:00:00Z&until=2026-11-21T00:00:00.5%2B02:00",
		"search=%25_%5C&after=5&before=900&limit=50&order=desc",
		"since=0001-01-01T00:00:00Z&until=9999-12-31T23:59:59.999999999Z",
		"ip=fe80::1%25eth0", "type=", "limit=-1", "after=99999999999999999999", "order=up", "colour=red",
		"user=%ff%fe", "search=%00", "since=2026-11-20", "type=LOGIN,%20Logout",
	} {
		f.Add(s)
	}
	event := audit.Event{ID: "e1", Seq: 42, Time: time.Date(2026, 11, 20, 14, 0, 0, 0, time.UTC), User: "jdavis",
		UserName: "John Davis", Type: audit.TypeUpdate, Action: "Updated", ResourceType: "server",
		Resource: "bbb-node-1", Details: "Changed load_multiplier", IP: "192.168.1.100", Outcome: audit.OutcomeSuccess}
	f.Fuzz(func(t *testing.T, query string) {
		v, err := url.ParseQuery(query)
		if err != nil {
			return // the server's r.URL.Query() drops what does not parse
		}
		flt, err := audit.ParseValues(v)
		if err != nil {
			if !errors.Is(err, audit.ErrInvalid) || !strings.Contains(err.Error(), "parameter ") {
				t.Fatalf("ParseValues(%q): error %q does not wrap ErrInvalid and name the parameter", query, err)
			}
			return
		}
		again, err := audit.ParseValues(flt.Values())
		if err != nil {
			t.Fatalf("ParseValues(%q) accepted a filter whose Values %q it refuses: %v", query, flt.Values().Encode(), err)
		}
		if !sameFilter(flt, again) {
			t.Fatalf("round trip of %q changed the filter:\n%+v\n%+v", query, flt, again)
		}
		flt.Match(&event)
	})
}

// sameFilter compares filters, times by instant.
func sameFilter(a, b audit.Filter) bool {
	if !a.Since.Equal(b.Since) || !a.Until.Equal(b.Until) {
		return false
	}
	a.Since, a.Until, b.Since, b.Until = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	eq := func(x, y []string) bool { return len(x) == len(y) && (len(x) == 0 || slices.Equal(x, y)) }
	return eq(a.Users, b.Users) && slices.Equal(a.Types, b.Types) && eq(a.Actions, b.Actions) &&
		eq(a.Resources, b.Resources) && eq(a.ResourceTypes, b.ResourceTypes) && slices.Equal(a.IPs, b.IPs) &&
		a.Outcome == b.Outcome && a.Search == b.Search && a.After == b.After && a.Before == b.Before &&
		a.Limit == b.Limit && a.Order == b.Order
}

// FuzzGlob checks audit.Glob, the reference of every text filter, against
// a regular expression: '*' is any run of characters, everything else
// literal, case-insensitive.
//
//	go test ./internal/audit -run '^$' -fuzz '^FuzzGlob$' -fuzztime 10s
func FuzzGlob(f *testing.F) {
	for _, s := range [][2]string{
		{"bbb-*", "BBB-node-1"}, {"*node*", "bbb-node-1"}, {"a*a", "a"}, {"*", ""}, {"**", "x"},
		{"j*d*s", "jdavis"}, {"İsmail", "i̇smail"}, {"a.b", "axb"}, {"*ß", "STRASSE"}, {"\xff*", "\xfe"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, v string) {
		if len(pattern) > 200 || len(v) > 200 {
			return
		}
		parts := strings.Split(strings.ToLower(pattern), "*")
		for i, p := range parts {
			parts[i] = regexp.QuoteMeta(p)
		}
		re := regexp.MustCompile("(?s)^" + strings.Join(parts, ".*") + "$")
		want := re.MatchString(strings.ToLower(v))
		if got := audit.Glob(pattern, v); got != want {
			t.Fatalf("Glob(%q, %q) = %v, want %v", pattern, v, got, want)
		}
	})
}
