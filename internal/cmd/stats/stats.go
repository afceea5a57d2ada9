// Package stats implements `audit stats` and `audit stats logins`.
package stats

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/cmdutil"
	"github.com/audit-cli/audit/internal/iostreams"
	"github.com/audit-cli/audit/internal/output"
)

// DefaultTop is how many users, resources and addresses the review lists.
const DefaultTop = 5

// StatsOptions holds what a stats run needs.
type StatsOptions struct {
	IO       *iostreams.IOStreams
	Store    func() (audit.Store, error)
	Now      func() time.Time
	Location *time.Location

	Filter cmdutil.FilterFlags
	// By are the dimensions of --by; none: the review.
	By []audit.Dimension
	// Top is --top: the review's list length (0: DefaultTop), or with
	// --by the number of largest groups kept (0: all).
	Top int
	// Sort is "count" or "key"; "" picks key when a time dimension is
	// grouped, count otherwise.
	Sort      string
	Output    string
	NoHeaders bool
}

// NewCmdStats returns the stats command and its logins subcommand. runF
// replaces statsRun in tests.
func NewCmdStats(f *cmdutil.Factory, runF func(*StatsOptions) error) *cobra.Command {
	opts := &StatsOptions{IO: f.IOStreams, Store: f.Store, Now: f.Now}
	var by []string
	cmd := &cobra.Command{
		Use:   "stats [flags]",
		Short: "Review the audit log at a glance: counts, top users, activity",
		Long: `Summarize the events matching the filters, computed by the store (SQL
GROUP BY over its indexes, or the server's GET /v1/stats), never by reading
every event.

Every stats command covers the last 7 days unless --since, --until or
--period say otherwise (the review's header shows the window; --by and
logins say it on a terminal).

Without --by, print the review: totals by type and outcome, the most active
users, the most changed resources (create, update and delete events), the
top source IP addresses, and a chart of activity by hour (for a day or
less), by day (up to three months) or by week, drawn with unicode bars
colored by type. Piped, the review is one tab-separated row a line:
SECTION, KEY, EVENTS, FAILED, with sections total, type, user, resource,
ip and day, hour or week.

With --by, print the number of events and of failures per group of one or
more of: user, type, action, resource_type, resource, ip, outcome, day,
hour, week. Days, hours and weeks (ISO, from Monday) are those of the
configured time zone (--utc or the timezone setting), also across daylight
saving changes: such a day has 23 or 25 hours.

"audit stats logins" finds bursts of failed logins; see its help.

The filters are those of list. Review the log weekly: run
"audit stats --period last-week" every Monday.`,
		Example: `  # Last week's review
  audit stats --period last-week

  # Events per user and type, for a spreadsheet
  audit stats --by user,type --period last-month -o csv

  # Failed actions per day this month
  audit stats --by day --failed --period this-month

  # The ten most active source addresses of a subnet, as JSON
  audit stats --by ip --ip 10.0.0.0/8 --top 10 -o json

  # Bursts of failed logins last week
  audit stats logins --period last-week`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			dims, err := parseDimensions(by)
			if err != nil {
				return err
			}
			opts.By = dims
			if opts.Top < 0 {
				return cmdutil.FlagErrorf("invalid --top %d: want a number >= 0", opts.Top)
			}
			if opts.Sort != "" && opts.Sort != "count" && opts.Sort != "key" {
				return cmdutil.FlagErrorf("invalid --sort %q (accepted: count, key)", opts.Sort)
			}
			if opts.Sort != "" && len(opts.By) == 0 {
				return cmdutil.FlagErrorf("--sort orders the groups of --by; the review has its own order")
			}
			if err := resolveOutput(f, cmd, &opts.Output); err != nil {
				return err
			}
			opts.Location = f.Location()
			if runF != nil {
				return runF(opts)
			}
			return statsRun(cmd.Context(), opts)
		},
	}
	cmdutil.AddFilterFlags(cmd, &opts.Filter)
	cmd.Flags().StringSliceVar(&by, "by", nil, "group by `dimensions`: user, type, action, resource_type, resource, ip, outcome, day, hour, week (comma list)")
	cmd.Flags().IntVar(&opts.Top, "top", 0, "the review's list length (default 5); with --by, keep only the `N` largest groups (default all)")
	cmd.Flags().StringVar(&opts.Sort, "sort", "", "order of --by groups: count (largest first) or key (default: key when grouping by day, hour or week, else count)")
	addOutputFlags(cmd, &opts.Output, &opts.NoHeaders)
	cmd.AddCommand(NewCmdLogins(f, nil))
	return cmd
}

