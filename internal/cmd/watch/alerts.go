package watch

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/audit-cli/audit/internal/alert"
	"github.com/audit-cli/audit/internal/cmdutil"
	"github.com/audit-cli/audit/internal/cursor"
	"github.com/audit-cli/audit/internal/output"
)

// AlertFlags are watch's alert rule and targets: with any of them, watch
// acts on events instead of printing them.
type AlertFlags struct {
	cmdutil.AlertSpec
	DeadLetter string
	RetryFor   time.Duration

	// RetryFirst and RetryMax shape the retries of a delivery; zero means
	// alert's defaults (tests shorten them).
	RetryFirst, RetryMax time.Duration
}

func addAlertFlags(cmd *cobra.Command, a *AlertFlags) {
	fl := cmd.Flags()
	fl.StringArrayVar(&a.Exec, "exec", nil, "run `CMD` (with /bin/sh) for every alert: the alert as JSON on stdin, AUDIT_ALERT_* and AUDIT_EVENT_* in the environment (repeatable)")
	fl.StringArrayVar(&a.Webhooks, "webhook", nil, "POST every alert as JSON (with a Slack/Mattermost \"text\") to `URL` (repeatable)")
	fl.StringVar(&a.WebhookSecretFile, "webhook-secret-file", "", "sign webhook bodies with the secret in `FILE` (header X-Audit-Signature: sha256=HMAC); or env AUDIT_WEBHOOK_SECRET")
	fl.BoolVar(&a.Syslog, "syslog", false, "write every alert to the system log (facility auth; burst: alert, failed: warning, security: notice)")
	fl.StringVar(&a.Burst, "burst", "", "alert once for `N/DURATION` matching events of one group (--group-by) instead of each, e.g. 5/10m")
	fl.StringVar(&a.GroupBy, "group-by", "", "with --burst: count per user, ip or resource (default: all together)")
	fl.DurationVar(&a.Cooldown, "cooldown", 0, "with --burst: how long a group stays quiet after its alert (default: the burst's window)")
	fl.IntVar(&a.MaxPerMinute, "max-per-minute", cmdutil.DefaultMaxPerMinute, "at most `N` alerts a minute; the rest are sent as one summary (0: no bound)")
	fl.StringVar(&a.DeadLetter, "dead-letter", "", "append alerts that could not be delivered to `FILE` (default: next to --cursor-file, else under $XDG_STATE_HOME/audit/alerts)")
	fl.DurationVar(&a.RetryFor, "retry-for", alert.DefaultRetryFor, "keep retrying a failed delivery this long (backoff with jitter) before its dead letter")
}

// active reports whether watch is to act on events.
func (a *AlertFlags) active() bool {
	return len(a.Exec) > 0 || len(a.Webhooks) > 0 || a.Syslog || a.Burst != ""
}

// validate checks the alert flags, as usage errors.
func (a *AlertFlags) validate(cmd *cobra.Command) error {
	fl := cmd.Flags()
	if !a.active() {
		for _, name := range []string{"group-by", "cooldown", "max-per-minute", "dead-letter", "retry-for", "webhook-secret-file"} {
			if fl.Changed(name) {
				return cmdutil.FlagErrorf("--%s goes with an alert: --burst, --exec, --webhook or --syslog", name)
			}
		}
		return nil
	}
	if a.RetryFor <= 0 {
		return cmdutil.FlagErrorf("invalid --retry-for %s: want a positive duration", a.RetryFor)
	}
	return a.AlertSpec.Validate()
}

// DefaultDeadLetter is where watch's dead letters go: next to its cursor
// file, else under cmdutil.AlertStateDir.
func DefaultDeadLetter(cursorFile string) string {
	if cursorFile != "" {
		return cursorFile + ".dead-letter.jsonl"
	}
	return filepath.Join(cmdutil.AlertStateDir(), "watch.dead-letter.jsonl")
}

// alertRun is watch with an alert: it delivers the alerts of new events
// at least once and prints a line for each on stdout.
func alertRun(ctx context.Context, opts *WatchOptions) error {
	a := &opts.Alert
	rule, err := a.Rule("watch", &opts.Filter, opts.Now(), opts.Location)
	if err != nil {
		return err
	}
	targets, err := a.Targets()
	if err != nil {
		return err
	}
	st, err := opts.Store()
	if err != nil {
		return err
	}
	r := &alert.Runner{Store: st, Rules: []*alert.Rule{rule}, Targets: targets, After: -1,
		RetryFor: a.RetryFor, RetryFirst: a.RetryFirst, RetryMax: a.RetryMax}
	if rule.Filter.After > 0 {
		r.After = rule.Filter.After
	}
	if opts.CursorFile != "" {
		r.Cursor = cursor.New(opts.CursorFile, opts.CursorSync)
	}
	r.DeadLetter = a.DeadLetter
	if r.DeadLetter == "" {
		r.DeadLetter = DefaultDeadLetter(opts.CursorFile)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex
	var werr error
	sent := 0
	jsonOut := opts.Output.Format == "jsonl"
	r.Sent = func(al *alert.Alert, err error) {
		mu.Lock()
		defer mu.Unlock()
		var line string
		if jsonOut {
			b, _ := json.Marshal(al)
			line = string(b)
		} else {
			line = output.Sanitize(al.Text)
			switch {
			case len(targets) == 0:
			case err != nil:
				line += " → NOT DELIVERED (dead letter in " + r.DeadLetter + "): " + output.Sanitize(err.Error())
			default:
				line += " → delivered"
			}
		}
		if _, e := fmt.Fprintln(opts.IO.Out, line); e != nil && werr == nil {
			werr = &writeError{e}
			cancel()
		}
		sent++
		if opts.Count > 0 && sent >= opts.Count {
			cancel()
		}
	}
	r.Problem = func(err error) {
		fmt.Fprintf(opts.IO.ErrOut, "audit: watch: %v\n", err)
	}
	err = r.Run(ctx)
	if r.Cursor != nil {
		if cerr := r.Cursor.Close(); err == nil {
			err = cerr
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if err == nil {
		err = werr
	}
	return quiet(err)
}
