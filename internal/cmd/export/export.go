// Package export implements `audit export`: events to a CSV, JSON Lines or
// JSON archive that a cron job can trust — written atomically, never
// partial, optionally gzipped, with a manifest and a resumable cursor.
package export

import (
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
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

// Formats lists the formats export writes; the first is the default.
var Formats = []string{"csv", "jsonl", "json"}

// ExportOptions holds what an export run needs.
type ExportOptions struct {
	IO    *iostreams.IOStreams
	Store func() (audit.Store, error) // the store read: --read-store, else --store
	// Primary is the store written, which Store is a copy of when
	// --read-store is given; nil or the same store: no copy to wait for.
	Primary  func() (audit.Store, error)
	Now      func() time.Time
	Location *time.Location

	Filter      cmdutil.FilterFlags
	Limit       int
	Reverse     bool
	Output      string // file name with placeholders; "" or "-" is stdout
	Format      string // csv, jsonl, json; "" chooses from the file name
	Force       bool
	Raw         bool
	WithRaw     bool
	BOM         bool
	Manifest    bool
	CursorFile  string
	Verbose     bool
	ReplicaWait time.Duration
}

// NewCmdExport returns the export command. runF replaces exportRun in tests.
func NewCmdExport(f *cmdutil.Factory, runF func(*ExportOptions) error) *cobra.Command {
	opts := &ExportOptions{IO: f.IOStreams, Store: f.Reader(), Primary: f.Store, Now: f.Now}
	cmd := &cobra.Command{
		Use:   "export [flags]",
		Short: "Export audit events to a CSV, JSON Lines or JSON archive",
		Long: `Export the audit events matching the filters, oldest first, to a file
(-o FILE) or to standard output (no -o, or -o -).

The format is csv, jsonl or json: --format says which, or else the file
name does (.csv, .jsonl, .json, each optionally followed by .gz for a
gzip-compressed file); without either it is csv. CSV has a header row of
the event's field names and is RFC 4180 UTF-8; --bom starts it with a
UTF-8 byte order mark for spreadsheet programs that need one.

Cells that a spreadsheet would run as a formula (starting with =, +, -, @,
a tab or a carriage return) are neutralised in CSV with a leading single
quote, so a details value such as =HYPERLINK(...) is shown, not executed.
audit import removes the quote again. --raw writes the cells exactly as
recorded. JSON and JSON Lines are always exact.

A file is written atomically: to a hidden temporary file in the target
directory, synced, then renamed into place. An export that fails or is
interrupted (exit 130) leaves no file at the final path and no temporary
file behind. An existing file is not replaced unless --force is given.

The file name may hold placeholders, so cron lines stay simple:
  {period}  the --period name (2026-W47, 2026-11, 2026-11-20), else
            SINCE..UNTIL dates (an open end is "start" or "now"), or "all"
  {since}   the first day of the window, YYYY-MM-DD
  {until}   the exclusive end day of the window, YYYY-MM-DD
Dates are in the configured zone (--utc, config timezone).

--manifest writes FILE.manifest.json beside the file once it is complete:
rows, time window, filters, first and last seq and hash, format, gzip and
the SHA-256 of the file. Check an archive with
  cd DIR && jq -r '.sha256 + "  " + .file' FILE.manifest.json | sha256sum -c

--cursor-file makes exports incremental: the file holds the seq of the
last event exported (a missing file starts from the beginning). Only
events after it are exported, oldest first, and the file is updated only
once the export is safely in place — also when nothing new was found — so
across runs no event is skipped or exported twice.

On a terminal, a progress line on stderr shows rows, rate, how far, the
time left and elapsed time while a file is written; -v prints a one-line
summary when done.

With --read-store (a streaming standby of the store), the export reads the
standby, once it has replayed every event the store held when the export
began: it waits up to --replica-wait for that, then fails (exit 3) rather
than write an archive that misses events.`,
		Example: `  # Every Monday: last week's closed ISO week as CSV, e.g. audit-2026-W47.csv
  # crontab: 5 0 * * 1  audit export --period last-week -o /archive/audit-{period}.csv --manifest
  audit export --period last-week -o /archive/audit-{period}.csv --manifest

  # Check an archive against its manifest
  cd /archive && jq -r '.sha256 + "  " + .file' audit-2026-W47.csv.manifest.json | sha256sum -c

  # Nightly: only what is new since the last run, gzipped JSON Lines
  audit export --cursor-file /var/lib/audit/nightly.cursor \
    -o "/archive/audit-$(date +%F).jsonl.gz" -v

  # Failed logins of November for a spreadsheet
  audit export --type login --failed --period 2026-11 --bom -o failed-logins-{period}.csv

  # Stream the last 24 hours to jq
  audit export --since 24h --format jsonl | jq -r 'select(.outcome == "failure") | .user'`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.validate(); err != nil {
				return err
			}
			opts.Location = f.Location()
			if runF != nil {
				return runF(opts)
			}
			return exportRun(cmd.Context(), opts)
		},
	}
	cmdutil.AddFilterFlags(cmd, &opts.Filter)
	fl := cmd.Flags()
	fl.IntVarP(&opts.Limit, "limit", "n", 0, "export at most `N` events (0 = all)")
	fl.BoolVar(&opts.Reverse, "reverse", false, "newest first (export is oldest first)")
	fl.StringVarP(&opts.Output, "output", "o", "", "write to `FILE` (placeholders {period}, {since}, {until}); - or none: standard output")
	fl.StringVar(&opts.Format, "format", "", "`format`: csv, jsonl, json (default: from the file name, else csv)")
	fl.BoolVar(&opts.Force, "force", false, "replace an existing file")
	fl.BoolVar(&opts.WithRaw, "with-raw", false, "jsonl/json: include each event's original record from its producer (raw); never in CSV")
	fl.BoolVar(&opts.Raw, "raw", false, "write CSV cells exactly as recorded, without formula neutralisation")
	fl.BoolVar(&opts.BOM, "bom", false, "start CSV with a UTF-8 byte order mark (for spreadsheet programs)")
	fl.BoolVar(&opts.Manifest, "manifest", false, "write FILE.manifest.json with row count, window, filters, seq/hash range and SHA-256")
	fl.StringVar(&opts.CursorFile, "cursor-file", "", "export only events after the seq in `PATH`, then store the last exported seq there")
	fl.BoolVarP(&opts.Verbose, "verbose", "v", false, "print a one-line summary on stderr")
	fl.DurationVar(&opts.ReplicaWait, "replica-wait", time.Minute, "with --read-store: how long to wait for the read store to catch up with the store")
	return cmd
}

