package cli

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/iostreams"
	"github.com/audit-cli/audit/internal/store"
)

// completeEnv isolates a completion run from the machine's config and
// store, and pins the clock to Thursday 26 November 2026 (ISO week 48).
func completeEnv(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "config"))
	t.Setenv("XDG_DATA_HOME", filepath.Join(dir, "data"))
	t.Setenv("AUDIT_NOW", "2026-11-26T15:00:00Z")
	t.Setenv("TZ", "UTC")
	for _, k := range []string{"AUDIT_STORE", "AUDIT_CONFIG", "AUDIT_CONTEXT", "AUDIT_TOKEN"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	return dir
}

// complete runs `audit __complete ARGS…` — what the shell scripts run on
// TAB — through the real command tree, and returns the candidates, the
// directive and what went to stderr.
func complete(t *testing.T, args ...string) (candidates []string, directive string, stderr string) {
	t.Helper()
	ios, _, _, _ := iostreams.Test()
	f, closeStore := NewFactory(ios)
	root := NewCmdRoot(f)
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(append([]string{"__complete"}, args...))
	err := root.ExecuteContext(context.Background())
	if cerr := closeStore(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatalf("__complete %q: %v", args, err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	directive = lines[len(lines)-1]
	return lines[:len(lines)-1], directive, errOut.String()
}

// values drops the descriptions of candidates.
func values(candidates []string) []string {
	v := make([]string, len(candidates))
	for i, c := range candidates {
		v[i], _, _ = strings.Cut(c, "\t")
	}
	return v
}

const (
	noFileComp = ":4" // ShellCompDirectiveNoFileComp
	fileComp   = ":0" // ShellCompDirectiveDefault: the shell completes file names
)

func TestCompleteFlagValues(t *testing.T) {
	completeEnv(t)
	types := []string{"login", "logout", "create", "update", "delete", "security"}
	formats := []string{"table", "wide", "csv", "tsv", "json", "jsonl", "template"}
	periods := []string{"today", "yesterday", "this-week", "last-week", "this-month", "last-month", "2026-11", "2026-W48"}
	tests := []struct {
		args      []string
		want      []string
		directive string
	}{
		{[]string{"list", "--type", ""}, types, noFileComp},
		{[]string{"list", "-t", ""}, types, noFileComp},
		{[]string{"list", "--type="}, types, noFileComp}, // the shell script adds "--type="
		{[]string{"export", "--type", ""}, types, noFileComp},
		{[]string{"watch", "--type", ""}, types, noFileComp},
		{[]string{"record", "--type", ""}, types, noFileComp},
		{[]string{"list", "--outcome", ""}, []string{"success", "failure"}, noFileComp},
		{[]string{"list", "--output", ""}, formats, noFileComp},
		{[]string{"list", "-o", ""}, formats, noFileComp},
		{[]string{"watch", "-o", ""}, formats, noFileComp},
		{[]string{"show", "-o", ""}, formats, noFileComp},
		// export's -o is a file; its format is --format.
		{[]string{"export", "-o", ""}, nil, fileComp},
		{[]string{"export", "--format", ""}, []string{"csv", "jsonl", "json"}, noFileComp},
		{[]string{"import", "--format", ""}, []string{"auto", "audit", "auditd", "cloudtrail", "github", "journald", "kubernetes", "jsonl", "json", "csv"}, noFileComp},
		{[]string{"list", "--period", ""}, periods, noFileComp},
		{[]string{"export", "--period", ""}, periods, noFileComp},
		{[]string{"list", "--color", ""}, []string{"auto", "always", "never"}, noFileComp},
		{[]string{"--color", ""}, []string{"auto", "always", "never"}, noFileComp},
		{[]string{"list", "--search", ""}, nil, noFileComp},
		{[]string{"completion", ""}, []string{"bash", "zsh", "fish", "powershell"}, noFileComp},
		{[]string{"token", "create", "--role", ""}, []string{"read", "write", "admin"}, noFileComp},
		{[]string{"list", "--type", "security,lo"}, []string{"security,login", "security,logout"}, noFileComp},
		{[]string{"record", "--type", ""}, types, noFileComp},
		{[]string{"stats", "-o", ""}, []string{"table", "csv", "tsv", "json", "jsonl"}, noFileComp},
		{[]string{"stats", "--by", "user,"}, []string{"user,type", "user,action", "user,resource_type", "user,resource", "user,ip", "user,outcome", "user,day", "user,hour", "user,week"}, noFileComp},
		{[]string{"stats", "logins", "--by", ""}, []string{"user", "ip"}, noFileComp},
		{[]string{"stats", "--sort", ""}, []string{"count", "key"}, noFileComp},
		{[]string{"prune", "--archive", ""}, nil, fileComp},
		{[]string{"serve", "--tls-cert", ""}, nil, fileComp},
		{[]string{"serve", "--listen", ""}, nil, noFileComp},
		{[]string{"watch", "--cursor-file", ""}, nil, fileComp},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			got, directive, _ := complete(t, tt.args...)
			if !slices.Equal(values(got), tt.want) {
				t.Errorf("candidates = %q, want %q", values(got), tt.want)
			}
			if directive != tt.directive {
				t.Errorf("directive = %s, want %s", directive, tt.directive)
			}
		})
	}
}

