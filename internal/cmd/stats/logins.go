package stats

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/cmdutil"
	"github.com/audit-cli/audit/internal/iostreams"
	"github.com/audit-cli/audit/internal/output"
)

// Defaults of stats logins: five failures within ten minutes.
const (
	DefaultThreshold = audit.DefaultBurstThreshold
	DefaultWindow    = audit.DefaultBurstWindow
)

// LoginsOptions holds what a stats logins run needs.
type LoginsOptions struct {
	IO       *iostreams.IOStreams
	Store    func() (audit.Store, error)
	Now      func() time.Time
	Location *time.Location

	Filter    cmdutil.FilterFlags
	Threshold int
	Window    time.Duration
	// By are the kinds of burst reported: audit.DimUser, audit.DimIP.
	By         []audit.Dimension
	Output     string
	NoHeaders  bool
	ExitStatus bool
}

// NewCmdLogins returns the stats logins command. runF replaces loginsRun in
// tests.
func NewCmdLogins(f *cmdutil.Factory, runF func(*LoginsOptions) error) *cobra.Command {
	opts := &LoginsOptions{IO: f.IOStreams, Store: f.Reader(), Now: f.Now}
	var by []string
	cmd := &cobra.Command{
		Use:   "logins [flags]",
		Short: "Find bursts of failed logins: brute force and password spraying",
		Long: `Find bursts of failed logins (type login, outcome failure) among the events
matching the filters: --threshold failures or more of one user, or from
one source IP address, whose first and last are at most --window apart.
Bursts that share a failure are reported as one, with its first and last
failure, its count, and the addresses it came from (a user's burst) or the
users it tried (an address's burst). A slow trickle, fewer failures than
the threshold in any window, is no burst. --failed is implied. Without
--since, --until or --period it looks at the last 7 days.

The store reads the failures in time order with memory bounded by the
window, so a year of events is no problem.

With --exit-status, exit with status 1 when a burst is found (and 0 when
none is), so that cron or a monitoring check can alert on it; errors exit
with 2 or more. Piped, each burst is one tab-separated line.`,
		Example: `  # Bursts of 5 failures within 10 minutes last week
  audit stats logins --period last-week

  # Stricter, per source address only, as JSON
  audit stats logins --threshold 10 --window 1m --by ip -o json

  # In cron: mail the bursts of the last hour, if any
  audit stats logins --since 1h --exit-status || echo "brute force suspected"`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Threshold < 2 {
				return cmdutil.FlagErrorf("invalid --threshold %d: want at least 2 failures", opts.Threshold)
			}
			if opts.Window <= 0 {
				return cmdutil.FlagErrorf("invalid --window %s: want a positive duration, e.g. 10m or 1h", opts.Window)
			}
			for _, s := range opts.Filter.Types {
				if t, err := audit.ParseType(s); err == nil && t != audit.TypeLogin {
					return cmdutil.FlagErrorf("invalid --type %s: stats logins looks at login events only", s)
				}
			}
			if o, err := audit.ParseOutcome(opts.Filter.Outcome); opts.Filter.Outcome != "" && err == nil && o == audit.OutcomeSuccess {
				return cmdutil.FlagErrorf("--outcome success contradicts stats logins, which looks at failures")
			}
			opts.By = nil
			for _, s := range by {
				d, err := audit.ParseDimension(s)
				if err != nil || (d != audit.DimUser && d != audit.DimIP) {
					return cmdutil.FlagErrorf("invalid --by %q (accepted: user, ip)", s)
				}
				if !slices.Contains(opts.By, d) {
					opts.By = append(opts.By, d)
				}
			}
			if err := cmdutil.ResolveStatsOutput(f, cmd, &opts.Output); err != nil {
				return err
			}
			opts.Location = f.Location()
			if runF != nil {
				return runF(opts)
			}
			return loginsRun(cmd.Context(), opts)
		},
	}
	cmdutil.AddFilterFlags(cmd, &opts.Filter)
	cmd.Flags().IntVar(&opts.Threshold, "threshold", DefaultThreshold, "failures that make a burst, at least 2")
	cmd.Flags().DurationVar(&opts.Window, "window", DefaultWindow, "longest time from the first to the last of --threshold failures (e.g. 30s, 10m, 1h)")
	cmd.Flags().StringSliceVar(&by, "by", []string{"user", "ip"}, "report bursts per user, per source ip, or both")
	cmd.Flags().BoolVar(&opts.ExitStatus, "exit-status", false, "exit 1 when any burst is found")
	cmdutil.AddStatsOutputFlags(cmd, &opts.Output, &opts.NoHeaders)
	return cmd
}

func loginsRun(ctx context.Context, opts *LoginsOptions) error {
	now := opts.Now()
	filter, _, err := opts.Filter.Filter(now, opts.Location)
	if err != nil {
		return err
	}
	st, err := statser(opts.Store)
	if err != nil {
		return err
	}
	defaultWindow(opts.IO, &filter, now, opts.Location, true)
	q := audit.BurstQuery{Filter: filter, Threshold: opts.Threshold, Window: opts.Window}
	all, err := st.Bursts(ctx, q)
	if err != nil {
		return err
	}
	by := opts.By
	if len(by) == 0 {
		by = []audit.Dimension{audit.DimUser, audit.DimIP}
	}
	bursts := make([]audit.Burst, 0, len(all))
	for _, b := range all {
		if slices.Contains(by, b.By) {
			bursts = append(bursts, b)
		}
	}
	opts.IO.StartPager()
	defer opts.IO.StopPager()
	oo := cmdutil.StatsOutputOptions(opts.IO, opts.Output, opts.NoHeaders, now, opts.Location)
	if err := output.PrintBursts(opts.IO.Out, bursts, oo); err != nil {
		return err
	}
	if len(bursts) == 0 && opts.IO.IsStdoutTTY() {
		fmt.Fprintf(opts.IO.ErrOut, "No bursts of %d or more failed logins within %s.\n", opts.Threshold, formatWindow(opts.Window))
	}
	if len(bursts) > 0 && opts.ExitStatus {
		return &cmdutil.ExitError{Code: 1}
	}
	return nil
}

// formatWindow writes a window as people do: "10m", "1h30m", "45s".
func formatWindow(d time.Duration) string {
	s := d.String()
	for _, unit := range []string{"h0m0s", "m0s"} {
		if len(s) > len(unit) && s[len(s)-len(unit):] == unit {
			return s[:len(s)-len(unit)+1]
		}
	}
	if len(s) > 2 && s[len(s)-2:] == "0s" && (s[len(s)-3] == 'm' || s[len(s)-3] == 'h') {
		return s[:len(s)-2]
	}
	return s
}