// validate checks the combination of flags that needs no clock or store.
func (opts *ExportOptions) validate() error {
	if opts.Limit < 0 {
		return cmdutil.FlagErrorf("invalid --limit %d: want a number >= 0 (0 = all)", opts.Limit)
	}
	if opts.ReplicaWait < 0 {
		return cmdutil.FlagErrorf("invalid --replica-wait %s: want a duration >= 0 (e.g. 30s, 5m)", opts.ReplicaWait)
	}
	if opts.Format != "" {
		opts.Format = strings.ToLower(strings.TrimSpace(opts.Format))
		if !slices.Contains(Formats, opts.Format) {
			return cmdutil.InvalidValue("--format", opts.Format, Formats)
		}
	}
	toStdout := opts.Output == "" || opts.Output == "-"
	if toStdout && opts.Manifest {
		return cmdutil.FlagErrorf("--manifest needs an output file (-o FILE)")
	}
	if !toStdout && strings.HasSuffix(opts.Output, string(filepath.Separator)) {
		return cmdutil.FlagErrorf("invalid --output %q: want a file name, not a directory", opts.Output)
	}
	if !toStdout {
		if err := checkOutputName(opts.Output, opts.Format); err != nil {
			return err
		}
	}
	if opts.CursorFile != "" {
		if opts.Reverse {
			return cmdutil.FlagErrorf("--cursor-file exports oldest first; do not combine it with --reverse")
		}
		if opts.Filter.After != 0 {
			return cmdutil.FlagErrorf("--cursor-file sets where to start; do not combine it with --after")
		}
	}
	return nil
}

