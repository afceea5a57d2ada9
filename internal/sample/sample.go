// Package sample makes sample audit logs: the six events of the web
// console's audit-log page, and a generator of realistic history for demos,
// tests and benchmarks.
package sample

import (
	"container/heap"
	"fmt"
	"iter"
	"math/rand/v2"
	"time"

	"github.com/audit-cli/audit/internal/audit"
)

// Seed returns the six example events of the audit-log page, timed as the
// page shows them relative to now in loc: today at 2:34 PM, 11:22 AM,
// 10:15 AM and 9:45 AM, yesterday at 12:00 AM, and Nov 27 at 5:30 PM of the
// most recent year in which that date is not after today. They come oldest
// first, with fixed ids seed-1 … seed-6.
func Seed(now time.Time, loc *time.Location) []audit.Event {
	now = now.In(loc)
	y, m, d := now.Date()
	today := func(h, min int) time.Time { return time.Date(y, m, d, h, min, 0, 0, loc) }
	logoutYear := y
	if nov27 := time.Date(y, 11, 27, 17, 30, 0, 0, loc); !nov27.Before(time.Date(y, m, d-1, 0, 0, 0, 0, loc)) {
		logoutYear--
	}
	events := []audit.Event{
		{ID: "seed-6", Time: time.Date(logoutYear, 11, 27, 17, 30, 0, 0, loc), User: "jdavis", UserName: "John Davis",
			Type: audit.TypeLogout, Action: "Session Ended", ResourceType: "session", Details: "Manual logout", IP: "192.168.1.100"},
		{ID: "seed-5", Time: time.Date(y, m, d-1, 0, 0, 0, 0, loc), User: "system", UserName: "System",
			Type: audit.TypeDelete, Action: "Deleted", ResourceType: "api_key", Resource: "old-integration", Details: "Auto-expired after 365 days"},
		{ID: "seed-4", Time: today(9, 45), User: "mjohnson", UserName: "Mike Johnson",
			Type: audit.TypeLogin, Action: "Portal Access", ResourceType: "session", Details: "Successful login via password", IP: "203.45.67.89"},
		{ID: "seed-3", Time: today(10, 15), User: "jdavis", UserName: "John Davis",
			Type: audit.TypeSecurity, Action: "MFA Enabled", ResourceType: "account", Details: "Two-factor authentication activated", IP: "192.168.1.100"},
		{ID: "seed-2", Time: today(11, 22), User: "smiller", UserName: "Sarah Miller",
			Type: audit.TypeCreate, Action: "Created", ResourceType: "alert_rule", Resource: "High CPU Usage", Details: "Threshold: CPU > 80%, Severity: Warning", IP: "10.0.0.55"},
		{ID: "seed-1", Time: today(14, 34), User: "jdavis", UserName: "John Davis",
			Type: audit.TypeUpdate, Action: "Updated", ResourceType: "server", Resource: "bbb-node-1", Details: "Changed load_multiplier from 1.0 to 1.5", IP: "192.168.1.100"},
	}
	for i := range events {
		events[i].Time = events[i].Time.UTC()
		events[i].Outcome = audit.OutcomeSuccess
	}
	return events
}

type person struct {
	login, name string
	ips         []string
	weight      int
}

var people = []person{
	{"jdavis", "John Davis", []string{"192.168.1.100", "192.168.1.101"}, 14},
	{"smiller", "Sarah Miller", []string{"10.0.0.55"}, 12},
	{"mjohnson", "Mike Johnson", []string{"203.45.67.89", "203.45.67.90"}, 9},
	{"agarcia", "Ana García", []string{"10.0.0.61"}, 8},
	{"lchen", "Li Chen", []string{"10.0.1.17", "2001:db8:4::17"}, 8},
	{"pnovak", "Petra Novák", []string{"192.168.1.120"}, 6},
	{"okoroma", "Obi Okoroma", []string{"172.16.4.9"}, 6},
	{"rsingh", "Ravi Singh", []string{"10.0.0.80"}, 5},
	{"emueller", "Eva Müller", []string{"192.168.2.14"}, 5},
	{"tnguyen", "Thanh Nguyen", []string{"10.0.2.33", "2001:db8:4::33"}, 4},
	{"kbrown", "Kate Brown", []string{"198.51.100.23"}, 3},
	{"ops-bot", "Ops Bot", []string{"10.0.9.2"}, 4},
}

var servers = []string{"bbb-node-1", "bbb-node-2", "bbb-node-3", "bbb-node-4", "scalelite-lb", "recording-1"}

