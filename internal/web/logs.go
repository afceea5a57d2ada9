package web

import (
	"context"
	"hash/fnv"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/output"
)

// row is one event as the audit-log table shows it. Every text is
// escaped for the terminal's sake too (control characters shown as
// \x1b, …); html/template escapes it for the page.
type row struct {
	ID, Href        string
	Seq             int64
	Initials        string
	Avatar          string // the avatar's color class
	System          bool
	Name, Login     string
	Type            string
	Action, Details string
	Resource        string
	IP              string
	Failed          bool
	When, Exact     string
}

// maxListDetails is how much of the details the table shows; the event's
// page shows all of it.
const maxListDetails = 240

func (c *Console) newRow(e *audit.Event, v *view) row {
	r := row{
		ID: e.ID, Href: "/events/" + url.PathEscape(e.ID), Seq: e.Seq,
		Login: output.Sanitize(e.User), Name: output.Sanitize(e.UserName),
		Type: string(e.Type), IP: e.IP, Failed: e.Outcome == audit.OutcomeFailure,
		When:  output.FormatDisplayTime(e.Time, v.Now, v.Loc),
		Exact: e.Time.In(v.Loc).Format(time.RFC3339),
	}
	if r.Name == "" {
		r.Name = r.Login
	}
	if e.User == "system" || e.User == "" {
		r.System, r.Name = true, "System"
	} else {
		r.Initials = initials(r.Name)
		h := fnv.New32a()
		h.Write([]byte(e.User))
		r.Avatar = "av" + strconv.Itoa(int(h.Sum32()%8))
	}
	r.Action = output.Sanitize(strings.TrimSpace(e.Action + " " + output.ResourceText(e)))
	r.Details = output.Sanitize(clip(e.Details, maxListDetails))
	r.Resource = output.Sanitize(output.HumanizeResourceType(e.ResourceType))
	return r
}

