// Package watch implements `audit watch`.
package watch

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/cmdutil"
	"github.com/audit-cli/audit/internal/cursor"
	"github.com/audit-cli/audit/internal/iostreams"
	"github.com/audit-cli/audit/internal/output"
)

// DefaultLines is how many past events watch shows before following, unless
// -n, --since, --after or --cursor-file say otherwise.
const DefaultLines = 10

// Retry delays after the store failed: the first wait, doubled on each
// failure in a row up to the last.
const (
	DefaultRetryMin = 250 * time.Millisecond
	DefaultRetryMax = 5 * time.Second
)

// WatchOptions holds what a watch run needs.
type WatchOptions struct {
	IO       *iostreams.IOStreams
	Store    func() (audit.Store, error)
	Now      func() time.Time
	Location *time.Location

	Filter cmdutil.FilterFlags
	Output cmdutil.OutputFlags
	// Lines is the backlog: how many past matching events to print first.
	Lines int
	// LinesSet tells that -n was given, so it applies together with
	// --since, --after and --cursor-file, which otherwise replace it.
	LinesSet bool
	// Count ends the run after that many printed events, backlog
	// included; 0: never.
	Count int
	// CursorFile, when set, is where the seq of every printed event is
	// saved, and where a run resumes.
	CursorFile string

	// RetryMin and RetryMax bound the wait before following again after
	// the store failed; zero means DefaultRetryMin and DefaultRetryMax.
	RetryMin, RetryMax time.Duration
	// CursorSync is how often, at most, the cursor file is fsynced; zero
	// means cursor.DefaultCursorSync.
	CursorSync time.Duration

	// Alert, when active, turns watch into an alerting job.
	Alert AlertFlags
}