func TestCompleteSinceUntil(t *testing.T) {
	completeEnv(t)
	for _, flag := range []string{"--since", "--until"} {
		got, directive, _ := complete(t, "list", flag, "")
		v := values(got)
		for _, want := range []string{"today", "yesterday", "7d", "last-week", "this-month"} {
			if !slices.Contains(v, want) {
				t.Errorf("%s: candidates %q lack %q", flag, v, want)
			}
		}
		if directive != noFileComp {
			t.Errorf("%s: directive = %s, want %s", flag, directive, noFileComp)
		}
	}
}

func TestCompleteSubcommandsAndFlags(t *testing.T) {
	completeEnv(t)
	got, _, _ := complete(t, "")
	for _, want := range []string{"list", "export", "watch", "record", "import", "show", "serve", "token", "config", "completion", "version"} {
		if !slices.Contains(values(got), want) {
			t.Errorf("subcommands %q lack %q", values(got), want)
		}
	}
	got, _, _ = complete(t, "list", "--")
	for _, want := range []string{"--type", "--user", "--period", "--output", "--store", "--context"} {
		if !slices.Contains(values(got), want) {
			t.Errorf("list flags %q lack %q", values(got), want)
		}
	}
}

func TestCompleteContext(t *testing.T) {
	dir := completeEnv(t)
	cfg := filepath.Join(dir, "config", "audit", "config.yaml")
	writeFile(t, cfg, `contexts:
  prod:
    store: https://audit.example.com
    token: secret-token
  staging:
    store: postgres://audit@db-staging/audit
current-context: prod
`)
	got, directive, _ := complete(t, "list", "--context", "")
	want := []string{"prod\thttps://audit.example.com", "staging\tpostgres://audit@db-staging/audit"}
	if !slices.Equal(got, want) {
		t.Errorf("candidates = %q, want %q", got, want)
	}
	if directive != noFileComp {
		t.Errorf("directive = %s, want %s", directive, noFileComp)
	}
	for _, c := range got {
		if strings.Contains(c, "secret") {
			t.Errorf("a candidate shows the token: %q", c)
		}
	}

	// The NAME of config use-context and delete-context.
	for _, sub := range []string{"use-context", "delete-context"} {
		got, _, _ = complete(t, "config", sub, "")
		if !slices.Equal(got, want) {
			t.Errorf("config %s: candidates = %q, want %q", sub, got, want)
		}
		if got, _, _ = complete(t, "config", sub, "prod", ""); len(got) != 0 {
			t.Errorf("config %s prod: candidates = %q, want none", sub, got)
		}
	}

	// An explicit --config elsewhere.
	other := filepath.Join(dir, "other.yaml")
	writeFile(t, other, "contexts:\n  lab:\n    store: /srv/lab.db\n")
	got, _, _ = complete(t, "--config", other, "list", "--context", "")
	if want := []string{"lab\t/srv/lab.db"}; !slices.Equal(got, want) {
		t.Errorf("with --config: candidates = %q, want %q", got, want)
	}

	// No config file: nothing, quietly.
	os.Remove(cfg)
	got, _, stderr := complete(t, "list", "--context", "")
	if len(got) != 0 || !onlyDirectiveNote(stderr) {
		t.Errorf("without config: candidates %q, stderr %q", got, stderr)
	}
}

