// Package show implements `audit show`.
package show

import (
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/cmdutil"
	"github.com/audit-cli/audit/internal/iostreams"
	"github.com/audit-cli/audit/internal/output"
)

// ShowOptions holds what a show run needs.
type ShowOptions struct {
	IO       *iostreams.IOStreams
	Store    func() (audit.Store, error)
	Now      func() time.Time
	Location *time.Location

	IDs    []string
	Output cmdutil.OutputFlags
}

// NewCmdShow returns the show command. runF replaces showRun in tests.
func NewCmdShow(f *cmdutil.Factory, runF func(*ShowOptions) error) *cobra.Command {
	opts := &ShowOptions{IO: f.IOStreams, Store: f.Reader(), Now: f.Now}
	cmd := &cobra.Command{
		Use:   "show ID...",
		Short: "Show audit events in full",
		Long: `Show every field of one audit event: id, seq, time, user, type, action,
resource, details, IP address, outcome, its hash-chain value, where it was
imported from (source) and, for an imported event, the producer's
original record (raw).

With -o json one event prints as one JSON object; several IDs print one
object a line (JSON Lines), in the order given. An ID that is not stored
is an error after the others are printed.`,
		Example: `  audit show 01937c3e-8a4b-7d2e-9f1a-2b3c4d5e6f70
  audit show 01937c3e-8a4b-7d2e-9f1a-2b3c4d5e6f70 -o json | jq .details
  audit list --failed -n 3 -o template --template '{{.ID}}{{"\n"}}' | xargs audit show`,
		Args: cmdutil.MinimumArgs(1, "one or more event IDs"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.IDs = args
			opts.Location = f.Location()
			if !cmd.Flags().Changed("output") && !cmd.Flags().Changed("fields") && !cmd.Flags().Changed("jq") {
				opts.Output.Format = "" // key: value form unless a format is asked for
			} else if err := opts.Output.Resolve(f, cmd); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return showRun(cmd, opts)
		},
	}
	cmdutil.AddOutputFlags(cmd, &opts.Output)
	return cmd
}

func showRun(cmd *cobra.Command, opts *ShowOptions) error {
	st, err := opts.Store()
	if err != nil {
		return err
	}
	if opts.Output.Format == "json" {
		// One event is one object, not an array of one; several are
		// JSON Lines.
		opts.Output.Format = "jsonl"
	}
	// show prints an event in full: its original record too.
	opts.Output.WithRaw = true
	opts.IO.StartPager()
	defer opts.IO.StopPager()
	var p output.Printer
	if opts.Output.Format != "" {
		if p, err = opts.Output.Printer(opts.IO, opts.Now(), opts.Location, false); err != nil {
			return err
		}
	}
	var missing error
	for i, id := range opts.IDs {
		e, err := st.Get(cmd.Context(), id)
		if errors.Is(err, audit.ErrNotFound) && len(opts.IDs) > 1 {
			missing = errors.Join(missing, err)
			continue
		}
		if err != nil {
			return err
		}
		if p != nil {
			if err := p.Print(&e); err != nil {
				return err
			}
			continue
		}
		if i > 0 {
			fmt.Fprintln(opts.IO.Out)
		}
		if err := showFields(opts, &e); err != nil {
			return err
		}
	}
	if p != nil {
		if err := p.Close(); err != nil {
			return err
		}
	}
	return missing
}

// showFields prints e as "Field: value" lines.
func showFields(opts *ShowOptions, e *audit.Event) error {
	tw := tabwriter.NewWriter(opts.IO.Out, 0, 4, 2, ' ', 0)
	when := audit.FormatTime(e.Time)
	if opts.IO.IsStdoutTTY() {
		when += "  (" + output.FormatDisplayTime(e.Time, opts.Now(), opts.Location) + ")"
	}
	rows := [][2]string{
		{"ID", e.ID},
		{"Seq", fmt.Sprint(e.Seq)},
		{"Time", when},
		{"User", e.User},
		{"User name", e.UserName},
		{"Type", string(e.Type)},
		{"Action", e.Action},
		{"Resource type", e.ResourceType},
		{"Resource", e.Resource},
		{"Details", e.Details},
		{"IP address", e.IP},
		{"Outcome", string(e.Outcome)},
		{"Hash", e.Hash},
		{"Source", e.SourceName()},
	}
	if len(e.Raw) > 0 {
		rows = append(rows, [2]string{"Raw", string(e.Raw)})
	}
	for _, r := range rows {
		fmt.Fprintf(tw, "%s:\t%s\n", r[0], output.Sanitize(r[1]))
	}
	return tw.Flush()
}
