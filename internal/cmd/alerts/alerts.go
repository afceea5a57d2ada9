// Package alerts implements `audit alerts list|status|test`: the named
// alert rules of the config file, which `audit serve --alerts` runs.
package alerts

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/audit-cli/audit/internal/alert"
	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/cmdutil"
	"github.com/audit-cli/audit/internal/config"
	"github.com/audit-cli/audit/internal/cursor"
	"github.com/audit-cli/audit/internal/iostreams"
	"github.com/audit-cli/audit/internal/output"
	"github.com/audit-cli/audit/internal/timeexpr"
)

// DefaultTestSince is how far back `alerts test` replays by default.
const DefaultTestSince = "24h"

// AlertsOptions holds what an alerts run needs.
type AlertsOptions struct {
	IO       *iostreams.IOStreams
	Store    func() (audit.Store, error)
	Config   func() (*config.Config, error)
	Now      func() time.Time
	Location *time.Location

	Name   string
	Since  string
	Output string
}

// NewCmdAlerts returns the alerts command and its subcommands. runF, when
// set, replaces the runs in tests; it gets the subcommand's name.
func NewCmdAlerts(f *cmdutil.Factory, runF func(string, *AlertsOptions) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "alerts <command>",
		Short: "List, check and try the alert rules of the config file",
		Long: `Alert rules act on what the log records: a command, a webhook or syslog
for every matching event, or once for a burst of them (N within a
window, per user, address or resource). "audit watch --burst …
--webhook URL" runs one rule from the command line; named rules live in
the config file under alerts: and run inside "audit serve --alerts".

  alerts:
    - name: brute-force
      type: login
      failed: true
      burst: 5/10m
      group-by: ip
      webhook: https://chat.example/hooks/T000/B000
      webhook-secret-file: /etc/audit-cli/webhook.secret
    - name: security-changes
      type: security
      exec: /usr/local/bin/page-oncall
      syslog: true

Every alert is delivered at least once: a rule's cursor moves past an
event only after its alerts were delivered (retried with backoff) or
written to the rule's dead-letter file. Cursors and dead letters live
under $XDG_STATE_HOME/audit/alerts. See docs/alerts.md.`,
		Example: `  # The rules of the config file
  audit alerts list

  # Where each rule is, and what could not be delivered
  audit alerts status

  # What brute-force would have sent over the last week, without sending
  audit alerts test brute-force --since 7d`,
		Args: cmdutil.NoArgs,
	}
	newOpts := func() *AlertsOptions {
		return &AlertsOptions{IO: f.IOStreams, Store: f.Store, Now: f.Now,
			Config: func() (*config.Config, error) { return f.Config() }}
	}
	run := func(name string, opts *AlertsOptions, fn func(context.Context, *AlertsOptions) error) func(*cobra.Command, []string) error {
		return func(c *cobra.Command, args []string) error {
			if len(args) > 0 {
				opts.Name = args[0]
			}
			opts.Location = f.Location()
			if runF != nil {
				return runF(name, opts)
			}
			return fn(c.Context(), opts)
		}
	}

	lo := newOpts()
	list := &cobra.Command{
		Use:     "list",
		Short:   "List the alert rules of the config file",
		Example: "  audit alerts list\n  audit alerts list -o json",
		Args:    cmdutil.NoArgs,
		RunE:    run("list", lo, listRun),
	}
	list.Flags().StringVarP(&lo.Output, "output", "o", "table", "format: table or json")

	so := newOpts()
	status := &cobra.Command{
		Use:   "status",
		Short: "Show each rule's cursor and the alerts it could not deliver",
		Long: `Show, for each alert rule of the config file, the seq its cursor is at,
how many events it is behind the store, and its dead letters: the
alerts that could not be delivered after all retries, with the last
error. Exit status 1 when a rule has dead letters.`,
		Example: "  audit alerts status\n  audit alerts status -o json | jq '.[] | select(.dead_letters > 0)'",
		Args:    cmdutil.NoArgs,
		RunE:    run("status", so, statusRun),
	}
	status.Flags().StringVarP(&so.Output, "output", "o", "table", "format: table or json")

	to := newOpts()
	test := &cobra.Command{
		Use:   "test NAME",
		Short: "Replay the log against a rule and print what it would have sent",
		Long: `Replay the events of the last 24 hours (or --since) against the rule
NAME of the config file and print the alerts it would have fired, bursts
and summaries included, exactly as the live rule fires them. Nothing is
sent, and the rule's cursor does not move.`,
		Example: "  audit alerts test brute-force\n  audit alerts test brute-force --since 7d -o jsonl",
		Args:    cmdutil.ExactArgs(1, "an alert rule's name"),
		RunE:    run("test", to, testRun),
	}
	test.Flags().StringVar(&to.Since, "since", DefaultTestSince, "replay the events since this `time`")
	test.Flags().StringVarP(&to.Output, "output", "o", "text", "format: text or jsonl")
	test.ValidArgsFunction = func(c *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		cfg, err := f.Config()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var names []string
		for _, a := range cfg.Alerts {
			names = append(names, a.Name)
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	}
	cmd.AddCommand(list, status, test)
	return cmd
}