// outputFormatNames are the -o values of list; given to export's -o, which
// takes a file name, they are a format meant for --format.
var outputFormatNames = []string{"csv", "tsv", "json", "jsonl", "table", "wide", "template"}

// checkOutputName refuses an -o that cannot be what the user meant, before
// any file is created: a format name instead of a file name, or a file
// name whose extension says a format export does not write (unless
// --format says which to write).
func checkOutputName(name, format string) error {
	if slices.Contains(outputFormatNames, strings.ToLower(name)) {
		hint := "--format " + strings.ToLower(name)
		if !slices.Contains(Formats, strings.ToLower(name)) {
			hint = "--format csv, jsonl or json"
		}
		return cmdutil.FlagErrorf("-o takes a file name for export, not a format: did you mean %s (or -o FILE.%s)?", hint, Formats[0])
	}
	if format != "" {
		return nil
	}
	base := strings.ToLower(filepath.Base(name))
	base = strings.TrimSuffix(base, ".gz")
	ext := filepath.Ext(base)
	if ext == "" || !strings.ContainsAny(ext, "abcdefghijklmnopqrstuvwxyz") || strings.ContainsAny(ext, "{}") {
		return nil // no extension, or a date-like ".11": the format defaults to csv
	}
	if !slices.Contains(Formats, ext[1:]) {
		return cmdutil.FlagErrorf("unknown extension %q in -o %s (known: .csv, .jsonl, .json, each optionally .gz; or give --format)", ext, name)
	}
	return nil
}

// target is where an export goes, as resolved from -o and --format.
type target struct {
	path   string // "" for stdout
	format string // csv, jsonl, json
	gzip   bool
}

// resolveTarget expands the placeholders of -o and chooses the format.
func resolveTarget(opts *ExportOptions, f audit.Filter, period *timeexpr.Period) (target, error) {
	var t target
	if opts.Output != "" && opts.Output != "-" {
		p, err := expandPlaceholders(opts.Output, f, period, opts.Location)
		if err != nil {
			return t, err
		}
		t.path = p
	}
	name := strings.ToLower(filepath.Base(t.path))
	if t.path != "" {
		if trimmed, ok := strings.CutSuffix(name, ".gz"); ok {
			t.gzip, name = true, trimmed
		}
	}
	fromName := ""
	if t.path != "" {
		switch ext := filepath.Ext(name); ext {
		case ".csv", ".jsonl", ".json":
			fromName = ext[1:]
		}
	}
	switch {
	case opts.Format != "" && fromName != "" && opts.Format != fromName:
		return t, cmdutil.FlagErrorf("--format %s does not match the file name %s; give one or make them agree",
			opts.Format, filepath.Base(t.path))
	case opts.Format != "":
		t.format = opts.Format
	case fromName != "":
		t.format = fromName
	default:
		t.format = Formats[0]
	}
	if opts.BOM && t.format != "csv" {
		return t, cmdutil.FlagErrorf("--bom is for csv output, not %s", t.format)
	}
	return t, nil
}

// stats are what an export wrote, for the manifest, the cursor and -v.
type stats struct {
	rows                int64
	firstSeq, lastSeq   int64
	firstHash, lastHash string
	minSeq, maxSeq      int64
}

func (s *stats) add(e *audit.Event) {
	if s.rows == 0 {
		s.firstSeq, s.firstHash = e.Seq, e.Hash
		s.minSeq, s.maxSeq = e.Seq, e.Seq
	}
	s.rows++
	s.lastSeq, s.lastHash = e.Seq, e.Hash
	s.minSeq, s.maxSeq = min(s.minSeq, e.Seq), max(s.maxSeq, e.Seq)
}

// utf8BOM is the byte order mark --bom writes before the CSV header.
const utf8BOM = "\ufeff"