// NewCmdWatch returns the watch command. runF replaces watchRun in tests.
func NewCmdWatch(f *cmdutil.Factory, runF func(context.Context, *WatchOptions) error) *cobra.Command {
	opts := &WatchOptions{IO: f.IOStreams, Store: f.Store, Now: f.Now}
	cmd := &cobra.Command{
		Use:   "watch [flags]",
		Short: "Follow the audit log live, like tail -f",
		Long: `Print the newest events matching the filters, oldest first, then every
new matching event as soon as it is recorded, until interrupted (Ctrl-C),
which ends watch with exit status 0.

Where it starts:
  by default     the last 10 matching events (-n N for N, -n 0 for none)
  --since TIME   every matching event since TIME (with -n N: the last N
                 of them)
  --after SEQ    every matching event with a larger seq (with -n N: the
                 last N of them)
  --cursor-file  after the seq saved in the file; see below

Every output format streams: the table has its header once and fixed
column widths, and each event is written (and flushed) as it arrives, so
"watch -o jsonl | while read -r e; do …; done" sees it at once. -o json,
a single array that would never be closed, is refused: use -o jsonl.
--until and --period are refused too: watch follows a log without end
(use "audit list" for a closed span of time). --since keeps filtering the
new events by their time as well.

--count N ends watch after N printed events, the backlog included.

--cursor-file PATH makes watch resumable, for alerting jobs: the seq of
every printed event is written to PATH (atomically, as it goes; forced to
disk at least every 100 ms), and a later watch with the same PATH
continues right after it, with no event lost and none repeated; -n,
--since and --after are then ignored. When PATH does not exist yet,
watch starts with the new events only (or where -n, --since or --after
say) and creates it at once. One watch per cursor file.

When the store fails (the server is down, the file is not a store),
watch says so once on stderr, retries with a growing delay of up to 5
seconds, and resumes after the last event it printed. A SQLite store
file that does not exist yet is waited for, and so is one that is
locked, removed or replaced while watched. When the reader of the output
goes away (a closed pipe), watch ends quietly with status 0.

Alerts: with --exec, --webhook, --syslog or --burst, watch acts on the new
matching events instead of printing them, and prints one line per alert.
--burst N/DURATION alerts once for N events of one group (--group-by
user, ip or resource) within DURATION, then stays quiet for --cooldown
(default: the window); without it, every event is an alert. Beyond
--max-per-minute (20) alerts a minute, the rest go out as one summary.
--exec runs a shell command with the alert as JSON on stdin and
AUDIT_ALERT_* / AUDIT_EVENT_* variables; --webhook POSTs the JSON (with a
"text" that Slack and Mattermost show), signed with X-Audit-Signature:
sha256=HMAC when --webhook-secret-file or AUDIT_WEBHOOK_SECRET gives a
secret. Delivery is at least once: failures are retried with backoff for
--retry-for (10m), then written to the dead-letter file, and the
--cursor-file moves past an event only after that, so a restart misses
nothing. Named rules live in the config file: see "audit alerts".`,
		Example: `  # During an incident: failed security events and logins, live
  audit watch --type security,login --failed

  # Every new event as one JSON object a line, nothing from the past
  audit watch -n 0 -o jsonl | while read -r e; do echo "$e" | jq -r .action; done

  # An alerting job that resumes where it stopped, across restarts
  audit watch --cursor-file /var/lib/audit/alerts.cursor -o jsonl

  # Everything of the last hour, then what comes
  audit watch --since 1h

  # Wait for the next five failed logins of jdavis, then exit
  audit watch --user jdavis --type login --failed -n 0 --count 5

  # Brute force: 5 failed logins from one address within 10 minutes, to chat
  audit watch --type login --failed --burst 5/10m --group-by ip \
    --webhook https://chat.example/hooks/T000/B000 --cursor-file /var/lib/audit/bf.cursor

  # Page someone for every security change, with the event on stdin
  audit watch --type security --exec 'jq -r .text | page-oncall'`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			fl := cmd.Flags()
			for _, name := range []string{"until", "period"} {
				if fl.Changed(name) {
					return cmdutil.FlagErrorf("--%s is not supported by watch, which follows the live log without end: use --since, or \"audit list --%s …\" for a closed span of time", name, name)
				}
			}
			if opts.Lines < 0 {
				return cmdutil.FlagErrorf("invalid --lines %d: want a number >= 0 (0 = no past events)", opts.Lines)
			}
			if opts.Count < 0 {
				return cmdutil.FlagErrorf("invalid --count %d: want a number >= 0 (0 = no end)", opts.Count)
			}
			if fl.Changed("cursor-file") && opts.CursorFile == "" {
				return cmdutil.FlagErrorf("--cursor-file needs a file path")
			}
			opts.LinesSet = fl.Changed("lines") || fl.Changed("limit")
			if err := opts.Alert.validate(cmd); err != nil {
				return err
			}
			if err := opts.Output.Resolve(f, cmd); err != nil {
				return err
			}
			if opts.Output.Format == "json" {
				return cmdutil.FlagErrorf("-o json writes one JSON array, which watch would never close: use -o jsonl (one JSON object a line)")
			}
			opts.Location = f.Location()
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			if opts.Alert.active() {
				return alertRun(cmd.Context(), opts)
			}
			// A reader that goes away must end watch with an error from
			// the write (handled in watchRun), not kill it with SIGPIPE.
			pipe := make(chan os.Signal, 1)
			signal.Notify(pipe, syscall.SIGPIPE)
			defer signal.Stop(pipe)
			return watchRun(cmd.Context(), opts)
		},
	}
	cmdutil.AddFilterFlags(cmd, &opts.Filter)
	cmd.Flags().IntVarP(&opts.Lines, "lines", "n", DefaultLines, "print the last `N` matching events first (0 = none)")
	// --limit is the name -n has on list and export (docs/design.md §2).
	cmd.Flags().IntVar(&opts.Lines, "limit", DefaultLines, "same as --lines")
	_ = cmd.Flags().MarkHidden("limit")
	cmd.Flags().IntVar(&opts.Count, "count", 0, "exit after `N` printed events, the first ones included (0 = never)")
	cmd.Flags().StringVar(&opts.CursorFile, "cursor-file", "", "resume after the seq saved in `PATH`, and save each printed event's seq there")
	cmdutil.AddOutputFlags(cmd, &opts.Output)
	addAlertFlags(cmd, &opts.Alert)
	return cmd
}

