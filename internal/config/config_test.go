package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

func flags(t *testing.T, args ...string) *pflag.FlagSet {
	t.Helper()
	fs := pflag.NewFlagSet("audit", pflag.ContinueOnError)
	fs.String("store", "", "")
	fs.String("read-store", "", "")
	fs.String("token", "", "")
	fs.String("color", "auto", "")
	fs.String("context", "", "")
	fs.Bool("utc", false, "")
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return fs
}

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const file = `store: /srv/file.db
output: jsonl
color: never
timezone: Europe/Berlin
current-context: prod
contexts:
  prod:
    store: https://audit.example.com
    token: prod-secret
  lab:
    store: /srv/lab.db
`

func TestPrecedence(t *testing.T) {
	for _, env := range []string{"AUDIT_STORE", "AUDIT_TOKEN", "AUDIT_OUTPUT", "AUDIT_COLOR", "AUDIT_TIMEZONE", "AUDIT_CONTEXT"} {
		t.Setenv(env, "")
		os.Unsetenv(env)
	}
	path := writeConfig(t, file)

	// The file's current context supplies store and token; the rest is the file's.
	cfg, err := Load(path, flags(t))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Store != "https://audit.example.com" || cfg.Token != "prod-secret" || cfg.Context != "prod" {
		t.Errorf("from the file: store %q token %q context %q", cfg.Store, cfg.Token, cfg.Context)
	}
	if cfg.Output != "jsonl" || cfg.Color != "never" || cfg.Timezone != "Europe/Berlin" {
		t.Errorf("from the file: output %q color %q timezone %q", cfg.Output, cfg.Color, cfg.Timezone)
	}

	// --context picks another one.
	cfg, err = Load(path, flags(t, "--context", "lab"))
	if err != nil || cfg.Store != "/srv/lab.db" || cfg.Token != "" {
		t.Errorf("--context lab: store %q token %q err %v", cfg.Store, cfg.Token, err)
	}

	// The environment outranks the file.
	t.Setenv("AUDIT_COLOR", "always")
	t.Setenv("AUDIT_STORE", "/env.db")
	cfg, err = Load(path, flags(t))
	if err != nil || cfg.Color != "always" || cfg.Store != "/env.db" {
		t.Errorf("env: color %q store %q err %v", cfg.Color, cfg.Store, err)
	}

	// A flag outranks the environment; --utc sets the zone.
	cfg, err = Load(path, flags(t, "--color", "auto", "--store", "/flag.db", "--utc"))
	if err != nil || cfg.Color != "auto" || cfg.Store != "/flag.db" || cfg.Timezone != "UTC" {
		t.Errorf("flags: color %q store %q timezone %q err %v", cfg.Color, cfg.Store, cfg.Timezone, err)
	}
}

// TestReadStore: a context's read-store goes with its store; a store given
// by a flag or AUDIT_STORE leaves it out; --read-store and AUDIT_READ_STORE
// name one for any store.
func TestReadStore(t *testing.T) {
	for _, env := range []string{"AUDIT_STORE", "AUDIT_READ_STORE", "AUDIT_CONTEXT"} {
		t.Setenv(env, "")
		os.Unsetenv(env)
	}
	path := writeConfig(t, `current-context: team
contexts:
  team:
    store: postgres://db1/audit
    read-store: postgres://db2/audit
`)
	for _, c := range []struct {
		name      string
		args      []string
		env       string
		want, src string
	}{
		{"the context's", nil, "", "postgres://db2/audit", "context team"},
		{"another store by flag", []string{"--store", "/x.db"}, "", "", "default"},
		{"the context's store by flag", []string{"--store", "postgres://db1/audit"}, "", "postgres://db2/audit", "context team"},
		{"flag", []string{"--read-store", "postgres://db3/audit"}, "", "postgres://db3/audit", "flag --read-store"},
		{"env", nil, "postgres://db4/audit", "postgres://db4/audit", "env AUDIT_READ_STORE"},
	} {
		if c.env != "" {
			t.Setenv("AUDIT_READ_STORE", c.env)
		}
		cfg, err := Load(path, flags(t, c.args...))
		if err != nil {
			t.Fatal(err)
		}
		if cfg.ReadStore != c.want || cfg.Sources["read-store"] != c.src {
			t.Errorf("%s: read-store %q from %q, want %q from %q", c.name, cfg.ReadStore, cfg.Sources["read-store"], c.want, c.src)
		}
	}
}

func TestDefaults(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir()) // no config file there
	cfg, err := Load("", flags(t))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Store != "" || cfg.Output != "table" || cfg.Color != "auto" || cfg.File != "" {
		t.Errorf("defaults: %+v", cfg)
	}
}

func TestErrors(t *testing.T) {
	if _, err := Load(filepath.Join(t.TempDir(), "missing.yaml"), flags(t)); err == nil {
		t.Error("a missing --config file is not an error")
	}
	path := writeConfig(t, file)
	_, err := Load(path, flags(t, "--context", "staging"))
	if err == nil || !strings.Contains(err.Error(), `unknown context "staging" (known: lab, prod)`) {
		t.Errorf("unknown context: %v", err)
	}
	bad := writeConfig(t, "store: [unclosed\n")
	if _, err := Load(bad, flags(t)); err == nil {
		t.Error("a malformed config file is not an error")
	}
	cfg := &Config{Timezone: "Mars/Olympus"}
	if _, err := cfg.Location(); err == nil || !strings.Contains(err.Error(), `"Mars/Olympus"`) {
		t.Errorf("bad timezone: %v", err)
	}
}