// recordEvents writes events by users in this order (oldest first) into a
// new SQLite store at path.
func recordEvents(t *testing.T, path string, users ...[2]string) {
	t.Helper()
	st, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	base := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	var events []audit.Event
	for i, u := range users {
		events = append(events, audit.Event{
			ID:       fmt.Sprintf("ev-%d", i),
			Time:     base.Add(time.Duration(i) * time.Minute),
			User:     u[0],
			UserName: u[1],
			Type:     audit.TypeLogin,
			Action:   "Portal Access",
		})
	}
	if _, err := st.Append(context.Background(), events); err != nil {
		t.Fatal(err)
	}
}

func TestCompleteUser(t *testing.T) {
	dir := completeEnv(t)
	db := filepath.Join(dir, "audit.db")
	recordEvents(t, db,
		[2]string{"jdavis", "John Davis"},
		[2]string{"smiller", "Sarah Miller"},
		[2]string{"jdavis", "John Davis"},
		[2]string{"system", "System"},
		[2]string{"mjohnson", "Mike Johnson"},
	)
	// Newest first, each user once, described by the display name.
	want := []string{"mjohnson\tMike Johnson", "system\tSystem", "jdavis\tJohn Davis", "smiller\tSarah Miller"}

	got, directive, stderr := complete(t, "list", "--store", db, "--user", "")
	if !slices.Equal(got, want) {
		t.Errorf("--store: candidates = %q, want %q", got, want)
	}
	if directive != noFileComp || !onlyDirectiveNote(stderr) {
		t.Errorf("directive %s, stderr %q", directive, stderr)
	}

	// The prefix is pushed down to the store.
	got, _, _ = complete(t, "export", "--store", db, "-u", "s")
	if want := []string{"system\tSystem", "smiller\tSarah Miller"}; !slices.Equal(got, want) {
		t.Errorf("prefix s: candidates = %q, want %q", got, want)
	}

	// The store from the environment, and from a context of the config file.
	t.Setenv("AUDIT_STORE", db)
	if got, _, _ = complete(t, "watch", "--user", ""); !slices.Equal(got, want) {
		t.Errorf("AUDIT_STORE: candidates = %q, want %q", got, want)
	}
	os.Unsetenv("AUDIT_STORE")
	writeFile(t, filepath.Join(dir, "config", "audit", "config.yaml"), "contexts:\n  local:\n    store: "+db+"\n")
	if got, _, _ = complete(t, "list", "--context", "local", "--user", ""); !slices.Equal(got, want) {
		t.Errorf("--context: candidates = %q, want %q", got, want)
	}

	// The default store, $XDG_DATA_HOME/audit/audit.db, does not exist:
	// completion must not create it.
	got, _, stderr = complete(t, "list", "--user", "")
	if len(got) != 0 || !onlyDirectiveNote(stderr) {
		t.Errorf("no store: candidates %q, stderr %q", got, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "audit", "audit.db")); !os.IsNotExist(err) {
		t.Errorf("completion created the default store (stat: %v)", err)
	}
}

// TestCompleteShowIDs: `audit show` completes the newest events' ids,
// newest first, described by action and user, without those already on
// the command line.
func TestCompleteShowIDs(t *testing.T) {
	dir := completeEnv(t)
	db := filepath.Join(dir, "audit.db")
	recordEvents(t, db, [2]string{"jdavis", "John Davis"}, [2]string{"smiller", "Sarah Miller"}, [2]string{"system", "System"})
	got, directive, _ := complete(t, "show", "--store", db, "")
	want := []string{"ev-2\tPortal Access by system", "ev-1\tPortal Access by smiller", "ev-0\tPortal Access by jdavis"}
	if !slices.Equal(got, want) || directive != noFileComp {
		t.Errorf("candidates = %q (%s), want %q", got, directive, want)
	}
	got, _, _ = complete(t, "show", "--store", db, "ev-2", "ev-")
	if want := want[1:]; !slices.Equal(got, want) {
		t.Errorf("after ev-2: candidates = %q, want %q", got, want)
	}
	// No store: nothing, and none created.
	got, _, _ = complete(t, "show", "")
	if len(got) != 0 {
		t.Errorf("no store: candidates %q", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "audit", "audit.db")); !os.IsNotExist(err) {
		t.Errorf("completion created the default store (stat: %v)", err)
	}
}