// exportRun exports the events that opts select; ctx ends it early (SIGINT,
// SIGTERM), with an error wrapping cmdutil.ErrCancel and nothing written.
func exportRun(ctx context.Context, opts *ExportOptions) error {
	if ctx == nil {
		ctx = context.Background()
	}
	now := opts.Now()
	filter, period, err := opts.Filter.Filter(now, opts.Location)
	if err != nil {
		return err
	}
	filter.Limit = opts.Limit
	filter.Order = audit.Ascending
	if opts.Reverse {
		filter.Order = audit.Descending
	}
	tgt, err := resolveTarget(opts, filter, period)
	if err != nil {
		return err
	}

	var cursor int64
	if opts.CursorFile != "" {
		if cursor, err = readCursor(opts.CursorFile); err != nil {
			return err
		}
		filter.After = cursor
	}
	if tgt.path != "" {
		if err := atomicfile.CheckTarget(tgt.path, opts.Force); err != nil {
			return err
		}
		if opts.Manifest {
			if err := atomicfile.CheckTarget(manifestPath(tgt.path), opts.Force); err != nil {
				return err
			}
		}
	}

	st, err := opts.Store()
	if err != nil {
		return err
	}
	if opts.Primary != nil {
		primary, err := opts.Primary()
		if err != nil {
			return err
		}
		if primary != st {
			if err := audit.CatchUp(ctx, primary, st, opts.ReplicaWait); err != nil {
				return err
			}
		}
	}

	// A cursor that cannot be written fails the run before the export, not
	// after it. To a file, its temporary file is made now; to stdout, where
	// a closed pipe (| head) ends the process at once, only at the end.
	var cursorFile *atomicfile.File
	if opts.CursorFile != "" {
		if tgt.path != "" {
			if cursorFile, err = atomicfile.Create(opts.CursorFile); err != nil {
				return fmt.Errorf("cursor file: %w", err)
			}
			defer cursorFile.Abort()
		} else if err := checkDir(opts.CursorFile); err != nil {
			return fmt.Errorf("cursor file: %w", err)
		}
	}
	var sink io.Writer = opts.IO.Out
	var file *atomicfile.File
	var progress *iostreams.Progress
	if tgt.path != "" {
		if file, err = atomicfile.Create(tgt.path); err != nil {
			return err
		}
		defer file.Abort() // a no-op once committed
		sink = file
		progress = opts.IO.StartProgress("Exporting")
		defer progress.Done()
		if opts.IO.IsStderrTTY() {
			// The line shows how far when the store counts the window
			// quickly (over its indexes, as stats does).
			if sr, ok := st.(audit.Statser); ok {
				if res, err := sr.Stats(ctx, audit.StatsQuery{Filter: filter}); err == nil {
					progress.SetTotal(res.Total, nil)
				}
			}
		}
	}

	s, err := writeEvents(ctx, st, filter, sink, tgt, opts, progress)
	if err != nil {
		return exportError(ctx, tgt, err)
	}

	// Everything is written to temporary files and synced before anything
	// is put in place: the file, then its manifest, then the cursor.
	var commits []*atomicfile.File
	if file != nil {
		if err := file.Finish(); err != nil {
			return fmt.Errorf("writing %s: %w", tgt.path, err)
		}
		commits = append(commits, file)
		if opts.Manifest {
			m := newManifest(opts, tgt, filter, period, s, file)
			manifest, err := writeManifest(tgt.path, m)
			if err != nil {
				return err
			}
			defer manifest.Abort()
			commits = append(commits, manifest)
		}
	}
	if opts.CursorFile != "" {
		if cursorFile == nil {
			if cursorFile, err = atomicfile.Create(opts.CursorFile); err != nil {
				return fmt.Errorf("cursor file: %w", err)
			}
			defer cursorFile.Abort()
		}
		if err := writeCursor(cursorFile, newCursor(cursor, s)); err != nil {
			return err
		}
	}
	// Last chance to give up cleanly: after this, the files go in place.
	if ctx.Err() != nil {
		return exportError(ctx, tgt, ctx.Err())
	}
	if err := atomicfile.CommitAll(commits, cursorFile, opts.Force); err != nil {
		return err
	}
	dest := "standard output"
	if file != nil {
		dest = tgt.path
	}
	progress.Done()

	if opts.Verbose {
		rng := ""
		if s.rows > 0 {
			rng = fmt.Sprintf(" (seq %d–%d)", s.minSeq, s.maxSeq)
		}
		fmt.Fprintf(opts.IO.ErrOut, "exported %s%s to %s\n", output.Count(s.rows, "event", "events"), rng, dest)
	}
	return nil
}

