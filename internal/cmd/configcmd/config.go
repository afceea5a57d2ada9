// Package configcmd implements `audit config`: the config file's store
// contexts.
package configcmd

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/audit-cli/audit/internal/cmdutil"
	"github.com/audit-cli/audit/internal/config"
	"github.com/audit-cli/audit/internal/iostreams"
	"github.com/audit-cli/audit/internal/output"
	"github.com/audit-cli/audit/internal/store"
	"github.com/audit-cli/audit/internal/suggest"
)

// ConfigOptions holds what a config run needs.
type ConfigOptions struct {
	IO *iostreams.IOStreams
	// Path is the config file: --config, AUDIT_CONFIG, or the default.
	Path string

	Name      string
	Store     string
	Token     string
	ReadStore string
}

// NewCmdConfig returns the config command and its subcommands. runF, when
// set, replaces the runs in tests; it gets the subcommand's name.
func NewCmdConfig(f *cmdutil.Factory, runF func(string, *ConfigOptions) error) *cobra.Command {
	opts := &ConfigOptions{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "config [command]",
		Short: "Show the effective configuration and manage store contexts",
		Long: `Show the config file ($XDG_CONFIG_HOME/audit/config.yaml, or --config)
and manage its contexts: named pairs of a store and a token, for the
deployments you work with. "audit --context NAME …" uses one for a single
command; "audit config use-context NAME" makes one the default.

A flag, AUDIT_STORE or AUDIT_TOKEN still overrides the context's value.
The file holds tokens: it is written with mode 0600, and "config view"
shows it with every token redacted.

Without a command, config prints the settings this run would use and
where each came from: a flag, an AUDIT_* variable, a context, the file,
or the default.`,
		Example: `  audit config                     # the effective settings and their sources
  audit --context prod config      # … with a context
  audit config set-context prod --store https://audit.example.com --token -  # token on stdin
  audit config set-context local --store ~/.local/share/audit/audit.db
  audit config use-context prod
  audit config get-contexts
  audit --context local list`,
		// The config commands read and write the file themselves: they
		// must work when its current context is broken, to repair it.
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			opts.Path = configPath(cmd)
			return nil
		},
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return nil
			}
			var names []string
			for _, c := range cmd.Commands() {
				names = append(names, c.Name())
			}
			if hint := suggest.Hint(args[0], names); hint != "" {
				return cmdutil.FlagErrorf("unknown config command %q: %s (commands: %s)", args[0], hint, strings.Join(names, ", "))
			}
			return cmdutil.FlagErrorf("unknown config command %q (commands: %s)", args[0], strings.Join(names, ", "))
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF("effective", opts)
			}
			return effectiveRun(cmd, opts)
		},
	}
	run := func(name string, fn func(*ConfigOptions) error) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				if err := config.CheckContextName(args[0]); err != nil {
					return cmdutil.FlagErrorWrap(err)
				}
				opts.Name = args[0]
			}
			if runF != nil {
				return runF(name, opts)
			}
			return fn(opts)
		}
	}

	view := &cobra.Command{
		Use:   "view",
		Short: "Print the config file, tokens redacted",
		Example: `  audit config view
  audit --config ./team.yaml config view`,
		Args: cmdutil.NoArgs,
		RunE: run("view", viewRun),
	}
	get := &cobra.Command{
		Use:     "get-contexts",
		Short:   "List the contexts; * marks the current one",
		Example: `  audit config get-contexts`,
		Args:    cmdutil.NoArgs,
		RunE:    run("get-contexts", getContextsRun),
	}
	current := &cobra.Command{
		Use:     "current-context",
		Short:   "Print the name of the current context",
		Example: `  audit config current-context`,
		Args:    cmdutil.NoArgs,
		RunE:    run("current-context", currentContextRun),
	}
	use := &cobra.Command{
		Use:     "use-context NAME",
		Short:   "Make NAME the context every command uses by default",
		Example: `  audit config use-context prod`,
		Args:    cmdutil.ExactArgs(1, "the NAME of a context"),
		RunE:    run("use-context", useContextRun),
	}
	set := &cobra.Command{
		Use:   "set-context NAME --store ADDRESS [--token TOKEN|-] [--read-store ADDRESS]",
		Short: "Create or change a context",
		Long: `Create the context NAME, or change the values given of an existing one.
--store is any store address (a SQLite path, postgres://…, http(s)://…).
--token - reads the token from standard input, which keeps it out of
your shell history and of the process list.`,
		Example: `  audit config set-context prod --store https://audit.example.com --token - < token.txt
  audit config set-context staging --store https://audit.staging.example.com
  audit config set-context team --store postgres://audit@db1/audit --read-store postgres://audit@db2/audit`,
		Args: cmdutil.ExactArgs(1, "the NAME of the context"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Store == "" && opts.Token == "" && opts.ReadStore == "" {
				return cmdutil.FlagErrorf("nothing to set: give --store, --read-store and/or --token")
			}
			if opts.Token == "-" {
				tok, err := readToken(opts.IO)
				if err != nil {
					return err
				}
				opts.Token = tok
			}
			return run("set-context", setContextRun)(cmd, args)
		},
	}
	// These shadow the global --store and --token: here they are the
	// context's values, not the ones of this run.
	set.Flags().StringVar(&opts.Store, "store", "", "the context's store `address`")
	set.Flags().StringVar(&opts.Token, "token", "", "the context's bearer `token` for a remote store; - reads it from stdin")
	set.Flags().StringVar(&opts.ReadStore, "read-store", "", "the context's read store `address`: a streaming standby of --store that reads go to")
	del := &cobra.Command{
		Use:     "delete-context NAME",
		Short:   "Remove a context",
		Example: `  audit config delete-context staging`,
		Args:    cmdutil.ExactArgs(1, "the NAME of a context"),
		RunE:    run("delete-context", deleteContextRun),
	}
	cmd.AddCommand(view, get, current, use, set, del)
	return cmd
}