func TestCompleteUserUnreachableStore(t *testing.T) {
	dir := completeEnv(t)
	// A server that never answers in time.
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	}))
	defer slow.Close()
	notADB := filepath.Join(dir, "not-a-db")
	writeFile(t, notADB, "this is not SQLite\n")

	for _, addr := range []string{
		filepath.Join(dir, "missing", "audit.db"),
		notADB,
		"postgres://audit@127.0.0.1:1/audit?connect_timeout=5",
		"http://127.0.0.1:1",
		slow.URL,
		"sqlite:",
	} {
		t.Run(addr, func(t *testing.T) {
			start := time.Now()
			got, directive, stderr := complete(t, "list", "--store", addr, "--user", "")
			if elapsed := time.Since(start); elapsed > 2*time.Second {
				t.Errorf("took %v; completion must give up after %v", elapsed, userTimeout)
			}
			if len(got) != 0 {
				t.Errorf("candidates = %q, want none", got)
			}
			if directive != noFileComp {
				t.Errorf("directive = %s, want %s", directive, noFileComp)
			}
			if !onlyDirectiveNote(stderr) {
				t.Errorf("stderr = %q, want nothing but cobra's directive note", stderr)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "missing")); !os.IsNotExist(err) {
		t.Errorf("completion created the directory of a missing store (stat: %v)", err)
	}
}

// onlyDirectiveNote reports whether stderr holds nothing but the note cobra
// always writes there (and the shell scripts discard).
func onlyDirectiveNote(stderr string) bool {
	for _, line := range strings.Split(strings.TrimSpace(stderr), "\n") {
		if line != "" && !strings.HasPrefix(line, "Completion ended with directive:") {
			return false
		}
	}
	return true
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// auditBinary builds cmd/audit once for the shell tests and returns the
// directory holding it, for PATH.
func auditBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary; skipped in -short mode")
	}
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "audit-completion-test-")
		if buildErr != nil {
			return
		}
		cmd := exec.Command("go", "build", "-o", filepath.Join(binDir, "audit"), "github.com/audit-cli/audit/cmd/audit")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binDir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// shellEnv is the environment of a shell test: the built binary first on
// PATH, and no config or store of this machine.
func shellEnv(t *testing.T, bin, dir string) []string {
	return append(os.Environ(),
		"PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
		"HOME="+dir,
		"XDG_CONFIG_HOME="+filepath.Join(dir, "config"),
		"XDG_DATA_HOME="+filepath.Join(dir, "data"),
		"AUDIT_STORE=", "AUDIT_CONFIG=", "AUDIT_CONTEXT=",
	)
}

// bashComplete runs the committed completions/audit.bash in a real bash:
// it sets COMP_WORDS and COMP_CWORD as bash does on TAB, calls the
// completion function and prints COMPREPLY, one candidate a line.
func bashComplete(t *testing.T, bashCompletion bool, words ...string) []string {
	t.Helper()
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash is not installed")
	}
	bin := auditBinary(t)
	script, err := filepath.Abs(filepath.Join("..", "..", "completions", "audit.bash"))
	if err != nil {
		t.Fatal(err)
	}
	// compopt works only while bash is completing for real; here it is a
	// no-op.
	prelude := "compopt() { :; }\n"
	if bashCompletion {
		const lib = "/usr/share/bash-completion/bash_completion"
		if _, err := os.Stat(lib); err != nil {
			t.Skip("the bash-completion package is not installed")
		}
		prelude += "source " + lib + "\n"
	} else {
		// What bash-completion's _get_comp_words_by_ref does for a line
		// without '=' or ':', for machines without the package.
		prelude += `_get_comp_words_by_ref() {
  cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
  words=("${COMP_WORDS[@]}") cword=$COMP_CWORD
}
`
	}
	line := strings.Join(words, " ")
	quoted := make([]string, len(words))
	for i, w := range words {
		quoted[i] = "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
	}
	src := prelude + `source '` + script + `' || exit 1
COMP_WORDS=(` + strings.Join(quoted, " ") + `)
COMP_CWORD=` + fmt.Sprint(len(words)-1) + `
COMP_LINE='` + line + `'
COMP_POINT=${#COMP_LINE}
COMP_TYPE=9
__start_audit audit "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\n' "${COMPREPLY[@]}"
`
	cmd := exec.Command(bash, "--norc", "--noprofile", "-c", src)
	cmd.Env = shellEnv(t, bin, t.TempDir())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("bash: %v\n%s", err, stderr.String())
	}
	if stderr.Len() > 0 {
		t.Errorf("bash wrote to stderr: %s", stderr.String())
	}
	var got []string
	for _, l := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			got = append(got, l)
		}
	}
	return got
}

