package audit

import (
	"cmp"
	"fmt"
	"iter"
	"slices"
	"time"
)

// The burst of failed logins `audit stats logins` and the web console
// look for unless told otherwise: 5 failures within 10 minutes.
const (
	DefaultBurstThreshold = 5
	DefaultBurstWindow    = 10 * time.Minute
)

// DefaultReviewDays is the window of a review (the stats commands, the
// web console's Statistics) when none is given: the last 7 days, as the
// weekly habit the seed page advises.
const DefaultReviewDays = 7

// BurstQuery asks for the bursts of failed logins. It is JSON-friendly,
// and Values and ParseBurstValues give its query-string form.
type BurstQuery struct {
	// Filter narrows the events looked at; EventFilter adds type login and
	// outcome failure to it. Limit and Order are ignored.
	Filter Filter `json:"filter"`
	// Threshold is how many failures make a burst, at least 2.
	Threshold int `json:"threshold"`
	// Window is the longest time from the first to the last of Threshold
	// failures that still makes them a burst; more than 0. (In JSON it is
	// in nanoseconds; the query string of Values takes "10m".)
	Window time.Duration `json:"window"`
}

// Validate checks q; errors wrap ErrInvalid.
func (q *BurstQuery) Validate() error {
	if q.Threshold < 2 {
		return fmt.Errorf("%w: burst threshold %d (want at least 2 failures)", ErrInvalid, q.Threshold)
	}
	if q.Window <= 0 {
		return fmt.Errorf("%w: burst window %s (want a positive duration, e.g. 10m)", ErrInvalid, q.Window)
	}
	return nil
}

// EventFilter is the filter of the events bursts are made of: q.Filter and
// type login and outcome failure. ok is false when q.Filter rules them out
// (it asks for other types only, or for successes), so that nothing
// matches.
func (q *BurstQuery) EventFilter() (f Filter, ok bool) {
	f = q.Filter
	f.Limit, f.Order = 0, Ascending
	if len(f.Types) > 0 && !slices.Contains(f.Types, TypeLogin) {
		return f, false
	}
	if f.Outcome == OutcomeSuccess {
		return f, false
	}
	f.Types, f.Outcome = []Type{TypeLogin}, OutcomeFailure
	return f, true
}

// Burst is a run of failed logins of one user (By user, Key the login) or
// from one source IP (By ip, Key the address).
type Burst struct {
	By    Dimension `json:"by"`
	Key   string    `json:"key"`
	First time.Time `json:"first"`
	Last  time.Time `json:"last"`
	Count int       `json:"count"`
	// IPs are the distinct source addresses of a user's burst, Users the
	// distinct logins of an address's burst; sorted. The other is nil.
	IPs   []string `json:"ips,omitempty"`
	Users []string `json:"users,omitempty"`
}

// compareBursts orders bursts by first failure, user bursts before address
// bursts, then by key.
func compareBursts(a, b Burst) int {
	return cmp.Or(a.First.Compare(b.First), cmp.Compare(burstRank(a.By), burstRank(b.By)),
		cmp.Compare(a.Key, b.Key), a.Last.Compare(b.Last))
}

func burstRank(d Dimension) int {
	if d == DimUser {
		return 0
	}
	return 1
}

// DetectBursts finds the bursts of failed logins among events, which must
// come in time order (equal times in any order) and are taken as they are:
// callers select them with q.EventFilter. It is the reference semantics of
// Statser.Bursts, and what SQL stores feed their time-ordered rows to.
//
// Per user and per source IP (events without one count for their user
// only), Threshold failures whose first and last are at most Window apart
// make a burst; such runs that share a failure are one burst, so that a
// long attack is reported once, with its first and last failure and its
// full count. A slow trickle, fewer than Threshold failures in any Window,
// is none. The result is sorted by first failure, user bursts before
// address bursts, then by key.
func DetectBursts(events iter.Seq2[Event, error], q BurstQuery) ([]Burst, error) {
	d, err := NewBurstDetector(q.Threshold, q.Window)
	if err != nil {
		return nil, err
	}
	for e, err := range events {
		if err != nil {
			return nil, err
		}
		if err := d.Add(e.Time, e.User, e.IP); err != nil {
			return nil, err
		}
	}
	return d.Bursts(), nil
}

// BurstDetector is DetectBursts one failure at a time, for stores that read
// rows rather than Events. Its memory is bounded by the keys active within
// a window and Threshold failures per key, not by the number of failures.
type BurstDetector struct {
	users, ips *burstKeys
	last       time.Time
}

