// Package prune implements `audit prune`: retention that archives the
// oldest events, then deletes them, leaving a checkpoint from which the
// rest of the hash chain still verifies (docs/integrity.md).
package prune

import (
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/audit-cli/audit/internal/atomicfile"
	"github.com/audit-cli/audit/internal/audit"
	"github.com/audit-cli/audit/internal/cmdutil"
	"github.com/audit-cli/audit/internal/iostreams"
	"github.com/audit-cli/audit/internal/output"
	"github.com/audit-cli/audit/internal/timeexpr"
)

// PruneOptions holds what a prune run needs.
type PruneOptions struct {
	IO       *iostreams.IOStreams
	Store    func() (audit.Store, error)
	Key      func() ([]byte, error) // the integrity key of the config; nil: none
	Now      func() time.Time
	Location *time.Location

	Before    string
	Archive   string
	NoArchive bool
	Yes       bool
	DryRun    bool
	Force     bool
}

// NewCmdPrune returns the prune command. runF replaces pruneRun in tests.
func NewCmdPrune(f *cmdutil.Factory, runF func(*PruneOptions) error) *cobra.Command {
	opts := &PruneOptions{IO: f.IOStreams, Store: f.Store, Now: f.Now}
	opts.Key = f.ChainKey
	cmd := &cobra.Command{
		Use:   "prune --before TIME --archive FILE [flags]",
		Short: "Archive and delete the oldest audit events",
		Long: `Delete the audit events older than --before, after writing them to an
archive, keeping the rest of the log verifiable.

prune removes the oldest stretch of the log, by seq: every event up to
the first one (in seq order) that is not older than --before. An old event
recorded after a newer one stays until everything before it goes. The
newest event always stays, because the hash chain continues from it.

Step by step, and nothing is deleted unless every step succeeds:
  1. the log is verified up to the first kept event (exit 5 if it fails);
  2. the events to delete are written to --archive as JSON Lines (as
     audit export --format jsonl writes them; gzip-compressed when the
     name ends in .gz), to a temporary file that is synced and renamed
     into place, as audit export does;
  3. they are deleted in one transaction, which records a checkpoint: the
     seq and hash of the last deleted event, sealed with the integrity key,
     from which audit verify then starts.
The archive verifies on its own (docs/verify_export.py); its last hash is
the checkpoint's.

The archive name may hold placeholders:
  {until}  the --before day, YYYY-MM-DD in the configured zone
  {first}  the seq of the first archived event
  {last}   the seq of the last archived event
An existing file is not replaced unless --force is given. --no-archive
deletes without an archive, for logs kept elsewhere too.

On a terminal prune asks before it deletes; anywhere else it needs --yes.
--dry-run verifies and tells what would be pruned, and changes nothing.
On a remote store, prune needs a token with the admin role.`,
		Example: `  # Keep a year; archive the rest, gzipped, named by the cutoff day
  audit prune --before 365d --archive /archive/pruned-{until}.jsonl.gz

  # From cron
  audit prune --before 365d --archive /archive/pruned-{until}.jsonl.gz --yes

  # What would go?
  audit prune --before 2025-01-01 --archive /archive/pruned-{first}-{last}.jsonl --dry-run`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.validate(); err != nil {
				return err
			}
			opts.Location = f.Location()
			if runF != nil {
				return runF(opts)
			}
			return pruneRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Before, "before", "", "prune events older than this `time` (365d, 2025-01-01, last-month)")
	fl.StringVar(&opts.Archive, "archive", "", "write the pruned events to `FILE` first (.jsonl or .jsonl.gz; placeholders {until}, {first}, {last})")
	fl.BoolVar(&opts.NoArchive, "no-archive", false, "delete without writing an archive")
	fl.BoolVarP(&opts.Yes, "yes", "y", false, "do not ask for confirmation (needed when not on a terminal)")
	fl.BoolVar(&opts.DryRun, "dry-run", false, "verify and show what would be pruned; change nothing")
	fl.BoolVar(&opts.Force, "force", false, "replace an existing archive file")
	return cmd
}