// errCountReached ends following once --count events are printed.
var errCountReached = errors.New("count reached")

// writeError is a failure to write the output, as opposed to one of the store.
type writeError struct{ err error }

func (e *writeError) Error() string { return "write output: " + e.err.Error() }
func (e *writeError) Unwrap() error { return e.err }

// watcher is the state of one watch run.
type watcher struct {
	opts    *WatchOptions
	ctx     context.Context
	filter  audit.Filter
	printer output.Printer
	cursor  *cursor.File

	last    int64 // every matching event up to this seq has been printed
	printed int

	retry    time.Duration // the next wait after a failure
	outage   bool          // a failure was reported and no event arrived since
	wentBack bool          // a seq not after w.last was reported and no new one arrived since
}

func watchRun(ctx context.Context, opts *WatchOptions) error {
	now := opts.Now()
	filter, _, err := opts.Filter.Filter(now, opts.Location)
	if err != nil {
		return err
	}
	w := &watcher{opts: opts, ctx: ctx, filter: filter}
	if opts.RetryMin <= 0 {
		opts.RetryMin = DefaultRetryMin
	}
	if opts.RetryMax <= 0 {
		opts.RetryMax = DefaultRetryMax
	}
	w.retry = opts.RetryMin

	resume, resumed := int64(0), false
	if opts.CursorFile != "" {
		w.cursor = cursor.New(opts.CursorFile, opts.CursorSync)
		if resume, resumed, err = w.cursor.Load(); err != nil {
			return err
		}
	}

	var st audit.Store
	var start int64
	for {
		st, start, err = w.start(resume, resumed)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return nil
		}
		if !errors.Is(err, audit.ErrUnavailable) {
			return err
		}
		if !w.wait(err, "waiting for the store") {
			return nil
		}
	}
	w.last = start
	w.outage, w.retry = false, opts.RetryMin
	if w.cursor != nil && !resumed {
		// Saved before anything is printed, so that a restart before the
		// first event still starts from here, not from a later head.
		if err := w.cursor.Save(start); err != nil {
			return err
		}
	}

	w.printer, err = opts.Output.Printer(opts.IO, now, opts.Location, true)
	if err != nil {
		return quiet(err)
	}
	err = w.follow(st)
	if cerr := w.printer.Close(); err == nil && cerr != nil {
		err = &writeError{cerr}
	}
	if w.cursor != nil {
		if cerr := w.cursor.Close(); err == nil {
			err = cerr
		}
	}
	return quiet(err)
}

// quiet turns the ends of a run that are not failures into nil: an
// interrupt, --count reached, or the reader of the output gone.
func quiet(err error) error {
	var we *writeError
	switch {
	case err == nil, errors.Is(err, errCountReached):
		return nil
	case errors.Is(err, syscall.EPIPE):
		return nil
	case errors.Is(err, context.Canceled) && !errors.As(err, &we):
		return nil
	}
	return err
}

// start opens the store and finds where following starts: the seq after
// which every matching event is to be printed.
func (w *watcher) start(resume int64, resumed bool) (audit.Store, int64, error) {
	st, err := w.opts.Store()
	if err != nil {
		return nil, 0, err
	}
	if resumed {
		return st, resume, nil
	}
	lines := w.opts.Lines
	if !w.opts.LinesSet {
		switch {
		case !w.filter.Since.IsZero() || w.filter.After > 0:
			// Everything since then: Follow streams the backlog itself.
			return st, w.filter.After, nil
		case w.cursor != nil:
			lines = 0
		}
	}
	if p, ok := st.(interface{ Path() string }); ok {
		if _, err := os.Stat(p.Path()); errors.Is(err, os.ErrNotExist) {
			// A store file not created yet holds no events: every event
			// it will get is new. Follow waits for the file.
			fmt.Fprintf(w.opts.IO.ErrOut, "audit: watch: no audit store at %s yet; waiting for the first event\n", p.Path())
			return st, w.filter.After, nil
		}
	}
	// The head is read first, and the backlog only up to it, so that an
	// event recorded in between is followed, not lost.
	head, err := w.head(st)
	if err != nil {
		return nil, 0, err
	}
	start := max(head, w.filter.After)
	if lines == 0 || head <= w.filter.After {
		return st, start, nil
	}
	// The backlog is the last N matching events; following from just
	// before the oldest of them prints them, oldest first, and all that
	// comes after.
	f := w.filter
	f.Before, f.Order, f.Limit = head+1, audit.Descending, lines
	for e, err := range st.Query(w.ctx, f) {
		if err != nil {
			return nil, 0, err
		}
		start = e.Seq - 1
	}
	return st, start, nil
}