// configPath is the file the root command would read: --config, else
// AUDIT_CONFIG, else the default.
func configPath(cmd *cobra.Command) string {
	if p := config.ExplicitPath(cmd.Flags()); p != "" {
		return p
	}
	return config.DefaultPath()
}

func readToken(ios *iostreams.IOStreams) (string, error) {
	line, err := bufio.NewReader(ios.In).ReadString('\n')
	if err != nil && line == "" {
		return "", cmdutil.FlagErrorf("--token -: no token on standard input")
	}
	tok := strings.TrimSpace(line)
	if tok == "" {
		return "", cmdutil.FlagErrorf("--token -: no token on standard input")
	}
	return tok, nil
}

// effectiveRun prints the settings of this run and their sources.
func effectiveRun(cmd *cobra.Command, opts *ConfigOptions) error {
	cfg, err := config.Load(config.ExplicitPath(cmd.Flags()), cmd.Flags())
	if err != nil {
		return cmdutil.FlagErrorWrap(err)
	}
	file := opts.Path + " (none: defaults apply)"
	if cfg.File != "" {
		file = cfg.File
	}
	values := map[string]string{
		"store": cfg.Store, "read-store": cfg.ReadStore, "token": cfg.Token, "context": cfg.Context, "output": cfg.Output,
		"color": cfg.Color, "timezone": cfg.Timezone, "integrity.key-file": cfg.KeyFile,
		"pager": iostreams.PagerCommand(cfg.PagerSet, cfg.Pager),
	}
	if cfg.Sources["pager"] == "default" {
		if _, ok := os.LookupEnv("PAGER"); ok {
			cfg.Sources["pager"] = "env PAGER"
		}
	}
	if noPager, _ := cmd.Flags().GetBool("no-pager"); noPager {
		values["pager"], cfg.Sources["pager"] = "", "flag --no-pager"
	}
	if values["store"] == "" {
		values["store"] = store.DefaultPath()
	}
	if values["token"] != "" {
		values["token"] = "(set, not shown)"
	}
	if values["timezone"] == "" {
		zone, _ := time.Now().Zone()
		values["timezone"] = "local (" + zone + ")"
	}
	rows := [][]string{{"config file", file, ""}}
	for _, key := range config.Keys {
		v := values[key]
		if v == "" {
			v = "(none)"
		}
		rows = append(rows, []string{key, v, cfg.Sources[key]})
	}
	w := 0
	for _, r := range rows {
		w = max(w, len(r[0]))
	}
	vw := 0
	for _, r := range rows[1:] {
		vw = max(vw, len([]rune(r[1])))
	}
	for i, r := range rows {
		if i == 0 {
			fmt.Fprintf(opts.IO.Out, "%-*s  %s\n", w, r[0], r[1])
			continue
		}
		fmt.Fprintf(opts.IO.Out, "%-*s  %s%s  %s\n", w, r[0], r[1], strings.Repeat(" ", vw-len([]rune(r[1]))), r[2])
	}
	return nil
}

