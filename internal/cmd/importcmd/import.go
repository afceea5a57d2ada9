// Package importcmd implements `audit import`.
package importcmd

import (
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/cmdutil"
	"github.com/audit-cli/audit/internal/eventio"
	"github.com/audit-cli/audit/internal/ingest"
	"github.com/audit-cli/audit/internal/iostreams"
)

// ImportOptions holds what an import run needs.
type ImportOptions struct {
	IO    *iostreams.IOStreams
	Store func() (audit.Store, error)

	Now func() time.Time

	File        string
	Format      string
	AllowFuture bool
}

// NewCmdImport returns the import command. runF replaces importRun in tests.
func NewCmdImport(f *cmdutil.Factory, runF func(*ImportOptions) error) *cobra.Command {
	opts := &ImportOptions{IO: f.IOStreams, Store: f.Store, Now: f.Now}
	cmd := &cobra.Command{
		Use:   "import FILE|-",
		Short: "Import audit events from JSON Lines, a JSON array or CSV",
		Long: `Import audit events from a file, or from standard input with "-".

The format is detected from the first character: '{' is JSON Lines (one
event a line), '[' a JSON array, anything else CSV with a header row of
the event's field names (id, seq, time, user, user_name, type, action,
resource_type, resource, details, ip, outcome, hash). --format overrides
the detection. seq and hash in the input are ignored: the store assigns
its own.

The import is all-or-nothing: a file with an invalid record stores
nothing, and the error names its line. Importing the same events twice
stores them once (by id; an event without an id gets one derived from its
content). The summary says how many events were added and how many were
already stored. An event more than 5 minutes in the future (by this
machine's clock) is an error unless --allow-future is given.

Compressed input is read as it is, from a file or standard input: gzip
(what "audit export -o FILE.gz" writes) and zstd are recognised by their
first bytes, whatever the file is called.`,
		Example: `  audit import events.jsonl
  audit import audit-2026-W47.jsonl.gz
  curl -s https://archive.example/audit.jsonl.zst | audit import -
  audit import --format csv audit-2026-W47.csv`,
		Args: cmdutil.ExactArgs(1, "a FILE to import, or - for standard input"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.File = args[0]
			if opts.Format != "auto" && !slices.Contains(eventio.Formats, opts.Format) {
				return cmdutil.FlagErrorf("invalid --format %q (accepted: auto, %s)", opts.Format, strings.Join(eventio.Formats, ", "))
			}
			if runF != nil {
				return runF(opts)
			}
			return importRun(cmd, opts)
		},
	}
	cmd.Flags().StringVar(&opts.Format, "format", "auto", "input `format`: auto, jsonl, json, csv")
	cmd.Flags().BoolVar(&opts.AllowFuture, "allow-future", false, "accept events more than 5 minutes in the future")
	return cmd
}

func importRun(cmd *cobra.Command, opts *ImportOptions) error {
	var r io.Reader = opts.IO.In
	name := "standard input"
	if opts.File != "-" {
		f, err := os.Open(opts.File)
		if err != nil {
			return cmdutil.FlagErrorf("cannot read %s: %v", opts.File, cmdutil.UnwrapPath(err))
		}
		defer f.Close()
		r, name = f, opts.File
	}
	rc, err := ingest.Decompress(r)
	if err != nil {
		return fmt.Errorf("import %s: %w (nothing was stored)", name, err)
	}
	defer rc.Close()
	r = rc
	st, err := opts.Store()
	if err != nil {
		return err
	}
	progress := opts.IO.StartProgress("Importing")
	events := eventio.Decode(r, opts.Format)
	if !opts.AllowFuture {
		events = audit.RejectFuture(events, opts.Now)
	}
	events = counted(events, progress)
	res, err := audit.Import(cmd.Context(), st, events)
	progress.Done()
	var partial *audit.PartialError
	switch {
	case errors.As(err, &partial):
		return fmt.Errorf("import %s: %w", name, err)
	case err != nil:
		return fmt.Errorf("import %s: %w (nothing was stored)", name, err)
	}
	fmt.Fprintf(opts.IO.Out, "%d added, %d already stored\n", res.Added, res.Existing)
	return nil
}

// counted reports the events of a stream to p as they are read, and once
// all are read, that the store is still writing them: a large import
// spends its last seconds committing (and building indexes).
func counted(events iter.Seq2[audit.Event, error], p *iostreams.Progress) iter.Seq2[audit.Event, error] {
	return func(yield func(audit.Event, error) bool) {
		for e, err := range events {
			if err != nil {
				yield(e, err)
				return
			}
			p.Add(1)
			if !yield(e, nil) {
				return
			}
		}
		p.Wait("writing to the store")
	}
}
