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
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/cmdutil"
	"github.com/audit-cli/audit/internal/eventio"
	"github.com/audit-cli/audit/internal/ingest"
	_ "github.com/audit-cli/audit/internal/ingest/all" // every producer's format
	"github.com/audit-cli/audit/internal/ingest/auditd"
	"github.com/audit-cli/audit/internal/iostreams"
)

// ImportOptions holds what an import run needs.
type ImportOptions struct {
	IO    *iostreams.IOStreams
	Store func() (audit.Store, error)

	Now func() time.Time

	File            string
	Format          string
	AllowFuture     bool
	IncludeReadOnly bool
	Passwd          string
	Follow          bool
	State           string
}

// NewCmdImport returns the import command. runF replaces importRun in tests.
func NewCmdImport(f *cmdutil.Factory, runF func(*ImportOptions) error) *cobra.Command {
	opts := &ImportOptions{IO: f.IOStreams, Store: f.Store, Now: f.Now}
	cmd := &cobra.Command{
		Use:   "import FILE|-",
		Short: "Import audit events: audit's own, CloudTrail, Kubernetes, GitHub, auditd, journald",
		Long: `Import audit events from a file, or from standard input with "-".

The format is detected from the content, never from the file name:
audit's own JSON Lines, JSON array or CSV (what audit export writes),
AWS CloudTrail records ({"Records": [...]} files or one a line), the
Kubernetes API server's audit log, GitHub audit-log exports (JSON array
or lines), the Linux audit daemon's raw log (/var/log/audit/audit.log)
and the systemd journal (journalctl -o json). --format names it when the
content is ambiguous; a --format that does not match the content is an
error and stores nothing. docs/formats.md maps each producer's fields.

Compressed input is read as it is: gzip (what "audit export -o FILE.gz"
writes) and zstd are recognised by their first bytes.

The producer's own id becomes the event's id (CloudTrail eventID,
Kubernetes auditID, GitHub _document_id, auditd's node and
msg=audit(TIME:SERIAL), the journal cursor; audit's own events keep
theirs, or get one derived from their content), so importing a file
again, or a newer one that overlaps it, adds nothing. Read-only calls
(CloudTrail Get/List/Describe, Kubernetes get/list/watch, GitHub access)
are skipped and counted unless --include-read-only; journal and auditd
entries that audit nothing (no rule matches) are skipped and counted.
Each event keeps the producer's record as raw (audit show ID prints it).

The import is all-or-nothing: a file with an invalid record stores
nothing, and the error names its line. The summary on standard error
says how many records were read, added, already stored (duplicates) and
skipped. An event more than 5 minutes in the future (by this machine's
clock) is an error unless --allow-future is given.

--follow keeps reading: a file as it grows, like tail -F (through
rotation by rename and create, and by copytruncate), storing each batch
within a second of its being written and saving the offset reached in a
state file (--state), so that a restart resumes with no gap and, since
ids are the producers', no duplicate; or standard input batch by batch as
it arrives. SIGTERM or Ctrl-C stores the batch read so far and exits 0.
The packages install audit-import-auditd.service, which follows
/var/log/audit/audit.log into the service store under systemd.`,
		Example: `  audit import events.jsonl
  audit import audit-2026-W47.jsonl.gz
  audit import 111122223333_CloudTrail_us-east-2_20261120T0210Z_Mu0KsOhtH1ar15ZZ.json.gz
  audit import --format kubernetes /var/log/kubernetes/audit.log
  audit import --passwd /etc/passwd /var/log/audit/audit.log
  journalctl -o json -u ssh --since today | audit import -
  audit import --follow --format auditd /var/log/audit/audit.log
  journalctl -f -o json | audit import --follow --format journald -`,
		Args: cmdutil.ExactArgs(1, "a FILE to import, or - for standard input"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.File = args[0]
			opts.Format = strings.ToLower(strings.TrimSpace(opts.Format))
			if opts.State != "" && !opts.Follow {
				return cmdutil.FlagErrorf("--state is for --follow")
			}
			if opts.Format != "auto" && !slices.Contains(formatNames(), opts.Format) {
				return cmdutil.InvalidValue("--format", opts.Format, append([]string{"auto"}, formatNames()...))
			}
			if runF != nil {
				return runF(opts)
			}
			return importRun(cmd, opts)
		},
	}
	cmd.Flags().StringVar(&opts.Format, "format", "auto", "input `format`: auto, "+strings.Join(formatNames(), ", "))
	cmd.Flags().BoolVar(&opts.AllowFuture, "allow-future", false, "accept events more than 5 minutes in the future")
	cmd.Flags().BoolVar(&opts.IncludeReadOnly, "include-read-only", false, "keep read-only calls (CloudTrail Get/List/Describe, Kubernetes get/list/watch, GitHub access)")
	cmd.Flags().BoolVarP(&opts.Follow, "follow", "f", false, "keep reading FILE as it grows (like tail -F, across rotation) or standard input as it arrives, storing batch by batch")
	cmd.Flags().StringVar(&opts.State, "state", "", "with --follow: keep the offset reached in this `FILE` (default under $XDG_STATE_HOME/audit)")
	cmd.Flags().StringVar(&opts.Passwd, "passwd", "", "auditd: name numeric user ids from this passwd `FILE` (never from this host's)")
	return cmd
}