// addOutputFlags registers -o (the stats formats) and --no-headers.
func addOutputFlags(cmd *cobra.Command, format *string, noHeaders *bool) {
	cmd.Flags().StringVarP(format, "output", "o", "table", "output `format`: "+strings.Join(output.StatsFormats, ", "))
	cmd.Flags().BoolVar(noHeaders, "no-headers", false, "omit the header row of table, csv and tsv output")
}

// resolveOutput takes the configured output when -o is not given and is a
// stats format (a configured "wide" leaves stats in table), and checks -o.
func resolveOutput(f *cmdutil.Factory, cmd *cobra.Command, format *string) error {
	if !cmd.Flags().Changed("output") && f.Config != nil {
		if cfg, err := f.Config(); err == nil && slices.Contains(output.StatsFormats, cfg.Output) {
			*format = cfg.Output
		}
	}
	if !slices.Contains(output.StatsFormats, *format) {
		return cmdutil.FlagErrorf("invalid --output %q for stats (accepted: %s)", *format, strings.Join(output.StatsFormats, ", "))
	}
	return nil
}

func parseDimensions(names []string) ([]audit.Dimension, error) {
	var dims []audit.Dimension
	for _, n := range names {
		d, err := audit.ParseDimension(n)
		if err != nil {
			return nil, cmdutil.FlagErrorf("invalid --by: %v", err)
		}
		if slices.Contains(dims, d) {
			return nil, cmdutil.FlagErrorf("invalid --by: %s given twice", d)
		}
		dims = append(dims, d)
	}
	return dims, nil
}

// statser returns the store as an audit.Statser, or the error that says it
// cannot compute statistics.
func statser(open func() (audit.Store, error)) (audit.Statser, error) {
	st, err := open()
	if err != nil {
		return nil, err
	}
	s, ok := st.(audit.Statser)
	if !ok {
		return nil, fmt.Errorf("%w: use a SQLite or PostgreSQL store, or an audit serve that answers GET /v1/stats", audit.ErrNoStats)
	}
	return s, nil
}

// outputOptions are the printer options of a run; color forced onto a pipe
// asks for the terminal's view, as for list.
func outputOptions(ios *iostreams.IOStreams, format string, noHeaders bool, now time.Time, loc *time.Location) output.Options {
	return output.Options{
		Format:    format,
		TTY:       ios.IsStdoutTTY() || ios.ColorEnabled(),
		Color:     ios.ColorEnabled(),
		Width:     ios.TerminalWidth(),
		Now:       now,
		Location:  loc,
		NoHeaders: noHeaders,
	}
}

// DefaultReviewDays is the window of every stats command when no time
// filter is given.
const DefaultReviewDays = 7

// defaultWindow gives a filter without a time bound (nor --after) the
// last DefaultReviewDays days: the review is a weekly habit, and a stats
// command should not read the whole, possibly huge, log by default. Where
// no header shows the window (--by, logins), a terminal is told on stderr.
func defaultWindow(ios *iostreams.IOStreams, filter *audit.Filter, now time.Time, loc *time.Location, say bool) {
	if !filter.Since.IsZero() || !filter.Until.IsZero() || filter.After != 0 {
		return
	}
	filter.Since = now.In(loc).AddDate(0, 0, -DefaultReviewDays)
	if say && ios.IsStderrTTY() {
		fmt.Fprintf(ios.ErrOut, "The last %d days: %s (--since, --until or --period choose another window).\n",
			DefaultReviewDays, output.RangeText(filter.Since, time.Time{}, loc))
	}
}

func statsRun(ctx context.Context, opts *StatsOptions) error {
	now := opts.Now()
	filter, period, err := opts.Filter.Filter(now, opts.Location)
	if err != nil {
		return err
	}
	st, err := statser(opts.Store)
	if err != nil {
		return err
	}
	opts.IO.StartPager()
	defer opts.IO.StopPager()
	oo := outputOptions(opts.IO, opts.Output, opts.NoHeaders, now, opts.Location)
	defaultWindow(opts.IO, &filter, now, opts.Location, len(opts.By) > 0)
	if len(opts.By) > 0 {
		return byRun(ctx, opts, st, filter, oo)
	}
	r, err := review(ctx, st, filter, opts, now)
	if err != nil {
		return err
	}
	if period != nil {
		r.Title = periodTitle(opts.Filter.Period, period.Name)
	}
	return output.PrintReview(opts.IO.Out, r, oo)
}

