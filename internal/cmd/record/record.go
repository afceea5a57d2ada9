// Package record implements `audit record`.
package record

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/cmdutil"
	"github.com/audit-cli/audit/internal/iostreams"
	"github.com/audit-cli/audit/internal/retry"
	"github.com/audit-cli/audit/internal/timeexpr"
)

// RecordOptions holds what a record run needs.
type RecordOptions struct {
	IO       *iostreams.IOStreams
	Store    func() (audit.Store, error)
	Now      func() time.Time
	Location *time.Location

	Event       audit.Event
	Time        string
	Failed      bool
	AllowFuture bool
}

// NewCmdRecord returns the record command. runF replaces recordRun in tests.
func NewCmdRecord(f *cmdutil.Factory, runF func(*RecordOptions) error) *cobra.Command {
	opts := &RecordOptions{IO: f.IOStreams, Store: f.Store, Now: f.Now}
	var typ, outcome string
	cmd := &cobra.Command{
		Use:   "record --user LOGIN --type TYPE [flags]",
		Short: "Record one audit event",
		Long: `Record one audit event and print its id on stdout.

The event gets a new UUIDv7 id unless --id gives one; recording the same id
twice stores the event once. The time is now unless --time says otherwise.
The store file is created on first write.`,
		Example: `  audit record --user jdavis --user-name "John Davis" --type update \
    --action Updated --resource-type server --resource bbb-node-1 \
    --details "Changed load_multiplier from 1.0 to 1.5" --ip 192.168.1.100

  # A failed login
  audit record --user mjohnson --type login --action "Portal Access" \
    --details "Invalid password" --ip 203.45.67.89 --failed`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Location = f.Location()
			if typ == "" {
				return cmdutil.FlagErrorf("--type is required (accepted: login, logout, create, update, delete, security)")
			}
			t, err := audit.ParseType(typ)
			if err != nil {
				return cmdutil.FlagErrorf("invalid --type: %v", err)
			}
			opts.Event.Type = t
			if outcome != "" {
				o, err := audit.ParseOutcome(outcome)
				if err != nil {
					return cmdutil.FlagErrorf("invalid --outcome: %v", err)
				}
				opts.Event.Outcome = o
			}
			if opts.Failed {
				opts.Event.Outcome = audit.OutcomeFailure
			}
			if runF != nil {
				return runF(opts)
			}
			return recordRun(cmd, opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Event.ID, "id", "", "event id (default: a new UUIDv7)")
	fl.StringVar(&opts.Time, "time", "", "when it happened: a time expression (default now)")
	fl.StringVarP(&opts.Event.User, "user", "u", "", "actor's login; system for automated actions (required)")
	fl.StringVar(&opts.Event.UserName, "user-name", "", "actor's display name, e.g. \"John Davis\"")
	fl.StringVarP(&typ, "type", "t", "", "login, logout, create, update, delete or security (required)")
	fl.StringVar(&opts.Event.Action, "action", "", "short verb phrase, e.g. Updated, \"MFA Enabled\"")
	fl.StringVar(&opts.Event.ResourceType, "resource-type", "", "kind of resource, e.g. server, alert_rule, api_key")
	fl.StringVar(&opts.Event.Resource, "resource", "", "resource name, e.g. bbb-node-1")
	fl.StringVar(&opts.Event.Details, "details", "", "what changed, e.g. \"Changed load_multiplier from 1.0 to 1.5\"")
	fl.StringVar(&opts.Event.IP, "ip", "", "client IPv4 or IPv6 address")
	fl.StringVar(&outcome, "outcome", "", "success (default) or failure")
	fl.BoolVar(&opts.Failed, "failed", false, "the action failed (same as --outcome failure)")
	fl.BoolVar(&opts.AllowFuture, "allow-future", false, "accept a --time more than 5 minutes in the future")
	return cmd
}

// busyWait is how long record waits for a store that another writer holds.
const busyWait = 2 * time.Minute

func recordRun(cmd *cobra.Command, opts *RecordOptions) error {
	e := opts.Event
	now := opts.Now()
	e.Time = now
	if opts.Time != "" {
		t, err := timeexpr.Parse(opts.Time, now, opts.Location)
		if err != nil {
			return cmdutil.FlagErrorf("--time: %v", err)
		}
		e.Time = t
	}
	if e.ID == "" {
		e.ID = audit.NewID()
	}
	err := e.Normalize()
	if err == nil && !opts.AllowFuture {
		err = audit.CheckNotFuture(&e, now)
	}
	if err != nil {
		var fe *audit.FieldError
		if errors.As(err, &fe) {
			return cmdutil.FlagErrorf("invalid --%s: %s", flagName(fe.Field), fe.Reason)
		}
		return cmdutil.FlagErrorWrap(err)
	}
	st, err := opts.Store()
	if err != nil {
		return err
	}
	batch := []audit.Event{e}
	// Another writer (a long import) may hold the store for a while: wait
	// for it rather than fail. The id makes a retry store the event once.
	var res audit.AppendResult
	told := false
	err = retry.Do(cmd.Context(), retry.Policy{For: busyWait, First: 100 * time.Millisecond,
		Retryable: func(err error) bool { return errors.Is(err, audit.ErrBusy) },
		OnRetry: func(error, time.Duration) {
			if !told && opts.IO.IsStderrTTY() {
				fmt.Fprintln(opts.IO.ErrOut, "The store is busy with another writer; waiting…")
				told = true
			}
		}}, func() error {
		var err error
		res, err = st.Append(cmd.Context(), batch)
		return err
	})
	if err != nil {
		return fmt.Errorf("recording event: %w", err)
	}
	fmt.Fprintln(opts.IO.Out, e.ID)
	if res.Existing > 0 && opts.IO.IsStderrTTY() {
		fmt.Fprintf(opts.IO.ErrOut, "Event %s was already stored.\n", e.ID)
	}
	return nil
}

func flagName(field string) string {
	switch field {
	case "user_name":
		return "user-name"
	case "resource_type":
		return "resource-type"
	}
	return field
}
