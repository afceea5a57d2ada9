package configcmd_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/audit-cli/audit/internal/cli"
	"github.com/audit-cli/audit/internal/config"
	"github.com/audit-cli/audit/internal/iostreams"
)

// run runs the real command tree in-process and returns stdout, stderr
// and the exit code.
func run(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	ios, in, out, errOut := iostreams.Test()
	in.WriteString(stdin)
	f, closeStore := cli.NewFactory(ios)
	root := cli.NewCmdRoot(f)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	if cerr := closeStore(); err == nil && cerr != nil {
		err = cerr
	}
	code := cli.Report(ios, err)
	return out.String(), errOut.String(), code
}

func setup(t *testing.T) string {
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "config"))
	t.Setenv("XDG_DATA_HOME", filepath.Join(dir, "data"))
	t.Setenv("AUDIT_NOW", "2026-11-26T15:00:00Z")
	for _, k := range []string{"AUDIT_STORE", "AUDIT_TOKEN", "AUDIT_CONTEXT", "AUDIT_CONFIG"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	return dir
}

func mustRun(t *testing.T, stdin string, args ...string) (string, string) {
	t.Helper()
	out, stderr, code := run(t, stdin, args...)
	if code != 0 {
		t.Fatalf("%v: exit %d: %s", args, code, stderr)
	}
	return out, stderr
}

func TestContexts(t *testing.T) {
	dir := setup(t)
	file := filepath.Join(dir, "config", "audit", "config.yaml")

	out, stderr := mustRun(t, "", "config", "view")
	if out != "" || !strings.Contains(stderr, "No config file at "+file) {
		t.Fatalf("view without a file: %q %q", out, stderr)
	}

	_, stderr = mustRun(t, "", "config", "set-context", "prod", "--store", "https://audit.example.com", "--token", "audit_secret1")
	if stderr != `Created context "prod" in `+file+".\n" {
		t.Fatalf("set-context stderr %q", stderr)
	}
	fi, err := os.Stat(file)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("config file: %v %v, want mode 0600", fi.Mode(), err)
	}
	// The token from stdin; a second context with a local store.
	mustRun(t, "audit_secret2\n", "config", "set-context", "staging", "--store", "https://staging.example.com", "--token", "-")
	t.Chdir(dir)
	local := "local.db"
	mustRun(t, "", "config", "set-context", "local", "--store", local)
	// Changing only the store keeps the token.
	_, stderr = mustRun(t, "", "config", "set-context", "prod", "--store", "https://audit2.example.com")
	if !strings.HasPrefix(stderr, `Changed context "prod"`) {
		t.Fatalf("set-context of an existing one: %q", stderr)
	}

	out, _ = mustRun(t, "", "config", "view")
	want := `contexts:
  prod:
    store: https://audit2.example.com
    token: REDACTED
  staging:
    store: https://staging.example.com
    token: REDACTED
  local:
    store: ` + local + "\n"
	if out != want {
		t.Fatalf("view:\n%s\nwant:\n%s", out, want)
	}
	raw, _ := os.ReadFile(file)
	if !strings.Contains(string(raw), "audit_secret1") || !strings.Contains(string(raw), "audit_secret2") {
		t.Fatalf("the file lacks the tokens:\n%s", raw)
	}

	// No current context yet.
	if _, stderr, code := run(t, "", "config", "current-context"); code != 1 || !strings.Contains(stderr, "no current context") {
		t.Fatalf("current-context: %d %q", code, stderr)
	}
	_, stderr = mustRun(t, "", "config", "use-context", "local")
	if stderr != "Switched to context \"local\".\n" {
		t.Fatalf("use-context: %q", stderr)
	}
	out, _ = mustRun(t, "", "config", "current-context")
	if out != "local\n" {
		t.Fatalf("current-context %q", out)
	}
	out, _ = mustRun(t, "", "config", "get-contexts")
	want = `CURRENT  NAME     STORE                        TOKEN
*        local    local.db                     none
         prod     https://audit2.example.com   REDACTED
         staging  https://staging.example.com  REDACTED
`
	if out != want {
		t.Fatalf("get-contexts:\n%s\nwant:\n%s", out, want)
	}
	if strings.Contains(out, "secret") {
		t.Fatalf("get-contexts shows a token:\n%s", out)
	}

	// A read store joins a context, and the listing gains its column.
	mustRun(t, "", "config", "set-context", "staging", "--read-store", "postgres://reader:hunter2@replica/audit")
	out, _ = mustRun(t, "", "config", "get-contexts")
	want = `CURRENT  NAME     STORE                        TOKEN     READ STORE
*        local    local.db                     none      none
         prod     https://audit2.example.com   REDACTED  none
         staging  https://staging.example.com  REDACTED  postgres://reader:xxxxx@replica/audit
`
	if out != want {
		t.Fatalf("get-contexts with a read store:\n%s\nwant:\n%s", out, want)
	}

	// The current context is the default store; --context picks another.
	mustRun(t, "", "record", "--id", "ctx-1", "--user", "jdavis", "--type", "login")
	if _, err := os.Stat(filepath.Join(dir, local)); err != nil {
		t.Fatalf("record did not use the current context's store: %v", err)
	}
	out, _ = mustRun(t, "", "list", "-o", "template", "--template", "{{.ID}}")
	if out != "ctx-1\n" {
		t.Fatalf("list on the current context: %q", out)
	}
	other := filepath.Join(dir, "other.db")
	mustRun(t, "", "config", "set-context", "other", "--store", other)
	mustRun(t, "", "--context", "other", "record", "--id", "ctx-2", "--user", "jdavis", "--type", "login")
	out, _ = mustRun(t, "", "--context", "other", "list", "-o", "template", "--template", "{{.ID}}")
	if out != "ctx-2\n" {
		t.Fatalf("list --context other: %q", out)
	}

	// Unknown names.
	if _, stderr, code := run(t, "", "config", "use-context", "nope"); code != 2 || !strings.Contains(stderr, `unknown context "nope" (known: local, other, prod, staging)`) {
		t.Fatalf("use-context nope: %d %q", code, stderr)
	}
	if _, stderr, code := run(t, "", "config", "set-context", "Prod.EU", "--store", "x.db"); code != 2 || !strings.Contains(stderr, "invalid context name") {
		t.Fatalf("set-context with a bad name: %d %q", code, stderr)
	}
	if _, stderr, code := run(t, "", "config", "set-context", "new"); code != 2 || !strings.Contains(stderr, "nothing to set") {
		t.Fatalf("set-context without values: %d %q", code, stderr)
	}
	if _, stderr, code := run(t, "", "config", "set-context", "new", "--token", "x"); code != 2 || !strings.Contains(stderr, "give its --store") {
		t.Fatalf("set-context new without store: %d %q", code, stderr)
	}
	if _, stderr, code := run(t, "", "config", "set-context", "new", "--store", "x.db", "--token", "-"); code != 2 || !strings.Contains(stderr, "no token on standard input") {
		t.Fatalf("set-context --token - without input: %d %q", code, stderr)
	}

	// Deleting the current context unsets it.
	mustRun(t, "", "config", "delete-context", "local")
	if _, _, code := run(t, "", "config", "current-context"); code != 1 {
		t.Fatal("current-context still set after deleting it")
	}
}

