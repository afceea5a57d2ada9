// Package list implements `audit list`.
package list

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/cmdutil"
	"github.com/audit-cli/audit/internal/iostreams"
)

// DefaultLimit is how many events list shows unless -n says otherwise.
const DefaultLimit = 50

// ListOptions holds what a list run needs.
type ListOptions struct {
	IO       *iostreams.IOStreams
	Store    func() (audit.Store, error)
	Now      func() time.Time
	Location *time.Location

	Filter     cmdutil.FilterFlags
	Limit      int
	Reverse    bool
	Output     cmdutil.OutputFlags
	ExitStatus bool
}

// NewCmdList returns the list command. runF replaces listRun in tests.
func NewCmdList(f *cmdutil.Factory, runF func(*ListOptions) error) *cobra.Command {
	opts := &ListOptions{IO: f.IOStreams, Store: f.Reader(), Now: f.Now}
	cmd := &cobra.Command{
		Use:   "list [flags]",
		Short: "List audit events, newest first",
		Long: `List audit events matching the filters, newest first, like the audit-log
page of the web console: USER, ACTION (action, resource and details),
IP ADDRESS and TIME.

On a terminal the table is colored by action type and fits the width of
the window. When the output is piped, every event is one tab-separated
line with the login and an RFC 3339 time, so grep, cut and awk work.

At most 50 events are shown unless -n says otherwise (-n 0 shows all); a
note on stderr says when more exist. Filters AND together; repeated
values of one filter OR together.`,
		Example: `  # What jdavis did since yesterday, security events only
  audit list --user jdavis --type security --since yesterday

  # Failed logins of last week, oldest first
  audit list --type login --failed --period last-week --reverse -n 0

  # Everything from one subnet, as JSON lines
  audit list --ip 10.0.0.0/8 -n 0 -o jsonl | jq -r '.user'

  # Who touched bbb-node-1?
  audit list --resource bbb-node-1 -o wide`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Limit < 0 {
				return cmdutil.FlagErrorf("invalid --limit %d: want a number >= 0 (0 = all)", opts.Limit)
			}
			if err := opts.Output.Resolve(f, cmd); err != nil {
				return err
			}
			opts.Location = f.Location()
			if runF != nil {
				return runF(opts)
			}
			return listRun(cmd.Context(), opts)
		},
	}
	cmdutil.AddFilterFlags(cmd, &opts.Filter)
	cmd.Flags().IntVarP(&opts.Limit, "limit", "n", DefaultLimit, "show at most `N` events (0 = all)")
	cmd.Flags().BoolVar(&opts.Reverse, "reverse", false, "oldest first")
	cmd.Flags().BoolVar(&opts.ExitStatus, "exit-status", false, "exit 1 when no event matches")
	cmdutil.AddOutputFlags(cmd, &opts.Output)
	return cmd
}

func listRun(ctx context.Context, opts *ListOptions) error {
	now := opts.Now()
	filter, _, err := opts.Filter.Filter(now, opts.Location)
	if err != nil {
		return err
	}
	filter.Order = audit.Descending
	if opts.Reverse {
		filter.Order = audit.Ascending
	}
	if opts.Limit > 0 {
		// One more than shown tells whether to add the "more exist" note.
		filter.Limit = opts.Limit + 1
	}
	st, err := opts.Store()
	if err != nil {
		return err
	}
	opts.IO.StartPager()
	defer opts.IO.StopPager()
	p, err := opts.Output.Printer(opts.IO, now, opts.Location, false)
	if err != nil {
		return err
	}
	n, more := 0, false
	for e, err := range st.Query(ctx, filter) {
		if err != nil {
			p.Close()
			return err
		}
		if opts.Limit > 0 && n == opts.Limit {
			more = true
			break
		}
		if err := p.Print(&e); err != nil {
			p.Close()
			return err
		}
		n++
	}
	if err := p.Close(); err != nil {
		return err
	}
	// The notes come after the pager is done, under what it showed.
	opts.IO.StopPager()
	if more {
		which := "newest"
		if opts.Reverse {
			which = "oldest"
		}
		fmt.Fprintf(opts.IO.ErrOut, "Showing the %s %d; more events match (-n N shows more, -n 0 all).\n", which, n)
	}
	if n == 0 && opts.IO.IsStdoutTTY() {
		// On a terminal an empty answer is said, not left blank; piped,
		// no output is the answer.
		note := "No events match."
		if active := opts.Filter.Describe(); active != "" {
			note = "No events match " + active + "."
		}
		fmt.Fprintln(opts.IO.ErrOut, note)
	}
	if n == 0 && opts.ExitStatus {
		return &cmdutil.ExitError{Code: 1}
	}
	return nil
}