// NewBurstDetector returns a detector of threshold failures within window;
// a bad threshold or window is an error wrapping ErrInvalid.
func NewBurstDetector(threshold int, window time.Duration) (*BurstDetector, error) {
	q := BurstQuery{Threshold: threshold, Window: window}
	if err := q.Validate(); err != nil {
		return nil, err
	}
	return &BurstDetector{
		users: newBurstKeys(DimUser, threshold, window),
		ips:   newBurstKeys(DimIP, threshold, window),
	}, nil
}

// Add takes the next failed login: its time, login and source IP ("" for
// none). Times must not decrease; an earlier one than the last is an error.
func (d *BurstDetector) Add(t time.Time, user, ip string) error {
	if t.Before(d.last) {
		return fmt.Errorf("failed logins out of time order: %s after %s", FormatTime(t), FormatTime(d.last))
	}
	d.last = t
	d.users.add(t, user, ip)
	if ip != "" {
		d.ips.add(t, ip, user)
	}
	return nil
}

// Bursts ends the detection and returns the bursts, sorted.
func (d *BurstDetector) Bursts() []Burst {
	out := append(d.users.finish(), d.ips.finish()...)
	slices.SortFunc(out, compareBursts)
	return out
}

// burstKeys detects the bursts of one kind of key (users or addresses).
type burstKeys struct {
	by        Dimension
	threshold int
	window    time.Duration
	keys      map[string]*burstKey
	sweepAt   int // sweep idle keys when there are this many
	done      []Burst
}

// burstKey is the state of one key: a ring of its last threshold failures
// and the burst it is in, if any.
type burstKey struct {
	ring  []time.Time // the last failures, oldest at ring[next] once full
	other []string    // the other dimension of each, parallel to ring
	next  int         // where the next failure goes
	n     int         // failures seen
	last  time.Time
	open  *Burst
	openN int // n of the last failure in open
	set   map[string]bool
}

func newBurstKeys(by Dimension, threshold int, window time.Duration) *burstKeys {
	return &burstKeys{by: by, threshold: threshold, window: window, keys: map[string]*burstKey{}, sweepAt: 1024}
}

func (b *burstKeys) add(t time.Time, key, other string) {
	k := b.keys[key]
	if k == nil {
		k = &burstKey{ring: make([]time.Time, b.threshold), other: make([]string, b.threshold)}
		b.keys[key] = k
		if len(b.keys) >= b.sweepAt {
			b.sweep(t)
		}
	}
	k.ring[k.next], k.other[k.next] = t, other
	k.next = (k.next + 1) % b.threshold
	k.n++
	k.last = t
	from := t.Add(-b.window)
	if k.open != nil && k.open.Last.Before(from) {
		b.close(key, k) // no window can reach back to it any more
	}
	// The ring is full and its oldest failure within the window: the last
	// threshold failures are a burst.
	if k.n < b.threshold || k.ring[k.next].Before(from) {
		return
	}
	first := k.n - b.threshold + 1 // number of the oldest failure in the ring
	if k.open == nil {
		k.open = &Burst{By: b.by, Key: key, First: k.ring[k.next]}
		k.set = map[string]bool{}
		k.openN = first - 1
	}
	// Add the failures after the burst's last; they are all in the ring.
	for n := max(k.openN+1, first); n <= k.n; n++ {
		i := (k.next + n - first) % b.threshold
		k.open.Count++
		k.open.Last = k.ring[i]
		if k.other[i] != "" {
			k.set[k.other[i]] = true
		}
	}
	k.openN = k.n
}

// close moves the open burst of k to done.
func (b *burstKeys) close(key string, k *burstKey) {
	others := make([]string, 0, len(k.set))
	for o := range k.set {
		others = append(others, o)
	}
	slices.Sort(others)
	if b.by == DimUser {
		k.open.IPs = others
	} else {
		k.open.Users = others
	}
	b.done = append(b.done, *k.open)
	k.open, k.set = nil, nil
}

// sweep forgets the keys without a failure within the window before t,
// closing their bursts, and sets when to sweep next: memory follows the
// keys active within a window, not all keys ever seen.
func (b *burstKeys) sweep(t time.Time) {
	from := t.Add(-b.window)
	for key, k := range b.keys {
		if k.last.Before(from) {
			if k.open != nil {
				b.close(key, k)
			}
			delete(b.keys, key)
		}
	}
	b.sweepAt = max(1024, 2*len(b.keys))
}

func (b *burstKeys) finish() []Burst {
	for key, k := range b.keys {
		if k.open != nil {
			b.close(key, k)
		}
	}
	b.keys = map[string]*burstKey{}
	out := b.done
	b.done = nil
	return out
}