// head returns the seq of the newest event in the store, 0 when empty.
func (w *watcher) head(st audit.Store) (int64, error) {
	for e, err := range st.Query(w.ctx, audit.Filter{Order: audit.Descending, Limit: 1}) {
		if err != nil {
			return 0, err
		}
		return e.Seq, nil
	}
	return 0, nil
}

// follow prints what the store streams after w.last, following it again
// from there after a failure, until the context is done, --count is
// reached, or the output or the cursor cannot be written.
func (w *watcher) follow(st audit.Store) error {
	for {
		began := time.Now()
		err := w.followOnce(st)
		var we *writeError
		switch {
		case w.ctx.Err() != nil:
			return nil
		case errors.Is(err, errCountReached), errors.As(err, &we):
			return err
		case err == nil:
			err = errors.New("the store ended the stream")
		case fatal(err):
			return err
		}
		if time.Since(began) >= w.opts.RetryMax {
			// It worked for a while: this is a new outage.
			w.outage, w.retry = false, w.opts.RetryMin
		}
		if !w.wait(err, fmt.Sprintf("will resume after seq %d", w.last)) {
			return nil
		}
	}
}

// followOnce prints events from one Follow of the store.
func (w *watcher) followOnce(st audit.Store) error {
	f := w.filter
	f.After = w.last
	for e, err := range st.Follow(w.ctx, f) {
		if err != nil {
			return err
		}
		if e.Seq <= w.last {
			// Every seq up to w.last is printed already: output and
			// cursor stay in strictly increasing seq order, resuming
			// after the cursor whatever the store does.
			if !w.wentBack {
				w.wentBack = true
				fmt.Fprintf(w.opts.IO.ErrOut, "audit: watch: the store went back to seq %d, before the last printed seq %d (was its file replaced?): skipping to seq %d\n", e.Seq, w.last, w.last+1)
			}
			continue
		}
		w.wentBack = false
		if err := w.printer.Print(&e); err != nil {
			return &writeError{err}
		}
		w.last = e.Seq
		w.printed++
		w.outage, w.retry = false, w.opts.RetryMin
		if w.cursor != nil {
			if err := w.cursor.Save(e.Seq); err != nil {
				return &writeError{err}
			}
		}
		if w.opts.Count > 0 && w.printed >= w.opts.Count {
			return errCountReached
		}
	}
	return nil
}

// fatal reports whether retrying after err cannot help.
func fatal(err error) bool {
	var fe *cmdutil.FlagError
	return errors.As(err, &fe) ||
		errors.Is(err, audit.ErrInvalid) ||
		errors.Is(err, audit.ErrUnauthorized) ||
		errors.Is(err, audit.ErrForbidden)
}

// wait reports err on stderr, once per outage, and waits before the next
// try, longer after each failure in a row. It returns false when the
// context is done first.
func (w *watcher) wait(err error, plan string) bool {
	if !w.outage {
		w.outage = true
		fmt.Fprintf(w.opts.IO.ErrOut, "audit: watch: %v\naudit: watch: retrying every few seconds; %s\n", err, plan)
	}
	t := time.NewTimer(w.retry)
	defer t.Stop()
	w.retry = min(2*w.retry, w.opts.RetryMax)
	select {
	case <-w.ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
