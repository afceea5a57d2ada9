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
	IO    *iostreams.IOStreams
	Store func() (audit.Store, error) // read: --read-store, else --store
	// Primary is the store written (--store), which --rebuild changes.
	Primary  func() (audit.Store, error)
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
	Rebuild   bool
}

// NewCmdStats returns the stats command and its logins subcommand. runF
// replaces statsRun in tests.
func NewCmdStats(f *cmdutil.Factory, runF func(*StatsOptions) error) *cobra.Command {
	opts := &StatsOptions{IO: f.IOStreams, Store: f.Reader(), Primary: f.Store, Now: f.Now}
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

A SQLite store keeps counts per hour and per day beside its events, which
answer the review and --by over time, type, outcome, user, ip and
resource without reading the events of the window (filters on anything
else read the events). audit keeps them exact as it writes and prunes;
--rebuild counts them again, for a file changed by another program.

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
  audit stats logins --period last-week

  # Count the statistics again after the file was changed by hand
  audit stats --rebuild`,
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
			if err := cmdutil.ResolveStatsOutput(f, cmd, &opts.Output); err != nil {
				return err
			}
			opts.Location = f.Location()
			if runF != nil {
				return runF(opts)
			}
			if opts.Rebuild {
				return rebuildRun(cmd.Context(), opts)
			}
			return statsRun(cmd.Context(), opts)
		},
	}
	cmdutil.AddFilterFlags(cmd, &opts.Filter)
	cmd.Flags().StringSliceVar(&by, "by", nil, "group by `dimensions`: user, type, action, resource_type, resource, ip, outcome, day, hour, week (comma list)")
	cmd.Flags().IntVar(&opts.Top, "top", 0, "the review's list length (default 5); with --by, keep only the `N` largest groups (default all)")
	cmd.Flags().StringVar(&opts.Sort, "sort", "", "order of --by groups: count (largest first) or key (default: key when grouping by day, hour or week, else count)")
	cmdutil.AddStatsOutputFlags(cmd, &opts.Output, &opts.NoHeaders)
	cmd.Flags().BoolVar(&opts.Rebuild, "rebuild", false, "count the SQLite store's statistics rollups again from its events, then exit")
	cmd.AddCommand(NewCmdLogins(f, nil))
	return cmd
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

// DefaultReviewDays is the window of every stats command when no time
// filter is given.
const DefaultReviewDays = audit.DefaultReviewDays

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

// rebuildRun counts the rollups of the store again.
func rebuildRun(ctx context.Context, opts *StatsOptions) error {
	st, err := opts.Primary()
	if err != nil {
		return err
	}
	rr, ok := st.(audit.RollupRebuilder)
	if !ok {
		return fmt.Errorf("this store keeps no rollups to rebuild: its statistics are counted from the events every time")
	}
	if err := rr.RebuildRollups(ctx); err != nil {
		return err
	}
	fmt.Fprintln(opts.IO.ErrOut, "Counted the statistics again from the events.")
	return nil
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
	oo := cmdutil.StatsOutputOptions(opts.IO, opts.Output, opts.NoHeaders, now, opts.Location)
	defaultWindow(opts.IO, &filter, now, opts.Location, len(opts.By) > 0)
	if len(opts.By) > 0 {
		return byRun(ctx, opts, st, filter, oo)
	}
	top := opts.Top
	if top == 0 {
		top = DefaultTop
	}
	r, err := output.BuildReview(ctx, st, filter, top, now, opts.Location)
	if err != nil {
		return err
	}
	if period != nil {
		r.Title = periodTitle(opts.Filter.Period, period.Name)
	}
	return output.PrintReview(opts.IO.Out, r, oo)
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
		if since, until, err = output.Span(ctx, st, filter, opts.Now(), nil); err != nil {
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
