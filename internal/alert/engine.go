package alert

import (
	"fmt"
	"time"

	"github.com/audit-cli/audit/internal/audit"
)

// Engine turns events into alerts for a set of rules. It reads only the
// events' own times, never the clock, so a replay of the log (alerts test,
// a restart that primes its state) fires exactly what the live run did.
// It is not safe for concurrent use.
type Engine struct {
	rules []*evaluator
}

// NewEngine returns an engine for rules, which must be valid.
func NewEngine(rules ...*Rule) *Engine {
	en := &Engine{}
	for _, r := range rules {
		en.rules = append(en.rules, &evaluator{rule: r, groups: map[string]*group{}})
	}
	return en
}

// Feed gives the engine the next event, in seq order, and appends the
// alerts it fires to out.
func (en *Engine) Feed(e *audit.Event, out []Alert) []Alert {
	for _, ev := range en.rules {
		out = ev.feed(e, out)
	}
	return out
}

// Flush appends the summaries of alerts held back in minutes that ended
// before now.
func (en *Engine) Flush(now time.Time, out []Alert) []Alert {
	for _, ev := range en.rules {
		out = ev.flush(now, out)
	}
	return out
}

// Window is the longest burst window of the rules: how far back a
// restart must read to rebuild their state.
func (en *Engine) Window() time.Duration {
	var w time.Duration
	for _, ev := range en.rules {
		if b := ev.rule.Burst; b != nil {
			w = max(w, b.Window)
		}
	}
	return w
}

type evaluator struct {
	rule   *Rule
	groups map[string]*group
	seen   int

	// The minute (by event time) being counted for MaxPerMinute.
	minute     time.Time
	sent       int
	held       int
	heldFirst  time.Time
	heldLast   time.Time
	heldLastSq int64
}

// group is the state of one burst group: its latest events within the
// window (at most Count of them), and until when it stays quiet.
type group struct {
	events []audit.Event
	quiet  time.Time
}

func (ev *evaluator) feed(e *audit.Event, out []Alert) []Alert {
	r := ev.rule
	if !r.Filter.Match(e) {
		return out
	}
	b := r.Burst
	if b == nil {
		a := Alert{Rule: r.Name, Kind: KindEvent, Time: e.Time, Count: 1, First: e.Time, Last: e.Time,
			Events: []audit.Event{*e}, Seq: e.Seq, Text: eventText(r.Name, e)}
		return ev.limit(a, out)
	}
	key := groupKey(b.GroupBy, e)
	g := ev.groups[key]
	if g == nil {
		g = &group{}
		ev.groups[key] = g
	}
	g.events = append(g.events, *e)
	start := 0
	for start < len(g.events) && e.Time.Sub(g.events[start].Time) > b.Window {
		start++
	}
	if extra := len(g.events) - start - b.Count; extra > 0 {
		start += extra
	}
	if start > 0 {
		g.events = append(g.events[:0], g.events[start:]...)
	}
	ev.seen++
	if ev.seen%4096 == 0 {
		ev.sweep(e.Time)
	}
	if len(g.events) < b.Count || e.Time.Before(g.quiet) {
		return out
	}
	events := append([]audit.Event(nil), g.events...)
	g.events = g.events[:0]
	cool := b.Cooldown
	if cool == 0 {
		cool = b.Window
	}
	g.quiet = e.Time.Add(cool)
	a := Alert{Rule: r.Name, Kind: KindBurst, Time: e.Time, GroupBy: b.GroupBy, Group: key, Count: len(events),
		Window: b.Window.String(), First: events[0].Time, Last: e.Time, Events: events, Seq: e.Seq}
	a.Text = burstText(&a)
	return ev.limit(a, out)
}

// sweep forgets the groups with nothing in their window and no cooldown.
func (ev *evaluator) sweep(now time.Time) {
	for k, g := range ev.groups {
		if (len(g.events) == 0 || now.Sub(g.events[len(g.events)-1].Time) > ev.rule.Burst.Window) && !now.Before(g.quiet) {
			delete(ev.groups, k)
		}
	}
}

// limit appends a unless MaxPerMinute alerts went out in its minute
// already, in which case it is held back for the minute's summary.
func (ev *evaluator) limit(a Alert, out []Alert) []Alert {
	max := ev.rule.MaxPerMinute
	if max <= 0 {
		return append(out, a)
	}
	m := a.Time.Truncate(time.Minute)
	if !m.Equal(ev.minute) {
		out = ev.summary(out)
		ev.minute, ev.sent = m, 0
	}
	if ev.sent < max {
		ev.sent++
		return append(out, a)
	}
	if ev.held == 0 {
		ev.heldFirst = a.First
	}
	ev.held++
	ev.heldLast, ev.heldLastSq = a.Last, a.Seq
	return out
}

func (ev *evaluator) flush(now time.Time, out []Alert) []Alert {
	if ev.held > 0 && !now.Before(ev.minute.Add(time.Minute)) {
		out = ev.summary(out)
	}
	return out
}

func (ev *evaluator) summary(out []Alert) []Alert {
	if ev.held == 0 {
		return out
	}
	r := ev.rule
	a := Alert{Rule: r.Name, Kind: KindSummary, Time: ev.heldLast, Count: ev.held, First: ev.heldFirst, Last: ev.heldLast, Seq: ev.heldLastSq,
		Text: fmt.Sprintf("[%s] %d more alerts held back (more than %d in the minute from %s); audit list shows them",
			r.Name, ev.held, r.MaxPerMinute, audit.FormatTime(ev.minute))}
	ev.held = 0
	return append(out, a)
}

func burstText(a *Alert) string {
	e := a.Event()
	what := fmt.Sprintf("%d %s events", a.Count, e.Type)
	if e.Outcome == audit.OutcomeFailure {
		what = fmt.Sprintf("%d failed %s events", a.Count, e.Type)
	}
	group := ""
	if a.GroupBy != "" {
		group = fmt.Sprintf(" for %s %s", a.GroupBy, a.Group)
	}
	return fmt.Sprintf("[%s] burst%s: %s within %s (%s to %s)", a.Rule, group, what, a.Window,
		audit.FormatTime(a.First), audit.FormatTime(a.Last))
}