// newCursor is the seq to store after an export that started after old.
func newCursor(old int64, s stats) int64 {
	if s.rows == 0 {
		return old
	}
	return max(old, s.maxSeq)
}

// exportError explains why writing failed: an interruption (exit 130) or
// an I/O or store error, naming the file.
func exportError(ctx context.Context, tgt target, err error) error {
	where := "standard output"
	if tgt.path != "" {
		where = tgt.path
	}
	if ctx.Err() != nil || errors.Is(err, context.Canceled) || errors.Is(err, cmdutil.ErrCancel) {
		if tgt.path != "" {
			return fmt.Errorf("export to %s stopped, no file written: %w", where, cmdutil.ErrCancel)
		}
		return fmt.Errorf("export stopped: %w", cmdutil.ErrCancel)
	}
	var we *writeError
	if errors.As(err, &we) {
		return fmt.Errorf("writing %s: %w", where, we.err)
	}
	return fmt.Errorf("export to %s: %w", where, err)
}

// writeError marks a failure to write the output, as opposed to one of the
// store.
type writeError struct{ err error }

func (e *writeError) Error() string { return e.err.Error() }
func (e *writeError) Unwrap() error { return e.err }

// writeEvents streams the events of the query through the encoder, an
// optional gzip layer and a buffer to w. Nothing holds more than one event.
func writeEvents(ctx context.Context, st audit.Store, filter audit.Filter, w io.Writer, tgt target,
	opts *ExportOptions, progress *iostreams.Progress) (stats, error) {
	var s stats
	bw := bufio.NewWriterSize(w, 64<<10)
	var enc io.Writer = bw
	var gz *gzip.Writer
	if tgt.gzip {
		gz = gzip.NewWriter(bw)
		enc = gz
	}
	if opts.BOM {
		if _, err := io.WriteString(enc, utf8BOM); err != nil {
			return s, &writeError{err}
		}
	}
	p, err := output.New(enc, output.Options{
		Format:     tgt.format,
		WithRaw:    opts.WithRaw,
		Neutralize: tgt.format == "csv" && !opts.Raw,
		Location:   time.UTC,
	})
	if err != nil {
		return s, err
	}
	// Reading the store and formatting the file run on two cores.
	for e, err := range audit.Prefetch(st.Query(ctx, filter), 1024) {
		if err != nil {
			p.Close()
			return s, err
		}
		if err := ctx.Err(); err != nil {
			p.Close()
			return s, err
		}
		if err := p.Print(&e); err != nil {
			return s, &writeError{err}
		}
		s.add(&e)
		progress.Add(1)
	}
	if err := ctx.Err(); err != nil {
		p.Close()
		return s, err
	}
	if err := p.Close(); err != nil {
		return s, &writeError{err}
	}
	if gz != nil {
		if err := gz.Close(); err != nil {
			return s, &writeError{err}
		}
	}
	if err := bw.Flush(); err != nil {
		return s, &writeError{err}
	}
	return s, nil
}

// checkDir fails unless the directory that would hold path exists.
func checkDir(path string) error {
	dir := filepath.Dir(path)
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("cannot write %s: %w", path, cmdutil.UnwrapPath(err))
	}
	if !fi.IsDir() {
		return fmt.Errorf("cannot write %s: %s is not a directory", path, dir)
	}
	return nil
}