func viewRun(opts *ConfigOptions) error {
	b, err := config.View(opts.Path)
	if errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintf(opts.IO.ErrOut, "No config file at %s; \"audit config set-context\" creates one.\n", opts.Path)
		return nil
	}
	if err != nil {
		return err
	}
	_, err = opts.IO.Out.Write(b)
	return err
}

func getContextsRun(opts *ConfigOptions) error {
	contexts, current, err := config.ReadContexts(opts.Path)
	if err != nil {
		return err
	}
	if len(contexts) == 0 {
		fmt.Fprintln(opts.IO.ErrOut, "No contexts. Create one with: audit config set-context NAME --store ADDRESS [--token -]")
		return nil
	}
	names := (&config.Config{Contexts: contexts}).ContextNames()
	// A READ STORE column where a context has one.
	readStores := false
	for _, c := range contexts {
		readStores = readStores || c.ReadStore != ""
	}
	rows := make([][]string, 0, len(names))
	for _, n := range names {
		mark, tok := "", "none"
		if n == current {
			mark = "*"
		}
		if contexts[n].Token != "" {
			tok = config.Redacted
		}
		row := []string{mark, n, hidePassword(contexts[n].Store), tok}
		if readStores {
			rs := hidePassword(contexts[n].ReadStore)
			if rs == "" {
				rs = "none"
			}
			row = append(row, rs)
		}
		rows = append(rows, row)
	}
	header := []string{"CURRENT", "NAME", "STORE", "TOKEN"}
	if readStores {
		header = append(header, "READ STORE")
	}
	return output.PrintGrid(opts.IO.Out, header, rows)
}

// hidePassword shows a store address without the password a URL may
// hold (postgres://audit:secret@db/audit).
func hidePassword(address string) string {
	if u, err := url.Parse(address); err == nil && u.User != nil {
		if _, ok := u.User.Password(); ok {
			return u.Redacted()
		}
	}
	return address
}

func currentContextRun(opts *ConfigOptions) error {
	_, current, err := config.ReadContexts(opts.Path)
	if err != nil {
		return err
	}
	if current == "" {
		return fmt.Errorf("no current context is set (audit config use-context NAME sets one)")
	}
	fmt.Fprintln(opts.IO.Out, current)
	return nil
}

func useContextRun(opts *ConfigOptions) error {
	if err := config.UseContext(opts.Path, opts.Name); err != nil {
		return cmdutil.FlagErrorWrap(err)
	}
	fmt.Fprintf(opts.IO.ErrOut, "Switched to context %q.\n", opts.Name)
	return nil
}

func setContextRun(opts *ConfigOptions) error {
	existed := false
	if contexts, _, err := config.ReadContexts(opts.Path); err == nil {
		_, existed = contexts[opts.Name]
	}
	if err := config.SetContext(opts.Path, opts.Name, config.Context{Store: opts.Store, Token: opts.Token, ReadStore: opts.ReadStore}); err != nil {
		return cmdutil.FlagErrorWrap(err)
	}
	verb := "Created"
	if existed {
		verb = "Changed"
	}
	fmt.Fprintf(opts.IO.ErrOut, "%s context %q in %s.\n", verb, opts.Name, opts.Path)
	return nil
}

func deleteContextRun(opts *ConfigOptions) error {
	if err := config.DeleteContext(opts.Path, opts.Name); err != nil {
		return cmdutil.FlagErrorWrap(err)
	}
	fmt.Fprintf(opts.IO.ErrOut, "Deleted context %q from %s.\n", opts.Name, opts.Path)
	return nil
}
