package cli

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/cmdutil"
	"github.com/audit-cli/audit/internal/config"
	"github.com/audit-cli/audit/internal/output"
	"github.com/audit-cli/audit/internal/store"
	"github.com/audit-cli/audit/internal/timeexpr"
)

// Completion of --user asks the store for the users of its most recent
// events: at most userScanLimit events, within userTimeout, so that a TAB
// never hangs on a slow or unreachable store.
const (
	userScanLimit = 500
	userTimeout   = 300 * time.Millisecond
)

// RegisterCompletions walks the command tree under root and registers
// completion of flag values by flag name, so command packages need not know
// about completion: a flag means the same on every command (docs/design.md §2):
//
//	--type          the six event types (a comma list where it takes one)
//	--outcome       success, failure
//	--output        the formats its help lists, where -o takes a format (not
//	                where it takes a FILE, as on export: files are completed)
//	--format        the formats its help lists (export, import)
//	--by            stats' dimensions, as a comma list
//	--period        period keywords, the current month and ISO week
//	--since, --until, --time, --before: time expressions, e.g. 7d, yesterday
//	--color         auto, always, never
//	--context       the contexts of the config file
//	--user          the users of the store's recent events
//	--role          read, write, admin
//	show ID …       the ids of the newest events, described by action and user
//
// Flags of free text (--search, --ip, --limit, …) complete nothing rather
// than file names. The NAME of `audit config use-context`, delete-context
// and set-context completes the contexts of the config file. A flag that a
// command package registered a completion for itself keeps it. Call it
// once, after the tree is built.
func RegisterCompletions(root *cobra.Command, f *cmdutil.Factory) {
	var walk func(*cobra.Command)
	walk = func(cmd *cobra.Command) {
		// LocalFlags holds the flags defined on cmd, persistent ones
		// included, but not those inherited from its parents: each flag is
		// registered once, on the command that owns it.
		cmd.LocalFlags().VisitAll(func(fl *pflag.Flag) {
			if _, ok := cmd.GetFlagCompletionFunc(fl.Name); ok {
				return
			}
			if fn := flagCompletion(f, cmd, fl); fn != nil {
				_ = cmd.RegisterFlagCompletionFunc(fl.Name, fn)
			}
		})
		if p := cmd.Parent(); p != nil && p.Name() == "config" && contextArgCommands[cmd.Name()] &&
			cmd.ValidArgsFunction == nil && len(cmd.ValidArgs) == 0 {
			cmd.ValidArgsFunction = func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
				if len(args) > 0 {
					return nil, cobra.ShellCompDirectiveNoFileComp
				}
				return completeContexts(cmd, args, toComplete)
			}
		}
		if cmd.Name() == "show" && cmd.Parent() == root && cmd.ValidArgsFunction == nil {
			cmd.ValidArgsFunction = completeIDs
		}
		for _, c := range cmd.Commands() {
			walk(c)
		}
	}
	walk(root)
}

// contextArgCommands are the subcommands of `audit config` whose first
// argument is the name of a context.
var contextArgCommands = map[string]bool{"use-context": true, "delete-context": true, "set-context": true}

// freeText lists flags whose values are typed, not chosen: they complete
// nothing instead of file names.
var freeText = map[string]bool{
	"action": true, "resource": true, "resource-type": true, "ip": true,
	"search": true, "after": true, "limit": true, "lines": true, "count": true,
	"template": true, "token": true, "details": true, "user-name": true, "id": true,
	"name": true, "expires": true, "listen": true, "max-body": true, "max-page": true,
	"max-watchers": true, "read-header-timeout": true, "shutdown-timeout": true,
	"top": true, "threshold": true, "window": true, "expect-head": true, "from-seq": true,
	"to-seq": true,
}