// span is the time range a chart or a fill of empty buckets covers: the
// filter's ends, where open the first event's time and the later of now
// and the last event's (totals, when given, save asking the store for
// them). Both are zero when no event matches an open range.
func span(ctx context.Context, st audit.Statser, filter audit.Filter, now time.Time, totals *audit.StatsResult) (since, until time.Time, err error) {
	since, until = filter.Since, filter.Until
	if since.IsZero() || until.IsZero() {
		if totals == nil {
			res, err := st.Stats(ctx, audit.StatsQuery{Filter: filter})
			if err != nil {
				return since, until, err
			}
			totals = &res
		}
		if totals.Total == 0 {
			return time.Time{}, time.Time{}, nil
		}
		if since.IsZero() {
			since = totals.First
		}
		if until.IsZero() {
			until = later(now, totals.Last.Add(time.Nanosecond))
		}
	}
	return since, until, nil
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// chartUnit picks the chart's buckets for a range: hours for a day (of 25
// hours at most), days up to three months, else weeks.
func chartUnit(since, until time.Time) audit.Dimension {
	switch d := until.Sub(since); {
	case d <= 25*time.Hour:
		return audit.DimHour
	case d <= 92*24*time.Hour:
		return audit.DimDay
	}
	return audit.DimWeek
}

// changeTypes are the types whose resources the review calls changed.
var changeTypes = []audit.Type{audit.TypeCreate, audit.TypeUpdate, audit.TypeDelete}

// review computes the review with two Stats calls run side by side: the
// lists and the chart (whose rows, bucket by type, also give the totals by
// type), and the changed resources. An open range (no --period, or only
// one of --since and --until) first asks for the totals, whose first and
// last event tell the chart's span and so its zone.
func review(ctx context.Context, st audit.Statser, filter audit.Filter, opts *StatsOptions, now time.Time) (*output.Review, error) {
	top := opts.Top
	if top == 0 {
		top = DefaultTop
	}
	r := &output.Review{Since: filter.Since, Until: filter.Until}
	closed := !filter.Since.IsZero() && !filter.Until.IsZero()
	since, until := filter.Since, filter.Until
	var first audit.StatsResult
	if !closed {
		var err error
		if first, err = st.Stats(ctx, audit.StatsQuery{Filter: filter}); err != nil {
			return nil, err
		}
		if first.Total == 0 {
			return r, nil
		}
		if since, until, err = span(ctx, st, filter, now, &first); err != nil {
			return nil, err
		}
	}
	unit := chartUnit(since, until)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var changes audit.StatsResult
	var changesErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		types := intersectTypes(filter.Types, changeTypes)
		if len(types) == 0 {
			return
		}
		cf := filter
		cf.Types = types
		changes, changesErr = st.Stats(ctx, audit.StatsQuery{Filter: cf, Tables: []audit.StatsTable{
			{By: []audit.Dimension{audit.DimResourceType, audit.DimResource}, Top: top},
		}})
		if changesErr != nil {
			cancel()
		}
	}()
	res, err := st.Stats(ctx, audit.StatsQuery{Filter: filter, Zone: audit.ZoneIn(opts.Location, since, until),
		Tables: []audit.StatsTable{
			{By: []audit.Dimension{unit, audit.DimType}},
			{By: []audit.Dimension{audit.DimUser}, Top: top},
			{By: []audit.Dimension{audit.DimIP}, Top: top},
		}})
	if err != nil {
		cancel()
	}
	<-done
	if err != nil {
		return nil, err
	}
	if changesErr != nil {
		return nil, changesErr
	}

	r.Total, r.Failed = res.Total, res.Failed
	chart := res.Tables[0].Rows
	byType := map[string]*audit.StatsRow{}
	for _, row := range chart {
		t := byType[row.Keys[1]]
		if t == nil {
			t = &audit.StatsRow{Keys: []string{row.Keys[1]}}
			byType[row.Keys[1]] = t
		}
		t.Events += row.Events
		t.Failed += row.Failed
	}
	for _, typ := range audit.Types {
		if t := byType[string(typ)]; t != nil {
			r.Types = append(r.Types, *t)
		}
	}
	r.Users = output.ReviewList{Rows: res.Tables[1].Rows, Groups: res.Tables[1].Groups, Total: res.Total, Failed: res.Failed}
	r.IPs = output.ReviewList{Rows: res.Tables[2].Rows, Groups: res.Tables[2].Groups, Total: res.Total, Failed: res.Failed}
	if len(changes.Tables) > 0 {
		t := changes.Tables[0]
		r.Resources = output.ReviewList{Rows: t.Rows, Groups: t.Groups, Total: changes.Total, Failed: changes.Failed}
	}
	if res.Total == 0 {
		return r, nil
	}
	// A closed range that ends in the future is charted up to now, or up
	// to its last event if that is later.
	end := until
	if closed {
		end = earlier(until, later(now, res.Last.Add(time.Nanosecond)))
		if !end.After(since) {
			end = until
		}
	}
	r.Activity = activity(unit, since, end, opts.Location, chart)
	return r, nil
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// intersectTypes is want restricted to the filter's types (all when the
// filter names none).
func intersectTypes(filter, want []audit.Type) []audit.Type {
	if len(filter) == 0 {
		return want
	}
	var out []audit.Type
	for _, t := range want {
		if slices.Contains(filter, t) {
			out = append(out, t)
		}
	}
	return out
}

// activity lays the counts by (bucket, type) onto every bucket of the
// range, empty ones included.
func activity(unit audit.Dimension, since, until time.Time, loc *time.Location, rows []audit.StatsRow) output.Activity {
	buckets := audit.TimeBuckets(unit, since, until, loc)
	a := output.Activity{Unit: unit, Buckets: make([]output.ActivityBucket, len(buckets))}
	index := map[string]int{}
	for i, b := range buckets {
		a.Buckets[i] = output.ActivityBucket{Key: b.Key, Start: b.Start, ByType: make([]int64, len(audit.Types))}
		index[b.Key] = i
	}
	for _, r := range rows {
		i, ok := index[r.Keys[0]]
		if !ok {
			continue // outside the charted range: not drawn, still counted above
		}
		b := &a.Buckets[i]
		b.Events += r.Events
		b.Failed += r.Failed
		if ti := slices.Index(audit.Types, audit.Type(r.Keys[1])); ti >= 0 {
			b.ByType[ti] += r.Events
		}
	}
	return a
}

// periodTitle names the period of --period for the review's title:
// "Last week", "Today", or the period's canonical name.
func periodTitle(arg, name string) string {
	key := strings.ToLower(strings.TrimSpace(arg))
	switch key {
	case "today", "yesterday", "this-week", "last-week", "this-month", "last-month":
		s := strings.ReplaceAll(key, "-", " ")
		return strings.ToUpper(s[:1]) + s[1:]
	}
	return name
}

// byRun prints the grouped counts of --by.
func byRun(ctx context.Context, opts *StatsOptions, st audit.Statser, filter audit.Filter, oo output.Options) error {
	q := audit.StatsQuery{Filter: filter, Tables: []audit.StatsTable{{By: opts.By, Top: opts.Top}}}
	timeDim := slices.ContainsFunc(opts.By, audit.Dimension.IsTime)
	var since, until time.Time
	if timeDim {
		var err error
		if since, until, err = span(ctx, st, filter, opts.Now(), nil); err != nil {
			return err
		}
		q.Zone = audit.ZoneIn(opts.Location, since, until)
	}
	res, err := st.Stats(ctx, q)
	if err != nil {
		return err
	}
	rows := res.Tables[0].Rows
	byKey := opts.Sort == "key" || (opts.Sort == "" && timeDim)
	// A single time dimension from a start the user gave (to the end given,
	// or now) lists its empty buckets too, so that a series has no holes.
	if len(opts.By) == 1 && timeDim && opts.Top == 0 && byKey && !filter.Since.IsZero() && !since.IsZero() {
		rows = fill(opts.By[0], since, until, opts.Location, rows)
	}
	if byKey {
		slices.SortStableFunc(rows, func(a, b audit.StatsRow) int { return compareKeys(opts.By, a, b) })
	}
	return output.PrintStatsTable(opts.IO.Out, opts.By, rows, oo)
}

// fill adds a zero row for every bucket of the range without one.
func fill(d audit.Dimension, since, until time.Time, loc *time.Location, rows []audit.StatsRow) []audit.StatsRow {
	have := map[string]bool{}
	for _, r := range rows {
		have[r.Keys[0]] = true
	}
	for _, b := range audit.TimeBuckets(d, since, until, loc) {
		if !have[b.Key] {
			rows = append(rows, audit.StatsRow{Keys: []string{b.Key}})
		}
	}
	return rows
}

// compareKeys orders rows by their keys: times in time order (hours by
// their instant, which their text does not give when clocks go back),
// types and outcomes in their display order, other text byte by byte.
func compareKeys(by []audit.Dimension, a, b audit.StatsRow) int {
	for i, d := range by {
		x, y := a.Keys[i], b.Keys[i]
		var c int
		switch d {
		case audit.DimHour:
			tx, ex := time.Parse(time.RFC3339, x)
			ty, ey := time.Parse(time.RFC3339, y)
			c = cmp.Or(cmp.Compare(boolInt(ex != nil), boolInt(ey != nil)), tx.Compare(ty), cmp.Compare(x, y))
		case audit.DimType:
			c = cmp.Compare(typeRank(x), typeRank(y))
		case audit.DimOutcome:
			c = cmp.Compare(boolInt(x == string(audit.OutcomeFailure)), boolInt(y == string(audit.OutcomeFailure)))
		}
		if c = cmp.Or(c, cmp.Compare(x, y)); c != 0 {
			return c
		}
	}
	return 0
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func typeRank(s string) int {
	if i := slices.Index(audit.Types, audit.Type(s)); i >= 0 {
		return i
	}
	return len(audit.Types)
}
