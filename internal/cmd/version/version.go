// Package version implements `audit version` and the text of `audit
// --version`.
package version

import (
	"fmt"
	"runtime"
	"strings"

	"github.com/spf13/cobra"

	"github.com/audit-cli/audit/internal/build"
	"github.com/audit-cli/audit/internal/cmdutil"
	"github.com/audit-cli/audit/internal/iostreams"
)

// Info is what a binary knows about its own build.
type Info struct {
	Version string // e.g. 1.2.0, or "dev"
	Commit  string // short VCS revision, "" when unknown
	Date    string // build or commit time, RFC 3339, "" when unknown
}

// Current returns the Info of this binary: what the linker set, else what Go
// recorded in the build info (go install), else "dev".
func Current() Info {
	v := build.Version
	if v == "" {
		v = "dev"
	}
	i := Info{Version: v, Commit: build.Commit, Date: build.Date}
	// What release tooling writes when it could not tell.
	if i.Commit == "none" || i.Commit == "unknown" {
		i.Commit = ""
	}
	if strings.HasPrefix(i.Date, "0001-01-01") || i.Date == "unknown" {
		i.Date = ""
	}
	return i
}

// Format returns the one-line version text shared by `audit version` and
// `audit --version`, e.g.
//
//	audit version 1.2.0 (commit 3f2c1a9, built 2026-11-26T10:00:00Z)
func Format(i Info) string {
	v := strings.TrimPrefix(i.Version, "v")
	var extra []string
	if i.Commit != "" {
		extra = append(extra, "commit "+i.Commit)
	}
	if i.Date != "" {
		extra = append(extra, "built "+i.Date)
	}
	s := "audit version " + v
	if len(extra) > 0 {
		s += " (" + strings.Join(extra, ", ") + ")"
	}
	return s + "\n"
}

// VersionOptions holds what a version run needs.
type VersionOptions struct {
	IO      *iostreams.IOStreams
	Info    Info
	Verbose bool
}

// NewCmdVersion returns the version command. runF replaces versionRun in
// tests.
func NewCmdVersion(f *cmdutil.Factory, runF func(*VersionOptions) error) *cobra.Command {
	opts := &VersionOptions{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Show the version, commit and build date of audit",
		Long: `Show the version of audit, the commit it was built from and when it was
built. Release binaries carry all three (the date is the commit's, so
that building a tag again gives the same binary); a binary built with
"go install" shows the module version and, when Go recorded them, the
commit and its time. "audit --version" prints the same line.

-v adds the Go version and the platform, for bug reports.`,
		Example: `  audit version
  audit version -v`,
		Args: cmdutil.NoArgs,
		// The version needs no configuration: it works with a broken
		// config file, so a bug report can include it.
		PersistentPreRunE: func(*cobra.Command, []string) error { return nil },
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Info = Current()
			if runF != nil {
				return runF(opts)
			}
			return versionRun(opts)
		},
	}
	cmd.Flags().BoolVarP(&opts.Verbose, "verbose", "v", false, "also show the Go version and platform")
	return cmd
}

func versionRun(opts *VersionOptions) error {
	fmt.Fprint(opts.IO.Out, Format(opts.Info))
	if opts.Verbose {
		fmt.Fprintf(opts.IO.Out, "%s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	}
	return nil
}

// SetRootVersion makes `audit --version` print the same line as `audit
// version`.
func SetRootVersion(root *cobra.Command) {
	i := Current()
	root.Version = i.Version
	// The template is plain text: a version never holds "{{".
	root.SetVersionTemplate(Format(i))
	// --version without cobra's -v: -v is --verbose wherever it exists.
	root.Flags().Bool("version", false, "print the version and exit")
}
