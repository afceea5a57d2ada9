package cmdutil

import "github.com/spf13/cobra"

// NoArgs rejects positional arguments with a usage error.
func NoArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return FlagErrorf("unexpected argument %q: %q takes no arguments", args[0], cmd.CommandPath())
	}
	return nil
}

// ExactArgs requires n positional arguments, naming what is expected.
func ExactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return FlagErrorf("%q needs %s (got %d arguments)", cmd.CommandPath(), what, len(args))
		}
		return nil
	}
}

// MinimumArgs requires at least n positional arguments, naming what is
// expected.
func MinimumArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < n {
			return FlagErrorf("%q needs %s (got %d arguments)", cmd.CommandPath(), what, len(args))
		}
		return nil
	}
}
