package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/audit-cli/audit/internal/iostreams"
)

// invocation is one `audit …` command of a help example.
type invocation struct {
	where string   // the command whose help shows it
	line  string   // the example as written
	args  []string // its words after "audit"
}

// shellWords splits a line as a POSIX shell would into words, quotes
// removed; unquoted |, ||, &&, ;, <, > and a comment end a word and come
// out as words of their own ("#" for a comment, which ends the line).
func shellWords(line string) []string {
	var words []string
	var cur strings.Builder
	inWord := false
	flush := func() {
		if inWord {
			words = append(words, cur.String())
			cur.Reset()
			inWord = false
		}
	}
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '\'':
			j := strings.IndexByte(line[i+1:], '\'')
			if j < 0 {
				j = len(line) - i - 1
			}
			cur.WriteString(line[i+1 : i+1+j])
			inWord, i = true, i+1+j
		case c == '"':
			for i++; i < len(line) && line[i] != '"'; i++ {
				if line[i] == '\\' && i+1 < len(line) {
					i++
				}
				cur.WriteByte(line[i])
			}
			inWord = true
		case c == '$' && i+1 < len(line) && line[i+1] == '(':
			// A command substitution is part of the word.
			depth := 0
			for ; i < len(line); i++ {
				cur.WriteByte(line[i])
				if line[i] == '(' {
					depth++
				} else if line[i] == ')' {
					if depth--; depth == 0 {
						break
					}
				}
			}
			inWord = true
		case c == ' ' || c == '\t':
			flush()
		case c == '#' && !inWord:
			return append(words, "#")
		case strings.IndexByte("|&;<>", c) >= 0:
			flush()
			op := string(c)
			if i+1 < len(line) && (line[i+1] == c || c == '<' && line[i+1] == '(') {
				op += string(line[i+1])
				i++
			}
			words = append(words, op)
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	flush()
	return words
}