// flagCompletion returns the completion function for fl of cmd, or nil to
// leave cobra's default (file names).
func flagCompletion(f *cmdutil.Factory, cmd *cobra.Command, fl *pflag.Flag) cobra.CompletionFunc {
	switch fl.Name {
	case "type":
		names := make([]string, len(audit.Types))
		for i, t := range audit.Types {
			names[i] = string(t)
		}
		if fl.Value.Type() == "stringSlice" {
			return commaList(names)
		}
		return fixed(names...)
	case "outcome":
		return fixed(string(audit.OutcomeSuccess), string(audit.OutcomeFailure))
	case "color":
		return fixed("auto", "always", "never")
	case "role":
		return fixed(
			cobra.CompletionWithDesc("read", "list, show, export, watch, stats"),
			cobra.CompletionWithDesc("write", "read, and record, import"),
			cobra.CompletionWithDesc("admin", "write, and tokens, prune"))
	case "output":
		// -o is a format on most commands but a FILE on export.
		if name, _ := pflag.UnquoteUsage(fl); name != "format" {
			return nil
		}
		if v := listedValues(fl.Usage); v != nil {
			return fixed(v...)
		}
		return fixed(output.Formats...)
	case "format":
		if v := listedValues(fl.Usage); v != nil {
			return fixed(v...)
		}
		return cobra.NoFileCompletions
	case "by":
		v := listedValues(fl.Usage)
		if v == nil && cmd.Name() == "logins" {
			v = []string{"user", "ip"}
		}
		if v == nil {
			return cobra.NoFileCompletions
		}
		return commaList(v)
	case "sort":
		if cmd.Name() == "stats" {
			return fixed(
				cobra.CompletionWithDesc("count", "largest group first"),
				cobra.CompletionWithDesc("key", "in order of the grouping"))
		}
	case "period":
		return func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
			return periodCandidates(f.Now(), location(f)), cobra.ShellCompDirectiveNoFileComp
		}
	case "since", "until", "time", "before":
		return fixed(timeCandidates...)
	case "context":
		return completeContexts
	case "user":
		return completeUsers
	}
	if freeText[fl.Name] {
		return cobra.NoFileCompletions
	}
	return nil
}

// listedValues returns the values a flag's usage lists after a colon, as in
// "output `format`: table, csv, tsv, json, jsonl" or "`format`: csv, jsonl,
// json (default: …)", or nil when it lists none that way. Reading them from
// the help keeps completion and help from disagreeing.
func listedValues(usage string) []string {
	_, list, ok := strings.Cut(usage, ": ")
	if !ok {
		return nil
	}
	list, _, _ = strings.Cut(list, " (")
	values := strings.Split(list, ", ")
	if len(values) < 2 {
		return nil
	}
	for _, v := range values {
		if !isWord(v) {
			return nil
		}
	}
	return values
}