var alertRules = []string{"High CPU Usage", "Disk Almost Full", "Node Offline", "High Meeting Load", "Recording Backlog"}

var attackerIPs = []string{"185.220.101.4", "45.155.205.99", "91.240.118.7"}

// Generate yields n realistic events spread over the days before now,
// oldest first, reproducibly for a given seed: a dozen users logging in and
// out, changing servers and alert rules, managing API keys and team
// members, security changes, system expiries, and failed logins including
// occasional brute-force bursts from a few outside addresses.
func Generate(n int, days int, now time.Time, seed int64) iter.Seq[audit.Event] {
	return func(yield func(audit.Event) bool) {
		r := rand.New(rand.NewPCG(uint64(seed), 0x5eed))
		start := now.Add(-time.Duration(days) * 24 * time.Hour)
		// Events arrive at a rate proportional to activity(t): the gap
		// after t is scale/activity(t), with scale chosen so that the
		// events to go fill the rest of the span. rest[h] is the activity
		// from hour h of the span to its end, in activity-hours.
		var rest []float64
		for t := start; t.Before(now); t = t.Add(time.Hour) {
			rest = append(rest, activity(t))
		}
		for h := len(rest) - 2; h >= 0; h-- {
			rest[h] += rest[h+1]
		}
		// scaleAt is the activity-hours between draws from t on, for
		// left events to go; a draw is 1.036 events on average,
		// counting the brute-force bursts (0.3 % of draws, 13 events
		// each). Worked out again every simulated day, it corrects the
		// drift of chance, so that the events neither end early nor
		// crowd into the last hours.
		scaleAt := func(t time.Time, left int) float64 {
			h := int(t.Sub(start) / time.Hour)
			if h >= len(rest) {
				h = len(rest) - 1
			}
			return rest[max(h, 0)] / (float64(max(left, 1)) / 1.036)
		}
		scale := scaleAt(start, n)
		total := 0
		for _, p := range people {
			total += p.weight
		}
		// A burst's events lie minutes ahead of its draw; they wait in
		// pending, ordered by time, while the draws go on from the
		// draw's time: so bursts overlap the traffic around them, as
		// they do in a real log, and do not move the clock on (which
		// would leave the last events of a dense history no time but the
		// final hours). Events leave pending once the draws have passed
		// them, oldest first, and are numbered then.
		pending := &byTime{}
		i := 0
		emit := func(until time.Time) bool {
			for pending.Len() > 0 && (until.IsZero() || (*pending)[0].Time.Before(until)) {
				e := heap.Pop(pending).(audit.Event)
				e.ID = fmt.Sprintf("gen-%d-%08d", seed, i)
				if !yield(e) {
					return false
				}
				i++
			}
			return true
		}
		t := start
		day := 0
		for queued := 0; queued < n; {
			if d := int(t.Sub(start) / (24 * time.Hour)); d != day {
				day, scale = d, scaleAt(t, n-queued)
			}
			last := t
			t = advance(t, scale*(0.5+r.Float64()))
			if !t.Before(now) {
				// Out of span with events to go: squeeze them in before now.
				t = last.Add(now.Sub(last) / time.Duration(n-queued+1))
			}
			for _, e := range event(r, t, total) {
				if queued >= n || !e.Time.Before(now) {
					break // enough, or the end of a burst that would run past now
				}
				e.Time = e.Time.UTC().Truncate(time.Millisecond)
				if e.Outcome == "" {
					e.Outcome = audit.OutcomeSuccess
				}
				heap.Push(pending, e)
				queued++
			}
			if !emit(t) {
				return
			}
		}
		emit(time.Time{})
	}
}

// byTime is a heap of events, the oldest on top.
type byTime []audit.Event

func (h byTime) Len() int           { return len(h) }
func (h byTime) Less(i, j int) bool { return h[i].Time.Before(h[j].Time) }
func (h byTime) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *byTime) Push(x any)        { *h = append(*h, x.(audit.Event)) }
func (h *byTime) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

// advance returns the time after t at which the activity accumulated since
// t reaches work (in activity-hours), walking hour by hour.
func advance(t time.Time, work float64) time.Time {
	for {
		a := activity(t)
		next := t.Truncate(time.Hour).Add(time.Hour)
		slot := next.Sub(t).Hours()
		if a*slot >= work {
			return t.Add(time.Duration(work / a * float64(time.Hour)))
		}
		work -= a * slot
		t = next
	}
}

