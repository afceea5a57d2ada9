// Package completion implements `audit completion SHELL`, which prints the
// shell completion script. It replaces cobra's default completion command
// to say, per shell, where the script goes.
package completion

import (
	"io"

	"github.com/spf13/cobra"

	"github.com/audit-cli/audit/internal/cmdutil"
	"github.com/audit-cli/audit/internal/iostreams"
)

// Shells lists the shells a script can be written for.
var Shells = []string{"bash", "zsh", "fish", "powershell"}

// CompletionOptions holds what a completion run needs.
type CompletionOptions struct {
	IO     *iostreams.IOStreams
	Shell  string
	NoDesc bool
}

// NewCmdCompletion returns the completion command. runF replaces
// completionRun in tests.
func NewCmdCompletion(f *cmdutil.Factory, runF func(*cobra.Command, *CompletionOptions) error) *cobra.Command {
	opts := &CompletionOptions{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "completion {bash|zsh|fish|powershell}",
		Short: "Print the shell completion script for bash, zsh, fish or PowerShell",
		Long: `Print the script that lets the shell complete audit's commands, flags
and flag values: event types, output formats, periods, context names
from the config file, and the users recently recorded in the store.

The .deb and .rpm packages install the bash, zsh and fish scripts where
the shells look for them; the release archives carry them in
completions/. Otherwise load the script yourself:

bash (needs the bash-completion package):
  audit completion bash > ~/.local/share/bash-completion/completions/audit
  or, for the current shell only:  source <(audit completion bash)

zsh:
  audit completion zsh > "${fpath[1]}/_audit"
  (compinit must run in ~/.zshrc: autoload -U compinit && compinit)

fish:
  audit completion fish > ~/.config/fish/completions/audit.fish

PowerShell:
  audit completion powershell | Out-String | Invoke-Expression
  (add that line to $PROFILE to keep it)

Start a new shell afterwards.`,
		Example: `  # Try it in the current bash
  source <(audit completion bash)
  audit list --type <TAB><TAB>`,
		ValidArgs: Shells,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return cmdutil.FlagErrorf("%q needs a shell: bash, zsh, fish or powershell", cmd.CommandPath())
			}
			return nil
		},
		// Printing a script needs no configuration.
		PersistentPreRunE: func(*cobra.Command, []string) error { return nil },
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Shell = args[0]
			if runF != nil {
				return runF(cmd, opts)
			}
			return completionRun(cmd, opts)
		},
	}
	cmd.Flags().BoolVar(&opts.NoDesc, "no-descriptions", false, "leave descriptions out of the completions")
	return cmd
}

func completionRun(cmd *cobra.Command, opts *CompletionOptions) error {
	return Write(opts.IO.Out, cmd.Root(), opts.Shell, !opts.NoDesc)
}

// Write writes root's completion script for shell to w, with or without
// descriptions of the candidates. cmd/gen-docs uses it for completions/.
func Write(w io.Writer, root *cobra.Command, shell string, descriptions bool) error {
	switch shell {
	case "bash":
		return root.GenBashCompletionV2(w, descriptions)
	case "zsh":
		if !descriptions {
			return root.GenZshCompletionNoDesc(w)
		}
		return root.GenZshCompletion(w)
	case "fish":
		return root.GenFishCompletion(w, descriptions)
	case "powershell":
		if !descriptions {
			return root.GenPowerShellCompletion(w)
		}
		return root.GenPowerShellCompletionWithDesc(w)
	}
	return cmdutil.FlagErrorf("unknown shell %q (accepted: bash, zsh, fish, powershell)", shell)
}
