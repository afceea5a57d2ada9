// Package alert acts on what the audit log records: rules that match
// events (every matching event, or a burst of them per user, address or
// resource), alerts delivered to commands, webhooks and syslog at least
// once, resuming from a cursor across restarts.
//
// The pieces:
//
//	Rule     what to match: a filter, and optionally a burst threshold
//	Engine   turns events into alerts, deterministically, from event times
//	Target   where an alert goes: Exec, Webhook, Syslog
//	Runner   follows a store from a cursor, feeds the engine, delivers with
//	         retries, writes what failed to a dead-letter file, and only
//	         then moves the cursor
package alert

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/audit-cli/audit/internal/audit"
)

// Kinds of alert.
const (
	KindEvent   = "event"   // one matching event
	KindBurst   = "burst"   // Burst.Count matching events of one group within Burst.Window
	KindSummary = "summary" // the alerts MaxPerMinute held back
)

// GroupBys are what a burst may be counted per.
var GroupBys = []string{"user", "ip", "resource"}

// Rule is what to alert on.
type Rule struct {
	// Name names the rule in alerts, logs and state files.
	Name string
	// Filter selects the events the rule looks at (Limit and Order are
	// ignored).
	Filter audit.Filter
	// Burst, when set, fires once for Count matching events of one group
	// within Window instead of once per event.
	Burst *Burst
	// MaxPerMinute bounds the alerts of one minute (by event time); the
	// rest are counted and sent as one summary. 0: no bound.
	MaxPerMinute int
}

// Burst is a threshold: Count events of one group within Window.
type Burst struct {
	Count  int
	Window time.Duration
	// GroupBy is "user", "ip", "resource", or "" for all events together.
	GroupBy string
	// Cooldown is how long a group stays quiet after its burst fired;
	// 0 means Window: once per group per window.
	Cooldown time.Duration
}

// ParseBurst reads a threshold as N/DURATION, e.g. "5/10m".
func ParseBurst(s string) (count int, window time.Duration, err error) {
	n, d, ok := strings.Cut(s, "/")
	if ok {
		count, err = strconv.Atoi(strings.TrimSpace(n))
	}
	if ok && err == nil {
		window, err = time.ParseDuration(strings.TrimSpace(d))
	}
	if !ok || err != nil || count < 2 || window <= 0 {
		return 0, 0, fmt.Errorf("invalid burst %q: want N/DURATION with N at least 2, e.g. 5/10m", s)
	}
	return count, window, nil
}

// ParseGroupBy checks a --group-by value.
func ParseGroupBy(s string) (string, error) {
	for _, g := range GroupBys {
		if s == g {
			return s, nil
		}
	}
	return "", fmt.Errorf("invalid group-by %q (accepted: %s)", s, strings.Join(GroupBys, ", "))
}

// Validate checks r.
func (r *Rule) Validate() error {
	if r.Name == "" {
		return fmt.Errorf("an alert rule needs a name")
	}
	if b := r.Burst; b != nil {
		if b.Count < 2 || b.Window <= 0 {
			return fmt.Errorf("rule %s: a burst needs a count of at least 2 and a window", r.Name)
		}
		if b.GroupBy != "" {
			if _, err := ParseGroupBy(b.GroupBy); err != nil {
				return fmt.Errorf("rule %s: %w", r.Name, err)
			}
		}
		if b.Cooldown < 0 {
			return fmt.Errorf("rule %s: a negative cooldown", r.Name)
		}
	}
	if r.MaxPerMinute < 0 {
		return fmt.Errorf("rule %s: a negative max-per-minute", r.Name)
	}
	return nil
}

// Alert is what a rule fired: one event, a burst with its events, or a
// summary of alerts held back. It is the JSON an exec target reads on
// stdin and a webhook receives; Text is a line for people and for chat
// webhooks (Slack, Mattermost), which show it.
type Alert struct {
	Rule string    `json:"rule"`
	Kind string    `json:"kind"`
	Time time.Time `json:"time"` // the time of the event that fired it
	Text string    `json:"text"`
	// GroupBy and Group name a burst's group ("ip", "203.0.113.9").
	GroupBy string `json:"group_by,omitempty"`
	Group   string `json:"group,omitempty"`
	// Count is the events of a burst, or the alerts a summary stands for.
	Count  int    `json:"count"`
	Window string `json:"window,omitempty"`
	// First and Last are the times of the first and last event counted.
	First time.Time `json:"first"`
	Last  time.Time `json:"last"`
	// Events are the event of an event alert, or those of a burst.
	Events []audit.Event `json:"events,omitempty"`
	// Seq is the seq of the event that fired the alert.
	Seq int64 `json:"seq"`
}

// Event returns the event that fired a, or nil for a summary.
func (a *Alert) Event() *audit.Event {
	if len(a.Events) == 0 {
		return nil
	}
	return &a.Events[len(a.Events)-1]
}

func groupKey(by string, e *audit.Event) string {
	switch by {
	case "user":
		return e.User
	case "ip":
		return e.IP
	case "resource":
		if e.ResourceType != "" {
			return e.ResourceType + ":" + e.Resource
		}
		return e.Resource
	}
	return ""
}

func eventText(rule string, e *audit.Event) string {
	who := e.UserName
	if who == "" {
		who = e.User
	}
	s := fmt.Sprintf("[%s] %s: %s %s", rule, e.Type, who, strings.TrimSpace(e.Action+" "+e.Resource))
	if e.Outcome == audit.OutcomeFailure {
		s += " (failed)"
	}
	if e.IP != "" {
		s += " from " + e.IP
	}
	return s + " at " + audit.FormatTime(e.Time)
}