// activity is how busy the service is at t (UTC): working hours on
// weekdays most, nights and weekends far less.
func activity(t time.Time) float64 {
	a := 1.0
	switch h := t.Hour(); {
	case h >= 8 && h < 18:
	case h >= 6 && h < 22:
		a = 0.35
	default:
		a = 0.06
	}
	if wd := t.Weekday(); wd == time.Saturday || wd == time.Sunday {
		a *= 0.2
	}
	return a
}

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

func pickPerson(r *rand.Rand, total int) person {
	w := r.IntN(total)
	for _, p := range people {
		if w < p.weight {
			return p
		}
		w -= p.weight
	}
	return people[0]
}

// event returns one event, or a burst of failed logins, at t.
func event(r *rand.Rand, t time.Time, total int) []audit.Event {
	p := pickPerson(r, total)
	ip := pick(r, p.ips)
	base := audit.Event{Time: t, User: p.login, UserName: p.name, IP: ip}
	x := r.IntN(1000)
	switch {
	case x < 3: // a brute-force burst against one account
		victim := pickPerson(r, total)
		from := pick(r, attackerIPs)
		k := 6 + r.IntN(15)
		out := make([]audit.Event, k)
		at := t
		for j := range out {
			at = at.Add(time.Duration(3+r.IntN(9)) * time.Second)
			out[j] = audit.Event{Time: at,
				User: victim.login, UserName: victim.name, Type: audit.TypeLogin, Action: "Portal Access",
				ResourceType: "session", Details: "Invalid password", IP: from, Outcome: audit.OutcomeFailure}
		}
		return out
	case x < 300:
		base.Type, base.Action, base.ResourceType = audit.TypeLogin, "Portal Access", "session"
		if r.IntN(25) == 0 {
			base.Details, base.Outcome = "Invalid password", audit.OutcomeFailure
		} else {
			base.Details = pick(r, []string{"Successful login via password", "Successful login via SSO", "Successful login via password and MFA"})
		}
	case x < 520:
		base.Type, base.Action, base.ResourceType = audit.TypeLogout, "Session Ended", "session"
		base.Details = pick(r, []string{"Manual logout", "Session expired after 8h idle"})
	case x < 800:
		base.Type, base.Action = audit.TypeUpdate, "Updated"
		if r.IntN(3) > 0 {
			from := 1.0 + float64(r.IntN(5))*0.5
			base.ResourceType, base.Resource = "server", pick(r, servers)
			base.Details = fmt.Sprintf("Changed load_multiplier from %.1f to %.1f", from, from+0.5)
		} else {
			base.ResourceType, base.Resource = "alert_rule", pick(r, alertRules)
			base.Details = fmt.Sprintf("Threshold: CPU > %d%%, Severity: %s", 60+5*r.IntN(7), pick(r, []string{"Warning", "Critical"}))
		}
	case x < 880:
		base.Type, base.Action = audit.TypeCreate, "Created"
		switch r.IntN(3) {
		case 0:
			base.ResourceType, base.Resource = "alert_rule", pick(r, alertRules)
			base.Details = "Threshold: CPU > 80%, Severity: Warning"
		case 1:
			base.ResourceType, base.Resource = "api_key", fmt.Sprintf("integration-%d", r.IntN(40))
			base.Details = "Scopes: read, write; expires in 365 days"
		default:
			base.ResourceType, base.Resource = "team_member", pick(r, people).login
			base.Details = "Invited with role Operator"
		}
	case x < 930:
		base.Type, base.Action = audit.TypeDelete, "Deleted"
		if r.IntN(2) == 0 {
			base.User, base.UserName, base.IP = "system", "System", ""
			base.ResourceType, base.Resource = "api_key", fmt.Sprintf("integration-%d", r.IntN(40))
			base.Details = "Auto-expired after 365 days"
		} else {
			base.ResourceType, base.Resource = "recording", fmt.Sprintf("rec-%06d", r.IntN(999999))
			base.Details = "Deleted after retention period of 90 days"
		}
	default:
		base.Type, base.ResourceType = audit.TypeSecurity, "account"
		switch r.IntN(4) {
		case 0:
			base.Action, base.Details = "MFA Enabled", "Two-factor authentication activated"
		case 1:
			base.Action, base.Details = "Password Changed", "Password updated by the user"
		case 2:
			base.Action, base.Details = "API Key Rotated", "Previous key revoked"
		default:
			base.Action, base.Details = "Security Settings Updated", "Session timeout set to 8h"
			if r.IntN(5) == 0 {
				base.Outcome, base.Details = audit.OutcomeFailure, "Permission denied: admin role required"
			}
		}
	}
	return []audit.Event{base}
}