func TestBashCompletion(t *testing.T) {
	types := []string{"create", "delete", "login", "logout", "security", "update"}
	for _, withLib := range []bool{false, true} {
		t.Run(fmt.Sprintf("bash-completion=%v", withLib), func(t *testing.T) {
			got := bashComplete(t, withLib, "audit", "list", "--type", "")
			slices.Sort(got)
			if !slices.Equal(got, types) {
				t.Errorf("audit list --type <TAB>: COMPREPLY = %q, want %q", got, types)
			}
			got = bashComplete(t, withLib, "audit", "list", "--type", "lo")
			slices.Sort(got)
			if want := []string{"login", "logout"}; !slices.Equal(got, want) {
				t.Errorf("audit list --type lo<TAB>: COMPREPLY = %q, want %q", got, want)
			}
			got = bashComplete(t, withLib, "audit", "exp")
			if want := []string{"export"}; !slices.Equal(got, want) {
				t.Errorf("audit exp<TAB>: COMPREPLY = %q, want %q", got, want)
			}
		})
	}
}

func TestFishCompletion(t *testing.T) {
	fish, err := exec.LookPath("fish")
	if err != nil {
		t.Skip("fish is not installed")
	}
	bin := auditBinary(t)
	script, _ := filepath.Abs(filepath.Join("..", "..", "completions", "audit.fish"))
	cmd := exec.Command(fish, "--no-config", "-c", "source '"+script+"'; and complete -C 'audit list --type '")
	cmd.Env = shellEnv(t, bin, t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("fish: %v\n%s", err, out)
	}
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		v, _, _ := strings.Cut(l, "\t")
		got = append(got, v)
	}
	slices.Sort(got)
	if want := []string{"create", "delete", "login", "logout", "security", "update"}; !slices.Equal(got, want) {
		t.Errorf("fish: audit list --type <TAB> = %q, want %q", got, want)
	}
}

func TestZshCompletionLoads(t *testing.T) {
	zsh, err := exec.LookPath("zsh")
	if err != nil {
		t.Skip("zsh is not installed")
	}
	bin := auditBinary(t)
	script, _ := filepath.Abs(filepath.Join("..", "..", "completions", "audit.zsh"))
	dir := t.TempDir()
	// Installed as _audit in a directory of $fpath, as the packages do.
	writeFile(t, filepath.Join(dir, "fpath", "_audit"), readFile(t, script))
	src := `fpath=(` + filepath.Join(dir, "fpath") + ` $fpath)
autoload -U compinit && compinit -u -d ` + filepath.Join(dir, "zcompdump") + ` || exit 1
autoload -U _audit || exit 1
[[ ${_comps[audit]} == _audit ]] || { print -u2 "audit has no completion function: ${_comps[audit]}"; exit 1 }
# The function the script defines asks the binary, like a TAB would.
out=$(audit __complete list --type '' 2>/dev/null)
print -r -- $out
`
	cmd := exec.Command(zsh, "-f", "-c", src)
	cmd.Env = shellEnv(t, bin, dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("zsh: %v\n%s", err, out)
	}
	for _, want := range []string{"login", "security"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("zsh output lacks %q:\n%s", want, out)
		}
	}
}

// TestCompletionUnreachableStoreBinary checks in a real process that a TAB
// against a store that is not there prints nothing but cobra's note on
// stderr: no "audit: …" error lines in the middle of the user's prompt.
func TestCompletionUnreachableStoreBinary(t *testing.T) {
	bin := auditBinary(t)
	dir := t.TempDir()
	for _, addr := range []string{filepath.Join(dir, "none", "audit.db"), "http://127.0.0.1:1", "postgres://127.0.0.1:1/audit"} {
		cmd := exec.Command(filepath.Join(bin, "audit"), "__complete", "list", "--store", addr, "--user", "")
		cmd.Env = shellEnv(t, bin, dir)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Errorf("%s: %v (stderr %q)", addr, err, stderr.String())
		}
		if got := stdout.String(); got != noFileComp+"\n" {
			t.Errorf("%s: stdout = %q, want only the directive", addr, got)
		}
		if !onlyDirectiveNote(stderr.String()) {
			t.Errorf("%s: stderr = %q", addr, stderr.String())
		}
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
