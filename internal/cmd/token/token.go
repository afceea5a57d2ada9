// Package token implements `audit token create|list|revoke`: the API
// tokens of `audit serve`.
package token

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/user"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/cmdutil"
	"github.com/audit-cli/audit/internal/config"
	"github.com/audit-cli/audit/internal/iostreams"
	"github.com/audit-cli/audit/internal/output"
	"github.com/audit-cli/audit/internal/server"
)

// TokenOptions holds what a token run needs.
type TokenOptions struct {
	IO       *iostreams.IOStreams
	Store    func() (audit.Store, error)
	Config   func() (*config.Config, error)
	Now      func() time.Time
	Location *time.Location
	// Actor returns the login and display name recorded as the user of
	// the security event of a token change.
	Actor func() (login, name string)

	Name    string
	Role    string
	Expires string
	Output  string
}

// NewCmdToken returns the token command and its subcommands. runF, when
// set, replaces the runs of all of them in tests; it gets the
// subcommand's name.
func NewCmdToken(f *cmdutil.Factory, runF func(string, *TokenOptions) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token <command>",
		Short: "Create, list and revoke the API tokens of audit serve",
		Long: `Manage the tokens that clients of "audit serve" present. Run these
commands on the server's machine, with --store naming the database that
"audit serve" uses (a SQLite file or a PostgreSQL server): tokens are kept
there, as SHA-256 hashes, never in the clear. A running server sees
changes at once.

Roles: read (list, show, export, watch, stats), write (read, plus record
and import), admin (write, plus tokens and prune).

Creating and revoking a token is recorded in the store as a security
event, with your login as the user.`,
		Example: `  audit --store /var/lib/audit/audit.db token create --name cron-exporter --role read --expires 90d
  audit --store /var/lib/audit/audit.db token list
  audit --store /var/lib/audit/audit.db token revoke cron-exporter`,
	}
	newOpts := func() *TokenOptions {
		return &TokenOptions{IO: f.IOStreams, Store: f.Store, Now: f.Now, Actor: currentUser,
			Config: func() (*config.Config, error) { return f.Config() }}
	}
	run := func(name string, opts *TokenOptions, fn func(context.Context, *TokenOptions) error) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, args []string) error {
			opts.Location = f.Location()
			if runF != nil {
				return runF(name, opts)
			}
			return fn(cmd.Context(), opts)
		}
	}

	create := newOpts()
	createCmd := &cobra.Command{
		Use:   "create --name NAME [--role read|write|admin] [--expires DURATION|DATE|never]",
		Short: "Create a token and print it, once",
		Long: `Create an API token and print it on stdout. It is shown this once only:
the store keeps its hash. Give it to the client (--token, AUDIT_TOKEN, or
"audit config set-context NAME --store URL --token -").

--role is read unless given. --expires takes a duration from now (90d,
12h, 2w), a date (2027-03-01, midnight in your zone) or an RFC 3339
time; without it the token never expires.`,
		Example: `  audit token create --name cron-exporter --role read --expires 90d
  audit token create --name ingest --role write --expires 2027-01-01`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkName(create.Name); err != nil {
				return err
			}
			if _, err := audit.ParseRole(create.Role); err != nil {
				return cmdutil.FlagErrorf("invalid --role: %v", err)
			}
			return run("create", create, createRun)(cmd, args)
		},
	}
	createCmd.Flags().StringVar(&create.Name, "name", "", "the token's `name`, shown in the server's log and in token list (required)")
	createCmd.Flags().StringVar(&create.Role, "role", "read", "what the token may do: read, write or admin")
	createCmd.Flags().StringVar(&create.Expires, "expires", "never", "when the token stops working: a duration from now (90d), a date, or never")

	list := newOpts()
	listCmd := &cobra.Command{
		Use:   "list",
		Short: "List the tokens: name, role, created, expires, last used",
		Long: `List the API tokens with their role, when they were created, when they
expire and when they were last used (recorded at most once a minute per
token). The tokens themselves are never shown: the store does not have
them.`,
		Example: `  audit token list
  audit token list -o json | jq -r '.[] | select(.role == "admin") | .name'`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if list.Output != "table" && list.Output != "json" {
				return cmdutil.FlagErrorf("invalid --output %q (accepted: table, json)", list.Output)
			}
			return run("list", list, listRun)(cmd, args)
		},
	}
	listCmd.Flags().StringVarP(&list.Output, "output", "o", "table", "output `format`: table or json")

	revoke := newOpts()
	revokeCmd := &cobra.Command{
		Use:     "revoke NAME",
		Short:   "Revoke a token: it stops working at once",
		Example: `  audit token revoke cron-exporter`,
		Args:    cmdutil.ExactArgs(1, "the NAME of the token to revoke"),
		RunE: func(cmd *cobra.Command, args []string) error {
			revoke.Name = args[0]
			return run("revoke", revoke, revokeRun)(cmd, args)
		},
	}

	cmd.AddCommand(createCmd, listCmd, revokeCmd)
	return cmd
}

