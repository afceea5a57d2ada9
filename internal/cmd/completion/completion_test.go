package completion

import (
	"errors"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/audit-cli/audit/internal/cmdutil"
	"github.com/audit-cli/audit/internal/iostreams"
)

func newRoot(t *testing.T) (*cobra.Command, *iostreams.IOStreams) {
	t.Helper()
	ios, _, _, _ := iostreams.Test()
	root := &cobra.Command{Use: "audit"}
	root.AddCommand(&cobra.Command{Use: "list", Run: func(*cobra.Command, []string) {}})
	root.AddCommand(NewCmdCompletion(&cmdutil.Factory{IOStreams: ios}, nil))
	return root, ios
}

func TestCompletionScripts(t *testing.T) {
	// A line each script must contain: the function or command the shell
	// calls on TAB.
	marks := map[string]string{
		"bash":       "complete -o default -F __start_audit audit",
		"zsh":        "#compdef audit",
		"fish":       "complete -c audit ",
		"powershell": "Register-ArgumentCompleter -CommandName 'audit'",
	}
	for _, shell := range Shells {
		t.Run(shell, func(t *testing.T) {
			root, ios := newRoot(t)
			root.SetArgs([]string{"completion", shell})
			if err := root.Execute(); err != nil {
				t.Fatal(err)
			}
			out := ios.Out.(interface{ String() string }).String()
			if !strings.Contains(out, marks[shell]) {
				t.Errorf("the %s script lacks %q:\n%.300s", shell, marks[shell], out)
			}
		})
	}
}

func TestCompletionUsageErrors(t *testing.T) {
	for _, args := range [][]string{{"completion"}, {"completion", "tcsh"}, {"completion", "bash", "zsh"}} {
		root, _ := newRoot(t)
		root.SetArgs(args)
		root.SilenceErrors, root.SilenceUsage = true, true
		err := root.Execute()
		var flagErr *cmdutil.FlagError
		if !errors.As(err, &flagErr) {
			t.Errorf("%v: err = %v, want a FlagError (exit 2)", args, err)
		}
	}
}