// validate checks the flags that need no clock or store.
func (opts *PruneOptions) validate() error {
	if opts.Before == "" {
		return cmdutil.FlagErrorf("--before is required: the age of the events to prune, e.g. --before 365d")
	}
	switch {
	case opts.Archive == "" && !opts.NoArchive:
		return cmdutil.FlagErrorf("--archive FILE is required (or --no-archive to delete without one)")
	case opts.Archive != "" && opts.NoArchive:
		return cmdutil.FlagErrorf("--archive and --no-archive contradict each other")
	case opts.NoArchive && opts.Force:
		return cmdutil.FlagErrorf("--force replaces an existing archive; there is none with --no-archive")
	}
	if opts.Archive != "" {
		name := strings.ToLower(filepath.Base(opts.Archive))
		if !strings.HasSuffix(name, ".jsonl") && !strings.HasSuffix(name, ".jsonl.gz") {
			return cmdutil.FlagErrorf("--archive %q: the archive is JSON Lines; name it FILE.jsonl, or FILE.jsonl.gz for gzip", opts.Archive)
		}
		if _, err := expand(opts.Archive, time.Time{}, nil, 1, 1); err != nil {
			return err
		}
	}
	if !opts.Yes && !opts.DryRun && !(opts.IO.IsStdinTTY() && opts.IO.IsStderrTTY()) {
		return cmdutil.FlagErrorf("prune deletes events: confirm with --yes when not running on a terminal (or try --dry-run)")
	}
	return nil
}

// plan is what a prune deletes and keeps.
type plan struct {
	cutoff      time.Time
	start       audit.ChainPoint // what the first pruned event links to
	first, last audit.ChainPoint // the first and last event to prune
	events      int64
	keep        audit.ChainPoint // the first kept event
	head        int64
	checkpoint  audit.Checkpoint
	archive     string // the archive's path, "" for none
}

func pruneRun(ctx context.Context, opts *PruneOptions) error {
	if ctx == nil {
		ctx = context.Background()
	}
	now := opts.Now()
	cutoff, err := timeexpr.Parse(opts.Before, now, opts.Location)
	if err != nil {
		return cmdutil.FlagErrorf("--before: %v", err)
	}
	if cutoff.After(now) {
		return cmdutil.FlagErrorf("--before %s is in the future: prune deletes only the past", opts.Before)
	}
	var key []byte
	if opts.Key != nil {
		if key, err = opts.Key(); err != nil {
			return err
		}
	}
	st, err := opts.Store()
	if err != nil {
		return err
	}
	pruner, ok := st.(audit.Pruner)
	cs, ok2 := st.(audit.ChainStore)
	if !ok || !ok2 {
		return errors.New("this store does not support prune")
	}

	p, err := makePlan(ctx, st, cs, cutoff)
	var nothing *nothingError
	if errors.As(err, &nothing) {
		fmt.Fprintln(opts.IO.Out, nothing.Error())
		return nil
	}
	if err != nil {
		return err
	}
	// The whole chain up to the first kept event must verify: pruning a
	// tampered log would destroy the evidence.
	progress := opts.IO.StartProgress("Verifying")
	res, err := audit.Verify(ctx, st, audit.VerifyOptions{Key: key, ToSeq: p.keep.Seq, Progress: progress.Add})
	progress.Done()
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("prune stopped, nothing pruned: %w", cmdutil.ErrCancel)
		}
		return fmt.Errorf("the log does not verify, so nothing was pruned: %w", err)
	}
	if res.Last.Seq != p.keep.Seq || res.StartPoint.Seq != p.checkpoint.Seq {
		return fmt.Errorf("the log changed while prune read it (now at seq %d); nothing was pruned: try again", res.Last.Seq)
	}
	p.start, p.first, p.events = res.StartPoint, res.First, res.Events-1
	if opts.Archive != "" {
		if p.archive, err = expand(opts.Archive, cutoff, opts.Location, p.first.Seq, p.last.Seq); err != nil {
			return err
		}
		if err := atomicfile.CheckTarget(p.archive, opts.Force); err != nil {
			return err
		}
	}

	if opts.DryRun {
		fmt.Fprintln(opts.IO.Out, "would prune "+p.describe())
		return nil
	}
	if !opts.Yes {
		if err := confirm(opts, p); err != nil {
			return err
		}
	}

	req := audit.PruneRequest{Through: p.last.Seq, Hash: p.last.Hash, Events: p.events, Before: cutoff}
	var archive *atomicfile.File
	if p.archive != "" {
		_, verifies := st.(audit.Verifier)
		if archive, err = writeArchive(ctx, opts, st, p, key, !verifies); err != nil {
			return err
		}
		req.Archive, req.ArchiveSHA256 = filepath.Base(p.archive), archive.SHA256()
	}
	cp, err := pruner.Prune(ctx, req)
	if err != nil {
		archive.Remove()
		if ctx.Err() != nil {
			return fmt.Errorf("prune stopped, nothing pruned: %w", cmdutil.ErrCancel)
		}
		return fmt.Errorf("nothing pruned: %w", err)
	}
	fmt.Fprintf(opts.IO.Out, "pruned %s; checkpoint seq %d, hash %s\n", p.describe(), cp.Seq, audit.ShortHash(cp.Hash))
	return nil
}