// initials are the first letters of the first and last words of a name:
// "John Davis" → "JD", "octocat" → "O".
func initials(name string) string {
	words := strings.FieldsFunc(name, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	if len(words) == 0 {
		return "?"
	}
	first := func(w string) string {
		r, _ := utf8.DecodeRuneInString(w)
		return strings.ToUpper(string(r))
	}
	s := first(words[0])
	if len(words) > 1 {
		s += first(words[len(words)-1])
	}
	return s
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

type option struct {
	Value, Label string
	Selected     bool
}

type logsData struct {
	View        *view
	Rows        []row
	Types       []option
	Users       []option
	UserPattern string
	Ranges      []option
	Since       string
	Until       string
	Search      string
	Failed      bool
	TZ          string
	Newer       string
	Older       string
	ExportCSV   string
	ExportJSONL string
	Live        bool
	LiveURL     string
	LiveToggle  string
	Summary     string
}

// logsPage is the audit log: the rows of one page, newest first.
func (c *Console) logsPage(w http.ResponseWriter, r *http.Request) {
	v, err := c.parseView(r.URL.Query())
	d := c.logsForm(r.Context(), &v)
	if err != nil {
		c.renderPage(w, http.StatusBadRequest, "logs", page{Title: "Audit Logs", Nav: "logs",
			Viewer: viewerFrom(r.Context()), Error: err.Error(), Data: d})
		return
	}
	release, ok := c.opts.QuerySlot(r)
	if !ok {
		return
	}
	defer release()
	f := v.Filter
	f.Limit = PageSize + 1
	f.Order = audit.Descending
	if v.Before > 0 {
		f.Before = v.Before
	}
	if v.After > 0 && v.Before == 0 {
		// Newer: the PageSize events just after, read upwards.
		f.After = max(f.After, v.After)
		f.Order = audit.Ascending
	}
	var events []audit.Event
	for e, err := range c.opts.Store.Query(r.Context(), f) {
		if err != nil {
			c.storeFailed(w, r, err)
			return
		}
		events = append(events, e)
	}
	more := len(events) > PageSize
	events = events[:min(len(events), PageSize)]
	if f.Order == audit.Ascending {
		slices.Reverse(events)
	}
	for i := range events {
		d.Rows = append(d.Rows, c.newRow(&events[i], &v))
	}
	if len(events) > 0 {
		newest, oldest := events[0].Seq, events[len(events)-1].Seq
		if (f.Order == audit.Descending && v.Before > 0) || (f.Order == audit.Ascending && more) {
			d.Newer = v.url("/", "after", strconv.FormatInt(newest, 10))
		}
		if (f.Order == audit.Descending && more) || f.Order == audit.Ascending {
			d.Older = v.url("/", "before", strconv.FormatInt(oldest, 10))
		}
	}
	first := v.Before == 0 && v.After == 0
	d.Live = v.Live && first
	if d.Live {
		var top int64
		if len(events) > 0 {
			top = events[0].Seq
		}
		d.LiveURL = v.url("/live", "after", strconv.FormatInt(max(top, v.Filter.After), 10))
		d.LiveToggle = v.url("/")
	} else if first {
		d.LiveToggle = v.url("/", "live", "1")
	}
	switch {
	case len(events) == 0:
		d.Summary = "No events match."
	case more || v.Before > 0 || v.After > 0:
		d.Summary = "Showing " + strconv.Itoa(len(events)) + " events, seq " +
			strconv.FormatInt(events[len(events)-1].Seq, 10) + "–" + strconv.FormatInt(events[0].Seq, 10) + "."
	default:
		d.Summary = strconv.Itoa(len(events)) + " events."
	}
	c.renderPage(w, http.StatusOK, "logs", page{Title: "Audit Logs", Nav: "logs", Viewer: viewerFrom(r.Context()), Data: d})
}

// logsForm fills the filter bar from the view, even a view that did not
// parse, so that the visitor can correct it.
func (c *Console) logsForm(ctx context.Context, v *view) *logsData {
	d := &logsData{View: v, Since: v.Query.Get("since"), Until: v.Query.Get("until"),
		Search: v.Query.Get("search"), TZ: v.Query.Get("tz")}
	if d.Search == "" {
		d.Search = v.Query.Get("q")
	}
	d.Failed = v.Filter.Outcome == audit.OutcomeFailure || v.has("failed", "1")
	d.Types = append(d.Types, option{"", "All types", len(v.Query["type"]) == 0})
	for _, t := range audit.Types {
		d.Types = append(d.Types, option{string(t), typeLabel(t), v.has("type", string(t))})
	}
	known := c.users.get(ctx)
	d.Users = append(d.Users, option{"", "All users", len(v.Query["user"]) == 0})
	picked := false
	for _, u := range known {
		sel := v.has("user", u)
		picked = picked || sel
		d.Users = append(d.Users, option{u, output.Sanitize(u), sel})
	}
	if !picked && len(v.Query["user"]) > 0 {
		d.UserPattern = v.Query["user"][0]
	}
	for _, rg := range Ranges {
		d.Ranges = append(d.Ranges, option{rg.Value, rg.Label, rg.Value == v.Range})
	}
	d.ExportCSV = v.url("/export.csv")
	d.ExportJSONL = v.url("/export.jsonl")
	return d
}

func typeLabel(t audit.Type) string {
	s := string(t)
	return strings.ToUpper(s[:1]) + s[1:]
}

// userCache keeps the store's users for the User menu. Counting them
// reads every event, the slow part of a page on a big store, so it is
// done in the background: once when the console starts (the first page
// waits for that one), then again when the list is older than ttl, while
// pages show the list they have.
type userCache struct {
	ttl   time.Duration
	st    audit.Statser
	ready chan struct{} // closed when the first count is done
	log   *slog.Logger

	mu      sync.Mutex
	at      time.Time
	users   []string
	running bool
	wg      sync.WaitGroup
	ctx     context.Context
}

// maxMenuUsers bounds the User menu; the free-text box takes the rest.
const maxMenuUsers = 200

func newUserCache(ctx context.Context, st audit.Store, ttl time.Duration, log *slog.Logger) *userCache {
	u := &userCache{ttl: ttl, ready: make(chan struct{}), ctx: ctx, log: log}
	sts, ok := st.(audit.Statser)
	if !ok {
		close(u.ready)
		return u
	}
	u.st = sts
	u.mu.Lock()
	u.refreshLocked()
	u.mu.Unlock()
	return u
}

// get returns the users, waiting only for the first count.
func (u *userCache) get(ctx context.Context) []string {
	select {
	case <-u.ready:
	case <-ctx.Done():
		return nil
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.st != nil && time.Since(u.at) >= u.ttl {
		u.refreshLocked()
	}
	return u.users
}

func (u *userCache) refreshLocked() {
	if u.running {
		return
	}
	u.running = true
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		res, err := u.st.Stats(u.ctx, audit.StatsQuery{Tables: []audit.StatsTable{{By: []audit.Dimension{audit.DimUser}, Top: maxMenuUsers}}})
		var users []string
		if err == nil && len(res.Tables) > 0 {
			users = make([]string, 0, len(res.Tables[0].Rows))
			for _, row := range res.Tables[0].Rows {
				users = append(users, row.Keys[0])
			}
			slices.Sort(users)
		} else if err != nil && u.ctx.Err() == nil {
			u.log.Warn("web console: could not count the users for the User menu", "err", err)
		}
		u.mu.Lock()
		if err == nil {
			u.users = users
		}
		u.at = time.Now()
		first := u.ready
		u.running = false
		u.mu.Unlock()
		select {
		case <-first:
		default:
			close(first)
		}
	}()
}

// wait waits for a count in progress.
func (u *userCache) wait() { u.wg.Wait() }