var tokenName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)

func checkName(name string) error {
	if name == "" {
		return cmdutil.FlagErrorf("--name is required, e.g. --name cron-exporter")
	}
	if !tokenName.MatchString(name) {
		return cmdutil.FlagErrorf("invalid --name %q: use up to 64 letters, digits, '.', '_', '@' and '-'", name)
	}
	return nil
}

// tokenStore opens the store and returns it as a TokenStore. Tokens live
// with the server's database: a remote store is refused with advice.
func tokenStore(opts *TokenOptions) (audit.Store, audit.TokenStore, error) {
	if cfg, err := opts.Config(); err == nil {
		if s := cfg.Store; strings.HasPrefix(strings.ToLower(s), "http:") || strings.HasPrefix(strings.ToLower(s), "https:") {
			return nil, nil, cmdutil.FlagErrorf("tokens are managed where the server's database is, not through %s: "+
				"run \"audit token …\" on the server's machine with --store naming the database \"audit serve\" uses", s)
		}
	}
	st, err := opts.Store()
	if err != nil {
		return nil, nil, err
	}
	ts, ok := st.(audit.TokenStore)
	if !ok {
		return nil, nil, fmt.Errorf("this store keeps no API tokens")
	}
	return st, ts, nil
}

func createRun(ctx context.Context, opts *TokenOptions) error {
	now := opts.Now()
	expires, err := parseExpires(opts.Expires, now, opts.Location)
	if err != nil {
		return cmdutil.FlagErrorf("invalid --expires: %v", err)
	}
	role, _ := audit.ParseRole(opts.Role)
	st, ts, err := tokenStore(opts)
	if err != nil {
		return err
	}
	secret, err := server.NewTokenSecret()
	if err != nil {
		return err
	}
	t := audit.Token{Name: opts.Name, Role: role, Hash: server.HashToken(secret), Created: now.UTC(), Expires: expires}
	if err := ts.CreateToken(ctx, t); err != nil {
		return err
	}
	until := "never expires"
	if !expires.IsZero() {
		until = "expires " + audit.FormatTime(expires)
	}
	record(ctx, opts, st, "API Token Created", fmt.Sprintf("role %s, %s", role, until))
	fmt.Fprintln(opts.IO.Out, secret)
	when := "it never expires"
	if !expires.IsZero() {
		when = "it expires " + expires.In(opts.Location).Format("2006-01-02 15:04 MST")
	}
	fmt.Fprintf(opts.IO.ErrOut, "Created token %q with role %s; %s.\nIt is shown only this once: keep it now (the store has its hash only).\n", opts.Name, role, when)
	return nil
}