// makePlan finds what to prune: the events after the checkpoint up to the
// first one (by seq) at or after the cutoff, or up to the newest, which
// always stays. When there is nothing, the error is a *nothingError.
func makePlan(ctx context.Context, st audit.Store, cs audit.ChainStore, cutoff time.Time) (*plan, error) {
	cp, err := cs.Checkpoint(ctx)
	if err != nil {
		return nil, err
	}
	head, headHash, err := cs.Head(ctx)
	if err != nil {
		return nil, err
	}
	p := &plan{cutoff: cutoff, checkpoint: cp, head: head, keep: audit.ChainPoint{Seq: head, Hash: headHash}}
	if head == 0 {
		return nil, errNothing("the log is empty")
	}
	kept, newer, err := first(ctx, st, audit.Filter{Since: cutoff, After: cp.Seq, Limit: 1, Order: audit.Ascending})
	if err != nil {
		return nil, err
	}
	if newer {
		p.keep = audit.ChainPoint{Seq: kept.Seq, Hash: kept.Hash}
	}
	last, ok, err := first(ctx, st, audit.Filter{After: cp.Seq, Before: p.keep.Seq, Limit: 1, Order: audit.Descending})
	if err != nil {
		return nil, err
	}
	switch {
	case !ok && newer:
		return nil, errNothing(fmt.Sprintf("the oldest event, seq %d, is not before %s", p.keep.Seq, audit.FormatTime(cutoff)))
	case !ok:
		return nil, errNothing(fmt.Sprintf("only the newest event, seq %d, is before %s, and it always stays", head, audit.FormatTime(cutoff)))
	}
	p.last = audit.ChainPoint{Seq: last.Seq, Hash: last.Hash}
	return p, nil
}

// errNothing is the outcome of a prune with nothing to do: not an error,
// but the end of the run. pruneRun prints it and exits 0.
func errNothing(why string) error { return &nothingError{why} }

type nothingError struct{ why string }

func (e *nothingError) Error() string { return "nothing to prune: " + e.why }

func (p *plan) describe() string {
	s := fmt.Sprintf("%s (seq %d–%d, before %s)", output.Count(p.events, "event", "events"),
		p.first.Seq, p.last.Seq, audit.FormatTime(p.cutoff))
	if p.archive != "" {
		s += " into " + p.archive
	} else {
		s += " without an archive"
	}
	return s + fmt.Sprintf("; the log then starts at seq %d", p.keep.Seq)
}

// confirm asks on the terminal; anything but y or yes declines.
func confirm(opts *PruneOptions, p *plan) error {
	fmt.Fprintf(opts.IO.ErrOut, "Prune %s?\nThe events are deleted from the store for good. [y/N] ", p.describe())
	line, err := bufio.NewReader(opts.IO.In).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return nil
	}
	return errors.New("prune declined; nothing was changed")
}