// formatNames are the --format values besides auto: each producer's, and
// audit's own with its sub-formats.
func formatNames() []string {
	return append(ingest.Names(), eventio.Formats...)
}

// ingestOptions reads the flags that tune the producers' readers.
func ingestOptions(opts *ImportOptions) (ingest.Options, error) {
	iopts := ingest.Options{IncludeReadOnly: opts.IncludeReadOnly}
	if opts.Passwd != "" {
		data, err := os.ReadFile(opts.Passwd)
		if err != nil {
			return iopts, cmdutil.FlagErrorf("cannot read --passwd %s: %v", opts.Passwd, cmdutil.UnwrapPath(err))
		}
		iopts.Users = auditd.ReadPasswd(data)
	}
	return iopts, nil
}

// countingReader counts the bytes read through it, for the progress line.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n.Add(int64(n))
	return n, err
}

// followRun is import --follow: batches stored as they are written, until
// SIGTERM or Ctrl-C, which finish the batch being stored and exit 0.
func followRun(cmd *cobra.Command, opts *ImportOptions) error {
	iopts, err := ingestOptions(opts)
	if err != nil {
		return err
	}
	st, err := opts.Store()
	if err != nil {
		return err
	}
	fw := &follower{opts: opts, st: st, iopts: iopts, format: opts.Format}
	ctx := cmd.Context()
	if opts.File == "-" {
		err = fw.followStdin(ctx, opts.IO.In)
	} else {
		err = fw.followFile(ctx, opts.File, opts.State)
	}
	var fe *cmdutil.FlagError
	if errors.As(err, &fe) {
		return err // a usage error, before anything was read
	}
	if fw.total.Read > 0 || err == nil {
		fmt.Fprintln(opts.IO.ErrOut, summary(fw.total, audit.AppendResult{Added: fw.added, Existing: fw.dups}))
	}
	if err != nil {
		return fmt.Errorf("import --follow %s: %w (the batches before were stored)", opts.File, err)
	}
	return nil
}

func importRun(cmd *cobra.Command, opts *ImportOptions) error {
	if opts.Follow {
		return followRun(cmd, opts)
	}
	var r io.Reader = opts.IO.In
	name := "standard input"
	var size int64
	read := &countingReader{}
	if opts.File != "-" {
		f, err := os.Open(opts.File)
		if err != nil {
			return cmdutil.FlagErrorf("cannot read %s: %v", opts.File, cmdutil.UnwrapPath(err))
		}
		defer f.Close()
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			size = fi.Size()
		}
		read.r = f
		r, name = read, opts.File
	}
	iopts, err := ingestOptions(opts)
	if err != nil {
		return err
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
	progress.SetTotal(size, read.n.Load) // how far into the file, compressed or not
	var counts ingest.Counts
	events := ingest.Decode(r, opts.Format, iopts, &counts)
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
	fmt.Fprintln(opts.IO.ErrOut, summary(counts, res))
	return nil
}

// summary is the line an import ends with: "N read, A added, D
// duplicates, R read-only skipped", and what else was skipped.
func summary(c ingest.Counts, res audit.AppendResult) string {
	s := fmt.Sprintf("%d read, %d added, %d duplicates, %d read-only skipped", c.Read, res.Added, res.Existing, c.ReadOnly)
	if c.Unmatched > 0 {
		s += fmt.Sprintf(", %d unmatched skipped", c.Unmatched)
	}
	if c.Stages > 0 {
		s += fmt.Sprintf(", %d earlier stages skipped", c.Stages)
	}
	return s
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