// isWord reports whether s is a lower-case keyword such as jsonl or
// resource_type.
func isWord(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// commaList completes a flag that takes a comma-separated list of values:
// after "security,lo" it offers "security,login" and "security,logout",
// leaving out the values already given.
func commaList(values []string) cobra.CompletionFunc {
	return func(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		prefix, given := "", map[string]bool{}
		if i := strings.LastIndex(toComplete, ","); i >= 0 {
			prefix = toComplete[:i+1]
			for _, v := range strings.Split(toComplete[:i], ",") {
				given[v] = true
			}
		}
		var c []cobra.Completion
		for _, v := range values {
			if !given[v] && strings.HasPrefix(prefix+v, toComplete) {
				c = append(c, prefix+v)
			}
		}
		return c, cobra.ShellCompDirectiveNoFileComp
	}
}

// fixed completes a fixed list of values and no file names.
func fixed(values ...string) cobra.CompletionFunc {
	return cobra.FixedCompletions(values, cobra.ShellCompDirectiveNoFileComp)
}

// periodCandidates lists the --period keywords and, as examples of the
// named forms, the current month and ISO week.
func periodCandidates(now time.Time, loc *time.Location) []cobra.Completion {
	c := []cobra.Completion{
		cobra.CompletionWithDesc("today", "since midnight"),
		cobra.CompletionWithDesc("yesterday", "the day before today"),
		cobra.CompletionWithDesc("this-week", "since Monday"),
		cobra.CompletionWithDesc("last-week", "the ISO week before this one, Monday to Sunday"),
		cobra.CompletionWithDesc("this-month", "since the first of the month"),
		cobra.CompletionWithDesc("last-month", "the calendar month before this one"),
	}
	if p, err := timeexpr.ParsePeriod("this-month", now, loc); err == nil {
		c = append(c, cobra.CompletionWithDesc(p.Name, "a month, YYYY-MM"))
	}
	if p, err := timeexpr.ParsePeriod("this-week", now, loc); err == nil {
		c = append(c, cobra.CompletionWithDesc(p.Name, "an ISO week, YYYY-Www"))
	}
	return c
}

// timeCandidates are examples of --since and --until time expressions.
var timeCandidates = []cobra.Completion{
	cobra.CompletionWithDesc("now", "this moment"),
	cobra.CompletionWithDesc("15m", "15 minutes ago"),
	cobra.CompletionWithDesc("1h", "an hour ago"),
	cobra.CompletionWithDesc("24h", "24 hours ago"),
	cobra.CompletionWithDesc("7d", "7 days ago"),
	cobra.CompletionWithDesc("2w", "2 weeks ago"),
	cobra.CompletionWithDesc("today", "midnight today"),
	cobra.CompletionWithDesc("yesterday", "midnight yesterday"),
	cobra.CompletionWithDesc("this-week", "Monday of this week"),
	cobra.CompletionWithDesc("last-week", "Monday of last week"),
	cobra.CompletionWithDesc("this-month", "the first of this month"),
	cobra.CompletionWithDesc("last-month", "the first of last month"),
	cobra.CompletionWithDesc("this-year", "January 1"),
}

// location is the zone of the run, local when the root command has not set
// it up (completion can run before it).
func location(f *cmdutil.Factory) *time.Location {
	if f.Location != nil {
		if loc := f.Location(); loc != nil {
			return loc
		}
	}
	return time.Local
}

// completeContexts completes --context with the contexts of the config
// file, each described by its store.
func completeContexts(cmd *cobra.Command, _ []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
	// No flags: a --context on the command line must not make loading fail
	// as an unknown context.
	cfg, err := config.Load(config.ExplicitPath(cmd.Flags()), pflag.NewFlagSet("completion", pflag.ContinueOnError))
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var c []cobra.Completion
	for _, name := range cfg.ContextNames() {
		c = append(c, cobra.CompletionWithDesc(name, cfg.Contexts[name].Store))
	}
	return c, cobra.ShellCompDirectiveNoFileComp
}

// completeUsers completes --user with the logins of the store's recent
// events, newest first, each described by its display name. An unreachable,
// missing or slow store completes nothing, silently.
func completeUsers(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	return fromStore(cmd, func(ctx context.Context, st audit.Store) []cobra.Completion {
		return recentUsers(ctx, st, toComplete)
	})
}

// completeIDs completes the ids of `audit show` with the newest events,
// each described by its action and user, leaving out those already given.
func completeIDs(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	return fromStore(cmd, func(ctx context.Context, st audit.Store) []cobra.Completion {
		var c []cobra.Completion
		for e, err := range st.Query(ctx, audit.Filter{Order: audit.Descending, Limit: idCompletions}) {
			if err != nil {
				return nil
			}
			if strings.HasPrefix(e.ID, toComplete) && !slices.Contains(args, e.ID) {
				c = append(c, cobra.CompletionWithDesc(e.ID, output.Sanitize(e.Action+" by "+e.User)))
			}
		}
		return c
	})
}

// idCompletions is how many of the newest events `show` completes.
const idCompletions = 50

// fromStore runs fn on the store the command line names (--config,
// --store, --context and --token as given), within userTimeout: opening a
// store may block without a context (a PostgreSQL or HTTP dial), and the
// goroutine is abandoned when the time is up. A store that does not exist
// is not created.
func fromStore(cmd *cobra.Command, fn func(context.Context, audit.Store) []cobra.Completion) ([]cobra.Completion, cobra.ShellCompDirective) {
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, userTimeout)
	defer cancel()
	done := make(chan []cobra.Completion, 1)
	go func() {
		cfg, err := config.Load(config.ExplicitPath(cmd.Flags()), cmd.Flags())
		if err != nil {
			done <- nil
			return
		}
		key, err := cfg.ChainKey()
		if err != nil {
			done <- nil
			return
		}
		st, err := store.Open(cfg.Store, store.Options{ChainKey: key, Token: cfg.Token})
		if err != nil {
			done <- nil
			return
		}
		defer st.Close()
		done <- fn(ctx, st)
	}()
	select {
	case c := <-done:
		return c, cobra.ShellCompDirectiveNoFileComp
	case <-ctx.Done():
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
}

func recentUsers(ctx context.Context, st audit.Store, toComplete string) []cobra.Completion {
	filter := audit.Filter{Order: audit.Descending, Limit: userScanLimit}
	if toComplete != "" && !strings.Contains(toComplete, "*") {
		filter.Users = []string{toComplete + "*"}
	}
	seen := map[string]bool{}
	var c []cobra.Completion
	for e, err := range st.Query(ctx, filter) {
		if err != nil {
			return nil
		}
		if e.User == "" || seen[e.User] {
			continue
		}
		seen[e.User] = true
		if e.UserName != "" && e.UserName != e.User {
			c = append(c, cobra.CompletionWithDesc(e.User, e.UserName))
		} else {
			c = append(c, e.User)
		}
	}
	return c
}
