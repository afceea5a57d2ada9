package watch

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/audit-cli/audit/internal/alert"
	"github.com/audit-cli/audit/internal/build"
	"github.com/audit-cli/audit/internal/cmdutil"
	"github.com/audit-cli/audit/internal/cursor"
	"github.com/audit-cli/audit/internal/output"
)

// AlertFlags are watch's alert rule and targets: with any of them, watch
// acts on events instead of printing them.
type AlertFlags struct {
	Exec              []string
	Webhooks          []string
	WebhookSecretFile string
	Syslog            bool
	Burst             string
	GroupBy           string
	Cooldown          time.Duration
	MaxPerMinute      int
	DeadLetter        string
	RetryFor          time.Duration

	// RetryFirst and RetryMax shape the retries of a delivery; zero means
	// alert's defaults (tests shorten them).
	RetryFirst, RetryMax time.Duration
}

// DefaultMaxPerMinute bounds the alerts of one minute unless
// --max-per-minute says otherwise.
const DefaultMaxPerMinute = 20

func addAlertFlags(cmd *cobra.Command, a *AlertFlags) {
	fl := cmd.Flags()
	fl.StringArrayVar(&a.Exec, "exec", nil, "run `CMD` (with /bin/sh) for every alert: the alert as JSON on stdin, AUDIT_ALERT_* and AUDIT_EVENT_* in the environment (repeatable)")
	fl.StringArrayVar(&a.Webhooks, "webhook", nil, "POST every alert as JSON (with a Slack/Mattermost \"text\") to `URL` (repeatable)")
	fl.StringVar(&a.WebhookSecretFile, "webhook-secret-file", "", "sign webhook bodies with the secret in `FILE` (header X-Audit-Signature: sha256=HMAC); or env AUDIT_WEBHOOK_SECRET")
	fl.BoolVar(&a.Syslog, "syslog", false, "write every alert to the system log (facility auth; burst: alert, failed: warning, security: notice)")
	fl.StringVar(&a.Burst, "burst", "", "alert once for `N/DURATION` matching events of one group (--group-by) instead of each, e.g. 5/10m")
	fl.StringVar(&a.GroupBy, "group-by", "", "with --burst: count per user, ip or resource (default: all together)")
	fl.DurationVar(&a.Cooldown, "cooldown", 0, "with --burst: how long a group stays quiet after its alert (default: the burst's window)")
	fl.IntVar(&a.MaxPerMinute, "max-per-minute", DefaultMaxPerMinute, "at most `N` alerts a minute; the rest are sent as one summary (0: no bound)")
	fl.StringVar(&a.DeadLetter, "dead-letter", "", "append alerts that could not be delivered to `FILE` (default: next to --cursor-file, else under $XDG_STATE_HOME/audit)")
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
	if a.Burst != "" {
		if _, _, err := alert.ParseBurst(a.Burst); err != nil {
			return cmdutil.FlagErrorf("invalid --burst: %v", err)
		}
	} else if fl.Changed("group-by") || fl.Changed("cooldown") {
		return cmdutil.FlagErrorf("--group-by and --cooldown go with --burst N/DURATION")
	}
	if a.GroupBy != "" {
		if _, err := alert.ParseGroupBy(a.GroupBy); err != nil {
			return cmdutil.FlagErrorf("invalid --group-by: %v", err)
		}
	}
	if a.Cooldown < 0 || a.MaxPerMinute < 0 || a.RetryFor <= 0 {
		return cmdutil.FlagErrorf("--cooldown and --max-per-minute must not be negative, --retry-for must be positive")
	}
	for _, u := range a.Webhooks {
		if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
			return cmdutil.FlagErrorf("invalid --webhook %q: want an http:// or https:// URL", u)
		}
	}
	for _, name := range []string{"until", "period"} {
		if fl.Changed(name) {
			return cmdutil.FlagErrorf("--%s does not go with alerts, which act on new events", name)
		}
	}
	return nil
}

// rule is the rule the flags describe.
func (a *AlertFlags) rule(opts *WatchOptions) (*alert.Rule, error) {
	f, _, err := opts.Filter.Filter(opts.Now(), opts.Location)
	if err != nil {
		return nil, err
	}
	r := &alert.Rule{Name: "watch", Filter: f, MaxPerMinute: a.MaxPerMinute}
	if a.Burst != "" {
		n, w, _ := alert.ParseBurst(a.Burst)
		r.Burst = &alert.Burst{Count: n, Window: w, GroupBy: a.GroupBy, Cooldown: a.Cooldown}
	}
	return r, nil
}

// Targets builds the targets the flags name.
func (a *AlertFlags) targets() ([]alert.Target, error) {
	var ts []alert.Target
	for _, c := range a.Exec {
		ts = append(ts, &alert.Exec{Command: c})
	}
	if len(a.Webhooks) > 0 {
		secret, err := WebhookSecret(a.WebhookSecretFile)
		if err != nil {
			return nil, err
		}
		for _, u := range a.Webhooks {
			ts = append(ts, &alert.Webhook{URL: u, Secret: secret, Agent: "audit/" + build.Version})
		}
	}
	if a.Syslog {
		ts = append(ts, &alert.Syslog{})
	}
	return ts, nil
}

// WebhookSecret reads the webhook signing secret: the file, else the
// environment's AUDIT_WEBHOOK_SECRET, else none.
func WebhookSecret(file string) ([]byte, error) {
	if file == "" {
		return []byte(os.Getenv("AUDIT_WEBHOOK_SECRET")), nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, cmdutil.FlagErrorf("--webhook-secret-file: %v", err)
	}
	secret := strings.TrimSpace(string(b))
	if secret == "" {
		return nil, cmdutil.FlagErrorf("--webhook-secret-file %s is empty", file)
	}
	return []byte(secret), nil
}

// DefaultDeadLetter is where an alert's dead letters go: next to its
// cursor file, else under $XDG_STATE_HOME/audit.
func DefaultDeadLetter(cursorFile, name string) string {
	if cursorFile != "" {
		return cursorFile + ".dead-letter.jsonl"
	}
	dir := os.Getenv("XDG_STATE_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return ""
		}
		dir = filepath.Join(home, ".local", "state")
	}
	return filepath.Join(dir, "audit", "alerts", name+".dead-letter.jsonl")
}

// alertRun is watch with an alert: it delivers the alerts of new events
// at least once and prints a line for each on stdout.
func alertRun(ctx context.Context, opts *WatchOptions) error {
	a := &opts.Alert
	rule, err := a.rule(opts)
	if err != nil {
		return err
	}
	targets, err := a.targets()
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
		r.DeadLetter = DefaultDeadLetter(opts.CursorFile, rule.Name)
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
