// Package cli assembles the command tree, runs it, and maps what went wrong
// to a message and an exit code.
package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/audit-cli/audit/internal/cmd/alerts"
	"github.com/audit-cli/audit/internal/cmd/completion"
	"github.com/audit-cli/audit/internal/cmd/configcmd"
	"github.com/audit-cli/audit/internal/cmd/export"
	"github.com/audit-cli/audit/internal/cmd/importcmd"
	"github.com/audit-cli/audit/internal/cmd/list"
	"github.com/audit-cli/audit/internal/cmd/prune"
	"github.com/audit-cli/audit/internal/cmd/record"
	"github.com/audit-cli/audit/internal/cmd/serve"
	"github.com/audit-cli/audit/internal/cmd/show"
	"github.com/audit-cli/audit/internal/cmd/stats"
	"github.com/audit-cli/audit/internal/cmd/token"
	"github.com/audit-cli/audit/internal/cmd/verify"
	"github.com/audit-cli/audit/internal/cmd/version"
	"github.com/audit-cli/audit/internal/cmd/watch"
	"github.com/audit-cli/audit/internal/cmdutil"
	"github.com/audit-cli/audit/internal/config"
	"github.com/audit-cli/audit/internal/iostreams"
	"github.com/audit-cli/audit/internal/output"
	"github.com/audit-cli/audit/internal/suggest"
)

// Main runs the command line with os.Args and returns the exit code. It is
// the whole of cmd/audit's main, so tests can run the real tree in-process.
func Main() int {
	ios := iostreams.System()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	f, closeStore := NewFactory(ios)
	root := NewCmdRoot(f)
	root.SetArgs(os.Args[1:])
	err := root.ExecuteContext(ctx)
	if cerr := closeStore(); err == nil && cerr != nil {
		err = cerr
	}
	return Report(ios, err)
}

// Report prints err on stderr and returns its exit code. A message may
// quote what a user or a producer gave, so control characters in it are
// shown escaped (output.Sanitize): it cannot drive the terminal. The lines
// of the rare message written on several are kept.
func Report(ios *iostreams.IOStreams, err error) int {
	if err == nil {
		return ExitOK
	}
	code := ExitCode(err)
	var exitErr *cmdutil.ExitError
	if !errors.As(err, &exitErr) && !errors.Is(err, iostreams.ErrPagerQuit) {
		lines := strings.Split(err.Error(), "\n")
		for i := range lines {
			lines[i] = output.Sanitize(lines[i])
		}
		fmt.Fprintf(ios.ErrOut, "audit: %s\n", strings.Join(lines, "\n"))
	}
	return code
}

// NewFactory returns the Factory of a real run: config from flags, env and
// file; the store named by it, opened on first use.
func NewFactory(ios *iostreams.IOStreams) (*cmdutil.Factory, func() error) {
	f := &cmdutil.Factory{IOStreams: ios, Now: time.Now}
	// AUDIT_NOW pins the clock for reproducible runs: relative times,
	// periods and "Today" are read against it.
	if s := os.Getenv("AUDIT_NOW"); s != "" {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			f.Now = func() time.Time { return t }
		}
	}
	f.Config = func() (*config.Config, error) {
		return nil, errors.New("configuration not loaded")
	}
	f.Location = func() *time.Location { return time.Local }
	var closeStore func() error
	f.Store, f.ReadStore, closeStore = cmdutil.StoreOpener(func() (*config.Config, error) { return f.Config() })
	return f, closeStore
}