// exampleInvocations returns every `audit …` command in the examples of
// cmd and its subcommands: continued lines joined, comments dropped, and
// each part of a pipeline or list that starts with audit.
func exampleInvocations(cmd *cobra.Command) []invocation {
	var out []invocation
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		lines := strings.Split(strings.ReplaceAll(c.Example, "\\\n", " "), "\n")
		for _, line := range lines {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#") || strings.Contains(line, "<TAB>") {
				continue
			}
			words := shellWords(line)
			start := 0
			for i := 0; i <= len(words); i++ {
				if i < len(words) && !isOperator(words[i]) {
					continue
				}
				part := words[start:i]
				if len(part) > 0 && part[0] == "audit" {
					out = append(out, invocation{where: where(c), line: line, args: part[1:]})
				}
				if i < len(words) && (words[i] == "#" || words[i] == "<" || words[i] == ">") {
					// A comment ends the line; a redirection's file is no command.
					if words[i] == "#" {
						break
					}
					i++
				}
				start = i + 1
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(cmd)
	return out
}

// where names the help an example is shown in.
func where(c *cobra.Command) string {
	if c.Use == "README.md" {
		return "README.md"
	}
	return c.CommandPath() + " --help"
}

func isOperator(w string) bool {
	switch w {
	case "|", "||", "&&", ";", "<", ">", ">>", "<(", "#":
		return true
	}
	return false
}

// TestShellWords checks the splitting the examples test relies on.
func TestShellWords(t *testing.T) {
	got := shellWords(`audit list --template '{{.ID}}{{"\n"}}' -o "a b" -o x-$(date +%F).gz | jq -r .ip  # note`)
	want := []string{"audit", "list", "--template", `{{.ID}}{{"\n"}}`, "-o", "a b", "-o", "x-$(date +%F).gz", "|", "jq", "-r", ".ip", "#"}
	if strings.Join(got, "\x00") != strings.Join(want, "\x00") {
		t.Errorf("shellWords = %q, want %q", got, want)
	}
}

// runnable are the commands an example of which the test runs for real
// against a store of the seed events: they read, and write nothing but
// their output.
var runnable = map[string]bool{
	"list": true, "show": true, "stats": true, "stats logins": true, "verify": true,
	"version": true, "config": true, "config view": true, "config get-contexts": true,
	"config current-context": true,
}

// TestHelpExamples: every `audit …` in every --help example is a command
// line the tool accepts (its command exists, its flags parse, its
// arguments fit), so help and behaviour cannot drift apart; and those of
// the reading commands, run against a real store, exit as the contract
// says (0 or 1, never a usage error).
func TestHelpExamples(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("AUDIT_STORE", filepath.Join(dir, "audit.db"))
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "config"))
	t.Setenv("XDG_STATE_HOME", filepath.Join(dir, "state"))
	t.Setenv("AUDIT_NOW", "2026-11-26T15:00:00Z")
	t.Setenv("NO_COLOR", "1")
	seed, err := filepath.Abs("../../testdata/seed.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := execute(t, "import", seed); code != 0 {
		t.Fatalf("import the seed: exit %d: %s", code, stderr)
	}

	ios, _, _, _ := iostreams.Test()
	f, closeStore := NewFactory(ios)
	defer closeStore()
	invs := exampleInvocations(NewCmdRoot(f))
	// The README's shell blocks are examples too.
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var blocks []string
	for i, part := range strings.Split(string(readme), "```") {
		if i%2 == 1 && (strings.HasPrefix(part, "sh\n") || strings.HasPrefix(part, "bash\n")) {
			blocks = append(blocks, part[strings.IndexByte(part, '\n')+1:])
		}
	}
	fromReadme := exampleInvocations(&cobra.Command{Use: "README.md", Example: strings.Join(blocks, "\n")})
	if len(fromReadme) < 10 {
		t.Fatalf("found %d commands in the README's shell blocks; the extraction is broken", len(fromReadme))
	}
	invs = append(invs, fromReadme...)
	if len(invs) < 50 {
		t.Fatalf("found %d example commands; the extraction is broken", len(invs))
	}
	ran := 0
	for _, inv := range invs {
		ios, _, _, _ := iostreams.Test()
		f, closeStore := NewFactory(ios)
		root := NewCmdRoot(f)
		c, rest, err := root.Find(inv.args)
		if err != nil || c == root && len(inv.args) > 0 && !strings.HasPrefix(inv.args[0], "-") {
			t.Errorf("%s shows %q: no such command (%v)", inv.where, inv.line, err)
			closeStore()
			continue
		}
		if err := c.ParseFlags(rest); err != nil {
			t.Errorf("%s shows %q: %v", inv.where, inv.line, flagError(c, err))
			closeStore()
			continue
		}
		if err := c.ValidateArgs(c.Flags().Args()); err != nil {
			t.Errorf("%s shows %q: %v", inv.where, inv.line, err)
		}
		closeStore()

		name := strings.TrimPrefix(strings.TrimPrefix(c.CommandPath(), "audit"), " ")
		if !runnable[name] || hasAny(inv.args, "--store", "--context", "--config", "--expect-head", "--cursor-file") {
			continue
		}
		ran++
		code, _, stderr := execute(t, inv.args...)
		if code != 0 && code != 1 {
			t.Errorf("%s shows %q: it exits %d: %s", inv.where, inv.line, code, stderr)
		}
	}
	if ran < 15 {
		t.Errorf("ran %d examples; want the reading commands' examples run", ran)
	}
	t.Logf("%d example commands checked, %d run against the seed store", len(invs), ran)
}

// execute runs audit ARGS in process on test streams and returns its exit
// code, standard output and standard error.
func execute(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	ios, _, out, errOut := iostreams.Test()
	f, closeStore := NewFactory(ios)
	root := NewCmdRoot(f)
	root.SetArgs(args)
	root.SetOut(out)
	root.SetErr(errOut)
	err := root.ExecuteContext(context.Background())
	if cerr := closeStore(); err == nil {
		err = cerr
	}
	return Report(ios, err), out.String(), errOut.String()
}

func hasAny(args []string, flags ...string) bool {
	for _, a := range args {
		for _, f := range flags {
			if a == f || strings.HasPrefix(a, f+"=") {
				return true
			}
		}
	}
	return false
}