// writeArchive writes the events to prune to the archive and puts it in
// place. check verifies their chain again as they stream (not needed when
// the store verified itself, and impossible without its key).
func writeArchive(ctx context.Context, opts *PruneOptions, st audit.Store, p *plan, key []byte, check bool) (*atomicfile.File, error) {
	f, err := atomicfile.Create(p.archive)
	if err != nil {
		return nil, err
	}
	defer f.Abort() // a no-op once committed
	progress := opts.IO.StartProgress("Archiving")
	defer progress.Done()

	bw := bufio.NewWriterSize(f, 64<<10)
	var w io.Writer = bw
	var gz *gzip.Writer
	if strings.HasSuffix(strings.ToLower(p.archive), ".gz") {
		gz = gzip.NewWriter(bw)
		w = gz
	}
	pr, err := output.New(w, output.Options{Format: "jsonl", Location: time.UTC})
	if err != nil {
		return nil, err
	}
	v := audit.NewChainVerifier(key, p.start)
	var n int64
	var last audit.ChainPoint
	for e, err := range st.Query(ctx, audit.Filter{After: p.start.Seq, Before: p.last.Seq + 1, Order: audit.Ascending}) {
		if err != nil {
			return nil, stopped(ctx, p, err)
		}
		if check {
			if err := v.Add(&e); err != nil {
				return nil, fmt.Errorf("the log changed while prune read it, nothing pruned: %w", err)
			}
		}
		if err := pr.Print(&e); err != nil {
			return nil, fmt.Errorf("writing %s: %w", p.archive, err)
		}
		n++
		last = audit.ChainPoint{Seq: e.Seq, Hash: e.Hash}
		progress.Add(1)
	}
	if check {
		if err := v.Close(); err != nil {
			return nil, fmt.Errorf("the log changed while prune read it, nothing pruned: %w", err)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, stopped(ctx, p, err)
	}
	if n != p.events || last != p.last {
		return nil, fmt.Errorf("the log changed while prune read it (%d events up to seq %d, expected %d up to seq %d); nothing pruned: try again",
			n, last.Seq, p.events, p.last.Seq)
	}
	if err := pr.Close(); err != nil {
		return nil, fmt.Errorf("writing %s: %w", p.archive, err)
	}
	if gz != nil {
		if err := gz.Close(); err != nil {
			return nil, fmt.Errorf("writing %s: %w", p.archive, err)
		}
	}
	if err := bw.Flush(); err != nil {
		return nil, fmt.Errorf("writing %s: %w", p.archive, err)
	}
	if err := f.Finish(); err != nil {
		return nil, fmt.Errorf("writing %s: %w", p.archive, err)
	}
	if err := f.Commit(opts.Force); err != nil {
		return nil, err
	}
	return f, nil
}

func stopped(ctx context.Context, p *plan, err error) error {
	if ctx.Err() != nil || errors.Is(err, context.Canceled) {
		return fmt.Errorf("prune stopped, no archive written and nothing pruned: %w", cmdutil.ErrCancel)
	}
	return fmt.Errorf("archiving to %s, nothing pruned: %w", p.archive, err)
}

// expand replaces the placeholders of the archive name: {until} (the
// cutoff day in loc), {first} and {last} (seqs).
func expand(pattern string, cutoff time.Time, loc *time.Location, firstSeq, lastSeq int64) (string, error) {
	if loc == nil {
		loc = time.UTC
	}
	var b strings.Builder
	rest := pattern
	for {
		i := strings.IndexByte(rest, '{')
		j := strings.IndexByte(rest[max(i, 0):], '}')
		if i < 0 || j < 0 {
			b.WriteString(rest)
			return b.String(), nil
		}
		b.WriteString(rest[:i])
		name := rest[i+1 : i+j]
		rest = rest[i+j+1:]
		switch name {
		case "until":
			b.WriteString(cutoff.In(loc).Format("2006-01-02"))
		case "first":
			b.WriteString(strconv.FormatInt(firstSeq, 10))
		case "last":
			b.WriteString(strconv.FormatInt(lastSeq, 10))
		default:
			return "", cmdutil.FlagErrorf("--archive %q: unknown placeholder {%s} (accepted: {until}, {first}, {last})", pattern, name)
		}
	}
}

// first returns the first event of a query, if any.
func first(ctx context.Context, st audit.Store, f audit.Filter) (audit.Event, bool, error) {
	for e, err := range st.Query(ctx, f) {
		return e, err == nil, err
	}
	return audit.Event{}, false, nil
}