// NewCmdRoot returns the root command with every subcommand.
func NewCmdRoot(f *cmdutil.Factory) *cobra.Command {
	var configPath string
	cmd := &cobra.Command{
		Use:   "audit <command> [flags]",
		Short: "Review, export and watch an audit log",
		Long: `audit reviews, exports and watches the audit log of the service you run:
who did what, to which resource, from which IP address, and when.

Events live in a store: an embedded SQLite file by default
($XDG_DATA_HOME/audit/audit.db), a PostgreSQL server, or another
machine's "audit serve". Every command works the same against each.

Review the log weekly and investigate failed logins: repeated failures
may be a brute-force attack.`,
		Example: `  # What did jdavis change since yesterday?
  audit list --user jdavis --since yesterday

  # Failed logins this week, as JSON lines for jq
  audit list --type login --failed --period this-week -o jsonl | jq -r .ip

  # Record an event from a script
  audit record --user jdavis --type update --action Updated \
    --resource-type server --resource bbb-node-1 \
    --details "Changed load_multiplier from 1.0 to 1.5" --ip 192.168.1.100`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return setup(f, cmd, configPath)
		},
	}
	cmd.CompletionOptions.HiddenDefaultCmd = true
	pf := cmd.PersistentFlags()
	pf.String("store", "", "store `address`: a SQLite path, postgres://…, or http(s)://… of an audit serve (env AUDIT_STORE)")
	pf.String("read-store", "", "read store `address`: a streaming standby of the store, for list, show, export, stats and serve's reads (env AUDIT_READ_STORE)")
	pf.StringVar(&configPath, "config", "", "config `file` (default $XDG_CONFIG_HOME/audit/config.yaml)")
	pf.String("color", "auto", "color output: auto, always, never")
	pf.Bool("utc", false, "read and show times in UTC instead of the local zone")
	pf.String("context", "", "use the named store context from the config file")
	pf.String("token", "", "bearer token for a remote store (env AUDIT_TOKEN)")
	pf.Bool("no-pager", false, "do not page output on a terminal (AUDIT_PAGER, PAGER, else less -FRX)")
	// Help longer than the screen is paged too (the config file's pager
	// is not read for help: it may be what is broken).
	defaultHelp := cmd.HelpFunc()
	cmd.SetHelpFunc(func(c *cobra.Command, args []string) {
		if noPager, _ := c.Flags().GetBool("no-pager"); !noPager {
			f.IOStreams.SetPager(iostreams.PagerCommand(false, ""))
			f.IOStreams.StartPager()
			c.SetOut(f.IOStreams.Out)
			defer f.IOStreams.StopPager()
		}
		defaultHelp(c, args)
	})
	cmd.SetFlagErrorFunc(flagError)

	cmd.AddCommand(list.NewCmdList(f, nil))
	cmd.AddCommand(record.NewCmdRecord(f, nil))
	cmd.AddCommand(importcmd.NewCmdImport(f, nil))
	cmd.AddCommand(show.NewCmdShow(f, nil))
	cmd.AddCommand(watch.NewCmdWatch(f, nil))
	cmd.AddCommand(export.NewCmdExport(f, nil))
	cmd.AddCommand(verify.NewCmdVerify(f, nil))
	cmd.AddCommand(prune.NewCmdPrune(f, nil))
	cmd.AddCommand(stats.NewCmdStats(f, nil))
	cmd.AddCommand(serve.NewCmdServe(f, nil))
	cmd.AddCommand(token.NewCmdToken(f, nil))
	cmd.AddCommand(alerts.NewCmdAlerts(f, nil))
	cmd.AddCommand(configcmd.NewCmdConfig(f, nil))
	cmd.AddCommand(completion.NewCmdCompletion(f, nil))
	cmd.AddCommand(version.NewCmdVersion(f, nil))
	cmd.AddCommand(templatesTopic, timeTopic)
	version.SetRootVersion(cmd)
	RegisterCompletions(cmd, f)
	return cmd
}

// setup loads the configuration once the flags are parsed and decides
// color and zone for the whole run.
func setup(f *cmdutil.Factory, cmd *cobra.Command, configPath string) error {
	if configPath == "" {
		configPath = os.Getenv("AUDIT_CONFIG")
	}
	cfg, err := config.Load(configPath, cmd.Flags())
	if err != nil {
		return cmdutil.FlagErrorWrap(err)
	}
	f.Config = func() (*config.Config, error) { return cfg, nil }
	if err := f.IOStreams.SetColorMode(cfg.Color); err != nil {
		return cmdutil.FlagErrorWrap(err)
	}
	loc, err := cfg.Location()
	if err != nil {
		return cmdutil.FlagErrorWrap(err)
	}
	f.Location = func() *time.Location { return loc }
	if noPager, _ := cmd.Flags().GetBool("no-pager"); !noPager {
		f.IOStreams.SetPager(iostreams.PagerCommand(cfg.PagerSet, cfg.Pager))
	}
	return nil
}

// badFlagValue is pflag's message for a value its type cannot parse.
var badFlagValue = regexp.MustCompile(`^invalid argument "(.*)" for "(.*)" flag: (.*)$`)