// TestBrokenCurrentContext: a current-context that names no context
// breaks other commands, but the config commands still work to repair it.
func TestBrokenCurrentContext(t *testing.T) {
	dir := setup(t)
	file := filepath.Join(dir, "config", "audit", "config.yaml")
	os.MkdirAll(filepath.Dir(file), 0o700)
	orig := `# My deployments.
output: wide # always wide
current-context: gone
contexts:
  prod:
    store: https://audit.example.com # the main one
    token: audit_topsecret
`
	os.WriteFile(file, []byte(orig), 0o600)
	if _, stderr, code := run(t, "", "list"); code != 2 || !strings.Contains(stderr, `unknown context "gone"`) {
		t.Fatalf("list with a broken context: %d %q", code, stderr)
	}
	out, _ := mustRun(t, "", "config", "view")
	if strings.Contains(out, "topsecret") || !strings.Contains(out, "token: REDACTED") {
		t.Fatalf("view:\n%s", out)
	}
	mustRun(t, "", "config", "use-context", "prod")
	raw, _ := os.ReadFile(file)
	// Comments, order and other settings survive the edit.
	want := strings.Replace(orig, "current-context: gone", "current-context: prod", 1)
	if string(raw) != want {
		t.Fatalf("file after use-context:\n%s\nwant:\n%s", raw, want)
	}
	// --config names another file.
	other := filepath.Join(dir, "other.yaml")
	mustRun(t, "", "--config", other, "config", "set-context", "x", "--store", "x.db")
	if b, _ := os.ReadFile(other); !strings.Contains(string(b), "store: x.db") {
		t.Fatalf("--config file:\n%s", b)
	}
}

// TestContextTokenStaysWithItsStore: a context's token is not sent to a
// store named by --store or AUDIT_STORE, only to the context's own.
func TestContextTokenStaysWithItsStore(t *testing.T) {
	dir := setup(t)
	file := filepath.Join(dir, "config.yaml")
	os.WriteFile(file, []byte("current-context: prod\ncontexts:\n  prod:\n    store: https://audit.example.com\n    token: audit_prod\n"), 0o600)
	load := func(args ...string) *config.Config {
		t.Helper()
		fs := pflag.NewFlagSet("audit", pflag.ContinueOnError)
		fs.String("store", "", "")
		fs.String("token", "", "")
		fs.String("context", "", "")
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		cfg, err := config.Load(file, fs)
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	for _, c := range []struct {
		args         []string
		store, token string
	}{
		{nil, "https://audit.example.com", "audit_prod"},
		{[]string{"--store", "https://audit.example.com"}, "https://audit.example.com", "audit_prod"},
		{[]string{"--store", "https://evil.example.com"}, "https://evil.example.com", ""},
		{[]string{"--store", "https://evil.example.com", "--token", "audit_mine"}, "https://evil.example.com", "audit_mine"},
		{[]string{"--token", "audit_mine"}, "https://audit.example.com", "audit_mine"},
	} {
		cfg := load(c.args...)
		if cfg.Store != c.store || cfg.Token != c.token {
			t.Errorf("%v: store %q token %q, want %q %q", c.args, cfg.Store, cfg.Token, c.store, c.token)
		}
	}
	t.Setenv("AUDIT_STORE", "https://evil.example.com")
	if cfg := load(); cfg.Token != "" {
		t.Errorf("AUDIT_STORE elsewhere: token %q sent along", cfg.Token)
	}
}