func listRun(ctx context.Context, opts *TokenOptions) error {
	_, ts, err := tokenStore(opts)
	if err != nil {
		return err
	}
	tokens, err := ts.Tokens(ctx)
	if err != nil {
		return err
	}
	if opts.Output == "json" {
		if tokens == nil {
			tokens = []audit.Token{}
		}
		enc := json.NewEncoder(opts.IO.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(tokens)
	}
	if len(tokens) == 0 {
		fmt.Fprintln(opts.IO.ErrOut, "No API tokens. Create one with: audit token create --name NAME --role read")
		return nil
	}
	now := opts.Now()
	show := func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return t.In(opts.Location).Format("2006-01-02 15:04")
	}
	rows := make([][]string, 0, len(tokens))
	for _, t := range tokens {
		exp := show(t.Expires)
		if !t.Expires.IsZero() && !now.Before(t.Expires) {
			exp += " (expired)"
		}
		rows = append(rows, []string{t.Name, string(t.Role), show(t.Created), exp, show(t.LastUsed)})
	}
	return output.PrintGrid(opts.IO.Out, []string{"NAME", "ROLE", "CREATED", "EXPIRES", "LAST USED"}, rows)
}

func revokeRun(ctx context.Context, opts *TokenOptions) error {
	st, ts, err := tokenStore(opts)
	if err != nil {
		return err
	}
	if err := ts.RevokeToken(ctx, opts.Name); err != nil {
		if errors.Is(err, audit.ErrNotFound) {
			return cmdutil.Reword(err, "no token named %q (audit token list shows them)", opts.Name)
		}
		return err
	}
	record(ctx, opts, st, "API Token Revoked", "")
	fmt.Fprintf(opts.IO.ErrOut, "Revoked token %q: it no longer works.\n", opts.Name)
	return nil
}

// record stores the security event of a token change. Failing to is a
// warning: the change itself is done.
func record(ctx context.Context, opts *TokenOptions, st audit.Store, action, details string) {
	login, name := opts.Actor()
	e := audit.Event{ID: audit.NewID(), Time: opts.Now().UTC(), User: login, UserName: name,
		Type: audit.TypeSecurity, Action: action, ResourceType: "api_token", Resource: opts.Name,
		Details: details, Outcome: audit.OutcomeSuccess}
	if _, err := st.Append(ctx, []audit.Event{e}); err != nil {
		fmt.Fprintf(opts.IO.ErrOut, "audit: warning: could not record the token change as a security event: %v\n", err)
	}
}

// currentUser is the login and display name of whoever runs the command.
func currentUser() (string, string) {
	u, err := user.Current()
	if err != nil || u.Username == "" {
		return "system", "System"
	}
	name, _, _ := strings.Cut(u.Name, ",") // GECOS: the name comes first
	return u.Username, name
}

var durationExpr = regexp.MustCompile(`^(\d+)(s|m|h|d|w)$`)

// parseExpires reads --expires: "never", a duration from now (90d), a date
// (midnight in loc) or an RFC 3339 time. It must be in the future.
func parseExpires(s string, now time.Time, loc *time.Location) (time.Time, error) {
	s = strings.TrimSpace(strings.ToLower(s))
	if s == "" || s == "never" || s == "0" {
		return time.Time{}, nil
	}
	var t time.Time
	if m := durationExpr.FindStringSubmatch(s); m != nil {
		n, err := strconv.ParseInt(m[1], 10, 64)
		unit := map[string]time.Duration{"s": time.Second, "m": time.Minute, "h": time.Hour,
			"d": 24 * time.Hour, "w": 7 * 24 * time.Hour}[m[2]]
		if err != nil || n <= 0 || n > int64(100*365*24*time.Hour/unit) {
			return time.Time{}, fmt.Errorf("%q: want a duration of up to 100 years", s)
		}
		t = now.Add(time.Duration(n) * unit).Truncate(time.Second)
	} else if d, err := time.ParseInLocation("2006-01-02", s, loc); err == nil {
		t = d
	} else if d, err := time.Parse(time.RFC3339Nano, strings.ToUpper(s)); err == nil {
		t = d
	} else {
		return time.Time{}, fmt.Errorf("%q: want a duration (90d, 12h, 2w), a date (2027-03-01), an RFC 3339 time, or never", s)
	}
	if !t.After(now) {
		return time.Time{}, fmt.Errorf("%q is not in the future", s)
	}
	return t.UTC(), nil
}