// flagError words pflag's errors for users: the nearest flag for an
// unknown one, and what a flag's value must look like instead of the Go
// function that refused it.
func flagError(c *cobra.Command, err error) error {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "unknown flag: --"); ok {
		var names []string
		c.Flags().VisitAll(func(f *pflag.Flag) {
			if !f.Hidden {
				names = append(names, f.Name)
			}
		})
		if near := suggest.Closest(name, names); near != "" {
			return cmdutil.FlagErrorf("unknown flag --%s: did you mean --%s? (see %s --help)", name, near, c.CommandPath())
		}
		return cmdutil.FlagErrorf("unknown flag --%s (see %s --help)", name, c.CommandPath())
	}
	if m := badFlagValue.FindStringSubmatch(msg); m != nil {
		value, flag, why := m[1], strings.ReplaceAll(m[2], ", ", "/"), m[3]
		switch {
		case strings.HasPrefix(why, "strconv.ParseInt"), strings.HasPrefix(why, "strconv.ParseUint"):
			why = "want a whole number"
		case strings.HasPrefix(why, "strconv.ParseFloat"):
			why = "want a number"
		case strings.HasPrefix(why, "strconv.ParseBool"):
			why = "want true or false"
		case strings.HasPrefix(why, "time: "):
			why = "want a duration such as 30s, 5m or 1h30m"
		}
		return cmdutil.FlagErrorf("invalid %s %q: %s", flag, value, why)
	}
	return cmdutil.FlagErrorWrap(err)
}

// templatesTopic is `audit help templates`.
var templatesTopic = &cobra.Command{
	Use:   "templates",
	Short: "The fields and functions of --template",
	Long: `--template (or -o template --template T) prints each event through a Go
text/template. What it prints for an event ends its line; an event it
prints nothing for prints no line, so a template can select.

Fields:
  .ID .Seq .Time .User .UserName .Type .Action .ResourceType .Resource
  .Details .IP .Outcome .Hash .Source .Raw

Functions, besides text/template's own (if, with, eq, printf, …):
  {{time .Time}}              the time in RFC 3339, UTC
  {{action .}}                the ACTION column's text
  {{humanize .ResourceType}}  the resource type in words (alert_rule: Alert Rule)
  {{json .}}, {{json .Raw}}   the event, or a value, as JSON

A misspelt field is a usage error (exit 2) before anything is printed.

Examples:
  audit list --template '{{time .Time}} {{.User}} {{.Type}} {{.IP}}'
  audit list --type security --template '{{.UserName}}: {{action .}}'
  audit list --failed --template '{{if .IP}}{{.IP}}{{else}}-{{end}} {{.User}}'
  audit list --source cloudtrail --template '{{json .Raw}}' | jq .userAgent`,
}

// timeTopic is `audit help time`.
var timeTopic = &cobra.Command{
	Use:   "time",
	Short: "The time expressions of --since, --until and --period",
	Long: `--since and --until (and record --time, prune --before) take:

  a duration ago      90s  15m  24h  7d  2w
  journalctl's forms  -2d (ago)  +1h (ahead)  "2 days ago"  "15 min ago"
                      @1764000000 and @1764000000.25 (seconds since 1970)
  a keyword           now, today, yesterday, tomorrow, this-week, last-week,
                      this-month, last-month, this-year, last-year
                      (the start of that period; weeks start on Monday)
  a date              2026-11-20 (its midnight)
  a date and time     "2026-11-20 14:00", 2026-11-20T14:00:05
  RFC 3339            2026-11-20T14:00:05Z, 2026-11-20T15:00:05+01:00

--since is inclusive, --until exclusive. Times without a zone are in the
local zone; --utc or the config's timezone setting changes it. d and w are
calendar days, so 1d across a daylight saving change is 23 or 25 hours.

--period takes a closed calendar period and sets both ends: today,
yesterday, this-week, last-week, this-month, last-month, this-year,
last-year, a year (2026), a month (2026-11), an ISO week (2026-W47) or a
day (2026-11-20).

Examples:
  audit list --since yesterday
  audit list --since "2 hours ago" --type login --failed
  audit list --since -2d --until @1764000000
  audit export --period last-week -o audit-{period}.csv`,
}