func rules(opts *AlertsOptions) ([]cmdutil.ConfigAlert, error) {
	cfg, err := opts.Config()
	if err != nil {
		return nil, err
	}
	return cmdutil.ConfigAlerts(cfg)
}

func checkFormat(got string, accepted ...string) error {
	if slices.Contains(accepted, got) {
		return nil
	}
	return cmdutil.InvalidValue("--output", got, accepted)
}

type ruleInfo struct {
	Name    string   `json:"name"`
	Filter  string   `json:"filter"`
	Burst   string   `json:"burst,omitempty"`
	GroupBy string   `json:"group_by,omitempty"`
	Targets []string `json:"targets"`
}

func listRun(ctx context.Context, opts *AlertsOptions) error {
	if err := checkFormat(opts.Output, "table", "json"); err != nil {
		return err
	}
	rs, err := rules(opts)
	if err != nil {
		return err
	}
	var infos []ruleInfo
	for _, r := range rs {
		info := ruleInfo{Name: r.Name, Filter: r.Filter.Describe(), Burst: r.Spec.Burst, GroupBy: r.Spec.GroupBy, Targets: []string{}}
		targets, err := r.Spec.Targets()
		if err != nil {
			return fmt.Errorf("alert %s: %w", r.Name, err)
		}
		for _, t := range targets {
			info.Targets = append(info.Targets, t.Name())
		}
		infos = append(infos, info)
	}
	if opts.Output == "json" {
		return writeJSON(opts, infos)
	}
	if len(infos) == 0 {
		fmt.Fprintln(opts.IO.ErrOut, "No alert rules: add them to the config file under alerts: (audit alerts --help).")
		return nil
	}
	tw := tabwriter.NewWriter(opts.IO.Out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tFILTER\tBURST\tTARGETS")
	for _, i := range infos {
		burst := i.Burst
		if burst == "" {
			burst = "every event"
		} else if i.GroupBy != "" {
			burst += " per " + i.GroupBy
		}
		filter := i.Filter
		if filter == "" {
			filter = "(all events)"
		}
		targets := strings.Join(i.Targets, ", ")
		if targets == "" {
			targets = "(none: test only)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", output.Sanitize(i.Name), filter, burst, output.Sanitize(targets))
	}
	return tw.Flush()
}

type ruleStatus struct {
	Name        string    `json:"name"`
	Cursor      *int64    `json:"cursor"`
	Behind      int64     `json:"behind"` // matching events after the cursor; -1: unknown
	DeadLetters int       `json:"dead_letters"`
	LastFailure time.Time `json:"last_failure,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
	CursorFile  string    `json:"cursor_file"`
	DeadLetter  string    `json:"dead_letter_file"`
}

func statusRun(ctx context.Context, opts *AlertsOptions) error {
	if err := checkFormat(opts.Output, "table", "json"); err != nil {
		return err
	}
	rs, err := rules(opts)
	if err != nil {
		return err
	}
	var st audit.Store
	if len(rs) > 0 {
		if st, err = opts.Store(); err != nil {
			return err
		}
	}
	var out []ruleStatus
	failing := false
	for _, r := range rs {
		s := ruleStatus{Name: r.Name, CursorFile: r.Cursor, DeadLetter: r.DeadLetter}
		if seq, ok, err := cursor.New(r.Cursor, 0).Load(); err != nil {
			return err
		} else if ok {
			s.Cursor = &seq
			if s.Behind, err = behind(ctx, st, &r, seq, opts); err != nil {
				return err
			}
		}
		letters, err := alert.ReadDeadLetters(r.DeadLetter)
		if err != nil {
			return err
		}
		s.DeadLetters = len(letters)
		if n := len(letters); n > 0 {
			s.LastFailure, s.LastError = letters[n-1].Time, letters[n-1].Target+": "+letters[n-1].Error
			failing = true
		}
		out = append(out, s)
	}
	if opts.Output == "json" {
		if out == nil {
			out = []ruleStatus{}
		}
		if err := writeJSON(opts, out); err != nil {
			return err
		}
	} else if len(out) == 0 {
		fmt.Fprintln(opts.IO.ErrOut, "No alert rules: add them to the config file under alerts: (audit alerts --help).")
	} else {
		tw := tabwriter.NewWriter(opts.IO.Out, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tCURSOR\tBEHIND\tDEAD LETTERS\tLAST FAILURE")
		for _, s := range out {
			cur, behind := "not started", "-"
			if s.Cursor != nil {
				cur = strconv.FormatInt(*s.Cursor, 10)
				if s.Behind >= 0 {
					behind = strconv.FormatInt(s.Behind, 10)
				}
			}
			last := "-"
			if s.DeadLetters > 0 {
				last = output.FormatDisplayTime(s.LastFailure, opts.Now(), opts.Location) + ": " + output.Sanitize(s.LastError)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", output.Sanitize(s.Name), cur, behind, s.DeadLetters, last)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if failing {
		return &cmdutil.ExitError{Code: 1}
	}
	return nil
}

// behind counts the events the rule matches after its cursor: what it has
// still to handle. -1 when the store cannot count.
func behind(ctx context.Context, st audit.Store, r *cmdutil.ConfigAlert, seq int64, opts *AlertsOptions) (int64, error) {
	sts, ok := st.(audit.Statser)
	if !ok {
		return -1, nil
	}
	rule, err := r.Spec.Rule(r.Name, &r.Filter, opts.Now(), opts.Location)
	if err != nil {
		return 0, err
	}
	f := rule.Filter
	f.After = max(f.After, seq)
	res, err := sts.Stats(ctx, audit.StatsQuery{Filter: f})
	return res.Total, err
}

func testRun(ctx context.Context, opts *AlertsOptions) error {
	if err := checkFormat(opts.Output, "text", "jsonl"); err != nil {
		return err
	}
	rs, err := rules(opts)
	if err != nil {
		return err
	}
	r, err := cmdutil.FindConfigAlert(rs, opts.Name)
	if err != nil {
		return err
	}
	now := opts.Now()
	since, err := timeexpr.Parse(opts.Since, now, opts.Location)
	if err != nil {
		return cmdutil.FlagErrorf("--since: %v", err)
	}
	rule, err := r.Spec.Rule(r.Name, &r.Filter, now, opts.Location)
	if err != nil {
		return err
	}
	st, err := opts.Store()
	if err != nil {
		return err
	}
	f := rule.Filter
	if f.Since.Before(since) {
		f.Since = since
	}
	alerts, err := alert.Replay(st.Query(ctx, f), []*alert.Rule{rule})
	if err != nil {
		return err
	}
	for _, a := range alerts {
		if opts.Output == "jsonl" {
			b, err := json.Marshal(&a)
			if err != nil {
				return err
			}
			if _, err := fmt.Fprintf(opts.IO.Out, "%s\n", b); err != nil {
				return err
			}
			continue
		}
		if _, err := fmt.Fprintln(opts.IO.Out, output.Sanitize(a.Text)); err != nil {
			return err
		}
	}
	if opts.IO.IsStderrTTY() || opts.Output == "text" {
		fmt.Fprintf(opts.IO.ErrOut, "Rule %s over the events since %s: %d alerts would have been sent (nothing was sent).\n",
			r.Name, output.FormatDisplayTime(since, now, opts.Location), len(alerts))
	}
	return nil
}

func writeJSON(opts *AlertsOptions, v any) error {
	enc := json.NewEncoder(opts.IO.Out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
